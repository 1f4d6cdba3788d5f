//! Metric and check names of the nesting scenario.

pub const SCENARIO: &str = "nesting";

/// The inner sandbox's hog, under an inner memory limit larger than the
/// outer one, is killed near the outer limit.
pub const INNER_MEMORY_BOUND_BY_OUTER: &str = "inner-memory-limit-bound-by-outer";
/// The inner sandbox's forks, under an inner pids limit larger than the
/// outer one, are refused at the outer limit.
pub const INNER_PIDS_BOUND_BY_OUTER: &str = "inner-pids-limit-bound-by-outer";
/// v2: writing a pid into a cgroup with controllers in subtree_control
/// fails with EBUSY.
pub const NO_INTERNAL_PROCESSES: &str = "delegation.no-internal-processes-ebusy";
/// v2: enabling in a child a controller its parent did not enable for it
/// fails with ENOENT.
pub const TOP_DOWN: &str = "delegation.controllers-top-down-enoent";
/// v2: migrating to a cgroup outside its cgroup namespace fails (ENOENT).
pub const CGROUPNS_BOUNDARY: &str = "delegation.cross-cgroupns-boundary-refused";
/// v2: the delegatee (lesser euid) migrating out of its subtree fails (EACCES).
pub const DELEGATEE_BOUNDARY: &str = "delegation.delegatee-cannot-leave-subtree";

/// Peak memory of the inner cgroup, bytes.
pub const INNER_PEAK: &str = "inner_peak_bytes";
/// Children the inner pid 1 forked before the kernel refused.
pub const INNER_FORKS: &str = "inner_forks";
