//! The CLI as a user runs it: exit codes, errors (ours one line, clap's as
//! clap renders them), no half-written results, completions, man page,
//! `list --json`, and the cpu-quota scenario end to end (needs root).

mod common;

use std::path::Path;
use std::process::Output;

use common::{assert_clap_error, isobench};

/// One of our own errors (found after clap parsed the line): one
/// `isobench: …` line on stderr, exit 2.
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
    // Value parsers' errors come through clap, with the flag they belong to.
    assert_clap_error(
        &isobench(&["run", "--namespaces", "pid,bogus"]),
        &["'--namespaces <LIST>'", "bogus"],
    );
    assert_clap_error(&isobench(&["run", "--frobnicate"]), &["'--frobnicate'"]);
    assert_clap_error(
        &isobench(&["run", "--launcher", "nope"]),
        &["--launcher", "unknown launcher"],
    );
}

/// clap's context survives: the missing argument's name, the "similar
/// argument" tip, the possible values; and a refused line writes nothing.
#[test]
fn clap_errors_are_kept_in_full() {
    assert_clap_error(
        &isobench(&["report"]),
        &["required arguments were not provided", "<RESULTS>"],
    );
    let (out, out_path, _dir) = common::isobench_out(&["run", "--namespace", "pid"]);
    assert_clap_error(
        &out,
        &[
            "unexpected argument '--namespace'",
            "similar argument exists",
            "'--namespaces'",
        ],
    );
    assert!(!out_path.exists());
    assert_clap_error(
        &isobench(&["compare", "--format", "xml", "a", "b"]),
        &["invalid value 'xml'", "possible values", "md", "json"],
    );
    assert_clap_error(
        &isobench(&["completions", "tcsh"]),
        &[
            "possible values",
            "bash",
            "zsh",
            "fish",
            "elvish",
            "powershell",
        ],
    );
    assert_clap_error(&isobench(&["bogus"]), &["unrecognized subcommand 'bogus'"]);
    // Help is not an error.
    let out = isobench(&["run", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("--namespaces"));
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
fn an_empty_suite_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.toml");
    std::fs::write(&p, "[suite]\nlevel = \"quick\"\nscenarios = []\n").unwrap();
    let (out, out_path, _d) = common::isobench_out(&["run", "--suite", p.to_str().unwrap()]);
    assert_usage_error(&out, "nothing to run");
    assert!(!out_path.exists());
}

/// bash's stdout, which must succeed.
fn bash(args: &[&str]) -> String {
    let out = std::process::Command::new("bash")
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bash {args:?}: {err}");
    String::from_utf8(out.stdout).unwrap()
}

/// The bash script parses, and completing `isobench r` and `isobench run
/// --na` in bash offers the real subcommands and flags.
#[test]
fn bash_completions_work() {
    let out = isobench(&["completions", "bash"]);
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    for sub in ["run", "report", "compare", "list", "completions", "man"] {
        assert!(script.contains(sub), "{sub} missing");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("isobench.bash");
    std::fs::write(&path, &script).unwrap();
    // It parses.
    bash(&["-n", path.to_str().unwrap()]);
    let complete = |words: &str| {
        let probe = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             COMP_LINE=\"{words}\"; COMP_POINT=${{#COMP_LINE}}; _isobench isobench \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            path.display()
        );
        bash(&["-c", &probe])
    };
    let subs = complete("isobench r");
    assert!(
        subs.lines().any(|l| l == "run") && subs.lines().any(|l| l == "report"),
        "{subs}"
    );
    let flags = complete("isobench run --na");
    assert_eq!(flags.trim(), "--namespaces", "{flags}");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = isobench(&["completions", shell]);
        assert!(out.status.success() && !out.stdout.is_empty(), "{shell}");
    }
}

#[test]
fn man_pages() {
    let out = isobench(&["man"]);
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    // After clap_mangen's quote-string definitions (.ie/.el), the title.
    let first = page
        .lines()
        .find(|l| !l.starts_with(".ie ") && !l.starts_with(".el "));
    assert!(
        first.is_some_and(|l| l.starts_with(".TH isobench 1")),
        "{first:?}"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = isobench(&["man", "--out", dir.path().to_str().unwrap()]);
    assert!(out.status.success());
    for name in [
        "isobench.1",
        "isobench-run.1",
        "isobench-compare.1",
        "isobench-kernels-fetch.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(text.contains(".TH "), "{name}");
    }
    assert!(!dir.path().join("isobench-guest-driver.1").exists());
}

/// `list --json` carries what `list` shows, plus the controllers each
/// scenario needs.
#[test]
fn list_json_matches_list() {
    let out = isobench(&["list", "--json"]);
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let all = v.as_array().unwrap();
    let names: Vec<&str> = all.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, isobench::scenarios::NAMES);
    let text = String::from_utf8(isobench(&["list"]).stdout).unwrap();
    for s in all {
        let name = s["name"].as_str().unwrap();
        assert!(text.contains(&format!("{name}: {}", s["about"].as_str().unwrap())));
        let needs: Vec<&str> = s["needs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let want: Vec<&str> = isobench::scenarios::needs(name)
            .iter()
            .map(|c| c.name())
            .collect();
        assert_eq!(needs, want, "{name}");
        assert!(!s["params"].as_array().unwrap().is_empty(), "{name}");
        for p in s["params"].as_array().unwrap() {
            let row = format!(
                "  {:<16} {:<22} {:<22} {}",
                p["name"].as_str().unwrap(),
                p["quick"].as_str().unwrap(),
                p["default"].as_str().unwrap(),
                p["meaning"].as_str().unwrap()
            );
            assert!(text.contains(&row), "{row:?} not in list");
        }
    }
    let cq = all.iter().find(|s| s["name"] == "cpu-quota").unwrap();
    assert!(
        cq["needs"].as_array().unwrap().iter().any(|c| c == "cpu"),
        "{cq}"
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

/// A quick suite of cpuset alone (a short real run), written into `dir`.
fn cpuset_suite(dir: &Path) -> std::path::PathBuf {
    let suite = dir.join("s.toml");
    std::fs::write(
        &suite,
        "[suite]\nlevel = \"quick\"\nscenarios = [\"cpuset\"]\n",
    )
    .unwrap();
    suite
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
    let suite = cpuset_suite(dir.path());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_isobench"))
        .current_dir(dir.path())
        .args(["run", "--suite", suite.to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stdout}");
    // Not a terminal: no colour escapes.
    assert!(!stdout.contains('\u{1b}'), "{stdout:?}");
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
    assert!(!err.contains('\u{1b}'), "{err:?}");
    // Only the first run's file is there: `-o -` wrote none.
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("isobench-"))
        .collect();
    assert_eq!(files.len(), 1);
}

/// On a terminal (script(1) gives one) the verdicts are coloured, and
/// NO_COLOR turns that off.
#[test]
fn verdicts_are_coloured_on_a_terminal_unless_no_color() {
    if !common::root_or_skip("cli::verdicts_are_coloured_on_a_terminal_unless_no_color") {
        return;
    }
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: no script(1) to give isobench a terminal");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let suite = cpuset_suite(dir.path());
    let on_tty = |no_color: bool| {
        let line = format!(
            "{} run --suite {} -o {}",
            env!("CARGO_BIN_EXE_isobench"),
            suite.display(),
            dir.path().join("r.json").display()
        );
        let mut c = std::process::Command::new("script");
        c.args(["-qec", &line, "/dev/null"])
            .env("TERM", "xterm")
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR");
        if no_color {
            c.env("NO_COLOR", "1");
        }
        let out = c.output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = on_tty(false);
    assert!(
        coloured.contains("\u{1b}[32mPASS") || coloured.contains("\u{1b}[1m\u{1b}[31m"),
        "{coloured:?}"
    );
    let plain = on_tty(true);
    assert!(plain.contains("passed"), "{plain:?}");
    // NO_COLOR removes colour (SGR `ESC [ … m`); the progress bar's
    // erase-line (`ESC [2K`) is cursor control and stays.
    assert!(!has_sgr(&plain), "{plain:?}");
    assert!(has_sgr(&coloured));
}

/// Whether `text` holds an SGR (colour or style) escape sequence.
fn has_sgr(text: &str) -> bool {
    text.split('\u{1b}').skip(1).any(|rest| {
        rest.strip_prefix('[').is_some_and(|r| {
            let end = r.find(|c: char| !(c.is_ascii_digit() || c == ';'));
            end.is_some_and(|i| r[i..].starts_with('m'))
        })
    })
}
