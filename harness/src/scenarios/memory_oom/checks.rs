//! Turning the runs of a variant into its checks and metrics: SIGKILL, peak
//! vs limit, one counted OOM kill, time to kill and a surviving bystander
//! (single); a group kill that empties the cgroup (oom-group); a hang that
//! is detected and cleaned up (oom-kill-disable).

use isobench_reports::names::memory_oom as n;
use isobench_reports::{Better, Check, Metric, ScenarioResult, Status};

use crate::scenarios::memory::{limit_hits, mib};
use crate::scenarios::result::{join, opt};
use crate::scenarios::{Point, Scenario};

use super::config::{Config, Variant};
use super::rep::{Bystander, Hang, Rep, BYSTANDER_BYTES};
use super::watch::WATCH_INTERVAL;
use super::MemoryOom;

/// Seconds as `1.23 ms`.
fn ms(s: f64) -> String {
    format!("{:.2} ms", s * 1e3)
}

fn check_killed(reps: &[Rep], what: &str) -> Check {
    let killed = |r: &Rep| r.exit.is_sigkill();
    let completed = reps
        .iter()
        .any(|r| r.completed || r.exit == crate::sandbox::Exit::Code(0));
    // A wrapper may swallow the signal; the kernel's count still shows it.
    let masked = |r: &Rep| !killed(r) && !r.completed && r.stats.events.oom_kill.unwrap_or(0) > 0;
    let status = if reps.iter().all(killed) {
        Status::Pass
    } else if !completed && reps.iter().all(|r| killed(r) || masked(r)) {
        Status::Warn
    } else {
        Status::Fail
    };
    Check::new(
        n::KILLED_BY_SIGKILL,
        status,
        format!("{what} ends with SIGKILL (signal 9, or exit 137 through a wrapper) in every run"),
        join(reps, |r| r.exit.to_string()),
        match status {
            _ if completed => {
                "the hog completed its allocation: the memory limit was not enforced"
            }
            Status::Warn => {
                "the launcher did not pass the SIGKILL on although the kernel counted the OOM kill: its callers cannot tell an OOM kill from a failure"
            }
            _ => "",
        },
    )
}

fn check_peak(cfg: &Config, reps: &[Rep]) -> Check {
    let limit = cfg.limit();
    let slack = cfg.slack();
    let (peak, from_kernel) = reps
        .iter()
        .map(Rep::peak)
        .max_by_key(|p| p.0)
        .unwrap_or((0, true));
    Check::new(
        n::PEAK_WITHIN_LIMIT,
        Status::pass_if(peak <= limit + slack),
        format!(
            "peak ≤ limit {} + slack {} ({}%)",
            mib(limit),
            mib(slack),
            cfg.peak_slack_pct
        ),
        format!(
            "peak {} ({} bytes; {:+} bytes vs the limit); per run {}",
            mib(peak),
            peak,
            peak as i64 - limit as i64,
            join(reps, |r| mib(r.peak().0))
        ),
        if from_kernel {
            "peak from memory.peak (v2) / memory.max_usage_in_bytes (v1)"
        } else {
            "this kernel has no peak counter: largest sampled usage"
        },
    )
}

fn check_time_to_kill(cfg: &Config, reps: &[Rep]) -> Check {
    let t: Vec<Option<f64>> = reps.iter().map(|r| r.time_to_kill).collect();
    let resolved: Vec<f64> = t.iter().flatten().copied().collect();
    let worst = resolved.iter().copied().fold(0.0, f64::max);
    let status = if resolved.len() < t.len() {
        Status::Warn
    } else {
        Status::pass_if(worst <= cfg.kill_within_seconds)
    };
    Check::new(
        n::TIME_TO_KILL,
        status,
        format!(
            "limit first hit → hog dead within {} s",
            cfg.kill_within_seconds
        ),
        format!(
            "worst {}; per run {}",
            ms(worst),
            join(&t, |x| x.map_or("unresolved".into(), ms))
        ),
        format!(
            "limit hit = first sample with failcnt (v1) / memory.events max (v2) > 0, sampled every {} µs; death = pidfd readable",
            WATCH_INTERVAL.as_micros()
        ),
    )
}

fn check_oom_once(reps: &[Rep]) -> Check {
    let counts: Vec<Option<u64>> = reps.iter().map(|r| r.stats.events.oom_kill).collect();
    let hits = || join(reps, |r| opt(limit_hits(&r.stats)));
    if counts.iter().any(Option::is_none) {
        return Check::new(
            n::OOM_KILL_COUNTED_ONCE,
            Status::Skip,
            "oom_kill = 1 per run",
            format!("no oom_kill counter; failcnt / max events {}", hits()),
            "this kernel reports no oom_kill counter (v1 memory.oom_control needs 4.13+)",
        );
    }
    Check::new(
        n::OOM_KILL_COUNTED_ONCE,
        Status::pass_if(counts.iter().all(|c| *c == Some(1))),
        "oom_kill = 1 per run (v2 memory.events / v1 memory.oom_control)",
        format!("oom_kill {}", join(&counts, |c| opt(*c))),
        format!("limit hits (failcnt / max events) {}", hits()),
    )
}

fn check_bystander(reps: &[Rep]) -> Check {
    let b: Vec<Bystander> = reps.iter().filter_map(|r| r.bystander).collect();
    let ok = !b.is_empty()
        && b.len() == reps.len()
        && b.iter().all(|b| b.alive && b.oom_kill.unwrap_or(0) == 0);
    Check::new(
        n::BYSTANDER_SURVIVES,
        Status::pass_if(ok),
        format!(
            "a sandbox beside the hog (own {} hog, same limit) is alive after the OOM, oom_kill 0",
            mib(BYSTANDER_BYTES)
        ),
        join(&b, |b| {
            format!(
                "{}, oom_kill {}, usage {}",
                if b.alive { "alive" } else { "dead" },
                opt(b.oom_kill),
                b.usage.map_or("n/a".into(), mib)
            )
        }),
        "",
    )
}

fn check_group(cfg: &Config, reps: &[Rep]) -> [Check; 2] {
    let procs = u64::from(cfg.group_procs);
    let ok = reps.iter().all(|r| {
        let kills = r.stats.events.oom_kill.unwrap_or(0);
        match r.stats.events.oom_group_kill {
            // The kernel's own word for a group kill. Members whose memory
            // is already gone when the group is scanned ("OOM victim … is
            // already exiting. Skip") are not counted in oom_kill, so it
            // may fall short of the members; all_died_together checks
            // that every one is gone.
            Some(g) => g == 1 && kills >= 1,
            None => kills >= procs,
        }
    });
    let bound = cfg.kill_within_seconds;
    let empty_ok = reps.iter().all(|r| r.empty_after.is_some());
    [
        Check::new(
            n::GROUP_KILLED,
            Status::pass_if(ok),
            format!(
                "oom_group_kill = 1 per run (a group kill; without that counter, oom_kill ≥ {procs}: every process killed by the OOM killer)"
            ),
            format!(
                "oom_group_kill {}; oom_kill {}",
                join(reps, |r| opt(r.stats.events.oom_group_kill)),
                join(reps, |r| opt(r.stats.events.oom_kill))
            ),
            "oom_group_kill n/a = kernel without the counter: oom_kill alone decides",
        ),
        Check::new(
            n::ALL_DIED_TOGETHER,
            Status::pass_if(empty_ok),
            format!("cgroup empty within {bound} s of the leader's death"),
            join(reps, |r| {
                r.empty_after
                    .map_or(format!("not empty after {bound} s"), ms)
            }),
            "",
        ),
    ]
}

fn check_hang(cfg: &Config, reps: &[Rep]) -> [Check; 2] {
    let hangs: Vec<Hang> = reps.iter().filter_map(|r| r.hang).collect();
    let killed_by_oom = reps
        .iter()
        .any(|r| r.stats.events.oom_kill.unwrap_or(0) > 0);
    let ok = hangs.len() == reps.len()
        && !killed_by_oom
        && hangs.iter().all(|h| h.seen_after.is_some() && h.stalled);
    let detail = if killed_by_oom {
        "the OOM killer ran although oom_kill_disable=1".to_string()
    } else if hangs.iter().any(|h| h.seen_after.is_none()) {
        format!("under_oom never showed within {} s", cfg.hang_seconds)
    } else {
        "observed behaviour: with the OOM killer disabled the hog sleeps in the page-fault path until killed"
            .to_string()
    };
    let bound = cfg.kill_within_seconds;
    let killed_ok = hangs
        .iter()
        .all(|h| h.left_after_kill == 0 && h.kill_seconds <= bound)
        && reps.iter().all(|r| r.exit.is_sigkill());
    [
        Check::new(
            n::HANG_DETECTED,
            Status::pass_if(ok),
            format!(
                "under_oom = 1 within {} s, hog alive and stuck {} ms later, oom_kill 0",
                cfg.hang_seconds, cfg.stall_ms
            ),
            format!(
                "under_oom after {}; stuck {}; oom_kill {}; usage peak {}",
                join(&hangs, |h| h.seen_after.map_or("never".into(), ms)),
                join(&hangs, |h| h.stalled.to_string()),
                join(reps, |r| opt(r.stats.events.oom_kill)),
                join(reps, |r| mib(r.peak().0))
            ),
            detail,
        ),
        Check::new(
            n::HUNG_SANDBOX_KILLED,
            Status::pass_if(killed_ok),
            format!("SIGKILL empties the hung cgroup within {bound} s"),
            format!(
                "{}; left {}; exit {}",
                join(&hangs, |h| ms(h.kill_seconds)),
                join(&hangs, |h| h.left_after_kill.to_string()),
                join(reps, |r| r.exit.to_string())
            ),
            "",
        ),
    ]
}

/// The checks of a variant, in the order its result lists them.
fn checks(cfg: &Config, variant: Variant, reps: &[Rep]) -> Vec<Check> {
    let mut checks = Vec::new();
    match variant {
        Variant::Single => {
            checks.push(check_killed(reps, "the hog"));
            checks.push(check_peak(cfg, reps));
            checks.push(check_oom_once(reps));
            checks.push(check_time_to_kill(cfg, reps));
            checks.push(check_bystander(reps));
        }
        Variant::OomGroup => {
            checks.push(check_killed(reps, "the hog's leader"));
            checks.push(check_peak(cfg, reps));
            checks.extend(check_group(cfg, reps));
            checks.push(check_time_to_kill(cfg, reps));
        }
        Variant::OomKillDisable => {
            checks.push(check_peak(cfg, reps));
            checks.extend(check_hang(cfg, reps));
        }
    }
    checks
}

/// The metrics of a variant: how fast the kill (or hang) came, and how far
/// usage and the hog got.
fn metrics(cfg: &Config, variant: Variant, reps: &[Rep]) -> Vec<Metric> {
    let seconds = |name: &str, f: fn(&Rep) -> Option<f64>| {
        Metric::new(name, "s", Better::Lower, reps.iter().filter_map(f).collect())
    };
    let bytes = |name: &str, f: fn(&Rep) -> u64| {
        let samples = reps.iter().map(|r| f(r) as f64).collect();
        Metric::with_target(name, "bytes", cfg.limit() as f64, samples)
    };
    let mut metrics = match variant {
        Variant::OomKillDisable => vec![
            seconds(n::TIME_TO_HANG, |r| r.hang?.seen_after),
            seconds(n::KILL_HUNG, |r| Some(r.hang?.kill_seconds)),
        ],
        _ => vec![seconds(n::TIME_TO_KILL, |r| r.time_to_kill)],
    };
    metrics.push(bytes(n::PEAK_USAGE, |r| r.peak().0));
    metrics.push(bytes(n::HOG_REACHED, |r| r.hog_bytes));
    if variant == Variant::OomGroup {
        metrics.push(seconds(n::EMPTY_AFTER_LEADER_DEATH, |r| r.empty_after));
    }
    metrics
}

/// Turns the runs of one variant into metrics and checks.
pub fn variant_result(
    cfg: &Config,
    variant: Variant,
    reps: &[Rep],
    launcher: &str,
) -> ScenarioResult {
    let mut p = Point::for_launcher(MemoryOom::NAME, launcher).params(cfg.params(variant));
    if let Some(first) = reps.first() {
        p = p
            .metrics(metrics(cfg, variant, reps))
            .checks(checks(cfg, variant, reps))
            .series(n::USAGE_MIB, first.series.clone());
    }
    p.build()
}
