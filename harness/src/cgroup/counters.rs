//! Typed counters read from a cgroup. Every field is an `Option` so a kernel
//! that lacks a key (older kernel, other cgroup version) still parses.

use serde::Serialize;

/// CPU accounting and CFS bandwidth counters, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CpuStats {
    pub usage_ns: Option<u64>,
    pub user_ns: Option<u64>,
    pub system_ns: Option<u64>,
    pub nr_periods: Option<u64>,
    pub nr_throttled: Option<u64>,
    pub throttled_ns: Option<u64>,
    pub nr_bursts: Option<u64>,
    pub burst_ns: Option<u64>,
}

/// v2 memory.events (v1 maps failcnt → max and oom_control → oom/oom_kill).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MemoryEvents {
    pub low: Option<u64>,
    pub high: Option<u64>,
    pub max: Option<u64>,
    pub oom: Option<u64>,
    pub oom_kill: Option<u64>,
    pub oom_group_kill: Option<u64>,
}

/// Memory usage, peak and events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MemoryStats {
    pub current: Option<u64>,
    /// v2 memory.peak / v1 memory.max_usage_in_bytes.
    pub peak: Option<u64>,
    pub events: MemoryEvents,
    /// v1 memory.failcnt.
    pub failcnt: Option<u64>,
    /// v1 memory.oom_control under_oom: the cgroup is stuck at its limit
    /// with the OOM killer disabled.
    pub under_oom: Option<bool>,
    pub oom_kill_disable: Option<bool>,
    /// Page cache (v2 memory.stat file / v1 total_cache).
    pub file: Option<u64>,
    /// Anonymous memory (v2 memory.stat anon / v1 total_rss).
    pub anon: Option<u64>,
}

/// Task counts under the pids controller.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PidsStats {
    pub current: Option<u64>,
    pub peak: Option<u64>,
    pub max: Option<u64>,
    /// Number of forks refused by pids.max (pids.events "max").
    pub events_max: Option<u64>,
}

impl CpuStats {
    /// Counter differences `self - earlier` (saturating; None stays None).
    pub fn delta(&self, earlier: &CpuStats) -> CpuStats {
        fn d(a: Option<u64>, b: Option<u64>) -> Option<u64> {
            Some(a?.saturating_sub(b.unwrap_or(0)))
        }
        CpuStats {
            usage_ns: d(self.usage_ns, earlier.usage_ns),
            user_ns: d(self.user_ns, earlier.user_ns),
            system_ns: d(self.system_ns, earlier.system_ns),
            nr_periods: d(self.nr_periods, earlier.nr_periods),
            nr_throttled: d(self.nr_throttled, earlier.nr_throttled),
            throttled_ns: d(self.throttled_ns, earlier.throttled_ns),
            nr_bursts: d(self.nr_bursts, earlier.nr_bursts),
            burst_ns: d(self.burst_ns, earlier.burst_ns),
        }
    }
}
