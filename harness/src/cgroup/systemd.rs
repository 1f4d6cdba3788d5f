//! Running on a systemd host: who manages the cgroup tree, whether the
//! harness's own cgroup was delegated to it, and — when it was not — getting
//! a delegated subtree the way container runtimes do: a transient scope with
//! `Delegate=yes`, created by `systemd-run --scope`, that the harness
//! re-executes itself in. Sandbox cgroups are then created only inside it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::hierarchy::parse_proc_cgroup;
use super::Mode;

/// Set in the re-executed harness: the scope unit it was started in.
pub const SCOPE_ENV: &str = "ISOBENCH_DELEGATED_SCOPE";
/// Set in the re-executed harness: the fd to write one byte to once it
/// runs inside the scope (so the parent can tell a systemd-run failure apart).
pub const READY_FD_ENV: &str = "ISOBENCH_SCOPE_READY_FD";

/// Who manages the cgroup tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manager {
    /// systemd is PID 1 and owns the hierarchy; only delegated subtrees are ours.
    Systemd,
    /// Nobody (a container, a VM's /init, a non-systemd host): cgroupfs as is.
    Cgroupfs,
}

impl Manager {
    pub fn as_str(self) -> &'static str {
        match self {
            Manager::Systemd => "systemd",
            Manager::Cgroupfs => "cgroupfs",
        }
    }
}

/// sd_booted(3): systemd is the running init when /run/systemd/system exists.
pub fn manager() -> Manager {
    manager_at(Path::new("/run/systemd/system"))
}

fn manager_at(marker: &Path) -> Manager {
    if marker.is_dir() {
        Manager::Systemd
    } else {
        Manager::Cgroupfs
    }
}

/// What PID 1 is: its command name (`systemd`, `init`, `process_api`, …).
pub fn init_name() -> Option<String> {
    std::fs::read_to_string("/proc/1/comm")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The Kubernetes node name when set (downward API `NODE_NAME`), else the
/// hostname.
pub fn node_name() -> Option<String> {
    if let Some(n) = std::env::var("NODE_NAME").ok().filter(|n| !n.is_empty()) {
        return Some(n);
    }
    nix::unistd::gethostname()
        .ok()
        .map(|h| h.to_string_lossy().into_owned())
        .filter(|h| !h.is_empty())
}

/// The harness's own cgroup as /proc/self/cgroup names it: the v2 path, or
/// on v1 / hybrid `memory:<path>` (where sandboxes nest).
pub fn own_cgroup_of(proc_cgroup: &str) -> Option<String> {
    let members = parse_proc_cgroup(proc_cgroup);
    let v1_memory = members
        .iter()
        .find(|m| m.controllers.iter().any(|c| c == "memory"));
    match v1_memory {
        Some(m) => Some(format!("memory:{}", m.path)),
        None => members
            .iter()
            .find(|m| m.hierarchy_id == 0 && m.controllers.is_empty())
            .map(|m| m.path.clone()),
    }
}

/// This process's cgroup (see [`own_cgroup_of`]).
pub fn own_cgroup() -> Option<String> {
    own_cgroup_of(&std::fs::read_to_string("/proc/self/cgroup").ok()?)
}

/// systemd marks the cgroup of a unit with `Delegate=yes` with the xattr
/// `trusted.delegate` (and, since v252, `user.delegate`) set to `1`.
fn has_delegate_xattr(dir: &Path) -> bool {
    let Ok(path) = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    ["trusted.delegate", "user.delegate"].iter().any(|name| {
        let Ok(name) = std::ffi::CString::new(*name) else {
            return false;
        };
        let mut buf = [0u8; 8];
        // SAFETY: getxattr(2) on valid C strings into a buffer of the given size.
        let n = unsafe {
            libc::getxattr(
                path.as_ptr(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        n > 0 && buf[0] == b'1'
    })
}

/// Whether `own_dir` (or a cgroup above it, below `mount_point`) was
/// delegated to us by systemd.
pub fn is_delegated(own_dir: &Path, mount_point: &Path) -> bool {
    let mut d = Some(own_dir);
    while let Some(dir) = d {
        if !dir.starts_with(mount_point) || dir == mount_point {
            break;
        }
        if has_delegate_xattr(dir) {
            return true;
        }
        d = dir.parent();
    }
    false
}

/// The systemd version (`systemctl --version`: "systemd 252 (252.33-1~deb12u1)").
pub fn version() -> Option<u32> {
    let out = Command::new("systemctl")
        .arg("--version")
        .stderr(Stdio::null())
        .output()
        .ok()?;
    parse_version(&String::from_utf8_lossy(&out.stdout))
}

pub fn parse_version(text: &str) -> Option<u32> {
    text.lines()
        .next()?
        .strip_prefix("systemd ")?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Why the harness will (or will not) ask systemd for a delegated scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Run in place: not systemd, not pure v2, a --cgroup-parent given, or
    /// the own cgroup is delegated already.
    InPlace,
    /// Re-execute inside a new transient scope with Delegate=yes.
    Scope { unit: String },
}

/// Decides the plan for a run. `own_dir` / `mount_point` are the v2 ones.
pub fn plan(
    mode: Mode,
    manager: Manager,
    cgroup_parent: Option<&str>,
    already_in_scope: bool,
    delegated: bool,
    unit: String,
) -> Plan {
    if mode != Mode::V2
        || manager != Manager::Systemd
        || cgroup_parent.is_some()
        || already_in_scope
        || delegated
    {
        return Plan::InPlace;
    }
    Plan::Scope { unit }
}

/// The plan for this process.
pub fn plan_here(cgroup_parent: Option<&str>) -> Plan {
    let Ok(mode) = super::detect_mode() else {
        return Plan::InPlace;
    };
    let manager = manager();
    if mode != Mode::V2 || manager != Manager::Systemd || cgroup_parent.is_some() {
        return Plan::InPlace;
    }
    let in_scope = std::env::var_os(SCOPE_ENV).is_some();
    let delegated = super::Hierarchies::current()
        .ok()
        .and_then(|h| h.unified)
        .is_some_and(|u| is_delegated(&u.own_dir, &u.mount.mount_point));
    let unit = format!(
        "{}{}.scope",
        super::owner::NAME_PREFIX,
        super::owner::new_run_id()
    );
    plan(mode, manager, cgroup_parent, in_scope, delegated, unit)
}

/// For `isobench env`: where `isobench run` would create sandbox cgroups.
pub fn plan_line() -> Option<String> {
    match plan_here(None) {
        Plan::Scope { .. } => Some(
            "in a transient systemd scope with Delegate=yes (isobench-<run id>.scope), \
             because this cgroup is not delegated"
                .into(),
        ),
        Plan::InPlace if manager() == Manager::Systemd && std::env::var_os(SCOPE_ENV).is_none() => {
            Some("beneath this cgroup (delegated by systemd, or not pure cgroup v2)".into())
        }
        Plan::InPlace => Some("beneath this cgroup".into()),
    }
}

/// `systemd-run --scope` options for running a command in `unit` (the
/// command follows them). `OOMPolicy=continue` (scopes accept it from
/// systemd 253; before that a scope never stops on an OOM kill) keeps a
/// sandbox's intended OOM kill from stopping the harness's unit.
pub fn scope_args(unit: &str, systemd_version: Option<u32>) -> Vec<String> {
    let mut v: Vec<String> = vec![
        "--scope".into(),
        "--quiet".into(),
        "--collect".into(),
        format!("--unit={unit}"),
        "--description=isobench run (delegated cgroup subtree)".into(),
        "-p".into(),
        "Delegate=yes".into(),
    ];
    if systemd_version.is_some_and(|v| v >= 253) {
        v.push("-p".into());
        v.push("OOMPolicy=continue".into());
    }
    v.push("--".into());
    v
}

/// Stops `unit` if systemd still has it: its processes are killed and its
/// cgroup, sandboxes included, removed. Quiet when it is gone already.
pub fn stop_unit(unit: &str) {
    let _ = Command::new("systemctl")
        .args(["stop", "--quiet", unit])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Scope cgroups `isobench-p<pid>-….scope` below `root` (slices nest a few
/// levels deep) whose owner is dead: a harness that was SIGKILLed while a
/// workload still ran. The units are stopped; returns their cgroups.
pub fn cleanup_stale_scopes(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![(root.to_path_buf(), 0)];
    while let Some((d, depth)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".scope") {
                if super::owner::owner_alive(&name, &e.path()) == Some(false) {
                    found.push((name, e.path()));
                }
            } else if name.ends_with(".slice") && depth < 4 {
                stack.push((e.path(), depth + 1));
            }
        }
    }
    found
        .into_iter()
        .map(|(unit, dir)| {
            stop_unit(&unit);
            dir
        })
        .collect()
}

/// How the re-executed run ended.
#[derive(Debug)]
pub enum ScopeOutcome {
    /// The harness ran in the scope; its exit code (128 + signal if killed).
    Ran(u8),
    /// systemd-run could not start it there (exit code, its stderr is shown).
    NotStarted(String),
}

/// Runs this program again, with the same arguments, in a new delegated
/// scope, and waits for it. The parent stays where it was (in a service
/// that is its main process), forwarding SIGINT/SIGTERM.
pub fn run_in_scope(unit: &str) -> Result<ScopeOutcome, String> {
    let systemd_run = crate::env::which("systemd-run")
        .ok_or_else(|| "systemd-run not found on PATH".to_string())?;
    let exe = std::env::current_exe().map_err(|e| format!("cannot find isobench itself: {e}"))?;
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let (rd, wr) = nix::unistd::pipe().map_err(|e| format!("pipe: {e}"))?;
    use std::os::fd::AsRawFd;
    // The read end must not reach the child.
    let _ = nix::fcntl::fcntl(
        rd.as_raw_fd(),
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    );
    crate::interrupt::install();
    eprintln!(
        "isobench: {} is not a cgroup systemd delegated to us: running in a transient scope \
         {unit} with Delegate=yes",
        own_cgroup().unwrap_or_else(|| "this cgroup".into())
    );
    let mut cmd = Command::new(systemd_run);
    cmd.args(scope_args(unit, version()))
        .arg(&exe)
        .args(&args)
        .env(SCOPE_ENV, unit)
        .env(READY_FD_ENV, wr.as_raw_fd().to_string());
    // The scoped run stops (cleanly, SIGTERM) if this process dies; the
    // setting survives systemd-run's exec of isobench.
    use std::os::unix::process::CommandExt;
    // SAFETY: only prctl(2), async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("starting systemd-run: {e}"))?;
    drop(wr);
    let mut forwarded = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => {}
            Err(e) => return Err(format!("waiting for the scoped run: {e}")),
        }
        if let (Some(sig), false) = (crate::interrupt::requested(), forwarded) {
            forwarded = true;
            // SAFETY: kill(2) of our own child.
            unsafe {
                libc::kill(child.id() as i32, sig);
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut byte = [0u8; 1];
    let started = matches!(nix::unistd::read(rd.as_raw_fd(), &mut byte), Ok(1));
    // A run that was killed may leave workloads in its scope: the scope
    // goes, with all of them (after a normal end systemd is removing the
    // empty scope already, and this is a no-op).
    stop_unit(unit);
    use std::os::unix::process::ExitStatusExt;
    let code = match (status.code(), status.signal()) {
        (Some(c), _) => c as u8,
        (None, Some(sig)) => crate::interrupt::exit_code(sig),
        _ => 1,
    };
    if started {
        Ok(ScopeOutcome::Ran(code))
    } else {
        Ok(ScopeOutcome::NotStarted(format!(
            "systemd-run exited {code}"
        )))
    }
}

/// `isobench run` on a systemd v2 host whose own cgroup is not delegated
/// (and as root, without --cgroup-parent): runs it again in a new
/// Delegate=yes scope and returns its exit code. None: run in place (also,
/// with a warning, when systemd-run could not start the scope).
pub fn run_delegated(cgroup_parent: Option<&str>) -> Option<u8> {
    let Plan::Scope { unit } = plan_here(cgroup_parent) else {
        return None;
    };
    if !nix::unistd::geteuid().is_root() {
        return None; // the run itself says it needs root
    }
    match run_in_scope(&unit) {
        Ok(ScopeOutcome::Ran(code)) => Some(code),
        Ok(ScopeOutcome::NotStarted(why)) | Err(why) => {
            eprintln!(
                "isobench: warning: could not get a delegated cgroup scope from systemd \
                 ({why}); running in this process's own cgroup"
            );
            None
        }
    }
}

/// In the re-executed harness: tells the parent it got into the scope.
pub fn signal_ready() {
    let Some(fd) = std::env::var(READY_FD_ENV)
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
    else {
        return;
    };
    std::env::remove_var(READY_FD_ENV);
    // SAFETY: the fd was handed to us for this one write; closed right after.
    unsafe {
        libc::write(fd, b"1".as_ptr().cast(), 1);
        libc::close(fd);
    }
}

/// Why a v2 controller is missing from `own_dir`: the kernel lacks it, or
/// the parent did not enable it for us (systemd did not delegate it).
pub fn missing_reason(
    controller: &str,
    root_controllers: &str,
    own_dir: &Path,
    parent_subtree_control: Option<&str>,
    manager: Manager,
) -> String {
    let in_kernel = root_controllers.split_whitespace().any(|c| c == controller);
    if !in_kernel {
        return format!(
            "this kernel has no cgroup v2 {controller} controller (root cgroup.controllers: {})",
            root_controllers.trim()
        );
    }
    let parent = own_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or_else(|| own_dir.to_path_buf());
    let enabled = parent_subtree_control.unwrap_or("?").trim();
    let fix = match manager {
        Manager::Systemd => {
            "systemd did not delegate it to this unit; run isobench without --cgroup-parent \
             (it then takes a Delegate=yes scope) or under `systemd-run --scope -p Delegate=yes`"
        }
        Manager::Cgroupfs => {
            "enable it in the parent's cgroup.subtree_control, or pass --cgroup-parent with a \
             cgroup that has it"
        }
    };
    format!(
        "the kernel has the {controller} controller, but {} does not enable it for {} \
         (its cgroup.subtree_control: {}); {fix}",
        parent.display(),
        own_dir.display(),
        if enabled.is_empty() { "empty" } else { enabled }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(
            parse_version("systemd 252 (252.33-1~deb12u1)\n+PAM +AUDIT"),
            Some(252)
        );
        assert_eq!(parse_version("systemd 256.5\n"), Some(256));
        assert_eq!(parse_version("nope"), None);
    }

    #[test]
    fn manager_marker() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(manager_at(d.path()), Manager::Systemd);
        assert_eq!(manager_at(&d.path().join("none")), Manager::Cgroupfs);
    }

    #[test]
    fn own_cgroup_forms() {
        assert_eq!(
            own_cgroup_of("0::/system.slice/x.service\n").as_deref(),
            Some("/system.slice/x.service")
        );
        assert_eq!(
            own_cgroup_of("4:memory:/process_api/abc\n1:cpu:/\n0::/\n").as_deref(),
            Some("memory:/process_api/abc")
        );
    }

    #[test]
    fn plan_takes_a_scope_only_on_undelegated_systemd_v2() {
        let u = || "isobench-x.scope".to_string();
        let scope = Plan::Scope { unit: u() };
        assert_eq!(
            plan(Mode::V2, Manager::Systemd, None, false, false, u()),
            scope
        );
        for p in [
            plan(Mode::Hybrid, Manager::Systemd, None, false, false, u()),
            plan(Mode::V2, Manager::Cgroupfs, None, false, false, u()),
            plan(Mode::V2, Manager::Systemd, Some("/a"), false, false, u()),
            plan(Mode::V2, Manager::Systemd, None, true, false, u()),
            plan(Mode::V2, Manager::Systemd, None, false, true, u()),
        ] {
            assert_eq!(p, Plan::InPlace);
        }
    }

    #[test]
    fn scope_arguments() {
        let a = scope_args("isobench-p1-x.scope", Some(252));
        assert!(a.contains(&"Delegate=yes".to_string()));
        assert!(a.contains(&"--unit=isobench-p1-x.scope".to_string()));
        assert!(!a.contains(&"OOMPolicy=continue".to_string()), "{a:?}");
        assert_eq!(a.last().map(String::as_str), Some("--"));
        let a = scope_args("u.scope", Some(253));
        assert!(a.contains(&"OOMPolicy=continue".to_string()));
    }

    #[test]
    fn stale_scopes_are_those_of_dead_owners() {
        let d = tempfile::tempdir().unwrap();
        let me = std::process::id();
        let dead = d
            .path()
            .join(format!("system.slice/isobench-p{}-1.scope", i32::MAX));
        let live = d
            .path()
            .join(format!("system.slice/isobench-p{me}-2.scope"));
        let other = d.path().join("system.slice/session-1.scope");
        for p in [&dead, &live, &other] {
            std::fs::create_dir_all(p).unwrap();
        }
        // systemctl is absent or knows no such unit: stopping is a no-op here.
        assert_eq!(cleanup_stale_scopes(d.path()), [dead]);
    }

    #[test]
    fn missing_controller_reasons_tell_kernel_from_delegation() {
        let own = Path::new("/sys/fs/cgroup/system.slice/a.service");
        let r = missing_reason(
            "cpu",
            "cpuset cpu io memory pids",
            own,
            Some("memory pids\n"),
            Manager::Systemd,
        );
        assert!(r.contains("the kernel has the cpu controller"), "{r}");
        assert!(
            r.contains("/sys/fs/cgroup/system.slice does not enable it"),
            "{r}"
        );
        assert!(r.contains("memory pids"), "{r}");
        assert!(r.contains("systemd did not delegate"), "{r}");
        let r = missing_reason("cpuset", "cpu memory", own, None, Manager::Cgroupfs);
        assert!(r.contains("this kernel has no cgroup v2 cpuset"), "{r}");
    }
}
