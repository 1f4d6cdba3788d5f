//! isolation: what a workload inside each namespace set can see of the host.
//!
//! `isobench-workload probe` runs first with no namespace at all — the
//! baseline, which must show every leak (otherwise a check that passes
//! later proves nothing) — then in each configured set, under a memory
//! limit and a CPU quota so the famous /proc visibility leaks have
//! something to leak. Each namespace of a set gets one check: it must
//! isolate (pass / fail). The baseline gets one per namespace kind: the leak
//! must be visible (pass / fail, or skip when this host cannot show it).
//! Visibility leaks are warnings.
//!
//! Then `isobench-workload escape` runs twice more: with no namespace (the
//! baseline, where most attempts get through, which proves the probe can
//! see an escape) and with the full set and the minimal rootfs, where every
//! attempt must be refused: signal and ptrace a host process (a `sleep` the
//! harness starts for it), write its own or its parent's cgroup limits,
//! mount and remount, load a kernel module, write /proc/sys, connect to an
//! abstract unix socket the harness listens on. Each attempt is a check
//! `escape.<attempt>` in a row with `probe = "escape"`.
//!
//! The verdicts are pure functions of the probe's JSON, the spec and a few
//! host facts, so they are tested on recorded data.

use std::collections::BTreeMap;
use std::time::Duration;

use isobench_reports::{Better, Check, Metric, ScenarioResult, Status};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::sandbox::NsSet;
use super::{merge_over, Ctx, Level};
use crate::cgroup::{CpuMax, Limits};
use crate::launchers::Launcher;
use crate::sandbox::{Exit, IdMap, Namespaces, Rootfs, SandboxSpec};

pub const ABOUT: &str =
    "Isolation: `probe` per namespace set (and a no-namespace baseline that must leak); per-namespace checks and /proc leaks of memory, CPUs, uptime, load; `escape` attempts under the full set (each must be refused) and the baseline";

/// Meaning of each parameter, for `isobench list`.
pub const ABOUT_PARAMS: &[(&str, &str)] = &[
    (
        "sets",
        "namespace sets probed after the no-namespace baseline; --namespaces picks one",
    ),
    (
        "memory-max-mib",
        "memory limit of the probed sandboxes (what MemTotal should show)",
    ),
    (
        "cpu-quota-pct",
        "CPU quota of the probed sandboxes, % of one CPU (what nproc should show)",
    ),
    (
        "hostname",
        "hostname given to sandboxes with a uts namespace",
    ),
    (
        "outside-uid",
        "host uid that root in a user namespace maps to (uid_map \"0 UID 1\")",
    ),
    (
        "outside-gid",
        "host gid that root in a user namespace maps to",
    ),
];

/// CFS period of the probed sandboxes' quota.
const PERIOD_US: u64 = 100_000;
/// Deadline of one probe.
const PROBE_DEADLINE: Duration = Duration::from_secs(5);
/// Deadline of one escape probe (a dozen syscalls, a few mounts).
const ESCAPE_DEADLINE: Duration = Duration::from_secs(10);
/// /proc/uptime has two decimals.
const UPTIME_RESOLUTION_S: f64 = 0.01;

/// Parameters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Namespace sets probed after the baseline.
    pub sets: Vec<NsSet>,
    pub memory_max_mib: u64,
    pub cpu_quota_pct: f64,
    pub hostname: String,
    pub outside_uid: u32,
    pub outside_gid: u32,
}

impl Config {
    /// Built-in defaults of a suite level (the probes take milliseconds, so
    /// both levels probe the same).
    pub fn level(_level: Level) -> Self {
        Config {
            sets: vec![
                NsSet(Namespaces::parse("pid,mnt,uts,ipc").expect("built-in set")),
                NsSet(Namespaces::all()),
            ],
            memory_max_mib: 256,
            cpu_quota_pct: 50.0,
            hostname: "isobench-probe".into(),
            outside_uid: 65534,
            outside_gid: 65534,
        }
    }

    /// Level defaults overridden by a suite-file section, then validated.
    pub fn parse(level: Level, table: Option<&toml::Table>) -> Result<Self, String> {
        let c: Config = merge_over("isolation", &Self::level(level), table)?;
        c.validate(crate::env::cpus(), physical_memory())?;
        Ok(c)
    }

    /// Rejects limits the kernel cannot set or a probe cannot start under.
    pub fn validate(&self, cpus: u32, memory_bytes: Option<u64>) -> Result<(), String> {
        let e = |m: String| Err(format!("[isolation]: {m}"));
        if self.sets.is_empty() {
            return e("sets must name at least one namespace set".into());
        }
        for (i, s) in self.sets.iter().enumerate() {
            if self.sets[..i].contains(s) {
                return e(format!("sets lists {s:?} twice"));
            }
        }
        if self.memory_max_mib < 16 {
            return e(format!(
                "memory-max-mib {} is below the 16 MiB a probe needs to start",
                self.memory_max_mib
            ));
        }
        if let Some(m) = memory_bytes {
            if self.memory_max_mib.saturating_mul(1 << 20) > m {
                return e(format!(
                    "memory-max-mib {} exceeds this machine's {} MiB",
                    self.memory_max_mib,
                    m >> 20
                ));
            }
        }
        let max_pct = 100.0 * f64::from(cpus);
        if !(1.0..=max_pct).contains(&self.cpu_quota_pct) {
            return e(format!(
                "cpu-quota-pct {} is outside 1 – {max_pct} (1 ms of a 100 ms period – all {cpus} CPUs)",
                self.cpu_quota_pct
            ));
        }
        let h = &self.hostname;
        if h.is_empty()
            || h.len() > 64
            || h.starts_with('-')
            || !h
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return e(format!(
                "hostname {h:?} is not 1 – 64 characters of letters, digits, '-' and '.'"
            ));
        }
        if self.outside_uid == u32::MAX || self.outside_gid == u32::MAX {
            return e("outside-uid / outside-gid 4294967295 is (uid_t)-1, not an id".into());
        }
        Ok(())
    }

    /// The sets to probe after the baseline: `--namespaces` wins.
    pub fn effective_sets(&self, ctx_namespaces: Option<Namespaces>) -> Vec<Namespaces> {
        let sets = match ctx_namespaces {
            Some(n) => vec![n],
            None => self.sets.iter().map(|s| s.0).collect(),
        };
        // The baseline already is the empty set.
        sets.into_iter().filter(|n| !n.is_empty()).collect()
    }

    /// The quota as CPUs.
    pub fn quota_cpus(&self) -> f64 {
        self.cpu_quota_pct / 100.0
    }
}

/// Physical memory (sysinfo), for validating the memory limit.
fn physical_memory() -> Option<u64> {
    // SAFETY: sysinfo fills a zeroed struct we own.
    let mut si: libc::sysinfo = unsafe { std::mem::zeroed() };
    if unsafe { libc::sysinfo(&mut si) } != 0 {
        return None;
    }
    #[allow(clippy::unnecessary_cast)] // c_ulong is u32 on 32-bit targets
    let total = si.totalram as u64;
    Some(total.saturating_mul(u64::from(si.mem_unit.max(1))))
}

/// What a probed sandbox was configured with, and how the harness saw it.
#[derive(Debug, Clone)]
pub struct Expect {
    pub namespaces: Namespaces,
    pub rootfs: Rootfs,
    pub hostname: Option<String>,
    pub uid_map: Vec<IdMap>,
    pub gid_map: Vec<IdMap>,
    pub memory_max: u64,
    pub quota_cpus: f64,
    /// Leaf name of the sandbox's cgroup (what a leaky /proc/self/cgroup shows).
    pub cgroup_name: String,
    /// The probe's pid as the harness sees it.
    pub host_pid: i32,
}

/// Host facts the harness gathered around the probes.
#[derive(Debug, Clone)]
pub struct Host {
    pub harness_pid: u32,
    /// Hostname before and after the probes (a uts leak would change it).
    pub hostname_before: String,
    pub hostname_after: String,
    /// The harness's SysV shm segment, or why it could not make one.
    pub shm_id: Result<u64, String>,
    /// The harness's mounts as "MAJ:MIN ROOT MOUNTPOINT" keys (the probe's
    /// `mount_keys`): a sandbox showing one of them sees a host mount.
    pub mount_keys: Option<Vec<String>>,
}

/// Host's /proc/uptime and /proc/loadavg just before and after one probe.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Window {
    pub uptime_s: (Option<f64>, Option<f64>),
    pub loadavg: (Option<String>, Option<String>),
}

fn read_uptime() -> Option<f64> {
    std::fs::read_to_string("/proc/uptime")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn read_loadavg() -> Option<String> {
    let t = std::fs::read_to_string("/proc/loadavg").ok()?;
    let f: Vec<&str> = t.split_whitespace().take(3).collect();
    (f.len() == 3).then(|| f.join(" "))
}

/// The harness's mount keys: fields 3–5 of /proc/self/mountinfo, as the
/// probe reports them.
fn host_mount_keys() -> Option<Vec<String>> {
    let t = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    Some(
        t.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(' ').skip(2).take(3).collect();
                (f.len() == 3).then(|| f.join(" "))
            })
            .collect(),
    )
}

/// Whether the launcher runs a workload in the host's namespaces when asked
/// for none, so a baseline through it shows the host. OCI runtimes always
/// make at least a mount namespace; their rows rely on another launcher's
/// baseline (native's, in a default run).
fn honours_no_namespace(kind: &Launcher) -> bool {
    !matches!(kind, Launcher::Runc | Launcher::Crun | Launcher::Oci(_))
}

/// The part of `ns` the launcher can create, and each namespace it cannot
/// with the launcher's reason.
pub fn supported_part(kind: &Launcher, ns: Namespaces) -> (Namespaces, Vec<(String, String)>) {
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for name in Namespaces::NAMES {
        let one = Namespaces::parse(name).expect("known namespace name");
        if ns.clone_flags() & one.clone_flags() == 0 {
            continue;
        }
        match kind.unsupported(&one) {
            Some(why) => dropped.push((name.to_string(), why)),
            None => kept.push(name),
        }
    }
    let kept = Namespaces::parse(&kept.join(",")).expect("known namespace names");
    (kept, dropped)
}

fn hostname() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A SysV shared memory segment made by the harness so the ipc check has
/// something to (not) see. It is attached and marked for removal at once:
/// it stays listed while attached and vanishes with the harness, even if
/// the harness is SIGKILLed.
struct ShmSegment {
    id: i32,
    addr: *mut libc::c_void,
}

impl ShmSegment {
    fn create() -> Result<Self, String> {
        // SAFETY: plain SysV IPC calls; every failure path releases what
        // was made.
        unsafe {
            let id = libc::shmget(libc::IPC_PRIVATE, 4096, libc::IPC_CREAT | 0o600);
            if id < 0 {
                return Err(format!("shmget: {}", std::io::Error::last_os_error()));
            }
            let addr = libc::shmat(id, std::ptr::null(), libc::SHM_RDONLY);
            if addr as isize == -1 {
                let err = std::io::Error::last_os_error();
                libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut());
                return Err(format!("shmat: {err}"));
            }
            if libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()) != 0 {
                let err = std::io::Error::last_os_error();
                libc::shmdt(addr);
                return Err(format!("shmctl(IPC_RMID): {err}"));
            }
            Ok(ShmSegment { id, addr })
        }
    }
}

impl Drop for ShmSegment {
    fn drop(&mut self) {
        // SAFETY: detaching our own attachment; the segment, already marked
        // IPC_RMID, is destroyed with its last attachment.
        unsafe {
            libc::shmdt(self.addr);
        }
    }
}

/// One probe's outcome.
struct Probed {
    probe: Value,
    ready_s: Option<f64>,
    window: Window,
    expect: Expect,
}

fn probe_spec(cfg: &Config, ns: Namespaces) -> SandboxSpec {
    let mut s = SandboxSpec::workload(&["probe"]);
    s.namespaces = ns;
    s.rootfs = if ns.mnt {
        Rootfs::Minimal
    } else {
        Rootfs::Host
    };
    s.hostname = ns.uts.then(|| cfg.hostname.clone());
    s.uid_map = vec![IdMap {
        inside: 0,
        outside: cfg.outside_uid,
        count: 1,
    }];
    s.gid_map = vec![IdMap {
        inside: 0,
        outside: cfg.outside_gid,
        count: 1,
    }];
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

fn run_probe(ctx: &Ctx, spec: &SandboxSpec, quota_cpus: f64) -> Result<Probed, String> {
    let before = (read_uptime(), read_loadavg());
    let mut r = ctx.launch(spec).map_err(|e| e.to_string())?;
    let cgroup_name = r
        .cgroup_dirs()
        .first()
        .and_then(|d| d.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let host_pid = r.pid;
    r.wait_ready().map_err(|e| e.to_string())?;
    let exit = r.wait_exit().map_err(|e| e.to_string())?;
    let after = (read_uptime(), read_loadavg());
    let probe = r.events.iter().find(|e| e["event"] == "probe").cloned();
    let events = r.events.len();
    let phases = r.teardown().map_err(|e| format!("teardown: {e}"))?;
    if exit != Exit::Code(0) {
        return Err(format!("probe ended with {exit}"));
    }
    let probe = probe.ok_or(format!("probe reported no result ({events} events)"))?;
    Ok(Probed {
        probe,
        ready_s: phases.ready.map(|d| d.as_secs_f64()),
        window: Window {
            uptime_s: (before.0, after.0),
            loadavg: (before.1, after.1),
        },
        expect: Expect {
            namespaces: spec.namespaces,
            rootfs: spec.rootfs,
            hostname: spec.hostname.clone(),
            uid_map: spec.uid_map.clone(),
            gid_map: spec.gid_map.clone(),
            memory_max: spec.limits.memory_max.unwrap_or(0),
            quota_cpus,
            cgroup_name,
            host_pid,
        },
    })
}

/// Probes the baseline, then each set.
pub fn run(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, String> {
    let shm = ShmSegment::create();
    let mut host = Host {
        harness_pid: std::process::id(),
        hostname_before: hostname(),
        hostname_after: String::new(),
        shm_id: shm.as_ref().map(|s| s.id as u64).map_err(Clone::clone),
        mount_keys: host_mount_keys(),
    };
    let mut sets = Vec::new();
    if honours_no_namespace(&ctx.kind) {
        sets.push(Namespaces::default());
    }
    sets.extend(cfg.effective_sets(ctx.namespaces));
    let mut probed = Vec::new();
    for ns in sets {
        if let Some(sig) = crate::interrupt::requested() {
            return Err(format!("interrupted by signal {sig}"));
        }
        // A peer that lacks a namespace kind is probed with the rest; the
        // missing kinds are reported, never silently dropped.
        let (kept, dropped) = supported_part(&ctx.kind, ns);
        let spec = probe_spec(cfg, kept);
        // Nothing left to probe: the skips say why.
        let p = (kept != Namespaces::default() || ns.is_empty())
            .then(|| run_probe(ctx, &spec, cfg.quota_cpus()));
        probed.push((spec, dropped, p));
    }
    let escapes = run_escapes(cfg, ctx)?;
    host.hostname_after = hostname();
    drop(shm);
    let mut out: Vec<ScenarioResult> = probed
        .into_iter()
        .map(|(spec, dropped, p)| set_result(cfg, &spec, &dropped, p, &host, &ctx.launcher))
        .collect();
    out.extend(escapes);
    Ok(out)
}

/// What the harness sets up for the escape probe to aim at: a harmless
/// `sleep` (the host process to signal and ptrace) and a listening abstract
/// unix socket with a unique name. Both go away on drop, on every path.
struct EscapeTargets {
    sleeper: std::process::Child,
    listener: std::os::unix::net::UnixListener,
    socket: String,
}

impl EscapeTargets {
    fn start(tag: &str) -> Result<Self, String> {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::net::{SocketAddr, UnixListener};
        let socket = format!("isobench-escape-{tag}");
        let listener = SocketAddr::from_abstract_name(socket.as_bytes())
            .and_then(|a| UnixListener::bind_addr(&a))
            .map_err(|e| format!("abstract socket \\0{socket}: {e}"))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("abstract socket \\0{socket}: {e}"))?;
        let sleeper = std::process::Command::new("sleep")
            .arg("30")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| format!("starting the target process `sleep 30`: {e}"))?;
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

/// The escape probe's spec: the probe spec of the set, aimed at `targets`.
fn escape_spec(cfg: &Config, ns: Namespaces, host_pid: u32, socket: &str) -> SandboxSpec {
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
struct Escaped {
    attempts: Vec<Value>,
    /// Connections the harness's socket accepted during the probe.
    accepted: usize,
}

fn run_escape(ctx: &Ctx, spec: &SandboxSpec, targets: &EscapeTargets) -> Result<Escaped, String> {
    targets.accepted();
    let mut r = ctx.launch(spec).map_err(|e| e.to_string())?;
    r.wait_ready().map_err(|e| e.to_string())?;
    let exit = r.wait_exit().map_err(|e| e.to_string())?;
    let attempts: Vec<Value> = r
        .events
        .iter()
        .filter(|e| e["event"] == "escape")
        .cloned()
        .collect();
    let done = r.events.iter().any(|e| e["event"] == "escape_done");
    r.teardown().map_err(|e| format!("teardown: {e}"))?;
    if exit != Exit::Code(0) {
        return Err(format!(
            "escape probe ended with {exit} after {} attempt(s)",
            attempts.len()
        ));
    }
    if !done {
        return Err(format!(
            "escape probe ended without escape_done after {} attempt(s)",
            attempts.len()
        ));
    }
    Ok(Escaped {
        attempts,
        accepted: targets.accepted(),
    })
}

/// The escape probe with no namespace (where the launcher honours that)
/// and with the full set the launcher supports, each a result row.
fn run_escapes(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, String> {
    let mut sets = Vec::new();
    if honours_no_namespace(&ctx.kind) {
        sets.push(Namespaces::default());
    }
    sets.push(Namespaces::all());
    let mut out = Vec::new();
    for (i, ns) in sets.into_iter().enumerate() {
        if let Some(sig) = crate::interrupt::requested() {
            return Err(format!("interrupted by signal {sig}"));
        }
        let (kept, dropped) = supported_part(&ctx.kind, ns);
        let tag = format!("{}-{}-{i}", ctx.set.run_id, ctx.launcher);
        let outcome = EscapeTargets::start(&tag).and_then(|t| {
            let spec = escape_spec(cfg, kept, t.pid(), &t.socket);
            run_escape(ctx, &spec, &t)
        });
        let spec = escape_spec(cfg, kept, 0, "");
        out.push(escape_result(&spec, &dropped, outcome, &ctx.launcher));
    }
    Ok(out)
}

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
pub fn escape_checks(attempts: &[Value], baseline: bool, accepted: usize) -> Vec<Check> {
    ESCAPE_ATTEMPTS
        .iter()
        .map(|(name, what)| {
            let a = attempts.iter().find(|a| a["attempt"] == *name);
            let detail = a
                .and_then(|a| a["detail"].as_str())
                .unwrap_or("")
                .to_string();
            let errno = a.and_then(|a| a["errno"].as_i64()).unwrap_or(0);
            let mut blocked = a.map(|a| a["blocked"].as_bool());
            let mut observed = match blocked {
                None => "no report for this attempt".to_string(),
                Some(None) => "not tried".to_string(),
                Some(Some(true)) => format!("refused: {}", errno_name(errno)),
                Some(Some(false)) if errno != 0 => {
                    format!("got through (later error {})", errno_name(errno))
                }
                Some(Some(false)) => "got through".to_string(),
            };
            if *name == "abstract-socket" && accepted > 0 {
                blocked = Some(Some(false));
                observed = format!("{observed}; the harness accepted {accepted} connection(s)");
            }
            let check = |status, expected: String, detail: String| {
                Check::new(format!("escape.{name}"), status, expected, &observed, detail)
            };
            if baseline {
                let expected = format!("{what} gets through without namespaces (proves the check can fail)");
                match blocked {
                    Some(Some(false)) => check(Status::Pass, expected, detail),
                    Some(Some(true)) => check(
                        Status::Skip,
                        expected,
                        format!("refused even without namespaces, so this host cannot show that the probe would see it: {detail}"),
                    ),
                    Some(None) => check(Status::Skip, expected, detail),
                    None => check(Status::Skip, expected, "the probe did not report it".into()),
                }
            } else {
                let expected = format!("{what} refused");
                match blocked {
                    Some(Some(true)) => check(Status::Pass, expected, detail),
                    Some(Some(false)) => check(
                        Status::Fail,
                        expected,
                        format!("the sandbox let it through: {detail}"),
                    ),
                    Some(None) => check(Status::Skip, expected, detail),
                    None => check(
                        Status::Fail,
                        expected,
                        "the probe did not report it, so it cannot be shown refused".into(),
                    ),
                }
            }
        })
        .collect()
}

fn escape_result(
    spec: &SandboxSpec,
    dropped: &[(String, String)],
    outcome: Result<Escaped, String>,
    launcher: &str,
) -> ScenarioResult {
    let ns = spec.namespaces;
    let baseline = ns.is_empty();
    let mut params = serde_json::Map::new();
    params.insert("probe".into(), json!("escape"));
    params.insert("namespaces".into(), json!(ns.to_string()));
    params.insert("baseline".into(), json!(baseline));
    params.insert("rootfs".into(), json!(rootfs_name(spec.rootfs)));
    let mut r = ScenarioResult {
        name: "isolation".into(),
        launcher: launcher.to_string(),
        launcher_spec: None,
        params,
        metrics: Vec::new(),
        checks: Vec::new(),
        series: BTreeMap::new(),
        error: None,
    };
    match outcome {
        Err(e) => r.error = Some(format!("escape probe with namespaces [{ns}]: {e}")),
        Ok(e) => {
            r.checks = escape_checks(&e.attempts, baseline, e.accepted);
            if !baseline {
                let escaped = r.checks.iter().filter(|c| c.status == Status::Fail).count();
                r.metrics.push(Metric::new(
                    "escapes",
                    "count",
                    Better::Lower,
                    vec![escaped as f64],
                ));
            }
        }
    }
    r.checks.extend(dropped_checks(dropped));
    r
}

/// A skip per namespace kind the launcher could not create, with its reason.
fn dropped_checks(dropped: &[(String, String)]) -> impl Iterator<Item = Check> + '_ {
    dropped.iter().map(|(kind, why)| {
        Check::new(
            kind.as_str(),
            Status::Skip,
            format!("a {kind} namespace"),
            "not created by this launcher",
            why.as_str(),
        )
    })
}

fn rootfs_name(r: Rootfs) -> &'static str {
    match r {
        Rootfs::Host => "host",
        Rootfs::Minimal => "minimal",
    }
}

fn set_result(
    cfg: &Config,
    spec: &SandboxSpec,
    dropped: &[(String, String)],
    probed: Option<Result<Probed, String>>,
    host: &Host,
    launcher: &str,
) -> ScenarioResult {
    let ns = spec.namespaces;
    let mut params = serde_json::Map::new();
    params.insert("namespaces".into(), json!(ns.to_string()));
    params.insert("baseline".into(), json!(ns.is_empty()));
    params.insert("rootfs".into(), json!(rootfs_name(spec.rootfs)));
    params.insert("memory_max_mib".into(), json!(cfg.memory_max_mib));
    params.insert("cpu_quota_pct".into(), json!(cfg.cpu_quota_pct));
    let mut r = ScenarioResult {
        name: "isolation".into(),
        launcher: launcher.to_string(),
        launcher_spec: None,
        params,
        metrics: Vec::new(),
        checks: Vec::new(),
        series: BTreeMap::new(),
        error: None,
    };
    r.checks.extend(dropped_checks(dropped));
    match probed {
        None => {}
        Some(Err(e)) => r.error = Some(format!("probe with namespaces [{ns}]: {e}")),
        Some(Ok(p)) => {
            r.checks
                .splice(0..0, namespace_checks(&p.probe, &p.expect, host));
            r.metrics.push(Metric::new(
                "ready",
                "s",
                Better::Lower,
                p.ready_s.into_iter().collect(),
            ));
            if !ns.is_empty() {
                let leaks = leak_checks(&p.probe, &p.expect, &p.window);
                let n = leaks.iter().filter(|c| c.status == Status::Warn).count();
                r.checks.extend(leaks);
                r.metrics
                    .push(Metric::new("leaks", "count", Better::Lower, vec![n as f64]));
            }
        }
    }
    r
}

/// How a namespace's check is judged in this probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// In the set: must isolate.
    Isolate,
    /// The no-namespace baseline: the leak must be visible.
    Baseline,
}

/// What one namespace's detector saw.
struct Seen {
    /// Whether the host leaked through; None when it cannot be told.
    leaked: Option<bool>,
    /// Isolation expected, in numbers.
    isolated_text: String,
    /// The leak the baseline must show.
    leak_text: String,
    observed: String,
    /// Hint for a failing isolation check, or why nothing can be told.
    note: String,
}

impl Seen {
    /// Nothing can be told: the view was unreadable or there was nothing
    /// to look for.
    fn unobservable(observed: &str, why: &str) -> Self {
        Seen {
            leaked: None,
            isolated_text: String::new(),
            leak_text: String::new(),
            observed: observed.into(),
            note: why.into(),
        }
    }
}

fn strs(v: &Value) -> Option<Vec<String>> {
    v.as_array().map(|a| {
        a.iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect()
    })
}

fn u64s(v: &Value) -> Option<Vec<u64>> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
}

fn list(v: &[String], max: usize) -> String {
    let mut s = v.iter().take(max).cloned().collect::<Vec<_>>().join(", ");
    if v.len() > max {
        s += &format!(", … ({} more)", v.len() - max);
    }
    s
}

/// Parses the kernel's uid_map / gid_map text ("0 65534 1" per line).
pub fn parse_id_map(text: &str) -> Option<Vec<IdMap>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<u32> = l
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?;
            match f[..] {
                [inside, outside, count] => Some(IdMap {
                    inside,
                    outside,
                    count,
                }),
                _ => None,
            }
        })
        .collect()
}

fn map_text(m: &[IdMap]) -> String {
    m.iter()
        .map(|m| format!("{} {} {}", m.inside, m.outside, m.count))
        .collect::<Vec<_>>()
        .join(", ")
}

fn see_pid(p: &Value, exp: &Expect, host: &Host) -> Seen {
    let pid = p["pid"].as_u64();
    let ppid = p["ppid"].as_u64();
    let vis = u64s(&p["visible_pids"]);
    let harness = u64::from(host.harness_pid);
    // Its own pid namespace's processes: init (a launcher may keep one, as
    // bwrap does), itself and its parent.
    let own = |x: u64| x == 1 || Some(x) == pid || Some(x) == ppid;
    let foreign = vis
        .as_ref()
        .map_or(0, |v| v.iter().filter(|&&x| !own(x)).count());
    let sees_harness = vis.as_ref().is_some_and(|v| v.contains(&harness));
    let leaked = foreign > 0 || sees_harness || pid == u64::try_from(exp.host_pid).ok();
    let show = |v: Option<u64>| v.map_or("?".into(), |x| x.to_string());
    Seen {
        leaked: Some(leaked),
        isolated_text: "only its own pid namespace's processes visible (init, itself, its parent)"
            .into(),
        leak_text: format!(
            "host pids visible: its host pid {} or the harness's {harness}",
            exp.host_pid
        ),
        observed: format!(
            "pid {} (parent {}); {}",
            show(pid),
            show(ppid),
            match &vis {
                Some(v) => format!(
                    "{} pid(s) visible, {foreign} of them not its own{}",
                    v.len(),
                    if sees_harness {
                        format!(", the harness's {harness} among them")
                    } else {
                        String::new()
                    }
                ),
                None => "/proc unreadable".into(),
            }
        ),
        note: if pid.is_some_and(|x| x <= 2) && foreign > 0 {
            "a pid namespace without its own /proc mount still lists the host's processes".into()
        } else {
            String::new()
        },
    }
}

fn see_mnt(p: &Value, host: &Host) -> Seen {
    let Some(keys) = strs(&p["mount_keys"]) else {
        return Seen::unobservable(
            "mountinfo unreadable",
            "the probe could not read /proc/self/mountinfo",
        );
    };
    let Some(host_keys) = &host.mount_keys else {
        return Seen::unobservable(
            "no host mount table",
            "the harness could not read its own /proc/self/mountinfo",
        );
    };
    let host_set: std::collections::HashSet<&str> = host_keys.iter().map(String::as_str).collect();
    let point = |k: &String| k.rsplit(' ').next().unwrap_or("").to_string();
    let shared: Vec<String> = keys
        .iter()
        .filter(|k| host_set.contains(k.as_str()))
        .map(point)
        .collect();
    let points: Vec<String> = keys.iter().map(point).collect();
    Seen {
        leaked: Some(!shared.is_empty()),
        isolated_text: format!(
            "none of the host's {} mounts (same device, root and mount point)",
            host_keys.len()
        ),
        leak_text: "the host's mounts visible".into(),
        observed: if shared.is_empty() {
            format!(
                "{} mount(s): {}; none the host's",
                keys.len(),
                list(&points, 6)
            )
        } else {
            format!(
                "{} mount(s), {} of them the host's: {}",
                keys.len(),
                shared.len(),
                list(&shared, 5)
            )
        },
        note: String::new(),
    }
}

fn see_net(p: &Value, exp: &Expect) -> Seen {
    let Some(ifs) = strs(&p["interfaces"]) else {
        return Seen::unobservable(
            "interfaces unreadable",
            "the probe could not read /proc/net/dev",
        );
    };
    let others = ifs.iter().filter(|i| *i != "lo").count();
    // In the host's own namespace, only lo means the host has nothing else.
    let cannot_tell = exp.namespaces.is_empty() && others == 0;
    Seen {
        leaked: (!cannot_tell).then_some(others > 0),
        isolated_text: "only lo".into(),
        leak_text: "host interfaces besides lo visible".into(),
        observed: format!("interfaces: {}", list(&ifs, 8)),
        note: if cannot_tell {
            "this host has no interface besides lo, so a net leak looks like isolation".into()
        } else {
            String::new()
        },
    }
}

fn see_uts(p: &Value, exp: &Expect, host: &Host) -> Seen {
    let h = p["hostname"].as_str();
    let own = exp.hostname.as_deref();
    let host_changed = host.hostname_after != host.hostname_before;
    let leaked = match own {
        Some(own) => h != Some(own) || host_changed,
        None => h == Some(host.hostname_before.as_str()),
    };
    Seen {
        leaked: Some(leaked),
        isolated_text: format!(
            "hostname {:?} inside, host's stays {:?}",
            own.unwrap_or("(own)"),
            host.hostname_before
        ),
        leak_text: format!("the host's hostname {:?}", host.hostname_before),
        observed: format!(
            "hostname {:?} inside; host's {:?}{}",
            h.unwrap_or("?"),
            host.hostname_after,
            if host_changed {
                format!(" (was {:?})", host.hostname_before)
            } else {
                String::new()
            }
        ),
        note: if host_changed {
            "the sandbox renamed the host".into()
        } else {
            String::new()
        },
    }
}

fn see_ipc(p: &Value, host: &Host) -> Seen {
    let id = match &host.shm_id {
        Ok(id) => *id,
        Err(e) => {
            return Seen::unobservable(
                "no segment to look for",
                &format!("the harness could not make a SysV shm segment: {e}"),
            )
        }
    };
    let Some(ids) = u64s(&p["sysvipc_shm"]) else {
        return Seen::unobservable(
            "/proc/sysvipc/shm unreadable",
            "the probe could not read /proc/sysvipc/shm",
        );
    };
    let seen = ids.contains(&id);
    Seen {
        leaked: Some(seen),
        isolated_text: format!("the harness's shm segment {id} absent"),
        leak_text: format!("the harness's shm segment {id} listed"),
        observed: format!(
            "{} segment(s) listed; {id} {}",
            ids.len(),
            if seen { "among them" } else { "absent" }
        ),
        note: String::new(),
    }
}

fn see_user(p: &Value, exp: &Expect) -> Seen {
    let uid = parse_id_map(p["uid_map"].as_str().unwrap_or(""));
    let gid = parse_id_map(p["gid_map"].as_str().unwrap_or(""));
    let (Some(uid), Some(gid)) = (uid, gid) else {
        return Seen::unobservable(
            &format!("uid_map {}, gid_map {}", p["uid_map"], p["gid_map"]),
            "the probe could not read its id maps",
        );
    };
    let root_is_root = uid.iter().any(|m| m.inside == 0 && m.outside == 0);
    let as_configured = uid == exp.uid_map && gid == exp.gid_map;
    Seen {
        leaked: Some(if exp.namespaces.user {
            !as_configured
        } else {
            root_is_root
        }),
        isolated_text: format!(
            "uid_map {}, gid_map {}",
            map_text(&exp.uid_map),
            map_text(&exp.gid_map)
        ),
        leak_text: "root inside is root on the host (uid 0 → 0)".into(),
        observed: format!(
            "uid_map {}, gid_map {}; uid {} inside",
            map_text(&uid),
            map_text(&gid),
            p["uid"]
        ),
        note: String::new(),
    }
}

fn see_cgroup(p: &Value, exp: &Expect) -> Seen {
    let Some(lines) = strs(&p["cgroup"]) else {
        return Seen::unobservable(
            "/proc/self/cgroup unreadable",
            "the probe could not read /proc/self/cgroup",
        );
    };
    let not_root: Vec<String> = lines
        .iter()
        .filter(|l| l.splitn(3, ':').nth(2) != Some("/"))
        .cloned()
        .collect();
    let names_own =
        !exp.cgroup_name.is_empty() && not_root.iter().any(|l| l.contains(&exp.cgroup_name));
    Seen {
        leaked: Some(!not_root.is_empty()),
        isolated_text: format!("every hierarchy's path \"/\" ({} lines)", lines.len()),
        leak_text: format!("its cgroup path ({}) visible", exp.cgroup_name),
        observed: if not_root.is_empty() {
            format!("all {} lines at \"/\"", lines.len())
        } else {
            format!(
                "{} of {} lines not at \"/\": {}",
                not_root.len(),
                lines.len(),
                list(&not_root, 4)
            )
        },
        note: if names_own && exp.namespaces.cgroup {
            "the namespace is rooted above the sandbox's own cgroup: the process entered those hierarchies after the namespace was made (enter the cgroup first, then unshare the cgroup namespace)".into()
        } else {
            String::new()
        },
    }
}

/// One check per namespace kind of the set (pid, mnt, net, uts, ipc, user,
/// cgroup), or per kind for the baseline. Kinds a set leaves out are not
/// judged: their leaks are what the set chose.
pub fn namespace_checks(p: &Value, exp: &Expect, host: &Host) -> Vec<Check> {
    let ns = exp.namespaces;
    let kinds: [(&str, bool, Seen); 7] = [
        ("pid", ns.pid, see_pid(p, exp, host)),
        ("mnt", ns.mnt, see_mnt(p, host)),
        ("net", ns.net, see_net(p, exp)),
        ("uts", ns.uts, see_uts(p, exp, host)),
        ("ipc", ns.ipc, see_ipc(p, host)),
        ("user", ns.user, see_user(p, exp)),
        ("cgroup", ns.cgroup, see_cgroup(p, exp)),
    ];
    kinds
        .into_iter()
        .filter(|(_, on, _)| *on || ns.is_empty())
        .map(|(name, on, seen)| {
            let role = if on { Role::Isolate } else { Role::Baseline };
            verdict(name, role, seen)
        })
        .collect()
}

fn verdict(name: &str, role: Role, s: Seen) -> Check {
    let (status, expected, detail) = match (role, s.leaked) {
        (_, None) => (Status::Skip, "an observable view".to_string(), s.note),
        (Role::Isolate, Some(leaked)) => (
            if leaked { Status::Fail } else { Status::Pass },
            s.isolated_text,
            if leaked { s.note } else { String::new() },
        ),
        (Role::Baseline, Some(leaked)) => (
            if leaked { Status::Pass } else { Status::Fail },
            format!(
                "{} (no {name} namespace: proves the check can fail)",
                s.leak_text
            ),
            if leaked {
                String::new()
            } else {
                "the detector saw no leak without a namespace, so its passes prove nothing".into()
            },
        ),
    };
    Check::new(name, status, expected, s.observed, detail)
}

fn gib(b: u64) -> String {
    if b >= 1 << 30 {
        format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.0} MiB", b as f64 / (1u64 << 20) as f64)
    }
}

/// The /proc views namespaces do not virtualise, as warnings when the host's
/// value shows through.
pub fn leak_checks(p: &Value, exp: &Expect, w: &Window) -> Vec<Check> {
    let mut out = Vec::new();
    let warn = |leaked: bool| if leaked { Status::Warn } else { Status::Pass };
    let skip = |name: &str, what: &str| {
        Check::new(
            name,
            Status::Skip,
            "a readable value",
            format!("{what} unreadable"),
            "",
        )
    };

    match p["meminfo_total_bytes"].as_u64() {
        Some(m) => out.push(Check::new(
            "leak.meminfo",
            warn(m > exp.memory_max),
            format!("MemTotal ≤ the memory limit {}", gib(exp.memory_max)),
            format!(
                "MemTotal {} ({:.1}× the limit)",
                gib(m),
                m as f64 / exp.memory_max.max(1) as f64
            ),
            if m > exp.memory_max {
                "/proc/meminfo shows the host's memory: runtimes that size heaps from it (JVM, Go GC tuning) overcommit and get OOM-killed"
            } else {
                ""
            },
        )),
        None => out.push(skip("leak.meminfo", "/proc/meminfo")),
    }

    let cap = exp.quota_cpus.ceil().max(1.0) as u64;
    let quota = format!("the {:.2}-CPU quota rounded up", exp.quota_cpus);
    let online = p["nprocs_online"].as_u64();
    let affinity = p["affinity"].as_array().map(|a| a.len() as u64);
    if online.is_none() && affinity.is_none() {
        out.push(skip("leak.nproc", "CPUs online and affinity"));
    } else {
        let leaked = online.is_some_and(|n| n > cap) || affinity.is_some_and(|n| n > cap);
        let show = |v: Option<u64>| v.map_or("?".into(), |x| x.to_string());
        out.push(Check::new(
            "leak.nproc",
            warn(leaked),
            format!("CPUs online and in the affinity mask ≤ {cap} ({quota})"),
            format!("online {}, affinity {}", show(online), show(affinity)),
            if leaked {
                "nproc / sched_getaffinity show every host CPU: thread pools sized from them oversubscribe the quota and get throttled"
            } else {
                ""
            },
        ));
    }

    match p["cpuinfo_processors"].as_u64() {
        Some(n) => out.push(Check::new(
            "leak.cpuinfo",
            warn(n > cap),
            format!("/proc/cpuinfo processors ≤ {cap} ({quota})"),
            format!("{n} processor(s)"),
            "",
        )),
        None => out.push(skip("leak.cpuinfo", "/proc/cpuinfo")),
    }

    match (p["uptime_s"].as_f64(), w.uptime_s) {
        (Some(u), (Some(a), Some(b))) => {
            let leaked = u >= a - UPTIME_RESOLUTION_S && u <= b + UPTIME_RESOLUTION_S;
            out.push(Check::new(
                "leak.uptime",
                warn(leaked),
                "not the host's uptime",
                format!("{u:.2} s inside; host {a:.2} – {b:.2} s around the probe"),
                if leaked && exp.namespaces.time {
                    "a time namespace with zero offsets shows the host's uptime"
                } else if leaked {
                    "/proc/uptime is the host's"
                } else {
                    ""
                },
            ))
        }
        _ => out.push(skip("leak.uptime", "/proc/uptime")),
    }

    match (p["loadavg"].as_str(), &w.loadavg) {
        (Some(l), (Some(a), Some(b))) => {
            let leaked = l == a || l == b;
            out.push(Check::new(
                "leak.loadavg",
                warn(leaked),
                "not the host's load average",
                format!(
                    "\"{l}\" inside; host \"{a}\"{}",
                    if a == b {
                        String::new()
                    } else {
                        format!(" then \"{b}\"")
                    }
                ),
                if leaked {
                    "/proc/loadavg is the host's: autoscalers and health checks inside see the whole machine's load"
                } else {
                    ""
                },
            ))
        }
        _ => out.push(skip("leak.loadavg", "/proc/loadavg")),
    }
    out
}

super::legacy_scenario!(Isolation, "isolation", [Cpu, Memory]);

#[cfg(test)]
mod tests {
    use super::*;

    const HARNESS: u32 = 4242;
    const HOST_PID: i32 = 5151;
    const CG: &str = "isobench-p4242-ab-3";

    fn host() -> Host {
        Host {
            harness_pid: HARNESS,
            hostname_before: "buildhost".into(),
            hostname_after: "buildhost".into(),
            shm_id: Ok(32769),
            mount_keys: Some(
                [
                    "0:22 / /proc",
                    "0:21 / /sys",
                    "0:5 / /dev",
                    "254:1 / /",
                    "0:30 / /sys/fs/cgroup/memory",
                    "254:1 /run/isobench /run/isobench",
                ]
                .map(String::from)
                .to_vec(),
            ),
        }
    }

    fn expect(ns: &str) -> Expect {
        let cfg = Config::level(Level::Quick);
        let spec = probe_spec(&cfg, Namespaces::parse(ns).unwrap());
        Expect {
            namespaces: spec.namespaces,
            rootfs: spec.rootfs,
            hostname: spec.hostname,
            uid_map: spec.uid_map,
            gid_map: spec.gid_map,
            memory_max: 256 << 20,
            quota_cpus: 0.5,
            cgroup_name: CG.into(),
            host_pid: HOST_PID,
        }
    }

    /// Recorded on this machine: the full set with the minimal rootfs.
    fn isolated() -> Value {
        json!({"event":"probe","pid":1,"ppid":0,"uid":0,"gid":0,"euid":0,
            "hostname":"isobench-probe","visible_pids":[1],"interfaces":["lo"],
            "mounts":["/","/isobench-workload","/proc"],
            "mount_keys":["0:61 / /","254:1 /run/isobench/isobench-workload-1 /isobench-workload",
                "0:62 / /proc"],
            "uid_map":"0      65534          1","gid_map":"0      65534          1",
            "cgroup":["9:name=systemd:/","8:pids:/","4:memory:/","1:cpu:/","0::/"],
            "cap_eff":"000001ffffffffff","no_new_privs":1,"affinity":[0,1],
            "sysvipc_shm":[],"meminfo_total_bytes":25276514304u64,"nprocs_online":2,
            "cpuinfo_processors":2,"loadavg":"1.31 1.35 0.84","uptime_s":1181.56})
    }

    /// Recorded on this machine: no namespace at all.
    fn leaky() -> Value {
        json!({"event":"probe","pid":HOST_PID,"ppid":HARNESS,"uid":0,"gid":0,"euid":0,
            "hostname":"buildhost","visible_pids":[1,2,3,77,HARNESS,HOST_PID],
            "interfaces":["eth0","lo"],
            "mounts":["/proc","/sys","/dev","/","/sys/fs/cgroup/memory"],
            "mount_keys":["0:22 / /proc","0:21 / /sys","0:5 / /dev","254:1 / /",
                "0:30 / /sys/fs/cgroup/memory"],
            "uid_map":"0          0 4294967295","gid_map":"0          0 4294967295",
            "cgroup":["9:name=systemd:/",format!("8:pids:/{CG}"),
                format!("4:memory:/process_api/x/{CG}"),format!("0::/{CG}")],
            "cap_eff":"000001fffeffffff","no_new_privs":1,"affinity":[0,1],
            "sysvipc_shm":[5, 32769],"meminfo_total_bytes":25276514304u64,"nprocs_online":2,
            "cpuinfo_processors":2,"loadavg":"1.31 1.35 0.84","uptime_s":1181.56})
    }

    fn window() -> Window {
        Window {
            uptime_s: (Some(1181.55), Some(1181.57)),
            loadavg: (Some("1.31 1.35 0.84".into()), Some("1.31 1.35 0.84".into())),
        }
    }

    fn status(checks: &[Check], name: &str) -> Status {
        checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name} in {checks:#?}"))
            .status
    }

    const KINDS: [&str; 7] = ["pid", "mnt", "net", "uts", "ipc", "user", "cgroup"];

    #[test]
    fn every_namespace_passes_on_an_isolated_probe() {
        let c = namespace_checks(&isolated(), &expect("all"), &host());
        assert_eq!(c.len(), 7);
        for k in KINDS {
            assert_eq!(status(&c, k), Status::Pass, "{k}: {c:#?}");
        }
        let pid = c.iter().find(|c| c.name == "pid").unwrap();
        assert_eq!(
            pid.observed,
            "pid 1 (parent 0); 1 pid(s) visible, 0 of them not its own"
        );
        let mnt = c.iter().find(|c| c.name == "mnt").unwrap();
        assert_eq!(
            mnt.observed,
            "3 mount(s): /, /isobench-workload, /proc; none the host's"
        );
        assert_eq!(
            mnt.expected,
            "none of the host's 6 mounts (same device, root and mount point)"
        );
        let ipc = c.iter().find(|c| c.name == "ipc").unwrap();
        assert!(ipc.observed.contains("32769 absent"), "{}", ipc.observed);
    }

    #[test]
    fn every_namespace_fails_on_a_leaky_probe_that_claims_isolation() {
        let c = namespace_checks(&leaky(), &expect("all"), &host());
        for k in KINDS {
            assert_eq!(status(&c, k), Status::Fail, "{k}: {c:#?}");
        }
        let cg = c.iter().find(|c| c.name == "cgroup").unwrap();
        assert!(
            cg.observed.starts_with("3 of 4 lines not at"),
            "{}",
            cg.observed
        );
        assert!(cg.detail.contains("rooted above"), "{}", cg.detail);
        let mnt = c.iter().find(|c| c.name == "mnt").unwrap();
        assert_eq!(
            mnt.observed,
            "5 mount(s), 5 of them the host's: /proc, /sys, /dev, /, /sys/fs/cgroup/memory"
        );
    }

    #[test]
    fn a_launcher_init_as_pid_1_is_its_own_process() {
        // bwrap keeps an init: the probe is pid 2, child of pid 1.
        let mut p = isolated();
        p["pid"] = json!(2);
        p["ppid"] = json!(1);
        p["visible_pids"] = json!([1, 2]);
        let c = namespace_checks(&p, &expect("all"), &host());
        assert_eq!(status(&c, "pid"), Status::Pass, "{c:#?}");
        p["visible_pids"] = json!([1, 2, 3]);
        let c = namespace_checks(&p, &expect("all"), &host());
        assert_eq!(status(&c, "pid"), Status::Fail, "{c:#?}");
    }

    #[test]
    fn a_fresh_mount_named_like_a_host_one_is_not_a_leak() {
        // A container's own /proc, /sys and /dev: same names, new devices.
        let mut p = isolated();
        p["mount_keys"] = json!(["0:70 / /", "0:71 / /proc", "0:72 / /sys", "0:73 / /dev"]);
        let c = namespace_checks(&p, &expect("all"), &host());
        assert_eq!(status(&c, "mnt"), Status::Pass, "{c:#?}");
        // A bind of the host's cgroup hierarchy at the same place is one.
        p["mount_keys"] = json!(["0:70 / /", "0:30 / /sys/fs/cgroup/memory"]);
        let c = namespace_checks(&p, &expect("all"), &host());
        assert_eq!(status(&c, "mnt"), Status::Fail, "{c:#?}");
        // Without the host's table nothing can be told.
        let mut h = host();
        h.mount_keys = None;
        let c = namespace_checks(&isolated(), &expect("all"), &h);
        assert_eq!(status(&c, "mnt"), Status::Skip);
    }

    #[test]
    fn namespaces_a_launcher_lacks_are_named() {
        let (kept, dropped) = supported_part(&Launcher::Runc, Namespaces::all());
        assert_eq!(kept.to_string(), "pid,mnt,net,uts,ipc,user,cgroup");
        assert_eq!(dropped.len(), 1);
        assert_eq!(dropped[0].0, "time");
        assert!(dropped[0].1.contains("runc"), "{dropped:?}");
        assert!(honours_no_namespace(&Launcher::Native) && honours_no_namespace(&Launcher::Bwrap));
        assert!(!honours_no_namespace(&Launcher::Runc));
        let (kept, dropped) = supported_part(&Launcher::Native, Namespaces::all());
        assert_eq!(kept, Namespaces::all());
        assert!(dropped.is_empty());
        let (kept, dropped) =
            supported_part(&Launcher::Bare, Namespaces::parse("pid,net").unwrap());
        assert!(kept.is_empty());
        assert_eq!(dropped.len(), 2);
        let cfg = Config::level(Level::Quick);
        let spec = probe_spec(&cfg, kept);
        let r = set_result(&cfg, &spec, &dropped, None, &host(), "bare");
        assert_eq!(r.checks.len(), 2);
        assert!(r.checks.iter().all(|c| c.status == Status::Skip));
        assert!(r.error.is_none() && r.metrics.is_empty());
    }

    #[test]
    fn the_baseline_passes_only_when_it_shows_the_leaks() {
        let base = expect("none");
        let c = namespace_checks(&leaky(), &base, &host());
        for k in KINDS {
            assert_eq!(status(&c, k), Status::Pass, "{k}: {c:#?}");
            let ch = c.iter().find(|c| c.name == k).unwrap();
            assert!(ch.expected.contains("proves the check can fail"), "{ch:?}");
        }
        // A blind detector: the baseline "sees" isolation everywhere.
        let mut blind = isolated();
        blind["hostname"] = json!("buildhost");
        let c = namespace_checks(&blind, &base, &host());
        for k in ["pid", "mnt", "ipc", "user", "cgroup"] {
            assert_eq!(status(&c, k), Status::Fail, "{k}: {c:#?}");
        }
        // Only lo in the host's own namespace: nothing to tell.
        assert_eq!(status(&c, "net"), Status::Skip);
        // The uts baseline compares with the host's name.
        assert_eq!(status(&c, "uts"), Status::Pass);
    }

    #[test]
    fn a_host_with_only_lo_cannot_show_a_net_leak() {
        let mut p = leaky();
        p["interfaces"] = json!(["lo"]);
        let c = namespace_checks(&p, &expect("none"), &host());
        let net = c.iter().find(|c| c.name == "net").unwrap();
        assert_eq!(net.status, Status::Skip);
        assert!(net.detail.contains("no interface besides lo"), "{net:?}");
        // Inside a net namespace, only lo is still a pass.
        let c = namespace_checks(&isolated(), &expect("all"), &host());
        assert_eq!(status(&c, "net"), Status::Pass);
    }

    #[test]
    fn namespaces_outside_the_set_are_not_judged() {
        let mut p = isolated();
        p["interfaces"] = json!(["eth0", "lo"]);
        p["uid_map"] = json!("0 0 4294967295");
        p["gid_map"] = json!("0 0 4294967295");
        let c = namespace_checks(&p, &expect("pid,mnt,uts,ipc"), &host());
        let names: Vec<&str> = c.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["pid", "mnt", "uts", "ipc"]);
        assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
    }

    #[test]
    fn specific_failures_are_explained() {
        // pid namespace without a fresh /proc.
        let mut p = isolated();
        p["visible_pids"] = json!([1, 2, 3, HARNESS]);
        let c = namespace_checks(&p, &expect("all"), &host());
        let pid = c.iter().find(|c| c.name == "pid").unwrap();
        assert_eq!(pid.status, Status::Fail);
        assert!(pid.detail.contains("own /proc"), "{pid:?}");
        assert!(pid.observed.contains("the harness's 4242 among them"));
        // A sandbox that renames the host.
        let mut h = host();
        h.hostname_after = "isobench-probe".into();
        let c = namespace_checks(&isolated(), &expect("all"), &h);
        assert_eq!(status(&c, "uts"), Status::Fail);
        // A wrong id map.
        let mut p = isolated();
        p["uid_map"] = json!("0 1000 1");
        assert_eq!(
            status(&namespace_checks(&p, &expect("all"), &host()), "user"),
            Status::Fail
        );
        // The shm segment could not be made: nothing to tell.
        let mut h = host();
        h.shm_id = Err("shmget: ENOSYS".into());
        let c = namespace_checks(&isolated(), &expect("all"), &h);
        assert_eq!(status(&c, "ipc"), Status::Skip);
        // Unreadable views skip rather than pass.
        let mut p = isolated();
        p["mount_keys"] = Value::Null;
        p["cgroup"] = Value::Null;
        let c = namespace_checks(&p, &expect("all"), &host());
        assert_eq!(status(&c, "mnt"), Status::Skip);
        assert_eq!(status(&c, "cgroup"), Status::Skip);
    }

    #[test]
    fn leaks_warn_with_numbers() {
        let c = leak_checks(&isolated(), &expect("all"), &window());
        for k in [
            "leak.meminfo",
            "leak.nproc",
            "leak.cpuinfo",
            "leak.uptime",
            "leak.loadavg",
        ] {
            assert_eq!(status(&c, k), Status::Warn, "{k}: {c:#?}");
        }
        let m = c.iter().find(|c| c.name == "leak.meminfo").unwrap();
        assert_eq!(m.expected, "MemTotal ≤ the memory limit 256 MiB");
        assert_eq!(m.observed, "MemTotal 23.54 GiB (94.2× the limit)");
        let n = c.iter().find(|c| c.name == "leak.nproc").unwrap();
        assert!(
            n.expected.contains("≤ 1 (the 0.50-CPU quota"),
            "{}",
            n.expected
        );
        assert_eq!(n.observed, "online 2, affinity 2");
        let u = c.iter().find(|c| c.name == "leak.uptime").unwrap();
        assert!(u.detail.contains("time namespace"), "{u:?}");
    }

    #[test]
    fn virtualised_views_pass() {
        // What lxcfs-style virtualisation shows.
        let mut p = isolated();
        p["meminfo_total_bytes"] = json!(256u64 << 20);
        p["nprocs_online"] = json!(1);
        p["affinity"] = json!([0]);
        p["cpuinfo_processors"] = json!(1);
        p["uptime_s"] = json!(0.01);
        p["loadavg"] = json!("0.00 0.00 0.00");
        let c = leak_checks(&p, &expect("all"), &window());
        for ch in &c {
            assert_eq!(ch.status, Status::Pass, "{ch:?}");
        }
        // Unreadable views skip.
        let mut p = isolated();
        p["meminfo_total_bytes"] = Value::Null;
        p["uptime_s"] = Value::Null;
        let c = leak_checks(&p, &expect("all"), &window());
        assert_eq!(status(&c, "leak.meminfo"), Status::Skip);
        assert_eq!(status(&c, "leak.uptime"), Status::Skip);
    }

    #[test]
    fn a_quota_above_one_cpu_allows_that_many() {
        let mut e = expect("all");
        e.quota_cpus = 1.5;
        let c = leak_checks(&isolated(), &e, &window());
        assert_eq!(status(&c, "leak.nproc"), Status::Pass);
        assert_eq!(status(&c, "leak.cpuinfo"), Status::Pass);
    }

    #[test]
    fn id_maps_parse() {
        let m = parse_id_map("         0      65534          1\n").unwrap();
        assert_eq!(
            m,
            vec![IdMap {
                inside: 0,
                outside: 65534,
                count: 1
            }]
        );
        assert_eq!(parse_id_map("0 0 4294967295\n1 2").map(|v| v.len()), None);
        assert_eq!(parse_id_map("").unwrap().len(), 0);
    }

    #[test]
    fn a_failed_probe_is_an_error_naming_the_set() {
        let cfg = Config::level(Level::Quick);
        let spec = probe_spec(&cfg, Namespaces::all());
        let r = set_result(
            &cfg,
            &spec,
            &[],
            Some(Err("clone3: EPERM".into())),
            &host(),
            "native",
        );
        assert_eq!(
            r.error.as_deref(),
            Some("probe with namespaces [pid,mnt,net,uts,ipc,user,cgroup,time]: clone3: EPERM")
        );
        assert_eq!(r.params["rootfs"], "minimal");
        assert_eq!(r.params["baseline"], false);
    }

    #[test]
    fn probe_specs_follow_the_set() {
        let cfg = Config::level(Level::Quick);
        let s = probe_spec(&cfg, Namespaces::all());
        assert_eq!(s.rootfs, Rootfs::Minimal);
        assert_eq!(s.hostname.as_deref(), Some("isobench-probe"));
        assert_eq!(s.limits.memory_max, Some(256 << 20));
        assert_eq!(s.limits.cpu_max.unwrap().quota_us, Some(50_000));
        assert!(s.validate().is_ok());
        let s = probe_spec(&cfg, Namespaces::default());
        assert_eq!(s.rootfs, Rootfs::Host);
        assert_eq!(s.hostname, None);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn config_rejects_impossible_values() {
        let ok = Config::level(Level::Default);
        assert!(ok.validate(2, Some(24 << 30)).is_ok());
        let bad = |f: &dyn Fn(&mut Config)| {
            let mut c = Config::level(Level::Default);
            f(&mut c);
            c.validate(2, Some(24 << 30)).unwrap_err()
        };
        assert!(bad(&|c| c.memory_max_mib = 8).contains("memory-max-mib"));
        assert!(bad(&|c| c.memory_max_mib = 1 << 20).contains("exceeds"));
        assert!(bad(&|c| c.cpu_quota_pct = 0.5).contains("cpu-quota-pct"));
        assert!(bad(&|c| c.cpu_quota_pct = 250.0).contains("2 CPUs"));
        assert!(bad(&|c| c.cpu_quota_pct = f64::NAN).contains("cpu-quota-pct"));
        assert!(bad(&|c| c.hostname = "a b".into()).contains("hostname"));
        assert!(bad(&|c| c.hostname = String::new()).contains("hostname"));
        assert!(bad(&|c| c.sets.clear()).contains("at least one"));
        assert!(bad(&|c| c.outside_uid = u32::MAX).contains("outside-uid"));
        let t: toml::Table = toml::from_str("sets = [\"pid,net\"]\nmemory-max-mib = 512").unwrap();
        let c = Config::parse(Level::Quick, Some(&t)).unwrap();
        assert_eq!(c.sets[0].to_string(), "pid,net");
        assert_eq!(c.memory_max_mib, 512);
        let t: toml::Table = toml::from_str("memory = 5").unwrap();
        let e = Config::parse(Level::Quick, Some(&t)).unwrap_err();
        assert!(e.contains("memory") && e.contains("accepted"), "{e}");
    }

    /// Recorded on this machine: `escape` under the full set, minimal rootfs.
    fn escape_isolated() -> Vec<Value> {
        [
            ("signal", true, 3, "kill(6141, 0) then kill(6141, SIGCONT): No such process (os error 3)"),
            ("ptrace", true, 3, "PTRACE_SEIZE 6141 (released at once): No such process (os error 3)"),
            ("cgroup-write", true, 1, "no limit file in view, and mounting cgroup pids failed: Operation not permitted (os error 1)"),
            ("cgroup-parent-write", true, 2, "its cgroup is the root of every hierarchy it can see: no parent in reach"),
            ("mount-tmpfs", true, 1, "mount tmpfs on /tmp/isobench-escape-mnt-1: Operation not permitted (os error 1)"),
            ("remount-root", true, 1, "remount / (tmpfs) with its current flags rw,nosuid,nodev,relatime: Operation not permitted (os error 1)"),
            ("init-module", true, 38, "init_module(empty image): Function not implemented (os error 38): this kernel has no module loading at all"),
            ("finit-module", true, 38, "finit_module(fd -1): Function not implemented (os error 38): this kernel has no module loading at all"),
            ("sysctl-hostname", true, 13, "/proc/sys/kernel/hostname: Permission denied (os error 13)"),
            ("sysctl-drop-caches", true, 13, "open /proc/sys/vm/drop_caches for writing (nothing written): Permission denied (os error 13)"),
            ("abstract-socket", true, 111, "connect to \"\\0isobench-escape-x\": Connection refused (os error 111)"),
        ]
        .map(|(a, b, e, d)| json!({"event":"escape","attempt":a,"blocked":b,"errno":e,"detail":d}))
        .to_vec()
    }

    fn escape_status(c: &[Check], attempt: &str) -> Status {
        status(c, &format!("escape.{attempt}"))
    }

    #[test]
    fn refused_escapes_pass_and_one_that_gets_through_fails() {
        let c = escape_checks(&escape_isolated(), false, 0);
        assert_eq!(c.len(), ESCAPE_ATTEMPTS.len());
        assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
        let m = c.iter().find(|c| c.name == "escape.mount-tmpfs").unwrap();
        assert_eq!(m.expected, "mounting a tmpfs refused");
        assert_eq!(m.observed, "refused: EPERM (1)");
        // A sandbox that keeps CAP_SYS_ADMIN in its user namespace.
        let mut e = escape_isolated();
        e[4]["blocked"] = json!(false);
        e[4]["errno"] = json!(0);
        let c = escape_checks(&e, false, 0);
        let m = c.iter().find(|c| c.name == "escape.mount-tmpfs").unwrap();
        assert_eq!(m.status, Status::Fail);
        assert_eq!(m.observed, "got through");
        assert!(m.detail.starts_with("the sandbox let it through"), "{m:?}");
        // A module check that passed the permission test: EINVAL after it.
        e[6]["blocked"] = json!(false);
        e[6]["errno"] = json!(22);
        let c = escape_checks(&e, false, 0);
        let m = c.iter().find(|c| c.name == "escape.init-module").unwrap();
        assert_eq!(m.status, Status::Fail);
        assert_eq!(m.observed, "got through (later error EINVAL (22))");
    }

    #[test]
    fn the_harness_socket_has_the_last_word() {
        // The probe says refused, but the harness accepted its connection.
        let c = escape_checks(&escape_isolated(), false, 1);
        assert_eq!(escape_status(&c, "abstract-socket"), Status::Fail);
    }

    #[test]
    fn missing_or_untried_attempts() {
        let mut e = escape_isolated();
        e.retain(|a| a["attempt"] != "ptrace");
        e[0]["blocked"] = Value::Null;
        let c = escape_checks(&e, false, 0);
        assert_eq!(escape_status(&c, "ptrace"), Status::Fail);
        assert_eq!(escape_status(&c, "signal"), Status::Skip);
        let c = escape_checks(&e, true, 0);
        assert_eq!(escape_status(&c, "ptrace"), Status::Skip);
    }

    #[test]
    fn the_baseline_passes_what_gets_through_and_skips_the_rest() {
        let mut e = escape_isolated();
        for a in e
            .iter_mut()
            .filter(|a| !a["attempt"].as_str().unwrap().contains("module"))
        {
            a["blocked"] = json!(false);
            a["errno"] = json!(0);
        }
        let c = escape_checks(&e, true, 1);
        for (name, _) in ESCAPE_ATTEMPTS {
            let want = if name.contains("module") {
                Status::Skip
            } else {
                Status::Pass
            };
            assert_eq!(escape_status(&c, name), want, "{name}: {c:#?}");
        }
        let m = c.iter().find(|c| c.name == "escape.init-module").unwrap();
        assert!(
            m.detail.starts_with("refused even without namespaces"),
            "{m:?}"
        );
        let s = c
            .iter()
            .find(|c| c.name == "escape.abstract-socket")
            .unwrap();
        assert!(s.observed.contains("accepted 1"), "{s:?}");
    }

    #[test]
    fn escape_rows_name_their_probe_and_errors() {
        let cfg = Config::level(Level::Quick);
        let spec = escape_spec(&cfg, Namespaces::all(), 42, "x");
        assert_eq!(
            spec.args,
            ["escape", "--host-pid", "42", "--abstract-socket", "x"]
        );
        assert_eq!(spec.rootfs, Rootfs::Minimal);
        assert!(spec.validate().is_ok());
        let r = escape_result(&spec, &[], Err("clone3: EPERM".into()), "native");
        assert_eq!(r.params["probe"], "escape");
        assert_eq!(r.params["baseline"], false);
        assert_eq!(
            r.error.as_deref(),
            Some("escape probe with namespaces [pid,mnt,net,uts,ipc,user,cgroup,time]: clone3: EPERM")
        );
        let ok = Escaped {
            attempts: escape_isolated(),
            accepted: 0,
        };
        let r = escape_result(&spec, &[], Ok(ok), "native");
        assert_eq!(r.metrics[0].name, "escapes");
        assert_eq!(r.metrics[0].samples, [0.0]);
    }

    #[test]
    fn the_baseline_is_not_probed_twice() {
        let mut c = Config::level(Level::Quick);
        c.sets.insert(0, NsSet(Namespaces::default()));
        assert_eq!(c.effective_sets(None).len(), 2);
        assert_eq!(c.effective_sets(Some(Namespaces::default())).len(), 0);
    }
}
