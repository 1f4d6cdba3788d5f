//! Metric, check and param names of the memory-virtual scenario: the one
//! spelling the scenario, the plots and the fixtures share.

pub const SCENARIO: &str = "memory-virtual";

/// A hog mapping 4× the limit but touching a fraction of it lives.
pub const MAPPED_SURVIVES: &str = "mapped_beyond_limit_survives";
/// The same mapping touched past the limit is OOM-killed.
pub const TOUCHED_KILLED: &str = "touched_past_limit_killed";
/// Peak usage of the survivor over its mapping (resident / virtual).
pub const RESIDENT_OVER_MAPPED: &str = "resident_over_mapped";
/// Peak usage of each hog, bytes.
pub const SURVIVOR_PEAK: &str = "survivor_peak";
pub const KILLED_PEAK: &str = "killed_peak";
