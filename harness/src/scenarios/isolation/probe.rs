//! One visibility probe: its sandbox spec, its run, and its result row
//! (the namespace checks, the /proc leaks, the time to ready).

use std::time::Duration;

use isobench_reports::names::isolation as n;
use isobench_reports::{Better, Metric, ScenarioResult, Status};

use super::host::{Host, Moment, Window};
use super::sets::{dropped_checks, probe_row};
use super::{leak_checks, namespace_checks, Config};
use crate::cgroup::{CpuMax, Limits};
use crate::sandbox::event::{Event, Probe};
use crate::sandbox::{Exit, IdMap, Namespaces, Rootfs, SandboxSpec};
use crate::scenarios::error::{Context, OrFail};
use crate::scenarios::{Ctx, ScenarioError};

/// CFS period of the probed sandboxes' quota.
const PERIOD_US: u64 = 100_000;
/// Deadline of one probe.
const PROBE_DEADLINE: Duration = Duration::from_secs(5);

/// What a probed sandbox was configured with, and how the harness saw it.
#[derive(Debug, Clone)]
pub struct Expect {
    /// Its namespaces, hostname, id maps and limits.
    pub spec: SandboxSpec,
    pub quota_cpus: f64,
    /// Leaf name of the sandbox's cgroup (what a leaky /proc/self/cgroup shows).
    pub cgroup_name: String,
    /// The probe's pid as the harness sees it.
    pub host_pid: i32,
}

impl Expect {
    /// What `spec` asks for, with the harness's view of its sandbox.
    pub fn of(spec: &SandboxSpec, quota_cpus: f64, cgroup_name: String, host_pid: i32) -> Self {
        Expect {
            spec: spec.clone(),
            quota_cpus,
            cgroup_name,
            host_pid,
        }
    }

    /// The memory limit (0: none).
    pub fn memory_max(&self) -> u64 {
        self.spec.limits.memory_max.unwrap_or(0)
    }
}

/// One probe's outcome.
pub struct Probed {
    pub probe: Probe,
    pub ready_s: Option<f64>,
    pub window: Window,
    pub expect: Expect,
}

/// The probe in namespaces `ns`, under the configured limits, ids and
/// hostname; the minimal rootfs wherever it has its own mount namespace.
pub fn probe_spec(cfg: &Config, ns: Namespaces) -> SandboxSpec {
    let mut s = SandboxSpec::workload(&["probe"]);
    s.namespaces = ns;
    s.rootfs = if ns.mnt {
        Rootfs::Minimal
    } else {
        Rootfs::Host
    };
    s.hostname = ns.uts.then(|| cfg.hostname.clone());
    let root_as = |outside| {
        vec![IdMap {
            inside: 0,
            outside,
            count: 1,
        }]
    };
    s.uid_map = root_as(cfg.outside_uid);
    s.gid_map = root_as(cfg.outside_gid);
    s.limits = Limits {
        memory_max: Some(cfg.memory_max_mib << 20),
        cpu_max: Some(CpuMax {
            quota_us: Some((cfg.cpu_quota_pct / 100.0 * PERIOD_US as f64).round() as u64),
            period_us: PERIOD_US,
            burst_us: None,
        }),
        ..Default::default()
    };
    s.deadline = PROBE_DEADLINE;
    s
}

/// Runs one probe to its end and reads its report.
pub fn run_probe(ctx: &Ctx, spec: &SandboxSpec, quota_cpus: f64) -> Result<Probed, ScenarioError> {
    let before = Moment::now();
    let mut r = ctx.launch(spec)?;
    let cgroup_name = r
        .cgroup_dirs()
        .first()
        .and_then(|d| d.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let host_pid = r.pid;
    r.wait_ready()?;
    let exit = r.wait_exit()?;
    let after = Moment::now();
    let probe = r.first(Event::as_probe);
    let events = r.events.len() + r.unknown.len();
    let phases = r.teardown().context("teardown")?;
    if exit != Exit::Code(0) {
        return Err(ScenarioError::failed(format!("probe ended with {exit}")));
    }
    let probe = probe.or_fail(&format!("probe reported no result ({events} events)"))?;
    Ok(Probed {
        probe,
        ready_s: phases.ready.map(|d| d.as_secs_f64()),
        window: Window::between(before, after),
        expect: Expect::of(spec, quota_cpus, cgroup_name, host_pid),
    })
}

/// A set's row: its checks (or the probe's error), the kinds the launcher
/// dropped, and, under namespaces, the /proc leaks. `None`: nothing was
/// left to probe, so the dropped kinds' skips are the row.
pub fn set_result(
    cfg: &Config,
    spec: &SandboxSpec,
    dropped: &[(String, String)],
    probed: Option<Result<Probed, ScenarioError>>,
    host: &Host,
    launcher: &str,
) -> ScenarioResult {
    let ns = spec.namespaces;
    let row = probe_row(spec, launcher)
        .param("memory_max_mib", cfg.memory_max_mib)
        .param("cpu_quota_pct", cfg.cpu_quota_pct);
    let p = match probed {
        None => return row.checks(dropped_checks(dropped)).build(),
        Some(Err(e)) => {
            return row
                .checks(dropped_checks(dropped))
                .error(format!("probe with namespaces [{ns}]: {e}"))
                .build()
        }
        Some(Ok(p)) => p,
    };
    let row = row
        .checks(namespace_checks(&p.probe, &p.expect, host))
        .checks(dropped_checks(dropped))
        .metric(Metric::new(
            n::READY,
            "s",
            Better::Lower,
            p.ready_s.into_iter().collect(),
        ));
    if ns.is_empty() {
        return row.build();
    }
    let leaks = leak_checks(&p.probe, &p.expect, &p.window);
    let warned = leaks.iter().filter(|c| c.status == Status::Warn).count();
    row.checks(leaks)
        .metric(Metric::new(
            n::LEAKS,
            "count",
            Better::Lower,
            vec![warned as f64],
        ))
        .build()
}
