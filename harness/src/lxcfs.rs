//! Debian's `lxcfs`, started and stopped by isobench: a FUSE filesystem
//! whose /proc files (meminfo, cpuinfo, stat, uptime, loadavg, diskstats,
//! swaps) answer each reader with its own cgroup's limits. Sandboxes get
//! them bind-mounted over their /proc ([`crate::sandbox::ProcOverlay`]).
//!
//! Each instance mounts at `<staging>/lxcfs-<run id>-<n>` (the run id
//! names its owner process), runs in the foreground in its own process
//! group (a terminal's Ctrl-C reaches the harness, which stops it), and is
//! stopped on drop: SIGTERM (lxcfs unmounts itself), then a lazy unmount
//! for a mount whose daemon died, then the directory is removed.
//! [`cleanup_stale`] does the same for instances of dead runs.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::cgroup::owner::Owner;
use crate::run::staging_base;

/// The /proc files lxcfs virtualises, bound over the sandbox's /proc.
pub const PROC_FILES: [&str; 7] = [
    "meminfo",
    "cpuinfo",
    "stat",
    "uptime",
    "loadavg",
    "diskstats",
    "swaps",
];

/// What to do when lxcfs is missing.
pub const INSTALL_HINT: &str = "lxcfs is not installed (apt-get install lxcfs)";

/// Name prefix of isobench's lxcfs mount points in the staging directory.
const PREFIX: &str = "lxcfs-";

/// How long lxcfs may take to answer its first read.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long it may take to exit after SIGTERM before it gets SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(3);

/// Why lxcfs could not be started.
#[derive(Debug, thiserror::Error)]
pub enum LxcfsError {
    #[error("{INSTALL_HINT}")]
    Absent,
    #[error("lxcfs at {dir}: {what}")]
    Start { dir: PathBuf, what: String },
    #[error("interrupted by signal {0}")]
    Interrupted(i32),
}

/// A running lxcfs; stopped and unmounted on drop.
#[derive(Debug)]
pub struct Lxcfs {
    dir: PathBuf,
    child: Option<Child>,
}

fn side_file(dir: &Path, ext: &str) -> PathBuf {
    dir.with_extension(ext)
}

impl Lxcfs {
    /// Starts an lxcfs for run `run_id` with loadavg and CFS CPU
    /// virtualisation, and waits until its /proc/meminfo answers.
    pub fn start(run_id: &str) -> Result<Lxcfs, LxcfsError> {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let program = crate::env::which("lxcfs").ok_or(LxcfsError::Absent)?;
        let dir = staging_base().join(format!("{PREFIX}{run_id}-{n}"));
        let err = |what: String| LxcfsError::Start {
            dir: dir.clone(),
            what,
        };
        std::fs::create_dir_all(&dir).map_err(|e| err(format!("mkdir: {e}")))?;
        let log = std::fs::File::create(side_file(&dir, "log"))
            .map_err(|e| err(format!("log file: {e}")))?;
        let child = Command::new(program)
            .args(["-f", "-l", "--enable-cfs", "-p"])
            .arg(side_file(&dir, "pid"))
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| err(e.to_string()))?)
            .stderr(log)
            .process_group(0)
            .spawn()
            .map_err(|e| err(format!("spawn: {e}")))?;
        // From here on, drop stops it whatever happens.
        let mut me = Lxcfs {
            dir,
            child: Some(child),
        };
        me.wait_ready()?;
        Ok(me)
    }

    fn wait_ready(&mut self) -> Result<(), LxcfsError> {
        let until = Instant::now() + START_TIMEOUT;
        let probe = self.dir.join("proc/meminfo");
        loop {
            if std::fs::read_to_string(&probe).is_ok_and(|t| t.starts_with("MemTotal")) {
                return Ok(());
            }
            let status = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            let fail = |what: String| LxcfsError::Start {
                dir: self.dir.clone(),
                what,
            };
            if let Some(s) = status {
                return Err(fail(format!(
                    "exited ({s}) before mounting: {}",
                    self.log_tail()
                )));
            }
            if Instant::now() > until {
                return Err(fail(format!(
                    "{} unreadable after {START_TIMEOUT:?}: {}",
                    probe.display(),
                    self.log_tail()
                )));
            }
            crate::interrupt::sleep(Duration::from_millis(10)).map_err(LxcfsError::Interrupted)?;
        }
    }

    fn log_tail(&self) -> String {
        let t = std::fs::read_to_string(side_file(&self.dir, "log")).unwrap_or_default();
        let lines: Vec<&str> = t.lines().rev().take(3).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join(" | ")
    }

    /// The mount point.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The daemon's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Its virtualised /proc files as overlays over the sandbox's /proc.
    pub fn proc_overlays(&self) -> Vec<crate::sandbox::ProcOverlay> {
        PROC_FILES
            .iter()
            .map(|f| crate::sandbox::ProcOverlay {
                source: self.dir.join("proc").join(f),
                name: f.to_string(),
            })
            .collect()
    }

    /// Stops the daemon, removes the mount and the directory.
    pub fn stop(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on our own child, which we have not reaped.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let until = Instant::now() + STOP_TIMEOUT;
            while c.try_wait().ok().flatten().is_none() {
                // Once its FUSE session has unmounted (about 20 ms after
                // SIGTERM), lxcfs -l only waits for its load-average
                // thread's next wake-up (3.5 s measured) before exiting:
                // nothing of it is left to flush, so it need not be waited for.
                let unmounted = !mount_points().iter().any(|m| m == &self.dir);
                if unmounted || Instant::now() > until {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        remove_mount(&self.dir);
    }
}

impl Drop for Lxcfs {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Lazily unmounts `dir` while it is a mount point, then removes it and its
/// pid and log files.
fn remove_mount(dir: &Path) {
    for _ in 0..3 {
        if !mount_points().iter().any(|m| m == dir) {
            break;
        }
        if let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) {
            // SAFETY: umount2 on a NUL-terminated path.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
    let _ = std::fs::remove_dir(dir);
    let _ = std::fs::remove_file(side_file(dir, "pid"));
    let _ = std::fs::remove_file(side_file(dir, "log"));
}

/// Mount points of /proc/self/mountinfo (unescaped).
fn mount_points() -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape(p)))
        .collect()
}

/// mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The run id in an isobench lxcfs directory name (`lxcfs-<run id>-<n>`).
pub fn run_id_of(dir: &Path) -> Option<&str> {
    let name = dir.file_name()?.to_str()?;
    let rest = name.strip_prefix(PREFIX)?;
    let (id, n) = rest.rsplit_once('-')?;
    n.parse::<u32>().ok()?;
    Some(id)
}

/// Whether `dir` is an isobench lxcfs directory of a dead run.
fn stale(dir: &Path, base: &Path) -> bool {
    dir.parent() == Some(base)
        && run_id_of(dir)
            .and_then(Owner::from_run_id)
            .is_some_and(|o| !o.alive(dir))
}

/// What [`cleanup_stale`] removed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct StaleLxcfs {
    /// lxcfs daemons killed.
    pub daemons: Vec<i32>,
    /// Mount points unmounted or directories removed.
    pub mounts: Vec<PathBuf>,
}

/// Kills the lxcfs daemons of dead isobench runs (recognised by their
/// mount point argument), unmounts their mounts and removes their
/// directories. A live run's and any other lxcfs are never touched.
pub fn cleanup_stale() -> StaleLxcfs {
    let base = staging_base();
    let mut out = StaleLxcfs::default();
    if let Ok(rd) = std::fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(cmd) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                continue;
            };
            let argv: Vec<&[u8]> = cmd.split(|b| *b == 0).collect();
            let is_lxcfs = argv
                .first()
                .is_some_and(|a| a.rsplit(|b| *b == b'/').next() == Some(b"lxcfs".as_slice()));
            let ours = argv
                .iter()
                .any(|a| std::str::from_utf8(a).is_ok_and(|a| stale(Path::new(a), &base)));
            if is_lxcfs && ours {
                // SAFETY: kill(2) on a daemon of a dead isobench run.
                unsafe { libc::kill(pid, libc::SIGKILL) };
                out.daemons.push(pid);
            }
        }
    }
    let mut dirs: Vec<PathBuf> = mount_points()
        .into_iter()
        .filter(|m| stale(m, &base))
        .collect();
    if let Ok(rd) = std::fs::read_dir(&base) {
        dirs.extend(
            rd.flatten()
                .map(|e| e.path())
                .filter(|d| d.is_dir() && stale(d, &base)),
        );
    }
    dirs.sort();
    dirs.dedup();
    for d in dirs {
        remove_mount(&d);
        out.mounts.push(d);
    }
    out
}

/// Times `n` whole-file reads of `a` and of `b`, interleaved (a, b, a, b,
/// …) so both see the same load: µs per read of each.
pub fn time_reads(a: &Path, b: &Path, n: usize) -> (Vec<f64>, Vec<f64>) {
    let once = |p: &Path| {
        let t = Instant::now();
        let ok = std::fs::read(p).is_ok();
        ok.then(|| t.elapsed().as_secs_f64() * 1e6)
    };
    let mut ta = Vec::with_capacity(n);
    let mut tb = Vec::with_capacity(n);
    for _ in 0..n {
        ta.extend(once(a));
        tb.extend(once(b));
    }
    (ta, tb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_come_from_our_names_only() {
        let d = Path::new("/run/isobench/lxcfs-p12-t34-0badf00d-0");
        assert_eq!(run_id_of(d), Some("p12-t34-0badf00d"));
        assert_eq!(run_id_of(Path::new("/run/isobench/lxcfs-p12-t34-x")), None);
        assert_eq!(run_id_of(Path::new("/var/lib/lxcfs")), None);
        assert_eq!(run_id_of(Path::new("/run/isobench/root-p12-t34-0-0")), None);
    }

    #[test]
    fn only_dead_runs_are_stale() {
        let base = Path::new("/run/isobench");
        let me = crate::cgroup::owner::new_run_id();
        assert!(!stale(&base.join(format!("lxcfs-{me}-0")), base));
        // pid 0x7ffffff0 does not run.
        assert!(stale(&base.join("lxcfs-p2147483632-t1-00000000-0"), base));
        // Elsewhere: never ours.
        assert!(!stale(
            Path::new("/tmp/lxcfs-p2147483632-t1-00000000-0"),
            base
        ));
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
        assert_eq!(unescape("/end\\04"), "/end\\04");
    }
}
