//! Fleets without a cluster: `isobench merge` exit codes and outputs on
//! synthetic node files, the Kubernetes manifests validated offline
//! (kubernetes-validate, strict), the Sonobuoy plugin definition and a
//! real `run --sonobuoy` against Sonobuoy's documented shapes.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use isobench_reports::fixture::{empty_run, scenario};
use isobench_reports::{write_results, Better, Check, Metric, RunResults, Status};
use serde_json::{json, Value};

/// The Kubernetes version the manifests are validated against.
const K8S_VERSION: &str = "1.30.0";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A node's results: one scenario, one check, one metric around `ms`.
fn node_run(node: &str, ms: f64, check: Status) -> RunResults {
    let mut r = empty_run(&format!("run-{node}"));
    r.environment.node = Some(node.into());
    let mut s = scenario("startup", "native", json!({"launches": 5}));
    s.metrics.push(Metric::new(
        "ready",
        "ms",
        Better::Lower,
        vec![ms * 0.95, ms, ms * 1.05],
    ));
    s.checks
        .push(Check::new("launches succeeded", check, "5", "5", ""));
    r.scenarios.push(s);
    r
}

/// Writes `runs` as DIR/<first node>-<i>.json; the file paths.
fn write_nodes(dir: &Path, runs: &[RunResults]) -> Vec<String> {
    let tag = runs[0].run_id.clone() + &runs.len().to_string();
    runs.iter()
        .enumerate()
        .map(|(i, r)| {
            let p = dir.join(format!("{tag}-{}-{i}.json", r.run_id));
            write_results(&p, r).unwrap();
            p.to_str().unwrap().to_string()
        })
        .collect()
}

fn merge(dir: &Path, files: &[String], extra: &[&str]) -> std::process::Output {
    let out = dir.join("fleet.json");
    let mut args = vec!["merge"];
    args.extend(files.iter().map(String::as_str));
    args.extend(["-o", out.to_str().unwrap(), "--out"]);
    let report = dir.join("report");
    args.push(report.to_str().unwrap());
    args.extend_from_slice(extra);
    common::isobench(&args)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn clean_fleet_exits_0_and_writes_fleet_and_report() {
    let dir = tempfile::tempdir().unwrap();
    let runs: Vec<RunResults> = ["a", "b", "c", "d", "e"]
        .iter()
        .zip([10.0, 10.4, 9.7, 10.1, 55.0])
        .map(|(n, ms)| node_run(n, ms, Status::Pass))
        .collect();
    let files = write_nodes(dir.path(), &runs);
    let out = merge(dir.path(), &files, &["--expect-nodes", "5"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("5 nodes: 0 with failing checks; outliers: e (1 metric)"));
    let fleet: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("fleet.json")).unwrap()).unwrap();
    assert_eq!(fleet["schema"], "isobench-fleet/1");
    assert_eq!(fleet["nodes"].as_array().unwrap().len(), 5);
    assert_eq!(fleet["metrics"][0]["outliers"], json!(["e"]));
    assert_eq!(fleet["runs"]["c"]["run_id"], "run-c");
    let html = std::fs::read_to_string(dir.path().join("report/fleet.html")).unwrap();
    assert!(html.contains("<h2>Checks (node × check)</h2>"));
    let md = std::fs::read_to_string(dir.path().join("report/fleet.md")).unwrap();
    assert!(md.contains("| `e` |"), "{md}");
}

#[test]
fn failing_check_or_missing_node_exits_1_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let runs = vec![
        node_run("a", 10.0, Status::Pass),
        node_run("b", 10.0, Status::Fail),
        node_run("c", 10.0, Status::Pass),
    ];
    let files = write_nodes(dir.path(), &runs);
    let out = merge(dir.path(), &files, &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("node b: startup[native] launches succeeded failed"),
        "{stderr}"
    );
    assert!(!stderr.contains("node a"), "{stderr}");
    // All pass, but an expected node has no file.
    let files = write_nodes(
        dir.path(),
        &[
            node_run("a", 10.0, Status::Pass),
            node_run("c", 10.0, Status::Pass),
        ],
    );
    let out = merge(dir.path(), &files, &["--expect-nodes", "a,b,c"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("node b: missing"), "{stderr}");
    let out = merge(dir.path(), &files, &["--expect-nodes", "3"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("expected 3, got 2 (a, c)"));
}

#[test]
fn bad_input_exits_2_with_one_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut other_suite = node_run("c", 10.0, Status::Pass);
    other_suite.scenarios[0].name = "pids".into();
    let invalid = dir.path().join("bad.json");
    std::fs::write(&invalid, "{ not json").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            write_nodes(
                dir.path(),
                &[
                    node_run("a", 10.0, Status::Pass),
                    node_run("a", 11.0, Status::Pass),
                ],
            ),
            "are both node \"a\"",
        ),
        (
            write_nodes(
                dir.path(),
                &[node_run("a", 10.0, Status::Pass), other_suite],
            ),
            "ran a different suite than",
        ),
        (
            vec![
                write_nodes(dir.path(), &[node_run("a", 10.0, Status::Pass)]).remove(0),
                invalid.to_str().unwrap().to_string(),
            ],
            "not an isobench results file",
        ),
        (
            vec![dir.path().join("absent.json").to_str().unwrap().to_string()],
            "cannot read",
        ),
    ];
    for (files, want) in cases {
        let out = merge(dir.path(), &files, &[]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{want}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(want), "{want}: {stderr}");
        assert!(!dir.path().join("fleet.json").exists(), "{want}");
        assert!(!dir.path().join("report").exists(), "{want}");
    }
    let files = write_nodes(dir.path(), &[node_run("a", 10.0, Status::Pass)]);
    let out = merge(dir.path(), &files, &["--expect-nodes", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!dir.path().join("fleet.json").exists());
}

/// kubernetes-validate (PyPI; ships the Kubernetes JSON schemas), or a
/// skip / CI failure naming how to install it.
fn kubernetes_validate() -> Option<PathBuf> {
    let path = isobench::env::which("kubernetes-validate");
    let missing = path
        .is_none()
        .then(|| "kubernetes-validate is not installed (pip install kubernetes-validate)".into());
    common::precondition("kubernetes-validate", missing).then(|| path.unwrap())
}

fn validate(kv: &Path, files: &[PathBuf]) -> std::process::Output {
    Command::new(kv)
        .args(["--strict", "-k", K8S_VERSION])
        .args(files)
        .output()
        .unwrap()
}

#[test]
fn manifests_validate_strictly() {
    let Some(kv) = kubernetes_validate() else {
        return;
    };
    let k8s = repo().join("deploy/k8s");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&k8s)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 3, "{files:?}");
    let out = validate(&kv, &files);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    // The validator does catch what strict mode is for: an unknown field.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    let ds = std::fs::read_to_string(k8s.join("daemonset.yaml")).unwrap();
    std::fs::write(
        &bad,
        ds.replacen("hostPID: true", "hostPID: true\n      hostPIDs: true", 1),
    )
    .unwrap();
    assert!(!validate(&kv, &[bad]).status.success());
}

/// A YAML file as JSON, parsed by PyYAML (which kubernetes-validate
/// installs).
fn yaml(path: &Path) -> Option<Value> {
    kubernetes_validate()?;
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn sonobuoy_plugin_has_the_documented_fields() {
    let Some(p) = yaml(&repo().join("deploy/sonobuoy/isobench.yaml")) else {
        return;
    };
    let top: Vec<&str> = p.as_object().unwrap().keys().map(String::as_str).collect();
    for k in &top {
        assert!(
            ["sonobuoy-config", "spec", "podSpec", "extra-volumes"].contains(k),
            "unknown top-level field {k}"
        );
    }
    let cfg = &p["sonobuoy-config"];
    assert_eq!(cfg["driver"], "DaemonSet");
    assert_eq!(cfg["plugin-name"], "isobench");
    assert_eq!(cfg["result-format"], "manual");
    assert!(p["spec"]["name"].is_string() && p["spec"]["image"].is_string());
    let mounts_results = |c: &Value| {
        c["volumeMounts"]
            .as_array()
            .is_some_and(|m| m.iter().any(|v| v["mountPath"] == "/tmp/sonobuoy/results"))
    };
    assert!(mounts_results(&p["spec"]));
    assert_eq!(p["podSpec"]["hostPID"], true);
    let init = &p["podSpec"]["initContainers"][0];
    assert!(mounts_results(init));
    assert_eq!(init["securityContext"]["privileged"], true);
    let args: Vec<&str> = init["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        args,
        [
            "run",
            "--suite",
            "quick",
            "--sonobuoy",
            "/tmp/sonobuoy/results"
        ]
    );
    assert_eq!(
        init["env"][0]["valueFrom"]["fieldRef"]["fieldPath"],
        "spec.nodeName"
    );
}

/// Sonobuoy's item: name and status, optional meta/details maps and items.
fn assert_item(v: &Value, depth: usize) -> usize {
    let o = v.as_object().expect("an item is a map");
    for k in o.keys() {
        assert!(
            ["name", "status", "meta", "details", "items"].contains(&k.as_str()),
            "unknown item field {k}"
        );
    }
    assert!(v["name"].as_str().is_some_and(|n| !n.is_empty()));
    assert!(
        ["passed", "failed", "skipped"].contains(&v["status"].as_str().unwrap()),
        "{v}"
    );
    for m in ["meta", "details"] {
        assert!(v.get(m).is_none_or(Value::is_object), "{m}: {v}");
    }
    let kids = v
        .get("items")
        .map(|i| i.as_array().expect("items is a list"));
    // plugin → scenario point → check: no deeper.
    assert!(depth < 2 || kids.is_none(), "items below a check: {v}");
    1 + kids
        .into_iter()
        .flatten()
        .map(|k| assert_item(k, depth + 1))
        .sum::<usize>()
}

#[test]
fn run_with_sonobuoy_writes_results_yaml_and_done() {
    if !common::root_or_skip("run_with_sonobuoy_writes_results_yaml_and_done") {
        return;
    }
    if kubernetes_validate().is_none() {
        return;
    }
    let suite_dir = tempfile::tempdir().unwrap();
    let suite = suite_dir.path().join("s.toml");
    std::fs::write(
        &suite,
        "[suite]\nname = \"fleet\"\nlevel = \"quick\"\nscenarios = [\"cpuset\"]\n",
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let node = format!("fleet-test-{}", std::process::id());
    let out = Command::new(env!("CARGO_BIN_EXE_isobench"))
        .args(["run", "--suite", suite.to_str().unwrap(), "--sonobuoy"])
        .arg(dir.path())
        .env("NODE_NAME", &node)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let folder = dir.path().join("isobench");
    let done = std::fs::read_to_string(dir.path().join("done")).unwrap();
    assert_eq!(
        Path::new(&done),
        std::fs::canonicalize(&folder).unwrap().as_path()
    );
    let results: Value =
        serde_json::from_slice(&std::fs::read(folder.join("isobench.json")).unwrap()).unwrap();
    assert_eq!(results["environment"]["node"], node.as_str());
    let y = yaml(&folder.join("sonobuoy_results.yaml")).unwrap();
    assert_eq!(y["name"], "isobench");
    assert_eq!(y["meta"]["node"], node.as_str());
    let checks: usize = results["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["checks"].as_array().map_or(0, Vec::len))
        .sum();
    let scenarios = results["scenarios"].as_array().unwrap().len();
    // The plugin item, one per scenario point, one per check.
    assert_eq!(assert_item(&y, 0), 1 + scenarios + checks);
    assert!(checks > 0);
    // -o - cannot go with --sonobuoy: one line, exit 2.
    let out = common::isobench(&[
        "run",
        "--suite",
        "quick",
        "--sonobuoy",
        "/nonexistent",
        "-o",
        "-",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(text(&out.stderr).lines().count(), 1);
}
