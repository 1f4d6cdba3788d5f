//! startup end to end on this machine (needs root): every namespace set
//! launches, every phase is measured per launch, nothing is left behind.

mod common;

use isobench::sandbox::Namespaces;
use isobench::scenarios::startup::Startup;
use isobench::scenarios::{Ctx, Level, Scenario};
use isobench_reports::names::startup as n;
use isobench_reports::{ScenarioResult, Status};

/// `launches` and `warmup` per set over the quick suite, run through the
/// trait; `None` without root.
fn run(
    test: &str,
    namespaces: Option<Namespaces>,
    suite: &str,
) -> Option<(Vec<ScenarioResult>, Ctx, tempfile::TempDir)> {
    if !common::root_or_skip(&format!("scenario_startup::{test}")) {
        return None;
    }
    let (ctx, root) = common::ctx(test, namespaces);
    let t: toml::Table = toml::from_str(suite).unwrap();
    let cfg = Startup::parse(Level::Quick, Some(&t)).unwrap();
    let r = Startup::results(&cfg, &ctx).unwrap();
    Some((r, ctx, root))
}

#[test]
fn every_set_launches_and_every_phase_is_measured() {
    let Some((r, ctx, _root)) = run(
        "every_set_launches_and_every_phase_is_measured",
        None,
        "launches = 5\nwarmup = 1",
    ) else {
        return;
    };
    // The quick suite's sets, in order (their spelling is pinned by the
    // module's own tests).
    let sets: Vec<&str> = r
        .iter()
        .map(|s| s.params[n::NAMESPACES].as_str().unwrap())
        .collect();
    let want: Vec<String> = Startup::level(Level::Quick)
        .sets
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(sets, want);
    let measured: Vec<&str> = [n::READY]
        .into_iter()
        .chain(n::PHASES)
        .chain([n::EXEC_TO_READY])
        .collect();
    for s in &r {
        assert_eq!(s.name, n::SCENARIO);
        assert_eq!(s.launcher, "native");
        assert_eq!(s.params["launches"], 5);
        assert_eq!(s.params["warmup"], 1);
        assert!(s.error.is_none());
        assert_eq!(s.checks.len(), 1);
        assert_eq!(s.checks[0].status, Status::Pass, "{:?}", s.checks[0]);
        assert_eq!(s.checks[0].observed, "5 of 5 measured, 1 of 1 warm-up");
        for name in &measured {
            let m = s
                .metrics
                .iter()
                .find(|m| m.name == *name)
                .unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(m.unit, "s");
            assert_eq!(m.samples.len(), 5, "{name}");
            assert!(
                m.samples.iter().all(|x| x.is_finite() && *x >= 0.0),
                "{name}"
            );
        }
        // Phases are sub-intervals of the launch: their sum never exceeds ready.
        let sample = |n: &str, i: usize| s.metrics.iter().find(|m| m.name == n).unwrap().samples[i];
        for i in 0..5 {
            let sum: f64 = n::PHASES
                .iter()
                .filter(|p| **p != n::PHASE_TEARDOWN)
                .map(|p| sample(p, i))
                .sum();
            assert!(sum <= sample(n::READY, i) + 1e-9);
        }
    }
    common::assert_clean(&ctx.set);
}

#[test]
fn namespaces_flag_measures_only_that_set() {
    let Some((r, ctx, _root)) = run(
        "namespaces_flag_measures_only_that_set",
        Some(Namespaces::parse("pid,net").unwrap()),
        "launches = 3\nwarmup = 0",
    ) else {
        return;
    };
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].params[n::NAMESPACES], "pid,net");
    assert_eq!(r[0].checks[0].status, Status::Pass);
    assert_eq!(r[0].metrics[0].samples.len(), 3);
    common::assert_clean(&ctx.set);
}
