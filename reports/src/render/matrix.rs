//! The report's matrices, generic over scenario and check names so a new
//! scenario shows up without touching this file:
//! - behaviour: one row per (scenario, check), one column per launcher, each
//!   cell the worst status over that check's points with the observed value;
//! - startup beside it: `ready` p50 / p99 per launcher and point;
//! - per point: one row per check, one column per point of a scenario for one
//!   launcher (the isolation matrix: namespace set × check).

use super::content::{Cell, Table};
use crate::key::param_value_text;
use crate::names::startup;
use crate::schema::{RunResults, ScenarioResult, Status};
use crate::units::format_value;

/// The scenario whose points get a matrix of their own (namespace set ×
/// check); its name in results.
pub const ISOLATION: &str = "isolation";

/// The pseudo-check of a scenario that did not complete.
pub const COMPLETED: &str = "(scenario completed)";

/// Longest observed text shown inside a matrix cell (the rest is in the
/// cell's title and in the checks table).
const NOTE_CHARS: usize = 90;

/// Launcher labels in first-seen order, without the harness's own row.
pub fn launchers(r: &RunResults) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in r.scenarios.iter().filter(|s| s.name != "harness") {
        if !out.contains(&s.launcher) {
            out.push(s.launcher.clone());
        }
    }
    out
}

/// `text` cut to `max` characters, with an ellipsis when cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// One check's verdicts on one point: (status, observed, detail).
type Verdict = (Status, String, String);

fn verdicts(s: &ScenarioResult) -> Vec<(String, Verdict)> {
    let mut v: Vec<(String, Verdict)> = s
        .checks
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                (c.status, c.observed.clone(), c.detail.clone()),
            )
        })
        .collect();
    if let Some(e) = &s.error {
        v.push((COMPLETED.into(), (Status::Fail, "error".into(), e.clone())));
    }
    v
}

/// A status cell with a short note (the observed value) and the full text
/// as its title.
fn verdict_cell(status: Status, label: String, observed: &str, detail: &str) -> Cell {
    let mut c = Cell::status(status);
    c.text = label;
    c.note = clip(observed, NOTE_CHARS);
    c.title = if detail.is_empty() {
        observed.to_string()
    } else {
        format!("{observed} — {detail}")
    };
    c
}

/// Launcher × check: the worst status of each check over its points per
/// launcher (`fail 1/3` says one of three points failed), with the worst
/// point's observed value. None when the run has no checks.
pub fn behaviour(r: &RunResults) -> Option<Table> {
    let launchers = launchers(r);
    type Row = ((String, String), Vec<Vec<Verdict>>);
    let mut rows: Vec<Row> = Vec::new();
    for s in &r.scenarios {
        let Some(col) = launchers.iter().position(|l| *l == s.launcher) else {
            continue;
        };
        for (check, v) in verdicts(s) {
            let key = (s.name.clone(), check);
            let i = match rows.iter().position(|(k, _)| *k == key) {
                Some(i) => i,
                None => {
                    rows.push((key, vec![Vec::new(); launchers.len()]));
                    rows.len() - 1
                }
            };
            rows[i].1[col].push(v);
        }
    }
    if rows.is_empty() {
        return None;
    }
    // Scenarios in run order, their checks in first-seen order.
    let order: Vec<String> = {
        let mut o: Vec<String> = Vec::new();
        for ((sc, _), _) in &rows {
            if !o.contains(sc) {
                o.push(sc.clone());
            }
        }
        o
    };
    rows.sort_by_key(|((sc, _), _)| order.iter().position(|x| x == sc));
    let mut headers = vec!["scenario".to_string(), "check".to_string()];
    headers.extend(launchers.iter().cloned());
    let n = headers.len();
    let mut widths = vec![11, 15];
    let each = (100 - 26) / launchers.len().max(1) as u16;
    widths.extend(std::iter::repeat_n(each, launchers.len()));
    Some(Table {
        headers,
        numeric: vec![false; n],
        widths,
        rows: rows
            .into_iter()
            .map(|((scenario, check), cells)| {
                let mut row = vec![Cell::text(scenario), Cell::code(check)];
                row.extend(cells.into_iter().map(|vs| {
                    let Some(worst) = vs.iter().map(|v| v.0).max() else {
                        return Cell::text("–");
                    };
                    let (_, observed, detail) = vs.iter().find(|v| v.0 == worst).cloned().unwrap();
                    let hits = vs.iter().filter(|v| v.0 == worst).count();
                    let label = if vs.len() == 1 {
                        worst.as_str().to_string()
                    } else {
                        format!("{} {hits}/{}", worst.as_str(), vs.len())
                    };
                    verdict_cell(worst, label, &observed, &detail)
                }));
                row
            })
            .collect(),
    })
}

/// The params that tell `points` apart, in name order: those whose values
/// differ where present, then, only if labels still collide, those present
/// in some points and not others (`probe=escape`).
fn varying(points: &[&ScenarioResult]) -> Vec<String> {
    let mut keys: Vec<String> = points
        .iter()
        .flat_map(|p| p.params.keys().cloned())
        .collect();
    keys.sort();
    keys.dedup();
    let differs = |k: &String| {
        let mut vals = points.iter().filter_map(|p| p.params.get(k));
        let first = vals.next();
        vals.any(|v| Some(v) != first)
    };
    let mut out: Vec<String> = keys.iter().filter(|k| differs(k)).cloned().collect();
    let distinct = |ks: &[String]| {
        let mut labels: Vec<String> = points.iter().map(|p| point_label(p, ks)).collect();
        let n = labels.len();
        labels.sort();
        labels.dedup();
        labels.len() == n
    };
    if !distinct(&out) {
        let partial: Vec<String> = keys
            .iter()
            .filter(|k| !out.contains(k) && !points.iter().all(|p| p.params.contains_key(*k)))
            .cloned()
            .collect();
        out.extend(partial);
        out.sort();
    }
    out
}

/// How one point is named in a column or row header: its varying params.
fn point_label(p: &ScenarioResult, keys: &[String]) -> String {
    let parts: Vec<String> = keys
        .iter()
        .filter_map(|k| {
            p.params
                .get(k)
                .map(|v| format!("{k}={}", param_value_text(v)))
        })
        .collect();
    if parts.is_empty() {
        "(one point)".into()
    } else {
        parts.join(" ")
    }
}

/// Check × point for the points of `scenario` that `launcher` ran: one
/// column per point (headed by what varies between them), one row per check
/// in first-seen order; `–` where a point has no such check. None when the
/// launcher has no checks there.
pub fn per_point(r: &RunResults, scenario: &str, launcher: &str) -> Option<Table> {
    let all: Vec<&ScenarioResult> = r.scenarios.iter().filter(|s| s.name == scenario).collect();
    let points: Vec<&ScenarioResult> = all
        .iter()
        .copied()
        .filter(|s| s.launcher == launcher)
        .collect();
    if points.is_empty() {
        return None;
    }
    let keys = varying(&all);
    let mut checks: Vec<String> = Vec::new();
    for p in &points {
        for (c, _) in verdicts(p) {
            if !checks.contains(&c) {
                checks.push(c);
            }
        }
    }
    if checks.is_empty() {
        return None;
    }
    let mut headers = vec!["check".to_string()];
    headers.extend(points.iter().map(|p| point_label(p, &keys)));
    let n = headers.len();
    let mut widths = vec![16];
    let each = 84 / points.len() as u16;
    widths.extend(std::iter::repeat_n(each, points.len()));
    let per: Vec<Vec<(String, Verdict)>> = points.iter().map(|p| verdicts(p)).collect();
    Some(Table {
        headers,
        numeric: vec![false; n],
        widths,
        rows: checks
            .iter()
            .map(|c| {
                let mut row = vec![Cell::code(c.clone())];
                row.extend(per.iter().map(|vs| match vs.iter().find(|(n, _)| n == c) {
                    Some((_, (st, obs, det))) => verdict_cell(*st, st.as_str().into(), obs, det),
                    None => Cell::text("–"),
                }));
                row
            })
            .collect(),
    })
}

/// Startup beside the behaviour matrix: `ready` p50 / p99 per launcher
/// (columns) and startup point (rows, named by what varies). None without
/// startup results.
pub fn startup(r: &RunResults) -> Option<Table> {
    let all: Vec<&ScenarioResult> = r
        .scenarios
        .iter()
        .filter(|s| s.name == startup::SCENARIO)
        .collect();
    if all.is_empty() {
        return None;
    }
    let launchers: Vec<String> = launchers(r)
        .into_iter()
        .filter(|l| all.iter().any(|s| s.launcher == *l))
        .collect();
    let mut keys = varying(&all);
    if !keys.iter().any(|k| k == startup::NAMESPACES)
        && all
            .iter()
            .all(|s| s.params.contains_key(startup::NAMESPACES))
    {
        keys.insert(0, startup::NAMESPACES.to_string());
    }
    let mut labels: Vec<String> = Vec::new();
    for s in &all {
        let l = point_label(s, &keys);
        if !labels.contains(&l) {
            labels.push(l);
        }
    }
    let single = keys.len() == 1;
    if single {
        labels = labels
            .iter()
            .map(|l| l.split_once('=').map_or(l.clone(), |(_, v)| v.to_string()))
            .collect();
    }
    let label_of = |s: &ScenarioResult| {
        let l = point_label(s, &keys);
        if single {
            l.split_once('=').map_or(l.clone(), |(_, v)| v.to_string())
        } else {
            l
        }
    };
    let mut headers = vec![if single {
        keys[0].clone()
    } else {
        "startup point".to_string()
    }];
    headers.extend(launchers.iter().map(|l| format!("{l}: ready p50 / p99")));
    let n = headers.len();
    let mut widths = vec![31];
    let each = 69 / launchers.len().max(1) as u16;
    widths.extend(std::iter::repeat_n(each, launchers.len()));
    let rows = labels
        .iter()
        .map(|label| {
            let mut row = vec![Cell::code(label.clone())];
            row.extend(launchers.iter().map(|l| {
                let s = all
                    .iter()
                    .find(|s| s.launcher == *l && label_of(s) == *label);
                let m = s.and_then(|s| s.metrics.iter().find(|m| m.name == startup::READY));
                match (s, m) {
                    (_, Some(m)) if m.summary.n > 0 => Cell::text(format!(
                        "{} / {}",
                        format_value(m.summary.p50, &m.unit),
                        format_value(m.summary.p99, &m.unit)
                    )),
                    (Some(s), _) => match s.checks.iter().find(|c| c.status == Status::Skip) {
                        Some(c) => {
                            verdict_cell(Status::Skip, "skip".into(), &c.observed, &c.detail)
                        }
                        None => Cell::text("–"),
                    },
                    (None, _) => Cell::text("–"),
                }
            }));
            row
        })
        .collect();
    Some(Table {
        headers,
        numeric: vec![false; n],
        widths,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{empty_run, scenario};
    use crate::schema::{Check, Metric};
    use serde_json::json;

    fn point(
        name: &str,
        launcher: &str,
        params: serde_json::Value,
        checks: &[(&str, Status, &str)],
    ) -> ScenarioResult {
        let mut s = scenario(name, launcher, params);
        for (c, st, obs) in checks {
            s.checks.push(Check::new(*c, *st, "e", *obs, "why"));
        }
        s
    }

    #[test]
    fn behaviour_covers_any_scenario_with_worst_status_and_counts() {
        let mut r = empty_run("m");
        r.scenarios.push(point(
            "newthing",
            "native",
            json!({"x": 1}),
            &[("holds", Status::Pass, "1.0")],
        ));
        r.scenarios.push(point(
            "newthing",
            "native",
            json!({"x": 2}),
            &[("holds", Status::Fail, "0.5")],
        ));
        r.scenarios.push(point(
            "newthing",
            "runc",
            json!({"x": 1}),
            &[("holds", Status::Skip, "not run")],
        ));
        let t = behaviour(&r).unwrap();
        assert_eq!(t.headers, ["scenario", "check", "native", "runc"]);
        assert_eq!(t.rows.len(), 1);
        let native = &t.rows[0][2];
        assert_eq!(native.status, Some(Status::Fail));
        assert_eq!(native.text, "fail 1/2");
        assert_eq!(native.note, "0.5");
        assert_eq!(t.rows[0][3].text, "skip");
        assert_eq!(t.rows[0][3].note, "not run");
    }

    #[test]
    fn per_point_columns_are_named_by_what_varies() {
        let mut r = empty_run("m");
        r.scenarios.push(point(
            "isolation",
            "native",
            json!({"namespaces": "none", "q": 1}),
            &[("pid", Status::Pass, "host")],
        ));
        r.scenarios.push(point(
            "isolation",
            "native",
            json!({"namespaces": "pid", "q": 1}),
            &[
                ("pid", Status::Pass, "own"),
                ("leak", Status::Warn, "2 cpus"),
            ],
        ));
        let t = per_point(&r, "isolation", "native").unwrap();
        assert_eq!(t.headers, ["check", "namespaces=none", "namespaces=pid"]);
        assert_eq!(t.rows[1][1].text, "–");
        assert_eq!(t.rows[1][2].status, Some(Status::Warn));
        assert!(per_point(&r, "isolation", "runc").is_none());
    }

    #[test]
    fn startup_shows_p50_and_p99_with_units() {
        let mut r = empty_run("m");
        let mut s = scenario("startup", "native", json!({"namespaces": "pid"}));
        s.metrics.push(Metric::new(
            "ready",
            "s",
            crate::schema::Better::Lower,
            (1..=100).map(|i| i as f64 * 1e-5).collect(),
        ));
        r.scenarios.push(s);
        let t = startup(&r).unwrap();
        assert_eq!(t.headers[0], "namespaces");
        assert_eq!(t.headers[1], "native: ready p50 / p99");
        assert!(t.rows[0][1].text.contains("µs"), "{:?}", t.rows[0][1]);
    }

    #[test]
    fn clip_marks_what_it_cut() {
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }
}
