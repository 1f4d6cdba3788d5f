//! The /proc views namespaces do not virtualise (memory, CPUs, uptime,
//! load): warnings when the host's value shows through.

use isobench_reports::names::isolation as n;
use isobench_reports::{Check, Status};

use super::host::Window;
use super::Expect;
use crate::sandbox::event::Probe;

/// /proc/uptime has two decimals.
const UPTIME_RESOLUTION_S: f64 = 0.01;

/// The /proc views namespaces do not virtualise, as warnings when the host's
/// value shows through; a skip where the probe could not read one.
pub fn leak_checks(p: &Probe, exp: &Expect, w: &Window) -> Vec<Check> {
    let cap = exp.quota_cpus.ceil().max(1.0) as u64;
    let quota = format!("the {:.2}-CPU quota rounded up", exp.quota_cpus);
    let unreadable = |name: &str, what: &str| {
        Check::new(
            name,
            Status::Skip,
            "a readable value",
            format!("{what} unreadable"),
            "",
        )
    };
    vec![
        meminfo(p, exp).unwrap_or_else(|| unreadable(n::LEAK_MEMINFO, "/proc/meminfo")),
        nproc(p, cap, &quota)
            .unwrap_or_else(|| unreadable(n::LEAK_NPROC, "CPUs online and affinity")),
        cpuinfo(p, cap, &quota).unwrap_or_else(|| unreadable(n::LEAK_CPUINFO, "/proc/cpuinfo")),
        uptime(p, exp, w).unwrap_or_else(|| unreadable(n::LEAK_UPTIME, "/proc/uptime")),
        loadavg(p, w).unwrap_or_else(|| unreadable(n::LEAK_LOADAVG, "/proc/loadavg")),
    ]
}

/// A warning when the host's value shows through, with why it matters.
fn leak(name: &str, leaked: bool, expected: String, observed: String, why: &str) -> Check {
    Check::new(
        name,
        Status::pass_or(!leaked, Status::Warn),
        expected,
        observed,
        if leaked { why } else { "" },
    )
}

fn gib(b: u64) -> String {
    if b >= 1 << 30 {
        format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.0} MiB", b as f64 / (1u64 << 20) as f64)
    }
}

fn meminfo(p: &Probe, exp: &Expect) -> Option<Check> {
    let m = p.meminfo_total_bytes?;
    Some(leak(
        n::LEAK_MEMINFO,
        m > exp.memory_max(),
        format!("MemTotal ≤ the memory limit {}", gib(exp.memory_max())),
        format!(
            "MemTotal {} ({:.1}× the limit)",
            gib(m),
            m as f64 / exp.memory_max().max(1) as f64
        ),
        "/proc/meminfo shows the host's memory: runtimes that size heaps from it (JVM, Go GC tuning) overcommit and get OOM-killed",
    ))
}

fn nproc(p: &Probe, cap: u64, quota: &str) -> Option<Check> {
    let online = p.nprocs_online;
    let affinity = p.affinity.as_ref().map(|a| a.len() as u64);
    if online.is_none() && affinity.is_none() {
        return None;
    }
    let show = |v: Option<u64>| v.map_or("?".into(), |x| x.to_string());
    Some(leak(
        n::LEAK_NPROC,
        online.is_some_and(|n| n > cap) || affinity.is_some_and(|n| n > cap),
        format!("CPUs online and in the affinity mask ≤ {cap} ({quota})"),
        format!("online {}, affinity {}", show(online), show(affinity)),
        "nproc / sched_getaffinity show every host CPU: thread pools sized from them oversubscribe the quota and get throttled",
    ))
}

fn cpuinfo(p: &Probe, cap: u64, quota: &str) -> Option<Check> {
    let n = p.cpuinfo_processors?;
    Some(leak(
        n::LEAK_CPUINFO,
        n > cap,
        format!("/proc/cpuinfo processors ≤ {cap} ({quota})"),
        format!("{n} processor(s)"),
        "",
    ))
}

fn uptime(p: &Probe, exp: &Expect, w: &Window) -> Option<Check> {
    let (u, (Some(a), Some(b))) = (p.uptime_s?, w.uptime_s) else {
        return None;
    };
    Some(leak(
        n::LEAK_UPTIME,
        u >= a - UPTIME_RESOLUTION_S && u <= b + UPTIME_RESOLUTION_S,
        "not the host's uptime".into(),
        format!("{u:.2} s inside; host {a:.2} – {b:.2} s around the probe"),
        if exp.spec.namespaces.time {
            "a time namespace with zero offsets shows the host's uptime"
        } else {
            "/proc/uptime is the host's"
        },
    ))
}

fn loadavg(p: &Probe, w: &Window) -> Option<Check> {
    let (Some(l), (Some(a), Some(b))) = (p.loadavg.as_deref(), &w.loadavg) else {
        return None;
    };
    Some(leak(
        n::LEAK_LOADAVG,
        l == a || l == b,
        "not the host's load average".into(),
        format!(
            "\"{l}\" inside; host \"{a}\"{}",
            if a == b {
                String::new()
            } else {
                format!(" then \"{b}\"")
            }
        ),
        "/proc/loadavg is the host's: autoscalers and health checks inside see the whole machine's load",
    ))
}
