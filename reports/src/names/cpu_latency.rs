//! Metric, param and check names of the cpu-latency scenario: the one
//! spelling the scenario, the plots and the fixtures share.

/// The scenario's name in results.
pub const SCENARIO: &str = "cpu-latency";

/// Param: which variant a row is.
pub const VARIANT: &str = "variant";
/// Variants: without quota, with a quota, with quota and CFS burst.
pub const NO_QUOTA: &str = "no-quota";
pub const QUOTA: &str = "quota";
pub const QUOTA_BURST: &str = "quota+burst";

/// Wake-up time behind the tick's schedule, per tick.
pub const WAKE_LATENCY: &str = "wake_latency";
/// Completion time behind the tick's schedule, per tick.
pub const DONE_LATENCY: &str = "done_latency";
pub const NR_THROTTLED: &str = "nr_throttled";
pub const MISSED_TICKS: &str = "missed_ticks";
/// Completion p99 over the no-quota variant's.
pub const P99_INFLATION: &str = "p99_inflation";

pub const THROTTLED_UNDER_QUOTA: &str = "throttled-under-quota";
pub const QUOTA_P99_INFLATION: &str = "quota-p99-inflation";
pub const BURST_ABSORBS_SPIKES: &str = "burst-absorbs-spikes";
