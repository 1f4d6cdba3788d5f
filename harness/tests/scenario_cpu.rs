//! cpu-weight, cpuset and cpu-latency end to end on this machine (needs
//! root). CPU measurements compete with whatever else runs: a check may
//! `warn` for a busy host where the scenario says so, never `fail` here.

mod common;

use isobench::sandbox::workload;
use isobench::scenarios::cpuset::Cpuset;
use isobench::scenarios::{cpu_latency, cpu_weight, Ctx, Level, Scenario};
use isobench_reports::{ScenarioResult, Status};

fn ctx(test: &str) -> (Ctx, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    let ctx = Ctx::new(
        common::set(test),
        workload::path().unwrap(),
        root.path().to_path_buf(),
        1,
        None,
    );
    (ctx, root)
}

fn status(r: &[ScenarioResult], check: &str) -> Vec<Status> {
    r.iter()
        .flat_map(|s| s.checks.iter())
        .filter(|c| c.name == check)
        .map(|c| c.status)
        .collect()
}

#[test]
fn cpu_weight_shares_follow_the_weights() {
    if !common::root_or_skip("scenario_cpu::cpu_weight_shares_follow_the_weights") {
        return;
    }
    let (ctx, _root) = ctx("weight");
    let cfg = cpu_weight::Config::parse(Level::Quick, None).unwrap();
    let r = cpu_weight::run(&cfg, &ctx).unwrap();
    for w in &cfg.weights {
        let s = status(&r, &format!("share.w{w}"));
        assert_eq!(s, vec![Status::Pass], "{:?}", r[0].checks);
    }
    // The measured shares sum to one and keep the order of the weights.
    let m: Vec<f64> = r[0].metrics.iter().map(|m| m.summary.p50).collect();
    assert!((m.iter().sum::<f64>() - 1.0).abs() < 1e-6, "{m:?}");
    assert!(m[0] < m[1] && m[1] < m[2], "{m:?}");
    common::assert_clean(&ctx.set);
}

#[test]
fn cpuset_pins_every_thread() {
    if !common::root_or_skip("scenario_cpu::cpuset_pins_every_thread") {
        return;
    }
    let (ctx, _root) = ctx("cpuset");
    let cfg = Cpuset::parse(Level::Quick, None).unwrap();
    let r = Cpuset::results(&cfg, &ctx).unwrap();
    if ctx.cpus < 2 {
        assert_eq!(status(&r, "cpuset"), vec![Status::Skip]);
        return;
    }
    for c in ["affinity", "cpus-used", "cpu-time"] {
        assert_eq!(status(&r, c), vec![Status::Pass], "{:?}", r[0].checks);
    }
    common::assert_clean(&ctx.set);
}

#[test]
fn cpu_latency_shows_throttling_and_burst() {
    if !common::root_or_skip("scenario_cpu::cpu_latency_shows_throttling_and_burst") {
        return;
    }
    let (ctx, _root) = ctx("latency");
    let cfg = cpu_latency::Config::parse(Level::Quick, None).unwrap();
    let r = cpu_latency::run(&cfg, &ctx).unwrap();
    assert_eq!(r.len(), 3);
    // Present, and a warn only when a busy host kept the bursts below the
    // quota.
    let throttled = status(&r, "throttled-under-quota");
    assert!(
        throttled == vec![Status::Pass] || throttled == vec![Status::Warn],
        "throttled-under-quota: {throttled:?} in {:?}",
        r.iter().map(|s| &s.checks).collect::<Vec<_>>()
    );
    let burst = status(&r, "burst-absorbs-spikes");
    assert!(
        burst == vec![Status::Pass] || burst == vec![Status::Skip],
        "{burst:?}"
    );
    // Every variant that ran kept one latency sample per wake-up.
    for s in r.iter().filter(|s| !s.metrics.is_empty()) {
        let done = s.metrics.iter().find(|m| m.name == "done_latency").unwrap();
        assert_eq!(done.samples.len(), cfg.count as usize);
    }
    common::assert_clean(&ctx.set);
}
