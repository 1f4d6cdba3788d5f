//! Helpers shared by the plot builders: finding scenarios and metrics,
//! reading parameters, labelling sweep points, and turning samples into CDFs.

use crate::key::{distinguishing_params, param_value_text};
use crate::schema::{Metric, RunResults, ScenarioResult};
use crate::stats::quantile_sorted;

/// Scenario results with this name, in run order.
pub fn by_name<'a>(r: &'a RunResults, name: &str) -> Vec<&'a ScenarioResult> {
    r.scenarios.iter().filter(|s| s.name == name).collect()
}

/// A metric of a scenario by name.
pub fn metric<'a>(s: &'a ScenarioResult, name: &str) -> Option<&'a Metric> {
    s.metrics.iter().find(|m| m.name == name)
}

/// A numeric parameter (JSON number or numeric string).
pub fn param_f64(s: &ScenarioResult, key: &str) -> Option<f64> {
    match s.params.get(key)? {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(t) => t.trim().parse().ok(),
        _ => None,
    }
}

/// A parameter as display text.
pub fn param_text(s: &ScenarioResult, key: &str) -> Option<String> {
    s.params.get(key).map(param_value_text)
}

const MIB: f64 = 1024.0 * 1024.0;

/// A parameter holding a size, in bytes: `<stem>_bytes`, `<stem>_mib` or `<stem>_kib`.
pub fn param_bytes(s: &ScenarioResult, stem: &str) -> Option<f64> {
    param_f64(s, &format!("{stem}_bytes"))
        .or_else(|| param_f64(s, &format!("{stem}_mib")).map(|v| v * MIB))
        .or_else(|| param_f64(s, &format!("{stem}_kib")).map(|v| v * 1024.0))
}

/// Memory limits a scenario's parameters name, as (label, bytes): `limit`,
/// `high` (memory.high) and `max` (memory.max).
pub fn memory_limits(s: &ScenarioResult) -> Vec<(String, f64)> {
    [
        ("limit", "limit"),
        ("high", "memory.high"),
        ("max", "memory.max"),
    ]
    .iter()
    .filter_map(|(stem, label)| {
        param_bytes(s, stem).map(|b| {
            (
                format!("{label} ({})", crate::units::format_value(b, "bytes")),
                b,
            )
        })
    })
    .collect()
}

/// Series name suffixes with the unit they mean and the factor to it, first
/// match wins.
const SERIES_SUFFIXES: &[(&str, &str, f64)] = &[
    ("_bytes", "bytes", 1.0),
    ("_mib", "bytes", MIB),
    ("_kib", "bytes", 1024.0),
    ("_cpus", "CPUs", 1.0),
    ("_seconds", "s", 1.0),
    ("_s", "s", 1.0),
    ("_ms", "ms", 1.0),
    ("_us", "us", 1.0),
];

/// Unit of a series guessed from its name suffix (series carry no unit), as
/// (unit for display, factor to that unit): `usage_mib` is bytes × 2^20.
pub fn series_unit(name: &str) -> (&'static str, f64) {
    let n = name.to_ascii_lowercase();
    if n == "bytes" {
        return ("bytes", 1.0);
    }
    SERIES_SUFFIXES
        .iter()
        .find(|(suffix, ..)| n.ends_with(suffix))
        .map_or(("", 1.0), |&(_, unit, factor)| (unit, factor))
}

/// Finite samples of a metric, sorted.
pub fn sorted_samples(m: &Metric) -> Vec<f64> {
    let mut v = m.samples.clone();
    v.retain(|x| x.is_finite());
    v.sort_by(f64::total_cmp);
    v
}

/// Unique values in first-seen order.
pub fn unique<T: PartialEq + Clone>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for i in items {
        if !out.contains(&i) {
            out.push(i);
        }
    }
    out
}

/// Short label telling one scenario result apart from its siblings: the
/// launcher when several are present, then the value of one parameter that
/// alone tells the same-launcher siblings apart (`variant` first), else every
/// parameter that varies as `k=v`. Falls back to the launcher.
pub fn point_label(all: &[&ScenarioResult], s: &ScenarioResult) -> String {
    let mut parts = Vec::new();
    if unique(all.iter().map(|o| o.launcher.as_str())).len() > 1 {
        parts.push(s.launcher.clone());
    }
    let same_launcher: Vec<&ScenarioResult> = all
        .iter()
        .copied()
        .filter(|o| o.launcher == s.launcher && o.name == s.name)
        .collect();
    let mut keys: Vec<&String> = s.params.keys().collect();
    keys.sort_by_key(|k| (k.as_str() != "variant", k.as_str()));
    let decisive = keys.into_iter().find(|k| {
        same_launcher.len() > 1
            && unique(same_launcher.iter().map(|o| o.params.get(k.as_str()))).len()
                == same_launcher.len()
    });
    let varying = distinguishing_params(all, s);
    if let Some(k) = decisive {
        parts.push(param_value_text(&s.params[k.as_str()]));
    } else if !varying.is_empty() {
        parts.push(varying);
    }
    if parts.is_empty() {
        s.launcher.clone()
    } else {
        parts.join(" · ")
    }
}

/// Empirical CDF as a step line of (x * factor, fraction ≤ x); positive x only
/// when `positive_only` (log axes); at most ~1000 steps.
pub fn cdf_points(samples: &[f64], factor: f64, positive_only: bool) -> Vec<(f64, f64)> {
    let mut v: Vec<f64> = samples
        .iter()
        .copied()
        .filter(|x| x.is_finite() && (!positive_only || *x > 0.0))
        .map(|x| x * factor)
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n == 0 {
        return vec![];
    }
    let steps = n.min(1000);
    let mut out = Vec::with_capacity(2 * steps + 1);
    out.push((v[0], 0.0));
    for k in 0..steps {
        let (x, y) = if steps == n {
            (v[k], (k + 1) as f64 / n as f64)
        } else {
            let q = (k + 1) as f64 / steps as f64;
            (quantile_sorted(&v, q), q)
        };
        let prev_y = out.last().map(|p| p.1).unwrap_or(0.0);
        out.push((x, prev_y));
        out.push((x, y));
    }
    out
}

/// Series points as (t, value * factor), finite only, sorted by t.
pub fn timeline(points: &[[f64; 2]], factor: f64) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = points
        .iter()
        .filter(|p| p[0].is_finite() && p[1].is_finite())
        .map(|p| (p[0], p[1] * factor))
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::scenario;
    use serde_json::json;

    #[test]
    fn labels_use_the_fewest_words_that_tell_points_apart() {
        let a = scenario(
            "m",
            "native",
            json!({"variant": "single", "hog_mib": 512, "limit_mib": 256}),
        );
        let b = scenario(
            "m",
            "native",
            json!({"variant": "oom-group", "procs": 4, "limit_mib": 256}),
        );
        let all = [&a, &b];
        assert_eq!(point_label(&all, &a), "single");
        let q1 = scenario("q", "native", json!({"quota_pct": 20, "period_ms": 100}));
        let q2 = scenario("q", "runc", json!({"quota_pct": 20, "period_ms": 100}));
        assert_eq!(point_label(&[&q1, &q2], &q2), "runc");
        let p1 = scenario("q", "native", json!({"quota_pct": 20, "period_ms": 100}));
        let p2 = scenario("q", "native", json!({"quota_pct": 50, "period_ms": 100}));
        assert_eq!(point_label(&[&p1, &p2], &p2), "50");
        assert_eq!(point_label(&[&p1], &p1), "native");
    }

    #[test]
    fn cdf_is_a_monotone_step_from_zero_to_one() {
        let pts = cdf_points(&[3.0, 1.0, 2.0, f64::NAN], 10.0, true);
        assert_eq!(pts.first(), Some(&(10.0, 0.0)));
        assert_eq!(pts.last(), Some(&(30.0, 1.0)));
        assert!(pts.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        let big: Vec<f64> = (1..=5000).map(f64::from).collect();
        let pts = cdf_points(&big, 1.0, false);
        assert!(pts.len() <= 2001);
        assert_eq!(pts.last(), Some(&(5000.0, 1.0)));
        assert!(cdf_points(&[-1.0, 0.0], 1.0, true).is_empty());
    }
}
