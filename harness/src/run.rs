//! `isobench run`: parse everything, prepare the cgroup set, run each
//! scenario (isolating failures), write the results atomically.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use isobench_reports::{RunResults, ScenarioResult, Status, SCHEMA};

use crate::cgroup::{manager, CgroupSet};
use crate::launchers::{Arm, Launcher};
use crate::sandbox::{workload, Namespaces, SandboxSpec};
use crate::scenarios::{Ctx, ScenarioError};
use crate::suite::Suite;

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
    let t_run = std::time::Instant::now();
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
    let mut per_round: Vec<(u32, ScenarioResult)> = Vec::new();
    for (step, &(round, a, si)) in schedule.iter().enumerate() {
        let step = step + 1;
        if crate::interrupt::requested().is_some() {
            break;
        }
        let arm = &usable[a];
        let spec = &req.suite.scenarios[si];
        ctx.with_arm(&arm.label, arm.launcher.clone());
        let launcher = &arm.launcher;
        let name = spec.name();
        let tag = |r: &mut Vec<ScenarioResult>| {
            for x in r.iter_mut() {
                x.launcher_spec = arm.spec_if_labelled();
            }
        };
        let mut done: Vec<ScenarioResult> = Vec::new();
        if !launcher.applies_limits() && name != "startup" {
            done.push(skipped(
                name,
                &ctx.launcher,
                "a launcher that applies isolation and limits",
                "bare is a plain spawn without namespaces or cgroup: it is only the reference row of startup",
            ));
        } else if let Some(why) = (name != "startup")
            .then(|| {
                ctx.namespaces
                    .as_ref()
                    .and_then(|ns| launcher.unsupported(ns))
            })
            .flatten()
        {
            // startup measures several sets and skips unsupported ones itself
            // (bare still gives its reference row there).
            done.push(skipped(
                name,
                &ctx.launcher,
                "the namespaces asked for",
                &why,
            ));
        } else if let Some((what, why)) = missing_controllers(&ctx, name) {
            done.push(skipped(name, &ctx.launcher, &what, &why));
        } else {
            let round_text = if rounds > 1 {
                format!(" round {round}/{rounds}")
            } else {
                String::new()
            };
            let who = arm_text(arm);
            eprintln!("isobench: [{step}/{total}] {name} ({who}){round_text} ...");
            let t = std::time::Instant::now();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| spec.run(&ctx)));
            let cut_short = crate::interrupt::requested().is_some();
            if cut_short {
                eprintln!(
                    "isobench: [{step}/{total}] {name} ({who}){round_text} interrupted after {:.1} s",
                    t.elapsed().as_secs_f64()
                );
            } else {
                eprintln!(
                    "isobench: [{step}/{total}] {name} ({who}){round_text} done in {:.1} s",
                    t.elapsed().as_secs_f64()
                );
            }
            match r {
                Ok(Ok(v)) => done = v,
                // Cut short by a signal: only completed scenarios are saved.
                _ if cut_short => break,
                Ok(Err(ScenarioError::Interrupted(_))) => break,
                Ok(Err(e)) => done.push(errored(name, &ctx.launcher, e.to_string())),
                Err(p) => {
                    let msg = p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "panicked".into());
                    done.push(errored(name, &ctx.launcher, format!("panicked: {msg}")));
                }
            }
        }
        tag(&mut done);
        per_round.extend(done.into_iter().map(|r| (round, r)));
    }
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
    match &written {
        Some(o) => {
            isobench_reports::write_results(o, &results).map_err(|e| EnvError(e.to_string()))?
        }
        None => {
            let text = serde_json::to_string_pretty(&results)
                .map_err(|e| EnvError(format!("results: {e}")))?;
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{text}")
                .and_then(|()| out.flush())
                .map_err(|e| EnvError(format!("writing results to stdout: {e}")))?;
        }
    }
    Ok(RunOutcome { results, written })
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

/// The order of work: `(round, arm, scenario)`. One round keeps the
/// arm-major order (every scenario of arm 1, then arm 2, …). With several
/// rounds, each scenario runs every arm back to back, forward in odd rounds
/// and reversed in even ones (ABBA…), so a drifting machine favours no arm.
pub fn schedule(arms: usize, scenarios: usize, rounds: u32) -> Vec<(u32, usize, usize)> {
    let mut out = Vec::new();
    if rounds <= 1 {
        for a in 0..arms {
            for s in 0..scenarios {
                out.push((1, a, s));
            }
        }
        return out;
    }
    for r in 1..=rounds {
        for s in 0..scenarios {
            let order: Vec<usize> = if r % 2 == 1 {
                (0..arms).collect()
            } else {
                (0..arms).rev().collect()
            };
            for a in order {
                out.push((r, a, s));
            }
        }
    }
    out
}

/// Folds the rounds of each scenario point (same name, arm and params) into
/// one result: samples concatenated with their round recorded, each check
/// at its worst status with a per-round tally, the first round's series.
pub fn merge_rounds(per_round: Vec<(u32, ScenarioResult)>, record: bool) -> Vec<ScenarioResult> {
    if !record {
        return per_round.into_iter().map(|(_, r)| r).collect();
    }
    let mut out: Vec<ScenarioResult> = Vec::new();
    let mut tallies: Vec<Vec<(String, Vec<Status>)>> = Vec::new();
    for (round, mut r) in per_round {
        for m in &mut r.metrics {
            m.rounds = vec![round; m.samples.len()];
        }
        let key = isobench_reports::key::scenario_key(&r);
        let Some(i) = out
            .iter()
            .position(|o| isobench_reports::key::scenario_key(o) == key)
        else {
            tallies.push(
                r.checks
                    .iter()
                    .map(|c| (c.name.clone(), vec![c.status]))
                    .collect(),
            );
            out.push(r);
            continue;
        };
        let o = &mut out[i];
        for m in r.metrics {
            match o.metrics.iter_mut().find(|x| x.name == m.name) {
                Some(x) => {
                    x.samples.extend(m.samples);
                    x.rounds.extend(m.rounds);
                    x.summary = isobench_reports::Summary::of(&x.samples);
                }
                None => o.metrics.push(m),
            }
        }
        for c in r.checks {
            match tallies[i].iter_mut().find(|t| t.0 == c.name) {
                Some(t) => t.1.push(c.status),
                None => tallies[i].push((c.name.clone(), vec![c.status])),
            }
            match o.checks.iter_mut().find(|x| x.name == c.name) {
                Some(x) if c.status > x.status => *x = c,
                Some(_) => {}
                None => o.checks.push(c),
            }
        }
        for (k, v) in r.series {
            o.series.entry(k).or_insert(v);
        }
        if o.error.is_none() {
            o.error = r.error.map(|e| format!("round {round}: {e}"));
        }
    }
    for (o, t) in out.iter_mut().zip(&tallies) {
        for c in &mut o.checks {
            let Some((_, st)) = t.iter().find(|x| x.0 == c.name) else {
                continue;
            };
            let count = |s: Status| st.iter().filter(|x| **x == s).count();
            let parts: Vec<String> = [Status::Pass, Status::Warn, Status::Skip, Status::Fail]
                .into_iter()
                .filter(|s| count(*s) > 0)
                .map(|s| format!("{} {}", s.as_str(), count(s)))
                .collect();
            let tally = format!("rounds: {} (worst shown)", parts.join(", "));
            c.detail = if c.detail.is_empty() {
                tally
            } else {
                format!("{}; {tally}", c.detail)
            };
        }
    }
    out
}

/// The observer's own cost, so every reader sees it: peak RSS of the
/// harness and the suite's wall time (CPU cost of the monitor is reported by
/// the scenarios that sample).
fn harness_row(suite: &str, wall: std::time::Duration) -> ScenarioResult {
    // SAFETY: getrusage fills a local struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let rss = ru.ru_maxrss as f64 * 1024.0;
    let cpu = ru.ru_utime.tv_sec as f64
        + ru.ru_utime.tv_usec as f64 / 1e6
        + ru.ru_stime.tv_sec as f64
        + ru.ru_stime.tv_usec as f64 / 1e6;
    let mut params = serde_json::Map::new();
    params.insert("suite".into(), serde_json::json!(suite));
    ScenarioResult {
        name: "harness".into(),
        launcher: "isobench".into(),
        launcher_spec: None,
        params,
        metrics: vec![
            isobench_reports::Metric::new(
                "suite_wall_time",
                "s",
                isobench_reports::Better::Lower,
                vec![wall.as_secs_f64()],
            ),
            isobench_reports::Metric::new(
                "peak_rss",
                "bytes",
                isobench_reports::Better::Lower,
                vec![rss],
            ),
            isobench_reports::Metric::new(
                "harness_cpu_time",
                "s",
                isobench_reports::Better::Lower,
                vec![cpu],
            ),
        ],
        checks: Vec::new(),
        series: Default::default(),
        error: None,
    }
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
    let r = (|| {
        let mut r = ctx.launch(&spec).map_err(|e| e.to_string())?;
        r.wait_ready().map_err(|e| e.to_string())?;
        r.wait_exit().map_err(|e| e.to_string())?;
        r.teardown().map_err(|e| e.to_string())?;
        Ok::<(), String>(())
    })();
    r.err()
}

/// A row saying a scenario did not run for this launcher, and why.
fn skipped(name: &str, launcher: &str, expected: &str, why: &str) -> ScenarioResult {
    ScenarioResult {
        name: name.into(),
        launcher: launcher.into(),
        launcher_spec: None,
        params: Default::default(),
        metrics: Vec::new(),
        checks: vec![isobench_reports::Check::new(
            "launcher",
            Status::Skip,
            expected,
            "not run",
            why,
        )],
        series: Default::default(),
        error: None,
    }
}

fn errored(name: &str, launcher: &str, e: String) -> ScenarioResult {
    ScenarioResult {
        name: name.into(),
        launcher: launcher.into(),
        launcher_spec: None,
        params: Default::default(),
        metrics: Vec::new(),
        checks: Vec::new(),
        series: Default::default(),
        error: Some(e),
    }
}

/// What dead isobench runs left behind and was removed.
#[derive(Debug, Default)]
pub struct Stale {
    pub cgroups: Vec<PathBuf>,
    /// OCI containers (and their bundles).
    pub containers: usize,
    /// Rootfs staging directories.
    pub staging: Vec<PathBuf>,
    /// `isobench vm` scratch directories (and qemu processes still using one).
    pub vms: crate::vm::qemu::StaleVms,
}

impl Stale {
    pub fn is_empty(&self) -> bool {
        self.cgroups.is_empty()
            && self.containers == 0
            && self.staging.is_empty()
            && self.vms.workdirs.is_empty()
    }

    /// "2 cgroup(s), 1 container(s), 1 staging dir(s), 1 VM dir(s), 0 qemu(s)".
    pub fn summary(&self) -> String {
        format!(
            "{} cgroup(s), {} container(s), {} staging dir(s), {} VM dir(s), {} qemu(s)",
            self.cgroups.len(),
            self.containers,
            self.staging.len(),
            self.vms.workdirs.len(),
            self.vms.qemus.len()
        )
    }
}

/// Removes what SIGKILLed isobench runs left (`isobench cleanup` and the
/// start of every run): their cgroups, containers and bundles, rootfs
/// staging directories, and VM scratch directories with any qemu still
/// booted from one. A live run's are never touched.
pub fn cleanup_stale(set: &CgroupSet) -> Stale {
    let mut cgroups = manager::cleanup_stale(set);
    if set.mode == crate::cgroup::Mode::V2
        && crate::cgroup::systemd::manager() == crate::cgroup::systemd::Manager::Systemd
    {
        if let Some(h) = &set.hierarchies.unified {
            cgroups.extend(crate::cgroup::systemd::cleanup_stale_scopes(
                &h.mount.mount_point,
            ));
        }
    }
    Stale {
        cgroups,
        containers: crate::launchers::oci::cleanup_stale(),
        staging: cleanup_stale_staging(&staging_base()),
        vms: crate::vm::qemu::cleanup_stale_workdirs(),
    }
}

/// Where rootfs staging directories live.
fn staging_base() -> PathBuf {
    if Path::new("/run").is_dir() {
        PathBuf::from("/run/isobench")
    } else {
        std::env::temp_dir().join("isobench")
    }
}

/// Removes `root-<run id>` directories in `base` whose run is dead. They
/// are only ever mount points inside sandboxes, so empty on the host: a
/// non-empty one is left alone.
pub fn cleanup_stale_staging(base: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(base) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let run_id = name.strip_prefix("root-")?;
            let dir = e.path();
            let alive = manager::Owner::from_run_id(run_id)?.alive(&dir);
            (!alive && std::fs::remove_dir(&dir).is_ok()).then_some(dir)
        })
        .collect()
}

/// The empty staging directory for minimal rootfs mounts; removed on drop.
struct RootfsDir(PathBuf);

impl RootfsDir {
    fn create(run_id: &str) -> std::io::Result<Self> {
        let base = staging_base();
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

/// A one-screen summary: a line per scenario point (key figure, verdict),
/// then every check that did not pass, then the totals.
pub fn summary(r: &RunResults) -> String {
    let mut s = String::new();
    let (mut pass, mut fail, mut skip, mut warn) = (0, 0, 0, 0);
    let mut problems = String::new();
    s += &format!(
        "{:<12} {:<8} {:<44} {:<34} verdict\n",
        "scenario", "launcher", "point", "key figure (p50)"
    );
    for sc in &r.scenarios {
        let point = point_label(sc);
        let verdict = if sc.error.is_some() {
            Status::Fail
        } else {
            sc.checks
                .iter()
                .map(|c| c.status)
                .max()
                .unwrap_or(Status::Pass)
        };
        let key = sc
            .metrics
            .first()
            .map(|m| {
                format!(
                    "{} {}",
                    m.name,
                    isobench_reports::units::format_value(m.summary.p50, &m.unit)
                )
            })
            .unwrap_or_else(|| "-".into());
        s += &format!(
            "{:<12} {:<8} {:<44} {:<34} {}\n",
            sc.name,
            sc.launcher,
            truncate(&point, 44),
            truncate(&key, 34),
            if sc.error.is_some() {
                "ERROR"
            } else {
                verdict_word(verdict)
            }
        );
        if let Some(e) = &sc.error {
            fail += 1;
            problems += &format!("ERROR {} [{}] {point}: {e}\n", sc.name, sc.launcher);
        }
        for c in &sc.checks {
            match c.status {
                Status::Pass => pass += 1,
                Status::Fail => fail += 1,
                Status::Skip => skip += 1,
                Status::Warn => warn += 1,
            }
            if c.status != Status::Pass {
                problems += &format!(
                    "{} {} [{}] {point} {}: expected {}; observed {}{}\n",
                    verdict_word(c.status),
                    sc.name,
                    sc.launcher,
                    c.name,
                    c.expected,
                    c.observed,
                    if c.detail.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", c.detail)
                    }
                );
            }
        }
    }
    if !problems.is_empty() {
        s += "\n";
        s += &problems;
    }
    if r.interrupted {
        s += "interrupted: the results hold only the scenarios that completed\n";
    }
    s += &format!("{pass} passed, {fail} failed, {skip} skipped, {warn} warned\n");
    s
}

fn verdict_word(s: Status) -> &'static str {
    match s {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Skip => "SKIP",
        Status::Warn => "WARN",
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}

/// "quota_pct=20 period_ms=100" from a point's params (skipping bulky ones).
pub fn point_label(sc: &ScenarioResult) -> String {
    sc.params
        .iter()
        .filter(|(k, v)| {
            !matches!(k.as_str(), "seconds" | "demand_cpus" | "launches") && !v.is_array()
        })
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => format!("{k}={s}"),
            v => format!("{k}={v}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use isobench_reports::{Check, Metric};

    #[test]
    fn one_round_keeps_arm_major_order() {
        assert_eq!(
            schedule(2, 2, 1),
            vec![(1, 0, 0), (1, 0, 1), (1, 1, 0), (1, 1, 1)]
        );
    }

    #[test]
    fn rounds_alternate_arms_abba() {
        let s = schedule(2, 1, 4);
        let arms: Vec<usize> = s.iter().map(|x| x.1).collect();
        assert_eq!(arms, vec![0, 1, 1, 0, 0, 1, 1, 0]);
        // Balanced: each arm goes first equally often.
        let firsts: Vec<usize> = s.chunks(2).map(|c| c[0].1).collect();
        assert_eq!(firsts.iter().filter(|a| **a == 0).count(), 2);
        assert!(s.iter().all(|x| (1..=4).contains(&x.0)));
        assert_eq!(schedule(3, 2, 2).len(), 12);
    }

    fn point(arm: &str, samples: Vec<f64>, st: Status) -> ScenarioResult {
        let mut params = serde_json::Map::new();
        params.insert("p".into(), serde_json::json!(1));
        ScenarioResult {
            name: "startup".into(),
            launcher: arm.into(),
            launcher_spec: None,
            params,
            metrics: vec![Metric::new(
                "ready",
                "s",
                isobench_reports::Better::Lower,
                samples,
            )],
            checks: vec![Check::new("ok", st, "e", "o", "")],
            series: Default::default(),
            error: None,
        }
    }

    #[test]
    fn rounds_merge_into_one_point_per_arm_with_rounds_recorded() {
        let per_round = vec![
            (1, point("a", vec![1.0, 2.0], Status::Pass)),
            (1, point("b", vec![3.0], Status::Pass)),
            (2, point("b", vec![4.0], Status::Fail)),
            (2, point("a", vec![5.0], Status::Pass)),
        ];
        let m = merge_rounds(per_round, true);
        assert_eq!(m.len(), 2);
        let a = &m[0];
        assert_eq!(a.launcher, "a");
        assert_eq!(a.metrics[0].samples, vec![1.0, 2.0, 5.0]);
        assert_eq!(a.metrics[0].rounds, vec![1, 1, 2]);
        assert_eq!(a.metrics[0].summary.n, 3);
        let b = &m[1];
        assert_eq!(b.checks[0].status, Status::Fail);
        assert!(
            b.checks[0].detail.contains("pass 1, fail 1"),
            "{}",
            b.checks[0].detail
        );
        // One round: untouched, no rounds recorded.
        let one = merge_rounds(vec![(1, point("a", vec![1.0], Status::Pass))], false);
        assert!(one[0].metrics[0].rounds.is_empty());
    }
}
