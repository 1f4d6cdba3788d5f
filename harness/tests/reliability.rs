//! Faults, for real (needs root): SIGKILL and `isobench cleanup` next to a
//! live run, two runs at once, SIGTERM mid-run, results written atomically
//! or not at all, and hung sandboxes (frozen cgroup, stopped process) that
//! the deadline catches.
//!
//! Every process a test starts is killed by a guard when the test ends,
//! passes or fails, and every test ends with `isobench cleanup`, which only
//! removes what dead runs left. Waits are event-driven (a cgroup appears, a
//! line is printed, a process exits) under generous deadlines; nothing
//! asserts how fast the machine is.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use isobench::cgroup::{manager, Cgroup, CgroupSet, Controller};
use isobench::sandbox::{self, workload, Exit, SandboxSpec};
use isobench_reports::RunResults;

/// How long any awaited event may take before the test gives up.
const PATIENCE: Duration = Duration::from_secs(120);

fn isobench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_isobench"))
}

/// Polls `ready` every 20 ms until it returns Some, or panics after
/// [`PATIENCE`] naming `what`.
fn wait_for<T>(what: &str, mut ready: impl FnMut() -> Option<T>) -> T {
    let t = Instant::now();
    loop {
        if let Some(v) = ready() {
            return v;
        }
        assert!(t.elapsed() < PATIENCE, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An `isobench run` in the background: killed and reaped on drop, its
/// stdout and stderr in files.
struct Run {
    child: Option<Child>,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Run {
    fn start(dir: &Path, tag: &str, args: &[&str]) -> Run {
        let stdout = dir.join(format!("{tag}.out"));
        let stderr = dir.join(format!("{tag}.err"));
        let child = isobench()
            .arg("run")
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("start isobench run");
        Run {
            child: Some(child),
            stdout,
            stderr,
        }
    }

    /// `isobench run --suite SUITE -o OUT`.
    fn suite(dir: &Path, tag: &str, suite: &str, out: &Path) -> Run {
        Run::start(dir, tag, &["--suite", suite, "-o", out.to_str().unwrap()])
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().expect("running").id() as i32
    }

    fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child, which has not been reaped yet.
        assert_eq!(unsafe { libc::kill(self.pid(), sig) }, 0);
    }

    fn running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    fn wait(&mut self) -> ExitStatus {
        let mut c = self.child.take().expect("running");
        wait_for("isobench run to exit", || c.try_wait().ok().flatten())
    }

    /// Waits until the run has a sandbox cgroup with a process in it;
    /// returns its cgroup directories.
    fn sandbox(&self) -> Vec<PathBuf> {
        let pid = self.pid();
        wait_for(&format!("a sandbox of run {pid}"), || {
            let d = cgroups_of(pid);
            (!procs_in(&d).is_empty()).then_some(d)
        })
    }

    /// Waits for the run to end by itself (exit 0 or 1) with complete
    /// results in `out` that hold cpu-quota.
    fn ends_normally_with_cpu_quota(&mut self, out: &Path) {
        self.exits_with(&[0, 1]);
        let r = valid_results(out);
        assert!(!r.interrupted);
        assert!(r.scenarios.iter().any(|s| s.name == "cpu-quota"));
    }

    /// Waits for the run to exit with one of `codes`.
    fn exits_with(&mut self, codes: &[i32]) {
        let status = self.wait();
        assert!(
            status.code().is_some_and(|c| codes.contains(&c)),
            "{status:?}, not one of {codes:?}\n{}\n{}",
            self.stdout(),
            self.stderr()
        );
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Runs `isobench cleanup` on drop: whatever a failed test left of runs it
/// killed goes away (live runs are never touched by it).
struct CleanupOnDrop;

impl Drop for CleanupOnDrop {
    fn drop(&mut self) {
        let _ = isobench().arg("cleanup").output();
    }
}

fn host_set() -> CgroupSet {
    CgroupSet::discover(None).expect("cgroup discovery")
}

/// Every isobench cgroup directory owned by `pid`, in every hierarchy.
fn cgroups_of(pid: i32) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for base in host_set().base_dirs() {
        for e in std::fs::read_dir(&base).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if manager::owner_pid(&name) == Some(pid) {
                v.push(e.path());
            }
        }
    }
    v.sort();
    v
}

/// The processes in some cgroup directories.
fn procs_in(dirs: &[PathBuf]) -> Vec<i32> {
    let mut v: Vec<i32> = dirs
        .iter()
        .filter_map(|d| std::fs::read_to_string(d.join("cgroup.procs")).ok())
        .flat_map(|t| {
            t.lines()
                .filter_map(|l| l.trim().parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Whether `pid` is gone (or a zombie waiting for its new parent).
fn dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(s) => s
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.trim_start().starts_with(['Z', 'X'])),
    }
}

/// The run id in a sandbox cgroup's name (`isobench-<run id>-<n>`).
fn run_id_of(dir: &Path) -> String {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let rest = name.strip_prefix(manager::NAME_PREFIX).unwrap();
    rest.rsplit_once('-').unwrap().0.to_string()
}

/// Where the native launcher stages minimal rootfs mounts of a run.
fn staging_dir(run_id: &str) -> PathBuf {
    let base = if Path::new("/run").is_dir() {
        PathBuf::from("/run/isobench")
    } else {
        std::env::temp_dir().join("isobench")
    };
    base.join(format!("root-{run_id}"))
}

/// A suite file in `dir`.
fn suite(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

/// A quick-level suite: `scenarios` (all when empty), then `tables`.
fn quick_suite(scenarios: &[&str], tables: &str) -> String {
    let mut text = "[suite]\nlevel = \"quick\"\n".to_string();
    if !scenarios.is_empty() {
        let quoted: Vec<String> = scenarios.iter().map(|s| format!("{s:?}")).collect();
        text += &format!("scenarios = [{}]\n", quoted.join(", "));
    }
    text + tables
}

fn long_cpu_quota(seconds: u32) -> String {
    quick_suite(&[], &cpu_quota_table(seconds))
}

/// One 20 % cpu-quota repetition of `seconds`.
fn cpu_quota_table(seconds: u32) -> String {
    format!("[cpu-quota]\nquotas-pct = [20]\nseconds = {seconds}.0\nrepetitions = 1\n")
}

/// A results file that parses and holds no scenario error.
fn valid_results(path: &Path) -> RunResults {
    let r =
        isobench_reports::read_results(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for s in &r.scenarios {
        assert!(
            s.error.is_none(),
            "{} [{}]: {:?}",
            s.name,
            s.launcher,
            s.error
        );
    }
    r
}

/// Nothing but `keep` in `dir` (no `.r.json.tmp-*` beside the output).
fn only(dir: &Path, keep: &[&str]) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".out") && !n.ends_with(".err") && !n.ends_with(".toml"))
        .collect();
    names.sort();
    assert_eq!(names, keep, "in {}", dir.display());
}

/// A process that exited right away: its pid is the owner of nothing alive.
fn dead_pid() -> i32 {
    let mut c = Command::new("true").spawn().unwrap();
    let pid = c.id() as i32;
    c.wait().unwrap();
    pid
}

#[test]
fn sigkill_leaves_what_cleanup_removes_without_disturbing_a_live_run() {
    if !common::root_or_skip(
        "reliability::sigkill_leaves_what_cleanup_removes_without_disturbing_a_live_run",
    ) {
        return;
    }
    let _cleanup = CleanupOnDrop;
    let dir = tempfile::tempdir().unwrap();
    let long = suite(dir.path(), "long.toml", &long_cpu_quota(60));
    let a_out = dir.path().join("a.json");
    let b_out = dir.path().join("b.json");
    let mut a = Run::suite(dir.path(), "a", &long, &a_out);
    let a_pid = a.pid();
    let a_dirs = a.sandbox();
    let a_procs = procs_in(&a_dirs);
    let a_run = run_id_of(&a_dirs[0]);

    // A second run, alive while cleanup runs (started before A dies, so its
    // own start-of-run cleanup finds nothing of A's to remove).
    let b_suite = suite(dir.path(), "b.toml", &long_cpu_quota(15));
    let mut b = Run::suite(dir.path(), "b", &b_suite, &b_out);
    let b_pid = b.pid();
    let b_dirs = b.sandbox();

    // A stale bundle of a dead run, as a SIGKILLed runc run leaves it.
    let bundle = Path::new("/run/isobench/bundles").join(format!(
        "{}p{}-{:08x}-0",
        manager::NAME_PREFIX,
        dead_pid(),
        std::process::id()
    ));
    std::fs::create_dir_all(bundle.join("rootfs")).unwrap();

    a.signal(libc::SIGKILL);
    let status = a.wait();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    // What SIGKILL leaves: the cgroups, the workload in them, the staging
    // dir; and no results file.
    assert!(a_dirs.iter().all(|d| d.is_dir()), "{a_dirs:?}");
    assert!(a_procs.iter().all(|p| !dead(*p)), "{a_procs:?}");
    assert!(staging_dir(&a_run).is_dir());
    assert!(!a_out.exists());

    let out = isobench().arg("cleanup").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(cgroups_of(a_pid).is_empty(), "{text}");
    for d in &a_dirs {
        assert!(text.contains(&d.display().to_string()), "{d:?} in {text}");
    }
    wait_for("run A's workload to die", || {
        a_procs.iter().all(|p| dead(*p)).then_some(())
    });
    assert!(!staging_dir(&a_run).exists(), "{text}");
    assert!(!bundle.exists(), "{text}");

    // B was not touched: still running, its cgroups and workload in place
    // (it spins for 15 s), then it ends normally with its results.
    if b.running() {
        assert!(b_dirs.iter().all(|d| d.is_dir()), "{b_dirs:?}");
    }
    b.ends_normally_with_cpu_quota(&b_out);
    assert!(cgroups_of(b_pid).is_empty());
    only(dir.path(), &["b.json"]);
}

/// `RUNTIME state ID`: whether the runtime still knows the container.
fn container_exists(runtime: &Path, id: &str) -> bool {
    container_state(runtime, id).is_some()
}

/// `RUNTIME state ID`'s status ("running", "stopped", …), if it knows it.
fn container_state(runtime: &Path, id: &str) -> Option<String> {
    let out = Command::new(runtime)
        .args(["state", id])
        .output()
        .expect("run the runtime");
    if !out.status.success() {
        return None;
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["status"].as_str().map(String::from)
}

/// `RUNTIME delete -f ID` on drop, so a failed test leaves no container.
struct DeleteOnDrop(PathBuf, String);

impl Drop for DeleteOnDrop {
    fn drop(&mut self) {
        let _ = Command::new(&self.0)
            .args(["delete", "-f", &self.1])
            .output();
    }
}

/// A SIGKILLed `--launcher runc` run leaves a real container (and its
/// cgroup, bundle and workload); `isobench cleanup` deletes the container
/// through runc, so `runc state` fails afterwards, and nothing is left.
#[test]
fn sigkilled_runc_run_leaves_a_container_that_cleanup_deletes() {
    let Some(runc) = common::tool("runc", "runc", "runc") else {
        return;
    };
    let _cleanup = CleanupOnDrop;
    let dir = tempfile::tempdir().unwrap();
    let long = suite(dir.path(), "long.toml", &long_cpu_quota(60));
    let out = dir.path().join("r.json");
    let mut run = Run::start(
        dir.path(),
        "runc",
        &[
            "--suite",
            &long,
            "--launcher",
            "runc",
            "-o",
            out.to_str().unwrap(),
        ],
    );
    let pid = run.pid();
    // The spinner's container (other sandboxes of the run come and go).
    let prefix = format!("{}p{pid}-", manager::NAME_PREFIX);
    let id = wait_for("a running container of the run", || {
        let out = Command::new(&runc).args(["list", "-q"]).output().ok()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|id| {
                id.starts_with(&prefix) && container_state(&runc, id).as_deref() == Some("running")
            })
            .map(String::from)
    });
    let _container = DeleteOnDrop(runc.clone(), id.clone());
    let dirs: Vec<PathBuf> = cgroups_of(pid)
        .into_iter()
        .filter(|d| d.ends_with(&id))
        .collect();
    let procs = procs_in(&dirs);
    assert!(!procs.is_empty(), "no process in {id}'s cgroups {dirs:?}");
    let bundle = Path::new("/run/isobench/bundles").join(&id);
    assert!(bundle.is_dir(), "{}", bundle.display());

    run.signal(libc::SIGKILL);
    run.wait();
    // SIGKILL leaves the container behind.
    let state = container_state(&runc, &id);
    assert!(state.is_some(), "{id} vanished before cleanup");

    let c = isobench().arg("cleanup").output().unwrap();
    let text = String::from_utf8_lossy(&c.stdout);
    assert_eq!(c.status.code(), Some(0), "{text}");
    assert!(
        !container_exists(&runc, &id),
        "{id} survived cleanup: {text}"
    );
    assert!(!bundle.exists(), "{text}");
    wait_for("the container's processes to die", || {
        procs.iter().all(|p| dead(*p)).then_some(())
    });
    assert!(cgroups_of(pid).is_empty(), "{:?}: {text}", cgroups_of(pid));
    assert!(!out.exists());
}

/// Runs `tail -f FILE` under the name qemu-system-x86_64 (comm
/// `qemu-system-x86`): a stand-in for a qemu booted from a VM workdir.
/// Killed and reaped on drop.
struct FakeQemu(Child);

impl FakeQemu {
    fn start(bin_dir: &Path, file: &Path) -> FakeQemu {
        let bin = bin_dir.join("qemu-system-x86_64");
        if !bin.exists() {
            std::fs::copy("/usr/bin/tail", &bin).unwrap();
        }
        std::fs::write(file, "").unwrap();
        let child = Command::new(&bin)
            .arg("-f")
            .arg(file)
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        FakeQemu(child)
    }

    /// Whether it is still running (not killed).
    fn running(&mut self) -> bool {
        matches!(self.0.try_wait(), Ok(None))
    }
}

impl Drop for FakeQemu {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `isobench cleanup` removes the VM workdir of a dead `isobench vm` run
/// and kills a qemu still booted from it, and leaves a live run's alone.
#[test]
fn cleanup_removes_dead_vm_workdirs_and_their_qemu() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = tempfile::tempdir().unwrap();
    let me = manager::Owner::current();
    let dead_dir = tmp.path().join(format!("isobench-vm-{}-t1-0", dead_pid()));
    let live_dir = tmp.path().join(format!(
        "isobench-vm-{}-0",
        me.tag().trim_start_matches('p')
    ));
    for d in [&dead_dir, &live_dir] {
        std::fs::create_dir(d).unwrap();
    }
    let mut orphan = FakeQemu::start(bin.path(), &dead_dir.join("console.log"));
    let mut live = FakeQemu::start(bin.path(), &live_dir.join("console.log"));
    let orphan_pid = orphan.0.id();

    let c = isobench()
        .arg("cleanup")
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&c.stdout);
    assert_eq!(c.status.code(), Some(0), "{text}");
    assert!(!dead_dir.exists(), "{text}");
    assert!(
        text.contains(&format!("killed qemu {orphan_pid}")),
        "{text}"
    );
    wait_for("the orphaned qemu to die", || {
        (!orphan.running()).then_some(())
    });
    assert!(
        live_dir.is_dir(),
        "a live run's workdir was removed: {text}"
    );
    assert!(live.running(), "a live run's qemu was killed: {text}");
}

/// Sets a directory's mtime (utimensat through std).
fn set_mtime(dir: &Path, t: std::time::SystemTime) {
    std::fs::File::open(dir)
        .and_then(|f| f.set_times(std::fs::FileTimes::new().set_modified(t)))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
}

/// A forward step of the wall clock during a run, simulated without
/// touching the clock: every object of a live run gets an mtime a day and
/// a year before its owner started (as a step makes it look). `isobench
/// cleanup` must still judge the run alive: its cgroups, workload and
/// staging dir stay, and the run ends normally with its results.
#[test]
fn a_clock_step_does_not_make_cleanup_touch_a_live_run() {
    let _cleanup = CleanupOnDrop;
    let dir = tempfile::tempdir().unwrap();
    let s = suite(dir.path(), "s.toml", &long_cpu_quota(8));
    let out = dir.path().join("r.json");
    let mut run = Run::suite(dir.path(), "run", &s, &out);
    let dirs = run.sandbox();
    let procs = procs_in(&dirs);
    let staging = staging_dir(&run_id_of(&dirs[0]));
    let now = std::time::SystemTime::now();
    for back in [86_400, 365 * 86_400] {
        for d in dirs.iter().chain([&staging]) {
            set_mtime(d, now - Duration::from_secs(back));
        }
        let c = isobench().arg("cleanup").output().unwrap();
        let text = String::from_utf8_lossy(&c.stdout);
        assert_eq!(c.status.code(), Some(0), "{text}");
        for d in dirs.iter().chain([&staging]) {
            assert!(
                d.is_dir(),
                "cleanup removed {} of a live run: {text}",
                d.display()
            );
            assert!(!text.contains(&d.display().to_string()), "{text}");
        }
        assert!(
            procs.iter().all(|p| !dead(*p)),
            "cleanup killed the workload: {text}"
        );
        // Back to the truth at once: an isobench of an older version (one
        // judging by mtime) running its own cleanup on this machine would
        // take the run for dead, which is the bug this test is about.
        for d in dirs.iter().chain([&staging]) {
            set_mtime(d, now);
        }
    }
    run.ends_normally_with_cpu_quota(&out);
}

#[test]
fn two_runs_at_once_both_succeed() {
    if !common::root_or_skip("reliability::two_runs_at_once_both_succeed") {
        return;
    }
    let _cleanup = CleanupOnDrop;
    let dir = tempfile::tempdir().unwrap();
    let text = quick_suite(
        &["pids", "memory-oom"],
        "[pids]\nrepetitions = 1\n[memory-oom]\nrepetitions = 1\n",
    );
    let s = suite(dir.path(), "s.toml", &text);
    let outs = [dir.path().join("one.json"), dir.path().join("two.json")];
    let mut runs: Vec<Run> = outs
        .iter()
        .enumerate()
        .map(|(i, o)| Run::suite(dir.path(), &format!("run{i}"), &s, o))
        .collect();
    let pids: Vec<i32> = runs.iter().map(Run::pid).collect();
    let mut ids = Vec::new();
    for (run, out) in runs.iter_mut().zip(&outs) {
        run.exits_with(&[0]);
        let r = valid_results(out);
        assert!(!r.interrupted);
        for name in ["pids", "memory-oom"] {
            assert!(r.scenarios.iter().any(|s| s.name == name), "{name}");
        }
        ids.push(r.run_id);
    }
    assert_ne!(ids[0], ids[1]);
    for p in pids {
        assert!(cgroups_of(p).is_empty());
    }
    only(dir.path(), &["one.json", "two.json"]);
}

#[test]
fn sigterm_mid_run_saves_what_completed_and_leaves_nothing() {
    if !common::root_or_skip("reliability::sigterm_mid_run_saves_what_completed_and_leaves_nothing")
    {
        return;
    }
    let _cleanup = CleanupOnDrop;
    let dir = tempfile::tempdir().unwrap();
    let text = quick_suite(&["isolation", "cpu-quota"], &cpu_quota_table(60));
    let s = suite(dir.path(), "s.toml", &text);
    let out = dir.path().join("r.json");
    let mut run = Run::suite(dir.path(), "run", &s, &out);
    let pid = run.pid();
    // isolation is done once cpu-quota has started and its spinner runs.
    wait_for("cpu-quota to start", || {
        run.stderr()
            .contains("cpu-quota (native) ...")
            .then_some(())
    });
    let dirs = run.sandbox();
    let procs = procs_in(&dirs);
    let run_id = run_id_of(&dirs[0]);

    run.signal(libc::SIGTERM);
    run.exits_with(&[143]);
    let r = valid_results(&out);
    assert!(r.interrupted);
    assert!(r.scenarios.iter().any(|s| s.name == "isolation"));
    assert!(!r.scenarios.iter().any(|s| s.name == "cpu-quota"));
    // Nothing of the run left: cgroups, workload, staging dir, temp file.
    assert!(cgroups_of(pid).is_empty());
    assert!(procs.iter().all(|p| dead(*p)), "{procs:?}");
    assert!(!staging_dir(&run_id).exists());
    only(dir.path(), &["r.json"]);
}

/// A tmpfs mounted on a fresh temp dir, unmounted on drop.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn new() -> Tmpfs {
        let d = tempfile::tempdir().unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            d.path(),
            Some("tmpfs"),
            nix::mount::MsFlags::empty(),
            Some("size=1m"),
        )
        .unwrap();
        Tmpfs(d)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn read_only(&self) {
        nix::mount::mount(
            None::<&str>,
            self.path(),
            None::<&str>,
            nix::mount::MsFlags::MS_REMOUNT | nix::mount::MsFlags::MS_RDONLY,
            None::<&str>,
        )
        .unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(self.path(), nix::mount::MntFlags::MNT_DETACH);
    }
}

fn assert_one_line_exit_2(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("isobench: ["))
        .filter(|l| !l.contains("took") && !l.starts_with("isobench: removed"))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(lines[0].contains(needle), "{:?} lacks {needle:?}", lines[0]);
}

#[test]
fn unwritable_outputs_give_exit_2_and_no_file() {
    if !common::root_or_skip("reliability::unwritable_outputs_give_exit_2_and_no_file") {
        return;
    }
    let _cleanup = CleanupOnDrop;
    // Read-only from the start: refused before anything runs.
    let ro = Tmpfs::new();
    ro.read_only();
    let target = ro.path().join("r.json");
    let isolation_to = |out: &Path| {
        let out = out.to_str().unwrap();
        isobench()
            .args(["run", "--scenario", "isolation", "-o", out])
            .output()
            .unwrap()
    };
    let out = isolation_to(&target);
    assert_one_line_exit_2(&out, &target.display().to_string());
    only(ro.path(), &[]);
    // A directory as the output path.
    let d = tempfile::tempdir().unwrap();
    let out = isolation_to(d.path());
    assert_one_line_exit_2(&out, &d.path().display().to_string());

    // Writable at the start, read-only by the end: no file, no temp file.
    let fs = Tmpfs::new();
    let target = fs.path().join("r.json");
    let dir = tempfile::tempdir().unwrap();
    let s = suite(dir.path(), "s.toml", &long_cpu_quota(3));
    let mut run = Run::suite(dir.path(), "run", &s, &target);
    let pid = run.pid();
    wait_for("the run's sandbox", || {
        (!cgroups_of(pid).is_empty()).then_some(())
    });
    fs.read_only();
    run.exits_with(&[2]);
    let err = run.stderr();
    let last = err.lines().last().unwrap_or("");
    assert!(
        last.contains("cannot write") && last.contains(&target.display().to_string()),
        "{err}"
    );
    only(fs.path(), &[]);
    assert!(cgroups_of(pid).is_empty());
}

/// A sandbox that hangs (`hang` makes it so once it is ready) is killed at
/// its deadline: `wait_exit` says TimedOut, not before the deadline, and
/// teardown removes every cgroup.
fn hung_sandbox_times_out(test: &str, hang: impl FnOnce(&sandbox::Running)) {
    let set = common::set(test);
    let mut spec = SandboxSpec::workload(&["spin", "--threads", "1", "--seconds", "600"]);
    spec.deadline = Duration::from_secs(3);
    let wl = workload::path().unwrap();
    let mut r = sandbox::launch(&spec, &set, 0, &wl, None).unwrap();
    r.wait_ready().unwrap();
    hang(&r);
    let dirs = r.cgroup_dirs();
    assert_eq!(r.wait_exit().unwrap(), Exit::TimedOut);
    assert!(r.elapsed() >= spec.deadline);
    assert!(r.cgroup().pids().unwrap().is_empty());
    r.teardown().unwrap();
    for d in dirs {
        assert!(!d.exists(), "{} left", d.display());
    }
    common::assert_clean(&set);
}

#[test]
fn a_frozen_sandbox_is_killed_at_its_deadline() {
    if !common::root_or_skip("reliability::a_frozen_sandbox_is_killed_at_its_deadline") {
        return;
    }
    hung_sandbox_times_out("frozen", |r| {
        let v = r.cgroup();
        let (file, value) = match (v.v1.dirs.get(&Controller::Freezer), &v.v2) {
            (Some(d), _) => (d.join("freezer.state"), "FROZEN"),
            (None, Some(v2)) => (v2.dir.join("cgroup.freeze"), "1"),
            (None, None) => panic!("no freezer: {v:?}"),
        };
        std::fs::write(&file, value).unwrap();
        // Frozen for real: the state file says so once every task stopped.
        if value == "FROZEN" {
            wait_for("the freezer to settle", || {
                let s = std::fs::read_to_string(&file).unwrap();
                (s.trim() == "FROZEN").then_some(())
            });
        }
    });
}

#[test]
fn a_stopped_workload_is_killed_at_its_deadline() {
    if !common::root_or_skip("reliability::a_stopped_workload_is_killed_at_its_deadline") {
        return;
    }
    hung_sandbox_times_out("stopped", |r| {
        // SAFETY: kill(2) on the sandbox's own process.
        assert_eq!(unsafe { libc::kill(r.pid, libc::SIGSTOP) }, 0);
    });
}

#[test]
fn stale_staging_dirs_of_dead_runs_only_are_removed() {
    if !common::root_or_skip("reliability::stale_staging_dirs_of_dead_runs_only_are_removed") {
        return;
    }
    let base = tempfile::tempdir().unwrap();
    let dead = base.path().join(format!("root-p{}-0badf00d", dead_pid()));
    let live = base
        .path()
        .join(format!("root-p{}-0badf00d", std::process::id()));
    let other = base.path().join("root-not-a-run");
    let full = base.path().join(format!("root-p{}-feedf00d", dead_pid()));
    for d in [&dead, &live, &other, &full] {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::write(full.join("x"), "").unwrap();
    let removed = isobench::run::cleanup_stale_staging(base.path());
    assert_eq!(removed, std::slice::from_ref(&dead));
    assert!(!dead.exists() && live.exists() && other.exists() && full.exists());
}
