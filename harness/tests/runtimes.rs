//! The named runtimes through the CLI, one small cpu-quota point each (a
//! few seconds per runtime): youki (`cargo install youki`, .ci/run),
//! podman and systemd-nspawn (Debian packages). Each run must leave
//! nothing: no container, image, bundle, store or cgroup. Needs root.

mod common;

use std::path::Path;
use std::process::Output;

use isobench_reports::{RunResults, ScenarioResult, Status};

/// A one-point cpu-quota suite: 20% of a CPU, 2 s.
const QUOTA_SUITE: &str =
    "[suite]\nlevel = \"quick\"\n[cpu-quota]\nquotas-pct = [20]\nseconds = 2.0\nrepetitions = 1\n";

/// The one-point cpu-quota through `launcher`.
fn quota_run(launcher: &str) -> (Output, RunResults) {
    common::suite_results(QUOTA_SUITE, &["--launcher", launcher])
}

fn quota_row(r: &RunResults) -> &ScenarioResult {
    r.scenarios
        .iter()
        .find(|s| s.name == "cpu-quota")
        .unwrap_or_else(|| panic!("no cpu-quota row in {:?}", r.scenarios))
}

fn status(s: &ScenarioResult, check: &str) -> Option<Status> {
    s.checks.iter().find(|c| c.name == check).map(|c| c.status)
}

/// Directories whose name holds `needle`, anywhere in `dir` down to
/// `depth` levels (cgroup trees: podman's parents sit below our own
/// cgroup, youki's may sit at a hierarchy's root).
fn find_named(dir: &Path, needle: &str, depth: u32, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if e.file_name().to_string_lossy().contains(needle) {
            out.push(e.path().display().to_string());
        } else if depth > 1 {
            find_named(&e.path(), needle, depth - 1, out);
        }
    }
}

/// Nothing of run `r` is left: no cgroup in any cgroup mount, no bundle,
/// no podman store or nspawn directory under /run/isobench.
fn assert_nothing_left(r: &RunResults) {
    let tail = r.run_id.rsplit('-').next().unwrap().to_string();
    let mut left = Vec::new();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    for m in isobench::cgroup::hierarchy::parse_mountinfo(&mounts) {
        find_named(&m.mount_point, &r.run_id, 5, &mut left);
    }
    find_named(Path::new("/run/isobench"), &tail, 2, &mut left);
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn youki_runs_or_is_refused_up_front_and_leaves_nothing() {
    if !common::root_or_skip("runtimes::youki_runs_or_is_refused_up_front_and_leaves_nothing") {
        return;
    }
    let missing = isobench::launchers::youki_path()
        .is_none()
        .then(|| "youki is not installed (cargo install youki --locked --features v1,v2)".into());
    if !common::precondition("youki", missing) {
        return;
    }
    // Beside native, so a run happens (and a results file is written)
    // whether or not youki may run here.
    let (out, r) = common::suite_results(
        QUOTA_SUITE,
        &["--launcher", "native", "--launcher", "youki"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let row = r
        .scenarios
        .iter()
        .find(|s| s.name == "cpu-quota" && s.launcher == "youki")
        .unwrap_or_else(|| panic!("no youki row: {text}"));
    match row.checks.iter().find(|c| c.name == "launcher") {
        // youki 0.7 resolves cgroupsPath from each hierarchy's root: where
        // our base cgroup is not one path in every hierarchy (this hybrid
        // host: memory nested, the rest at the root), it is refused up
        // front, and nothing of it may exist anywhere.
        Some(c) => {
            assert_eq!(c.status, Status::Skip, "{text}");
            assert!(
                c.detail
                    .contains("resolves cgroupsPath from each hierarchy's root"),
                "{c:?}"
            );
        }
        None => {
            assert_ne!(status(row, "accuracy"), Some(Status::Fail), "{text}");
            assert_eq!(status(row, "confined"), Some(Status::Pass), "{text}");
        }
    }
    assert_nothing_left(&r);
}

/// The cpu-quota point through podman: its counters are read in the
/// cgroup podman's runc made, after the exit (the store's `runc-keep`
/// wrapper defers runc's delete until the teardown).
#[test]
fn podman_counters_outlive_the_container_until_teardown() {
    let test = "runtimes::podman_counters_outlive_the_container_until_teardown";
    if common::root_or_skip(test) && common::tool("podman", "podman", "podman").is_some() {
        assert_quota_point_measured("podman", true);
    }
}

/// The cpu-quota point through `launcher` measured: accuracy not failed,
/// the workload confined, no error row (when `error_free`), nothing left.
fn assert_quota_point_measured(launcher: &str, error_free: bool) {
    let (out, r) = quota_run(launcher);
    let text = String::from_utf8_lossy(&out.stdout);
    let row = quota_row(&r);
    assert_eq!(row.launcher, launcher);
    if error_free {
        assert_eq!(row.error, None, "{text}");
    }
    assert_ne!(status(row, "accuracy"), Some(Status::Fail), "{text}");
    assert_eq!(status(row, "confined"), Some(Status::Pass), "{text}");
    assert_nothing_left(&r);
}

/// podman's own flags bound a fork bomb; everything lives in the run's
/// own store, which goes with the run.
#[test]
fn podman_bounds_a_fork_bomb_in_its_own_store_and_leaves_nothing() {
    let test = "runtimes::podman_bounds_a_fork_bomb_in_its_own_store_and_leaves_nothing";
    if !common::root_or_skip(test) {
        return;
    }
    if common::tool("podman", "podman", "podman").is_none() {
        return;
    }
    let (out, path, _dir) = common::isobench_out(&[
        "run",
        "--suite",
        "quick",
        "--scenario",
        "pids",
        "--launcher",
        "podman",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    let r = isobench_reports::read_results(&path)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let row = r.scenarios.iter().find(|s| s.name == "pids").unwrap();
    assert_eq!(row.launcher, "podman");
    assert_eq!(row.error, None, "{text}");
    // The counters came from the cgroup podman made for the container.
    for check in ["peak_within_max", "limit_hit_counted", "forks_refused"] {
        assert_eq!(status(row, check), Some(Status::Pass), "{check}: {text}");
    }
    assert_nothing_left(&r);
    // The host's podman store never saw the run.
    for args in [
        &["ps", "-a", "--format", "{{.Names}}"][..],
        &["images", "--format", "{{.Repository}}"][..],
    ] {
        let o = std::process::Command::new("podman")
            .args(args)
            .output()
            .unwrap();
        let list = String::from_utf8_lossy(&o.stdout);
        assert!(!list.contains(&r.run_id), "{list}");
    }
}

#[test]
fn nspawn_runs_or_is_skipped_with_its_own_reason_and_leaves_nothing() {
    let test = "runtimes::nspawn_runs_or_is_skipped_with_its_own_reason_and_leaves_nothing";
    if common::root_or_skip(test)
        && common::tool("nspawn", "systemd-nspawn", "systemd-container").is_some()
    {
        assert_quota_point_measured("nspawn", false);
    }
}

#[test]
fn malformed_named_runtimes_are_refused() {
    for arg in ["podmann", "nspawn:", "youki=", "=podman"] {
        let out = common::isobench(&["run", "--launcher", arg]);
        common::assert_clap_error(&out, &["--launcher"]);
    }
}
