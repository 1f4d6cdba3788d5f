//! One measurement: IO workloads in their own sandboxes, and what their
//! cgroups counted on the device over a window that starts after a warm-up
//! (the throttle's initial budget is not measured) and ends before they do.

use std::time::{Duration, Instant};

use super::target::Target;
use super::Config;
use crate::cgroup::psi::{self, Pressure, Resource};
use crate::cgroup::{CgroupError, CgroupView, Controller, DevNum, IoStats, Limits};
use crate::sandbox::event::{Event, IoDone};
use crate::sandbox::{Exit, LaunchError, SandboxSpec};
use crate::scenarios::{Ctx, ScenarioError};

/// One IO workload: what it does and its limits.
#[derive(Debug, Clone)]
pub struct Job {
    /// `read`, `write` or `buffered`.
    pub op: &'static str,
    pub block: u64,
    /// Requests in flight (the workload's threads).
    pub depth: u64,
    /// Another file than the target's, with the bytes to write there.
    pub file: Option<(std::path::PathBuf, u64)>,
    pub limits: Limits,
}

/// What one job did over the window.
#[derive(Debug, Clone)]
pub struct Measured {
    pub exit: Exit,
    /// The cgroup's counters on the device: window end − window start.
    pub io: IoStats,
    /// The window's length (the parent's monotonic clock).
    pub secs: f64,
    /// The workload's own totals (whole run, warm-up included).
    pub done: Option<IoDone>,
    /// io.pressure at the window's start and end, and where it was read.
    pub psi: Option<(Pressure, Pressure, &'static str)>,
    /// Bytes the whole device wrote over the window, from every cgroup
    /// (`/sys/dev/block/M:m/stat`): what the cgroup's own counter did not
    /// see was charged elsewhere (journal, metadata, the flusher's root).
    pub device_wbytes: Option<u64>,
    /// io pressure over the window (series name, points), where there is PSI.
    pub psi_series: Option<(String, Vec<[f64; 2]>)>,
}

/// Bytes the device has written since boot (sectors written × 512, the
/// block layer's unit whatever the device's sector size), or None where
/// the kernel shows no such file.
pub fn device_written(dev: DevNum) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/sys/dev/block/{dev}/stat")).ok()?;
    let sectors: u64 = s.split_whitespace().nth(6)?.parse().ok()?;
    Some(sectors * 512)
}

/// One reading of a sandbox's cgroup: its IO counters and io.pressure
/// (with where it was read).
type Reading = (IoStats, Option<(Pressure, &'static str)>);

/// The device's counters in a sandbox's cgroup, from wherever the io
/// controller lives (v1 blkio or v2 io).
pub fn io_stats(view: &CgroupView, on_v2: bool, dev: DevNum) -> Result<IoStats, CgroupError> {
    match (&view.v2, on_v2) {
        (Some(v2), true) => v2.io_stats(dev),
        _ => view.v1.io_stats(dev),
    }
}

fn interrupted(sig: i32) -> ScenarioError {
    ScenarioError::Interrupted(sig)
}

/// Runs `jobs` at once against `target` and measures the window.
pub fn run(
    ctx: &Ctx,
    cfg: &Config,
    target: &Target,
    jobs: &[Job],
) -> Result<Vec<Measured>, ScenarioError> {
    let on_v2 = ctx.set.on_v2(Controller::Io);
    let dev = target.dev();
    let secs = (cfg.warmup + cfg.seconds + 0.5).to_string();
    let mut running = Vec::new();
    for j in jobs {
        let block = j.block.to_string();
        let depth = j.depth.to_string();
        let path = match &j.file {
            Some((f, _)) => f.to_string_lossy().into_owned(),
            None => target.path().to_string_lossy().into_owned(),
        };
        let mut args: Vec<String> = [
            "io", "--path", &path, "--op", j.op, "--block", &block, "--seconds", &secs,
            "--depth", &depth,
        ]
        .map(String::from)
        .to_vec();
        if let Some((_, span)) = &j.file {
            args.extend(["--span".to_string(), span.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut spec = SandboxSpec::workload(&args);
        spec.namespaces = ctx.namespaces_or("pid,mnt,uts,ipc");
        spec.limits = j.limits.clone();
        // Page cache charged to the sandbox's own memory cgroup: v2 cgroup
        // writeback needs both controllers to charge writeback to it.
        spec.accounting = match j.op {
            "buffered" => vec![Controller::Io, Controller::Memory],
            _ => vec![Controller::Io],
        };
        spec.deadline = Duration::from_secs_f64(cfg.warmup + cfg.seconds + 30.0);
        running.push(ctx.launch(&spec)?);
    }
    for r in &mut running {
        r.wait_ready()?;
    }
    crate::interrupt::sleep(Duration::from_secs_f64(cfg.warmup)).map_err(interrupted)?;
    let read = |v: &CgroupView| -> Result<Reading, ScenarioError> {
        let io = io_stats(v, on_v2, dev)?;
        let p = psi::source(v, ctx.set.mode)
            .and_then(|(d, what)| psi::read(&d, Resource::Io).map(|p| (p, what)));
        Ok((io, p))
    };
    let before = running
        .iter()
        .map(|r| read(r.cgroup()))
        .collect::<Result<Vec<_>, _>>()?;
    let recorders: Vec<Option<psi::Recorder>> = running
        .iter()
        .map(|r| psi::source(r.cgroup(), ctx.set.mode).map(|(d, _)| psi::Recorder::start(&d, Resource::Io)))
        .collect();
    let dev_before = device_written(dev);
    let t0 = Instant::now();
    crate::interrupt::sleep(Duration::from_secs_f64(cfg.seconds)).map_err(interrupted)?;
    let dev_after = device_written(dev);
    let series: Vec<Option<(String, Vec<[f64; 2]>)>> =
        recorders.into_iter().map(|r| r.map(psi::Recorder::stop)).collect();
    let after = running
        .iter()
        .map(|r| read(r.cgroup()))
        .collect::<Result<Vec<_>, _>>()?;
    let window = t0.elapsed().as_secs_f64();
    let mut out = Vec::new();
    for (((mut r, (b_io, b_psi)), (a_io, a_psi)), psi_series) in
        running.into_iter().zip(before).zip(after).zip(series)
    {
        let exit = r.wait_exit()?;
        let done = r.first(Event::as_io_done);
        let error = r.events.iter().find_map(|e| match e {
            Event::Error { msg } => Some(msg.clone()),
            _ => None,
        });
        r.teardown()?;
        if let Some(msg) = error {
            return Err(unreachable_or_failed(ctx, target, msg));
        }
        out.push(Measured {
            exit,
            io: a_io.delta(&b_io),
            secs: window,
            done,
            psi: match (b_psi, a_psi) {
                (Some((b, what)), Some((a, _))) => Some((b, a, what)),
                _ => None,
            },
            device_wbytes: dev_after.zip(dev_before).map(|(a, b)| a.saturating_sub(b)),
            psi_series,
        });
    }
    Ok(out)
}

/// A workload that cannot open the device is a skip (the launcher's
/// sandbox does not show it, or a user namespace makes it nobody's);
/// any other error fails the point.
fn unreachable_or_failed(ctx: &Ctx, target: &Target, msg: String) -> ScenarioError {
    if msg.starts_with("io: open") {
        super::target::skip(format!(
            "the {} sandbox cannot open {} ({msg}): the io workload needs the device node and root on it",
            ctx.launcher,
            target.path().display()
        ))
    } else {
        ScenarioError::Failed(msg)
    }
}

/// A limit this kernel's cgroups cannot express (e.g. no BFQ weight file)
/// as its reason, for a skip; None for other launch errors.
pub fn unsupported(e: &ScenarioError) -> Option<String> {
    match e {
        ScenarioError::Launch(LaunchError::Cgroup(CgroupError::Unsupported(why))) => {
            Some(why.clone())
        }
        ScenarioError::Cgroup(CgroupError::Unsupported(why)) => Some(why.clone()),
        _ => None,
    }
}
