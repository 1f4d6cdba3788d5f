//! `isobench run`: parse everything, prepare the cgroup set, run each
//! scenario (isolating failures), write the results atomically.
//!
//! Beside this file: the arguments (`args`), the order of arms and rounds
//! and their merging (`schedule`), what dead runs leave (`stale`), what
//! shows while it runs (`progress`) and the text summary (`summary`).

mod args;
pub mod progress;
mod schedule;
mod stale;
mod summary;

pub use args::{error_line, RunArgs, SuiteArg};
pub use schedule::{merge_rounds, schedule};
pub use stale::{cleanup_stale, cleanup_stale_staging, staging_base, Stale};
pub use summary::{point_label, summary};

use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use isobench_reports::{Better, Check, Metric, RunResults, ScenarioResult, Status, SCHEMA};

use crate::cgroup::CgroupSet;
use crate::launchers::{Arm, Launcher};
use crate::sandbox::{workload, LaunchError, Namespaces, SandboxSpec};
use crate::scenarios::{Ctx, Point, ScenarioError, ScenarioSpec};
use crate::suite::Suite;
use progress::Progress;
use stale::RootfsDir;

/// Everything `isobench run` was asked, parsed.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub suite: Suite,
    pub output: Output,
    pub cgroup_parent: Option<String>,
    pub seed: u64,
    pub namespaces: Option<Namespaces>,
    /// Arms under test, in order (empty = native).
    pub launchers: Vec<Arm>,
    /// Rounds: the suite runs this many times, arms alternating inside each
    /// round in a balanced order (ABBA…); every sample records its round.
    pub rounds: u32,
}

/// Where `isobench run` puts its results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// No `-o`: `isobench-<run id>.json` in the current directory.
    Default,
    /// `-o FILE`.
    File(PathBuf),
    /// `-o -`: the JSON on stdout (the human summary then goes to stderr).
    Stdout,
}

impl Output {
    /// From the `-o` argument.
    pub fn from_arg(o: Option<PathBuf>) -> Self {
        match o {
            None => Output::Default,
            Some(p) if p.as_os_str() == "-" => Output::Stdout,
            Some(p) => Output::File(p),
        }
    }

    /// The file to write for run `run_id` (None: stdout).
    pub fn path(&self, run_id: &str) -> Option<PathBuf> {
        match self {
            Output::Default => Some(PathBuf::from(format!("isobench-{run_id}.json"))),
            Output::File(p) => Some(p.clone()),
            Output::Stdout => None,
        }
    }
}

/// A finished run: its results, and the file they were written to.
#[derive(Debug)]
pub struct RunOutcome {
    pub results: RunResults,
    /// None when they went to stdout.
    pub written: Option<PathBuf>,
}

/// Undoes the v2 preparation of a run (its `-self` leaf) when dropped,
/// after every sandbox cgroup is gone.
struct ReleaseOnDrop(CgroupSet);

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        if let Err(e) = self.0.release() {
            eprintln!("isobench: warning: {e}");
        }
    }
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

/// Runs the suite and writes the results (to stdout with `-o -`).
pub fn run(req: &RunRequest) -> Result<RunOutcome, EnvError> {
    crate::cgroup::systemd::signal_ready();
    let probe = req.output.path("probe");
    if let Some(o) = &probe {
        isobench_reports::load::check_writable(o).map_err(|e| EnvError(e.to_string()))?;
    }
    require_root("isobench run")?;
    let set =
        CgroupSet::discover(req.cgroup_parent.as_deref()).map_err(|e| EnvError(e.to_string()))?;
    let _release = ReleaseOnDrop(set.clone());
    // Dropped before `_release`: podman's containers, image and cgroups go first.
    let _podman = crate::launchers::podman::Guard;
    let stale = cleanup_stale(&set);
    if !stale.is_empty() {
        eprintln!(
            "isobench: removed {} of dead isobench runs",
            stale.summary()
        );
    }
    let wl = workload::path()
        .map_err(|e| EnvError(format!("cannot install the workload binary: {e}")))?;
    let rootfs =
        RootfsDir::create(&set.run_id).map_err(|e| EnvError(format!("rootfs staging dir: {e}")))?;
    let started_at = now_rfc3339();
    let environment = crate::env::snapshot(Some(&set));
    let run_id = set.run_id.clone();
    let mut ctx = Ctx::new(set, wl, rootfs.0.clone(), req.seed, req.namespaces);
    crate::interrupt::install();
    let arms = if req.launchers.is_empty() {
        vec![Arm {
            label: "native".into(),
            launcher: Launcher::Native,
        }]
    } else {
        req.launchers.clone()
    };
    let rounds = req.rounds.max(1);
    let mut scenarios = Vec::new();
    let t_run = Instant::now();
    let mut unavailable = Vec::new();
    let mut usable = Vec::new();
    for arm in &arms {
        ctx.with_arm(&arm.label, arm.launcher.clone());
        let why_not = arm.launcher.unavailable().or_else(|| preflight(&ctx));
        match why_not {
            Some(why) => {
                eprintln!(
                    "isobench: launcher {} cannot run here: {why}",
                    arm_text(arm)
                );
                for spec in &req.suite.scenarios {
                    let mut r = skipped(spec.name(), &arm.label, "launcher runs here", &why);
                    r.launcher_spec = arm.spec_if_labelled();
                    scenarios.push(r);
                }
                unavailable.push(format!("{}: {why}", arm_text(arm)));
            }
            None => usable.push(arm.clone()),
        }
    }
    let schedule = schedule(usable.len(), req.suite.scenarios.len(), rounds);
    let total = schedule.len();
    let estimates = schedule
        .iter()
        .map(|&(_, _, si)| req.suite.scenarios[si].estimate(ctx.cpus))
        .collect();
    let progress = Progress::new(progress::Mode::detect(), estimates, ctx.units());
    let mut per_round: Vec<(u32, ScenarioResult)> = Vec::new();
    for (step, &(round, a, si)) in schedule.iter().enumerate() {
        if crate::interrupt::requested().is_some() {
            break;
        }
        let arm = &usable[a];
        let spec = &req.suite.scenarios[si];
        ctx.with_arm(&arm.label, arm.launcher.clone());
        let round_text = if rounds > 1 {
            format!(" round {round}/{rounds}")
        } else {
            String::new()
        };
        let label = format!(
            "[{}/{total}] {} ({}){round_text}",
            step + 1,
            spec.name(),
            arm_text(arm)
        );
        // Cut short: only completed scenarios are saved.
        let Some(mut done) = run_step(&ctx, arm, spec, (&progress, step, &label)) else {
            break;
        };
        for x in done.iter_mut() {
            x.launcher_spec = arm.spec_if_labelled();
        }
        per_round.extend(done.into_iter().map(|r| (round, r)));
    }
    // The bar goes before anything else is printed.
    drop(progress);
    scenarios.extend(merge_rounds(per_round, rounds > 1));
    if unavailable.len() == arms.len() {
        return Err(EnvError(format!(
            "no launcher asked for can run here: {}",
            unavailable.join("; ")
        )));
    }
    eprintln!(
        "isobench: suite {} took {:.1} s",
        req.suite.name,
        t_run.elapsed().as_secs_f64()
    );
    scenarios.push(harness_row(&req.suite.name, t_run.elapsed()));
    let results = RunResults {
        schema: SCHEMA.into(),
        run_id,
        started_at,
        finished_at: now_rfc3339(),
        environment,
        scenarios,
        interrupted: crate::interrupt::requested().is_some(),
    };
    let written = req.output.path(&results.run_id);
    write_results(written.as_deref(), &results)?;
    Ok(RunOutcome { results, written })
}

/// Writes the results to `file` (atomically), or to stdout when None.
fn write_results(file: Option<&std::path::Path>, results: &RunResults) -> Result<(), EnvError> {
    match file {
        Some(o) => isobench_reports::write_results(o, results).map_err(|e| EnvError(e.to_string())),
        None => {
            let text = serde_json::to_string_pretty(results)
                .map_err(|e| EnvError(format!("results: {e}")))?;
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{text}")
                .and_then(|()| out.flush())
                .map_err(|e| EnvError(format!("writing results to stdout: {e}")))
        }
    }
}

/// One step of the schedule (shown on `progress` as step number `label`):
/// the scenario's rows for this arm (a skip row when it cannot run for it,
/// an error row when it failed or panicked), or None when a signal cut the
/// run short.
fn run_step(
    ctx: &Ctx,
    arm: &Arm,
    spec: &ScenarioSpec,
    (progress, step, label): (&Progress, usize, &str),
) -> Option<Vec<ScenarioResult>> {
    let name = spec.name();
    if let Some((expected, why)) = not_run_for(ctx, &arm.launcher, name) {
        progress.dropped(step);
        return Some(vec![skipped(name, &ctx.launcher, &expected, &why)]);
    }
    progress.start(step, label);
    let t = Instant::now();
    ctx.start_laps();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| spec.run(ctx)));
    let cut_short = crate::interrupt::requested().is_some();
    let how = if cut_short {
        "interrupted after"
    } else {
        "done in"
    };
    let took = t.elapsed();
    progress.finish(step, label, how, took);
    let error = match r {
        Ok(Ok(mut v)) => {
            share_rest(&mut v, took.as_secs_f64());
            return Some(v);
        }
        _ if cut_short => return None,
        Ok(Err(ScenarioError::Interrupted(_))) => return None,
        Ok(Err(e)) => e.to_string(),
        Err(p) => format!(
            "panicked: {}",
            panic_text(&*p).unwrap_or_else(|| "panicked".into())
        ),
    };
    let mut row = Point::for_launcher(name, &ctx.launcher)
        .error(error)
        .build();
    row.duration_s = Some(took.as_secs_f64());
    Some(vec![row])
}

/// Gives every row of a step a duration that adds up to the step's wall
/// time `took`: rows the scenario timed itself ([`Ctx::timed`]) keep theirs;
/// what is left (set-up, teardown, rows measured together) is shared by the
/// untimed rows, or goes to the last row when all were timed.
fn share_rest(rows: &mut [ScenarioResult], took: f64) {
    let timed: f64 = rows.iter().filter_map(|r| r.duration_s).sum();
    let rest = (took - timed).max(0.0);
    let untimed = rows.iter().filter(|r| r.duration_s.is_none()).count();
    if untimed > 0 {
        let each = rest / untimed as f64;
        for r in rows.iter_mut().filter(|r| r.duration_s.is_none()) {
            r.duration_s = Some(each);
        }
    } else if let Some(last) = rows.last_mut() {
        last.duration_s = Some(last.duration_s.unwrap_or(0.0) + rest);
    }
}

/// Why scenario `name` does not run for `launcher` at all, as the skip's
/// (expected, reason).
fn not_run_for(ctx: &Ctx, launcher: &Launcher, name: &str) -> Option<(String, String)> {
    if name == "startup" {
        // startup measures several sets and skips unsupported ones itself
        // (bare still gives its reference row there).
        return missing_controllers(ctx, name);
    }
    if !launcher.applies_limits() {
        return Some((
            "a launcher that applies isolation and limits".into(),
            "bare is a plain spawn without namespaces or cgroup: it is only the reference row of startup".into(),
        ));
    }
    if let Some(why) = ctx
        .namespaces
        .as_ref()
        .and_then(|ns| launcher.unsupported(ns))
    {
        return Some(("the namespaces asked for".into(), why));
    }
    missing_controllers(ctx, name)
}

/// The message of a caught panic, when it carries one.
pub fn panic_text(p: &(dyn std::any::Any + Send)) -> Option<String> {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
}

/// `label=spec`, or the spec alone when it is its own label.
fn arm_text(arm: &Arm) -> String {
    match arm.spec_if_labelled() {
        Some(spec) => format!("{}={spec}", arm.label),
        None => arm.label.clone(),
    }
}

/// Which controllers a scenario needs that this set lacks, as the skip's
/// (expected, reason).
fn missing_controllers(ctx: &Ctx, name: &str) -> Option<(String, String)> {
    let missing: Vec<crate::cgroup::Controller> = crate::scenarios::needs(name)
        .iter()
        .filter(|c| !ctx.set.has(**c))
        .copied()
        .collect();
    (!missing.is_empty()).then(|| {
        let names: Vec<&str> = missing.iter().map(|c| c.name()).collect();
        let why: Vec<String> = missing.iter().map(|c| ctx.set.why_missing(*c)).collect();
        (
            format!("the {} controller(s)", names.join(", ")),
            why.join("; "),
        )
    })
}

/// The observer's own cost, so every reader sees it: peak RSS of the
/// harness and the suite's wall time (CPU cost of the monitor is reported by
/// the scenarios that sample).
fn harness_row(suite: &str, wall: std::time::Duration) -> ScenarioResult {
    // SAFETY: getrusage fills a local struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let rss = ru.ru_maxrss as f64 * 1024.0;
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu = seconds(ru.ru_utime) + seconds(ru.ru_stime);
    Point::for_launcher("harness", "isobench")
        .param("suite", suite)
        .metric(Metric::new(
            "suite_wall_time",
            "s",
            Better::Lower,
            vec![wall.as_secs_f64()],
        ))
        .metric(Metric::new("peak_rss", "bytes", Better::Lower, vec![rss]))
        .metric(Metric::new(
            "harness_cpu_time",
            "s",
            Better::Lower,
            vec![cpu],
        ))
        .build()
}

/// Launches one trivial workload to see whether the launcher works here at
/// all (crun refuses hybrid cgroups, for instance); the reason if not.
fn preflight(ctx: &Ctx) -> Option<String> {
    if ctx.kind == Launcher::Native {
        return None;
    }
    let mut spec = SandboxSpec::workload(&["ready"]);
    spec.deadline = std::time::Duration::from_secs(20);
    if ctx.kind.applies_limits() {
        spec.namespaces = ctx.namespaces.unwrap_or_default();
        if ctx.kind.unsupported(&spec.namespaces).is_some() {
            spec.namespaces = Namespaces::default();
        }
    }
    let r = (|| -> Result<(), LaunchError> {
        let mut r = ctx.launch(&spec)?;
        r.wait_ready()?;
        r.wait_exit()?;
        r.teardown()?;
        Ok(())
    })();
    r.err().map(|e| e.to_string())
}

/// A row saying a scenario did not run for this launcher, and why.
fn skipped(name: &str, launcher: &str, expected: &str, why: &str) -> ScenarioResult {
    Point::for_launcher(name, launcher)
        .check(Check::new(
            "launcher",
            Status::Skip,
            expected,
            "not run",
            why,
        ))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(d: Option<f64>) -> ScenarioResult {
        let mut r = Point::for_launcher("x", "native").build();
        r.duration_s = d;
        r
    }

    fn durations(rows: &[ScenarioResult]) -> Vec<f64> {
        rows.iter().map(|r| r.duration_s.unwrap()).collect()
    }

    #[test]
    fn timed_rows_keep_their_times_and_the_untimed_share_the_rest() {
        let mut rows = vec![row(Some(3.0)), row(None), row(Some(1.0)), row(None)];
        share_rest(&mut rows, 10.0);
        assert_eq!(durations(&rows), vec![3.0, 3.0, 1.0, 3.0]);
    }

    #[test]
    fn with_every_row_timed_the_rest_goes_to_the_last_and_the_sum_is_the_step() {
        let mut rows = vec![row(Some(2.0)), row(Some(5.0))];
        share_rest(&mut rows, 7.5);
        assert_eq!(durations(&rows), vec![2.0, 5.5]);
        let mut untimed = vec![row(None), row(None)];
        share_rest(&mut untimed, 4.0);
        assert_eq!(durations(&untimed), vec![2.0, 2.0]);
    }

    #[test]
    fn timed_rows_beyond_the_step_time_give_the_untimed_nothing() {
        // Clock granularity can make the laps add up past the step's own
        // measurement: never a negative share.
        let mut rows = vec![row(Some(2.0)), row(None)];
        share_rest(&mut rows, 1.9);
        assert_eq!(durations(&rows), vec![2.0, 0.0]);
    }
}
