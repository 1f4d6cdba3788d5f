//! pids end to end on this machine (root): a fork bomb under pids.max is
//! contained, refused, killed, and leaves nothing behind.

mod common;

use isobench::scenarios::pids::Pids;
use isobench::scenarios::{Level, Scenario};
use isobench_reports::names::pids as n;
use isobench_reports::Status;

#[test]
fn pids_quick() {
    if !common::root_or_skip("scenario_pids::pids_quick") {
        return;
    }
    let (ctx, _root) = common::ctx("pids", None);
    let cfg = Pids::parse(Level::Quick, None).unwrap();
    let results = Pids::results(&cfg, &ctx).unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&results).unwrap());
    assert_eq!(results.len(), 1);
    let r = &results[0];
    assert!(r.error.is_none(), "{:?}", r.error);
    for c in &r.checks {
        // Spawn latency is wall-clock on a shared machine: it may warn.
        let allowed = if c.name == n::CHECK_HOST_RESPONSIVE {
            matches!(c.status, Status::Pass | Status::Warn)
        } else {
            c.status == Status::Pass
        };
        assert!(allowed, "{c:?}");
        assert!(!c.expected.is_empty() && !c.observed.is_empty());
    }
    let peak = r.metrics.iter().find(|m| m.name == n::PEAK_PIDS).unwrap();
    assert!(peak.samples.iter().all(|p| *p <= cfg.pids_max as f64));
    for m in &r.metrics {
        assert!(!m.samples.is_empty(), "metric {} has no samples", m.name);
    }
    common::assert_clean(&ctx.set);
}
