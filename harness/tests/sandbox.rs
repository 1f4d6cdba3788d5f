//! Real sandboxes on this machine (needs root): namespaces, minimal rootfs,
//! cgroup placement, deadlines, cleanup.

mod common;

use std::path::Path;
use std::time::Duration;

use isobench::cgroup::{Cgroup, CgroupSet, Limits};
use isobench::sandbox::event::Probe;
use isobench::sandbox::{self, workload, Event, Exit, Namespaces, Rootfs, SandboxSpec};

/// A cgroup set named after `tag` when the test can run (as root), else
/// None: the test skips.
fn root_set(test: &str, tag: &str) -> Option<CgroupSet> {
    common::root_or_skip(&format!("sandbox::{test}")).then(|| common::set(tag))
}

/// `spec` launched in `set` (a minimal rootfs staged in `root`), ready.
fn launch_ready(spec: &SandboxSpec, set: &CgroupSet, root: Option<&Path>) -> sandbox::Running {
    let wl = workload::path().unwrap();
    let mut r = sandbox::launch(spec, set, 0, &wl, root).unwrap();
    r.wait_ready().unwrap();
    r
}

fn probe(spec: &SandboxSpec, set: &CgroupSet) -> Probe {
    let root = tempfile::tempdir().unwrap();
    let mut r = launch_ready(spec, set, Some(root.path()));
    let exit = r.wait_exit().unwrap();
    assert_eq!(exit, Exit::Code(0), "events: {:?}", r.events);
    let p = r
        .first(Event::as_probe)
        .unwrap_or_else(|| panic!("no probe event in {:?}", r.events));
    let phases = r.teardown().unwrap();
    assert!(phases.ready.is_some());
    p
}

#[test]
fn full_namespace_set_with_minimal_rootfs_isolates() {
    let Some(set) = root_set("full_namespace_set_with_minimal_rootfs_isolates", "fullns") else {
        return;
    };
    let mut spec = SandboxSpec::workload(&["probe"]);
    spec.namespaces = Namespaces::parse("pid,mnt,net,uts,ipc,user,cgroup").unwrap();
    spec.rootfs = Rootfs::Minimal;
    spec.hostname = Some("isobench-sbx".into());
    let p = probe(&spec, &set);
    assert_eq!(p.pid, 1, "{p:?}");
    assert_eq!(p.hostname.as_deref(), Some("isobench-sbx"));
    assert_eq!(p.interfaces, Some(vec!["lo".to_string()]), "{p:?}");
    assert_eq!(p.visible_pids, Some(vec![1]), "{p:?}");
    let mounts: Vec<String> = p.mounts.clone().unwrap();
    for m in &mounts {
        assert!(
            m == "/" || m == "/proc" || m == "/isobench-workload",
            "host mount {m} visible in {mounts:?}"
        );
    }
    assert_eq!(p.no_new_privs, Some(1));
    assert!(p.uid_map.as_deref().unwrap().contains("65534"), "{p:?}");
    common::assert_clean(&set);
}

#[test]
fn no_namespaces_still_lands_in_the_cgroup() {
    let Some(set) = root_set("no_namespaces_still_lands_in_the_cgroup", "nons") else {
        return;
    };
    let spec = SandboxSpec::workload(&["probe"]);
    let p = probe(&spec, &set);
    let cg = format!("{:?}", p.cgroup);
    assert!(cg.contains(&set.run_id), "workload not in its cgroup: {cg}");
    assert_ne!(p.pid, 1);
    common::assert_clean(&set);
}

#[test]
fn deadline_kills_a_hung_workload() {
    let Some(set) = root_set("deadline_kills_a_hung_workload", "deadline") else {
        return;
    };
    let mut spec = SandboxSpec::workload(&["spin", "--threads", "1", "--seconds", "30"]);
    spec.deadline = Duration::from_millis(500);
    let mut r = launch_ready(&spec, &set, None);
    assert_eq!(r.wait_exit().unwrap(), Exit::TimedOut);
    r.teardown().unwrap();
    common::assert_clean(&set);
}

#[test]
fn cgroup_create_limit_read_kill_destroy() {
    let Some(set) = root_set("cgroup_create_limit_read_kill_destroy", "cglife") else {
        return;
    };
    let mut spec = SandboxSpec::workload(&["forkbomb"]);
    spec.limits = Limits {
        pids_max: Some(16),
        memory_max: Some(64 << 20),
        ..Default::default()
    };
    spec.namespaces = Namespaces::parse("pid").unwrap();
    spec.deadline = Duration::from_secs(20);
    let r = launch_ready(&spec, &set, None);
    // Wait until the bomb hits the limit (event-driven, no fixed sleep).
    let t = std::time::Instant::now();
    loop {
        let p = r.cgroup().pids_stats().unwrap();
        if p.events_max.unwrap_or(0) > 0 {
            assert_eq!(p.max, Some(16));
            assert!(p.current.unwrap() <= 16);
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "pids.max never hit: {p:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let m = r.cgroup().memory_stats().unwrap();
    assert!(m.current.unwrap() > 0);
    let dirs = r.cgroup_dirs();
    r.cgroup().kill_all().unwrap();
    assert!(r.cgroup().pids().unwrap().is_empty());
    r.teardown().unwrap();
    for d in dirs {
        assert!(!d.exists(), "{} left", d.display());
    }
    common::assert_clean(&set);
}
