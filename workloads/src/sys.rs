//! Thin safe wrappers over the few libc calls the workloads need; the
//! declarations and constants are the `libc` crate's. Every `unsafe` block
//! is confined to this file and commented.

use std::ffi::{c_int, c_ulong, CString};
use std::io;

/// The errno of an OS error (0 for any other error).
pub fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// Ok for a non-negative return value, else the errno.
fn check(rc: impl Into<i64>) -> io::Result<()> {
    if rc.into() < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn timespec(sec: i64, nsec: i64) -> libc::timespec {
    // SAFETY: timespec is plain data (two integers and, on some targets,
    // padding); all zeroes is a valid value.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    ts.tv_sec = sec as libc::time_t;
    ts.tv_nsec = nsec as _;
    ts
}

/// Current value of `clock` in nanoseconds (0 if the clock cannot be read).
///
/// Signed: in a time namespace CLOCK_MONOTONIC may carry an offset; only
/// differences of values of the same clock are meaningful.
#[allow(clippy::useless_conversion)] // time_t and c_long are i32 on some targets
pub fn clock_ns(clock: libc::clockid_t) -> i64 {
    let mut ts = timespec(0, 0);
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime only writes it.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return 0;
    }
    i64::from(ts.tv_sec)
        .saturating_mul(1_000_000_000)
        .saturating_add(i64::from(ts.tv_nsec))
}

/// CLOCK_MONOTONIC in nanoseconds.
pub fn mono_ns() -> i64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// CPU time consumed by the calling thread, in nanoseconds.
pub fn thread_cpu_ns() -> i64 {
    clock_ns(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// Time the calling thread spent runnable but waiting for a CPU, in
/// nanoseconds (second field of /proc/thread-self/schedstat); `None` where
/// /proc or schedstats are missing. With its CPU time it tells a thread
/// that spun from one that slept, however busy the machine.
pub fn thread_wait_ns() -> Option<u64> {
    let t = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    t.split_whitespace().nth(1)?.parse().ok()
}

/// `later - earlier` clamped to zero, as u64.
pub fn since(earlier: i64, later: i64) -> u64 {
    later.saturating_sub(earlier).max(0) as u64
}

/// Sleep until CLOCK_MONOTONIC reaches `deadline_ns` (absolute), retrying on EINTR.
pub fn sleep_until_mono(deadline_ns: i64) {
    let ts = timespec(
        deadline_ns.div_euclid(1_000_000_000),
        deadline_ns.rem_euclid(1_000_000_000),
    );
    loop {
        // SAFETY: `ts` is a valid timespec; `rem` may be null with TIMER_ABSTIME.
        let rc = unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &ts,
                std::ptr::null_mut(),
            )
        };
        if rc != libc::EINTR {
            return;
        }
    }
}

/// CPUs the calling thread may run on (sched_getaffinity(0)), sorted.
pub fn affinity() -> Option<Vec<u32>> {
    let mut words = 16usize; // 1024 CPUs, grown on EINVAL.
    loop {
        let mut mask = vec![0u64; words];
        // SAFETY: `mask` is writable memory of exactly `words * 8` bytes, the
        // size passed; the kernel writes no more than that.
        let rc = unsafe { libc::sched_getaffinity(0, words * 8, mask.as_mut_ptr().cast()) };
        if rc == 0 {
            return Some(bits_to_list(&mask));
        }
        if errno(&io::Error::last_os_error()) == libc::EINVAL && words < (1 << 14) {
            words *= 2;
            continue;
        }
        return None;
    }
}

/// Indices of the set bits of a little-endian bitset.
pub fn bits_to_list(words: &[u64]) -> Vec<u32> {
    let mut out = Vec::new();
    for (i, &w) in words.iter().enumerate() {
        for b in 0..64 {
            if w >> b & 1 == 1 {
                out.push((i * 64 + b) as u32);
            }
        }
    }
    out
}

/// CPU the calling thread is running on right now.
pub fn current_cpu() -> Option<u32> {
    // SAFETY: sched_getcpu takes no arguments and has no preconditions.
    let cpu = unsafe { libc::sched_getcpu() };
    u32::try_from(cpu).ok()
}

pub enum Forked {
    Child,
    Parent(i32),
}

/// fork(2). If the caller is multi-threaded, the child should stick to
/// simple work (glibc keeps malloc usable after fork) and leave via `exit_now`.
pub fn fork_process() -> io::Result<Forked> {
    // SAFETY: fork has no memory-safety preconditions of its own; callers
    // keep the child's work simple and end it with `exit_now`.
    let pid = unsafe { libc::fork() };
    match pid {
        0 => Ok(Forked::Child),
        p if p > 0 => Ok(Forked::Parent(p)),
        _ => Err(io::Error::last_os_error()),
    }
}

/// `_exit(2)`: end the process now, without running atexit handlers or
/// unwinding (used in forked children).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(code) }
}

/// Block forever (until a signal kills the process).
pub fn pause_forever() -> ! {
    loop {
        // SAFETY: pause has no preconditions; it is async-signal-safe.
        unsafe { libc::pause() };
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildStatus {
    Exited(i32),
    Signaled(i32),
}

impl ChildStatus {
    /// Decodes a wait(2) status.
    pub fn from_wait(status: c_int) -> Self {
        if libc::WIFEXITED(status) {
            ChildStatus::Exited(libc::WEXITSTATUS(status))
        } else {
            ChildStatus::Signaled(libc::WTERMSIG(status))
        }
    }

    /// The shell's exit code for it: the code, or 128 + the signal.
    pub fn shell_code(self) -> i32 {
        match self {
            ChildStatus::Exited(c) => c,
            ChildStatus::Signaled(s) => 128 + s,
        }
    }
}

/// waitpid(pid, options), retrying on EINTR: the pid reaped and its raw status.
fn wait_raw(pid: i32, options: c_int) -> io::Result<(i32, c_int)> {
    let mut status: c_int = 0;
    loop {
        // SAFETY: `status` is a valid, writable int.
        let rc = unsafe { libc::waitpid(pid, &mut status, options) };
        if rc >= 0 {
            return Ok((rc, status));
        }
        let err = io::Error::last_os_error();
        if errno(&err) != libc::EINTR {
            return Err(err);
        }
    }
}

/// waitpid(pid, 0), retrying on EINTR.
pub fn wait_pid(pid: i32) -> io::Result<ChildStatus> {
    wait_raw(pid, 0).map(|(_, status)| ChildStatus::from_wait(status))
}

/// Reaps any child (our own or an adopted orphan) until `pid` ends.
pub fn reap_until(pid: i32) -> io::Result<ChildStatus> {
    loop {
        let (reaped, status) = wait_raw(-1, 0)?;
        if reaped == pid {
            return Ok(ChildStatus::from_wait(status));
        }
    }
}

/// prctl(PR_SET_CHILD_SUBREAPER, 1): orphans below us are reparented to us.
pub fn set_child_subreaper() -> io::Result<()> {
    // SAFETY: prctl with constant integer arguments touches no memory of ours.
    check(unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) })
}

/// kill(2); errors are ignored (the target may already be gone).
pub fn kill_pid(pid: i32, sig: c_int) {
    let _ = send_signal(pid, sig);
}

/// kill(2), reporting failure (the `escape` probe wants the errno).
pub fn send_signal(pid: i32, sig: c_int) -> io::Result<()> {
    // SAFETY: kill has no memory-safety preconditions.
    check(unsafe { libc::kill(pid, sig) })
}

pub struct Ids {
    pub pid: i32,
    pub ppid: i32,
    pub uid: u32,
    pub euid: u32,
    pub gid: u32,
}

pub fn ids() -> Ids {
    // SAFETY: these getters take no arguments and cannot fail.
    unsafe {
        Ids {
            pid: libc::getpid(),
            ppid: libc::getppid(),
            uid: libc::getuid(),
            euid: libc::geteuid(),
            gid: libc::getgid(),
        }
    }
}

/// Write all of `buf` to `fd` (one write(2) unless the kernel takes less).
pub fn write_all(fd: i32, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if errno(&err) == libc::EINTR {
                continue;
            }
            return Err(err);
        }
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

/// Whether `fd` is an open file descriptor.
pub fn fd_is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD takes no third argument and only inspects the fd table.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// A private anonymous mapping whose pages have all been written (resident).
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    /// mmap `len` bytes (len > 0) and write a non-zero byte to every 4 KiB.
    pub fn anon_touched(len: usize) -> io::Result<Mapping> {
        let m = Mapping::anon(len)?;
        m.touch(0, len);
        Ok(m)
    }

    /// mmap `len` bytes (len > 0) of anonymous memory, none of it touched:
    /// address space only, nothing resident or charged yet.
    pub fn anon(len: usize) -> io::Result<Mapping> {
        if len == 0 {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        // SAFETY: a fresh anonymous mapping; no existing memory is affected.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping { ptr: p.cast(), len })
    }

    /// Writes a non-zero byte to every 4 KiB of `[from, to)` (clamped to
    /// the mapping), making those pages resident.
    pub fn touch(&self, from: usize, to: usize) {
        let to = to.min(self.len);
        let mut off = from;
        while off < to {
            // SAFETY: off < to <= len, inside the mapping we own; volatile so
            // the store (and the page fault that makes the page resident) stays.
            unsafe { self.ptr.add(off).write_volatile(1) };
            off += 4096;
        }
        if to > from {
            // SAFETY: to - 1 < len, inside the mapping (a partial last page).
            unsafe { self.ptr.add(to - 1).write_volatile(1) };
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: ptr/len describe a mapping created by us and not yet unmapped.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// pipe(2): (read end, write end).
pub fn make_pipe() -> io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0 as c_int; 2];
    // SAFETY: `fds` is a writable array of two ints, as pipe(2) requires.
    check(unsafe { libc::pipe(fds.as_mut_ptr()) })?;
    // SAFETY: both fds were just returned by pipe(2) and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

// --- Privileged operations tried by the `escape` probe ---------------------

fn cstring(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::ErrorKind::InvalidInput.into())
}

/// mount(2) of a filesystem `fstype` (source = fstype) on `target`.
pub fn mount_fs(fstype: &str, target: &str, flags: c_ulong, data: &str) -> io::Result<()> {
    let (fs, t, d) = (cstring(fstype)?, cstring(target)?, cstring(data)?);
    // SAFETY: all pointers are NUL-terminated strings that outlive the call.
    check(unsafe {
        libc::mount(
            fs.as_ptr(),
            t.as_ptr(),
            fs.as_ptr(),
            flags,
            d.as_ptr().cast(),
        )
    })
}

/// mount(2) with only flags (remounts): no source, type or data.
pub fn mount_flags(target: &str, flags: c_ulong) -> io::Result<()> {
    let t = cstring(target)?;
    let null = std::ptr::null();
    // SAFETY: `t` is NUL-terminated; null source/type/data are allowed for
    // MS_REMOUNT | MS_BIND.
    check(unsafe { libc::mount(null, t.as_ptr(), null, flags, null.cast()) })
}

/// umount2(target, MNT_DETACH).
pub fn umount_detach(target: &str) -> io::Result<()> {
    let t = cstring(target)?;
    // SAFETY: `t` is a NUL-terminated string.
    check(unsafe { libc::umount2(t.as_ptr(), libc::MNT_DETACH) })
}

/// PTRACE_SEIZE `pid` (does not stop it); on success stop it with
/// PTRACE_INTERRUPT, wait for that stop and detach, so the tracee runs on
/// as before.
pub fn ptrace_seize_and_release(pid: i32) -> io::Result<()> {
    let null = std::ptr::null_mut::<std::ffi::c_void>();
    // SAFETY: PTRACE_SEIZE takes (pid, addr=0, data=options) and touches no
    // memory of ours.
    check(unsafe { libc::ptrace(libc::PTRACE_SEIZE, pid, null, null) })?;
    // SAFETY: as above; the tracee is ours now.
    if unsafe { libc::ptrace(libc::PTRACE_INTERRUPT, pid, null, null) } == 0 {
        let _ = wait_raw(pid, libc::__WALL);
    }
    // SAFETY: PTRACE_DETACH with signal 0 resumes the tracee unchanged.
    unsafe { libc::ptrace(libc::PTRACE_DETACH, pid, null, null) };
    Ok(())
}

/// init_module(empty image, 0, "") (no libc wrapper exists).
pub fn init_module_empty() -> io::Result<()> {
    let empty: [u8; 1] = [0];
    // SAFETY: a valid 1-byte buffer with length 0 and an empty parameter
    // string; the kernel copies at most `len` (0) bytes.
    check(unsafe { libc::syscall(libc::SYS_init_module, empty.as_ptr(), 0usize, c"".as_ptr()) })
}

/// finit_module(fd, "", 0).
pub fn finit_module(fd: c_int) -> io::Result<()> {
    // SAFETY: an integer fd, an empty NUL-terminated string and flags 0.
    check(unsafe { libc::syscall(libc::SYS_finit_module, fd, c"".as_ptr(), 0 as c_int) })
}
