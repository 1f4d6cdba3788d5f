//! The README's console examples against what the binary prints now: a
//! change of output that leaves the README behind fails here. Measured
//! numbers (a token that is a number on its own) and column padding are
//! not compared; everything else is, word for word.

mod common;

use common::isobench;

fn readme() -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The output lines of the README's ```console block whose command line is
/// `$ CMD` (CMD starting with `cmd`), continuation lines skipped.
fn example(cmd: &str) -> Vec<String> {
    let text = readme();
    let mut lines = text.lines();
    let mut found = false;
    for l in lines.by_ref() {
        if l.strip_prefix("$ ").is_some_and(|c| c.starts_with(cmd)) {
            found = true;
            let mut cont = l.ends_with('\\');
            while cont {
                cont = lines.next().is_some_and(|n| n.ends_with('\\'));
            }
            break;
        }
    }
    assert!(found, "no `$ {cmd}` example in README.md");
    lines
        .take_while(|l| !l.starts_with("```") && !l.starts_with("$ "))
        .map(str::to_string)
        .collect()
}

/// A line with each stand-alone number replaced by `#` and runs of spaces
/// collapsed (table columns are as wide as their content).
fn shape(line: &str) -> String {
    line.split_whitespace()
        .map(|w| if w.parse::<f64>().is_ok() { "#" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_clap_error_example_is_what_run_prints() {
    let out = isobench(&["run", "--namespace", "pid"]);
    assert_eq!(out.status.code(), Some(2));
    let got = String::from_utf8_lossy(&out.stderr);
    let want = example("target/release/isobench run --namespace pid").join("\n");
    assert_eq!(got.trim_end(), want.trim_end());
}

#[test]
fn the_list_json_example_is_what_list_prints() {
    let out = isobench(&["list", "--json"]);
    assert!(out.status.success());
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let cq = all
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "cpu-quota")
        .expect("cpu-quota listed");
    let quotas = cq["params"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "quotas-pct")
        .expect("quotas-pct listed");
    // What the README's jq filter picks out.
    let got = serde_json::json!({"name": cq["name"], "needs": cq["needs"], "quotas": quotas});
    let lines = example("target/release/isobench list --json");
    let want: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(got, want);
}

#[test]
fn the_quick_cpu_quota_run_example_is_what_run_prints() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("r.json");
    let out_s = out_path.to_str().unwrap();
    let out = isobench(&[
        "run",
        "--suite",
        "quick",
        "--scenario",
        "cpu-quota",
        "-o",
        out_s,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{stderr}\n{stdout}"
    );
    // The lines of one verdict each (FAIL/WARN/SKIP …) come only when a
    // check did not pass on this machine; the rest is the example.
    let verdict = |l: &str| ["FAIL ", "WARN ", "SKIP "].iter().any(|v| l.starts_with(v));
    let got: Vec<String> = stderr
        .lines()
        .chain(stdout.lines())
        .filter(|l| !verdict(l))
        .map(|l| shape(&l.replace(out_s, "r.json")))
        .map(|l| {
            // A point that failed here reads FAIL where the README's passed.
            l.replace(" FAIL", " PASS")
        })
        .collect();
    let want: Vec<String> =
        example("sudo target/release/isobench run --suite quick --scenario cpu-quota")
            .iter()
            .map(|l| shape(l))
            .collect();
    assert_eq!(
        got,
        want,
        "README example:\n{}\nnow:\n{}",
        want.join("\n"),
        got.join("\n")
    );
}
