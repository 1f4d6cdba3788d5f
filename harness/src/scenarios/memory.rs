//! What the memory scenarios (memory-oom, memory-high, pagecache) share:
//! MiB arithmetic and formatting, the range checks of their configs (whose
//! messages name the rejected value), the memory-limited workload sandbox,
//! skip rows for a knob this kernel cannot express, and the limit-hit count.

use std::time::Duration;

use super::{check_range, check_within, interrupted, ConfigError, Ctx, ScenarioError, Skip};
use crate::cgroup::{CgroupError, Controller, Limits, MemoryStats};
use crate::sandbox::{LaunchError, Running, SandboxSpec};

pub const MIB: u64 = 1 << 20;

/// Bytes as `12.34 MiB`.
/// The most a hog reported touching (its `hog` progress events), 0 if none.
pub fn hog_reached(events: &[crate::sandbox::event::Event]) -> u64 {
    events
        .iter()
        .filter_map(|e| match e {
            crate::sandbox::event::Event::Hog(p) => Some(p.bytes),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

pub fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / MIB as f64)
}

/// Bytes in MiB, for series.
pub fn in_mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

/// `pct` percent of `bytes` (a limit's slack).
pub fn pct_of(bytes: u64, pct: f64) -> u64 {
    (bytes as f64 * pct / 100.0) as u64
}

/// `factor` times `bytes` (what a hog or writer asks for).
pub fn times(bytes: u64, factor: f64) -> u64 {
    (bytes as f64 * factor) as u64
}

/// Limit hits the kernel counted: memory.events max (v2), failcnt (v1).
pub fn limit_hits(s: &MemoryStats) -> Option<u64> {
    s.events.max.or(s.failcnt)
}

/// Runs of every memory scenario: 1 – 100.
pub fn check_repetitions(n: u32) -> Result<(), ConfigError> {
    check_range("repetitions", n, 1, 100)
}

/// How far a peak may exceed its limit: 0 – 50 %.
pub fn check_peak_slack(pct: f64) -> Result<(), ConfigError> {
    check_within("peak-slack-pct", pct, 0.0, 50.0, "")
}

/// `n` runs of `rep`, stopping at the first error or stop request.
pub fn repeat<T>(
    n: u32,
    mut rep: impl FnMut() -> Result<T, ScenarioError>,
) -> Result<Vec<T>, ScenarioError> {
    (0..n)
        .map(|_| {
            interrupted()?;
            rep()
        })
        .collect()
}

/// The workload `args` in a sandbox of the memory scenarios' namespaces
/// with `limits`, killed at `deadline`.
pub fn sandbox(ctx: &Ctx, args: &[&str], limits: Limits, deadline: Duration) -> SandboxSpec {
    let mut spec = SandboxSpec::workload(args);
    spec.namespaces = ctx.namespaces_or("pid,mnt,uts,ipc");
    spec.limits = limits;
    spec.deadline = deadline;
    spec
}

/// Only memory.max.
pub fn memory_max(bytes: u64) -> Limits {
    Limits {
        memory_max: Some(bytes),
        ..Default::default()
    }
}

/// Launches `spec`; a limit this kernel's cgroups cannot express skips with
/// `skip(why)`.
pub fn launch_or_skip(
    ctx: &Ctx,
    spec: &SandboxSpec,
    skip: impl FnOnce(String) -> Skip,
) -> Result<Running, ScenarioError> {
    match ctx.launch(spec) {
        Err(LaunchError::Cgroup(CgroupError::Unsupported(why))) => {
            Err(ScenarioError::skipped(skip(why)))
        }
        r => Ok(r?),
    }
}

/// Why a v2-only memory knob does not exist here (None: memory is on v2).
pub fn v2_only(ctx: &Ctx, knob: &str) -> Option<String> {
    (!ctx.set.on_v2(Controller::Memory)).then(|| {
        format!(
            "{knob} exists only on cgroup v2; the memory controller here is on v1 (mode {})",
            ctx.set.mode.as_str()
        )
    })
}

/// A params map from a `json!({…})` object.
pub fn params(object: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match object {
        serde_json::Value::Object(m) => m,
        _ => Default::default(),
    }
}

/// A skip row: the check that was not run and why, with the params.
pub fn not_run(
    check: &str,
    expected: &str,
    why: impl Into<String>,
    params: serde_json::Map<String, serde_json::Value>,
) -> Skip {
    Skip {
        params,
        ..Skip::new(check, expected, "not run", why)
    }
}

/// What the memory scenarios' unit tests share.
#[cfg(test)]
pub mod testing {
    use isobench_reports::{ScenarioResult, Status};

    use crate::scenarios::{Level, Scenario};

    /// The status of check `name` in `r`.
    pub fn status(r: &ScenarioResult, name: &str) -> Status {
        r.checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name} in {:?}", r.checks))
            .status
    }

    /// Ids of the plots the report draws for `results`.
    pub fn plot_ids(results: Vec<ScenarioResult>) -> Vec<String> {
        let mut run = isobench_reports::fixture::empty_run("plots");
        run.scenarios = results;
        let specs = isobench_reports::render::plots::build_all(&run);
        specs.into_iter().map(|s| s.id).collect()
    }

    /// A config key and an edit that makes its value invalid.
    pub type BadEdit<C> = (&'static str, fn(&mut C));

    /// `S`'s default config passes validation, and each edit of it is
    /// rejected with a message naming the edited key.
    pub fn rejects<S: Scenario>(edits: &[BadEdit<S::Config>]) {
        let ok = S::level(Level::Default);
        assert!(S::validate(&ok).is_ok());
        for (key, edit) in edits {
            let mut c = ok.clone();
            edit(&mut c);
            let e = S::validate(&c).unwrap_err().to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_name_the_value() {
        assert!(check_within("factor", 2.0, 1.5, 64.0, "").is_ok());
        let e = check_within("factor", 1.0, 1.5, 64.0, " (more)").unwrap_err();
        assert_eq!(e.to_string(), "factor 1 is outside 1.5 – 64 (more)");
        let e = check_within("x", f64::NAN, 0.0, 1.0, "").unwrap_err();
        assert_eq!(e.to_string(), "x NaN is outside 0 – 1");
        assert_eq!(
            check_repetitions(0).unwrap_err().to_string(),
            "repetitions must be 1 – 100"
        );
        assert!(check_peak_slack(51.0).is_err() && check_peak_slack(0.0).is_ok());
    }

    #[test]
    fn formatting_and_arithmetic() {
        assert_eq!(mib(3 * MIB / 2), "1.50 MiB");
        assert_eq!(
            crate::scenarios::result::join(&[Some(1), None], |v| crate::scenarios::result::opt(*v)),
            "1, n/a"
        );
        assert_eq!(pct_of(64 * MIB, 2.0), 1_342_177);
        assert_eq!(times(64 * MIB, 4.0), 256 * MIB);
        let mut s = MemoryStats {
            failcnt: Some(3),
            ..Default::default()
        };
        assert_eq!(limit_hits(&s), Some(3));
        s.events.max = Some(5);
        assert_eq!(limit_hits(&s), Some(5));
    }

    #[test]
    fn repeat_stops_at_the_first_error() {
        let mut n = 0;
        let r = repeat(5, || {
            n += 1;
            if n == 2 {
                Err(ScenarioError::failed("boom"))
            } else {
                Ok(n)
            }
        });
        assert_eq!(r.unwrap_err().to_string(), "boom");
        assert_eq!(n, 2);
        assert_eq!(repeat(3, || Ok(1)).unwrap(), vec![1, 1, 1]);
    }
}
