//! Synthetic but realistic results (every scenario kind the harness emits),
//! for tests, the `render_fixture` example and demos of the renderers.
//! Seeded: the same seed always gives the same results.

use serde_json::json;

use crate::compare::SplitMix64;
use crate::names::{cpu_latency, cpu_quota, cpu_weight, pids, startup};
use crate::schema::*;
use crate::stats::Summary;

/// `n` lognormal samples with the given median and log-space sigma.
pub fn lognormal(rng: &mut SplitMix64, n: usize, median: f64, sigma: f64) -> Vec<f64> {
    (0..n)
        .map(|_| median * (sigma * standard_normal(rng)).exp())
        .collect()
}

/// One standard normal draw (Box–Muller).
pub fn standard_normal(rng: &mut SplitMix64) -> f64 {
    let u1 = 1.0 - rng.unit();
    let u2 = rng.unit();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// A scenario result with the given name, launcher and params (a JSON object).
pub fn scenario(name: &str, launcher: &str, params: serde_json::Value) -> ScenarioResult {
    ScenarioResult {
        name: name.into(),
        launcher: launcher.into(),
        launcher_spec: None,
        params: params.as_object().cloned().unwrap_or_default(),
        metrics: vec![],
        checks: vec![],
        series: Default::default(),
        error: None,
        duration_s: None,
    }
}

/// An empty run on a typical machine of this project (hybrid cgroups, 2 CPUs).
pub fn empty_run(run_id: &str) -> RunResults {
    let mut launchers = std::collections::BTreeMap::new();
    launchers.insert("native".into(), "0.1.0".into());
    launchers.insert("runc".into(), "1.1.12".into());
    RunResults {
        schema: SCHEMA.into(),
        run_id: run_id.into(),
        started_at: "2026-01-01T12:00:00Z".into(),
        finished_at: "2026-01-01T12:04:10Z".into(),
        environment: Environment {
            kernel: "6.18.0-isobench".into(),
            cgroup_mode: "hybrid".into(),
            controllers: [
                "cpu", "cpuacct", "cpuset", "memory", "pids", "blkio", "freezer",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            cpus: 2,
            cpu_model: "Intel(R) Xeon(R) CPU @ 2.20GHz".into(),
            memory_bytes: 24 * 1024 * 1024 * 1024,
            virtualization: "none".into(),
            isobench_version: "0.1.0".into(),
            launchers,
            ..Default::default()
        },
        scenarios: vec![],
        interrupted: false,
    }
}

/// Median seconds of each launch phase.
const PHASES: [(&str, f64); 6] = [
    (startup::PHASE_CGROUP, 60e-6),
    (startup::PHASE_CLONE, 140e-6),
    (startup::PHASE_PLACE, 25e-6),
    (startup::PHASE_SETUP, 280e-6),
    (startup::PHASE_EXEC, 230e-6),
    (startup::PHASE_TEARDOWN, 380e-6),
];

/// A full demo run: startup (4 namespace sets × 2 launchers), a cpu-quota
/// sweep with timelines, cpu-weight, cpu-latency, memory-oom (two variants),
/// memory-high, pids, pagecache (series without a dedicated plot), and an
/// errored scenario.
pub fn demo_results(seed: u64) -> RunResults {
    let mut rng = SplitMix64::new(seed);
    let mut run = empty_run(&format!("demo-{seed}"));
    let sc = &mut run.scenarios;

    for launcher in ["native", "runc"] {
        for (ns, extra) in [
            ("pid", 0.0),
            ("pid,mnt,uts,ipc", 150e-6),
            ("pid,mnt,uts,ipc,user", 420e-6),
            ("pid,mnt,uts,ipc,net,user", 2.6e-3),
        ] {
            let mut s = scenario(
                startup::SCENARIO,
                launcher,
                json!({ startup::NAMESPACES: ns }),
            );
            let n = 40;
            let mut ready = vec![0.0; n];
            for (name, med) in PHASES {
                let mut med = med;
                if name == startup::PHASE_SETUP {
                    med += extra;
                }
                if launcher == "runc" {
                    med *= if name == startup::PHASE_EXEC {
                        60.0
                    } else {
                        4.0
                    };
                }
                let v = lognormal(&mut rng, n, med, 0.25);
                for (r, x) in ready.iter_mut().zip(&v) {
                    *r += x;
                }
                s.metrics.push(Metric::new(name, "s", Better::Lower, v));
            }
            s.metrics.insert(
                0,
                Metric::new(startup::READY, "s", Better::Lower, ready.clone()),
            );
            let p99 = Summary::of(&ready).p99;
            let limit = if launcher == "runc" { 0.1 } else { 0.02 };
            s.checks.push(Check::new(
                "ready p99 under budget",
                if p99 <= limit {
                    Status::Pass
                } else {
                    Status::Fail
                },
                format!("p99 <= {} ms", limit * 1e3),
                format!("p99 = {:.3} ms", p99 * 1e3),
                format!("{n} launches"),
            ));
            sc.push(s);
        }
    }

    for quota in [10u32, 20, 50, 100, 150, 300] {
        let quota_pct = f64::from(quota);
        let demand = 2.0f64;
        let expected = (quota_pct / 100.0f64).min(demand);
        let mut s = scenario(
            cpu_quota::SCENARIO,
            "native",
            json!({
                cpu_quota::QUOTA_PCT: quota,
                cpu_quota::PERIOD_MS: 100,
                cpu_quota::THREADS: 2,
                cpu_quota::DEMAND_CPUS: demand
            }),
        );
        let bias = if quota_pct == 10.0 { 0.93 } else { 1.0 };
        let usage: Vec<f64> = (0..5)
            .map(|_| expected * bias * (1.0 + 0.01 * standard_normal(&mut rng)))
            .collect();
        let acc: Vec<f64> = usage.iter().map(|u| u / expected).collect();
        let throttled = quota_pct / 100.0 < demand;
        let tf = if throttled { 0.97 } else { 0.0 };
        let worst = acc.iter().map(|a| (a - 1.0).abs()).fold(0.0f64, f64::max);
        s.checks.push(Check::new(
            "usage within ±5% of quota",
            if worst <= 0.05 {
                Status::Pass
            } else {
                Status::Fail
            },
            format!("{expected:.2} CPUs ± 5%"),
            format!("worst {:+.1}%", worst * 100.0),
            "5 repetitions of 5 s",
        ));
        s.metrics
            .push(Metric::with_target(cpu_quota::ACCURACY, "ratio", 1.0, acc));
        s.metrics.push(Metric::new(
            cpu_quota::THROTTLED_FRACTION,
            "ratio",
            Better::Lower,
            vec![tf; 5],
        ));
        s.metrics.push(Metric::new(
            cpu_quota::THROTTLED_TIME,
            "s",
            Better::Lower,
            vec![
                if throttled {
                    5.0 * (1.0 - expected / demand)
                } else {
                    0.0
                };
                5
            ],
        ));
        s.metrics.push(Metric::new(
            cpu_quota::USAGE_CPUS,
            "cpus",
            Better::Higher,
            usage,
        ));
        let dt = 0.1;
        let mut usage_series = Vec::new();
        let mut thr_series = Vec::new();
        for i in 1..=50 {
            let t = i as f64 * dt;
            let jitter = 1.0 + 0.04 * standard_normal(&mut rng);
            // Unthrottled runs spike briefly at start-up, throttled ones sit at the quota.
            let u = if throttled {
                (expected * jitter).min(demand)
            } else {
                demand * (1.0 - 0.01 * rng.unit())
            };
            usage_series.push([t, u]);
            let thr = throttled && (quota_pct < 100.0 || i % 3 != 0);
            thr_series.push([t, if thr { 1.0 } else { 0.0 }]);
        }
        s.series
            .insert(cpu_quota::SERIES_USAGE_CPUS.into(), usage_series);
        s.series
            .insert(cpu_quota::SERIES_THROTTLED.into(), thr_series);
        sc.push(s);
    }

    let mut w = scenario(
        cpu_weight::SCENARIO,
        "native",
        json!({"weights": [100, 200, 400]}),
    );
    for (wt, share) in [(100, 1.0 / 7.0), (200, 2.0 / 7.0), (400, 4.0 / 7.0)] {
        let v: Vec<f64> = (0..5)
            .map(|_| share * (1.0 + 0.03 * standard_normal(&mut rng)))
            .collect();
        w.metrics.push(Metric::with_target(
            &cpu_weight::share(wt),
            "fraction",
            share,
            v,
        ));
    }
    w.checks.push(Check::new(
        "shares proportional to weights",
        Status::Pass,
        "each share within ±10% of weight/Σweights",
        "worst -4.1%",
        "",
    ));
    sc.push(w);

    for variant in [
        cpu_latency::NO_QUOTA,
        cpu_latency::QUOTA,
        cpu_latency::QUOTA_BURST,
    ] {
        let mut s = scenario(
            cpu_latency::SCENARIO,
            "native",
            json!({ cpu_latency::VARIANT: variant }),
        );
        let tail_p = match variant {
            cpu_latency::NO_QUOTA => 0.0,
            cpu_latency::QUOTA => 0.3,
            _ => 0.05,
        };
        let n = 300;
        let mut wake = lognormal(&mut rng, n, 55e-6, 0.4);
        let mut done = lognormal(&mut rng, n, 10.4e-3, 0.05);
        for i in 0..n {
            if rng.unit() < tail_p {
                let stall = 80e-3 * rng.unit();
                wake[i] += stall;
                done[i] += stall;
            }
        }
        let p99 = Summary::of(&wake).p99;
        s.checks.push(Check::new(
            "wake latency p99 below one period",
            if p99 < 0.1 {
                Status::Pass
            } else {
                Status::Warn
            },
            "p99 < 100 ms",
            format!("p99 = {:.2} ms", p99 * 1e3),
            "",
        ));
        s.metrics.push(Metric::new(
            cpu_latency::WAKE_LATENCY,
            "s",
            Better::Lower,
            wake,
        ));
        s.metrics.push(Metric::new(
            cpu_latency::DONE_LATENCY,
            "s",
            Better::Lower,
            done,
        ));
        sc.push(s);
    }

    use crate::names::{memory_high as high, memory_oom as oom, pagecache};
    // memory-oom as the harness records it: usage in MiB, limit_mib, one
    // result per variant; `oom_kill` marks the kill on the same time base.
    for (variant, procs) in [(oom::SINGLE, 1u32), (oom::OOM_GROUP, 4)] {
        let limit_mib = 256.0;
        let mut m = scenario(
            "memory-oom",
            "native",
            json!({"variant": variant, "limit_mib": 256, "step_kib": 4096, "procs": procs}),
        );
        let mut mem = Vec::new();
        let mut oom_t = 0.0;
        for i in 0..=60 {
            let t = i as f64 * 0.02;
            let v = (i as f64 * 6.0 * (1.0 + 0.05 * rng.unit())).min(limit_mib - 1.5);
            mem.push([t, v]);
            if v >= limit_mib - 1.5 {
                oom_t = t + 0.01;
                mem.push([oom_t, 0.3]);
                break;
            }
        }
        m.series.insert(oom::USAGE_MIB.into(), mem);
        m.series.insert(oom::OOM_KILL.into(), vec![[oom_t, 1.0]]);
        let limit = limit_mib * 1024.0 * 1024.0;
        m.metrics.push(Metric::with_target(
            oom::PEAK_USAGE,
            "bytes",
            limit,
            vec![limit - 1.5 * 1024.0 * 1024.0; 3],
        ));
        m.metrics.push(Metric::new(
            oom::TIME_TO_KILL,
            "s",
            Better::Lower,
            lognormal(&mut rng, 3, 0.004, 0.3),
        ));
        m.checks.push(Check::new(
            oom::PEAK_WITHIN_LIMIT,
            Status::Pass,
            "peak ≤ limit 256.00 MiB + slack 5.12 MiB (2%)",
            "peak 254.50 MiB",
            "peak from memory.peak (v2) / memory.max_usage_in_bytes (v1)",
        ));
        sc.push(m);
    }

    let mut h = scenario(
        "memory-high",
        "native",
        json!({"high_mib": 128, "max_mib": 512, "hog_mib": 256, "step_kib": 1024}),
    );
    h.series.insert(
        high::ALLOCATED_MIB.into(),
        (0..=80)
            .map(|i| {
                let t = i as f64 * 0.05;
                // Fast up to memory.high, then throttled by reclaim.
                let v = if t < 0.8 {
                    t * 160.0
                } else {
                    128.0 + (t - 0.8) * 40.0
                };
                [t, v.min(256.0)]
            })
            .collect(),
    );
    h.metrics.push(Metric::new(
        high::SLOWDOWN,
        "ratio",
        Better::Higher,
        lognormal(&mut rng, 5, 4.0, 0.1),
    ));
    h.checks.push(Check::new(
        high::SLOWED_ABOVE_HIGH,
        Status::Pass,
        "rate above high < rate below high / 2",
        "4.0x slower",
        "",
    ));
    sc.push(h);

    let mut p = scenario(pids::SCENARIO, "native", json!({ pids::PIDS_MAX: 64 }));
    let mut current = Vec::new();
    for i in 0..=60 {
        let t = i as f64 * 0.05;
        let v = if t < 2.5 {
            (i as f64 * 9.0).min(64.0 - (rng.unit() * 3.0).floor())
        } else {
            0.0
        };
        current.push([t, v]);
    }
    p.series.insert(pids::SERIES_PIDS_CURRENT.into(), current);
    p.metrics.push(Metric::new(
        pids::FORKS_REFUSED,
        "count",
        Better::Higher,
        vec![1843.0],
    ));
    p.checks.push(Check::new(
        "pids.current never exceeds pids.max",
        Status::Pass,
        "max(pids.current) <= 64",
        "max 64",
        "",
    ));
    sc.push(p);

    let mut pc = scenario(
        "pagecache",
        "native",
        json!({"limit_mib": 256, "written_mib": 1024}),
    );
    let usage: Vec<[f64; 2]> = (0..40)
        .map(|i| [i as f64 * 0.1, (20.0 + i as f64 * 12.0).min(250.0)])
        .collect();
    pc.series.insert(
        pagecache::PAGE_CACHE_MIB.into(),
        usage
            .iter()
            .map(|p| [p[0], (p[1] - 18.0).max(0.0)])
            .collect(),
    );
    pc.series.insert(pagecache::USAGE_MIB.into(), usage);
    pc.metrics.push(Metric::new(
        pagecache::WRITE_RATE,
        "MiB/s",
        Better::Higher,
        lognormal(&mut rng, 10, 400.0, 0.2),
    ));
    pc.checks.push(Check::new(
        pagecache::CACHE_RECLAIMED,
        Status::Pass,
        "usage reached the limit (failcnt / memory.events max > 0) while 1024.00 MiB of file data passed through the cache",
        "limit hits 812; page cache peak 232.00 MiB (sampled at 100 Hz)",
        "",
    ));
    sc.push(pc);

    let mut iso = scenario("isolation", "runc", json!({}));
    iso.error = Some(
        "runc: container_linux.go: starting container process caused: exec format error".into(),
    );
    iso.checks.push(Check::new(
        crate::names::isolation::PID,
        Status::Skip,
        "only pid 1 visible",
        "not run",
        "launcher failed before the probe ran",
    ));
    sc.push(iso);

    run
}
