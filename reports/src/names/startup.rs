//! Metric, param and check names of the startup scenario: the one spelling
//! the scenario, the plots and the fixtures share.

/// The scenario's name in results.
pub const SCENARIO: &str = "startup";

/// Param: the namespace set launched (`none` when empty).
pub const NAMESPACES: &str = "namespaces";

/// Launch to the workload's ready event, per launch.
pub const READY: &str = "ready";
/// What every launch phase metric starts with.
pub const PHASE_PREFIX: &str = "phase.";
pub const PHASE_CGROUP: &str = "phase.cgroup";
pub const PHASE_CLONE: &str = "phase.clone";
pub const PHASE_PLACE: &str = "phase.place";
pub const PHASE_SETUP: &str = "phase.setup";
pub const PHASE_EXEC: &str = "phase.exec";
pub const PHASE_TEARDOWN: &str = "phase.teardown";
/// The launch phases in the order the launcher goes through them.
pub const PHASES: [&str; 6] = [
    PHASE_CGROUP,
    PHASE_CLONE,
    PHASE_PLACE,
    PHASE_SETUP,
    PHASE_EXEC,
    PHASE_TEARDOWN,
];
/// What is left of `ready` after exec.
pub const EXEC_TO_READY: &str = "exec_to_ready";
/// `ready` over a plain spawn of the same launch round.
pub const READY_OVER_BARE: &str = "ready_over_bare";

/// Every launch reached ready and exited 0.
pub const LAUNCHES_SUCCEEDED: &str = "launches succeeded";
/// The skip row of a set the launcher cannot create.
pub const LAUNCHER: &str = "launcher";
