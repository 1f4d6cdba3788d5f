//! One side of a comparison: its runs' metrics and checks grouped by key.

use std::collections::HashMap;

use super::*;
use crate::names::cpu_quota::HOST_OTHER_LOAD;

pub(super) fn run_info(r: &RunResults) -> RunInfo {
    RunInfo {
        label: r.run_id.clone(),
        run_id: r.run_id.clone(),
        environment: r.environment.clone(),
    }
}

/// The values a metric is compared on: raw, or distance to its target.
pub(super) fn compared_values(m: &Metric, raw: &[f64]) -> Option<Vec<f64>> {
    let finite = raw.iter().copied().filter(|x| x.is_finite());
    match m.better {
        Better::Target => m.target.map(|t| finite.map(|x| (x - t).abs()).collect()),
        _ => Some(finite.collect()),
    }
}

/// One metric on one side: its description, and its raw samples grouped by
/// replication unit (`(unit id, samples)`: a run, or a run's round).
#[derive(Debug, Clone)]
pub(super) struct Grouped {
    pub(super) scenario: String,
    pub(super) meta: Metric,
    pub(super) groups: Vec<(u64, Vec<f64>)>,
    /// Why this scenario point is not a clean measurement (see [`unclean`]).
    pub(super) unclean: Option<String>,
}

impl Grouped {
    pub(super) fn all(&self) -> Vec<f64> {
        self.groups
            .iter()
            .flat_map(|g| g.1.iter().copied())
            .collect()
    }
}

/// One side of a comparison, whatever its design.
#[derive(Debug, Clone)]
pub(super) struct Side {
    pub(super) info: RunInfo,
    /// Metric keys in first-seen order, and their samples.
    pub(super) order: Vec<String>,
    pub(super) metrics: HashMap<String, Grouped>,
    /// `(scenario key, check)` → status, in first-seen order.
    pub(super) checks: Vec<((String, String), Status)>,
    pub(super) interrupted: bool,
    /// How many runs make up this side.
    pub(super) runs: usize,
}

impl Side {
    pub(super) fn new(info: RunInfo) -> Side {
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
    pub(super) fn metrics_not_in(&self, other: &Side) -> Vec<String> {
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
    pub(super) fn of_runs(
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
    pub(super) fn add(
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
