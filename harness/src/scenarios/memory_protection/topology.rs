//! The selftest's cgroup tree, built beneath the run's own cgroups: A (a
//! fresh run cgroup with memory.max), B inside it, the children C–F inside
//! B and the sibling G inside A. Nested sandboxes come from [`Ctx::nested`]
//! (the run's cgroup set based at A or B), so they are named, launched, killed
//! and removed like every other sandbox; A and B are owned cgroups that
//! kill and remove themselves when dropped (also on error).

use std::path::Path;
use std::time::{Duration, Instant};

use isobench_reports::names::memory_protection as n;

use super::{CACHE_HOLDERS, CACHE_MIB, GROUP_PROTECTION_MIB, OVER_MIB, PARENT_MAX_MIB};
use super::{PRESSURE_MIB, PROTECTIONS_MIB};
use crate::cgroup::psi::{self, Pressure, Resource};
use crate::cgroup::{
    v2, Cgroup, CgroupError, CgroupSet, CgroupView, Controller, Limits, MemoryStats, SandboxCgroup,
};
use crate::sandbox::event::Event;
use crate::sandbox::{Exit, Running};
use crate::scenarios::memory::{self, MIB};
use crate::scenarios::{Ctx, ScenarioError};

/// Which protection the children get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// v2 memory.min: never reclaimed.
    Min,
    /// v2 memory.low: reclaimed only when nothing unprotected is left.
    Low,
    /// v1 memory.soft_limit_in_bytes.
    SoftLimit,
}

impl Kind {
    /// A v2 mode by its suite name.
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            n::MODE_MIN => Some(Kind::Min),
            n::MODE_LOW => Some(Kind::Low),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Min => n::MODE_MIN,
            Kind::Low => n::MODE_LOW,
            Kind::SoftLimit => n::MODE_SOFT_LIMIT,
        }
    }

    /// The control file it writes.
    pub fn file(self) -> &'static str {
        match self {
            Kind::Min => "memory.min",
            Kind::Low => "memory.low",
            Kind::SoftLimit => "memory.soft_limit_in_bytes",
        }
    }

    /// Limits that protect `bytes`.
    fn limits(self, bytes: u64) -> Limits {
        let mut l = Limits::default();
        match self {
            Kind::Min => l.memory_min = Some(bytes),
            Kind::Low => l.memory_low = Some(bytes),
            Kind::SoftLimit => l.memory_soft_limit = Some(bytes),
        }
        l
    }
}

/// One child's counters after the pressure (current) and at the end
/// (events).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Child {
    pub current: Option<u64>,
    pub low: Option<u64>,
    pub oom: Option<u64>,
}

/// What one run of the topology observed.
#[derive(Debug, Clone, PartialEq)]
pub struct Rep {
    pub kind: Kind,
    /// Bytes of cache each holder reported written (None: it never did).
    pub filled: Vec<Option<u64>>,
    /// B's memory.current when the pressure started, and whether it had
    /// reached ≈ 150M (the selftest's wait) by then.
    pub settled: Option<u64>,
    /// The sibling's 148M allocation ended so.
    pub pressure_exit: Exit,
    /// B's memory.current after it.
    pub group: Option<u64>,
    pub children: Vec<Child>,
    /// The sibling's 170M allocation ended so.
    pub over_exit: Exit,
    /// B's memory.current after that.
    pub group_after: Option<u64>,
    /// A had a swap limit of 0 (else swap, if any, may take anon pages).
    pub swap_limited: bool,
    /// A's memory pressure over both allocations: before, after, seconds;
    /// and where it was read.
    pub psi: Option<(Pressure, Pressure, f64, &'static str)>,
}

/// v2: lets `cg`'s children have the controllers the run drives (their
/// memory.min/low need memory enabled in the parent's subtree_control).
fn delegate(set: &CgroupSet, cg: &CgroupView) -> Result<(), CgroupError> {
    match (&cg.v2, set.on_v2(Controller::Memory)) {
        (Some(v), true) => v2::enable_controllers(&v.dir, &set.v2_controllers),
        _ => Ok(()),
    }
}

/// A's limits: memory.max 200M; swap 0 where the kernel accounts swap.
fn limit_parent(a: &SandboxCgroup) -> Result<bool, ScenarioError> {
    let max = memory::memory_max(PARENT_MAX_MIB * MIB);
    a.apply(&max)?;
    let no_swap = Limits {
        memory_swap_max: Some(0),
        ..max
    };
    match a.apply(&no_swap) {
        Ok(()) => Ok(true),
        Err(CgroupError::Unsupported(_)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// A workload sandbox as the selftest runs its helpers: a plain fork moved
/// into the cgroup, no namespaces (their kernel memory would be charged to
/// the tree and shift the figures by a few MiB); `--namespaces` still wins.
fn plain(ctx: &Ctx, args: &[&str], limits: Limits, deadline: Duration) -> crate::sandbox::SandboxSpec {
    let mut spec = memory::sandbox(ctx, args, limits, deadline);
    spec.namespaces = ctx.namespaces_or("none");
    spec
}

/// Waits until every holder reported its cache written (or its deadline).
fn wait_filled(holders: &mut [Running], until: Instant) -> Result<Vec<Option<u64>>, ScenarioError> {
    let mut out = Vec::new();
    for r in holders.iter_mut() {
        r.wait_event(until, |e| matches!(e, Event::PagecacheDone(_)))?;
        out.push(r.events.iter().find_map(|e| match e {
            Event::PagecacheDone(p) => Some(p.bytes),
            _ => None,
        }));
    }
    Ok(out)
}

/// B's memory.current, polled until it is close to `want` (the selftest's
/// wait) or `seconds` passed; the last reading.
fn settle(b: &CgroupView, want: u64, seconds: f64) -> Result<Option<u64>, ScenarioError> {
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    loop {
        let cur = b.memory_stats()?.current;
        let close = cur.is_some_and(|c| super::checks::values_close(c, want, 3));
        if close || Instant::now() >= until {
            return Ok(cur);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The sibling's allocation of `mib` in G (its own cap is A's limit, so it
/// is bounded like every hog); how it ended.
fn allocate(ctx_a: &Ctx, mib: u64) -> Result<Exit, ScenarioError> {
    let max = (mib * MIB).to_string();
    let args = ["hog", "--step", "1M", "--max", &max];
    let spec = plain(
        ctx_a,
        &args,
        memory::memory_max(PARENT_MAX_MIB * MIB),
        Duration::from_secs(120),
    );
    let mut r = ctx_a.launch(&spec)?;
    r.wait_ready()?;
    let exit = r.wait_exit()?;
    r.teardown()?;
    Ok(exit)
}

/// Runs the topology once with `kind` protections; everything it created
/// is gone when it returns (also on error).
pub fn run(ctx: &Ctx, kind: Kind, dir: &Path, settle_seconds: f64) -> Result<Rep, ScenarioError> {
    let a = ctx.create_cgroup()?;
    let swap_limited = limit_parent(&a)?;
    delegate(&ctx.set, &a)?;
    let ctx_a = ctx.nested(&a);
    let b = ctx_a.set.create(u32::MAX)?;
    delegate(&ctx.set, &b)?;
    b.apply(&kind.limits(GROUP_PROTECTION_MIB * MIB))?;
    let ctx_b = ctx.nested(&b);
    let (cache, d) = ((CACHE_MIB * MIB).to_string(), dir.to_string_lossy().into_owned());
    let hold_args = [
        "pagecache", "--bytes", &cache, "--dir", &d, "--hold-seconds", "600",
    ];
    let mut holders: Vec<Running> = Vec::new();
    let mut empty: Vec<SandboxCgroup> = Vec::new();
    for (i, p) in PROTECTIONS_MIB.iter().enumerate() {
        let limits = kind.limits(p * MIB);
        if i < CACHE_HOLDERS {
            let spec = plain(ctx, &hold_args, limits, Duration::from_secs(600));
            let mut r = ctx_b.launch(&spec)?;
            r.wait_ready()?;
            holders.push(r);
        } else {
            // F: a protected cgroup with nothing in it.
            let f = ctx_b.set.create(u32::MAX - i as u32)?;
            f.apply(&limits)?;
            empty.push(f);
        }
    }
    let filled = wait_filled(&mut holders, Instant::now() + Duration::from_secs(120))?;
    let want = CACHE_MIB * MIB * CACHE_HOLDERS as u64;
    let settled = settle(&b, want, settle_seconds)?;
    let psi_src = psi::source(&a, ctx.set.mode);
    let read_psi = || psi_src.as_ref().and_then(|(d, _)| psi::read(d, Resource::Memory));
    let (psi_before, t0) = (read_psi(), Instant::now());
    let pressure_exit = allocate(&ctx_a, PRESSURE_MIB)?;
    let group = b.memory_stats()?.current;
    let mut currents = Vec::new();
    for r in &holders {
        currents.push(r.cgroup().memory_stats()?.current);
    }
    for f in &empty {
        currents.push(f.memory_stats()?.current);
    }
    let over_exit = allocate(&ctx_a, OVER_MIB)?;
    let group_after = b.memory_stats()?.current;
    let psi = match (psi_before, read_psi(), &psi_src) {
        (Some(x), Some(y), Some((_, what))) => Some((x, y, t0.elapsed().as_secs_f64(), *what)),
        _ => None,
    };
    let mut events: Vec<MemoryStats> = Vec::new();
    for r in &holders {
        events.push(r.cgroup().memory_stats()?);
    }
    for f in &empty {
        events.push(f.memory_stats()?);
    }
    let children = currents
        .iter()
        .zip(&events)
        .map(|(c, e)| Child {
            current: *c,
            low: e.events.low,
            oom: e.events.oom,
        })
        .collect();
    for r in holders {
        r.teardown()?;
    }
    for f in empty {
        f.destroy()?;
    }
    b.destroy()?;
    a.destroy()?;
    Ok(Rep {
        kind,
        filled,
        settled,
        pressure_exit,
        group,
        children,
        over_exit,
        group_after,
        swap_limited,
        psi,
    })
}
