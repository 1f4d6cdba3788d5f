//! Metric and check names of the cpu-weight scenario: the one spelling the
//! scenario, the plots and the fixtures share.

/// The scenario's name in results.
pub const SCENARIO: &str = "cpu-weight";

/// What a share metric (and its check) starts with: `share.w<weight>`.
pub const SHARE_PREFIX: &str = "share.";

/// The share metric and check of a sibling with this weight: `share.w100`.
pub fn share(weight: u64) -> String {
    format!("{SHARE_PREFIX}w{weight}")
}

/// Param: which arm a row is (absent on the contended row).
pub const ARM: &str = "arm";
/// The arm where the high-weight sibling is idle.
pub const ARM_IDLE_SIBLING: &str = "idle-sibling";
/// Metric: the low-weight spinner's CPU use beside the idle sibling (target:
/// what the CPU had left).
pub const IDLE_SIBLING_USAGE: &str = "idle_sibling_usage_cpus";
/// Check: beside an idle sibling the low weight gets the whole CPU.
pub const IDLE_SIBLING_WHOLE_CPU: &str = "idle_sibling_whole_cpu";
