//! pids: a fork bomb under pids.max. The bomb must never exceed the limit,
//! its forks must be refused (EAGAIN, counted in pids.events max), the host
//! must stay responsive (spawn latency of a trivial host process before vs
//! during the bomb), and killing the cgroup must leave it empty promptly.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use isobench_reports::names::pids as n;
use isobench_reports::stats::median;
use isobench_reports::{Better, Check, Metric, ScenarioResult, Status};

use super::config::reject_if;
use super::error::Context;
use super::config::scenario_config;
use super::result::{join, opt};
use super::{check_within, interrupted, check_range, ConfigError, Ctx, Point, Scenario, ScenarioError};
use crate::cgroup::{Cgroup, Controller, Limits, PidsStats};
use crate::sandbox::event::Event;
use crate::sandbox::{Exit, SandboxSpec};

/// The scenario.
pub struct Pids;

/// Memory limit on the bomb as a second safety net.
const BOMB_MEMORY: u64 = 256 << 20;

scenario_config! {
    /// Parameters.
    pub struct Config {
        /// pids.max of the bomb's sandbox.
        pub pids_max: u64 = 64 => "pids.max of the bomb's sandbox",
        /// Host spawns timed before and again during the bomb.
        pub spawns: u32 = 20, 100 => "host spawns timed before and during the bomb",
        /// Repetitions.
        pub repetitions: u32 = 1, 3 => "runs",
        /// Bound on the bomb reaching its limit.
        pub saturate_seconds: f64 = 10.0 => "bound on the bomb reaching its limit",
        /// Bound on kill → cgroup empty and pids.current 0.
        pub kill_within_seconds: f64 = 5.0 => "bound on kill → cgroup empty",
        /// Spawn latency p50 during the bomb above this × before is a warning.
        pub responsive_factor: f64 = 5.0 => "spawn p50 during / before above this warns",
    }
}

impl Scenario for Pids {
    const NAME: &'static str = n::SCENARIO;
    const ABOUT: &'static str =
        "fork bomb under pids.max: peak ≤ max, forks refused (pids.events max), cgroup killed and empty, host spawn latency before vs during";
    const NEEDS: &'static [Controller] = &[Controller::Pids];
    type Config = Config;

    /// Rejects values that make no sense or endanger the host.
    fn validate(c: &Config) -> Result<(), ConfigError> {
        reject_if(!(2..=4096).contains(&c.pids_max), || {
            format!(
                "pids-max {} is outside 2 – 4096 (a bomb needs room to fork, the host needs pids left)",
                c.pids_max
            )
        })?;
        check_within("spawns", c.spawns, 1, 10_000, "")?;
        check_range("repetitions", c.repetitions, 1, 100)?;
        check_within("saturate-seconds", c.saturate_seconds, 0.1, 60.0, "")?;
        check_within("kill-within-seconds", c.kill_within_seconds, 0.1, 60.0, "")?;
        check_within("responsive-factor", c.responsive_factor, 1.0, 1000.0, "")
    }

    /// Each run times `spawns` host spawns twice around a bomb that
    /// saturates and is killed.
    fn estimate(cfg: &Config, _cpus: u32) -> Duration {
        let run = 1.0 + 2.0 * f64::from(cfg.spawns) * 0.005;
        Duration::from_secs_f64(f64::from(cfg.repetitions) * run)
    }

    fn run(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, ScenarioError> {
        let reps = (0..cfg.repetitions)
            .map(|i| {
                let rep = run_rep(cfg, ctx);
                ctx.advance(i + 1, cfg.repetitions);
                rep
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(vec![result(cfg, &reps, &ctx.launcher)])
    }
}

/// The trivial host process whose spawn latency is timed.
fn trivial_program(ctx: &Ctx) -> (PathBuf, Vec<&'static str>) {
    for p in ["/bin/true", "/usr/bin/true"] {
        if std::path::Path::new(p).exists() {
            return (PathBuf::from(p), Vec::new());
        }
    }
    // The workload's usage error is just as trivial.
    (ctx.workload.clone(), vec!["--isobench-spawn-probe"])
}

/// Times `n` spawn + wait of a trivial process, seconds each.
fn spawn_latencies(prog: &(PathBuf, Vec<&str>), n: u32) -> Result<Vec<f64>, ScenarioError> {
    (0..n)
        .map(|_| {
            interrupted()?;
            let t = Instant::now();
            Command::new(&prog.0)
                .args(&prog.1)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .context(&format!("spawning {}", prog.0.display()))?;
            Ok(t.elapsed().as_secs_f64())
        })
        .collect()
}

/// One run of the bomb.
#[derive(Debug, Clone, PartialEq)]
struct Rep {
    exit: Exit,
    /// Counters while the bomb was saturated, just before the kill.
    stats: PidsStats,
    /// Largest pids.current sampled.
    max_sampled: u64,
    /// The bomb's own last report: (forked, failed).
    forks: Option<(u64, u64)>,
    /// Seconds from ready to the limit being hit (None: never within bound).
    saturate_seconds: Option<f64>,
    /// Seconds from the kill to an empty cgroup with pids.current 0.
    kill_seconds: Option<f64>,
    /// Tasks left (procs listed, pids.current) when the bound ran out.
    left_after_kill: (usize, u64),
    before: Vec<f64>,
    during: Vec<f64>,
    /// [[seconds since ready, pids.current]].
    timeline: Vec<[f64; 2]>,
}

/// One fork bomb: launched, saturated, timed against host spawns, killed.
fn run_rep(cfg: &Config, ctx: &Ctx) -> Result<Rep, ScenarioError> {
    let prog = trivial_program(ctx);
    let before = spawn_latencies(&prog, cfg.spawns)?;
    let mut spec = SandboxSpec::workload(&["forkbomb", "--report-ms", "5"]);
    spec.namespaces = ctx.namespaces_or("pid,mnt,uts,ipc");
    spec.limits = Limits {
        pids_max: Some(cfg.pids_max),
        // Belt and braces where the machine has a memory controller; the
        // pids limit alone is what the safety rule requires.
        memory_max: ctx
            .set
            .has(Controller::Memory)
            .then_some(BOMB_MEMORY),
        ..Default::default()
    };
    spec.deadline = Duration::from_secs_f64(cfg.saturate_seconds + cfg.kill_within_seconds + 60.0);
    let mut r = ctx.launch(&spec)?;
    r.wait_ready()?;
    let cg = r.cgroup().view();
    let pids = || cg.pids_stats();
    // Wait until the bomb runs into its limit (or leaks past it).
    let t0 = Instant::now();
    let bound = Duration::from_secs_f64(cfg.saturate_seconds);
    let mut max_sampled = 0;
    // pids.current over time, for the report's timeline.
    let mut timeline: Vec<[f64; 2]> = Vec::new();
    let saturate_seconds = loop {
        interrupted()?;
        let p = pids()?;
        let cur = p.current.unwrap_or(0);
        timeline.push([t0.elapsed().as_secs_f64(), cur as f64]);
        max_sampled = max_sampled.max(cur);
        if p.events_max.unwrap_or(0) > 0 || cur >= cfg.pids_max {
            break Some(t0.elapsed().as_secs_f64());
        }
        if t0.elapsed() > bound {
            break None;
        }
        std::thread::sleep(Duration::from_micros(500));
    };
    let mut during = Vec::with_capacity(cfg.spawns as usize);
    for _ in 0..cfg.spawns {
        during.extend(spawn_latencies(&prog, 1)?);
        let cur = pids()?.current.unwrap_or(0);
        timeline.push([t0.elapsed().as_secs_f64(), cur as f64]);
        max_sampled = max_sampled.max(cur);
    }
    let stats = pids()?;
    max_sampled = max_sampled.max(stats.current.unwrap_or(0));
    // Kill: every task SIGKILLed, the leader reaped, the counter back to 0.
    let t_kill = Instant::now();
    r.kill()?;
    let kill_bound = Duration::from_secs_f64(cfg.kill_within_seconds);
    let (kill_seconds, left_after_kill) = loop {
        let procs = r.cgroup().pids()?.len();
        let cur = pids()?.current.unwrap_or(0);
        timeline.push([t0.elapsed().as_secs_f64(), cur as f64]);
        if procs == 0 && cur == 0 {
            break (Some(t_kill.elapsed().as_secs_f64()), (0, 0));
        }
        if t_kill.elapsed() > kill_bound {
            break (None, (procs, cur));
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    let exit = r.wait_exit()?;
    let forks = r.last(Event::as_forkbomb).map(|f| (f.forked, f.failed));
    r.teardown()?;
    Ok(Rep {
        exit,
        stats,
        max_sampled,
        forks,
        saturate_seconds,
        kill_seconds,
        left_after_kill,
        before,
        during,
        timeline,
    })
}

/// How far a sampled pids.current may read above pids.max: the kernel
/// charges a fork by adding to the counter first and reverting when the
/// result is over the limit, so a reader can catch one refused fork in
/// flight per CPU. pids.peak is only raised by forks that succeeded.
fn sampling_slack() -> u64 {
    u64::from(crate::env::cpus())
}

/// Turns the runs into metrics and checks.
fn result(cfg: &Config, reps: &[Rep], launcher: &str) -> ScenarioResult {
    result_with_slack(cfg, reps, launcher, sampling_slack())
}

fn result_with_slack(cfg: &Config, reps: &[Rep], launcher: &str, slack: u64) -> ScenarioResult {
    let before: Vec<f64> = reps.iter().flat_map(|r| r.before.iter().copied()).collect();
    let during: Vec<f64> = reps.iter().flat_map(|r| r.during.iter().copied()).collect();
    let mut point = Point::for_launcher(n::SCENARIO, launcher)
        .param(n::PIDS_MAX, cfg.pids_max)
        .param("spawns", cfg.spawns)
        .checks([
            peak_within_max(cfg, reps, slack),
            limit_hit_counted(cfg, reps),
            forks_refused(reps),
            killed_and_empty(cfg, reps),
            host_responsive(cfg, &before, &during),
        ])
        .metrics([
            Metric::with_target(
                n::PEAK_PIDS,
                "pids",
                cfg.pids_max as f64,
                reps.iter()
                    .map(|r| r.stats.peak.unwrap_or(0).max(r.max_sampled) as f64)
                    .collect(),
            ),
            Metric::new(n::SPAWN_LATENCY_BEFORE, "s", Better::Lower, before),
            Metric::new(n::SPAWN_LATENCY_DURING, "s", Better::Lower, during),
            Metric::new(
                n::SPAWN_LATENCY_RATIO,
                "ratio",
                Better::Lower,
                reps.iter()
                    .map(|r| median(&r.during) / median(&r.before))
                    .filter(|x| x.is_finite())
                    .collect(),
            ),
            Metric::new(
                n::TIME_TO_SATURATE,
                "s",
                Better::Lower,
                reps.iter().filter_map(|r| r.saturate_seconds).collect(),
            ),
            Metric::new(
                n::KILL_TO_EMPTY,
                "s",
                Better::Lower,
                reps.iter().filter_map(|r| r.kill_seconds).collect(),
            ),
            Metric::new(
                n::FORKS_REFUSED,
                "count",
                Better::Higher,
                reps.iter()
                    .filter_map(|r| r.stats.events_max)
                    .map(|x| x as f64)
                    .collect(),
            ),
        ]);
    if let Some(r) = reps.first() {
        point = point.series(n::SERIES_PIDS_CURRENT, r.timeline.clone());
    }
    point.build()
}

/// The bomb never held more tasks than pids.max (sampled: plus `slack`).
fn peak_within_max(cfg: &Config, reps: &[Rep], slack: u64) -> Check {
    let max = cfg.pids_max;
    let ok = reps
        .iter()
        .all(|r| !matches!(r.stats.peak, Some(p) if p > max) && r.max_sampled <= max + slack);
    Check::new(
        n::CHECK_PEAK_WITHIN_MAX,
        Status::pass_if(ok),
        format!("peak pids.current ≤ pids.max {max} (pids.peak); sampled ≤ {max} + {slack}"),
        format!(
            "peak {}",
            join(reps, |r| match r.stats.peak {
                Some(p) => format!("{p} (pids.peak), sampled {}", r.max_sampled),
                None => format!("{} (sampled)", r.max_sampled),
            })
        ),
        format!(
            "pids.peak where the kernel has it; the largest sampled pids.current may read up to one refused fork in flight per CPU ({slack}) above the limit, since the kernel adds to the counter before it reverts an over-limit fork"
        ),
    )
}

/// pids.events counted the refusals (a kernel without it: skip).
fn limit_hit_counted(cfg: &Config, reps: &[Rep]) -> Check {
    let saturated = reps.iter().all(|r| r.saturate_seconds.is_some());
    let ev: Vec<Option<u64>> = reps.iter().map(|r| r.stats.events_max).collect();
    let status = Status::pass_or(
        ev.iter().all(|e| e.unwrap_or(0) > 0),
        if ev.iter().any(Option::is_none) && saturated {
            Status::Skip
        } else {
            Status::Fail
        },
    );
    Check::new(
        n::CHECK_LIMIT_HIT_COUNTED,
        status,
        "pids.events max > 0 (forks refused by pids.max)",
        format!(
            "max {}; limit reached after {}",
            join(&ev, |e| opt(*e)),
            join(reps, |r| r.saturate_seconds.map_or(
                format!("never within {} s", cfg.saturate_seconds),
                |s| { format!("{:.2} ms", s * 1e3) }
            ))
        ),
        if status == Status::Skip {
            "this kernel has no pids.events"
        } else {
            ""
        },
    )
}

/// The bomb itself saw fork() fail.
fn forks_refused(reps: &[Rep]) -> Check {
    let refused = reps
        .iter()
        .all(|r| r.forks.is_some_and(|(_, failed)| failed > 0));
    Check::new(
        n::CHECK_FORKS_REFUSED,
        Status::pass_if(refused),
        "the bomb sees fork() fail (EAGAIN from pids.max) while saturated",
        format!(
            "forked / failed {}",
            join(reps, |r| r
                .forks
                .map_or("no report".into(), |(f, x)| format!("{f} / {x}")))
        ),
        "the workload counts failed forks; pids.events max ties them to the limit",
    )
}

/// The kill took every task, promptly.
fn killed_and_empty(cfg: &Config, reps: &[Rep]) -> Check {
    let bound = cfg.kill_within_seconds;
    let killed = reps
        .iter()
        .all(|r| r.kill_seconds.is_some_and(|s| s <= bound) && r.exit.is_sigkill());
    Check::new(
        n::CHECK_KILLED_AND_EMPTY,
        Status::pass_if(killed),
        format!(
            "the whole bomb dies of SIGKILL (exit 137 through a wrapper); cgroup empty and pids.current 0 within {bound} s"
        ),
        format!(
            "{}; leader {}",
            join(reps, |r| match r.kill_seconds {
                Some(s) => format!("empty after {:.2} ms", s * 1e3),
                None => format!(
                    "{} tasks listed, pids.current {} after {bound} s",
                    r.left_after_kill.0, r.left_after_kill.1
                ),
            }),
            join(reps, |r| r.exit.to_string())
        ),
        "",
    )
}

/// Host spawns during the bomb were not much slower than before it.
fn host_responsive(cfg: &Config, before: &[f64], during: &[f64]) -> Check {
    let (b50, d50) = (median(before), median(during));
    let ratio = d50 / b50;
    Check::new(
        n::CHECK_HOST_RESPONSIVE,
        Status::pass_or(ratio <= cfg.responsive_factor, Status::Warn),
        format!(
            "host spawn latency p50 during the bomb ≤ {} × before",
            cfg.responsive_factor
        ),
        format!(
            "p50 before {:.3} ms, during {:.3} ms: {ratio:.2}×",
            b50 * 1e3,
            d50 * 1e3
        ),
        "a wall-clock comparison on a shared machine: a warning, not a failure",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::Level;

    fn rep() -> Rep {
        Rep {
            exit: Exit::Signaled(9),
            stats: PidsStats {
                current: Some(64),
                peak: Some(64),
                max: Some(64),
                events_max: Some(300),
            },
            max_sampled: 64,
            forks: Some((63, 300)),
            saturate_seconds: Some(0.02),
            kill_seconds: Some(0.01),
            left_after_kill: (0, 0),
            before: vec![0.001, 0.0011, 0.0009],
            during: vec![0.0012, 0.0011, 0.0013],
            timeline: vec![[0.0, 1.0], [0.02, 64.0]],
        }
    }

    fn status(r: &ScenarioResult, name: &str) -> Status {
        r.checks.iter().find(|c| c.name == name).unwrap().status
    }

    fn res(reps: &[Rep]) -> ScenarioResult {
        result(&Pids::level(Level::Quick), reps, "native")
    }

    #[test]
    fn a_contained_bomb_passes() {
        let r = res(&[rep(), rep()]);
        for c in &r.checks {
            assert_eq!(c.status, Status::Pass, "{c:?}");
        }
        assert_eq!(r.metrics[0].name, "peak_pids");
        assert_eq!(r.metrics[0].samples, vec![64.0, 64.0]);
    }

    #[test]
    fn a_peak_above_max_fails() {
        let mut x = rep();
        x.stats.peak = Some(65);
        assert_eq!(status(&res(&[x]), "peak_within_max"), Status::Fail);
        // Without pids.peak the sampled maximum decides.
        let mut x = rep();
        x.stats.peak = None;
        x.max_sampled = 200;
        let r = res(&[x]);
        assert_eq!(status(&r, "peak_within_max"), Status::Fail);
        assert!(r.checks[0].observed.contains("sampled"));
    }

    #[test]
    fn a_sampled_refused_fork_in_flight_is_not_a_breach() {
        let cfg = Pids::level(Level::Quick);
        let max = cfg.pids_max;
        let mut x = rep();
        x.stats.peak = Some(max);
        x.max_sampled = max + 1;
        let st = |x: &Rep| {
            let r = result_with_slack(&cfg, std::slice::from_ref(x), "native", 2);
            status(&r, "peak_within_max")
        };
        assert_eq!(st(&x), Status::Pass);
        x.max_sampled = max + 3;
        assert_eq!(st(&x), Status::Fail);
        // The kernel's own watermark has no slack.
        x.max_sampled = max;
        x.stats.peak = Some(max + 1);
        assert_eq!(st(&x), Status::Fail);
    }

    #[test]
    fn a_bomb_that_survives_the_kill_fails() {
        let mut x = rep();
        x.kill_seconds = None;
        x.left_after_kill = (12, 12);
        x.exit = Exit::TimedOut;
        let r = res(&[x]);
        assert_eq!(status(&r, "killed_and_empty"), Status::Fail);
        assert!(
            r.checks[3].observed.contains("12 tasks"),
            "{:?}",
            r.checks[3]
        );
    }

    #[test]
    fn unrefused_forks_fail_and_a_missing_counter_skips() {
        let mut x = rep();
        x.forks = Some((5000, 0));
        x.stats.events_max = Some(0);
        x.saturate_seconds = None;
        let r = res(&[x]);
        assert_eq!(status(&r, "forks_refused"), Status::Fail);
        assert_eq!(status(&r, "limit_hit_counted"), Status::Fail);
        let mut x = rep();
        x.stats.events_max = None;
        assert_eq!(status(&res(&[x]), "limit_hit_counted"), Status::Skip);
    }

    #[test]
    fn a_sluggish_host_warns() {
        let mut x = rep();
        x.during = vec![0.02; 3];
        let r = res(&[x]);
        assert_eq!(status(&r, "host_responsive"), Status::Warn);
        assert!((r.metrics[3].samples[0] - 20.0).abs() < 1e-9);
    }

    #[test]
    fn config_rejects_impossible_values() {
        let c = Pids::level(Level::Default);
        assert!(Pids::validate(&c).is_ok());
        let bad = |x: &Config| Pids::validate(x).unwrap_err().to_string();
        let mut x = c.clone();
        x.pids_max = 1;
        assert!(bad(&x).contains("pids-max"));
        let mut x = c.clone();
        x.spawns = 0;
        assert_eq!(bad(&x), "spawns 0 is outside 1 – 10000");
        let mut x = c;
        x.repetitions = 0;
        assert_eq!(bad(&x), "repetitions must be 1 – 100");
    }
}
