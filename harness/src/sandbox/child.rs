//! The child side of the native launcher: runs between clone3 and execve in
//! a copy of a multi-threaded process, so it only makes async-signal-safe
//! calls (raw syscalls via libc) on data prepared before the clone. No
//! allocation, no locks, no panics.

use std::ffi::{c_char, CString};
use std::os::fd::RawFd;

/// The fd number on which the workload finds its report pipe.
pub const REPORT_FD: RawFd = 3;

/// Paths for the minimal rootfs, prepared as C strings before clone.
pub struct MinimalPlan {
    pub root: CString,
    pub proc_dir: CString,
    pub tmp_dir: CString,
    pub bin_in_root: CString,
    pub host_bin: CString,
    pub tmpfs_opts: CString,
    /// An init shim: (host binary, its path in the new root), bound
    /// read-only like the workload.
    pub init: Option<(CString, CString)>,
}

/// Everything the child needs, prepared before clone.
pub struct ChildPlan {
    pub exec_path: CString,
    pub argv: Vec<CString>,
    pub envp: Vec<CString>,
    pub argv_ptrs: Vec<*const c_char>,
    pub envp_ptrs: Vec<*const c_char>,
    pub hostname: Option<CString>,
    pub become_root: bool,
    /// Unshare the cgroup namespace once the parent has placed the child in
    /// its cgroups, so the namespace is rooted at the sandbox's own cgroup.
    pub unshare_cgroup: bool,
    pub make_private: bool,
    pub fresh_proc: bool,
    pub minimal: Option<MinimalPlan>,
    /// (source, target) bind mounts over /proc files, made right after the
    /// sandbox's /proc is mounted (targets inside the minimal root when it
    /// has one).
    pub proc_overlays: Vec<(CString, CString)>,
    pub sync_r: RawFd,
    pub sync_w: RawFd,
    pub status_r: RawFd,
    pub status_w: RawFd,
    pub report_r: RawFd,
    pub report_w: RawFd,
    /// When ≥ 0, becomes the child's stdout and stderr (peer launchers'
    /// messages).
    pub stderr_fd: RawFd,
}

/// The setup stages a child reports when one fails (with errno): the
/// enum, its wire codes and what each stage was doing, from one table.
macro_rules! stages {
    ($($stage:ident = $code:literal: $what:literal,)*) => {
        /// Stage codes reported when a setup step fails (with errno).
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[repr(u8)]
        pub enum Stage {
            $($stage = $code,)*
        }

        impl Stage {
            /// What the stage with wire code `v` was doing.
            pub fn from_u8(v: u8) -> &'static str {
                match v {
                    $($code => $what,)*
                    _ => "unknown stage",
                }
            }
        }
    };
}

stages! {
    Sync = 1: "waiting for the parent",
    Ids = 2: "switching to root in the user namespace",
    MountPrivate = 3: "making mounts private",
    Hostname = 4: "setting the hostname",
    Rootfs = 5: "building the minimal rootfs",
    PivotRoot = 6: "pivot_root",
    Proc = 7: "mounting /proc",
    NoNewPrivs = 8: "setting no_new_privs",
    ReportFd = 9: "passing the report fd",
    Exec = 10: "execve of the workload",
    CgroupNs = 11: "unsharing the cgroup namespace",
    Caps = 12: "dropping capabilities",
    ProcOverlay = 13: "bind-mounting a file over /proc",
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Reports a failed stage on the status pipe and exits. Never returns.
fn fail(plan: &ChildPlan, stage: Stage) -> ! {
    let e = errno().to_le_bytes();
    let msg = [b'E', stage as u8, e[0], e[1], e[2], e[3]];
    // SAFETY: write(2) and _exit(2) are async-signal-safe.
    unsafe {
        libc::write(plan.status_w, msg.as_ptr().cast(), msg.len());
        libc::_exit(127);
    }
}

/// Runs in the cloned child; never returns.
///
/// # Safety
/// Must be called only in the child right after clone3 returned 0, with a
/// plan whose pointers are valid (the child has a copy of the parent's
/// memory as it was at clone time).
pub unsafe fn run_child(plan: &ChildPlan) -> ! {
    // SAFETY (whole function): only raw syscalls on prepared, NUL-terminated
    // buffers; no allocation or locking.
    unsafe {
        libc::close(plan.sync_w);
        libc::close(plan.status_r);
        libc::close(plan.report_r);

        // Wait until the parent has written id maps and cgroup membership.
        let mut b = 0u8;
        if libc::read(plan.sync_r, (&mut b as *mut u8).cast(), 1) != 1 {
            fail(plan, Stage::Sync);
        }
        libc::close(plan.sync_r);

        // Only now is the child in every hierarchy's sandbox cgroup (v1
        // placement happens after clone), so only now may its cgroup
        // namespace be rooted there.
        if plan.unshare_cgroup && libc::unshare(libc::CLONE_NEWCGROUP) != 0 {
            fail(plan, Stage::CgroupNs);
        }

        if plan.become_root {
            libc::setgroups(0, std::ptr::null());
            if libc::setresgid(0, 0, 0) != 0 || libc::setresuid(0, 0, 0) != 0 {
                fail(plan, Stage::Ids);
            }
        }
        if plan.make_private
            && libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) != 0
        {
            fail(plan, Stage::MountPrivate);
        }
        if let Some(h) = &plan.hostname {
            if libc::sethostname(h.as_ptr(), h.as_bytes().len()) != 0 {
                fail(plan, Stage::Hostname);
            }
        }
        if let Some(m) = &plan.minimal {
            setup_minimal_root(plan, m);
        }
        if plan.fresh_proc
            && plan.minimal.is_none()
            && libc::mount(
                c"proc".as_ptr(),
                c"/proc".as_ptr(),
                c"proc".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                std::ptr::null(),
            ) != 0
        {
            fail(plan, Stage::Proc);
        }
        if plan.minimal.is_none() {
            bind_proc_overlays(plan);
        }
        if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            fail(plan, Stage::NoNewPrivs);
        }
        // Root of a user namespace holds every capability over what that
        // namespace owns (its mounts, hostname, cgroup namespace); the
        // workload needs none of them, so it keeps none.
        if plan.become_root && drop_capabilities() != 0 {
            fail(plan, Stage::Caps);
        }
        if plan.report_w == REPORT_FD {
            if libc::fcntl(REPORT_FD, libc::F_SETFD, 0) != 0 {
                fail(plan, Stage::ReportFd);
            }
        } else if libc::dup2(plan.report_w, REPORT_FD) != REPORT_FD {
            fail(plan, Stage::ReportFd);
        }
        if plan.stderr_fd >= 0
            && (libc::dup2(plan.stderr_fd, 1) != 1 || libc::dup2(plan.stderr_fd, 2) != 2)
        {
            fail(plan, Stage::ReportFd);
        }
        let s = b'S';
        libc::write(plan.status_w, (&s as *const u8).cast(), 1);
        libc::execve(
            plan.exec_path.as_ptr(),
            plan.argv_ptrs.as_ptr(),
            plan.envp_ptrs.as_ptr(),
        );
        fail(plan, Stage::Exec);
    }
}

/// Empties the bounding set (so execve cannot hand uid 0 its capabilities
/// back), the ambient set, then the effective, permitted and inheritable
/// sets. Returns 0, or -1 with errno set.
///
/// # Safety
/// Child-only, like [`run_child`].
unsafe fn drop_capabilities() -> libc::c_int {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
    // SAFETY: prctl and capset on this process, with local structs.
    unsafe {
        // PR_CAPBSET_READ fails (EINVAL) past the kernel's last capability.
        let mut cap: libc::c_ulong = 0;
        while libc::prctl(libc::PR_CAPBSET_READ, cap, 0, 0, 0) >= 0 {
            if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 {
                return -1;
            }
            cap += 1;
        }
        // Kernels before 4.3 have no ambient set (EINVAL): nothing to clear.
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
        let header = Header {
            version: LINUX_CAPABILITY_VERSION_3,
            pid: 0,
        };
        let none = || Data {
            effective: 0,
            permitted: 0,
            inheritable: 0,
        };
        let data = [none(), none()];
        libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) as libc::c_int
    }
}

/// Binds the host binary `host` read-only onto a new file `in_root`.
///
/// # Safety
/// Child-only, like [`run_child`].
unsafe fn bind_binary(plan: &ChildPlan, host: &CString, in_root: &CString) {
    // SAFETY: raw syscalls on prepared C strings.
    unsafe {
        let fd = libc::open(
            in_root.as_ptr(),
            libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
            0o755,
        );
        if fd < 0 {
            fail(plan, Stage::Rootfs);
        }
        libc::close(fd);
        if libc::mount(
            host.as_ptr(),
            in_root.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        ) != 0
        {
            fail(plan, Stage::Rootfs);
        }
        if libc::mount(
            std::ptr::null(),
            in_root.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV,
            std::ptr::null(),
        ) != 0
        {
            fail(plan, Stage::Rootfs);
        }
    }
}

/// tmpfs root + read-only bind of the workload + pivot_root.
///
/// # Safety
/// Child-only, like [`run_child`].
unsafe fn setup_minimal_root(plan: &ChildPlan, m: &MinimalPlan) {
    // SAFETY: raw syscalls on prepared C strings.
    unsafe {
        if libc::mount(
            c"tmpfs".as_ptr(),
            m.root.as_ptr(),
            c"tmpfs".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            m.tmpfs_opts.as_ptr().cast(),
        ) != 0
        {
            fail(plan, Stage::Rootfs);
        }
        if libc::mkdir(m.proc_dir.as_ptr(), 0o555) != 0
            || libc::mkdir(m.tmp_dir.as_ptr(), 0o1777) != 0
        {
            fail(plan, Stage::Rootfs);
        }
        bind_binary(plan, &m.host_bin, &m.bin_in_root);
        if let Some((host, in_root)) = &m.init {
            bind_binary(plan, host, in_root);
        }
        // Mount the fresh /proc while the host's /proc is still visible: in
        // a user namespace the kernel only allows a proc mount when a fully
        // visible one exists in the mount namespace.
        if plan.fresh_proc
            && libc::mount(
                c"proc".as_ptr(),
                m.proc_dir.as_ptr(),
                c"proc".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                std::ptr::null(),
            ) != 0
        {
            fail(plan, Stage::Proc);
        }
        bind_proc_overlays(plan);
        if libc::chdir(m.root.as_ptr()) != 0 {
            fail(plan, Stage::PivotRoot);
        }
        // pivot_root(".", ".") stacks the old root on top of the new one;
        // detaching "." then drops every host mount from view.
        if libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) != 0 {
            fail(plan, Stage::PivotRoot);
        }
        if libc::umount2(c".".as_ptr(), libc::MNT_DETACH) != 0 {
            fail(plan, Stage::PivotRoot);
        }
        if libc::chdir(c"/".as_ptr()) != 0 {
            fail(plan, Stage::PivotRoot);
        }
    }
}

/// Read-only binds of the prepared overlay files over /proc files.
///
/// # Safety
/// Child-only, like [`run_child`].
unsafe fn bind_proc_overlays(plan: &ChildPlan) {
    // SAFETY: mount(2) on prepared C strings.
    unsafe {
        for (src, dst) in &plan.proc_overlays {
            if libc::mount(
                src.as_ptr(),
                dst.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            ) != 0
                || libc::mount(
                    std::ptr::null(),
                    dst.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND
                        | libc::MS_REMOUNT
                        | libc::MS_RDONLY
                        | libc::MS_NOSUID
                        | libc::MS_NODEV,
                    std::ptr::null(),
                ) != 0
            {
                fail(plan, Stage::ProcOverlay);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Stage;

    #[test]
    fn stage_codes_name_their_stage() {
        assert_eq!(Stage::from_u8(Stage::Sync as u8), "waiting for the parent");
        assert_eq!(Stage::from_u8(Stage::PivotRoot as u8), "pivot_root");
        assert_eq!(Stage::from_u8(Stage::Caps as u8), "dropping capabilities");
        assert_eq!(Stage::Caps as u8, 12);
        assert_eq!(Stage::from_u8(0), "unknown stage");
        assert_eq!(Stage::from_u8(14), "unknown stage");
    }
}
