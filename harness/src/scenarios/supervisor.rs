//! supervisor: one parent and several children in one sandbox, the way
//! supervisord runs programs. A cgroup limit binds the group's sum, not each
//! process: children that each fit the memory limit OOM together, pids.max
//! bounds the forks of all children together, and spinners under a one-CPU
//! quota share one CPU. memory.oom.group (v2) decides whether the OOM killer
//! takes one child or the whole group.
//!
//! No pid namespace: the children's pids the supervisor reports are host
//! pids, so the harness can tell which child died even when the OOM killer
//! took the supervisor with them.

use std::time::{Duration, Instant};

use isobench_reports::names::supervisor as n;
use isobench_reports::{Better, Check, Metric, ScenarioResult, Status};

use super::config::scenario_config;
use super::error::OrFail;
use super::memory::{mib, v2_only, MIB};
use super::result::opt;
use super::{check_range, interrupted, ConfigError, Ctx, Point, Scenario, ScenarioError, Skip};
use crate::cgroup::{Cgroup, Controller, CpuMax, Limits};
use crate::sandbox::event::Event;
use crate::sandbox::{Running, SandboxSpec};

/// The scenario.
pub struct Supervisor;

scenario_config! {
    /// Parameters.
    pub struct Config {
        pub children: u32 = 4 => "children of the supervisor",
        pub memory_limit_mib: u64 = 64 => "memory.max of the group",
        pub child_memory_pct: f64 = 30.0 => "memory each child touches, % of the limit (each fits; together they do not)",
        pub pids_max: u64 = 24 => "pids.max of the group; each child asks for that many forks",
        pub spin_seconds: f64 = 1.0 => "how long each child spins under the one-CPU quota",
        pub cpu_tolerance_pct: f64 = 5.0 => "allowed excess of the group's CPU time over one CPU",
    }
}

impl Scenario for Supervisor {
    const NAME: &'static str = n::SCENARIO;
    const ABOUT: &'static str =
        "supervisor: one parent, N children, one cgroup: memory, pids and CPU limits bind the sum; memory.oom.group kills one child or all";
    const NEEDS: &'static [Controller] = &[Controller::Memory, Controller::Pids, Controller::Cpu];
    const QUICK: bool = false;
    type Config = Config;

    fn validate(c: &Config) -> Result<(), ConfigError> {
        check_range("children", c.children, 2, 16)?;
        check_range("memory-limit-mib", c.memory_limit_mib, 16, 4096)?;
        // Each child fits alone, all together do not.
        let lo = 100.0 / f64::from(c.children) + 1.0;
        check_range("child-memory-pct", c.child_memory_pct, lo.min(90.0), 90.0)?;
        check_range("pids-max", c.pids_max, u64::from(c.children) + 2, 1000)?;
        check_range("spin-seconds", c.spin_seconds, 0.2, 60.0)?;
        check_range("cpu-tolerance-pct", c.cpu_tolerance_pct, 0.1, 100.0)
    }

    fn estimate(cfg: &Config, _cpus: u32) -> Duration {
        Duration::from_secs_f64(cfg.spin_seconds + 6.0)
    }

    fn run(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, ScenarioError> {
        ctx.advance(0, 4);
        let mut out = vec![ctx.timed(memory_row(cfg, ctx, false)?)];
        ctx.tick();
        interrupted()?;
        out.push(ctx.timed(match v2_only(ctx, "memory.oom.group") {
            None => memory_row(cfg, ctx, true)?,
            Some(why) => Skip::new(
                n::CHECK_OOM_GROUP_1_KILLS_ALL,
                "memory.oom.group=1: the OOM killer takes every child together",
                "not run",
                why,
            )
            .param(n::LIMIT, "oom-group")
            .into_result(n::SCENARIO, &ctx.launcher),
        }));
        ctx.tick();
        interrupted()?;
        out.push(ctx.timed(pids_row(cfg, ctx)?));
        ctx.tick();
        interrupted()?;
        out.push(ctx.timed(cpu_row(cfg, ctx)?));
        ctx.tick();
        Ok(out)
    }
}

/// The supervisor with `args` under `limits`: no pid namespace (see the
/// module doc), always pids-bounded.
fn spec(ctx: &Ctx, args: &[&str], limits: Limits) -> SandboxSpec {
    let mut s = SandboxSpec::workload(args);
    s.namespaces = ctx.namespaces_or("mnt,uts,ipc");
    s.namespaces.pid = false;
    s.limits = limits;
    s.deadline = Duration::from_secs(60);
    s
}

/// Whether a host pid is gone or a zombie (killed, or exited).
fn dead(pid: i64) -> bool {
    let Ok(pid) = i32::try_from(pid) else {
        return true;
    };
    crate::procfs::read_stat(pid).is_none_or(|st| {
        crate::procfs::stat_fields(&st)
            .first()
            .is_none_or(|s| s.starts_with(['Z', 'X']))
    })
}

/// The children's pids, from `supervisor_started`.
fn children_of(r: &mut Running) -> Result<Vec<i64>, ScenarioError> {
    let until = Instant::now() + Duration::from_secs(10);
    r.wait_event(until, |e| matches!(e, Event::SupervisorStarted { .. }))?;
    r.events
        .iter()
        .find_map(|e| match e {
            Event::SupervisorStarted { pids } => Some(pids.clone()),
            _ => None,
        })
        .or_fail("the supervisor did not report its children")
}

fn reported(r: &Running) -> usize {
    r.events
        .iter()
        .filter(|e| matches!(e, Event::SupervisorChild(_)))
        .count()
}

/// What one memory run saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryRun {
    pub limit: u64,
    pub child_bytes: u64,
    pub children: u32,
    pub killed: u32,
    pub supervisor_killed: bool,
    pub oom_kills: Option<u64>,
    pub peak: Option<u64>,
}

fn memory_row(cfg: &Config, ctx: &Ctx, group: bool) -> Result<ScenarioResult, ScenarioError> {
    let limit = cfg.memory_limit_mib * MIB;
    let child_bytes = (limit as f64 * cfg.child_memory_pct / 100.0) as u64;
    let (kids, bytes) = (cfg.children.to_string(), child_bytes.to_string());
    let args = ["supervisor", "--task", "hog", "--children", &kids, "--bytes", &bytes, "--hold-seconds", "5"];
    let limits = Limits {
        memory_max: Some(limit),
        oom_group: group,
        pids_max: Some(u64::from(cfg.children) + 16),
        ..Default::default()
    };
    let mut r = ctx.launch(&spec(ctx, &args, limits))?;
    r.wait_ready()?;
    let pids = children_of(&mut r)?;
    // Until every child either holds its memory or is dead.
    let until = Instant::now() + Duration::from_secs(15);
    let settled = |r: &Running| {
        reported(r) + pids.iter().filter(|p| dead(**p)).count() >= pids.len()
    };
    while !settled(&r) && Instant::now() < until {
        let soon = Instant::now() + Duration::from_millis(50);
        r.wait_event(soon, |_| false)?;
    }
    // The OOM killer may still be at work on the last of them.
    std::thread::sleep(Duration::from_millis(300));
    let killed = pids.iter().filter(|p| dead(**p)).count() as u32;
    let supervisor_killed = r.exited_within(Duration::ZERO) && !r.events.iter().any(|e| matches!(e, Event::SupervisorDone { .. }));
    let stats = r.cgroup().memory_stats()?;
    r.teardown()?;
    let run = MemoryRun {
        limit,
        child_bytes,
        children: cfg.children,
        killed,
        supervisor_killed,
        oom_kills: stats.events.oom_kill,
        peak: stats.peak,
    };
    let mut p = Point::new(n::SCENARIO, ctx)
        .param(n::LIMIT, if group { "oom-group" } else { "memory" })
        .param("children", cfg.children)
        .param("memory_limit_bytes", limit)
        .param("child_bytes", child_bytes)
        .param("oom_group", u8::from(group))
        .param("supervisor_killed", u8::from(supervisor_killed));
    let killed_name = if group {
        n::CHILDREN_KILLED_OOM_GROUP_1
    } else {
        n::CHILDREN_KILLED_OOM_GROUP_0
    };
    p = p.metric(Metric::new(killed_name, "processes", Better::Target, vec![f64::from(killed)]));
    if let Some(k) = run.oom_kills {
        p = p.metric(Metric::new(n::OOM_KILLS, "processes", Better::Target, vec![k as f64]));
    }
    if let Some(peak) = run.peak {
        p = p.metric(Metric::new(n::MEMORY_PEAK_BYTES, "bytes", Better::Lower, vec![peak as f64]));
    }
    Ok(p.checks(memory_checks(&run, group)).build())
}

/// The sum binds (an OOM kill although each child fits), the peak stays
/// within the limit, and oom.group decides how many children die.
pub fn memory_checks(run: &MemoryRun, group: bool) -> Vec<Check> {
    let sum = run.child_bytes * u64::from(run.children);
    let mut c = Vec::new();
    if !group {
        c.push(Check::new(
            n::CHECK_MEMORY_LIMIT_BINDS_SUM,
            Status::pass_if(run.oom_kills.unwrap_or(u64::from(run.killed)) >= 1),
            format!(
                "≥ 1 OOM kill: each child's {} fits the limit {}, their sum {} does not",
                mib(run.child_bytes),
                mib(run.limit),
                mib(sum)
            ),
            format!("oom_kill {}, children dead {}", opt(run.oom_kills), run.killed),
            "",
        ));
        c.push(match run.peak {
            Some(peak) => Check::new(
                n::CHECK_MEMORY_PEAK_WITHIN_LIMIT,
                Status::pass_if(peak <= run.limit),
                format!("the group's peak ≤ {}", mib(run.limit)),
                mib(peak),
                "memory.peak (v2) / memory.max_usage_in_bytes (v1)",
            ),
            None => Check::new(
                n::CHECK_MEMORY_PEAK_WITHIN_LIMIT,
                Status::Skip,
                format!("the group's peak ≤ {}", mib(run.limit)),
                "no peak counter",
                "this kernel has no memory.peak / max_usage_in_bytes",
            ),
        });
        c.push(Check::new(
            n::CHECK_OOM_GROUP_0_KILLS_NOT_ALL,
            Status::pass_if(run.killed >= 1 && run.killed < run.children),
            format!(
                "memory.oom.group=0: the OOM killer takes 1 to {} of {} children, not the group",
                run.children - 1,
                run.children
            ),
            format!("{} of {} children killed", run.killed, run.children),
            "",
        ));
    } else {
        c.push(Check::new(
            n::CHECK_OOM_GROUP_1_KILLS_ALL,
            Status::pass_if(run.killed == run.children),
            format!("memory.oom.group=1: all {} children die together", run.children),
            format!(
                "{} of {} children killed; supervisor {}",
                run.killed,
                run.children,
                if run.supervisor_killed { "killed" } else { "alive" }
            ),
            "",
        ));
    }
    c
}

fn pids_row(cfg: &Config, ctx: &Ctx) -> Result<ScenarioResult, ScenarioError> {
    let (kids, forks) = (cfg.children.to_string(), cfg.pids_max.to_string());
    let args = ["supervisor", "--task", "fork", "--children", &kids, "--forks", &forks, "--hold-seconds", "1"];
    let limits = Limits {
        pids_max: Some(cfg.pids_max),
        memory_max: Some(256 * MIB),
        ..Default::default()
    };
    let mut r = ctx.launch(&spec(ctx, &args, limits))?;
    r.wait_ready()?;
    let want = cfg.children as usize;
    let until = Instant::now() + Duration::from_secs(15);
    while reported(&r) < want && Instant::now() < until {
        let soon = Instant::now() + Duration::from_millis(50);
        r.wait_event(soon, |_| false)?;
    }
    let current = r.cgroup().pids_stats()?.current;
    let exit = r.wait_exit()?;
    let per: Vec<(u64, u64)> = r
        .events
        .iter()
        .filter_map(Event::as_supervisor_child)
        .map(|c| (c.forked.unwrap_or(0), c.failed.unwrap_or(0)))
        .collect();
    r.teardown()?;
    if per.len() < want {
        return Err(ScenarioError::failed(format!(
            "{} of {want} children reported their forks ({exit})",
            per.len()
        )));
    }
    let forked: u64 = per.iter().map(|p| p.0).sum();
    let total = 1 + u64::from(cfg.children) + forked;
    let refused = per.iter().filter(|p| p.1 > 0).count();
    let check = Check::new(
        n::CHECK_PIDS_LIMIT_BINDS_SUM,
        Status::pass_if(total <= cfg.pids_max && refused == per.len()),
        format!(
            "supervisor + {} children + their forks ≤ pids.max {}, and every child (asking for {} forks) refused",
            cfg.children, cfg.pids_max, cfg.pids_max
        ),
        format!(
            "{total} tasks (forks per child {:?}), {refused} of {} children refused; pids.current then {}",
            per.iter().map(|p| p.0).collect::<Vec<_>>(),
            per.len(),
            opt(current)
        ),
        "",
    );
    Ok(Point::new(n::SCENARIO, ctx)
        .param(n::LIMIT, "pids")
        .param("children", cfg.children)
        .param("pids_max", cfg.pids_max)
        .metric(Metric::new(n::TASKS_TOTAL, "tasks", Better::Target, vec![total as f64]))
        .metric(Metric::new(
            n::FORKS_PER_CHILD,
            "forks",
            Better::Target,
            per.iter().map(|p| p.0 as f64).collect(),
        ))
        .check(check)
        .build())
}

fn cpu_row(cfg: &Config, ctx: &Ctx) -> Result<ScenarioResult, ScenarioError> {
    let (kids, secs) = (cfg.children.to_string(), cfg.spin_seconds.to_string());
    let args = ["supervisor", "--task", "spin", "--children", &kids, "--seconds", &secs, "--hold-seconds", "0"];
    let limits = Limits {
        cpu_max: Some(CpuMax {
            quota_us: Some((PERIOD_S * 1e6) as u64),
            period_us: (PERIOD_S * 1e6) as u64,
            burst_us: None,
        }),
        pids_max: Some(u64::from(cfg.children) + 16),
        ..Default::default()
    };
    let mut s = spec(ctx, &args, limits);
    s.accounting.push(Controller::Cpuacct);
    let mut r = ctx.launch(&s)?;
    r.wait_ready()?;
    let before = r.cgroup().cpu_stats()?;
    let t0 = Instant::now();
    let exit = r.wait_exit()?;
    let wall = t0.elapsed().as_secs_f64();
    let after = r.cgroup().cpu_stats()?;
    let per: Vec<f64> = r
        .events
        .iter()
        .filter_map(Event::as_supervisor_child)
        .filter_map(|c| Some(c.cpu_ns? as f64 / c.wall_ns?.max(1) as f64))
        .collect();
    r.teardown()?;
    let used = after.delta(&before).usage_ns.or_fail("no cgroup CPU usage")? as f64;
    if per.len() < cfg.children as usize {
        return Err(ScenarioError::failed(format!(
            "{} of {} spinners reported ({exit})",
            per.len(),
            cfg.children
        )));
    }
    let usage = used / 1e9 / wall;
    let throttled = after.delta(&before).nr_throttled;
    let check = cpu_check(cfg, usage, &per, throttled, wall);
    Ok(Point::new(n::SCENARIO, ctx)
        .param(n::LIMIT, "cpu")
        .param("children", cfg.children)
        .param("cpu_quota_pct", 100)
        .param("spin_seconds", cfg.spin_seconds)
        .metric(Metric::new(n::USAGE_CPUS, "cpus", Better::Lower, vec![usage]))
        .metric(Metric::new(n::CHILD_CPUS, "cpus", Better::Target, per))
        .check(check)
        .build())
}

/// CFS period of the one-CPU quota, in seconds.
const PERIOD_S: f64 = 0.1;

/// The group (cgroup time) and the children (their own) within one CPU,
/// plus one period's quota (a window of `wall_s` may start on a full
/// budget). Well below it and never throttled, the machine was too busy for
/// the quota to matter: a warning, the check showed nothing.
pub fn cpu_check(
    cfg: &Config,
    usage: f64,
    per: &[f64],
    throttled: Option<u64>,
    wall_s: f64,
) -> Check {
    let limit = 1.0 + PERIOD_S / wall_s.max(PERIOD_S) + cfg.cpu_tolerance_pct / 100.0;
    let sum: f64 = per.iter().sum();
    let idle = usage < 0.9 && throttled == Some(0);
    let status = match () {
        _ if usage > limit || sum > limit => Status::Fail,
        _ if idle => Status::Warn,
        _ => Status::Pass,
    };
    Check::new(
        n::CHECK_CPU_LIMIT_BINDS_SUM,
        status,
        format!(
            "{} spinners under a 100% quota get ≤ {limit:.2} CPUs together (cgroup time and their own; 1 CPU + one period + tolerance)",
            cfg.children
        ),
        format!(
            "group {usage:.3} CPUs; children {} = {sum:.3}; throttled periods {}",
            per.iter().map(|c| format!("{c:.3}")).collect::<Vec<_>>().join(" + "),
            opt(throttled)
        ),
        if idle {
            "never throttled and below one CPU: the machine was too busy for the quota to bind"
        } else {
            ""
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::Level;

    fn run(killed: u32, oom: Option<u64>, peak: Option<u64>) -> MemoryRun {
        MemoryRun {
            limit: 64 * MIB,
            child_bytes: 19 * MIB,
            children: 4,
            killed,
            supervisor_killed: false,
            oom_kills: oom,
            peak,
        }
    }

    #[test]
    fn oom_group_decides_how_many_die() {
        let one = memory_checks(&run(1, Some(1), Some(64 * MIB)), false);
        assert!(one.iter().all(|c| c.status == Status::Pass), "{one:?}");
        let none = memory_checks(&run(0, Some(0), Some(60 * MIB)), false);
        assert!(none.iter().any(|c| c.status == Status::Fail));
        let all = memory_checks(&run(4, Some(5), Some(64 * MIB)), false);
        assert!(all
            .iter()
            .any(|c| c.name == n::CHECK_OOM_GROUP_0_KILLS_NOT_ALL && c.status == Status::Fail));
        let over = memory_checks(&run(1, Some(1), Some(65 * MIB)), false);
        assert!(over
            .iter()
            .any(|c| c.name == n::CHECK_MEMORY_PEAK_WITHIN_LIMIT && c.status == Status::Fail));
        assert_eq!(memory_checks(&run(4, Some(5), None), true)[0].status, Status::Pass);
        assert_eq!(memory_checks(&run(1, Some(1), None), true)[0].status, Status::Fail);
    }

    #[test]
    fn cpu_sum_within_one_cpu() {
        let cfg = Supervisor::level(Level::Default);
        let c = |u: f64, t: Option<u64>| cpu_check(&cfg, u, &[u / 4.0; 4], t, 1.0).status;
        assert_eq!(c(1.0, Some(9)), Status::Pass);
        // One period's budget at the window's edge is allowed, no more.
        assert_eq!(c(1.12, Some(9)), Status::Pass);
        assert_eq!(c(1.2, Some(9)), Status::Fail);
        assert_eq!(c(1.9, Some(9)), Status::Fail);
        // Too busy a machine to reach the quota shows nothing: warn.
        assert_eq!(c(0.3, Some(0)), Status::Warn);
        assert_eq!(c(0.3, Some(4)), Status::Pass);
    }

    #[test]
    fn each_child_must_fit_alone() {
        let mut c = Supervisor::level(Level::Default);
        assert!(Supervisor::validate(&c).is_ok());
        c.child_memory_pct = 20.0; // 4 × 20% fits: nothing to show
        assert!(Supervisor::validate(&c).is_err());
        c.child_memory_pct = 30.0;
        c.pids_max = 4;
        assert!(Supervisor::validate(&c).is_err());
    }
}
