//! systemd-nspawn without systemd: `--register=no` (no systemd-machined)
//! and `--keep-unit` (no transient scope; it stays in the cgroup it was
//! started in), so it runs where PID 1 is not systemd. Its resource
//! properties need systemd, so the harness makes the sandbox cgroup and
//! places nspawn in it before it execs, as for bwrap. The container's
//! directory is a fresh one per sandbox holding the static workload and the
//! `/usr` nspawn insists on; it is removed at teardown. nspawn passes no fd
//! but stdio to the payload, so the workload reports on its stdout
//! (`--console=pipe`), which a `sh` wrapper points at the report pipe.

use std::path::{Path, PathBuf};

use crate::cgroup::CgroupSet;
use crate::sandbox::{CgroupMode, Exec, LaunchError, Namespaces, Running, SandboxSpec};

/// Where the per-sandbox directories live.
fn roots() -> PathBuf {
    crate::run::staging_base().join("nspawn")
}

/// The namespaces nspawn cannot be asked for: it has no time namespace,
/// and whether it makes a cgroup namespace it decides itself.
pub fn unsupported(ns: &Namespaces) -> Vec<&'static str> {
    let mut v = Vec::new();
    if ns.cgroup {
        v.push("cgroup");
    }
    if ns.time {
        v.push("time");
    }
    v
}

/// nspawn's command line for `spec` in directory `dir` (pid, mount, uts
/// and ipc namespaces it always makes).
pub fn args(spec: &SandboxSpec, dir: &Path) -> Result<Vec<String>, LaunchError> {
    let ns = spec.namespaces;
    let mut a: Vec<String> = [
        "--quiet",
        "--register=no",
        "--keep-unit",
        "--console=pipe",
        "--read-only",
        "--setenv=ISOBENCH_REPORT_FD=1",
    ]
    .map(String::from)
    .to_vec();
    a.push(format!("--directory={}", dir.display()));
    if ns.net {
        a.push("--private-network".into());
    }
    if ns.user {
        match (spec.uid_map.as_slice(), spec.gid_map.as_slice()) {
            ([u], [g]) if u.inside == 0 && g.inside == 0 && u.outside == g.outside => {
                a.push(format!("--private-users={}:{}", u.outside, u.count));
                a.push("--private-users-ownership=off".into());
            }
            _ => {
                return Err(LaunchError::Spec(
                    "systemd-nspawn maps one range from uid/gid 0 to the same host base only"
                        .into(),
                ))
            }
        }
    }
    if let Some(h) = &spec.hostname {
        a.push(format!("--hostname={h}"));
    }
    // lxcfs's views over the container's /proc files.
    for o in &spec.proc_overlays {
        a.push(format!("--bind-ro={}:/proc/{}", o.source.display(), o.name));
    }
    a.push("--".into());
    a.push("/isobench-workload".into());
    a.extend(spec.args.iter().cloned());
    Ok(a)
}

/// The container directory: the workload (hard link when possible), the
/// mount points, and the `/usr` and `/etc/os-release` nspawn checks for.
fn write_root(dir: &Path, workload: &Path) -> std::io::Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    for d in ["usr", "etc", "proc", "dev", "sys", "tmp", "run"] {
        std::fs::create_dir_all(dir.join(d))?;
    }
    std::fs::write(dir.join("etc/os-release"), "ID=isobench\n")?;
    let bin = dir.join("isobench-workload");
    if std::fs::hard_link(workload, &bin).is_err() {
        std::fs::copy(workload, &bin)?;
    }
    Ok(())
}

/// What nspawn adds to the cgroups it is started in: with `--keep-unit` on
/// a unified or hybrid layout it splits its cgroup into `supervisor/` (itself)
/// and `payload/` (the container), and mirrors the cgroup in the
/// name=systemd hierarchy. Recorded before the launch: the sandbox's own
/// directories (their children are nspawn's) and, in every other cgroup
/// mount, the same paths that did not exist yet (wholly nspawn's).
struct NspawnCgroups {
    own: Vec<PathBuf>,
    made: Vec<PathBuf>,
}

impl NspawnCgroups {
    fn before(set: &CgroupSet, n: u32) -> Self {
        let own = set.planned_dirs(n);
        let name = set.sandbox_name(n);
        let mut made = Vec::new();
        for (_, base) in super::podman::base_paths(set) {
            let path = format!("{}/{name}", base.trim_end_matches('/'));
            for (mount, root) in super::podman::cgroup_mounts() {
                if let Some(d) = super::podman::dir_in(&mount, &root, &path) {
                    if !own.contains(&d) && !d.exists() && !made.contains(&d) {
                        made.push(d);
                    }
                }
            }
        }
        NspawnCgroups { own, made }
    }

    /// Removes nspawn's sub-cgroups (killing what is left in them) and the
    /// mirrors it made; the sandbox's own directories are the harness's.
    fn remove(&self) -> Result<(), String> {
        let mut errors = Vec::new();
        for d in &self.own {
            let Ok(rd) = std::fs::read_dir(d) else {
                continue;
            };
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    if let Err(e) = super::podman::remove_tree(&e.path()) {
                        errors.push(e);
                    }
                }
            }
        }
        for d in &self.made {
            if let Err(e) = super::podman::remove_tree(d) {
                errors.push(e);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

/// Starts `spec` under systemd-nspawn in a cgroup the harness made.
pub fn launch(
    spec: &SandboxSpec,
    set: &CgroupSet,
    n: u32,
    workload: &Path,
) -> Result<Running, LaunchError> {
    let nspawn = super::program_path("systemd-nspawn")?;
    let dir = roots().join(set.sandbox_name(n));
    let mut argv = vec![
        "sh".to_string(),
        "-c".into(),
        // stdout is the report pipe, fd 3 nspawn would close anyway.
        r#"exec "$0" "$@" >&3 3>&-"#.into(),
        nspawn.to_string_lossy().into_owned(),
    ];
    argv.extend(args(spec, &dir)?);
    write_root(&dir, workload)
        .map_err(|e| LaunchError::Setup(format!("nspawn directory {}: {e}", dir.display())))?;
    let exec = Exec {
        program: "/bin/sh".into(),
        argv,
    };
    let remove = dir.clone();
    let propagate = Path::new(PROPAGATE).join(set.sandbox_name(n));
    let cgroups = NspawnCgroups::before(set, n);
    let cleanup = move || -> Result<(), String> {
        let c = cgroups.remove();
        remove_propagate(&propagate);
        match std::fs::remove_dir_all(&remove) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(format!("{}: {e}", remove.display()))
            }
            _ => c,
        }
    };
    super::launch_peer(spec, set, n, workload, &exec, CgroupMode::Create, cleanup)
}

/// Where nspawn makes each machine's mount-propagation directory (named
/// by the machine, which is our sandbox's directory name). nspawn removes
/// it when its container ends normally, but not when the payload dies
/// early and /run is not a tmpfs ("Attempted to remove disk file system
/// …, and we can't allow that"): isobench removes it.
const PROPAGATE: &str = "/run/systemd/nspawn/propagate";

/// Removes one machine's propagation directory (empty, or holding only an
/// empty `incoming/`); anything else in it is left alone.
fn remove_propagate(dir: &Path) {
    let _ = std::fs::remove_dir(dir.join("incoming"));
    let _ = std::fs::remove_dir(dir);
}

/// Removes the container directories (and nspawn's propagation
/// directories) of dead isobench runs.
pub fn cleanup_stale() -> Vec<PathBuf> {
    if let Ok(rd) = std::fs::read_dir(PROPAGATE) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if crate::cgroup::manager::owner_alive(&name, &e.path()) == Some(false) {
                remove_propagate(&e.path());
            }
        }
    }
    let Ok(rd) = std::fs::read_dir(roots()) else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            crate::cgroup::manager::owner_alive(&name, &e.path()) == Some(false)
        })
        .filter(|e| std::fs::remove_dir_all(e.path()).is_ok())
        .map(|e| e.path())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line() {
        let mut spec = SandboxSpec::workload(&["spin", "--seconds", "1"]);
        spec.namespaces = Namespaces::parse("pid,mnt,net,uts,ipc").unwrap();
        let a = args(&spec, Path::new("/d")).unwrap();
        assert!(a.contains(&"--register=no".to_string()));
        assert!(a.contains(&"--keep-unit".to_string()));
        assert!(a.contains(&"--private-network".to_string()));
        assert!(a.contains(&"--directory=/d".to_string()));
        let dd = a.iter().position(|x| x == "--").unwrap();
        assert_eq!(
            a[dd + 1..],
            ["/isobench-workload", "spin", "--seconds", "1"]
        );
        assert_eq!(
            unsupported(&Namespaces::parse("cgroup,time,pid").unwrap()),
            ["cgroup", "time"]
        );
        spec.namespaces = Namespaces::parse("user").unwrap();
        let a = args(&spec, Path::new("/d")).unwrap().join(" ");
        assert!(a.contains("--private-users=65534:"), "{a}");
    }
}
