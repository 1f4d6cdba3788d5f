//! Host-wide CPU time from /proc/stat, to tell a starved measurement (the
//! machine was busy with other work) from a wrong limit.

/// Cumulative host CPU time in nanoseconds (all CPUs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostCpu {
    /// user+nice+system+irq+softirq.
    pub busy_ns: u64,
    /// Time the hypervisor ran something else on our vCPUs.
    pub steal_ns: u64,
}

/// Parses the aggregate "cpu " line of /proc/stat (USER_HZ ticks).
pub fn parse_proc_stat(text: &str, user_hz: u64) -> Option<HostCpu> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 7 {
        return None;
    }
    let ns = |t: u64| t.saturating_mul(1_000_000_000) / user_hz.max(1);
    let busy = v[0] + v[1] + v[2] + v[5] + v[6];
    Some(HostCpu {
        busy_ns: ns(busy),
        steal_ns: ns(v.get(7).copied().unwrap_or(0)),
    })
}

impl HostCpu {
    /// Reads /proc/stat now.
    pub fn now() -> Option<Self> {
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        let text = std::fs::read_to_string("/proc/stat").ok()?;
        parse_proc_stat(&text, if hz > 0 { hz as u64 } else { 100 })
    }

    /// CPU time used by everything else than `ours_ns` between two readings,
    /// plus steal.
    pub fn others_since(&self, earlier: &HostCpu, ours_ns: u64) -> u64 {
        let busy = self.busy_ns.saturating_sub(earlier.busy_ns);
        busy.saturating_sub(ours_ns) + self.steal_ns.saturating_sub(earlier.steal_ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_aggregate_line() {
        let t = "cpu  100 5 50 1000 7 3 2 4 0 0\ncpu0 50 0 25 500 0 0 0 0 0 0\n";
        let h = parse_proc_stat(t, 100).unwrap();
        assert_eq!(h.busy_ns, 160 * 10_000_000);
        assert_eq!(h.steal_ns, 4 * 10_000_000);
        assert!(parse_proc_stat("intr 1 2\n", 100).is_none());
    }

    #[test]
    fn others_excludes_our_usage() {
        let a = HostCpu {
            busy_ns: 0,
            steal_ns: 0,
        };
        let b = HostCpu {
            busy_ns: 3_000,
            steal_ns: 500,
        };
        assert_eq!(b.others_since(&a, 2_000), 1_500);
        assert_eq!(b.others_since(&a, 9_000), 500);
    }
}
