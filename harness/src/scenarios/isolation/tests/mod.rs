//! The verdicts on data recorded on this machine (no root needed).

use crate::scenarios::Level;
use isobench_reports::{Check, Status};

use super::*;
use crate::sandbox::event::{Escape, Probe};

mod config;
mod escape;
mod leaks;
mod namespaces;

const HARNESS: u32 = 4242;
const HOST_PID: i32 = 5151;
const CG: &str = "isobench-p4242-ab-3";

/// The harness's mounts, as /proc/self/mountinfo keys.
const HOST_MOUNT_KEYS: [&str; 6] = [
    "0:22 / /proc",
    "0:21 / /sys",
    "0:5 / /dev",
    "254:1 / /",
    "0:30 / /sys/fs/cgroup/memory",
    "254:1 /run/isobench /run/isobench",
];

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn host() -> Host {
    Host {
        harness_pid: HARNESS,
        hostname_before: "buildhost".into(),
        hostname_after: "buildhost".into(),
        shm_id: Ok(32769),
        mount_keys: Some(strings(&HOST_MOUNT_KEYS)),
    }
}

fn expect(ns: &str) -> Expect {
    let cfg = Isolation::level(Level::Quick);
    let spec = probe_spec(&cfg, Namespaces::parse(ns).unwrap());
    let e = Expect::of(&spec, 0.5, CG.into(), HOST_PID);
    assert_eq!(e.memory_max(), 256 << 20);
    e
}

/// Recorded on this machine: the full set with the minimal rootfs.
fn isolated() -> Probe {
    Probe {
        pid: 1,
        ppid: 0,
        hostname: Some("isobench-probe".into()),
        visible_pids: Some(vec![1]),
        interfaces: Some(strings(&["lo"])),
        mounts: Some(strings(&["/", "/isobench-workload", "/proc"])),
        mount_keys: Some(strings(&[
            "0:61 / /",
            "254:1 /run/isobench/isobench-workload-1 /isobench-workload",
            "0:62 / /proc",
        ])),
        uid_map: Some("0      65534          1".into()),
        gid_map: Some("0      65534          1".into()),
        cgroup: Some(strings(&[
            "9:name=systemd:/",
            "8:pids:/",
            "4:memory:/",
            "1:cpu:/",
            "0::/",
        ])),
        cap_eff: Some("000001ffffffffff".into()),
        no_new_privs: Some(1),
        affinity: Some(vec![0, 1]),
        sysvipc_shm: Some(vec![]),
        meminfo_total_bytes: Some(25276514304),
        nprocs_online: Some(2),
        cpuinfo_processors: Some(2),
        loadavg: Some("1.31 1.35 0.84".into()),
        uptime_s: Some(1181.56),
        ..Default::default()
    }
}

/// Recorded on this machine: no namespace at all.
fn leaky() -> Probe {
    Probe {
        pid: HOST_PID.into(),
        ppid: HARNESS.into(),
        hostname: Some("buildhost".into()),
        visible_pids: Some(vec![1, 2, 3, 77, HARNESS.into(), HOST_PID as u64]),
        interfaces: Some(strings(&["eth0", "lo"])),
        mounts: Some(strings(&["/proc", "/sys", "/dev", "/", "/sys/fs/cgroup/memory"])),
        // All of the host's but the harness's own bind.
        mount_keys: Some(strings(&HOST_MOUNT_KEYS[..5])),
        uid_map: Some("0          0 4294967295".into()),
        gid_map: Some("0          0 4294967295".into()),
        cgroup: Some(vec![
            "9:name=systemd:/".into(),
            format!("8:pids:/{CG}"),
            format!("4:memory:/process_api/x/{CG}"),
            format!("0::/{CG}"),
        ]),
        cap_eff: Some("000001fffeffffff".into()),
        sysvipc_shm: Some(vec![5, 32769]),
        ..isolated()
    }
}

fn window() -> Window {
    Window {
        uptime_s: (Some(1181.55), Some(1181.57)),
        loadavg: (Some("1.31 1.35 0.84".into()), Some("1.31 1.35 0.84".into())),
    }
}

fn check<'a>(checks: &'a [Check], name: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name} in {checks:#?}"))
}

fn status(checks: &[Check], name: &str) -> Status {
    check(checks, name).status
}

/// Recorded on this machine: `escape` under the full set, minimal rootfs.
fn escape_isolated() -> Vec<Escape> {
    [
        ("signal", 3, "kill(6141, 0) then kill(6141, SIGCONT): No such process (os error 3)"),
        ("ptrace", 3, "PTRACE_SEIZE 6141 (released at once): No such process (os error 3)"),
        ("cgroup-write", 1, "no limit file in view, and mounting cgroup pids failed: Operation not permitted (os error 1)"),
        ("cgroup-parent-write", 2, "its cgroup is the root of every hierarchy it can see: no parent in reach"),
        ("mount-tmpfs", 1, "mount tmpfs on /tmp/isobench-escape-mnt-1: Operation not permitted (os error 1)"),
        ("remount-root", 1, "remount / (tmpfs) with its current flags rw,nosuid,nodev,relatime: Operation not permitted (os error 1)"),
        ("init-module", 38, "init_module(empty image): Function not implemented (os error 38): this kernel has no module loading at all"),
        ("finit-module", 38, "finit_module(fd -1): Function not implemented (os error 38): this kernel has no module loading at all"),
        ("sysctl-hostname", 13, "/proc/sys/kernel/hostname: Permission denied (os error 13)"),
        ("sysctl-drop-caches", 13, "open /proc/sys/vm/drop_caches for writing (nothing written): Permission denied (os error 13)"),
        ("abstract-socket", 111, "connect to \"\\0isobench-escape-x\": Connection refused (os error 111)"),
    ]
    .map(|(attempt, errno, detail)| Escape {
        attempt: attempt.into(),
        blocked: Some(true),
        errno,
        detail: detail.into(),
    })
    .to_vec()
}
