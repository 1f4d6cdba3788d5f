//! isolation end to end on this machine (needs root): the baseline shows
//! every leak, the full namespace set hides every one, the /proc leaks are
//! reported as warnings, and nothing is left behind.

mod common;

use isobench::sandbox::{workload, Namespaces};
use isobench::scenarios::isolation::{Isolation, ESCAPE_ATTEMPTS};
use isobench::scenarios::{Ctx, Level, Scenario};
use isobench_reports::names::isolation as n;
use isobench_reports::{Check, ScenarioResult, Status};

fn run(
    test: &str,
    namespaces: Option<Namespaces>,
) -> (Vec<ScenarioResult>, isobench::cgroup::CgroupSet) {
    let set = common::set(test);
    let check_set = set.clone();
    let root = tempfile::tempdir().unwrap();
    let ctx = Ctx::new(
        set,
        workload::path().unwrap(),
        root.path().to_path_buf(),
        1,
        namespaces,
    );
    let cfg = Isolation::parse(Level::Quick, None).unwrap();
    let results = Isolation::results(&cfg, &ctx).unwrap();
    (results, check_set)
}

/// Ids of the SysV shm segments on this host (other tests running in
/// parallel make their own, so only a given id is looked for).
fn shm_ids() -> Vec<String> {
    std::fs::read_to_string("/proc/sysvipc/shm")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1).map(String::from))
        .collect()
}

fn is_escape(s: &ScenarioResult) -> bool {
    s.params.get("probe").and_then(|p| p.as_str()) == Some("escape")
}

fn is_lxcfs(s: &ScenarioResult) -> bool {
    s.params.get("lxcfs") == Some(&serde_json::Value::Bool(true))
}

/// The visibility probe's row of a namespace set.
fn by_ns<'a>(r: &'a [ScenarioResult], ns: &str) -> &'a ScenarioResult {
    r.iter()
        .find(|s| !is_escape(s) && !is_lxcfs(s) && s.params["namespaces"] == ns)
        .unwrap_or_else(|| panic!("no result for {ns}: {r:#?}"))
}

/// The escape probe's row of a namespace set.
fn escape_row<'a>(r: &'a [ScenarioResult], ns: &str) -> &'a ScenarioResult {
    r.iter()
        .find(|s| is_escape(s) && s.params["namespaces"] == ns)
        .unwrap_or_else(|| panic!("no escape result for {ns}: {r:#?}"))
}

/// Whether the escape probe's target (named in a check's detail as
/// "kill(PID, 0)") is gone: no process of that pid is a `sleep` child of
/// this test anymore.
fn target_gone(detail: &str) -> bool {
    let pid = detail
        .split("kill(")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap_or_else(|| panic!("no target pid in {detail:?}"));
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let me = std::process::id().to_string();
    let child_sleep = stat.contains("(sleep)")
        && stat
            .rsplit_once(')')
            .is_some_and(|(_, r)| r.split_whitespace().nth(1) == Some(me.as_str()));
    !child_sleep
}

fn check<'a>(s: &'a ScenarioResult, name: &str) -> &'a Check {
    s.checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name}: {:#?}", s.checks))
}

fn status(s: &ScenarioResult, name: &str) -> Status {
    check(s, name).status
}

#[test]
fn baseline_leaks_and_the_full_set_isolates() {
    if !common::root_or_skip("scenario_isolation::baseline_leaks_and_the_full_set_isolates") {
        return;
    }
    let (r, set) = run("iso", None);
    assert_eq!(
        r.len(),
        7,
        "baseline + two sets + two escape probes + the two sets under lxcfs: {r:#?}"
    );
    assert_eq!(r.iter().filter(|s| is_lxcfs(s)).count(), 2);
    for s in &r {
        assert_eq!(s.name, "isolation");
        assert!(s.error.is_none(), "{s:#?}");
        assert!(s.metrics.iter().all(|m| !m.samples.is_empty()), "{s:#?}");
        for c in &s.checks {
            assert!(!c.expected.is_empty() && !c.observed.is_empty(), "{c:?}");
        }
    }

    let base = by_ns(&r, "none");
    assert_eq!(base.params["baseline"], true);
    // Every leak the checks look for is visible without namespaces (net
    // may skip on a host with only lo).
    for k in [n::PID, n::MNT, n::UTS, n::IPC, n::USER, n::CGROUP] {
        assert_eq!(
            status(base, k),
            Status::Pass,
            "baseline {k}: {:#?}",
            base.checks
        );
    }
    assert_ne!(status(base, n::NET), Status::Fail);

    let all = by_ns(&r, &Namespaces::all().to_string());
    for k in n::NAMESPACES {
        assert_eq!(status(all, k), Status::Pass, "all {k}: {:#?}", all.checks);
    }
    // The famous leaks: no namespace virtualises these.
    for k in n::LEAK_CHECKS {
        assert_eq!(status(all, k), Status::Warn, "{k}: {:#?}", all.checks);
    }

    let common_set = by_ns(&r, "pid,mnt,uts,ipc");
    for k in [n::PID, n::MNT, n::UTS, n::IPC] {
        assert_eq!(
            status(common_set, k),
            Status::Pass,
            "{k}: {:#?}",
            common_set.checks
        );
    }
    // Kinds the set leaves out are not judged.
    assert!(!common_set
        .checks
        .iter()
        .any(|c| [n::NET, n::USER, n::CGROUP].contains(&c.name.as_str())));

    common::assert_clean(&set);
    // The harness's shm segment (named in the baseline's ipc check) is gone.
    let ipc = check(base, n::IPC);
    let id = ipc
        .expected
        .split_whitespace()
        .find(|w| w.parse::<u64>().is_ok())
        .unwrap_or_else(|| panic!("no segment id in {ipc:?}"));
    // Sandboxes of tests running in parallel are forked from this process
    // and hold its attachments until they exec: wait for them to let go.
    let t = std::time::Instant::now();
    while shm_ids().iter().any(|x| x == id) {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(30),
            "segment {id} left"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn namespaces_flag_probes_one_set_after_the_baseline() {
    if !common::root_or_skip(
        "scenario_isolation::namespaces_flag_probes_one_set_after_the_baseline",
    ) {
        return;
    }
    let (r, set) = run("iso1", Some(Namespaces::parse("pid,mnt,net").unwrap()));
    let names: Vec<String> = r
        .iter()
        .filter(|s| !is_escape(s) && !is_lxcfs(s))
        .map(|s| s.params["namespaces"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["none", "pid,mnt,net"]);
    let s = &r[1];
    for k in [n::PID, n::MNT, n::NET] {
        assert_eq!(status(s, k), Status::Pass, "{k}: {:#?}", s.checks);
    }
    common::assert_clean(&set);
}

/// Every escape attempt is refused under the full set with the minimal
/// rootfs, and the baseline shows the probe can see each escape this host
/// allows at all. The target process and the socket are gone afterwards.
#[test]
fn escape_attempts_fail_under_the_full_set() {
    if !common::root_or_skip("scenario_isolation::escape_attempts_fail_under_the_full_set") {
        return;
    }
    let (r, set) = run("esc", Some(Namespaces::parse("pid").unwrap()));
    let all = escape_row(&r, &Namespaces::all().to_string());
    assert!(all.error.is_none(), "{all:#?}");
    assert_eq!(all.params["rootfs"], "minimal");
    for (attempt, _) in ESCAPE_ATTEMPTS {
        let c = check(all, &n::escape(attempt));
        assert_eq!(c.status, Status::Pass, "{c:#?}");
        assert!(c.observed.starts_with("refused"), "{c:#?}");
    }
    let escapes = all.metrics.iter().find(|m| m.name == n::ESCAPES).unwrap();
    assert_eq!(escapes.samples, [0.0]);

    let base = escape_row(&r, "none");
    assert!(base.error.is_none(), "{base:#?}");
    // As root without namespaces these get through on any Linux host; a
    // probe that saw them refused here would be blind.
    for attempt in [
        "signal",
        "ptrace",
        "cgroup-write",
        "cgroup-parent-write",
        "mount-tmpfs",
        "remount-root",
        "sysctl-hostname",
        "sysctl-drop-caches",
        "abstract-socket",
    ] {
        assert_eq!(
            status(base, &n::escape(attempt)),
            Status::Pass,
            "{:#?}",
            base.checks
        );
    }
    // Module loading: through (permission passed) or skipped where the
    // kernel has no module support; never a failure.
    for attempt in ["init-module", "finit-module"] {
        let s = status(base, &n::escape(attempt));
        assert_ne!(s, Status::Fail, "{:#?}", base.checks);
    }
    let sock = check(base, &n::escape("abstract-socket"));
    assert!(sock.observed.contains("accepted 1"), "{sock:#?}");
    let signal = check(base, &n::escape("signal"));
    assert!(target_gone(&signal.detail), "{signal:#?}");
    common::assert_clean(&set);
}

/// FUSE mounts (fstype fuse*) in this mount namespace whose mount point
/// names `needle`.
fn fuse_mounts_naming(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mounts")
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            l.split(' ').nth(2).is_some_and(|t| t.starts_with("fuse")) && l.contains(needle)
        })
        .map(String::from)
        .collect()
}

/// Asserts that nothing in the staging directory starts with `tag`.
fn assert_no_staging_named(tag: &str) {
    let left: Vec<_> = std::fs::read_dir(isobench::run::staging_base())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(tag))
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Live processes whose command line names `needle`.
fn processes_naming(needle: &str) -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
        })
        .collect()
}

/// With lxcfs, MemTotal is the limit, the CPU count in cpuinfo and stat the
/// quota rounded up, uptime the sandbox's; the remaining leaks warn; the
/// reads are timed; and no FUSE mount or lxcfs is left afterwards.
#[test]
fn lxcfs_arm_virtualises_proc_and_leaves_no_mount() {
    if !common::root_or_skip("scenario_isolation::lxcfs_arm_virtualises_proc_and_leaves_no_mount")
        || common::tool("lxcfs", "lxcfs", "lxcfs").is_none()
    {
        return;
    }
    let (r, set) = run("lxcfs", Some(Namespaces::parse("pid,mnt,uts,ipc").unwrap()));
    let rows: Vec<&ScenarioResult> = r.iter().filter(|s| is_lxcfs(s)).collect();
    assert_eq!(rows.len(), 1, "one lxcfs row for the one set: {r:#?}");
    let s = rows[0];
    assert!(s.error.is_none(), "{s:#?}");
    assert_eq!(s.params["namespaces"], "pid,mnt,uts,ipc");
    for c in [
        n::LXCFS_MEMINFO,
        n::LXCFS_CPUINFO,
        n::LXCFS_STAT,
        n::LXCFS_UPTIME,
    ] {
        assert_eq!(status(s, c), Status::Pass, "{c}: {:#?}", check(s, c));
    }
    assert_eq!(check(s, n::LXCFS_MEMINFO).observed, "256");
    // lxcfs cannot change the affinity mask, and its binds show in mountinfo.
    assert_eq!(
        status(s, n::LXCFS_LEFT_AFFINITY),
        if isobench::env::cpus() > 1 {
            Status::Warn
        } else {
            Status::Pass
        }
    );
    assert_eq!(status(s, n::LXCFS_LEFT_MOUNTINFO), Status::Warn);
    for m in [n::LXCFS_MEMINFO_READ, n::HOST_MEMINFO_READ] {
        let metric = s
            .metrics
            .iter()
            .find(|x| x.name == m)
            .unwrap_or_else(|| panic!("no {m}"));
        assert_eq!(metric.samples.len(), 200, "{m}");
        assert!(metric.samples.iter().all(|v| *v > 0.0), "{m}");
    }
    // The plain row of the same set still shows the leaks lxcfs fixes.
    let plain = by_ns(&r, "pid,mnt,uts,ipc");
    assert!(!is_lxcfs(plain));
    assert_eq!(status(plain, n::LEAK_MEMINFO), Status::Warn);
    let tag = format!("lxcfs-{}", set.run_id);
    assert_eq!(fuse_mounts_naming(&tag), Vec::<String>::new());
    assert_eq!(processes_naming(&tag), Vec::<i32>::new());
    assert_no_staging_named(&tag);
    common::assert_clean(&set);
}

/// A run SIGKILLed while its lxcfs is mounted leaves the daemon and the
/// FUSE mount (lxcfs runs in its own process group); `isobench cleanup`
/// kills the one and unmounts the other, recognising them by the path.
#[test]
fn cleanup_removes_the_lxcfs_of_a_sigkilled_run() {
    if !common::root_or_skip("scenario_isolation::cleanup_removes_the_lxcfs_of_a_sigkilled_run")
        || common::tool("lxcfs", "lxcfs", "lxcfs").is_none()
    {
        return;
    }
    use std::time::{Duration, Instant};
    let out = tempfile::tempdir().unwrap();
    let out_path = out.path().join("r.json");
    for _attempt in 0..5 {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_isobench"))
            .args([
                "run",
                "--scenario",
                "isolation",
                "--launcher",
                "native",
                "-o",
            ])
            .arg(&out_path)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let tag = format!("lxcfs-p{}-", child.id());
        let t = Instant::now();
        let mut seen = false;
        while t.elapsed() < Duration::from_secs(120) {
            if !fuse_mounts_naming(&tag).is_empty() {
                seen = true;
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        if !seen {
            // The arm was over before the poll saw it: try again.
            let _ = child.wait();
            continue;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(
            !fuse_mounts_naming(&tag).is_empty(),
            "the SIGKILLed run's lxcfs mount should outlive it (else this test proves nothing)"
        );
        let c = common::isobench(&["cleanup"]);
        let stdout = String::from_utf8_lossy(&c.stdout);
        assert!(
            c.status.success(),
            "{stdout} {}",
            String::from_utf8_lossy(&c.stderr)
        );
        assert!(
            stdout.contains("unmounted") && stdout.contains(&tag),
            "{stdout}"
        );
        assert_eq!(fuse_mounts_naming(&tag), Vec::<String>::new());
        // A killed daemon drops its command line as it exits.
        let t = Instant::now();
        while !processes_naming(&tag).is_empty() && t.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(
            processes_naming(&tag),
            Vec::<i32>::new(),
            "lxcfs left running"
        );
        assert_no_staging_named(&tag);
        return;
    }
    panic!("five runs ended before their lxcfs mount was seen");
}
