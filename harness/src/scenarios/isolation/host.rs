//! What the harness knows of the host around the probes: its pid, hostname,
//! mounts, a SysV shm segment made to be (not) seen, and /proc/uptime and
//! /proc/loadavg read just before and after each probe.

/// Host facts the harness gathered around the probes.
#[derive(Debug, Clone)]
pub struct Host {
    pub harness_pid: u32,
    /// Hostname before and after the probes (a uts leak would change it).
    pub hostname_before: String,
    pub hostname_after: String,
    /// The harness's SysV shm segment, or why it could not make one.
    pub shm_id: Result<u64, ShmError>,
    /// The harness's mounts as "MAJ:MIN ROOT MOUNTPOINT" keys (the probe's
    /// `mount_keys`): a sandbox showing one of them sees a host mount.
    pub mount_keys: Option<Vec<String>>,
}

impl Host {
    /// The facts as they stand before the probes (`hostname_after` is set
    /// once they are done).
    pub fn gather(shm: &Result<ShmSegment, ShmError>) -> Self {
        Host {
            harness_pid: std::process::id(),
            hostname_before: hostname(),
            hostname_after: String::new(),
            shm_id: shm.as_ref().map(|s| s.id as u64).map_err(|e| *e),
            mount_keys: host_mount_keys(),
        }
    }
}

/// Host's /proc/uptime and /proc/loadavg just before and after one probe.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window {
    pub uptime_s: (Option<f64>, Option<f64>),
    pub loadavg: (Option<String>, Option<String>),
}

/// One end of a [`Window`].
pub struct Moment(Option<f64>, Option<String>);

impl Moment {
    pub fn now() -> Self {
        Moment(read_uptime(), read_loadavg())
    }
}

impl Window {
    pub fn between(before: Moment, after: Moment) -> Self {
        Window {
            uptime_s: (before.0, after.0),
            loadavg: (before.1, after.1),
        }
    }
}

fn read_uptime() -> Option<f64> {
    std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn read_loadavg() -> Option<String> {
    let t = std::fs::read_to_string("/proc/loadavg").ok()?;
    let f: Vec<&str> = t.split_whitespace().take(3).collect();
    (f.len() == 3).then(|| f.join(" "))
}

/// The harness's mount keys: fields 3–5 of /proc/self/mountinfo, as the
/// probe reports them.
fn host_mount_keys() -> Option<Vec<String>> {
    let t = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    Some(
        t.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(' ').skip(2).take(3).collect();
                (f.len() == 3).then(|| f.join(" "))
            })
            .collect(),
    )
}

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Why the harness has no shm segment: the call that failed, with its errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{call}: {}", std::io::Error::from_raw_os_error(*.errno))]
pub struct ShmError {
    pub call: &'static str,
    pub errno: i32,
}

impl ShmError {
    /// The calling thread's last error, from `call`.
    fn last(call: &'static str) -> Self {
        ShmError {
            call,
            errno: std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(0),
        }
    }
}

/// A SysV shared memory segment made by the harness so the ipc check has
/// something to (not) see. It is attached and marked for removal at once:
/// it stays listed while attached and vanishes with the harness, even if
/// the harness is SIGKILLed.
pub struct ShmSegment {
    id: i32,
    addr: *mut libc::c_void,
}

impl ShmSegment {
    pub fn create() -> Result<Self, ShmError> {
        // SAFETY: plain SysV IPC calls; every failure path releases what
        // was made.
        unsafe {
            let id = libc::shmget(libc::IPC_PRIVATE, 4096, libc::IPC_CREAT | 0o600);
            if id < 0 {
                return Err(ShmError::last("shmget"));
            }
            let addr = libc::shmat(id, std::ptr::null(), libc::SHM_RDONLY);
            if addr as isize == -1 {
                let err = ShmError::last("shmat");
                libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut());
                return Err(err);
            }
            if libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) != 0 {
                let err = ShmError::last("shmctl(IPC_RMID)");
                libc::shmdt(addr);
                return Err(err);
            }
            Ok(ShmSegment { id, addr })
        }
    }
}

impl Drop for ShmSegment {
    fn drop(&mut self) {
        // SAFETY: detaching our own attachment; the segment, already marked
        // IPC_RMID, is destroyed with its last attachment.
        unsafe {
            libc::shmdt(self.addr);
        }
    }
}
