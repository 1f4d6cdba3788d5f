//! pagecache: not written yet (placeholder so the registry compiles).

use isobench_reports::ScenarioResult;
use serde::{Deserialize, Serialize};

use super::{merge_over, Ctx, Level};

pub const ABOUT: &str = "(not yet implemented)";

/// Meaning of each parameter, for `isobench list`.
pub const ABOUT_PARAMS: &[(&str, &str)] = &[("seconds", "run time")];

/// Parameters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    pub seconds: f64,
}

impl Config {
    /// Built-in defaults of a suite level.
    pub fn level(_level: Level) -> Self {
        Config { seconds: 1.0 }
    }

    /// Level defaults overridden by a suite-file section, then validated.
    pub fn parse(level: Level, table: Option<&toml::Table>) -> Result<Self, String> {
        merge_over("pagecache", &Self::level(level), table)
    }
}

/// Runs the scenario.
pub fn run(_cfg: &Config, _ctx: &Ctx) -> Result<Vec<ScenarioResult>, String> {
    Err("pagecache is not implemented yet".into())
}
