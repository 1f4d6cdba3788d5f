//! The escape probe: `isobench-workload escape` tries to reach out of its
//! sandbox (signal and ptrace a host process, write cgroup limits, mount,
//! load a module, write /proc/sys, connect to a host socket). Under the
//! full set each attempt must be refused; in the no-namespace baseline each
//! should get through, which proves the probe would see an escape.

use std::os::unix::net::UnixListener;
use std::process::Child;
use std::time::Duration;

use isobench_reports::names::isolation as n;
use isobench_reports::{Better, Check, Metric, ScenarioResult, Status};

use super::probe::probe_spec;
use crate::scenarios::interrupted;
use super::sets::{dropped_checks, probe_row, supported_part, with_baseline};
use super::Config;
use crate::sandbox::event::{Escape, Event};
use crate::sandbox::{Exit, Namespaces, SandboxSpec};
use crate::scenarios::error::Context;
use crate::scenarios::{Ctx, ScenarioError};

/// Deadline of one escape probe (a dozen syscalls, a few mounts).
const ESCAPE_DEADLINE: Duration = Duration::from_secs(10);

/// Every attempt the escape probe makes, with what it tries.
pub const ESCAPE_ATTEMPTS: [(&str, &str); 11] = [
    ("signal", "kill(0) and SIGCONT to a host process"),
    ("ptrace", "PTRACE_SEIZE of a host process"),
    (
        "cgroup-write",
        "writing its own cgroup's limits (the current values back)",
    ),
    (
        "cgroup-parent-write",
        "opening its parent cgroup's limits for writing",
    ),
    ("mount-tmpfs", "mounting a tmpfs"),
    ("remount-root", "remounting / (with its current flags)"),
    ("init-module", "init_module (an empty image)"),
    ("finit-module", "finit_module (a bogus fd)"),
    (
        "sysctl-hostname",
        "writing /proc/sys/kernel/hostname (its current value back)",
    ),
    (
        "sysctl-drop-caches",
        "opening /proc/sys/vm/drop_caches for writing",
    ),
    (
        "abstract-socket",
        "connecting to the harness's abstract unix socket",
    ),
];

/// What the harness sets up for the escape probe to aim at: a harmless
/// `sleep` (the host process to signal and ptrace) and a listening abstract
/// unix socket with a unique name. Both go away on drop, on every path.
struct EscapeTargets {
    sleeper: Child,
    listener: UnixListener,
    socket: String,
}

impl EscapeTargets {
    fn start(tag: &str) -> Result<Self, ScenarioError> {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::net::SocketAddr;
        use std::process::{Command, Stdio};
        let socket = format!("isobench-escape-{tag}");
        let what = format!("abstract socket \\0{socket}");
        let listener = SocketAddr::from_abstract_name(socket.as_bytes())
            .and_then(|a| UnixListener::bind_addr(&a))
            .context(&what)?;
        listener.set_nonblocking(true).context(&what)?;
        let sleeper = Command::new("sleep")
            .arg("30")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting the target process `sleep 30`")?;
        Ok(EscapeTargets {
            sleeper,
            listener,
            socket,
        })
    }

    fn pid(&self) -> u32 {
        self.sleeper.id()
    }

    /// Connections queued since the last call (the probe's, if it got in).
    fn accepted(&self) -> usize {
        std::iter::from_fn(|| self.listener.accept().ok()).count()
    }
}

impl Drop for EscapeTargets {
    fn drop(&mut self) {
        let _ = self.sleeper.kill();
        let _ = self.sleeper.wait();
    }
}

/// The escape probe's spec: the probe spec of the set, aimed at a host
/// process and an abstract socket.
pub fn escape_spec(cfg: &Config, ns: Namespaces, host_pid: u32, socket: &str) -> SandboxSpec {
    let mut s = probe_spec(cfg, ns);
    s.args = vec![
        "escape".into(),
        "--host-pid".into(),
        host_pid.to_string(),
        "--abstract-socket".into(),
        socket.into(),
    ];
    s.deadline = ESCAPE_DEADLINE;
    s
}

/// One escape probe's reports and the harness's own view of it.
pub struct Escaped {
    pub attempts: Vec<Escape>,
    /// Connections the harness's socket accepted during the probe.
    pub accepted: usize,
}

fn run_escape(
    ctx: &Ctx,
    spec: &SandboxSpec,
    targets: &EscapeTargets,
) -> Result<Escaped, ScenarioError> {
    targets.accepted();
    let mut r = ctx.launch(spec)?;
    r.wait_ready()?;
    let exit = r.wait_exit()?;
    let mut attempts = Vec::new();
    let mut done = false;
    for e in std::mem::take(&mut r.events) {
        match e {
            Event::Escape(a) => attempts.push(a),
            Event::EscapeDone(_) => done = true,
            _ => {}
        }
    }
    r.teardown().context("teardown")?;
    let n = attempts.len();
    if exit != Exit::Code(0) {
        return Err(ScenarioError::failed(format!(
            "escape probe ended with {exit} after {n} attempt(s)"
        )));
    }
    if !done {
        return Err(ScenarioError::failed(format!(
            "escape probe ended without escape_done after {n} attempt(s)"
        )));
    }
    Ok(Escaped {
        attempts,
        accepted: targets.accepted(),
    })
}

/// The escape probe with no namespace (where the launcher honours that)
/// and with the full set the launcher supports, each a result row.
pub fn run_escapes(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, ScenarioError> {
    let mut out = Vec::new();
    for (i, ns) in with_baseline(&ctx.kind, [Namespaces::all()]).into_iter().enumerate() {
        interrupted()?;
        let (kept, dropped) = supported_part(&ctx.kind, ns);
        let tag = format!("{}-{}-{i}", ctx.set.run_id, ctx.launcher);
        let outcome = EscapeTargets::start(&tag).and_then(|t| {
            let spec = escape_spec(cfg, kept, t.pid(), &t.socket);
            run_escape(ctx, &spec, &t)
        });
        let spec = escape_spec(cfg, kept, 0, "");
        out.push(ctx.timed(escape_result(&spec, &dropped, outcome, &ctx.launcher)));
    }
    Ok(out)
}

/// "EPERM (1)".
fn errno_name(n: i64) -> String {
    let name = i32::try_from(n)
        .map(|n| format!("{:?}", nix::errno::Errno::from_raw(n)))
        .unwrap_or_else(|_| "?".into());
    format!("{name} ({n})")
}

/// One check per attempt. Under a set (`baseline` false) an attempt must
/// be refused: pass when blocked, fail when it got through. In the
/// baseline the attempt should get through, which shows the probe can see
/// that escape: pass when it did, skip (with the reason) when even the host
/// refused it. `accepted` is what the harness's socket saw, which overrides
/// the probe's own word for the socket attempt.
pub fn escape_checks(attempts: &[Escape], baseline: bool, accepted: usize) -> Vec<Check> {
    ESCAPE_ATTEMPTS
        .iter()
        .map(|(name, what)| {
            let a = attempts.iter().find(|a| a.attempt == *name);
            let socket_accepted = if *name == "abstract-socket" { accepted } else { 0 };
            attempt_check(name, what, a, baseline, socket_accepted)
        })
        .collect()
}

/// The check of attempt `name` from its report `a` (`None`: not reported).
fn attempt_check(
    name: &str,
    what: &str,
    a: Option<&Escape>,
    baseline: bool,
    accepted: usize,
) -> Check {
    let detail = a.map(|a| a.detail.clone()).unwrap_or_default();
    let errno = a.map_or(0, |a| a.errno);
    // Outer `None`: no report; inner `None`: not tried.
    let mut blocked = a.map(|a| a.blocked);
    let mut observed = match blocked {
        None => "no report for this attempt".to_string(),
        Some(None) => "not tried".to_string(),
        Some(Some(true)) => format!("refused: {}", errno_name(errno)),
        Some(Some(false)) if errno != 0 => {
            format!("got through (later error {})", errno_name(errno))
        }
        Some(Some(false)) => "got through".to_string(),
    };
    if accepted > 0 {
        blocked = Some(Some(false));
        observed = format!("{observed}; the harness accepted {accepted} connection(s)");
    }
    let expected = if baseline {
        format!("{what} gets through without namespaces (proves the check can fail)")
    } else {
        format!("{what} refused")
    };
    let (status, detail) = match (baseline, blocked) {
        (_, Some(None)) => (Status::Skip, detail),
        (true, Some(Some(false))) | (false, Some(Some(true))) => (Status::Pass, detail),
        (true, Some(Some(true))) => (
            Status::Skip,
            format!("refused even without namespaces, so this host cannot show that the probe would see it: {detail}"),
        ),
        (true, None) => (Status::Skip, "the probe did not report it".into()),
        (false, Some(Some(false))) => (
            Status::Fail,
            format!("the sandbox let it through: {detail}"),
        ),
        (false, None) => (
            Status::Fail,
            "the probe did not report it, so it cannot be shown refused".into(),
        ),
    };
    Check::new(n::escape(name), status, expected, observed, detail)
}

/// An escape probe's row: a check per attempt (or the probe's error), the
/// kinds the launcher dropped, and under namespaces the escapes counted.
pub fn escape_result(
    spec: &SandboxSpec,
    dropped: &[(String, String)],
    outcome: Result<Escaped, ScenarioError>,
    launcher: &str,
) -> ScenarioResult {
    let ns = spec.namespaces;
    let baseline = ns.is_empty();
    let row = probe_row(spec, launcher).param("probe", "escape");
    let row = match outcome {
        Err(e) => row.error(format!("escape probe with namespaces [{ns}]: {e}")),
        Ok(e) => {
            let checks = escape_checks(&e.attempts, baseline, e.accepted);
            let escaped = checks.iter().filter(|c| c.status == Status::Fail).count();
            let row = row.checks(checks);
            if baseline {
                row
            } else {
                row.metric(Metric::new(
                    n::ESCAPES,
                    "count",
                    Better::Lower,
                    vec![escaped as f64],
                ))
            }
        }
    };
    row.checks(dropped_checks(dropped)).build()
}
