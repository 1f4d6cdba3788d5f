//! nesting end to end on this machine (needs root): the inner sandbox's
//! limits larger than the outer ones are bound by the outer; the v2-only
//! delegation rules are checks on v2 and skips naming why elsewhere; no
//! cgroup is left behind.

mod common;

use isobench::scenarios::nesting::Nesting;
use isobench::scenarios::{Level, Scenario};
use isobench_reports::names::nesting as n;
use isobench_reports::Status;

#[test]
fn inner_limits_are_bound_by_the_outer() {
    if !common::root_or_skip("scenario_nesting::inner_limits_are_bound_by_the_outer") {
        return;
    }
    let (ctx, _root) = common::ctx("nest", None);
    let set = ctx.set.clone();
    let cfg = Nesting::parse(Level::Quick, None).unwrap();
    let r = Nesting::results(&cfg, &ctx).unwrap();
    assert_eq!(r.len(), 1, "{r:#?}");
    let s = &r[0];
    assert!(s.error.is_none(), "{s:#?}");
    let status = |name: &str| {
        s.checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name}: {:#?}", s.checks))
            .status
    };
    assert_eq!(
        status(n::INNER_MEMORY_BOUND_BY_OUTER),
        Status::Pass,
        "{:#?}",
        s.checks
    );
    assert_eq!(
        status(n::INNER_PIDS_BOUND_BY_OUTER),
        Status::Pass,
        "{:#?}",
        s.checks
    );
    let peak = s
        .metrics
        .iter()
        .find(|m| m.name == n::INNER_PEAK)
        .unwrap()
        .samples[0];
    let outer = (cfg.outer_memory_mib << 20) as f64;
    assert!(peak > outer / 2.0 && peak <= outer * 1.02, "peak {peak}");
    let v2 = s.params["cgroup"] == "v2";
    for c in [
        n::NO_INTERNAL_PROCESSES,
        n::TOP_DOWN,
        n::CGROUPNS_BOUNDARY,
        n::DELEGATEE_BOUNDARY,
    ] {
        let want = if v2 { Status::Pass } else { Status::Skip };
        assert_eq!(status(c), want, "{c}: {:#?}", s.checks);
    }
    common::assert_clean(&set);
}
