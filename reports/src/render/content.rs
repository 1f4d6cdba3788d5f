//! What a report says, independent of format: the HTML and Markdown
//! renderers lay out these same tables, so the two never drift apart.

use crate::compare::environment_fields;
use crate::key::params_text;
use crate::schema::{RunResults, ScenarioResult, Status};
use crate::units::{format_number, format_value};

/// One table cell; `status` lets renderers colour or mark it.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub text: String,
    pub status: Option<Status>,
    /// Show as code (keys, parameter lists).
    pub code: bool,
    /// Secondary text under the main one (a matrix cell's observed value).
    pub note: String,
    /// The full text behind a shortened cell (HTML title).
    pub title: String,
}

impl Cell {
    /// Plain text.
    pub fn text(t: impl Into<String>) -> Self {
        Cell {
            text: t.into(),
            status: None,
            code: false,
            note: String::new(),
            title: String::new(),
        }
    }

    /// Monospaced text.
    pub fn code(t: impl Into<String>) -> Self {
        Cell {
            code: true,
            ..Cell::text(t)
        }
    }

    /// A check status.
    pub fn status(s: Status) -> Self {
        Cell {
            status: Some(s),
            ..Cell::text(s.as_str())
        }
    }
}

/// A table: headers, rows, which columns hold numbers (right-aligned), and
/// each column's share of the page width in percent (empty: automatic).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub headers: Vec<String>,
    pub numeric: Vec<bool>,
    pub widths: Vec<u16>,
    pub rows: Vec<Vec<Cell>>,
}

/// How many checks ended in each status, and how many scenarios errored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub pass: usize,
    pub warn: usize,
    pub skip: usize,
    pub fail: usize,
    pub errors: usize,
}

impl Counts {
    /// Counts over a whole run.
    pub fn of(r: &RunResults) -> Self {
        let mut c = Counts::default();
        for s in &r.scenarios {
            if s.error.is_some() {
                c.errors += 1;
            }
            for k in &s.checks {
                match k.status {
                    Status::Pass => c.pass += 1,
                    Status::Warn => c.warn += 1,
                    Status::Skip => c.skip += 1,
                    Status::Fail => c.fail += 1,
                }
            }
        }
        c
    }

    /// One-line verdict: "12 checks: 10 pass, 1 warn, 1 skip, 0 fail".
    pub fn line(&self) -> String {
        let total = self.pass + self.warn + self.skip + self.fail;
        let mut s = format!(
            "{total} checks: {} pass, {} fail, {} warn, {} skip",
            self.pass, self.fail, self.warn, self.skip
        );
        if self.errors > 0 {
            s.push_str(&format!(
                "; {} scenario{} did not complete",
                self.errors,
                if self.errors == 1 { "" } else { "s" }
            ));
        }
        s
    }
}

/// The machine the run used.
pub fn environment_table(r: &RunResults) -> Table {
    let mut rows: Vec<Vec<Cell>> = environment_fields(&r.environment)
        .into_iter()
        .map(|(k, v)| vec![Cell::text(k), Cell::code(v)])
        .collect();
    rows.push(vec![Cell::text("run_id"), Cell::code(r.run_id.clone())]);
    rows.push(vec![
        Cell::text("started / finished"),
        Cell::text(format!("{} / {}", r.started_at, r.finished_at)),
    ]);
    Table {
        headers: ["field", "value"].map(String::from).to_vec(),
        numeric: vec![false, false],
        widths: vec![22, 78],
        rows,
    }
}

/// Every check of the run (and every scenario error) whose status is in
/// `wanted`: fail first, then warn, then skip, then pass; run order within
/// each.
pub fn checks_table(r: &RunResults, wanted: &[Status]) -> Table {
    let rank = |s: Status| match s {
        Status::Fail => 0,
        Status::Warn => 1,
        Status::Skip => 2,
        Status::Pass => 3,
    };
    let mut rows: Vec<(Status, Vec<Cell>)> = Vec::new();
    for s in &r.scenarios {
        let params = params_text(&s.params);
        if let (Some(e), true) = (&s.error, wanted.contains(&Status::Fail)) {
            rows.push((
                Status::Fail,
                vec![
                    Cell::text(s.name.clone()),
                    Cell::text(s.launcher.clone()),
                    Cell::code(params.clone()),
                    Cell::code(super::matrix::COMPLETED),
                    Cell::status(Status::Fail),
                    Cell::text("scenario runs to completion"),
                    Cell::text("error"),
                    Cell::text(e.clone()),
                ],
            ));
        }
        for c in s.checks.iter().filter(|c| wanted.contains(&c.status)) {
            rows.push((
                c.status,
                vec![
                    Cell::text(s.name.clone()),
                    Cell::text(s.launcher.clone()),
                    Cell::code(params.clone()),
                    Cell::code(c.name.clone()),
                    Cell::status(c.status),
                    Cell::text(c.expected.clone()),
                    Cell::text(c.observed.clone()),
                    Cell::text(c.detail.clone()),
                ],
            ));
        }
    }
    rows.sort_by_key(|r| rank(r.0));
    Table {
        headers: [
            "scenario", "launcher", "point", "check", "status", "expected", "observed", "detail",
        ]
        .map(String::from)
        .to_vec(),
        numeric: vec![false; 8],
        widths: vec![8, 7, 13, 10, 6, 17, 17, 22],
        rows: rows.into_iter().map(|r| r.1).collect(),
    }
}

/// The checks that did not pass (fail, warn, skip, errors), worst first.
pub fn attention_table(r: &RunResults) -> Table {
    checks_table(r, &[Status::Fail, Status::Warn, Status::Skip])
}

/// The checks that passed, in run order.
pub fn passed_table(r: &RunResults) -> Table {
    checks_table(r, &[Status::Pass])
}

/// Why a point recorded nothing to plot: its skip rows as
/// `check: observed (detail)`; empty when it skipped nothing.
pub fn skip_reasons(s: &ScenarioResult) -> Vec<String> {
    s.checks
        .iter()
        .filter(|c| c.status == Status::Skip)
        .map(|c| {
            let mut t = format!("{}: {}", c.name, c.observed);
            if !c.detail.is_empty() && !c.observed.contains(&c.detail) {
                t.push_str(&format!(" ({})", c.detail));
            }
            t
        })
        .collect()
}

/// The tables of one result: its metrics, then its series, each only when
/// it has rows.
pub fn result_tables(s: &ScenarioResult) -> Vec<Table> {
    let mut tables = Vec::new();
    if !s.metrics.is_empty() {
        tables.push(metrics_table(s));
    }
    if !s.series.is_empty() {
        tables.push(series_table(s));
    }
    tables
}

/// Summary statistics of each metric of one scenario result.
pub fn metrics_table(s: &ScenarioResult) -> Table {
    let rows = s
        .metrics
        .iter()
        .map(|m| {
            let v = |x: f64| {
                Cell::text(if m.summary.n == 0 {
                    "–".into()
                } else {
                    format_value(x, &m.unit)
                })
            };
            let better = match (m.better, m.target) {
                (crate::schema::Better::Target, Some(t)) => {
                    format!("target {}", format_value(t, &m.unit))
                }
                (b, _) => format!("{b:?}").to_lowercase(),
            };
            vec![
                Cell::code(m.name.clone()),
                Cell::text(m.unit.clone()),
                Cell::text(better),
                Cell::text(m.summary.n.to_string()),
                v(m.summary.min),
                v(m.summary.p50),
                v(m.summary.p90),
                v(m.summary.p99),
                v(m.summary.max),
                v(m.summary.mean),
            ]
        })
        .collect();
    Table {
        headers: [
            "metric", "unit", "better", "n", "min", "p50", "p90", "p99", "max", "mean",
        ]
        .map(String::from)
        .to_vec(),
        numeric: vec![
            false, false, false, true, true, true, true, true, true, true,
        ],
        widths: vec![22, 7, 11, 5, 9, 9, 9, 9, 9, 10],
        rows,
    }
}

/// What each recorded series covers (points, time span, value range).
pub fn series_table(s: &ScenarioResult) -> Table {
    let rows = s
        .series
        .iter()
        .map(|(name, pts)| {
            let fin: Vec<&[f64; 2]> = pts
                .iter()
                .filter(|p| p[0].is_finite() && p[1].is_finite())
                .collect();
            let (t0, t1, lo, hi) = fin.iter().fold(
                (
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                ),
                |(a, b, c, d), p| (a.min(p[0]), b.max(p[0]), c.min(p[1]), d.max(p[1])),
            );
            let span = if fin.is_empty() {
                "–".to_string()
            } else {
                format!("{} – {} s", format_number(t0), format_number(t1))
            };
            let range = if fin.is_empty() {
                "–".to_string()
            } else {
                format!("{} – {}", format_number(lo), format_number(hi))
            };
            vec![
                Cell::code(name.clone()),
                Cell::text(pts.len().to_string()),
                Cell::text(span),
                Cell::text(range),
            ]
        })
        .collect();
    Table {
        headers: ["series", "points", "time span", "value range"]
            .map(String::from)
            .to_vec(),
        numeric: vec![false, true, false, false],
        widths: vec![30, 10, 30, 30],
        rows,
    }
}

/// Scenario names in first-seen order, each with its results.
pub fn groups(r: &RunResults) -> Vec<(String, Vec<&ScenarioResult>)> {
    let mut out: Vec<(String, Vec<&ScenarioResult>)> = Vec::new();
    for s in &r.scenarios {
        match out.iter_mut().find(|g| g.0 == s.name) {
            Some(g) => g.1.push(s),
            None => out.push((s.name.clone(), vec![s])),
        }
    }
    out
}

/// Heading for one scenario result: `launcher · k=v k=v`.
pub fn result_heading(s: &ScenarioResult) -> String {
    let p = params_text(&s.params);
    if p.is_empty() {
        s.launcher.clone()
    } else {
        format!("{} · {}", s.launcher, p)
    }
}
