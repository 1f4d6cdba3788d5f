//! memory-high (cgroup v2): a hog that climbs above memory.high but stays
//! below memory.max must be slowed down (reclaim, then the kernel's
//! allocation penalty), counted in memory.events high, and never killed.
//! cgroup v1 has no memory.high: the scenario skips there with the reason.
//!
//! The penalty per 64-page charge batch is about 64 s × (overage / high)²
//! (mm/memcontrol.c calculate_high_delay), so the hog goes only a few MiB
//! above high: enough for a clear slowdown, little enough to stay quick.

use std::time::Duration;

use isobench_reports::names::memory_high as n;
use isobench_reports::{Better, Check, Metric, ScenarioResult, Status};
use serde_json::json;

use super::config::reject_if;
use super::config::check_within;
use super::memory::{self, MIB};
use super::result::{join, opt};
use super::config::scenario_config;
use super::{ConfigError, Ctx, Point, Scenario, ScenarioError, Skip};
use crate::cgroup::psi::{self, Resource};
use crate::cgroup::{Cgroup, Controller, Limits, MemoryStats};
use crate::sandbox::event::{Event, Progress};
use crate::sandbox::Exit;

/// Pages the kernel charges per batch (MEMCG_CHARGE_BATCH × 4 KiB).
const CHARGE_BATCH_BYTES: f64 = 64.0 * 4096.0;

/// The scenario.
pub struct MemoryHigh;

scenario_config! {
    /// Parameters.
    pub struct Config {
        /// memory.high, MiB.
        pub high_mib: u64 = 64 => "memory.high",
        /// memory.max, MiB (well above where the hog stops).
        pub max_mib: u64 = 256 => "memory.max (never reached)",
        /// How far above high the hog goes, MiB.
        pub over_mib: u64 = 2 => "how far above high the hog goes",
        /// Hog allocation step, KiB (small steps resolve the rate above high).
        pub step_kib: u64 = 256 => "hog allocation step",
        /// Repetitions.
        pub repetitions: u32 = 1, 3 => "runs",
        /// Allocation above high must be at least this many times slower.
        pub min_slowdown: f64 = 2.0 => "rate below high / rate above high must reach this",
    }
}

impl Config {
    /// Kernel sleep expected above high: Σ over charge batches of
    /// 64 s × (overage/high)², ≈ 64/3 s × F³ × high/batch for F = over/high.
    pub fn penalty_estimate_seconds(&self) -> f64 {
        let f = self.over_mib as f64 / self.high_mib as f64;
        let batches = (self.high_mib * MIB) as f64 / CHARGE_BATCH_BYTES;
        64.0 / 3.0 * f.powi(3) * batches
    }

    fn high(&self) -> u64 {
        self.high_mib * MIB
    }

    /// Where the hog stops: over_mib above high.
    fn hog_bytes(&self) -> u64 {
        (self.high_mib + self.over_mib) * MIB
    }
}

impl Scenario for MemoryHigh {
    const NAME: &'static str = "memory-high";
    const ABOUT: &'static str =
        "memory.high throttling (v2): hog above high, below max; MiB/s above vs below high, memory.events high > 0, no kill";
    const NEEDS: &'static [Controller] = &[Controller::Memory];
    type Config = Config;

    /// Rejects settings that cannot show throttling, or would take ages.
    fn validate(c: &Config) -> Result<(), ConfigError> {
        check_within("high-mib", c.high_mib, 16, 4096, "")?;
        let need = c
            .high_mib
            .saturating_add(c.over_mib.saturating_mul(2))
            .saturating_add(16);
        reject_if(c.max_mib < need, || {
            format!(
                "max-mib {} must exceed high-mib + 2 × over-mib + 16 ({need}) so the hog is never OOM-killed",
                c.max_mib
            )
        })?;
        reject_if(c.max_mib > 65536, || {
            format!("max-mib {} is above 65536", c.max_mib)
        })?;
        reject_if(c.over_mib == 0, || "over-mib must be at least 1".into())?;
        let est = c.penalty_estimate_seconds();
        reject_if(est > 10.0, || {
            format!(
                "over-mib {} above high-mib {} would take about {est:.0} s of kernel penalty (it grows with the cube of the overage); lower over-mib",
                c.over_mib, c.high_mib
            )
        })?;
        let step_ok = (4..=4096).contains(&c.step_kib)
            && c.step_kib.saturating_mul(1024) <= c.over_mib.saturating_mul(MIB);
        reject_if(!step_ok, || {
            format!(
                "step-kib {} must be 4 – 4096 and at most over-mib, so several steps land above high",
                c.step_kib
            )
        })?;
        memory::check_repetitions(c.repetitions)?;
        check_within("min-slowdown", c.min_slowdown, 1.0, 1000.0, "")
    }

    /// Each run fills up to high, then sleeps the kernel's penalty above it.
    fn estimate(cfg: &Config, _cpus: u32) -> Duration {
        let run = 0.5 + cfg.penalty_estimate_seconds();
        Duration::from_secs_f64(f64::from(cfg.repetitions) * run)
    }

    /// Runs the scenario (or skips it where memory.high does not exist).
    fn run(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, ScenarioError> {
        if let Some(why) = memory::v2_only(ctx, "memory.high") {
            return Err(ScenarioError::skipped(skip(cfg, why)));
        }
        let reps = memory::repeat(cfg.repetitions, || run_rep(cfg, ctx))?;
        Ok(vec![result(cfg, &reps, &ctx.launcher)])
    }
}

/// One run: the hog's progress on its own clock and the final counters.
#[derive(Debug, Clone, PartialEq)]
struct Rep {
    exit: Exit,
    /// (bytes allocated, t_ns on the workload's clock) per step.
    steps: Vec<(u64, u64)>,
    /// Bytes the hog reported when done (None: never finished).
    done: Option<u64>,
    stats: MemoryStats,
    /// The cgroup's memory pressure over the hog's run (None: no PSI).
    psi: Option<psi::Span>,
    /// The pressure over time (series name, points).
    psi_series: Option<(String, Vec<[f64; 2]>)>,
}

/// Allocation rates in MiB/s: below high (up to 90% of high, where the
/// workload's own baseline cannot push usage over) and above high (from the
/// last step at or below high to the end).
fn rates(steps: &[(u64, u64)], high: u64) -> Option<(f64, f64)> {
    let rate = |a: (u64, u64), b: (u64, u64)| {
        let dt = b.1.saturating_sub(a.1) as f64 / 1e9;
        (dt > 0.0).then(|| memory::in_mib(b.0.saturating_sub(a.0)) / dt)
    };
    let first = *steps.first()?;
    let below_end = *steps.iter().rev().find(|s| s.0 * 10 <= high * 9)?;
    let above_start = *steps.iter().rev().find(|s| s.0 <= high)?;
    let last = *steps.last()?;
    if last.0 <= high || below_end == first {
        return None;
    }
    Some((rate(first, below_end)?, rate(above_start, last)?))
}

/// One run; a skip where this kernel cannot set memory.high.
fn run_rep(cfg: &Config, ctx: &Ctx) -> Result<Rep, ScenarioError> {
    let step = format!("{}K", cfg.step_kib);
    let max = cfg.hog_bytes().to_string();
    let limits = Limits {
        memory_high: Some(cfg.high()),
        ..memory::memory_max(cfg.max_mib * MIB)
    };
    let deadline = Duration::from_secs_f64(30.0 + 4.0 * cfg.penalty_estimate_seconds());
    let args = ["hog", "--step", &step, "--max", &max];
    let spec = memory::sandbox(ctx, &args, limits, deadline);
    let mut r = memory::launch_or_skip(ctx, &spec, |why| skip(cfg, why))?;
    r.wait_ready()?;
    let probe = psi::Probe::start(r.cgroup(), ctx.set.mode, Resource::Memory);
    let recorder = probe.as_ref().map(|p| psi::Recorder::start(p.dir(), Resource::Memory));
    let exit = r.wait_exit()?;
    let psi = probe.as_ref().and_then(psi::Probe::finish);
    let psi_series = recorder.map(psi::Recorder::stop);
    let stats = r.cgroup().memory_stats()?;
    let events = std::mem::take(&mut r.events);
    r.teardown()?;
    let steps = events
        .iter()
        .filter_map(|e| match e {
            Event::Hog(Progress {
                bytes,
                t_ns: Some(t),
                ..
            }) => Some((*bytes, *t)),
            _ => None,
        })
        .collect();
    let done = events.iter().find_map(|e| match e {
        Event::HogDone(p) => Some(p.bytes),
        _ => None,
    });
    Ok(Rep {
        exit,
        steps,
        done,
        stats,
        psi,
        psi_series,
    })
}

fn params(cfg: &Config) -> serde_json::Map<String, serde_json::Value> {
    memory::params(json!({
        "high_mib": cfg.high_mib,
        "max_mib": cfg.max_mib,
        "hog_mib": cfg.high_mib + cfg.over_mib,
        "step_kib": cfg.step_kib,
    }))
}

/// The skip row, with why.
fn skip(cfg: &Config, why: String) -> Skip {
    memory::not_run(
        n::SKIP,
        "allocation above memory.high slows down, memory.events high > 0, no kill",
        why,
        params(cfg),
    )
}

/// Turns the runs into metrics and checks.
fn result(cfg: &Config, reps: &[Rep], launcher: &str) -> ScenarioResult {
    let high = cfg.high();
    let r: Vec<Option<(f64, f64)>> = reps.iter().map(|x| rates(&x.steps, high)).collect();
    let below: Vec<f64> = r.iter().flatten().map(|x| x.0).collect();
    let above: Vec<f64> = r.iter().flatten().map(|x| x.1).collect();
    let slowdown: Vec<f64> = r.iter().flatten().map(|x| x.0 / x.1).collect();
    let slowed = r
        .iter()
        .all(|x| x.is_some_and(|(b, a)| b / a >= cfg.min_slowdown));
    let target = cfg.hog_bytes();
    let high_events: Vec<Option<u64>> = reps.iter().map(|x| x.stats.events.high).collect();
    let not_killed = reps.iter().all(|x| {
        x.exit == Exit::Code(0)
            && x.stats.events.oom_kill.unwrap_or(0) == 0
            && x.done == Some(target)
    });
    let spans: Vec<Option<psi::Span>> = reps.iter().map(|x| x.psi).collect();
    let psi_check = psi::stall_check(
        n::PSI_MEMORY_STALL,
        Resource::Memory,
        &spans,
        "memory.high throttling: reclaim and the allocation penalty",
        "no per-cgroup PSI here: cgroup v1 without a unified tree, or a kernel without CONFIG_PSI / booted psi=0",
    );
    let checks = [
        psi_check,
        Check::new(
            n::SLOWED_ABOVE_HIGH,
            Status::pass_if(slowed),
            format!(
                "allocation rate above high ≤ rate below high / {}",
                cfg.min_slowdown
            ),
            format!(
                "slowdown {}; below {} MiB/s; above {} MiB/s",
                join(&r, |x| x.map_or("no data above high".into(), |(b, a)| format!("{:.1}×", b / a))),
                join(&below, |x| format!("{x:.0}")),
                join(&above, |x| format!("{x:.1}"))
            ),
            format!(
                "rates from the hog's own clock: below = up to 90% of high, above = from the last step ≤ high to {} MiB",
                target / MIB
            ),
        ),
        Check::new(
            n::HIGH_EVENTS,
            Status::pass_if(high_events.iter().all(|h| h.unwrap_or(0) > 0)),
            "memory.events high > 0",
            format!("high {}", join(&high_events, |h| opt(*h))),
            "",
        ),
        Check::new(
            n::NOT_KILLED,
            Status::pass_if(not_killed),
            format!(
                "hog completes {} MiB (exit 0), oom_kill 0: memory.high throttles, it does not kill",
                target / MIB
            ),
            format!(
                "{}; oom_kill {}; reached {}",
                join(reps, |x| x.exit.to_string()),
                join(reps, |x| opt(x.stats.events.oom_kill)),
                join(reps, |x| x
                    .done
                    .map_or("not done".into(), |d| format!("{} MiB", d / MIB)))
            ),
            "",
        ),
    ];
    let peaks = reps
        .iter()
        .filter_map(|x| x.stats.peak.or(x.stats.current))
        .map(|p| p as f64);
    let metrics = [
        Metric::new(n::SLOWDOWN, "ratio", Better::Higher, slowdown),
        Metric::new(n::RATE_BELOW_HIGH, "MiB/s", Better::Higher, below),
        Metric::new(n::RATE_ABOVE_HIGH, "MiB/s", Better::Lower, above),
        Metric::new(
            n::HIGH_EVENTS,
            "count",
            Better::Higher,
            high_events.iter().map(|h| h.unwrap_or(0) as f64).collect(),
        ),
        Metric::new(n::PEAK_USAGE, "bytes", Better::Lower, peaks.collect()),
    ];
    let spans: Vec<psi::Span> = spans.into_iter().flatten().collect();
    let mut p = Point::for_launcher(MemoryHigh::NAME, launcher)
        .params(params(cfg))
        .checks(checks)
        .metrics(metrics)
        .metrics(psi::merged_metrics(&spans));
    if let Some((name, s)) = reps.first().and_then(|x| x.psi_series.as_ref()) {
        p = p.series(name, s.clone());
    }
    if let Some(x) = reps.first() {
        let t0 = x.steps.first().map_or(0, |s| s.1);
        let allocated = x.steps.iter().map(|s| [(s.1 - t0) as f64 / 1e9, memory::in_mib(s.0)]);
        p = p.series(n::ALLOCATED_MIB, allocated.collect());
    }
    p.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::Level;
    use crate::cgroup::MemoryEvents;
    use crate::scenarios::memory::testing::{plot_ids, rejects, status};

    /// Steps of 256 KiB: 2 GB/s up to high, then `above_ms` per step.
    fn steps(cfg: &Config, above_ms: f64) -> Vec<(u64, u64)> {
        let step = cfg.step_kib * 1024;
        let mut v = Vec::new();
        let (mut b, mut t) = (0u64, 0f64);
        while b < (cfg.high_mib + cfg.over_mib) * MIB {
            b += step;
            t += if b <= cfg.high() {
                step as f64 / 2e9 * 1e9
            } else {
                above_ms * 1e6
            };
            v.push((b, t as u64));
        }
        v
    }

    fn rep(cfg: &Config, above_ms: f64) -> Rep {
        Rep {
            exit: Exit::Code(0),
            steps: steps(cfg, above_ms),
            done: Some((cfg.high_mib + cfg.over_mib) * MIB),
            stats: MemoryStats {
                peak: Some(66 * MIB),
                events: MemoryEvents {
                    high: Some(12),
                    oom_kill: Some(0),
                    max: Some(0),
                    ..Default::default()
                },
                ..Default::default()
            },
            psi: Some(psi::Span {
                resource: Resource::Memory,
                before: psi::Pressure::default(),
                after: psi::Pressure {
                    some: psi::Line {
                        total_us: 40_000,
                        ..Default::default()
                    },
                    full: None,
                },
                seconds: 0.5,
                source: "cgroup2",
            }),
            psi_series: None,
        }
    }

    #[test]
    fn rates_split_at_high() {
        let cfg = MemoryHigh::level(Level::Quick);
        let (b, a) = rates(&steps(&cfg, 25.0), cfg.high()).unwrap();
        assert!((b - 2e9 / MIB as f64).abs() / b < 0.01, "{b}");
        // 256 KiB per 25 ms = 10 MiB/s.
        assert!((a - 10.0).abs() < 0.01, "{a}");
        assert!(rates(&[], cfg.high()).is_none());
        // A hog that never got above high gives no rate above it.
        assert!(rates(&[(MIB, 1000), (2 * MIB, 2000)], cfg.high()).is_none());
    }

    #[test]
    fn throttled_hog_passes() {
        let cfg = MemoryHigh::level(Level::Quick);
        let r = result(&cfg, &[rep(&cfg, 25.0)], "native");
        for c in &r.checks {
            assert_eq!(c.status, Status::Pass, "{c:?}");
        }
        assert_eq!(r.metrics[0].name, n::SLOWDOWN);
        assert!(r.metrics[0].samples[0] > 100.0);
    }

    #[test]
    fn unthrottled_or_killed_hogs_fail() {
        let cfg = MemoryHigh::level(Level::Quick);
        // Same speed above high: memory.high did nothing.
        let mut x = rep(&cfg, 0.125);
        x.stats.events.high = Some(0);
        x.psi = x.psi.map(|s| psi::Span { after: s.before, ..s });
        let r = result(&cfg, &[x], "native");
        assert_eq!(status(&r, n::PSI_MEMORY_STALL), Status::Fail);
        assert_eq!(status(&r, n::SLOWED_ABOVE_HIGH), Status::Fail);
        assert_eq!(status(&r, n::HIGH_EVENTS), Status::Fail);
        // OOM-killed above high: high acted like max.
        let mut x = rep(&cfg, 25.0);
        x.exit = Exit::Signaled(9);
        x.done = None;
        x.stats.events.oom_kill = Some(1);
        assert_eq!(
            status(&result(&cfg, &[x], "native"), n::NOT_KILLED),
            Status::Fail
        );
    }

    #[test]
    fn the_plot_draws_what_the_result_records() {
        let cfg = MemoryHigh::level(Level::Quick);
        let ids = plot_ids(vec![result(&cfg, &[rep(&cfg, 25.0)], "native")]);
        assert!(ids.iter().any(|i| i == "memory-high-memory-native"), "{ids:?}");
    }

    #[test]
    fn v1_skips_with_reason() {
        let cfg = MemoryHigh::level(Level::Quick);
        let r = skip(&cfg, "memory.high is not available on cgroup v1".into())
            .into_result(MemoryHigh::NAME, "native");
        assert_eq!(r.checks.len(), 1);
        assert_eq!(r.checks[0].status, Status::Skip);
        assert!(r.checks[0].detail.contains("cgroup v1"));
    }

    #[test]
    fn config_bounds_the_penalty() {
        let c = MemoryHigh::level(Level::Default);
        assert!(MemoryHigh::validate(&c).is_ok());
        // 2 MiB over 64 MiB: well under a second of kernel sleep.
        assert!(
            c.penalty_estimate_seconds() < 0.5,
            "{}",
            c.penalty_estimate_seconds()
        );
        rejects::<MemoryHigh>(&[
            ("over-mib", |c| {
                c.over_mib = 16;
                c.max_mib = 512;
            }),
            ("max-mib", |c| c.max_mib = 70),
            ("step-kib", |c| c.step_kib = 4096),
        ]);
    }
}
