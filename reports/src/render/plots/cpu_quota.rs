//! cpu-quota plots: the quota sweep (measured / expected against the quota,
//! around 1.0 with a ±5% band) and one usage timeline, of a point whose
//! sampling cannot alias, with the throttled intervals shaded.

use super::common::*;
use super::spec::*;
use crate::key::slug;
use crate::names::cpu_quota as n;
use crate::schema::{RunResults, ScenarioResult};
use crate::units::format_number;

/// Shortest timeline averaging window, made of whole CFS periods.
const WINDOW_MIN_S: f64 = 0.2;

/// Tolerance band drawn around 1.0.
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

/// Measured over expected CPU time per repetition: the `accuracy` samples,
/// else `usage_cpus` over the expected usage; median and (min, max).
fn ratio(s: &ScenarioResult, expected: f64) -> Option<(f64, (f64, f64))> {
    let (m, scale) = match metric(s, n::ACCURACY) {
        Some(m) => (m, 1.0),
        None if expected > 0.0 => (metric(s, n::USAGE_CPUS)?, 1.0 / expected),
        None => return None,
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
    // Every point with a usage series (the harness records one); each is
    // averaged over whole CFS periods, so none can alias.
    for s in &all {
        out.extend(timeline_plot(&all, s));
    }
    out
}

/// The sweep as measured / expected against the quota, one series per
/// (launcher, period): y sits around 1.0, so a 1% error is visible; series
/// are shifted sideways a little so their markers never cover each other.
fn sweep(all: &[&ScenarioResult]) -> Option<PlotSpec> {
    let launchers = unique(all.iter().map(|s| s.launcher.clone()));
    let periods = unique(
        all.iter()
            .map(|s| param_f64(s, n::PERIOD_MS).map_or("–".into(), format_number)),
    );
    let mut p = XyPlot::new(
        Axis::linear("quota (CPUs)"),
        Axis {
            from_zero: false,
            ..Axis::linear("measured / expected CPU time (ratio)")
        },
    );
    p.legend = LegendAt::UpperRight;
    let mut xmax: f64 = 0.0;
    let mut groups = Vec::new();
    for l in &launchers {
        for per in &periods {
            let mut pts = Vec::new();
            let mut whiskers = Vec::new();
            for s in all.iter().filter(|s| {
                &s.launcher == l
                    && &param_f64(s, n::PERIOD_MS).map_or("–".into(), format_number) == per
            }) {
                let (Some(e), Some(q)) = (expected_cpus(s), quota_cpus(s)) else {
                    continue;
                };
                let Some((med, range)) = ratio(s, e) else {
                    continue;
                };
                xmax = xmax.max(q);
                pts.push((q, med));
                whiskers.push(range);
            }
            if !pts.is_empty() {
                let mut label = format!("{l}, period {per} ms");
                if launchers.len() == 1 {
                    label = format!("period {per} ms");
                }
                groups.push((format!("{label} (median, min–max)"), pts, whiskers));
            }
        }
    }
    if groups.is_empty() {
        return None;
    }
    let n_groups = groups.len() as f64;
    let dodge = xmax.max(0.1) * 0.012;
    for (i, (label, pts, whiskers)) in groups.into_iter().enumerate() {
        let shift = (i as f64 - (n_groups - 1.0) / 2.0) * dodge;
        p.series.push(Series {
            label,
            points: pts.into_iter().map(|(x, y)| (x + shift, y)).collect(),
            style: Style::Points,
            whiskers,
        });
    }
    let top = xmax * 1.08;
    p.hlines.push(RefLine {
        label: "exact (1.0)".into(),
        at: 1.0,
    });
    p.band = Some(Band {
        label: format!("±{}% tolerance", BAND * 100.0),
        points: vec![(0.0, 1.0 - BAND, 1.0 + BAND), (top, 1.0 - BAND, 1.0 + BAND)],
    });
    Some(PlotSpec {
        id: format!("{}-sweep", n::SCENARIO),
        group: n::SCENARIO.into(),
        title: "CPU quota sweep: measured / expected CPU time".into(),
        caption: "One marker per quota and series (launcher × CFS period): the median over \
                  the repetitions of measured CPU time over what the quota allows (capped by \
                  demand), whiskers min to max. 1.0 is exact; the grey band is the ±5% \
                  tolerance. Series are shifted sideways by a hair so none hides another."
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

/// Usage averaged over consecutive windows of whole sample intervals, each
/// at least `window` seconds long, as steps: (window start, mean), (window
/// end, mean). A sample (t, u) is the mean usage of the interval ending at t.
pub fn windowed(points: &[(f64, f64)], window: f64) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    if points.len() < 2 || window.is_nan() || window <= 0.0 {
        return out;
    }
    let first_dt = points[1].0 - points[0].0;
    // The first sample's interval starts at the monitor's start (t = 0)
    // when it is about one interval long; otherwise its start is unknown.
    let (mut prev, skip) = if points[0].0 <= 2.0 * first_dt {
        (0.0, 0)
    } else {
        (points[0].0, 1)
    };
    let (mut start, mut cpu) = (prev, 0.0);
    for &(t, u) in &points[skip..] {
        cpu += u * (t - prev);
        prev = t;
        if t - start >= window * (1.0 - 1e-6) {
            let mean = cpu / (t - start);
            out.push((start, mean));
            out.push((t, mean));
            start = t;
            cpu = 0.0;
        }
    }
    out
}

fn timeline_plot(all: &[&ScenarioResult], s: &ScenarioResult) -> Option<PlotSpec> {
    let usage = s.series.get(n::SERIES_USAGE_CPUS)?;
    let raw = timeline(usage, 1.0);
    let label = point_label(all, s);
    let dts: Vec<f64> = raw.windows(2).map(|w| w[1].0 - w[0].0).collect();
    let sample = if dts.is_empty() {
        0.0
    } else {
        let mut d = dts.clone();
        d.sort_by(f64::total_cmp);
        d[d.len() / 2]
    };
    let period_s = param_f64(s, n::PERIOD_MS).map(|p| p / 1000.0);
    // Whole CFS periods: a window shorter than the period sees the
    // run-then-throttled pattern inside one period as usage above the quota.
    // Several whole periods when they are short: a window of k periods
    // can still catch one period's runtime at each edge (a task starved
    // early in a period runs late in it), so its overshoot is at most 1/k.
    let period = period_s.unwrap_or(0.1).max(sample);
    let window = period * (WINDOW_MIN_S / period).ceil().max(1.0);
    let steps = windowed(&raw, window);
    if steps.is_empty() {
        return None;
    }
    let mut p = XyPlot::new(Axis::linear("time (s)"), Axis::linear("CPU usage (CPUs)"));
    p.series.push(Series::line(
        format!(
            "CPU usage per {} window",
            crate::units::format_value(window, "s")
        ),
        steps,
    ));
    if let Some(q) = quota_cpus(s) {
        p.hlines.push(RefLine {
            label: format!("quota ({} CPUs)", format_number(q)),
            at: q,
        });
        // What an enforced quota can still show per window (one period's
        // runtime at each edge): only a window above this line is a breach.
        let k = (window / period).round().max(1.0);
        p.hlines.push(RefLine {
            label: format!(
                "breach above ({} CPUs: quota × (1 + 1/{k}) for {k}-period windows)",
                format_number(q * (1.0 + 1.0 / k))
            ),
            at: q * (1.0 + 1.0 / k),
        });
    }
    if let Some(thr) = s.series.get(n::SERIES_THROTTLED) {
        p.spans = Some(Spans {
            label: "throttled sample interval".into(),
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
    let per_text = period_s.map_or("the period".to_string(), |p| {
        crate::units::format_value(p, "s")
    });
    Some(PlotSpec {
        id: format!("{}-timeline-{}", n::SCENARIO, slug(&label)),
        group: n::SCENARIO.into(),
        title: format!("CPU usage over time — {quota}, {}", s.launcher),
        caption: format!(
            "CPU usage averaged over consecutive {} windows of whole CFS periods ({per_text}) \
             and whole monitor samples ({} apart). Inside a period a throttled task runs flat \
             out and then waits, so usage per sample swings between 0 and the demand and would \
             look like a quota breach; over whole periods it stays at the quota unless the \
             quota is not enforced (a window of k periods can be off by at most 1/k where a \
             starved task ran late in one period and early in the next). Red shading: sample \
             intervals in which the cgroup was throttled (nr_throttled increased).",
            crate::units::format_value(window, "s"),
            crate::units::format_value(sample, "s")
        ),
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
    fn windows_average_whole_periods_so_duty_cycles_do_not_alias() {
        // 10 ms samples of a 20%-of-100 ms quota: 2 samples at 1 CPU, 8 at 0.
        let pts: Vec<(f64, f64)> = (1..=50)
            .map(|i| (i as f64 * 0.01, if (i - 1) % 10 < 2 { 1.0 } else { 0.0 }))
            .collect();
        let w = windowed(&pts, 0.1);
        assert_eq!(w.len(), 10);
        for (_, v) in &w {
            assert!((v - 0.2).abs() < 1e-9, "{w:?}");
        }
        // The raw samples peak at 1 CPU, five times the quota.
        assert!(pts.iter().any(|p| p.1 == 1.0));
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
