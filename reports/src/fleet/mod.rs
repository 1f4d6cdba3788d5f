//! A fleet: one results file per node (a Kubernetes DaemonSet, a CI fleet,
//! simulated VM nodes) merged into one record. `isobench merge` builds it
//! with [`load`] then [`Fleet::build`]; [`render`] lays it out as Markdown
//! and HTML; [`sonobuoy`] writes one node's run in Sonobuoy's format.
//!
//! Outliers: for each metric, every node's median (the p50 of its own
//! samples) is compared with the fleet's median of those node medians. A
//! node is an outlier when its median lies outside fleet median ±
//! max(3 × 1.4826 × MAD, 10 %), MAD being the median absolute deviation of
//! the node medians (× 1.4826: the normal-consistent scale). When all node
//! medians are positive this is done on their logarithms (the band is
//! then median ×/÷ a factor, at least 1.1); else on the values, the floor
//! being 10 % of |median|. The floor keeps identical nodes (MAD 0) from
//! flagging noise. A metric seen on fewer than 3 nodes flags nobody.

pub mod render;
pub mod sonobuoy;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::load::{read_results, ResultsError};
use crate::schema::{Better, RunResults, ScenarioResult, Status};
use crate::stats::median;

/// Tag of a fleet results file (`isobench merge -o fleet.json`).
pub const FLEET_SCHEMA: &str = "isobench-fleet/1";
/// Fewest nodes a metric needs before outliers are judged.
pub const MIN_NODES_FOR_SPREAD: usize = 3;
/// Half-width of the fleet band in scaled MADs.
pub const MAD_FACTOR: f64 = 3.0;
/// Smallest half-width of the band, as a fraction of |fleet median|.
pub const MIN_BAND_FRACTION: f64 = 0.10;
/// MAD × this estimates the standard deviation of normal data.
const MAD_SCALE: f64 = 1.4826;

/// Why files could not be merged (bad input: exit 2, nothing written).
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    #[error("no results files given")]
    Empty,
    #[error(transparent)]
    Results(#[from] ResultsError),
    #[error(
        "{} and {} are both node {node:?}: give one results file per node",
        first.display(),
        second.display()
    )]
    DuplicateNode {
        node: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error(
        "{} ran a different suite than {}: {diff}; merge runs of one suite",
        path.display(),
        base.display()
    )]
    DifferentSuite {
        path: PathBuf,
        base: PathBuf,
        diff: String,
    },
    #[error("--expect-nodes: {0}")]
    Expect(String),
}

/// One node's results and where they came from.
#[derive(Debug, Clone)]
pub struct NodeInput {
    pub node: String,
    pub path: PathBuf,
    pub results: RunResults,
}

/// The nodes a fleet should have: a count, or their names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Expect {
    Count(usize),
    Names(Vec<String>),
}

impl Expect {
    /// `N` (a count ≥ 1) or `a,b,c` (names).
    pub fn parse(s: &str) -> Result<Expect, FleetError> {
        let s = s.trim();
        if let Ok(n) = s.parse::<usize>() {
            return match n {
                0 => Err(FleetError::Expect("a count must be at least 1".into())),
                n => Ok(Expect::Count(n)),
            };
        }
        let names: Vec<String> = s
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        let distinct: BTreeSet<&String> = names.iter().collect();
        if names.is_empty() {
            return Err(FleetError::Expect(
                "give a node count or a comma list of node names".into(),
            ));
        }
        if distinct.len() != names.len() {
            return Err(FleetError::Expect(format!("{s:?} names a node twice")));
        }
        Ok(Expect::Names(names))
    }
}

/// The node a results file is from: its `environment.node`, else the
/// file's stem (results written before nodes were recorded).
pub fn node_of(r: &RunResults, path: &Path) -> String {
    r.environment
        .node
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string())
        })
}

/// Parameters that do not change what a point measures: resolved from
/// the machine it runs on (which CPU it pins, how many threads 2 × nproc
/// is), or how many samples it takes (the VM runner takes fewer startup
/// launches under TCG). Left out of [`fleet_key`], so the same point on
/// two machines is one row.
pub const MACHINE_PARAMS: [(&str, &str); 4] = [
    ("cpuset", "pinned_cpu"),
    ("cpuset", "threads"),
    ("cpu-weight", "cpu"),
    ("startup", "launches"),
];

/// A scenario point's key across machines: [`scenario_key`] without the
/// [`MACHINE_PARAMS`].
pub fn fleet_key(s: &ScenarioResult) -> String {
    let mut params = s.params.clone();
    params.retain(|k, _| !MACHINE_PARAMS.contains(&(s.name.as_str(), k.as_str())));
    match crate::key::params_text(&params) {
        p if p.is_empty() => format!("{}[{}]", s.name, s.launcher),
        p => format!("{}[{}]{{{p}}}", s.name, s.launcher),
    }
}

/// What "the same suite" means here: the suite the run names (its
/// `harness` row's `suite`, when it has one) and the scenarios it ran.
/// Scenario points may differ: a node whose kernel cannot express a
/// variant records fewer (or a skip row); the table shows them as absent.
fn suite_of(r: &RunResults) -> (Option<String>, BTreeSet<&str>) {
    let suite = r
        .scenarios
        .iter()
        .find(|s| s.name == HARNESS_ROW)
        .and_then(|s| s.params.get("suite"))
        .map(crate::key::param_value_text);
    let names = r
        .scenarios
        .iter()
        .map(|s| s.name.as_str())
        .filter(|n| *n != HARNESS_ROW)
        .collect();
    (suite, names)
}

/// The row every run ends with: the harness's own cost and the suite name.
const HARNESS_ROW: &str = "harness";

/// Reads every file and refuses what cannot be merged: unreadable or
/// invalid files, a node given twice, runs of different suites.
pub fn load(paths: &[PathBuf]) -> Result<Vec<NodeInput>, FleetError> {
    let mut inputs: Vec<NodeInput> = Vec::new();
    for p in paths {
        let results = read_results(p)?;
        inputs.push(NodeInput {
            node: node_of(&results, p),
            path: p.clone(),
            results,
        });
    }
    check_inputs(&inputs)?;
    Ok(inputs)
}

/// The refusals of [`load`] on inputs already read.
pub fn check_inputs(inputs: &[NodeInput]) -> Result<(), FleetError> {
    let first = inputs.first().ok_or(FleetError::Empty)?;
    let mut seen: BTreeMap<&str, &Path> = BTreeMap::new();
    for i in inputs {
        if let Some(prev) = seen.insert(&i.node, &i.path) {
            return Err(FleetError::DuplicateNode {
                node: i.node.clone(),
                first: prev.to_path_buf(),
                second: i.path.clone(),
            });
        }
    }
    let (base_suite, base) = suite_of(&first.results);
    for i in &inputs[1..] {
        let (suite, names) = suite_of(&i.results);
        let diff = if suite != base_suite {
            let show = |s: &Option<String>| s.clone().unwrap_or_else(|| "no suite name".into());
            Some(format!("suite {} vs {}", show(&suite), show(&base_suite)))
        } else if let Some(n) = base.difference(&names).next() {
            Some(format!("it lacks scenario {n}"))
        } else {
            names
                .difference(&base)
                .next()
                .map(|n| format!("it has scenario {n}, which the other lacks"))
        };
        if let Some(diff) = diff {
            return Err(FleetError::DifferentSuite {
                path: i.path.clone(),
                base: first.path.clone(),
                diff: if i.results.interrupted {
                    format!("{diff} (the run was interrupted)")
                } else {
                    diff
                },
            });
        }
    }
    Ok(())
}

/// One node's line in the fleet.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeSummary {
    pub node: String,
    pub file: String,
    pub run_id: String,
    pub kernel: String,
    pub cgroup_mode: String,
    pub virtualization: String,
    pub launchers: BTreeMap<String, String>,
    pub pass: usize,
    pub fail: usize,
    pub warn: usize,
    pub skip: usize,
    /// Scenarios that did not complete.
    pub errors: usize,
    pub interrupted: bool,
}

/// One node's outcome of one check.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckCell {
    pub status: Status,
    pub observed: String,
}

/// One check across the fleet (a row of the node × check table).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckRow {
    /// The scenario point (`name[launcher]{params}`).
    pub scenario: String,
    pub check: String,
    pub expected: String,
    /// Per node; a node without the check is absent.
    pub nodes: BTreeMap<String, CheckCell>,
}

impl CheckRow {
    /// The worst status any node had.
    pub fn worst(&self) -> Option<Status> {
        self.nodes.values().map(|c| c.status).max()
    }
}

/// One metric's distribution across nodes.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MetricRow {
    pub scenario: String,
    pub metric: String,
    pub unit: String,
    pub better: Better,
    /// Each node's median.
    pub medians: BTreeMap<String, f64>,
    pub fleet_median: f64,
    /// Median absolute deviation of the node medians (unscaled).
    pub mad: f64,
    /// The band outside which a node is an outlier (None: < 3 nodes).
    pub band: Option<[f64; 2]>,
    pub outliers: Vec<String>,
}

/// Nodes that share a kernel, cgroup mode and runtime versions.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Group {
    pub kernel: String,
    pub cgroup_mode: String,
    /// `runc 1.1.5, crun 1.8` (the runtimes found; "none" when none).
    pub runtimes: String,
    pub nodes: Vec<String>,
}

/// What makes the fleet fail (exit 1), one per node and cause.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Failure {
    pub node: String,
    pub what: String,
}

/// The merged fleet: `fleet.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Fleet {
    pub schema: String,
    pub nodes: Vec<NodeSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Expect>,
    /// Expected nodes without a results file.
    pub missing: Vec<String>,
    /// With `--expect-nodes N`: how many nodes short the fleet is.
    pub missing_count: usize,
    /// Nodes present that an expected list does not name.
    pub unexpected: Vec<String>,
    pub groups: Vec<Group>,
    pub checks: Vec<CheckRow>,
    pub metrics: Vec<MetricRow>,
    pub failures: Vec<Failure>,
    /// Every node's full results, by node.
    pub runs: BTreeMap<String, RunResults>,
}

/// Median, MAD, band and outliers of per-node medians. When every median
/// is positive (times, sizes, ratios) the spread is taken on their
/// logarithms, so a node 10× faster is as far out as one 10× slower and
/// the band never goes below zero; the MAD returned is then of the logs.
pub fn spread(medians: &BTreeMap<String, f64>) -> (f64, f64, Option<[f64; 2]>, Vec<String>) {
    let values: Vec<f64> = medians
        .values()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    let log = !values.is_empty() && values.iter().all(|v| *v > 0.0);
    type Map = fn(f64) -> f64;
    let (to, from): (Map, Map) = if log {
        (f64::ln, f64::exp)
    } else {
        (|v| v, |v| v)
    };
    let scaled: Vec<f64> = values.iter().map(|v| to(*v)).collect();
    let m = median(&scaled);
    let dev: Vec<f64> = scaled.iter().map(|v| (v - m).abs()).collect();
    let mad = median(&dev);
    if values.len() < MIN_NODES_FOR_SPREAD {
        return (from(m), mad, None, Vec::new());
    }
    let floor = if log {
        (1.0 + MIN_BAND_FRACTION).ln()
    } else {
        MIN_BAND_FRACTION * m.abs()
    };
    let half = (MAD_FACTOR * MAD_SCALE * mad).max(floor);
    let band = [from(m - half), from(m + half)];
    let outliers = medians
        .iter()
        .filter(|(_, v)| v.is_finite() && (**v < band[0] || **v > band[1]))
        .map(|(n, _)| n.clone())
        .collect();
    (from(m), mad, Some(band), outliers)
}

/// Keys of `items` by `key`, the n-th repeat of a key suffixed ` #n`.
fn numbered<T>(items: &[T], key: impl Fn(&T) -> &str) -> Vec<(String, &T)> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    items
        .iter()
        .map(|it| {
            let k = key(it).to_string();
            let n = seen.entry(k.clone()).or_insert(0);
            *n += 1;
            let name = if *n == 1 { k } else { format!("{k} #{n}") };
            (name, it)
        })
        .collect()
}

fn runtimes(l: &BTreeMap<String, String>) -> String {
    if l.is_empty() {
        return "none".into();
    }
    l.iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Fleet {
    /// Merges checked inputs (see [`load`]); `expect` names the nodes or
    /// their number.
    pub fn build(inputs: Vec<NodeInput>, expect: Option<Expect>) -> Fleet {
        let mut inputs = inputs;
        inputs.sort_by(|a, b| a.node.cmp(&b.node));
        let mut nodes = Vec::new();
        let mut failures = Vec::new();
        let mut checks: Vec<CheckRow> = Vec::new();
        let mut check_at: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut metrics: Vec<MetricRow> = Vec::new();
        let mut metric_at: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut groups: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
        for i in &inputs {
            let r = &i.results;
            let counts = crate::render::content::Counts::of(r);
            nodes.push(NodeSummary {
                node: i.node.clone(),
                file: i.path.display().to_string(),
                run_id: r.run_id.clone(),
                kernel: r.environment.kernel.clone(),
                cgroup_mode: r.environment.cgroup_mode.clone(),
                virtualization: r.environment.virtualization.clone(),
                launchers: r.environment.launchers.clone(),
                pass: counts.pass,
                fail: counts.fail,
                warn: counts.warn,
                skip: counts.skip,
                errors: counts.errors,
                interrupted: r.interrupted,
            });
            groups
                .entry((
                    r.environment.kernel.clone(),
                    r.environment.cgroup_mode.clone(),
                    runtimes(&r.environment.launchers),
                ))
                .or_default()
                .push(i.node.clone());
            for s in &r.scenarios {
                let key = fleet_key(s);
                if let Some(e) = &s.error {
                    failures.push(Failure {
                        node: i.node.clone(),
                        what: format!("{key} did not complete: {e}"),
                    });
                }
                for (name, c) in numbered(&s.checks, |c| &c.name) {
                    if c.status == Status::Fail {
                        failures.push(Failure {
                            node: i.node.clone(),
                            what: format!(
                                "{key} {name} failed: expected {}, observed {}",
                                c.expected, c.observed
                            ),
                        });
                    }
                    let at = *check_at
                        .entry((key.clone(), name.clone()))
                        .or_insert_with(|| {
                            checks.push(CheckRow {
                                scenario: key.clone(),
                                check: name.clone(),
                                expected: c.expected.clone(),
                                nodes: BTreeMap::new(),
                            });
                            checks.len() - 1
                        });
                    checks[at].nodes.insert(
                        i.node.clone(),
                        CheckCell {
                            status: c.status,
                            observed: c.observed.clone(),
                        },
                    );
                }
                for (name, m) in numbered(&s.metrics, |m| &m.name) {
                    if m.samples.is_empty() {
                        continue;
                    }
                    let at = *metric_at
                        .entry((key.clone(), name.clone()))
                        .or_insert_with(|| {
                            metrics.push(MetricRow {
                                scenario: key.clone(),
                                metric: name.clone(),
                                unit: m.unit.clone(),
                                better: m.better,
                                medians: BTreeMap::new(),
                                fleet_median: f64::NAN,
                                mad: f64::NAN,
                                band: None,
                                outliers: Vec::new(),
                            });
                            metrics.len() - 1
                        });
                    metrics[at]
                        .medians
                        .insert(i.node.clone(), median(&m.samples));
                }
            }
        }
        for m in &mut metrics {
            (m.fleet_median, m.mad, m.band, m.outliers) = spread(&m.medians);
        }
        let present: BTreeSet<&str> = inputs.iter().map(|i| i.node.as_str()).collect();
        let (missing, missing_count, unexpected) = match &expect {
            None => (Vec::new(), 0, Vec::new()),
            Some(Expect::Count(n)) => (Vec::new(), n.saturating_sub(present.len()), Vec::new()),
            Some(Expect::Names(names)) => {
                let want: BTreeSet<&str> = names.iter().map(String::as_str).collect();
                let missing: Vec<String> = names
                    .iter()
                    .filter(|n| !present.contains(n.as_str()))
                    .cloned()
                    .collect();
                let unexpected = present
                    .iter()
                    .filter(|n| !want.contains(*n))
                    .map(|n| n.to_string())
                    .collect();
                (missing.clone(), missing.len(), unexpected)
            }
        };
        Fleet {
            schema: FLEET_SCHEMA.to_string(),
            nodes,
            expected: expect,
            missing,
            missing_count,
            unexpected,
            groups: groups
                .into_iter()
                .map(|((kernel, cgroup_mode, runtimes), nodes)| Group {
                    kernel,
                    cgroup_mode,
                    runtimes,
                    nodes,
                })
                .collect(),
            checks,
            metrics,
            failures,
            runs: inputs.into_iter().map(|i| (i.node, i.results)).collect(),
        }
    }

    /// True when a node is missing or a check failed (or a scenario
    /// errored) on any node: `isobench merge` exits 1.
    pub fn failed(&self) -> bool {
        self.missing_count > 0 || !self.failures.is_empty()
    }

    /// One line per reason the fleet failed, each naming its node.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for n in &self.missing {
            out.push(format!("node {n}: missing (expected, no results file)"));
        }
        if self.missing.is_empty() && self.missing_count > 0 {
            out.push(format!(
                "{} node(s) missing: expected {}, got {} ({})",
                self.missing_count,
                self.nodes.len() + self.missing_count,
                self.nodes.len(),
                self.node_names().join(", ")
            ));
        }
        for f in &self.failures {
            out.push(format!("node {}: {}", f.node, f.what));
        }
        out
    }

    /// The nodes present, in order.
    pub fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.node.clone()).collect()
    }

    /// Nodes flagged as outliers in any metric, with their counts.
    pub fn outlier_counts(&self) -> BTreeMap<String, usize> {
        let mut c = BTreeMap::new();
        for m in &self.metrics {
            for n in &m.outliers {
                *c.entry(n.clone()).or_insert(0) += 1;
            }
        }
        c
    }
}

#[cfg(test)]
mod tests;
