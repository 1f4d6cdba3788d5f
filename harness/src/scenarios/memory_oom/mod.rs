//! memory-oom: does the memory limit hold, and how does the cgroup OOM killer
//! end a hog? An anonymous hog runs into memory.max (v1 limit_in_bytes):
//! it must die of SIGKILL, the peak must stay within the limit, the kill must
//! be counted once, and a sandbox beside it must live on. Variants: a
//! multi-process hog under memory.oom.group (v2; all die together) and v1's
//! oom_kill_disable (the hog hangs; the hang is detected, reported, killed).

mod checks;
mod config;
mod rep;
#[cfg(test)]
mod tests;
mod watch;

pub use config::{Config, Variant};

use std::time::Duration;

use isobench_reports::ScenarioResult;

use super::config::reject_if;
use super::config::check_within;
use super::error::interrupted;
use super::memory::{self, MIB};
use super::{ConfigError, Ctx, Scenario, ScenarioError, Skip};
use crate::cgroup::Controller;

/// The scenario.
pub struct MemoryOom;

impl Scenario for MemoryOom {
    const NAME: &'static str = "memory-oom";
    const ABOUT: &'static str =
        "cgroup OOM killer: anonymous hog into the memory limit; SIGKILL, peak vs limit, oom_kill counted once, time to kill, bystander survives; oom.group (v2) and oom_kill_disable (v1) variants";
    const NEEDS: &'static [Controller] = &[Controller::Memory];
    type Config = Config;

    /// Rejects values that cannot produce a meaningful OOM.
    fn validate(c: &Config) -> Result<(), ConfigError> {
        reject_if(c.variants.is_empty(), || {
            "variants must not be empty (single, oom-group, oom-kill-disable)".into()
        })?;
        let holds = " (small enough to be quick and safe, large enough to hold the workload)";
        check_within("limit-mib", c.limit_mib, 8, 4096, holds)?;
        let quarter = c.limit_mib.saturating_mul(MIB) / 4;
        reject_if(c.step_kib < 4 || c.step_kib.saturating_mul(1024) > quarter, || {
            format!(
                "step-kib {} must be at least 4 and at most a quarter of limit-mib ({} KiB)",
                c.step_kib,
                c.limit_mib.saturating_mul(256)
            )
        })?;
        let exceed = " (the hog must clearly exceed the limit)";
        check_within("overshoot", c.overshoot, 1.5, 16.0, exceed)?;
        check_within("group-procs", c.group_procs, 2, 64, "")?;
        memory::check_repetitions(c.repetitions)?;
        memory::check_peak_slack(c.peak_slack_pct)?;
        check_within("kill-within-seconds", c.kill_within_seconds, 0.1, 60.0, "")?;
        check_within("hang-seconds", c.hang_seconds, 0.1, 60.0, "")?;
        check_within("stall-ms", c.stall_ms, 10, 10_000, "")
    }

    /// Each run of a variant fills the limit and is killed; the
    /// oom-kill-disable ones also see the hang persist `stall-ms`.
    fn estimate(cfg: &Config, _cpus: u32) -> Duration {
        let runs: f64 = cfg
            .variants
            .iter()
            .map(|v| match v {
                Variant::OomKillDisable => 0.5 + cfg.stall_ms as f64 / 1000.0,
                _ => 0.3,
            })
            .sum();
        Duration::from_secs_f64(f64::from(cfg.repetitions) * runs)
    }

    /// Runs every configured variant; one result per variant (a variant the
    /// kernel cannot express is a skip row).
    fn run(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, ScenarioError> {
        let mut out = Vec::new();
        let total = cfg.variants.len() as u32 * cfg.repetitions;
        for (i, &variant) in cfg.variants.iter().enumerate() {
            ctx.advance(i as u32 * cfg.repetitions, total);
            let res = match wrong_version(ctx, variant) {
                Some(why) => skip(cfg, variant, why).into_result(Self::NAME, &ctx.launcher),
                None => run_variant(cfg, ctx, variant)?,
            };
            out.push(ctx.timed(res));
        }
        Ok(out)
    }
}

/// The repetitions of one variant. A failed run ends them: the runs so far
/// are reported with the error.
fn run_variant(cfg: &Config, ctx: &Ctx, variant: Variant) -> Result<ScenarioResult, ScenarioError> {
    let mut reps = Vec::new();
    let mut error = None;
    for _ in 0..cfg.repetitions {
        interrupted()?;
        match rep::run_rep(cfg, ctx, variant) {
            Ok(rep) => {
                reps.push(rep);
                ctx.tick();
            }
            Err(ScenarioError::Skipped(s)) => return Ok(s.into_result(MemoryOom::NAME, &ctx.launcher)),
            Err(e @ ScenarioError::Interrupted(_)) => return Err(e),
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        }
    }
    let mut res = checks::variant_result(cfg, variant, &reps, &ctx.launcher);
    res.error = error;
    Ok(res)
}

/// Why the memory controller's cgroup version rules a variant out (so no
/// launcher is asked for a knob that does not exist here).
fn wrong_version(ctx: &Ctx, variant: Variant) -> Option<String> {
    match variant {
        Variant::Single => None,
        Variant::OomGroup => memory::v2_only(ctx, "memory.oom.group"),
        Variant::OomKillDisable => ctx.set.on_v2(Controller::Memory).then(|| {
            "oom_kill_disable exists only on cgroup v1; the memory controller here is on v2".to_string()
        }),
    }
}

/// A variant's skip row: this kernel's cgroups cannot express it.
fn skip(cfg: &Config, variant: Variant, why: String) -> Skip {
    let what = match variant {
        Variant::Single => "hog killed at the memory limit",
        Variant::OomGroup => "memory.oom.group=1 kills every process of the hog together",
        Variant::OomKillDisable => "oom_kill_disable=1 makes the hog hang at the limit",
    };
    memory::not_run(
        variant.name(),
        what,
        format!("this kernel's cgroup setup cannot express it: {why}"),
        cfg.params(variant),
    )
}
