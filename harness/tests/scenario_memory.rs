//! memory-oom, memory-high, pagecache, memory-protection and memory-virtual
//! end to end on this machine (root):
//! every non-skipped check passes, v2-only variants skip with a reason, and
//! no cgroup of the test's run id is left.

mod common;

use isobench::cgroup::Controller;
use isobench::scenarios::memory_high::MemoryHigh;
use isobench::scenarios::memory_oom::MemoryOom;
use isobench::scenarios::memory_protection::MemoryProtection;
use isobench::scenarios::memory_virtual::MemoryVirtual;
use isobench::scenarios::pagecache::Pagecache;
use isobench::scenarios::{Ctx, Level, Scenario};
use isobench_reports::names::{
    memory_high as high, memory_protection as prot, memory_virtual as virt,
};
use isobench_reports::{ScenarioResult, Status};

fn ctx(test: &str) -> (Ctx, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    let set = common::set(test);
    let wl = isobench::sandbox::workload::path().unwrap();
    (Ctx::new(set, wl, root.path().to_path_buf(), 1, None), root)
}

/// Runs scenario `S` at the quick level through the trait, as the suite
/// does, in a fresh context; every check passes or skips with a reason (see
/// `assert_ok`). None when not root.
fn quick<S: Scenario>(test: &str) -> Option<(Ctx, Vec<ScenarioResult>, tempfile::TempDir)> {
    if !common::root_or_skip(&format!("scenario_memory::{test}")) {
        return None;
    }
    let (ctx, root) = ctx(test);
    let cfg = S::parse(Level::Quick, None).unwrap();
    let results = S::results(&cfg, &ctx).unwrap();
    eprintln!("{}", serde_json::to_string_pretty(&results).unwrap());
    assert_ok(&results);
    Some((ctx, results, root))
}

fn all_skipped(r: &ScenarioResult) -> bool {
    r.checks.iter().all(|c| c.status == Status::Skip)
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
    let Some((ctx, results, _root)) = quick::<MemoryOom>("memory_oom_quick") else {
        return;
    };
    assert_eq!(results.len(), 3);
    let on_v2 = ctx.set.on_v2(Controller::Memory);
    let single = variant(&results, "single");
    assert!(single.checks.iter().all(|c| c.status == Status::Pass));
    let (group, disable) = (
        variant(&results, "oom-group"),
        variant(&results, "oom-kill-disable"),
    );
    assert_eq!(
        all_skipped(group),
        !on_v2,
        "oom.group runs exactly where memory is on v2"
    );
    assert_eq!(
        all_skipped(disable),
        on_v2,
        "oom_kill_disable runs exactly where memory is on v1"
    );
    common::assert_clean(&ctx.set);
}

#[test]
fn memory_high_quick() {
    let Some((ctx, results, _root)) = quick::<MemoryHigh>("memory_high_quick") else {
        return;
    };
    assert_eq!(results.len(), 1);
    assert_eq!(
        all_skipped(&results[0]),
        !ctx.set.on_v2(Controller::Memory),
        "memory-high runs exactly where memory is on v2"
    );
    // Where it runs, the throttling shows as memory pressure (or the check
    // says PSI is missing).
    let psi = results[0]
        .checks
        .iter()
        .find(|c| c.name == high::PSI_MEMORY_STALL);
    assert!(
        psi.is_some() || all_skipped(&results[0]),
        "{:?}",
        results[0].checks
    );
    common::assert_clean(&ctx.set);
}

#[test]
fn memory_protection_quick() {
    let Some((ctx, results, _root)) = quick::<MemoryProtection>("memory_protection_quick") else {
        return;
    };
    let on_v2 = ctx.set.on_v2(Controller::Memory);
    let modes: Vec<&str> = results
        .iter()
        .filter_map(|r| r.params[prot::MODE].as_str())
        .collect();
    if on_v2 {
        assert_eq!(modes, [prot::MODE_MIN, prot::MODE_LOW]);
        for r in &results {
            assert!(
                r.checks.iter().all(|c| c.status == Status::Pass),
                "{:?}",
                r.checks
            );
        }
    } else {
        // v1: the soft-limit row, information only (a skip with numbers).
        assert_eq!(modes, [prot::MODE_SOFT_LIMIT]);
        let c = &results[0].checks[0];
        assert_eq!(
            (c.name.as_str(), c.status),
            (prot::SOFT_LIMIT_INFO, Status::Skip)
        );
        assert!(c.observed.contains("MiB"), "{c:?}");
        assert_eq!(results[0].series[prot::SERIES_CURRENT].len(), 4);
    }
    common::assert_clean(&ctx.set);
}

#[test]
fn memory_virtual_counts_resident_pages() {
    let Some((ctx, results, _root)) = quick::<MemoryVirtual>("memory_virtual_quick") else {
        return;
    };
    for c in [virt::MAPPED_SURVIVES, virt::TOUCHED_KILLED] {
        let s = results[0]
            .checks
            .iter()
            .find(|x| x.name == c)
            .map(|x| x.status);
        assert_eq!(s, Some(Status::Pass), "{:?}", results[0].checks);
    }
    common::assert_clean(&ctx.set);
}

#[test]
fn pagecache_quick() {
    let Some((ctx, results, _root)) = quick::<Pagecache>("pagecache_quick") else {
        return;
    };
    assert_eq!(results.len(), 1);
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
    let t: toml::Table = toml::from_str("dir = \"/dev/shm\"").unwrap();
    let cfg = Pagecache::parse(Level::Quick, Some(&t)).unwrap();
    let e = Pagecache::results(&cfg, &ctx).unwrap_err().to_string();
    assert!(e.contains("tmpfs"), "{e}");
    common::assert_clean(&ctx.set);
}
