//! One node's run in Sonobuoy's canonical results format (a plugin with
//! `result-format: manual` ships its own `sonobuoy_results.yaml`): a tree
//! of items, each with `name`, `status` and optional `meta`, `details`
//! and `items`. The top item is the plugin; below it one item per
//! scenario point, below that one per check.
//!
//! Statuses: pass → `passed`, fail → `failed`, skip → `skipped`; warn is
//! `passed` with `details.isobench_status: warn` (Sonobuoy fails a
//! plugin on `failed` only). A scenario that did not complete is
//! `failed` with its cause in `details.error`.

use std::fmt::Write;

use crate::key::scenario_key;
use crate::schema::{RunResults, Status};

/// File name Sonobuoy looks for in a manual plugin's results.
pub const RESULTS_FILE: &str = "sonobuoy_results.yaml";
/// The plugin's name in the results tree (and in deploy/sonobuoy).
pub const PLUGIN_NAME: &str = "isobench";

fn status_word(s: Status) -> &'static str {
    match s {
        Status::Pass | Status::Warn => "passed",
        Status::Fail => "failed",
        Status::Skip => "skipped",
    }
}

/// A YAML double-quoted scalar (JSON string syntax is a subset of it).
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// The aggregate of child statuses: failed if any failed, skipped if all
/// skipped (or none), else passed.
fn aggregate(children: &[&'static str]) -> &'static str {
    if children.contains(&"failed") {
        "failed"
    } else if children.iter().all(|c| *c == "skipped") {
        "skipped"
    } else {
        "passed"
    }
}

/// `sonobuoy_results.yaml` for run `r` on `node`.
pub fn results_yaml(r: &RunResults, node: &str) -> String {
    let mut body = String::new();
    let mut tops = Vec::new();
    for s in &r.scenarios {
        let mut kids: Vec<&'static str> = s.checks.iter().map(|c| status_word(c.status)).collect();
        if s.error.is_some() {
            kids.push("failed");
        }
        let status = aggregate(&kids);
        tops.push(status);
        let _ = writeln!(body, "- name: {}", q(&scenario_key(s)));
        let _ = writeln!(body, "  status: {status}");
        if let Some(e) = &s.error {
            let _ = writeln!(body, "  details:\n    error: {}", q(e));
        }
        if s.checks.is_empty() {
            continue;
        }
        body.push_str("  items:\n");
        for c in &s.checks {
            let _ = writeln!(body, "  - name: {}", q(&c.name));
            let _ = writeln!(body, "    status: {}", status_word(c.status));
            body.push_str("    details:\n");
            let _ = writeln!(body, "      isobench_status: {}", c.status.as_str());
            let _ = writeln!(body, "      expected: {}", q(&c.expected));
            let _ = writeln!(body, "      observed: {}", q(&c.observed));
            if !c.detail.is_empty() {
                let _ = writeln!(body, "      detail: {}", q(&c.detail));
            }
        }
    }
    let mut out = String::new();
    let _ = writeln!(out, "name: {PLUGIN_NAME}");
    let _ = writeln!(out, "status: {}", aggregate(&tops));
    out.push_str("meta:\n");
    let _ = writeln!(out, "  node: {}", q(node));
    let _ = writeln!(out, "  run_id: {}", q(&r.run_id));
    let _ = writeln!(out, "  kernel: {}", q(&r.environment.kernel));
    let _ = writeln!(out, "  cgroup_mode: {}", q(&r.environment.cgroup_mode));
    if r.scenarios.is_empty() {
        out.push_str("items: []\n");
    } else {
        out.push_str("items:\n");
        out.push_str(&body);
    }
    out
}
