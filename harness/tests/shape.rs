//! The shape of the results: a quick-suite run must keep the scenario names,
//! params, metric, series and check names recorded in `ci/quick-shape.txt`,
//! and `isobench list` must print `ci/list.txt` byte for byte. A refactor
//! that renames one of them fails here; a deliberate change updates the file
//! (`ISOBENCH_BLESS=1` rewrites it from this run).

mod common;

use std::path::Path;

use serde_json::Value;

/// Params whose values depend on the machine (CPU count, which CPU is free).
const MACHINE_PARAMS: &[(&str, &str)] = &[
    ("cpuset", "pinned_cpu"),
    ("cpuset", "threads"),
    ("cpu-weight", "cpu"),
];

/// Metrics present only when a check they belong to succeeded (the PSI
/// trigger's latency exists when it fired): the check itself is in the
/// shape, and a miss is that check's failure, not a change of shape.
const OUTCOME_METRICS: &[&str] = &["psi_trigger_latency"];

/// One line per result row: name, params, then the names of its metrics,
/// series and checks, in the order the results file has them.
fn shape(results: &Value) -> String {
    let mut out = String::new();
    for s in results["scenarios"].as_array().expect("scenarios") {
        let name = s["name"].as_str().unwrap_or("?");
        let params: Vec<String> = s["params"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        if MACHINE_PARAMS.contains(&(name, k.as_str())) {
                            format!("{k}=*")
                        } else {
                            format!("{k}={v}")
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let names = |key: &str| -> String {
            s[key]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|m| m["name"].as_str().unwrap_or("?").to_string())
                        .filter(|n| !OUTCOME_METRICS.contains(&n.as_str()))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default()
        };
        let series: Vec<&str> = s["series"]
            .as_object()
            .map(|m| m.keys().map(String::as_str).collect())
            .unwrap_or_default();
        out += &format!(
            "{name} [{}] metrics={} series={} checks={}\n",
            params.join(" "),
            names("metrics"),
            series.join(","),
            names("checks"),
        );
    }
    out
}

fn same_or_bless(what: &str, expected_file: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(expected_file);
    if std::env::var_os("ISOBENCH_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap();
    if expected != actual {
        let diff: Vec<String> = expected
            .lines()
            .zip(actual.lines().chain(std::iter::repeat("<missing>")))
            .filter(|(e, a)| e != a)
            .map(|(e, a)| format!("- {e}\n+ {a}"))
            .collect();
        panic!(
            "{what} differs from {expected_file} ({} vs {} lines):\n{}",
            expected.lines().count(),
            actual.lines().count(),
            diff.join("\n")
        );
    }
}

#[test]
fn list_is_unchanged() {
    let out = common::isobench(&["list"]);
    assert!(out.status.success());
    same_or_bless(
        "isobench list",
        "ci/list.txt",
        &String::from_utf8(out.stdout).unwrap(),
    );
}

#[test]
fn quick_suite_keeps_its_shape() {
    if !common::root_or_skip("quick_suite_keeps_its_shape") {
        return;
    }
    let (out, out_path, _dir) = common::isobench_out(&["run", "--suite", "quick"]);
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Value = serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap();
    same_or_bless(
        "the quick suite's shape",
        "ci/quick-shape.txt",
        &shape(&results),
    );
}

#[test]
fn shape_names_every_part() {
    let v = serde_json::json!({"scenarios": [{
        "name": "cpuset", "params": {"pinned_cpu": 3, "seconds": 0.7},
        "metrics": [{"name": "usage_cpus"}], "series": {"s": []},
        "checks": [{"name": "affinity"}, {"name": "cpu-time"}]
    }]});
    assert_eq!(
        shape(&v),
        "cpuset [pinned_cpu=* seconds=0.7] metrics=usage_cpus series=s checks=affinity,cpu-time\n"
    );
}
