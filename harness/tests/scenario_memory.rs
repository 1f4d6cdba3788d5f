//! memory-oom, memory-high and pagecache end to end on this machine (root):
//! every non-skipped check passes, v2-only variants skip with a reason, and
//! no cgroup of the test's run id is left.

mod common;

use isobench::scenarios::{memory_high, memory_oom, pagecache, Ctx, Level};
use isobench_reports::{ScenarioResult, Status};

fn ctx(test: &str) -> (Ctx, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    let set = common::set(test);
    let wl = isobench::sandbox::workload::path().unwrap();
    (Ctx::new(set, wl, root.path().to_path_buf(), 1, None), root)
}

/// Every check passes or, when the kernel cannot express it, skips with a
/// reason; every check states expected and observed.
fn assert_ok(results: &[ScenarioResult]) {
    for r in results {
        assert!(r.error.is_none(), "{} errored: {:?}", r.name, r.error);
        assert!(!r.checks.is_empty(), "{} has no checks", r.name);
        for c in &r.checks {
            assert!(
                matches!(c.status, Status::Pass | Status::Skip),
                "{} {:?}: {c:?}",
                r.name,
                r.params
            );
            assert!(!c.expected.is_empty() && !c.observed.is_empty(), "{c:?}");
            if c.status == Status::Skip {
                assert!(!c.detail.is_empty(), "skip without a reason: {c:?}");
            }
        }
        for m in &r.metrics {
            assert!(
                !m.samples.is_empty(),
                "{} metric {} has no samples",
                r.name,
                m.name
            );
        }
    }
}

fn variant<'a>(results: &'a [ScenarioResult], v: &str) -> &'a ScenarioResult {
    results
        .iter()
        .find(|r| r.params["variant"] == v)
        .unwrap_or_else(|| panic!("no {v} result"))
}

#[test]
fn memory_oom_quick() {
    if !common::root_or_skip("scenario_memory::memory_oom_quick") {
        return;
    }
    let (ctx, _root) = ctx("memoom");
    let cfg = memory_oom::Config::level(Level::Quick);
    let results = memory_oom::run(&cfg, &ctx).unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&results).unwrap());
    assert_eq!(results.len(), 3);
    assert_ok(&results);
    let on_v2 = ctx.set.on_v2(isobench::cgroup::Controller::Memory);
    let single = variant(&results, "single");
    assert!(single.checks.iter().all(|c| c.status == Status::Pass));
    let (group, disable) = (
        variant(&results, "oom-group"),
        variant(&results, "oom-kill-disable"),
    );
    let skipped = |r: &ScenarioResult| r.checks.iter().all(|c| c.status == Status::Skip);
    assert_eq!(
        skipped(group),
        !on_v2,
        "oom.group runs exactly where memory is on v2"
    );
    assert_eq!(
        skipped(disable),
        on_v2,
        "oom_kill_disable runs exactly where memory is on v1"
    );
    common::assert_clean(&ctx.set);
}

#[test]
fn memory_high_quick() {
    if !common::root_or_skip("scenario_memory::memory_high_quick") {
        return;
    }
    let (ctx, _root) = ctx("memhigh");
    let cfg = memory_high::Config::level(Level::Quick);
    let results = memory_high::run(&cfg, &ctx).unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&results).unwrap());
    assert_eq!(results.len(), 1);
    assert_ok(&results);
    let on_v2 = ctx.set.on_v2(isobench::cgroup::Controller::Memory);
    let skipped = results[0].checks.iter().all(|c| c.status == Status::Skip);
    assert_eq!(
        skipped, !on_v2,
        "memory-high runs exactly where memory is on v2"
    );
    common::assert_clean(&ctx.set);
}

#[test]
fn pagecache_quick() {
    if !common::root_or_skip("scenario_memory::pagecache_quick") {
        return;
    }
    let (ctx, _root) = ctx("pagecache");
    let cfg = pagecache::Config::level(Level::Quick);
    let results = pagecache::run(&cfg, &ctx).unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&results).unwrap());
    assert_eq!(results.len(), 1);
    assert_ok(&results);
    // This machine's /var/tmp is a disk filesystem: the scenario really ran.
    assert!(results[0].checks.iter().all(|c| c.status == Status::Pass));
    common::assert_clean(&ctx.set);
    // The private scratch directory is gone.
    for d in ["/var/tmp", "/tmp"] {
        for e in std::fs::read_dir(d).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            assert!(!n.contains(&ctx.set.run_id), "scratch dir {n} left in {d}");
        }
    }
}

#[test]
fn pagecache_refuses_a_tmpfs_dir() {
    if !common::root_or_skip("scenario_memory::pagecache_refuses_a_tmpfs_dir") {
        return;
    }
    if std::fs::metadata("/dev/shm").is_err() {
        return;
    }
    let (ctx, _root) = ctx("pagecache-tmpfs");
    let mut cfg = pagecache::Config::level(Level::Quick);
    cfg.dir = "/dev/shm".into();
    let e = pagecache::run(&cfg, &ctx).unwrap_err();
    assert!(e.contains("tmpfs"), "{e}");
    common::assert_clean(&ctx.set);
}
