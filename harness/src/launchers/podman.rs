//! podman, the engine path most users take: `podman run` with the limits
//! as podman's own flags, runc underneath, the cgroupfs manager.
//!
//! Everything podman keeps lives in a store of this run's own,
//! `/run/isobench/podman-<run id's random part>/` (podman refuses a runroot
//! longer than 50 characters; the full run id is in its `run-id` file)
//! (`--root`, `--runroot`, `--tmpdir`,
//! `--volumepath`, the vfs driver, no events log), so the host's podman
//! (`podman ps -a`, `podman images`) never sees isobench's containers or
//! images and removing the directory removes everything. The static
//! workload is imported once per run as the image `localhost/isobench-<run
//! id>:workload` (`podman import` of a one-file rootfs tarball; no
//! registry), each sandbox runs as container `isobench-<run id>-<n>`
//! labelled `isobench.run=<run id>`, and every container's cgroup lives
//! under one `--cgroup-parent <own cgroup>/isobench-<run id>-podman` (the
//! containers are siblings, so weights divide the CPU between them), which
//! the store's removal removes with everything podman made below it
//! (`conmon/`, `libpod-<id>/`).
//!
//! No `--rm`, and runc behind a wrapper that keeps containers: podman's
//! cleanup (conmon → `podman container cleanup` → `runc delete`) removes
//! the container's cgroup the moment the workload exits, before the
//! scenario reads the counters. The store's `runc-keep` script passes every
//! runc command through except `delete`, which it writes to `deferred/<id>`;
//! the teardown removes the container (`podman rm -f -t 0`), then runs the
//! deferred delete with runc itself, as `runc run --keep` + `runc delete`
//! do for the runc launcher.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::cgroup::hierarchy::parse_mountinfo;
use crate::cgroup::v1::V1Cgroup;
use crate::cgroup::v2::V2Cgroup;
use crate::cgroup::{translate, CgroupSet, CgroupView};
use crate::sandbox::{CgroupMode, Exec, LaunchError, Namespaces, Running, SandboxSpec};

/// The label every container (and the image) carries: the run id.
pub const LABEL: &str = "isobench.run";
/// The store of each run: `podman-<tail of the run id>` in isobench's
/// runtime directory.
const STORE_PREFIX: &str = "podman-";
/// The file in a store naming the run that made it.
const RUN_ID_FILE: &str = "run-id";
/// The file in a store listing the cgroup directories its launches made,
/// for the cleanup of a run that was killed before it could remove them.
const CGROUPS_FILE: &str = "cgroups";

/// This process's store, made on the first podman launch of a run.
static STORE: Mutex<Option<Store>> = Mutex::new(None);

#[derive(Debug, Clone)]
struct Store {
    run_id: String,
    dir: PathBuf,
    image: String,
    runc: PathBuf,
}

/// Why podman cannot run here at all (it and runc are needed).
pub fn unavailable() -> Option<String> {
    for (p, pkg) in [("podman", "podman"), ("runc", "runc")] {
        if crate::env::which(p).is_none() {
            return Some(format!(
                "{p} is not installed (apt-get install {pkg}); the podman launcher runs runc underneath"
            ));
        }
    }
    None
}

/// The namespaces podman cannot make: it has no time namespace option.
pub fn unsupported(ns: &Namespaces) -> Vec<&'static str> {
    if ns.time {
        vec!["time"]
    } else {
        Vec::new()
    }
}

/// podman's global options that keep everything in `dir`.
fn global_args(dir: &Path) -> Vec<String> {
    let d = |s: &str| dir.join(s).to_string_lossy().into_owned();
    vec![
        "--root".into(),
        d("root"),
        "--runroot".into(),
        d("runroot"),
        "--tmpdir".into(),
        d("tmp"),
        "--volumepath".into(),
        d("volumes"),
        "--storage-driver".into(),
        "vfs".into(),
        "--events-backend".into(),
        "none".into(),
        "--cgroup-manager".into(),
        "cgroupfs".into(),
        "--runtime".into(),
        d(KEEP_RUNTIME),
    ]
}

/// The wrapper podman runs as its OCI runtime (see the module doc).
const KEEP_RUNTIME: &str = "runc-keep";
/// Where the wrapper leaves each deferred `delete`, one file per container.
const DEFERRED: &str = "deferred";

/// The wrapper's text: runc's own commands go to `runc`; a `delete` is
/// written, one argument per line, to `deferred/<container id>` (its last
/// argument) and answered with success.
fn keep_script(dir: &Path, runc: &Path) -> String {
    format!(
        "#!/bin/sh\n\
         # isobench: runc for podman, keeping each container (and its cgroup) after it exits\n\
         for a in \"$@\"; do\n\
         \tif [ \"$a\" = delete ]; then\n\
         \t\teval id=\\${{$#}}\n\
         \t\tprintf '%s\\n' \"$@\" > '{}'/\"$id\"\n\
         \t\texit 0\n\
         \tfi\n\
         done\n\
         exec '{}' \"$@\"\n",
        dir.join(DEFERRED).display(),
        runc.display()
    )
}

/// Writes the wrapper and its `deferred/` directory into the store.
fn write_keep_runtime(dir: &Path, runc: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir.join(DEFERRED))?;
    let path = dir.join(KEEP_RUNTIME);
    std::fs::write(&path, keep_script(dir, runc))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
}

/// Runs the deferred deletes (all, or only `id`'s) with runc itself, and
/// forgets them: runc removes the container's state and its cgroup.
fn run_deferred(dir: &Path, runc: &Path, id: Option<&str>) -> Result<(), String> {
    let Ok(rd) = std::fs::read_dir(dir.join(DEFERRED)) else {
        return Ok(());
    };
    let mut errors = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if id.is_some_and(|i| i != name) {
            continue;
        }
        let args = std::fs::read_to_string(e.path()).unwrap_or_default();
        let args: Vec<&str> = args.lines().collect();
        match Command::new(runc).args(&args).output() {
            Ok(o) if o.status.success() => {}
            Ok(o) => {
                let err = String::from_utf8_lossy(&o.stderr);
                if !err.contains("does not exist") && !err.contains("not found") {
                    errors.push(format!("runc {}: {}", args.join(" "), err.trim()));
                }
            }
            Err(err) => errors.push(format!("runc: {err}")),
        }
        let _ = std::fs::remove_file(e.path());
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Runs `podman <global> args`; its stdout, or an error quoting stderr.
fn podman(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("podman")
        .args(global_args(dir))
        .args(args)
        .output()
        .map_err(|e| format!("podman {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "podman {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The run's store, made (and the workload image imported) on first use.
fn store(set: &CgroupSet, workload: &Path) -> Result<Store, LaunchError> {
    let mut g = STORE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = g.as_ref().filter(|s| s.run_id == set.run_id) {
        return Ok(s.clone());
    }
    if let Some(old) = g.take() {
        let _ = remove_store(&old.dir, &old.runc);
    }
    let runc = super::program_path("runc")?;
    let tail = set.run_id.rsplit('-').next().unwrap_or(&set.run_id);
    let dir = crate::run::staging_base().join(format!("{STORE_PREFIX}{tail}"));
    let image = format!("localhost/isobench-{}:workload", set.run_id);
    let made = import(&dir, &runc, &image, &set.run_id, workload);
    if let Err(e) = made {
        let _ = remove_store(&dir, &runc);
        return Err(LaunchError::Setup(format!(
            "podman store {}: {e}",
            dir.display()
        )));
    }
    let s = Store {
        run_id: set.run_id.clone(),
        dir,
        image,
        runc,
    };
    *g = Some(s.clone());
    Ok(s)
}

/// Makes `dir` and imports the workload as `image`: a rootfs tarball of
/// the static binary and empty mount points, through `podman import`.
fn import(
    dir: &Path,
    runc: &Path,
    image: &str,
    run_id: &str,
    workload: &Path,
) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(dir.join(RUN_ID_FILE), run_id).map_err(|e| format!("{}: {e}", dir.display()))?;
    write_keep_runtime(dir, runc).map_err(|e| format!("{}: {e}", dir.display()))?;
    let rootfs = dir.join("rootfs");
    for d in ["proc", "dev", "sys", "tmp"] {
        std::fs::create_dir_all(rootfs.join(d))
            .map_err(|e| format!("{}: {e}", rootfs.display()))?;
    }
    std::fs::copy(workload, rootfs.join("isobench-workload"))
        .map_err(|e| format!("copying the workload: {e}"))?;
    let tar = dir.join("rootfs.tar");
    let out = Command::new("tar")
        .arg("--numeric-owner")
        .arg("-C")
        .arg(&rootfs)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .output()
        .map_err(|e| format!("tar: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "tar: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let label = format!("LABEL {LABEL}={run_id}");
    let tar_s = tar.to_string_lossy().into_owned();
    podman(
        dir,
        &["import", "--quiet", "--change", &label, &tar_s, image],
    )?;
    let _ = std::fs::remove_file(&tar);
    let _ = std::fs::remove_dir_all(&rootfs);
    Ok(())
}

/// Removes a store: its containers (killed), its images, the cgroups its
/// launches recorded, then the directory. Returns how many containers it
/// held.
fn remove_store(dir: &Path, runc: &Path) -> Result<usize, String> {
    let mut errors = Vec::new();
    let mut containers = 0;
    if dir.join("root").is_dir() {
        containers = podman(dir, &["ps", "-aq"])
            .map(|o| o.lines().filter(|l| !l.trim().is_empty()).count())
            .unwrap_or(0);
        for args in [&["rm", "-af", "-t", "0"][..], &["rmi", "-af"][..]] {
            if let Err(e) = podman(dir, args) {
                errors.push(e);
            }
        }
    }
    if let Err(e) = run_deferred(dir, runc, None) {
        errors.push(e);
    }
    remove_recorded_cgroups(dir);
    unmount_below(dir);
    if let Err(e) = std::fs::remove_dir_all(dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            errors.push(format!("{}: {e}", dir.display()));
        }
    }
    if errors.is_empty() {
        Ok(containers)
    } else {
        Err(errors.join("; "))
    }
}

/// Unmounts whatever is still mounted below `dir` (a container's shm that
/// a killed podman left), deepest first.
fn unmount_below(dir: &Path) {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut points: Vec<PathBuf> = text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(PathBuf::from)
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in points {
        if let Ok(c) = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()) {
            // SAFETY: umount2 on a path string we own.
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
    }
}

/// Removes this process's podman store (end of a run, also on error and
/// SIGINT, through [`Guard`]).
pub fn release() -> Result<(), String> {
    let s = STORE.lock().unwrap_or_else(|e| e.into_inner()).take();
    match s {
        Some(s) => remove_store(&s.dir, &s.runc).map(|_| ()),
        None => Ok(()),
    }
}

/// Removes this process's podman store when dropped (held by a run).
pub struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        if let Err(e) = release() {
            eprintln!("isobench: podman cleanup: {e}");
        }
    }
}

/// Removes the stores of dead isobench runs (their containers, images and
/// cgroups); returns how many containers they held. A live run's store is
/// never touched.
pub fn cleanup_stale() -> usize {
    let Ok(rd) = std::fs::read_dir(crate::run::staging_base()) else {
        return 0;
    };
    let runc = crate::env::which("runc").unwrap_or_else(|| "runc".into());
    let mut n = 0;
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(STORE_PREFIX) {
            continue;
        }
        let run_id = std::fs::read_to_string(e.path().join(RUN_ID_FILE)).unwrap_or_default();
        let dead = crate::cgroup::owner::Owner::from_run_id(run_id.trim())
            .is_some_and(|o| !o.alive(&e.path()));
        if dead {
            n += remove_store(&e.path(), &runc).unwrap_or(0);
        }
    }
    n
}

/// The run's base cgroup in each of its hierarchies, as a path in that
/// hierarchy (as in /proc/self/cgroup): (hierarchy name, path).
pub(super) fn base_paths(set: &CgroupSet) -> Vec<(String, String)> {
    let mut bases: Vec<(String, String)> = Vec::new();
    let rel = |mount: &Path, root: &str, base: &Path| -> Option<String> {
        let r = base.strip_prefix(mount).ok()?;
        let joined = Path::new(root).join(r);
        Some(joined.to_string_lossy().into_owned())
    };
    for (c, h) in &set.hierarchies.v1 {
        if let Some(b) = set.v1_base.get(c) {
            if let Some(p) = rel(&h.mount.mount_point, &h.mount.root, b) {
                bases.push((c.name().to_string(), p));
            }
        }
    }
    if let (Some(h), Some(b)) = (&set.hierarchies.unified, &set.v2_base) {
        if let Some(p) = rel(&h.mount.mount_point, &h.mount.root, b) {
            bases.push(("unified".into(), p));
        }
    }
    bases
}

/// Every cgroup mount: (mount point, root within the hierarchy).
pub(super) fn cgroup_mounts() -> Vec<(PathBuf, String)> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    parse_mountinfo(&text)
        .into_iter()
        .map(|m| (m.mount_point, m.root))
        .collect()
}

/// Where cgroup `path` (as in /proc/self/cgroup) is under a mount of
/// hierarchy root `root`; None when the mount does not show it.
pub(super) fn dir_in(mount: &Path, root: &str, path: &str) -> Option<PathBuf> {
    let rel = if root == "/" {
        path
    } else {
        path.strip_prefix(root)?
    };
    Some(mount.join(rel.trim_start_matches('/')))
}

/// The cgroup path (as in /proc/self/cgroup) that podman puts sandbox
/// `name` under: `<base>/<name>`. podman takes one `--cgroup-parent` for
/// every hierarchy, so the base is the deepest of this run's base cgroups
/// (its own, or `--cgroup-parent`), and every other base must be above it:
/// then the parent lies beneath the run's base in each hierarchy.
pub fn cgroup_parent(set: &CgroupSet, name: &str) -> Result<String, String> {
    let bases = base_paths(set);
    let deepest = bases
        .iter()
        .max_by_key(|(_, p)| Path::new(p).components().count())
        .map(|(_, p)| p.clone())
        .unwrap_or_else(|| "/".into());
    let apart: Vec<String> = bases
        .iter()
        .filter(|(_, p)| !Path::new(&deepest).starts_with(p))
        .map(|(h, p)| format!("{h}:{p}"))
        .collect();
    if !apart.is_empty() {
        return Err(format!(
            "podman takes one --cgroup-parent for every hierarchy, but this run's cgroups are apart \
             ({} vs {deepest}); run isobench with --cgroup-parent PATH",
            apart.join(", ")
        ));
    }
    Ok(format!("{}/{name}", deepest.trim_end_matches('/')))
}

/// The directories a launch under cgroup `parent` may create, per cgroup
/// mount: the ancestors that do not exist yet (shallowest first, each
/// removed only when empty), then the parent itself (removed with
/// everything below it). Recorded before podman runs.
fn planned_cgroups(parent: &str) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut ancestors = Vec::new();
    let mut trees = Vec::new();
    for (mount, root) in cgroup_mounts() {
        let Some(dir) = dir_in(&mount, &root, parent) else {
            continue;
        };
        let mut missing: Vec<PathBuf> = dir
            .ancestors()
            .skip(1)
            .take_while(|a| a.starts_with(&mount) && *a != mount && !a.exists())
            .map(Path::to_path_buf)
            .collect();
        missing.reverse();
        ancestors.extend(missing);
        trees.push(dir);
    }
    (ancestors, trees)
}

/// Appends lines to the store's cgroup record (`dir PATH` / `tree PATH`),
/// each path once.
fn record_cgroups(store: &Path, ancestors: &[PathBuf], trees: &[PathBuf]) -> std::io::Result<()> {
    use std::io::Write;
    let known = std::fs::read_to_string(store.join(CGROUPS_FILE)).unwrap_or_default();
    let known: std::collections::HashSet<&str> = known.lines().collect();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(store.join(CGROUPS_FILE))?;
    let mut text = String::new();
    let lines = ancestors
        .iter()
        .map(|a| format!("dir {}", a.display()))
        .chain(trees.iter().map(|t| format!("tree {}", t.display())));
    for l in lines {
        if !known.contains(l.as_str()) {
            text.push_str(&l);
            text.push('\n');
        }
    }
    f.write_all(text.as_bytes())
}

/// Removes what the record lists, last first: trees with everything below
/// them (their processes killed), ancestors only when empty.
fn remove_recorded_cgroups(store: &Path) {
    let text = std::fs::read_to_string(store.join(CGROUPS_FILE)).unwrap_or_default();
    let entries: Vec<(&str, PathBuf)> = text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, p)| (k, PathBuf::from(p)))
        .collect();
    let trees: Vec<PathBuf> = entries
        .iter()
        .filter(|(k, _)| *k == "tree")
        .map(|(_, p)| p.clone())
        .collect();
    let ancestors: Vec<PathBuf> = entries
        .iter()
        .filter(|(k, _)| *k == "dir")
        .map(|(_, p)| p.clone())
        .collect();
    let _ = remove_cgroups(&trees, &ancestors);
}

/// Removes cgroup `trees` (depth first, killing what still runs in them)
/// and then the `ancestors` that are empty, deepest first. Errors name the
/// directories that stay.
fn remove_cgroups(trees: &[PathBuf], ancestors: &[PathBuf]) -> Result<(), String> {
    let mut stay = Vec::new();
    for t in trees {
        if let Err(e) = remove_tree(t) {
            stay.push(e);
        }
    }
    let mut a: Vec<&PathBuf> = ancestors.iter().collect();
    a.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    a.dedup();
    for d in a {
        // Only when empty: another run may have made a cgroup there since.
        let _ = std::fs::remove_dir(d);
    }
    if stay.is_empty() {
        Ok(())
    } else {
        Err(stay.join("; "))
    }
}

/// rmdir of a cgroup tree, depth first; processes still inside are killed
/// (everything below a sandbox parent is podman's for this sandbox).
pub(super) fn remove_tree(dir: &Path) -> Result<(), String> {
    if !dir.is_dir() {
        return Ok(());
    }
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path())?;
            }
        }
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
        for p in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            if p > 1 && p != std::process::id() as i32 {
                // SAFETY: kill(2) of a process in a cgroup this sandbox made.
                unsafe { libc::kill(p, libc::SIGKILL) };
            }
        }
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if std::time::Instant::now() > deadline => {
                return Err(format!("{}: {e}", dir.display()))
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
}

/// This process's soft and hard limit of `resource`.
fn rlimit(resource: libc::__rlimit_resource_t) -> (u64, u64) {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit into a local struct.
    unsafe { libc::getrlimit(resource, &mut r) };
    (r.rlim_cur, r.rlim_max)
}

/// podman 4.3 sets RLIMIT_NOFILE to 1048576 and RLIMIT_NPROC to its own
/// (which it lowers to 32768 when it cannot raise it); without
/// CAP_SYS_RESOURCE runc then fails with "error setting rlimit type 7:
/// operation not permitted". Pass limits this process has, at most podman's.
fn ulimit_args() -> Vec<String> {
    let nofile = rlimit(libc::RLIMIT_NOFILE);
    let (s, h) = rlimit(libc::RLIMIT_NPROC);
    let nproc = (s.min(32768), h.min(32768));
    vec![
        "--ulimit".into(),
        format!("nofile={}:{}", nofile.0, nofile.1),
        "--ulimit".into(),
        format!("nproc={}:{}", nproc.0, nproc.1),
    ]
}

/// podman's flags for the namespaces and limits of `spec`.
pub fn spec_args(spec: &SandboxSpec) -> Result<Vec<String>, LaunchError> {
    let ns = spec.namespaces;
    let mut a: Vec<String> = Vec::new();
    let mut flag = |k: &str, v: String| {
        a.push(k.to_string());
        a.push(v);
    };
    let own = |b: bool| if b { "private" } else { "host" }.to_string();
    flag("--pid", own(ns.pid));
    flag("--ipc", own(ns.ipc));
    flag("--uts", own(ns.uts));
    flag("--cgroupns", own(ns.cgroup));
    flag("--network", if ns.net { "none" } else { "host" }.into());
    // lxcfs's views over the container's /proc files (runc, underneath,
    // allows binds over exactly these).
    for o in &spec.proc_overlays {
        flag(
            "--volume",
            format!("{}:/proc/{}:ro", o.source.display(), o.name),
        );
    }
    if ns.user {
        for m in &spec.uid_map {
            flag(
                "--uidmap",
                format!("{}:{}:{}", m.inside, m.outside, m.count),
            );
        }
        for m in &spec.gid_map {
            flag(
                "--gidmap",
                format!("{}:{}:{}", m.inside, m.outside, m.count),
            );
        }
    }
    if let (Some(h), true) = (&spec.hostname, ns.uts) {
        flag("--hostname", h.clone());
    }
    let l = &spec.limits;
    if let Some(c) = l.cpu_max {
        if c.burst_us.is_some() {
            // A limit this launcher cannot express: scenarios skip the
            // variant that needs it, as for a kernel without the file.
            return Err(LaunchError::Cgroup(
                crate::cgroup::CgroupError::Unsupported(
                    "podman 4.3 has no flag for a CFS burst (cpu.cfs_burst_us)".into(),
                ),
            ));
        }
        if let Some(q) = c.quota_us {
            flag(
                "--cpu-quota",
                translate::v2_quota_to_v1(Some(q)).to_string(),
            );
        }
        flag("--cpu-period", c.period_us.to_string());
    }
    if let Some(w) = l.cpu_weight {
        flag("--cpu-shares", translate::weight_to_shares(w).to_string());
    }
    if let Some(c) = &l.cpuset_cpus {
        flag("--cpuset-cpus", c.to_string());
    }
    if let Some(m) = &l.cpuset_mems {
        flag("--cpuset-mems", m.to_string());
    }
    if let Some(m) = l.memory_max {
        flag("--memory", format!("{m}b"));
        let sw = l.memory_swap_max.unwrap_or(0);
        flag(
            "--memory-swap",
            format!("{}b", translate::swap_to_memsw(m, sw)),
        );
    }
    if let Some(h) = l.memory_high {
        // No flag of its own; runc passes unified keys through on v2.
        flag("--cgroup-conf", format!("memory.high={h}"));
    }
    if let Some(p) = l.pids_max {
        flag("--pids-limit", p.to_string());
    }
    if l.oom_kill_disable {
        a.push("--oom-kill-disable".into());
    }
    Ok(a)
}

/// The container's cgroup, `<parent>/libpod-<id>` in each of the run's
/// hierarchies (runc makes it there from podman's cgroupsPath).
fn container_view(set: &CgroupSet, parent: &str, cid: &str) -> CgroupView {
    let path = format!("{parent}/libpod-{cid}");
    let mut v1 = V1Cgroup::default();
    for (c, h) in &set.hierarchies.v1 {
        if let Some(d) = dir_in(&h.mount.mount_point, &h.mount.root, &path) {
            v1.dirs.insert(*c, d);
        }
    }
    let v2 = set.hierarchies.unified.as_ref().and_then(|h| {
        let dir = dir_in(&h.mount.mount_point, &h.mount.root, &path)?;
        dir.is_dir().then(|| V2Cgroup {
            dir,
            controllers: set.v2_controllers.clone(),
        })
    });
    CgroupView {
        name: format!("libpod-{cid}"),
        v1,
        v2,
    }
}

/// `podman rm -f -t 0 NAME`, then the container's deferred `runc delete`
/// (`cid`, once known), which removes runc's state and the container's
/// cgroup. A container already gone is no error.
fn remove_container(store: &Store, name: &str, cid: Option<&str>) -> Result<(), String> {
    let rm = || match podman(&store.dir, &["rm", "-f", "-t", "0", name]) {
        Err(e) if !e.contains("no such container") => Err(e),
        _ => Ok(()),
    };
    let mut removed = rm();
    // With a user namespace, the exit's `podman container cleanup` may
    // still hold the container's shm mount (`userdata/shm`, EBUSY) when
    // the rm comes: it is a mount in our own store; unmount it and retry.
    if let (Err(e), Some(id)) = (&removed, cid) {
        if e.contains("device or resource busy") {
            unmount_below(&store.dir.join("root").join("vfs-containers").join(id));
            removed = rm();
        }
    }
    // Without the id (podman failed before writing it) nothing is run
    // here: another sandbox's container may be finished but not yet read;
    // the store's removal runs what is left.
    let deferred = match cid {
        Some(id) => run_deferred(&store.dir, &store.runc, Some(id)),
        None => Ok(()),
    };
    removed.and(deferred)
}

/// Runs `spec` as a podman container; returns once the workload is ready
/// and the container's cgroup is known.
pub fn launch(
    spec: &SandboxSpec,
    set: &CgroupSet,
    n: u32,
    workload: &Path,
) -> Result<Running, LaunchError> {
    let program = super::program_path("podman")?;
    let flags = spec_args(spec)?;
    let name = set.sandbox_name(n);
    // One parent for every container of the run, so that their cgroups
    // are siblings, as a runtime's containers are: weights (cpu.shares /
    // cpu.weight) share out the CPU between siblings, and a parent per
    // container would make every container an equal sibling whatever its
    // weight. The store's removal removes the parent (and conmon's cgroup
    // in it); each teardown removes the container's own cgroup.
    let shared = format!(
        "{}{}-podman",
        crate::cgroup::manager::NAME_PREFIX,
        set.run_id
    );
    let parent = cgroup_parent(set, &shared).map_err(LaunchError::Spec)?;
    let store = store(set, workload)?;
    let (ancestors, trees) = planned_cgroups(&parent);
    record_cgroups(&store.dir, &ancestors, &trees)
        .map_err(|e| LaunchError::Setup(format!("podman store {}: {e}", store.dir.display())))?;
    let cidfile = store.dir.join(format!("cid-{n}"));
    let _ = std::fs::remove_file(&cidfile);
    let mut argv: Vec<String> = vec!["podman".into()];
    argv.extend(global_args(&store.dir));
    argv.extend(
        [
            "run",
            "--name",
            &name,
            "--label",
            &format!("{LABEL}={}", store.run_id),
            "--cidfile",
            &cidfile.to_string_lossy(),
            "--pull",
            "never",
            "--read-only",
            "--preserve-fds",
            "1",
            "--env",
            "ISOBENCH_REPORT_FD=3",
            "--cgroup-parent",
            &parent,
        ]
        .map(String::from),
    );
    argv.extend(ulimit_args());
    argv.extend(flags);
    argv.push(store.image.clone());
    argv.push("/isobench-workload".into());
    argv.extend(spec.args.iter().cloned());
    let exec = Exec { program, argv };
    let cleanup_store = store.clone();
    let cleanup_name = name.clone();
    let cleanup_cid = cidfile.clone();
    let cleanup = move || -> Result<(), String> {
        let cid = std::fs::read_to_string(&cleanup_cid).ok();
        let cid = cid.as_deref().map(str::trim);
        let r = remove_container(&cleanup_store, &cleanup_name, cid);
        // runc's delete removed the container's cgroup; whatever is left
        // of it (a delete that failed) goes here.
        let own: Vec<PathBuf> = cid
            .map(|id| {
                trees
                    .iter()
                    .map(|t| t.join(format!("libpod-{id}")))
                    .filter(|d| d.exists())
                    .collect()
            })
            .unwrap_or_default();
        let c = remove_cgroups(&own, &[]);
        let _ = std::fs::remove_file(&cleanup_cid);
        r.and(c)
    };
    let mut r = super::launch_peer(spec, set, n, workload, &exec, CgroupMode::None, cleanup)?;
    r.wait_ready()?;
    // podman writes the cidfile when it creates the container, before start.
    let cid = std::fs::read_to_string(&cidfile)
        .map_err(|e| LaunchError::Setup(format!("podman cidfile {}: {e}", cidfile.display())))?;
    let view = container_view(set, &parent, cid.trim());
    super::require_cgroup("podman", &view)?;
    r.set_peer_cgroup(view);
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::{CpuMax, Limits};

    #[test]
    fn keep_runtime_passes_commands_through_and_defers_delete_until_asked() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        // A stand-in runc that logs its arguments.
        let log = d.path().join("log");
        let fake = d.path().join("runc");
        std::fs::write(
            &fake,
            format!("#!/bin/sh\necho \"$*\" >> '{}'\n", log.display()),
        )
        .unwrap();
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
        write_keep_runtime(d.path(), &fake).unwrap();
        let keep = d.path().join(KEEP_RUNTIME);
        let run = |args: &[&str]| {
            let st = Command::new(&keep).args(args).status().unwrap();
            assert!(st.success(), "{args:?}");
        };
        run(&["--root", "/r", "state", "abc"]);
        run(&["--root", "/r", "delete", "--force", "abc"]);
        run(&["--root", "/r", "delete", "def"]);
        let logged = || std::fs::read_to_string(&log).unwrap_or_default();
        assert_eq!(
            logged(),
            "--root /r state abc\n",
            "delete must not reach runc"
        );
        let deferred = d.path().join(DEFERRED);
        assert_eq!(
            std::fs::read_to_string(deferred.join("abc")).unwrap(),
            "--root\n/r\ndelete\n--force\nabc\n"
        );
        // Only the named container's delete runs; the other waits.
        run_deferred(d.path(), &fake, Some("abc")).unwrap();
        assert_eq!(
            logged(),
            "--root /r state abc\n--root /r delete --force abc\n"
        );
        assert!(!deferred.join("abc").exists() && deferred.join("def").exists());
        run_deferred(d.path(), &fake, None).unwrap();
        assert!(logged().ends_with("--root /r delete def\n"));
        assert_eq!(std::fs::read_dir(&deferred).unwrap().count(), 0);
    }

    #[test]
    fn flags_carry_namespaces_and_limits() {
        let mut spec = SandboxSpec::workload(&["spin"]);
        spec.namespaces = Namespaces::parse("pid,net,mnt").unwrap();
        spec.limits = Limits {
            cpu_max: Some(CpuMax {
                quota_us: Some(20_000),
                period_us: 100_000,
                burst_us: None,
            }),
            memory_max: Some(64 << 20),
            pids_max: Some(32),
            ..Default::default()
        };
        let a = spec_args(&spec).unwrap().join(" ");
        for want in [
            "--pid private",
            "--ipc host",
            "--uts host",
            "--cgroupns host",
            "--network none",
            "--cpu-quota 20000 --cpu-period 100000",
            "--memory 67108864b --memory-swap 67108864b",
            "--pids-limit 32",
        ] {
            assert!(a.contains(want), "{want:?} not in {a}");
        }
        spec.limits.cpu_max = Some(CpuMax {
            quota_us: Some(20_000),
            period_us: 100_000,
            burst_us: Some(5_000),
        });
        let e = spec_args(&spec).unwrap_err().to_string();
        assert!(e.contains("burst"), "{e}");
        assert_eq!(unsupported(&Namespaces::parse("time").unwrap()), ["time"]);
        assert!(unsupported(&Namespaces::parse("pid,net").unwrap()).is_empty());
    }

    #[test]
    fn cgroup_paths_under_each_mount() {
        assert_eq!(
            dir_in(Path::new("/sys/fs/cgroup/cpu"), "/", "/a/b"),
            Some(PathBuf::from("/sys/fs/cgroup/cpu/a/b"))
        );
        assert_eq!(
            dir_in(Path::new("/sys/fs/cgroup/memory"), "/a", "/a/b"),
            Some(PathBuf::from("/sys/fs/cgroup/memory/b"))
        );
        assert_eq!(dir_in(Path::new("/m"), "/x", "/a/b"), None);
    }

    #[test]
    fn recorded_cgroups_are_removed_trees_first_ancestors_only_when_empty() {
        let d = tempfile::tempdir().unwrap();
        let anc = d.path().join("a");
        let tree = anc.join("isobench-x-0");
        std::fs::create_dir_all(tree.join("libpod-1")).unwrap();
        std::fs::create_dir_all(tree.join("conmon")).unwrap();
        let other = d.path().join("b");
        let busy = other.join("someone-elses");
        std::fs::create_dir_all(&busy).unwrap();
        record_cgroups(
            d.path(),
            &[anc.clone(), other.clone()],
            std::slice::from_ref(&tree),
        )
        .unwrap();
        remove_recorded_cgroups(d.path());
        assert!(!tree.exists() && !anc.exists());
        // An ancestor holding someone else's directory stays, with it.
        assert!(busy.is_dir());
    }
}
