//! Metric, series, param and check names of the pids scenario: the one
//! spelling the scenario, the plots and the fixtures share. A metric and a
//! check share `forks_refused`, so checks and series carry their kind in
//! the constant's name.

/// The scenario's name in results.
pub const SCENARIO: &str = "pids";

/// Param: pids.max of the bomb's sandbox.
pub const PIDS_MAX: &str = "pids_max";

/// Largest task count seen (pids.peak or sampled).
pub const PEAK_PIDS: &str = "peak_pids";
pub const SPAWN_LATENCY_BEFORE: &str = "spawn_latency_before";
pub const SPAWN_LATENCY_DURING: &str = "spawn_latency_during";
pub const SPAWN_LATENCY_RATIO: &str = "spawn_latency_ratio";
pub const TIME_TO_SATURATE: &str = "time_to_saturate";
pub const KILL_TO_EMPTY: &str = "kill_to_empty";
/// pids.events max: forks the limit refused.
pub const FORKS_REFUSED: &str = "forks_refused";

/// Series: pids.current over time.
pub const SERIES_PIDS_CURRENT: &str = "pids_current";

pub const CHECK_PEAK_WITHIN_MAX: &str = "peak_within_max";
pub const CHECK_LIMIT_HIT_COUNTED: &str = "limit_hit_counted";
pub const CHECK_FORKS_REFUSED: &str = "forks_refused";
pub const CHECK_KILLED_AND_EMPTY: &str = "killed_and_empty";
pub const CHECK_HOST_RESPONSIVE: &str = "host_responsive";
