//! cgroup v1 driver: one directory per controller hierarchy (co-mounted
//! controllers share a directory).

use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::{Path, PathBuf};

use super::counters::{CpuStats, IoStats, MemoryEvents, MemoryStats, PidsStats};
use super::error::{CgroupError, Result};
use super::limits::{DevNum, Limits};
use super::parse::{self, read_flat_keyed, read_u64_opt};
use super::translate;
use super::{teardown, Cgroup, Controller};

/// A v1 sandbox cgroup: its directory in each controller's hierarchy.
#[derive(Debug, Clone, Default)]
pub struct V1Cgroup {
    pub dirs: BTreeMap<Controller, PathBuf>,
}

fn unsupported(what: &str) -> CgroupError {
    CgroupError::Unsupported(format!("{what} is not available on cgroup v1"))
}

impl V1Cgroup {
    fn dir(&self, c: Controller) -> Result<&Path> {
        self.dirs.get(&c).map(PathBuf::as_path).ok_or_else(|| {
            CgroupError::Unsupported(format!(
                "the {} controller is not mounted as cgroup v1 here",
                c.name()
            ))
        })
    }

    /// Writes `value` (when given) to control file `file` of controller `c`.
    fn set(&self, c: Controller, file: &str, value: Option<impl Display>) -> Result<()> {
        match value {
            Some(v) => parse::write(&self.dir(c)?.join(file), &v.to_string()),
            None => Ok(()),
        }
    }

    /// Distinct directories (co-mounted controllers appear once).
    pub fn unique_dirs(&self) -> Vec<&Path> {
        let mut v: Vec<&Path> = self.dirs.values().map(PathBuf::as_path).collect();
        v.sort();
        v.dedup();
        v
    }

    /// A fresh v1 cpuset has no CPUs or memory nodes: copy the parent's so
    /// tasks can join, unless the limits set them explicitly later.
    pub fn init_cpuset(&self) -> Result<()> {
        let Some(dir) = self.dirs.get(&Controller::Cpuset) else {
            return Ok(());
        };
        let parent = dir
            .parent()
            .ok_or_else(|| CgroupError::Setup(format!("{}: no parent", dir.display())))?;
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let v = parse::read(&parent.join(f))?;
            parse::write(&dir.join(f), v.trim())?;
        }
        Ok(())
    }
}

/// Parses v1 memory.oom_control ("oom_kill_disable 0\nunder_oom 0\noom_kill 0").
pub fn parse_oom_control(text: &str) -> (Option<bool>, Option<bool>, Option<u64>) {
    let m = parse::parse_flat_keyed(text);
    (
        m.get("oom_kill_disable").map(|v| *v != 0),
        m.get("under_oom").map(|v| *v != 0),
        m.get("oom_kill").copied(),
    )
}

/// Reads v1 CPU counters from the cpu and cpuacct directories.
pub fn read_cpu_stats(cpu: Option<&Path>, cpuacct: Option<&Path>) -> Result<CpuStats> {
    let mut s = CpuStats::default();
    if let Some(d) = cpuacct {
        s.usage_ns = read_u64_opt(&d.join("cpuacct.usage"))?;
        s.user_ns = read_u64_opt(&d.join("cpuacct.usage_user"))?;
        s.system_ns = read_u64_opt(&d.join("cpuacct.usage_sys"))?;
        if s.user_ns.is_none() {
            let st = read_flat_keyed(&d.join("cpuacct.stat"))?;
            let hz = user_hz();
            s.user_ns = st
                .get("user")
                .map(|t| translate::user_hz_ticks_to_ns(*t, hz));
            s.system_ns = st
                .get("system")
                .map(|t| translate::user_hz_ticks_to_ns(*t, hz));
        }
    }
    if let Some(d) = cpu {
        let st = read_flat_keyed(&d.join("cpu.stat"))?;
        s.nr_periods = st.get("nr_periods").copied();
        s.nr_throttled = st.get("nr_throttled").copied();
        s.throttled_ns = st.get("throttled_time").copied();
        s.nr_bursts = st.get("nr_bursts").copied();
        s.burst_ns = st.get("burst_time").copied();
    }
    Ok(s)
}

fn user_hz() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if v > 0 {
        v as u64
    } else {
        100
    }
}

/// Reads v1 memory counters.
pub fn read_memory_stats(d: &Path) -> Result<MemoryStats> {
    let mut s = MemoryStats {
        current: read_u64_opt(&d.join("memory.usage_in_bytes"))?,
        peak: read_u64_opt(&d.join("memory.max_usage_in_bytes"))?,
        failcnt: read_u64_opt(&d.join("memory.failcnt"))?,
        ..Default::default()
    };
    if let Some(t) = parse::read_opt(&d.join("memory.oom_control"))? {
        let (disable, under, kills) = parse_oom_control(&t);
        s.oom_kill_disable = disable;
        s.under_oom = under;
        s.events = MemoryEvents {
            max: s.failcnt,
            oom_kill: kills,
            // v1 has no separate OOM counter; an OOM kill implies an OOM.
            oom: kills,
            ..Default::default()
        };
    }
    let st = read_flat_keyed(&d.join("memory.stat"))?;
    s.file = st.get("total_cache").or(st.get("cache")).copied();
    s.anon = st.get("total_rss").or(st.get("rss")).copied();
    Ok(s)
}

/// Reads v1 block IO counters of device `dev` (blkio.throttle.*: counted
/// for every bio, with or without a throttling rule).
pub fn read_io_stats(d: &Path, dev: DevNum) -> Result<IoStats> {
    let bytes = parse::read(&d.join("blkio.throttle.io_service_bytes"))?;
    let ios = parse::read(&d.join("blkio.throttle.io_serviced"))?;
    Ok(IoStats::parse_v1(&bytes, &ios, &dev.to_string()))
}

impl V1Cgroup {
    /// Block IO counters of device `dev` (needs the blkio controller).
    pub fn io_stats(&self, dev: DevNum) -> Result<IoStats> {
        read_io_stats(self.dir(Controller::Io)?, dev)
    }
}

impl Cgroup for V1Cgroup {
    fn apply(&self, l: &Limits) -> Result<()> {
        use Controller::{Cpu, Cpuset, Memory, Pids};
        if let Some(c) = &l.cpu_max {
            let d = self.dir(Cpu)?;
            let quota = translate::v2_quota_to_v1(c.quota_us);
            let qp = d.join("cpu.cfs_quota_us");
            // Lift the quota first so a new period never conflicts with an
            // old quota (the kernel checks quota <= max relative to period).
            parse::write(&qp, "-1")?;
            parse::write(&d.join("cpu.cfs_period_us"), &c.period_us.to_string())?;
            parse::write(&qp, &quota.to_string())?;
            if let Some(b) = c.burst_us {
                let missing = "cpu.cfs_burst_us: this kernel has no CFS burst (needs 5.14+)";
                parse::write_feature(&d.join("cpu.cfs_burst_us"), &b.to_string(), missing)?;
            }
        }
        self.set(
            Cpu,
            "cpu.shares",
            l.cpu_weight.map(translate::weight_to_shares),
        )?;
        self.set(Cpuset, "cpuset.cpus", l.cpuset_cpus.as_ref())?;
        self.set(Cpuset, "cpuset.mems", l.cpuset_mems.as_ref())?;
        if l.memory_high.is_some() {
            return Err(unsupported("memory.high"));
        }
        if l.memory_min.is_some() || l.memory_low.is_some() {
            return Err(unsupported("memory.min/memory.low"));
        }
        self.set(Memory, "memory.soft_limit_in_bytes", l.memory_soft_limit)?;
        if l.oom_group {
            return Err(unsupported("memory.oom.group"));
        }
        match (l.memory_max, l.memory_swap_max) {
            (Some(m), swap) => {
                self.set(Memory, "memory.limit_in_bytes", Some(m))?;
                if let Some(sw) = swap {
                    let p = self.dir(Memory)?.join("memory.memsw.limit_in_bytes");
                    let missing = "memory.memsw.limit_in_bytes: swap accounting is off (boot with swapaccount=1)";
                    parse::write_feature(
                        &p,
                        &translate::swap_to_memsw(m, sw).to_string(),
                        missing,
                    )?;
                }
            }
            (None, Some(_)) => {
                return Err(CgroupError::Setup(
                    "a swap limit on cgroup v1 needs a memory limit too (memsw = memory + swap)"
                        .into(),
                ))
            }
            (None, None) => {}
        }
        self.set(
            Memory,
            "memory.oom_control",
            l.oom_kill_disable.then_some(1),
        )?;
        if let Some(io) = &l.io_max {
            for (file, line) in translate::blkio_throttle_lines(io) {
                self.set(Controller::Io, file, Some(line))?;
            }
        }
        if let Some(w) = l.io_weight {
            let p = self.dir(Controller::Io)?.join("blkio.bfq.weight");
            let missing =
                "blkio.bfq.weight: no BFQ in this kernel (CONFIG_IOSCHED_BFQ, modprobe bfq)";
            parse::write_feature(&p, &w.clamp(1, 1000).to_string(), missing)?;
        }
        self.set(Pids, "pids.max", l.pids_max)
    }

    fn add_pid(&self, pid: i32) -> Result<()> {
        let s = pid.to_string();
        for d in self.unique_dirs() {
            parse::write(&d.join("cgroup.procs"), &s)?;
        }
        Ok(())
    }

    fn pids(&self) -> Result<Vec<i32>> {
        let mut all = Vec::new();
        for d in self.unique_dirs() {
            all.extend(teardown::procs(d)?);
        }
        all.sort_unstable();
        all.dedup();
        Ok(all)
    }

    fn cpu_stats(&self) -> Result<CpuStats> {
        read_cpu_stats(
            self.dirs.get(&Controller::Cpu).map(PathBuf::as_path),
            self.dirs.get(&Controller::Cpuacct).map(PathBuf::as_path),
        )
    }

    fn memory_stats(&self) -> Result<MemoryStats> {
        read_memory_stats(self.dir(Controller::Memory)?)
    }

    fn pids_stats(&self) -> Result<PidsStats> {
        PidsStats::read(self.dir(Controller::Pids)?)
    }

    fn kill_all(&self) -> Result<()> {
        for d in self.unique_dirs() {
            teardown::ensure_ours(d)?;
        }
        let freezer = self.dirs.get(&Controller::Freezer);
        teardown::kill_loop(
            || self.pids(),
            |frozen| {
                if let Some(f) = freezer {
                    teardown::freeze_v1(f, frozen);
                }
            },
        )
    }

    fn remove(&self) -> Result<()> {
        for d in self.unique_dirs() {
            teardown::rmdir_retry(d)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn fixture() -> (tempfile::TempDir, V1Cgroup) {
        let t = tempfile::tempdir().unwrap();
        let mut cg = V1Cgroup::default();
        for c in ["cpu", "cpuacct", "memory", "pids"] {
            let d = t.path().join(c).join("isobench-x");
            fs::create_dir_all(&d).unwrap();
            cg.dirs.insert(Controller::from_name(c).unwrap(), d);
        }
        (t, cg)
    }

    #[test]
    fn reads_cpu_counters_from_fixture() {
        let (_t, cg) = fixture();
        let cpu = &cg.dirs[&Controller::Cpu];
        let acct = &cg.dirs[&Controller::Cpuacct];
        fs::write(
            cpu.join("cpu.stat"),
            "nr_periods 20\nnr_throttled 15\nthrottled_time 1500000000\n",
        )
        .unwrap();
        fs::write(acct.join("cpuacct.usage"), "400000000\n").unwrap();
        fs::write(acct.join("cpuacct.stat"), "user 30\nsystem 10\n").unwrap();
        let s = cg.cpu_stats().unwrap();
        assert_eq!(s.usage_ns, Some(400_000_000));
        assert_eq!(s.nr_periods, Some(20));
        assert_eq!(s.nr_throttled, Some(15));
        assert_eq!(s.throttled_ns, Some(1_500_000_000));
        // Old kernel: no burst keys → None, not an error.
        assert_eq!(s.nr_bursts, None);
        assert!(s.user_ns.unwrap() > 0);
    }

    #[test]
    fn reads_memory_and_oom_control() {
        let (_t, cg) = fixture();
        let m = &cg.dirs[&Controller::Memory];
        fs::write(m.join("memory.usage_in_bytes"), "1048576\n").unwrap();
        fs::write(m.join("memory.max_usage_in_bytes"), "2097152\n").unwrap();
        fs::write(m.join("memory.failcnt"), "7\n").unwrap();
        fs::write(
            m.join("memory.oom_control"),
            "oom_kill_disable 1\nunder_oom 1\noom_kill 0\n",
        )
        .unwrap();
        let s = cg.memory_stats().unwrap();
        assert_eq!(s.current, Some(1 << 20));
        assert_eq!(s.peak, Some(2 << 20));
        assert_eq!(s.failcnt, Some(7));
        assert_eq!(s.under_oom, Some(true));
        assert_eq!(s.oom_kill_disable, Some(true));
        assert_eq!(s.events.oom_kill, Some(0));
        assert_eq!(s.events.high, None);
    }

    #[test]
    fn applies_limits_as_v1_files() {
        let (_t, cg) = fixture();
        let cpu = cg.dirs[&Controller::Cpu].clone();
        fs::write(cpu.join("cpu.cfs_burst_us"), "0").unwrap();
        let l = Limits {
            cpu_max: Some(super::super::CpuMax {
                quota_us: Some(20_000),
                period_us: 100_000,
                burst_us: Some(5_000),
            }),
            cpu_weight: Some(200),
            memory_max: Some(64 << 20),
            oom_kill_disable: true,
            pids_max: Some(32),
            ..Default::default()
        };
        cg.apply(&l).unwrap();
        let r = |p: PathBuf| fs::read_to_string(p).unwrap();
        assert_eq!(r(cpu.join("cpu.cfs_quota_us")), "20000");
        assert_eq!(r(cpu.join("cpu.cfs_period_us")), "100000");
        assert_eq!(r(cpu.join("cpu.cfs_burst_us")), "5000");
        assert_eq!(
            r(cpu.join("cpu.shares")),
            translate::weight_to_shares(200).to_string()
        );
        let mem = &cg.dirs[&Controller::Memory];
        assert_eq!(
            r(mem.join("memory.limit_in_bytes")),
            (64u64 << 20).to_string()
        );
        assert_eq!(r(mem.join("memory.oom_control")), "1");
        assert_eq!(r(cg.dirs[&Controller::Pids].join("pids.max")), "32");
    }

    #[test]
    fn io_limits_and_counters_as_v1_files() {
        let (t, mut cg) = fixture();
        let d = t.path().join("blkio").join("isobench-x");
        fs::create_dir_all(&d).unwrap();
        cg.dirs.insert(Controller::Io, d.clone());
        let dev = DevNum { major: 7, minor: 1 };
        let l = Limits {
            io_max: Some(super::super::IoMax {
                dev,
                wbps: Some(4 << 20),
                ..Default::default()
            }),
            ..Default::default()
        };
        cg.apply(&l).unwrap();
        let r = |f: &str| fs::read_to_string(d.join(f)).unwrap();
        assert_eq!(r("blkio.throttle.write_bps_device"), "7:1 4194304");
        assert_eq!(r("blkio.throttle.read_bps_device"), "7:1 0");
        // No BFQ: the weight is refused, not dropped.
        let w = Limits {
            io_weight: Some(200),
            ..Default::default()
        };
        assert!(matches!(cg.apply(&w), Err(CgroupError::Unsupported(_))));
        fs::write(
            d.join("blkio.throttle.io_service_bytes"),
            "7:1 Write 4096\nTotal 4096\n",
        )
        .unwrap();
        fs::write(
            d.join("blkio.throttle.io_serviced"),
            "7:1 Write 1\nTotal 1\n",
        )
        .unwrap();
        let s = cg.io_stats(dev).unwrap();
        assert_eq!((s.wbytes, s.wios, s.rbytes), (Some(4096), Some(1), Some(0)));
    }

    /// Limits v1 cannot express (v2-only files, a burst the kernel lacks)
    /// are refused, never dropped.
    #[test]
    fn unexpressible_limits_are_refused_not_dropped() {
        let (_t, cg) = fixture();
        let burst = super::super::CpuMax {
            quota_us: Some(1000),
            period_us: 10_000,
            burst_us: Some(100),
        };
        super::super::assert_unsupported(
            &cg,
            [
                Limits {
                    memory_high: Some(1 << 20),
                    ..Default::default()
                },
                Limits {
                    oom_group: true,
                    ..Default::default()
                },
                Limits {
                    cpu_max: Some(burst),
                    ..Default::default()
                },
            ],
        );
    }
}
