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

/// The lxcfs arm: the probe again, with lxcfs's /proc files bound over the
/// sandbox's /proc. Each check says what the view must equal.
pub const LXCFS_MEMINFO: &str = "lxcfs.meminfo-equals-memory-limit";
pub const LXCFS_CPUINFO: &str = "lxcfs.cpuinfo-equals-cpu-quota";
pub const LXCFS_STAT: &str = "lxcfs.stat-cpus-equal-cpu-quota";
pub const LXCFS_UPTIME: &str = "lxcfs.uptime-is-the-sandbox-own";
pub const LXCFS_LOADAVG: &str = "lxcfs.loadavg-not-the-host";
/// What lxcfs (bound over /proc only) still leaks: warnings.
pub const LXCFS_LEFT_AFFINITY: &str = "lxcfs.still-leaks.sched-getaffinity";
pub const LXCFS_LEFT_SYS_CPU: &str = "lxcfs.still-leaks.sys-cpu-online";
pub const LXCFS_LEFT_MOUNTINFO: &str = "lxcfs.still-leaks.mountinfo";
/// The lxcfs arm's checks, in the order a row lists them.
pub const LXCFS_CHECKS: [&str; 8] = [
    LXCFS_MEMINFO,
    LXCFS_CPUINFO,
    LXCFS_STAT,
    LXCFS_UPTIME,
    LXCFS_LOADAVG,
    LXCFS_LEFT_AFFINITY,
    LXCFS_LEFT_SYS_CPU,
    LXCFS_LEFT_MOUNTINFO,
];
/// µs per whole read of lxcfs's /proc/meminfo and of the host's, timed
/// interleaved by the harness right after the probe.
pub const LXCFS_MEMINFO_READ: &str = "lxcfs.meminfo-read";
pub const HOST_MEMINFO_READ: &str = "host.meminfo-read";
/// Seconds from spawning lxcfs until its /proc/meminfo answered.
pub const LXCFS_START: &str = "lxcfs.start";
