//! Why a scenario did not produce its results: typed, so the run can tell a
//! skip (a result row with the reason) from an interruption (nothing saved)
//! from a failure (an error row).

use isobench_reports::{Check, ScenarioResult, Status};

use crate::cgroup::CgroupError;
use crate::sandbox::LaunchError;

/// A scenario's run that ended without its results.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// This machine or launcher cannot run it; becomes a skip row.
    #[error("skipped: {}", .0.check.detail)]
    Skipped(Box<Skip>),
    /// A signal asked the run to stop.
    #[error("interrupted by signal {0}")]
    Interrupted(i32),
    /// A sandbox could not be launched, waited for or torn down.
    #[error("{0}")]
    Launch(LaunchError),
    /// A cgroup file could not be created, written or read.
    #[error("cgroup: {0}")]
    Cgroup(#[from] CgroupError),
    /// Anything else that stopped the measurement (its cause).
    #[error("{0}")]
    Failed(String),
}

impl From<LaunchError> for ScenarioError {
    fn from(e: LaunchError) -> Self {
        match e {
            LaunchError::Interrupted(sig) => ScenarioError::Interrupted(sig),
            e => ScenarioError::Launch(e),
        }
    }
}

impl ScenarioError {
    pub fn failed(msg: impl Into<String>) -> Self {
        ScenarioError::Failed(msg.into())
    }

    /// A whole-scenario skip with one check row saying why.
    pub fn skipped(skip: Skip) -> Self {
        ScenarioError::Skipped(Box::new(skip))
    }
}

/// `Err(Interrupted)` once a signal asked the run to stop: called between
/// a scenario's steps.
pub fn interrupted() -> Result<(), ScenarioError> {
    match crate::interrupt::requested() {
        Some(sig) => Err(ScenarioError::Interrupted(sig)),
        None => Ok(()),
    }
}

/// A skip row: the check that could not be made, and the params known so far.
#[derive(Debug, Clone)]
pub struct Skip {
    pub check: Check,
    pub params: serde_json::Map<String, serde_json::Value>,
}

impl Skip {
    pub fn new(
        check: impl Into<String>,
        expected: impl Into<String>,
        observed: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Skip {
            check: Check::new(check, Status::Skip, expected, observed, reason),
            params: Default::default(),
        }
    }

    pub fn param(mut self, key: &str, value: impl serde::Serialize) -> Self {
        self.params.insert(
            key.into(),
            serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
        );
        self
    }

    /// The skip as the scenario's result row.
    pub fn into_result(self, name: &str, launcher: &str) -> ScenarioResult {
        super::Point::for_launcher(name, launcher)
            .params(self.params)
            .check(self.check)
            .build()
    }
}

/// Adds what was being done to a foreign error: `.context("sched_getaffinity")?`.
pub trait Context<T> {
    fn context(self, what: &str) -> Result<T, ScenarioError>;
}

impl<T, E: std::fmt::Display> Context<T> for Result<T, E> {
    fn context(self, what: &str) -> Result<T, ScenarioError> {
        self.map_err(|e| ScenarioError::Failed(format!("{what}: {e}")))
    }
}

/// A value the measurement cannot go on without: `.or_fail("no CPU usage")?`.
pub trait OrFail<T> {
    fn or_fail(self, msg: &str) -> Result<T, ScenarioError>;
}

impl<T> OrFail<T> for Option<T> {
    fn or_fail(self, msg: &str) -> Result<T, ScenarioError> {
        self.ok_or_else(|| ScenarioError::Failed(msg.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interruptions_are_not_failures() {
        let e: ScenarioError = LaunchError::Interrupted(15).into();
        assert!(matches!(e, ScenarioError::Interrupted(15)));
        let e: ScenarioError = LaunchError::Setup("no rootfs".into()).into();
        assert_eq!(e.to_string(), "no rootfs");
        let r: Result<(), std::io::Error> = Err(std::io::Error::from_raw_os_error(1));
        let e = r.context("sched_getaffinity").unwrap_err();
        assert!(e.to_string().starts_with("sched_getaffinity: "), "{e}");
        assert_eq!(
            None::<u8>.or_fail("no usage").unwrap_err().to_string(),
            "no usage"
        );
    }

    #[test]
    fn a_skip_becomes_one_row() {
        let r = Skip::new("cpuset", "≥ 2 CPUs", "1 CPU(s)", "needs two")
            .param("cpus", 1)
            .into_result("cpuset", "native");
        assert_eq!(r.checks[0].status, Status::Skip);
        assert_eq!(r.params["cpus"], 1);
        assert!(r.error.is_none());
    }
}
