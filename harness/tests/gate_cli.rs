//! `isobench compare` and `calibrate` as a user runs them (no root needed):
//! the three designs, lost coverage, and bad input (exit 2: our own errors
//! one line, those clap finds as clap renders them).

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use isobench_reports::fixture::{demo_results, scenario};
use isobench_reports::{Better, Check, Metric, RunResults, Status};
use serde_json::json;

fn write(dir: &Path, name: &str, r: &RunResults) -> PathBuf {
    let p = dir.join(name);
    isobench_reports::write_results(&p, r).unwrap();
    p
}

fn with_suite(mut r: RunResults, suite: &str) -> RunResults {
    r.scenarios
        .push(scenario("harness", "isobench", json!({ "suite": suite })));
    r
}

fn run(args: &[&str]) -> Output {
    common::isobench(args)
}

fn one_line_exit_2(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains(needle), "{needle:?} not in {err}");
}

/// A `--rounds` run with arms base and new whose `ready` differs by `f`.
fn arms(f: f64) -> RunResults {
    let mut r = with_suite(demo_results(1), "ab");
    r.scenarios.retain(|s| s.name == "harness");
    for (label, k) in [("base", 1.0), ("new", f)] {
        let mut s = scenario("startup", label, json!({"namespaces": "pid"}));
        let (mut v, mut rounds) = (Vec::new(), Vec::new());
        for round in 1..=6u32 {
            for i in 0..20 {
                v.push(1e-3 * k * (1.0 + f64::from(round) / 10.0) * (1.0 + f64::from(i) / 100.0));
                rounds.push(round);
            }
        }
        let mut m = Metric::new("ready", "s", Better::Lower, v);
        m.rounds = rounds;
        s.metrics.push(m);
        s.checks.push(Check::new("ok", Status::Pass, "e", "o", ""));
        r.scenarios.push(s);
    }
    r
}

#[test]
fn interleaved_arms_from_the_cli() {
    let d = tempfile::tempdir().unwrap();
    let same = write(d.path(), "same.json", &arms(1.0));
    let slow = write(d.path(), "slow.json", &arms(1.3));
    let s = same.to_str().unwrap();
    let out = run(&["compare", s, "--base-arm", "base", "--new-arm", "new"]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{md}");
    assert!(md.contains("interleaved arms"), "{md}");
    let out = run(&[
        "compare",
        slow.to_str().unwrap(),
        "--base-arm",
        "base",
        "--new-arm",
        "new",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("regressed"));
    // Bad input: an arm the file lacks, the same arm twice.
    let out = run(&["compare", s, "--base-arm", "base", "--new-arm", "nope"]);
    one_line_exit_2(&out, "\"nope\"");
    let out = run(&["compare", s, "--base-arm", "base", "--new-arm", "base"]);
    one_line_exit_2(&out, "two different arms");
}

#[test]
fn lost_coverage_fails_from_the_cli_unless_allowed() {
    let d = tempfile::tempdir().unwrap();
    let base = with_suite(demo_results(1), "quick");
    let mut new = base.clone();
    new.interrupted = true;
    let (b, n) = (
        write(d.path(), "b.json", &base),
        write(d.path(), "n.json", &new),
    );
    let (b, n) = (b.to_str().unwrap(), n.to_str().unwrap());
    let out = run(&["compare", b, n]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("coverage lost"));
    let out = run(&["compare", b, n, "--allow-coverage-loss"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let d = tempfile::tempdir().unwrap();
    let a = write(d.path(), "a.json", &with_suite(demo_results(1), "quick"));
    let o = write(d.path(), "o.json", &with_suite(demo_results(2), "other"));
    let (a, o) = (a.to_str().unwrap(), o.to_str().unwrap());
    one_line_exit_2(&run(&["compare", a, o]), "different suites");
    one_line_exit_2(
        &run(&["compare", "--base", a, a, "--new", o]),
        "different suites",
    );
    one_line_exit_2(&run(&["compare", a]), "compare needs");
    // Refused by clap's value parsers: clap's rendering, still exit 2.
    common::assert_clap_error(&run(&["run", "--rounds", "0"]), &["--rounds", "0"]);
    common::assert_clap_error(
        &run(&["run", "--launcher", "base=docker"]),
        &["unknown launcher"],
    );
    one_line_exit_2(
        &run(&["run", "--launcher", "native", "--launcher", "native"]),
        "LABEL=SPEC",
    );
    one_line_exit_2(
        &run(&["calibrate", a, a, "-o", "/tmp/x.toml"]),
        "at least 3",
    );
    assert!(!Path::new("/tmp/x.toml").exists());
}

#[test]
fn calibrate_writes_a_gate_that_compare_reads() {
    let d = tempfile::tempdir().unwrap();
    let files: Vec<String> = (1..=4)
        .map(|i| {
            write(
                d.path(),
                &format!("r{i}.json"),
                &with_suite(demo_results(i), "quick"),
            )
            .to_string_lossy()
            .into_owned()
        })
        .collect();
    let gate = d.path().join("gate.toml");
    let mut args = vec!["calibrate"];
    args.extend(files.iter().map(String::as_str));
    args.extend(["--min-pairs", "3", "-o", gate.to_str().unwrap()]);
    let out = run(&args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&gate).unwrap();
    assert!(
        text.contains("[[band]]") && text.contains("6 pairs"),
        "{text}"
    );
    let out = run(&[
        "compare",
        &files[0],
        &files[1],
        "--gate",
        gate.to_str().unwrap(),
    ]);
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("calibrated run-to-run band"), "{md}");
}
