//! pid1: what PID 1 of a pid namespace does with signals and orphans, per
//! launcher and per init in front of the workload.
//!
//! The kernel never delivers a signal to a namespace's init that has no
//! handler for it, whoever sends it (root inside, or the parent namespace),
//! except SIGKILL and SIGSTOP from an ancestor namespace. Orphans are
//! reparented to that init and stay zombies until it reaps them. So a
//! workload that is PID 1 itself ignores SIGTERM and collects zombies; an
//! init shim (tini, catatonit) forwards SIGTERM to it (the launcher sees
//! 128 + 15) and reaps. Some launchers (bwrap without `--as-pid-1`) put an
//! init of their own in front: its numbers are recorded, its gaps are
//! findings (warn), not failures.
//!
//! Each row runs four sandboxes: SIGTERM from a process inside, SIGTERM and
//! SIGKILL from outside (to PID 1's host pid, found by NSpid among the
//! sandbox cgroup's processes), and the orphans.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use isobench_reports::names::pid1 as n;
use isobench_reports::{Better, Check, Metric, ScenarioResult, Status};

use super::config::scenario_config;
use super::error::OrFail;
use super::{check_range, interrupted, ConfigError, Ctx, Point, Scenario, ScenarioError, Skip};
use crate::cgroup::{Cgroup, Limits};
use crate::launchers::Launcher;
use crate::sandbox::event::{Event, Pid1Orphans};
use crate::sandbox::{Exit, InitShim, Rootfs, Running, SandboxSpec};

/// The scenario.
pub struct Pid1;

/// What runs as PID 1 in front of the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// Nothing: the workload is PID 1 (or the launcher's own init is).
    None,
    /// Debian's static tini (`/usr/bin/tini-static`).
    Tini,
    /// catatonit (`/usr/bin/catatonit`, static).
    Catatonit,
    /// The runtime's own init option (`podman --init`, `docker --init`).
    Runtime,
}

impl Init {
    pub fn name(self) -> &'static str {
        match self {
            Init::None => "none",
            Init::Tini => "tini",
            Init::Catatonit => "catatonit",
            Init::Runtime => "runtime",
        }
    }

    /// (binary, Debian package) of a shim.
    fn binary(self) -> Option<(&'static str, &'static str)> {
        match self {
            Init::Tini => Some(("/usr/bin/tini-static", "tini")),
            Init::Catatonit => Some(("/usr/bin/catatonit", "catatonit")),
            Init::None | Init::Runtime => None,
        }
    }

    /// The shim for a spec; why not (the install hint) when its binary is
    /// missing.
    pub fn shim(self) -> Result<Option<InitShim>, String> {
        match self.binary() {
            Some((bin, _)) => self.shim_at(PathBuf::from(bin)).map(Some),
            None => Ok(None),
        }
    }

    /// The shim with its binary at `path`.
    pub fn shim_at(self, path: PathBuf) -> Result<InitShim, String> {
        if !path.is_file() {
            return Err(format!(
                "{} is not installed (apt-get install tini catatonit)",
                path.display()
            ));
        }
        Ok(InitShim {
            name: self.name().into(),
            path,
            args: vec!["--".into()],
        })
    }
}

/// Why the launcher under test has no init option of its own. runc, crun,
/// bwrap, unshare and OCI runtimes in general have none (bwrap's reaper is
/// always there unless `--as-pid-1`: it is the `none` row). Hook: a launcher
/// with one (podman `--init`) answers here and passes the option on itself.
pub fn runtime_init_missing(kind: &Launcher) -> String {
    format!(
        "{} has no init option of its own (runc and crun have none; podman --init belongs to its launcher)",
        kind.name()
    )
}

scenario_config! {
    /// Parameters.
    pub struct Config {
        pub inits: Vec<Init> = vec![Init::None, Init::Tini, Init::Catatonit, Init::Runtime] => "what runs in front of the workload: none, tini, catatonit, runtime (the launcher's own init option)",
        pub orphans: u32 = 100 => "grandchildren orphaned at once",
        pub settle_ms: u64 = 1000 => "wait after the orphans exited before zombies are counted",
        pub wait_ms: u64 = 1000 => "how long a signalled sandbox may take to end before it counts as alive",
    }
}

/// How one signal sent to PID 1 ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// `Some(ms)` when the sandbox ended within the wait.
    pub ended_ms: Option<f64>,
    /// The launcher's exit code then (128 + signal when killed).
    pub code: Option<i32>,
}

impl Outcome {
    fn killed(&self) -> f64 {
        f64::from(u8::from(self.ended_ms.is_some()))
    }

    /// Ended with 128 + SIGTERM: an init passed SIGTERM on to the workload.
    pub fn forwarded(&self) -> bool {
        self.ended_ms.is_some() && self.code == Some(128 + libc::SIGTERM)
    }

    fn show(&self, wait_ms: u64) -> String {
        match (self.ended_ms, self.code) {
            (Some(ms), Some(c)) => format!("ended after {ms:.0} ms, exit code {c}"),
            (Some(ms), None) => format!("ended after {ms:.0} ms"),
            (None, _) => format!("still alive after {wait_ms} ms"),
        }
    }
}

/// Everything one row measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub init: Init,
    pub workload_pid: i64,
    pub inside: Outcome,
    pub outside: Outcome,
    pub kill: Outcome,
    pub forked: u64,
    pub orphans: Pid1Orphans,
}

/// Who PID 1 is in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pid1Is {
    Workload,
    Shim,
    /// An init the launcher put there (bwrap's reaper).
    Launcher,
}

impl Row {
    pub fn pid1_is(&self) -> Pid1Is {
        match (self.init, self.workload_pid) {
            (Init::None, 1) => Pid1Is::Workload,
            (Init::None, _) => Pid1Is::Launcher,
            _ => Pid1Is::Shim,
        }
    }
}

impl Scenario for Pid1 {
    const NAME: &'static str = n::SCENARIO;
    const ABOUT: &'static str =
        "pid1: a handler-less PID 1 against SIGTERM from inside and outside, SIGKILL, 100 orphans; then behind tini / catatonit / the launcher's init";
    const QUICK: bool = false;
    type Config = Config;

    fn validate(c: &Config) -> Result<(), ConfigError> {
        if c.inits.is_empty() {
            return Err(ConfigError::new("inits must name at least one init"));
        }
        check_range("orphans", c.orphans, 1, 1000)?;
        check_range("settle-ms", c.settle_ms, 0, 10_000)?;
        check_range("wait-ms", c.wait_ms, 100, 10_000)
    }

    /// Per init: two waits of `wait_ms` for what is ignored, the orphans'
    /// settle time, four launches.
    fn estimate(cfg: &Config, _cpus: u32) -> Duration {
        let per = 2.0 * cfg.wait_ms as f64 / 1e3 + cfg.settle_ms as f64 / 1e3 + 1.0;
        Duration::from_secs_f64(per * cfg.inits.len() as f64)
    }

    fn run(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, ScenarioError> {
        let mut out = Vec::new();
        for (i, &init) in cfg.inits.iter().enumerate() {
            interrupted()?;
            ctx.advance(i as u32, cfg.inits.len() as u32);
            let shim = match init {
                Init::Runtime => {
                    let why = runtime_init_missing(&ctx.kind);
                    out.push(ctx.timed(skip_row(ctx, init, n::SKIP_RUNTIME_INIT, why)));
                    continue;
                }
                _ => match init.shim() {
                    Ok(s) => s,
                    Err(why) => {
                        out.push(ctx.timed(skip_row(ctx, init, n::SKIP_SHIM_MISSING, why)));
                        continue;
                    }
                },
            };
            let row = measure(cfg, ctx, init, shim)?;
            out.push(ctx.timed(result(cfg, ctx, &row)));
        }
        ctx.advance(cfg.inits.len() as u32, cfg.inits.len() as u32);
        Ok(out)
    }
}

fn skip_row(ctx: &Ctx, init: Init, check: &str, why: String) -> ScenarioResult {
    Skip::new(check, format!("{} in front of the workload", init.name()), "unavailable", why)
        .param(n::INIT, init.name())
        .into_result(n::SCENARIO, &ctx.launcher)
}

/// A sandbox of the scenario: pid namespace, minimal rootfs, pids and
/// memory bounded, the init shim in front.
fn spec(cfg: &Config, ctx: &Ctx, shim: &Option<InitShim>, args: &[&str]) -> SandboxSpec {
    let mut s = SandboxSpec::workload(args);
    s.namespaces = ctx.namespaces_or("pid,mnt,uts,ipc");
    s.namespaces.pid = true;
    s.namespaces.mnt = true;
    s.rootfs = Rootfs::Minimal;
    s.limits = Limits {
        pids_max: Some(u64::from(cfg.orphans) + 32),
        memory_max: Some(256 << 20),
        ..Default::default()
    };
    s.init = shim.clone();
    s.deadline = Duration::from_secs(30);
    s
}

/// The host pid of the sandbox's PID 1: the process of its cgroup whose
/// innermost pid (NSpid) is 1.
pub fn init_host_pid(r: &Running) -> Option<i32> {
    r.cgroup().pids().ok()?.into_iter().find(|p| {
        std::fs::read_to_string(format!("/proc/{p}/status"))
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("NSpid:"))?.to_string();
                let ids: Vec<&str> = line.split_whitespace().skip(1).collect();
                Some(ids.len() >= 2 && ids.last() == Some(&"1"))
            })
            .unwrap_or(false)
    })
}

/// The launcher's exit as a shell code (128 + signal).
fn shell_code(e: Exit) -> Option<i32> {
    match e {
        Exit::Code(c) => Some(c),
        Exit::Signaled(s) => Some(128 + s),
        Exit::TimedOut => None,
    }
}

/// How long past `t0` the sandbox took to end, within `wait`; its code.
fn outcome(r: &mut Running, t0: Instant, wait: Duration) -> Result<Outcome, ScenarioError> {
    let left = wait.saturating_sub(t0.elapsed());
    if !r.exited_within(left) {
        return Ok(Outcome {
            ended_ms: None,
            code: None,
        });
    }
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    let exit = r.wait_exit()?;
    Ok(Outcome {
        ended_ms: Some(ms),
        code: shell_code(exit),
    })
}

/// The workload's pid inside, from its `pid1` event.
fn workload_pid(r: &mut Running) -> Result<i64, ScenarioError> {
    let until = Instant::now() + Duration::from_secs(10);
    r.wait_event(until, |e| matches!(e, Event::Pid1(_)))?;
    Ok(r
        .first(Event::as_pid1)
        .or_fail("the workload did not report its pid")?
        .pid)
}

fn measure(
    cfg: &Config,
    ctx: &Ctx,
    init: Init,
    shim: Option<InitShim>,
) -> Result<Row, ScenarioError> {
    let wait = Duration::from_millis(cfg.wait_ms);
    let hold = (cfg.wait_ms as f64 / 1e3 + 5.0).to_string();
    // SIGTERM from a process inside.
    let s = spec(cfg, ctx, &shim, &["pid1", "--test", "hold", "--seconds", &hold, "--term-pid1", "1"]);
    let mut r = ctx.launch(&s)?;
    r.wait_ready()?;
    let pid = workload_pid(&mut r)?;
    let until = Instant::now() + Duration::from_secs(10);
    if !r.wait_event(until, |e| matches!(e, Event::Pid1Signal { .. }))? {
        return Err(ScenarioError::failed(
            "the helper never reported sending SIGTERM to PID 1",
        ));
    }
    let inside = outcome(&mut r, Instant::now(), wait)?;
    r.teardown()?;
    // SIGTERM and SIGKILL from the parent namespace.
    let from_outside = |sig: i32| -> Result<Outcome, ScenarioError> {
        let s = spec(cfg, ctx, &shim, &["pid1", "--test", "hold", "--seconds", &hold]);
        let mut r = ctx.launch(&s)?;
        r.wait_ready()?;
        workload_pid(&mut r)?;
        let init_pid = init_host_pid(&r).or_fail("no process of the sandbox is PID 1 of a pid namespace")?;
        let t0 = Instant::now();
        // SAFETY: kill(2) on a process of our own sandbox's cgroup.
        if unsafe { libc::kill(init_pid, sig) } != 0 {
            return Err(ScenarioError::failed(format!(
                "kill({init_pid}, {sig}): {}",
                std::io::Error::last_os_error()
            )));
        }
        let o = outcome(&mut r, t0, wait)?;
        r.teardown()?;
        Ok(o)
    };
    let outside = from_outside(libc::SIGTERM)?;
    let kill = from_outside(libc::SIGKILL)?;
    // Orphans.
    let count = cfg.orphans.to_string();
    let settle = cfg.settle_ms.to_string();
    let mut s = spec(
        cfg,
        ctx,
        &shim,
        &["pid1", "--test", "orphans", "--count", &count, "--settle-ms", &settle],
    );
    // Forking and counting 100 processes is slow under emulation (TCG).
    s.deadline = Duration::from_secs(60);
    let mut r = ctx.launch(&s)?;
    r.wait_ready()?;
    let exit = r.wait_exit()?;
    let orphans = r.last(Event::as_pid1_orphans);
    let forked = r.events.iter().find_map(|e| match e {
        Event::Pid1Forked { forked, .. } => Some(*forked),
        _ => None,
    });
    r.teardown()?;
    let orphans = orphans.ok_or_else(|| {
        ScenarioError::failed(format!("the orphans workload reported no count ({exit})"))
    })?;
    Ok(Row {
        init,
        workload_pid: pid,
        inside,
        outside,
        kill,
        forked: forked.unwrap_or(0),
        orphans,
    })
}

/// The row's metrics: every outcome as numbers.
pub fn metrics(row: &Row) -> Vec<Metric> {
    let flag = |name: &str, v: f64| Metric::new(name, "bool", Better::Target, vec![v]);
    let mut m = vec![
        Metric::new(n::WORKLOAD_PID, "pid", Better::Target, vec![row.workload_pid as f64]),
        flag(n::SIGTERM_INSIDE_KILLED, row.inside.killed()),
        flag(n::SIGTERM_OUTSIDE_KILLED, row.outside.killed()),
        flag(n::SIGKILL_OUTSIDE_KILLED, row.kill.killed()),
        Metric::new(n::ORPHANS_FORKED, "processes", Better::Target, vec![row.forked as f64]),
        Metric::new(n::ZOMBIES_LEFT, "processes", Better::Lower, vec![row.orphans.zombies as f64]),
    ];
    if row.pid1_is() != Pid1Is::Workload {
        m.push(flag(n::SIGTERM_INSIDE_FORWARDED, f64::from(u8::from(row.inside.forwarded()))));
        m.push(flag(n::SIGTERM_OUTSIDE_FORWARDED, f64::from(u8::from(row.outside.forwarded()))));
    }
    let mut timed = |name: &str, o: &Outcome| {
        if let Some(ms) = o.ended_ms {
            m.push(Metric::new(name, "ms", Better::Lower, vec![ms]));
        }
    };
    timed(n::SIGTERM_INSIDE_EXIT_MS, &row.inside);
    timed(n::SIGTERM_OUTSIDE_EXIT_MS, &row.outside);
    timed(n::SIGKILL_OUTSIDE_EXIT_MS, &row.kill);
    for (name, o) in [
        (n::SIGTERM_INSIDE_EXIT_CODE, &row.inside),
        (n::SIGTERM_OUTSIDE_EXIT_CODE, &row.outside),
    ] {
        if let Some(c) = o.code {
            m.push(Metric::new(name, "code", Better::Target, vec![f64::from(c)]));
        }
    }
    m
}

/// The row's checks: the kernel's rules for a handler-less PID 1, the
/// shim's contract for a shim, findings (warn) for a launcher's own init.
pub fn checks(row: &Row, orphans: u32, wait_ms: u64) -> Vec<Check> {
    let kind = row.pid1_is();
    let mut c = vec![Check::new(
        n::CHECK_SIGKILL_OUTSIDE_KILLS,
        Status::pass_if(row.kill.ended_ms.is_some()),
        format!("SIGKILL from the parent namespace ends PID 1 within {wait_ms} ms"),
        row.kill.show(wait_ms),
        "",
    )];
    let zombies = row.orphans.zombies;
    if kind == Pid1Is::Workload {
        c.push(Check::new(
            n::CHECK_SIGTERM_INSIDE_IGNORED,
            Status::pass_if(row.inside.ended_ms.is_none()),
            format!("a handler-less PID 1 is alive {wait_ms} ms after SIGTERM from root inside"),
            row.inside.show(wait_ms),
            "the kernel drops signals an init has no handler for",
        ));
        c.push(Check::new(
            n::CHECK_SIGTERM_OUTSIDE_IGNORED,
            Status::pass_if(row.outside.ended_ms.is_none()),
            format!("a handler-less PID 1 is alive {wait_ms} ms after SIGTERM from the parent namespace"),
            row.outside.show(wait_ms),
            "only SIGKILL and SIGSTOP from an ancestor namespace are forced on an init",
        ));
        c.push(Check::new(
            n::CHECK_ORPHANS_STAY_ZOMBIES,
            Status::pass_if(zombies == u64::from(orphans)),
            format!("{orphans} zombies: a PID 1 that never calls wait() keeps every orphan"),
            format!("{zombies} zombies ({} orphans forked)", row.forked),
            "",
        ));
        return c;
    }
    // A shim must keep its contract; a launcher's own init is a finding.
    let miss = if kind == Pid1Is::Shim { Status::Fail } else { Status::Warn };
    let who = match kind {
        Pid1Is::Shim => row.init.name().to_string(),
        _ => "the launcher's own init".to_string(),
    };
    c.push(Check::new(
        n::CHECK_INIT_IS_PID1,
        Status::pass_if(row.workload_pid != 1),
        format!("{who} is PID 1, the workload runs behind it (pid ≠ 1)"),
        format!("workload pid {}", row.workload_pid),
        "",
    ));
    c.push(Check::new(
        n::CHECK_SIGTERM_INSIDE_FORWARDED,
        Status::pass_or(row.inside.forwarded(), miss),
        format!("{who} forwards SIGTERM from inside: the sandbox ends with 128 + 15 within {wait_ms} ms"),
        row.inside.show(wait_ms),
        "",
    ));
    c.push(Check::new(
        n::CHECK_SIGTERM_OUTSIDE_FORWARDED,
        Status::pass_or(row.outside.forwarded(), miss),
        format!("{who} forwards SIGTERM from the parent namespace: the sandbox ends within {wait_ms} ms"),
        row.outside.show(wait_ms),
        "",
    ));
    c.push(Check::new(
        n::CHECK_EXIT_CODE_128_PLUS_15,
        Status::pass_or(row.outside.code == Some(128 + libc::SIGTERM), miss),
        "the launcher's exit code after the outside SIGTERM is 143 (128 + 15)",
        row.outside
            .code
            .map_or_else(|| row.outside.show(wait_ms), |code| format!("exit code {code}")),
        "",
    ));
    c.push(Check::new(
        n::CHECK_ZOMBIES_REAPED,
        Status::pass_or(zombies == 0, miss),
        format!("0 zombies {} ms after {orphans} orphans exited: {who} reaps", row.orphans.settle_ms),
        format!("{zombies} zombies ({} orphans forked)", row.forked),
        "",
    ));
    c
}

fn result(cfg: &Config, ctx: &Ctx, row: &Row) -> ScenarioResult {
    let is = match row.pid1_is() {
        Pid1Is::Workload => "workload",
        Pid1Is::Shim => "init shim",
        Pid1Is::Launcher => "launcher's own init",
    };
    Point::new(n::SCENARIO, ctx)
        .param(n::INIT, row.init.name())
        .param(n::PID1_IS, is)
        .param("orphans", cfg.orphans)
        .param("settle_ms", cfg.settle_ms)
        .param("wait_ms", cfg.wait_ms)
        .metrics(metrics(row))
        .checks(checks(row, cfg.orphans, cfg.wait_ms))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::Level;

    fn ended(code: i32) -> Outcome {
        Outcome {
            ended_ms: Some(5.0),
            code: Some(code),
        }
    }

    const ALIVE: Outcome = Outcome {
        ended_ms: None,
        code: None,
    };

    fn row(init: Init, pid: i64, inside: Outcome, outside: Outcome, zombies: u64) -> Row {
        Row {
            init,
            workload_pid: pid,
            inside,
            outside,
            kill: ended(137),
            forked: 100,
            orphans: Pid1Orphans {
                zombies,
                live: 0,
                orphans_gone_ns: 1,
                settle_ms: 1000,
            },
        }
    }

    fn status(c: &[Check], name: &str) -> Status {
        c.iter().find(|c| c.name == name).map(|c| c.status).unwrap()
    }

    #[test]
    fn handler_less_pid1_follows_the_kernel() {
        let good = checks(&row(Init::None, 1, ALIVE, ALIVE, 100), 100, 1000);
        assert!(good.iter().all(|c| c.status == Status::Pass), "{good:?}");
        // A PID 1 that died of SIGTERM, or reaped, breaks the kernel's rules.
        let bad = checks(&row(Init::None, 1, ended(143), ended(143), 0), 100, 1000);
        for name in [
            n::CHECK_SIGTERM_INSIDE_IGNORED,
            n::CHECK_SIGTERM_OUTSIDE_IGNORED,
            n::CHECK_ORPHANS_STAY_ZOMBIES,
        ] {
            assert_eq!(status(&bad, name), Status::Fail, "{name}");
        }
    }

    #[test]
    fn shims_must_forward_and_reap_launcher_inits_only_warn() {
        let tini = checks(&row(Init::Tini, 2, ended(143), ended(143), 0), 100, 1000);
        assert!(tini.iter().all(|c| c.status == Status::Pass), "{tini:?}");
        let deaf = row(Init::Tini, 2, ALIVE, ALIVE, 0);
        let c = checks(&deaf, 100, 1000);
        assert_eq!(status(&c, n::CHECK_SIGTERM_OUTSIDE_FORWARDED), Status::Fail);
        assert_eq!(status(&c, n::CHECK_EXIT_CODE_128_PLUS_15), Status::Fail);
        assert_eq!(status(&c, n::CHECK_ZOMBIES_REAPED), Status::Pass);
        // bwrap's reaper: reaps, does not forward: a finding.
        let reaper = row(Init::None, 2, ALIVE, ALIVE, 0);
        assert_eq!(reaper.pid1_is(), Pid1Is::Launcher);
        let c = checks(&reaper, 100, 1000);
        assert_eq!(status(&c, n::CHECK_SIGTERM_OUTSIDE_FORWARDED), Status::Warn);
        assert_eq!(status(&c, n::CHECK_ZOMBIES_REAPED), Status::Pass);
        let m = metrics(&reaper);
        let forwarded = m.iter().find(|m| m.name == n::SIGTERM_OUTSIDE_FORWARDED).unwrap();
        assert_eq!(forwarded.samples, vec![0.0]);
        // Exit code 143 means forwarded; 137 (killed otherwise) does not.
        assert!(ended(143).forwarded() && !ended(137).forwarded() && !ALIVE.forwarded());
    }

    #[test]
    fn a_missing_shim_names_the_packages() {
        let e = Init::Tini.shim_at("/nonexistent/tini-static".into()).unwrap_err();
        assert_eq!(
            e,
            "/nonexistent/tini-static is not installed (apt-get install tini catatonit)"
        );
        let s = Init::Catatonit.shim_at("/proc/self/exe".into()).unwrap();
        assert_eq!((s.name.as_str(), s.args.as_slice()), ("catatonit", ["--".to_string()].as_slice()));
        assert_eq!(Init::None.shim(), Ok(None));
    }

    #[test]
    fn bounds_are_checked() {
        let mut c = Pid1::level(Level::Quick);
        assert!(Pid1::validate(&c).is_ok());
        c.inits.clear();
        assert!(Pid1::validate(&c).is_err());
        let mut c = Pid1::level(Level::Default);
        c.orphans = 0;
        assert_eq!(Pid1::validate(&c).unwrap_err().to_string(), "orphans must be 1 – 1000");
    }
}
