//! Checks compared: a pass that became a fail, a skip or absent.

use std::collections::HashMap;

use serde::Serialize;

use super::*;

/// How a check's status moved between BASE and one NEW.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckChange {
    /// Passed (or warned) in BASE, fails in NEW.
    Failed,
    /// Passed (or warned) in BASE, skipped in NEW: coverage lost.
    Skipped,
    /// Passed (or warned) in BASE, absent from NEW (its scenario or launcher
    /// is missing): coverage lost.
    Absent,
    /// Any other change (e.g. fail → pass, skip → pass).
    Other,
}

pub(super) fn compare_checks(
    base: &Side,
    news: &[Side],
    allow_coverage_loss: bool,
) -> Vec<CheckRow> {
    let base_map: HashMap<&(String, String), Status> =
        base.checks.iter().map(|(k, s)| (k, *s)).collect();
    let new_maps: Vec<HashMap<&(String, String), Status>> = news
        .iter()
        .map(|n| n.checks.iter().map(|(k, s)| (k, *s)).collect())
        .collect();
    // BASE's order first, then checks only NEW runs have.
    let mut order: Vec<&(String, String)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (k, _) in base
        .checks
        .iter()
        .chain(news.iter().flat_map(|n| n.checks.iter()))
    {
        if seen.insert(k) {
            order.push(k);
        }
    }
    order
        .into_iter()
        .filter_map(|k| {
            let b = base_map.get(k).copied();
            let ns: Vec<Option<Status>> = new_maps.iter().map(|m| m.get(k).copied()).collect();
            if ns.iter().all(|n| *n == b) {
                return None;
            }
            let was_ok = matches!(b, Some(Status::Pass | Status::Warn));
            let changes: Vec<Option<CheckChange>> = ns
                .iter()
                .map(|n| {
                    if *n == b {
                        None
                    } else if was_ok && *n == Some(Status::Fail) {
                        Some(CheckChange::Failed)
                    } else if was_ok && *n == Some(Status::Skip) {
                        Some(CheckChange::Skipped)
                    } else if was_ok && n.is_none() {
                        Some(CheckChange::Absent)
                    } else if matches!(
                        (b, n),
                        (Some(Status::Pass), Some(Status::Warn))
                            | (Some(Status::Warn), Some(Status::Pass))
                    ) {
                        None
                    } else {
                        Some(CheckChange::Other)
                    }
                })
                .collect();
            let regressed = changes
                .iter()
                .map(|c| match c {
                    Some(CheckChange::Failed) => true,
                    Some(CheckChange::Skipped | CheckChange::Absent) => !allow_coverage_loss,
                    _ => false,
                })
                .collect();
            Some(CheckRow {
                scenario: k.0.clone(),
                check: k.1.clone(),
                base: b,
                news: ns,
                changes,
                regressed,
            })
        })
        .collect()
}
