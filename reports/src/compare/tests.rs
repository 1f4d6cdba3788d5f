//! Comparison tests on synthetic samples with known answers.

use serde_json::json;

use super::*;
use crate::fixture::{demo_results, empty_run, lognormal, scenario};
use crate::schema::{Check, Metric, RunResults, Status};

const RESAMPLES: usize = 2000;

/// A run with one `startup` scenario whose `ready` metric has these samples.
fn run_with(samples: Vec<f64>) -> RunResults {
    let mut r = empty_run("r");
    let mut s = scenario("startup", "native", json!({"namespaces": "pid"}));
    s.metrics
        .push(Metric::new("ready", "s", Better::Lower, samples));
    r.scenarios.push(s);
    r
}

/// The default gate, but gating absolute times from one run per side: what
/// these within-run statistics tests exercise.
/// A base run and a NEW run `factor` times its scale: 200 lognormal
/// samples each (median 1 ms, shape `sigma`), base drawn first.
fn base_and_scaled(g: &mut SplitMix64, sigma: f64, factor: f64) -> (RunResults, RunResults) {
    let base = run_with(lognormal(g, 200, 1e-3, sigma));
    let new = lognormal(g, 200, 1e-3, sigma);
    (
        base,
        run_with(new.into_iter().map(|x| x * factor).collect()),
    )
}

fn times_gate() -> Gate {
    Gate::from_toml_str("[defaults]\nsingle_run_times = true\n").unwrap()
}

fn cell(c: &Comparison) -> &MetricCell {
    c.metrics[0].cells[0].as_ref().expect("metric compared")
}

#[test]
fn same_distribution_is_never_flagged() {
    // Two runs of the same build on the same machine: 200 lognormal samples
    // each, spreads from tight (p90 = 1.14 x median) to wide (1.9 x), 50
    // seeds each. Zero false regressions allowed.
    let gate = Gate::default();
    let mut flagged = Vec::new();
    let mut within_noise = 0;
    for sigma in [0.1, 0.3, 0.5] {
        for seed in 0..50u64 {
            let mut g = SplitMix64::new(seed * 1000 + (sigma * 10.0) as u64);
            let (base, new) = base_and_scaled(&mut g, sigma, 1.0);
            let c = compare(&base, &[new], &gate, seed, RESAMPLES);
            if c.regressed() {
                flagged.push((sigma, seed, cell(&c).ratio));
            }
            if cell(&c).verdict == Verdict::WithinNoise {
                within_noise += 1;
            }
        }
    }
    assert!(flagged.is_empty(), "false regressions: {flagged:?}");
    // With alpha = 0.05, only a few of 150 null comparisons are "significant".
    assert!(within_noise < 20, "{within_noise}");
}

#[test]
fn whole_suites_of_the_same_build_are_never_flagged() {
    // A full demo run has ~140 metrics; ten pairs of same-distribution runs
    // under the shipped gate must all pass (this is where a per-metric 0.1%
    // false-positive rate would add up without the Holm correction).
    let gate =
        Gate::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/gate.toml"))
            .unwrap();
    for seed in 0..10u64 {
        let c = compare(
            &demo_results(100 + seed),
            &[demo_results(200 + seed)],
            &gate,
            seed,
            500,
        );
        assert!(!c.regressed(), "seed {seed}: {:#?}", c.regressions());
    }
}

#[test]
fn adjusted_p_values_are_never_smaller() {
    let a = demo_results(1);
    let b = demo_results(2);
    let holm = compare(&a, std::slice::from_ref(&b), &times_gate(), 1, 200);
    let none_gate =
        Gate::from_toml_str("[defaults]\ncorrection = \"none\"\nsingle_run_times = true\n")
            .unwrap();
    let none = compare(&a, &[b], &none_gate, 1, 200);
    let mut adjusted = 0;
    for (h, n) in holm.metrics.iter().zip(&none.metrics) {
        let (Some(h), Some(n)) = (&h.cells[0], &n.cells[0]) else {
            continue;
        };
        if h.p_value.is_nan() || !h.testable || !h.gated {
            continue;
        }
        assert_eq!(h.p_value, n.p_value);
        assert_eq!(n.p_adjusted, n.p_value);
        assert!(h.p_adjusted >= h.p_value);
        if h.p_adjusted > h.p_value {
            adjusted += 1;
        }
    }
    assert!(adjusted > 10, "{adjusted}");
}

#[test]
fn heavy_tails_with_outliers_are_not_flagged() {
    let gate = Gate::default();
    for seed in 0..30u64 {
        let mut g = SplitMix64::new(seed);
        let draw = |g: &mut SplitMix64| {
            let mut v = lognormal(g, 200, 1e-3, 0.3);
            // 5% of launches hit a 20x stall (page faults, scheduler hiccups).
            for x in v.iter_mut() {
                if g.unit() < 0.05 {
                    *x *= 20.0;
                }
            }
            v
        };
        let base = run_with(draw(&mut g));
        let new = run_with(draw(&mut g));
        let c = compare(&base, &[new], &gate, seed, RESAMPLES);
        assert!(!c.regressed(), "seed {seed}: {:?}", cell(&c));
    }
}

#[test]
fn thirty_percent_slowdown_is_flagged() {
    let gate = times_gate();
    for seed in 0..20u64 {
        let mut g = SplitMix64::new(seed);
        // Spread of real startup latencies: p90 about 1.5x the median.
        let (base, new) = base_and_scaled(&mut g, 0.3, 1.3);
        let c = compare(&base, &[new], &gate, seed, RESAMPLES);
        assert!(c.regressed(), "seed {seed}: {:?}", cell(&c));
        assert_eq!(cell(&c).verdict, Verdict::Regressed);
        assert!(c.regressions()[0].contains("startup[native]{namespaces=pid}/ready"));
    }
}

#[test]
fn twenty_percent_shift_is_flagged_and_speedup_is_improved() {
    let gate = Gate::default();
    let mut g = SplitMix64::new(9);
    let base_s = lognormal(&mut g, 300, 1e-3, 0.2);
    let new_s = lognormal(&mut g, 300, 1e-3, 0.2);
    let slower: Vec<f64> = new_s.iter().map(|x| x * 1.2).collect();
    let faster: Vec<f64> = new_s.iter().map(|x| x * 0.75).collect();
    let c = compare(
        &run_with(base_s.clone()),
        &[run_with(slower)],
        &gate,
        1,
        RESAMPLES,
    );
    let x = cell(&c);
    assert_eq!(x.verdict, Verdict::Regressed, "{x:?}");
    assert!(x.ci_low < 1.2 && 1.2 < x.ci_high, "{x:?}");
    let c = compare(
        &run_with(base_s.clone()),
        &[run_with(faster)],
        &gate,
        1,
        RESAMPLES,
    );
    assert_eq!(cell(&c).verdict, Verdict::Improved);
    assert!(!c.regressed());
    // A 5% slowdown is detectable with this many samples but within the 10% threshold.
    let slight: Vec<f64> = base_s.iter().map(|x| x * 1.05).collect();
    let c = compare(&run_with(base_s), &[run_with(slight)], &gate, 1, RESAMPLES);
    assert_eq!(cell(&c).verdict, Verdict::WithinNoise);
}

#[test]
fn per_metric_threshold_and_ignore() {
    let mut g = SplitMix64::new(4);
    let (base, new) = base_and_scaled(&mut g, 0.2, 1.3);
    let lax = Gate::from_toml_str("[[metric]]\npattern = \"startup*/ready\"\nthreshold_pct = 50\n")
        .unwrap();
    let c = compare(&base, std::slice::from_ref(&new), &lax, 1, RESAMPLES);
    assert_eq!(cell(&c).verdict, Verdict::WithinNoise);
    let ignore = Gate::from_toml_str("[[metric]]\npattern = \"ready\"\nignore = true\n").unwrap();
    let c = compare(&base, &[new], &ignore, 1, RESAMPLES);
    assert_eq!(cell(&c).verdict, Verdict::Regressed);
    assert!(!c.regressed());
    assert_eq!(cell(&c).note.as_deref(), Some("ignored by gate"));
}

#[test]
fn deterministic_for_a_seed_and_records_it() {
    let a = demo_results(1);
    let b = demo_results(2);
    let gate = Gate::default();
    let j1 = compare(&a, std::slice::from_ref(&b), &gate, 77, 500).to_json();
    let j2 = compare(&a, std::slice::from_ref(&b), &gate, 77, 500).to_json();
    assert_eq!(j1, j2);
    let v: serde_json::Value = serde_json::from_str(&j1).unwrap();
    assert_eq!(v["seed"], 77);
    assert_eq!(v["resamples"], 500);
    assert_eq!(v["schema"], COMPARE_SCHEMA);
    let md = compare(&a, &[b], &gate, 77, 500).to_markdown();
    assert!(md.contains("500 resamples, seed 77"), "{md}");
}

#[test]
fn two_demo_runs_do_not_regress_and_scaled_startup_does() {
    let base = demo_results(11);
    let new = demo_results(12);
    let gate =
        Gate::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/gate.toml"))
            .unwrap();
    let against = |new: &RunResults, gate: &Gate| {
        compare(
            &base,
            std::slice::from_ref(new),
            gate,
            DEFAULT_SEED,
            RESAMPLES,
        )
    };
    let c = against(&new, &gate);
    assert!(!c.regressed(), "{:#?}", c.regressions());

    let mut slow = new;
    for s in slow.scenarios.iter_mut().filter(|s| s.name == "startup") {
        for m in &mut s.metrics {
            m.samples.iter_mut().for_each(|x| *x *= 1.5);
        }
    }
    // One run per side: absolute times are shown but not gated by default.
    let c = against(&slow, &gate);
    assert!(!c.regressed(), "{:#?}", c.regressions());
    let ready = c
        .metrics
        .iter()
        .find(|r| r.key.ends_with("/ready"))
        .unwrap();
    let cell = ready.cells[0].as_ref().unwrap();
    assert!(!cell.gated, "{cell:?}");
    // Gating them (single_run_times, and no calibrated bands: the shipped
    // ones are this machine's run-to-run spread) flags exactly the startup
    // times.
    let mut gate = gate;
    gate.defaults.single_run_times = true;
    gate.bands.clear();
    let c = against(&slow, &gate);
    assert!(c.regressed());
    let regs = c.regressions();
    assert!(regs.iter().all(|r| r.starts_with("startup[")), "{regs:#?}");
    assert!(regs.iter().any(|r| r.contains("/ready")), "{regs:#?}");
    assert!(c.to_markdown().contains("❌"));
}

#[test]
fn check_pass_to_fail_is_a_regression_whatever_the_numbers() {
    let mut base = run_with(vec![1e-3; 10]);
    base.scenarios[0].checks.push(Check::new(
        "ready p99 under budget",
        Status::Pass,
        "<= 20 ms",
        "1 ms",
        "",
    ));
    base.scenarios[0]
        .checks
        .push(Check::new("was skipped", Status::Skip, "", "", ""));
    base.scenarios[0]
        .checks
        .push(Check::new("was warning", Status::Warn, "", "", ""));
    let mut new = base.clone();
    new.scenarios[0].checks[0].status = Status::Fail;
    new.scenarios[0].checks[1].status = Status::Fail;
    let c = compare(&base, &[new.clone()], &Gate::default(), 1, 100);
    assert!(c.regressed());
    assert_eq!(c.checks.len(), 2);
    assert_eq!(c.checks[0].regressed, vec![true]);
    assert_eq!(
        c.checks[1].regressed,
        vec![false],
        "skip -> fail is not pass -> fail"
    );
    assert!(c.regressions()[0].contains("ready p99 under budget"));

    let mut warn_fail = base.clone();
    warn_fail.scenarios[0].checks[2].status = Status::Fail;
    assert!(compare(&base, &[warn_fail], &Gate::default(), 1, 100).regressed());

    let mut errored = base.clone();
    errored.scenarios[0].error = Some("clone3: EPERM".into());
    let c = compare(&base, &[errored], &Gate::default(), 1, 100);
    assert!(c.regressed());
    assert_eq!(c.checks[0].check, COMPLETED_CHECK);

    let same = compare(&base, &[base.clone()], &Gate::default(), 1, 100);
    assert!(!same.regressed());
    assert!(same.checks.is_empty());
}

#[test]
fn tcg_time_metrics_are_not_comparable_but_ratios_are() {
    let mut g = SplitMix64::new(3);
    let mut base = run_with(lognormal(&mut g, 50, 1e-3, 0.2));
    let mut q = scenario("cpu-quota", "native", json!({"quota_pct": 20}));
    q.metrics.push(Metric::with_target(
        "accuracy",
        "ratio",
        1.0,
        (0..20).map(|i| 1.0 + 0.001 * (i % 3) as f64).collect(),
    ));
    base.scenarios.push(q);
    let mut new = base.clone();
    new.environment.virtualization = "tcg".into();
    new.environment.kernel = "6.1.0-cloud-amd64".into();
    new.scenarios[0].metrics[0]
        .samples
        .iter_mut()
        .for_each(|x| *x *= 30.0);
    // Accuracy drifts far from the target under emulation: that still counts.
    new.scenarios[1].metrics[0]
        .samples
        .iter_mut()
        .for_each(|x| *x -= 0.2);
    let c = compare(&base, &[new], &Gate::default(), 1, RESAMPLES);
    let ready = c.metrics[0].cells[0].as_ref().unwrap();
    assert_eq!(ready.verdict, Verdict::NotComparable);
    assert_eq!(ready.note.as_deref(), Some(TCG_NOTE));
    let acc = c.metrics[1].cells[0].as_ref().unwrap();
    assert_eq!(acc.verdict, Verdict::Regressed, "{acc:?}");
    let md = c.to_markdown();
    assert!(md.contains("**Differs:** kernel, virtualization."), "{md}");
    assert!(md.contains("TCG"), "{md}");
}

#[test]
fn target_metrics_compare_distance_to_target() {
    let mk = |vals: Vec<f64>| {
        let mut r = empty_run("t");
        let mut s = scenario("cpu-quota", "native", json!({"quota_pct": 50}));
        s.metrics
            .push(Metric::with_target("accuracy", "ratio", 1.0, vals));
        r.scenarios.push(s);
        r
    };
    let base = mk((0..30).map(|i| 0.95 + 0.001 * (i % 5) as f64).collect());
    // Overshooting by the same amount is no change at all.
    let mirrored = mk((0..30).map(|i| 1.05 - 0.001 * (i % 5) as f64).collect());
    let c = compare(&base, &[mirrored], &Gate::default(), 1, RESAMPLES);
    assert_eq!(
        c.metrics[0].cells[0].as_ref().unwrap().verdict,
        Verdict::Unchanged
    );
    let closer = mk((0..30).map(|i| 0.99 + 0.001 * (i % 5) as f64).collect());
    let c = compare(&base, &[closer], &Gate::default(), 1, RESAMPLES);
    assert_eq!(
        c.metrics[0].cells[0].as_ref().unwrap().verdict,
        Verdict::Improved
    );
    assert_eq!(c.metrics[0].compared, "distance to target");
}

#[test]
fn higher_is_better_metrics_regress_downwards() {
    let mk = |scale: f64| {
        let mut r = empty_run("h");
        let mut s = scenario("pids", "native", json!({}));
        s.metrics.push(Metric::new(
            "fork_failures",
            "count",
            Better::Higher,
            (0..40).map(|i| scale * (100.0 + i as f64)).collect(),
        ));
        r.scenarios.push(s);
        r
    };
    let c = compare(&mk(1.0), &[mk(0.6)], &Gate::default(), 1, RESAMPLES);
    assert!(c.regressed());
    let c = compare(&mk(1.0), &[mk(1.6)], &Gate::default(), 1, RESAMPLES);
    assert!(!c.regressed());
    assert_eq!(
        c.metrics[0].cells[0].as_ref().unwrap().verdict,
        Verdict::Improved
    );
}

#[test]
fn several_new_runs_get_a_column_each() {
    let base = demo_results(1);
    let mut a = demo_results(2);
    let mut b = demo_results(3);
    a.run_id = "kernel-6.1".into();
    b.run_id = "kernel-6.12".into();
    b.scenarios.retain(|s| s.name != "pids");
    let mut c = compare(&base, &[a, b], &Gate::default(), 1, 200);
    assert_eq!(c.news.len(), 2);
    assert!(c.metrics.iter().all(|r| r.cells.len() == 2));
    let pids = c
        .metrics
        .iter()
        .find(|r| r.key.starts_with("pids"))
        .unwrap();
    assert!(pids.cells[0].is_some() && pids.cells[1].is_none());
    assert!(!c.news[1].missing.is_empty());
    c.set_labels("base.json", &["a.json", "b.json"]);
    let md = c.to_markdown();
    let header = md
        .lines()
        .find(|l| l.starts_with("| metric | base median |"))
        .unwrap();
    assert!(
        header.contains("`a.json`") && header.contains("`b.json`"),
        "{header}"
    );
}

#[test]
fn zero_baseline_and_missing_samples_are_handled() {
    let base = run_with(vec![0.0; 10]);
    let c = compare(&base, &[run_with(vec![0.0; 10])], &Gate::default(), 1, 100);
    assert_eq!(cell(&c).verdict, Verdict::Unchanged);
    let c = compare(&base, &[run_with(vec![1.0; 10])], &Gate::default(), 1, 100);
    assert_eq!(cell(&c).verdict, Verdict::NotComparable);
    let c = compare(
        &run_with(vec![]),
        &[run_with(vec![1.0])],
        &Gate::default(),
        1,
        100,
    );
    assert_eq!(cell(&c).note.as_deref(), Some("no samples"));
    assert!(!c.regressed());
    // NaN serialises as null, so the JSON stays valid.
    let v: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap();
    assert!(v["metrics"][0]["cells"][0]["ratio"].is_null());
}

/// How often the default gate flags a shift, by spread and size of shift:
/// `cargo test --release -p isobench-reports power_survey -- --ignored --nocapture`.
#[test]
#[ignore]
fn power_survey() {
    let gate = Gate::default();
    for sigma in [0.1, 0.3, 0.5, 1.0] {
        for shift in [1.0, 1.2, 1.3] {
            let (mut reg, mut noise) = (0, 0);
            for seed in 0..50u64 {
                let mut g = SplitMix64::new(seed * 7919 + 1);
                let (base, new) = base_and_scaled(&mut g, sigma, shift);
                let c = compare(&base, &[new], &gate, seed, RESAMPLES);
                match cell(&c).verdict {
                    Verdict::Regressed => reg += 1,
                    Verdict::WithinNoise => noise += 1,
                    _ => {}
                }
            }
            println!("sigma {sigma} shift {shift}: regressed {reg}/50 within-noise {noise}/50");
        }
    }
}

#[test]
fn the_shipped_gate_parses() {
    let g = Gate::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ci/gate.toml"))
        .unwrap();
    assert!(!g.rules.is_empty());
    assert_eq!(Gate::shipped(), g);
}

fn run_with_checks(id: &str, checks: &[(&str, &str, Status)]) -> RunResults {
    let mut r = empty_run(id);
    for (scen, check, st) in checks {
        let s = match r.scenarios.iter_mut().find(|s| s.name == *scen) {
            Some(s) => s,
            None => {
                r.scenarios.push(scenario(scen, "native", json!({})));
                r.scenarios.last_mut().unwrap()
            }
        };
        s.checks.push(Check::new(*check, *st, "e", "o", ""));
    }
    r
}

#[test]
fn lost_coverage_fails_the_gate_and_is_named() {
    use Status::*;
    let base = run_with_checks(
        "b",
        &[("pids", "bounded", Pass), ("isolation", "pid", Pass)],
    );
    let cases: Vec<(RunResults, &str)> = vec![
        (
            run_with_checks(
                "n",
                &[("pids", "bounded", Skip), ("isolation", "pid", Pass)],
            ),
            "went pass → skip",
        ),
        (
            run_with_checks("n", &[("pids", "other", Pass), ("isolation", "pid", Pass)]),
            "went pass → absent",
        ),
        (
            run_with_checks("n", &[("pids", "bounded", Pass)]),
            "scenario isolation[native] is missing",
        ),
        (
            {
                let mut r = base.clone();
                r.interrupted = true;
                r
            },
            "was interrupted",
        ),
    ];
    for (new, words) in cases {
        let c = compare(&base, std::slice::from_ref(&new), &Gate::default(), 1, 100);
        assert!(c.regressed(), "{words}: {:?}", c.regressions());
        let regs = c.regressions();
        assert!(
            regs.iter()
                .any(|r| r.contains("coverage lost") && r.contains(words)),
            "{words}: {regs:?}"
        );
        assert!(c.to_markdown().contains("coverage lost"), "{words}");
        let allowed = Options {
            allow_coverage_loss: true,
            ..Options::default()
        };
        let c = compare_with(&base, &[new], &Gate::default(), &allowed);
        assert!(!c.regressed(), "{words} allowed: {:?}", c.regressions());
    }
    // Pass → fail stays a regression even when lost coverage is allowed.
    let new = run_with_checks(
        "n",
        &[("pids", "bounded", Fail), ("isolation", "pid", Pass)],
    );
    let allowed = Options {
        allow_coverage_loss: true,
        ..Options::default()
    };
    assert!(compare_with(&base, &[new], &Gate::default(), &allowed).regressed());
}

/// One `--rounds` run with arms `a` and `b`: `ready` per round drifts ×2
/// across rounds; `b` is `factor` × `a` in every round.
fn arms_run(factor: f64, seed: u64, rounds: u32) -> RunResults {
    let mut g = SplitMix64::new(seed);
    let mut r = empty_run("arms");
    for (label, f) in [("a", 1.0), ("b", factor)] {
        let mut s = scenario("startup", label, json!({"namespaces": "pid"}));
        let (mut samples, mut rr) = (Vec::new(), Vec::new());
        for round in 1..=rounds {
            let level = 1e-3 * (1.0 + f64::from(round) / f64::from(rounds));
            for x in lognormal(&mut g, 20, level * f, 0.2) {
                samples.push(x);
                rr.push(round);
            }
        }
        let mut m = Metric::new("ready", "s", Better::Lower, samples);
        m.rounds = rr;
        s.metrics.push(m);
        r.scenarios.push(s);
    }
    r
}

#[test]
fn interleaved_arms_pair_rounds() {
    let gate = Gate::default();
    let opts = Options::default();
    let mut flagged = 0;
    for seed in 0..20 {
        let c = compare_arms(&[arms_run(1.0, seed, 6)], "a", "b", &gate, &opts).unwrap();
        assert_eq!(c.design, Design::Interleaved);
        assert!(cell(&c).testable && cell(&c).gated);
        flagged += usize::from(c.regressed());
    }
    assert!(flagged <= 1, "equal arms flagged in {flagged} of 20");
    let mut caught = 0;
    for seed in 0..20 {
        let c = compare_arms(&[arms_run(1.3, seed, 6)], "a", "b", &gate, &opts).unwrap();
        caught += usize::from(c.regressed());
    }
    assert!(caught >= 19, "×1.3 arm caught in {caught} of 20");
    // One round: nothing can be shown, and it says so.
    let c = compare_arms(&[arms_run(2.0, 1, 1)], "a", "b", &gate, &opts).unwrap();
    assert_eq!(cell(&c).verdict, Verdict::NotTestable);
    assert!(!c.regressed());
    let e = compare_arms(&[arms_run(1.0, 1, 3)], "a", "nope", &gate, &opts).unwrap_err();
    assert!(e.0.contains("\"nope\"") && e.0.contains("a, b"), "{}", e.0);
}

#[test]
fn several_runs_per_side_see_run_to_run_noise() {
    // Each run has its own level (±25%); within-run samples are tight. One
    // run per side with gated times would flag many pairs; the hierarchical
    // design flags none, and still catches a ×1.6 change.
    let mut g = SplitMix64::new(5);
    let mut runs = |n: usize, f: f64| -> Vec<RunResults> {
        (0..n)
            .map(|_| {
                let level = 1e-3 * (0.75 + 0.5 * g.unit()) * f;
                run_with(lognormal(&mut g, 100, level, 0.05))
            })
            .collect()
    };
    let opts = Options::default();
    let gate = Gate::default();
    let mut false_alarms = 0;
    for _ in 0..10 {
        let (b, n) = (runs(3, 1.0), runs(3, 1.0));
        let c = compare_runs(&b, &n, &gate, &opts).unwrap();
        assert_eq!(c.design, Design::Replicated);
        false_alarms += usize::from(c.regressed());
    }
    assert!(false_alarms <= 1, "{false_alarms}");
    let (b, n) = (runs(4, 1.0), runs(4, 1.6));
    let c = compare_runs(&b, &n, &gate, &opts).unwrap();
    assert!(c.regressed(), "{:?}", cell(&c));
}

#[test]
fn large_files_use_order_statistic_intervals() {
    // 10,000 samples per side: the interval comes from order statistics.
    let mut g = SplitMix64::new(9);
    let base = run_with(lognormal(&mut g, 10_000, 1e-3, 0.3));
    let new = run_with(lognormal(&mut g, 10_000, 1.2e-3, 0.3));
    let c = compare(&base, &[new], &times_gate(), 1, DEFAULT_RESAMPLES);
    let cl = cell(&c);
    assert!(cl.ci_low > 1.15 && cl.ci_high < 1.25, "{cl:?}");
    assert_eq!(cl.verdict, Verdict::Regressed);
}
