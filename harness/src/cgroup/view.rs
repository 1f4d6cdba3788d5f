//! One sandbox's cgroup across hierarchies: the hybrid driver that sends each
//! controller to the hierarchy (v1 or v2) it lives in, and the owning handle
//! that kills and removes it when dropped.

use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use super::counters::{CpuStats, MemoryStats, PidsStats};
use super::error::{CgroupError, Result};
use super::limits::Limits;
use super::v1::{self, V1Cgroup};
use super::v2::V2Cgroup;
use super::{Cgroup, Controller};

/// One sandbox's cgroup across hierarchies, as paths: cheap to clone for
/// monitors. Ownership (and removal) is [`SandboxCgroup`]'s.
#[derive(Debug, Clone, Default)]
pub struct CgroupView {
    pub name: String,
    pub v1: V1Cgroup,
    pub v2: Option<V2Cgroup>,
}

/// One sandbox's cgroup, owned: dropping it kills what is inside and removes
/// it, so an error or panic never leaks a cgroup.
#[derive(Debug)]
pub struct SandboxCgroup {
    view: CgroupView,
    removed: bool,
}

impl std::ops::Deref for SandboxCgroup {
    type Target = CgroupView;
    fn deref(&self) -> &CgroupView {
        &self.view
    }
}

impl SandboxCgroup {
    /// Takes ownership of a cgroup just created.
    pub(super) fn owning(view: CgroupView) -> Self {
        SandboxCgroup {
            view,
            removed: false,
        }
    }

    /// Kills and removes now, reporting errors (Drop does it silently).
    pub fn destroy(mut self) -> Result<()> {
        self.removed = true;
        let k = self.view.kill_all();
        let r = self.view.remove();
        k.and(r)
    }
}

impl Drop for SandboxCgroup {
    fn drop(&mut self) {
        if !self.removed {
            self.removed = true;
            let _ = self.view.kill_all();
            let _ = self.view.remove();
        }
    }
}

impl CgroupView {
    /// A clone, for readers that outlive a borrow (monitors).
    pub fn view(&self) -> CgroupView {
        self.clone()
    }

    /// True when there is no cgroup at all (bare launcher).
    pub fn is_empty(&self) -> bool {
        self.v1.dirs.is_empty() && self.v2.is_none()
    }

    /// A directory fd for clone3's CLONE_INTO_CGROUP (the v2 part).
    pub fn v2_dir_fd(&self) -> Result<Option<OwnedFd>> {
        let Some(v2) = &self.v2 else {
            return Ok(None);
        };
        let c = std::ffi::CString::new(v2.dir.as_os_str().as_encoded_bytes())
            .map_err(|_| CgroupError::Setup("cgroup path contains NUL".into()))?;
        // SAFETY: open(2) on a valid C string; the fd is owned below.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(CgroupError::io(&v2.dir, std::io::Error::last_os_error()));
        }
        // SAFETY: fd is a fresh descriptor we own.
        Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Whether a controller is handled by the v2 part.
    fn v2_for(&self, c: Controller) -> Option<&V2Cgroup> {
        if self.v1.dirs.contains_key(&c) {
            return None;
        }
        self.v2.as_ref().filter(|v| v.controllers.contains(&c))
    }

    /// The v1 directories that must receive the child's pid (CLONE_INTO_CGROUP
    /// covers only the v2 part).
    pub fn v1_procs_files(&self) -> Vec<PathBuf> {
        self.v1
            .unique_dirs()
            .into_iter()
            .map(|d| d.join("cgroup.procs"))
            .collect()
    }

    /// All directories of this cgroup.
    pub fn dirs(&self) -> Vec<PathBuf> {
        let v1 = self.v1.unique_dirs().into_iter().map(Path::to_path_buf);
        v1.chain(self.v2.iter().map(|c| c.dir.clone())).collect()
    }

    /// Directory of a controller (for reports and peers that need a path).
    pub fn dir_of(&self, c: Controller) -> Option<&Path> {
        self.v1
            .dirs
            .get(&c)
            .map(PathBuf::as_path)
            .or_else(|| self.v2_for(c).map(|v| v.dir.as_path()))
    }

    /// Splits limits between the v1 and v2 parts: (for v1, for v2).
    fn split(&self, l: &Limits) -> (Limits, Limits) {
        let cpu = self.v2_for(Controller::Cpu).is_some();
        let mem = self.v2_for(Controller::Memory).is_some();
        let set = self.v2_for(Controller::Cpuset).is_some();
        let pids = self.v2_for(Controller::Pids).is_some();
        let io = self.v2_for(Controller::Io).is_some();
        let side = |v2: bool| Limits {
            cpu_max: l.cpu_max.filter(|_| cpu == v2),
            cpu_weight: l.cpu_weight.filter(|_| cpu == v2),
            cpuset_cpus: l.cpuset_cpus.clone().filter(|_| set == v2),
            cpuset_mems: l.cpuset_mems.clone().filter(|_| set == v2),
            memory_max: l.memory_max.filter(|_| mem == v2),
            memory_high: l.memory_high.filter(|_| mem == v2),
            memory_swap_max: l.memory_swap_max.filter(|_| mem == v2),
            memory_min: l.memory_min.filter(|_| mem == v2),
            memory_low: l.memory_low.filter(|_| mem == v2),
            memory_soft_limit: l.memory_soft_limit.filter(|_| mem == v2),
            oom_group: l.oom_group && mem == v2,
            oom_kill_disable: l.oom_kill_disable && mem == v2,
            pids_max: l.pids_max.filter(|_| pids == v2),
            io_max: l.io_max.filter(|_| io == v2),
            io_weight: l.io_weight.filter(|_| io == v2),
        };
        (side(false), side(true))
    }
}

impl Cgroup for CgroupView {
    fn apply(&self, l: &Limits) -> Result<()> {
        let (on_v1, on_v2) = self.split(l);
        if on_v1 != Limits::default() {
            self.v1.apply(&on_v1)?;
        }
        if on_v2 != Limits::default() {
            match &self.v2 {
                Some(v2) => v2.apply(&on_v2)?,
                None => {
                    return Err(CgroupError::Unsupported(
                        "a requested controller is not available in any hierarchy".into(),
                    ))
                }
            }
        }
        Ok(())
    }

    fn add_pid(&self, pid: i32) -> Result<()> {
        if let Some(v2) = &self.v2 {
            v2.add_pid(pid)?;
        }
        self.v1.add_pid(pid)
    }

    fn pids(&self) -> Result<Vec<i32>> {
        let mut p = self.v1.pids()?;
        if let Some(v2) = &self.v2 {
            p.extend(v2.pids()?);
        }
        p.sort_unstable();
        p.dedup();
        Ok(p)
    }

    fn cpu_stats(&self) -> Result<CpuStats> {
        let cpu_v1 = self.v1.dirs.get(&Controller::Cpu).map(PathBuf::as_path);
        let acct_v1 = self.v1.dirs.get(&Controller::Cpuacct).map(PathBuf::as_path);
        let mut s = v1::read_cpu_stats(cpu_v1, acct_v1)?;
        // Read v2's cpu.stat only for what v1 does not provide (the monitor
        // calls this at 100 Hz: every file read counts).
        if let Some(v2) = self
            .v2
            .as_ref()
            .filter(|_| acct_v1.is_none() || cpu_v1.is_none())
        {
            let t = v2.cpu_stats()?;
            if acct_v1.is_none() {
                s.usage_ns = t.usage_ns;
                s.user_ns = t.user_ns;
                s.system_ns = t.system_ns;
            }
            if cpu_v1.is_none() {
                s.nr_periods = t.nr_periods;
                s.nr_throttled = t.nr_throttled;
                s.throttled_ns = t.throttled_ns;
                s.nr_bursts = t.nr_bursts;
                s.burst_ns = t.burst_ns;
            }
        }
        Ok(s)
    }

    fn memory_stats(&self) -> Result<MemoryStats> {
        match self.v2_for(Controller::Memory) {
            Some(v2) => v2.memory_stats(),
            None => self.v1.memory_stats(),
        }
    }

    fn pids_stats(&self) -> Result<PidsStats> {
        match self.v2_for(Controller::Pids) {
            Some(v2) => v2.pids_stats(),
            None => self.v1.pids_stats(),
        }
    }

    fn kill_all(&self) -> Result<()> {
        if let Some(v2) = &self.v2 {
            v2.kill_all()?;
        }
        self.v1.kill_all()
    }

    fn remove(&self) -> Result<()> {
        let r1 = self.v1.remove();
        let r2 = self.v2.as_ref().map_or(Ok(()), |v| v.remove());
        r1.and(r2)
    }
}
