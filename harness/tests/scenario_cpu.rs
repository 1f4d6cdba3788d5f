//! cpu-weight, cpuset and cpu-latency end to end on this machine (needs
//! root). CPU measurements compete with whatever else runs: a check may
//! `warn` for a busy host where the scenario says so, never `fail` here.

mod common;

use isobench::scenarios::cpu_latency::CpuLatency;
use isobench::scenarios::cpu_quota::CpuQuota;
use isobench::scenarios::cpu_weight::CpuWeight;
use isobench::scenarios::cpuset::Cpuset;
use isobench::scenarios::{Ctx, Level, Scenario};
use isobench_reports::names::{
    cpu_latency as lat, cpu_quota as quota, cpu_weight as weight, cpuset,
};
use isobench_reports::{ScenarioResult, Status};

fn status(r: &[ScenarioResult], check: &str) -> Vec<Status> {
    r.iter()
        .flat_map(|s| s.checks.iter())
        .filter(|c| c.name == check)
        .map(|c| c.status)
        .collect()
}

/// Runs `S` at the quick level through the trait and hands its results,
/// config and context to `check`; then nothing of the run may be left.
/// Skips without root.
fn quick<S: Scenario>(test: &str, check: impl FnOnce(&[ScenarioResult], &S::Config, &Ctx)) {
    if !common::root_or_skip(&format!("scenario_cpu::{test}")) {
        return;
    }
    let (ctx, _root) = common::ctx(test, None);
    let cfg = S::parse(Level::Quick, None).unwrap();
    let results = S::results(&cfg, &ctx).unwrap();
    check(&results, &cfg, &ctx);
    common::assert_clean(&ctx.set);
}

#[test]
fn cpu_weight_shares_follow_the_weights() {
    quick::<CpuWeight>("cpu_weight_shares_follow_the_weights", |r, cfg, _| {
        for w in &cfg.weights {
            let s = status(r, &weight::share(*w));
            assert_eq!(s, vec![Status::Pass], "{:?}", r[0].checks);
        }
        // The measured shares sum to one and keep the order of the weights.
        let m: Vec<f64> = r[0].metrics.iter().map(|m| m.summary.p50).collect();
        assert!((m.iter().sum::<f64>() - 1.0).abs() < 1e-6, "{m:?}");
        assert!(m[0] < m[1] && m[1] < m[2], "{m:?}");
        // The idle-sibling arm: its own row; the low weight got the CPU.
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].params[weight::ARM], weight::ARM_IDLE_SIBLING);
        assert_eq!(
            status(r, weight::IDLE_SIBLING_WHOLE_CPU),
            vec![Status::Pass],
            "{:?}",
            r[1].checks
        );
    });
}

#[test]
fn cpu_quota_stall_shows_in_psi_and_fires_a_trigger() {
    quick::<CpuQuota>("cpu_quota_psi", |r, _, ctx| {
        let has_psi = ctx
            .set
            .v2_base
            .as_ref()
            .is_some_and(|b| b.join("cpu.pressure").exists());
        let stall = status(r, quota::CHECK_PSI_STALL);
        let trigger = status(r, quota::CHECK_PSI_TRIGGER);
        // One stall check per limited point; one trigger test per run.
        assert!(
            !stall.is_empty() && trigger.len() == 1,
            "{stall:?} {trigger:?}"
        );
        let want = if has_psi { Status::Pass } else { Status::Skip };
        assert!(stall.iter().all(|s| *s == want), "{stall:?}");
        assert_eq!(trigger, vec![want]);
        if has_psi {
            assert!(r
                .iter()
                .any(|p| p.metrics.iter().any(|m| m.name == "psi_cpu_some_pct")));
        }
    });
}

#[test]
fn cpuset_pins_every_thread() {
    quick::<Cpuset>("cpuset_pins_every_thread", |r, _, ctx| {
        if ctx.cpus < 2 {
            assert_eq!(status(r, cpuset::SKIP), vec![Status::Skip]);
            return;
        }
        for c in [cpuset::AFFINITY, cpuset::CPUS_USED, cpuset::CPU_TIME] {
            assert_eq!(status(r, c), vec![Status::Pass], "{:?}", r[0].checks);
        }
        // The exclusive arm ran (both checks pass) or says why not.
        let ex = &r[1];
        assert_eq!(ex.params[cpuset::ARM], cpuset::ARM_EXCLUSIVE);
        let ran = status(r, cpuset::EXCLUSIVE_INSIDE);
        if ran.is_empty() {
            assert_eq!(status(r, cpuset::EXCLUSIVE), vec![Status::Skip]);
            assert!(!ex.checks[0].detail.is_empty());
        } else {
            assert_eq!(ran, vec![Status::Pass], "{:?}", ex.checks);
            assert_eq!(
                status(r, cpuset::EXCLUSIVE_OUTSIDE),
                vec![Status::Pass],
                "{:?}",
                ex.checks
            );
        }
    });
}

#[test]
fn cpu_latency_shows_throttling_and_burst() {
    quick::<CpuLatency>("cpu_latency_shows_throttling_and_burst", |r, cfg, _| {
        assert_eq!(r.len(), 3);
        // Present, and a warn only when a busy host kept the bursts below
        // the quota.
        let throttled = status(r, lat::THROTTLED_UNDER_QUOTA);
        assert!(
            throttled == vec![Status::Pass] || throttled == vec![Status::Warn],
            "throttled-under-quota: {throttled:?} in {:?}",
            r.iter().map(|s| &s.checks).collect::<Vec<_>>()
        );
        let burst = status(r, lat::BURST_ABSORBS_SPIKES);
        assert!(
            burst == vec![Status::Pass] || burst == vec![Status::Skip],
            "{burst:?}"
        );
        // Every variant that ran kept one latency sample per wake-up.
        for s in r.iter().filter(|s| !s.metrics.is_empty()) {
            let done = s.metrics.iter().find(|m| m.name == lat::DONE_LATENCY);
            assert_eq!(done.unwrap().samples.len(), cfg.count as usize);
        }
    });
}
