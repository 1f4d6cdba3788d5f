//! The exclusive-cpuset arm: one CPU given to a sandbox alone. On v2 a
//! cgroup holding it becomes a partition root (`cpuset.cpus.partition =
//! root`): the CPU leaves every other cgroup's effective set, so a sibling
//! without a cpuset limit must not see it. On v1 `cpuset.cpu_exclusive = 1`
//! forbids a sibling cpuset to claim the CPU (tasks elsewhere are not moved
//! off it). A kernel or parent that refuses is a skip naming the refusal.

use std::path::Path;
use std::time::Duration;

use isobench_reports::names::cpuset as n;
use isobench_reports::{Check, ScenarioResult, Status};

use super::Config;
use crate::cgroup::{parse, Cgroup, Controller, CpuList, Limits};
use crate::sandbox::event::{Event, Spin};
use crate::sandbox::{Exit, SandboxSpec};
use crate::scenarios::error::OrFail;
use crate::scenarios::{Ctx, Point, ScenarioError, Skip};

/// Spin time of each sandbox in this arm.
const SPIN_SECONDS: &str = "0.4";

fn skip(cpu: u32, why: String) -> ScenarioError {
    ScenarioError::skipped(
        Skip::new(
            n::EXCLUSIVE,
            format!("CPU {cpu} exclusive to one sandbox"),
            "not run",
            why,
        )
        .param(n::ARM, n::ARM_EXCLUSIVE)
        .param("exclusive_cpu", cpu),
    )
}

/// A 2-thread spinner in `ctx`; its report. `within`: the exclusive CPU,
/// repeated as the sandbox's own cpuset so that on v1 it is placed in the
/// cpuset hierarchy at all (a sandbox joins only the v1 hierarchies its
/// limits use; without one it would stay in the caller's cpuset).
fn spin(ctx: &Ctx, within: Option<u32>) -> Result<Spin, ScenarioError> {
    let mut spec = SandboxSpec::workload(&["spin", "--threads", "2", "--seconds", SPIN_SECONDS]);
    spec.namespaces = ctx.namespaces_or("pid,mnt,uts,ipc");
    if let Some(cpu) = within {
        spec.limits.cpuset_cpus = Some(CpuList(vec![cpu]));
    }
    spec.deadline = Duration::from_secs(20);
    let mut r = ctx.launch(&spec)?;
    r.wait_ready()?;
    let exit = r.wait_exit()?;
    let s = r.first(Event::as_spin);
    r.teardown()?;
    if exit != Exit::Code(0) {
        return Err(ScenarioError::failed(format!("spinner ended with {exit}")));
    }
    s.or_fail("spinner reported no result")
}

/// Runs the arm on `cpu` (the machine keeps its other CPUs).
pub fn run(_cfg: &Config, ctx: &Ctx, cpu: u32) -> Result<ScenarioResult, ScenarioError> {
    if !ctx.kind.harness_cgroup() {
        return Err(skip(
            cpu,
            format!(
                "{} creates its container's cgroup itself, beside isobench's cgroups rather than inside the exclusive one, so the arm cannot put a sandbox in it; it runs on launchers whose cgroup isobench creates (native, bwrap, unshare, nspawn, custom:)",
                ctx.launcher
            ),
        ));
    }
    let part = ctx.create_cgroup()?;
    let own = Limits {
        cpuset_cpus: Some(CpuList(vec![cpu])),
        ..Default::default()
    };
    if let Err(e) = part.apply(&own) {
        // e.g. v1 EINVAL: another cpuset already holds the CPU exclusively.
        return Err(skip(cpu, format!("the kernel refused cpuset.cpus = {cpu} ({e})")));
    }
    let v2 = ctx.set.on_v2(Controller::Cpuset);
    let dir = part
        .dir_of(Controller::Cpuset)
        .or_fail("the cpuset controller has no directory here")?
        .to_path_buf();
    let (knob, value) = match v2 {
        true => ("cpuset.cpus.partition", "root"),
        false => ("cpuset.cpu_exclusive", "1"),
    };
    let file = dir.join(knob);
    if !file.exists() {
        return Err(skip(cpu, format!("{knob} does not exist in this kernel")));
    }
    if let Err(e) = parse::write(&file, value) {
        let parent = dir.parent().map(|p| read_or(&p.join(knob))).unwrap_or_default();
        return Err(skip(cpu, format!("the kernel refused {value} in {knob} ({e}); the parent's {knob} is {parent:?}")));
    }
    let state = read_or(&file);
    if v2 && state != "root" {
        // e.g. "root invalid (Parent is not a partition root)".
        return Err(skip(cpu, format!("{knob} reads {state:?} after writing root")));
    }
    if v2 {
        crate::cgroup::v2::enable_controllers(&dir, &[Controller::Cpuset])?;
    }
    let inside = spin(&ctx.nested(&part), (!v2).then_some(cpu))?;
    let outside = match v2 {
        true => Outside::Spin(spin(ctx, None)?),
        false => Outside::Claim(claim(ctx, cpu)?),
    };
    // Undo the partition before the cgroup goes (its CPU returns to the parent).
    let _ = parse::write(&file, if v2 { "member" } else { "0" });
    part.destroy()?;
    Ok(Point::new(n::SCENARIO, ctx)
        .param(n::ARM, n::ARM_EXCLUSIVE)
        .param("exclusive_cpu", cpu)
        .param("knob", format!("{knob} = {value}"))
        .checks(checks(cpu, &inside, &outside))
        .build())
}

fn read_or(p: &Path) -> String {
    parse::read(p).map(|s| s.trim().to_string()).unwrap_or_else(|e| e.to_string())
}

/// What a sibling saw of the exclusive CPU.
#[derive(Debug, Clone, PartialEq)]
pub enum Outside {
    /// v2: an unpinned spinner elsewhere.
    Spin(Spin),
    /// v1: a sibling cpuset's attempt to claim the CPU (Ok: accepted).
    Claim(Result<(), String>),
}

/// v1: a fresh sibling cgroup writes the exclusive CPU into cpuset.cpus.
fn claim(ctx: &Ctx, cpu: u32) -> Result<Result<(), String>, ScenarioError> {
    // A new v1 cpuset starts with its parent's CPUs (all of them here), so
    // with one held exclusively the kernel already refuses the sibling's
    // setup (EINVAL): that is the refusal this arm looks for.
    let sib = match ctx.create_cgroup() {
        Ok(s) => s,
        Err(e) => return Ok(Err(format!("a sibling cpuset with the parent's CPUs was refused: {e}"))),
    };
    let r = sib.apply(&Limits {
        cpuset_cpus: Some(CpuList(vec![cpu])),
        ..Default::default()
    });
    sib.destroy()?;
    Ok(r.map_err(|e| e.to_string()))
}

/// Inside: only the CPU; outside: never it.
pub fn checks(cpu: u32, inside: &Spin, outside: &Outside) -> Vec<Check> {
    let only = |v: &[u64]| v == [u64::from(cpu)];
    let show = |v: &[u64]| format!("{v:?}");
    let mut out = vec![Check::new(
        n::EXCLUSIVE_INSIDE,
        Status::pass_if(inside.affinity.as_deref().is_some_and(only) && only(&inside.cpus_used)),
        format!("a spinner in the exclusive cgroup sees and uses only CPU [{cpu}]"),
        format!(
            "affinity {}; used {}",
            inside.affinity.as_deref().map_or("not reported".into(), show),
            show(&inside.cpus_used)
        ),
        "",
    )];
    out.push(match outside {
        Outside::Spin(s) => {
            let has = |v: &[u64]| v.contains(&u64::from(cpu));
            Check::new(
                n::EXCLUSIVE_OUTSIDE,
                Status::pass_if(s.affinity.as_deref().is_some_and(|a| !has(a)) && !has(&s.cpus_used)),
                format!("a sandbox outside the partition neither sees nor uses CPU {cpu}"),
                format!(
                    "affinity {}; used {}",
                    s.affinity.as_deref().map_or("not reported".into(), show),
                    show(&s.cpus_used)
                ),
                "cpuset.cpus.partition = root takes the CPU out of every other cgroup's effective set",
            )
        }
        Outside::Claim(r) => Check::new(
            n::EXCLUSIVE_OUTSIDE,
            Status::pass_if(r.is_err()),
            format!("a sibling cpuset cannot claim CPU {cpu}"),
            match r {
                Ok(()) => "accepted".to_string(),
                Err(e) => format!("refused: {e}"),
            },
            "v1 cpu_exclusive stops siblings from claiming the CPU; tasks elsewhere are not moved off it",
        ),
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spin(affinity: Vec<u64>, used: Vec<u64>) -> Spin {
        Spin {
            threads: 2,
            wall_ns: 1,
            cpu_ns: 1,
            thread_cpu_ns: vec![],
            thread_wait_ns: None,
            cpus_used: used,
            affinity: Some(affinity),
        }
    }

    #[test]
    fn exclusive_verdicts() {
        let inside = spin(vec![1], vec![1]);
        let good = checks(1, &inside, &Outside::Spin(spin(vec![0], vec![0])));
        assert!(good.iter().all(|c| c.status == Status::Pass), "{good:?}");
        let leaked = checks(1, &inside, &Outside::Spin(spin(vec![0, 1], vec![0, 1])));
        assert_eq!(leaked[1].status, Status::Fail);
        let claimed = checks(1, &inside, &Outside::Claim(Ok(())));
        assert_eq!(claimed[1].status, Status::Fail);
        let refused = checks(1, &inside, &Outside::Claim(Err("EINVAL".into())));
        assert_eq!(refused[1].status, Status::Pass);
        let escaped = checks(1, &spin(vec![0, 1], vec![0]), &Outside::Claim(Err("x".into())));
        assert_eq!(escaped[0].status, Status::Fail);
    }
}
