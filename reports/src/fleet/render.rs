//! fleet.md and fleet.html: the same tables (nodes, groups, problems, node ×
//! check, metric spread) in both formats, laid out by the run report's
//! table renderers.

use std::fmt::Write;

use super::{Fleet, MAD_FACTOR, MIN_BAND_FRACTION, MIN_NODES_FOR_SPREAD};
use crate::render::content::{Cell, Table};
use crate::render::escape::html;
use crate::render::{html_table, md_table, HTML_STYLE};
use crate::schema::Status;
use crate::units::format_value;

/// Marks an outlier's value in the metric table.
pub const OUTLIER_MARK: &str = "⚠";

fn table(headers: &[&str], numeric: &[bool], rows: Vec<Vec<Cell>>) -> Table {
    Table {
        headers: headers.iter().map(|h| h.to_string()).collect(),
        numeric: numeric.to_vec(),
        rows,
        // No fixed widths: the fleet tables' columns depend on the nodes.
        widths: Vec::new(),
    }
}

/// One row per node: where it ran, its check counts, its outliers.
pub fn nodes_table(f: &Fleet) -> Table {
    let outliers = f.outlier_counts();
    let rows = f
        .nodes
        .iter()
        .map(|n| {
            let verdict = if n.fail > 0 || n.errors > 0 {
                Status::Fail
            } else {
                Status::Pass
            };
            vec![
                Cell::code(&n.node),
                Cell::status(verdict),
                Cell::text(&n.kernel),
                Cell::text(&n.cgroup_mode),
                Cell::text(&n.virtualization),
                Cell::text(n.pass.to_string()),
                Cell::text(n.fail.to_string()),
                Cell::text(n.warn.to_string()),
                Cell::text(n.skip.to_string()),
                Cell::text(n.errors.to_string()),
                Cell::text(outliers.get(&n.node).copied().unwrap_or(0).to_string()),
            ]
        })
        .collect();
    table(
        &[
            "node",
            "verdict",
            "kernel",
            "cgroup",
            "virt",
            "pass",
            "fail",
            "warn",
            "skip",
            "errored",
            "outlier metrics",
        ],
        &[
            false, false, false, false, false, true, true, true, true, true, true,
        ],
        rows,
    )
}

/// Nodes grouped by kernel, cgroup mode and runtime versions.
pub fn groups_table(f: &Fleet) -> Table {
    let rows = f
        .groups
        .iter()
        .map(|g| {
            vec![
                Cell::text(&g.kernel),
                Cell::text(&g.cgroup_mode),
                Cell::text(&g.runtimes),
                Cell::text(g.nodes.len().to_string()),
                Cell::code(g.nodes.join(", ")),
            ]
        })
        .collect();
    table(
        &["kernel", "cgroup", "runtimes", "nodes", "which"],
        &[false, false, false, true, false],
        rows,
    )
}

/// The node × check table: one row per check, one column per node
/// (`—` where a node lacks the check). With `only_problems`, rows where
/// every node passed or skipped are left out.
pub fn checks_table(f: &Fleet, only_problems: bool) -> Table {
    let names = f.node_names();
    let mut headers: Vec<&str> = vec!["scenario", "check"];
    headers.extend(names.iter().map(String::as_str));
    let rows = f
        .checks
        .iter()
        .filter(|c| {
            !only_problems
                || matches!(c.worst(), Some(Status::Fail | Status::Warn))
                || c.nodes.len() < names.len()
        })
        .map(|c| {
            let mut row = vec![Cell::code(&c.scenario), Cell::text(&c.check)];
            row.extend(names.iter().map(|n| match c.nodes.get(n) {
                Some(cell) => Cell::status(cell.status),
                None => Cell::text("—"),
            }));
            row
        })
        .collect();
    let numeric = vec![false; headers.len()];
    table(&headers, &numeric, rows)
}

/// Each metric's node medians, the fleet median and band, the outliers
/// marked. With `only_outliers`, metrics without an outlier are left out.
pub fn metrics_table(f: &Fleet, only_outliers: bool) -> Table {
    let names = f.node_names();
    let mut headers: Vec<&str> = vec!["scenario", "metric", "fleet median", "band"];
    headers.extend(names.iter().map(String::as_str));
    let rows = f
        .metrics
        .iter()
        .filter(|m| !only_outliers || !m.outliers.is_empty())
        .map(|m| {
            let band = match m.band {
                Some([lo, hi]) => format!(
                    "{} … {}",
                    format_value(lo, &m.unit),
                    format_value(hi, &m.unit)
                ),
                None => format!("< {MIN_NODES_FOR_SPREAD} nodes"),
            };
            let mut row = vec![
                Cell::code(&m.scenario),
                Cell::text(&m.metric),
                Cell::text(format_value(m.fleet_median, &m.unit)),
                Cell::text(band),
            ];
            row.extend(names.iter().map(|n| match m.medians.get(n) {
                Some(v) if m.outliers.contains(n) => {
                    Cell::text(format!("{OUTLIER_MARK} {}", format_value(*v, &m.unit)))
                }
                Some(v) => Cell::text(format_value(*v, &m.unit)),
                None => Cell::text("—"),
            }));
            row
        })
        .collect();
    let mut numeric = vec![false, false, true, false];
    numeric.extend(names.iter().map(|_| true));
    table(&headers, &numeric, rows)
}

/// One table as Markdown (what `isobench merge` prints).
pub fn markdown(t: &Table) -> String {
    let mut out = String::new();
    md_table(&mut out, t);
    out
}

/// The verdict line: how many nodes, and why the fleet failed.
pub fn verdict(f: &Fleet) -> String {
    let failing: std::collections::BTreeSet<&str> =
        f.failures.iter().map(|x| x.node.as_str()).collect();
    let mut s = format!(
        "{} node{}: {} with failing checks",
        f.nodes.len(),
        if f.nodes.len() == 1 { "" } else { "s" },
        failing.len()
    );
    if f.missing_count > 0 {
        let _ = write!(s, ", {} missing", f.missing_count);
    }
    let outliers = f.outlier_counts();
    if !outliers.is_empty() {
        let list: Vec<String> = outliers
            .iter()
            .map(|(n, c)| format!("{n} ({c} metric{})", if *c == 1 { "" } else { "s" }))
            .collect();
        let _ = write!(s, "; outliers: {}", list.join(", "));
    }
    s
}

fn rule_text() -> String {
    format!(
        "A node's value is its median; it is an outlier ({OUTLIER_MARK}) when it lies outside \
         the fleet median ± max({MAD_FACTOR} × 1.4826 × MAD, {:.0} %) of the node medians, on \
         a log scale when all are positive (the band is then median ×/÷ a factor); metrics \
         seen on fewer than {MIN_NODES_FOR_SPREAD} nodes flag nobody.",
        MIN_BAND_FRACTION * 100.0
    )
}

/// fleet.md.
pub fn render_markdown(f: &Fleet) -> String {
    let mut out = String::new();
    let mark = if f.failed() { "❌" } else { "✅" };
    let _ = writeln!(out, "# isobench fleet: {mark} {}\n", verdict(f));
    out.push_str("## Nodes\n\n");
    md_table(&mut out, &nodes_table(f));
    let problems = f.problems();
    if !problems.is_empty() {
        out.push_str("## Problems\n\n");
        for p in &problems {
            let _ = writeln!(out, "- {p}");
        }
        out.push('\n');
    }
    if !f.unexpected.is_empty() {
        let _ = writeln!(
            out,
            "Nodes not in the expected list: {}\n",
            f.unexpected.join(", ")
        );
    }
    out.push_str("## Groups (kernel, cgroup mode, runtimes)\n\n");
    md_table(&mut out, &groups_table(f));
    out.push_str("## Checks (node × check)\n\n");
    md_table(&mut out, &checks_table(f, false));
    out.push_str("## Metrics across nodes\n\n");
    let _ = writeln!(out, "{}\n", rule_text());
    md_table(&mut out, &metrics_table(f, false));
    out
}

/// fleet.html: one self-contained page, no scripts.
pub fn render_html(f: &Fleet) -> String {
    let mut out = String::new();
    let class = if f.failed() { "fail" } else { "pass" };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>isobench fleet</title>\n<style>{HTML_STYLE}\
         td.outlier {{ background: #fff8c5; font-weight: 600; }}</style>\n</head>\n<body>\n\
         <h1>isobench fleet</h1>\n<div class=\"banner {class}\">{}</div>\n",
        html(&verdict(f))
    );
    out.push_str("<h2>Nodes</h2>\n");
    html_table(&mut out, &nodes_table(f));
    let problems = f.problems();
    if !problems.is_empty() {
        out.push_str("<h2>Problems</h2>\n<ul>\n");
        for p in &problems {
            let _ = writeln!(out, "<li class=\"fail\">{}</li>", html(p));
        }
        out.push_str("</ul>\n");
    }
    if !f.unexpected.is_empty() {
        let _ = writeln!(
            out,
            "<p>Nodes not in the expected list: {}</p>",
            html(&f.unexpected.join(", "))
        );
    }
    out.push_str("<h2>Groups (kernel, cgroup mode, runtimes)</h2>\n");
    html_table(&mut out, &groups_table(f));
    out.push_str("<h2>Checks (node × check)</h2>\n");
    html_table(&mut out, &checks_table(f, false));
    out.push_str("<h2>Metrics across nodes</h2>\n");
    let _ = writeln!(out, "<p>{}</p>", html(&rule_text()));
    let mut metrics = String::new();
    html_table(&mut metrics, &metrics_table(f, false));
    // Highlight the outlier cells (their text starts with the mark).
    let marked = format!("<td class=\"num\">{}", html(OUTLIER_MARK));
    out.push_str(&metrics.replace(
        &marked,
        &format!("<td class=\"num outlier\">{OUTLIER_MARK}"),
    ));
    out.push_str("</body>\n</html>\n");
    out
}
