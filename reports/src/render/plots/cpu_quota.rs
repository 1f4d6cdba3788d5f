//! cpu-quota plots: the quota sweep (measured against expected usage, with
//! the y = x line and a ±5% band) and per-point usage timelines with the
//! throttled intervals shaded.

use super::common::*;
use super::spec::*;
use crate::key::slug;
use crate::names::cpu_quota as n;
use crate::schema::{RunResults, ScenarioResult};
use crate::units::format_number;

/// Tolerance band drawn around y = x.
const BAND: f64 = 0.05;

/// The quota in CPUs (`quota_pct` / 100).
fn quota_cpus(s: &ScenarioResult) -> Option<f64> {
    param_f64(s, n::QUOTA_PCT).map(|q| q / 100.0)
}

/// CPUs the workload should get: an explicit `expected_cpus`, else the quota
/// capped by the demand (`demand_cpus`, or `threads`).
pub fn expected_cpus(s: &ScenarioResult) -> Option<f64> {
    if let Some(e) = param_f64(s, "expected_cpus") {
        return Some(e);
    }
    let q = quota_cpus(s)?;
    let demand = param_f64(s, n::DEMAND_CPUS).or_else(|| param_f64(s, n::THREADS));
    Some(demand.map_or(q, |d| q.min(d)))
}

/// Measured usage: median and (min, max) of `usage_cpus`, else accuracy × expected.
fn measured(s: &ScenarioResult, expected: f64) -> Option<(f64, (f64, f64))> {
    let (m, scale) = match metric(s, n::USAGE_CPUS) {
        Some(m) => (m, 1.0),
        None => (metric(s, n::ACCURACY)?, expected),
    };
    let v = sorted_samples(m);
    let (first, last) = (*v.first()?, *v.last()?);
    Some((
        crate::stats::quantile_sorted(&v, 0.5) * scale,
        (first * scale, last * scale),
    ))
}

/// All cpu-quota plots of a run.
pub fn plots(r: &RunResults) -> Vec<PlotSpec> {
    let all = by_name(r, n::SCENARIO);
    let mut out = Vec::new();
    out.extend(sweep(&all));
    for s in &all {
        out.extend(timeline_plot(&all, s));
    }
    out
}

fn sweep(all: &[&ScenarioResult]) -> Option<PlotSpec> {
    let launchers = unique(all.iter().map(|s| s.launcher.clone()));
    let mut p = XyPlot::new(
        Axis::linear("expected CPU usage = min(quota, demand) (CPUs)"),
        Axis::linear("measured CPU usage (CPUs)"),
    );
    p.legend = LegendAt::UpperLeft;
    let mut max: f64 = 0.0;
    for l in &launchers {
        let mut pts = Vec::new();
        let mut whiskers = Vec::new();
        for s in all.iter().filter(|s| &s.launcher == l) {
            let Some(e) = expected_cpus(s) else { continue };
            let Some((med, range)) = measured(s, e) else {
                continue;
            };
            max = max.max(e).max(range.1);
            pts.push((e, med));
            whiskers.push(range);
        }
        if !pts.is_empty() {
            p.series.push(Series {
                label: if launchers.len() > 1 {
                    format!("measured, {l} (median, min–max)")
                } else {
                    "measured (median, min–max)".into()
                },
                points: pts,
                style: Style::Points,
                whiskers,
            });
        }
    }
    if p.series.is_empty() {
        return None;
    }
    let top = max * 1.05;
    p.series.insert(
        0,
        Series {
            label: "expected (y = x)".into(),
            points: vec![(0.0, 0.0), (top, top)],
            style: Style::Dashed,
            whiskers: vec![],
        },
    );
    p.band = Some(Band {
        label: format!("±{}% tolerance", BAND * 100.0),
        points: vec![
            (0.0, 0.0, 0.0),
            (top, top * (1.0 - BAND), top * (1.0 + BAND)),
        ],
    });
    Some(PlotSpec {
        id: format!("{}-sweep", n::SCENARIO),
        group: n::SCENARIO.into(),
        title: "CPU quota sweep: measured vs expected usage".into(),
        caption: "One point per quota: median CPU usage over the repetitions (whiskers: \
                  min to max). On the dashed line the quota is enforced exactly; the grey \
                  band is ±5%."
            .into(),
        kind: PlotKind::Xy(p),
    })
}

/// Throttled intervals from a `throttled` series of (t, 0|1) per sample
/// interval ending at t; touching intervals are merged.
pub fn throttled_intervals(points: &[[f64; 2]]) -> Vec<(f64, f64)> {
    let pts = timeline(points, 1.0);
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (i, &(t, v)) in pts.iter().enumerate() {
        if v < 0.5 {
            continue;
        }
        let start = if i > 0 {
            pts[i - 1].0
        } else if pts.len() > 1 {
            (t - (pts[1].0 - t)).max(0.0)
        } else {
            t
        };
        match out.last_mut() {
            Some(last) if last.1 >= start => last.1 = t,
            _ => out.push((start, t)),
        }
    }
    out
}

fn timeline_plot(all: &[&ScenarioResult], s: &ScenarioResult) -> Option<PlotSpec> {
    let usage = s.series.get(n::SERIES_USAGE_CPUS)?;
    let label = point_label(all, s);
    let mut p = XyPlot::new(Axis::linear("time (s)"), Axis::linear("CPU usage (CPUs)"));
    p.series.push(Series::line(
        "CPU usage per sample interval",
        timeline(usage, 1.0),
    ));
    if let Some(q) = quota_cpus(s) {
        p.hlines.push(RefLine {
            label: format!("quota ({} CPUs)", format_number(q)),
            at: q,
        });
    }
    if let Some(thr) = s.series.get(n::SERIES_THROTTLED) {
        p.spans = Some(Spans {
            label: "throttled interval".into(),
            intervals: throttled_intervals(thr),
        });
    }
    let quota = match (param_f64(s, n::QUOTA_PCT), param_f64(s, n::PERIOD_MS)) {
        (Some(q), Some(per)) => {
            format!("quota {}% per {} ms", format_number(q), format_number(per))
        }
        (Some(q), None) => format!("quota {}%", format_number(q)),
        _ => label.clone(),
    };
    Some(PlotSpec {
        id: format!("{}-timeline-{}", n::SCENARIO, slug(&label)),
        group: n::SCENARIO.into(),
        title: format!("CPU usage over time — {quota}, {}", s.launcher),
        caption: "CPU usage in each monitor sample interval; red shading marks intervals in \
                  which the cgroup was throttled (nr_throttled increased)."
            .into(),
        kind: PlotKind::Xy(p),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::scenario;
    use serde_json::json;

    #[test]
    fn expected_usage_is_quota_capped_by_demand() {
        let s = scenario(
            "cpu-quota",
            "native",
            json!({"quota_pct": 150, "demand_cpus": 1.0}),
        );
        assert_eq!(expected_cpus(&s), Some(1.0));
        let s = scenario(
            "cpu-quota",
            "native",
            json!({"quota_pct": "20", "threads": 2}),
        );
        assert_eq!(expected_cpus(&s), Some(0.2));
        assert_eq!(expected_cpus(&scenario("cpu-quota", "n", json!({}))), None);
    }

    #[test]
    fn throttled_intervals_merge() {
        let v = [[0.1, 1.0], [0.2, 1.0], [0.3, 0.0], [0.4, 1.0]];
        let got = throttled_intervals(&v);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!((got[0].0 - 0.0).abs() < 1e-9 && (got[0].1 - 0.2).abs() < 1e-9);
        assert!((got[1].0 - 0.3).abs() < 1e-9 && (got[1].1 - 0.4).abs() < 1e-9);
    }
}
