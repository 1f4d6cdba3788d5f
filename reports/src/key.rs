//! Stable identities for scenarios and metrics, so the same measurement is
//! matched across runs (compare), named in exports and targeted by gate globs.
//!
//! A scenario key is `name[launcher]{k=v k=v}` with parameters sorted by name;
//! a metric key appends `/metric`. Example:
//! `startup[native]{namespaces=pid,mnt,uts,ipc}/ready`.

use serde_json::{Map, Value};

use crate::schema::ScenarioResult;

/// One parameter value as text: strings bare, everything else compact JSON.
pub fn param_value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Parameters as `k=v k=v`, sorted by name, so the text never depends on the
/// order the harness happened to insert them in.
pub fn params_text(params: &Map<String, Value>) -> String {
    let mut keys: Vec<&String> = params.keys().collect();
    keys.sort();
    keys.iter()
        .map(|k| format!("{k}={}", param_value_text(&params[k.as_str()])))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `name[launcher]{params}`: what identifies one scenario point across runs.
pub fn scenario_key(s: &ScenarioResult) -> String {
    scenario_key_as(s, &s.launcher)
}

/// [`scenario_key`] with another launcher label (compare keys both arms of
/// an interleaved run as one).
pub fn scenario_key_as(s: &ScenarioResult, launcher: &str) -> String {
    let params = params_text(&s.params);
    if params.is_empty() {
        format!("{}[{launcher}]", s.name)
    } else {
        format!("{}[{launcher}]{{{params}}}", s.name)
    }
}

/// `name[launcher]{params}/metric`: what the gate's globs match against.
pub fn metric_key(s: &ScenarioResult, metric: &str) -> String {
    format!("{}/{}", scenario_key(s), metric)
}

/// Lower-case `[a-z0-9-]` form of any text, for file names.
pub fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push('x');
    }
    out
}

/// Parameters that differ between scenario results of the same name, as
/// `k=v k=v`: the short label that tells sweep points apart.
pub fn distinguishing_params(all: &[&ScenarioResult], s: &ScenarioResult) -> String {
    let mut keys: Vec<&String> = s
        .params
        .keys()
        .filter(|k| {
            all.iter()
                .filter(|o| o.name == s.name)
                .any(|o| o.params.get(k.as_str()) != s.params.get(k.as_str()))
        })
        .collect();
    keys.sort();
    keys.iter()
        .map(|k| format!("{k}={}", param_value_text(&s.params[k.as_str()])))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use crate::names::{cpu_quota, pids};
    use serde_json::json;

    fn scen(name: &str, params: Value) -> ScenarioResult {
        fixture::scenario(name, "native", params)
    }

    #[test]
    fn keys_are_sorted_and_stable() {
        let s = scen(
            cpu_quota::SCENARIO,
            json!({"quota_pct": 20, "demand_cpus": 1.0, "weights": [1, 2], "ns": "pid,mnt"}),
        );
        assert_eq!(
            metric_key(&s, cpu_quota::ACCURACY),
            "cpu-quota[native]{demand_cpus=1.0 ns=pid,mnt quota_pct=20 weights=[1,2]}/accuracy"
        );
        assert_eq!(
            scenario_key(&scen(pids::SCENARIO, json!({}))),
            "pids[native]"
        );
    }

    #[test]
    fn slug_and_distinguishing_params() {
        assert_eq!(slug("Startup: pid,mnt / ready"), "startup-pid-mnt-ready");
        assert_eq!(slug("..."), "x");
        let a = scen("q", json!({"quota_pct": 20, "period_ms": 100}));
        let b = scen("q", json!({"quota_pct": 50, "period_ms": 100}));
        let all = [&a, &b];
        assert_eq!(distinguishing_params(&all, &a), "quota_pct=20");
    }
}
