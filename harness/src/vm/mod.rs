//! The kernel matrix: boot other kernels under qemu with `isobench` as the
//! initramfs's /init, run a suite there in cgroup v1 or v2 mode, and bring
//! the results back over a virtio-serial port. This is how cgroup v2 gets
//! tested on a host that runs hybrid, and how kernels are compared.

pub mod accel;
pub mod args;
pub mod command;
pub mod cpio;
pub mod driver;
pub mod elf;
pub mod frame;
pub mod guest;
pub mod image;
pub mod initramfs;
pub mod kernel;
pub mod kernels;
pub mod kmod;
pub mod matrix;
pub mod progress;
pub mod pvh;
pub mod qemu;

use std::path::PathBuf;

/// The cgroup filesystem the guest mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum CgroupVersion {
    V1,
    V2,
}

impl CgroupVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            CgroupVersion::V1 => "v1",
            CgroupVersion::V2 => "v2",
        }
    }
}

/// Why a VM run produced no results. Every variant maps to exit code 2.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// Bad arguments or a missing / unusable kernel, qemu, program.
    #[error("{0}")]
    Input(String),
    #[error("{0}")]
    Io(String),
    /// The guest never delivered a results frame (boot failure, hang, crash).
    #[error("{what}; console log: {}{}", console.display(), indent(tail))]
    Boot {
        what: String,
        console: PathBuf,
        tail: String,
    },
    /// SIGINT/SIGTERM: qemu was killed; exit 128 + signal.
    #[error("interrupted by signal {0}; the guest was stopped")]
    Interrupted(i32),
    /// /init ran but the run could not happen; its own message.
    #[error("in the guest: {msg}; console log: {}", console.display())]
    Guest { msg: String, console: PathBuf },
}

impl VmError {
    /// The process exit code: 128 + signal when interrupted, else 2.
    pub fn exit_code(&self) -> u8 {
        match self {
            VmError::Interrupted(sig) => crate::interrupt::exit_code(*sig),
            _ => 2,
        }
    }
}

fn indent(tail: &str) -> String {
    if tail.trim().is_empty() {
        return String::new();
    }
    let lines: String = tail.lines().map(|l| format!("\n  | {l}")).collect();
    format!("; its last lines:{lines}")
}
