//! The selftest's expectations and tolerances, and the result rows: one per
//! v2 mode (checks as test_memcg_min / test_memcg_low assert them), and the
//! v1 soft-limit information row.

use isobench_reports::names::memory_protection as n;
use isobench_reports::{Check, Metric, ScenarioResult, Status};
use serde_json::json;

use super::topology::{Child, Kind, Rep};
use super::{in_mib, GROUP_PROTECTION_MIB, OVER_MIB, PARENT_MAX_MIB, PRESSURE_MIB};
use super::{CACHE_MIB, PROTECTIONS_MIB};
use crate::cgroup::psi;
use crate::sandbox::Exit;
use crate::scenarios::memory::{self, MIB};
use crate::scenarios::result::{join, opt};
use crate::scenarios::Point;

/// The selftest's `values_close(a, b, err)`: |a − b| ≤ (a + b) / 100 × err,
/// in its integer arithmetic.
pub fn values_close(a: u64, b: u64, err: u64) -> bool {
    a.abs_diff(b) <= (a + b) / 100 * err
}

/// What the selftest expects of each child after the 148M: (MiB, err %)
/// for C and D, exactly 0 for F, nothing for E.
pub const CHILD_EXPECTED: [Option<(u64, u64)>; 4] = [Some((29, 15)), Some((21, 20)), None, Some((0, 0))];

/// B after the 170M: 50M under min (nothing reclaimed), 30M under low.
fn group_after_expected(kind: Kind) -> u64 {
    match kind {
        Kind::Min => 50,
        _ => 30,
    }
}

/// Child names in the selftest's order.
pub const CHILD_NAMES: [&str; 4] = ["c0", "c1", "c2", "c3"];

fn mib_of(v: Option<u64>) -> String {
    v.map_or("n/a".into(), |b| format!("{:.1} MiB", in_mib(b)))
}

/// A `values_close` check of `got` against `want_mib`.
fn close_check(name: &str, what: &str, got: Option<u64>, want_mib: u64, err: u64) -> Check {
    let want = want_mib * MIB;
    let ok = got.is_some_and(|g| values_close(g, want, err));
    let tol = got.map_or(0, |g| (g + want) / 100 * err);
    Check::new(
        name,
        Status::pass_if(ok),
        format!("{what} ≈ {want_mib} MiB (selftest values_close err {err}%)"),
        format!(
            "{}; difference {}, tolerance ±{}",
            mib_of(got),
            got.map_or("n/a".into(), |g| format!("{:.1} MiB", in_mib(g.abs_diff(want)))),
            memory::mib(tol)
        ),
        "",
    )
}

fn done(e: Exit) -> bool {
    e == Exit::Code(0)
}

/// The params every row of this scenario has.
fn params(rep: &Rep, recursive: Option<bool>) -> serde_json::Map<String, serde_json::Value> {
    let mut p = memory::params(json!({
        n::MODE: rep.kind.name(),
        "control_file": rep.kind.file(),
        "parent_max_mib": PARENT_MAX_MIB,
        "group_protection_mib": GROUP_PROTECTION_MIB,
        n::PROTECTIONS_MIB: PROTECTIONS_MIB,
        "cache_mib_per_child": CACHE_MIB,
        "pressure_mib": PRESSURE_MIB,
        "over_mib": OVER_MIB,
        "swap_limited": rep.swap_limited,
        "memory_recursiveprot": recursive,
    }));
    if let Some((_, _, _, what)) = &rep.psi {
        p.insert("psi_source".into(), json!(what));
    }
    p
}

/// Metrics and series every row has: each child's current, B's, A's PSI.
fn point(rep: &Rep, launcher: &str, recursive: Option<bool>, targets: bool) -> Point {
    let mut p = Point::for_launcher(n::SCENARIO, launcher).params(params(rep, recursive));
    let mut measured = Vec::new();
    let mut expected = Vec::new();
    for (i, c) in rep.children.iter().enumerate() {
        let Some(cur) = c.current else { continue };
        let v = in_mib(cur);
        measured.push([i as f64, v]);
        let name = format!("{}{}", n::CURRENT_PREFIX, CHILD_NAMES[i]);
        match (targets, CHILD_EXPECTED[i]) {
            (true, Some((want, _))) => {
                expected.push([i as f64, want as f64]);
                p = p.metric(Metric::with_target(&name, "MiB", want as f64, vec![v]));
            }
            (true, None) => {
                p = p.metric(Metric::new(&name, "MiB", isobench_reports::Better::Lower, vec![v]))
            }
            (false, _) => {}
        }
    }
    if targets {
        if let Some(g) = rep.group {
            p = p.metric(Metric::with_target(n::GROUP_CURRENT, "MiB", 50.0, vec![in_mib(g)]));
        }
        if let Some(g) = rep.group_after {
            let want = group_after_expected(rep.kind) as f64;
            p = p.metric(Metric::with_target(n::GROUP_CURRENT_AFTER, "MiB", want, vec![in_mib(g)]));
        }
        if let Some((b, a, secs, _)) = &rep.psi {
            p = p.metrics(psi::metrics(psi::Resource::Memory, b, a, *secs));
        }
    }
    p.series(n::SERIES_CURRENT, measured)
        .series(n::SERIES_EXPECTED, expected)
}

/// Events as `c0 low 3 oom 0, …`.
fn events(children: &[Child]) -> String {
    join(
        &children.iter().zip(CHILD_NAMES).collect::<Vec<_>>(),
        |(c, name)| format!("{name} low {} oom {}", opt(c.low), opt(c.oom)),
    )
}

/// What the children held when the pressure started.
fn before_pressure(rep: &Rep) -> String {
    format!(
        "before the pressure: cache written {}; B {}",
        join(&rep.filled, |f| mib_of(*f)),
        mib_of(rep.settled)
    )
}

/// The v2 row of one mode: the selftest's assertions as checks.
pub fn result(rep: &Rep, launcher: &str, recursive: Option<bool>) -> ScenarioResult {
    let get = |i: usize| rep.children.get(i).copied().unwrap_or_default();
    let mut checks = vec![
        Check::new(
            n::PRESSURE_ALLOC,
            Status::pass_if(done(rep.pressure_exit)),
            format!("the sibling's {PRESSURE_MIB} MiB allocation completes (exit 0)"),
            rep.pressure_exit.to_string(),
            "",
        ),
        close_check(n::GROUP_PROTECTED, "protected group B", rep.group, 50, 3),
    ];
    checks[1].detail = before_pressure(rep);
    for (i, exp) in CHILD_EXPECTED.iter().enumerate() {
        let label = format!(
            "child {} ({} {} MiB)",
            CHILD_NAMES[i],
            rep.kind.file(),
            PROTECTIONS_MIB[i]
        );
        match exp {
            Some((0, _)) => checks.push(Check::new(
                n::UNPROTECTED_EMPTY,
                Status::pass_if(get(i).current == Some(0)),
                format!("{label}, holding nothing, has memory.current = 0"),
                opt(get(i).current),
                "its protection exceeds what it uses: nothing to protect, nothing charged",
            )),
            Some((want, err)) => checks.push(close_check(
                &format!("{}{}", n::CHILD_CLOSE_PREFIX, CHILD_NAMES[i]),
                &label,
                get(i).current,
                *want,
                *err,
            )),
            None => {}
        }
    }
    let over_ok = match rep.kind {
        Kind::Min => !done(rep.over_exit),
        _ => done(rep.over_exit),
    };
    checks.push(Check::new(
        n::OVER_ALLOC,
        Status::pass_if(over_ok),
        match rep.kind {
            Kind::Min => format!("the sibling's {OVER_MIB} MiB allocation fails: memory.min keeps B's cache"),
            _ => format!("the sibling's {OVER_MIB} MiB allocation succeeds: memory.low yields when nothing else is left"),
        },
        rep.over_exit.to_string(),
        "",
    ));
    checks.push(close_check(
        n::GROUP_AFTER,
        &format!("B after the {OVER_MIB} MiB"),
        rep.group_after,
        group_after_expected(rep.kind),
        3,
    ));
    if rep.kind == Kind::Low {
        checks.extend(low_event_checks(&rep.children, recursive));
    }
    point(rep, launcher, recursive, true).checks(checks).build()
}

/// test_memcg_low's event checks: no child counts an oom; the protected
/// C and D count low events, F none, and E none unless
/// memory_recursiveprot hands it part of B's protection.
fn low_event_checks(children: &[Child], recursive: Option<bool>) -> Vec<Check> {
    let oom_free = children.iter().all(|c| c.oom == Some(0));
    let low_ok = children.iter().enumerate().all(|(i, c)| match i {
        0 | 1 => c.low.unwrap_or(0) > 0,
        2 if recursive == Some(true) => true,
        _ => c.low == Some(0),
    });
    vec![
        Check::new(
            n::NO_OOM_EVENTS,
            Status::pass_if(oom_free),
            "memory.events oom = 0 in every child",
            events(children),
            "",
        ),
        Check::new(
            n::LOW_EVENTS,
            Status::pass_if(low_ok),
            format!(
                "memory.events low > 0 in c0, c1; = 0 in c3{}",
                match recursive {
                    Some(true) => " (c2 ignored: memory_recursiveprot is on)",
                    _ => " and c2",
                }
            ),
            events(children),
            "",
        ),
    ]
}

/// The v1 row: soft limits under the same pressure, as information (a skip
/// row, so it is never gated and never fails).
pub fn soft_limit_result(rep: &Rep, launcher: &str, recursive: Option<bool>) -> ScenarioResult {
    let currents = join(
        &rep.children.iter().zip(CHILD_NAMES).zip(PROTECTIONS_MIB).collect::<Vec<_>>(),
        |((c, name), p)| format!("{name} (soft {p} MiB) {}", mib_of(c.current)),
    );
    let check = Check::new(
        n::SOFT_LIMIT_INFO,
        Status::Skip,
        "information only: cgroup v1 has no memory.min/low; memory.soft_limit_in_bytes is reported, not checked",
        format!(
            "after the sibling's {PRESSURE_MIB} MiB: {currents}; B {}; {OVER_MIB} MiB allocation: {}; B after {}",
            mib_of(rep.group),
            rep.over_exit,
            mib_of(rep.group_after),
        ),
        format!(
            "v1 soft limits act only in global (machine-wide) reclaim, never when a parent's limit is hit, so a parent's limit reclaims every child alike; {}",
            before_pressure(rep)
        ),
    );
    point(rep, launcher, recursive, false).check(check).build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::memory::testing::{plot_ids, status};

    fn child(mib: u64, low: u64) -> Child {
        Child {
            current: Some(mib * MIB),
            low: Some(low),
            oom: Some(0),
        }
    }

    /// What a kernel that honours protection reports.
    fn rep(kind: Kind) -> Rep {
        Rep {
            kind,
            filled: vec![Some(50 * MIB); 3],
            settled: Some(150 * MIB),
            pressure_exit: Exit::Code(0),
            group: Some(50 * MIB),
            children: vec![child(29, 4), child(21, 2), child(0, 0), Child {
                current: Some(0),
                low: Some(0),
                oom: Some(0),
            }],
            over_exit: match kind {
                Kind::Min => Exit::Signaled(9),
                _ => Exit::Code(0),
            },
            group_after: Some(match kind {
                Kind::Min => 50 * MIB,
                _ => 30 * MIB,
            }),
            swap_limited: true,
            psi: None,
        }
    }

    #[test]
    fn values_close_is_the_selftests() {
        assert!(values_close(29 * MIB, 29 * MIB, 15));
        // 29 vs 25 MiB: |4| <= 54/100*15 = 8.1
        assert!(values_close(25 * MIB, 29 * MIB, 15));
        assert!(!values_close(10 * MIB, 29 * MIB, 15));
        assert!(values_close(0, 0, 0) && !values_close(1, 0, 0));
    }

    #[test]
    fn honoured_protection_passes_both_modes() {
        for kind in [Kind::Min, Kind::Low] {
            let r = result(&rep(kind), "native", Some(false));
            for c in &r.checks {
                assert_eq!(c.status, Status::Pass, "{kind:?} {c:?}");
            }
            let c0 = r.metrics.iter().find(|m| m.name == "current_mib.c0").unwrap();
            assert_eq!(c0.target, Some(29.0));
        }
        assert_eq!(result(&rep(Kind::Min), "native", None).checks.len(), 7);
        assert_eq!(result(&rep(Kind::Low), "native", None).checks.len(), 9);
    }

    #[test]
    fn ignored_protection_fails() {
        // No protection at all: the cache is reclaimed evenly, the 170M
        // allocation succeeds even under min.
        let mut r = rep(Kind::Min);
        r.children = vec![child(1, 0), child(1, 0), child(1, 0), child(0, 0)];
        r.group = Some(3 * MIB);
        r.over_exit = Exit::Code(0);
        r.group_after = Some(MIB);
        let res = result(&r, "native", None);
        assert_eq!(status(&res, n::GROUP_PROTECTED), Status::Fail);
        assert_eq!(status(&res, "child_current_close.c0"), Status::Fail);
        assert_eq!(status(&res, n::OVER_ALLOC), Status::Fail);
        assert_eq!(status(&res, n::GROUP_AFTER), Status::Fail);
        // low blocking the allocation, and low events missing.
        let mut r = rep(Kind::Low);
        r.over_exit = Exit::Signaled(9);
        r.children[0].low = Some(0);
        let res = result(&r, "native", Some(false));
        assert_eq!(status(&res, n::OVER_ALLOC), Status::Fail);
        assert_eq!(status(&res, n::LOW_EVENTS), Status::Fail);
        // A low event in c2 counts only without memory_recursiveprot.
        let mut r = rep(Kind::Low);
        r.children[2].low = Some(3);
        assert_eq!(status(&result(&r, "n", Some(false)), n::LOW_EVENTS), Status::Fail);
        assert_eq!(status(&result(&r, "n", Some(true)), n::LOW_EVENTS), Status::Pass);
    }

    #[test]
    fn soft_limit_row_is_information() {
        let mut r = rep(Kind::SoftLimit);
        r.children = vec![child(10, 0), child(10, 0), child(10, 0), child(0, 0)];
        let res = soft_limit_result(&r, "native", None);
        assert_eq!(res.checks.len(), 1);
        assert_eq!(res.checks[0].status, Status::Skip);
        assert!(res.checks[0].observed.contains("c0 (soft 75 MiB) 10.0 MiB"), "{:?}", res.checks[0]);
        assert!(res.metrics.is_empty(), "information is not gated");
        assert_eq!(res.series[n::SERIES_CURRENT].len(), 4);
    }

    #[test]
    fn the_plot_draws_both_modes() {
        let ids = plot_ids(vec![
            result(&rep(Kind::Min), "native", None),
            result(&rep(Kind::Low), "native", None),
        ]);
        let ours: Vec<_> = ids.iter().filter(|i| i.starts_with(n::SCENARIO)).collect();
        assert_eq!(ours.len(), 2, "{ids:?}");
    }
}
