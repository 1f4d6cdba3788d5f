//! The lxcfs arm: each namespace set with pid + mnt is probed again with
//! lxcfs's /proc files bound over the sandbox's /proc. With lxcfs the views
//! the plain probe warns about must be the sandbox's own: MemTotal the
//! memory limit, the CPU count in /proc/cpuinfo and /proc/stat the quota
//! rounded up, uptime the sandbox's (small). What lxcfs leaves (the
//! affinity mask, /sys/devices/system/cpu, its own mounts in mountinfo) is
//! reported as warnings, and the cost of a virtualised /proc/meminfo read
//! against the host's is measured.

use std::time::Instant;

use isobench_reports::names::isolation as n;
use isobench_reports::{Better, Check, Metric, ScenarioResult, Status};

use super::host::Window;
use super::probe::run_probe;
use super::sets::{dropped_checks, probe_row, Dropped};
use super::{probe_spec, Config, Probed};
use crate::lxcfs::{Lxcfs, LxcfsError};
use crate::sandbox::{Namespaces, SandboxSpec};
use crate::scenarios::{Ctx, ScenarioError};

/// Reads of each /proc/meminfo per timing.
const READS: usize = 200;
/// /proc/uptime has two decimals.
const UPTIME_RESOLUTION_S: f64 = 0.01;

/// Whether a set can take the overlays: they cover the sandbox's own /proc.
pub fn takes_overlays(ns: Namespaces) -> bool {
    ns.pid && ns.mnt
}

/// One lxcfs row per set (the part the launcher can create): probed with
/// the overlays, or skips saying why not (lxcfs absent or failing).
pub fn run_lxcfs_arm(
    cfg: &Config,
    ctx: &Ctx,
    sets: &[(Namespaces, Dropped)],
) -> Result<Vec<ScenarioResult>, ScenarioError> {
    let sets: Vec<&(Namespaces, Dropped)> =
        sets.iter().filter(|(k, _)| takes_overlays(*k)).collect();
    if sets.is_empty() {
        return Ok(Vec::new());
    }
    let t0 = Instant::now();
    let fs = match Lxcfs::start(&ctx.set.run_id) {
        Ok(fs) => fs,
        Err(LxcfsError::Interrupted(s)) => return Err(ScenarioError::Interrupted(s)),
        Err(e) => {
            let why = e.to_string();
            return Ok(sets
                .iter()
                .map(|(k, dropped)| {
                    let spec = lxcfs_spec(cfg, *k, Vec::new());
                    lxcfs_row(cfg, &spec, &ctx.launcher)
                        .checks(dropped_checks(dropped))
                        .checks(n::LXCFS_CHECKS.iter().map(|c| {
                            Check::new(*c, Status::Skip, "lxcfs running", "no lxcfs", &why)
                        }))
                        .build()
                })
                .collect());
        }
    };
    let started_s = t0.elapsed().as_secs_f64();
    let mut out = Vec::new();
    for (k, dropped) in sets {
        crate::scenarios::interrupted()?;
        let spec = lxcfs_spec(cfg, *k, fs.proc_overlays());
        let row = lxcfs_row(cfg, &spec, &ctx.launcher)
            .checks(dropped_checks(dropped))
            .metric(Metric::new(n::LXCFS_START, "s", Better::Lower, vec![started_s]));
        let row = match run_probe(ctx, &spec, cfg.quota_cpus()) {
            Err(ScenarioError::Interrupted(s)) => return Err(ScenarioError::Interrupted(s)),
            // The launcher itself refused lxcfs's files (systemd-nspawn 252
            // cannot stat them from its container setup): a skip in its
            // own words, not an error of the probe.
            Err(e) if e.to_string().contains(&fs.dir().display().to_string()) => {
                let why = format!("{} could not bind lxcfs's files over /proc: {e}", ctx.launcher);
                row.checks(n::LXCFS_CHECKS.iter().map(|c| {
                    Check::new(*c, Status::Skip, "lxcfs's /proc files bound in the sandbox", "not bound", &why)
                }))
            }
            Err(e) => row.error(format!("probe with lxcfs, namespaces [{k}]: {e}")),
            Ok(p) => {
                let (lx, host) = crate::lxcfs::time_reads(
                    &fs.dir().join("proc/meminfo"),
                    std::path::Path::new("/proc/meminfo"),
                    READS,
                );
                row.checks(lxcfs_checks(&p, ctx.cpus))
                    .metric(Metric::new(n::READY, "s", Better::Lower, p.ready_s.into_iter().collect()))
                    .metric(Metric::new(n::LXCFS_MEMINFO_READ, "us", Better::Lower, lx))
                    .metric(Metric::new(n::HOST_MEMINFO_READ, "us", Better::Lower, host))
            }
        };
        out.push(ctx.timed(row.build()));
    }
    fs.stop();
    Ok(out)
}

/// The probe's spec with the overlays, and a cpuset of every CPU the
/// harness may use: lxcfs finds the CPU quota through the reader's cpuset
/// cgroup path, so on v1 a sandbox without a cpuset cgroup beside its cpu
/// cgroup sees every host CPU (as LXC, which puts every controller at one
/// path, never does).
fn lxcfs_spec(cfg: &Config, ns: Namespaces, overlays: Vec<crate::sandbox::ProcOverlay>) -> SandboxSpec {
    let mut s = probe_spec(cfg, ns);
    s.proc_overlays = overlays;
    s.limits.cpuset_cpus = own_cpus().map(crate::cgroup::CpuList);
    s
}

/// The CPUs in the harness's affinity mask.
fn own_cpus() -> Option<Vec<u32>> {
    let set = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)).ok()?;
    let cpus: Vec<u32> = (0..nix::sched::CpuSet::count())
        .filter(|&c| set.is_set(c).unwrap_or(false))
        .map(|c| c as u32)
        .collect();
    (!cpus.is_empty()).then_some(cpus)
}

fn lxcfs_row(cfg: &Config, spec: &SandboxSpec, launcher: &str) -> crate::scenarios::Point {
    probe_row(spec, launcher)
        .param("lxcfs", true)
        .param("memory_max_mib", cfg.memory_max_mib)
        .param("cpu_quota_pct", cfg.cpu_quota_pct)
}

/// The lxcfs arm's checks on one probe, on a host of `host_cpus` CPUs.
pub fn lxcfs_checks(p: &Probed, host_cpus: u32) -> Vec<Check> {
    let (pr, exp, w) = (&p.probe, &p.expect, &p.window);
    let cap = (exp.quota_cpus.ceil().max(1.0) as u64).min(u64::from(host_cpus.max(1)));
    let quota = format!("{cap} (the {:.2}-CPU quota rounded up)", exp.quota_cpus);
    let limit = exp.memory_max();
    let unreadable = |name: &str, what: &str| {
        Check::new(name, Status::Fail, "a readable value", format!("{what} unreadable"), "")
    };
    let equal = |name: &str, v: Option<u64>, want: u64, what: &str, file: &str| match v {
        None => unreadable(name, file),
        Some(v) => Check::new(
            name,
            Status::pass_or(v == want, Status::Fail),
            format!("{what} = {want}"),
            format!("{v}"),
            if v == want { "" } else { "lxcfs did not virtualise this view for the sandbox's cgroup" },
        ),
    };
    let mib = |b: u64| b >> 20;
    vec![
        equal(
            n::LXCFS_MEMINFO,
            pr.meminfo_total_bytes.map(mib),
            mib(limit),
            "MemTotal in MiB, the memory limit",
            "/proc/meminfo",
        ),
        equal(n::LXCFS_CPUINFO, pr.cpuinfo_processors, cap, &format!("processors, {quota}"), "/proc/cpuinfo"),
        equal(n::LXCFS_STAT, pr.stat_cpus, cap, &format!("cpuN lines, {quota}"), "/proc/stat"),
        uptime(pr.uptime_s, w),
        loadavg(pr.loadavg.as_deref(), w),
        left(
            n::LXCFS_LEFT_AFFINITY,
            pr.affinity.as_ref().map(|a| a.len() as u64 > cap),
            format!("sched_getaffinity ≤ {cap} CPUs"),
            format!("{} CPU(s) in the mask", pr.affinity.as_ref().map_or(0, Vec::len)),
            "lxcfs cannot change sched_getaffinity: nproc and runtimes that size thread pools from it still see every host CPU; give the sandbox a cpuset",
        ),
        match pr.sys_cpus_online {
            None => Check::new(
                n::LXCFS_LEFT_SYS_CPU,
                Status::Skip,
                format!("/sys/devices/system/cpu/online ≤ {cap}"),
                "no /sys in the sandbox",
                "nothing to leak: the rootfs mounts no sysfs",
            ),
            Some(c) => left(
                n::LXCFS_LEFT_SYS_CPU,
                Some(c > cap),
                format!("/sys/devices/system/cpu/online ≤ {cap}"),
                format!("{c} CPU(s) online"),
                "the host's sysfs shows every CPU: bind lxcfs's sys/devices/system/cpu/online too, or mount no /sys",
            ),
        },
        {
            let fuse = pr.fuse_mounts.clone().unwrap_or_default();
            left(
                n::LXCFS_LEFT_MOUNTINFO,
                pr.fuse_mounts.as_ref().map(|f| !f.is_empty()),
                "no FUSE mount visible in /proc/self/mountinfo".into(),
                format!("{} FUSE mount(s){}", fuse.len(), fuse.first().map_or(String::new(), |f| format!(", e.g. {f}"))),
                "the fuse.lxcfs binds over /proc show in mountinfo: software can tell the views are virtualised",
            )
        },
    ]
}

/// A warning when `leaked`; a skip when the probe could not tell.
fn left(name: &str, leaked: Option<bool>, expected: String, observed: String, why: &str) -> Check {
    match leaked {
        None => Check::new(name, Status::Skip, expected, "unreadable", ""),
        Some(l) => Check::new(name, Status::pass_or(!l, Status::Warn), expected, observed, if l { why } else { "" }),
    }
}

fn uptime(u: Option<f64>, w: &Window) -> Check {
    let name = n::LXCFS_UPTIME;
    let (Some(u), (Some(a), Some(b))) = (u, w.uptime_s) else {
        return Check::new(name, Status::Fail, "a readable uptime", "/proc/uptime unreadable", "");
    };
    let span = b - a;
    // Both readings are rounded: one step each.
    let own = u <= span + 2.0 * UPTIME_RESOLUTION_S;
    Check::new(
        name,
        Status::pass_or(own, Status::Fail),
        format!("≤ {span:.2} s, the time the probe ran (host uptime {a:.2} s)"),
        format!("{u:.2} s"),
        if own { "" } else { "lxcfs showed an uptime older than the sandbox: its pid namespace's init was not the probe's launcher" },
    )
}

fn loadavg(l: Option<&str>, w: &Window) -> Check {
    let name = n::LXCFS_LOADAVG;
    let Some(l) = l else {
        return Check::new(name, Status::Fail, "a readable load average", "/proc/loadavg unreadable", "");
    };
    let (Some(a), Some(b)) = (&w.loadavg.0, &w.loadavg.1) else {
        return Check::new(name, Status::Skip, "not the host's load average", l, "the harness could not read the host's /proc/loadavg");
    };
    let idle = |x: &str| x.split(' ').all(|v| v.parse::<f64>() == Ok(0.0));
    if idle(a) && idle(b) {
        return Check::new(name, Status::Skip, "not the host's load average", l, "the host's load is 0.00 too: the two cannot be told apart");
    }
    let host = l == a || l == b;
    Check::new(
        name,
        Status::pass_or(!host, Status::Fail),
        format!("not the host's \"{a}\""),
        format!("\"{l}\""),
        if host { "lxcfs -l should give the sandbox's cgroup its own load average" } else { "" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sets_with_their_own_proc_take_overlays() {
        assert!(takes_overlays(Namespaces::parse("pid,mnt").unwrap()));
        assert!(!takes_overlays(Namespaces::parse("mnt,uts").unwrap()));
        assert!(!takes_overlays(Namespaces::default()));
    }

    #[test]
    fn uptime_is_judged_against_the_probe_window() {
        let w = Window { uptime_s: (Some(100.0), Some(100.2)), loadavg: (None, None) };
        assert_eq!(uptime(Some(0.05), &w).status, Status::Pass);
        assert_eq!(uptime(Some(100.1), &w).status, Status::Fail);
        assert_eq!(uptime(None, &w).status, Status::Fail);
    }

    #[test]
    fn loadavg_cannot_be_judged_on_an_idle_host() {
        let l = |a: &str| Window { uptime_s: (None, None), loadavg: (Some(a.into()), Some(a.into())) };
        assert_eq!(loadavg(Some("0.00 0.00 0.00"), &l("0.00 0.00 0.00")).status, Status::Skip);
        assert_eq!(loadavg(Some("0.00 0.00 0.00"), &l("1.20 0.80 0.50")).status, Status::Pass);
        assert_eq!(loadavg(Some("1.20 0.80 0.50"), &l("1.20 0.80 0.50")).status, Status::Fail);
    }
}
