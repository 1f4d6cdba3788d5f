//! Scenarios: each parses its typed config at the edge (suite file section or
//! built-in level defaults) and turns sandboxes into metrics and checks.

pub mod cpu_quota;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use isobench_reports::ScenarioResult;

use crate::cgroup::CgroupSet;
use crate::sandbox::{self, LaunchError, Namespaces, Running, SandboxSpec};

/// Built-in suite sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Quick,
    Default,
}

/// A documented parameter, for `isobench list`.
#[derive(Debug, Clone)]
pub struct Param {
    pub name: &'static str,
    pub quick: String,
    pub default: String,
    pub about: &'static str,
}

/// Names of every scenario, in suite order.
pub const NAMES: [&str; 1] = ["cpu-quota"];

/// A scenario with its parsed configuration.
#[derive(Debug, Clone)]
pub enum ScenarioSpec {
    CpuQuota(cpu_quota::Config),
}

impl ScenarioSpec {
    /// Parses a scenario by CLI name with level defaults, overridden by its
    /// suite-file table when given.
    pub fn parse(name: &str, level: Level, table: Option<&toml::Table>) -> Result<Self, String> {
        match name {
            "cpu-quota" => Ok(ScenarioSpec::CpuQuota(cpu_quota::Config::parse(
                level, table,
            )?)),
            other => Err(format!(
                "unknown scenario {other:?}; known: {}",
                NAMES.join(", ")
            )),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            ScenarioSpec::CpuQuota(_) => "cpu-quota",
        }
    }

    /// Runs the scenario; one result per parameter point.
    pub fn run(&self, ctx: &Ctx) -> Result<Vec<ScenarioResult>, String> {
        match self {
            ScenarioSpec::CpuQuota(c) => cpu_quota::run(c, ctx),
        }
    }
}

/// Description and parameters of a scenario (for `isobench list`).
pub fn describe(name: &str) -> Option<(&'static str, Vec<Param>)> {
    match name {
        "cpu-quota" => Some((cpu_quota::ABOUT, cpu_quota::params())),
        _ => None,
    }
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
    next: AtomicU32,
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
            next: AtomicU32::new(0),
        }
    }

    /// Launches a sandbox in a fresh, uniquely numbered cgroup.
    pub fn launch(&self, spec: &SandboxSpec) -> Result<Running, LaunchError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        sandbox::launch(spec, &self.set, n, &self.workload, Some(&self.rootfs_dir))
    }

    /// The namespace set a scenario should use.
    pub fn namespaces_or(&self, default: &str) -> Namespaces {
        self.namespaces
            .unwrap_or_else(|| Namespaces::parse(default).expect("built-in namespace set"))
    }
}

/// Deserialises a suite-file table into a config (unknown keys rejected),
/// naming the scenario in errors.
pub fn from_table<T: serde::de::DeserializeOwned>(
    scenario: &str,
    table: &toml::Table,
) -> Result<T, String> {
    T::deserialize(toml::Value::Table(table.clone()))
        .map_err(|e| format!("[{scenario}]: {}", e.message()))
}

/// Merges a suite-file table over a config's defaults.
pub fn merge_over<T>(scenario: &str, defaults: &T, table: Option<&toml::Table>) -> Result<T, String>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let Some(t) = table else {
        return from_table(
            scenario,
            &toml::Table::try_from(defaults).map_err(|e| e.to_string())?,
        );
    };
    let mut base = toml::Table::try_from(defaults).map_err(|e| e.to_string())?;
    let pristine = base.clone();
    for (k, v) in t {
        if !base.contains_key(k) {
            let known: Vec<&str> = base.keys().map(String::as_str).collect();
            return Err(format!(
                "[{scenario}]: unknown key {k:?}; accepted: {}",
                known.join(", ")
            ));
        }
        // Try each key alone over the defaults so the error names it.
        let mut one = pristine.clone();
        one.insert(k.clone(), v.clone());
        from_table::<T>(scenario, &one).map_err(|e| format!("{e} (key {k:?})"))?;
        base.insert(k.clone(), v.clone());
    }
    from_table(scenario, &base)
}
