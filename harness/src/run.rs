//! `isobench run`: parse everything, prepare the cgroup set, run each
//! scenario (isolating failures), write the results atomically.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use isobench_reports::{RunResults, ScenarioResult, Status, SCHEMA};

use crate::cgroup::{manager, CgroupSet};
use crate::sandbox::{workload, Namespaces};
use crate::scenarios::Ctx;
use crate::suite::Suite;

/// Everything `isobench run` was asked, parsed.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub suite: Suite,
    pub output: Option<PathBuf>,
    pub cgroup_parent: Option<String>,
    pub seed: u64,
    pub namespaces: Option<Namespaces>,
}

/// A failure that maps to exit code 2 (bad input / unusable environment).
#[derive(Debug)]
pub struct EnvError(pub String);

/// RFC 3339 UTC timestamp without external crates.
pub fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Root is needed to create cgroups and most namespaces.
pub fn require_root(what: &str) -> Result<(), EnvError> {
    if nix::unistd::geteuid().is_root() {
        Ok(())
    } else {
        Err(EnvError(format!(
            "{what} needs root: it creates cgroups and namespaces; run it with sudo"
        )))
    }
}

/// Runs the suite. Results are returned (and written when `output` is set).
pub fn run(req: &RunRequest) -> Result<RunResults, EnvError> {
    if let Some(o) = &req.output {
        isobench_reports::load::check_writable(o).map_err(|e| EnvError(e.to_string()))?;
    }
    require_root("isobench run")?;
    let set =
        CgroupSet::discover(req.cgroup_parent.as_deref()).map_err(|e| EnvError(e.to_string()))?;
    let stale = manager::cleanup_stale(&set);
    if !stale.is_empty() {
        eprintln!(
            "isobench: removed {} stale cgroup(s) of dead isobench runs",
            stale.len()
        );
    }
    let wl = workload::path()
        .map_err(|e| EnvError(format!("cannot install the workload binary: {e}")))?;
    let rootfs =
        RootfsDir::create(&set.run_id).map_err(|e| EnvError(format!("rootfs staging dir: {e}")))?;
    let started_at = now_rfc3339();
    let environment = crate::env::snapshot(Some(&set));
    let run_id = set.run_id.clone();
    let ctx = Ctx::new(set, wl, rootfs.0.clone(), req.seed, req.namespaces);
    let mut scenarios = Vec::new();
    for spec in &req.suite.scenarios {
        let name = spec.name();
        eprintln!("isobench: running {name}");
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| spec.run(&ctx)));
        match r {
            Ok(Ok(mut v)) => scenarios.append(&mut v),
            Ok(Err(e)) => scenarios.push(errored(name, e)),
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".into());
                scenarios.push(errored(name, format!("panicked: {msg}")));
            }
        }
    }
    let results = RunResults {
        schema: SCHEMA.into(),
        run_id,
        started_at,
        finished_at: now_rfc3339(),
        environment,
        scenarios,
        interrupted: false,
    };
    if let Some(o) = &req.output {
        isobench_reports::write_results(o, &results).map_err(|e| EnvError(e.to_string()))?;
    }
    Ok(results)
}

fn errored(name: &str, e: String) -> ScenarioResult {
    ScenarioResult {
        name: name.into(),
        launcher: "native".into(),
        params: Default::default(),
        metrics: Vec::new(),
        checks: Vec::new(),
        series: Default::default(),
        error: Some(e),
    }
}

/// The empty staging directory for minimal rootfs mounts; removed on drop.
struct RootfsDir(PathBuf);

impl RootfsDir {
    fn create(run_id: &str) -> std::io::Result<Self> {
        let base = if Path::new("/run").is_dir() {
            PathBuf::from("/run/isobench")
        } else {
            std::env::temp_dir().join("isobench")
        };
        std::fs::create_dir_all(&base)?;
        let d = base.join(format!("root-{run_id}"));
        std::fs::create_dir(&d)?;
        Ok(RootfsDir(d))
    }
}

impl Drop for RootfsDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// A one-screen summary: every check and every scenario error.
pub fn summary(r: &RunResults) -> String {
    let mut s = String::new();
    let (mut pass, mut fail, mut other) = (0, 0, 0);
    for sc in &r.scenarios {
        let params: Vec<String> = sc
            .params
            .iter()
            .filter(|(k, _)| *k != "seconds" && *k != "demand_cpus")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        if let Some(e) = &sc.error {
            fail += 1;
            s += &format!("ERROR {} [{}]: {e}\n", sc.name, sc.launcher);
        }
        for c in &sc.checks {
            match c.status {
                Status::Pass => pass += 1,
                Status::Fail => fail += 1,
                _ => other += 1,
            }
            s += &format!(
                "{:<4}  {} {} {}: {} | observed {}\n",
                c.status.as_str().to_uppercase(),
                sc.name,
                params.join(" "),
                c.name,
                c.expected,
                c.observed
            );
        }
    }
    s += &format!("{pass} passed, {fail} failed, {other} skipped/warned\n");
    s
}
