//! Who made an isobench object: every cgroup, bundle, staging or VM
//! directory is named `isobench-<run id>-…`, and the run id names its owner
//! process, so stale objects are told apart from those of a live run.

use std::path::Path;

/// Prefix of every cgroup isobench creates:
/// `isobench-p<owner pid>-t<owner start ticks>-<nonce>-<n>` (see [`Owner`]).
pub const NAME_PREFIX: &str = "isobench-";

/// A unique run id that names its owner: `p<pid>-t<start ticks>-<nonce>`,
/// so stale cgroups can be told apart from those of a concurrently running
/// isobench, by the kernel's clock (see [`Owner`]).
pub fn new_run_id() -> String {
    let mut b = [0u8; 4];
    let _ = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b));
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let nonce = u32::from_ne_bytes(b) ^ t;
    format!("{}-{nonce:08x}", Owner::current().tag())
}

/// The owner pid encoded in an isobench cgroup name.
pub fn owner_pid(name: &str) -> Option<i32> {
    Owner::from_name(name).map(|o| o.pid)
}

/// The isobench process that made an object (cgroup, bundle, staging or VM
/// directory), as encoded in the object's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub pid: i32,
    /// Field 22 of the owner's /proc/PID/stat (clock ticks since boot);
    /// `None` in names made by isobench versions before it was encoded.
    pub start_ticks: Option<u64>,
}

impl Owner {
    /// This process.
    pub fn current() -> Owner {
        let pid = std::process::id() as i32;
        Owner {
            pid,
            start_ticks: crate::procfs::start_ticks(pid),
        }
    }

    /// `p<pid>-t<ticks>` (or `p<pid>` when the start time is unknown): the
    /// head of a run id. Older cleanups read the pid and ignore the rest.
    pub fn tag(&self) -> String {
        match self.start_ticks {
            Some(t) => format!("p{}-t{t}", self.pid),
            None => format!("p{}", self.pid),
        }
    }

    /// Parses the head of a run id: `p<pid>-t<ticks>-…` or `p<pid>-…`.
    pub fn from_run_id(run_id: &str) -> Option<Owner> {
        let mut parts = run_id.strip_prefix('p')?.split('-');
        let pid = parts.next()?.parse().ok()?;
        let start_ticks = parts
            .next()
            .and_then(|p| p.strip_prefix('t'))
            .and_then(|t| t.parse().ok());
        Some(Owner { pid, start_ticks })
    }

    /// Parses an isobench object name: `isobench-<run id>-…`.
    pub fn from_name(name: &str) -> Option<Owner> {
        Owner::from_run_id(name.strip_prefix(NAME_PREFIX)?)
    }

    /// Whether the owner still runs. With a start time in the name, by the
    /// kernel's boot-relative clock: the pid exists and started at exactly
    /// that tick (another start means the pid was reused); a wall-clock step
    /// cannot change the answer. Names without one fall back to comparing
    /// the start with `created`'s mtime (as older versions did). When in
    /// doubt the owner counts as alive, so a live run is never disturbed.
    pub fn alive(&self, created: &Path) -> bool {
        let Some(stat) = crate::procfs::read_stat(self.pid) else {
            return false;
        };
        let fields = crate::procfs::stat_fields(&stat);
        // A zombie (killed, not yet reaped by its parent) runs nothing.
        if fields.first().is_some_and(|s| s.starts_with(['Z', 'X'])) {
            return false;
        }
        let Some(live) = fields.get(19).and_then(|v| v.parse::<u64>().ok()) else {
            return true;
        };
        match self.start_ticks {
            Some(t) => t == live,
            None => started_before_mtime(live, created),
        }
    }
}

/// The legacy judgement, for names without a start time: a process that
/// started (in wall-clock terms, 1 s of slack) after `created` was made is
/// a reused pid. A wall-clock step can fool it, hence [`Owner::start_ticks`].
fn started_before_mtime(start_ticks: u64, created: &Path) -> bool {
    let btime = std::fs::read_to_string("/proc/stat").ok().and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<u64>().ok())
    });
    let created_at = std::fs::metadata(created)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    match (btime, created_at) {
        (Some(b), Some(c)) => {
            // SAFETY: sysconf has no preconditions.
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
            let started = b + start_ticks / hz;
            started <= c.as_secs() + 1
        }
        _ => true,
    }
}

/// Whether the owner of `created`, a cgroup directory, bundle or staging
/// directory named `name` (`isobench-<run id>-…`), still runs; `None`
/// when the name is not an isobench one. See [`Owner::alive`].
pub fn owner_alive(name: &str, created: &Path) -> Option<bool> {
    Owner::from_name(name).map(|o| o.alive(created))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Sets `path`'s mtime (utimensat through std): a stand-in for a
    /// wall-clock step, without touching the real clock.
    fn set_mtime(path: &Path, t: std::time::SystemTime) {
        let f = std::fs::File::open(path).unwrap();
        f.set_times(std::fs::FileTimes::new().set_modified(t))
            .unwrap();
    }

    #[test]
    fn owner_liveness_detects_dead_and_reused_pids() {
        let dir = tempfile::tempdir().unwrap();
        let me = Owner::current();
        assert!(me.start_ticks.is_some());
        assert!(me.alive(dir.path()));
        // No such pid (above pid_max).
        let gone = Owner {
            pid: i32::MAX,
            ..me
        };
        assert!(!gone.alive(dir.path()));
        // Our pid, but another start: the pid was reused.
        let reused = Owner {
            start_ticks: me.start_ticks.map(|t| t + 1),
            ..me
        };
        assert!(!reused.alive(dir.path()));
        // A killed owner its parent has not reaped yet (a zombie).
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let zpid = child.id() as i32;
        let patience = std::time::Instant::now() + Duration::from_secs(60);
        let zombie = loop {
            assert!(std::time::Instant::now() < patience, "true never exited");
            let stat = crate::procfs::read_stat(zpid).unwrap();
            if crate::procfs::stat_fields(&stat)[0] == "Z" {
                break Owner {
                    pid: zpid,
                    start_ticks: crate::procfs::start_ticks(zpid),
                };
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(!zombie.alive(dir.path()));
        child.wait().unwrap();
        // A legacy name (no start time): an object older than the process
        // means the pid was reused.
        let legacy = Owner {
            start_ticks: None,
            ..me
        };
        let old = dir.path().join("old");
        std::fs::create_dir(&old).unwrap();
        set_mtime(&old, std::time::UNIX_EPOCH + Duration::from_secs(1000));
        assert!(!legacy.alive(&old));
        assert!(legacy.alive(dir.path()));
    }

    /// A wall-clock step during a run moves every wall-clock comparison:
    /// the object's mtime far in the past (a forward step of the clock
    /// after it was made) or far in the future (a backward step) must not
    /// change whether its live owner counts as alive, nor make a reused pid
    /// count as alive.
    #[test]
    fn a_clock_step_does_not_change_liveness() {
        let base = tempfile::tempdir().unwrap();
        let me = Owner::current();
        let name = format!("{NAME_PREFIX}{}-0", new_run_id());
        let obj = base.path().join(&name);
        std::fs::create_dir(&obj).unwrap();
        let reused = format!(
            "{NAME_PREFIX}p{}-t{}-0badf00d-0",
            me.pid,
            me.start_ticks.unwrap() + 100
        );
        let year = Duration::from_secs(365 * 86400);
        for t in [
            std::time::UNIX_EPOCH + Duration::from_secs(1000),
            std::time::SystemTime::now() - year,
            std::time::SystemTime::now() + 10 * year,
        ] {
            set_mtime(&obj, t);
            assert_eq!(owner_alive(&name, &obj), Some(true), "mtime {t:?}");
            assert_eq!(owner_alive(&reused, &obj), Some(false), "mtime {t:?}");
        }
        assert_eq!(owner_alive("not-ours", &obj), None);
    }

    #[test]
    fn owners_are_parsed_from_names() {
        assert_eq!(
            Owner::from_name("isobench-p1234-t987-deadbeef-3"),
            Some(Owner {
                pid: 1234,
                start_ticks: Some(987)
            })
        );
        // Legacy names: the nonce is hex, never `t<digits>`.
        assert_eq!(
            Owner::from_name("isobench-p1234-deadbeef-3"),
            Some(Owner {
                pid: 1234,
                start_ticks: None
            })
        );
        assert_eq!(
            Owner::from_run_id("p7-t1-ab-tclockstep")
                .unwrap()
                .start_ticks,
            Some(1)
        );
        let me = Owner::current();
        assert_eq!(Owner::from_run_id(&new_run_id()), Some(me));
        assert_eq!(Owner::from_run_id(&me.tag()), Some(me));
    }

    #[test]
    fn owner_pid_is_parsed_from_names() {
        assert_eq!(owner_pid("isobench-p1234-deadbeef-3"), Some(1234));
        assert_eq!(owner_pid("isobench-p1234-deadbeef-self"), Some(1234));
        assert_eq!(owner_pid("isobench-x"), None);
        assert_eq!(owner_pid("other-p1-2"), None);
        let id = new_run_id();
        assert_eq!(
            owner_pid(&format!("{NAME_PREFIX}{id}-0")),
            Some(std::process::id() as i32)
        );
    }
}
