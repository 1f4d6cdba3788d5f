//! `isobench compare`: is NEW worse than BASE, beyond noise? Metrics are
//! matched by key (`name[launcher]{params}/metric`), compared by the ratio of
//! medians with a seeded bootstrap CI and a Mann–Whitney test, and gated by
//! per-metric thresholds; checks that went from passing to failing always
//! count as regressions.

mod bootstrap;
mod environment;
mod gate;
mod glob;
mod holm;
mod mannwhitney;
mod markdown;
mod rng;
mod verdict;

use std::collections::HashMap;

use serde::Serialize;

pub use bootstrap::{ratio_of_medians_ci, RatioCi};
pub use environment::{differences, fields as environment_fields, is_tcg, EnvDifference};
pub use gate::{Applied, Correction, Gate, GateError, Limits, Rule};
pub use glob::glob_match;
pub use holm::holm;
pub use mannwhitney::{mann_whitney, MannWhitney, Method};
pub use rng::SplitMix64;
pub use verdict::{decide, Evidence, Verdict};

use crate::key::{metric_key, scenario_key};
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

/// Identity of one compared run; `label` defaults to the run id (the CLI may
/// overwrite it with the file name).
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    pub label: String,
    pub run_id: String,
    pub environment: Environment,
}

/// One NEW run and how its machine differs from BASE.
#[derive(Debug, Clone, Serialize)]
pub struct NewRun {
    #[serde(flatten)]
    pub info: RunInfo,
    pub environment_differences: Vec<EnvDifference>,
    /// Metric keys only this run has (not compared).
    pub only_in_new: Vec<String>,
    /// Metric keys BASE has and this run lacks.
    pub missing: Vec<String>,
}

/// One metric of BASE and its comparison against each NEW run.
#[derive(Debug, Clone, Serialize)]
pub struct MetricRow {
    pub key: String,
    pub scenario: String,
    pub metric: String,
    pub unit: String,
    pub better: Better,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<f64>,
    /// `value`, or `distance to target` for `better = target` metrics.
    pub compared: &'static str,
    pub base_n: usize,
    /// Median of BASE's raw samples (not of the distance).
    pub base_median: f64,
    pub limits: Applied,
    /// One per NEW run, in order; None when that run lacks the metric.
    pub cells: Vec<Option<MetricCell>>,
}

/// The comparison of one metric between BASE and one NEW run.
#[derive(Debug, Clone, Serialize)]
pub struct MetricCell {
    pub n: usize,
    /// Median of NEW's raw samples.
    pub median: f64,
    /// median(NEW)/median(BASE) on the compared scale.
    pub ratio: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// Mann–Whitney two-sided p-value of this metric alone.
    pub p_value: f64,
    /// The p-value the gate uses: Holm-adjusted over every gated metric of
    /// this NEW run (equal to `p_value` when the gate's correction is none).
    pub p_adjusted: f64,
    pub verdict: Verdict,
    /// True when this cell fails the gate (regressed and not ignored).
    pub fails_gate: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Set while the verdict awaits the family-wise p-value adjustment.
    #[serde(skip)]
    evidence: Option<Evidence>,
}

/// A check whose status differs between BASE and some NEW run.
#[derive(Debug, Clone, Serialize)]
pub struct CheckRow {
    pub scenario: String,
    pub check: String,
    pub base: Option<Status>,
    pub news: Vec<Option<Status>>,
    /// Per NEW run: passed (or warned) in BASE and fails in NEW.
    pub regressed: Vec<bool>,
}

/// Everything `isobench compare` reports; render with `to_markdown`/`to_json`.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub schema: &'static str,
    pub seed: u64,
    pub resamples: usize,
    pub confidence: f64,
    pub gate: Gate,
    pub base: RunInfo,
    pub news: Vec<NewRun>,
    pub metrics: Vec<MetricRow>,
    /// Only checks whose status changed somewhere.
    pub checks: Vec<CheckRow>,
}

impl Comparison {
    /// True when any metric fails the gate or any check went pass → fail.
    pub fn regressed(&self) -> bool {
        self.metrics
            .iter()
            .any(|r| r.cells.iter().flatten().any(|c| c.fails_gate))
            || self.checks.iter().any(|c| c.regressed.iter().any(|&r| r))
    }

    /// One line per regression, naming the metric or check and the run.
    pub fn regressions(&self) -> Vec<String> {
        let mut out = Vec::new();
        for r in &self.metrics {
            for (j, c) in r.cells.iter().enumerate() {
                if let Some(c) = c.as_ref().filter(|c| c.fails_gate) {
                    out.push(format!(
                        "{} regressed in {}: median ratio {:.3} (95% CI {:.3}..{:.3}, p={:.2e}, threshold {}%)",
                        r.key, self.news[j].info.label, c.ratio, c.ci_low, c.ci_high,
                        c.p_adjusted, r.limits.threshold_pct
                    ));
                }
            }
        }
        for c in &self.checks {
            for (j, &reg) in c.regressed.iter().enumerate() {
                if reg {
                    out.push(format!(
                        "check {:?} of {} went {} → fail in {}",
                        c.check,
                        c.scenario,
                        c.base.map(Status::as_str).unwrap_or("?"),
                        self.news[j].info.label
                    ));
                }
            }
        }
        out
    }

    /// Replaces the run labels (e.g. with file names); extra labels are ignored.
    pub fn set_labels(&mut self, base: &str, news: &[&str]) {
        self.base.label = base.to_string();
        for (n, l) in self.news.iter_mut().zip(news) {
            n.info.label = l.to_string();
        }
    }

    /// Markdown for a PR comment or `$GITHUB_STEP_SUMMARY`.
    pub fn to_markdown(&self) -> String {
        markdown::render(self)
    }

    /// Pretty JSON (`"schema": "isobench-compare/1"`); NaN becomes null.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()))
    }
}

fn run_info(r: &RunResults) -> RunInfo {
    RunInfo {
        label: r.run_id.clone(),
        run_id: r.run_id.clone(),
        environment: r.environment.clone(),
    }
}

/// The values a metric is compared on: raw, or distance to its target.
fn compared_values(m: &Metric) -> Option<Vec<f64>> {
    let finite = m.samples.iter().copied().filter(|x| x.is_finite());
    match m.better {
        Better::Target => m.target.map(|t| finite.map(|x| (x - t).abs()).collect()),
        _ => Some(finite.collect()),
    }
}

/// Index of a run's metrics by key (first occurrence wins).
fn index(r: &RunResults) -> HashMap<String, (&ScenarioResult, &Metric)> {
    let mut map = HashMap::new();
    for s in &r.scenarios {
        for m in &s.metrics {
            map.entry(metric_key(s, &m.name)).or_insert((s, m));
        }
    }
    map
}

/// Compares BASE with each NEW run under `gate`; deterministic for a given
/// `seed` and `resamples` (each metric draws from its own seeded stream).
pub fn compare(
    base: &RunResults,
    news: &[RunResults],
    gate: &Gate,
    seed: u64,
    resamples: usize,
) -> Comparison {
    let indexes: Vec<_> = news.iter().map(index).collect();
    let base_tcg = is_tcg(&base.environment);
    let mut metrics = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for s in &base.scenarios {
        for m in &s.metrics {
            let key = metric_key(s, &m.name);
            if !seen.insert(key.clone()) {
                continue;
            }
            let limits = gate.limits_for(&key, &m.name);
            let cells = news
                .iter()
                .zip(&indexes)
                .map(|(new, idx)| {
                    idx.get(&key).map(|(_, nm)| {
                        let tcg_mismatch = base_tcg != is_tcg(&new.environment);
                        compare_metric(&key, m, nm, tcg_mismatch, seed, resamples)
                    })
                })
                .collect();
            metrics.push(MetricRow {
                scenario: scenario_key(s),
                metric: m.name.clone(),
                unit: m.unit.clone(),
                better: m.better,
                target: m.target,
                compared: if m.better == Better::Target {
                    "distance to target"
                } else {
                    "value"
                },
                base_n: m.samples.len(),
                base_median: median(&m.samples),
                limits,
                cells,
                key,
            });
        }
    }
    apply_gate(&mut metrics, news.len(), gate.defaults.correction);
    let base_keys: std::collections::HashSet<String> = index(base).into_keys().collect();
    let news_info = news
        .iter()
        .zip(&indexes)
        .map(|(n, idx)| {
            let mut only_in_new: Vec<String> = idx
                .keys()
                .filter(|k| !base_keys.contains(*k))
                .cloned()
                .collect();
            only_in_new.sort();
            let mut missing: Vec<String> = base_keys
                .iter()
                .filter(|k| !idx.contains_key(*k))
                .cloned()
                .collect();
            missing.sort();
            NewRun {
                info: run_info(n),
                environment_differences: differences(&base.environment, &n.environment),
                only_in_new,
                missing,
            }
        })
        .collect();
    Comparison {
        schema: COMPARE_SCHEMA,
        seed,
        resamples,
        confidence: CONFIDENCE,
        gate: gate.clone(),
        base: run_info(base),
        news: news_info,
        metrics,
        checks: compare_checks(base, news),
    }
}

fn compare_metric(
    key: &str,
    bm: &Metric,
    nm: &Metric,
    tcg_mismatch: bool,
    seed: u64,
    resamples: usize,
) -> MetricCell {
    let mut cell = MetricCell {
        n: nm.samples.len(),
        median: median(&nm.samples),
        ratio: f64::NAN,
        ci_low: f64::NAN,
        ci_high: f64::NAN,
        p_value: f64::NAN,
        p_adjusted: f64::NAN,
        verdict: Verdict::NotComparable,
        fails_gate: false,
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
    let (Some(bv), Some(nv)) = (compared_values(bm), compared_values(nm)) else {
        return not_comparable(cell, "target metric without a target");
    };
    if bv.is_empty() || nv.is_empty() {
        return not_comparable(cell, "no samples");
    }
    let (bmed, nmed) = (median(&bv), median(&nv));
    if bmed == 0.0 {
        if nmed == 0.0 {
            cell.ratio = 1.0;
            cell.ci_low = 1.0;
            cell.ci_high = 1.0;
            cell.p_value = mann_whitney(&bv, &nv).p_value;
            cell.p_adjusted = cell.p_value;
            cell.verdict = Verdict::Unchanged;
            return cell;
        }
        return not_comparable(cell, "base median is 0 (ratio undefined)");
    }
    let mut rng = SplitMix64::for_stream(seed, key);
    let ci = ratio_of_medians_ci(&bv, &nv, resamples, CONFIDENCE, &mut rng);
    let mw = mann_whitney(&bv, &nv);
    cell.ratio = ci.ratio;
    cell.ci_low = ci.low;
    cell.ci_high = ci.high;
    cell.p_value = mw.p_value;
    if tcg_mismatch && is_time_unit(&bm.unit) {
        return not_comparable(cell, TCG_NOTE);
    }
    cell.p_adjusted = mw.p_value;
    cell.evidence = Some(Evidence {
        ratio: ci.ratio,
        ci_low: ci.low,
        ci_high: ci.high,
        p_value: mw.p_value,
        abs_change: (nmed - bmed).abs(),
    });
    cell
}

/// Second pass, per NEW run: adjust the p-values of all gated metrics as one
/// family, then decide each verdict with the adjusted p-value.
fn apply_gate(rows: &mut [MetricRow], columns: usize, correction: Correction) {
    for j in 0..columns {
        let family: Vec<(usize, f64)> = rows
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.limits.ignore)
            .filter_map(|(i, r)| {
                let c = r.cells[j].as_ref()?;
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
            let (better, limits) = (r.better, r.limits.clone());
            let Some(c) = r.cells[j].as_mut() else {
                continue;
            };
            let Some(mut e) = c.evidence.take() else {
                continue;
            };
            e.p_value = c.p_adjusted;
            c.verdict = decide(better, &e, &limits);
            c.fails_gate = c.verdict == Verdict::Regressed && !limits.ignore;
            if c.verdict == Verdict::Regressed && limits.ignore {
                c.note = Some("ignored by gate".into());
            }
        }
    }
}

/// Status of every check of a run, plus a pseudo-check per scenario that
/// says whether it completed (an error in NEW where BASE ran is a failure).
fn check_statuses(r: &RunResults) -> Vec<((String, String), Status)> {
    let mut out = Vec::new();
    for s in &r.scenarios {
        let sk = scenario_key(s);
        for c in &s.checks {
            out.push(((sk.clone(), c.name.clone()), c.status));
        }
        let completed = if s.error.is_some() {
            Status::Fail
        } else {
            Status::Pass
        };
        out.push(((sk, COMPLETED_CHECK.to_string()), completed));
    }
    out
}

fn compare_checks(base: &RunResults, news: &[RunResults]) -> Vec<CheckRow> {
    let base_st = check_statuses(base);
    let new_st: Vec<HashMap<(String, String), Status>> = news
        .iter()
        .map(|n| check_statuses(n).into_iter().rev().collect())
        .collect();
    let base_map: HashMap<(String, String), Status> = base_st.iter().cloned().rev().collect();
    // BASE's order first, then checks only NEW runs have.
    let mut order: Vec<(String, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (k, _) in base_st.iter().chain(
        news.iter()
            .flat_map(check_statuses)
            .collect::<Vec<_>>()
            .iter(),
    ) {
        if seen.insert(k.clone()) {
            order.push(k.clone());
        }
    }
    order
        .into_iter()
        .filter_map(|k| {
            let b = base_map.get(&k).copied();
            let ns: Vec<Option<Status>> = new_st.iter().map(|m| m.get(&k).copied()).collect();
            if ns.iter().all(|n| *n == b) {
                return None;
            }
            let regressed = ns
                .iter()
                .map(|n| matches!(b, Some(Status::Pass | Status::Warn)) && *n == Some(Status::Fail))
                .collect();
            Some(CheckRow {
                scenario: k.0,
                check: k.1,
                base: b,
                news: ns,
                regressed,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
