//! The per-namespace detectors, on an isolated and a leaky probe.

use crate::scenarios::Level;
use super::*;
use isobench_reports::names::isolation as n;

use super::super::sets::honours_no_namespace;
use crate::launchers::Launcher;
use crate::sandbox::IdMap;

#[test]
fn every_namespace_passes_on_an_isolated_probe() {
    let c = namespace_checks(&isolated(), &expect("all"), &host());
    assert_eq!(c.len(), 7);
    for k in n::NAMESPACES {
        assert_eq!(status(&c, k), Status::Pass, "{k}: {c:#?}");
    }
    let pid = check(&c, "pid");
    assert_eq!(
        pid.observed,
        "pid 1 (parent 0); 1 pid(s) visible, 0 of them not its own"
    );
    let mnt = check(&c, "mnt");
    assert_eq!(
        mnt.observed,
        "3 mount(s): /, /isobench-workload, /proc; none the host's"
    );
    assert_eq!(
        mnt.expected,
        "none of the host's 6 mounts (same device, root and mount point)"
    );
    let ipc = check(&c, "ipc");
    assert!(ipc.observed.contains("32769 absent"), "{}", ipc.observed);
}

#[test]
fn every_namespace_fails_on_a_leaky_probe_that_claims_isolation() {
    let c = namespace_checks(&leaky(), &expect("all"), &host());
    for k in n::NAMESPACES {
        assert_eq!(status(&c, k), Status::Fail, "{k}: {c:#?}");
    }
    let cg = check(&c, "cgroup");
    assert!(
        cg.observed.starts_with("3 of 4 lines not at"),
        "{}",
        cg.observed
    );
    assert!(cg.detail.contains("rooted above"), "{}", cg.detail);
    let mnt = check(&c, "mnt");
    assert_eq!(
        mnt.observed,
        "5 mount(s), 5 of them the host's: /proc, /sys, /dev, /, /sys/fs/cgroup/memory"
    );
}

#[test]
fn a_launcher_init_as_pid_1_is_its_own_process() {
    // bwrap keeps an init: the probe is pid 2, child of pid 1.
    let mut p = isolated();
    p.pid = 2;
    p.ppid = 1;
    p.visible_pids = Some(vec![1, 2]);
    let c = namespace_checks(&p, &expect("all"), &host());
    assert_eq!(status(&c, "pid"), Status::Pass, "{c:#?}");
    p.visible_pids = Some(vec![1, 2, 3]);
    let c = namespace_checks(&p, &expect("all"), &host());
    assert_eq!(status(&c, "pid"), Status::Fail, "{c:#?}");
}

#[test]
fn a_fresh_mount_named_like_a_host_one_is_not_a_leak() {
    // A container's own /proc, /sys and /dev: same names, new devices.
    let mut p = isolated();
    p.mount_keys = Some(strings(&["0:70 / /", "0:71 / /proc", "0:72 / /sys", "0:73 / /dev"]));
    let c = namespace_checks(&p, &expect("all"), &host());
    assert_eq!(status(&c, "mnt"), Status::Pass, "{c:#?}");
    // A bind of the host's cgroup hierarchy at the same place is one.
    p.mount_keys = Some(strings(&["0:70 / /", "0:30 / /sys/fs/cgroup/memory"]));
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
    let cfg = Isolation::level(Level::Quick);
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
    for k in n::NAMESPACES {
        assert_eq!(status(&c, k), Status::Pass, "{k}: {c:#?}");
        let ch = check(&c, k);
        assert!(ch.expected.contains("proves the check can fail"), "{ch:?}");
    }
    // A blind detector: the baseline "sees" isolation everywhere.
    let mut blind = isolated();
    blind.hostname = Some("buildhost".into());
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
    p.interfaces = Some(strings(&["lo"]));
    let c = namespace_checks(&p, &expect("none"), &host());
    let net = check(&c, "net");
    assert_eq!(net.status, Status::Skip);
    assert!(net.detail.contains("no interface besides lo"), "{net:?}");
    // Inside a net namespace, only lo is still a pass.
    let c = namespace_checks(&isolated(), &expect("all"), &host());
    assert_eq!(status(&c, "net"), Status::Pass);
}

#[test]
fn namespaces_outside_the_set_are_not_judged() {
    let mut p = isolated();
    p.interfaces = Some(strings(&["eth0", "lo"]));
    p.uid_map = Some("0 0 4294967295".into());
    p.gid_map = Some("0 0 4294967295".into());
    let c = namespace_checks(&p, &expect("pid,mnt,uts,ipc"), &host());
    let names: Vec<&str> = c.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["pid", "mnt", "uts", "ipc"]);
    assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
}

#[test]
fn specific_failures_are_explained() {
    // pid namespace without a fresh /proc.
    let mut p = isolated();
    p.visible_pids = Some(vec![1, 2, 3, HARNESS.into()]);
    let c = namespace_checks(&p, &expect("all"), &host());
    let pid = check(&c, "pid");
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
    p.uid_map = Some("0 1000 1".into());
    assert_eq!(
        status(&namespace_checks(&p, &expect("all"), &host()), "user"),
        Status::Fail
    );
    // The shm segment could not be made: nothing to tell.
    let mut h = host();
    h.shm_id = Err(ShmError {
        call: "shmget",
        errno: libc::ENOSYS,
    });
    let c = namespace_checks(&isolated(), &expect("all"), &h);
    assert_eq!(status(&c, "ipc"), Status::Skip);
    // Unreadable views skip rather than pass.
    let mut p = isolated();
    p.mount_keys = None;
    p.cgroup = None;
    let c = namespace_checks(&p, &expect("all"), &host());
    assert_eq!(status(&c, "mnt"), Status::Skip);
    assert_eq!(status(&c, "cgroup"), Status::Skip);
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

