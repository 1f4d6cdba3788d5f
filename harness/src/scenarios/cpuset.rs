//! cpuset: a multi-threaded spinner pinned to one CPU must see only that CPU
//! in its affinity and run only there.

use std::time::Duration;

use isobench_reports::{Better, Check, Metric, ScenarioResult, Status};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{merge_over, Ctx, Level};
use crate::cgroup::{Cgroup, CpuList, Limits};
use crate::sandbox::{Exit, SandboxSpec};

pub const ABOUT: &str =
    "cpuset: a multi-thread spinner pinned to one CPU; affinity seen, CPUs actually used, CPU time bounded by one CPU";

/// Meaning of each parameter, for `isobench list`.
pub const ABOUT_PARAMS: &[(&str, &str)] = &[
    ("threads", "spinner threads (0 = 2 × nproc)"),
    ("seconds", "spin time"),
    ("tolerance-pct", "allowed excess of CPU time over one CPU"),
];

/// Parameters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    pub threads: u32,
    pub seconds: f64,
    pub tolerance_pct: f64,
}

impl Config {
    /// Built-in defaults of a suite level.
    pub fn level(level: Level) -> Self {
        Config {
            threads: 0,
            seconds: match level {
                Level::Quick => 0.7,
                Level::Default => 2.0,
            },
            tolerance_pct: 5.0,
        }
    }

    /// Level defaults overridden by a suite-file section, then validated.
    pub fn parse(level: Level, table: Option<&toml::Table>) -> Result<Self, String> {
        let c: Config = merge_over("cpuset", &Self::level(level), table)?;
        if c.threads > 1024 {
            return Err("[cpuset]: threads must be 0 (= 2 × nproc) to 1024".into());
        }
        if !(0.2..=600.0).contains(&c.seconds) {
            return Err("[cpuset]: seconds must be 0.2 – 600".into());
        }
        if !(0.1..=100.0).contains(&c.tolerance_pct) {
            return Err("[cpuset]: tolerance-pct must be 0.1 – 100".into());
        }
        Ok(c)
    }
}

fn list(v: &serde_json::Value) -> Option<Vec<u32>> {
    v.as_array()?
        .iter()
        .map(|x| x.as_u64().map(|n| n as u32))
        .collect()
}

/// Checks from the spinner's report and the cgroup's CPU time.
pub fn checks(pinned: u32, spin: &serde_json::Value, usage_cpus: f64, tol_pct: f64) -> Vec<Check> {
    let want = format!("[{pinned}]");
    let affinity = list(&spin["affinity"]);
    let used = list(&spin["cpus_used"]);
    let show = |v: &Option<Vec<u32>>| match v {
        Some(v) => format!("{v:?}"),
        None => "not reported".into(),
    };
    let limit = 1.0 + tol_pct / 100.0;
    vec![
        Check::new(
            "affinity",
            if affinity.as_deref() == Some(&[pinned][..]) {
                Status::Pass
            } else {
                Status::Fail
            },
            format!("sched_getaffinity inside = {want}"),
            show(&affinity),
            "",
        ),
        Check::new(
            "cpus-used",
            if used.as_deref() == Some(&[pinned][..]) {
                Status::Pass
            } else {
                Status::Fail
            },
            format!("every thread observed only on CPU {want} (sched_getcpu, ~1 ms sampling)"),
            show(&used),
            "",
        ),
        Check::new(
            "cpu-time",
            if usage_cpus <= limit {
                Status::Pass
            } else {
                Status::Fail
            },
            format!("≤ {limit:.2} CPUs of time (one CPU + {tol_pct}%)"),
            format!("{usage_cpus:.3} CPUs"),
            "",
        ),
    ]
}

/// Runs the scenario.
pub fn run(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, String> {
    let mut params = serde_json::Map::new();
    let skip = |reason: String, mut params: serde_json::Map<String, serde_json::Value>| {
        params.insert("cpus".into(), json!(ctx.cpus));
        Ok(vec![ScenarioResult {
            name: "cpuset".into(),
            launcher: ctx.launcher.clone(),
            launcher_spec: None,
            params,
            metrics: Vec::new(),
            checks: vec![Check::new(
                "cpuset",
                Status::Skip,
                "≥ 2 CPUs",
                format!("{} CPU(s)", ctx.cpus),
                reason,
            )],
            series: Default::default(),
            error: None,
        }])
    };
    if ctx.cpus < 2 {
        return skip("pinning needs a second CPU to be meaningful".into(), params);
    }
    let affinity = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))
        .map_err(|e| format!("sched_getaffinity: {e}"))?;
    let pinned = (0..1024u32)
        .find(|c| affinity.is_set(*c as usize).unwrap_or(false))
        .ok_or("no CPU in this process's affinity")?;
    let threads = if cfg.threads == 0 {
        2 * ctx.cpus
    } else {
        cfg.threads
    };
    let (th, secs) = (threads.to_string(), cfg.seconds.to_string());
    let mut spec = SandboxSpec::workload(&["spin", "--threads", &th, "--seconds", &secs]);
    spec.namespaces = ctx.namespaces_or("pid,mnt,uts,ipc");
    spec.limits = Limits {
        cpuset_cpus: Some(CpuList(vec![pinned])),
        ..Default::default()
    };
    spec.deadline = Duration::from_secs_f64(cfg.seconds * 3.0 + 10.0);
    let mut r = ctx.launch(&spec).map_err(|e| e.to_string())?;
    r.wait_ready().map_err(|e| e.to_string())?;
    let before = r.cgroup().cpu_stats().map_err(|e| e.to_string())?;
    let exit = r.wait_exit().map_err(|e| e.to_string())?;
    let after = r.cgroup().cpu_stats().map_err(|e| e.to_string())?;
    let spin = r.events.iter().find(|e| e["event"] == "spin").cloned();
    r.teardown().map_err(|e| e.to_string())?;
    if exit != Exit::Code(0) {
        return Err(format!("spinner ended with {exit}"));
    }
    let spin = spin.ok_or("spinner reported no result")?;
    let wall = spin["wall_ns"]
        .as_u64()
        .ok_or("spin event without wall_ns")? as f64;
    let used = after.delta(&before).usage_ns.ok_or("no cgroup CPU usage")? as f64;
    let usage_cpus = used / wall;
    params.insert("pinned_cpu".into(), json!(pinned));
    params.insert("threads".into(), json!(threads));
    params.insert("seconds".into(), json!(cfg.seconds));
    Ok(vec![ScenarioResult {
        name: "cpuset".into(),
        launcher: ctx.launcher.clone(),
        launcher_spec: None,
        params,
        metrics: vec![Metric::new(
            "usage_cpus",
            "cpus",
            Better::Lower,
            vec![usage_cpus],
        )],
        checks: checks(pinned, &spin, usage_cpus, cfg.tolerance_pct),
        series: Default::default(),
        error: None,
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_spinner_passes_and_escapes_fail() {
        let good = json!({"affinity": [1], "cpus_used": [1]});
        assert!(checks(1, &good, 0.99, 5.0)
            .iter()
            .all(|c| c.status == Status::Pass));
        let leaked = json!({"affinity": [0, 1], "cpus_used": [0, 1]});
        let c = checks(1, &leaked, 1.9, 5.0);
        assert!(c.iter().all(|c| c.status == Status::Fail), "{c:?}");
        let missing = json!({});
        assert_eq!(checks(1, &missing, 1.0, 5.0)[0].status, Status::Fail);
    }
}
