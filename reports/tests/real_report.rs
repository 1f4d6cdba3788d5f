//! The report of a real run (data/quick-run.json: `isobench run --suite
//! quick` on the hybrid-cgroup development machine, minified): junit.xml
//! carries real times and none of what the strict Jenkins xunit schema
//! refuses, and report.html / report.md lead with what did not pass and
//! carry the matrices.
//!
//! The schema (junit-10.xsd of jenkinsci/xunit-plugin) is not part of this
//! repository: the test validates against every copy `ISOBENCH_JUNIT_XSD`
//! names (a `:`-separated list; default ~/.cache/isobench/junit-10.xsd)
//! with `xmllint`, and says it skipped that step when there is none. CI
//! takes the plugin's strict revision (commit ae25da5, xunit-2.3.2) from
//! pytest's source release on PyPI, which ships it for the same check
//! (.ci/run), and sets
//! `ISOBENCH_REQUIRE` to name `junit-xsd` and `xmllint`: then a missing
//! copy or a missing xmllint fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;

use isobench_reports::{read_results, render_report, Status};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// A fresh output directory, removed again when dropped (also on failure).
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> Self {
        let d = std::env::temp_dir().join(format!(
            "isobench-real-report-{test}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether `ISOBENCH_REQUIRE` (a comma list) names `what`.
fn required(what: &str) -> bool {
    std::env::var("ISOBENCH_REQUIRE")
        .map(|l| l.split(',').any(|n| n.trim() == what))
        .unwrap_or(false)
}

fn xmllint_missing() -> Option<String> {
    match Command::new("xmllint").arg("--version").output() {
        Ok(o) if o.status.success() || !o.stderr.is_empty() => None,
        Ok(o) => Some(format!("xmllint --version exited with {}", o.status)),
        Err(e) => Some(format!(
            "xmllint not found ({e}); apt-get install libxml2-utils"
        )),
    }
}

/// The copies of the Jenkins xunit plugin's junit-10.xsd at hand.
fn junit_xsds() -> Vec<PathBuf> {
    let list = match std::env::var_os("ISOBENCH_JUNIT_XSD") {
        Some(l) => std::env::split_paths(&l).collect(),
        None => std::env::var_os("HOME")
            .map(|h| vec![PathBuf::from(h).join(".cache/isobench/junit-10.xsd")])
            .unwrap_or_default(),
    };
    list.into_iter().filter(|p| p.is_file()).collect()
}

fn render(test: &str) -> (isobench_reports::RunResults, TempDir) {
    let r = read_results(&data("quick-run.json")).expect("fixture loads");
    let dir = TempDir::new(test);
    render_report(&r, &dir.0).expect("report renders");
    (r, dir)
}

#[test]
fn junit_of_a_real_run_validates_against_the_strict_jenkins_schema() {
    let (r, dir) = render("junit");
    let junit = std::fs::read_to_string(dir.0.join("junit.xml")).unwrap();
    // Real times: every testsuite of a point that ran carries its duration.
    let ran = r
        .scenarios
        .iter()
        .filter(|s| s.duration_s.is_some_and(|d| d > 0.0))
        .count();
    assert!(ran > 10, "the fixture records durations");
    let timed = junit
        .lines()
        .filter(|l| l.trim_start().starts_with("<testsuite ") && !l.contains("time=\"0\""))
        .count();
    assert!(timed >= ran - 1, "{timed} timed testsuites of {ran}");
    let root = junit
        .lines()
        .find(|l| l.starts_with("<testsuites "))
        .unwrap();
    assert!(
        !root.contains("skipped="),
        "junit-10.xsd allows no skipped count on <testsuites>: {root}"
    );

    let xsds = junit_xsds();
    if xsds.is_empty() {
        assert!(
            !required("junit-xsd"),
            "required precondition \"junit-xsd\" is missing (ISOBENCH_REQUIRE): no junit-10.xsd in \
             ISOBENCH_JUNIT_XSD={:?}",
            std::env::var_os("ISOBENCH_JUNIT_XSD")
        );
        eprintln!(
            "skipped: junit schema validation: no junit-10.xsd (set ISOBENCH_JUNIT_XSD to a copy of \
             jenkinsci/xunit-plugin's src/main/resources/org/jenkinsci/plugins/xunit/types/model/xsd/junit-10.xsd)"
        );
        return;
    }
    if let Some(why) = xmllint_missing() {
        assert!(
            !required("xmllint"),
            "required precondition \"xmllint\" is missing (ISOBENCH_REQUIRE): {why}"
        );
        eprintln!("skipped: junit schema validation: {why}");
        return;
    }
    for xsd in &xsds {
        let out = Command::new("xmllint")
            .arg("--noout")
            .arg("--schema")
            .arg(xsd)
            .arg(dir.0.join("junit.xml"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "xmllint refused junit.xml against {}: {}",
            xsd.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn real_report_leads_with_what_did_not_pass_and_has_the_matrices() {
    let (r, dir) = render("html");
    let html = std::fs::read_to_string(dir.0.join("report.html")).unwrap();
    let md = std::fs::read_to_string(dir.0.join("report.md")).unwrap();
    let first_non_pass = r
        .scenarios
        .iter()
        .flat_map(|s| &s.checks)
        .find(|c| c.status != Status::Pass)
        .expect("the fixture has warnings and skips");
    let attention = html.find("id=\"attention\"").unwrap();
    let passed = html.find("<details id=\"passed\">").unwrap();
    let matrix = html.find("id=\"matrix\"").unwrap();
    assert!(attention < passed && passed < matrix);
    assert!(html[attention..passed].contains(&first_non_pass.name));
    // No "pass" status cell before the passes' own collapsed table.
    assert!(!html[attention..passed].contains("status pass"));
    assert!(html.contains("table-layout: fixed"));
    assert!(html.contains("Isolation matrix · native"));
    assert!(html.contains("native: ready p50 / p99"));
    // Skipped points say why where their plots would be.
    assert!(html.contains("class=\"skipnote\">Skipped — memory_high: not run"));
    assert!(!html.contains("No metrics or series recorded."));
    // Human numbers: no scientific notation in any cell.
    let sci = regex_free_sci(&html);
    assert!(sci.is_empty(), "scientific notation in the page: {sci:?}");
    assert!(md.contains("## Behaviour matrix") && md.contains("### Isolation matrix · native"));
}

/// Numbers like `6.711e7` or `1.2e-5` outside tags.
fn regex_free_sci(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    for w in text.split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',') {
        let b = w.as_bytes();
        if let Some(i) = w.find('e') {
            let (m, e) = (&w[..i], &w[i + 1..]);
            let mantissa = !m.is_empty()
                && m.chars().all(|c| c.is_ascii_digit() || c == '.')
                && b[0].is_ascii_digit();
            let exp = !e.is_empty()
                && e.trim_start_matches('-')
                    .chars()
                    .all(|c| c.is_ascii_digit())
                && e != "-";
            if mantissa && exp {
                out.push(w.to_string());
            }
        }
    }
    out
}
