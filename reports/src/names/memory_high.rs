//! Metric, series and check names of the memory_high scenario: the one spelling
//! the scenario, the plots and the fixtures share.

/// Allocation rate below high / rate above high.
pub const SLOWDOWN: &str = "slowdown";
pub const RATE_BELOW_HIGH: &str = "rate_below_high";
pub const RATE_ABOVE_HIGH: &str = "rate_above_high";
/// memory.events high (a metric, and the check that it is > 0).
pub const HIGH_EVENTS: &str = "high_events";
/// Peak usage of each run, bytes.
pub const PEAK_USAGE: &str = "peak_usage";

/// Series: the hog's allocation over its own clock, `[t s, MiB]`.
pub const ALLOCATED_MIB: &str = "allocated_mib";

pub const SLOWED_ABOVE_HIGH: &str = "slowed_above_high";
pub const NOT_KILLED: &str = "not_killed";
/// The skip row where memory.high does not exist.
pub const SKIP: &str = "memory_high";
/// memory.high throttling shows memory.pressure some > 0.
pub const PSI_MEMORY_STALL: &str = "psi_memory_stall";
