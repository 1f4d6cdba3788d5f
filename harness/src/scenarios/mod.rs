//! Scenarios: each is one type implementing [`Scenario`]: its name, what it
//! needs, its typed config (level defaults, suite-file overrides, validation)
//! and its run, which turns sandboxes into metrics and checks.
//!
//! Adding a scenario is one new file (or folder) with an `impl Scenario` and
//! one line in the `scenarios!` registry below.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use isobench_reports::ScenarioResult;

use crate::cgroup::{CgroupSet, Controller};
use crate::sandbox::{LaunchError, Namespaces, Running, SandboxSpec};

pub mod config;
pub mod error;
mod memory;
pub mod result;

pub use config::{check_range, check_within, ConfigError};
pub use error::{interrupted, ScenarioError, Skip};
pub use result::Point;

/// Built-in suite sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Quick,
    Default,
}

/// A documented parameter, for `isobench list`.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: String,
    pub quick: String,
    pub default: String,
    pub about: &'static str,
}

/// One scenario: what `isobench list` shows, what it needs, its config and
/// its run. Implemented by a unit type per scenario.
pub trait Scenario {
    /// The CLI and results name (`cpu-quota`).
    const NAME: &'static str;
    /// One line for `isobench list`.
    const ABOUT: &'static str;
    /// Controllers it cannot run without: a set lacking one gets a skip row
    /// with the reason instead of an error.
    const NEEDS: &'static [Controller] = &[];
    /// Whether the built-in `quick` suite runs it (it must stay about 20 s);
    /// `--scenario NAME --suite quick` runs it with its quick values anyway.
    const QUICK: bool = true;
    /// Its parameters, as written in a suite file's `[name]` table, each
    /// with its meaning (`scenario_config!`).
    type Config: serde::Serialize
        + serde::de::DeserializeOwned
        + Clone
        + std::fmt::Debug
        + config::Params;

    /// Built-in defaults of a suite level.
    fn level(level: Level) -> Self::Config {
        <Self::Config as config::Params>::level(level)
    }

    /// Rejects values the scenario cannot run with (the registry names the
    /// scenario in the message).
    fn validate(_cfg: &Self::Config) -> Result<(), ConfigError> {
        Ok(())
    }

    /// About how long it runs on `cpus` CPUs, from its parameters: what the
    /// progress bar's ETA adds up (corrected by how the estimates held so
    /// far). Only a guess for the display; nothing is checked against it.
    fn estimate(_cfg: &Self::Config, _cpus: u32) -> Duration {
        Duration::from_secs(2)
    }

    /// Runs the scenario: one result per parameter point.
    fn run(cfg: &Self::Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, ScenarioError>;

    /// `run`, with a whole-scenario skip turned into its result row.
    fn results(cfg: &Self::Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, ScenarioError> {
        match Self::run(cfg, ctx) {
            Err(ScenarioError::Skipped(s)) => Ok(vec![s.into_result(Self::NAME, &ctx.launcher)]),
            r => r,
        }
    }

    /// Level defaults overridden by a suite-file table, then validated.
    fn parse(level: Level, table: Option<&toml::Table>) -> Result<Self::Config, ConfigError> {
        let cfg = config::merge_over(&Self::level(level), table)?;
        Self::validate(&cfg)?;
        Ok(cfg)
    }

    /// Its parameters with their quick and default values.
    fn describe() -> Vec<Param> {
        params_of(
            &Self::level(Level::Quick),
            &Self::level(Level::Default),
            <Self::Config as config::Params>::PARAMS,
        )
    }
}

/// The registry: one line per scenario, `Variant => module::Type`, in suite
/// order. Everything else (names, parsing, `list`, needs) follows from the
/// `Scenario` impls.
macro_rules! scenarios {
    ($($variant:ident => $module:ident :: $ty:ident;)*) => {
        $(pub mod $module;)*

        /// Names of every scenario, in suite order.
        pub const NAMES: &[&str] = &[$(<$module::$ty as Scenario>::NAME),*];

        /// A scenario with its parsed configuration.
        #[derive(Debug, Clone)]
        pub enum ScenarioSpec {
            $($variant(<$module::$ty as Scenario>::Config),)*
        }

        impl ScenarioSpec {
            /// Parses a scenario by CLI name with level defaults, overridden by
            /// its suite-file table when given.
            pub fn parse(name: &str, level: Level, table: Option<&toml::Table>) -> Result<Self, ConfigError> {
                $(
                    if name == <$module::$ty as Scenario>::NAME {
                        return <$module::$ty as Scenario>::parse(level, table)
                            .map(ScenarioSpec::$variant)
                            .map_err(|e| e.in_scenario(name));
                    }
                )*
                Err(ConfigError::new(format!(
                    "unknown scenario {name:?}; known: {}",
                    NAMES.join(", ")
                )))
            }

            pub fn name(&self) -> &'static str {
                match self {
                    $(ScenarioSpec::$variant(_) => <$module::$ty as Scenario>::NAME,)*
                }
            }

            /// About how long it runs on `cpus` CPUs (`Scenario::estimate`).
            pub fn estimate(&self, cpus: u32) -> std::time::Duration {
                match self {
                    $(ScenarioSpec::$variant(c) => <$module::$ty as Scenario>::estimate(c, cpus),)*
                }
            }

            /// Runs the scenario; one result per parameter point (a skip is a
            /// row too).
            pub fn run(&self, ctx: &Ctx) -> Result<Vec<ScenarioResult>, ScenarioError> {
                match self {
                    $(ScenarioSpec::$variant(c) => <$module::$ty as Scenario>::results(c, ctx),)*
                }
            }
        }

        /// Description and parameters of a scenario (for `isobench list`).
        pub fn describe(name: &str) -> Option<(&'static str, Vec<Param>)> {
            $(
                if name == <$module::$ty as Scenario>::NAME {
                    return Some((<$module::$ty as Scenario>::ABOUT, <$module::$ty as Scenario>::describe()));
                }
            )*
            None
        }

        /// Whether the built-in quick suite runs a scenario (`Scenario::QUICK`).
        pub fn in_quick(name: &str) -> bool {
            $(
                if name == <$module::$ty as Scenario>::NAME {
                    return <$module::$ty as Scenario>::QUICK;
                }
            )*
            false
        }

        /// Controllers a scenario cannot run without.
        pub fn needs(name: &str) -> &'static [Controller] {
            $(
                if name == <$module::$ty as Scenario>::NAME {
                    return <$module::$ty as Scenario>::NEEDS;
                }
            )*
            &[]
        }
    };
}

scenarios! {
    Startup => startup::Startup;
    CpuQuota => cpu_quota::CpuQuota;
    CpuWeight => cpu_weight::CpuWeight;
    Cpuset => cpuset::Cpuset;
    CpuLatency => cpu_latency::CpuLatency;
    MemoryOom => memory_oom::MemoryOom;
    MemoryHigh => memory_high::MemoryHigh;
    MemoryProtection => memory_protection::MemoryProtection;
    MemoryVirtual => memory_virtual::MemoryVirtual;
    Pagecache => pagecache::Pagecache;
    Pids => pids::Pids;
    Isolation => isolation::Isolation;
    Pid1 => pid1::Pid1;
    Supervisor => supervisor::Supervisor;
    Io => io::Io;
    Nesting => nesting::Nesting;
}

/// Documents a config's parameters from its quick and default values;
/// `about` holds each field's meaning under its Rust (snake_case) name.
pub fn params_of<T: serde::Serialize>(
    quick: &T,
    default: &T,
    about: &[(&'static str, &'static str)],
) -> Vec<Param> {
    let q = toml::Table::try_from(quick).unwrap_or_default();
    let d = toml::Table::try_from(default).unwrap_or_default();
    let show = |t: &toml::Table, k: &str| t.get(k).map(|v| v.to_string()).unwrap_or_default();
    d.keys()
        .map(|k| Param {
            name: k.clone(),
            quick: show(&q, k),
            default: show(&d, k),
            about: about
                .iter()
                .find(|(n, _)| n.replace('_', "-") == *k)
                .map(|(_, a)| *a)
                .unwrap_or(""),
        })
        .collect()
}

/// What every scenario gets from the run.
pub struct Ctx {
    pub set: CgroupSet,
    pub workload: PathBuf,
    /// An empty directory used as the mount point of minimal rootfs tmpfs
    /// (inside each sandbox's own mount namespace; stays empty on the host).
    pub rootfs_dir: PathBuf,
    pub seed: u64,
    pub cpus: u32,
    /// `--namespaces`: overrides each scenario's namespace set.
    pub namespaces: Option<Namespaces>,
    /// Name of the launcher under test (results carry it).
    pub launcher: String,
    /// The launcher itself.
    pub kind: crate::launchers::Launcher,
    next: AtomicU32,
    units: Arc<Units>,
    /// When the last point's measurement ended (or the step started).
    lap: Mutex<Instant>,
}

/// How far the running scenario is through its own units of work
/// (repetitions, points, launches), for the progress display.
#[derive(Debug, Default)]
pub struct Units(Mutex<UnitsDone>);

/// A snapshot of [`Units`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnitsDone {
    pub done: u32,
    pub total: u32,
    /// When `done` last changed.
    pub at: Option<Instant>,
}

impl Units {
    /// `done` of `total` units are finished.
    pub fn set(&self, done: u32, total: u32) {
        if let Ok(mut u) = self.0.lock() {
            if u.done != done || u.total != total {
                *u = UnitsDone {
                    done,
                    total,
                    at: Some(Instant::now()),
                };
            }
        }
    }

    /// Back to nothing known (a new scenario starts).
    pub fn reset(&self) {
        if let Ok(mut u) = self.0.lock() {
            *u = UnitsDone::default();
        }
    }

    pub fn get(&self) -> UnitsDone {
        self.0.lock().map(|u| *u).unwrap_or_default()
    }
}

impl Ctx {
    pub fn new(
        set: CgroupSet,
        workload: PathBuf,
        rootfs_dir: PathBuf,
        seed: u64,
        namespaces: Option<Namespaces>,
    ) -> Self {
        Ctx {
            set,
            workload,
            rootfs_dir,
            seed,
            cpus: crate::env::cpus(),
            namespaces,
            launcher: "native".into(),
            kind: crate::launchers::Launcher::Native,
            next: AtomicU32::new(0),
            units: Arc::default(),
            lap: Mutex::new(Instant::now()),
        }
    }

    /// A step starts: the first point's time counts from now.
    pub fn start_laps(&self) {
        if let Ok(mut l) = self.lap.lock() {
            *l = Instant::now();
        }
    }

    /// Seconds since the last lap (or since the step started): the wall time
    /// of the point just measured. Scenarios that measure their points one
    /// after another stamp each row with it ([`Ctx::timed`]); rows measured
    /// together (interleaved rounds) are left unstamped and share the rest.
    pub fn lap(&self) -> f64 {
        let now = Instant::now();
        match self.lap.lock() {
            Ok(mut l) => {
                let took = now.saturating_duration_since(*l).as_secs_f64();
                *l = now;
                took
            }
            Err(_) => 0.0,
        }
    }

    /// `row`, stamped with the time since the last lap as its own duration.
    pub fn timed(&self, mut row: ScenarioResult) -> ScenarioResult {
        row.duration_s = Some(self.lap());
        row
    }

    /// Reports `done` of `total` units of the running scenario finished, for
    /// the progress display; it changes no result.
    pub fn advance(&self, done: u32, total: u32) {
        self.units.set(done, total);
    }

    /// One more unit finished, of the total last given to [`Ctx::advance`].
    pub fn tick(&self) {
        let u = self.units.get();
        self.units.set(u.done + 1, u.total.max(u.done + 1));
    }

    /// What the scenarios report through [`Ctx::advance`].
    pub fn units(&self) -> Arc<Units> {
        Arc::clone(&self.units)
    }

    /// Launches a sandbox (through the launcher under test) in a fresh,
    /// uniquely numbered cgroup.
    pub fn launch(&self, spec: &SandboxSpec) -> Result<Running, LaunchError> {
        self.launch_as(&self.kind, spec)
    }

    /// Launches through another launcher than the one under test (e.g. a
    /// plain-spawn reference), numbered like every other sandbox.
    pub fn launch_as(
        &self,
        kind: &crate::launchers::Launcher,
        spec: &SandboxSpec,
    ) -> Result<Running, LaunchError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        kind.launch(spec, &self.set, n, &self.workload, &self.rootfs_dir)
    }

    /// A fresh, uniquely numbered cgroup without a sandbox in it (a parent
    /// for nested sandboxes); dropping it kills and removes it.
    pub fn create_cgroup(
        &self,
    ) -> Result<crate::cgroup::SandboxCgroup, crate::cgroup::CgroupError> {
        self.set.create(self.next.fetch_add(1, Ordering::Relaxed))
    }

    /// The same launcher, creating its sandboxes inside `parent` (a cgroup
    /// from [`Ctx::create_cgroup`]) in every hierarchy `parent` spans.
    pub fn nested(&self, parent: &crate::cgroup::CgroupView) -> Ctx {
        let mut set = self.set.clone();
        for (c, d) in &parent.v1.dirs {
            set.v1_base.insert(*c, d.clone());
        }
        if let Some(v) = &parent.v2 {
            set.v2_base = Some(v.dir.clone());
        }
        let mut c = Ctx::new(
            set,
            self.workload.clone(),
            self.rootfs_dir.clone(),
            self.seed,
            self.namespaces,
        );
        c.with_arm(&self.launcher, self.kind.clone());
        c
    }

    /// The same context for another arm (sandbox numbers stay unique):
    /// results carry `label`.
    pub fn with_arm(&mut self, label: &str, kind: crate::launchers::Launcher) {
        self.launcher = label.to_string();
        self.kind = kind;
    }

    /// The namespace set a scenario should use.
    pub fn namespaces_or(&self, default: &str) -> Namespaces {
        self.namespaces
            .unwrap_or_else(|| Namespaces::parse(default).expect("built-in namespace set"))
    }
}
