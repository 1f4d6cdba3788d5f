//! The `isobench/1` result schema: what a run records, shared by the harness
//! (writer) and every renderer / comparison (readers).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::stats::Summary;

/// Schema tag written into every results file; readers refuse any other.
pub const SCHEMA: &str = "isobench/1";

/// One complete run: the system it ran on and every scenario's record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RunResults {
    pub schema: String,
    pub run_id: String,
    pub started_at: String,
    pub finished_at: String,
    pub environment: Environment,
    pub scenarios: Vec<ScenarioResult>,
    /// Set when the run was cut short (signal); the scenarios listed are the
    /// ones that completed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

/// Snapshot of the machine a run used, so results are never read without it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    pub kernel: String,
    pub cgroup_mode: String,
    pub controllers: Vec<String>,
    pub cpus: u32,
    pub cpu_model: String,
    pub memory_bytes: u64,
    /// `none`, `kvm`, `tcg`, or what systemd-detect-virt style probing found.
    pub virtualization: String,
    pub isobench_version: String,
    #[serde(default)]
    pub launchers: BTreeMap<String, String>,
    /// The hostname, or the Kubernetes node name (`$NODE_NAME`) when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Who manages the cgroup tree the run used: `systemd` or `cgroupfs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_manager: Option<String>,
    /// The cgroup the harness itself ran in (a delegated scope on systemd).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_cgroup: Option<String>,
    /// What PID 1 of the host is (`systemd`, `init`, a container's entrypoint).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<String>,
}

/// One scenario × launcher × parameter point.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScenarioResult {
    pub name: String,
    /// The arm's label (`--launcher LABEL=SPEC`); a bare SPEC is its own label.
    pub launcher: String,
    /// The launcher spec behind the label, when it differs from the label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launcher_spec: Option<String>,
    #[serde(default)]
    pub params: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub metrics: Vec<Metric>,
    #[serde(default)]
    pub checks: Vec<Check>,
    #[serde(default)]
    pub series: BTreeMap<String, Vec<[f64; 2]>>,
    /// Set when the scenario could not run to completion (its cause).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Wall time in seconds the harness spent producing this row (summed
    /// over rounds): the point's own measured time where the scenario
    /// measures its points one after another; points measured together
    /// (startup's interleaved rounds) share what they took. A step's rows
    /// add up to the step's wall time. Absent in older files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
}

/// Which direction of a metric is good; `Target` means "close to `target`".
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Better {
    Lower,
    Higher,
    Target,
}

/// A measured quantity with all of its raw samples kept for comparisons.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Metric {
    pub name: String,
    pub unit: String,
    pub better: Better,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<f64>,
    pub samples: Vec<f64>,
    /// With `run --rounds N`: the round (1-based) each sample came from,
    /// parallel to `samples`. Missing means one round.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<u32>,
    /// Derivable from `samples`; recomputed on load when absent.
    #[serde(default)]
    pub summary: Summary,
}

impl Metric {
    /// Builds a metric and its summary from raw samples.
    pub fn new(name: &str, unit: &str, better: Better, samples: Vec<f64>) -> Self {
        let summary = Summary::of(&samples);
        Metric {
            name: name.to_string(),
            unit: unit.to_string(),
            better,
            target: None,
            samples,
            rounds: Vec::new(),
            summary,
        }
    }

    /// A `better = target` metric aiming at `target`.
    pub fn with_target(name: &str, unit: &str, target: f64, samples: Vec<f64>) -> Self {
        let mut m = Metric::new(name, unit, Better::Target, samples);
        m.target = Some(target);
        m
    }
}

/// Outcome of one check.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Skip,
    Fail,
}

impl Status {
    /// `Pass` when `ok`, else `Fail`.
    pub fn pass_if(ok: bool) -> Status {
        Status::pass_or(ok, Status::Fail)
    }

    /// `Pass` when `ok`, else `otherwise` (e.g. `Warn` for what is only
    /// reported).
    pub fn pass_or(ok: bool, otherwise: Status) -> Status {
        if ok {
            Status::Pass
        } else {
            otherwise
        }
    }

    /// The lower-case name used in the results file and in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Skip => "skip",
            Status::Fail => "fail",
        }
    }
}

/// A verdict that always says, in numbers, what was expected and observed.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub expected: String,
    pub observed: String,
    #[serde(default)]
    pub detail: String,
}

impl Check {
    /// A check with its expected and observed values spelled out.
    pub fn new(
        name: impl Into<String>,
        status: Status,
        expected: impl Into<String>,
        observed: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Check {
            name: name.into(),
            status,
            expected: expected.into(),
            observed: observed.into(),
            detail: detail.into(),
        }
    }
}

impl Metric {
    /// The round of sample `i` (1 when the run had no rounds).
    pub fn round_of(&self, i: usize) -> u32 {
        self.rounds.get(i).copied().unwrap_or(1)
    }
}

impl RunResults {
    /// True when any check failed or any scenario errored.
    pub fn has_failures(&self) -> bool {
        self.scenarios
            .iter()
            .any(|s| s.error.is_some() || s.checks.iter().any(|c| c.status == Status::Fail))
    }
}
