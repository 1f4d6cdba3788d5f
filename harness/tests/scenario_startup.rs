//! startup end to end on this machine (needs root): every namespace set
//! launches, every phase is measured per launch, nothing is left behind.

mod common;

use isobench::sandbox::{workload, Namespaces};
use isobench::scenarios::startup::{self, Config};
use isobench::scenarios::{Ctx, Level};
use isobench_reports::Status;

fn ctx(test: &str, namespaces: Option<Namespaces>) -> (Ctx, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    let ctx = Ctx::new(
        common::set(test),
        workload::path().unwrap(),
        root.path().to_path_buf(),
        1,
        namespaces,
    );
    (ctx, root)
}

const PHASES: [&str; 8] = [
    "ready",
    "phase.cgroup",
    "phase.clone",
    "phase.place",
    "phase.setup",
    "phase.exec",
    "phase.teardown",
    "exec_to_ready",
];

#[test]
fn every_set_launches_and_every_phase_is_measured() {
    if !common::root_or_skip("scenario_startup::every_set_launches_and_every_phase_is_measured") {
        return;
    }
    let (ctx, _root) = ctx("startup", None);
    let t: toml::Table = toml::from_str("launches = 5\nwarmup = 1").unwrap();
    let cfg = Config::parse(Level::Quick, Some(&t)).unwrap();
    let r = startup::run(&cfg, &ctx).unwrap();
    let sets: Vec<&str> = r
        .iter()
        .map(|s| s.params["namespaces"].as_str().unwrap())
        .collect();
    assert_eq!(
        sets,
        [
            "none",
            "pid,mnt,uts,ipc",
            "pid,mnt,net,uts,ipc",
            "pid,mnt,uts,ipc,user",
            "pid,mnt,uts,ipc,cgroup",
            "pid,mnt,net,uts,ipc,user,cgroup,time"
        ]
    );
    for s in &r {
        assert_eq!(s.name, "startup");
        assert_eq!(s.launcher, "native");
        assert_eq!(s.params["launches"], 5);
        assert_eq!(s.params["warmup"], 1);
        assert!(s.error.is_none());
        assert_eq!(s.checks.len(), 1);
        assert_eq!(s.checks[0].status, Status::Pass, "{:?}", s.checks[0]);
        assert_eq!(s.checks[0].observed, "5 of 5 measured, 1 of 1 warm-up");
        for name in PHASES {
            let m = s
                .metrics
                .iter()
                .find(|m| m.name == name)
                .unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(m.unit, "s");
            assert_eq!(m.samples.len(), 5, "{name}");
            assert!(
                m.samples.iter().all(|x| x.is_finite() && *x >= 0.0),
                "{name}"
            );
        }
        // Phases are sub-intervals of the launch: their sum never exceeds ready.
        let sample = |n: &str, i: usize| s.metrics.iter().find(|m| m.name == n).unwrap().samples[i];
        for i in 0..5 {
            let sum: f64 = ["cgroup", "clone", "place", "setup", "exec"]
                .iter()
                .map(|p| sample(&format!("phase.{p}"), i))
                .sum();
            assert!(sum <= sample("ready", i) + 1e-9);
        }
    }
    common::assert_clean(&ctx.set);
}

#[test]
fn namespaces_flag_measures_only_that_set() {
    if !common::root_or_skip("scenario_startup::namespaces_flag_measures_only_that_set") {
        return;
    }
    let (ctx, _root) = ctx("startup1", Some(Namespaces::parse("pid,net").unwrap()));
    let t: toml::Table = toml::from_str("launches = 3\nwarmup = 0").unwrap();
    let cfg = Config::parse(Level::Quick, Some(&t)).unwrap();
    let r = startup::run(&cfg, &ctx).unwrap();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].params["namespaces"], "pid,net");
    assert_eq!(r[0].checks[0].status, Status::Pass);
    assert_eq!(r[0].metrics[0].samples.len(), 3);
    common::assert_clean(&ctx.set);
}
