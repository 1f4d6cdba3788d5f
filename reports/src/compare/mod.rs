//! `isobench compare`: is NEW worse than BASE, beyond noise? Metrics are
//! matched by key (`name[launcher]{params}/metric`), compared by the ratio of
//! medians with a seeded bootstrap CI and a Mann–Whitney test, and gated by
//! per-metric thresholds; checks that went from passing to failing always
//! count as regressions.

mod bootstrap;
pub mod calibrate;
pub mod design;
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
pub use calibrate::{calibrate, CalibrateOptions};
pub use design::Design;
pub use environment::{differences, fields as environment_fields, is_tcg, EnvDifference};
pub use gate::{Applied, Band, Correction, Gate, GateError, Limits, Rule};
pub use glob::glob_match;
pub use holm::holm;
pub use mannwhitney::{mann_whitney, MannWhitney, Method};
pub use rng::SplitMix64;
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
    /// The run (or one of the runs) of this side was cut short by a signal.
    pub interrupted: bool,
    /// ... and that fails the gate (lost coverage not allowed).
    pub interrupted_fails_gate: bool,
    /// Results files on this side.
    pub runs: usize,
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
    /// True when this cell fails the gate (regressed and gated).
    pub fails_gate: bool,
    /// The samples can show a change at all (see `note` when not).
    pub testable: bool,
    /// A regression here fails the gate (not ignored by a rule, not an
    /// absolute time from one run per side, not TCG against hardware).
    pub gated: bool,
    /// Judged against the calibrated run-to-run band (one run per side).
    pub band: bool,
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
    /// Per NEW run: what kind of change it is (None: no change that matters).
    pub changes: Vec<Option<CheckChange>>,
    /// Per NEW run: fails the gate (pass → fail; pass → skip or absent
    /// unless lost coverage is allowed).
    pub regressed: Vec<bool>,
}

/// Everything `isobench compare` reports; render with `to_markdown`/`to_json`.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub schema: &'static str,
    pub seed: u64,
    pub resamples: usize,
    pub confidence: f64,
    /// The replication structure, which decides the estimator.
    pub design: Design,
    /// Results files on the BASE side.
    pub base_runs: usize,
    pub allow_coverage_loss: bool,
    pub gate: Gate,
    pub base: RunInfo,
    pub news: Vec<NewRun>,
    pub metrics: Vec<MetricRow>,
    /// Only checks whose status changed somewhere.
    pub checks: Vec<CheckRow>,
}

impl Comparison {
    /// True when any metric fails the gate, any check went pass → fail,
    /// or coverage was lost (unless allowed).
    pub fn regressed(&self) -> bool {
        self.metrics
            .iter()
            .any(|r| r.cells.iter().flatten().any(|c| c.fails_gate))
            || self.checks.iter().any(|c| c.regressed.iter().any(|&r| r))
            || self.news.iter().any(|n| n.interrupted_fails_gate)
    }

    /// (gated metrics, of which testable) for NEW column `j`.
    pub fn testable_counts(&self, j: usize) -> (usize, usize) {
        let cells: Vec<&MetricCell> = self
            .metrics
            .iter()
            .filter_map(|r| r.cells.get(j).and_then(|c| c.as_ref()))
            .filter(|c| c.gated)
            .collect();
        (cells.len(), cells.iter().filter(|c| c.testable).count())
    }

    /// One line per regression, naming the metric or check and the run.
    pub fn regressions(&self) -> Vec<String> {
        let mut out = Vec::new();
        for r in &self.metrics {
            for (j, c) in r.cells.iter().enumerate() {
                if let Some(c) = c.as_ref().filter(|c| c.fails_gate) {
                    let evidence = if c.band {
                        let mut b = Vec::new();
                        if let Some(p) = r.limits.band_pct {
                            b.push(format!("{p}%"));
                        }
                        if let Some(a) = r.limits.band_abs {
                            b.push(format!("±{a} absolute"));
                        }
                        format!("beyond its calibrated run-to-run band {}", b.join(", "))
                    } else {
                        format!(
                            "p={:.2e}, threshold {}%",
                            c.p_adjusted, r.limits.threshold_pct
                        )
                    };
                    out.push(format!(
                        "{} regressed in {}: median ratio {:.3} (95% CI {:.3}..{:.3}, {evidence})",
                        r.key, self.news[j].info.label, c.ratio, c.ci_low, c.ci_high,
                    ));
                }
            }
        }
        for c in &self.checks {
            for (j, &reg) in c.regressed.iter().enumerate() {
                if !reg {
                    continue;
                }
                let was = c.base.map(Status::as_str).unwrap_or("?");
                let label = &self.news[j].info.label;
                out.push(match c.changes[j] {
                    Some(CheckChange::Skipped) => format!(
                        "coverage lost: check {:?} of {} went {was} → skip in {label}",
                        c.check, c.scenario
                    ),
                    Some(CheckChange::Absent) if c.check == COMPLETED_CHECK => format!(
                        "coverage lost: scenario {} is missing from {label}",
                        c.scenario
                    ),
                    Some(CheckChange::Absent) => format!(
                        "coverage lost: check {:?} of {} went {was} → absent in {label}",
                        c.check, c.scenario
                    ),
                    _ => format!(
                        "check {:?} of {} went {was} → fail in {label}",
                        c.check, c.scenario
                    ),
                });
            }
        }
        for n in &self.news {
            if n.interrupted_fails_gate {
                out.push(format!(
                    "coverage lost: {} was interrupted (only the scenarios that completed are in it)",
                    n.info.label
                ));
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
fn compared_values(m: &Metric, raw: &[f64]) -> Option<Vec<f64>> {
    let finite = raw.iter().copied().filter(|x| x.is_finite());
    match m.better {
        Better::Target => m.target.map(|t| finite.map(|x| (x - t).abs()).collect()),
        _ => Some(finite.collect()),
    }
}

/// One metric on one side: its description, and its raw samples grouped by
/// replication unit (`(unit id, samples)`: a run, or a run's round).
#[derive(Debug, Clone)]
struct Grouped {
    scenario: String,
    meta: Metric,
    groups: Vec<(u64, Vec<f64>)>,
    /// Why this scenario point is not a clean measurement (see [`unclean`]).
    unclean: Option<String>,
}

impl Grouped {
    fn all(&self) -> Vec<f64> {
        self.groups
            .iter()
            .flat_map(|g| g.1.iter().copied())
            .collect()
    }
}

/// One side of a comparison, whatever its design.
#[derive(Debug, Clone)]
struct Side {
    info: RunInfo,
    /// Metric keys in first-seen order, and their samples.
    order: Vec<String>,
    metrics: HashMap<String, Grouped>,
    /// `(scenario key, check)` → status, in first-seen order.
    checks: Vec<((String, String), Status)>,
    interrupted: bool,
    /// How many runs make up this side.
    runs: usize,
}

impl Side {
    fn new(info: RunInfo) -> Side {
        Side {
            info,
            order: Vec::new(),
            metrics: HashMap::new(),
            checks: Vec::new(),
            interrupted: false,
            runs: 0,
        }
    }

    /// The metric keys of this side that `other` lacks, sorted.
    fn metrics_not_in(&self, other: &Side) -> Vec<String> {
        let mut keys: Vec<String> = self
            .order
            .iter()
            .filter(|k| !other.metrics.contains_key(*k))
            .cloned()
            .collect();
        keys.sort();
        keys
    }

    /// A side made of `runs` (numbered in order), see [`Side::add`].
    fn of_runs(
        info: RunInfo,
        runs: &[RunResults],
        by_round: bool,
        pick: &dyn Fn(&ScenarioResult) -> Option<String>,
    ) -> Side {
        let mut side = Side::new(info);
        for (i, r) in runs.iter().enumerate() {
            side.add(r, i as u64, by_round, pick);
        }
        side
    }

    /// Adds the scenarios of `r` accepted by `pick` (which returns the label
    /// to key them by); `file` numbers the run, `by_round` splits samples by
    /// their round.
    fn add(
        &mut self,
        r: &RunResults,
        file: u64,
        by_round: bool,
        pick: &dyn Fn(&ScenarioResult) -> Option<String>,
    ) {
        self.runs += 1;
        self.interrupted |= r.interrupted;
        for s in &r.scenarios {
            let Some(label) = pick(s) else {
                continue;
            };
            let sk = scenario_key_as(s, &label);
            for m in &s.metrics {
                let key = format!("{sk}/{}", m.name);
                let entry = self.metrics.entry(key.clone()).or_insert_with(|| {
                    self.order.push(key.clone());
                    let mut meta = m.clone();
                    meta.samples.clear();
                    meta.rounds.clear();
                    Grouped {
                        scenario: sk.clone(),
                        meta,
                        groups: Vec::new(),
                        unclean: None,
                    }
                });
                if entry.unclean.is_none() {
                    entry.unclean = unclean(s);
                }
                for (i, x) in m.samples.iter().enumerate() {
                    let unit = if by_round {
                        (file << 32) | u64::from(m.round_of(i))
                    } else {
                        file
                    };
                    match entry.groups.iter_mut().find(|g| g.0 == unit) {
                        Some(g) => g.1.push(*x),
                        None => entry.groups.push((unit, vec![*x])),
                    }
                }
            }
            let completed = if s.error.is_some() {
                Status::Fail
            } else {
                Status::Pass
            };
            let statuses = s
                .checks
                .iter()
                .map(|c| (c.name.clone(), c.status))
                .chain(std::iter::once((COMPLETED_CHECK.to_string(), completed)));
            for (name, st) in statuses {
                let k = (sk.clone(), name);
                // Across runs (and rounds) of one side a check counts at its
                // worst (pass < warn < skip < fail).
                match self.checks.iter_mut().find(|(kk, _)| *kk == k) {
                    Some(e) => e.1 = e.1.max(st),
                    None => self.checks.push((k, st)),
                }
            }
        }
    }
}

/// Other host load (CPUs, the `host_other_load` metric a point records)
/// above which the point measured a busy machine. The scenarios use the
/// same figure for their starvation excuses.
pub const BUSY_CPUS: f64 = 0.25;

/// Name of the metric of the host's other load during a measurement.
pub const HOST_OTHER_LOAD: &str = "host_other_load";

/// Why a scenario point is not a clean measurement, if it is not: a check
/// warned (a starved spinner, emulated timing, a known kernel effect), or
/// the host's other load during it was above [`BUSY_CPUS`]. With one run
/// per side such a point is shown, not judged, and `calibrate` leaves it
/// out of the bands.
pub fn unclean(s: &ScenarioResult) -> Option<String> {
    if let Some(c) = s.checks.iter().find(|c| c.status == Status::Warn) {
        return Some(format!("check {:?} warned", c.name));
    }
    let busy = s
        .metrics
        .iter()
        .find(|m| m.name == HOST_OTHER_LOAD)
        .map(|m| median(&m.samples))
        .filter(|l| *l > BUSY_CPUS)?;
    Some(format!("other host load {busy:.2} CPUs > {BUSY_CPUS}"))
}

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

/// How a check's status moved between BASE and one NEW.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckChange {
    /// Passed (or warned) in BASE, fails in NEW.
    Failed,
    /// Passed (or warned) in BASE, skipped in NEW: coverage lost.
    Skipped,
    /// Passed (or warned) in BASE, absent from NEW (its scenario or launcher
    /// is missing): coverage lost.
    Absent,
    /// Any other change (e.g. fail → pass, skip → pass).
    Other,
}

fn compare_checks(base: &Side, news: &[Side], allow_coverage_loss: bool) -> Vec<CheckRow> {
    let base_map: HashMap<&(String, String), Status> =
        base.checks.iter().map(|(k, s)| (k, *s)).collect();
    let new_maps: Vec<HashMap<&(String, String), Status>> = news
        .iter()
        .map(|n| n.checks.iter().map(|(k, s)| (k, *s)).collect())
        .collect();
    // BASE's order first, then checks only NEW runs have.
    let mut order: Vec<&(String, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (k, _) in base
        .checks
        .iter()
        .chain(news.iter().flat_map(|n| n.checks.iter()))
    {
        if seen.insert(k) {
            order.push(k);
        }
    }
    order
        .into_iter()
        .filter_map(|k| {
            let b = base_map.get(k).copied();
            let ns: Vec<Option<Status>> = new_maps.iter().map(|m| m.get(k).copied()).collect();
            if ns.iter().all(|n| *n == b) {
                return None;
            }
            let was_ok = matches!(b, Some(Status::Pass | Status::Warn));
            let changes: Vec<Option<CheckChange>> = ns
                .iter()
                .map(|n| {
                    if *n == b {
                        None
                    } else if was_ok && *n == Some(Status::Fail) {
                        Some(CheckChange::Failed)
                    } else if was_ok && *n == Some(Status::Skip) {
                        Some(CheckChange::Skipped)
                    } else if was_ok && n.is_none() {
                        Some(CheckChange::Absent)
                    } else if matches!(
                        (b, n),
                        (Some(Status::Pass), Some(Status::Warn))
                            | (Some(Status::Warn), Some(Status::Pass))
                    ) {
                        None
                    } else {
                        Some(CheckChange::Other)
                    }
                })
                .collect();
            let regressed = changes
                .iter()
                .map(|c| match c {
                    Some(CheckChange::Failed) => true,
                    Some(CheckChange::Skipped | CheckChange::Absent) => !allow_coverage_loss,
                    _ => false,
                })
                .collect();
            Some(CheckRow {
                scenario: k.0.clone(),
                check: k.1.clone(),
                base: b,
                news: ns,
                changes,
                regressed,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
