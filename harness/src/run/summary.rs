//! The one-screen text summary `isobench run` prints.

use isobench_reports::{RunResults, ScenarioResult, Status};

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
