//! Exports for the CI benchmark ecosystem, so isobench results can be
//! tracked over time by tools people already run.
//!
//! - `gab`: github-action-benchmark `customSmallerIsBetter`: a JSON array of
//!   `{name, unit, value, range, extra}`, one entry per lower-is-better metric
//!   and per `better = target` metric. A target metric is exported offset
//!   from zero, as `1 + median |x - target| / |target|` (unit `ratio`, name
//!   suffixed ` (ratio to target)`; 1 is on target), which is
//!   smaller-is-better by construction.
//! - No exported value is 0: github-action-benchmark alerts on current /
//!   previous, so a zero baseline turns the first bit of noise into an
//!   infinite regression. A metric whose median is 0 (no escapes, no
//!   leaks, no refused forks) is left out of `gab`, `gab-bigger` and `bmf`;
//!   the results file and `compare` still carry it.
//! - `gab-bigger`: the `customBiggerIsBetter` array with the higher-is-better
//!   metrics. github-action-benchmark takes one tool per file, so a workflow
//!   that wants both runs the action twice.
//! - `bmf`: Bencher Metric Format, `{ "<scenario key>": { "<metric>": {value,
//!   lower_value, upper_value} } }` with the median and the 10th/90th
//!   percentiles of the raw samples (Bencher's thresholds give direction);
//!   each measure is named `metric (unit)`, since BMF has no unit field.
//!
//! Names are metric keys (`name[launcher]{params}/metric`), stable across runs.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::key::{metric_key, scenario_key};
use crate::schema::{Better, Metric, RunResults};
use crate::stats::quantile_sorted;
use crate::units::format_number;

/// Which CI-ecosystem format `export` produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// github-action-benchmark `customSmallerIsBetter` (lower and target metrics).
    Gab,
    /// github-action-benchmark `customBiggerIsBetter` (higher metrics).
    GabBigger,
    /// Bencher Metric Format.
    Bmf,
}

/// An export format name that is not one of the accepted ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown export format {0:?}; accepted: gab (github-action-benchmark customSmallerIsBetter), gab-bigger (customBiggerIsBetter), bmf (Bencher Metric Format)")]
pub struct ExportFormatError(pub String);

impl FromStr for ExportFormat {
    type Err = ExportFormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "gab" | "gab-smaller" => Ok(ExportFormat::Gab),
            "gab-bigger" => Ok(ExportFormat::GabBigger),
            "bmf" | "bencher" => Ok(ExportFormat::Bmf),
            _ => Err(ExportFormatError(s.to_string())),
        }
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExportFormat::Gab => "gab",
            ExportFormat::GabBigger => "gab-bigger",
            ExportFormat::Bmf => "bmf",
        })
    }
}

/// One github-action-benchmark entry.
#[derive(Debug, Serialize)]
struct GabEntry {
    name: String,
    unit: String,
    value: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    range: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    extra: Option<String>,
}

/// Sorted finite values of a metric on its exported scale (`to_target`:
/// `1 + |x - target| / |target|`, or `1 + |x - target|` for a zero target).
/// Empty when the median is 0 (see the module doc).
fn exported_values(m: &Metric, to_target: bool) -> Vec<f64> {
    let mut v: Vec<f64> = m
        .samples
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .map(|x| match (to_target, m.target) {
            (true, Some(t)) if t != 0.0 => 1.0 + (x - t).abs() / t.abs(),
            (true, Some(t)) => 1.0 + (x - t).abs(),
            _ => x,
        })
        .collect();
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() || quantile_sorted(&v, 0.5) == 0.0 {
        return Vec::new();
    }
    v
}

/// Renders `results` in `format` (pretty JSON text, newline-terminated).
pub fn export(results: &RunResults, format: ExportFormat) -> String {
    let value = match format {
        ExportFormat::Gab | ExportFormat::GabBigger => {
            let wanted_higher = format == ExportFormat::GabBigger;
            let mut entries = Vec::new();
            for s in &results.scenarios {
                for m in &s.metrics {
                    let is_target = m.better == Better::Target && m.target.is_some();
                    let include = match m.better {
                        Better::Higher => wanted_higher,
                        Better::Lower => !wanted_higher,
                        Better::Target => !wanted_higher && is_target,
                    };
                    let v = exported_values(m, is_target);
                    if !include || v.is_empty() {
                        continue;
                    }
                    let (p10, p50, p90) = (
                        quantile_sorted(&v, 0.1),
                        quantile_sorted(&v, 0.5),
                        quantile_sorted(&v, 0.9),
                    );
                    let mut name = metric_key(s, &m.name);
                    if is_target {
                        name.push_str(" (ratio to target)");
                    }
                    let mut extra = format!(
                        "n={} p10={} p90={} kernel={} cgroup={}",
                        v.len(),
                        format_number(p10),
                        format_number(p90),
                        results.environment.kernel,
                        results.environment.cgroup_mode
                    );
                    if let (true, Some(t)) = (is_target, m.target) {
                        extra.push_str(&format!(" target={}", format_number(t)));
                    }
                    entries.push(GabEntry {
                        name,
                        unit: if is_target {
                            "ratio".into()
                        } else {
                            m.unit.clone()
                        },
                        value: p50,
                        range: (v.len() > 1)
                            .then(|| format!("± {}", format_number((p90 - p10) / 2.0))),
                        extra: Some(extra),
                    });
                }
            }
            serde_json::to_value(entries).unwrap_or(Value::Null)
        }
        ExportFormat::Bmf => {
            let mut out = Map::new();
            for s in &results.scenarios {
                let bench = out
                    .entry(scenario_key(s))
                    .or_insert_with(|| Value::Object(Map::new()));
                for m in &s.metrics {
                    let v = exported_values(m, false);
                    if v.is_empty() {
                        continue;
                    }
                    if let Value::Object(measures) = bench {
                        let measure = format!("{} ({})", m.name, m.unit);
                        measures.entry(measure).or_insert(json!({
                            "value": quantile_sorted(&v, 0.5),
                            "lower_value": quantile_sorted(&v, 0.1),
                            "upper_value": quantile_sorted(&v, 0.9),
                        }));
                    }
                }
            }
            out.retain(|_, v| v.as_object().is_some_and(|o| !o.is_empty()));
            Value::Object(out)
        }
    };
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_else(|_| "null".into());
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::demo_results;

    #[test]
    fn format_names_parse_with_a_clear_error() {
        assert_eq!("gab".parse(), Ok(ExportFormat::Gab));
        assert_eq!("BMF".parse(), Ok(ExportFormat::Bmf));
        assert_eq!("gab-bigger".parse(), Ok(ExportFormat::GabBigger));
        let e = "csv".parse::<ExportFormat>().unwrap_err().to_string();
        assert!(
            e.contains("\"csv\"") && e.contains("gab") && e.contains("bmf"),
            "{e}"
        );
        for f in [
            ExportFormat::Gab,
            ExportFormat::GabBigger,
            ExportFormat::Bmf,
        ] {
            assert_eq!(f.to_string().parse(), Ok(f));
        }
    }

    #[test]
    fn gab_arrays_are_valid_and_split_by_direction() {
        let r = demo_results(1);
        let smaller: Value = serde_json::from_str(&export(&r, ExportFormat::Gab)).unwrap();
        let bigger: Value = serde_json::from_str(&export(&r, ExportFormat::GabBigger)).unwrap();
        let smaller = smaller.as_array().unwrap();
        let bigger = bigger.as_array().unwrap();
        assert!(!smaller.is_empty() && !bigger.is_empty());
        for e in smaller.iter().chain(bigger) {
            assert!(
                e["name"].is_string() && e["unit"].is_string() && e["value"].is_f64(),
                "{e}"
            );
        }
        let acc = smaller
            .iter()
            .find(|e| {
                e["name"]
                    .as_str()
                    .unwrap()
                    .contains("quota_pct=50 threads=2}/accuracy")
            })
            .unwrap();
        assert!(acc["name"].as_str().unwrap().ends_with("(ratio to target)"));
        assert_eq!(acc["unit"], "ratio");
        let v = acc["value"].as_f64().unwrap();
        assert!((1.0..1.05).contains(&v), "{v}");
        // Nothing exported is zero (a zero baseline alerts at ∞×).
        for e in smaller.iter().chain(bigger) {
            assert_ne!(e["value"].as_f64().unwrap(), 0.0, "{e}");
        }
        assert!(bigger
            .iter()
            .any(|e| e["name"].as_str().unwrap().ends_with("/usage_cpus")));
        assert!(!smaller
            .iter()
            .any(|e| e["name"].as_str().unwrap().ends_with("/usage_cpus")));
    }

    #[test]
    fn zero_medians_are_left_out_everywhere() {
        let mut r = crate::fixture::empty_run("z");
        let mut s = crate::fixture::scenario("isolation", "native", serde_json::json!({}));
        s.metrics.push(Metric::new(
            "escapes",
            "count",
            Better::Lower,
            vec![0.0, 0.0, 1.0],
        ));
        s.metrics
            .push(Metric::new("ready", "s", Better::Lower, vec![0.001]));
        s.metrics
            .push(Metric::new("share", "ratio", Better::Higher, vec![0.0]));
        r.scenarios.push(s);
        let gab: Value = serde_json::from_str(&export(&r, ExportFormat::Gab)).unwrap();
        let names: Vec<&str> = gab
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["isolation[native]/ready"]);
        let big: Value = serde_json::from_str(&export(&r, ExportFormat::GabBigger)).unwrap();
        assert!(big.as_array().unwrap().is_empty());
        let bmf: Value = serde_json::from_str(&export(&r, ExportFormat::Bmf)).unwrap();
        let keys: Vec<&String> = bmf["isolation[native]"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(keys, ["ready (s)"]);
    }

    #[test]
    fn bmf_is_valid_json_with_values() {
        let r = demo_results(1);
        let v: Value = serde_json::from_str(&export(&r, ExportFormat::Bmf)).unwrap();
        let ready = &v["startup[native]{namespaces=pid}"]["ready (s)"];
        let (lo, mid, hi) = (
            ready["lower_value"].as_f64().unwrap(),
            ready["value"].as_f64().unwrap(),
            ready["upper_value"].as_f64().unwrap(),
        );
        assert!(lo <= mid && mid <= hi && mid > 0.0);
        for (_, measures) in v.as_object().unwrap() {
            for (_, m) in measures.as_object().unwrap() {
                assert_ne!(m["value"].as_f64().unwrap(), 0.0, "{m}");
            }
        }
        // The errored scenario has no metrics and is left out.
        assert!(v.get("isolation[runc]").is_none());
    }
}
