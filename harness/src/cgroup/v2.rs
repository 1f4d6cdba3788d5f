//! cgroup v2 driver: one directory in the unified hierarchy.

use std::fmt::Display;
use std::path::{Path, PathBuf};

use super::counters::{CpuStats, IoStats, MemoryEvents, MemoryStats, PidsStats};
use super::error::{CgroupError, Result};
use super::limits::{DevNum, Limits};
use super::parse::{self, read_flat_keyed, read_u64_opt};
use super::{teardown, translate, Cgroup, Controller};

/// A v2 sandbox cgroup and the controllers enabled for it.
#[derive(Debug, Clone)]
pub struct V2Cgroup {
    pub dir: PathBuf,
    pub controllers: Vec<Controller>,
}

fn need(cg: &V2Cgroup, c: Controller) -> Result<()> {
    if cg.controllers.contains(&c) {
        Ok(())
    } else {
        Err(CgroupError::Unsupported(format!(
            "the {} controller is not enabled for {} (cgroup v2)",
            c.name(),
            cg.dir.display()
        )))
    }
}

fn max_or(v: Option<u64>) -> String {
    v.map_or_else(|| "max".to_string(), |n| n.to_string())
}

/// Enables `ctrls` in `parent`'s cgroup.subtree_control (those not yet on).
pub fn enable_controllers(parent: &Path, ctrls: &[Controller]) -> Result<()> {
    let sc = parent.join("cgroup.subtree_control");
    let on = parse::read(&sc)?;
    let missing: Vec<String> = ctrls
        .iter()
        .filter_map(|c| c.v2_name())
        .filter(|n| !on.split_whitespace().any(|x| x == *n))
        .map(|n| format!("+{n}"))
        .collect();
    if !missing.is_empty() {
        parse::write(&sc, &missing.join(" "))?;
    }
    Ok(())
}

/// Reads v2 cpu.stat (present in every v2 cgroup; throttling keys only with
/// the cpu controller).
pub fn read_cpu_stats(d: &Path) -> Result<CpuStats> {
    let st = read_flat_keyed(&d.join("cpu.stat"))?;
    let us = |k: &str| st.get(k).map(|v| v.saturating_mul(1000));
    Ok(CpuStats {
        usage_ns: us("usage_usec"),
        user_ns: us("user_usec"),
        system_ns: us("system_usec"),
        nr_periods: st.get("nr_periods").copied(),
        nr_throttled: st.get("nr_throttled").copied(),
        throttled_ns: us("throttled_usec"),
        nr_bursts: st.get("nr_bursts").copied(),
        burst_ns: us("burst_usec"),
    })
}

/// Reads v2 memory counters.
pub fn read_memory_stats(d: &Path) -> Result<MemoryStats> {
    let ev = read_flat_keyed(&d.join("memory.events"))?;
    let st = read_flat_keyed(&d.join("memory.stat"))?;
    Ok(MemoryStats {
        current: read_u64_opt(&d.join("memory.current"))?,
        peak: read_u64_opt(&d.join("memory.peak"))?,
        events: MemoryEvents::from_keys(&ev),
        failcnt: None,
        under_oom: None,
        oom_kill_disable: None,
        file: st.get("file").copied(),
        anon: st.get("anon").copied(),
    })
}

/// Reads v2 `io.stat` of device `dev`.
pub fn read_io_stats(d: &Path, dev: DevNum) -> Result<IoStats> {
    let t = parse::read(&d.join("io.stat"))?;
    Ok(IoStats::parse_v2(&t, &dev.to_string()))
}

impl V2Cgroup {
    /// Block IO counters of device `dev` (needs the io controller).
    pub fn io_stats(&self, dev: DevNum) -> Result<IoStats> {
        need(self, Controller::Io)?;
        read_io_stats(&self.dir, dev)
    }

    /// Writes `value` (when given) to control file `file` of controller `c`.
    fn set(&self, c: Controller, file: &str, value: Option<impl Display>) -> Result<()> {
        let Some(v) = value else {
            return Ok(());
        };
        need(self, c)?;
        parse::write(&self.dir.join(file), &v.to_string())
    }
}

impl Cgroup for V2Cgroup {
    fn apply(&self, l: &Limits) -> Result<()> {
        use Controller::{Cpu, Cpuset, Memory, Pids};
        let d = &self.dir;
        let cpu_max = l.cpu_max.as_ref();
        self.set(
            Cpu,
            "cpu.max",
            cpu_max.map(|c| format!("{} {}", max_or(c.quota_us), c.period_us)),
        )?;
        if let Some(b) = cpu_max.and_then(|c| c.burst_us) {
            let missing = "cpu.max.burst: this kernel has no CFS burst (needs 5.14+)";
            parse::write_feature(&d.join("cpu.max.burst"), &b.to_string(), missing)?;
        }
        self.set(Cpu, "cpu.weight", l.cpu_weight.map(|w| w.clamp(1, 10000)))?;
        self.set(Cpuset, "cpuset.cpus", l.cpuset_cpus.as_ref())?;
        self.set(Cpuset, "cpuset.mems", l.cpuset_mems.as_ref())?;
        if l.oom_kill_disable {
            return Err(CgroupError::Unsupported(
                "oom_kill_disable exists only on cgroup v1".into(),
            ));
        }
        if l.needs_memory() {
            need(self, Memory)?;
        }
        if l.memory_soft_limit.is_some() {
            return Err(CgroupError::Unsupported(
                "memory.soft_limit_in_bytes exists only on cgroup v1 (v2 has memory.low)".into(),
            ));
        }
        self.set(Memory, "memory.min", l.memory_min)?;
        self.set(Memory, "memory.low", l.memory_low)?;
        self.set(Memory, "memory.high", l.memory_high)?;
        self.set(Memory, "memory.max", l.memory_max)?;
        if let Some(s) = l.memory_swap_max {
            let missing = "memory.swap.max: this kernel has no swap accounting";
            parse::write_feature(&d.join("memory.swap.max"), &s.to_string(), missing)?;
        }
        self.set(Memory, "memory.oom.group", l.oom_group.then_some(1))?;
        self.set(
            Controller::Io,
            "io.max",
            l.io_max.as_ref().map(translate::io_max_line),
        )?;
        if let Some(w) = l.io_weight {
            need(self, Controller::Io)?;
            let w = w.clamp(1, 1000);
            // BFQ's own file where BFQ is loaded, else io.cost's io.weight.
            let bfq = d.join("io.bfq.weight");
            if bfq.exists() {
                parse::write(&bfq, &w.to_string())?;
            } else {
                let missing = "io.weight / io.bfq.weight: neither BFQ nor io.cost in this kernel";
                parse::write_feature(&d.join("io.weight"), &format!("default {w}"), missing)?;
            }
        }
        self.set(Pids, "pids.max", l.pids_max)
    }

    fn add_pid(&self, pid: i32) -> Result<()> {
        parse::write(&self.dir.join("cgroup.procs"), &pid.to_string())
    }

    fn pids(&self) -> Result<Vec<i32>> {
        teardown::procs(&self.dir)
    }

    fn cpu_stats(&self) -> Result<CpuStats> {
        read_cpu_stats(&self.dir)
    }

    fn memory_stats(&self) -> Result<MemoryStats> {
        need(self, Controller::Memory)?;
        read_memory_stats(&self.dir)
    }

    fn pids_stats(&self) -> Result<PidsStats> {
        need(self, Controller::Pids)?;
        PidsStats::read(&self.dir)
    }

    fn kill_all(&self) -> Result<()> {
        teardown::ensure_ours(&self.dir)?;
        teardown::write_kill(&self.dir)?;
        teardown::kill_loop(
            || self.pids(),
            |frozen| teardown::freeze_v2(&self.dir, frozen),
        )
    }

    fn remove(&self) -> Result<()> {
        teardown::rmdir_retry(&self.dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn fixture(ctrls: &[Controller]) -> (tempfile::TempDir, V2Cgroup) {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("isobench-x");
        fs::create_dir_all(&d).unwrap();
        (
            t,
            V2Cgroup {
                dir: d,
                controllers: ctrls.to_vec(),
            },
        )
    }

    #[test]
    fn reads_v2_counters_in_ns() {
        let (_t, cg) = fixture(&[Controller::Cpu, Controller::Memory, Controller::Pids]);
        fs::write(
            cg.dir.join("cpu.stat"),
            "usage_usec 500\nuser_usec 300\nsystem_usec 200\nnr_periods 4\nnr_throttled 2\nthrottled_usec 90\n",
        )
        .unwrap();
        fs::write(
            cg.dir.join("memory.events"),
            "low 0\nhigh 3\nmax 9\noom 1\noom_kill 1\n",
        )
        .unwrap();
        fs::write(cg.dir.join("memory.current"), "4096\n").unwrap();
        fs::write(cg.dir.join("pids.max"), "max\n").unwrap();
        fs::write(cg.dir.join("pids.current"), "3\n").unwrap();
        fs::write(cg.dir.join("pids.events"), "max 12\n").unwrap();
        let c = cg.cpu_stats().unwrap();
        assert_eq!(c.usage_ns, Some(500_000));
        assert_eq!(c.throttled_ns, Some(90_000));
        assert_eq!(c.burst_ns, None);
        let m = cg.memory_stats().unwrap();
        assert_eq!(m.events.high, Some(3));
        assert_eq!(m.events.oom_kill, Some(1));
        // Old kernel without memory.peak and oom_group_kill.
        assert_eq!(m.peak, None);
        assert_eq!(m.events.oom_group_kill, None);
        let p = cg.pids_stats().unwrap();
        assert_eq!(p.max, None);
        assert_eq!(p.current, Some(3));
        assert_eq!(p.events_max, Some(12));
    }

    #[test]
    fn applies_v2_files() {
        let (_t, cg) = fixture(&[Controller::Cpu, Controller::Memory, Controller::Pids]);
        let l = Limits {
            cpu_max: Some(super::super::CpuMax {
                quota_us: None,
                period_us: 10_000,
                burst_us: None,
            }),
            cpu_weight: Some(400),
            memory_max: Some(1 << 30),
            memory_high: Some(1 << 29),
            oom_group: true,
            pids_max: Some(64),
            ..Default::default()
        };
        cg.apply(&l).unwrap();
        let r = |f: &str| fs::read_to_string(cg.dir.join(f)).unwrap();
        assert_eq!(r("cpu.max"), "max 10000");
        assert_eq!(r("cpu.weight"), "400");
        assert_eq!(r("memory.max"), (1u64 << 30).to_string());
        assert_eq!(r("memory.high"), (1u64 << 29).to_string());
        assert_eq!(r("memory.oom.group"), "1");
        assert_eq!(r("pids.max"), "64");
    }

    #[test]
    fn io_max_and_io_stat_as_v2_files() {
        let (_t, cg) = fixture(&[Controller::Io]);
        let dev = DevNum {
            major: 254,
            minor: 0,
        };
        let l = Limits {
            io_max: Some(super::super::IoMax {
                dev,
                riops: Some(100),
                ..Default::default()
            }),
            ..Default::default()
        };
        cg.apply(&l).unwrap();
        assert_eq!(
            fs::read_to_string(cg.dir.join("io.max")).unwrap(),
            "254:0 rbps=max wbps=max riops=100 wiops=max"
        );
        fs::write(
            cg.dir.join("io.stat"),
            "254:0 rbytes=8192 wbytes=0 rios=2 wios=0\n",
        )
        .unwrap();
        assert_eq!(cg.io_stats(dev).unwrap().rios, Some(2));
        let (_t, no_io) = fixture(&[Controller::Cpu]);
        super::super::assert_unsupported(&no_io, [l]);
    }

    #[test]
    fn missing_controller_is_an_error() {
        let (_t, cg) = fixture(&[Controller::Cpu]);
        super::super::assert_unsupported(
            &cg,
            [
                Limits {
                    pids_max: Some(4),
                    ..Default::default()
                },
                Limits {
                    oom_kill_disable: true,
                    ..Default::default()
                },
            ],
        );
    }

    #[test]
    fn enable_controllers_writes_only_missing() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("cgroup.subtree_control"), "cpu memory\n").unwrap();
        enable_controllers(t.path(), &[Controller::Cpu, Controller::Pids]).unwrap();
        assert_eq!(
            fs::read_to_string(t.path().join("cgroup.subtree_control")).unwrap(),
            "+pids"
        );
    }
}
