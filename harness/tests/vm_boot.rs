//! Real boots of a fetched kernel under qemu (`isobench kernels fetch
//! --version 6.1` first). Without a cached kernel or qemu they fail, saying
//! what to install: a VM test never passes without booting.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use isobench_reports::Status;

/// The fetched 6.1 kernel (fails the test, with the fetch or install
/// command, when it or qemu is missing), a TMPDIR for the boot and the
/// results path `results` in it.
fn boot_setup(results: &str) -> (PathBuf, tempfile::TempDir, PathBuf) {
    let kernel = common::vm_kernel("6.1");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join(results);
    (kernel, dir, out)
}

/// Processes whose command line mentions `needle` (our private TMPDIR).
fn processes_mentioning(needle: &Path) -> Vec<String> {
    let needle = needle.to_string_lossy().to_string();
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if !e
            .file_name()
            .to_string_lossy()
            .chars()
            .all(|c| c.is_ascii_digit())
        {
            continue;
        }
        if let Ok(c) = std::fs::read(e.path().join("cmdline")) {
            let c = String::from_utf8_lossy(&c).replace('\0', " ");
            if c.contains(&needle) {
                found.push(c);
            }
        }
    }
    found
}

/// `isobench vm --kernel KERNEL --cgroup v2 --timeout 300 -o OUT -- run
/// --suite quick` with TMPDIR `dir` (its workdir lands there); the caller
/// adds scenarios.
fn vm_v2(dir: &Path, kernel: &Path, out: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_isobench"));
    cmd.env("TMPDIR", dir)
        .arg("vm")
        .arg("--kernel")
        .arg(kernel)
        .args(["--cgroup", "v2", "--timeout", "300", "-o"])
        .arg(out)
        .args(["--", "run", "--suite", "quick"]);
    cmd
}

/// Scenarios of the v2 guest run: the v2 code paths of every controller
/// the guest kernel has (pagecache on the VM runner's scratch disk).
const GUEST_SCENARIOS: [&str; 6] = [
    "cpu-quota",
    "memory-oom",
    "pids",
    "memory-high",
    "pagecache",
    "cpu-weight",
];

/// Checks that must pass in the guest: behaviour, not timing (timing checks
/// such as accuracy or shares may warn under TCG emulation). `confined`
/// in every cpu-quota row; the others wherever the check exists, and at
/// least once.
const GUEST_MUST_PASS: [(&str, &str); 5] = [
    ("cpu-quota", "throttled"),
    ("cpu-quota", "confined"),
    ("memory-oom", "group_killed"),
    ("memory-high", "high_events"),
    ("pagecache", "no_oom_kill"),
];

/// The v2 code paths, on every CI run: six scenarios in one boot. Named
/// behaviour checks must pass, every scenario must pass at least one check,
/// and none may fail except a timing check (emulated time under TCG).
#[test]
fn v2_guest_runs_every_v2_scenario() {
    let (kernel, dir, out) = boot_setup("v.json");
    let mut cmd = vm_v2(dir.path(), &kernel, &out);
    for s in GUEST_SCENARIOS {
        cmd.args(["--scenario", s]);
    }
    let res = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    let stdout = String::from_utf8_lossy(&res.stdout);
    let code = res.status.code();
    assert!(
        matches!(code, Some(0 | 1)),
        "vm exited {code:?}: {stderr}{stdout}"
    );
    let r = isobench_reports::read_results(&out).unwrap();
    assert_eq!(r.environment.cgroup_mode, "v2");
    assert!(
        r.environment.kernel.starts_with("6.1"),
        "{}",
        r.environment.kernel
    );
    let tcg = r.environment.virtualization == "tcg";
    assert!(
        tcg || r.environment.virtualization == "kvm",
        "{}",
        r.environment.virtualization
    );
    for s in &r.scenarios {
        assert!(s.error.is_none(), "{} errored: {:?}", s.name, s.error);
    }
    for name in GUEST_SCENARIOS {
        let rows: Vec<_> = r.scenarios.iter().filter(|s| s.name == name).collect();
        assert!(!rows.is_empty(), "{name} missing:\n{stdout}");
        assert!(
            rows.iter()
                .flat_map(|s| &s.checks)
                .any(|c| c.status == Status::Pass),
            "{name}: no check passed:\n{stdout}"
        );
    }
    for (scenario, check) in GUEST_MUST_PASS {
        let found: Vec<_> = r
            .scenarios
            .iter()
            .filter(|s| s.name == scenario)
            .flat_map(|s| s.checks.iter().filter(|c| c.name == check))
            .collect();
        assert!(!found.is_empty(), "{scenario}: no {check} check:\n{stdout}");
        for c in found {
            assert_eq!(
                c.status,
                Status::Pass,
                "{scenario} {check}: expected {}, observed {}",
                c.expected,
                c.observed
            );
        }
    }
    let quota_rows = r.scenarios.iter().filter(|s| s.name == "cpu-quota");
    for s in quota_rows {
        assert!(
            s.checks.iter().any(|c| c.name == "confined"),
            "cpu-quota {:?}: no confined check",
            s.params
        );
    }
    // Nothing fails; under TCG a timing check may (emulated clocks).
    const TIMING: [&str; 5] = [
        "accuracy",
        "time_to_kill",
        "host_responsive",
        "slowed_above_high",
        "at-limit",
    ];
    for s in &r.scenarios {
        for c in &s.checks {
            let excused =
                tcg && (TIMING.contains(&c.name.as_str()) || c.name.starts_with("share."));
            assert!(
                c.status != Status::Fail || excused,
                "{} {}: expected {}, observed {}",
                s.name,
                c.name,
                c.expected,
                c.observed
            );
        }
    }
    assert!(dir.path().join("v.console.log").is_file());
    assert!(processes_mentioning(dir.path()).is_empty());
}

#[test]
fn hung_guest_is_killed_at_the_deadline() {
    let (kernel, dir, out) = boot_setup("t.json");
    let start = std::time::Instant::now();
    let res = Command::new(env!("CARGO_BIN_EXE_isobench"))
        .env("TMPDIR", dir.path())
        .arg("vm")
        .arg("--kernel")
        .arg(&kernel)
        .args(["--accel", "tcg", "--timeout", "2", "-o"])
        .arg(&out)
        .args(["--", "run", "--suite", "quick"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("gave no results within 2 s"), "{stderr}");
    assert!(start.elapsed().as_secs() < 60);
    assert!(!out.exists(), "no results file on failure");
    assert!(dir.path().join("t.console.log").is_file());
    assert!(processes_mentioning(dir.path()).is_empty());
}

/// qemu processes whose command line mentions `needle`.
fn qemus_mentioning(needle: &Path) -> Vec<String> {
    processes_mentioning(needle)
        .into_iter()
        .filter(|c| c.contains("qemu-system"))
        .collect()
}

/// Polls `ready` every 50 ms for up to 2 minutes; panics naming `what`.
fn wait_for<T>(what: &str, mut ready: impl FnMut() -> Option<T>) -> T {
    let t = std::time::Instant::now();
    loop {
        if let Some(v) = ready() {
            return v;
        }
        assert!(t.elapsed().as_secs() < 120, "gave up waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The VM scratch directories in `dir` (the run's TMPDIR).
fn workdirs_in(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("isobench-vm-"))
        .filter(|e| e.path().is_dir())
        .map(|e| e.path())
        .collect()
}

/// A SIGKILLed `isobench vm` leaves its scratch directory (and, had its
/// parent-death signal not reached qemu, a running qemu); `isobench
/// cleanup` removes what is left: no qemu, no workdir, no results.
#[test]
fn sigkilled_vm_run_leaves_nothing_after_cleanup() {
    let (kernel, dir, out) = boot_setup("v.json");
    let mut vm = vm_v2(dir.path(), &kernel, &out)
        .args(["--scenario", "cpu-quota"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    struct KillOnDrop<'a>(&'a mut std::process::Child);
    impl Drop for KillOnDrop<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let vm = KillOnDrop(&mut vm);
    wait_for("qemu to start", || {
        (!qemus_mentioning(dir.path()).is_empty()).then_some(())
    });
    let workdirs = workdirs_in(dir.path());
    assert_eq!(workdirs.len(), 1, "{workdirs:?}");

    // SAFETY: kill(2) on our own child, not yet reaped.
    assert_eq!(unsafe { libc::kill(vm.0.id() as i32, libc::SIGKILL) }, 0);
    let status = vm.0.wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(libc::SIGKILL)
    );
    assert!(workdirs[0].is_dir(), "SIGKILL leaves the workdir");

    let c = Command::new(env!("CARGO_BIN_EXE_isobench"))
        .env("TMPDIR", dir.path())
        .arg("cleanup")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&c.stdout);
    assert_eq!(c.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!("removed {}", workdirs[0].display())),
        "{text}"
    );
    assert!(workdirs_in(dir.path()).is_empty(), "{text}");
    // A qemu killed by either may linger as a zombie until init reaps it.
    wait_for("no qemu of the killed run", || {
        qemus_mentioning(dir.path()).is_empty().then_some(())
    });
    assert!(!out.exists());
}
