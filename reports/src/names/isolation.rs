//! Metric, series and check names of the isolation scenario: the one spelling
//! the scenario, the plots and the fixtures share.

/// Seconds until the probe was ready (each probe row).
pub const READY: &str = "ready";
/// Visibility leaks that warned in a namespaced probe.
pub const LEAKS: &str = "leaks";
/// Escape attempts that got through the full set.
pub const ESCAPES: &str = "escapes";

/// One check per namespace kind, named after the kind.
pub const PID: &str = "pid";
pub const MNT: &str = "mnt";
pub const NET: &str = "net";
pub const UTS: &str = "uts";
pub const IPC: &str = "ipc";
pub const USER: &str = "user";
pub const CGROUP: &str = "cgroup";
/// The namespace checks, in the order a row lists them.
pub const NAMESPACES: [&str; 7] = [PID, MNT, NET, UTS, IPC, USER, CGROUP];

/// The /proc views no namespace virtualises.
pub const LEAK_MEMINFO: &str = "leak.meminfo";
pub const LEAK_NPROC: &str = "leak.nproc";
pub const LEAK_CPUINFO: &str = "leak.cpuinfo";
pub const LEAK_UPTIME: &str = "leak.uptime";
pub const LEAK_LOADAVG: &str = "leak.loadavg";
/// The leak checks, in the order a row lists them.
pub const LEAK_CHECKS: [&str; 5] = [
    LEAK_MEMINFO,
    LEAK_NPROC,
    LEAK_CPUINFO,
    LEAK_UPTIME,
    LEAK_LOADAVG,
];

/// Prefix of an escape attempt's check: `escape.<attempt>`.
pub const ESCAPE_PREFIX: &str = "escape.";

/// The check name of one escape attempt (`escape.ptrace`).
pub fn escape(attempt: &str) -> String {
    format!("{ESCAPE_PREFIX}{attempt}")
}
