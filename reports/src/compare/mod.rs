//! `isobench compare`: is NEW worse than BASE, beyond noise? Metrics are
//! matched by key (`name[launcher]{params}/metric`), compared by the ratio of
//! medians with a seeded bootstrap CI and a Mann–Whitney test, and gated by
//! per-metric thresholds; checks that went from passing to failing always
//! count as regressions.

mod bootstrap;
pub mod calibrate;
mod checks;
pub mod design;
mod environment;
mod gate;
mod glob;
mod holm;
mod mannwhitney;
mod markdown;
mod model;
mod rng;
mod side;
mod verdict;

pub use bootstrap::{ratio_of_medians_ci, RatioCi};
pub use calibrate::{calibrate, CalibrateOptions};
use checks::compare_checks;
pub use checks::CheckChange;
pub use design::Design;
pub use environment::{differences, fields as environment_fields, is_tcg, EnvDifference};
pub use gate::{Applied, Band, Correction, Gate, GateError, Limits, Rule};
pub use glob::glob_match;
pub use holm::holm;
pub use mannwhitney::{mann_whitney, MannWhitney, Method};
pub use model::*;
pub use rng::SplitMix64;
use side::*;
pub use side::{unclean, BUSY_CPUS};
pub use verdict::{decide, Evidence, Verdict};

use crate::key::scenario_key_as;
use crate::schema::{Better, Environment, Metric, RunResults, ScenarioResult, Status};
use crate::stats::median;
use crate::units::is_time_unit;

/// Seed used when the caller has no reason to pick another.
pub const DEFAULT_SEED: u64 = 1;
/// Bootstrap resamples used when the caller has no reason to pick another.
pub const DEFAULT_RESAMPLES: usize = 10_000;
/// Confidence level of every interval.
pub const CONFIDENCE: f64 = 0.95;
/// Tag of the JSON comparison output.
pub const COMPARE_SCHEMA: &str = "isobench-compare/1";
/// Note on time metrics compared across TCG and real hardware.
pub const TCG_NOTE: &str = "not comparable (TCG emulated time)";
/// Pseudo-check name for "the scenario ran to completion".
pub const COMPLETED_CHECK: &str = "(scenario completed)";

/// Why a comparison cannot be made; the CLI prints it and exits 2.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct CompareError(pub String);

/// Options beyond the gate.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub seed: u64,
    pub resamples: usize,
    /// Lost coverage (pass → skip/absent, a missing scenario or launcher, an
    /// interrupted NEW) is reported but does not fail the gate.
    pub allow_coverage_loss: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seed: DEFAULT_SEED,
            resamples: DEFAULT_RESAMPLES,
            allow_coverage_loss: false,
        }
    }
}

/// Compares BASE with each NEW run, one file per side; deterministic for a
/// given `seed` and `resamples` (each metric draws from its own stream).
pub fn compare(
    base: &RunResults,
    news: &[RunResults],
    gate: &Gate,
    seed: u64,
    resamples: usize,
) -> Comparison {
    let opts = Options {
        seed,
        resamples,
        ..Options::default()
    };
    compare_with(base, news, gate, &opts)
}

/// [`compare`] with every option.
pub fn compare_with(
    base: &RunResults,
    news: &[RunResults],
    gate: &Gate,
    opts: &Options,
) -> Comparison {
    let whole = |s: &ScenarioResult| Some(s.launcher.clone());
    let mut b = Side::new(run_info(base));
    b.add(base, 0, false, &whole);
    let ns: Vec<Side> = news
        .iter()
        .map(|n| {
            let mut side = Side::new(run_info(n));
            side.add(n, 0, false, &whole);
            side
        })
        .collect();
    compare_sides(b, ns, Design::SingleRun, gate, opts)
}

/// Several runs per side (hierarchical bootstrap); one file per side is the
/// single-run comparison.
pub fn compare_runs(
    bases: &[RunResults],
    news: &[RunResults],
    gate: &Gate,
    opts: &Options,
) -> Result<Comparison, CompareError> {
    if bases.is_empty() || news.is_empty() {
        return Err(CompareError(
            "each side needs at least one results file".into(),
        ));
    }
    same_suite(bases.iter().chain(news))?;
    if bases.len() == 1 && news.len() == 1 {
        return Ok(compare_with(&bases[0], news, gate, opts));
    }
    let whole = |s: &ScenarioResult| Some(s.launcher.clone());
    let side = |runs: &[RunResults]| Side::of_runs(run_info(&runs[0]), runs, false, &whole);
    Ok(compare_sides(
        side(bases),
        vec![side(news)],
        Design::Replicated,
        gate,
        opts,
    ))
}

/// Two arms of interleaved `--rounds` runs: rounds pair BASE and NEW.
pub fn compare_arms(
    runs: &[RunResults],
    base_arm: &str,
    new_arm: &str,
    gate: &Gate,
    opts: &Options,
) -> Result<Comparison, CompareError> {
    if runs.is_empty() {
        return Err(CompareError("no results file given".into()));
    }
    if base_arm == new_arm {
        return Err(CompareError(format!(
            "--base-arm and --new-arm are both {base_arm:?}: name two different arms"
        )));
    }
    same_suite(runs.iter())?;
    for (arm, flag) in [(base_arm, "--base-arm"), (new_arm, "--new-arm")] {
        for r in runs {
            if !r.scenarios.iter().any(|s| s.launcher == arm) {
                let mut labels: Vec<&str> = r
                    .scenarios
                    .iter()
                    .filter(|s| s.name != "harness")
                    .map(|s| s.launcher.as_str())
                    .collect();
                labels.sort();
                labels.dedup();
                return Err(CompareError(format!(
                    "{flag} {arm:?}: no arm of that label in {}; its arms: {}",
                    r.run_id,
                    labels.join(", ")
                )));
            }
        }
    }
    let arm_side = |arm: &str| {
        let mut info = run_info(&runs[0]);
        info.label = arm.to_string();
        let pick = |s: &ScenarioResult| (s.launcher == arm).then(|| "arm".to_string());
        Side::of_runs(info, runs, true, &pick)
    };
    Ok(compare_sides(
        arm_side(base_arm),
        vec![arm_side(new_arm)],
        Design::Interleaved,
        gate,
        opts,
    ))
}

/// Files of different suites cannot be pooled or compared.
pub fn same_suite<'a>(runs: impl Iterator<Item = &'a RunResults>) -> Result<(), CompareError> {
    let suite_of = |r: &RunResults| {
        r.scenarios
            .iter()
            .find(|s| s.name == "harness")
            .and_then(|s| s.params.get("suite"))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let mut first: Option<(String, String)> = None;
    for r in runs {
        let Some(s) = suite_of(r) else { continue };
        match &first {
            None => first = Some((s, r.run_id.clone())),
            Some((f, id)) if *f != s => {
                return Err(CompareError(format!(
                    "files of different suites: {id} ran suite {f:?}, {} ran {s:?}; compare runs of one suite",
                    r.run_id
                )))
            }
            _ => {}
        }
    }
    Ok(())
}

fn compare_sides(
    base: Side,
    news: Vec<Side>,
    design: Design,
    gate: &Gate,
    opts: &Options,
) -> Comparison {
    let base_tcg = is_tcg(&base.info.environment);
    let mut metrics = Vec::new();
    for key in &base.order {
        let bg = &base.metrics[key];
        let m = &bg.meta;
        let limits = gate.limits_for(key, &m.name);
        let cells = news
            .iter()
            .map(|new| {
                new.metrics.get(key).map(|ng| {
                    let tcg_mismatch = base_tcg != is_tcg(&new.info.environment);
                    compare_metric(key, bg, ng, design, &limits, gate, tcg_mismatch, opts)
                })
            })
            .collect();
        let raw = bg.all();
        metrics.push(MetricRow {
            scenario: bg.scenario.clone(),
            metric: m.name.clone(),
            unit: m.unit.clone(),
            better: m.better,
            target: m.target,
            compared: if m.better == Better::Target {
                "distance to target"
            } else {
                "value"
            },
            base_n: raw.len(),
            base_median: median(&raw),
            limits,
            cells,
            key: key.clone(),
        });
    }
    apply_gate(&mut metrics, news.len(), gate.defaults.correction);
    let news_info = news
        .iter()
        .map(|n| NewRun {
            environment_differences: differences(&base.info.environment, &n.info.environment),
            info: n.info.clone(),
            only_in_new: n.metrics_not_in(&base),
            missing: base.metrics_not_in(n),
            interrupted: n.interrupted,
            interrupted_fails_gate: n.interrupted && !opts.allow_coverage_loss,
            runs: n.runs,
        })
        .collect();
    Comparison {
        schema: COMPARE_SCHEMA,
        seed: opts.seed,
        resamples: opts.resamples,
        confidence: CONFIDENCE,
        design,
        base_runs: base.runs,
        allow_coverage_loss: opts.allow_coverage_loss,
        gate: gate.clone(),
        checks: compare_checks(&base, &news, opts.allow_coverage_loss),
        base: base.info,
        news: news_info,
        metrics,
    }
}

#[allow(clippy::too_many_arguments)]
fn compare_metric(
    key: &str,
    bg: &Grouped,
    ng: &Grouped,
    design: Design,
    limits: &Applied,
    gate: &Gate,
    tcg_mismatch: bool,
    opts: &Options,
) -> MetricCell {
    let (bm, nm) = (&bg.meta, &ng.meta);
    let new_raw = ng.all();
    let mut cell = MetricCell {
        n: new_raw.len(),
        median: median(&new_raw),
        ratio: f64::NAN,
        ci_low: f64::NAN,
        ci_high: f64::NAN,
        p_value: f64::NAN,
        p_adjusted: f64::NAN,
        verdict: Verdict::NotComparable,
        fails_gate: false,
        testable: false,
        gated: !limits.ignore,
        band: false,
        note: None,
        evidence: None,
    };
    let not_comparable = |mut c: MetricCell, why: &str| {
        c.note = Some(why.to_string());
        c
    };
    if bm.unit != nm.unit {
        let why = format!("unit changed: {} -> {}", bm.unit, nm.unit);
        return not_comparable(cell, &why);
    }
    let values = |g: &Grouped| -> Option<Vec<(u64, Vec<f64>)>> {
        g.groups
            .iter()
            .map(|(u, v)| compared_values(&g.meta, v).map(|c| (*u, c)))
            .collect()
    };
    let (Some(bgv), Some(ngv)) = (values(bg), values(ng)) else {
        return not_comparable(cell, "target metric without a target");
    };
    let flat = |g: &[(u64, Vec<f64>)]| -> Vec<f64> { g.iter().flat_map(|x| x.1.clone()).collect() };
    let (bv, nv) = (flat(&bgv), flat(&ngv));
    if bv.is_empty() || nv.is_empty() {
        return not_comparable(cell, "no samples");
    }
    let (bmed, nmed) = (median(&bv), median(&nv));
    if bmed == 0.0 && nmed != 0.0 {
        return not_comparable(cell, "base median is 0 (ratio undefined)");
    }
    let mut rng = SplitMix64::for_stream(opts.seed, key);
    // Whether this metric can show a change at all with what it has.
    let band =
        design == Design::SingleRun && (limits.band_pct.is_some() || limits.band_abs.is_some());
    let (est, why_not) = match design {
        Design::SingleRun => {
            let e = design::single_run(&bv, &nv, opts.resamples, &mut rng);
            let min_p = design::min_mann_whitney_p(bv.len(), nv.len());
            let why = (!band && min_p >= limits.alpha).then(|| {
                format!(
                    "n={} vs {}: the smallest possible p is {} ≥ α and no calibrated band",
                    bv.len(),
                    nv.len(),
                    crate::units::format_sig(min_p, 2)
                )
            });
            (e, why)
        }
        Design::Replicated => {
            let b: Vec<Vec<f64>> = bgv.iter().map(|g| g.1.clone()).collect();
            let n: Vec<Vec<f64>> = ngv.iter().map(|g| g.1.clone()).collect();
            let e = design::replicated(&b, &n, opts.resamples, &mut rng);
            let why = (b.len() < 2 || n.len() < 2)
                .then(|| format!("runs={} vs {}: needs ≥ 2 runs per side", b.len(), n.len()));
            (e, why)
        }
        Design::Interleaved => {
            let pairs: Vec<(Vec<f64>, Vec<f64>)> = bgv
                .iter()
                .filter_map(|(u, b)| {
                    ngv.iter()
                        .find(|(v, _)| v == u)
                        .map(|(_, n)| (b.clone(), n.clone()))
                })
                .collect();
            let e = design::paired(&pairs);
            let why = (pairs.len() < 2)
                .then(|| format!("rounds={}: needs ≥ 2 rounds with both arms", pairs.len()));
            (e, why)
        }
    };
    cell.ratio = est.ratio;
    cell.ci_low = est.low;
    cell.ci_high = est.high;
    cell.p_value = est.p_value;
    if bmed == 0.0 && nmed == 0.0 {
        cell.ratio = 1.0;
        cell.ci_low = 1.0;
        cell.ci_high = 1.0;
        cell.p_adjusted = cell.p_value;
        cell.testable = why_not.is_none();
        cell.verdict = if cell.testable {
            Verdict::Unchanged
        } else {
            Verdict::NotTestable
        };
        cell.note = why_not;
        return cell;
    }
    if tcg_mismatch && is_time_unit(&bm.unit) {
        cell.gated = false;
        return not_comparable(cell, TCG_NOTE);
    }
    // One run per side: a point whose check warned in either run (a starved
    // spinner, emulated timing) measured the machine, not the thing under
    // test; its figures are shown, not judged.
    if design == Design::SingleRun {
        let unclean = [(&bg.unclean, "BASE"), (&ng.unclean, "NEW")]
            .into_iter()
            .find_map(|(w, side)| w.as_ref().map(|c| (c, side)));
        if let Some((why, side)) = unclean {
            cell.gated = false;
            let why = format!("{why} in {side}: not a clean measurement");
            return not_comparable(cell, &why);
        }
    }
    if let Some(why) = why_not {
        cell.verdict = Verdict::NotTestable;
        cell.note = Some(why);
        return cell;
    }
    cell.testable = true;
    if design == Design::SingleRun && limits.replicated_only {
        cell.gated = false;
        cell.note = Some("not gated: noise-dominated, one run per side (replicated_only)".into());
    } else if design == Design::SingleRun
        && is_time_unit(&bm.unit)
        && !gate.defaults.single_run_times
    {
        cell.gated = false;
        cell.note = Some("not gated: absolute time, one run per side".into());
    }
    cell.p_adjusted = est.p_value;
    cell.evidence = Some(Evidence {
        ratio: est.ratio,
        ci_low: est.low,
        ci_high: est.high,
        // A band test rests on the calibrated run-to-run spread, not on a
        // within-run p-value.
        p_value: if band { 0.0 } else { est.p_value },
        abs_change: (nmed - bmed).abs(),
    });
    cell.band = band;
    cell
}

/// Second pass, per NEW column: adjust the p-values of the gated, testable
/// metrics as one family (band-tested ones have none), then decide each
/// verdict with the adjusted p-value and the design's limits.
fn apply_gate(rows: &mut [MetricRow], columns: usize, correction: Correction) {
    for j in 0..columns {
        let family: Vec<(usize, f64)> = rows
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let c = r.cells[j].as_ref()?;
                if !c.gated || c.band {
                    return None;
                }
                c.evidence.map(|e| (i, e.p_value))
            })
            .collect();
        if correction == Correction::Holm {
            let p: Vec<f64> = family.iter().map(|f| f.1).collect();
            for ((i, _), adj) in family.iter().zip(holm(&p)) {
                if let Some(c) = rows[*i].cells[j].as_mut() {
                    c.p_adjusted = adj;
                }
            }
        }
        for r in rows.iter_mut() {
            let better = r.better;
            let mut limits = r.limits.clone();
            let Some(c) = r.cells[j].as_mut() else {
                continue;
            };
            let Some(mut e) = c.evidence.take() else {
                continue;
            };
            if c.band {
                limits.threshold_pct = limits.threshold_pct.max(limits.band_pct.unwrap_or(0.0));
                limits.min_abs = limits.min_abs.max(limits.band_abs.unwrap_or(0.0));
            } else {
                e.p_value = c.p_adjusted;
            }
            c.verdict = decide(better, &e, &limits);
            c.fails_gate = c.verdict == Verdict::Regressed && c.gated;
            if c.verdict == Verdict::Regressed && limits.ignore {
                c.note = Some("ignored by gate".into());
            }
        }
    }
}

#[cfg(test)]
mod tests;
