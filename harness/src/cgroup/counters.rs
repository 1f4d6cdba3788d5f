//! Typed counters read from a cgroup. Every field is an `Option` so a kernel
//! that lacks a key (older kernel, other cgroup version) still parses.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::error::Result;
use super::parse::{self, read_flat_keyed, read_u64_opt};

/// Declares a struct of counters, one line per counter, each an
/// `Option<u64>`; `delta` adds [`CpuStats::delta`]-style differences,
/// `keyed` a constructor from a flat-keyed file whose keys are the names.
macro_rules! counters {
    ($(#[$meta:meta])* $name:ident $([$($with:ident),*])? {
        $($(#[$fmeta:meta])* $field:ident),* $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: Option<u64>,)*
        }
        counters!(@with $name [$($field)*] $($($with)*)?);
    };
    (@with $name:ident $fields:tt) => {};
    (@with $name:ident $fields:tt $first:ident $($rest:ident)*) => {
        counters!(@$first $name $fields);
        counters!(@with $name $fields $($rest)*);
    };
    (@delta $name:ident [$($field:ident)*]) => {
        impl $name {
            /// Counter differences `self - earlier` (saturating; None stays None).
            pub fn delta(&self, earlier: &$name) -> $name {
                $name {
                    $($field: self.$field.map(|a| a.saturating_sub(earlier.$field.unwrap_or(0))),)*
                }
            }
        }
    };
    (@keyed $name:ident [$($field:ident)*]) => {
        impl $name {
            /// From a flat-keyed file's keys of the same names.
            pub fn from_keys(keys: &BTreeMap<String, u64>) -> $name {
                $name {
                    $($field: keys.get(stringify!($field)).copied(),)*
                }
            }
        }
    };
}

counters! {
    /// CPU accounting and CFS bandwidth counters, in nanoseconds.
    CpuStats [delta] {
        usage_ns, user_ns, system_ns, nr_periods, nr_throttled, throttled_ns, nr_bursts, burst_ns,
    }
}

counters! {
    /// v2 memory.events (v1 maps failcnt → max and oom_control → oom/oom_kill).
    MemoryEvents [keyed] {
        low, high, max, oom, oom_kill, oom_group_kill,
    }
}

counters! {
    /// Task counts under the pids controller.
    PidsStats {
        current,
        peak,
        max,
        /// Number of forks refused by pids.max (pids.events "max").
        events_max,
    }
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

impl PidsStats {
    /// Reads the pids counters of cgroup `d` (the same files on v1 and v2).
    pub fn read(d: &Path) -> Result<PidsStats> {
        let max_path = d.join("pids.max");
        let max = match parse::read_opt(&max_path)? {
            Some(t) => parse::parse_max_or_u64(&max_path, &t)?,
            None => None,
        };
        let ev = read_flat_keyed(&d.join("pids.events"))?;
        Ok(PidsStats {
            current: read_u64_opt(&d.join("pids.current"))?,
            peak: read_u64_opt(&d.join("pids.peak"))?,
            max,
            events_max: ev.get("max").copied(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_delta_saturates_and_keeps_none() {
        let a = CpuStats {
            usage_ns: Some(100),
            nr_periods: Some(5),
            ..Default::default()
        };
        let b = CpuStats {
            usage_ns: Some(300),
            nr_periods: Some(4),
            burst_ns: Some(7),
            ..Default::default()
        };
        let d = b.delta(&a);
        assert_eq!(d.usage_ns, Some(200));
        assert_eq!(d.nr_periods, Some(0));
        assert_eq!(d.burst_ns, Some(7));
        assert_eq!(d.user_ns, None);
    }
}
