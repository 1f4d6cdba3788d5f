//! Metric and check names of the cpuset scenario: the one spelling the
//! scenario, the plots and the fixtures share.

/// CPU time of the pinned spinner, in CPUs.
pub const USAGE_CPUS: &str = "usage_cpus";
/// The skip row when the machine has one CPU.
pub const SKIP: &str = "cpuset";
pub const AFFINITY: &str = "affinity";
pub const CPUS_USED: &str = "cpus-used";
pub const CPU_TIME: &str = "cpu-time";

/// Param: which arm a row is (absent on the pinned row).
pub const ARM: &str = "arm";
/// The exclusive-cpuset arm.
pub const ARM_EXCLUSIVE: &str = "exclusive";
/// The scenario's name in results.
pub const SCENARIO: &str = "cpuset";
/// The exclusive arm's skip row.
pub const EXCLUSIVE: &str = "exclusive";
/// Inside the exclusive cgroup: only its CPU.
pub const EXCLUSIVE_INSIDE: &str = "exclusive-inside";
/// Outside it: never that CPU.
pub const EXCLUSIVE_OUTSIDE: &str = "exclusive-outside";
