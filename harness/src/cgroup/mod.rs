//! The cgroup layer: mode detection, hierarchy resolution, one `Cgroup` trait
//! with v1 and v2 drivers (and their hybrid combination in `view`), typed
//! counters.
//!
//! Imports run one way: `manager` (creating a run's cgroups) uses `view`,
//! which uses `v1` and `v2`; those two use only the shared leaves
//! (`counters`, `parse`, `teardown`, `translate`) and never each other.

pub mod counters;
pub mod error;
pub mod hierarchy;
pub mod limits;
pub mod manager;
pub mod owner;
pub mod parse;
pub mod psi;
pub mod systemd;
pub mod teardown;
pub mod translate;
pub mod v1;
pub mod v2;
pub mod view;

pub use counters::{CpuStats, IoStats, MemoryEvents, MemoryStats, PidsStats};
pub use error::{CgroupError, Result};
pub use hierarchy::Hierarchies;
pub use limits::{CpuList, CpuMax, DevNum, IoMax, Limits};
pub use manager::CgroupSet;
pub use view::{CgroupView, SandboxCgroup};

use std::path::Path;

/// How cgroups are mounted on this machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    V1,
    V2,
    Hybrid,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::V1 => "v1",
            Mode::V2 => "v2",
            Mode::Hybrid => "hybrid",
        }
    }
}

const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
const TMPFS_MAGIC: i64 = 0x0102_1994;

fn fs_magic(path: &Path) -> Option<i64> {
    nix::sys::statfs::statfs(path)
        .ok()
        .map(|s| s.filesystem_type().0)
}

/// Detects the mode from the filesystem at `root` (normally /sys/fs/cgroup):
/// cgroup2 → v2; tmpfs with a cgroup2 `unified/` → hybrid; else v1.
pub fn detect_mode_at(root: &Path) -> Result<Mode> {
    match fs_magic(root) {
        Some(CGROUP2_SUPER_MAGIC) => Ok(Mode::V2),
        Some(TMPFS_MAGIC) => {
            if fs_magic(&root.join("unified")) == Some(CGROUP2_SUPER_MAGIC) {
                Ok(Mode::Hybrid)
            } else {
                Ok(Mode::V1)
            }
        }
        Some(_) => Ok(Mode::V1),
        None => Err(CgroupError::Setup(format!(
            "{}: no cgroup filesystem mounted; mount cgroup2 (or v1 hierarchies) there",
            root.display()
        ))),
    }
}

/// Detects the mode of this machine.
pub fn detect_mode() -> Result<Mode> {
    detect_mode_at(Path::new("/sys/fs/cgroup"))
}

/// The controllers isobench drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Controller {
    Cpu,
    Cpuacct,
    Cpuset,
    Memory,
    Pids,
    Freezer,
    /// Block IO: v1 `blkio`, v2 `io`.
    Io,
}

impl Controller {
    pub const ALL: [Controller; 7] = [
        Controller::Cpu,
        Controller::Cpuacct,
        Controller::Cpuset,
        Controller::Memory,
        Controller::Pids,
        Controller::Freezer,
        Controller::Io,
    ];

    /// Name in /proc/self/cgroup and mount options (v1).
    pub fn name(self) -> &'static str {
        match self {
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
            Controller::Cpuset => "cpuset",
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Freezer => "freezer",
            Controller::Io => "blkio",
        }
    }

    pub fn from_name(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name() == s)
    }

    /// Name in v2 cgroup.controllers; cpuacct and freezer are built into v2
    /// (cpu.stat, cgroup.freeze) and have no controller of their own.
    pub fn v2_name(self) -> Option<&'static str> {
        match self {
            Controller::Cpu => Some("cpu"),
            Controller::Cpuset => Some("cpuset"),
            Controller::Memory => Some("memory"),
            Controller::Pids => Some("pids"),
            Controller::Io => Some("io"),
            Controller::Cpuacct | Controller::Freezer => None,
        }
    }
}

/// Operations every driver offers on one sandbox cgroup.
pub trait Cgroup {
    /// Applies the limits; a limit the driver cannot express is an error
    /// (`Unsupported`), never silently dropped.
    fn apply(&self, limits: &Limits) -> Result<()>;
    /// Moves a process into the cgroup.
    fn add_pid(&self, pid: i32) -> Result<()>;
    /// Processes currently in the cgroup.
    fn pids(&self) -> Result<Vec<i32>>;
    fn cpu_stats(&self) -> Result<CpuStats>;
    fn memory_stats(&self) -> Result<MemoryStats>;
    fn pids_stats(&self) -> Result<PidsStats>;
    /// Kills every process in the cgroup and waits until it is empty.
    fn kill_all(&self) -> Result<()>;
    /// Removes the (empty) cgroup directories, retrying while the kernel
    /// finishes tearing down exiting tasks.
    fn remove(&self) -> Result<()>;
}

/// Asserts that `cg` refuses each of `limits` as `Unsupported`.
#[cfg(test)]
pub(crate) fn assert_unsupported(cg: &impl Cgroup, limits: impl IntoIterator<Item = Limits>) {
    for l in limits {
        let r = cg.apply(&l);
        assert!(
            matches!(r, Err(CgroupError::Unsupported(_))),
            "{l:?}: {r:?}"
        );
    }
}
