//! Peer launchers through the CLI (needs root; runc, crun, bwrap from the
//! Debian packages that .ci/run installs). A verifier that cannot catch a
//! broken runtime is worthless, so broken custom launchers must fail.

mod common;

use std::path::PathBuf;
use std::process::Output;

use common::isobench;

use isobench_reports::{RunResults, Status};

/// Runs a one-point cpu-quota (20% of a CPU) through `launcher`.
fn quota_run(launcher: &str) -> (Output, RunResults) {
    common::suite_results(
        "[suite]\nlevel = \"quick\"\n[cpu-quota]\nquotas-pct = [20]\nseconds = 2.0\nrepetitions = 1\n",
        &["--launcher", launcher],
    )
}

/// The path of `runtime` (Debian packages it under its own name) when the
/// test can run: as root, with the runtime installed; None skips the test.
fn root_and_runtime(test: &str, runtime: &str) -> Option<PathBuf> {
    if !common::root_or_skip(test) {
        return None;
    }
    common::tool(runtime, runtime, runtime)
}

fn check(r: &RunResults, name: &str) -> Status {
    r.scenarios
        .iter()
        .flat_map(|s| s.checks.iter())
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no check {name} in {:?}", r.scenarios))
        .status
}

fn assert_nothing_left(r: &RunResults) {
    let set = isobench::cgroup::CgroupSet::discover(None).unwrap();
    for base in set.base_dirs() {
        for e in std::fs::read_dir(&base).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            assert!(!n.contains(&r.run_id), "leaked {}", e.path().display());
        }
    }
    if let Ok(rd) = std::fs::read_dir("/run/isobench/bundles") {
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            assert!(!n.contains(&r.run_id), "leaked bundle {n}");
        }
    }
}

#[test]
fn runc_enforces_the_quota() {
    if root_and_runtime("launchers::runc_enforces_the_quota", "runc").is_none() {
        return;
    }
    let (out, r) = quota_run("runc");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_ne!(check(&r, "accuracy"), Status::Fail, "{text}");
    assert_eq!(check(&r, "confined"), Status::Pass, "{text}");
    assert!(r
        .scenarios
        .iter()
        .filter(|s| s.name != "harness")
        .all(|s| s.launcher == "runc"));
    assert!(r.environment.launchers.contains_key("runc"));
    assert_nothing_left(&r);
}

/// Escape attempts that get through bwrap and unshare as isobench runs
/// them as root today: both map root inside to root outside (`bwrap
/// --unshare-user --uid 0`, `unshare --map-root-user`) and keep its
/// capabilities, so mounting, remounting, writing /proc/sys and mounting a
/// cgroup work. Pinned: anything else getting through fails the test, and
/// so does one of these being refused (a fix must shrink the list).
const WRAPPER_KNOWN_ESCAPES: &[&str] = &[
    "escape.cgroup-write",
    "escape.mount-tmpfs",
    "escape.remount-root",
    "escape.sysctl-hostname",
    "escape.sysctl-drop-caches",
];

/// bwrap and unshare (the harness places them in the cgroup before they
/// exec): a one-point cpu-quota is enforced and accounted, and the escape
/// probe under the full namespace set is refused what a namespace refuses
/// (signal and ptrace of a host process, its abstract socket). One run for
/// both.
#[test]
fn bwrap_and_unshare_enforce_the_quota_and_contain_the_escape_probe() {
    let wrappers: Vec<&str> = [("bwrap", "bubblewrap"), ("unshare", "util-linux")]
        .into_iter()
        .filter(|(tool, package)| common::tool(tool, tool, package).is_some())
        .map(|(tool, _)| tool)
        .collect();
    if wrappers.is_empty() {
        return;
    }
    let mut args = Vec::new();
    for w in &wrappers {
        args.extend(["--launcher", w]);
    }
    let (out, out_path, _dir) = common::run_suite(
        "[suite]\nlevel = \"quick\"\nscenarios = [\"cpu-quota\", \"isolation\"]\n\
         [cpu-quota]\nquotas-pct = [20]\nseconds = 2.0\nrepetitions = 1\n\
         [isolation]\nsets = [\"pid,mnt,uts,ipc\"]\n",
        &args,
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let r = isobench_reports::read_results(&out_path)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    for w in &wrappers {
        let rows: Vec<_> = r.scenarios.iter().filter(|s| s.launcher == *w).collect();
        let status = |row: &isobench_reports::ScenarioResult, name: &str| {
            row.checks
                .iter()
                .find(|c| c.name == name)
                .unwrap_or_else(|| panic!("{w}: no check {name} in {:?}\n{text}", row.checks))
                .status
        };
        let quota = rows
            .iter()
            .find(|s| s.name == "cpu-quota")
            .unwrap_or_else(|| panic!("{w}: no cpu-quota row\n{text}"));
        assert!(quota.error.is_none(), "{w}: {:?}", quota.error);
        let acc = status(quota, "accuracy");
        // Warn only where the scenario's own arithmetic blames host load.
        assert!(
            matches!(acc, Status::Pass | Status::Warn),
            "{w} accuracy {acc:?}\n{text}"
        );
        assert_eq!(status(quota, "confined"), Status::Pass, "{w}\n{text}");
        assert_eq!(status(quota, "throttled"), Status::Pass, "{w}\n{text}");

        let escape = |baseline: bool| {
            rows.iter()
                .find(|s| {
                    s.params.get("probe").and_then(|p| p.as_str()) == Some("escape")
                        && s.params.get("baseline").and_then(|b| b.as_bool()) == Some(baseline)
                })
                .unwrap_or_else(|| panic!("{w}: no escape row (baseline {baseline})\n{text}"))
        };
        let contained = escape(false);
        assert!(contained.error.is_none(), "{w}: {:?}", contained.error);
        let mut escaped = Vec::new();
        for c in contained
            .checks
            .iter()
            .filter(|c| c.name.starts_with("escape."))
        {
            let known = WRAPPER_KNOWN_ESCAPES.contains(&c.name.as_str());
            if (c.status == Status::Fail) != known {
                escaped.push(format!("{} {:?}: {}", c.name, c.status, c.observed));
            }
        }
        assert!(
            escaped.is_empty(),
            "{w}: escape checks unlike the pinned state (known escapes {WRAPPER_KNOWN_ESCAPES:?}):\n{}",
            escaped.join("\n")
        );
        for must in ["escape.signal", "escape.ptrace", "escape.abstract-socket"] {
            assert_eq!(status(contained, must), Status::Pass, "{w}\n{text}");
        }
        // The baseline through the same launcher shows the probe can see an
        // escape at all.
        let baseline = escape(true);
        assert!(
            baseline.checks.iter().any(|c| c.status == Status::Pass),
            "{w}: {:?}",
            baseline.checks
        );
    }
    assert_nothing_left(&r);
}

#[test]
fn a_custom_launcher_that_drops_the_quota_is_caught() {
    if !common::root_or_skip("launchers::a_custom_launcher_that_drops_the_quota_is_caught") {
        return;
    }
    // Lifts the quota the harness set, then runs the workload.
    let template = "custom:for d in {cgroup}; do \
        if [ -f $d/cpu.cfs_quota_us ]; then echo -1 > $d/cpu.cfs_quota_us; fi; \
        if [ -f $d/cpu.max ]; then echo max > $d/cpu.max; fi; done; exec {workload}";
    let (out, r) = quota_run(template);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(check(&r, "accuracy"), Status::Fail, "{text}");
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_nothing_left(&r);
}

#[test]
fn a_custom_launcher_that_escapes_the_cgroup_is_caught() {
    if !common::root_or_skip("launchers::a_custom_launcher_that_escapes_the_cgroup_is_caught") {
        return;
    }
    // A second cgroup of the test's own: the broken launcher moves the
    // workload there, away from the limits and counters.
    let set = common::set("escape");
    let escape = set.create(0).unwrap();
    let procs: Vec<String> = escape
        .dirs()
        .iter()
        .map(|d| d.join("cgroup.procs").display().to_string())
        .collect();
    let template = format!(
        "custom:for f in {}; do echo $$ > $f; done; exec {{workload}}",
        procs.join(" ")
    );
    let (out, r) = quota_run(&template);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(check(&r, "confined"), Status::Fail, "{text}");
    assert_eq!(check(&r, "accuracy"), Status::Fail, "{text}");
    escape.destroy().unwrap();
    common::assert_clean(&set);
    assert_nothing_left(&r);
}

#[test]
fn crun_is_skipped_with_its_reason_in_hybrid_mode() {
    if root_and_runtime(
        "launchers::crun_is_skipped_with_its_reason_in_hybrid_mode",
        "crun",
    )
    .is_none()
    {
        return;
    }
    if isobench::cgroup::detect_mode().unwrap() != isobench::cgroup::Mode::Hybrid {
        // Not a named precondition: on other hosts crun runs, and the v2
        // guest covers it there.
        common::skipped("not a hybrid host");
        return;
    }
    let (out, out_path, _dir) =
        common::isobench_out(&["run", "--scenario", "cpu-quota", "--launcher", "crun"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("hybrid mode not supported"), "{err}");
    assert!(!out_path.exists());
}

#[test]
fn unknown_and_malformed_launchers_are_refused() {
    if !common::root_or_skip("launchers::unknown_and_malformed_launchers_are_refused") {
        return;
    }
    for (arg, needle) in [
        ("docker", "unknown launcher"),
        ("custom:", "template"),
        ("custom:run {bogus}", "unknown placeholder"),
    ] {
        // Refused by the `--launcher` value parser: clap's rendering, one
        // `error:`, exit 2.
        let out = isobench(&["run", "--launcher", arg]);
        common::assert_clap_error(&out, &["--launcher", needle]);
    }
}

/// `ISOBENCH_REQUIRE` turns a missing runtime into a failure, and without it
/// the skip is one line on stderr: this test binary runs its runc test
/// again with an empty PATH (no runc).
#[test]
fn a_required_runtime_that_is_missing_fails_the_test() {
    let empty = tempfile::tempdir().unwrap();
    let me = std::env::current_exe().unwrap();
    let run = |require: Option<&str>| {
        let mut c = std::process::Command::new(&me);
        c.args(["--exact", "runc_enforces_the_quota", "--test-threads=1"])
            .env("PATH", empty.path());
        match require {
            Some(r) => c.env("ISOBENCH_REQUIRE", r),
            None => c.env_remove("ISOBENCH_REQUIRE"),
        };
        let out = c.output().expect("run the launchers test binary");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };
    let (ok, text) = run(None);
    assert!(ok, "{text}");
    assert!(
        text.contains("skipped: runc_enforces_the_quota: runc is not installed"),
        "{text}"
    );
    assert!(text.contains("1 passed"), "the test ran: {text}");
    let (ok, text) = run(Some("crun, runc"));
    assert!(!ok, "{text}");
    assert!(text.contains("required precondition \"runc\""), "{text}");
    // Not required: skipped as before.
    let (ok, text) = run(Some("crun"));
    assert!(ok, "{text}");
    // A typo is not a requirement silently ignored.
    let (ok, text) = run(Some("runcc"));
    assert!(!ok && text.contains("known preconditions"), "{text}");
}

#[test]
fn an_oci_path_arm_runs_a_runtime_binary_by_path() {
    let test = "launchers::an_oci_path_arm_runs_a_runtime_binary_by_path";
    let Some(runc) = root_and_runtime(test, "runc") else {
        return;
    };
    let arm = format!("mine=oci:{}", runc.display());
    let (out, r) = quota_run(&arm);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_ne!(check(&r, "accuracy"), Status::Fail, "{text}");
    assert_eq!(check(&r, "confined"), Status::Pass, "{text}");
    let s = r.scenarios.iter().find(|s| s.name == "cpu-quota").unwrap();
    assert_eq!(s.launcher, "mine");
    assert_eq!(s.launcher_spec.as_deref(), Some(&arm["mine=".len()..]));
    assert_nothing_left(&r);
}
