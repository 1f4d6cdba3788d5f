//! Thin FFI layer over the few libc functions the workloads need.
//!
//! Declared by hand (`extern "C"`) so the crate has no dependencies. Types
//! follow the Linux glibc/musl ABI: `time_t`/`long` are `c_long`, `pid_t` is
//! `i32`, `uid_t`/`gid_t` are `u32`. The mmap flag values are the generic
//! Linux ones (x86, arm, aarch64, riscv, s390x, powerpc).
//!
//! Every `unsafe` block is confined to this file and commented.

use std::ffi::{c_char, c_int, c_long, c_ulong, c_void};
use std::io;

pub const CLOCK_MONOTONIC: c_int = 1;
pub const CLOCK_PROCESS_CPUTIME_ID: c_int = 2;
pub const CLOCK_THREAD_CPUTIME_ID: c_int = 3;
pub const SIGKILL: c_int = 9;
pub const SIGCONT: c_int = 18;

const TIMER_ABSTIME: c_int = 1;
const F_GETFD: c_int = 1;
const EINTR: i32 = 4;
const EINVAL: i32 = 22;
const PROT_READ: c_int = 1;
const PROT_WRITE: c_int = 2;
const MAP_PRIVATE: c_int = 0x02;
const MAP_ANONYMOUS: c_int = 0x20;

#[repr(C)]
struct Timespec {
    tv_sec: c_long,
    tv_nsec: c_long,
}

extern "C" {
    fn clock_gettime(clock: c_int, ts: *mut Timespec) -> c_int;
    fn clock_nanosleep(
        clock: c_int,
        flags: c_int,
        req: *const Timespec,
        rem: *mut Timespec,
    ) -> c_int;
    fn sched_getaffinity(pid: i32, size: usize, mask: *mut c_void) -> c_int;
    fn sched_getcpu() -> c_int;
    fn fork() -> i32;
    fn _exit(code: c_int) -> !;
    fn pause() -> c_int;
    fn waitpid(pid: i32, status: *mut c_int, options: c_int) -> i32;
    fn kill(pid: i32, sig: c_int) -> c_int;
    fn getpid() -> i32;
    fn getppid() -> i32;
    fn getuid() -> u32;
    fn geteuid() -> u32;
    fn getgid() -> u32;
    fn write(fd: c_int, buf: *const c_void, count: usize) -> isize;
    fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
    fn mmap(
        addr: *mut c_void,
        len: usize,
        prot: c_int,
        flags: c_int,
        fd: c_int,
        off: c_long,
    ) -> *mut c_void;
    fn munmap(addr: *mut c_void, len: usize) -> c_int;
    #[cfg(test)]
    fn pipe(fds: *mut c_int) -> c_int;
}

/// Current value of `clock` in nanoseconds (0 if the clock cannot be read).
///
/// Signed: in a time namespace CLOCK_MONOTONIC may carry an offset; only
/// differences of values of the same clock are meaningful.
#[allow(clippy::useless_conversion)] // c_long is i32 on 32-bit targets
pub fn clock_ns(clock: c_int) -> i64 {
    let mut ts = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime only writes it.
    let rc = unsafe { clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return 0;
    }
    i64::from(ts.tv_sec)
        .saturating_mul(1_000_000_000)
        .saturating_add(i64::from(ts.tv_nsec))
}

/// CLOCK_MONOTONIC in nanoseconds.
pub fn mono_ns() -> i64 {
    clock_ns(CLOCK_MONOTONIC)
}

/// CPU time consumed by the calling thread, in nanoseconds.
pub fn thread_cpu_ns() -> i64 {
    clock_ns(CLOCK_THREAD_CPUTIME_ID)
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
    let ts = Timespec {
        tv_sec: deadline_ns.div_euclid(1_000_000_000) as c_long,
        tv_nsec: deadline_ns.rem_euclid(1_000_000_000) as c_long,
    };
    loop {
        // SAFETY: `ts` is a valid timespec; `rem` may be null with TIMER_ABSTIME.
        let rc =
            unsafe { clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, std::ptr::null_mut()) };
        if rc != EINTR {
            return;
        }
    }
}

/// CPUs the calling thread may run on (sched_getaffinity(0)), sorted.
pub fn affinity() -> Option<Vec<u32>> {
    let mut words = 16usize; // 1024 CPUs, grown on EINVAL.
    loop {
        let mut mask = vec![0u64; words];
        // SAFETY: `mask` is writable memory of exactly `words * 8` bytes.
        let rc = unsafe { sched_getaffinity(0, words * 8, mask.as_mut_ptr().cast()) };
        if rc == 0 {
            return Some(bits_to_list(&mask));
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(EINVAL) && words < (1 << 14) {
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
    let cpu = unsafe { sched_getcpu() };
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
    let pid = unsafe { fork() };
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
    unsafe { _exit(code) }
}

/// Block forever (until a signal kills the process).
pub fn pause_forever() -> ! {
    loop {
        // SAFETY: pause has no preconditions; it is async-signal-safe.
        unsafe { pause() };
    }
}

pub enum ChildStatus {
    Exited(i32),
    Signaled(i32),
}

/// waitpid(pid, 0), retrying on EINTR.
pub fn wait_pid(pid: i32) -> io::Result<ChildStatus> {
    let mut status: c_int = 0;
    loop {
        // SAFETY: `status` is a valid, writable int.
        let rc = unsafe { waitpid(pid, &mut status, 0) };
        if rc == pid {
            break;
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(EINTR) {
            return Err(err);
        }
    }
    if status & 0x7f == 0 {
        Ok(ChildStatus::Exited((status >> 8) & 0xff))
    } else {
        Ok(ChildStatus::Signaled(status & 0x7f))
    }
}

/// kill(2); errors are ignored (the target may already be gone).
pub fn kill_pid(pid: i32, sig: c_int) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { kill(pid, sig) };
}

/// kill(2), reporting failure (the `escape` probe wants the errno).
pub fn send_signal(pid: i32, sig: c_int) -> io::Result<()> {
    // SAFETY: kill has no memory-safety preconditions.
    if unsafe { kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
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
            pid: getpid(),
            ppid: getppid(),
            uid: getuid(),
            euid: geteuid(),
            gid: getgid(),
        }
    }
}

/// Write all of `buf` to `fd` (one write(2) unless the kernel takes less).
pub fn write_all(fd: i32, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
        let n = unsafe { write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.raw_os_error() == Some(EINTR) {
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
    unsafe { fcntl(fd, F_GETFD) != -1 }
}

/// A private anonymous mapping whose pages have all been written (resident).
pub struct Mapping {
    ptr: *mut u8,
    len: usize,
}

impl Mapping {
    /// mmap `len` bytes (len > 0) and write a non-zero byte to every 4 KiB.
    pub fn anon_touched(len: usize) -> io::Result<Mapping> {
        if len == 0 {
            return Err(io::ErrorKind::InvalidInput.into());
        }
        // SAFETY: a fresh anonymous mapping; no existing memory is affected.
        let p = unsafe {
            mmap(
                std::ptr::null_mut(),
                len,
                PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p as isize == -1 {
            return Err(io::Error::last_os_error());
        }
        let m = Mapping { ptr: p.cast(), len };
        let mut off = 0;
        while off < len {
            // SAFETY: off < len, inside the mapping we own; volatile so the
            // store (and the page fault that makes the page resident) stays.
            unsafe { m.ptr.add(off).write_volatile(1) };
            off += 4096;
        }
        // SAFETY: len - 1 < len, inside the mapping (covers a partial last page).
        unsafe { m.ptr.add(len - 1).write_volatile(1) };
        Ok(m)
    }

    pub fn len(&self) -> usize {
        self.len
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: ptr/len describe a mapping created by us and not yet unmapped.
        unsafe { munmap(self.ptr.cast(), self.len) };
    }
}

/// pipe(2), test helper: (read end, write end).
#[cfg(test)]
pub fn make_pipe() -> io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0 as c_int; 2];
    // SAFETY: `fds` is a writable array of two ints, as pipe(2) requires.
    if unsafe { pipe(fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both fds were just returned by pipe(2) and are owned by nobody else.
    Ok(unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    })
}

// --- Privileged operations tried by the `escape` probe ---------------------

extern "C" {
    fn mount(
        source: *const c_char,
        target: *const c_char,
        fstype: *const c_char,
        flags: c_ulong,
        data: *const c_void,
    ) -> c_int;
    fn umount2(target: *const c_char, flags: c_int) -> c_int;
    fn ptrace(request: c_int, ...) -> c_long;
    fn syscall(number: c_long, ...) -> c_long;
}

pub const MS_RDONLY: c_ulong = 1;
pub const MS_NOSUID: c_ulong = 2;
pub const MS_NODEV: c_ulong = 4;
pub const MS_NOEXEC: c_ulong = 8;
pub const MS_REMOUNT: c_ulong = 32;
pub const MS_NOSYMFOLLOW: c_ulong = 256;
pub const MS_BIND: c_ulong = 4096;
const MNT_DETACH: c_int = 2;
const PTRACE_DETACH: c_int = 17;
const PTRACE_SEIZE: c_int = 0x4206;
const PTRACE_INTERRUPT: c_int = 0x4207;
const WALL: c_int = 0x4000_0000;

/// init_module / finit_module syscall numbers (no libc wrapper exists).
#[cfg(target_arch = "x86_64")]
const MODULE_SYSCALLS: Option<(c_long, c_long)> = Some((175, 313));
#[cfg(any(
    target_arch = "aarch64",
    target_arch = "riscv64",
    target_arch = "loongarch64"
))]
const MODULE_SYSCALLS: Option<(c_long, c_long)> = Some((105, 273));
#[cfg(target_arch = "x86")]
const MODULE_SYSCALLS: Option<(c_long, c_long)> = Some((128, 350));
#[cfg(target_arch = "arm")]
const MODULE_SYSCALLS: Option<(c_long, c_long)> = Some((128, 379));
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64",
    target_arch = "loongarch64",
    target_arch = "x86",
    target_arch = "arm"
)))]
const MODULE_SYSCALLS: Option<(c_long, c_long)> = None;

fn cstring(s: &str) -> io::Result<std::ffi::CString> {
    std::ffi::CString::new(s).map_err(|_| io::ErrorKind::InvalidInput.into())
}

fn check(rc: c_long) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// mount(2) of a filesystem `fstype` (source = fstype) on `target`.
pub fn mount_fs(fstype: &str, target: &str, flags: c_ulong, data: &str) -> io::Result<()> {
    let (fs, t, d) = (cstring(fstype)?, cstring(target)?, cstring(data)?);
    // SAFETY: all pointers are NUL-terminated strings that outlive the call.
    let rc = unsafe {
        mount(
            fs.as_ptr(),
            t.as_ptr(),
            fs.as_ptr(),
            flags,
            d.as_ptr().cast(),
        )
    };
    check(rc.into())
}

/// mount(2) with only flags (remounts): no source, type or data.
pub fn mount_flags(target: &str, flags: c_ulong) -> io::Result<()> {
    let t = cstring(target)?;
    let null = std::ptr::null();
    // SAFETY: `t` is NUL-terminated; null source/type/data are allowed for
    // MS_REMOUNT | MS_BIND.
    let rc = unsafe { mount(null, t.as_ptr(), null, flags, null.cast()) };
    check(rc.into())
}

/// umount2(target, MNT_DETACH).
pub fn umount_detach(target: &str) -> io::Result<()> {
    let t = cstring(target)?;
    // SAFETY: `t` is a NUL-terminated string.
    check(unsafe { umount2(t.as_ptr(), MNT_DETACH) }.into())
}

/// PTRACE_SEIZE `pid` (does not stop it); on success stop it with
/// PTRACE_INTERRUPT, wait for that stop and detach, so the tracee runs on
/// as before.
pub fn ptrace_seize_and_release(pid: i32) -> io::Result<()> {
    let null = std::ptr::null_mut::<c_void>();
    // SAFETY: PTRACE_SEIZE takes (pid, addr=0, data=options) and touches no
    // memory of ours.
    check(unsafe { ptrace(PTRACE_SEIZE, pid, null, null) })?;
    // SAFETY: as above; the tracee is ours now.
    if unsafe { ptrace(PTRACE_INTERRUPT, pid, null, null) } == 0 {
        let mut status: c_int = 0;
        loop {
            // SAFETY: `status` is a valid, writable int.
            let rc = unsafe { waitpid(pid, &mut status, WALL) };
            if rc == pid || io::Error::last_os_error().raw_os_error() != Some(EINTR) {
                break;
            }
        }
    }
    // SAFETY: PTRACE_DETACH with signal 0 resumes the tracee unchanged.
    unsafe { ptrace(PTRACE_DETACH, pid, null, null) };
    Ok(())
}

/// init_module(empty image, 0, "") and finit_module(fd, "", 0): None when
/// the syscall numbers of this architecture are unknown here.
pub fn init_module_empty() -> Option<io::Result<()>> {
    let (nr, _) = MODULE_SYSCALLS?;
    let empty: [u8; 1] = [0];
    // SAFETY: a valid 1-byte buffer with length 0 and an empty parameter
    // string; the kernel copies at most `len` (0) bytes.
    let rc = unsafe { syscall(nr, empty.as_ptr(), 0usize, c"".as_ptr()) };
    Some(check(rc))
}

/// finit_module(fd, "", 0).
pub fn finit_module(fd: c_int) -> Option<io::Result<()>> {
    let (_, nr) = MODULE_SYSCALLS?;
    // SAFETY: an integer fd, an empty NUL-terminated string and flags 0.
    let rc = unsafe { syscall(nr, fd, c"".as_ptr(), 0 as c_int) };
    Some(check(rc))
}
