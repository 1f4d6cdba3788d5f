//! startup: how long from "launch" to a workload that is running inside its
//! namespaces and cgroup, per namespace set and per launch phase.
//!
//! Sets are interleaved round-robin (with a rotating start) so a slow drift
//! of the machine spreads over every set instead of biasing the last one;
//! the first `warmup` rounds are launched but not measured.

use std::collections::BTreeMap;
use std::time::Duration;

use isobench_reports::names::startup as n;
use isobench_reports::{Better, Check, Metric, ScenarioResult, Status};

use super::config::reject_if;
use super::error::Context;
use super::config::scenario_config;
use super::{check_within, ConfigError, Ctx, Point, Scenario, ScenarioError};
use crate::launchers::Launcher;
use crate::sandbox::{Exit, Namespaces, NsSet, Phases, SandboxSpec};

/// The scenario.
pub struct Startup;

/// Most launches per set a suite may ask for.
const MAX_LAUNCHES: u32 = 100_000;
/// Deadline of one `ready` launch.
const LAUNCH_DEADLINE: Duration = Duration::from_secs(10);

/// The sets of the issue: cgroup only, the common container set, then that
/// set plus each expensive namespace on its own, then everything.
pub fn default_sets() -> Vec<NsSet> {
    [
        "none",
        "pid,mnt,uts,ipc",
        "pid,mnt,uts,ipc,net",
        "pid,mnt,uts,ipc,user",
        "pid,mnt,uts,ipc,cgroup",
        "all",
    ]
    .into_iter()
    .map(NsSet::of)
    .collect()
}

fn tcg() -> bool {
    crate::env::virtualization() == "tcg"
}

scenario_config! {
    /// Parameters.
    pub struct Config {
        /// Measured launches per namespace set.
        /// Under TCG every launch is emulated (crun: ~0.5 s each): fewer
        /// launches keep a VM run within its deadline; times from TCG are
        /// not comparable with real hardware anyway.
        pub launches: u32 = if tcg() { 10 } else { 50 }, if tcg() { 20 } else { 200 } => "measured launches per namespace set",
        /// Launches per set made first and discarded.
        pub warmup: u32 = 3 => "unmeasured launches per set before measuring (page cache, slab, dentries)",
        /// Namespace sets, launched round-robin.
        pub sets: Vec<NsSet> = default_sets() => "namespace sets (\"none\" = cgroup only, \"all\"); --namespaces picks one",
    }
}

impl Scenario for Startup {
    const NAME: &'static str = n::SCENARIO;
    const ABOUT: &'static str =
        "Startup latency: repeated `ready` launches per namespace set; time to ready and each launch phase";
    type Config = Config;

    /// Rejects counts that measure nothing or would run for hours.
    fn validate(c: &Config) -> Result<(), ConfigError> {
        check_within("launches", c.launches, 1, MAX_LAUNCHES, "")?;
        check_within("warmup", c.warmup, 0, 1000, "")?;
        reject_if(c.sets.is_empty(), || {
            "sets must name at least one namespace set".into()
        })?;
        for (i, s) in c.sets.iter().enumerate() {
            reject_if(c.sets[..i].contains(s), || format!("sets lists {s:?} twice"))?;
        }
        Ok(())
    }

    /// Every round launches each set (and the plain-spawn reference) once.
    fn estimate(cfg: &Config, _cpus: u32) -> Duration {
        let rounds = f64::from(cfg.warmup + cfg.launches);
        Duration::from_secs_f64(rounds * (cfg.sets.len() + 1) as f64 * 0.01)
    }

    /// Runs every set round-robin and summarises each.
    fn run(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, ScenarioError> {
        // Sets this launcher cannot create are reported, not launched.
        let (sets, unsupported): (Vec<Namespaces>, Vec<Namespaces>) = cfg
            .effective_sets(ctx.namespaces, &ctx.kind)
            .into_iter()
            .partition(|ns| ctx.kind.unsupported(ns).is_none());
        let mut warm: Vec<Vec<Launch>> = sets.iter().map(|_| Vec::new()).collect();
        let mut measured: Vec<Vec<Launch>> = sets.iter().map(|_| Vec::new()).collect();
        // A plain spawn in every launch round (not for bare itself): the
        // reference that makes `ready_over_bare` a ratio inside one run, which
        // survives the machine's run-to-run noise as absolute times do not.
        let reference = !creates_no_namespace(&ctx.kind);
        let mut bare: Vec<Launch> = Vec::new();
        for round in 0..cfg.warmup + cfg.launches {
            if reference && round >= cfg.warmup {
                bare.push(launch_as(ctx, &Launcher::Bare, Namespaces::default()));
            }
            for i in round_order(round, sets.len()) {
                if let Some(sig) = crate::interrupt::requested() {
                    return Err(ScenarioError::Interrupted(sig));
                }
                let rec = launch_as(ctx, &ctx.kind, sets[i]);
                if round < cfg.warmup {
                    warm[i].push(rec);
                } else {
                    measured[i].push(rec);
                }
            }
            ctx.advance(round + 1, cfg.warmup + cfg.launches);
        }
        let mut out: Vec<ScenarioResult> = sets
            .iter()
            .zip(warm.iter().zip(&measured))
            .map(|(ns, (w, m))| {
                let mut r = set_result(*ns, cfg, w, m, &ctx.launcher);
                if reference {
                    r.metrics.push(over_bare(m, &bare));
                }
                r
            })
            .collect();
        for ns in unsupported {
            let why = ctx.kind.unsupported(&ns).unwrap_or_default();
            let mut r = unsupported_result(ns, cfg, &ctx.launcher, &why);
            // Not launched: no time of its own (the measured sets were
            // launched in interleaved rounds and share the step's time).
            r.duration_s = Some(0.0);
            out.push(r);
        }
        Ok(out)
    }
}

impl Config {
    /// The sets to launch: `--namespaces` wins over the suite. A launcher
    /// that creates no namespace at all (`bare`) is the reference row: it
    /// launches the empty set whatever was asked.
    pub fn effective_sets(
        &self,
        ctx_namespaces: Option<Namespaces>,
        kind: &Launcher,
    ) -> Vec<Namespaces> {
        if creates_no_namespace(kind) {
            return vec![Namespaces::default()];
        }
        match ctx_namespaces {
            Some(n) => vec![n],
            None => self.sets.iter().map(|s| s.0).collect(),
        }
    }
}

/// True for a launcher that can create no namespace kind at all.
fn creates_no_namespace(kind: &Launcher) -> bool {
    Namespaces::NAMES.iter().all(|n| {
        kind.unsupported(&Namespaces::parse(n).expect("known namespace name"))
            .is_some()
    })
}

/// The order of the sets in round `round`: all of them, starting one
/// further each round, so no set always follows the same neighbour.
pub fn round_order(round: u32, n: usize) -> impl Iterator<Item = usize> {
    let start = if n == 0 { 0 } else { round as usize % n };
    (0..n).map(move |k| (start + k) % n)
}

/// One launch: its phases, or why it failed.
pub type Launch = Result<Phases, ScenarioError>;

/// `ready` of each launch over the plain spawn of the same launch round
/// (rounds where either failed are left out).
pub fn over_bare(measured: &[Launch], bare: &[Launch]) -> Metric {
    let ratios = measured
        .iter()
        .zip(bare)
        .filter_map(|(m, b)| {
            let (m, b) = (m.as_ref().ok()?.ready?, b.as_ref().ok()?.ready?);
            (!b.is_zero()).then(|| m.as_secs_f64() / b.as_secs_f64())
        })
        .collect();
    Metric::new(n::READY_OVER_BARE, "ratio", Better::Lower, ratios)
}

/// One `ready` launch through `kind`, torn down.
fn launch_as(ctx: &Ctx, kind: &Launcher, ns: Namespaces) -> Launch {
    let mut spec = SandboxSpec::workload(&["ready"]);
    spec.namespaces = ns;
    spec.deadline = LAUNCH_DEADLINE;
    let mut r = ctx.launch_as(kind, &spec)?;
    r.wait_ready()?;
    let exit = r.wait_exit()?;
    let phases = r.teardown().context("teardown")?;
    if exit != Exit::Code(0) {
        return Err(ScenarioError::failed(format!("workload ended with {exit}")));
    }
    if phases.ready.is_none() {
        return Err(ScenarioError::failed("ready event seen but not timed"));
    }
    Ok(phases)
}

/// An empty row of one namespace set, with its params.
fn set_point(ns: Namespaces, cfg: &Config, launcher: &str) -> Point {
    Point::for_launcher(n::SCENARIO, launcher)
        .param(n::NAMESPACES, ns.to_string())
        .param("launches", cfg.launches)
        .param("warmup", cfg.warmup)
}

/// A set the launcher cannot create: a skip saying why.
fn unsupported_result(ns: Namespaces, cfg: &Config, launcher: &str, why: &str) -> ScenarioResult {
    set_point(ns, cfg, launcher)
        .check(Check::new(
            n::LAUNCHER,
            Status::Skip,
            format!("a launcher that creates namespaces {ns}"),
            "not run",
            why,
        ))
        .build()
}

/// Launch outcomes of one set, split into timings and failure causes.
#[derive(Debug, Default, PartialEq)]
pub struct Tally {
    pub ok: usize,
    pub total: usize,
    pub causes: Causes,
}

impl Tally {
    pub fn of(records: &[Launch]) -> Self {
        let mut t = Tally {
            total: records.len(),
            ..Default::default()
        };
        for r in records {
            match r {
                Ok(_) => t.ok += 1,
                Err(e) => t.causes.add(&e.to_string(), 1),
            }
        }
        t
    }
}

/// Failure causes grouped by shape — numbers (pids, cgroup numbers) do not
/// split a cause — each with its count and first example.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Causes(BTreeMap<String, (usize, String)>);

/// Kinds of cause spelled out in a check; the rest are counted.
const CAUSES_SHOWN: usize = 3;
/// Longest example quoted per kind of cause.
const CAUSE_CHARS: usize = 240;

impl Causes {
    pub fn add(&mut self, cause: &str, n: usize) {
        let shape: String = cause
            .split(|c: char| c.is_ascii_digit())
            .collect::<Vec<_>>()
            .join("#");
        self.0.entry(shape).or_insert((0, cause.to_string())).0 += n;
    }

    pub fn merge(&mut self, other: &Causes) {
        for (n, example) in other.0.values() {
            self.add(example, *n);
        }
    }

    /// "22× cause (first example); 1× other cause", most frequent first.
    pub fn text(&self) -> String {
        let mut v: Vec<&(usize, String)> = self.0.values().collect();
        v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut parts: Vec<String> = v
            .iter()
            .take(CAUSES_SHOWN)
            .map(|(n, c)| {
                let mut c = c.clone();
                if c.chars().count() > CAUSE_CHARS {
                    c = c.chars().take(CAUSE_CHARS).collect::<String>() + "…";
                }
                format!("{n}× {c}")
            })
            .collect();
        if v.len() > CAUSES_SHOWN {
            let rest: usize = v[CAUSES_SHOWN..].iter().map(|x| x.0).sum();
            parts.push(format!(
                "{rest} more of {} other kinds",
                v.len() - CAUSES_SHOWN
            ));
        }
        parts.join("; ")
    }
}

/// Seconds of one phase over the successful launches.
fn phase_samples(records: &[Launch], f: impl Fn(&Phases) -> Option<Duration>) -> Vec<f64> {
    records
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .filter_map(&f)
        .map(|d| d.as_secs_f64())
        .collect()
}

/// Metrics and checks of one namespace set (pure: recorded data in).
pub fn set_result(
    ns: Namespaces,
    cfg: &Config,
    warm: &[Launch],
    measured: &[Launch],
    launcher: &str,
) -> ScenarioResult {
    let s = |name: &str, f: &dyn Fn(&Phases) -> Option<Duration>| {
        Metric::new(name, "s", Better::Lower, phase_samples(measured, f))
    };
    let metrics = [
        s(n::READY, &|p| p.ready),
        s(n::PHASE_CGROUP, &|p| Some(p.cgroup)),
        s(n::PHASE_CLONE, &|p| Some(p.clone)),
        s(n::PHASE_PLACE, &|p| Some(p.place)),
        s(n::PHASE_SETUP, &|p| Some(p.setup)),
        s(n::PHASE_EXEC, &|p| Some(p.exec)),
        s(n::PHASE_TEARDOWN, &|p| p.teardown),
        // What is left of `ready` after exec: the workload's own start-up
        // plus the parent noticing its ready byte.
        s(n::EXEC_TO_READY, &|p| {
            let before = p.cgroup + p.clone + p.place + p.setup + p.exec;
            p.ready.map(|r| r.saturating_sub(before))
        }),
    ];
    let m = Tally::of(measured);
    let w = Tally::of(warm);
    let all_ok = m.ok == m.total && w.ok == w.total;
    let mut causes = m.causes.clone();
    causes.merge(&w.causes);
    let failures = if all_ok {
        String::new()
    } else {
        format!("; failures: {}", causes.text())
    };
    set_point(ns, cfg, launcher)
        .metrics(metrics)
        .check(Check::new(
            n::LAUNCHES_SUCCEEDED,
            Status::pass_if(all_ok),
            format!(
                "{0} of {0} measured and {1} of {1} warm-up launches reach ready and exit 0",
                m.total, w.total
            ),
            format!(
                "{} of {} measured, {} of {} warm-up{failures}",
                m.ok, m.total, w.ok, w.total
            ),
            format!(
                "namespaces {ns}; each launch: cgroup create + limits, clone3, placement, child setup, exec, ready event, teardown"
            ),
        ))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::Level;

    fn ms(x: f64) -> Duration {
        Duration::from_secs_f64(x / 1000.0)
    }

    fn phases(total_ms: f64) -> Phases {
        Phases {
            cgroup: ms(0.1),
            clone: ms(0.2),
            place: ms(0.05),
            setup: ms(0.3),
            exec: ms(0.25),
            ready: Some(ms(total_ms)),
            teardown: Some(ms(0.4)),
        }
    }

    fn fail(cause: &str) -> Launch {
        Err(ScenarioError::failed(cause))
    }

    fn result(warm: &[Launch], measured: &[Launch]) -> ScenarioResult {
        let cfg = Startup::level(Level::Quick);
        set_result(
            Namespaces::parse("pid,mnt,uts,ipc").unwrap(),
            &cfg,
            warm,
            measured,
            "native",
        )
    }

    fn metric<'a>(r: &'a ScenarioResult, name: &str) -> &'a Metric {
        r.metrics.iter().find(|m| m.name == name).unwrap()
    }

    #[test]
    fn ready_over_bare_pairs_launch_rounds() {
        let m = vec![Ok(phases(2.0)), fail("x"), Ok(phases(3.0))];
        let b = vec![Ok(phases(1.0)), Ok(phases(1.0)), Ok(phases(2.0))];
        let r = over_bare(&m, &b);
        assert_eq!(r.name, n::READY_OVER_BARE);
        assert_eq!(r.samples, vec![2.0, 1.5]);
    }

    #[test]
    fn metrics_keep_one_sample_per_successful_launch() {
        let rec: Vec<_> = (1..=100)
            .map(|i| Ok(phases(1.0 + i as f64 / 100.0)))
            .collect();
        let r = result(&[Ok(phases(5.0))], &rec);
        assert_eq!(r.name, "startup");
        assert_eq!(r.params["namespaces"], "pid,mnt,uts,ipc");
        assert_eq!(r.params["launches"], 50);
        assert_eq!(r.params["warmup"], 3);
        let ready = metric(&r, "ready");
        assert_eq!(ready.unit, "s");
        assert_eq!(ready.better, Better::Lower);
        assert_eq!(ready.samples.len(), 100);
        // The warm-up launch (5 ms) is not among the samples.
        assert!(ready.summary.max < 0.0021);
        assert!(
            (ready.summary.p50 - 0.001505).abs() < 1e-9,
            "{:?}",
            ready.summary
        );
        for p in ["cgroup", "clone", "place", "setup", "exec", "teardown"] {
            let m = metric(&r, &format!("phase.{p}"));
            assert_eq!(m.samples.len(), 100, "{p}");
        }
        assert!((metric(&r, "phase.setup").summary.p50 - 0.0003).abs() < 1e-12);
        // exec_to_ready = ready − (cgroup+clone+place+setup+exec).
        let e = metric(&r, "exec_to_ready");
        assert!(
            (e.summary.min - (0.00101 - 0.0009)).abs() < 1e-9,
            "{:?}",
            e.summary
        );
        assert_eq!(r.checks.len(), 1);
        assert_eq!(r.checks[0].status, Status::Pass);
        assert_eq!(r.checks[0].observed, "100 of 100 measured, 1 of 1 warm-up");
    }

    #[test]
    fn failures_fail_the_check_with_their_causes() {
        let mut rec: Vec<_> = (0..8).map(|_| Ok(phases(1.0))).collect();
        rec.push(fail("clone3 with namespaces [net] failed: ENOMEM"));
        rec.push(fail("clone3 with namespaces [net] failed: ENOMEM"));
        let warm = [fail("deadline: no ready event before the deadline")];
        let r = result(&warm, &rec);
        let c = &r.checks[0];
        assert_eq!(c.status, Status::Fail);
        assert!(
            c.expected
                .starts_with("10 of 10 measured and 1 of 1 warm-up"),
            "{}",
            c.expected
        );
        assert!(
            c.observed
                .starts_with("8 of 10 measured, 0 of 1 warm-up; failures: 2× clone3"),
            "{}",
            c.observed
        );
        assert!(c
            .observed
            .ends_with("; 1× deadline: no ready event before the deadline"));
        assert_eq!(metric(&r, "ready").samples.len(), 8);
    }

    #[test]
    fn causes_differing_only_in_numbers_are_one_kind() {
        let mut c = Causes::default();
        c.add(
            "runc: container process 4474 is in / instead of isobench-p38-385",
            1,
        );
        c.add(
            "runc: container process 4646 is in / instead of isobench-p38-393",
            1,
        );
        c.add("deadline: no ready event", 1);
        assert_eq!(
            c.text(),
            "2× runc: container process 4474 is in / instead of isobench-p38-385; 1× deadline: no ready event"
        );
        for i in 0..4 {
            c.add(&format!("kind{} x", "ab".repeat(i + 1)), 1);
        }
        assert!(
            c.text().ends_with("; 3 more of 3 other kinds"),
            "{}",
            c.text()
        );
        let mut long = Causes::default();
        long.add(&"x".repeat(1000), 1);
        assert_eq!(
            long.text().chars().count(),
            "1× ".chars().count() + CAUSE_CHARS + 1
        );
    }

    #[test]
    fn a_warmup_failure_alone_still_fails() {
        let r = result(&[fail("x")], &[Ok(phases(1.0))]);
        assert_eq!(r.checks[0].status, Status::Fail);
    }

    #[test]
    fn rounds_rotate_over_every_set() {
        let orders: Vec<Vec<usize>> = (0..4).map(|r| round_order(r, 3).collect()).collect();
        assert_eq!(orders[0], vec![0, 1, 2]);
        assert_eq!(orders[1], vec![1, 2, 0]);
        assert_eq!(orders[2], vec![2, 0, 1]);
        assert_eq!(orders[3], vec![0, 1, 2]);
        assert_eq!(round_order(5, 0).count(), 0);
    }

    #[test]
    fn config_parses_sets_and_rejects_nonsense() {
        let c = Startup::level(Level::Default);
        assert_eq!(c.launches, 200);
        let names: Vec<String> = c.sets.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            names,
            [
                "none",
                "pid,mnt,uts,ipc",
                "pid,mnt,net,uts,ipc",
                "pid,mnt,uts,ipc,user",
                "pid,mnt,uts,ipc,cgroup",
                "pid,mnt,net,uts,ipc,user,cgroup,time"
            ]
        );
        let t: toml::Table =
            toml::from_str("launches = 7\nsets = [\"pid,net\", \"none\"]").unwrap();
        let c = Startup::parse(Level::Quick, Some(&t)).unwrap();
        assert_eq!(c.launches, 7);
        assert_eq!(c.sets[0].to_string(), "pid,net");
        let bad = |s: &str| {
            Startup::parse(Level::Quick, Some(&toml::from_str(s).unwrap()))
                .unwrap_err()
                .to_string()
        };
        assert!(bad("sets = [\"pid,bogus\"]").contains("bogus"));
        assert!(bad("sets = []").contains("at least one"));
        assert!(bad("sets = [\"pid\", \"pid\"]").contains("twice"));
        assert!(bad("launches = 0").contains("launches"));
        assert!(bad("launches = -3").contains("launches"));
        assert!(bad("warmup = 5000").contains("warmup"));
        let e = bad("lanches = 3");
        assert!(e.contains("lanches") && e.contains("accepted"), "{e}");
    }

    #[test]
    fn namespaces_flag_picks_one_set() {
        let c = Startup::level(Level::Quick);
        let one = Namespaces::parse("pid,net").unwrap();
        assert_eq!(c.effective_sets(Some(one), &Launcher::Native), vec![one]);
        assert_eq!(c.effective_sets(None, &Launcher::Native).len(), 6);
        assert_eq!(c.effective_sets(None, &Launcher::Runc).len(), 6);
    }

    #[test]
    fn bare_is_the_reference_row_whatever_was_asked() {
        let c = Startup::level(Level::Quick);
        let one = Namespaces::parse("pid,mnt,uts,ipc").unwrap();
        let none = vec![Namespaces::default()];
        assert_eq!(c.effective_sets(Some(one), &Launcher::Bare), none);
        assert_eq!(c.effective_sets(None, &Launcher::Bare), none);
    }

    #[test]
    fn an_unsupported_set_is_a_skip_with_the_reason() {
        let c = Startup::level(Level::Quick);
        let r = unsupported_result(
            Namespaces::all(),
            &c,
            "runc",
            "runc cannot create the time namespace",
        );
        assert_eq!(r.params["namespaces"], Namespaces::all().to_string());
        assert_eq!(r.checks[0].status, Status::Skip);
        assert!(r.checks[0].detail.contains("time"));
        assert!(r.metrics.is_empty());
    }
}
