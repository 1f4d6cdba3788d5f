//! memory-oom's checks on recorded runs, its skip rows and its config.

use crate::scenarios::Level;
use isobench_reports::names::memory_oom as n;
use isobench_reports::{ScenarioResult, Status};

use super::checks::variant_result;
use super::rep::{Bystander, Hang, Rep};
use super::*;
use crate::scenarios::memory::testing::{plot_ids, rejects, status};
use crate::cgroup::{MemoryEvents, MemoryStats};
use crate::sandbox::Exit;

const LIMIT: u64 = 64 * MIB;

fn killed_rep() -> Rep {
    Rep {
        exit: Exit::Signaled(9),
        completed: false,
        stats: MemoryStats {
            current: Some(0),
            peak: Some(LIMIT),
            failcnt: Some(40),
            events: MemoryEvents {
                max: Some(40),
                oom: Some(1),
                oom_kill: Some(1),
                ..Default::default()
            },
            ..Default::default()
        },
        max_sampled: LIMIT - MIB,
        hog_bytes: LIMIT - 2 * MIB,
        time_to_kill: Some(0.004),
        empty_after: Some(0.0001),
        hang: None,
        bystander: Some(Bystander {
            alive: true,
            oom_kill: Some(0),
            usage: Some(9 * MIB),
        }),
        series: vec![[0.0, 1.0], [0.05, 64.0]],
    }
}

fn single(reps: &[Rep]) -> ScenarioResult {
    variant_result(
        &MemoryOom::level(Level::Quick),
        Variant::Single,
        reps,
        "native",
    )
}

#[test]
fn a_clean_oom_passes_every_check() {
    let r = single(&[killed_rep(), killed_rep()]);
    for c in &r.checks {
        assert_eq!(c.status, Status::Pass, "{c:?}");
        assert!(!c.expected.is_empty() && !c.observed.is_empty());
    }
    assert_eq!(r.metrics[0].name, n::TIME_TO_KILL);
    assert_eq!(r.metrics[0].samples, vec![0.004, 0.004]);
}

#[test]
fn a_hog_that_was_not_killed_fails() {
    let mut rep = killed_rep();
    rep.exit = Exit::Code(0);
    rep.completed = true;
    rep.stats.events.oom_kill = Some(0);
    rep.time_to_kill = None;
    let r = single(&[rep]);
    assert_eq!(status(&r, n::KILLED_BY_SIGKILL), Status::Fail);
    assert_eq!(status(&r, n::OOM_KILL_COUNTED_ONCE), Status::Fail);
    let c = r
        .checks
        .iter()
        .find(|c| c.name == n::KILLED_BY_SIGKILL)
        .unwrap();
    assert!(c.detail.contains("not enforced"), "{c:?}");
}

#[test]
fn wrappers_report_sigkill_as_137_or_hide_it() {
    // runc / bwrap: 128 + 9.
    let mut rep = killed_rep();
    rep.exit = Exit::Code(137);
    assert_eq!(
        status(&single(&[rep.clone()]), n::KILLED_BY_SIGKILL),
        Status::Pass
    );
    // unshare 2.38 exits 1 when its child is SIGKILLed; the kernel still
    // counted the OOM kill: a warning about the launcher.
    rep.exit = Exit::Code(1);
    let r = single(&[rep.clone()]);
    assert_eq!(status(&r, n::KILLED_BY_SIGKILL), Status::Warn);
    assert!(
        r.checks[0].detail.contains("cannot tell"),
        "{:?}",
        r.checks[0]
    );
    // Exit 1 without an OOM kill is a failure.
    rep.stats.events.oom_kill = Some(0);
    assert_eq!(status(&single(&[rep]), n::KILLED_BY_SIGKILL), Status::Fail);
}

#[test]
fn a_peak_above_limit_plus_slack_fails() {
    let mut rep = killed_rep();
    // 2% of 64 MiB is 1.28 MiB of slack: 1 MiB over passes, 2 MiB fails.
    rep.stats.peak = Some(LIMIT + MIB);
    assert_eq!(
        status(&single(&[rep.clone()]), n::PEAK_WITHIN_LIMIT),
        Status::Pass
    );
    rep.stats.peak = Some(LIMIT + 2 * MIB);
    let r = single(&[rep.clone()]);
    assert_eq!(status(&r, n::PEAK_WITHIN_LIMIT), Status::Fail);
    // A kernel without a peak counter falls back to the samples.
    rep.stats.peak = None;
    rep.max_sampled = LIMIT + 3 * MIB;
    let r = single(&[rep]);
    assert_eq!(status(&r, n::PEAK_WITHIN_LIMIT), Status::Fail);
    assert!(r.checks.iter().any(|c| c.detail.contains("sampled")));
}

#[test]
fn an_oom_kill_counted_twice_fails_and_a_missing_counter_skips() {
    let mut rep = killed_rep();
    rep.stats.events.oom_kill = Some(2);
    assert_eq!(
        status(&single(&[rep.clone()]), n::OOM_KILL_COUNTED_ONCE),
        Status::Fail
    );
    rep.stats.events.oom_kill = None;
    assert_eq!(
        status(&single(&[rep]), n::OOM_KILL_COUNTED_ONCE),
        Status::Skip
    );
}

#[test]
fn slow_or_unresolved_kills_are_flagged() {
    let mut rep = killed_rep();
    rep.time_to_kill = Some(7.0);
    assert_eq!(
        status(&single(&[rep.clone()]), n::TIME_TO_KILL),
        Status::Fail
    );
    rep.time_to_kill = None;
    assert_eq!(status(&single(&[rep]), n::TIME_TO_KILL), Status::Warn);
}

#[test]
fn a_dead_bystander_fails() {
    let mut rep = killed_rep();
    rep.bystander = Some(Bystander {
        alive: false,
        oom_kill: Some(1),
        usage: Some(0),
    });
    assert_eq!(
        status(&single(&[killed_rep(), rep]), n::BYSTANDER_SURVIVES),
        Status::Fail
    );
}

fn group_rep(group_kills: Option<u64>, kills: u64) -> Rep {
    let mut r = killed_rep();
    r.bystander = None;
    r.stats.events.oom_group_kill = group_kills;
    r.stats.events.oom_kill = Some(kills);
    r
}

#[test]
fn oom_group_needs_one_group_kill_covering_every_process() {
    let cfg = MemoryOom::level(Level::Quick);
    let g = |reps: &[Rep]| variant_result(&cfg, Variant::OomGroup, reps, "native");
    for (group_kills, kills, want, why) in [
        // v2 6.x: memory.events oom_group_kill 1, oom_kill 4 (or 5: the
        // victim may be counted again by the group scan).
        (Some(1), 4, Status::Pass, "a group kill"),
        (Some(1), 5, Status::Pass, "the victim counted twice"),
        // Seen under TCG: a member already exiting at the group scan is
        // skipped by the kernel, not counted.
        (Some(1), 3, Status::Pass, "an exiting member not counted"),
        (Some(1), 0, Status::Fail, "a group kill counter without any kill"),
        (Some(0), 1, Status::Fail, "without oom.group only the largest dies"),
        (None, 4, Status::Pass, "no group counter: oom_kill decides"),
    ] {
        let r = g(&[group_rep(group_kills, kills)]);
        assert_eq!(status(&r, n::GROUP_KILLED), want, "{why}");
    }
    let mut straggler = group_rep(Some(1), 4);
    straggler.empty_after = None;
    assert_eq!(status(&g(&[straggler]), n::ALL_DIED_TOGETHER), Status::Fail);
}

fn hang_rep(seen: Option<f64>, stalled: bool, oom_kill: u64, left: usize) -> Rep {
    let mut r = killed_rep();
    r.bystander = None;
    r.time_to_kill = None;
    r.stats.events.oom_kill = Some(oom_kill);
    r.stats.under_oom = Some(true);
    r.hang = Some(Hang {
        seen_after: seen,
        stalled,
        kill_seconds: 0.003,
        left_after_kill: left,
    });
    r
}

#[test]
fn oom_kill_disable_hang_is_reported_and_must_be_cleaned_up() {
    let cfg = MemoryOom::level(Level::Quick);
    let h = |reps: &[Rep]| variant_result(&cfg, Variant::OomKillDisable, reps, "native");
    let ok = h(&[hang_rep(Some(0.001), true, 0, 0)]);
    assert_eq!(status(&ok, n::HANG_DETECTED), Status::Pass);
    assert_eq!(status(&ok, n::HUNG_SANDBOX_KILLED), Status::Pass);
    assert_eq!(ok.metrics[0].name, n::TIME_TO_HANG);
    // The kernel OOM-killed despite oom_kill_disable.
    let r = h(&[hang_rep(Some(0.001), true, 1, 0)]);
    assert_eq!(status(&r, n::HANG_DETECTED), Status::Fail);
    // No under_oom ever.
    let r = h(&[hang_rep(None, false, 0, 0)]);
    assert_eq!(status(&r, n::HANG_DETECTED), Status::Fail);
    // A hung sandbox that survives the kill.
    let r = h(&[hang_rep(Some(0.001), true, 0, 1)]);
    assert_eq!(status(&r, n::HUNG_SANDBOX_KILLED), Status::Fail);
}

#[test]
fn skipped_variant_says_why() {
    let r = skip(
        &MemoryOom::level(Level::Quick),
        Variant::OomGroup,
        "memory.oom.group is not available on cgroup v1".into(),
    )
    .into_result(MemoryOom::NAME, "native");
    assert_eq!(r.checks[0].status, Status::Skip);
    assert!(r.checks[0].detail.contains("cgroup v1"));
    assert_eq!(r.params["variant"], "oom-group");
}

#[test]
fn config_rejects_impossible_values() {
    rejects::<MemoryOom>(&[
        ("limit-mib", |c| c.limit_mib = 2),
        ("overshoot", |c| c.overshoot = 1.0),
        ("step-kib", |c| c.step_kib = 64 * 1024),
        ("variants", |c| c.variants.clear()),
    ]);
}

#[test]
fn suite_table_overrides_and_rejects_unknown_variants() {
    let t: toml::Table = toml::from_str("variants = [\"single\"]\nlimit-mib = 32").unwrap();
    let c = MemoryOom::parse(Level::Quick, Some(&t)).unwrap();
    assert_eq!(c.variants, vec![Variant::Single]);
    assert_eq!(c.limit_mib, 32);
    let t: toml::Table = toml::from_str("variants = [\"bogus\"]").unwrap();
    let e = MemoryOom::parse(Level::Quick, Some(&t))
        .unwrap_err()
        .to_string();
    assert!(e.contains("variants"), "{e}");
}

#[test]
fn the_plot_draws_what_the_result_records() {
    let cfg = MemoryOom::level(Level::Quick);
    let group = variant_result(&cfg, Variant::OomGroup, &[group_rep(Some(1), 4)], "native");
    let ids = plot_ids(vec![single(&[killed_rep()]), group]);
    for want in ["memory-oom-timeline-single", "memory-oom-timeline-oom-group"] {
        assert!(ids.iter().any(|i| i == want), "{want} not in {ids:?}");
    }
}
