//! isolation end to end on this machine (needs root): the baseline shows
//! every leak, the full namespace set hides every one, the /proc leaks are
//! reported as warnings, and nothing is left behind.

mod common;

use isobench::sandbox::{workload, Namespaces};
use isobench::scenarios::isolation::{self, Config};
use isobench::scenarios::{Ctx, Level};
use isobench_reports::{ScenarioResult, Status};

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
    let cfg = Config::parse(Level::Quick, None).unwrap();
    let results = isolation::run(&cfg, &ctx).unwrap();
    (results, check_set)
}

fn shm_segments() -> usize {
    std::fs::read_to_string("/proc/sysvipc/shm")
        .unwrap_or_default()
        .lines()
        .count()
}

fn by_ns<'a>(r: &'a [ScenarioResult], ns: &str) -> &'a ScenarioResult {
    r.iter()
        .find(|s| s.params["namespaces"] == ns)
        .unwrap_or_else(|| panic!("no result for {ns}: {r:#?}"))
}

fn status(s: &ScenarioResult, name: &str) -> Status {
    s.checks
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name}: {:#?}", s.checks))
        .status
}

#[test]
fn baseline_leaks_and_the_full_set_isolates() {
    let shm_before = shm_segments();
    let (r, set) = run("iso", None);
    assert_eq!(r.len(), 3, "baseline + two sets: {r:#?}");
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
    for k in ["pid", "mnt", "uts", "ipc", "user", "cgroup"] {
        assert_eq!(
            status(base, k),
            Status::Pass,
            "baseline {k}: {:#?}",
            base.checks
        );
    }
    assert_ne!(status(base, "net"), Status::Fail);

    let all = by_ns(&r, &Namespaces::all().to_string());
    for k in ["pid", "mnt", "net", "uts", "ipc", "user", "cgroup"] {
        assert_eq!(status(all, k), Status::Pass, "all {k}: {:#?}", all.checks);
    }
    // The famous leaks: no namespace virtualises these.
    for k in [
        "leak.meminfo",
        "leak.nproc",
        "leak.cpuinfo",
        "leak.uptime",
        "leak.loadavg",
    ] {
        assert_eq!(status(all, k), Status::Warn, "{k}: {:#?}", all.checks);
    }

    let common_set = by_ns(&r, "pid,mnt,uts,ipc");
    for k in ["pid", "mnt", "uts", "ipc"] {
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
        .any(|c| ["net", "user", "cgroup"].contains(&c.name.as_str())));

    common::assert_clean(&set);
    // The harness's shm segment is gone.
    assert_eq!(shm_segments(), shm_before);
}

#[test]
fn namespaces_flag_probes_one_set_after_the_baseline() {
    let (r, set) = run("iso1", Some(Namespaces::parse("pid,mnt,net").unwrap()));
    let names: Vec<String> = r
        .iter()
        .map(|s| s.params["namespaces"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["none", "pid,mnt,net"]);
    let s = &r[1];
    for k in ["pid", "mnt", "net"] {
        assert_eq!(status(s, k), Status::Pass, "{k}: {:#?}", s.checks);
    }
    common::assert_clean(&set);
}
