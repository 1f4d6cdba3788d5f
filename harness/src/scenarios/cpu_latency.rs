//! cpu-latency: a periodic task's wake-up and completion latency with no
//! quota, with a quota just above its average demand (whose bursts exceed
//! the per-period quota: the Kubernetes CPU-limit tail-latency problem), and
//! with CFS burst, which lets unused quota absorb the bursts.

use std::time::Duration;

use isobench_reports::names::cpu_latency as n;
use isobench_reports::{Better, Check, Metric, ScenarioResult, Status};

use super::config::reject_if;
use super::error::OrFail;
use super::config::scenario_config;
use super::{check_range, ConfigError, Ctx, Point, Scenario, ScenarioError};
use crate::cgroup::{Cgroup, CgroupError, Controller, CpuMax, Limits};
use crate::monitor::host_load::HostCpu;
use crate::sandbox::event::Event;
use crate::sandbox::{Exit, LaunchError, SandboxSpec};

/// Other host load (CPUs) above which missing throttling is inconclusive.
use isobench_reports::compare::BUSY_CPUS;

/// The scenario.
pub struct CpuLatency;

scenario_config! {
    /// Parameters.
    pub struct Config {
        /// Not a multiple of the CFS period: successive bursts land at
        /// different phases of it, so a burst straddling two periods (which
        /// could fit under the quota in each) cannot hide the throttling in
        /// every repetition.
        pub tick_period_ms: f64 = 110.0 => "the task wakes every this many ms",
        pub work_ms: f64 = 20.0 => "CPU work per wake-up",
        pub count: u32 = 8, 40 => "wake-ups per variant",
        pub cfs_period_ms: f64 = 50.0 => "CFS period of the quota",
        pub quota_pct: f64 = 25.0 => "quota, % of one CPU (default 1.25 × average demand)",
    }
}

impl Scenario for CpuLatency {
    const NAME: &'static str = n::SCENARIO;
    const ABOUT: &'static str = "Latency under throttling: a periodic task (tick) without quota, with a quota just above its average demand, and with CFS burst";
    const NEEDS: &'static [Controller] = &[Controller::Cpu];
    type Config = Config;

    fn validate(c: &Config) -> Result<(), ConfigError> {
        check_range("tick-period-ms", c.tick_period_ms, 1.0, 10_000.0)?;
        reject_if(!(c.work_ms > 0.0 && c.work_ms < c.tick_period_ms), || {
            format!(
                "work-ms must be > 0 and below tick-period-ms ({})",
                c.tick_period_ms
            )
        })?;
        reject_if(!(1.0..=1000.0).contains(&c.cfs_period_ms), || {
            "cfs-period-ms must be 1 – 1000 (the kernel's range)".into()
        })?;
        reject_if(
            c.cfs_period_ms * c.quota_pct / 100.0 < 1.0 || c.quota_pct > 100.0,
            || {
                format!(
                    "quota-pct {} of a {} ms period must be ≥ 1 ms and ≤ 100%",
                    c.quota_pct, c.cfs_period_ms
                )
            },
        )?;
        check_range("count", c.count, 1, 100_000)
    }

    /// Three variants of `count` wake-ups, one every `tick-period-ms`.
    fn estimate(cfg: &Config, _cpus: u32) -> Duration {
        let variant = f64::from(cfg.count) * cfg.tick_period_ms / 1000.0 + 0.3;
        Duration::from_secs_f64(3.0 * variant)
    }

    fn run(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, ScenarioError> {
        let period_us = (cfg.cfs_period_ms * 1000.0).round() as u64;
        let quota_us = (period_us as f64 * cfg.quota_pct / 100.0).round() as u64;
        let quota = CpuMax {
            quota_us: Some(quota_us),
            period_us,
            burst_us: None,
        };
        let burst = CpuMax {
            burst_us: Some(quota_us),
            ..quota
        };
        let base = run_variant(ctx, cfg, n::NO_QUOTA, None)?;
        let mut took = vec![ctx.lap()];
        ctx.advance(1, 3);
        let q = run_variant(ctx, cfg, n::QUOTA, Some(quota))?;
        took.push(ctx.lap());
        ctx.advance(2, 3);
        let b = run_variant(ctx, cfg, n::QUOTA_BURST, Some(burst))?;
        took.push(ctx.lap());
        let mut rows = results(cfg, &ctx.launcher, [&base, &q, &b]);
        for (r, t) in rows.iter_mut().zip(took) {
            r.duration_s = Some(t);
        }
        Ok(rows)
    }
}

/// One variant's measurement.
#[derive(Debug, Clone, Default)]
pub struct Variant {
    pub name: &'static str,
    pub wake_s: Vec<f64>,
    pub done_s: Vec<f64>,
    pub nr_throttled: u64,
    pub missed: u64,
    /// CPUs' worth of other host work (and steal) while it ran.
    pub others_cpus: f64,
    /// Why the variant could not run (e.g. no CFS burst on this kernel).
    pub skipped: Option<String>,
    /// The burst the sandbox's cgroup holds while it runs (µs), read back
    /// from cpu.cfs_burst_us / cpu.max.burst: what the launcher applied.
    pub applied_burst_us: Option<u64>,
}

/// The CFS burst a cgroup holds, µs: v1 `cpu.cfs_burst_us`, else v2
/// `cpu.max.burst`; None when neither file is there.
fn applied_burst(view: &crate::cgroup::CgroupView) -> Option<u64> {
    let v1 = view.v1.dirs.get(&Controller::Cpu).map(|d| d.join("cpu.cfs_burst_us"));
    let v2 = view.v2.as_ref().map(|v| v.dir.join("cpu.max.burst"));
    [v1, v2]
        .into_iter()
        .flatten()
        .find_map(|f| std::fs::read_to_string(f).ok()?.trim().parse().ok())
}

fn p99(v: &[f64]) -> f64 {
    isobench_reports::Summary::of(v).p99
}

fn run_variant(
    ctx: &Ctx,
    cfg: &Config,
    name: &'static str,
    cpu: Option<CpuMax>,
) -> Result<Variant, ScenarioError> {
    let (p, w, c) = (
        cfg.tick_period_ms.to_string(),
        cfg.work_ms.to_string(),
        cfg.count.to_string(),
    );
    let mut spec =
        SandboxSpec::workload(&["tick", "--period-ms", &p, "--work-ms", &w, "--count", &c]);
    spec.namespaces = ctx.namespaces_or("pid,mnt,uts,ipc");
    spec.limits = Limits {
        cpu_max: cpu,
        ..Default::default()
    };
    spec.deadline = Duration::from_secs_f64(
        (cfg.tick_period_ms + cfg.work_ms * 4.0) * f64::from(cfg.count) / 1000.0 * 3.0 + 10.0,
    );
    let mut r = match ctx.launch(&spec) {
        Ok(r) => r,
        Err(LaunchError::Cgroup(CgroupError::Unsupported(why))) => {
            return Ok(Variant {
                name,
                skipped: Some(why),
                ..Default::default()
            })
        }
        Err(e) => return Err(e.into()),
    };
    r.wait_ready()?;
    let applied_burst_us = cpu.and_then(|c| c.burst_us).and_then(|_| applied_burst(&r.cgroup().view()));
    let before = r.cgroup().cpu_stats()?;
    let host_before = HostCpu::now();
    let t = std::time::Instant::now();
    let exit = r.wait_exit()?;
    let wall = t.elapsed().as_secs_f64();
    let after = r.cgroup().cpu_stats()?;
    let ours = after.delta(&before).usage_ns.unwrap_or(0);
    let others_cpus = match (host_before, HostCpu::now()) {
        (Some(a), Some(b)) if wall > 0.0 => b.others_since(&a, ours) as f64 / 1e9 / wall,
        _ => 0.0,
    };
    let tick = r.first(Event::as_tick);
    r.teardown()?;
    if exit != Exit::Code(0) {
        return Err(ScenarioError::failed(format!(
            "{name}: tick ended with {exit}"
        )));
    }
    let tick = tick.or_fail(&format!("{name}: tick reported no result"))?;
    let seconds = |ns: &[u64]| ns.iter().map(|&x| x as f64 / 1e9).collect();
    Ok(Variant {
        name,
        wake_s: seconds(&tick.wake_ns),
        done_s: seconds(&tick.done_ns),
        nr_throttled: after.delta(&before).nr_throttled.unwrap_or(0),
        missed: tick.missed,
        others_cpus,
        skipped: None,
        applied_burst_us,
    })
}

/// Checks across variants: throttling where the bursts exceed the quota,
/// and burst absorbing them.
pub fn checks(cfg: &Config, base: &Variant, quota: &Variant, burst: &Variant) -> Vec<Check> {
    let per_period_ms = cfg.cfs_period_ms * cfg.quota_pct / 100.0;
    let mut out = Vec::new();
    if cfg.work_ms > per_period_ms {
        out.push(Check::new(
            n::THROTTLED_UNDER_QUOTA,
            Status::pass_or(
                quota.nr_throttled > 0,
                // Contention stretched each burst over several periods, so
                // none reached the quota: the host was too busy to tell.
                if quota.others_cpus > BUSY_CPUS {
                    Status::Warn
                } else {
                    Status::Fail
                },
            ),
            format!(
                "nr_throttled > 0: each {} ms burst exceeds the {per_period_ms} ms quota per {} ms period",
                cfg.work_ms, cfg.cfs_period_ms
            ),
            format!(
                "nr_throttled {} (other host load {:.2} CPUs)",
                quota.nr_throttled, quota.others_cpus
            ),
            "",
        ));
    }
    let (pb, pq) = (p99(&base.done_s), p99(&quota.done_s));
    out.push(Check::new(
        n::QUOTA_P99_INFLATION,
        Status::pass_or(pq >= pb, Status::Warn),
        "quota does not make completion faster (p99 with quota ≥ without)",
        format!(
            "done p99 {:.1} ms with quota vs {:.1} ms without: ×{:.2}",
            pq * 1e3,
            pb * 1e3,
            if pb > 0.0 { pq / pb } else { f64::NAN }
        ),
        "the Kubernetes CPU-limit effect: average demand below the limit, bursts above the per-period quota",
    ));
    match &burst.skipped {
        Some(why) => out.push(Check::new(
            n::BURST_ABSORBS_SPIKES,
            Status::Skip,
            "fewer throttled periods and lower p99 with cfs burst",
            "not measured",
            why.clone(),
        )),
        None => {
            // The kernel's own throttling counter decides; latency is shown
            // (on a busy host, contention can blur the p99 difference).
            let pbst = p99(&burst.done_s);
            let ok = burst.nr_throttled < quota.nr_throttled.max(1);
            // A launcher that drops the burst leaves 0 in the cgroup: say
            // so rather than let the counters look like a kernel effect.
            let dropped = burst.applied_burst_us == Some(0);
            out.push(Check::new(
                n::BURST_ABSORBS_SPIKES,
                Status::pass_if(ok),
                "fewer throttled periods with burst = quota than without",
                format!(
                    "nr_throttled {} vs {}; done p99 {:.1} ms vs {:.1} ms",
                    burst.nr_throttled,
                    quota.nr_throttled,
                    pbst * 1e3,
                    pq * 1e3
                ),
                if dropped {
                    "the launcher did not apply the burst: the sandbox's cgroup held burst 0 while it ran (an OCI runtime that accepts linux.resources.cpu.burst but writes no cpu.cfs_burst_us / cpu.max.burst)"
                } else {
                    ""
                },
            ));
        }
    }
    out
}

/// One row per variant; the cross-variant checks are reported once, with
/// the quota variant.
pub fn results(cfg: &Config, launcher: &str, variants: [&Variant; 3]) -> Vec<ScenarioResult> {
    let [base, quota, burst] = variants;
    let checks = checks(cfg, base, quota, burst);
    let pb = p99(&base.done_s);
    variants
        .iter()
        .map(|v| {
            let mut point = Point::for_launcher(n::SCENARIO, launcher)
                .param(n::VARIANT, v.name)
                .param("tick_period_ms", cfg.tick_period_ms)
                .param("work_ms", cfg.work_ms);
            if v.name != n::NO_QUOTA {
                point = point
                    .param("cfs_period_ms", cfg.cfs_period_ms)
                    .param("quota_pct", cfg.quota_pct);
            }
            if v.skipped.is_none() {
                point = point.metrics(metrics(v, pb));
            }
            if v.name == n::QUOTA {
                point = point.checks(checks.clone());
            }
            point.build()
        })
        .collect()
}

/// A variant's latencies and counters; with a quota, its p99 over the
/// no-quota variant's `pb`.
fn metrics(v: &Variant, pb: f64) -> Vec<Metric> {
    let mut out = vec![
        Metric::new(n::WAKE_LATENCY, "s", Better::Lower, v.wake_s.clone()),
        Metric::new(n::DONE_LATENCY, "s", Better::Lower, v.done_s.clone()),
        Metric::new(
            n::NR_THROTTLED,
            "periods",
            Better::Lower,
            vec![v.nr_throttled as f64],
        ),
        Metric::new(
            n::MISSED_TICKS,
            "ticks",
            Better::Lower,
            vec![v.missed as f64],
        ),
    ];
    if v.name != n::NO_QUOTA && pb > 0.0 {
        out.push(Metric::new(
            n::P99_INFLATION,
            "ratio",
            Better::Lower,
            vec![p99(&v.done_s) / pb],
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::Level;

    fn v(name: &'static str, done_ms: &[f64], thr: u64) -> Variant {
        Variant {
            name,
            wake_s: vec![0.0001; done_ms.len()],
            done_s: done_ms.iter().map(|m| m / 1e3).collect(),
            nr_throttled: thr,
            missed: 0,
            others_cpus: 0.0,
            skipped: None,
            applied_burst_us: None,
        }
    }

    #[test]
    fn kubernetes_effect_is_recognised() {
        let cfg = CpuLatency::level(Level::Default);
        let base = v("no-quota", &[20.0, 20.5, 21.0], 0);
        let quota = v("quota", &[57.0, 58.0, 59.0], 8);
        let burst = v("quota+burst", &[20.5, 21.0, 21.5], 0);
        let c = checks(&cfg, &base, &quota, &burst);
        assert!(c.iter().all(|c| c.status == Status::Pass), "{c:?}");
        assert!(c[1].observed.contains("×2.8"), "{}", c[1].observed);
    }

    #[test]
    fn unenforced_quota_and_useless_burst_fail() {
        let cfg = CpuLatency::level(Level::Default);
        let base = v("no-quota", &[20.0], 0);
        let quota = v("quota", &[20.0], 0);
        let burst = v("quota+burst", &[60.0], 5);
        let c = checks(&cfg, &base, &quota, &burst);
        assert_eq!(c[0].status, Status::Fail);
        assert_eq!(c[2].status, Status::Fail);
        let mut skipped = burst.clone();
        skipped.skipped = Some("no burst".into());
        assert_eq!(
            checks(&cfg, &base, &quota, &skipped)[2].status,
            Status::Skip
        );
        // A launcher that dropped the burst: the failure says so.
        let mut dropped = v("quota+burst", &[60.0], 6);
        dropped.applied_burst_us = Some(0);
        let c = checks(&cfg, &base, &v("quota", &[60.0], 6), &dropped);
        assert_eq!(c[2].status, Status::Fail);
        assert!(c[2].detail.contains("did not apply the burst"), "{:?}", c[2]);
        dropped.applied_burst_us = Some(5000);
        assert!(checks(&cfg, &base, &v("quota", &[60.0], 6), &dropped)[2].detail.is_empty());
    }

    #[test]
    fn config_validation() {
        for (suite, msg) in [
            (
                "work-ms = 200.0",
                "work-ms must be > 0 and below tick-period-ms (110)",
            ),
            (
                "quota-pct = 0.1",
                "quota-pct 0.1 of a 50 ms period must be ≥ 1 ms and ≤ 100%",
            ),
            ("count = 0", "count must be 1 – 100000"),
            ("tick-period-ms = 0.5", "tick-period-ms must be 1 – 10000"),
        ] {
            let t: toml::Table = toml::from_str(suite).unwrap();
            let e = CpuLatency::parse(Level::Quick, Some(&t)).unwrap_err();
            assert_eq!(e.to_string(), msg, "{suite}");
        }
        assert!(CpuLatency::parse(Level::Default, None).is_ok());
    }
}
