//! Metric, series, check and param names of the memory-protection
//! scenario: the one spelling the scenario, the plots and the fixtures share.

pub const SCENARIO: &str = "memory-protection";

/// Param: which protection a row measured (`min`, `low`, `soft-limit`).
pub const MODE: &str = "mode";
pub const MODE_MIN: &str = "min";
pub const MODE_LOW: &str = "low";
/// v1: memory.soft_limit_in_bytes, reported as information.
pub const MODE_SOFT_LIMIT: &str = "soft-limit";
/// Param: each child's protection, MiB, in child order.
pub const PROTECTIONS_MIB: &str = "protections_mib";

/// Metric prefix of each child's memory.current after the sibling's
/// pressure, MiB (`current_mib.c0` … `current_mib.c3`); a target where the
/// selftest expects a value.
pub const CURRENT_PREFIX: &str = "current_mib.";
/// The protected group's (A/B) memory.current after the pressure, MiB.
pub const GROUP_CURRENT: &str = "group_current_mib";
/// ... and after the sibling's larger allocation.
pub const GROUP_CURRENT_AFTER: &str = "group_current_after_mib";

/// Series: `[child index, MiB]` measured, and the selftest's expectation
/// where it has one (the plot reads both).
pub const SERIES_CURRENT: &str = "child_current_mib";
pub const SERIES_EXPECTED: &str = "child_expected_mib";

/// Checks, named after what the selftest asserts.
pub const GROUP_PROTECTED: &str = "group_current_close";
/// Prefix of the per-child checks (`child_current_close.c0` …).
pub const CHILD_CLOSE_PREFIX: &str = "child_current_close.";
pub const UNPROTECTED_EMPTY: &str = "empty_child_current_zero";
pub const PRESSURE_ALLOC: &str = "sibling_alloc_succeeds";
/// min: the sibling's larger allocation fails; low: it succeeds.
pub const OVER_ALLOC: &str = "sibling_over_alloc";
pub const GROUP_AFTER: &str = "group_current_after_close";
pub const NO_OOM_EVENTS: &str = "children_oom_events_zero";
pub const LOW_EVENTS: &str = "children_low_events";
/// v1: the soft-limit information row (always a skip: never gated).
pub const SOFT_LIMIT_INFO: &str = "soft_limit_info";
/// The skip row where no protection can be measured.
pub const SKIP: &str = "memory_protection";
