//! memory-protection: can a cgroup guarantee memory, not only cap it? The
//! topology of the kernel selftests test_memcg_min / test_memcg_low
//! (tools/testing/selftests/cgroup/test_memcontrol.c), reproduced:
//!
//! ```text
//! A      memory.max = 200M (swap 0)
//! A/B    memory.min (or .low) = 50M
//! A/B/C  75M   holds 50M of page cache
//! A/B/D  25M   holds 50M of page cache
//! A/B/E  0     holds 50M of page cache
//! A/B/F  500M  holds nothing
//! A/G    a sibling allocating 148M of anonymous memory, then 170M
//! ```
//!
//! After the 148M, the selftest expects B ≈ 50M, C ≈ 29M, D ≈ 21M, F = 0
//! (its `values_close` tolerances); the 170M allocation must fail under
//! memory.min and succeed under memory.low; B then ≈ 50M (min) or 30M
//! (low); under low, C and D count low events, F none, and no child an oom.
//!
//! cgroup v2 only. On v1 the same topology runs with
//! memory.soft_limit_in_bytes, reported as information: one `skip` row
//! (v1 has no memory.min/low) with the observed numbers, never gated.

mod checks;
mod topology;

use std::path::{Path, PathBuf};
use std::time::Duration;

use isobench_reports::names::memory_protection as n;
use isobench_reports::ScenarioResult;
use serde_json::json;

use super::config::{check_within, reject_if, scenario_config};
use super::memory::{self, MIB};
use super::pagecache::{not_disk, AUTO_DIRS};
use super::{ConfigError, Ctx, Scenario, ScenarioError, Skip};
use crate::cgroup::Controller;

pub use topology::Kind;

/// The selftest's sizes, MiB.
pub const PARENT_MAX_MIB: u64 = 200;
pub const GROUP_PROTECTION_MIB: u64 = 50;
/// Protection of children C, D, E, F.
pub const PROTECTIONS_MIB: [u64; 4] = [75, 25, 0, 500];
/// Page cache each of C, D, E writes (F holds none).
pub const CACHE_MIB: u64 = 50;
/// How many children hold page cache (the first three).
pub const CACHE_HOLDERS: usize = 3;
pub const PRESSURE_MIB: u64 = 148;
pub const OVER_MIB: u64 = 170;

/// The scenario.
pub struct MemoryProtection;

scenario_config! {
    /// Parameters.
    pub struct Config {
        /// Which protections to measure (v2); v1 runs soft-limit instead.
        pub modes: Vec<String> = vec!["min".into(), "low".into()] => "protections to measure on v2: min, low",
        /// Where the children's page cache lives.
        pub dir: String = "auto".into() => "disk directory for the page cache files (\"auto\": /var/tmp or /tmp, not tmpfs)",
        /// How long to wait for the children's cache to be charged (the
        /// selftest waits up to 6 s for B ≈ 150M).
        pub settle_seconds: f64 = 6.0 => "wait for the cache to be charged before the pressure",
    }
}

impl Scenario for MemoryProtection {
    const NAME: &'static str = n::SCENARIO;
    const ABOUT: &'static str =
        "memory.min / memory.low (v2), the selftest topology: each child's memory.current under a sibling's pressure vs the selftest's values, low/oom events, min vs low; v1 soft limit as information";
    const NEEDS: &'static [Controller] = &[Controller::Memory];
    /// Writes 150 MiB of page cache and allocates 318 MiB per mode.
    const QUICK: bool = false;
    type Config = Config;

    fn validate(c: &Config) -> Result<(), ConfigError> {
        reject_if(c.modes.is_empty(), || "modes must not be empty (min, low)".into())?;
        for m in &c.modes {
            reject_if(Kind::parse(m).is_none(), || {
                format!("modes: {m:?} is not one of min, low")
            })?;
        }
        reject_if(c.dir != "auto" && !Path::new(&c.dir).is_absolute(), || {
            format!("dir {:?} must be \"auto\" or an absolute path", c.dir)
        })?;
        check_within("settle-seconds", c.settle_seconds, 0.0, 60.0, "")
    }

    /// Per mode: the cache written, the two allocations.
    fn estimate(cfg: &Config, _cpus: u32) -> Duration {
        Duration::from_secs_f64(cfg.modes.len() as f64 * 2.5)
    }

    fn run(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, ScenarioError> {
        let dir = pick_dir(cfg)?;
        let recursive = recursiveprot(&std::fs::read_to_string("/proc/mounts").unwrap_or_default());
        if !ctx.set.on_v2(Controller::Memory) {
            let rep = topology::run(ctx, Kind::SoftLimit, &dir, cfg.settle_seconds)?;
            return Ok(vec![checks::soft_limit_result(&rep, &ctx.launcher, recursive)]);
        }
        let mut out = Vec::new();
        for (i, m) in cfg.modes.iter().enumerate() {
            ctx.advance(i as u32, cfg.modes.len() as u32);
            super::interrupted()?;
            let kind = Kind::parse(m).unwrap_or(Kind::Min);
            let rep = topology::run(ctx, kind, &dir, cfg.settle_seconds)?;
            out.push(ctx.timed(checks::result(&rep, &ctx.launcher, recursive)));
        }
        Ok(out)
    }
}

/// The page cache directory: the configured one, or the first disk one
/// of /var/tmp, /tmp (tmpfs pages are not reclaimable page cache).
fn pick_dir(cfg: &Config) -> Result<PathBuf, ScenarioError> {
    if cfg.dir != "auto" {
        let d = PathBuf::from(&cfg.dir);
        return match not_disk(&d) {
            None => Ok(d),
            Some(w) => Err(ScenarioError::Failed(format!("[memory-protection] dir: {w}"))),
        };
    }
    let mut why = Vec::new();
    for d in AUTO_DIRS.iter().map(PathBuf::from) {
        match not_disk(&d) {
            None => return Ok(d),
            Some(w) => why.push(w),
        }
    }
    Err(ScenarioError::skipped(skip(format!(
        "no disk directory for the page cache ({}); set dir in the suite's [memory-protection]",
        why.join("; ")
    ))))
}

/// Whether cgroup2 is mounted with memory_recursiveprot (protection of a
/// parent spreads to children that claim none), from /proc/mounts text;
/// None when no cgroup2 is mounted.
pub fn recursiveprot(mounts: &str) -> Option<bool> {
    mounts
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|f| f.get(2) == Some(&"cgroup2"))
        .map(|f| {
            f.get(3)
                .is_some_and(|o| o.split(',').any(|x| x == "memory_recursiveprot"))
        })
}

/// The skip row, with why.
fn skip(why: String) -> Skip {
    memory::not_run(
        n::SKIP,
        "children's memory.current under pressure close to the selftest's values",
        why,
        memory::params(json!({ "parent_max_mib": PARENT_MAX_MIB })),
    )
}

/// MiB of a byte count, for metrics.
fn in_mib(b: u64) -> f64 {
    b as f64 / MIB as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::memory::testing::rejects;
    use crate::scenarios::Level;

    #[test]
    fn recursiveprot_from_mount_options() {
        let on = "cgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev,noexec,relatime,nsdelegate,memory_recursiveprot 0 0\n";
        let off = "proc /proc proc rw 0 0\ncgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nsdelegate 0 0\n";
        assert_eq!(recursiveprot(on), Some(true));
        assert_eq!(recursiveprot(off), Some(false));
        assert_eq!(recursiveprot("tmpfs /sys/fs/cgroup tmpfs ro 0 0\n"), None);
    }

    #[test]
    fn config_is_checked() {
        assert!(MemoryProtection::validate(&MemoryProtection::level(Level::Quick)).is_ok());
        rejects::<MemoryProtection>(&[
            ("modes", |c| c.modes = vec![]),
            ("modes", |c| c.modes = vec!["max".into()]),
            ("dir", |c| c.dir = "relative/dir".into()),
            ("settle-seconds", |c| c.settle_seconds = 100.0),
        ]);
    }
}
