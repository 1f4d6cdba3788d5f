//! cpuset: a multi-threaded spinner pinned to one CPU must see only that CPU
//! in its affinity and run only there. The exclusive arm (a row of its own)
//! makes that CPU the sandbox's alone: v2 `cpuset.cpus.partition = root`
//! (other cgroups lose it), v1 `cpuset.cpu_exclusive = 1` (no sibling may
//! claim it); where the kernel or the parent refuse, it is a skip with why.

mod exclusive;

use std::time::Duration;

use isobench_reports::names::cpuset as n;
use isobench_reports::{Better, Check, Metric, ScenarioResult, Status};

use super::error::{Context, OrFail};
use super::config::scenario_config;
use super::{check_range, ConfigError, Ctx, Point, Scenario, ScenarioError, Skip};
use crate::cgroup::{Cgroup, Controller, CpuList, Limits};
use crate::sandbox::event::{Event, Spin};
use crate::sandbox::{Exit, SandboxSpec};

/// The scenario.
pub struct Cpuset;

scenario_config! {
    /// Parameters.
    pub struct Config {
        pub threads: u32 = 0 => "spinner threads (0 = 2 × nproc)",
        pub seconds: f64 = 0.7, 2.0 => "spin time",
        pub tolerance_pct: f64 = 5.0 => "allowed excess of CPU time over one CPU",
    }
}

impl Scenario for Cpuset {
    const NAME: &'static str = "cpuset";
    const ABOUT: &'static str =
        "cpuset: a multi-thread spinner pinned to one CPU; affinity seen, CPUs actually used, CPU time bounded by one CPU";
    const NEEDS: &'static [Controller] = &[Controller::Cpuset];
    type Config = Config;

    fn validate(c: &Config) -> Result<(), ConfigError> {
        if c.threads > 1024 {
            return Err(ConfigError::new("threads must be 0 (= 2 × nproc) to 1024"));
        }
        check_range("seconds", c.seconds, 0.2, 600.0)?;
        check_range("tolerance-pct", c.tolerance_pct, 0.1, 100.0)
    }

    /// One spin of `seconds`.
    fn estimate(cfg: &Config, _cpus: u32) -> Duration {
        Duration::from_secs_f64(cfg.seconds + 1.3)
    }

    fn run(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, ScenarioError> {
        if ctx.cpus < 2 {
            return Err(ScenarioError::skipped(
                Skip::new(
                    n::SKIP,
                    "≥ 2 CPUs",
                    format!("{} CPU(s)", ctx.cpus),
                    "pinning needs a second CPU to be meaningful",
                )
                .param("cpus", ctx.cpus),
            ));
        }
        let affinity = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
            .context("sched_getaffinity")?;
        let pinned = (0..1024u32)
            .find(|c| affinity.is_set(*c as usize).unwrap_or(false))
            .or_fail("no CPU in this process's affinity")?;
        let threads = if cfg.threads == 0 {
            2 * ctx.cpus
        } else {
            cfg.threads
        };
        let (th, secs) = (threads.to_string(), cfg.seconds.to_string());
        let mut spec = SandboxSpec::workload(&["spin", "--threads", &th, "--seconds", &secs]);
        spec.namespaces = ctx.namespaces_or("pid,mnt,uts,ipc");
        spec.limits = Limits {
            cpuset_cpus: Some(CpuList(vec![pinned])),
            ..Default::default()
        };
        spec.deadline = Duration::from_secs_f64(cfg.seconds * 3.0 + 10.0);
        let exclusive_cpu = (0..1024u32)
            .rev()
            .find(|c| affinity.is_set(*c as usize).unwrap_or(false))
            .unwrap_or(pinned);
        let mut r = ctx.launch(&spec)?;
        r.wait_ready()?;
        let before = r.cgroup().cpu_stats()?;
        let exit = r.wait_exit()?;
        let after = r.cgroup().cpu_stats()?;
        let spin = r.first(Event::as_spin);
        r.teardown()?;
        if exit != Exit::Code(0) {
            return Err(ScenarioError::failed(format!("spinner ended with {exit}")));
        }
        let spin = spin.or_fail("spinner reported no result")?;
        let used = after
            .delta(&before)
            .usage_ns
            .or_fail("no cgroup CPU usage")? as f64;
        let usage_cpus = used / spin.wall_ns as f64;
        let pinned_row = Point::new(Self::NAME, ctx)
            .param("pinned_cpu", pinned)
            .param("threads", threads)
            .param("seconds", cfg.seconds)
            .metric(Metric::new(
                n::USAGE_CPUS,
                "cpus",
                Better::Lower,
                vec![usage_cpus],
            ))
            .checks(checks(pinned, &spin, usage_cpus, cfg.tolerance_pct))
            .build();
        let pinned_row = ctx.timed(pinned_row);
        let exclusive = match exclusive::run(cfg, ctx, exclusive_cpu) {
            Err(ScenarioError::Skipped(s)) => s.into_result(Self::NAME, &ctx.launcher),
            r => r?,
        };
        Ok(vec![pinned_row, exclusive])
    }
}

/// Checks from the spinner's report and the cgroup's CPU time.
pub fn checks(pinned: u32, spin: &Spin, usage_cpus: f64, tol_pct: f64) -> Vec<Check> {
    let want = format!("[{pinned}]");
    let only_pinned = |v: &[u64]| v == [u64::from(pinned)];
    let affinity = spin.affinity.as_deref();
    let show = |v: Option<&[u64]>| match v {
        Some(v) => format!("{v:?}"),
        None => "not reported".into(),
    };
    let limit = 1.0 + tol_pct / 100.0;
    vec![
        Check::new(
            n::AFFINITY,
            Status::pass_if(affinity.is_some_and(only_pinned)),
            format!("sched_getaffinity inside = {want}"),
            show(affinity),
            "",
        ),
        Check::new(
            n::CPUS_USED,
            Status::pass_if(only_pinned(&spin.cpus_used)),
            format!("every thread observed only on CPU {want} (sched_getcpu, ~1 ms sampling)"),
            show(Some(&spin.cpus_used)),
            "",
        ),
        Check::new(
            n::CPU_TIME,
            Status::pass_if(usage_cpus <= limit),
            format!("≤ {limit:.2} CPUs of time (one CPU + {tol_pct}%)"),
            format!("{usage_cpus:.3} CPUs"),
            "",
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::Level;

    fn spin(affinity: Option<Vec<u64>>, used: Vec<u64>) -> Spin {
        Spin {
            threads: 4,
            wall_ns: 1,
            cpu_ns: 1,
            thread_cpu_ns: vec![],
            thread_wait_ns: None,
            cpus_used: used,
            affinity,
        }
    }

    #[test]
    fn pinned_spinner_passes_and_escapes_fail() {
        let good = spin(Some(vec![1]), vec![1]);
        assert!(checks(1, &good, 0.99, 5.0)
            .iter()
            .all(|c| c.status == Status::Pass));
        let leaked = spin(Some(vec![0, 1]), vec![0, 1]);
        let c = checks(1, &leaked, 1.9, 5.0);
        assert!(c.iter().all(|c| c.status == Status::Fail), "{c:?}");
        let missing = spin(None, vec![]);
        assert_eq!(checks(1, &missing, 1.0, 5.0)[0].status, Status::Fail);
        assert_eq!(checks(1, &missing, 1.0, 5.0)[1].status, Status::Fail);
    }

    #[test]
    fn bounds_are_checked() {
        let mut c = Cpuset::level(Level::Quick);
        assert!(Cpuset::validate(&c).is_ok());
        c.seconds = 0.1;
        assert_eq!(
            Cpuset::validate(&c).unwrap_err().to_string(),
            "seconds must be 0.2 – 600"
        );
    }
}
