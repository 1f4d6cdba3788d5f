//! What `isobench vm` shows while the guest runs. The guest's `run` prints
//! its progress lines on the console; the host passes them on as
//! `guest: …`. On a terminal it also keeps the run's own bar under them:
//! the guest's step, its time, the VM's time and an ETA. The ETA comes
//! from the same estimates the guest's `run` uses (the suite the run
//! arguments name, on the guest's CPUs, in the run's schedule), scaled by
//! how long the finished guest steps took against theirs, which absorbs
//! TCG's slowdown after a step or two.

use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use crate::run::progress::{Mode, Progress};
use crate::run::{schedule, RunArgs};
use crate::scenarios::Units;

/// The guest run's scenarios' estimates and its rounds: its steps'
/// estimates once the first line says how many steps there are.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    scenarios: Vec<Duration>,
    rounds: u32,
}

#[derive(Debug, Parser)]
#[command(no_binary_name = true)]
struct GuestRun {
    #[command(flatten)]
    args: RunArgs,
}

impl Plan {
    /// From the guest's run arguments (`run …`, as the guest gets them),
    /// or None when they do not name a suite the host can load.
    pub fn of(run_args: &[String], cpus: u32) -> Option<Plan> {
        let args = run_args
            .strip_prefix(&["run".to_string()])
            .unwrap_or(run_args);
        let run = GuestRun::try_parse_from(args).ok()?.args;
        let suite = run.suite.load(&run.scenarios).ok()?;
        Some(Plan {
            scenarios: suite.scenarios.iter().map(|s| s.estimate(cpus)).collect(),
            rounds: run.rounds.max(1),
        })
    }

    /// Each of `steps` steps' estimate, in the guest's schedule order; the
    /// arms that run are the steps over scenarios × rounds (launchers the
    /// guest cannot run add no step). None when that does not divide.
    pub fn estimates(&self, steps: usize) -> Option<Vec<Duration>> {
        let per_arm = self.scenarios.len() * self.rounds as usize;
        if per_arm == 0 || steps == 0 || !steps.is_multiple_of(per_arm) {
            return None;
        }
        let arms = steps / per_arm;
        Some(
            schedule(arms, self.scenarios.len(), self.rounds)
                .into_iter()
                .map(|(_, _, si)| self.scenarios[si])
                .collect(),
        )
    }
}

/// One of the guest run's step lines.
#[derive(Debug, Clone, PartialEq)]
pub enum StepLine {
    /// `[i/N] label ...`: step `i` (1-based) of `n` starts.
    Start { i: usize, n: usize, label: String },
    /// `[i/N] label done in X s` (or `interrupted after X s`).
    End { i: usize, took: Duration },
}

impl StepLine {
    pub fn parse(line: &str) -> Option<StepLine> {
        let rest = line.strip_prefix('[')?;
        let (counts, tail) = rest.split_once("] ")?;
        let (i, n) = counts.split_once('/')?;
        let (i, n): (usize, usize) = (i.parse().ok()?, n.parse().ok()?);
        if i == 0 || i > n {
            return None;
        }
        if let Some(label) = tail.strip_suffix(" ...") {
            return Some(StepLine::Start {
                i,
                n,
                label: format!("[{i}/{n}] {label}"),
            });
        }
        let secs = [" done in ", " interrupted after "]
            .iter()
            .find_map(|sep| tail.rsplit_once(sep).map(|(_, t)| t))?;
        let took: f64 = secs.strip_suffix(" s")?.parse().ok()?;
        Some(StepLine::End {
            i,
            took: Duration::from_secs_f64(took.max(0.0)),
        })
    }
}

/// The host's view of the guest run's progress.
pub struct GuestBar {
    mode: Mode,
    plan: Option<Plan>,
    progress: Option<Progress>,
}

impl GuestBar {
    /// For a guest running `run_args` on `cpus` CPUs, shown as stderr allows.
    pub fn new(run_args: &[String], cpus: u32) -> GuestBar {
        GuestBar::with_mode(Mode::detect(), Plan::of(run_args, cpus))
    }

    /// Plain lines only (tests, and where no terminal is attached).
    pub fn with_mode(mode: Mode, plan: Option<Plan>) -> GuestBar {
        GuestBar {
            mode,
            plan,
            progress: None,
        }
    }

    /// One progress line from the guest (without its `isobench: ` prefix).
    pub fn line(&mut self, line: &str) {
        let text = format!("guest: {line}");
        if self.mode == Mode::Plain {
            eprintln!("{text}");
            return;
        }
        let step = StepLine::parse(line);
        if let (None, Some(StepLine::Start { n, .. })) = (&self.progress, &step) {
            let estimates = self
                .plan
                .as_ref()
                .and_then(|p| p.estimates(*n))
                .unwrap_or_else(|| vec![Duration::ZERO; *n]);
            self.progress = Some(Progress::new(
                self.mode,
                estimates,
                Arc::new(Units::default()),
            ));
        }
        let Some(p) = &self.progress else {
            eprintln!("{text}");
            return;
        };
        match step {
            Some(StepLine::Start { i, label, .. }) => p.start(i - 1, &format!("guest: {label}")),
            Some(StepLine::End { i, took }) => {
                p.step_ended(i - 1, took);
                p.line(&text);
            }
            None => p.line(&text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn step_lines_parse_and_others_do_not() {
        assert_eq!(
            StepLine::parse("[2/10] cpu-quota (native) ..."),
            Some(StepLine::Start {
                i: 2,
                n: 10,
                label: "[2/10] cpu-quota (native)".into()
            })
        );
        assert_eq!(
            StepLine::parse("[2/10] cpu-quota (native) done in 12.5 s"),
            Some(StepLine::End {
                i: 2,
                took: Duration::from_millis(12_500)
            })
        );
        assert!(matches!(
            StepLine::parse("[3/3] pids (runc) interrupted after 1.6 s"),
            Some(StepLine::End { i: 3, .. })
        ));
        for other in [
            "suite quick took 8.5 s",
            "[0/3] x ...",
            "[4/3] x ...",
            "[a/3] x ...",
        ] {
            assert_eq!(StepLine::parse(other), None, "{other}");
        }
    }

    #[test]
    fn the_plan_follows_the_guests_suite_and_schedule() {
        let p = Plan::of(
            &v("run --suite quick --scenario pids --scenario startup"),
            2,
        )
        .unwrap();
        assert_eq!(p.scenarios.len(), 2);
        assert!(p.scenarios.iter().all(|d| *d > Duration::ZERO));
        // Two arms ran: arm-major order, each scenario's own estimate.
        let e = p.estimates(4).unwrap();
        assert_eq!(
            e,
            vec![
                p.scenarios[0],
                p.scenarios[1],
                p.scenarios[0],
                p.scenarios[1]
            ]
        );
        // Steps that do not divide into arms: no ETA, not a wrong one.
        assert_eq!(p.estimates(3), None);
        // Rounds multiply the steps.
        let r = Plan::of(&v("run --suite quick --scenario pids --rounds 3"), 2).unwrap();
        assert_eq!(r.estimates(3).unwrap().len(), 3);
        assert_eq!(Plan::of(&v("run --suite /nonexistent.toml"), 2), None);
        assert_eq!(Plan::of(&v("run --frobnicate"), 2), None);
    }
}
