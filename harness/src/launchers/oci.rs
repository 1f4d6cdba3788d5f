//! OCI runtimes (runc, crun): the harness writes a bundle (a rootfs holding
//! only the static workload, and config.json with the scenario's namespaces
//! and `linux.resources`), runs it under a unique container id, finds the
//! container's cgroup from /proc/PID/cgroup, and always deletes the
//! container afterwards.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use super::Launcher;
use crate::cgroup::hierarchy::parse_proc_cgroup;
use crate::cgroup::v1::V1Cgroup;
use crate::cgroup::v2::V2Cgroup;
use crate::cgroup::{translate, CgroupSet, CgroupView, Limits};
use crate::sandbox::{
    CgroupMode, Exec, LaunchError, Namespaces, Running, SandboxSpec, INIT_IN_ROOTFS,
};

/// Where bundles live (removed with the container).
/// File in each bundle naming the runtime binary that runs it, so cleanup
/// after a SIGKILL deletes the container with the right runtime.
const RUNTIME_FILE: &str = "isobench-runtime";

fn bundles_root() -> PathBuf {
    crate::run::staging_base().join("bundles")
}

/// The OCI namespace list for a set (mount is always there: OCI needs it).
pub fn oci_namespaces(ns: &Namespaces) -> Vec<Value> {
    let mut v = vec![json!({"type": "mount"})];
    v.extend(super::peer_ns(ns, |p| p.oci).map(|t| json!({ "type": t })));
    v
}

/// `linux.resources` for the limits.
pub fn oci_resources(l: &Limits) -> Value {
    let mut r = serde_json::Map::new();
    let mut cpu = serde_json::Map::new();
    if let Some(c) = l.cpu_max {
        cpu.insert("quota".into(), json!(translate::v2_quota_to_v1(c.quota_us)));
        cpu.insert("period".into(), json!(c.period_us));
        if let Some(b) = c.burst_us {
            cpu.insert("burst".into(), json!(b));
        }
    }
    if let Some(w) = l.cpu_weight {
        cpu.insert("shares".into(), json!(translate::weight_to_shares(w)));
    }
    if let Some(c) = &l.cpuset_cpus {
        cpu.insert("cpus".into(), json!(c.to_string()));
    }
    if let Some(m) = &l.cpuset_mems {
        cpu.insert("mems".into(), json!(m.to_string()));
    }
    if !cpu.is_empty() {
        r.insert("cpu".into(), Value::Object(cpu));
    }
    let mut mem = serde_json::Map::new();
    if let Some(m) = l.memory_max {
        mem.insert("limit".into(), json!(m));
        // No swap beyond the limit unless asked (memsw = memory + swap).
        let sw = l.memory_swap_max.unwrap_or(0);
        mem.insert("swap".into(), json!(translate::swap_to_memsw(m, sw)));
    }
    if let Some(h) = l.memory_high {
        // OCI has no memory.high; runc passes unified keys through on v2.
        r.insert("unified".into(), json!({"memory.high": h.to_string()}));
    }
    if l.oom_kill_disable {
        mem.insert("disableOOMKiller".into(), json!(true));
    }
    if !mem.is_empty() {
        r.insert("memory".into(), Value::Object(mem));
    }
    if let Some(p) = l.pids_max {
        r.insert("pids".into(), json!({"limit": p}));
    }
    Value::Object(r)
}

/// The `linux.cgroupsPath` for container `id`. runc and crun take a
/// relative path from their own cgroup in each hierarchy, which is ours.
/// youki 0.7 joins it to each hierarchy's mount point instead (libcgroups
/// `get_subsystem_path`, v2 `Manager::new`), so it gets the absolute path
/// of our base: possible only where that base is the same path in every
/// hierarchy youki uses. Anywhere else youki would create cgroups outside
/// ours, and is refused before anything is created.
pub fn cgroups_path(launcher: &Launcher, set: &CgroupSet, id: &str) -> Result<String, LaunchError> {
    if launcher != &Launcher::Youki {
        return Ok(id.to_string());
    }
    let rel = |base: &Path, mount: &Path| -> String {
        let r = base.strip_prefix(mount).unwrap_or(base);
        format!("/{}", r.to_string_lossy().trim_matches('/'))
    };
    let mut bases: Vec<(String, String)> = Vec::new();
    if set.mode == crate::cgroup::Mode::V2 {
        if let (Some(b), Some(h)) = (&set.v2_base, &set.hierarchies.unified) {
            bases.push(("unified".into(), rel(b, &h.mount.mount_point)));
        }
    } else {
        for (c, b) in &set.v1_base {
            if let Some(h) = set.hierarchies.v1.get(c) {
                bases.push((c.name().to_string(), rel(b, &h.mount.mount_point)));
            }
        }
    }
    uniform_path(&bases, id)
}

/// `BASE/id` when every hierarchy's base is the same `BASE`.
fn uniform_path(bases: &[(String, String)], id: &str) -> Result<String, LaunchError> {
    let first = bases.first().ok_or_else(|| {
        LaunchError::Setup("youki: no cgroup hierarchy to place the container in".into())
    })?;
    if let Some(other) = bases.iter().find(|b| b.1 != first.1) {
        return Err(LaunchError::Setup(format!(
            "youki 0.7 resolves cgroupsPath from each hierarchy's root, not from its own cgroup as runc does; \
             isobench's cgroup is {} in {} but {} in {}, so youki would create cgroups outside isobench's own; \
             not run (give --cgroup-parent a path that exists in every hierarchy, or use a pure v1 or v2 host)",
            first.1, first.0, other.1, other.0
        )));
    }
    Ok(format!("{}/{id}", first.1.trim_end_matches('/')))
}

/// The bundle's config.json; `cgroups_path` from [`cgroups_path`].
pub fn config_json(spec: &SandboxSpec, cgroups_path: &str) -> Value {
    let ns = spec.namespaces;
    // Behind the init shim (copied into the rootfs) when the spec has one.
    let args = spec.command_line("/isobench-workload", INIT_IN_ROOTFS);
    let caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let mut linux = json!({
        "cgroupsPath": cgroups_path,
        "namespaces": oci_namespaces(&ns),
        "resources": oci_resources(&spec.limits),
        "maskedPaths": ["/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
                        "/proc/scsi", "/sys/firmware"],
        "readonlyPaths": ["/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq",
                          "/proc/sys", "/proc/sysrq-trigger"],
    });
    if ns.user {
        let m = |v: &[crate::sandbox::IdMap]| -> Value {
            v.iter()
                .map(|m| json!({"containerID": m.inside, "hostID": m.outside, "size": m.count}))
                .collect()
        };
        linux["uidMappings"] = m(&spec.uid_map);
        linux["gidMappings"] = m(&spec.gid_map);
    }
    let mut cfg = json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["ISOBENCH_REPORT_FD=3", "PATH=/"],
            "cwd": "/",
            "noNewPrivileges": true,
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        },
        "root": {"path": "rootfs", "readonly": true},
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "nodev", "mode=1777", "size=16m"]},
        ],
        "linux": linux,
    });
    if let Some(h) = &spec.hostname {
        cfg["hostname"] = json!(h);
    }
    if let Some(m) = cfg["mounts"].as_array_mut() {
        // After /proc (runc allows binds over exactly lxcfs's /proc files).
        m.extend(spec.proc_overlays.iter().map(|o| {
            json!({"destination": format!("/proc/{}", o.name), "type": "bind",
                   "source": o.source, "options": ["bind", "ro", "nosuid", "nodev"]})
        }));
    }
    cfg
}

/// Writes the bundle: rootfs with the workload (hard link when possible).
fn write_bundle(
    dir: &Path,
    spec: &SandboxSpec,
    cgroups_path: &str,
    workload: &Path,
) -> std::io::Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    let rootfs = dir.join("rootfs");
    for d in ["proc", "dev", "tmp"] {
        std::fs::create_dir_all(rootfs.join(d))?;
    }
    let bin = rootfs.join("isobench-workload");
    if std::fs::hard_link(workload, &bin).is_err() {
        std::fs::copy(workload, &bin)?;
    }
    if let Some(init) = &spec.init {
        std::fs::copy(
            &init.path,
            rootfs.join(INIT_IN_ROOTFS.trim_start_matches('/')),
        )?;
    }
    let cfg = serde_json::to_vec_pretty(&config_json(spec, cgroups_path))
        .map_err(std::io::Error::other)?;
    std::fs::write(dir.join("config.json"), cfg)
}

/// The cgroup view of a process, from /proc/PID/cgroup and our hierarchies.
pub fn view_of_pid(set: &CgroupSet, pid: i32) -> Result<CgroupView, String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .map_err(|e| format!("/proc/{pid}/cgroup: {e}"))?;
    let members = parse_proc_cgroup(&text);
    let join = |mount: &Path, root: &str, path: &str| -> PathBuf {
        let rel = path
            .strip_prefix(root)
            .unwrap_or(path)
            .trim_start_matches('/');
        mount.join(rel)
    };
    let mut v1 = V1Cgroup::default();
    for (c, h) in &set.hierarchies.v1 {
        if let Some(m) = members
            .iter()
            .find(|m| m.controllers.iter().any(|x| x == c.name()))
        {
            v1.dirs
                .insert(*c, join(&h.mount.mount_point, &h.mount.root, &m.path));
        }
    }
    let v2 = match (
        &set.hierarchies.unified,
        members.iter().find(|m| m.hierarchy_id == 0),
    ) {
        (Some(h), Some(m)) => Some(V2Cgroup {
            dir: join(&h.mount.mount_point, &h.mount.root, &m.path),
            controllers: set.v2_controllers.clone(),
        }),
        _ => None,
    };
    Ok(CgroupView {
        name: format!("pid {pid}"),
        v1,
        v2,
    })
}

/// Children of a process: every /proc/N/stat whose ppid is `pid` (the
/// task/*/children files are not reliable on every kernel config).
fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in rd.flatten() {
        let Some(n) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let Some(stat) = crate::procfs::read_stat(n) else {
            continue;
        };
        let ppid = crate::procfs::stat_fields(&stat)
            .get(1)
            .and_then(|p| p.parse::<i32>().ok());
        if ppid == Some(pid) {
            out.push(n);
        }
    }
    out.sort_unstable();
    out
}

/// `RUNTIME delete -f ID`. A container that does not exist (any more) is
/// already gone, which is what was asked; every other failure is reported.
pub fn delete(runtime: &Path, id: &str) -> Result<(), String> {
    let out = Command::new(runtime)
        .args(["delete", "-f", id])
        .output()
        .map_err(|e| format!("{} delete: {e}", runtime.display()))?;
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.success() || err.contains("does not exist") || err.contains("not found") {
        Ok(())
    } else {
        Err(format!(
            "{} delete -f {id}: {}",
            runtime.display(),
            err.trim()
        ))
    }
}

/// Runs `spec` in a container; returns once the workload is ready and its
/// cgroup is known.
pub fn launch(
    launcher: &Launcher,
    spec: &SandboxSpec,
    set: &CgroupSet,
    n: u32,
    workload: &Path,
) -> Result<Running, LaunchError> {
    let name = launcher.program().unwrap_or("runc");
    let runtime = launcher.program_path()?;
    let id = set.sandbox_name(n);
    let cg_path = cgroups_path(launcher, set, &id)?;
    let bundle = bundles_root().join(&id);
    write_bundle(&bundle, spec, &cg_path, workload)
        .and_then(|()| {
            std::fs::write(
                bundle.join(RUNTIME_FILE),
                runtime.as_os_str().as_encoded_bytes(),
            )
        })
        .map_err(|e| LaunchError::Setup(format!("bundle {}: {e}", bundle.display())))?;
    let bundle_s = bundle.to_string_lossy().into_owned();
    let exec = if launcher == &Launcher::Runc {
        // `run --keep` keeps the container (and its cgroup) after the
        // workload exits, so counters can be read; teardown deletes it.
        Exec {
            program: runtime.clone(),
            argv: vec![
                name.to_string(),
                "run".into(),
                "--keep".into(),
                "--bundle".into(),
                bundle_s,
                "--preserve-fds".into(),
                "1".into(),
                id.clone(),
            ],
        }
    } else {
        // crun (and oci:PATH runtimes in general) have no `run --keep`:
        // create + start through the workload's oci-shim, which adopts the container as its child subreaper and
        // exits with its status; the container stays until `delete`.
        Exec {
            program: workload.to_path_buf(),
            argv: vec![
                "isobench-workload".into(),
                "oci-shim".into(),
                runtime.to_string_lossy().into_owned(),
                bundle_s,
                id.clone(),
            ],
        }
    };
    let cleanup_bundle = bundle.clone();
    let cleanup_id = id.clone();
    let cleanup_rt = runtime.clone();
    let cleanup = move || -> Result<(), String> {
        let r = delete(&cleanup_rt, &cleanup_id);
        let _ = std::fs::remove_dir_all(&cleanup_bundle);
        r
    };
    let mut r = super::launch_peer(spec, set, n, workload, &exec, CgroupMode::None, cleanup)?;
    r.wait_ready()?;
    // A relative cgroupsPath puts the container beneath the runtime's own
    // cgroup, which is ours: its directories are known by name. Cross-check
    // with the container process while it lives.
    let view = set.view_of(n);
    super::require_cgroup(name, &view)?;
    // Only the workload itself counts: the runtime may have helper children.
    let workload_child = children_of(r.pid).into_iter().find(|p| {
        std::fs::read_to_string(format!("/proc/{p}/comm"))
            .map(|c| c.starts_with("isobench-work"))
            .unwrap_or(false)
    });
    if let Some(pid) = &workload_child {
        // An exiting task is moved back to the root cgroups: only a live
        // process placed somewhere else entirely is a mismatch.
        let bases = set.base_dirs();
        let roots: Vec<PathBuf> = set
            .hierarchies
            .v1
            .values()
            .map(|h| h.mount.mount_point.clone())
            .chain(
                set.hierarchies
                    .unified
                    .iter()
                    .map(|h| h.mount.mount_point.clone()),
            )
            .collect();
        let exiting = crate::procfs::read_stat(*pid)
            .map(|st| {
                crate::procfs::stat_fields(&st)
                    .first()
                    .is_some_and(|s| s.starts_with(['Z', 'X']))
            })
            .unwrap_or(true);
        if let (false, Ok(seen)) = (exiting, view_of_pid(set, *pid)) {
            let mismatch: Vec<String> = seen
                .dirs()
                .into_iter()
                .filter(|d| !view.dirs().contains(d) && !bases.contains(d) && !roots.contains(d))
                .map(|d| d.display().to_string())
                .collect();
            if !mismatch.is_empty() {
                return Err(LaunchError::Setup(format!(
                    "{name}: container process {pid} is in {} instead of {id}",
                    mismatch.join(", ")
                )));
            }
        }
    }
    r.set_peer_cgroup(view);
    Ok(r)
}

/// Removes containers and bundles left by dead isobench runs.
pub fn cleanup_stale() -> usize {
    let mut n = 0;
    let Ok(rd) = std::fs::read_dir(bundles_root()) else {
        return 0;
    };
    for e in rd.flatten() {
        let id = e.file_name().to_string_lossy().into_owned();
        if crate::cgroup::manager::owner_alive(&id, &e.path()) != Some(false) {
            continue;
        }
        // The runtime that made it (oci:PATH ones too), then the known ones.
        let recorded = std::fs::read_to_string(e.path().join(RUNTIME_FILE))
            .ok()
            .map(PathBuf::from);
        let known = ["runc", "crun"].into_iter().filter_map(crate::env::which);
        for p in recorded.into_iter().chain(known) {
            let _ = delete(&p, &id);
        }
        let _ = std::fs::remove_dir_all(e.path());
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::{CpuList, CpuMax};

    #[test]
    fn youki_gets_an_absolute_path_only_where_every_hierarchy_agrees() {
        let b = |v: &[(&str, &str)]| -> Vec<(String, String)> {
            v.iter()
                .map(|(h, p)| (h.to_string(), p.to_string()))
                .collect()
        };
        assert_eq!(
            uniform_path(&b(&[("cpu", "/"), ("memory", "/")]), "x").unwrap(),
            "/x"
        );
        assert_eq!(
            uniform_path(&b(&[("cpu", "/a/b"), ("memory", "/a/b")]), "x").unwrap(),
            "/a/b/x"
        );
        // This host: memory nested, the rest at the root.
        let e = uniform_path(&b(&[("cpu", "/"), ("memory", "/process_api/1")]), "x").unwrap_err();
        let e = e.to_string();
        assert!(
            e.contains("/process_api/1 in memory") && e.contains("/ in cpu"),
            "{e}"
        );
        assert!(uniform_path(&[], "x").is_err());
    }

    /// A fake runtime: records its arguments in `args`, writes `stderr`
    /// and exits with `code`.
    fn fake_runtime(dir: &Path, stderr: &str, code: i32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(format!("runtime-{code}-{}", stderr.len()));
        let script = format!(
            "#!/bin/sh\necho \"$@\" > {}/args\necho '{stderr}' >&2\nexit {code}\n",
            dir.display()
        );
        std::fs::write(&p, script).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }

    #[test]
    fn delete_accepts_gone_containers_and_reports_other_errors() {
        let dir = tempfile::tempdir().unwrap();
        let args = || std::fs::read_to_string(dir.path().join("args")).unwrap();
        let id = "isobench-p1-t2-0badf00d-0";
        // Every script is written before any runs (no exec of a file that a
        // concurrently forked test process still holds open for writing).
        let ok = fake_runtime(dir.path(), "", 0);
        let gone: Vec<PathBuf> = [
            "container does not exist",
            "error opening file `/run/crun/x/status`: No such file or directory; container not found",
        ]
        .iter()
        .map(|m| fake_runtime(dir.path(), m, 1))
        .collect();
        let denied = fake_runtime(dir.path(), "unable to kill container: permission denied", 1);
        // Deleted.
        assert_eq!(delete(&ok, id), Ok(()));
        assert_eq!(args().trim(), format!("delete -f {id}"));
        // Already gone, in runc's and crun's words.
        for rt in &gone {
            assert_eq!(delete(rt, id), Ok(()), "{}", rt.display());
        }
        // Any other failure is an error naming the runtime, the id and why.
        let e = delete(&denied, id).unwrap_err();
        assert!(e.contains("permission denied"), "{e}");
        assert!(
            e.contains(id) && e.contains(&denied.display().to_string()),
            "{e}"
        );
        // A runtime that cannot even start.
        let e = delete(&dir.path().join("no-such-runtime"), id).unwrap_err();
        assert!(e.contains("no-such-runtime delete"), "{e}");
    }

    #[test]
    fn config_carries_namespaces_and_resources() {
        let mut spec = SandboxSpec::workload(&["spin", "--seconds", "1"]);
        spec.namespaces = Namespaces::parse("pid,net,user").unwrap();
        spec.limits = Limits {
            cpu_max: Some(CpuMax {
                quota_us: Some(20_000),
                period_us: 100_000,
                burst_us: None,
            }),
            cpuset_cpus: Some(CpuList(vec![1])),
            memory_max: Some(64 << 20),
            pids_max: Some(64),
            ..Default::default()
        };
        let c = config_json(&spec, "isobench-p1-x-0");
        assert_eq!(c["process"]["args"][0], "/isobench-workload");
        assert_eq!(c["process"]["args"][1], "spin");
        let types: Vec<&str> = c["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, vec!["mount", "pid", "network", "user"]);
        let r = &c["linux"]["resources"];
        assert_eq!(r["cpu"]["quota"], 20_000);
        assert_eq!(r["cpu"]["period"], 100_000);
        assert_eq!(r["cpu"]["cpus"], "1");
        assert_eq!(r["memory"]["limit"], 64u64 << 20);
        assert_eq!(r["memory"]["swap"], 64u64 << 20);
        assert_eq!(r["pids"]["limit"], 64);
        assert_eq!(c["linux"]["uidMappings"][0]["hostID"], 65534);
        assert_eq!(c["linux"]["cgroupsPath"], "isobench-p1-x-0");
        // An init shim is PID 1, from the rootfs, with the workload after it.
        spec.init = Some(crate::sandbox::InitShim {
            name: "catatonit".into(),
            path: "/usr/bin/catatonit".into(),
            args: vec!["--".into()],
        });
        let c = config_json(&spec, "isobench-p1-x-0");
        let args: Vec<&str> = c["process"]["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                INIT_IN_ROOTFS,
                "--",
                "/isobench-workload",
                "spin",
                "--seconds",
                "1"
            ]
        );
    }
}
