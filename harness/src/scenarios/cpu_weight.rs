//! cpu-weight: do sibling cgroups contending for one CPU get CPU time in
//! proportion to their weights (v1 shares)? And the other half of the
//! answer: a weight guarantees a share only under contention; beside an
//! idle sibling the low-weight group gets the whole CPU (the idle-sibling
//! arm, a row of its own).

use std::time::{Duration, Instant};

use isobench_reports::names::cpu_weight as n;
use isobench_reports::{Check, Metric, ScenarioResult, Status};

use super::config::reject_if;
use super::error::{Context, OrFail};
use super::config::scenario_config;
use super::{check_range, ConfigError, Ctx, Point, Scenario, ScenarioError};
use crate::cgroup::{translate, Cgroup, Controller, CpuList, Limits};
use crate::sandbox::{Exit, Running, SandboxSpec};

/// The scenario.
pub struct CpuWeight;

scenario_config! {
    /// Parameters.
    pub struct Config {
        /// 1:2:4; on v1 the kernel scale gives shares 256:512:1024.
        pub weights: Vec<u64> = vec![25, 50, 100] => "cgroup v2 cpu.weight per sibling (v1: translated to cpu.shares)",
        pub seconds: f64 = 1.5, 3.0 => "measurement window while all siblings spin",
        pub repetitions: u32 = 1, 3 => "repetitions",
        pub tolerance_pp: f64 = 5.0 => "allowed share error in percentage points",
        pub idle_seconds: f64 = 0.6, 1.5 => "idle-sibling arm: window with the high-weight sibling idle (0 = no arm)",
    }
}

impl Scenario for CpuWeight {
    const NAME: &'static str = n::SCENARIO;
    const ABOUT: &'static str =
        "CPU weight: sibling spinners with weights 1:2:4 pinned to one shared CPU; measured vs expected share";
    const NEEDS: &'static [Controller] = &[Controller::Cpu];
    type Config = Config;

    fn validate(c: &Config) -> Result<(), ConfigError> {
        reject_if(c.weights.len() < 2 || c.weights.len() > 16, || {
            "weights needs 2 to 16 entries".into()
        })?;
        reject_if(c.weights.iter().any(|w| !(1..=10000).contains(w)), || {
            "each weight must be 1 – 10000 (cgroup v2 cpu.weight range)".into()
        })?;
        check_range("seconds", c.seconds, 0.5, 600.0)?;
        check_range("repetitions", c.repetitions, 1, 100)?;
        check_range("tolerance-pp", c.tolerance_pp, 0.1, 50.0)?;
        reject_if(c.idle_seconds != 0.0 && !(0.3..=600.0).contains(&c.idle_seconds), || {
            "idle-seconds must be 0 (no idle-sibling arm) or 0.3 – 600".into()
        })
    }

    /// Each repetition spins every sibling for `seconds` after a short
    /// settle.
    fn estimate(cfg: &Config, _cpus: u32) -> Duration {
        Duration::from_secs_f64(f64::from(cfg.repetitions) * (cfg.seconds + 0.5) + cfg.idle_seconds)
    }

    fn run(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, ScenarioError> {
        let affinity = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
            .context("sched_getaffinity")?;
        let cpu = (0..1024u32)
            .rev()
            .find(|c| affinity.is_set(*c as usize).unwrap_or(false))
            .or_fail("no CPU in this process's affinity")?;
        let v1 = !ctx.set.on_v2(Controller::Cpu);
        let mut per_sibling: Vec<Vec<f64>> = vec![Vec::new(); cfg.weights.len()];
        for rep in 0..cfg.repetitions {
            let deltas = one_rep(ctx, cfg, cpu)?;
            ctx.advance(rep + 1, cfg.repetitions);
            for (i, s) in measured_shares(&deltas).into_iter().enumerate() {
                per_sibling[i].push(s);
            }
        }
        let mut out = vec![ctx.timed(result(cfg, &ctx.launcher, cpu, v1, &per_sibling))];
        if cfg.idle_seconds > 0.0 {
            let idle = idle_rep(ctx, cfg, cpu)?;
            out.push(ctx.timed(idle_result(cfg, &ctx.launcher, cpu, &idle)));
        }
        Ok(out)
    }
}

/// The idle-sibling arm's measurement on the shared CPU.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdleRep {
    /// The low-weight spinner's CPU time over the window, in CPUs.
    pub low_cpus: f64,
    /// The idle high-weight sibling's, in CPUs.
    pub idle_cpus: f64,
    /// Everything else that ran on that CPU (host tasks), in CPUs.
    pub others_cpus: f64,
}

/// Busy time of one CPU so far (/proc/stat: all but idle and iowait), ns.
fn cpu_busy_ns(cpu: u32) -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with(&format!("cpu{cpu} ")))?;
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
    let busy: u64 = v.iter().enumerate().filter(|(i, _)| *i != 3 && *i != 4).map(|(_, x)| x).sum();
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten()? as u64;
    Some(busy * (1_000_000_000 / hz.max(1)))
}

/// The lowest weight spinning beside the highest weight idling (a task
/// waking every 100 ms for 1 ms), both pinned to `cpu`.
fn idle_rep(ctx: &Ctx, cfg: &Config, cpu: u32) -> Result<IdleRep, ScenarioError> {
    let low = cfg.weights.iter().copied().min().unwrap_or(1);
    let high = cfg.weights.iter().copied().max().unwrap_or(1);
    let secs = format!("{}", cfg.idle_seconds + 2.0);
    let count = ((cfg.idle_seconds + 2.0) * 10.0).ceil().to_string();
    let spin = ["spin", "--threads", "1", "--seconds", &secs];
    let tick = ["tick", "--period-ms", "100", "--work-ms", "1", "--count", &count];
    let mut running: Vec<Running> = Vec::new();
    for (args, w) in [(&spin[..], low), (&tick[..], high)] {
        running.push(launch_pinned(ctx, args, w, cpu, cfg.idle_seconds * 3.0 + 15.0)?);
    }
    sleep(Duration::from_millis(100))?;
    let (before, busy_before, t) = (usages(&running), cpu_busy_ns(cpu), Instant::now());
    sleep(Duration::from_secs_f64(cfg.idle_seconds))?;
    let (after, busy_after) = (usages(&running), cpu_busy_ns(cpu));
    let wall = t.elapsed().as_nanos() as f64;
    for r in running {
        r.teardown()?;
    }
    let d: Vec<f64> = after.iter().zip(&before).map(|(a, b)| a.saturating_sub(*b) as f64).collect();
    let ours: f64 = d.iter().sum();
    let others = match (busy_before, busy_after) {
        (Some(b), Some(a)) => (a.saturating_sub(b) as f64 - ours).max(0.0) / wall,
        _ => 0.0,
    };
    Ok(IdleRep {
        low_cpus: d[0] / wall,
        idle_cpus: d[1] / wall,
        others_cpus: others,
    })
}

/// The idle-sibling row: the low weight gets what the CPU has left (all of
/// it, less what host tasks took there), within the tolerance.
pub fn idle_result(cfg: &Config, launcher: &str, cpu: u32, r: &IdleRep) -> ScenarioResult {
    let low = cfg.weights.iter().copied().min().unwrap_or(1);
    let high = cfg.weights.iter().copied().max().unwrap_or(1);
    let available = (1.0 - r.others_cpus - r.idle_cpus).clamp(0.0, 1.0);
    let want = available - cfg.tolerance_pp / 100.0;
    let contended = expected_shares(&cfg.weights, false)
        .into_iter()
        .fold(f64::MAX, f64::min);
    let check = Check::new(
        n::IDLE_SIBLING_WHOLE_CPU,
        Status::pass_if(r.low_cpus >= want),
        format!(
            "weight {low} beside an idle weight {high} gets the whole CPU: ≥ {:.1}% (what host tasks and the idle sibling left, {:.1}%, − {} pp), not its contended share {:.1}%",
            want * 100.0,
            available * 100.0,
            cfg.tolerance_pp,
            contended * 100.0
        ),
        format!(
            "{:.1}% of CPU {cpu}; idle sibling {:.1}%; host tasks {:.1}%",
            r.low_cpus * 100.0,
            r.idle_cpus * 100.0,
            r.others_cpus * 100.0
        ),
        "a weight is a share under contention, not a guarantee: idle CPU time goes to whoever runs",
    );
    Point::for_launcher(n::SCENARIO, launcher)
        .param(n::ARM, n::ARM_IDLE_SIBLING)
        .param("weights", [low, high])
        .param("cpu", cpu)
        .param("seconds", cfg.idle_seconds)
        .metric(Metric::with_target(n::IDLE_SIBLING_USAGE, "cpus", available, vec![r.low_cpus]))
        .check(check)
        .build()
}

/// Expected shares: what each weight gets when all contend on one CPU. On
/// v1 the shares actually written are the translated ones, so the expectation
/// uses them.
pub fn expected_shares(weights: &[u64], v1: bool) -> Vec<f64> {
    let eff: Vec<f64> = weights
        .iter()
        .map(|&w| {
            if v1 {
                translate::weight_to_shares(w) as f64
            } else {
                w as f64
            }
        })
        .collect();
    let total: f64 = eff.iter().sum();
    eff.iter().map(|w| w / total).collect()
}

/// Measured shares from per-cgroup CPU time deltas.
pub fn measured_shares(usage_ns: &[u64]) -> Vec<f64> {
    let total: u64 = usage_ns.iter().sum();
    usage_ns
        .iter()
        .map(|u| {
            if total == 0 {
                0.0
            } else {
                *u as f64 / total as f64
            }
        })
        .collect()
}

/// The verdict for one sibling: |measured − expected| ≤ tolerance (pp).
pub fn share_check(weight: u64, expected: f64, measured: &[f64], tol_pp: f64) -> Check {
    let worst = measured
        .iter()
        .map(|m| (m - expected).abs() * 100.0)
        .fold(0.0, f64::max);
    Check::new(
        n::share(weight),
        Status::pass_if(worst <= tol_pp),
        format!("{:.1}% ± {tol_pp} pp of the shared CPU", expected * 100.0),
        format!(
            "{} (worst off by {worst:.2} pp)",
            measured
                .iter()
                .map(|m| format!("{:.1}%", m * 100.0))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        "",
    )
}

/// CPU time each sibling's cgroup has used so far (0 where unreadable).
fn usages(running: &[Running]) -> Vec<u64> {
    running
        .iter()
        .map(|r| {
            r.cgroup()
                .cpu_stats()
                .ok()
                .and_then(|s| s.usage_ns)
                .unwrap_or(0)
        })
        .collect()
}

/// Sleeps unless a signal asks the run to stop.
fn sleep(d: Duration) -> Result<(), ScenarioError> {
    crate::interrupt::sleep(d).map_err(ScenarioError::Interrupted)
}

/// `args` in a sandbox of weight `w` pinned to `cpu`, ready.
fn launch_pinned(ctx: &Ctx, args: &[&str], w: u64, cpu: u32, deadline_s: f64) -> Result<Running, ScenarioError> {
    let mut spec = SandboxSpec::workload(args);
    spec.namespaces = ctx.namespaces_or("pid,mnt,uts,ipc");
    spec.limits = Limits {
        cpu_weight: Some(w),
        cpuset_cpus: Some(CpuList(vec![cpu])),
        ..Default::default()
    };
    spec.deadline = Duration::from_secs_f64(deadline_s);
    let mut r = ctx.launch(&spec)?;
    r.wait_ready()?;
    Ok(r)
}

/// One repetition: every sibling spinning, their CPU time over the window.
fn one_rep(ctx: &Ctx, cfg: &Config, cpu: u32) -> Result<Vec<u64>, ScenarioError> {
    let secs = format!("{}", cfg.seconds + 2.0);
    let mut running: Vec<Running> = Vec::new();
    let spin = ["spin", "--threads", "1", "--seconds", &secs];
    for &w in &cfg.weights {
        running.push(launch_pinned(ctx, &spin, w, cpu, cfg.seconds * 3.0 + 15.0)?);
    }
    // Let the scheduler settle, then measure a window where all contend.
    sleep(Duration::from_millis(200))?;
    let before = usages(&running);
    let t = Instant::now();
    sleep(Duration::from_secs_f64(cfg.seconds))?;
    let after = usages(&running);
    let window = t.elapsed();
    let mut exits = Vec::new();
    for r in running.iter_mut() {
        // Stop the spinners now rather than waiting out their time.
        r.kill()?;
        exits.push(r.wait_exit()?);
    }
    for r in running {
        r.teardown()?;
    }
    // Killed on purpose above: SIGKILL, or 137 from a runtime in between.
    if exits.iter().any(|e| matches!(e, Exit::Code(c) if *c != 0) && !e.is_sigkill()) {
        return Err(ScenarioError::failed(format!(
            "a spinner failed: {exits:?}"
        )));
    }
    let deltas: Vec<u64> = after
        .iter()
        .zip(&before)
        .map(|(a, b)| a.saturating_sub(*b))
        .collect();
    if deltas.iter().all(|d| *d == 0) {
        return Err(ScenarioError::failed(format!(
            "no CPU time measured in a {:.2} s window (this kernel reports no cgroup usage?)",
            window.as_secs_f64()
        )));
    }
    Ok(deltas)
}

/// The row: one share metric and check per sibling.
fn result(
    cfg: &Config,
    launcher: &str,
    cpu: u32,
    v1: bool,
    per_sibling: &[Vec<f64>],
) -> ScenarioResult {
    let expected = expected_shares(&cfg.weights, v1);
    let mut point = Point::for_launcher(n::SCENARIO, launcher)
        .param("weights", &cfg.weights)
        .param("cpu", cpu)
        .param("seconds", cfg.seconds);
    if v1 {
        let shares: Vec<u64> = cfg
            .weights
            .iter()
            .map(|w| translate::weight_to_shares(*w))
            .collect();
        point = point.param("v1_shares", shares);
    }
    for ((w, e), m) in cfg.weights.iter().zip(&expected).zip(per_sibling) {
        point = point
            .metric(Metric::with_target(&n::share(*w), "fraction", *e, m.clone()))
            .check(share_check(*w, *e, m, cfg.tolerance_pp));
    }
    point.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::Level;

    #[test]
    fn expected_shares_are_proportional() {
        let e = expected_shares(&[100, 200, 400], false);
        assert!((e[0] - 1.0 / 7.0).abs() < 1e-12);
        assert!((e[2] - 4.0 / 7.0).abs() < 1e-12);
        // v1 translation keeps the ratio within rounding.
        let v = expected_shares(&[100, 200, 400], true);
        for (a, b) in e.iter().zip(&v) {
            assert!((a - b).abs() < 0.002, "{a} vs {b}");
        }
    }

    #[test]
    fn share_verdicts() {
        let ok = share_check(100, 1.0 / 7.0, &[0.15, 0.14], 5.0);
        assert_eq!(ok.status, Status::Pass);
        // Weights ignored: everyone gets a third.
        let bad = share_check(400, 4.0 / 7.0, &[1.0 / 3.0], 5.0);
        assert_eq!(bad.status, Status::Fail);
        assert!(bad.observed.contains("33.3%"), "{}", bad.observed);
        assert_eq!(measured_shares(&[1, 2, 4])[2], 4.0 / 7.0);
        assert_eq!(measured_shares(&[0, 0]), vec![0.0, 0.0]);
    }

    #[test]
    fn idle_sibling_verdicts() {
        let cfg = CpuWeight::level(Level::Quick);
        let whole = IdleRep { low_cpus: 0.97, idle_cpus: 0.01, others_cpus: 0.0 };
        let r = idle_result(&cfg, "native", 1, &whole);
        assert_eq!(r.checks[0].status, Status::Pass, "{:?}", r.checks);
        // Host tasks took half of the CPU: half is all there was.
        let busy = IdleRep { low_cpus: 0.47, idle_cpus: 0.01, others_cpus: 0.5 };
        assert_eq!(idle_result(&cfg, "native", 1, &busy).checks[0].status, Status::Pass);
        // Held to its contended share although the sibling sleeps.
        let capped = IdleRep { low_cpus: 1.0 / 7.0, idle_cpus: 0.01, others_cpus: 0.0 };
        assert_eq!(idle_result(&cfg, "native", 1, &capped).checks[0].status, Status::Fail);
    }

    #[test]
    fn config_validation() {
        let bad = |suite: &str| {
            let t: toml::Table = toml::from_str(suite).unwrap();
            CpuWeight::parse(Level::Quick, Some(&t)).unwrap_err().to_string()
        };
        assert_eq!(
            bad("weights = [0, 5]"),
            "each weight must be 1 – 10000 (cgroup v2 cpu.weight range)"
        );
        assert_eq!(bad("weights = [5]"), "weights needs 2 to 16 entries");
        assert_eq!(bad("repetitions = 0"), "repetitions must be 1 – 100");
        assert_eq!(bad("seconds = 0.1"), "seconds must be 0.5 – 600");
        assert!(CpuWeight::parse(Level::Default, None).is_ok());
    }
}
