//! `nest --cgroup v1|v2 --inner-memory BYTES --inner-pids N --step BYTES`:
//! a sandbox that makes its own sandbox. Run as root in pid + mnt + cgroup
//! namespaces (minimal rootfs), it mounts its cgroup hierarchy (the cgroup
//! namespace roots it at the outer sandbox's cgroup), creates a child
//! cgroup `inner` with limits larger than the outer ones, delegates it
//! (chown to uid 65534), and starts a child there that unshares user, pid,
//! mnt and cgroup namespaces: its pid 1 hogs memory up to the inner limit,
//! then forks until refused. On v2 the delegation rules are tried on the
//! way, each reported with the errno the kernel gave (0: allowed).
//!
//! Events: `nest_boundary` (the child: crossing the delegation boundary),
//! `nest_inner` (the inner pid 1: how the hog ended, how many forks), then
//! `nest` (the outer: the rules it tried and the inner cgroup's peak).

use std::fs;
use std::io;

use crate::args::Flags;
use crate::json::Obj;
use crate::report::Reporter;
use crate::sys::{self, ChildStatus, Forked, Mapping};
use crate::{Failure, Outcome};

/// The uid the inner cgroup is delegated to.
const DELEGATEE: u32 = 65534;
/// Controllers one of which the outer never enables for `inner`.
const KNOWN: [&str; 8] = [
    "cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc",
];
/// Most children the fork test makes (the outer pids limit stops it first).
const FORK_CAP: u64 = 4096;

fn errno_of(r: io::Result<()>) -> i64 {
    match r {
        Ok(()) => 0,
        Err(e) => i64::from(sys::errno(&e)),
    }
}

fn write(path: &str, v: &str) -> io::Result<()> {
    fs::write(path, v)
}

fn read_u64(path: &str) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

pub fn main(rep: &Reporter, args: &[String]) -> Outcome {
    let f = Flags::parse(
        "nest",
        args,
        &["cgroup", "inner-memory", "inner-pids", "step"],
    )
    .map_err(Failure::Usage)?;
    let v2 = match f.get("cgroup") {
        Some("v2") => true,
        Some("v1") => false,
        other => {
            return Err(Failure::Usage(format!(
                "nest: --cgroup v1|v2, not {other:?}"
            )))
        }
    };
    let inner_memory = f.bytes("inner-memory", None).map_err(Failure::Usage)?;
    let inner_pids = f
        .u64_in("inner-pids", 1000, 1, 1 << 22)
        .map_err(Failure::Usage)?;
    let step = f.bytes("step", Some(8 << 20)).map_err(Failure::Usage)?;
    if step == 0 || usize::try_from(step).is_err() {
        return Err(Failure::Usage(
            "nest: --step must be > 0 and fit the address space".into(),
        ));
    }
    rep.ready();
    let rt = |e: io::Error, what: &str| Failure::Runtime(format!("nest: {what}: {e}"));
    // Where each hierarchy is mounted: one dir on v2, memory + pids on v1.
    let (mem, pids) = if v2 {
        fs::create_dir_all("/tmp/cg").map_err(|e| rt(e, "mkdir /tmp/cg"))?;
        sys::mount_fs("cgroup2", "/tmp/cg", 0, "").map_err(|e| rt(e, "mount cgroup2"))?;
        ("/tmp/cg".to_string(), "/tmp/cg".to_string())
    } else {
        for c in ["memory", "pids"] {
            let d = format!("/tmp/cg-{c}");
            fs::create_dir_all(&d).map_err(|e| rt(e, "mkdir"))?;
            sys::mount_fs("cgroup", &d, 0, c)
                .map_err(|e| rt(e, &format!("mount cgroup -o {c}")))?;
        }
        ("/tmp/cg-memory".to_string(), "/tmp/cg-pids".to_string())
    };
    let mut out = Obj::event("nest").str("cgroup", if v2 { "v2" } else { "v1" });
    let inner = format!("{mem}/inner");
    let inner_p = format!("{pids}/inner");
    fs::create_dir_all(&inner).map_err(|e| rt(e, "mkdir inner"))?;
    fs::create_dir_all(&inner_p).map_err(|e| rt(e, "mkdir inner (pids)"))?;
    let me = std::process::id().to_string();
    if v2 {
        // No internal processes: leave the root for a leaf first, enable
        // the controllers, then try to come back.
        let sup = format!("{mem}/supervisor");
        fs::create_dir_all(&sup).map_err(|e| rt(e, "mkdir supervisor"))?;
        write(&format!("{sup}/cgroup.procs"), &me).map_err(|e| rt(e, "enter supervisor"))?;
        write(&format!("{mem}/cgroup.subtree_control"), "+memory +pids")
            .map_err(|e| rt(e, "enable memory, pids"))?;
        out = out.i64(
            "enter_parent_errno",
            errno_of(write(&format!("{mem}/cgroup.procs"), &me)),
        );
        // Top-down: a controller the parent did not enable for `inner`.
        let have = fs::read_to_string(format!("{inner}/cgroup.controllers")).unwrap_or_default();
        let root_has = fs::read_to_string(format!("{mem}/cgroup.controllers")).unwrap_or_default();
        let missing = KNOWN
            .iter()
            .find(|c| {
                !have.split_whitespace().any(|h| h == **c)
                    && root_has.split_whitespace().any(|h| h == **c)
            })
            .or_else(|| {
                KNOWN
                    .iter()
                    .find(|c| !have.split_whitespace().any(|h| h == **c))
            });
        if let Some(c) = missing {
            out = out.str("topdown_controller", c).i64(
                "topdown_errno",
                errno_of(write(
                    &format!("{inner}/cgroup.subtree_control"),
                    &format!("+{c}"),
                )),
            );
        }
        write(&format!("{inner}/memory.max"), &inner_memory.to_string())
            .map_err(|e| rt(e, "inner memory.max"))?;
        write(&format!("{inner}/pids.max"), &inner_pids.to_string())
            .map_err(|e| rt(e, "inner pids.max"))?;
    } else {
        write(
            &format!("{inner}/memory.limit_in_bytes"),
            &inner_memory.to_string(),
        )
        .map_err(|e| rt(e, "inner memory.limit_in_bytes"))?;
        write(&format!("{inner_p}/pids.max"), &inner_pids.to_string())
            .map_err(|e| rt(e, "inner pids.max"))?;
    }
    // Delegate `inner`: its directory and its cgroup.procs (and, on v2,
    // subtree_control and threads) belong to the delegatee.
    for p in [inner.clone(), format!("{inner}/cgroup.procs")]
        .into_iter()
        .chain(
            v2.then(|| {
                [
                    format!("{inner}/cgroup.subtree_control"),
                    format!("{inner}/cgroup.threads"),
                ]
            })
            .into_iter()
            .flatten(),
        )
    {
        std::os::unix::fs::chown(&p, Some(DELEGATEE), Some(DELEGATEE))
            .map_err(|e| rt(e, "chown"))?;
    }
    let child = match sys::fork_process().map_err(|e| rt(e, "fork"))? {
        Forked::Child => sys::exit_now(inner_child(
            rep,
            v2,
            &mem,
            &inner,
            &inner_p,
            step,
            inner_memory,
        )),
        Forked::Parent(pid) => pid,
    };
    let st = sys::reap_until(child).map_err(|e| rt(e, "wait"))?;
    out = out.i64("child_code", i64::from(st.shell_code()));
    let (peak, outer_peak) = if v2 {
        (
            read_u64(&format!("{inner}/memory.peak")),
            read_u64(&format!("{mem}/memory.peak")),
        )
    } else {
        (
            read_u64(&format!("{inner}/memory.max_usage_in_bytes")),
            read_u64(&format!("{mem}/memory.max_usage_in_bytes")),
        )
    };
    out = out
        .maybe_u64("inner_peak_bytes", peak)
        .maybe_u64("outer_peak_bytes", outer_peak)
        .maybe_u64(
            "inner_oom_kills",
            fs::read_to_string(format!("{inner}/memory.events"))
                .ok()
                .and_then(|t| {
                    t.lines()
                        .find_map(|l| l.strip_prefix("oom_kill ")?.trim().parse().ok())
                }),
        );
    rep.emit(&out.line());
    // Leave nothing the launcher cannot remove: inner is empty now; on v2
    // the root gives its controllers back so this process may return to
    // it, leaving supervisor empty too.
    let _ = fs::remove_dir(&inner_p);
    let _ = fs::remove_dir(&inner);
    if v2 {
        write(&format!("{mem}/cgroup.subtree_control"), "-memory -pids")
            .and_then(|()| write(&format!("{mem}/cgroup.procs"), &me))
            .and_then(|()| fs::remove_dir(format!("{mem}/supervisor")))
            .map_err(|e| rt(e, "leaving supervisor"))?;
    }
    Ok(())
}

/// The child in `inner`: crosses the delegation boundary (v2), then makes
/// the inner sandbox. Returns its exit code.
fn inner_child(
    rep: &Reporter,
    v2: bool,
    mem: &str,
    inner: &str,
    inner_p: &str,
    step: u64,
    max: u64,
) -> i32 {
    let me = std::process::id().to_string();
    if write(&format!("{inner}/cgroup.procs"), &me).is_err() {
        return 3;
    }
    if !v2 && write(&format!("{inner_p}/cgroup.procs"), &me).is_err() {
        return 3;
    }
    if v2 {
        // SAFETY: unshare on this single-threaded child.
        let ns = unsafe { libc::unshare(libc::CLONE_NEWCGROUP) };
        // Opened inside the new namespace, rooted at `inner`: the kernel
        // checks migrations against the namespace of open time (as the
        // kernel's test_core.c, lesser_ns_open), and `supervisor` is
        // outside it.
        let ns_errno = if ns == 0 {
            errno_of(
                fs::OpenOptions::new()
                    .write(true)
                    .open(format!("{mem}/supervisor/cgroup.procs"))
                    .and_then(|mut f| io::Write::write_all(&mut f, me.as_bytes())),
            )
        } else {
            -1
        };
        // SAFETY: seteuid to the delegatee and back (real uid stays 0).
        let euid_errno = if unsafe { libc::seteuid(DELEGATEE) } == 0 {
            let r = fs::OpenOptions::new()
                .write(true)
                .open(format!("{mem}/supervisor/cgroup.procs"))
                .and_then(|mut f| io::Write::write_all(&mut f, me.as_bytes()));
            let e = errno_of(r);
            // SAFETY: back to root.
            unsafe { libc::seteuid(0) };
            e
        } else {
            -1
        };
        rep.emit(
            &Obj::event("nest_boundary")
                .i64("cgroupns_errno", ns_errno)
                .i64("lesser_euid_errno", euid_errno)
                .line(),
        );
    }
    // The inner sandbox: its own user, pid, mount and cgroup namespaces.
    let flags = libc::CLONE_NEWUSER
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWNS
        | if v2 { 0 } else { libc::CLONE_NEWCGROUP };
    // SAFETY: unshare on this single-threaded child.
    if unsafe { libc::unshare(flags) } != 0 {
        return 4;
    }
    match sys::fork_process() {
        Ok(Forked::Child) => sys::exit_now(inner_init(rep, step, max)),
        Ok(Forked::Parent(pid)) => sys::reap_until(pid).map_or(5, |s| s.shell_code()),
        Err(_) => 5,
    }
}

/// Pid 1 of the inner sandbox: a hog child, then forks until refused.
fn inner_init(rep: &Reporter, step: u64, max: u64) -> i32 {
    let hog = match sys::fork_process() {
        Ok(Forked::Child) => {
            let mut held: Vec<Mapping> = Vec::new();
            let mut total = 0u64;
            while total < max {
                match Mapping::anon_touched(step as usize) {
                    Ok(m) => {
                        total += step;
                        held.push(m);
                    }
                    Err(_) => sys::exit_now(1),
                }
            }
            sys::exit_now(0)
        }
        Ok(Forked::Parent(pid)) => sys::reap_until(pid),
        Err(_) => return 6,
    };
    let (sig, code) = match hog {
        Ok(ChildStatus::Signaled(s)) => (i64::from(s), -1),
        Ok(ChildStatus::Exited(c)) => (0, i64::from(c)),
        _ => (0, -1),
    };
    let mut kids = Vec::new();
    let mut fork_errno = 0;
    while (kids.len() as u64) < FORK_CAP {
        match sys::fork_process() {
            Ok(Forked::Child) => sys::pause_forever(),
            Ok(Forked::Parent(pid)) => kids.push(pid),
            Err(e) => {
                fork_errno = sys::errno(&e);
                break;
            }
        }
    }
    for k in &kids {
        sys::kill_pid(*k, libc::SIGKILL);
    }
    for k in &kids {
        let _ = sys::reap_until(*k);
    }
    rep.emit(
        &Obj::event("nest_inner")
            .i64("hog_signal", sig)
            .i64("hog_code", code)
            .u64("forks", kids.len() as u64)
            .i64("fork_errno", i64::from(fork_errno))
            .line(),
    );
    0
}
