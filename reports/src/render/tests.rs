//! Renderer tests: a full report of the demo fixture, XML well-formedness,
//! self-containedness of the HTML, and snapshots of the text renderers.

use std::path::{Path, PathBuf};

use super::*;
use crate::fixture::{demo_results, empty_run, scenario};
use crate::schema::{Better, Check, Metric, Status};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("isobench-render-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Minimal XML well-formedness check: balanced tags, quoted attributes, no
/// stray `<` or `&` in text. Returns the element names in document order.
fn xml_elements(doc: &str) -> Result<Vec<String>, String> {
    let mut stack: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut rest = doc.trim_start();
    if let Some(r) = rest.strip_prefix("<?xml") {
        rest = &r[r.find("?>").ok_or("unterminated declaration")? + 2..];
    }
    let check_text = |t: &str| -> Result<(), String> {
        let mut s = t;
        while let Some(i) = s.find('&') {
            let end = s[i..].find(';').ok_or(format!("bare & in {t:?}"))?;
            let ent = &s[i + 1..i + end];
            let ok = matches!(ent, "amp" | "lt" | "gt" | "quot" | "apos")
                || ent
                    .strip_prefix('#')
                    .is_some_and(|n| n.parse::<u32>().is_ok());
            if !ok {
                return Err(format!("bad entity &{ent};"));
            }
            s = &s[i + end..];
        }
        Ok(())
    };
    while !rest.is_empty() {
        let lt = rest.find('<').unwrap_or(rest.len());
        check_text(&rest[..lt])?;
        if stack.is_empty() && !rest[..lt].trim().is_empty() {
            return Err("text outside the root element".into());
        }
        rest = &rest[lt..];
        if rest.is_empty() {
            break;
        }
        let gt = rest.find('>').ok_or("unterminated tag")?;
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        if tag.contains('<') {
            return Err(format!("< inside tag {tag:?}"));
        }
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or(format!("unexpected </{name}>"))?;
            if open != name.trim() {
                return Err(format!("</{name}> closes <{open}>"));
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let body = tag.trim_end_matches('/');
        let name: String = body.split_whitespace().next().unwrap_or("").to_string();
        if name.is_empty() {
            return Err("empty tag name".into());
        }
        let attrs = &body[name.len()..];
        if attrs.matches('"').count() & 1 == 1 {
            return Err(format!("unbalanced quotes in <{name}{attrs}>"));
        }
        for part in attrs.split('"').step_by(2) {
            let p = part.trim();
            if !(p.is_empty() || p.ends_with('=')) {
                return Err(format!("unquoted attribute in <{name}{attrs}>"));
            }
        }
        for (i, v) in attrs.split('"').enumerate() {
            if i % 2 == 1 {
                check_text(v)?;
            }
        }
        if stack.is_empty() && !names.is_empty() {
            return Err("second root element".into());
        }
        names.push(name.clone());
        if !self_closing {
            stack.push(name);
        }
    }
    if let Some(open) = stack.pop() {
        return Err(format!("<{open}> never closed"));
    }
    Ok(names)
}

#[test]
fn xml_checker_catches_broken_documents() {
    assert!(xml_elements("<a><b x=\"1\"/>t &amp; u</a>").is_ok());
    assert!(xml_elements("<a><b></a>").is_err());
    assert!(xml_elements("<a>x & y</a>").is_err());
    assert!(xml_elements("<a x=1></a>").is_err());
    assert!(xml_elements("<a></a><b></b>").is_err());
}

#[test]
fn full_report_of_the_demo_run() {
    let r = demo_results(1);
    let top = temp_dir("full");
    let dir = top.join("nested/report");
    let files = render_report(&r, &dir).unwrap();
    let names: Vec<String> = files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for f in ["report.html", "report.md", "junit.xml"] {
        assert!(names.iter().any(|n| n == f), "{f} not written: {names:?}");
    }
    let svgs: Vec<&String> = names.iter().filter(|n| n.ends_with(".svg")).collect();
    let pngs = names.iter().filter(|n| n.ends_with(".png")).count();
    assert!(svgs.len() >= 6, "{svgs:?}");
    assert_eq!(svgs.len(), pngs);
    for f in &files {
        assert!(f.is_file(), "{}", f.display());
        assert!(std::fs::metadata(f).unwrap().len() > 0);
    }
    // Nothing but what we list (no temp files left behind).
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), files.len());

    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    for s in &r.scenarios {
        for c in &s.checks {
            assert!(
                html.contains(&escape::html(&c.name)),
                "check {:?} missing",
                c.name
            );
        }
    }
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert!(!html.contains("<script") && !html.contains("<link") && !html.contains("@import"));
    assert_eq!(html.matches("<svg").count(), svgs.len());
    assert!(!html.contains("could not be drawn"));
    assert!(
        html.contains("exec format error"),
        "scenario errors are shown"
    );
    assert!(html.contains("Some checks failed"));

    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for s in svgs {
        assert!(
            md.contains(&format!("]({s})")),
            "{s} not linked from report.md"
        );
    }

    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    let elements = xml_elements(&junit).unwrap();
    let checks: usize = r.scenarios.iter().map(|s| s.checks.len()).sum();
    assert_eq!(elements.iter().filter(|e| *e == "testcase").count(), checks);
    assert!(elements.iter().any(|e| e == "skipped"));
    assert!(elements.iter().any(|e| e == "failure"));
    for svg in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "svg"))
    {
        xml_elements(&std::fs::read_to_string(svg).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", svg.display()));
    }
    std::fs::remove_dir_all(top).unwrap();
}

#[test]
fn hostile_names_cannot_break_the_documents() {
    let mut r = empty_run("x<&\"'>");
    let mut s = scenario("odd<&>", "la|un\"cher", serde_json::json!({"k": "a|b<c>"}));
    s.checks.push(Check::new(
        "name with <tags> & \"quotes\" | pipes\u{1}",
        Status::Fail,
        "<expected>",
        "observed & more\nsecond line",
        "</testcase>",
    ));
    s.checks
        .push(Check::new("skip ]]> me", Status::Skip, "", "", ""));
    s.metrics
        .push(Metric::new("m|x", "s", Better::Lower, vec![1e-3, 2e-3]));
    r.scenarios.push(s);
    let junit = render_junit(&r);
    let el = xml_elements(&junit).unwrap();
    assert_eq!(el.iter().filter(|e| *e == "testcase").count(), 2);
    let html = render_html(&r, &[]);
    assert!(!html.contains("<tags>") && !html.contains("</testcase>"));
    let md = render_markdown(&r, &[]);
    let row = md.lines().find(|l| l.contains("name with")).unwrap();
    // Six unescaped pipes for... every cell boundary of an 8-column row: 9.
    assert_eq!(row.replace("\\|", "").matches('|').count(), 9, "{row}");
}

#[test]
fn unwritable_directory_is_an_error_naming_the_path() {
    let dir = temp_dir("blocked");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let target = file.join("report");
    let e = render_report(&demo_results(1), &target).unwrap_err();
    assert!(e.to_string().contains(&target.display().to_string()), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A small, fully deterministic run for snapshot tests.
fn snapshot_run() -> RunResults {
    let mut r = empty_run("snap-1");
    let mut s = scenario(
        "startup",
        "native",
        serde_json::json!({"namespaces": "pid,mnt"}),
    );
    s.metrics.push(Metric::new(
        "ready",
        "s",
        Better::Lower,
        vec![0.0011, 0.0012, 0.0013, 0.0015, 0.0019],
    ));
    s.checks.push(Check::new(
        "ready p99 under budget",
        Status::Pass,
        "p99 <= 20 ms",
        "p99 = 1.9 ms",
        "5 launches",
    ));
    r.scenarios.push(s);
    let mut q = scenario("cpu-quota", "native", serde_json::json!({"quota_pct": 20}));
    q.metrics.push(Metric::with_target(
        "accuracy",
        "ratio",
        1.0,
        vec![0.93, 0.94],
    ));
    q.checks.push(Check::new(
        "usage within ±5% of quota",
        Status::Fail,
        "0.20 CPUs ± 5%",
        "worst -7.0%",
        "2 repetitions",
    ));
    q.checks.push(Check::new(
        "burst honoured",
        Status::Skip,
        "",
        "",
        "kernel lacks cpu.max.burst",
    ));
    q.checks.push(Check::new(
        "throttling observed",
        Status::Warn,
        ">= 1",
        "0",
        "",
    ));
    q.series
        .insert("usage_cpus".into(), vec![[0.1, 0.19], [0.2, 0.21]]);
    r.scenarios.push(q);
    r
}

fn assert_snapshot(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_SNAPSHOTS=1 to create it)",
            path.display()
        )
    });
    assert_eq!(
        actual,
        expected,
        "{} differs; review and rerun with UPDATE_SNAPSHOTS=1 if intended",
        path.display()
    );
}

#[test]
fn junit_snapshot() {
    assert_snapshot("junit.xml", &render_junit(&snapshot_run()));
}

#[test]
fn markdown_snapshot() {
    assert_snapshot("report.md", &render_markdown(&snapshot_run(), &[]));
}

#[test]
fn compare_markdown_snapshot() {
    let base = snapshot_run();
    let mut new = snapshot_run();
    new.run_id = "snap-2".into();
    new.environment.kernel = "6.1.0-cloud-amd64".into();
    new.scenarios[0].metrics[0]
        .samples
        .iter_mut()
        .for_each(|x| *x *= 1.5);
    new.scenarios[0].checks[0].status = Status::Fail;
    let c = crate::compare(&base, &[new], &crate::Gate::default(), 1, 200);
    assert_snapshot("compare.md", &c.to_markdown());
}
