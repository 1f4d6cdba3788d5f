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
