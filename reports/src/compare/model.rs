//! What a comparison produces: its rows, cells and verdict summary.

use serde::Serialize;

use super::*;

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
    pub(super) evidence: Option<Evidence>,
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

    /// The verdict in numbers, for tools that read only the top of the
    /// JSON: overall regressed or not, the regression lines, and per NEW
    /// run how many metrics got each verdict and how many checks changed.
    pub fn summary(&self) -> serde_json::Value {
        use serde_json::json;
        let runs: Vec<serde_json::Value> = self
            .news
            .iter()
            .enumerate()
            .map(|(j, n)| {
                let mut verdicts = serde_json::Map::new();
                for v in [
                    Verdict::Regressed,
                    Verdict::Improved,
                    Verdict::WithinNoise,
                    Verdict::Unchanged,
                    Verdict::NotComparable,
                    Verdict::NotTestable,
                ] {
                    let count = self
                        .metrics
                        .iter()
                        .filter_map(|r| r.cells.get(j).and_then(|c| c.as_ref()))
                        .filter(|c| c.verdict == v)
                        .count();
                    verdicts.insert(v.as_str().replace(' ', "_"), json!(count));
                }
                let (gated, testable) = self.testable_counts(j);
                json!({
                    "label": n.info.label,
                    "metrics": verdicts,
                    "metrics_failing_gate": self.metrics.iter()
                        .filter_map(|r| r.cells.get(j).and_then(|c| c.as_ref()))
                        .filter(|c| c.fails_gate).count(),
                    "gated": gated,
                    "testable": testable,
                    "checks_changed": self.checks.iter()
                        .filter(|c| c.news.get(j).is_some_and(|s| *s != c.base)).count(),
                    "checks_regressed": self.checks.iter()
                        .filter(|c| c.regressed.get(j).copied().unwrap_or(false)).count(),
                    "missing": n.missing.len(),
                    "only_in_new": n.only_in_new.len(),
                    "interrupted": n.interrupted,
                })
            })
            .collect();
        let regressions = self.regressions();
        json!({
            "regressed": self.regressed(),
            "regression_count": regressions.len(),
            "regressions": regressions,
            "metrics": self.metrics.len(),
            "runs": runs,
        })
    }

    /// Pretty JSON (`"schema": "isobench-compare/1"`) with a top-level
    /// `summary` object; NaN becomes null.
    pub fn to_json(&self) -> String {
        let mut v = match serde_json::to_value(self) {
            Ok(v) => v,
            Err(e) => return format!("{{\"error\": {:?}}}", e.to_string()),
        };
        if let serde_json::Value::Object(o) = &mut v {
            o.insert("summary".into(), self.summary());
        }
        serde_json::to_string_pretty(&v)
            .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()))
    }
}
