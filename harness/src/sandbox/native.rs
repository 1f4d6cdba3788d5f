//! The native launcher: clone3 straight into namespaces (and, where the
//! hierarchy is v2, into the cgroup), a sync pipe for the parent's placement
//! into v1 hierarchies and id maps, then execve of the static workload.

use std::ffi::{c_char, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::child::{self, ChildPlan, MinimalPlan, Stage, REPORT_FD};
use super::spec::{IdMap, Namespaces, Rootfs, SandboxSpec, INIT_IN_ROOTFS};
use super::workload::LineReader;
use super::{CgroupMode, Exec, Exit, LaunchError, Phases};
use crate::cgroup::{Cgroup, CgroupSet, CgroupView, SandboxCgroup};

const CLONE_PIDFD: u64 = 0x1000;
const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// struct clone_args (version 2, with `cgroup`).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

/// A pipe whose ends sit at fd ≥ 10 (so dup2 to REPORT_FD never clobbers
/// another pipe end), both close-on-exec.
fn pipe_high() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two fds into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut out = Vec::with_capacity(2);
    for fd in fds {
        // SAFETY: fcntl on a fd we own; then close the original.
        let hi = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
        let err = std::io::Error::last_os_error();
        unsafe { libc::close(fd) };
        if hi < 0 {
            return Err(err);
        }
        // SAFETY: hi is a fresh fd we own.
        out.push(unsafe { OwnedFd::from_raw_fd(hi) });
    }
    let w = out.pop().expect("two fds");
    let r = out.pop().expect("two fds");
    Ok((r, w))
}

fn cstr(s: impl AsRef<[u8]>, what: &str) -> Result<CString, LaunchError> {
    CString::new(s.as_ref().to_vec())
        .map_err(|_| LaunchError::Spec(format!("{what} contains a NUL byte")))
}

fn id_map_text(maps: &[IdMap]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.inside, m.outside, m.count))
        .collect()
}

/// A sandbox that has been launched: its process, cgroup and report stream.
pub struct Running {
    pub pid: i32,
    pidfd: OwnedFd,
    /// The cgroup counters are read from: ours, or the one a peer runtime
    /// made (found after start), or empty for the bare launcher.
    view: CgroupView,
    /// The cgroup we created (removed at teardown).
    cgroup: Option<SandboxCgroup>,
    /// A peer's own teardown (e.g. `runc delete -f`), run once.
    cleanup: Option<Cleanup>,
    /// A peer launcher's stderr (memfd), quoted in errors.
    stderr_file: Option<OwnedFd>,
    pub report: LineReader,
    /// The workload's events, typed.
    pub events: Vec<super::Event>,
    /// Report lines this harness does not know (a newer workload's).
    pub unknown: Vec<serde_json::Value>,
    pub phases: Phases,
    t0: Instant,
    deadline: Instant,
    exit: Option<Exit>,
}

/// Everything that has to exist before clone.
pub struct Prepared {
    plan: ChildPlan,
    stderr_file: Option<OwnedFd>,
    sync_w: OwnedFd,
    status_r: OwnedFd,
    report_r: OwnedFd,
    child_ends: Vec<OwnedFd>,
}

/// Builds the child plan (every string and fd) before clone.
fn prepare(
    spec: &SandboxSpec,
    workload: &Path,
    rootfs_dir: Option<&Path>,
    peer: Option<&Exec>,
) -> Result<Prepared, LaunchError> {
    let (sync_r, sync_w) = pipe_high().map_err(LaunchError::Os)?;
    let (status_r, status_w) = pipe_high().map_err(LaunchError::Os)?;
    let (report_r, report_w) = pipe_high().map_err(LaunchError::Os)?;
    // A peer launcher creates the namespaces and rootfs itself: our child
    // only joins the cgroup and execs it.
    let ns = if peer.is_some() {
        Namespaces::default()
    } else {
        spec.namespaces
    };
    let minimal = match spec.rootfs {
        _ if peer.is_some() => None,
        Rootfs::Host => None,
        Rootfs::Minimal => {
            let root = rootfs_dir.ok_or_else(|| {
                LaunchError::Spec("minimal rootfs without a staging directory".into())
            })?;
            let p = |rel: &str| cstr(root.join(rel).as_os_str().as_encoded_bytes(), "rootfs path");
            Some(MinimalPlan {
                root: cstr(root.as_os_str().as_encoded_bytes(), "rootfs path")?,
                proc_dir: p("proc")?,
                tmp_dir: p("tmp")?,
                bin_in_root: p("isobench-workload")?,
                host_bin: cstr(workload.as_os_str().as_encoded_bytes(), "workload path")?,
                tmpfs_opts: cstr("size=16m,mode=755", "tmpfs options")?,
                init: match &spec.init {
                    Some(i) => Some((
                        cstr(i.path.as_os_str().as_encoded_bytes(), "init path")?,
                        p(INIT_IN_ROOTFS.trim_start_matches('/'))?,
                    )),
                    None => None,
                },
            })
        }
    };
    // Overlays cover the sandbox's own /proc: inside the minimal root (before
    // pivot_root) or the host root's /proc in its own mount namespace.
    let proc_dir = match (&minimal, rootfs_dir) {
        (Some(_), Some(root)) => root.join("proc"),
        _ => PathBuf::from("/proc"),
    };
    let proc_overlays = match peer {
        Some(_) => Vec::new(),
        None => spec
            .proc_overlays
            .iter()
            .map(|o| {
                Ok((
                    cstr(o.source.as_os_str().as_encoded_bytes(), "overlay source")?,
                    cstr(
                        proc_dir.join(&o.name).as_os_str().as_encoded_bytes(),
                        "overlay target",
                    )?,
                ))
            })
            .collect::<Result<Vec<_>, LaunchError>>()?,
    };
    let (exec_path, argv) = match peer {
        Some(p) => (
            cstr(p.program.as_os_str().as_encoded_bytes(), "launcher path")?,
            p.argv
                .iter()
                .map(|a| cstr(a, "launcher argument"))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None if spec.init.is_some() => {
            // The shim is PID 1 and starts the workload.
            let (init, wl) = match (&minimal, &spec.init) {
                (Some(_), _) => (INIT_IN_ROOTFS.to_string(), "/isobench-workload".to_string()),
                (None, Some(i)) => (
                    i.path.to_string_lossy().into_owned(),
                    workload.to_string_lossy().into_owned(),
                ),
                (None, None) => unreachable!("guarded by spec.init.is_some()"),
            };
            let argv = spec
                .command_line(&wl, &init)
                .iter()
                .map(|a| cstr(a, "init argument"))
                .collect::<Result<Vec<_>, _>>()?;
            (cstr(&init, "init path")?, argv)
        }
        None => {
            let path = if minimal.is_some() {
                cstr("/isobench-workload", "path")?
            } else {
                cstr(workload.as_os_str().as_encoded_bytes(), "workload path")?
            };
            let mut argv = vec![cstr("isobench-workload", "argv")?];
            for a in &spec.args {
                argv.push(cstr(a, "workload argument")?);
            }
            (path, argv)
        }
    };
    let envp = vec![
        cstr(format!("ISOBENCH_REPORT_FD={REPORT_FD}"), "env")?,
        cstr(
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "env",
        )?,
    ];
    let mut argv_ptrs: Vec<*const c_char> = argv.iter().map(|c| c.as_ptr()).collect();
    argv_ptrs.push(std::ptr::null());
    let mut envp_ptrs: Vec<*const c_char> = envp.iter().map(|c| c.as_ptr()).collect();
    envp_ptrs.push(std::ptr::null());
    let hostname = match &spec.hostname {
        Some(h) if peer.is_none() => Some(cstr(h, "hostname")?),
        _ => None,
    };
    // A peer's stderr goes to an anonymous file we can quote in errors.
    let stderr_file = match peer {
        Some(_) => {
            // SAFETY: memfd_create with a static name; the fd is owned below.
            let fd =
                unsafe { libc::memfd_create(c"isobench-peer-stderr".as_ptr(), libc::MFD_CLOEXEC) };
            if fd < 0 {
                return Err(LaunchError::Os(std::io::Error::last_os_error()));
            }
            // Move it above the fds the child dup2s onto (1, 2, REPORT_FD).
            // SAFETY: fcntl/close on the fd we just created.
            let hi = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
            unsafe { libc::close(fd) };
            if hi < 0 {
                return Err(LaunchError::Os(std::io::Error::last_os_error()));
            }
            // SAFETY: fresh fd we own.
            Some(unsafe { OwnedFd::from_raw_fd(hi) })
        }
        None => None,
    };
    let plan = ChildPlan {
        stderr_fd: stderr_file.as_ref().map_or(-1, |f| f.as_raw_fd()),
        exec_path,
        argv,
        envp,
        argv_ptrs,
        envp_ptrs,
        hostname,
        become_root: ns.user,
        unshare_cgroup: ns.cgroup,
        make_private: ns.mnt,
        fresh_proc: ns.mnt && ns.pid,
        minimal,
        proc_overlays,
        sync_r: sync_r.as_raw_fd(),
        sync_w: sync_w.as_raw_fd(),
        status_r: status_r.as_raw_fd(),
        status_w: status_w.as_raw_fd(),
        report_r: report_r.as_raw_fd(),
        report_w: report_w.as_raw_fd(),
    };
    Ok(Prepared {
        plan,
        stderr_file,
        sync_w,
        status_r,
        report_r,
        child_ends: vec![sync_r, status_w, report_w],
    })
}

/// ppoll(2) on fds for readability, up to `timeout`. Returns the revents.
fn poll_for(fds: &[RawFd], timeout: Duration) -> Vec<bool> {
    let mut p: Vec<libc::pollfd> = fds
        .iter()
        .map(|fd| libc::pollfd {
            fd: *fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
    };
    // SAFETY: ppoll on a valid array of pollfd with a valid timeout.
    let n = unsafe {
        libc::ppoll(
            p.as_mut_ptr(),
            p.len() as libc::nfds_t,
            &ts,
            std::ptr::null(),
        )
    };
    if n <= 0 {
        return vec![false; fds.len()];
    }
    p.iter().map(|x| x.revents != 0).collect()
}

/// poll(2) on fds for readability, up to `until`. Returns the revents.
fn poll_until(fds: &[RawFd], until: Instant) -> Vec<bool> {
    // Wake at least every 50 ms so a stop request is noticed promptly.
    let left = until.saturating_duration_since(Instant::now());
    poll_for(fds, left.min(Duration::from_millis(50)))
}

/// Launches a workload into a fresh sandbox cgroup `n` of `set`.
/// Returns once the workload has been exec'd.
pub fn launch(
    spec: &SandboxSpec,
    set: &CgroupSet,
    n: u32,
    workload: &Path,
    rootfs_dir: Option<&Path>,
) -> Result<Running, LaunchError> {
    launch_with(spec, set, n, workload, rootfs_dir, None, CgroupMode::Create)
}

/// Launches either the workload itself (native) or a peer launcher command
/// (`peer`) that starts the workload. With `CgroupMode::Create` the process
/// is placed, before it execs, into a fresh cgroup carrying `spec.limits`.
pub fn launch_with(
    spec: &SandboxSpec,
    set: &CgroupSet,
    n: u32,
    workload: &Path,
    rootfs_dir: Option<&Path>,
    peer: Option<&Exec>,
    cgroup: CgroupMode,
) -> Result<Running, LaunchError> {
    spec.validate().map_err(LaunchError::Spec)?;
    let t0 = Instant::now();
    let deadline = t0 + spec.deadline;
    let cg = match cgroup {
        CgroupMode::Create => {
            let mut only = spec.limits.controllers();
            only.extend(spec.accounting.iter().copied());
            let cg = set
                .create_for(n, Some(&only))
                .map_err(LaunchError::Cgroup)?;
            cg.apply(&spec.limits).map_err(LaunchError::Cgroup)?;
            Some(cg)
        }
        CgroupMode::None => None,
    };
    let t_cg = Instant::now();

    let prep = prepare(spec, workload, rootfs_dir, peer)?;
    let cgfd = match &cg {
        Some(cg) => cg.v2_dir_fd().map_err(LaunchError::Cgroup)?,
        None => None,
    };
    let ns_flags = if peer.is_some() {
        0
    } else {
        // The child unshares the cgroup namespace after placement.
        spec.namespaces.clone_flags() & !(libc::CLONE_NEWCGROUP as u64)
    };
    let mut pidfd: RawFd = -1;
    let mut args = CloneArgs {
        flags: ns_flags | CLONE_PIDFD,
        pidfd: &mut pidfd as *mut RawFd as u64,
        exit_signal: libc::SIGCHLD as u64,
        ..Default::default()
    };
    if let Some(fd) = &cgfd {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd.as_raw_fd() as u64;
    }
    // SAFETY: clone3 without CLONE_VM behaves like fork: the child gets a
    // copy of this thread's state and runs `run_child`, which only makes
    // async-signal-safe calls on the prepared plan and never returns.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if ret == 0 {
        // SAFETY: we are the child, right after clone3.
        unsafe { child::run_child(&prep.plan) }
    }
    if ret < 0 {
        let e = std::io::Error::last_os_error();
        return Err(LaunchError::Clone(e, spec.namespaces.to_string()));
    }
    let pid = ret as i32;
    let t_cloned = Instant::now();
    drop(cgfd);
    let Prepared {
        sync_w,
        status_r,
        report_r,
        child_ends,
        stderr_file,
        ..
    } = prep;
    drop(child_ends);
    // SAFETY: the kernel returned a fresh pidfd for the child.
    let pidfd = unsafe { OwnedFd::from_raw_fd(pidfd) };

    let view = cg.as_ref().map(|c| c.view()).unwrap_or_default();
    let mut running = Running {
        pid,
        pidfd,
        view,
        cgroup: cg,
        cleanup: None,
        stderr_file,
        report: LineReader::new(report_r),
        events: Vec::new(),
        unknown: Vec::new(),
        phases: Phases::default(),
        t0,
        deadline,
        exit: None,
    };
    running.phases.cgroup = t_cg - t0;
    running.phases.clone = t_cloned - t_cg;

    // Parent's part: id maps, v1 membership, then release the child.
    let place = || -> Result<(), LaunchError> {
        if spec.namespaces.user && peer.is_none() {
            std::fs::write(format!("/proc/{pid}/uid_map"), id_map_text(&spec.uid_map))
                .map_err(|e| LaunchError::Setup(format!("writing uid_map: {e}")))?;
            std::fs::write(format!("/proc/{pid}/gid_map"), id_map_text(&spec.gid_map))
                .map_err(|e| LaunchError::Setup(format!("writing gid_map: {e}")))?;
        }
        if let Some(cg) = running.cgroup.as_ref() {
            for f in cg.v1_procs_files() {
                std::fs::write(&f, pid.to_string())
                    .map_err(|e| LaunchError::Setup(format!("{}: {e}", f.display())))?;
            }
        }
        Ok(())
    };
    place()?;
    // SAFETY: write one byte to our end of the sync pipe.
    let w = unsafe { libc::write(sync_w.as_raw_fd(), b"G".as_ptr().cast(), 1) };
    if w != 1 {
        return Err(LaunchError::Setup(
            "the child died before it was released".into(),
        ));
    }
    drop(sync_w);
    let t_released = Instant::now();
    running.phases.place = t_released - t_cloned;

    // Status pipe: 'S' after setup, EOF at exec, 'E'+stage+errno on failure.
    let mut got_s = false;
    let mut t_setup = t_released;
    loop {
        if let Some(sig) = crate::interrupt::requested() {
            return Err(LaunchError::Interrupted(sig));
        }
        if !poll_until(&[status_r.as_raw_fd()], deadline)[0] {
            if Instant::now() < deadline {
                continue;
            }
            return Err(LaunchError::Timeout(
                "the sandbox did not exec its workload before the deadline".into(),
            ));
        }
        let mut buf = [0u8; 6];
        // SAFETY: read into a local buffer.
        let n = unsafe { libc::read(status_r.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(LaunchError::Os(std::io::Error::last_os_error()));
        }
        if n == 0 {
            if !got_s {
                return Err(LaunchError::Setup(
                    "the child exited during setup without a report".into(),
                ));
            }
            break;
        }
        let n = n as usize;
        if buf[0] == b'E' {
            let mut rest = buf[1..n].to_vec();
            while rest.len() < 5 {
                let mut more = [0u8; 5];
                // SAFETY: read into a local buffer.
                let m = unsafe {
                    libc::read(
                        status_r.as_raw_fd(),
                        more.as_mut_ptr().cast(),
                        5 - rest.len(),
                    )
                };
                if m <= 0 {
                    break;
                }
                rest.extend_from_slice(&more[..m as usize]);
            }
            rest.resize(5, 0);
            let errno = i32::from_le_bytes([rest[1], rest[2], rest[3], rest[4]]);
            return Err(LaunchError::Child {
                stage: Stage::from_u8(rest[0]),
                errno: std::io::Error::from_raw_os_error(errno),
            });
        }
        if buf[0] == b'S' && !got_s {
            got_s = true;
            t_setup = Instant::now();
            if n > 1 {
                // EOF cannot be in the same read; continue to wait for it.
            }
        }
    }
    let t_exec = Instant::now();
    running.phases.setup = t_setup - t_released;
    running.phases.exec = t_exec - t_setup;
    Ok(running)
}

impl Running {
    /// The first event `pick` accepts, e.g. `r.first(Event::as_spin)`.
    pub fn first<T: Clone>(&self, pick: impl Fn(&super::Event) -> Option<&T>) -> Option<T> {
        self.events.iter().find_map(pick).cloned()
    }

    /// The last event `pick` accepts (the final progress report).
    pub fn last<T: Clone>(&self, pick: impl Fn(&super::Event) -> Option<&T>) -> Option<T> {
        self.events.iter().rev().find_map(pick).cloned()
    }

    /// Waits for the workload's `ready` event (or its exit, or the deadline).
    /// A peer launcher's stderr is quoted when it fails.
    pub fn wait_ready(&mut self) -> Result<(), LaunchError> {
        match self.wait_ready_inner() {
            Err(LaunchError::Setup(m)) if !self.peer_stderr().is_empty() => Err(
                LaunchError::Setup(format!("{m}; the launcher said: {}", self.peer_stderr())),
            ),
            r => r,
        }
    }

    fn wait_ready_inner(&mut self) -> Result<(), LaunchError> {
        if self.wait_event(self.deadline, |e| *e == super::Event::Ready)? {
            return Ok(());
        }
        if self.exit.is_some() || self.report.fd.is_none() {
            return Err(LaunchError::Setup(format!(
                "the workload ended before it was ready ({})",
                self.exit
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "report pipe closed".into())
            )));
        }
        Err(LaunchError::Timeout(
            "no ready event before the deadline".into(),
        ))
    }

    /// Reads reports until an event `want` accepts has come (true), or the
    /// workload ended, its report stream closed or `until` passed (false).
    pub fn wait_event(
        &mut self,
        until: Instant,
        want: impl Fn(&super::Event) -> bool,
    ) -> Result<bool, LaunchError> {
        // Events already looked at are not looked at again (a hog reports
        // hundreds of progress lines).
        let mut from = 0;
        loop {
            if self.events[from..].iter().any(&want) {
                return Ok(true);
            }
            from = self.events.len();
            if self.exit.is_some() {
                // What it wrote before dying may still be in the pipe.
                self.drain();
                return Ok(self.events[from..].iter().any(&want));
            }
            if self.report.fd.is_none() || Instant::now() >= until {
                return Ok(false);
            }
            if let Some(sig) = crate::interrupt::requested() {
                return Err(LaunchError::Interrupted(sig));
            }
            self.pump(until)?;
        }
    }

    /// Waits up to `timeout` for the workload's leader to exit, without
    /// reaping it (`wait_exit` and `teardown` still do); true once it exited.
    pub fn exited_within(&self, timeout: Duration) -> bool {
        self.exit.is_some() || poll_for(&[self.pidfd.as_raw_fd()], timeout)[0]
    }

    /// Reads reports and checks for exit once, waiting up to `until`.
    fn pump(&mut self, until: Instant) -> Result<(), LaunchError> {
        let mut fds = vec![self.pidfd.as_raw_fd()];
        if let Some(r) = self.report.raw_fd() {
            fds.push(r);
        }
        let ready = poll_until(&fds, until);
        if ready.len() > 1 && ready[1] {
            self.read_reports();
        }
        if ready[0] {
            self.reap()?;
        }
        Ok(())
    }

    /// Non-blocking waitpid; records the exit.
    fn reap(&mut self) -> Result<Option<Exit>, LaunchError> {
        if self.exit.is_some() {
            return Ok(self.exit);
        }
        let mut status = 0;
        // SAFETY: waitpid on our own child.
        let r = unsafe { libc::waitpid(self.pid, &mut status, libc::WNOHANG) };
        if r == self.pid {
            let e = if libc::WIFSIGNALED(status) {
                Exit::Signaled(libc::WTERMSIG(status))
            } else {
                Exit::Code(libc::WEXITSTATUS(status))
            };
            self.exit = Some(e);
        } else if r < 0 {
            return Err(LaunchError::Os(std::io::Error::last_os_error()));
        }
        Ok(self.exit)
    }

    /// Waits until the workload exits or the deadline passes (then kills the
    /// whole sandbox and reports `TimedOut`). Reports are collected meanwhile.
    pub fn wait_exit(&mut self) -> Result<Exit, LaunchError> {
        loop {
            if let Some(e) = self.exit {
                self.drain();
                return Ok(e);
            }
            if Instant::now() >= self.deadline {
                self.kill()?;
                return Ok(Exit::TimedOut);
            }
            if let Some(sig) = crate::interrupt::requested() {
                self.kill()?;
                return Err(LaunchError::Interrupted(sig));
            }
            self.pump(self.deadline)?;
        }
    }

    /// Reads what the workload wrote before dying, without blocking on
    /// descendants that may still hold the pipe.
    fn drain(&mut self) {
        while let Some(fd) = self.report.raw_fd() {
            if !poll_for(&[fd], Duration::ZERO)[0] {
                break;
            }
            self.read_reports();
        }
    }

    /// Reads the reports waiting in the pipe once; the first `ready` is
    /// timed as the launch's `ready` phase.
    fn read_reports(&mut self) {
        for v in self.report.read_once() {
            match super::Event::from_value(&v) {
                Some(e) => {
                    if self.phases.ready.is_none() && e == super::Event::Ready {
                        self.phases.ready = Some(Instant::now() - self.t0);
                    }
                    self.events.push(e);
                }
                None => self.unknown.push(v),
            }
        }
    }

    /// Time since launch (the parent's monotonic clock).
    pub fn elapsed(&self) -> Duration {
        self.t0.elapsed()
    }

    /// Kills every process of the sandbox (the cgroup stays for reading).
    pub fn kill(&mut self) -> Result<(), LaunchError> {
        if !self.view.is_empty() {
            self.view.kill_all().map_err(LaunchError::Cgroup)?;
        } else if self.exit.is_none() {
            // No cgroup (bare): kill the process itself.
            // SAFETY: signalling our own child through its pidfd.
            unsafe {
                libc::syscall(
                    libc::SYS_pidfd_send_signal,
                    self.pidfd.as_raw_fd(),
                    libc::SIGKILL,
                    std::ptr::null::<libc::siginfo_t>(),
                    0,
                );
            }
        }
        // SAFETY: blocking waitpid on our own, now killed, child.
        if self.exit.is_none() {
            let mut status = 0;
            let r = unsafe { libc::waitpid(self.pid, &mut status, 0) };
            if r == self.pid {
                self.exit = Some(if libc::WIFSIGNALED(status) {
                    Exit::Signaled(libc::WTERMSIG(status))
                } else {
                    Exit::Code(libc::WEXITSTATUS(status))
                });
            }
        }
        Ok(())
    }

    /// Kills what is left, reaps, removes the cgroup; records the teardown.
    pub fn teardown(mut self) -> Result<Phases, LaunchError> {
        let t = Instant::now();
        self.kill()?;
        if let Some(c) = self.cleanup.take() {
            c().map_err(LaunchError::Setup)?;
        }
        if let Some(cg) = self.cgroup.take() {
            cg.destroy().map_err(LaunchError::Cgroup)?;
        }
        self.phases.teardown = Some(t.elapsed());
        Ok(self.phases)
    }

    /// The sandbox's cgroup (for counters); empty for the bare launcher.
    pub fn cgroup(&self) -> &CgroupView {
        &self.view
    }

    /// Path list of this sandbox's cgroups (for reports).
    pub fn cgroup_dirs(&self) -> Vec<PathBuf> {
        self.view.dirs()
    }

    /// The last lines a peer launcher wrote to stderr (empty for native).
    pub fn peer_stderr(&self) -> String {
        let Some(f) = &self.stderr_file else {
            return String::new();
        };
        let mut buf = vec![0u8; 65536];
        // SAFETY: pread into a local buffer from a memfd we own.
        let n = unsafe { libc::pread(f.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n <= 0 {
            return String::new();
        }
        let text = String::from_utf8_lossy(&buf[..n as usize]).into_owned();
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(3)..].join(" | ")
    }

    /// Points counters at a cgroup a peer runtime created.
    pub fn set_peer_cgroup(&mut self, view: CgroupView) {
        self.view = view;
    }

    /// Registers the peer's own teardown, run once at teardown or drop.
    pub fn set_cleanup(&mut self, c: Cleanup) {
        self.cleanup = Some(c);
    }
}

/// A peer runtime's teardown step.
pub type Cleanup = Box<dyn FnOnce() -> Result<(), String> + Send>;

impl Drop for Running {
    fn drop(&mut self) {
        // Kill and reap on every path (error, panic); the cgroup guard then
        // removes the cgroup.
        let _ = self.kill();
        if let Some(c) = self.cleanup.take() {
            let _ = c();
        }
    }
}
