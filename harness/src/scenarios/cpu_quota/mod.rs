//! cpu-quota: does CFS bandwidth control give a spinner exactly its quota?
//! Expected usage follows the kernel selftests: n_periods·quota +
//! min(remainder, quota), capped by the workload's demand.
//!
//! `model` holds that arithmetic and the starvation test, `result` turns
//! measured repetitions into the row; this file measures.

use std::time::Duration;

use isobench_reports::names::cpu_quota as n;
use isobench_reports::ScenarioResult;

use super::config::reject_if;
use super::error::{Context, OrFail};
use super::config::scenario_config;
use super::{check_within, check_range, ConfigError, Ctx, Scenario, ScenarioError};
use crate::cgroup::psi::{self, Resource, Trigger};
use crate::cgroup::{Cgroup, Controller, CpuMax, Limits};
use crate::monitor::host_load::HostCpu;
use crate::monitor::{Monitor, Sampling};
use crate::sandbox::event::{Event, Spin};
use crate::sandbox::{Exit, Running, SandboxSpec};

pub mod model;
pub mod result;

pub use model::{expected_usage_ns, Rep, SweepPoint, TriggerRun};
pub use result::point_result;

/// The scenario.
pub struct CpuQuota;

/// The default sweep: 10% … nproc × 100% of a CPU (with 10 ms and 100 ms
/// periods, one thread and one per CPU).
fn default_quotas() -> Vec<f64> {
    [10.0, 25.0, 50.0, 100.0, 150.0, 200.0]
        .into_iter()
        .filter(|q| *q <= 100.0 * f64::from(crate::env::cpus()))
        .collect()
}

scenario_config! {
    /// Parameters of the sweep.
    pub struct Config {
        /// Quotas in percent of one CPU.
        pub quotas_pct: Vec<f64> = vec![20.0, 50.0, 100.0], default_quotas() => "quota, % of one CPU",
        /// CFS periods in milliseconds.
        pub periods_ms: Vec<f64> = vec![100.0], vec![10.0, 100.0] => "CFS period",
        /// Spinner thread counts ("nproc" is spelled 0).
        pub threads: Vec<u32> = vec![1], vec![1, 0] => "spinner threads (0 = nproc)",
        /// Seconds each spinner runs.
        pub seconds: f64 = 1.5, 2.5 => "spin time per repetition (the run testing the PSI trigger spins at least 3.5 s)",
        /// Repetitions per point.
        pub repetitions: u32 = 1 => "repetitions per point",
        /// Accuracy tolerance in percent.
        pub tolerance_pct: f64 = 5.0 => "accuracy check tolerance",
        /// Monitor sampling rate for the representative timeline.
        pub monitor_hz: u32 = 100 => "timeline sampling rate",
    }
}

impl Scenario for CpuQuota {
    const NAME: &'static str = n::SCENARIO;
    const ABOUT: &'static str =
        "CFS bandwidth accuracy: spinners under cpu quotas; measured vs expected CPU time, throttling counters, usage timeline";
    const NEEDS: &'static [Controller] = &[Controller::Cpu];
    type Config = Config;

    fn validate(c: &Config) -> Result<(), ConfigError> {
        c.validate_for(crate::env::cpus())
    }

    /// Every repetition of every point spins `seconds`, plus a launch and
    /// teardown.
    fn estimate(cfg: &Config, cpus: u32) -> Duration {
        let reps = cfg.points(cpus, false).len() as f64 * f64::from(cfg.repetitions);
        // One run (the trigger's) spins longer.
        let trigger = (TRIGGER_SPIN_S - cfg.seconds).max(0.0);
        Duration::from_secs_f64(reps * (cfg.seconds + 0.3) + trigger)
    }

    /// Runs the sweep.
    fn run(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, ScenarioError> {
        let mut out = Vec::new();
        let mut sampled = false;
        let points = cfg.points(ctx.cpus, crate::env::virtualization() == "tcg");
        let total = points.len() as u32 * cfg.repetitions;
        for (pi, p) in points.into_iter().enumerate() {
            let period_us = (p.period_ms * 1000.0).round() as u64;
            let cpu = CpuMax {
                quota_us: Some((period_us as f64 * p.quota_pct / 100.0).round() as u64),
                period_us,
                burst_us: None,
            };
            let mut reps = Vec::new();
            for i in 0..cfg.repetitions {
                // The first limited point of the sweep carries the timeline.
                let sample = p.limited && !sampled && i == 0;
                reps.push(run_rep(ctx, cfg, cpu, p.threads, p.demand, sample)?);
                sampled |= sample;
                ctx.advance(pi as u32 * cfg.repetitions + i + 1, total);
            }
            out.push(ctx.timed(point_result(cfg, &p, &reps, &ctx.launcher)));
        }
        Ok(out)
    }
}

impl Config {
    /// Rejects sweeps the kernel cannot express on `cpus` CPUs or that make
    /// no sense.
    pub fn validate_for(&self, cpus: u32) -> Result<(), ConfigError> {
        reject_if(
            self.quotas_pct.is_empty() || self.periods_ms.is_empty() || self.threads.is_empty(),
            || "quotas-pct, periods-ms and threads must not be empty".into(),
        )?;
        for &p in &self.periods_ms {
            reject_if(!(1.0..=1000.0).contains(&p), || {
                format!("period {p} ms is outside 1 ms – 1000 ms (the kernel's range)")
            })?;
            for &q in &self.quotas_pct {
                let quota_ms = p * q / 100.0;
                reject_if(!q.is_finite() || quota_ms < 1.0, || {
                    format!("quota {q}% of a {p} ms period is {quota_ms} ms; the kernel's minimum is 1 ms")
                })?;
                reject_if(q > 100.0 * f64::from(cpus), || {
                    format!(
                        "quota {q}% exceeds what {cpus} CPUs can use ({}%)",
                        100 * cpus
                    )
                })?;
            }
        }
        reject_if(self.threads.iter().any(|&t| t > 1024), || {
            "threads must be 0 (= nproc) to 1024".into()
        })?;
        check_within("seconds", self.seconds, 0.2, 600.0, "")?;
        check_range("repetitions", self.repetitions, 1, 1000)?;
        check_range("tolerance-pct", self.tolerance_pct, 0.1, 100.0)?;
        check_range("monitor-hz", self.monitor_hz, 1, 1000)
    }

    /// The sweep's points in run order: periods, then threads, then quotas.
    pub fn points(&self, cpus: u32, emulated: bool) -> Vec<SweepPoint> {
        let mut out = Vec::new();
        for &period_ms in &self.periods_ms {
            for &threads in &self.threads {
                let threads = if threads == 0 { cpus } else { threads };
                let demand = f64::from(threads.min(cpus));
                for &quota_pct in &self.quotas_pct {
                    out.push(SweepPoint {
                        quota_pct,
                        period_ms,
                        threads,
                        demand,
                        limited: quota_pct / 100.0 < demand - 1e-9,
                        emulated,
                        cpus: f64::from(cpus),
                    });
                }
            }
        }
        out
    }
}

/// One spinner run under `cpu`, with the monitor's timeline when `sample`.
fn run_rep(
    ctx: &Ctx,
    cfg: &Config,
    cpu: CpuMax,
    threads: u32,
    demand: f64,
    sample: bool,
) -> Result<Rep, ScenarioError> {
    // The run carrying the timeline also tests a PSI trigger while it
    // spins: its stall must outlast the trigger's window and the averaging
    // work that evaluates an unprivileged trigger (the cgroup going idle
    // stops that work before it looks).
    let trigger_run = sample && demand > cpu.cpus().unwrap_or(f64::MAX);
    let spin_s = if trigger_run {
        cfg.seconds.max(TRIGGER_SPIN_S)
    } else {
        cfg.seconds
    };
    let secs = format!("{spin_s}");
    let th = threads.to_string();
    let mut spec = SandboxSpec::workload(&["spin", "--threads", &th, "--seconds", &secs]);
    spec.namespaces = ctx.namespaces_or("pid,mnt,uts,ipc");
    spec.limits = Limits {
        cpu_max: Some(cpu),
        ..Default::default()
    };
    spec.deadline = Duration::from_secs_f64(spin_s * 3.0 + 10.0);
    let mut r = ctx.launch(&spec)?;
    r.wait_ready()?;
    let before = r.cgroup().cpu_stats()?;
    let host_before = HostCpu::now();
    let sampling = Sampling {
        cpu: true,
        ..Default::default()
    };
    let mon = if sample {
        Some(Monitor::start(r.cgroup().view(), sampling, cfg.monitor_hz).context("monitor")?)
    } else {
        None
    };
    let probe = psi::Probe::start(r.cgroup(), ctx.set.mode, Resource::Cpu);
    // Not beside the trigger: every read of the pressure file runs the
    // averaging the trigger's evaluation waits for (kernel/sched/psi.c,
    // psi_show), and with reads every 200 ms the trigger missed its window
    // in 3 of 8 quick runs here (1 of 8 without).
    let recorder = probe
        .as_ref()
        .filter(|_| !trigger_run)
        .map(|p| psi::Recorder::start(p.dir(), Resource::Cpu));
    let trigger = match (&probe, trigger_run) {
        (Some(p), true) => Some(trigger_test(ctx, p.dir())),
        _ => None,
    };
    let exit = r.wait_exit()?;
    let psi = probe.as_ref().and_then(psi::Probe::finish);
    let psi_series = recorder.map(psi::Recorder::stop);
    let (samples, monitor_cpu) = mon.map(Monitor::stop).unwrap_or_default();
    let after = r.cgroup().cpu_stats()?;
    let host_after = HostCpu::now();
    let spin = r.first(Event::as_spin);
    r.teardown()?;
    if exit != Exit::Code(0) {
        return Err(ScenarioError::failed(format!("spinner ended with {exit}")));
    }
    let spin: Spin = spin.or_fail("spinner reported no result")?;
    let d = after.delta(&before);
    let measured = d
        .usage_ns
        .or_fail("this kernel reports no cgroup CPU usage")? as f64;
    let others_ns = match (host_before, host_after) {
        (Some(a), Some(b)) => b.others_since(&a, measured as u64),
        _ => 0,
    };
    let quota_ns = cpu.quota_us.unwrap_or(u64::MAX / 1000) * 1000;
    let wall_ns = spin.wall_ns;
    Ok(Rep {
        measured_ns: measured,
        expected_ns: expected_usage_ns(wall_ns, quota_ns, cpu.period_us * 1000, demand),
        quota_ns: quota_ns as f64,
        wall_ns,
        nr_periods: d.nr_periods.unwrap_or(0),
        nr_throttled: d.nr_throttled.unwrap_or(0),
        throttled_ns: d.throttled_ns.unwrap_or(0),
        samples,
        monitor_cpu,
        others_cpus: others_ns as f64 / wall_ns.max(1) as f64,
        workload_cpu_ns: spin.cpu_ns as f64,
        // The threads' own clocks; an older workload reports the process's.
        spin_cpu_ns: if spin.thread_cpu_ns.is_empty() {
            spin.cpu_ns as f64
        } else {
            spin.thread_cpu_ns.iter().map(|&ns| ns as f64).sum()
        },
        cgroup_total_ns: after.usage_ns.unwrap_or(0) as f64,
        psi,
        psi_series,
        trigger,
    })
}

/// Spin time of the run carrying the PSI trigger test: the unprivileged
/// 2 s window, the 2 s averaging period that evaluates it, and a margin
/// for launching the idle sandbox.
const TRIGGER_SPIN_S: f64 = 3.5;

/// PSI trigger window and threshold: 150 ms of stall within 1 s.
const TRIGGER_STALL_US: u64 = 150_000;
const TRIGGER_WINDOW_US: u64 = 1_000_000;
/// The shortest window an unprivileged trigger may have.
const UNPRIVILEGED_WINDOW_US: u64 = 2_000_000;

/// Registers `some 150000 1000000` on the stalled spinner's cpu.pressure
/// (`stalled`) and on an idle sandbox's (a task waking every 250 ms for
/// 1 ms), then polls both over one window.
fn trigger_test(ctx: &Ctx, stalled: &std::path::Path) -> Result<TriggerRun, String> {
    let trig = |d: &std::path::Path, window_us: u64| {
        Trigger::some(d, Resource::Cpu, TRIGGER_STALL_US, window_us).map_err(|e| {
            let shown = format!("writing a trigger to {}: {e}", d.join(Resource::Cpu.file()).display());
            (e.raw_os_error(), shown)
        })
    };
    // The stalled trigger first, so its window starts while the spinner is
    // young. Without CAP_SYS_RESOURCE the kernel takes only windows that
    // are multiples of 2 s (EINVAL otherwise): then the 2 s window.
    let (on_stalled, window_us) = match trig(stalled, TRIGGER_WINDOW_US) {
        Ok(t) => (t, TRIGGER_WINDOW_US),
        Err((Some(libc::EINVAL), _)) => (
            trig(stalled, UNPRIVILEGED_WINDOW_US).map_err(|e| e.1)?,
            UNPRIVILEGED_WINDOW_US,
        ),
        Err((_, e)) => return Err(e),
    };
    let t0 = std::time::Instant::now();
    let mut spec = SandboxSpec::workload(&["tick", "--period-ms", "250", "--work-ms", "1", "--count", "8"]);
    spec.namespaces = ctx.namespaces_or("pid,mnt,uts,ipc");
    spec.deadline = Duration::from_secs(10);
    let mut idle: Running = ctx.launch(&spec).map_err(|e| format!("idle sandbox: {e}"))?;
    idle.wait_ready().map_err(|e| format!("idle sandbox: {e}"))?;
    let idle_dir = psi::source(idle.cgroup(), ctx.set.mode)
        .map(|(d, _)| d)
        .ok_or("the idle sandbox has no cpu.pressure")?;
    let on_idle = trig(&idle_dir, window_us).map_err(|e| e.1)?;
    let window = Duration::from_micros(window_us);
    // An unprivileged trigger is evaluated by the 2 s averaging work only
    // (kernel/sched/psi.c), so its event can lag the window by one period.
    let grace = if window_us == UNPRIVILEGED_WINDOW_US {
        Duration::from_secs(2)
    } else {
        Duration::ZERO
    };
    let span = window + grace;
    let fired = on_stalled
        .wait(span.saturating_sub(t0.elapsed()))
        .map_err(|e| e.to_string())?;
    let stalled_after = fired.then(|| t0.elapsed().as_secs_f64());
    let left = span.saturating_sub(t0.elapsed());
    let idle_fired = on_idle.wait(left).map_err(|e| e.to_string())?;
    let spec = on_stalled.spec();
    drop((on_stalled, on_idle));
    idle.teardown().map_err(|e| format!("idle sandbox: {e}"))?;
    Ok(TriggerRun {
        spec,
        window_s: window.as_secs_f64(),
        grace_s: grace.as_secs_f64(),
        stalled_after,
        idle_fired,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::Level;

    #[test]
    fn config_rejects_impossible_values() {
        let mut c = CpuQuota::level(Level::Default);
        c.periods_ms = vec![0.5];
        assert!(c.validate_for(2).unwrap_err().to_string().contains("1 ms"));
        let mut c = CpuQuota::level(Level::Default);
        c.quotas_pct = vec![0.5];
        assert!(c.validate_for(2).unwrap_err().to_string().contains("minimum"));
        let mut c = CpuQuota::level(Level::Default);
        c.quotas_pct = vec![300.0];
        assert!(c.validate_for(2).unwrap_err().to_string().contains("2 CPUs"));
        assert!(CpuQuota::level(Level::Default).validate_for(2).is_ok());
    }

    #[test]
    fn suite_table_overrides_and_rejects_unknown_keys() {
        let t: toml::Table = toml::from_str("seconds = 4.0\nrepetitions = 5").unwrap();
        let c = CpuQuota::parse(Level::Quick, Some(&t)).unwrap();
        assert_eq!(c.seconds, 4.0);
        assert_eq!(c.repetitions, 5);
        assert_eq!(c.quotas_pct, vec![20.0, 50.0, 100.0]);
        let t: toml::Table = toml::from_str("sekonds = 4.0").unwrap();
        let e = CpuQuota::parse(Level::Quick, Some(&t))
            .unwrap_err()
            .to_string();
        assert!(e.contains("sekonds") && e.contains("accepted"), "{e}");
        let t: toml::Table = toml::from_str("seconds = \"x\"").unwrap();
        assert!(CpuQuota::parse(Level::Quick, Some(&t)).is_err());
    }
}
