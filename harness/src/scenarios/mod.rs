//! Scenarios: each parses its typed config at the edge (suite file section or
//! built-in level defaults) and turns sandboxes into metrics and checks.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use isobench_reports::ScenarioResult;

use crate::cgroup::CgroupSet;
use crate::sandbox::{LaunchError, Namespaces, Running, SandboxSpec};

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

/// Declares every scenario once: its CLI name, variant and module. Each
/// module provides `ABOUT`, `Config` (with `Config::parse(level, table)` and
/// `Config::level(level)`), `ABOUT_PARAMS` and `run(&Config, &Ctx)`.
macro_rules! scenarios {
    ($($variant:ident => $name:literal, $module:ident;)*) => {
        $(pub mod $module;)*

        /// Names of every scenario, in suite order.
        pub const NAMES: &[&str] = &[$($name),*];

        /// A scenario with its parsed configuration.
        #[derive(Debug, Clone)]
        pub enum ScenarioSpec {
            $($variant($module::Config),)*
        }

        impl ScenarioSpec {
            /// Parses a scenario by CLI name with level defaults, overridden by
            /// its suite-file table when given.
            pub fn parse(name: &str, level: Level, table: Option<&toml::Table>) -> Result<Self, String> {
                match name {
                    $($name => Ok(ScenarioSpec::$variant($module::Config::parse(level, table)?)),)*
                    other => Err(format!(
                        "unknown scenario {other:?}; known: {}",
                        NAMES.join(", ")
                    )),
                }
            }

            pub fn name(&self) -> &'static str {
                match self {
                    $(ScenarioSpec::$variant(_) => $name,)*
                }
            }

            /// Runs the scenario; one result per parameter point.
            pub fn run(&self, ctx: &Ctx) -> Result<Vec<ScenarioResult>, String> {
                match self {
                    $(ScenarioSpec::$variant(c) => $module::run(c, ctx),)*
                }
            }
        }

        /// Description and parameters of a scenario (for `isobench list`).
        pub fn describe(name: &str) -> Option<(&'static str, Vec<Param>)> {
            match name {
                $($name => Some((
                    $module::ABOUT,
                    params_of(
                        &$module::Config::level(Level::Quick),
                        &$module::Config::level(Level::Default),
                        $module::ABOUT_PARAMS,
                    ),
                )),)*
                _ => None,
            }
        }
    };
}

scenarios! {
    Startup => "startup", startup;
    CpuQuota => "cpu-quota", cpu_quota;
    CpuWeight => "cpu-weight", cpu_weight;
    Cpuset => "cpuset", cpuset;
    CpuLatency => "cpu-latency", cpu_latency;
    MemoryOom => "memory-oom", memory_oom;
    MemoryHigh => "memory-high", memory_high;
    Pagecache => "pagecache", pagecache;
    Pids => "pids", pids;
    Isolation => "isolation", isolation;
}

/// Controllers a scenario cannot run without; a machine lacking one gets a
/// skip row with the reason instead of an error.
pub fn needs(name: &str) -> &'static [crate::cgroup::Controller] {
    use crate::cgroup::Controller::*;
    match name {
        "cpu-quota" | "cpu-latency" | "cpu-weight" => &[Cpu],
        "cpuset" => &[Cpuset],
        "memory-oom" | "memory-high" | "pagecache" => &[Memory],
        "pids" => &[Pids],
        "isolation" => &[Cpu, Memory],
        _ => &[],
    }
}

/// Documents a config's parameters from its quick and default values.
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
            name: about
                .iter()
                .find(|(n, _)| n == k)
                .map(|(n, _)| *n)
                .unwrap_or("?"),
            quick: show(&q, k),
            default: show(&d, k),
            about: about
                .iter()
                .find(|(n, _)| n == k)
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
        }
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
