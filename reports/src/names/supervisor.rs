//! Metric and check names of the supervisor scenario (one parent, several
//! children, one cgroup): the one spelling the scenario, the reports and the
//! fixtures share.

/// The scenario's name in results.
pub const SCENARIO: &str = "supervisor";

/// Param: which limit the row is about (`memory`, `oom-group`, `pids`, `cpu`).
pub const LIMIT: &str = "limit";

/// memory.peak (v2) / memory.max_usage_in_bytes (v1) of the whole group.
pub const MEMORY_PEAK_BYTES: &str = "memory_peak_bytes";
/// Processes the OOM killer killed (memory.events / memory.oom_control oom_kill).
pub const OOM_KILLS: &str = "oom_kills";
/// Children dead once the OOM settled, with memory.oom.group 0 and 1.
pub const CHILDREN_KILLED_OOM_GROUP_0: &str = "children_killed_oom_group_0";
pub const CHILDREN_KILLED_OOM_GROUP_1: &str = "children_killed_oom_group_1";
/// Tasks of the group at once: supervisor + children + their forks.
pub const TASKS_TOTAL: &str = "tasks_total";
/// Forks each child got before the shared limit refused it (one sample each).
pub const FORKS_PER_CHILD: &str = "forks_per_child";
/// CPU time of the whole group over wall time, in CPUs.
pub const USAGE_CPUS: &str = "usage_cpus";
/// Each child's CPU time over its wall time (one sample each).
pub const CHILD_CPUS: &str = "child_cpus";

pub const CHECK_MEMORY_LIMIT_BINDS_SUM: &str = "memory_limit_binds_sum";
pub const CHECK_MEMORY_PEAK_WITHIN_LIMIT: &str = "memory_peak_within_limit";
pub const CHECK_OOM_GROUP_0_KILLS_NOT_ALL: &str = "oom_group_0_kills_not_all";
pub const CHECK_OOM_GROUP_1_KILLS_ALL: &str = "oom_group_1_kills_all";
pub const CHECK_PIDS_LIMIT_BINDS_SUM: &str = "pids_limit_binds_sum";
pub const CHECK_CPU_LIMIT_BINDS_SUM: &str = "cpu_limit_binds_sum";
