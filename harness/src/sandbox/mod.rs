//! Sandboxes: the spec, the native launcher and the embedded workload.

pub mod child;
pub mod event;
pub mod native;
pub mod spec;
pub mod workload;

pub use event::Event;
pub use native::{launch, launch_with, Cleanup, Running};
pub use spec::{
    IdMap, InitShim, Namespaces, NsSet, ProcOverlay, Rootfs, SandboxSpec, INIT_IN_ROOTFS,
};

use std::fmt;
use std::time::Duration;

/// A peer launcher's command line (argv[0] included) that starts the workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exec {
    pub program: std::path::PathBuf,
    pub argv: Vec<String>,
}

/// Whether the harness creates (and places the process into) a cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupMode {
    Create,
    /// The launcher manages cgroups itself (OCI runtimes) or none (bare).
    None,
}

/// How a workload ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signaled(i32),
    /// Killed by the harness at its deadline.
    TimedOut,
}

impl Exit {
    /// Death by SIGKILL as a sandbox leader reports it: the signal itself,
    /// or the shell convention 128 + 9 of wrappers and OCI runtimes.
    pub fn is_sigkill(self) -> bool {
        matches!(self, Exit::Signaled(libc::SIGKILL) | Exit::Code(137))
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit code {c}"),
            Exit::Signaled(s) => write!(f, "killed by signal {s}"),
            Exit::TimedOut => write!(f, "killed at its deadline"),
        }
    }
}

/// Launch phases on the parent's monotonic clock.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Phases {
    /// Cgroup creation and limits.
    pub cgroup: Duration,
    /// Preparing the child plan and clone3 itself.
    pub clone: Duration,
    /// Parent's placement: id maps, v1 cgroup.procs writes, release.
    pub place: Duration,
    /// Child setup: ids, mounts, hostname, rootfs, /proc.
    pub setup: Duration,
    /// From the end of setup to a successful execve.
    pub exec: Duration,
    /// Launch request → workload ready (total).
    pub ready: Option<Duration>,
    /// Kill + reap + cgroup removal.
    pub teardown: Option<Duration>,
}

/// Why a launch failed.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("invalid sandbox: {0}")]
    Spec(String),
    #[error("cgroup: {0}")]
    Cgroup(#[from] crate::cgroup::CgroupError),
    #[error("clone3 with namespaces [{1}] failed: {0}")]
    Clone(std::io::Error, String),
    #[error("sandbox child failed while {stage}: {errno}")]
    Child {
        stage: &'static str,
        errno: std::io::Error,
    },
    #[error("{0}")]
    Setup(String),
    #[error("deadline: {0}")]
    Timeout(String),
    #[error("interrupted by signal {0}")]
    Interrupted(i32),
    #[error("{0}")]
    Os(std::io::Error),
}
