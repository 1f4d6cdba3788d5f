//! The escape attempts' verdicts and rows.

use crate::scenarios::Level;
use isobench_reports::names::isolation as n;

use super::*;
use crate::sandbox::Rootfs;

fn escape_status(c: &[Check], attempt: &str) -> Status {
    status(c, &n::escape(attempt))
}

#[test]
fn refused_escapes_pass_and_one_that_gets_through_fails() {
    let c = escape_checks(&escape_isolated(), false, 0);
    assert_eq!(c.len(), ESCAPE_ATTEMPTS.len());
    assert!(c.iter().all(|c| c.status == Status::Pass), "{c:#?}");
    let m = check(&c, &n::escape("mount-tmpfs"));
    assert_eq!(m.expected, "mounting a tmpfs refused");
    assert_eq!(m.observed, "refused: EPERM (1)");
    // A sandbox that keeps CAP_SYS_ADMIN in its user namespace.
    let mut e = escape_isolated();
    e[4].blocked = Some(false);
    e[4].errno = 0;
    let m = got_through(&e, "mount-tmpfs", "got through");
    assert!(m.detail.starts_with("the sandbox let it through"), "{m:?}");
    // A module check that passed the permission test: EINVAL after it.
    e[6].blocked = Some(false);
    e[6].errno = 22;
    got_through(&e, "init-module", "got through (later error EINVAL (22))");
}

/// Under the full set, `attempt` fails as seen getting through.
fn got_through(e: &[Escape], attempt: &str, observed: &str) -> Check {
    let c = escape_checks(e, false, 0);
    let m = check(&c, &n::escape(attempt)).clone();
    assert_eq!(m.status, Status::Fail);
    assert_eq!(m.observed, observed);
    m
}

#[test]
fn the_harness_socket_has_the_last_word() {
    // The probe says refused, but the harness accepted its connection.
    let c = escape_checks(&escape_isolated(), false, 1);
    assert_eq!(escape_status(&c, "abstract-socket"), Status::Fail);
}

#[test]
fn missing_or_untried_attempts() {
    let mut e = escape_isolated();
    e.retain(|a| a.attempt != "ptrace");
    e[0].blocked = None;
    let c = escape_checks(&e, false, 0);
    assert_eq!(escape_status(&c, "ptrace"), Status::Fail);
    assert_eq!(escape_status(&c, "signal"), Status::Skip);
    let c = escape_checks(&e, true, 0);
    assert_eq!(escape_status(&c, "ptrace"), Status::Skip);
}

#[test]
fn the_baseline_passes_what_gets_through_and_skips_the_rest() {
    let mut e = escape_isolated();
    for a in e.iter_mut().filter(|a| !a.attempt.contains("module")) {
        a.blocked = Some(false);
        a.errno = 0;
    }
    let c = escape_checks(&e, true, 1);
    for (name, _) in ESCAPE_ATTEMPTS {
        let want = if name.contains("module") {
            Status::Skip
        } else {
            Status::Pass
        };
        assert_eq!(escape_status(&c, name), want, "{name}: {c:#?}");
    }
    let m = check(&c, &n::escape("init-module"));
    assert!(
        m.detail.starts_with("refused even without namespaces"),
        "{m:?}"
    );
    let s = check(&c, &n::escape("abstract-socket"));
    assert!(s.observed.contains("accepted 1"), "{s:?}");
}

#[test]
fn escape_rows_name_their_probe_and_errors() {
    let cfg = Isolation::level(Level::Quick);
    let spec = escape_spec(&cfg, Namespaces::all(), 42, "x");
    assert_eq!(
        spec.args,
        ["escape", "--host-pid", "42", "--abstract-socket", "x"]
    );
    assert_eq!(spec.rootfs, Rootfs::Minimal);
    assert!(spec.validate().is_ok());
    let r = escape_result(&spec, &[], Err(ScenarioError::failed("clone3: EPERM")), "native");
    assert_eq!(r.params["probe"], "escape");
    assert_eq!(r.params["baseline"], false);
    assert_eq!(
        r.error.as_deref(),
        Some("escape probe with namespaces [pid,mnt,net,uts,ipc,user,cgroup,time]: clone3: EPERM")
    );
    let ok = Escaped {
        attempts: escape_isolated(),
        accepted: 0,
    };
    let r = escape_result(&spec, &[], Ok(ok), "native");
    assert_eq!(r.metrics[0].name, n::ESCAPES);
    assert_eq!(r.metrics[0].samples, [0.0]);
    assert_eq!(r.checks.len(), ESCAPE_ATTEMPTS.len());
    // The baseline's row has the checks but counts no escapes.
    let spec = escape_spec(&cfg, Namespaces::default(), 42, "x");
    let ok = Escaped {
        attempts: escape_isolated(),
        accepted: 0,
    };
    let r = escape_result(&spec, &[], Ok(ok), "native");
    assert_eq!(r.params["baseline"], true);
    assert_eq!(r.checks.len(), ESCAPE_ATTEMPTS.len());
    assert!(r.metrics.is_empty() && r.error.is_none(), "{r:#?}");
}

