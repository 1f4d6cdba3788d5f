//! pid1 and supervisor end to end on this machine (root): a handler-less
//! PID 1 ignores SIGTERM from inside and outside and keeps its zombies; tini
//! and catatonit forward SIGTERM (exit 143) and reap, through every launcher
//! installed; bwrap's own reaper reaps but does not forward (a warning with
//! the numbers); a supervisor's children share one memory, pids and CPU
//! limit.

mod common;

use isobench::launchers::Launcher;
use isobench::scenarios::pid1::{Init, Pid1};
use isobench::scenarios::supervisor::Supervisor;
use isobench::scenarios::{Level, Scenario};
use isobench_reports::names::{pid1 as n, supervisor as s};
use isobench_reports::{ScenarioResult, Status};

/// tini-static and catatonit, or a skip (a failure when ISOBENCH_REQUIRE
/// names them).
fn shims_installed() -> bool {
    common::tool("tini", "tini-static", "tini").is_some()
        && common::tool("catatonit", "catatonit", "catatonit").is_some()
}

fn sample(r: &ScenarioResult, metric: &str) -> f64 {
    r.metrics
        .iter()
        .find(|m| m.name == metric)
        .unwrap_or_else(|| panic!("no metric {metric} in {r:?}"))
        .samples[0]
}

fn status(r: &ScenarioResult, check: &str) -> Status {
    r.checks
        .iter()
        .find(|c| c.name == check)
        .unwrap_or_else(|| panic!("no check {check} in {:?}", r.checks))
        .status
}

fn row<'a>(rows: &'a [ScenarioResult], init: &str) -> &'a ScenarioResult {
    rows.iter()
        .find(|r| r.params.get(n::INIT).and_then(|v| v.as_str()) == Some(init))
        .unwrap_or_else(|| panic!("no {init} row"))
}

/// Runs pid1 (none, tini, catatonit) through `launcher` and checks the
/// kernel's rules and the shims' contract on the numbers.
fn pid1_through(test: &str, launcher: Launcher) {
    let (mut ctx, _root) = common::ctx(test, None);
    ctx.with_arm(launcher.name(), launcher.clone());
    let mut cfg = Pid1::parse(Level::Default, None).unwrap();
    cfg.inits = vec![Init::None, Init::Tini, Init::Catatonit, Init::Runtime];
    let rows = Pid1::results(&cfg, &ctx).unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&rows).unwrap());
    assert_eq!(rows.len(), 4);
    for r in &rows {
        assert!(r.error.is_none(), "{:?}", r.error);
    }
    let none = row(&rows, "none");
    // SIGKILL from the parent namespace always wins.
    assert_eq!(sample(none, n::SIGKILL_OUTSIDE_KILLED), 1.0);
    if launcher == Launcher::Bwrap {
        // bwrap's reaper is PID 1: it reaps, and does not forward SIGTERM.
        assert_eq!(sample(none, n::WORKLOAD_PID), 2.0);
        assert_eq!(sample(none, n::ZOMBIES_LEFT), 0.0);
        assert_eq!(sample(none, n::SIGTERM_OUTSIDE_FORWARDED), 0.0);
        assert_eq!(
            status(none, n::CHECK_SIGTERM_OUTSIDE_FORWARDED),
            Status::Warn
        );
    } else {
        assert_eq!(sample(none, n::WORKLOAD_PID), 1.0);
        assert_eq!(sample(none, n::SIGTERM_INSIDE_KILLED), 0.0);
        assert_eq!(sample(none, n::SIGTERM_OUTSIDE_KILLED), 0.0);
        assert_eq!(sample(none, n::ZOMBIES_LEFT), f64::from(cfg.orphans));
        assert!(
            none.checks.iter().all(|c| c.status == Status::Pass),
            "{:?}",
            none.checks
        );
    }
    for shim in ["tini", "catatonit"] {
        let r = row(&rows, shim);
        assert!(
            r.checks.iter().all(|c| c.status == Status::Pass),
            "{shim}: {:?}",
            r.checks
        );
        assert_ne!(sample(r, n::WORKLOAD_PID), 1.0, "{shim}");
        assert_eq!(sample(r, n::SIGTERM_OUTSIDE_EXIT_CODE), 143.0, "{shim}");
        assert_eq!(sample(r, n::SIGTERM_INSIDE_FORWARDED), 1.0, "{shim}");
        assert_eq!(sample(r, n::ZOMBIES_LEFT), 0.0, "{shim}");
    }
    // No launcher here has an init option of its own: a skip that says so.
    let runtime = row(&rows, "runtime");
    assert_eq!(runtime.checks[0].name, n::SKIP_RUNTIME_INIT);
    assert_eq!(runtime.checks[0].status, Status::Skip);
    common::assert_clean(&ctx.set);
}

#[test]
fn native_pid1_follows_the_kernel_and_shims_forward_and_reap() {
    if !common::root_or_skip("scenario_pid1::native") || !shims_installed() {
        return;
    }
    pid1_through("pid1-native", Launcher::Native);
}

#[test]
fn peer_launchers_run_the_shims_too() {
    if !common::root_or_skip("scenario_pid1::peers") || !shims_installed() {
        return;
    }
    let peers = [
        ("runc", "runc", Launcher::Runc),
        ("bwrap", "bubblewrap", Launcher::Bwrap),
        ("unshare", "util-linux", Launcher::Unshare),
    ];
    for (tool, package, launcher) in peers {
        if common::tool(tool, tool, package).is_some() {
            pid1_through(&format!("pid1-{tool}"), launcher);
        }
    }
}

#[test]
fn supervisor_limits_bind_the_sum() {
    if !common::root_or_skip("scenario_pid1::supervisor") {
        return;
    }
    let (ctx, _root) = common::ctx("supervisor", None);
    let cfg = Supervisor::parse(Level::Default, None).unwrap();
    let rows = Supervisor::results(&cfg, &ctx).unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&rows).unwrap());
    let by = |limit: &str| {
        rows.iter()
            .find(|r| r.params.get(s::LIMIT).and_then(|v| v.as_str()) == Some(limit))
            .unwrap_or_else(|| panic!("no {limit} row"))
    };
    for r in &rows {
        assert!(r.error.is_none(), "{:?}", r.error);
    }
    let mem = by("memory");
    for c in &mem.checks {
        assert_eq!(c.status, Status::Pass, "{c:?}");
    }
    let killed = sample(mem, s::CHILDREN_KILLED_OOM_GROUP_0);
    assert!(
        killed >= 1.0 && killed < f64::from(cfg.children),
        "{killed}"
    );
    let group = by("oom-group");
    if ctx.set.on_v2(isobench::cgroup::Controller::Memory) {
        assert_eq!(status(group, s::CHECK_OOM_GROUP_1_KILLS_ALL), Status::Pass);
        assert_eq!(
            sample(group, s::CHILDREN_KILLED_OOM_GROUP_1),
            f64::from(cfg.children)
        );
    } else {
        assert_eq!(group.checks[0].status, Status::Skip);
        assert!(group.checks[0].detail.contains("memory.oom.group"));
    }
    let pids = by("pids");
    assert_eq!(status(pids, s::CHECK_PIDS_LIMIT_BINDS_SUM), Status::Pass);
    assert!(sample(pids, s::TASKS_TOTAL) <= cfg.pids_max as f64);
    // A machine too busy for the quota to bind warns; exceeding it fails.
    let cpu = by("cpu");
    assert_ne!(
        status(cpu, s::CHECK_CPU_LIMIT_BINDS_SUM),
        Status::Fail,
        "{:?}",
        cpu.checks
    );
    common::assert_clean(&ctx.set);
}
