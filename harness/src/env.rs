//! A snapshot of the system a run uses: embedded in every result so numbers
//! are never read without knowing where they came from.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use isobench_reports::Environment;

use crate::cgroup::{systemd, CgroupSet, Mode};

/// Peers isobench can drive or needs, in display order.
pub const PEERS: [&str; 6] = [
    "runc",
    "crun",
    "bwrap",
    "unshare",
    "qemu-system-x86_64",
    "apt-get",
];

/// Finds an executable on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// First version-looking token of `prog --version` (or `-V`).
pub fn peer_version(prog: &Path) -> Option<String> {
    for flag in ["--version", "-V"] {
        let Ok(out) = Command::new(prog).arg(flag).output() else {
            continue;
        };
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        if let Some(v) = text
            .split(|c: char| c.is_whitespace() || c == ',')
            .find(|t| t.chars().next().is_some_and(|c| c.is_ascii_digit()) && t.contains('.'))
        {
            return Some(v.trim_end_matches([',', ')']).to_string());
        }
    }
    None
}

/// Versions of the peers found on this machine.
pub fn launchers() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for p in [
        "runc",
        "crun",
        "bwrap",
        "unshare",
        "podman",
        "systemd-nspawn",
    ] {
        if let Some(path) = which(p) {
            m.insert(
                p.to_string(),
                peer_version(&path).unwrap_or_else(|| "unknown".into()),
            );
        }
    }
    if let Some(path) = crate::launchers::youki_path() {
        m.insert(
            "youki".into(),
            peer_version(&path).unwrap_or_else(|| "unknown".into()),
        );
    }
    m
}

fn kernel_release() -> String {
    nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into())
}

/// The first line of `/proc/<file>` starting with `key`, after the key.
fn proc_field(file: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(Path::new("/proc").join(file)).ok()?;
    let line = text.lines().find_map(|l| l.strip_prefix(key))?;
    Some(line.to_string())
}

fn cpu_model() -> String {
    proc_field("cpuinfo", "model name")
        .and_then(|v| v.split_once(':').map(|(_, v)| v.trim().to_string()))
        .unwrap_or_else(|| "unknown".into())
}

fn memory_bytes() -> u64 {
    proc_field("meminfo", "MemTotal:")
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// CPUs this process may run on.
pub fn cpus() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1)
}

/// How this machine is virtualised: `tcg`/`kvm` when the VM runner told us
/// (kernel command line `isobench.virt=`), `vm` when a hypervisor flag is
/// visible, else `none`.
pub fn virtualization() -> String {
    if let Ok(cmdline) = std::fs::read_to_string("/proc/cmdline") {
        if let Some(v) = cmdline
            .split_whitespace()
            .find_map(|t| t.strip_prefix("isobench.virt="))
        {
            return v.to_string();
        }
    }
    let hyper = std::fs::read_to_string("/proc/cpuinfo")
        .map(|t| {
            t.lines()
                .any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "hypervisor"))
        })
        .unwrap_or(false);
    if hyper {
        "vm".into()
    } else {
        "none".into()
    }
}

/// The environment block of a results file.
pub fn snapshot(set: Option<&CgroupSet>) -> Environment {
    let (mode, controllers) = match set {
        Some(s) => {
            let mut c: Vec<String> = s.describe().into_iter().map(|(n, _, _)| n).collect();
            c.sort();
            c.dedup();
            (s.mode, c)
        }
        None => (crate::cgroup::detect_mode().unwrap_or(Mode::V1), Vec::new()),
    };
    Environment {
        kernel: kernel_release(),
        cgroup_mode: mode.as_str().to_string(),
        controllers,
        cpus: cpus(),
        cpu_model: cpu_model(),
        memory_bytes: memory_bytes(),
        virtualization: virtualization(),
        isobench_version: env!("CARGO_PKG_VERSION").to_string(),
        launchers: launchers(),
        node: systemd::node_name(),
        cgroup_manager: Some(systemd::manager().as_str().to_string()),
        own_cgroup: systemd::own_cgroup(),
        init: systemd::init_name(),
    }
}
