//! `escape`: from inside a sandbox, try what a sandbox must not allow, one
//! JSON line per attempt, then `escape_done`.
//!
//! Every attempt is harmless even when it succeeds: signals are `0` and
//! SIGCONT, and only to the `--host-pid` target the harness started for
//! this; ptrace seizes that target and releases it at once; cgroup and
//! sysctl files get their current value written back (or are only opened);
//! mounts go on a fresh directory and are undone; the root is remounted
//! with the flags it already has; module loading gets an empty image and a
//! bogus fd. The question each answers is whether the permission check
//! passed, not whether anything changed.
//!
//! `"blocked"` is true when the attempt failed (its errno says how), false
//! when it got through, null when it could not be tried here (the detail
//! says why).

use std::ffi::c_ulong;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use libc::{ENOENT, ENOSYS, EPERM};

use crate::args::Flags;
use crate::json::Obj;
use crate::probe::unescape_octal;
use crate::report::Reporter;
use crate::sys::{self, errno};
use crate::{Failure, Outcome};

/// Limit files a sandbox would raise to get more than it was given.
const LIMIT_FILES: [&str; 5] = [
    "pids.max",
    "memory.max",
    "memory.limit_in_bytes",
    "cpu.max",
    "cpu.cfs_quota_us",
];

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tried {
    /// The kernel refused, with this errno.
    Blocked(i32),
    /// It got through (errno 0, or the errno of a later, non-permission
    /// failure, e.g. ENOEXEC for an empty module image).
    Escaped(i32),
    /// Nothing to try it on here.
    Untried,
}

/// One attempt's report.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub name: &'static str,
    pub tried: Tried,
    pub detail: String,
}

impl Attempt {
    fn new(name: &'static str, tried: Tried, detail: impl Into<String>) -> Self {
        Attempt {
            name,
            tried,
            detail: detail.into(),
        }
    }

    /// Blocked by `e`, or escaped when there was no error.
    fn from_result(name: &'static str, r: &io::Result<()>, what: &str) -> Self {
        match r {
            Ok(()) => Attempt::new(name, Tried::Escaped(0), format!("{what}: succeeded")),
            Err(e) => Attempt::new(name, Tried::Blocked(errno(e)), format!("{what}: {e}")),
        }
    }

    /// `{"event":"escape","attempt":..,"blocked":..,"errno":..,"detail":..}`
    pub fn line(&self) -> String {
        let (blocked, errno) = match self.tried {
            Tried::Blocked(e) => (Some(true), e),
            Tried::Escaped(e) => (Some(false), e),
            Tried::Untried => (None, 0),
        };
        Obj::event("escape")
            .str("attempt", self.name)
            .opt_bool("blocked", blocked)
            .i64("errno", errno.into())
            .str("detail", &self.detail)
            .line()
    }
}

pub fn main(rep: &Reporter, args: &[String]) -> Outcome {
    let f =
        Flags::parse("escape", args, &["host-pid", "abstract-socket"]).map_err(Failure::Usage)?;
    let host_pid = match f.get("host-pid") {
        None => None,
        Some(_) => Some(
            f.u64_in("host-pid", 0, 2, i32::MAX as u64)
                .map_err(Failure::Usage)? as i32,
        ),
    };
    let socket = f.get("abstract-socket");
    if let Some(s) = socket {
        // sun_path holds 108 bytes, one of them the leading NUL.
        if s.is_empty() || s.len() > 107 {
            return Err(Failure::Usage(format!(
                "escape: invalid value {s:?} for --abstract-socket (1 – 107 bytes)"
            )));
        }
    }
    rep.ready();
    let mut n = [0u64; 3];
    for attempt in ATTEMPTS {
        let a = attempt(&Targets { host_pid, socket });
        n[match a.tried {
            Tried::Blocked(_) => 0,
            Tried::Escaped(_) => 1,
            Tried::Untried => 2,
        }] += 1;
        rep.emit(&a.line());
    }
    rep.emit(
        &Obj::event("escape_done")
            .u64("attempts", ATTEMPTS.len() as u64)
            .u64("blocked", n[0])
            .u64("escaped", n[1])
            .u64("untried", n[2])
            .line(),
    );
    Ok(())
}

/// What the harness set up for the probe to aim at.
pub struct Targets<'a> {
    pub host_pid: Option<i32>,
    pub socket: Option<&'a str>,
}

type AttemptFn = fn(&Targets) -> Attempt;

/// Every attempt, in the order they run (names are the harness's check names).
const ATTEMPTS: [AttemptFn; 11] = [
    signal,
    ptrace,
    cgroup_write,
    cgroup_parent_write,
    mount_tmpfs,
    remount_root,
    init_module,
    finit_module,
    sysctl_hostname,
    sysctl_drop_caches,
    abstract_socket,
];

/// An attempt on what the harness named with `--flag`; untried without it.
/// `attempt` returns what it did and how that went.
fn on_target<T>(
    name: &'static str,
    target: Option<T>,
    flag: &str,
    attempt: impl FnOnce(T) -> (io::Result<()>, String),
) -> Attempt {
    let Some(target) = target else {
        return Attempt::new(name, Tried::Untried, format!("no --{flag} given"));
    };
    let (r, what) = attempt(target);
    Attempt::from_result(name, &r, &what)
}

fn signal(t: &Targets) -> Attempt {
    on_target("signal", t.host_pid, "host-pid", |pid| {
        let r = sys::send_signal(pid, 0).and_then(|()| sys::send_signal(pid, libc::SIGCONT));
        (r, format!("kill({pid}, 0) then kill({pid}, SIGCONT)"))
    })
}

fn ptrace(t: &Targets) -> Attempt {
    on_target("ptrace", t.host_pid, "host-pid", |pid| {
        let r = sys::ptrace_seize_and_release(pid);
        (r, format!("PTRACE_SEIZE {pid} (released at once)"))
    })
}

/// One line of /proc/self/mountinfo, unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub root: String,
    pub point: String,
    pub mount_opts: Vec<String>,
    pub fstype: String,
    pub super_opts: Vec<String>,
}

/// Parses /proc/self/mountinfo (lines it cannot read are skipped).
pub fn parse_mountinfo(text: &str) -> Vec<Mount> {
    text.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let f: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            if f.len() < 6 || r.len() < 3 {
                return None;
            }
            let opts = |s: &str| s.split(',').map(String::from).collect();
            Some(Mount {
                root: unescape_octal(f[3]),
                point: unescape_octal(f[4]),
                mount_opts: opts(f[5]),
                fstype: r[0].to_string(),
                super_opts: opts(r[2]),
            })
        })
        .collect()
}

/// One line of /proc/self/cgroup: hierarchy id, controllers, path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub id: String,
    pub controllers: Vec<String>,
    pub path: String,
}

pub fn parse_proc_cgroup(text: &str) -> Vec<Membership> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let (id, ctrls, path) = (it.next()?, it.next()?, it.next()?);
            Some(Membership {
                id: id.to_string(),
                controllers: ctrls
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(String::from)
                    .collect(),
                path: path.to_string(),
            })
        })
        .collect()
}

/// Whether `m` is the mount of the hierarchy `c` belongs to.
fn mounts_hierarchy(m: &Mount, c: &Membership) -> bool {
    if c.id == "0" {
        m.fstype == "cgroup2"
    } else {
        m.fstype == "cgroup"
            && !c.controllers.is_empty()
            && c.controllers.iter().all(|x| m.super_opts.contains(x))
    }
}

/// The directory of `path` under a mount whose root is `root`, if the
/// mount shows it.
fn under_mount(m: &Mount, path: &str) -> Option<PathBuf> {
    let rel = if m.root == "/" {
        path.trim_start_matches('/')
    } else if path == m.root {
        ""
    } else {
        path.strip_prefix(&m.root)?.strip_prefix('/')?
    };
    Some(Path::new(&m.point).join(rel))
}

/// A cgroup directory to try, and whether its files may be written (the
/// current value back) or only opened for writing.
pub type CgroupDir = (PathBuf, bool);

/// Whether a cgroup path names a cgroup isobench made (`…/isobench-…`): only
/// those get a value written back; any other is only opened.
fn isobench_made(path: &str) -> bool {
    Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("isobench-"))
}

/// The process's own cgroup directory in every mounted hierarchy it is in.
pub fn own_cgroup_dirs(cgroups: &[Membership], mounts: &[Mount]) -> Vec<CgroupDir> {
    cgroups
        .iter()
        .filter_map(|c| {
            mounts
                .iter()
                .filter(|m| mounts_hierarchy(m, c))
                .find_map(|m| under_mount(m, &c.path))
                .map(|d| (d, isobench_made(&c.path)))
        })
        .collect()
}

fn read_lines(path: &str) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Opens `file` for writing and writes its current value back.
fn write_back(file: &Path) -> io::Result<String> {
    let current = fs::read_to_string(file)?;
    let value = current.trim().to_string();
    let mut f = fs::OpenOptions::new().write(true).open(file)?;
    f.write_all(value.as_bytes())?;
    Ok(value)
}

/// What trying the limit files of some directories gave.
struct FileTries {
    /// The first file written (with the value written back) or opened.
    got_through: Option<(PathBuf, Option<String>)>,
    /// The first refusal.
    refused: Option<(PathBuf, io::Error)>,
}

/// Tries each limit file present in `dirs` until one gets through: writes
/// the current value back where the directory may be written, else only
/// opens the file for writing.
fn try_limit_files(dirs: &[CgroupDir]) -> FileTries {
    let mut out = FileTries {
        got_through: None,
        refused: None,
    };
    for (d, write) in dirs {
        for name in LIMIT_FILES {
            let f = d.join(name);
            if !f.exists() {
                continue;
            }
            let r = if *write {
                write_back(&f).map(Some)
            } else {
                fs::OpenOptions::new().write(true).open(&f).map(|_| None)
            };
            match r {
                Ok(v) => {
                    out.got_through = Some((f, v));
                    return out;
                }
                Err(e) => {
                    if out.refused.is_none() {
                        out.refused = Some((f, e));
                    }
                }
            }
        }
    }
    out
}

fn judge_files(name: &'static str, t: FileTries, dirs: &[CgroupDir]) -> Attempt {
    match (t.got_through, t.refused) {
        (Some((f, v)), _) => Attempt::new(
            name,
            Tried::Escaped(0),
            match v {
                Some(v) => format!("wrote its current value {v:?} back to {}", f.display()),
                None => format!(
                    "opened {} for writing (not a cgroup isobench made: nothing written)",
                    f.display()
                ),
            },
        ),
        (None, Some((f, e))) => Attempt::new(
            name,
            Tried::Blocked(errno(&e)),
            format!("{}: {e}", f.display()),
        ),
        (None, None) => Attempt::new(
            name,
            Tried::Untried,
            format!(
                "no limit file ({}) in {}",
                LIMIT_FILES.join(", "),
                dirs.iter()
                    .map(|(d, _)| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ),
    }
}

/// A fresh directory under /tmp, removed on drop.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(tag: &str) -> io::Result<Self> {
        let d = PathBuf::from(format!("/tmp/isobench-escape-{tag}-{}", sys::ids().pid));
        fs::create_dir(&d)?;
        Ok(ScratchDir(d))
    }

    fn path(&self) -> &str {
        self.0.to_str().unwrap_or("/nonexistent")
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir(&self.0);
    }
}

/// With no limit file in view, mounting a cgroup filesystem is the way to them:
/// mounts each hierarchy the process is in on a scratch directory, tries
/// the limit files there and unmounts.
fn cgroup_write_via_mount(cgroups: &[Membership]) -> Attempt {
    const NAME: &str = "cgroup-write";
    let mut mount_error: Option<(String, io::Error)> = None;
    for c in cgroups {
        let (fstype, data) = if c.id == "0" {
            ("cgroup2", String::new())
        } else if c.controllers.iter().any(|x| !x.starts_with("name=")) {
            ("cgroup", c.controllers.join(","))
        } else {
            continue;
        };
        let dir = match ScratchDir::new("cg") {
            Ok(d) => d,
            Err(e) => {
                return Attempt::new(
                    NAME,
                    Tried::Untried,
                    format!("no limit file in view and no scratch dir in /tmp: {e}"),
                )
            }
        };
        let what = format!("{fstype} {data}").trim().to_string();
        if let Err(e) = sys::mount_fs(fstype, dir.path(), libc::MS_NOSUID | libc::MS_NODEV, &data) {
            mount_error.get_or_insert((what, e));
            continue;
        }
        let m = Mount {
            root: "/".into(),
            point: dir.path().into(),
            mount_opts: Vec::new(),
            fstype: fstype.into(),
            super_opts: Vec::new(),
        };
        let dirs: Vec<CgroupDir> = under_mount(&m, &c.path)
            .map(|d| (d, isobench_made(&c.path)))
            .into_iter()
            .collect();
        let t = try_limit_files(&dirs);
        let _ = sys::umount_detach(dir.path());
        if t.got_through.is_some() || t.refused.is_some() {
            let mut a = judge_files(NAME, t, &dirs);
            a.detail = format!(
                "mounted {what} itself (no limit file in view); {}",
                a.detail
            );
            return a;
        }
    }
    match mount_error {
        Some((what, e)) => Attempt::new(
            NAME,
            Tried::Blocked(errno(&e)),
            format!("no limit file in view, and mounting {what} failed: {e}"),
        ),
        None => Attempt::new(
            NAME,
            Tried::Untried,
            "no limit file in view and no hierarchy to mount",
        ),
    }
}

fn cgroup_write(_: &Targets) -> Attempt {
    const NAME: &str = "cgroup-write";
    let cgroups = parse_proc_cgroup(&read_lines("/proc/self/cgroup"));
    if cgroups.is_empty() {
        return Attempt::new(NAME, Tried::Blocked(ENOENT), "/proc/self/cgroup unreadable");
    }
    let dirs = own_cgroup_dirs(
        &cgroups,
        &parse_mountinfo(&read_lines("/proc/self/mountinfo")),
    );
    let t = try_limit_files(&dirs);
    if t.got_through.is_none() && t.refused.is_none() {
        // No limit file in view (none mounted, or only hierarchies it is
        // not limited in): mounting one is the way to them.
        return cgroup_write_via_mount(&cgroups);
    }
    judge_files(NAME, t, &dirs)
}

fn cgroup_parent_write(_: &Targets) -> Attempt {
    const NAME: &str = "cgroup-parent-write";
    let cgroups = parse_proc_cgroup(&read_lines("/proc/self/cgroup"));
    let mounts = parse_mountinfo(&read_lines("/proc/self/mountinfo"));
    if cgroups.iter().all(|c| c.path == "/") {
        return Attempt::new(
            NAME,
            Tried::Blocked(ENOENT),
            "its cgroup is the root of every hierarchy it can see: no parent in reach",
        );
    }
    let parents: Vec<CgroupDir> = cgroups
        .iter()
        .filter(|c| c.path != "/")
        .filter_map(|c| {
            let parent = Path::new(&c.path).parent()?.to_str()?.to_string();
            mounts
                .iter()
                .filter(|m| mounts_hierarchy(m, c))
                .find_map(|m| under_mount(m, &parent))
                .map(|d| (d, false))
        })
        .collect();
    if parents.is_empty() {
        return Attempt::new(
            NAME,
            Tried::Blocked(ENOENT),
            "no cgroup filesystem in view shows the parent cgroup",
        );
    }
    // Only opened: the parent is not the sandbox's to change, not even to
    // the same value.
    judge_files(NAME, try_limit_files(&parents), &parents)
}

fn mount_tmpfs(_: &Targets) -> Attempt {
    const NAME: &str = "mount-tmpfs";
    let dir = match ScratchDir::new("mnt") {
        Ok(d) => d,
        Err(e) => {
            return Attempt::new(NAME, Tried::Untried, format!("no mount point in /tmp: {e}"))
        }
    };
    let r = sys::mount_fs(
        "tmpfs",
        dir.path(),
        libc::MS_NOSUID | libc::MS_NODEV,
        "size=64k",
    );
    if r.is_ok() {
        let _ = sys::umount_detach(dir.path());
    }
    Attempt::from_result(NAME, &r, &format!("mount tmpfs on {}", dir.path()))
}

/// MS_* flags matching a mount's per-mount options (atime flags are left
/// out: a remount without them keeps the current ones).
pub fn remount_flags(mount_opts: &[String]) -> c_ulong {
    let mut f = libc::MS_REMOUNT | libc::MS_BIND;
    for o in mount_opts {
        f |= match o.as_str() {
            "ro" => libc::MS_RDONLY,
            "nosuid" => libc::MS_NOSUID,
            "nodev" => libc::MS_NODEV,
            "noexec" => libc::MS_NOEXEC,
            "nosymfollow" => libc::MS_NOSYMFOLLOW,
            _ => 0,
        };
    }
    f
}

fn remount_root(_: &Targets) -> Attempt {
    const NAME: &str = "remount-root";
    let mounts = parse_mountinfo(&read_lines("/proc/self/mountinfo"));
    let Some(root) = mounts.iter().rev().find(|m| m.point == "/") else {
        return Attempt::new(NAME, Tried::Untried, "no / in /proc/self/mountinfo");
    };
    let flags = remount_flags(&root.mount_opts);
    let r = sys::mount_flags("/", flags);
    Attempt::from_result(
        NAME,
        &r,
        &format!(
            "remount / ({}) with its current flags {}",
            root.fstype,
            root.mount_opts.join(",")
        ),
    )
}

/// Module loading: only EPERM means the permission check refused; any other
/// error came after it passed (ENOSYS: the kernel cannot load modules).
fn judge_module(name: &'static str, r: io::Result<()>, what: &str) -> Attempt {
    match r {
        Ok(()) => Attempt::new(name, Tried::Escaped(0), format!("{what}: succeeded")),
        Err(e) if errno(&e) == EPERM => {
            Attempt::new(name, Tried::Blocked(EPERM), format!("{what}: {e}"))
        }
        Err(e) if errno(&e) == ENOSYS => Attempt::new(
            name,
            Tried::Blocked(ENOSYS),
            format!("{what}: {e}: this kernel has no module loading at all"),
        ),
        Err(e) => Attempt::new(
            name,
            Tried::Escaped(errno(&e)),
            format!("{what}: {e}: the permission check passed"),
        ),
    }
}

fn init_module(_: &Targets) -> Attempt {
    judge_module(
        "init-module",
        sys::init_module_empty(),
        "init_module(empty image)",
    )
}

fn finit_module(_: &Targets) -> Attempt {
    judge_module("finit-module", sys::finit_module(-1), "finit_module(fd -1)")
}

fn sysctl_hostname(_: &Targets) -> Attempt {
    const NAME: &str = "sysctl-hostname";
    const PATH: &str = "/proc/sys/kernel/hostname";
    match write_back(Path::new(PATH)) {
        Ok(v) => Attempt::new(
            NAME,
            Tried::Escaped(0),
            format!("wrote its current value {v:?} back to {PATH}"),
        ),
        Err(e) => Attempt::new(NAME, Tried::Blocked(errno(&e)), format!("{PATH}: {e}")),
    }
}

fn sysctl_drop_caches(_: &Targets) -> Attempt {
    const PATH: &str = "/proc/sys/vm/drop_caches";
    let r = fs::OpenOptions::new().write(true).open(PATH).map(drop);
    Attempt::from_result(
        "sysctl-drop-caches",
        &r,
        &format!("open {PATH} for writing (nothing written)"),
    )
}

fn abstract_socket(t: &Targets) -> Attempt {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::{SocketAddr, UnixStream};
    on_target("abstract-socket", t.socket, "abstract-socket", |name| {
        let r = SocketAddr::from_abstract_name(name.as_bytes())
            .and_then(|a| UnixStream::connect_addr(&a))
            .map(drop);
        (r, format!("connect to \"\\0{name}\""))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::parse;

    const MOUNTINFO: &str = "\
22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
30 22 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:9 - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw
35 30 0:31 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime shared:14 - cgroup cgroup rw,memory
36 30 0:32 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime shared:15 - cgroup cgroup rw,cpu,cpuacct
37 30 0:33 /sub /mnt/pids\\040x rw shared:16 - cgroup cgroup rw,pids
";

    const CGROUP: &str = "\
9:pids:/sub/a/isobench-p1-x-0
8:cpu,cpuacct:/a/isobench-p1-x-0
4:memory:/a/isobench-p1-x-0
1:name=systemd:/a
0::/a/isobench-p1-x-0
";

    #[test]
    fn own_cgroup_dirs_follow_mounts_and_roots() {
        let m = parse_mountinfo(MOUNTINFO);
        assert_eq!(m.len(), 6);
        assert_eq!(m[5].point, "/mnt/pids x");
        assert_eq!(m[5].root, "/sub");
        let c = parse_proc_cgroup(CGROUP);
        assert_eq!(c[1].controllers, ["cpu", "cpuacct"]);
        let dirs = own_cgroup_dirs(&c, &m);
        // Written back only where the cgroup is one isobench made.
        assert_eq!(dirs.iter().filter(|(_, w)| *w).count(), 4);
        let dirs: Vec<String> = dirs.iter().map(|(d, _)| d.display().to_string()).collect();
        assert_eq!(
            dirs,
            [
                "/mnt/pids x/a/isobench-p1-x-0",
                "/sys/fs/cgroup/cpu,cpuacct/a/isobench-p1-x-0",
                "/sys/fs/cgroup/memory/a/isobench-p1-x-0",
                "/sys/fs/cgroup/unified/a/isobench-p1-x-0",
            ]
        );
        // A path outside a bind mount's root is not in view.
        let c = parse_proc_cgroup("9:pids:/other\n");
        assert!(own_cgroup_dirs(&c, &m).is_empty());
        // The root of a cgroup namespace: in view, but only to open.
        let c = parse_proc_cgroup("4:memory:/\n");
        let dirs = own_cgroup_dirs(&c, &m);
        assert_eq!(dirs, [(PathBuf::from("/sys/fs/cgroup/memory/"), false)]);
        // Nothing mounted (a minimal rootfs): nothing in view.
        assert!(own_cgroup_dirs(&parse_proc_cgroup(CGROUP), &[]).is_empty());
    }

    #[test]
    fn remount_keeps_the_current_flags() {
        let o = |s: &str| s.split(',').map(String::from).collect::<Vec<_>>();
        let base = libc::MS_REMOUNT | libc::MS_BIND;
        assert_eq!(remount_flags(&o("rw,relatime")), base);
        assert_eq!(
            remount_flags(&o("ro,nosuid,nodev,noexec,noatime")),
            base | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC
        );
    }

    #[test]
    fn module_errors_other_than_eperm_mean_the_check_passed() {
        let e = |n| Err(io::Error::from_raw_os_error(n));
        assert_eq!(
            judge_module("m", e(EPERM), "x").tried,
            Tried::Blocked(EPERM)
        );
        assert_eq!(
            judge_module("m", e(ENOSYS), "x").tried,
            Tried::Blocked(ENOSYS)
        );
        assert_eq!(judge_module("m", e(22), "x").tried, Tried::Escaped(22));
        assert_eq!(judge_module("m", e(8), "x").tried, Tried::Escaped(8));
        assert_eq!(judge_module("m", Ok(()), "x").tried, Tried::Escaped(0));
    }

    #[test]
    fn lines_carry_blocked_errno_and_detail() {
        let v = parse(&Attempt::new("signal", Tried::Blocked(3), "kill: ESRCH").line()).unwrap();
        assert_eq!(v.event(), "escape");
        assert_eq!(v.str("attempt"), "signal");
        assert_eq!(v.get("blocked"), Some(&crate::testutil::Value::Bool(true)));
        assert_eq!(v.num("errno"), 3.0);
        let v = parse(&Attempt::new("x", Tried::Untried, "").line()).unwrap();
        assert_eq!(v.get("blocked"), Some(&crate::testutil::Value::Null));
        let v = parse(&Attempt::new("x", Tried::Escaped(0), "").line()).unwrap();
        assert_eq!(v.get("blocked"), Some(&crate::testutil::Value::Bool(false)));
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        use crate::testutil::{capture, sv};
        for args in [
            &["escape", "--host-pid", "0"][..],
            &["escape", "--host-pid", "x"],
            &["escape", "--host-pid", "-5"],
            &["escape", "--abstract-socket="],
            &["escape", "--bogus", "1"],
        ] {
            let (code, lines) = capture("escape-usage", |rep| {
                crate::run_with_fd(rep.fd(), &sv(args))
            });
            assert_eq!(code, 2, "{args:?}");
            assert_eq!(lines.len(), 1, "{args:?}: {lines:?}");
            assert_eq!(lines[0].event(), "error");
        }
    }

    #[test]
    fn the_parent_is_never_written() {
        // A parent directory with a limit file: it is only opened.
        let d = std::env::temp_dir().join(format!("isobench-escape-test-{}", std::process::id()));
        fs::create_dir_all(&d).unwrap();
        fs::write(d.join("pids.max"), "max\n").unwrap();
        let t = try_limit_files(&[(d.clone(), false)]);
        assert_eq!(fs::read_to_string(d.join("pids.max")).unwrap(), "max\n");
        assert_eq!(t.got_through.unwrap().1, None);
        // Written back: the same value, the file unchanged.
        let t = try_limit_files(&[(d.clone(), true)]);
        assert_eq!(t.got_through.unwrap().1.as_deref(), Some("max"));
        assert_eq!(fs::read_to_string(d.join("pids.max")).unwrap(), "max\n");
        fs::remove_dir_all(&d).unwrap();
    }
}
