//! Metric and check names of the cpuset scenario: the one spelling the
//! scenario, the plots and the fixtures share.

/// CPU time of the pinned spinner, in CPUs.
pub const USAGE_CPUS: &str = "usage_cpus";
/// The skip row when the machine has one CPU.
pub const SKIP: &str = "cpuset";
pub const AFFINITY: &str = "affinity";
pub const CPUS_USED: &str = "cpus-used";
pub const CPU_TIME: &str = "cpu-time";
