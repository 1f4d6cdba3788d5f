//! The debian12 guest: Debian 12 with systemd as PID 1 on pure cgroup v2,
//! where isobench is started the ways users start it. The quick suite must
//! pass or skip with a stated reason (timing checks may warn under TCG),
//! isobench must have taken a delegated scope of its own, and nothing
//! isobench-named may be left in the guest's cgroup tree or unit list.
//!
//! Needs root (the image is built with mmdebstrap once and cached in
//! ~/.cache/isobench/images), qemu and a cached 6.1 kernel; without the
//! latter two it fails, saying what to fetch.

mod common;

use std::process::Command;

use isobench_reports::Status;

fn quick_suite_in_debian12(start: &str) {
    let kernel = common::vm_kernel("6.1");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("d.json");
    let res = Command::new(env!("CARGO_BIN_EXE_isobench"))
        .env("TMPDIR", dir.path())
        .args(["vm", "--guest", "debian12", "--start", start, "--kernel"])
        .arg(&kernel)
        .args(["--timeout", "900", "-o"])
        .arg(&out)
        .args(["--", "run", "--suite", "quick"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    let stdout = String::from_utf8_lossy(&res.stdout);
    println!("{stderr}{stdout}");
    assert_eq!(
        res.status.code(),
        Some(0),
        "debian12 guest ({start}) exited {:?}: {stderr}{stdout}",
        res.status.code()
    );
    assert!(
        stderr.contains("guest cgroup tree after the run: clean"),
        "leftovers in the guest ({start}): {stderr}"
    );
    // The run in the guest left its -self leaf and undid what it enabled
    // (else it warns), and said why it took a scope.
    let console = std::fs::read_to_string(dir.path().join("d.console.log")).unwrap();
    assert!(
        !console.contains("isobench: warning"),
        "warnings in the guest ({start}): {console}"
    );
    assert!(
        console.contains("running in a transient scope isobench-p"),
        "no delegated scope taken ({start}): {console}"
    );
    let r = isobench_reports::read_results(&out).unwrap();
    let env = &r.environment;
    assert_eq!(env.cgroup_mode, "v2");
    assert_eq!(env.cgroup_manager.as_deref(), Some("systemd"));
    assert_eq!(env.init.as_deref(), Some("systemd"));
    let own = env.own_cgroup.clone().unwrap_or_default();
    assert!(
        own.contains("/isobench-p") && own.ends_with(".scope"),
        "isobench ran in {own}, not in a delegated scope of its own"
    );
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for s in &r.scenarios {
        assert!(
            s.error.is_none(),
            "{} ({start}) errored: {:?}",
            s.name,
            s.error
        );
        for c in &s.checks {
            *counts.entry(format!("{:?}", c.status)).or_default() += 1;
            assert_ne!(
                c.status,
                Status::Fail,
                "{} {} ({start}): expected {}, observed {}",
                s.name,
                c.name,
                c.expected,
                c.observed
            );
            if c.status == Status::Skip {
                assert!(!c.detail.is_empty(), "skip without a reason: {c:?}");
            }
        }
    }
    // cpu-quota needs the cpu controller: it must have been delegated.
    let quota = r.scenarios.iter().find(|s| s.name == "cpu-quota").unwrap();
    assert!(
        quota.checks.iter().any(|c| c.status == Status::Pass),
        "cpu-quota did not run ({start}): {:?}",
        quota.checks
    );
    eprintln!("debian12 guest ({start}): checks by status {counts:?}");
}

#[test]
fn debian12_quick_suite_from_a_sudo_login_session() {
    if !common::root_or_skip("vm_systemd::login") {
        return;
    }
    quick_suite_in_debian12("login");
}

#[test]
fn debian12_quick_suite_as_a_service() {
    if !common::root_or_skip("vm_systemd::service") {
        return;
    }
    quick_suite_in_debian12("service");
}

#[test]
fn debian12_quick_suite_under_systemd_run_scope() {
    if !common::root_or_skip("vm_systemd::scope") {
        return;
    }
    quick_suite_in_debian12("scope");
}
