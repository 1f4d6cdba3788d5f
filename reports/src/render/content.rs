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
}

impl Cell {
    /// Plain text.
    pub fn text(t: impl Into<String>) -> Self {
        Cell {
            text: t.into(),
            status: None,
            code: false,
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

/// A table: headers, rows, and which columns hold numbers (right-aligned).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub headers: Vec<String>,
    pub numeric: Vec<bool>,
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
        rows,
    }
}

/// Every check of the run (and every scenario error), worst first.
pub fn checks_table(r: &RunResults) -> Table {
    let mut rows: Vec<(Status, Vec<Cell>)> = Vec::new();
    for s in &r.scenarios {
        let params = params_text(&s.params);
        if let Some(e) = &s.error {
            rows.push((
                Status::Fail,
                vec![
                    Cell::text(s.name.clone()),
                    Cell::text(s.launcher.clone()),
                    Cell::code(params.clone()),
                    Cell::text("(scenario completed)"),
                    Cell::status(Status::Fail),
                    Cell::text("scenario runs to completion"),
                    Cell::text("error"),
                    Cell::text(e.clone()),
                ],
            ));
        }
        for c in &s.checks {
            rows.push((
                c.status,
                vec![
                    Cell::text(s.name.clone()),
                    Cell::text(s.launcher.clone()),
                    Cell::code(params.clone()),
                    Cell::text(c.name.clone()),
                    Cell::status(c.status),
                    Cell::text(c.expected.clone()),
                    Cell::text(c.observed.clone()),
                    Cell::text(c.detail.clone()),
                ],
            ));
        }
    }
    // Stable sort: fail, skip, warn, pass; run order within each.
    rows.sort_by_key(|r| std::cmp::Reverse(r.0));
    Table {
        headers: [
            "scenario", "launcher", "params", "check", "status", "expected", "observed", "detail",
        ]
        .map(String::from)
        .to_vec(),
        numeric: vec![false; 8],
        rows: rows.into_iter().map(|r| r.1).collect(),
    }
}

/// The correctness matrix of a run with several launchers: one row per
/// scenario check, one column per launcher, the worst status over that
/// check's points (None with a single launcher).
pub fn launcher_matrix(r: &RunResults) -> Option<Table> {
    let mut launchers: Vec<String> = Vec::new();
    for s in r.scenarios.iter().filter(|s| s.name != "harness") {
        if !launchers.contains(&s.launcher) {
            launchers.push(s.launcher.clone());
        }
    }
    if launchers.len() < 2 {
        return None;
    }
    // (scenario, check) in run order → status per launcher.
    type Row = ((String, String), Vec<Option<Status>>);
    let mut rows: Vec<Row> = Vec::new();
    for s in &r.scenarios {
        let Some(col) = launchers.iter().position(|l| *l == s.launcher) else {
            continue;
        };
        let mut checks: Vec<(String, Status)> = s
            .checks
            .iter()
            .map(|c| (c.name.clone(), c.status))
            .collect();
        if s.error.is_some() {
            checks.push(("(scenario completed)".into(), Status::Fail));
        }
        for (name, status) in checks {
            let key = (s.name.clone(), name);
            let i = match rows.iter().position(|(k, _)| *k == key) {
                Some(i) => i,
                None => {
                    rows.push((key, vec![None; launchers.len()]));
                    rows.len() - 1
                }
            };
            let cell = &mut rows[i].1[col];
            *cell = Some(cell.map_or(status, |old| old.max(status)));
        }
    }
    let mut headers = vec!["scenario".to_string(), "check".to_string()];
    headers.extend(launchers.iter().cloned());
    let n = headers.len();
    Some(Table {
        headers,
        numeric: vec![false; n],
        rows: rows
            .into_iter()
            .map(|((scenario, check), cells)| {
                let mut row = vec![Cell::text(scenario), Cell::text(check)];
                row.extend(cells.into_iter().map(|c| match c {
                    Some(s) => Cell::status(s),
                    None => Cell::text("–"),
                }));
                row
            })
            .collect(),
    })
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
                (crate::schema::Better::Target, Some(t)) => format!("target {}", format_number(t)),
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
