//! Peer launchers through the CLI (needs root; runc, crun, bwrap from the
//! Debian packages that .ci/run installs). A verifier that cannot catch a
//! broken runtime is worthless, so broken custom launchers must fail.

mod common;

use std::process::Output;

use common::isobench;

use isobench_reports::{RunResults, Status};

/// Runs a one-point cpu-quota (20% of a CPU) through `launcher`.
fn quota_run(launcher: &str) -> (Output, RunResults) {
    let (out, out_path, _dir) = common::run_suite(
        "[suite]\nlevel = \"quick\"\n[cpu-quota]\nquotas-pct = [20]\nseconds = 2.0\nrepetitions = 1\n",
        &["--launcher", launcher],
    );
    let r = isobench_reports::read_results(&out_path)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out, r)
}

fn check(r: &RunResults, name: &str) -> Status {
    r.scenarios
        .iter()
        .flat_map(|s| s.checks.iter())
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name} in {:?}", r.scenarios))
        .status
}

fn assert_nothing_left(r: &RunResults) {
    let set = isobench::cgroup::CgroupSet::discover(None).unwrap();
    for base in set.base_dirs() {
        for e in std::fs::read_dir(&base).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            assert!(!n.contains(&r.run_id), "leaked {}", e.path().display());
        }
    }
    if let Ok(rd) = std::fs::read_dir("/run/isobench/bundles") {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            assert!(!n.contains(&r.run_id), "leaked bundle {n}");
        }
    }
}

#[test]
fn runc_enforces_the_quota() {
    if !common::root_or_skip("launchers::runc_enforces_the_quota") {
        return;
    }
    if isobench::env::which("runc").is_none() {
        eprintln!("skipped: runc is not installed (apt-get install runc)");
        return;
    }
    let (out, r) = quota_run("runc");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_ne!(check(&r, "accuracy"), Status::Fail, "{text}");
    assert_eq!(check(&r, "confined"), Status::Pass, "{text}");
    assert!(r
        .scenarios
        .iter()
        .filter(|s| s.name != "harness")
        .all(|s| s.launcher == "runc"));
    assert!(r.environment.launchers.contains_key("runc"));
    assert_nothing_left(&r);
}

#[test]
fn a_custom_launcher_that_drops_the_quota_is_caught() {
    if !common::root_or_skip("launchers::a_custom_launcher_that_drops_the_quota_is_caught") {
        return;
    }
    // Lifts the quota the harness set, then runs the workload.
    let template = "custom:for d in {cgroup}; do \
        if [ -f $d/cpu.cfs_quota_us ]; then echo -1 > $d/cpu.cfs_quota_us; fi; \
        if [ -f $d/cpu.max ]; then echo max > $d/cpu.max; fi; done; exec {workload}";
    let (out, r) = quota_run(template);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(check(&r, "accuracy"), Status::Fail, "{text}");
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_nothing_left(&r);
}

#[test]
fn a_custom_launcher_that_escapes_the_cgroup_is_caught() {
    if !common::root_or_skip("launchers::a_custom_launcher_that_escapes_the_cgroup_is_caught") {
        return;
    }
    // A second cgroup of the test's own: the broken launcher moves the
    // workload there, away from the limits and counters.
    let set = common::set("escape");
    let escape = set.create(0).unwrap();
    let procs: Vec<String> = escape
        .dirs()
        .iter()
        .map(|d| d.join("cgroup.procs").display().to_string())
        .collect();
    let template = format!(
        "custom:for f in {}; do echo $$ > $f; done; exec {{workload}}",
        procs.join(" ")
    );
    let (out, r) = quota_run(&template);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(check(&r, "confined"), Status::Fail, "{text}");
    assert_eq!(check(&r, "accuracy"), Status::Fail, "{text}");
    escape.destroy().unwrap();
    common::assert_clean(&set);
    assert_nothing_left(&r);
}

#[test]
fn crun_is_skipped_with_its_reason_in_hybrid_mode() {
    if !common::root_or_skip("launchers::crun_is_skipped_with_its_reason_in_hybrid_mode") {
        return;
    }
    if isobench::env::which("crun").is_none() {
        eprintln!("skipped: crun is not installed (apt-get install crun)");
        return;
    }
    if isobench::cgroup::detect_mode().unwrap() != isobench::cgroup::Mode::Hybrid {
        eprintln!("skipped: not a hybrid host");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("r.json");
    let out = isobench(&[
        "run",
        "--scenario",
        "cpu-quota",
        "--launcher",
        "crun",
        "-o",
        out_path.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("hybrid mode not supported"), "{err}");
    assert!(!out_path.exists());
}

#[test]
fn unknown_and_malformed_launchers_are_refused() {
    if !common::root_or_skip("launchers::unknown_and_malformed_launchers_are_refused") {
        return;
    }
    for (arg, needle) in [
        ("docker", "unknown launcher"),
        ("custom:", "template"),
        ("custom:run {bogus}", "unknown placeholder"),
    ] {
        let out = isobench(&["run", "--launcher", arg]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(needle), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}
