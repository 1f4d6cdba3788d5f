use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::json;

use super::*;
use crate::fixture::{empty_run, scenario};
use crate::schema::{Check, Metric};

/// A node's run: one scenario with one check and one metric around `ms`.
fn node(name: &str, kernel: &str, ms: f64, check: Status) -> NodeInput {
    let mut r = empty_run(&format!("run-{name}"));
    r.environment.node = Some(name.into());
    r.environment.kernel = kernel.into();
    let mut s = scenario("startup", "native", json!({"launches": 5}));
    s.metrics.push(Metric::new(
        "ready_ms",
        "ms",
        Better::Lower,
        vec![ms * 0.9, ms, ms * 1.1],
    ));
    s.checks.push(Check::new("ready", check, "< 1 s", "ok", ""));
    r.scenarios.push(s);
    NodeInput {
        node: name.into(),
        path: PathBuf::from(format!("{name}.json")),
        results: r,
    }
}

fn clean_fleet() -> Vec<NodeInput> {
    vec![
        node("a", "6.1", 10.0, Status::Pass),
        node("b", "6.1", 10.5, Status::Pass),
        node("c", "6.12", 9.8, Status::Pass),
        node("d", "6.12", 10.2, Status::Pass),
        node("e", "6.18", 40.0, Status::Pass),
    ]
}

#[test]
fn clean_fleet_passes_and_flags_the_slow_node() {
    let f = Fleet::build(clean_fleet(), Some(Expect::Count(5)));
    assert!(!f.failed(), "{:?}", f.problems());
    assert_eq!(f.nodes.len(), 5);
    assert_eq!(f.checks.len(), 1);
    assert_eq!(f.checks[0].nodes.len(), 5);
    let m = &f.metrics[0];
    assert_eq!(m.outliers, ["e"]);
    assert!((m.fleet_median - 10.2).abs() < 1e-9, "{}", m.fleet_median);
    let groups: Vec<(&str, usize)> = f
        .groups
        .iter()
        .map(|g| (g.kernel.as_str(), g.nodes.len()))
        .collect();
    assert_eq!(groups, [("6.1", 2), ("6.12", 2), ("6.18", 1)]);
    let md = render::render_markdown(&f);
    assert!(md.contains("⚠ 40"), "{md}");
    assert!(md.contains("outliers: e (1 metric)"), "{md}");
    let html = render::render_html(&f);
    assert!(html.contains("outlier\">⚠"), "no highlighted outlier");
    assert!(!html.contains("<script"));
}

#[test]
fn a_failing_check_and_a_missing_node_fail_the_fleet_by_name() {
    let mut nodes = clean_fleet();
    nodes[2] = node("c", "6.12", 9.8, Status::Fail);
    let f = Fleet::build(nodes, Some(Expect::Names(vec!["a".into(), "zz".into()])));
    assert!(f.failed());
    let p = f.problems().join("\n");
    assert!(p.contains("node zz: missing"), "{p}");
    assert!(p.contains("node c: startup[native] ready failed"), "{p}");
    assert_eq!(f.unexpected, ["b", "c", "d", "e"]);
    // Only a count: how many are missing, and the nodes present.
    let f = Fleet::build(clean_fleet(), Some(Expect::Count(6)));
    assert_eq!(f.missing_count, 1);
    assert!(f.problems()[0].contains("expected 6, got 5"));
}

#[test]
fn spread_needs_three_nodes_and_has_a_floor() {
    let two: BTreeMap<String, f64> = [("a".into(), 1.0), ("b".into(), 100.0)].into();
    assert!(spread(&two).3.is_empty());
    // Identical nodes (MAD 0): 5 % off stays inside the 10 % floor.
    let same: BTreeMap<String, f64> = [
        ("a".into(), 100.0),
        ("b".into(), 100.0),
        ("c".into(), 100.0),
        ("d".into(), 105.0),
    ]
    .into();
    let (m, mad, band, out) = spread(&same);
    assert!((m - 100.0).abs() < 1e-9 && mad == 0.0);
    let [lo, hi] = band.unwrap();
    assert!((lo - 100.0 / 1.1).abs() < 1e-9 && (hi - 110.0).abs() < 1e-9);
    assert!(out.is_empty());
    // Log scale: 50× faster than noisy peers is out, 2.5× slower is not.
    let noisy: BTreeMap<String, f64> = [
        ("host".into(), 1.1),
        ("a".into(), 148.0),
        ("b".into(), 60.0),
        ("c".into(), 79.0),
        ("d".into(), 50.0),
    ]
    .into();
    assert_eq!(spread(&noisy).3, ["host"]);
    // Linear when a median is not positive.
    let signed: BTreeMap<String, f64> = [
        ("a".into(), -1.0),
        ("b".into(), 0.0),
        ("c".into(), 1.0),
        ("d".into(), 40.0),
    ]
    .into();
    assert_eq!(spread(&signed).3, ["d"]);
}

#[test]
fn bad_input_is_refused() {
    let mut nodes = clean_fleet();
    nodes[1].node = "a".into();
    let e = check_inputs(&nodes).unwrap_err().to_string();
    assert!(e.contains("a.json and b.json are both node \"a\""), "{e}");
    let mut nodes = clean_fleet();
    nodes[3].results.scenarios[0].name = "pids".into();
    let e = check_inputs(&nodes).unwrap_err().to_string();
    assert!(
        e.contains("d.json ran a different suite than a.json: it lacks scenario startup"),
        "{e}"
    );
    // The suite a run names: quick vs default.
    let mut nodes = clean_fleet();
    for (n, suite) in nodes
        .iter_mut()
        .zip(["quick", "quick", "default", "quick", "quick"])
    {
        n.results
            .scenarios
            .push(scenario("harness", "isobench", json!({ "suite": suite })));
    }
    let e = check_inputs(&nodes).unwrap_err().to_string();
    assert!(
        e.contains("c.json ran a different suite than a.json: suite default vs quick"),
        "{e}"
    );
    // Points may differ (a kernel without a variant): still one suite.
    let mut nodes = clean_fleet();
    nodes[1].results.scenarios[0]
        .params
        .insert("launches".into(), json!(50));
    check_inputs(&nodes).unwrap();
    assert!(check_inputs(&[]).is_err());
    assert!(Expect::parse("0").is_err());
    assert!(Expect::parse("a,a").is_err());
    assert_eq!(Expect::parse("3").unwrap(), Expect::Count(3));
    assert_eq!(
        Expect::parse("a, b").unwrap(),
        Expect::Names(vec!["a".into(), "b".into()])
    );
}

#[test]
fn sonobuoy_results_follow_the_item_tree() {
    let mut n = node("n1", "6.1", 10.0, Status::Fail);
    n.results.scenarios[0]
        .checks
        .push(Check::new("quoted", Status::Warn, "a \"b\"", "c\nd", ""));
    let y = sonobuoy::results_yaml(&n.results, "n1");
    assert!(y.starts_with("name: isobench\nstatus: failed\n"), "{y}");
    assert!(y.contains("- name: \"startup[native]{launches=5}\"\n  status: failed\n"));
    assert!(y.contains("    status: passed\n    details:\n      isobench_status: warn\n"));
    assert!(y.contains("expected: \"a \\\"b\\\"\""), "{y}");
    assert!(y.contains("observed: \"c\\nd\""), "{y}");
}

#[test]
fn machine_params_do_not_split_a_point() {
    let mut a = scenario("cpuset", "native", json!({"pinned_cpu": 1, "seconds": 0.7}));
    let b = scenario("cpuset", "native", json!({"pinned_cpu": 0, "seconds": 0.7}));
    assert_eq!(fleet_key(&a), fleet_key(&b));
    assert_eq!(fleet_key(&a), "cpuset[native]{seconds=0.7}");
    a.params.insert("seconds".into(), json!(2.0));
    assert_ne!(fleet_key(&a), fleet_key(&b));
}
