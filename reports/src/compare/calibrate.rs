//! `isobench calibrate`: per-metric run-to-run bands from K same-build runs,
//! the way Bencher derives thresholds from history. Every pair of runs
//! gives each metric a change of its median; a metric's band is the largest
//! such change over all pairs, times a margin, never below a floor. Bands
//! are written per metric key (one point of one scenario: the tightest
//! band) and, after those, per scenario and metric name (the largest over
//! its points), which covers points the calibration runs did not have.

use std::collections::BTreeMap;

use super::gate::{Band, Gate};
use super::CompareError;
use crate::key::metric_key;
use crate::schema::{Better, RunResults};
use crate::stats::median;

/// How bands are derived.
#[derive(Debug, Clone, Copy)]
pub struct CalibrateOptions {
    /// Factor on the largest same-build change (on the log scale for ratios).
    pub margin: f64,
    /// Smallest band, in percent.
    pub floor_pct: f64,
    /// Fewest same-build pairs a band may rest on: a metric seen cleanly
    /// (no warned check) in too few runs gets no band, so it stays
    /// `not testable` rather than judged against a spread never observed.
    pub min_pairs: usize,
}

impl Default for CalibrateOptions {
    fn default() -> Self {
        CalibrateOptions {
            margin: 2.0,
            floor_pct: 5.0,
            min_pairs: 10,
        }
    }
}

/// Medians per `(band pattern, metric key)` per run, on the compared scale.
fn medians(r: &RunResults) -> BTreeMap<(String, String), (Better, f64)> {
    let mut out = BTreeMap::new();
    for s in &r.scenarios {
        // A point whose check warned is not compared (see compare): leave it
        // out of the spread too.
        if s.checks
            .iter()
            .any(|c| c.status == crate::schema::Status::Warn)
        {
            continue;
        }
        for m in &s.metrics {
            let values: Vec<f64> = match (m.better, m.target) {
                (Better::Target, Some(t)) => m.samples.iter().map(|x| (x - t).abs()).collect(),
                (Better::Target, None) => continue,
                _ => m.samples.clone(),
            };
            let v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
            if v.is_empty() {
                continue;
            }
            let fallback = format!("{}[*/{}", s.name, m.name);
            out.insert((fallback, metric_key(s, &m.name)), (m.better, median(&v)));
        }
    }
    out
}

/// A gate: `base`'s defaults and rules, plus one `[[band]]` per scenario and
/// metric name seen in at least two of `runs`.
pub fn calibrate(
    runs: &[RunResults],
    base: &Gate,
    opts: CalibrateOptions,
) -> Result<Gate, CompareError> {
    if runs.len() < 3 {
        return Err(CompareError(format!(
            "calibrate needs at least 3 same-build results files (got {}); 8 give 28 pairs",
            runs.len()
        )));
    }
    if !(opts.margin >= 1.0 && opts.margin.is_finite()) {
        return Err(CompareError(format!(
            "--margin must be ≥ 1, got {}",
            opts.margin
        )));
    }
    if !(opts.floor_pct >= 0.0 && opts.floor_pct.is_finite()) {
        return Err(CompareError(format!(
            "--floor-pct must be ≥ 0, got {}",
            opts.floor_pct
        )));
    }
    super::same_suite(runs.iter())?;
    let per_run: Vec<_> = runs.iter().map(medians).collect();
    // pattern → (largest |log ratio|, largest |abs change|, is target, pairs),
    // per key and per scenario/metric.
    type Spread = BTreeMap<String, (f64, f64, bool, usize)>;
    let (mut per_key, mut per_name): (Spread, Spread) = Default::default();
    for i in 0..per_run.len() {
        for j in i + 1..per_run.len() {
            for (k, (better, a)) in &per_run[i] {
                let Some((_, b)) = per_run[j].get(k) else {
                    continue;
                };
                for (map, pattern) in [(&mut per_key, &k.1), (&mut per_name, &k.0)] {
                    let e = map.entry(pattern.clone()).or_insert((0.0, 0.0, false, 0));
                    e.2 |= *better == Better::Target;
                    e.3 += 1;
                    e.1 = e.1.max((a - b).abs());
                    if *a > 0.0 && *b > 0.0 {
                        e.0 = e.0.max((a / b).ln().abs());
                    }
                }
            }
        }
    }
    let band = |(pattern, (log, abs, target, pairs)): (String, (f64, f64, bool, usize))| {
        let pct = (100.0 * ((opts.margin * log).exp() - 1.0)).max(opts.floor_pct);
        // For `better = target` metrics the compared value is a distance to
        // the target, whose ratio is unstable near 0: their band is absolute.
        Band {
            pattern,
            run_to_run_pct: (!target).then(|| round_sig(pct)),
            run_to_run_abs: target.then(|| round_sig(opts.margin * abs)),
            pairs: Some(pairs),
        }
    };
    let mut gate = base.clone();
    gate.bands = per_key
        .into_iter()
        .chain(per_name)
        .filter(|(_, v)| v.3 >= opts.min_pairs)
        .map(band)
        .collect();
    Ok(gate)
}

/// Three significant digits, so the gate file reads cleanly.
fn round_sig(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let d = 10f64.powi(2 - x.abs().log10().floor() as i32);
    (x * d).round() / d
}

/// The gate as TOML, with a header saying how it was made.
pub fn to_toml(gate: &Gate, runs: usize, opts: CalibrateOptions) -> Result<String, CompareError> {
    let body =
        toml::to_string(gate).map_err(|e| CompareError(format!("cannot write gate: {e}")))?;
    Ok(format!(
        "# isobench gate calibrated by `isobench calibrate` from {runs} same-build runs\n\
         # ({} pairs): each [[band]] is the largest same-build change of a metric's\n\
         # median over all pairs, times {} (log scale), at least {}%, from at least\n\
         # {} pairs. With one run per side, a metric regresses only beyond its band.\n\n{body}",
        runs * (runs - 1) / 2,
        opts.margin,
        opts.floor_pct,
        opts.min_pairs
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{demo_results, scenario};
    use crate::schema::Metric;
    use serde_json::json;

    fn run(id: &str, acc: f64, ready: f64) -> RunResults {
        let mut r = crate::fixture::empty_run(id);
        let mut s = scenario("cpu-quota", "native", json!({"quota_pct": 20}));
        s.metrics
            .push(Metric::with_target("accuracy", "ratio", 1.0, vec![acc]));
        r.scenarios.push(s);
        let mut s = scenario("startup", "native", json!({}));
        s.metrics
            .push(Metric::new("ready", "s", Better::Lower, vec![ready]));
        r.scenarios.push(s);
        r
    }

    #[test]
    fn bands_are_the_largest_pairwise_change_times_the_margin() {
        let runs = [
            run("a", 1.01, 1e-3),
            run("b", 0.99, 1.2e-3),
            run("c", 1.0, 1.1e-3),
        ];
        let opts = CalibrateOptions {
            margin: 1.5,
            min_pairs: 1,
            ..CalibrateOptions::default()
        };
        let g = calibrate(&runs, &Gate::default(), opts).unwrap();
        let band = |pattern: &str| g.bands.iter().find(|b| b.pattern == pattern).unwrap();
        let ready = band("startup[*/ready");
        // Largest change 1.2/1.0; ×1.5 on the log scale: 1.2^1.5 = 1.3145.
        assert!(
            (ready.run_to_run_pct.unwrap() - 31.5).abs() < 0.1,
            "{ready:?}"
        );
        assert_eq!(ready.pairs, Some(3));
        let acc = band("cpu-quota[*/accuracy");
        // Distances 0.01, 0.01, 0: largest abs change 0.01, ×1.5.
        assert!(
            (acc.run_to_run_abs.unwrap() - 0.015).abs() < 1e-9,
            "{acc:?}"
        );
        // The bands round-trip through TOML and match their metrics.
        let text = to_toml(&g, 3, opts).unwrap();
        let back = Gate::from_toml_str(&text).unwrap();
        assert_eq!(back.bands, g.bands);
        let a = back.limits_for("startup[native]/ready", "ready");
        assert_eq!(a.band_pct, ready.run_to_run_pct);
        // Seen in too few pairs: no band at all.
        let strict = CalibrateOptions {
            min_pairs: 4,
            ..opts
        };
        assert!(calibrate(&runs, &Gate::default(), strict)
            .unwrap()
            .bands
            .is_empty());
    }

    #[test]
    fn too_few_runs_or_other_suites_are_refused() {
        let e = calibrate(
            &[demo_results(1), demo_results(2)],
            &Gate::default(),
            CalibrateOptions::default(),
        );
        assert!(e.unwrap_err().0.contains("at least 3"));
        let mut runs = vec![demo_results(1), demo_results(2), demo_results(3)];
        for (i, r) in runs.iter_mut().enumerate() {
            let suite = if i == 2 { "other" } else { "quick" };
            r.scenarios
                .push(scenario("harness", "isobench", json!({ "suite": suite })));
        }
        let e = calibrate(&runs, &Gate::default(), CalibrateOptions::default());
        assert!(e.unwrap_err().0.contains("different suites"));
    }
}
