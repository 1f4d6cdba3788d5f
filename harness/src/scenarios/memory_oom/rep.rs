//! One run of a variant: the hog (one process, or a group under
//! memory.oom.group, or one under oom_kill_disable) runs into the limit
//! while the watcher samples; the single variant has a bystander beside it.

use std::time::{Duration, Instant};

use crate::cgroup::{Cgroup, Limits, MemoryStats};
use crate::sandbox::event::{Event, Progress};
use crate::sandbox::{Exit, Running, SandboxSpec};
use crate::scenarios::memory::{self, MIB};
use crate::scenarios::{Ctx, ScenarioError};

use super::config::{Config, Variant};
use super::watch::{between, wait_empty, watch, Watch};
use super::skip;

/// Size of the bystander sandbox's own hog.
pub const BYSTANDER_BYTES: u64 = 8 * MIB;

/// The oom_kill_disable hang as observed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hang {
    /// Seconds from the limit hit to under_oom (None: never seen).
    pub(super) seen_after: Option<f64>,
    /// The hog was still alive and stuck `stall_ms` after under_oom.
    pub(super) stalled: bool,
    /// Seconds our kill took until the cgroup was empty.
    pub(super) kill_seconds: f64,
    /// Processes left in the cgroup after the kill.
    pub(super) left_after_kill: usize,
}

/// The sandbox beside the hog, after the OOM.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bystander {
    pub(super) alive: bool,
    pub(super) oom_kill: Option<u64>,
    pub(super) usage: Option<u64>,
}

/// One run of a variant.
#[derive(Debug, Clone, PartialEq)]
pub struct Rep {
    pub(super) exit: Exit,
    /// The hog allocated everything it asked for (the limit did not hold).
    pub(super) completed: bool,
    /// Counters after the leader's death (or after the kill).
    pub(super) stats: MemoryStats,
    pub(super) max_sampled: u64,
    /// Largest allocation the hog (any of its processes) reported.
    pub(super) hog_bytes: u64,
    /// Seconds from the first limit hit to the leader's death.
    pub(super) time_to_kill: Option<f64>,
    /// Seconds from the leader's death to an empty cgroup (None: not empty
    /// within the bound).
    pub(super) empty_after: Option<f64>,
    pub(super) hang: Option<Hang>,
    pub(super) bystander: Option<Bystander>,
    pub(super) series: Vec<[f64; 2]>,
}

impl Rep {
    /// Peak usage: the kernel's peak (true), else the largest sample.
    pub fn peak(&self) -> (u64, bool) {
        match self.stats.peak {
            Some(p) => (p, true),
            None => (self.max_sampled, false),
        }
    }
}

fn hog_spec(cfg: &Config, ctx: &Ctx, variant: Variant) -> SandboxSpec {
    let step = format!("{}K", cfg.step_kib);
    let (max, procs) = match variant {
        // Each process asks for the whole limit, so together they exceed it.
        Variant::OomGroup => (cfg.limit().to_string(), cfg.group_procs.to_string()),
        _ => (cfg.hog_max().to_string(), "1".to_string()),
    };
    let limits = Limits {
        oom_group: variant == Variant::OomGroup,
        oom_kill_disable: variant == Variant::OomKillDisable,
        ..memory::memory_max(cfg.limit())
    };
    let deadline = Duration::from_secs_f64(cfg.hang_seconds + cfg.kill_within_seconds + 30.0);
    let args = ["hog", "--step", &step, "--max", &max, "--procs", &procs];
    memory::sandbox(ctx, &args, limits, deadline)
}

/// A sandbox with its own small hog that holds its memory, under the same
/// limit, once it has allocated it.
fn launch_bystander(cfg: &Config, ctx: &Ctx) -> Result<Running, ScenarioError> {
    let max = BYSTANDER_BYTES.to_string();
    let args = [
        "hog",
        "--step",
        "1M",
        "--max",
        &max,
        "--hold-seconds",
        "600",
    ];
    let limits = memory::memory_max(cfg.limit());
    let spec = memory::sandbox(ctx, &args, limits, Duration::from_secs(60));
    let mut b = ctx.launch(&spec)?;
    b.wait_ready()?;
    let until = Instant::now() + Duration::from_secs(10);
    if !b.wait_event(until, |e| matches!(e, Event::HogDone(_)))? {
        return Err(ScenarioError::failed(
            "the bystander never finished allocating its memory",
        ));
    }
    Ok(b)
}

/// Watches the oom_kill_disable hog until it hangs (and the hang lasts),
/// then kills it.
fn hang(cfg: &Config, r: &mut Running) -> Result<(Watch, Hang), ScenarioError> {
    let until = Instant::now() + Duration::from_secs_f64(cfg.hang_seconds);
    let w = watch(r, until, cfg.near_limit(), true)?;
    let mut stalled = false;
    if w.under_oom.is_some() && w.died.is_none() {
        // A hang is a hang only if it lasts.
        let alive = !r.exited_within(Duration::from_millis(cfg.stall_ms));
        let s = r.cgroup().memory_stats()?;
        stalled = alive && s.under_oom == Some(true);
    }
    let t_kill = Instant::now();
    r.kill()?;
    let kill_seconds = t_kill.elapsed().as_secs_f64();
    let left = r.cgroup().pids()?.len();
    let seen_after = match (w.limit_hit, w.under_oom) {
        (None, Some(_)) => Some(0.0),
        (hit, hang) => between(hit, hang),
    };
    let hang = Hang {
        seen_after,
        stalled,
        kill_seconds,
        left_after_kill: left,
    };
    Ok((w, hang))
}

/// What the bystander looks like after the OOM beside it; tears it down.
fn bystander_after(b: Running) -> Result<Bystander, ScenarioError> {
    let bs = b.cgroup().memory_stats()?;
    let seen = Bystander {
        alive: !b.exited_within(Duration::ZERO),
        oom_kill: bs.events.oom_kill,
        usage: bs.current,
    };
    b.teardown()?;
    Ok(seen)
}

/// One run of a variant; a skip when the kernel cannot express it.
pub fn run_rep(cfg: &Config, ctx: &Ctx, variant: Variant) -> Result<Rep, ScenarioError> {
    let bystander = match variant {
        Variant::Single => Some(launch_bystander(cfg, ctx)?),
        _ => None,
    };
    let spec = hog_spec(cfg, ctx, variant);
    let mut r = memory::launch_or_skip(ctx, &spec, |why| skip(cfg, variant, why))?;
    r.wait_ready()?;
    let (w, hang) = match variant {
        Variant::OomKillDisable => {
            let (w, h) = hang(cfg, &mut r)?;
            (w, Some(h))
        }
        // Past the sandbox deadline a hog that never died has been killed.
        _ => (watch(&r, Instant::now() + spec.deadline, cfg.near_limit(), false)?, None),
    };
    let empty_after = match (variant, w.died) {
        (Variant::OomKillDisable, _) | (_, None) => None,
        (_, Some(_)) => wait_empty(&r, Duration::from_secs_f64(cfg.kill_within_seconds))?,
    };
    let stats = r.cgroup().memory_stats()?;
    let bystander = bystander.map(bystander_after).transpose()?;
    let exit = r.wait_exit()?;
    let events = std::mem::take(&mut r.events);
    r.teardown()?;
    let hog_bytes = crate::scenarios::memory::hog_reached(&events);
    // The leader's hog_done (children's carry "proc").
    let completed = events
        .iter()
        .any(|e| matches!(e, Event::HogDone(Progress { proc: None, .. })));
    Ok(Rep {
        exit,
        completed,
        stats,
        max_sampled: w.max_current,
        hog_bytes,
        time_to_kill: between(w.limit_hit, w.died),
        empty_after,
        hang,
        bystander,
        series: w.series,
    })
}
