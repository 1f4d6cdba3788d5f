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

/// The timeline's averaging window for CFS period (or sample interval, when
/// longer) `period`: whole periods, at least [`WINDOW_MIN_S`]. A window
/// shorter than the period sees the run-then-throttled pattern inside one
/// period as usage above the quota; over k periods an enforced quota can
/// still show up to 1/k more ([`enforced_max`]).
pub fn window_for(period: f64) -> f64 {
    period * (WINDOW_MIN_S / period).ceil().max(1.0)
}

/// The most CPU time per second (CPUs) a cgroup held to `quota` CPUs per
/// CFS period of `period` seconds, running at most `demand` CPUs at once
/// (unbounded when None), can show over any `len`-second window, wherever
/// the window falls against the periods.
///
/// A window of m = ⌊len/period⌋ periods and r seconds more either covers m
/// whole periods and two partial ones whose overlaps add up to r (each
/// partial period gives at most min(quota·period, demand·overlap)), or m−1
/// whole periods and two partial ones adding up to period + r (at most a
/// full quota each). Nothing else fits, so the larger of the two, capped at
/// demand·len, bounds every schedule the kernel may choose: usage averaged
/// over the window from cumulative counters, as the timeline does, can
/// exceed it only when the quota was not enforced.
pub fn enforced_max(len: f64, period: f64, quota: f64, demand: Option<f64>) -> f64 {
    if len.is_nan() || len <= 0.0 || period.is_nan() || period <= 0.0 {
        return f64::NAN;
    }
    let m = (len / period).floor();
    let r = len - m * period;
    let per_period = quota * period;
    let rate = demand.filter(|d| *d > 0.0).unwrap_or(f64::INFINITY);
    let edges = if r > 0.0 {
        (rate * r).min(2.0 * per_period)
    } else {
        0.0
    };
    let whole = m * per_period + edges;
    let shifted = if m >= 1.0 {
        (m + 1.0) * per_period
    } else {
        0.0
    };
    whole.max(shifted).min(rate * len) / len
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
    let period = period_s.unwrap_or(0.1).max(sample);
    let window = window_for(period);
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
        steps.clone(),
    ));
    if let Some(q) = quota_cpus(s) {
        p.hlines.push(RefLine {
            label: format!("quota ({} CPUs)", format_number(q)),
            at: q,
        });
    }
    if let (Some(q), Some(per)) = (quota_cpus(s), period_s) {
        // The most an enforced quota can show in each window, for that
        // window's own length: only a window above this line is a breach.
        let demand = param_f64(s, n::DEMAND_CPUS).or_else(|| param_f64(s, n::THREADS));
        let bound = steps
            .chunks_exact(2)
            .flat_map(|w| {
                let b = enforced_max(w[1].0 - w[0].0, per, q, demand);
                [(w[0].0, b), (w[1].0, b)]
            })
            .collect();
        p.series.push(Series {
            label: "breach above: the most an enforced quota allows in that window".into(),
            points: bound,
            style: Style::Dashed,
            whiskers: vec![],
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
             quota is not enforced. A window falls anywhere against the periods, so a task that ran \
             late in one period and early in the next shows up to one period's quota more: the \
             dashed line is the most an enforced quota allows over each window's own length \
             (whole periods, the two partial ones at its edges, and the demand), and only a \
             window above it is a breach. Red shading: sample intervals in which the cgroup \
             was throttled (nr_throttled increased).",
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

    /// The project's seeded generator, with a pick from a list.
    struct Rng(crate::compare::SplitMix64);

    impl Rng {
        fn next(&mut self) -> f64 {
            self.0.unit()
        }
        fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
            xs[self.0.index(xs.len())]
        }
    }

    /// A cgroup's running intervals (start, end, CPUs) over `secs`: in each
    /// CFS period (its boundaries offset by `phase`) it runs `per_period`
    /// CPU-seconds at `demand` CPUs, placed as the kernel might: at the
    /// start, at the end, in the middle, or split between both edges (the
    /// adversarial case: late in one period, early in the next).
    fn schedule(
        rng: &mut Rng,
        period: f64,
        phase: f64,
        per_period: f64,
        demand: f64,
        secs: f64,
    ) -> Vec<(f64, f64, f64)> {
        let run = (per_period / demand).min(period);
        let mut out = Vec::new();
        let mut start = phase - period;
        while start < secs {
            let place = rng.next();
            if place < 0.25 {
                out.push((start, start + run, demand));
            } else if place < 0.5 {
                out.push((start + period - run, start + period, demand));
            } else if place < 0.75 {
                let at = rng.next() * (period - run);
                out.push((start + at, start + at + run, demand));
            } else {
                let head = rng.next() * run;
                out.push((start, start + head, demand));
                out.push((start + period - (run - head), start + period, demand));
            }
            start += period;
        }
        out
    }

    /// CPU-seconds the schedule used in [0, t].
    fn used(sched: &[(f64, f64, f64)], t: f64) -> f64 {
        sched
            .iter()
            .map(|&(a, b, rate)| (b.min(t) - a.max(0.0)).max(0.0) * rate)
            .sum()
    }

    /// What the harness's monitor records: (t, mean CPUs over the interval
    /// ending at t), at a jittered interval around `dt`.
    fn sampled(
        rng: &mut Rng,
        sched: &[(f64, f64, f64)],
        dt: f64,
        jitter: f64,
        secs: f64,
    ) -> Vec<(f64, f64)> {
        let mut out = Vec::new();
        let mut prev = 0.0;
        let mut t = dt;
        while t <= secs {
            out.push((t, (used(sched, t) - used(sched, prev)) / (t - prev)));
            prev = t;
            t += dt * (1.0 + jitter * (2.0 * rng.next() - 1.0));
        }
        out
    }

    /// Random CFS periods, quotas, demands, period phases and monitor
    /// intervals (also longer than the period, with up to ±50% jitter):
    /// under an enforced quota no window of the timeline ever rises above
    /// its own `enforced_max` line, and a quota that is not enforced (the
    /// cgroup getting twice its quota) rises above it.
    #[test]
    fn an_enforced_quota_never_crosses_the_breach_line_however_it_is_sampled() {
        let mut rng = Rng(crate::compare::SplitMix64::new(0x9e37_79b9_7f4a_7c15));
        let (mut windows, mut peak_share, mut caught) = (0usize, 0.0f64, 0usize);
        let trials = 400;
        for _ in 0..trials {
            let period = rng.pick(&[0.005, 0.01, 0.02, 0.05, 0.1, 0.25]);
            let demand = rng.pick(&[1.0, 2.0, 4.0]);
            let quota = demand * (0.05 + 0.4 * rng.next());
            let dt = rng.pick(&[0.001, 0.003, 0.01, 0.013, 0.04, 0.07, 0.3]);
            let jitter = rng.pick(&[0.0, 0.1, 0.5]);
            let phase = rng.next() * period;
            let secs = 3.0;
            let window = window_for(period.max(dt));
            for (overrun, enforced) in [(1.0, true), (2.0, false)] {
                let sched = schedule(
                    &mut rng,
                    period,
                    phase,
                    overrun * quota * period,
                    demand,
                    secs,
                );
                let pts = sampled(&mut rng, &sched, dt, jitter, secs);
                let steps = windowed(&pts, window);
                let mut above = 0;
                for w in steps.chunks_exact(2) {
                    let len = w[1].0 - w[0].0;
                    let exact = (used(&sched, w[1].0) - used(&sched, w[0].0)) / len;
                    assert!(
                        (w[0].1 - exact).abs() < 1e-9,
                        "the window mean is the counters' mean"
                    );
                    let bound = enforced_max(len, period, quota, Some(demand));
                    if enforced {
                        windows += 1;
                        peak_share = peak_share.max(w[0].1 / bound);
                        assert!(
                            w[0].1 <= bound * (1.0 + 1e-9),
                            "false breach: {} CPUs over {len} s > {bound} (period {period}, quota {quota}, \
                             demand {demand}, sample {dt} ± {jitter})",
                            w[0].1
                        );
                    } else if w[0].1 > bound {
                        above += 1;
                    }
                }
                if !enforced && above > 0 {
                    caught += 1;
                }
            }
        }
        assert!(windows > 5_000, "{windows} windows checked");
        // The bound is tight: adversarial placements come close to it.
        assert!(
            peak_share > 0.95,
            "closest window {peak_share} of its bound"
        );
        assert_eq!(caught, trials, "an unenforced quota shows above the line");
    }

    #[test]
    fn enforced_max_of_whole_and_shifted_windows() {
        // Two whole 100 ms periods at 20%: 40 ms, or 60 ms when the window
        // straddles three periods (late in the first, early in the last).
        let b = enforced_max(0.2, 0.1, 0.2, None);
        assert!((b - 0.3).abs() < 1e-12, "{b}");
        // A 1-CPU task cannot use more than the window's length.
        assert!((enforced_max(0.005, 0.1, 0.5, Some(1.0)) - 1.0).abs() < 1e-12);
        // 40 ms more than two periods: up to two partial quotas at the
        // edges beside the two whole ones (80 ms of 240 ms).
        let b = enforced_max(0.24, 0.1, 0.2, Some(1.0));
        assert!((b - 0.08 / 0.24).abs() < 1e-12, "{b}");
        assert!(enforced_max(0.0, 0.1, 0.2, None).is_nan());
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
