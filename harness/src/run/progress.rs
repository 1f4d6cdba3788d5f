//! What `isobench run` shows while it runs. Not on a terminal: a line when
//! a scenario starts and one when it ends (what tests and CI read). On a
//! terminal: the same end lines, with one bar line under them redrawn in
//! place: the step, the scenario's own units (`Ctx::advance`), its time, the
//! suite's and the suite's ETA.
//!
//! The ETA adds up the remaining steps' estimates (`Scenario::estimate`),
//! scaled by how long the finished steps took against theirs.

use std::io::{IsTerminal, Write};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::scenarios::{Units, UnitsDone};

/// How often the bar is redrawn.
const REDRAW: Duration = Duration::from_millis(250);

/// How progress shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Start and end lines only.
    Plain,
    /// A bar redrawn in place (bold labels unless `color` is off).
    Bar { color: bool },
}

impl Mode {
    /// From stderr and the environment.
    pub fn detect() -> Mode {
        let var = |k| std::env::var(k).ok();
        Mode::decide(
            std::io::stderr().is_terminal(),
            var("TERM").as_deref(),
            var("NO_COLOR").as_deref(),
        )
    }

    /// A bar only on a terminal that is not `TERM=dumb`; no colour when
    /// NO_COLOR is set to anything non-empty (no-color.org).
    pub fn decide(tty: bool, term: Option<&str>, no_color: Option<&str>) -> Mode {
        if !tty || term == Some("dumb") {
            Mode::Plain
        } else {
            Mode::Bar {
                color: no_color.is_none_or(str::is_empty),
            }
        }
    }
}

/// The suite's remaining time from the steps' estimates.
#[derive(Debug, Clone)]
pub struct Eta {
    estimates: Vec<Duration>,
    /// Time the finished steps took, and what was estimated for them.
    actual: Duration,
    estimated: Duration,
}

/// Where the running step is in its own units, as times since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepUnits {
    pub done: u32,
    pub total: u32,
    /// When the last unit finished.
    pub last_at: Duration,
}

impl StepUnits {
    /// From what the scenario reported, for a step started at `started`.
    pub fn of(u: UnitsDone, started: Instant) -> Self {
        StepUnits {
            done: u.done,
            total: u.total,
            last_at: u
                .at
                .map(|t| t.saturating_duration_since(started))
                .unwrap_or_default(),
        }
    }
}

impl Eta {
    /// Steps in schedule order, each with its estimate.
    pub fn new(estimates: Vec<Duration>) -> Self {
        Eta {
            estimates,
            actual: Duration::ZERO,
            estimated: Duration::ZERO,
        }
    }

    /// Actual over estimated time of the finished steps, as if `PRIOR` of
    /// them had gone exactly as estimated (1 before any): a short first step
    /// far off its estimate does not swing the whole suite's ETA. Kept
    /// within 0.1 – 10.
    pub fn ratio(&self) -> f64 {
        const PRIOR: f64 = 10.0;
        let actual = self.actual.as_secs_f64() + PRIOR;
        let estimated = self.estimated.as_secs_f64() + PRIOR;
        (actual / estimated).clamp(0.1, 10.0)
    }

    /// Step `step` ran and took `took`.
    pub fn finished(&mut self, step: usize, took: Duration) {
        self.actual += took;
        self.estimated += self.estimates.get(step).copied().unwrap_or_default();
    }

    /// Step `step` does not run at all (a skip row): it neither costs time
    /// nor says anything about the estimates.
    pub fn dropped(&mut self, step: usize) {
        if let Some(e) = self.estimates.get_mut(step) {
            *e = Duration::ZERO;
        }
    }

    /// Left of step `step`, `elapsed` into it: from the pace of its units
    /// when some finished, else from its scaled estimate; never below zero.
    pub fn step_remaining(&self, step: usize, elapsed: Duration, units: StepUnits) -> Duration {
        let left = if units.done > 0 && units.total >= units.done {
            let per_unit = units.last_at.as_secs_f64() / f64::from(units.done);
            per_unit * f64::from(units.total - units.done)
                - elapsed.saturating_sub(units.last_at).as_secs_f64()
        } else {
            let est = self.estimates.get(step).copied().unwrap_or_default();
            est.as_secs_f64() * self.ratio() - elapsed.as_secs_f64()
        };
        Duration::from_secs_f64(left.max(0.0))
    }

    /// Left of the whole suite: the running step's rest and the scaled
    /// estimates of the steps after it.
    pub fn remaining(&self, step: usize, elapsed: Duration, units: StepUnits) -> Duration {
        let later: Duration = self.estimates.iter().skip(step + 1).sum();
        self.step_remaining(step, elapsed, units) + later.mul_f64(self.ratio())
    }
}

/// `m:ss` (or `h:mm:ss`).
pub fn clock(d: Duration) -> String {
    let s = d.as_secs_f64().round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

/// One bar line: `label`, the step's units as a bar, its time, the suite's
/// time and ETA; cut to `width` columns.
pub fn frame(
    label: &str,
    units: StepUnits,
    step_elapsed: Duration,
    suite_elapsed: Duration,
    eta: Duration,
    width: usize,
) -> String {
    const BAR: usize = 12;
    let bar = if units.total > 0 {
        let filled =
            (BAR as u64 * u64::from(units.done.min(units.total)) / u64::from(units.total)) as usize;
        format!(
            " |{}{}| {}/{}",
            "#".repeat(filled),
            "-".repeat(BAR - filled),
            units.done,
            units.total
        )
    } else {
        String::new()
    };
    let line = format!(
        "{label}{bar}  ETA {}  ({:.1} s, suite {})",
        clock(eta),
        step_elapsed.as_secs_f64(),
        clock(suite_elapsed),
    );
    line.chars().take(width.saturating_sub(1)).collect()
}

/// The running step, for the bar.
struct Current {
    step: usize,
    label: String,
    started: Instant,
}

struct Shared {
    eta: Eta,
    current: Option<Current>,
    started: Instant,
    color: bool,
    drawn: bool,
}

impl Shared {
    /// Erases the bar when it is on screen.
    fn clear(&mut self, err: &mut impl Write) {
        if self.drawn {
            let _ = write!(err, "\r\x1b[2K");
            self.drawn = false;
        }
    }

    /// Redraws the bar (nothing between steps). The cursor is left at the
    /// start of the line, so a line written by any other part of the
    /// harness overwrites the bar instead of running on after it.
    fn draw(&mut self, units: &Units, err: &mut impl Write) {
        let Some(cur) = &self.current else {
            return;
        };
        let now = Instant::now();
        let elapsed = now - cur.started;
        let u = StepUnits::of(units.get(), cur.started);
        let eta = self.eta.remaining(cur.step, elapsed, u);
        let width = terminal_width();
        let text = frame(&cur.label, u, elapsed, now - self.started, eta, width);
        let text = match (self.color, text.split_once(") ")) {
            (true, Some((head, tail))) => format!("\x1b[1m{head})\x1b[0m {tail}"),
            _ => text,
        };
        let _ = write!(err, "\r\x1b[2K{text}\r");
        let _ = err.flush();
        self.drawn = true;
    }
}

/// The progress display of one run; the bar (and its redraw thread) goes
/// when it is dropped.
pub struct Progress {
    mode: Mode,
    shared: Arc<Mutex<Shared>>,
    units: Arc<Units>,
    stop: Option<Sender<()>>,
    redraw: Option<JoinHandle<()>>,
}

impl Progress {
    /// For steps with these estimates, showing what the scenarios report
    /// to `units`.
    pub fn new(mode: Mode, estimates: Vec<Duration>, units: Arc<Units>) -> Self {
        let shared = Arc::new(Mutex::new(Shared {
            eta: Eta::new(estimates),
            current: None,
            started: Instant::now(),
            color: matches!(mode, Mode::Bar { color: true }),
            drawn: false,
        }));
        let (mut stop, mut redraw) = (None, None);
        if let Mode::Bar { .. } = mode {
            let (tx, rx) = mpsc::channel::<()>();
            let (s, u) = (Arc::clone(&shared), Arc::clone(&units));
            redraw = Some(std::thread::spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(REDRAW) {
                    if let Ok(mut s) = s.lock() {
                        s.draw(&u, &mut std::io::stderr().lock());
                    }
                }
            }));
            stop = Some(tx);
        }
        Progress {
            mode,
            shared,
            units,
            stop,
            redraw,
        }
    }

    fn shared(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Step `step` (`label`: `[2/10] cpu-quota (native)`) starts.
    pub fn start(&self, step: usize, label: &str) {
        self.units.reset();
        match self.mode {
            Mode::Plain => eprintln!("isobench: {label} ..."),
            Mode::Bar { .. } => {
                let mut s = self.shared();
                s.current = Some(Current {
                    step,
                    label: label.to_string(),
                    started: Instant::now(),
                });
                s.draw(&self.units, &mut std::io::stderr().lock());
            }
        }
    }

    /// Step `step` ended after `took`; `how` is "done in" or
    /// "interrupted after".
    pub fn finish(&self, step: usize, label: &str, how: &str, took: Duration) {
        self.step_ended(step, took);
        self.line(&format!(
            "isobench: {label} {how} {:.1} s",
            took.as_secs_f64()
        ));
    }

    /// Step `step` ended after `took`, without a line (the caller prints
    /// its own: a VM guest's).
    pub fn step_ended(&self, step: usize, took: Duration) {
        let mut s = self.shared();
        s.eta.finished(step, took);
        s.current = None;
    }

    /// Step `step` does not run (a skip row).
    pub fn dropped(&self, step: usize) {
        self.shared().eta.dropped(step);
    }

    /// Prints a line of its own above the bar.
    pub fn line(&self, text: &str) {
        let mut s = self.shared();
        let mut err = std::io::stderr().lock();
        s.clear(&mut err);
        let _ = writeln!(err, "{text}");
        s.draw(&self.units, &mut err);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.redraw.take() {
            let _ = t.join();
        }
        let mut s = self.shared();
        s.current = None;
        s.clear(&mut std::io::stderr().lock());
    }
}

/// Columns of the terminal on stderr (80 when it cannot say).
fn terminal_width() -> usize {
    // SAFETY: TIOCGWINSZ fills a local winsize.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    if ok && ws.ws_col > 0 {
        usize::from(ws.ws_col)
    } else {
        80
    }
}

/// Bytes under `dir` (files of any depth): what a download into it has
/// written so far.
fn bytes_under(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => bytes_under(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// `12.3 MiB of 30.1 MiB (41%), 2.1 MiB/s, 8 s left`: a download's state.
pub fn bytes_line(done: u64, total: Option<u64>, elapsed: Duration) -> String {
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let rate = mib(done) / elapsed.as_secs_f64().max(1e-3);
    match total.filter(|t| *t > 0) {
        Some(t) => {
            let left = if rate > 0.0 && t > done {
                format!(", {:.0} s left", (mib(t) - mib(done)) / rate)
            } else {
                String::new()
            };
            format!(
                "{:.1} MiB of {:.1} MiB ({:.0}%), {rate:.1} MiB/s{left}",
                mib(done),
                mib(t),
                100.0 * done.min(t) as f64 / t as f64
            )
        }
        None => format!("{:.1} MiB, {rate:.1} MiB/s", mib(done)),
    }
}

/// A download's progress on stderr while another process (apt-get) writes
/// into `dir`: on a terminal one line redrawn in place with bytes, rate and
/// time left; otherwise a line when it starts and one when it ends.
pub struct ByteCounter {
    label: String,
    started: Instant,
    dir: std::path::PathBuf,
    stop: Option<Sender<()>>,
    redraw: Option<JoinHandle<()>>,
}

impl ByteCounter {
    /// Starts showing the download of `label` (`total` bytes when known).
    pub fn start(label: &str, total: Option<u64>, dir: &std::path::Path) -> Self {
        let started = Instant::now();
        let tty = std::io::stderr().is_terminal();
        let size = total.map_or(String::new(), |t| {
            format!(" ({:.1} MiB)", t as f64 / (1024.0 * 1024.0))
        });
        let (stop, redraw) = if tty {
            let (tx, rx) = mpsc::channel::<()>();
            let (label, dir) = (label.to_string(), dir.to_path_buf());
            let h = std::thread::spawn(move || loop {
                let line = bytes_line(bytes_under(&dir), total, started.elapsed());
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2Kisobench: downloading {label}: {line}");
                let _ = err.flush();
                drop(err);
                match rx.recv_timeout(REDRAW) {
                    Err(RecvTimeoutError::Timeout) => continue,
                    _ => break,
                }
            });
            (Some(tx), Some(h))
        } else {
            eprintln!("isobench: downloading {label}{size} …");
            (None, None)
        };
        ByteCounter {
            label: label.to_string(),
            started,
            dir: dir.to_path_buf(),
            stop,
            redraw,
        }
    }

    /// Ends the display: the final size and time when `ok`.
    pub fn finish(mut self, ok: bool) {
        let bytes = bytes_under(&self.dir);
        self.end();
        if ok {
            eprintln!(
                "isobench: downloaded {}: {:.1} MiB in {:.1} s",
                self.label,
                bytes as f64 / (1024.0 * 1024.0),
                self.started.elapsed().as_secs_f64()
            );
        }
    }

    fn end(&mut self) {
        drop(self.stop.take());
        if let Some(h) = self.redraw.take() {
            let _ = h.join();
            eprint!("\r\x1b[2K");
        }
    }
}

impl Drop for ByteCounter {
    fn drop(&mut self) {
        self.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    fn no_units() -> StepUnits {
        StepUnits::default()
    }

    #[test]
    fn before_any_step_the_eta_is_the_sum_of_estimates() {
        let eta = Eta::new(vec![secs(10.0), secs(20.0), secs(5.0)]);
        assert_eq!(eta.ratio(), 1.0);
        assert_eq!(eta.remaining(0, Duration::ZERO, no_units()), secs(35.0));
        assert_eq!(eta.remaining(0, secs(4.0), no_units()), secs(31.0));
    }

    #[test]
    fn finished_steps_scale_the_rest_by_actual_over_estimated() {
        let mut eta = Eta::new(vec![secs(10.0), secs(20.0), secs(5.0)]);
        eta.finished(0, secs(20.0));
        // 20 s for 10 estimated, with 10 s as estimated before them.
        assert_eq!(eta.ratio(), 1.5);
        // Step 1 (20 s × 1.5) 10 s in, then step 2 (5 s × 1.5).
        assert_eq!(eta.remaining(1, secs(10.0), no_units()), secs(27.5));
        eta.finished(1, secs(60.0));
        assert_eq!(eta.ratio(), 2.25);
    }

    #[test]
    fn a_step_past_its_estimate_counts_as_nothing_left_of_it() {
        let eta = Eta::new(vec![secs(10.0), secs(5.0)]);
        assert_eq!(eta.remaining(0, secs(30.0), no_units()), secs(5.0));
    }

    #[test]
    fn units_give_the_pace_of_the_running_step() {
        let eta = Eta::new(vec![secs(100.0), secs(5.0)]);
        // 2 of 6 units in 4 s: 2 s each, 4 left = 8 s, 1 s of it gone.
        let u = StepUnits {
            done: 2,
            total: 6,
            last_at: secs(4.0),
        };
        assert_eq!(eta.step_remaining(0, secs(5.0), u), secs(7.0));
        assert_eq!(eta.remaining(0, secs(5.0), u), secs(12.0));
    }

    #[test]
    fn dropped_steps_cost_nothing_and_leave_the_ratio_alone() {
        let mut eta = Eta::new(vec![secs(10.0), secs(20.0), secs(5.0)]);
        eta.dropped(1);
        eta.finished(0, secs(5.0));
        assert_eq!(eta.ratio(), 0.75);
        assert_eq!(eta.remaining(2, Duration::ZERO, no_units()), secs(3.75));
    }

    #[test]
    fn the_ratio_is_bounded() {
        let mut eta = Eta::new(vec![secs(1.0), secs(1.0)]);
        eta.finished(0, secs(1000.0));
        assert_eq!(eta.ratio(), 10.0);
    }

    #[test]
    fn the_bar_shows_units_times_and_eta_within_the_width() {
        let u = StepUnits {
            done: 3,
            total: 6,
            last_at: secs(3.0),
        };
        let f = frame(
            "[2/10] cpu-quota (native)",
            u,
            secs(4.3),
            secs(75.0),
            secs(3725.0),
            200,
        );
        assert_eq!(
            f,
            "[2/10] cpu-quota (native) |######------| 3/6  ETA 1:02:05  (4.3 s, suite 1:15)"
        );
        assert_eq!(
            frame("[1/1] x (native)", u, secs(1.0), secs(1.0), secs(1.0), 20)
                .chars()
                .count(),
            19
        );
        let none = frame(
            "[1/1] x (native)",
            no_units(),
            secs(1.0),
            secs(1.0),
            secs(61.0),
            200,
        );
        assert_eq!(none, "[1/1] x (native)  ETA 1:01  (1.0 s, suite 0:01)");
    }

    /// A scenario's estimate on 2 CPUs with `table` over its quick config.
    fn estimate(name: &str, table: &str) -> f64 {
        let t: toml::Table = table.parse().expect("test table");
        crate::scenarios::ScenarioSpec::parse(name, crate::scenarios::Level::Quick, Some(&t))
            .expect("valid test config")
            .estimate(2)
            .as_secs_f64()
    }

    /// Asserts that `large` over `small` scales `name`'s estimate by lo – hi.
    fn scales(name: &str, small: &str, large: &str, lo: f64, hi: f64) {
        let (s, l) = (estimate(name, small), estimate(name, large));
        let r = l / s;
        assert!(
            s > 0.0 && (lo - 1e-6..=hi + 1e-6).contains(&r),
            "{name}: {small} gives {s} s, {large} {l} s (× {r}, expected {lo} – {hi})"
        );
    }

    #[test]
    fn every_estimate_follows_its_parameters() {
        // Twice the repetitions, twice the time.
        for (name, reps) in [
            ("memory-oom", 2),
            ("memory-high", 1),
            ("pagecache", 1),
            ("pids", 1),
        ] {
            let twice = format!("repetitions = {}", 2 * reps);
            scales(name, &format!("repetitions = {reps}"), &twice, 2.0, 2.0);
        }
        // cpu-weight's idle-sibling arm runs once, whatever the repetitions,
        // and so does cpu-quota's longer PSI-trigger run.
        scales("cpu-weight", "repetitions = 1", "repetitions = 2", 1.5, 2.0);
        scales("cpu-quota", "repetitions = 1", "repetitions = 2", 1.5, 2.0);
        // Each one's own size: twice as much, nearly twice the time (a fixed
        // launch cost apart).
        for (name, small, large, lo) in [
            // (cpu-quota: the trigger run spins 3.5 s at least.)
            ("cpu-quota", "seconds = 2.0", "seconds = 4.0", 1.5),
            ("cpu-weight", "seconds = 2.0", "seconds = 4.0", 1.5),
            ("cpuset", "seconds = 2.0", "seconds = 4.0", 1.5),
            ("cpu-latency", "count = 20", "count = 40", 1.7),
            ("pagecache", "factor = 4.0", "factor = 8.0", 1.5),
            ("pids", "spawns = 200", "spawns = 400", 1.2),
            ("startup", "launches = 100", "launches = 200", 1.7),
            ("isolation", "sets = ['pid']", "sets = ['pid', 'all']", 1.2),
        ] {
            scales(name, small, large, lo, 2.0);
        }
    }

    #[test]
    fn a_bar_only_on_a_real_terminal_and_colour_unless_no_color() {
        assert_eq!(Mode::decide(false, Some("xterm"), None), Mode::Plain);
        assert_eq!(Mode::decide(true, Some("dumb"), None), Mode::Plain);
        assert_eq!(
            Mode::decide(true, Some("xterm"), None),
            Mode::Bar { color: true }
        );
        assert_eq!(
            Mode::decide(true, None, Some("1")),
            Mode::Bar { color: false }
        );
        assert_eq!(
            Mode::decide(true, None, Some("")),
            Mode::Bar { color: true }
        );
    }

    #[test]
    fn byte_lines_give_size_share_rate_and_time_left() {
        let mib = 1024 * 1024;
        let l = bytes_line(10 * mib, Some(40 * mib), secs(5.0));
        assert_eq!(l, "10.0 MiB of 40.0 MiB (25%), 2.0 MiB/s, 15 s left");
        assert_eq!(bytes_line(3 * mib, None, secs(1.0)), "3.0 MiB, 3.0 MiB/s");
        let done = bytes_line(40 * mib, Some(40 * mib), secs(4.0));
        assert_eq!(done, "40.0 MiB of 40.0 MiB (100%), 10.0 MiB/s");
    }
}
