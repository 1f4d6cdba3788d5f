//! memory-oom's parameters, its variants, and what follows from them: the
//! limit, the hog's size, the peak's slack and the params of a result row.

use isobench_reports::names::memory_oom as n;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::scenarios::config::scenario_config;

use crate::scenarios::memory::{self, MIB};

/// The behaviours this scenario can exercise.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Variant {
    /// One process hogs past the limit; a bystander sandbox runs beside it.
    Single,
    /// Several processes under memory.oom.group=1 (v2): all die together.
    OomGroup,
    /// v1 memory.oom_control oom_kill_disable=1: the hog hangs at the limit.
    OomKillDisable,
}

impl Variant {
    /// Its name, as in the suite file and the `variant` param.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Single => n::SINGLE,
            Variant::OomGroup => n::OOM_GROUP,
            Variant::OomKillDisable => n::OOM_KILL_DISABLE,
        }
    }
}

scenario_config! {
    /// Parameters.
    pub struct Config {
        /// Which variants to run.
        pub variants: Vec<Variant> = vec![Variant::Single, Variant::OomGroup, Variant::OomKillDisable] => "single, oom-group (v2), oom-kill-disable (v1)",
        /// memory.max of the hog's sandbox, MiB.
        pub limit_mib: u64 = 64 => "memory limit of the hog's sandbox",
        /// Hog allocation step, KiB.
        pub step_kib: u64 = 1024 => "hog allocation step",
        /// The hog asks for this many times the limit.
        pub overshoot: f64 = 4.0 => "hog asks for this × the limit",
        /// Processes of the oom-group hog.
        pub group_procs: u32 = 4 => "processes of the oom-group hog",
        /// Repetitions of each variant.
        pub repetitions: u32 = 2, 5 => "runs of each variant",
        /// Peak may exceed the limit by this much (percent of the limit).
        pub peak_slack_pct: f64 = 2.0 => "peak may exceed the limit by this",
        /// Bound on limit-hit → death, and on a kill leaving the cgroup empty.
        pub kill_within_seconds: f64 = 5.0 => "bound on limit hit → death and on kill → empty",
        /// How long to wait for the oom_kill_disable hang (under_oom) to show.
        pub hang_seconds: f64 = 5.0 => "wait for the oom_kill_disable hang",
        /// How long a detected hang must persist before it is reported as one.
        pub stall_ms: u64 = 200 => "a hang must persist this long",
    }
}

impl Config {
    pub(super) fn limit(&self) -> u64 {
        self.limit_mib * MIB
    }

    /// What the single (and oom-kill-disable) hog asks for.
    pub(super) fn hog_max(&self) -> u64 {
        memory::times(self.limit(), self.overshoot)
    }

    pub(super) fn slack(&self) -> u64 {
        memory::pct_of(self.limit(), self.peak_slack_pct)
    }

    /// Usage within one hog step of the limit counts as hitting it.
    pub(super) fn near_limit(&self) -> u64 {
        self.limit().saturating_sub(self.step_kib * 1024)
    }

    /// The params of a variant's result row.
    pub(super) fn params(&self, variant: Variant) -> serde_json::Map<String, serde_json::Value> {
        let mut p = memory::params(json!({
            "variant": variant.name(),
            "limit_mib": self.limit_mib,
            "step_kib": self.step_kib,
        }));
        p.extend(memory::params(match variant {
            Variant::OomGroup => json!({
                "procs": self.group_procs,
                "hog_mib_per_proc": self.limit_mib,
            }),
            _ => json!({ "hog_mib": self.hog_max() / MIB }),
        }));
        p
    }
}
