//! memory-oom: does the memory limit hold, and how does the cgroup OOM killer
//! end a hog? An anonymous hog runs into memory.max (v1 limit_in_bytes):
//! it must die of SIGKILL, the peak must stay within the limit, the kill must
//! be counted once, and a sandbox beside it must live on. Variants: a
//! multi-process hog under memory.oom.group (v2; all die together) and v1's
//! oom_kill_disable (the hog hangs; the hang is detected, reported, killed).

use std::collections::BTreeMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use isobench_reports::{Better, Check, Metric, ScenarioResult, Status};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{merge_over, Ctx, Level};
use crate::cgroup::{Cgroup, CgroupError, Controller, Limits, MemoryStats};
use crate::sandbox::{Exit, LaunchError, Running, SandboxSpec};

pub const ABOUT: &str =
    "cgroup OOM killer: anonymous hog into the memory limit; SIGKILL, peak vs limit, oom_kill counted once, time to kill, bystander survives; oom.group (v2) and oom_kill_disable (v1) variants";

const MIB: u64 = 1 << 20;

/// How often the watcher samples counters while the hog runs.
const WATCH_INTERVAL: Duration = Duration::from_micros(500);

/// Size of the bystander sandbox's own hog.
const BYSTANDER_BYTES: u64 = 8 * MIB;

/// The behaviours this scenario can exercise.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// One process hogs past the limit; a bystander sandbox runs beside it.
    Single,
    /// Several processes under memory.oom.group=1 (v2): all die together.
    OomGroup,
    /// v1 memory.oom_control oom_kill_disable=1: the hog hangs at the limit.
    OomKillDisable,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Single => "single",
            Variant::OomGroup => "oom-group",
            Variant::OomKillDisable => "oom-kill-disable",
        }
    }
}

/// Parameters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Which variants to run.
    pub variants: Vec<Variant>,
    /// memory.max of the hog's sandbox, MiB.
    pub limit_mib: u64,
    /// Hog allocation step, KiB.
    pub step_kib: u64,
    /// The hog asks for this many times the limit.
    pub overshoot: f64,
    /// Processes of the oom-group hog.
    pub group_procs: u32,
    /// Repetitions of each variant.
    pub repetitions: u32,
    /// Peak may exceed the limit by this much (percent of the limit).
    pub peak_slack_pct: f64,
    /// Bound on limit-hit → death, and on a kill leaving the cgroup empty.
    pub kill_within_seconds: f64,
    /// How long to wait for the oom_kill_disable hang (under_oom) to show.
    pub hang_seconds: f64,
    /// How long a detected hang must persist before it is reported as one.
    pub stall_ms: u64,
}

impl Config {
    /// Built-in defaults of a suite level.
    pub fn level(level: Level) -> Self {
        let base = Config {
            variants: vec![Variant::Single, Variant::OomGroup, Variant::OomKillDisable],
            limit_mib: 64,
            step_kib: 1024,
            overshoot: 4.0,
            group_procs: 4,
            repetitions: 2,
            peak_slack_pct: 2.0,
            kill_within_seconds: 5.0,
            hang_seconds: 5.0,
            stall_ms: 200,
        };
        match level {
            Level::Quick => base,
            Level::Default => Config {
                repetitions: 5,
                ..base
            },
        }
    }

    /// Level defaults overridden by a suite-file section, then validated.
    pub fn parse(level: Level, table: Option<&toml::Table>) -> Result<Self, String> {
        let c: Config = merge_over("memory-oom", &Self::level(level), table)?;
        c.validate()?;
        Ok(c)
    }

    /// Rejects values that cannot produce a meaningful OOM.
    pub fn validate(&self) -> Result<(), String> {
        let e = |m: String| Err(format!("[memory-oom]: {m}"));
        if self.variants.is_empty() {
            return e("variants must not be empty (single, oom-group, oom-kill-disable)".into());
        }
        if !(8..=4096).contains(&self.limit_mib) {
            return e(format!(
                "limit-mib {} is outside 8 – 4096 (small enough to be quick and safe, large enough to hold the workload)",
                self.limit_mib
            ));
        }
        if self.step_kib < 4 || self.step_kib.saturating_mul(1024) > self.limit_mib.saturating_mul(MIB) / 4 {
            return e(format!(
                "step-kib {} must be at least 4 and at most a quarter of limit-mib ({} KiB)",
                self.step_kib,
                self.limit_mib.saturating_mul(256)
            ));
        }
        if !(1.5..=16.0).contains(&self.overshoot) {
            return e(format!(
                "overshoot {} is outside 1.5 – 16 (the hog must clearly exceed the limit)",
                self.overshoot
            ));
        }
        if !(2..=64).contains(&self.group_procs) {
            return e(format!(
                "group-procs {} is outside 2 – 64",
                self.group_procs
            ));
        }
        if self.repetitions == 0 || self.repetitions > 100 {
            return e("repetitions must be 1 – 100".into());
        }
        if !(0.0..=50.0).contains(&self.peak_slack_pct) {
            return e(format!(
                "peak-slack-pct {} is outside 0 – 50",
                self.peak_slack_pct
            ));
        }
        if !(0.1..=60.0).contains(&self.kill_within_seconds) {
            return e(format!(
                "kill-within-seconds {} is outside 0.1 – 60",
                self.kill_within_seconds
            ));
        }
        if !(0.1..=60.0).contains(&self.hang_seconds) {
            return e(format!(
                "hang-seconds {} is outside 0.1 – 60",
                self.hang_seconds
            ));
        }
        if !(10..=10_000).contains(&self.stall_ms) {
            return e(format!("stall-ms {} is outside 10 – 10000", self.stall_ms));
        }
        Ok(())
    }

    fn limit(&self) -> u64 {
        self.limit_mib * MIB
    }

    fn hog_max(&self) -> u64 {
        (self.limit() as f64 * self.overshoot) as u64
    }

    fn slack(&self) -> u64 {
        (self.limit() as f64 * self.peak_slack_pct / 100.0) as u64
    }
}

/// Meaning of each parameter, for `isobench list`.
pub const ABOUT_PARAMS: &[(&str, &str)] = &[
    ("variants", "single, oom-group (v2), oom-kill-disable (v1)"),
    ("limit-mib", "memory limit of the hog's sandbox"),
    ("step-kib", "hog allocation step"),
    ("overshoot", "hog asks for this × the limit"),
    ("group-procs", "processes of the oom-group hog"),
    ("repetitions", "runs of each variant"),
    ("peak-slack-pct", "peak may exceed the limit by this"),
    (
        "kill-within-seconds",
        "bound on limit hit → death and on kill → empty",
    ),
    ("hang-seconds", "wait for the oom_kill_disable hang"),
    ("stall-ms", "a hang must persist this long"),
];

/// A pidfd of our own on a sandbox's leader: readable once the leader has
/// exited, without reaping it (its `Running` still does that).
struct LeaderFd(OwnedFd);

impl LeaderFd {
    fn open(pid: i32) -> Result<Self, String> {
        // SAFETY: pidfd_open on our own, not yet reaped, child.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if fd < 0 {
            return Err(format!(
                "pidfd_open({pid}): {}",
                std::io::Error::last_os_error()
            ));
        }
        // SAFETY: a fresh fd we own.
        Ok(LeaderFd(unsafe { OwnedFd::from_raw_fd(fd as i32) }))
    }

    /// Waits up to `timeout` for the leader's exit; true once it exited.
    fn exited_within(&self, timeout: Duration) -> bool {
        let mut p = libc::pollfd {
            fd: self.0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ts = libc::timespec {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
        };
        // SAFETY: ppoll on one valid pollfd with a valid timeout.
        let n = unsafe { libc::ppoll(&mut p, 1, &ts, std::ptr::null()) };
        n > 0 && p.revents != 0
    }
}

/// Waits for a workload event named `name` (reading reports meanwhile);
/// false when the report stream ended or `until` passed first.
fn wait_event(r: &mut Running, name: &str, until: Instant) -> Result<bool, String> {
    loop {
        if r.events.iter().any(|e| e["event"] == name) {
            return Ok(true);
        }
        if let Some(sig) = crate::interrupt::requested() {
            return Err(format!("interrupted by signal {sig}"));
        }
        let Some(fd) = r.report.raw_fd() else {
            return Ok(false);
        };
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        let mut p = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = left.as_millis().clamp(1, 50) as i32;
        // SAFETY: poll on one valid pollfd.
        if unsafe { libc::poll(&mut p, 1, ms) } > 0 {
            let ev = r.report.read_once();
            r.events.extend(ev);
        }
    }
}

/// What the watcher saw while the hog ran, on the parent's clock.
#[derive(Debug, Default)]
struct Watch {
    /// First sample showing the limit was hit (failcnt / memory.events max).
    limit_hit: Option<Instant>,
    /// The leader's exit.
    died: Option<Instant>,
    /// First sample with under_oom (v1, oom_kill_disable).
    under_oom: Option<Instant>,
    max_current: u64,
    /// [t s, usage MiB] since the watch started, when usage changed.
    series: Vec<[f64; 2]>,
}

/// True once the cgroup ran into its limit: the kernel counted a limit hit
/// (failcnt / memory.events max), or usage is within one hog step of the
/// limit (runtimes that set v1 memsw equal to the limit hit memsw first,
/// leaving memory.failcnt at 0).
fn limit_was_hit(s: &MemoryStats, near: u64) -> bool {
    s.events.max.unwrap_or(0) > 0 || s.failcnt.unwrap_or(0) > 0 || s.current.unwrap_or(0) >= near
}

/// Samples memory counters until the leader dies (or a hang shows, when
/// `stop_on_hang`), or `until`.
fn watch(
    r: &Running,
    leader: &LeaderFd,
    until: Instant,
    near: u64,
    stop_on_hang: bool,
) -> Result<Watch, String> {
    let t0 = Instant::now();
    let mut w = Watch::default();
    let mut last = None;
    loop {
        if let Some(sig) = crate::interrupt::requested() {
            return Err(format!("interrupted by signal {sig}"));
        }
        let s = r.cgroup().memory_stats().map_err(|e| e.to_string())?;
        let now = Instant::now();
        if w.limit_hit.is_none() && limit_was_hit(&s, near) {
            w.limit_hit = Some(now);
        }
        let cur = s.current.unwrap_or(0);
        w.max_current = w.max_current.max(cur);
        if last != Some(cur) {
            w.series
                .push([(now - t0).as_secs_f64(), cur as f64 / MIB as f64]);
            last = Some(cur);
        }
        if s.under_oom == Some(true) && w.under_oom.is_none() {
            w.under_oom = Some(now);
            if stop_on_hang {
                return Ok(w);
            }
        }
        if leader.exited_within(WATCH_INTERVAL) {
            w.died = Some(Instant::now());
            return Ok(w);
        }
        if now >= until {
            return Ok(w);
        }
    }
}

/// The oom_kill_disable hang as observed.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Hang {
    /// Seconds from the limit hit to under_oom (None: never seen).
    seen_after: Option<f64>,
    /// The hog was still alive and stuck `stall_ms` after under_oom.
    stalled: bool,
    /// Seconds our kill took until the cgroup was empty.
    kill_seconds: f64,
    /// Processes left in the cgroup after the kill.
    left_after_kill: usize,
}

/// The sandbox beside the hog, after the OOM.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bystander {
    alive: bool,
    oom_kill: Option<u64>,
    usage: Option<u64>,
}

/// One run of a variant.
#[derive(Debug, Clone, PartialEq)]
struct Rep {
    exit: Exit,
    /// The hog allocated everything it asked for (the limit did not hold).
    completed: bool,
    /// Counters after the leader's death (or after the kill).
    stats: MemoryStats,
    max_sampled: u64,
    /// Largest allocation the hog (any of its processes) reported.
    hog_bytes: u64,
    /// Seconds from the first limit hit to the leader's death.
    time_to_kill: Option<f64>,
    /// Seconds from the leader's death to an empty cgroup (None: not empty
    /// within the bound).
    empty_after: Option<f64>,
    hang: Option<Hang>,
    bystander: Option<Bystander>,
    series: Vec<[f64; 2]>,
}

fn launch_err(e: LaunchError) -> Result<Running, String> {
    Err(e.to_string())
}

/// A variant the kernel cannot express: the skip reason.
fn unsupported(e: &LaunchError) -> Option<String> {
    match e {
        LaunchError::Cgroup(CgroupError::Unsupported(why)) => Some(why.clone()),
        _ => None,
    }
}

fn hog_spec(cfg: &Config, ctx: &Ctx, variant: Variant) -> SandboxSpec {
    let step = format!("{}K", cfg.step_kib);
    let (max, procs) = match variant {
        // Each process asks for the whole limit, so together they exceed it.
        Variant::OomGroup => (cfg.limit().to_string(), cfg.group_procs.to_string()),
        _ => (cfg.hog_max().to_string(), "1".to_string()),
    };
    let mut spec =
        SandboxSpec::workload(&["hog", "--step", &step, "--max", &max, "--procs", &procs]);
    spec.namespaces = ctx.namespaces_or("pid,mnt,uts,ipc");
    spec.limits = Limits {
        memory_max: Some(cfg.limit()),
        oom_group: variant == Variant::OomGroup,
        oom_kill_disable: variant == Variant::OomKillDisable,
        ..Default::default()
    };
    spec.deadline = Duration::from_secs_f64(cfg.hang_seconds + cfg.kill_within_seconds + 30.0);
    spec
}

fn largest_hog(events: &[serde_json::Value]) -> u64 {
    events
        .iter()
        .filter(|e| e["event"] == "hog")
        .filter_map(|e| e["bytes"].as_u64())
        .max()
        .unwrap_or(0)
}

/// Polls until the cgroup is empty; the seconds it took, or None past `bound`.
fn wait_empty(r: &Running, bound: Duration) -> Result<Option<f64>, String> {
    let t = Instant::now();
    loop {
        if let Some(sig) = crate::interrupt::requested() {
            return Err(format!("interrupted by signal {sig}"));
        }
        if r.cgroup().pids().map_err(|e| e.to_string())?.is_empty() {
            return Ok(Some(t.elapsed().as_secs_f64()));
        }
        if t.elapsed() > bound {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn launch_bystander(cfg: &Config, ctx: &Ctx) -> Result<Running, String> {
    let max = BYSTANDER_BYTES.to_string();
    let mut spec = SandboxSpec::workload(&[
        "hog",
        "--step",
        "1M",
        "--max",
        &max,
        "--hold-seconds",
        "600",
    ]);
    spec.namespaces = ctx.namespaces_or("pid,mnt,uts,ipc");
    spec.limits = Limits {
        memory_max: Some(cfg.limit()),
        ..Default::default()
    };
    spec.deadline = Duration::from_secs(60);
    let mut b = ctx.launch(&spec).or_else(launch_err)?;
    b.wait_ready().map_err(|e| e.to_string())?;
    if !wait_event(&mut b, "hog_done", Instant::now() + Duration::from_secs(10))? {
        return Err("the bystander never finished allocating its memory".into());
    }
    Ok(b)
}

/// One run of a variant; Ok(Err(reason)) when the kernel cannot express it.
fn run_rep(cfg: &Config, ctx: &Ctx, variant: Variant) -> Result<Result<Rep, String>, String> {
    let bystander = match variant {
        Variant::Single => Some(launch_bystander(cfg, ctx)?),
        _ => None,
    };
    let spec = hog_spec(cfg, ctx, variant);
    let mut r = match ctx.launch(&spec) {
        Ok(r) => r,
        Err(e) => {
            return match unsupported(&e) {
                Some(why) => Ok(Err(why)),
                None => Err(e.to_string()),
            }
        }
    };
    let leader = LeaderFd::open(r.pid)?;
    r.wait_ready().map_err(|e| e.to_string())?;
    let bound = Duration::from_secs_f64(cfg.kill_within_seconds);
    let near = cfg.limit().saturating_sub(cfg.step_kib * 1024);
    let (w, hang) = if variant == Variant::OomKillDisable {
        let hang_wait = Duration::from_secs_f64(cfg.hang_seconds);
        let w = watch(&r, &leader, Instant::now() + hang_wait, near, true)?;
        let mut stalled = false;
        if w.under_oom.is_some() && w.died.is_none() {
            // A hang is a hang only if it lasts.
            let alive = !leader.exited_within(Duration::from_millis(cfg.stall_ms));
            let s = r.cgroup().memory_stats().map_err(|e| e.to_string())?;
            stalled = alive && s.under_oom == Some(true);
        }
        let t_kill = Instant::now();
        r.kill().map_err(|e| e.to_string())?;
        let kill_seconds = t_kill.elapsed().as_secs_f64();
        let left = r.cgroup().pids().map_err(|e| e.to_string())?.len();
        let seen_after = match (w.limit_hit, w.under_oom) {
            (Some(a), Some(b)) => Some(b.saturating_duration_since(a).as_secs_f64()),
            (None, Some(_)) => Some(0.0),
            _ => None,
        };
        let hang = Hang {
            seen_after,
            stalled,
            kill_seconds,
            left_after_kill: left,
        };
        (w, Some(hang))
    } else {
        // Past the sandbox deadline a hog that never died has been killed.
        let w = watch(&r, &leader, Instant::now() + spec.deadline, near, false)?;
        (w, None)
    };
    let empty_after = match (variant, w.died) {
        (Variant::OomKillDisable, _) | (_, None) => None,
        (_, Some(_)) => wait_empty(&r, bound)?,
    };
    let stats = r.cgroup().memory_stats().map_err(|e| e.to_string())?;
    let bystander = match bystander {
        Some(b) => {
            let bl = LeaderFd::open(b.pid)?;
            let bs = b.cgroup().memory_stats().map_err(|e| e.to_string())?;
            let seen = Bystander {
                alive: !bl.exited_within(Duration::ZERO),
                oom_kill: bs.events.oom_kill,
                usage: bs.current,
            };
            b.teardown().map_err(|e| e.to_string())?;
            Some(seen)
        }
        None => None,
    };
    let exit = r.wait_exit().map_err(|e| e.to_string())?;
    let hog_bytes = largest_hog(&r.events);
    // The leader's hog_done (children's carry "proc").
    let completed = r
        .events
        .iter()
        .any(|e| e["event"] == "hog_done" && e.get("proc").is_none());
    r.teardown().map_err(|e| e.to_string())?;
    let time_to_kill = match (w.limit_hit, w.died) {
        (Some(a), Some(b)) => Some(b.saturating_duration_since(a).as_secs_f64()),
        _ => None,
    };
    Ok(Ok(Rep {
        exit,
        completed,
        stats,
        max_sampled: w.max_current,
        hog_bytes,
        time_to_kill,
        empty_after,
        hang,
        bystander,
        series: w.series,
    }))
}

/// Why the memory controller's cgroup version rules a variant out (so no
/// launcher is asked for a knob that does not exist here).
fn wrong_version(ctx: &Ctx, variant: Variant) -> Option<String> {
    let on_v2 = ctx.set.on_v2(Controller::Memory);
    match variant {
        Variant::Single => None,
        Variant::OomGroup => (!on_v2).then(|| {
            format!(
                "memory.oom.group exists only on cgroup v2; the memory controller here is on v1 (mode {})",
                ctx.set.mode.as_str()
            )
        }),
        Variant::OomKillDisable => on_v2.then(|| {
            "oom_kill_disable exists only on cgroup v1; the memory controller here is on v2".to_string()
        }),
    }
}

/// Runs every configured variant; one result per variant.
pub fn run(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, String> {
    let mut out = Vec::new();
    for &variant in &cfg.variants {
        if let Some(why) = wrong_version(ctx, variant) {
            out.push(skipped(cfg, variant, &why, &ctx.launcher));
            continue;
        }
        let mut reps = Vec::new();
        let mut skip = None;
        let mut error = None;
        for _ in 0..cfg.repetitions {
            if let Some(sig) = crate::interrupt::requested() {
                return Err(format!("interrupted by signal {sig}"));
            }
            match run_rep(cfg, ctx, variant) {
                Ok(Ok(rep)) => reps.push(rep),
                Ok(Err(why)) => {
                    skip = Some(why);
                    break;
                }
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        let mut res = match skip {
            Some(why) => skipped(cfg, variant, &why, &ctx.launcher),
            None => variant_result(cfg, variant, &reps, &ctx.launcher),
        };
        res.error = error;
        out.push(res);
    }
    Ok(out)
}

fn params(cfg: &Config, variant: Variant) -> serde_json::Map<String, serde_json::Value> {
    let mut p = serde_json::Map::new();
    p.insert("variant".into(), json!(variant.name()));
    p.insert("limit_mib".into(), json!(cfg.limit_mib));
    p.insert("step_kib".into(), json!(cfg.step_kib));
    match variant {
        Variant::OomGroup => {
            p.insert("procs".into(), json!(cfg.group_procs));
            p.insert("hog_mib_per_proc".into(), json!(cfg.limit_mib));
        }
        _ => {
            p.insert("hog_mib".into(), json!(cfg.hog_max() / MIB));
        }
    }
    p
}

fn skipped(cfg: &Config, variant: Variant, why: &str, launcher: &str) -> ScenarioResult {
    let what = match variant {
        Variant::Single => "hog killed at the memory limit",
        Variant::OomGroup => "memory.oom.group=1 kills every process of the hog together",
        Variant::OomKillDisable => "oom_kill_disable=1 makes the hog hang at the limit",
    };
    ScenarioResult {
        name: "memory-oom".into(),
        launcher: launcher.to_string(),
        launcher_spec: None,
        params: params(cfg, variant),
        metrics: Vec::new(),
        checks: vec![Check::new(
            variant.name(),
            Status::Skip,
            what,
            "not run",
            format!("this kernel's cgroup setup cannot express it: {why}"),
        )],
        series: BTreeMap::new(),
        error: None,
    }
}

fn mib(b: u64) -> String {
    format!("{:.2} MiB", b as f64 / MIB as f64)
}

fn join<T>(v: &[T], f: impl Fn(&T) -> String) -> String {
    v.iter().map(f).collect::<Vec<_>>().join(", ")
}

fn opt(v: Option<u64>) -> String {
    v.map_or("n/a".into(), |x| x.to_string())
}

/// Peak usage of a run: the kernel's peak, else the largest sample.
fn peak_of(r: &Rep) -> (u64, bool) {
    match r.stats.peak {
        Some(p) => (p, true),
        None => (r.max_sampled, false),
    }
}

fn check_killed(reps: &[Rep], what: &str) -> Check {
    let killed = |r: &Rep| r.exit.is_sigkill();
    let completed = reps.iter().any(|r| r.completed || r.exit == Exit::Code(0));
    // A wrapper may swallow the signal; the kernel's count still shows it.
    let masked = |r: &Rep| !killed(r) && !r.completed && r.stats.events.oom_kill.unwrap_or(0) > 0;
    let status = if reps.iter().all(killed) {
        Status::Pass
    } else if !completed && reps.iter().all(|r| killed(r) || masked(r)) {
        Status::Warn
    } else {
        Status::Fail
    };
    Check::new(
        "killed_by_sigkill",
        status,
        format!("{what} ends with SIGKILL (signal 9, or exit 137 through a wrapper) in every run"),
        join(reps, |r| r.exit.to_string()),
        match status {
            _ if completed => {
                "the hog completed its allocation: the memory limit was not enforced"
            }
            Status::Warn => {
                "the launcher did not pass the SIGKILL on although the kernel counted the OOM kill: its callers cannot tell an OOM kill from a failure"
            }
            _ => "",
        },
    )
}

fn check_peak(cfg: &Config, reps: &[Rep]) -> Check {
    let limit = cfg.limit();
    let slack = cfg.slack();
    let (peak, from_kernel) = reps
        .iter()
        .map(peak_of)
        .max_by_key(|p| p.0)
        .unwrap_or((0, true));
    let ok = peak <= limit + slack;
    Check::new(
        "peak_within_limit",
        if ok { Status::Pass } else { Status::Fail },
        format!(
            "peak ≤ limit {} + slack {} ({}%)",
            mib(limit),
            mib(slack),
            cfg.peak_slack_pct
        ),
        format!(
            "peak {} ({} bytes; {:+} bytes vs the limit); per run {}",
            mib(peak),
            peak,
            peak as i64 - limit as i64,
            join(reps, |r| mib(peak_of(r).0))
        ),
        if from_kernel {
            "peak from memory.peak (v2) / memory.max_usage_in_bytes (v1)"
        } else {
            "this kernel has no peak counter: largest sampled usage"
        },
    )
}

fn check_time_to_kill(cfg: &Config, reps: &[Rep]) -> Check {
    let t: Vec<Option<f64>> = reps.iter().map(|r| r.time_to_kill).collect();
    let resolved: Vec<f64> = t.iter().flatten().copied().collect();
    let worst = resolved.iter().copied().fold(0.0, f64::max);
    let status = if resolved.len() < t.len() {
        Status::Warn
    } else if worst <= cfg.kill_within_seconds {
        Status::Pass
    } else {
        Status::Fail
    };
    Check::new(
        "time_to_kill",
        status,
        format!(
            "limit first hit → hog dead within {} s",
            cfg.kill_within_seconds
        ),
        format!(
            "worst {:.2} ms; per run {}",
            worst * 1e3,
            join(&t, |x| x.map_or("unresolved".into(), |s| format!(
                "{:.2} ms",
                s * 1e3
            )))
        ),
        format!(
            "limit hit = first sample with failcnt (v1) / memory.events max (v2) > 0, sampled every {} µs; death = pidfd readable",
            WATCH_INTERVAL.as_micros()
        ),
    )
}

fn check_oom_once(reps: &[Rep]) -> Check {
    let counts: Vec<Option<u64>> = reps.iter().map(|r| r.stats.events.oom_kill).collect();
    if counts.iter().any(Option::is_none) {
        return Check::new(
            "oom_kill_counted_once",
            Status::Skip,
            "oom_kill = 1 per run",
            format!(
                "no oom_kill counter; failcnt / max events {}",
                join(reps, |r| opt(r.stats.events.max.or(r.stats.failcnt)))
            ),
            "this kernel reports no oom_kill counter (v1 memory.oom_control needs 4.13+)",
        );
    }
    let ok = counts.iter().all(|c| *c == Some(1));
    Check::new(
        "oom_kill_counted_once",
        if ok { Status::Pass } else { Status::Fail },
        "oom_kill = 1 per run (v2 memory.events / v1 memory.oom_control)",
        format!("oom_kill {}", join(&counts, |c| opt(*c))),
        format!(
            "limit hits (failcnt / max events) {}",
            join(reps, |r| opt(r.stats.events.max.or(r.stats.failcnt)))
        ),
    )
}

fn check_bystander(reps: &[Rep]) -> Check {
    let b: Vec<Bystander> = reps.iter().filter_map(|r| r.bystander).collect();
    let ok = !b.is_empty()
        && b.len() == reps.len()
        && b.iter().all(|b| b.alive && b.oom_kill.unwrap_or(0) == 0);
    Check::new(
        "bystander_survives",
        if ok { Status::Pass } else { Status::Fail },
        format!(
            "a sandbox beside the hog (own {} hog, same limit) is alive after the OOM, oom_kill 0",
            mib(BYSTANDER_BYTES)
        ),
        join(&b, |b| {
            format!(
                "{}, oom_kill {}, usage {}",
                if b.alive { "alive" } else { "dead" },
                opt(b.oom_kill),
                b.usage.map_or("n/a".into(), mib)
            )
        }),
        "",
    )
}

fn check_group(cfg: &Config, reps: &[Rep]) -> Vec<Check> {
    let procs = u64::from(cfg.group_procs);
    let ok = reps.iter().all(|r| {
        let kills = r.stats.events.oom_kill.unwrap_or(0);
        match r.stats.events.oom_group_kill {
            // The kernel's own word for a group kill. Members whose memory
            // is already gone when the group is scanned ("OOM victim … is
            // already exiting. Skip") are not counted in oom_kill, so it
            // may fall short of the members; all_died_together checks
            // that every one is gone.
            Some(g) => g == 1 && kills >= 1,
            None => kills >= procs,
        }
    });
    let bound = cfg.kill_within_seconds;
    let empty_ok = reps.iter().all(|r| r.empty_after.is_some());
    vec![
        Check::new(
            "group_killed",
            if ok { Status::Pass } else { Status::Fail },
            format!(
                "oom_group_kill = 1 per run (a group kill; without that counter, oom_kill ≥ {procs}: every process killed by the OOM killer)"
            ),
            format!(
                "oom_group_kill {}; oom_kill {}",
                join(reps, |r| opt(r.stats.events.oom_group_kill)),
                join(reps, |r| opt(r.stats.events.oom_kill))
            ),
            "oom_group_kill n/a = kernel without the counter: oom_kill alone decides",
        ),
        Check::new(
            "all_died_together",
            if empty_ok { Status::Pass } else { Status::Fail },
            format!("cgroup empty within {bound} s of the leader's death"),
            join(reps, |r| {
                r.empty_after
                    .map_or(format!("not empty after {bound} s"), |s| {
                        format!("{:.2} ms", s * 1e3)
                    })
            }),
            "",
        ),
    ]
}

fn check_hang(cfg: &Config, reps: &[Rep]) -> Vec<Check> {
    let hangs: Vec<Hang> = reps.iter().filter_map(|r| r.hang).collect();
    let killed_by_oom = reps
        .iter()
        .any(|r| r.stats.events.oom_kill.unwrap_or(0) > 0);
    let ok = hangs.len() == reps.len()
        && !killed_by_oom
        && hangs.iter().all(|h| h.seen_after.is_some() && h.stalled);
    let detail = if killed_by_oom {
        "the OOM killer ran although oom_kill_disable=1".to_string()
    } else if hangs.iter().any(|h| h.seen_after.is_none()) {
        format!("under_oom never showed within {} s", cfg.hang_seconds)
    } else {
        "observed behaviour: with the OOM killer disabled the hog sleeps in the page-fault path until killed"
            .to_string()
    };
    let bound = cfg.kill_within_seconds;
    let killed_ok = hangs
        .iter()
        .all(|h| h.left_after_kill == 0 && h.kill_seconds <= bound)
        && reps.iter().all(|r| r.exit.is_sigkill());
    vec![
        Check::new(
            "hang_detected",
            if ok { Status::Pass } else { Status::Fail },
            format!(
                "under_oom = 1 within {} s, hog alive and stuck {} ms later, oom_kill 0",
                cfg.hang_seconds, cfg.stall_ms
            ),
            format!(
                "under_oom after {}; stuck {}; oom_kill {}; usage peak {}",
                join(&hangs, |h| h
                    .seen_after
                    .map_or("never".into(), |s| format!("{:.2} ms", s * 1e3))),
                join(&hangs, |h| h.stalled.to_string()),
                join(reps, |r| opt(r.stats.events.oom_kill)),
                join(reps, |r| mib(peak_of(r).0))
            ),
            detail,
        ),
        Check::new(
            "hung_sandbox_killed",
            if killed_ok {
                Status::Pass
            } else {
                Status::Fail
            },
            format!("SIGKILL empties the hung cgroup within {bound} s"),
            format!(
                "{}; left {}; exit {}",
                join(&hangs, |h| format!("{:.2} ms", h.kill_seconds * 1e3)),
                join(&hangs, |h| h.left_after_kill.to_string()),
                join(reps, |r| r.exit.to_string())
            ),
            "",
        ),
    ]
}

/// Turns the runs of one variant into metrics and checks.
fn variant_result(cfg: &Config, variant: Variant, reps: &[Rep], launcher: &str) -> ScenarioResult {
    let limit = cfg.limit();
    let mut checks = Vec::new();
    let mut metrics = Vec::new();
    if !reps.is_empty() {
        match variant {
            Variant::Single => {
                checks.push(check_killed(reps, "the hog"));
                checks.push(check_peak(cfg, reps));
                checks.push(check_oom_once(reps));
                checks.push(check_time_to_kill(cfg, reps));
                checks.push(check_bystander(reps));
            }
            Variant::OomGroup => {
                checks.push(check_killed(reps, "the hog's leader"));
                checks.push(check_peak(cfg, reps));
                checks.extend(check_group(cfg, reps));
                checks.push(check_time_to_kill(cfg, reps));
            }
            Variant::OomKillDisable => {
                checks.push(check_peak(cfg, reps));
                checks.extend(check_hang(cfg, reps));
            }
        }
        match variant {
            Variant::OomKillDisable => {
                let seen: Vec<f64> = reps
                    .iter()
                    .filter_map(|r| r.hang.and_then(|h| h.seen_after))
                    .collect();
                metrics.push(Metric::new("time_to_hang", "s", Better::Lower, seen));
                metrics.push(Metric::new(
                    "kill_hung",
                    "s",
                    Better::Lower,
                    reps.iter()
                        .filter_map(|r| r.hang.map(|h| h.kill_seconds))
                        .collect(),
                ));
            }
            _ => {
                metrics.push(Metric::new(
                    "time_to_kill",
                    "s",
                    Better::Lower,
                    reps.iter().filter_map(|r| r.time_to_kill).collect(),
                ));
            }
        }
        metrics.push(Metric::with_target(
            "peak_usage",
            "bytes",
            limit as f64,
            reps.iter().map(|r| peak_of(r).0 as f64).collect(),
        ));
        metrics.push(Metric::with_target(
            "hog_reached",
            "bytes",
            limit as f64,
            reps.iter().map(|r| r.hog_bytes as f64).collect(),
        ));
        if variant == Variant::OomGroup {
            metrics.push(Metric::new(
                "empty_after_leader_death",
                "s",
                Better::Lower,
                reps.iter().filter_map(|r| r.empty_after).collect(),
            ));
        }
    }
    let mut series = BTreeMap::new();
    if let Some(r) = reps.first() {
        series.insert("usage_mib".to_string(), r.series.clone());
    }
    ScenarioResult {
        name: "memory-oom".into(),
        launcher: launcher.to_string(),
        launcher_spec: None,
        params: params(cfg, variant),
        metrics,
        checks,
        series,
        error: None,
    }
}

super::legacy_scenario!(MemoryOom, "memory-oom", [Memory]);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::MemoryEvents;

    const LIMIT: u64 = 64 * MIB;

    fn killed_rep() -> Rep {
        Rep {
            exit: Exit::Signaled(9),
            completed: false,
            stats: MemoryStats {
                current: Some(0),
                peak: Some(LIMIT),
                failcnt: Some(40),
                events: MemoryEvents {
                    max: Some(40),
                    oom: Some(1),
                    oom_kill: Some(1),
                    ..Default::default()
                },
                ..Default::default()
            },
            max_sampled: LIMIT - MIB,
            hog_bytes: LIMIT - 2 * MIB,
            time_to_kill: Some(0.004),
            empty_after: Some(0.0001),
            hang: None,
            bystander: Some(Bystander {
                alive: true,
                oom_kill: Some(0),
                usage: Some(9 * MIB),
            }),
            series: vec![[0.0, 1.0], [0.05, 64.0]],
        }
    }

    fn status(r: &ScenarioResult, name: &str) -> Status {
        r.checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name} in {:?}", r.checks))
            .status
    }

    fn single(reps: &[Rep]) -> ScenarioResult {
        variant_result(
            &Config::level(Level::Quick),
            Variant::Single,
            reps,
            "native",
        )
    }

    #[test]
    fn a_clean_oom_passes_every_check() {
        let r = single(&[killed_rep(), killed_rep()]);
        for c in &r.checks {
            assert_eq!(c.status, Status::Pass, "{c:?}");
            assert!(!c.expected.is_empty() && !c.observed.is_empty());
        }
        assert_eq!(r.metrics[0].name, "time_to_kill");
        assert_eq!(r.metrics[0].samples, vec![0.004, 0.004]);
    }

    #[test]
    fn a_hog_that_was_not_killed_fails() {
        let mut rep = killed_rep();
        rep.exit = Exit::Code(0);
        rep.completed = true;
        rep.stats.events.oom_kill = Some(0);
        rep.time_to_kill = None;
        let r = single(&[rep]);
        assert_eq!(status(&r, "killed_by_sigkill"), Status::Fail);
        assert_eq!(status(&r, "oom_kill_counted_once"), Status::Fail);
        let c = r
            .checks
            .iter()
            .find(|c| c.name == "killed_by_sigkill")
            .unwrap();
        assert!(c.detail.contains("not enforced"), "{c:?}");
    }

    #[test]
    fn wrappers_report_sigkill_as_137_or_hide_it() {
        // runc / bwrap: 128 + 9.
        let mut rep = killed_rep();
        rep.exit = Exit::Code(137);
        assert_eq!(
            status(&single(&[rep.clone()]), "killed_by_sigkill"),
            Status::Pass
        );
        // unshare 2.38 exits 1 when its child is SIGKILLed; the kernel still
        // counted the OOM kill: a warning about the launcher.
        rep.exit = Exit::Code(1);
        let r = single(&[rep.clone()]);
        assert_eq!(status(&r, "killed_by_sigkill"), Status::Warn);
        assert!(
            r.checks[0].detail.contains("cannot tell"),
            "{:?}",
            r.checks[0]
        );
        // Exit 1 without an OOM kill is a failure.
        rep.stats.events.oom_kill = Some(0);
        assert_eq!(status(&single(&[rep]), "killed_by_sigkill"), Status::Fail);
    }

    #[test]
    fn a_peak_above_limit_plus_slack_fails() {
        let mut rep = killed_rep();
        // 2% of 64 MiB is 1.28 MiB of slack: 1 MiB over passes, 2 MiB fails.
        rep.stats.peak = Some(LIMIT + MIB);
        assert_eq!(
            status(&single(&[rep.clone()]), "peak_within_limit"),
            Status::Pass
        );
        rep.stats.peak = Some(LIMIT + 2 * MIB);
        let r = single(&[rep.clone()]);
        assert_eq!(status(&r, "peak_within_limit"), Status::Fail);
        // A kernel without a peak counter falls back to the samples.
        rep.stats.peak = None;
        rep.max_sampled = LIMIT + 3 * MIB;
        let r = single(&[rep]);
        assert_eq!(status(&r, "peak_within_limit"), Status::Fail);
        assert!(r.checks.iter().any(|c| c.detail.contains("sampled")));
    }

    #[test]
    fn an_oom_kill_counted_twice_fails_and_a_missing_counter_skips() {
        let mut rep = killed_rep();
        rep.stats.events.oom_kill = Some(2);
        assert_eq!(
            status(&single(&[rep.clone()]), "oom_kill_counted_once"),
            Status::Fail
        );
        rep.stats.events.oom_kill = None;
        assert_eq!(
            status(&single(&[rep]), "oom_kill_counted_once"),
            Status::Skip
        );
    }

    #[test]
    fn slow_or_unresolved_kills_are_flagged() {
        let mut rep = killed_rep();
        rep.time_to_kill = Some(7.0);
        assert_eq!(
            status(&single(&[rep.clone()]), "time_to_kill"),
            Status::Fail
        );
        rep.time_to_kill = None;
        assert_eq!(status(&single(&[rep]), "time_to_kill"), Status::Warn);
    }

    #[test]
    fn a_dead_bystander_fails() {
        let mut rep = killed_rep();
        rep.bystander = Some(Bystander {
            alive: false,
            oom_kill: Some(1),
            usage: Some(0),
        });
        assert_eq!(
            status(&single(&[killed_rep(), rep]), "bystander_survives"),
            Status::Fail
        );
    }

    fn group_rep(group_kills: Option<u64>, kills: u64) -> Rep {
        let mut r = killed_rep();
        r.bystander = None;
        r.stats.events.oom_group_kill = group_kills;
        r.stats.events.oom_kill = Some(kills);
        r
    }

    #[test]
    fn oom_group_needs_one_group_kill_covering_every_process() {
        let cfg = Config::level(Level::Quick);
        let g = |reps: &[Rep]| variant_result(&cfg, Variant::OomGroup, reps, "native");
        // v2 6.x: memory.events oom_group_kill 1, oom_kill 4 (or 5: the
        // victim may be counted again by the group scan).
        assert_eq!(
            status(&g(&[group_rep(Some(1), 4)]), "group_killed"),
            Status::Pass
        );
        assert_eq!(
            status(&g(&[group_rep(Some(1), 5)]), "group_killed"),
            Status::Pass
        );
        // Seen under TCG: a member already exiting at the group scan is
        // skipped by the kernel, not counted.
        assert_eq!(
            status(&g(&[group_rep(Some(1), 3)]), "group_killed"),
            Status::Pass
        );
        // A group kill counter without any kill is no group kill.
        assert_eq!(
            status(&g(&[group_rep(Some(1), 0)]), "group_killed"),
            Status::Fail
        );
        // Without oom.group only the largest process dies.
        assert_eq!(
            status(&g(&[group_rep(Some(0), 1)]), "group_killed"),
            Status::Fail
        );
        // Older kernel without the group counter: oom_kill decides.
        assert_eq!(
            status(&g(&[group_rep(None, 4)]), "group_killed"),
            Status::Pass
        );
        let mut straggler = group_rep(Some(1), 4);
        straggler.empty_after = None;
        assert_eq!(status(&g(&[straggler]), "all_died_together"), Status::Fail);
    }

    fn hang_rep(seen: Option<f64>, stalled: bool, oom_kill: u64, left: usize) -> Rep {
        let mut r = killed_rep();
        r.bystander = None;
        r.time_to_kill = None;
        r.stats.events.oom_kill = Some(oom_kill);
        r.stats.under_oom = Some(true);
        r.hang = Some(Hang {
            seen_after: seen,
            stalled,
            kill_seconds: 0.003,
            left_after_kill: left,
        });
        r
    }

    #[test]
    fn oom_kill_disable_hang_is_reported_and_must_be_cleaned_up() {
        let cfg = Config::level(Level::Quick);
        let h = |reps: &[Rep]| variant_result(&cfg, Variant::OomKillDisable, reps, "native");
        let ok = h(&[hang_rep(Some(0.001), true, 0, 0)]);
        assert_eq!(status(&ok, "hang_detected"), Status::Pass);
        assert_eq!(status(&ok, "hung_sandbox_killed"), Status::Pass);
        assert_eq!(ok.metrics[0].name, "time_to_hang");
        // The kernel OOM-killed despite oom_kill_disable.
        let r = h(&[hang_rep(Some(0.001), true, 1, 0)]);
        assert_eq!(status(&r, "hang_detected"), Status::Fail);
        // No under_oom ever.
        let r = h(&[hang_rep(None, false, 0, 0)]);
        assert_eq!(status(&r, "hang_detected"), Status::Fail);
        // A hung sandbox that survives the kill.
        let r = h(&[hang_rep(Some(0.001), true, 0, 1)]);
        assert_eq!(status(&r, "hung_sandbox_killed"), Status::Fail);
    }

    #[test]
    fn skipped_variant_says_why() {
        let r = skipped(
            &Config::level(Level::Quick),
            Variant::OomGroup,
            "memory.oom.group is not available on cgroup v1",
            "native",
        );
        assert_eq!(r.checks[0].status, Status::Skip);
        assert!(r.checks[0].detail.contains("cgroup v1"));
        assert_eq!(r.params["variant"], "oom-group");
    }

    #[test]
    fn config_rejects_impossible_values() {
        let ok = Config::level(Level::Default);
        assert!(ok.validate().is_ok());
        let mut c = ok.clone();
        c.limit_mib = 2;
        assert!(c.validate().unwrap_err().contains("limit-mib"));
        let mut c = ok.clone();
        c.overshoot = 1.0;
        assert!(c.validate().unwrap_err().contains("overshoot"));
        let mut c = ok.clone();
        c.step_kib = 64 * 1024;
        assert!(c.validate().unwrap_err().contains("step-kib"));
        let mut c = ok;
        c.variants.clear();
        assert!(c.validate().unwrap_err().contains("variants"));
    }

    #[test]
    fn suite_table_overrides_and_rejects_unknown_variants() {
        let t: toml::Table = toml::from_str("variants = [\"single\"]\nlimit-mib = 32").unwrap();
        let c = Config::parse(Level::Quick, Some(&t)).unwrap();
        assert_eq!(c.variants, vec![Variant::Single]);
        assert_eq!(c.limit_mib, 32);
        let t: toml::Table = toml::from_str("variants = [\"bogus\"]").unwrap();
        let e = Config::parse(Level::Quick, Some(&t)).unwrap_err();
        assert!(e.contains("variants"), "{e}");
    }
}
