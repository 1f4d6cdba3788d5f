//! The one-screen text summary `isobench run` prints: a table sized to its
//! content (wrapped to the terminal's width on one), verdicts coloured only
//! where the stream is a terminal that wants colour (NO_COLOR honoured).

use std::fmt;
use std::io::{IsTerminal, Write};

use anstyle::{AnsiColor, Style};
use isobench_reports::{RunResults, ScenarioResult, Status};

/// The summary of a run; `Display` is the plain text, [`Summary::print`]
/// the terminal-aware rendering.
pub struct Summary<'a>(&'a RunResults);

/// A one-screen summary: a line per scenario point (key figure, verdict),
/// then every check that did not pass, then the totals.
pub fn summary(r: &RunResults) -> Summary<'_> {
    Summary(r)
}

impl fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&render(self.0, None, false))
    }
}

impl Summary<'_> {
    /// Prints to stdout: wrapped to the terminal's width and coloured
    /// when stdout is a terminal; colour goes through anstream, which
    /// strips it for a pipe, a file, NO_COLOR or a terminal without colour.
    pub fn print(&self) {
        let text = self.for_terminal(std::io::stdout().is_terminal(), libc::STDOUT_FILENO);
        let _ = anstream::stdout().write_all(text.as_bytes());
    }

    /// As [`Summary::print`], to stderr.
    pub fn eprint(&self) {
        let text = self.for_terminal(std::io::stderr().is_terminal(), libc::STDERR_FILENO);
        let _ = anstream::stderr().write_all(text.as_bytes());
    }

    fn for_terminal(&self, tty: bool, fd: libc::c_int) -> String {
        render(self.0, tty.then(|| terminal_width(fd)).flatten(), true)
    }
}

/// Columns of the terminal on `fd`, when it says.
fn terminal_width(fd: libc::c_int) -> Option<usize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct we own.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) };
    (rc == 0 && ws.ws_col > 0).then_some(usize::from(ws.ws_col))
}

/// One row of the table.
struct Row {
    cells: [String; 4],
    verdict: &'static str,
}

const HEADER: [&str; 4] = ["scenario", "launcher", "point", "key figure (p50)"];
/// The point column (the one that wraps) is never made narrower than this.
const MIN_POINT: usize = 16;

/// The summary text, verdicts styled when `color` (ANSI, which the
/// writer strips when not wanted); the point column wrapped to fit `width` when given.
fn render(r: &RunResults, width: Option<usize>, color: bool) -> String {
    let (mut pass, mut fail, mut skip, mut warn) = (0, 0, 0, 0);
    let mut problems = String::new();
    let mut rows = Vec::new();
    for sc in &r.scenarios {
        let point = point_label(sc);
        let verdict = if sc.error.is_some() {
            "ERROR"
        } else {
            verdict_word(
                sc.checks
                    .iter()
                    .map(|c| c.status)
                    .max()
                    .unwrap_or(Status::Pass),
            )
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
        if let Some(e) = &sc.error {
            fail += 1;
            problems += &format!(
                "{} {} [{}] {point}: {e}\n",
                styled("ERROR", color),
                sc.name,
                sc.launcher
            );
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
                    styled(verdict_word(c.status), color),
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
        rows.push(Row {
            cells: [sc.name.clone(), sc.launcher.clone(), point, key],
            verdict,
        });
    }
    let mut s = table(&rows, width, color);
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

/// The rows under a header, each column as wide as its widest cell; when
/// that is wider than `width`, the point column wraps at spaces.
fn table(rows: &[Row], width: Option<usize>, color: bool) -> String {
    let mut w = HEADER.map(|h| h.chars().count());
    for r in rows {
        for (w, c) in w.iter_mut().zip(&r.cells) {
            *w = (*w).max(c.chars().count());
        }
    }
    if let Some(width) = width {
        // Four separating spaces and "verdict"/"ERROR".
        let rest: usize = w[0] + w[1] + w[3] + 4 + "verdict".len();
        w[2] = w[2].min(width.saturating_sub(rest).max(MIN_POINT));
    }
    let line = |cells: [&str; 4], verdict: &str| {
        let mut l = String::new();
        for (c, w) in cells.iter().zip(w) {
            l += &format!("{c:<w$} ");
        }
        l += verdict;
        l.push('\n');
        l
    };
    let mut s = line(HEADER, "verdict");
    for r in rows {
        let wrapped = wrap(&r.cells[2], w[2]);
        for (i, part) in wrapped.iter().enumerate() {
            s += &if i == 0 {
                line(
                    [&r.cells[0], &r.cells[1], part, &r.cells[3]],
                    &styled(r.verdict, color),
                )
            } else {
                line(["", "", part, ""], "").trim_end().to_string() + "\n"
            };
        }
    }
    s
}

/// `text` in lines of at most `width` characters, broken at spaces (a
/// word longer than `width` stays whole).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let last = lines.last_mut().expect("lines starts non-empty");
        if last.is_empty() {
            last.push_str(word);
        } else if last.chars().count() + 1 + word.chars().count() <= width {
            last.push(' ');
            last.push_str(word);
        } else {
            lines.push(word.to_string());
        }
    }
    lines
}

fn verdict_word(s: Status) -> &'static str {
    match s {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Skip => "SKIP",
        Status::Warn => "WARN",
    }
}

/// A verdict word in its colour (when `color`): PASS green, FAIL and ERROR
/// bold red, WARN yellow, SKIP cyan.
fn styled(word: &str, color: bool) -> String {
    if !color {
        return word.to_string();
    }
    let style = match word {
        "PASS" => Style::new().fg_color(Some(AnsiColor::Green.into())),
        "FAIL" | "ERROR" => Style::new().bold().fg_color(Some(AnsiColor::Red.into())),
        "WARN" => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
        "SKIP" => Style::new().fg_color(Some(AnsiColor::Cyan.into())),
        _ => Style::new(),
    };
    format!("{style}{word}{style:#}")
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
    use isobench_reports::fixture::{empty_run, scenario};
    use isobench_reports::Check;
    use serde_json::json;

    /// A cpu-latency-like point whose label is far longer than 44 characters,
    /// a failing one and a skipped one.
    fn run() -> RunResults {
        let mut r = empty_run("t");
        let mut long = scenario(
            "cpu-latency",
            "native",
            json!({"quota_pct": 20, "period_ms": 100, "variant": "quota_with_tick_periodic_wakeups"}),
        );
        long.checks
            .push(Check::new("ok", Status::Pass, "e", "o", ""));
        let mut bad = scenario("memory-oom", "runc", json!({"variant": "anon_then_file"}));
        bad.checks
            .push(Check::new("killed", Status::Fail, "a kill", "none", ""));
        let mut skipped = scenario("pids", "native", json!({}));
        skipped.checks.push(Check::new(
            "max",
            Status::Skip,
            "e",
            "o",
            "no pids controller",
        ));
        r.scenarios = vec![long, bad, skipped];
        r
    }

    #[test]
    fn points_are_shown_whole_and_plain_text_has_no_escapes() {
        let text = summary(&run()).to_string();
        assert!(!text.contains('\u{1b}'), "{text}");
        let row = text.lines().find(|l| l.starts_with("cpu-latency")).unwrap();
        assert!(
            row.contains("period_ms=100 quota_pct=20 variant=quota_with_tick_periodic_wakeups"),
            "{text}"
        );
        assert!(!text.contains('…'), "{text}");
        assert!(
            text.contains("FAIL memory-oom [runc] variant=anon_then_file killed"),
            "{text}"
        );
        assert!(
            text.ends_with("1 passed, 1 failed, 1 skipped, 0 warned\n"),
            "{text}"
        );
    }

    #[test]
    fn a_narrow_terminal_wraps_the_point_column() {
        let plain = render(&run(), None, false);
        let narrow = render(&run(), Some(72), false);
        let table: Vec<&str> = narrow.lines().take_while(|l| !l.is_empty()).collect();
        assert!(table.len() > 4, "nothing wrapped:\n{narrow}");
        for l in &table {
            assert!(l.chars().count() <= 72, "{l:?} wider than 72:\n{narrow}");
        }
        // Every word of every point is still there, in order.
        let words = |t: &str| t.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        let plain_table: Vec<&str> = plain.lines().take_while(|l| !l.is_empty()).collect();
        let mut a = words(&plain_table.join(" "));
        let mut b = words(&table.join(" "));
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }

    #[test]
    fn colour_is_only_around_verdicts() {
        let coloured = render(&run(), None, true);
        assert!(coloured.contains("\u{1b}["), "{coloured}");
        let stripped = anstream::adapter::strip_str(&coloured).to_string();
        assert_eq!(stripped, render(&run(), None, false));
    }
}
