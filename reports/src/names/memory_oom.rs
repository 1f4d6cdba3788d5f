//! Metric, series and check names of the memory_oom scenario: the one spelling
//! the scenario, the plots and the fixtures share.

/// Seconds from the first limit hit to the hog's death (a metric of the
/// single and oom-group variants, and the check that bounds it).
pub const TIME_TO_KILL: &str = "time_to_kill";
/// oom-kill-disable: seconds from the limit hit to under_oom.
pub const TIME_TO_HANG: &str = "time_to_hang";
/// oom-kill-disable: seconds our kill took to empty the hung cgroup.
pub const KILL_HUNG: &str = "kill_hung";
/// Peak usage of each run, bytes (target: the limit).
pub const PEAK_USAGE: &str = "peak_usage";
/// Largest allocation the hog reported, bytes (target: the limit).
pub const HOG_REACHED: &str = "hog_reached";
/// oom-group: seconds from the leader's death to an empty cgroup.
pub const EMPTY_AFTER_LEADER_DEATH: &str = "empty_after_leader_death";

/// Series: usage of the first run, `[t s, MiB]`.
pub const USAGE_MIB: &str = "usage_mib";
/// Series the plot also reads: usage in bytes, and the kill time as
/// `[[t, 1]]` on the same time base (recorded by the fixtures, not the
/// harness).
pub const MEMORY_BYTES: &str = "memory_bytes";
pub const OOM_KILL: &str = "oom_kill";

pub const KILLED_BY_SIGKILL: &str = "killed_by_sigkill";
pub const PEAK_WITHIN_LIMIT: &str = "peak_within_limit";
pub const OOM_KILL_COUNTED_ONCE: &str = "oom_kill_counted_once";
pub const BYSTANDER_SURVIVES: &str = "bystander_survives";
pub const GROUP_KILLED: &str = "group_killed";
pub const ALL_DIED_TOGETHER: &str = "all_died_together";
pub const HANG_DETECTED: &str = "hang_detected";
pub const HUNG_SANDBOX_KILLED: &str = "hung_sandbox_killed";

/// The variants: the `variant` param, and the check of a variant's skip row.
pub const SINGLE: &str = "single";
pub const OOM_GROUP: &str = "oom-group";
pub const OOM_KILL_DISABLE: &str = "oom-kill-disable";
