//! Typed limits for a sandbox cgroup. Parsed and validated at the edge; the
//! drivers only translate them into control-file writes.

use std::fmt;

use super::Controller;

/// CFS bandwidth: `quota_us` of CPU time per `period_us` (None = unlimited),
/// with an optional burst allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuMax {
    pub quota_us: Option<u64>,
    pub period_us: u64,
    pub burst_us: Option<u64>,
}

impl CpuMax {
    /// The quota as a fraction of one CPU.
    pub fn cpus(&self) -> Option<f64> {
        self.quota_us.map(|q| q as f64 / self.period_us as f64)
    }
}

/// A set of CPU (or memory node) numbers, as in "0-2,5".
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuList(pub Vec<u32>);

impl CpuList {
    /// Parses the kernel's list format; rejects empty items, reversed ranges
    /// and absurd numbers.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut v = Vec::new();
        let s = s.trim();
        if s.is_empty() {
            return Ok(CpuList(v));
        }
        for part in s.split(',') {
            let part = part.trim();
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (a, b),
                None => (part, part),
            };
            let a: u32 = a
                .trim()
                .parse()
                .map_err(|_| format!("bad CPU number {a:?} in {s:?}"))?;
            let b: u32 = b
                .trim()
                .parse()
                .map_err(|_| format!("bad CPU number {b:?} in {s:?}"))?;
            if a > b || b > 8191 {
                return Err(format!("bad CPU range {part:?} in {s:?}"));
            }
            v.extend(a..=b);
        }
        v.sort_unstable();
        v.dedup();
        Ok(CpuList(v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for CpuList {
    /// Formats compactly with ranges ("0-3,6").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut i = 0;
        while i < self.0.len() {
            let start = self.0[i];
            let mut end = start;
            while i + 1 < self.0.len() && self.0[i + 1] == end + 1 {
                end += 1;
                i += 1;
            }
            if !first {
                write!(f, ",")?;
            }
            first = false;
            if start == end {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
            i += 1;
        }
        Ok(())
    }
}

/// A block device number, as cgroup files spell it (`MAJ:MIN`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, PartialOrd, Ord, Hash)]
pub struct DevNum {
    pub major: u32,
    pub minor: u32,
}

impl DevNum {
    /// The device a `st_rdev` (block special file) or `st_dev` (a file on
    /// it) names.
    pub fn from_raw(dev: u64) -> Self {
        DevNum {
            major: libc::major(dev),
            minor: libc::minor(dev),
        }
    }

    /// Parses `MAJ:MIN`.
    pub fn parse(s: &str) -> Option<Self> {
        let (a, b) = s.trim().split_once(':')?;
        Some(DevNum {
            major: a.parse().ok()?,
            minor: b.parse().ok()?,
        })
    }
}

impl fmt::Display for DevNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

/// Block IO throttling of one whole-disk device: bytes and IOs per second
/// for reads and writes (None = unlimited). v1 writes the four
/// `blkio.throttle.*_device` files, v2 one `io.max` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IoMax {
    pub dev: DevNum,
    pub rbps: Option<u64>,
    pub wbps: Option<u64>,
    pub riops: Option<u64>,
    pub wiops: Option<u64>,
}

impl IoMax {
    /// Whether any of the four rates is limited.
    pub fn is_limited(&self) -> bool {
        self.rbps
            .or(self.wbps)
            .or(self.riops)
            .or(self.wiops)
            .is_some()
    }
}

/// Every limit isobench can put on a sandbox. `None` leaves the kernel default.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Limits {
    pub cpu_max: Option<CpuMax>,
    /// v2 cpu.weight scale (1..=10000); v1 gets the translated cpu.shares.
    pub cpu_weight: Option<u64>,
    pub cpuset_cpus: Option<CpuList>,
    pub cpuset_mems: Option<CpuList>,
    pub memory_max: Option<u64>,
    /// v2 only (memory.high); v1 has no equivalent and reports Unsupported.
    pub memory_high: Option<u64>,
    /// v2 memory.min: memory the kernel never reclaims (hard protection).
    pub memory_min: Option<u64>,
    /// v2 memory.low: memory reclaimed only when nothing unprotected is
    /// left (best-effort protection).
    pub memory_low: Option<u64>,
    /// v1 memory.soft_limit_in_bytes (v2 has none and reports Unsupported).
    pub memory_soft_limit: Option<u64>,
    /// Swap allowed on top of memory_max (v1: memsw = max + swap).
    pub memory_swap_max: Option<u64>,
    /// v2 memory.oom.group.
    pub oom_group: bool,
    /// v1 memory.oom_control oom_kill_disable.
    pub oom_kill_disable: bool,
    pub pids_max: Option<u64>,
    /// Block IO throttling of one device.
    pub io_max: Option<IoMax>,
    /// Proportional IO weight (1..=1000; default 100): v2 `io.bfq.weight`
    /// or `io.weight`, v1 `blkio.bfq.weight`. Needs BFQ (or v2 io.cost).
    pub io_weight: Option<u64>,
}

impl Limits {
    pub fn needs_memory(&self) -> bool {
        self.memory_max.is_some()
            || self.memory_high.is_some()
            || self.memory_swap_max.is_some()
            || self.memory_min.is_some()
            || self.memory_low.is_some()
            || self.memory_soft_limit.is_some()
            || self.oom_group
            || self.oom_kill_disable
    }

    pub fn needs_cpu(&self) -> bool {
        self.cpu_max.is_some() || self.cpu_weight.is_some()
    }

    pub fn needs_cpuset(&self) -> bool {
        self.cpuset_cpus.is_some() || self.cpuset_mems.is_some()
    }

    /// Controllers these limits need, plus CPU accounting wherever CPU
    /// placement is limited (scenarios read usage there).
    pub fn controllers(&self) -> Vec<Controller> {
        let mut v = Vec::new();
        if self.needs_cpu() || self.needs_cpuset() {
            v.extend([Controller::Cpu, Controller::Cpuacct]);
        }
        if self.needs_cpuset() {
            v.push(Controller::Cpuset);
        }
        if self.needs_memory() {
            v.push(Controller::Memory);
        }
        if self.pids_max.is_some() {
            v.push(Controller::Pids);
        }
        if self.io_max.is_some() || self.io_weight.is_some() {
            v.push(Controller::Io);
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpulist_round_trip() {
        let l = CpuList::parse("0-3, 6,5,8-8").unwrap();
        assert_eq!(l.0, vec![0, 1, 2, 3, 5, 6, 8]);
        assert_eq!(l.to_string(), "0-3,5-6,8");
        assert!(CpuList::parse("").unwrap().is_empty());
    }

    #[test]
    fn cpulist_rejects_garbage() {
        for bad in ["3-1", "a", "1,,2", "-1", "0-99999"] {
            assert!(CpuList::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn devnum_round_trip() {
        let d = DevNum::parse("7:12").unwrap();
        assert_eq!(
            d,
            DevNum {
                major: 7,
                minor: 12
            }
        );
        assert_eq!(d.to_string(), "7:12");
        assert_eq!(DevNum::from_raw(libc::makedev(259, 3)).to_string(), "259:3");
        for bad in ["7", "7:x", ":1", ""] {
            assert!(DevNum::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn io_limits_need_the_io_controller() {
        let l = Limits {
            io_max: Some(IoMax {
                rbps: Some(1),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(l.controllers(), vec![Controller::Io]);
        assert!(l.io_max.unwrap().is_limited());
        assert!(!IoMax::default().is_limited());
    }

    #[test]
    fn cpu_fraction() {
        let c = CpuMax {
            quota_us: Some(20_000),
            period_us: 100_000,
            burst_us: None,
        };
        assert_eq!(c.cpus(), Some(0.2));
    }
}
