//! memory-high (cgroup v2): a hog that climbs above memory.high but stays
//! below memory.max must be slowed down (reclaim, then the kernel's
//! allocation penalty), counted in memory.events high, and never killed.
//! cgroup v1 has no memory.high: the scenario skips there with the reason.
//!
//! The penalty per 64-page charge batch is about 64 s × (overage / high)²
//! (mm/memcontrol.c calculate_high_delay), so the hog goes only a few MiB
//! above high: enough for a clear slowdown, little enough to stay quick.

use std::collections::BTreeMap;
use std::time::Duration;

use isobench_reports::{Better, Check, Metric, ScenarioResult, Status};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{merge_over, Ctx, Level};
use crate::cgroup::{Cgroup, CgroupError, Controller, Limits, MemoryStats};
use crate::sandbox::{Exit, LaunchError, SandboxSpec};

pub const ABOUT: &str =
    "memory.high throttling (v2): hog above high, below max; MiB/s above vs below high, memory.events high > 0, no kill";

const MIB: u64 = 1 << 20;

/// Pages the kernel charges per batch (MEMCG_CHARGE_BATCH × 4 KiB).
const CHARGE_BATCH_BYTES: f64 = 64.0 * 4096.0;

/// Parameters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// memory.high, MiB.
    pub high_mib: u64,
    /// memory.max, MiB (well above where the hog stops).
    pub max_mib: u64,
    /// How far above high the hog goes, MiB.
    pub over_mib: u64,
    /// Hog allocation step, KiB (small steps resolve the rate above high).
    pub step_kib: u64,
    /// Repetitions.
    pub repetitions: u32,
    /// Allocation above high must be at least this many times slower.
    pub min_slowdown: f64,
}

impl Config {
    /// Built-in defaults of a suite level.
    pub fn level(level: Level) -> Self {
        let base = Config {
            high_mib: 64,
            max_mib: 256,
            over_mib: 2,
            step_kib: 256,
            repetitions: 1,
            min_slowdown: 2.0,
        };
        match level {
            Level::Quick => base,
            Level::Default => Config {
                repetitions: 3,
                ..base
            },
        }
    }

    /// Level defaults overridden by a suite-file section, then validated.
    pub fn parse(level: Level, table: Option<&toml::Table>) -> Result<Self, String> {
        let c: Config = merge_over("memory-high", &Self::level(level), table)?;
        c.validate()?;
        Ok(c)
    }

    /// Rejects settings that cannot show throttling, or would take ages.
    pub fn validate(&self) -> Result<(), String> {
        let e = |m: String| Err(format!("[memory-high]: {m}"));
        if !(16..=4096).contains(&self.high_mib) {
            return e(format!("high-mib {} is outside 16 – 4096", self.high_mib));
        }
        let need = self
            .high_mib
            .saturating_add(self.over_mib.saturating_mul(2))
            .saturating_add(16);
        if self.max_mib < need {
            return e(format!(
                "max-mib {} must exceed high-mib + 2 × over-mib + 16 ({need}) so the hog is never OOM-killed",
                self.max_mib
            ));
        }
        if self.max_mib > 65536 {
            return e(format!("max-mib {} is above 65536", self.max_mib));
        }
        if self.over_mib == 0 {
            return e("over-mib must be at least 1".into());
        }
        let est = self.penalty_estimate_seconds();
        if est > 10.0 {
            return e(format!(
                "over-mib {} above high-mib {} would take about {est:.0} s of kernel penalty (it grows with the cube of the overage); lower over-mib",
                self.over_mib, self.high_mib
            ));
        }
        if !(4..=4096).contains(&self.step_kib) || self.step_kib.saturating_mul(1024) > self.over_mib.saturating_mul(MIB) {
            return e(format!(
                "step-kib {} must be 4 – 4096 and at most over-mib, so several steps land above high",
                self.step_kib
            ));
        }
        if self.repetitions == 0 || self.repetitions > 100 {
            return e("repetitions must be 1 – 100".into());
        }
        if !(1.0..=1000.0).contains(&self.min_slowdown) {
            return e(format!(
                "min-slowdown {} is outside 1 – 1000",
                self.min_slowdown
            ));
        }
        Ok(())
    }

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
}

/// Meaning of each parameter, for `isobench list`.
pub const ABOUT_PARAMS: &[(&str, &str)] = &[
    ("high-mib", "memory.high"),
    ("max-mib", "memory.max (never reached)"),
    ("over-mib", "how far above high the hog goes"),
    ("step-kib", "hog allocation step"),
    ("repetitions", "runs"),
    (
        "min-slowdown",
        "rate below high / rate above high must reach this",
    ),
];

/// One run: the hog's progress on its own clock and the final counters.
#[derive(Debug, Clone, PartialEq)]
struct Rep {
    exit: Exit,
    /// (bytes allocated, t_ns on the workload's clock) per step.
    steps: Vec<(u64, u64)>,
    /// Bytes the hog reported when done (None: never finished).
    done: Option<u64>,
    stats: MemoryStats,
}

/// Allocation rates in MiB/s: below high (up to 90% of high, where the
/// workload's own baseline cannot push usage over) and above high (from the
/// last step at or below high to the end).
fn rates(steps: &[(u64, u64)], high: u64) -> Option<(f64, f64)> {
    let rate = |a: (u64, u64), b: (u64, u64)| {
        let dt = b.1.saturating_sub(a.1) as f64 / 1e9;
        (dt > 0.0).then(|| (b.0.saturating_sub(a.0)) as f64 / MIB as f64 / dt)
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

fn run_rep(cfg: &Config, ctx: &Ctx) -> Result<Result<Rep, String>, String> {
    let step = format!("{}K", cfg.step_kib);
    let max = ((cfg.high_mib + cfg.over_mib) * MIB).to_string();
    let mut spec = SandboxSpec::workload(&["hog", "--step", &step, "--max", &max]);
    spec.namespaces = ctx.namespaces_or("pid,mnt,uts,ipc");
    spec.limits = Limits {
        memory_high: Some(cfg.high()),
        memory_max: Some(cfg.max_mib * MIB),
        ..Default::default()
    };
    spec.deadline = Duration::from_secs_f64(30.0 + 4.0 * cfg.penalty_estimate_seconds());
    let mut r = match ctx.launch(&spec) {
        Ok(r) => r,
        Err(LaunchError::Cgroup(CgroupError::Unsupported(why))) => return Ok(Err(why)),
        Err(e) => return Err(e.to_string()),
    };
    r.wait_ready().map_err(|e| e.to_string())?;
    let exit = r.wait_exit().map_err(|e| e.to_string())?;
    let stats = r.cgroup().memory_stats().map_err(|e| e.to_string())?;
    let steps = r
        .events
        .iter()
        .filter(|e| e["event"] == "hog")
        .filter_map(|e| Some((e["bytes"].as_u64()?, e["t_ns"].as_u64()?)))
        .collect();
    let done = r
        .events
        .iter()
        .find(|e| e["event"] == "hog_done")
        .and_then(|e| e["bytes"].as_u64());
    r.teardown().map_err(|e| e.to_string())?;
    Ok(Ok(Rep {
        exit,
        steps,
        done,
        stats,
    }))
}

/// Runs the scenario (or skips it where memory.high does not exist).
pub fn run(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, String> {
    if !ctx.set.on_v2(Controller::Memory) {
        let why = format!(
            "memory.high exists only on cgroup v2; the memory controller here is on v1 (mode {})",
            ctx.set.mode.as_str()
        );
        return Ok(vec![skipped(cfg, &why, &ctx.launcher)]);
    }
    let mut reps = Vec::new();
    for _ in 0..cfg.repetitions {
        if let Some(sig) = crate::interrupt::requested() {
            return Err(format!("interrupted by signal {sig}"));
        }
        match run_rep(cfg, ctx)? {
            Ok(rep) => reps.push(rep),
            Err(why) => return Ok(vec![skipped(cfg, &why, &ctx.launcher)]),
        }
    }
    Ok(vec![result(cfg, &reps, &ctx.launcher)])
}

fn params(cfg: &Config) -> serde_json::Map<String, serde_json::Value> {
    let mut p = serde_json::Map::new();
    p.insert("high_mib".into(), json!(cfg.high_mib));
    p.insert("max_mib".into(), json!(cfg.max_mib));
    p.insert("hog_mib".into(), json!(cfg.high_mib + cfg.over_mib));
    p.insert("step_kib".into(), json!(cfg.step_kib));
    p
}

fn skipped(cfg: &Config, why: &str, launcher: &str) -> ScenarioResult {
    ScenarioResult {
        name: "memory-high".into(),
        launcher: launcher.to_string(),
        launcher_spec: None,
        params: params(cfg),
        metrics: Vec::new(),
        checks: vec![Check::new(
            "memory_high",
            Status::Skip,
            "allocation above memory.high slows down, memory.events high > 0, no kill",
            "not run",
            why,
        )],
        series: BTreeMap::new(),
        error: None,
    }
}

fn join<T>(v: &[T], f: impl Fn(&T) -> String) -> String {
    v.iter().map(f).collect::<Vec<_>>().join(", ")
}

fn opt(v: Option<u64>) -> String {
    v.map_or("n/a".into(), |x| x.to_string())
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
    let target = (cfg.high_mib + cfg.over_mib) * MIB;
    let mut checks = vec![Check::new(
        "slowed_above_high",
        if slowed { Status::Pass } else { Status::Fail },
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
    )];
    let high_events: Vec<Option<u64>> = reps.iter().map(|x| x.stats.events.high).collect();
    checks.push(Check::new(
        "high_events",
        if high_events.iter().all(|h| h.unwrap_or(0) > 0) {
            Status::Pass
        } else {
            Status::Fail
        },
        "memory.events high > 0",
        format!("high {}", join(&high_events, |h| opt(*h))),
        "",
    ));
    let not_killed = reps.iter().all(|x| {
        x.exit == Exit::Code(0)
            && x.stats.events.oom_kill.unwrap_or(0) == 0
            && x.done == Some(target)
    });
    checks.push(Check::new(
        "not_killed",
        if not_killed {
            Status::Pass
        } else {
            Status::Fail
        },
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
    ));
    let metrics = vec![
        Metric::new("slowdown", "ratio", Better::Higher, slowdown),
        Metric::new("rate_below_high", "MiB/s", Better::Higher, below),
        Metric::new("rate_above_high", "MiB/s", Better::Lower, above),
        Metric::new(
            "high_events",
            "count",
            Better::Higher,
            high_events.iter().map(|h| h.unwrap_or(0) as f64).collect(),
        ),
        Metric::new(
            "peak_usage",
            "bytes",
            Better::Lower,
            reps.iter()
                .filter_map(|x| x.stats.peak.or(x.stats.current))
                .map(|p| p as f64)
                .collect(),
        ),
    ];
    let mut series = BTreeMap::new();
    if let Some(x) = reps.first() {
        let t0 = x.steps.first().map_or(0, |s| s.1);
        series.insert(
            "allocated_mib".to_string(),
            x.steps
                .iter()
                .map(|s| [(s.1 - t0) as f64 / 1e9, s.0 as f64 / MIB as f64])
                .collect(),
        );
    }
    ScenarioResult {
        name: "memory-high".into(),
        launcher: launcher.to_string(),
        launcher_spec: None,
        params: params(cfg),
        metrics,
        checks,
        series,
        error: None,
    }
}

super::legacy_scenario!(MemoryHigh, "memory-high", [Memory]);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::MemoryEvents;

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
        }
    }

    fn status(r: &ScenarioResult, name: &str) -> Status {
        r.checks.iter().find(|c| c.name == name).unwrap().status
    }

    #[test]
    fn rates_split_at_high() {
        let cfg = Config::level(Level::Quick);
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
        let cfg = Config::level(Level::Quick);
        let r = result(&cfg, &[rep(&cfg, 25.0)], "native");
        for c in &r.checks {
            assert_eq!(c.status, Status::Pass, "{c:?}");
        }
        assert_eq!(r.metrics[0].name, "slowdown");
        assert!(r.metrics[0].samples[0] > 100.0);
    }

    #[test]
    fn unthrottled_or_killed_hogs_fail() {
        let cfg = Config::level(Level::Quick);
        // Same speed above high: memory.high did nothing.
        let mut x = rep(&cfg, 0.125);
        x.stats.events.high = Some(0);
        let r = result(&cfg, &[x], "native");
        assert_eq!(status(&r, "slowed_above_high"), Status::Fail);
        assert_eq!(status(&r, "high_events"), Status::Fail);
        // OOM-killed above high: high acted like max.
        let mut x = rep(&cfg, 25.0);
        x.exit = Exit::Signaled(9);
        x.done = None;
        x.stats.events.oom_kill = Some(1);
        assert_eq!(
            status(&result(&cfg, &[x], "native"), "not_killed"),
            Status::Fail
        );
    }

    #[test]
    fn v1_skips_with_reason() {
        let r = skipped(
            &Config::level(Level::Quick),
            "memory.high is not available on cgroup v1",
            "native",
        );
        assert_eq!(r.checks.len(), 1);
        assert_eq!(r.checks[0].status, Status::Skip);
        assert!(r.checks[0].detail.contains("cgroup v1"));
    }

    #[test]
    fn config_bounds_the_penalty() {
        let c = Config::level(Level::Default);
        assert!(c.validate().is_ok());
        // 2 MiB over 64 MiB: well under a second of kernel sleep.
        assert!(
            c.penalty_estimate_seconds() < 0.5,
            "{}",
            c.penalty_estimate_seconds()
        );
        let mut c2 = c.clone();
        c2.over_mib = 16;
        c2.max_mib = 512;
        assert!(c2.validate().unwrap_err().contains("over-mib"));
        let mut c3 = c.clone();
        c3.max_mib = 70;
        assert!(c3.validate().unwrap_err().contains("max-mib"));
        let mut c4 = c;
        c4.step_kib = 4096;
        assert!(c4.validate().unwrap_err().contains("step-kib"));
    }
}
