//! The CLI as a user runs it: exit codes, one-line errors, no half-written
//! results, and the cpu-quota scenario end to end (needs root).

mod common;

use std::path::Path;
use std::process::Output;

use common::isobench;

fn assert_usage_error(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {err}");
    assert!(lines[0].contains(needle), "{:?} lacks {needle:?}", lines[0]);
}

#[test]
fn unknown_scenario_is_one_line_exit_2_and_no_file() {
    let (out, out_path, _dir) = common::isobench_out(&["run", "--scenario", "nope"]);
    assert_usage_error(&out, "unknown scenario \"nope\"");
    assert!(!out_path.exists());
}

#[test]
fn unwritable_output_is_refused_before_running() {
    let out = isobench(&[
        "run",
        "--scenario",
        "cpu-quota",
        "-o",
        "/nonexistent-dir/r.json",
    ]);
    assert_usage_error(&out, "/nonexistent-dir/r.json");
}

#[test]
fn bad_namespaces_and_flags() {
    assert_usage_error(&isobench(&["run", "--namespaces", "pid,bogus"]), "bogus");
    assert_usage_error(&isobench(&["run", "--frobnicate"]), "--frobnicate");
    assert_usage_error(
        &isobench(&["run", "--launcher", "nope"]),
        "unknown launcher",
    );
}

#[test]
fn bad_suite_files() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("[cpu-quota]\nsekonds = 3\n", "sekonds"),
        ("[cpu-quota]\nperiods-ms = [5000]\n", "period"),
        ("[cpu-quota]\nquotas-pct = [-5]\n", "quota"),
        ("[cpu-quota]\nrepetitions = -1\n", "repetitions"),
        ("[memory-bogus]\n", "memory-bogus"),
        ("this is not toml = = \n", "suite"),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let p = dir.path().join(format!("s{i}.toml"));
        std::fs::write(&p, text).unwrap();
        let out = isobench(&["run", "--suite", p.to_str().unwrap()]);
        assert_usage_error(&out, needle);
    }
    assert_usage_error(
        &isobench(&["run", "--suite", "/no/such/suite.toml"]),
        "/no/such/suite.toml",
    );
}

#[test]
fn env_reports_the_detected_mode() {
    let out = isobench(&["env"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let mode = isobench::cgroup::detect_mode().unwrap();
    assert!(
        text.lines()
            .any(|l| l.starts_with("cgroup mode:") && l.ends_with(mode.as_str())),
        "{text}"
    );
    let out = isobench(&["env", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["cgroup_mode"], mode.as_str());
}

#[test]
fn list_names_every_scenario() {
    let out = isobench(&["list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for n in isobench::scenarios::NAMES {
        assert!(text.contains(n), "{n} missing from list");
    }
}

/// cpu-quota through the CLI: accuracy within ±5% (or an explicit
/// starvation warning when the host was busy), throttling seen, results
/// valid, nothing left behind.
#[test]
fn cpu_quota_end_to_end() {
    if !common::root_or_skip("cli::cpu_quota_end_to_end") {
        return;
    }
    let (out, out_path, _dir) = common::run_suite(
        "[suite]\nlevel = \"quick\"\n[cpu-quota]\nquotas-pct = [20, 50]\nseconds = 3.0\nrepetitions = 1\n",
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let r = isobench_reports::read_results(&out_path).unwrap();
    let points: Vec<_> = r
        .scenarios
        .iter()
        .filter(|s| s.name == "cpu-quota")
        .collect();
    assert_eq!(points.len(), 2, "{stdout}");
    assert!(r.scenarios.iter().any(|s| s.name == "harness"));
    for sc in points {
        assert!(sc.error.is_none(), "{:?}", sc.error);
        let acc = sc.metrics.iter().find(|m| m.name == "accuracy").unwrap();
        let load = sc
            .metrics
            .iter()
            .find(|m| m.name == "host_other_load")
            .unwrap();
        let check = sc.checks.iter().find(|c| c.name == "accuracy").unwrap();
        for a in &acc.samples {
            assert!(
                *a < 1.05,
                "CPU time above the quota: accuracy {a} ({stdout})"
            );
            if *a < 0.95 {
                // Only acceptable as a flagged starvation on a busy host.
                assert_eq!(check.status, isobench_reports::Status::Warn, "{stdout}");
                assert!(load.summary.max > 0.25, "{stdout}");
            }
        }
        let thr = sc.checks.iter().find(|c| c.name == "throttled").unwrap();
        assert_eq!(thr.status, isobench_reports::Status::Pass, "{stdout}");
    }
    assert!(out.status.code() == Some(0) || out.status.code() == Some(1));
    assert_eq!(
        r.environment.cgroup_mode,
        isobench::cgroup::detect_mode().unwrap().as_str()
    );
    // Nothing of this run left in any hierarchy.
    let set = isobench::cgroup::CgroupSet::discover(None).unwrap();
    for base in set.base_dirs() {
        for e in std::fs::read_dir(&base).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            assert!(!n.contains(&r.run_id), "leaked {}", e.path().display());
        }
    }
    // The results file is complete JSON (written atomically).
    assert!(Path::new(&out_path).exists());
}

/// A newcomer's run without `-o` writes `isobench-<run id>.json` in the
/// current directory and says so; `-o -` puts the JSON on stdout and the
/// human summary on stderr.
#[test]
fn results_go_to_a_printed_default_path_or_stdout() {
    if !common::root_or_skip("cli::results_go_to_a_printed_default_path_or_stdout") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("s.toml");
    std::fs::write(
        &suite,
        "[suite]\nlevel = \"quick\"\nscenarios = [\"cpuset\"]\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_isobench"))
        .current_dir(dir.path())
        .args(["run", "--suite", suite.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stdout}");
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("results: "))
        .unwrap_or_else(|| panic!("no results line: {stdout}"));
    assert!(
        line.starts_with("isobench-p") && line.ends_with(".json"),
        "{line}"
    );
    let r = isobench_reports::read_results(&dir.path().join(line)).unwrap();
    assert!(line.contains(&r.run_id), "{line} vs {}", r.run_id);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_isobench"))
        .current_dir(dir.path())
        .args(["run", "--suite", suite.to_str().unwrap(), "-o", "-"])
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)));
    let r: isobench_reports::RunResults = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not results JSON: {e}"));
    assert!(r.scenarios.iter().any(|s| s.name == "cpuset"));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("passed"), "summary not on stderr: {err}");
    // Only the first run's file is there: `-o -` wrote none.
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("isobench-"))
        .collect();
    assert_eq!(files.len(), 1);
}
