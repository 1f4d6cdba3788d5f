//! Emptying and removing isobench cgroups, shared by the v1 and v2 drivers
//! and by the cleanup of dead runs: freeze, SIGKILL, thaw until empty
//! (`cgroup.kill` first where v2 has it), then rmdir with retries.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::error::{CgroupError, Result};
use super::owner::{owner_alive, NAME_PREFIX};
use super::parse;

/// The processes in `dir`'s cgroup.procs; none when the cgroup is gone.
pub(crate) fn procs(dir: &Path) -> Result<Vec<i32>> {
    match parse::read_pids(&dir.join("cgroup.procs")) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(Vec::new()),
        r => r,
    }
}

/// v2: one write to cgroup.kill kills every process, including ones forking
/// right now. A kernel without the file (before 5.14) or a cgroup already
/// gone is no error.
pub(crate) fn write_kill(dir: &Path) -> Result<()> {
    let kill = dir.join("cgroup.kill");
    if !kill.exists() {
        return Ok(());
    }
    match parse::write(&kill, "1") {
        Err(e) if e.raw_os_error() != Some(libc::ENOENT) => Err(e),
        _ => Ok(()),
    }
}

/// v1: freezes or thaws the freezer cgroup `dir` (best effort).
pub(crate) fn freeze_v1(dir: &Path, frozen: bool) {
    let _ = parse::write(
        &dir.join("freezer.state"),
        if frozen { "FROZEN" } else { "THAWED" },
    );
}

/// v2: freezes or thaws `dir` through cgroup.freeze (best effort).
pub(crate) fn freeze_v2(dir: &Path, frozen: bool) {
    let _ = parse::write(&dir.join("cgroup.freeze"), if frozen { "1" } else { "0" });
}

/// Removes the isobench cgroups in `bases` whose owner process is dead.
/// Returns the directories removed. Cgroups of a live isobench are never
/// touched.
pub fn cleanup_stale_in(bases: &[PathBuf]) -> Vec<PathBuf> {
    let mut removed = Vec::new();
    for base in bases {
        let Ok(rd) = std::fs::read_dir(base) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let dir = e.path();
            if owner_alive(&name, &dir) != Some(false) {
                continue;
            }
            if kill_and_remove(&dir) {
                removed.push(dir);
            }
        }
    }
    removed
}

/// Kills what is in a stale isobench cgroup and removes it, the isobench
/// cgroups nested in it first (memory-protection's tree, an exclusive
/// cpuset's sandboxes); true when it is gone.
fn kill_and_remove(dir: &Path) -> bool {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let nested = e.file_name().to_string_lossy().starts_with(NAME_PREFIX);
            if nested && e.path().is_dir() {
                kill_and_remove(&e.path());
            }
        }
    }
    let _ = write_kill(dir);
    let v1_freezer = dir.join("freezer.state").exists();
    let _ = kill_loop(
        || procs(dir),
        |frozen| {
            if v1_freezer {
                freeze_v1(dir, frozen);
            }
        },
    );
    rmdir_retry(dir).is_ok()
}

/// Safety rule: only cgroups isobench created may have their processes
/// killed. A directory qualifies when its own name carries our prefix, or
/// its parent's: a runtime's cgroup below a sandbox parent isobench named
/// (podman's `libpod-<id>` under `--cgroup-parent …/isobench-<run>-<n>`).
pub(crate) fn ensure_ours(dir: &Path) -> Result<()> {
    let prefixed = |d: Option<&Path>| {
        d.and_then(Path::file_name)
            .is_some_and(|n| n.to_string_lossy().starts_with(NAME_PREFIX))
    };
    let ours = prefixed(Some(dir)) || prefixed(dir.parent());
    if ours {
        Ok(())
    } else {
        Err(CgroupError::Setup(format!(
            "refusing to kill processes in {}: not a cgroup isobench created",
            dir.display()
        )))
    }
}

/// Freeze, SIGKILL every listed process, thaw; repeat until empty or 10 s.
pub(crate) fn kill_loop(pids: impl Fn() -> Result<Vec<i32>>, freeze: impl Fn(bool)) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut wait = Duration::from_micros(200);
    loop {
        let list = pids()?;
        if list.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(CgroupError::Setup(format!(
                "processes {list:?} survive SIGKILL after 10 s"
            )));
        }
        freeze(true);
        let me = std::process::id() as i32;
        for p in list.iter().filter(|p| **p > 1 && **p != me) {
            if std::env::var_os("ISOBENCH_DEBUG").is_some() {
                let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
                eprintln!("isobench: debug: SIGKILL {p} ({})", comm.trim());
            }
            // SAFETY: kill(2) with a pid read from our own cgroup.
            unsafe {
                libc::kill(*p, libc::SIGKILL);
            }
        }
        freeze(false);
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_millis(50));
    }
}

/// rmdir, retrying while the kernel still holds exiting tasks (EBUSY).
pub(crate) fn rmdir_retry(dir: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut wait = Duration::from_micros(100);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_millis(20));
            }
            Err(e) => return Err(CgroupError::io(dir, e)),
        }
    }
}
