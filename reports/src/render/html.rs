//! report.html: one self-contained page (inline CSS, plots inline as SVG,
//! no scripts, nothing fetched from the network).

use std::fmt::Write;

use super::content::{self, Cell, Counts, Table};
use super::escape::html;
use super::matrix;
use super::RenderedPlot;
use crate::schema::{RunResults, Status};

pub(crate) const STYLE: &str = r#"
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif;
       margin: 0 auto; max-width: 1340px; padding: 1.2rem 1.5rem; color: #1b1f23; line-height: 1.45; }
h1 { margin-bottom: .2rem; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; margin-top: 2.5rem; }
h3 { margin-top: 1.6rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .85rem; table-layout: fixed; width: 100%; }
th, td { border: 1px solid #d0d7de; padding: .28rem .45rem; vertical-align: top; text-align: left;
         overflow-wrap: anywhere; word-break: break-word; }
th { background: #f6f8fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .85em; }
.status { font-weight: 600; }
.note { display: block; font-size: .8rem; color: #444; margin-top: .1rem; }
.pass { color: #1a7f37; } .fail { color: #cf222e; } .warn { color: #9a6700; } .skip { color: #57606a; }
tr.fail td { background: #ffebe9; } tr.warn td { background: #fff8c5; }
td.cell-fail { background: #ffebe9; } td.cell-warn { background: #fff8c5; } td.cell-skip { background: #f3f4f6; }
.banner { padding: .6rem 1rem; border-radius: 6px; font-weight: 600; margin: .8rem 0; }
.banner.pass { background: #dafbe1; } .banner.fail { background: #ffebe9; } .banner.warn { background: #fff8c5; }
details { margin: .5rem 0 1rem; } summary { cursor: pointer; font-weight: 600; }
.matrix { display: flex; gap: 1.2rem; align-items: flex-start; flex-wrap: wrap; }
.matrix > div.main { flex: 5 1 760px; min-width: 0; } .matrix > div.side { flex: 2 1 380px; min-width: 0; }
figure { margin: 1rem 0 1.8rem; } figure svg { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
figcaption { font-size: .9rem; color: #444; max-width: 960px; }
nav a { margin-right: .8rem; } .error { color: #cf222e; white-space: pre-wrap; }
.skipnote { background: #f3f4f6; border-left: 4px solid #8c959f; padding: .4rem .7rem; }
"#;

fn status_class(s: Status) -> &'static str {
    s.as_str()
}

fn cell_html(c: &Cell) -> String {
    if let Some(s) = c.status {
        let note = if c.note.is_empty() {
            String::new()
        } else {
            format!("<span class=\"note\">{}</span>", html(&c.note))
        };
        return format!(
            "<span class=\"status {}\">{}</span>{note}",
            status_class(s),
            html(&c.text)
        );
    }
    if c.code && !c.text.is_empty() {
        return format!("<code>{}</code>", html(&c.text));
    }
    html(&c.text)
}

pub(crate) fn table(out: &mut String, t: &Table) {
    out.push_str("<table>\n");
    if t.widths.len() == t.headers.len() {
        out.push_str("<colgroup>");
        for w in &t.widths {
            let _ = write!(out, "<col style=\"width:{w}%\">");
        }
        out.push_str("</colgroup>\n");
    }
    out.push_str("<thead><tr>");
    for h in &t.headers {
        let _ = write!(out, "<th>{}</th>", html(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &t.rows {
        let row_status = row.iter().find_map(|c| c.status);
        // Whole rows are coloured in lists of checks (one status column);
        // matrices colour each cell instead.
        let list = t.headers.iter().any(|h| h == "status");
        let statuses = if list { 1 } else { 2 };
        match row_status {
            Some(s @ (Status::Fail | Status::Warn)) if statuses == 1 => {
                let _ = write!(out, "<tr class=\"{}\">", status_class(s));
            }
            _ => out.push_str("<tr>"),
        }
        for (i, c) in row.iter().enumerate() {
            let num = t.numeric.get(i).copied().unwrap_or(false);
            let class = match c.status {
                Some(s @ (Status::Fail | Status::Warn | Status::Skip)) if statuses > 1 => {
                    format!(" class=\"cell-{}\"", status_class(s))
                }
                _ if num => " class=\"num\"".to_string(),
                _ => String::new(),
            };
            let title = if c.title.is_empty() || c.title == c.note {
                String::new()
            } else {
                format!(" title=\"{}\"", html(&c.title))
            };
            let _ = write!(out, "<td{class}{title}>{}</td>", cell_html(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

/// Drops the SVG namespace URL: inline SVG in HTML5 needs none, and the page
/// then contains no URL at all.
fn inline_svg(svg: &str) -> String {
    svg.replacen(" xmlns=\"http://www.w3.org/2000/svg\"", "", 1)
        .replacen(" xmlns:xlink=\"http://www.w3.org/1999/xlink\"", "", 1)
}

fn anchor(name: &str) -> String {
    format!("scenario-{}", crate::key::slug(name))
}

fn figure(out: &mut String, p: &RenderedPlot) {
    let id = html(&p.spec.id);
    let _ = writeln!(out, "<figure id=\"plot-{id}\">");
    match &p.svg {
        Ok(svg) => {
            out.push_str(&inline_svg(svg));
            let _ = write!(
                out,
                "\n<figcaption><strong>{}</strong> — {} (<a href=\"{id}.svg\">SVG</a>, \
                 <a href=\"{id}.png\">PNG</a>)</figcaption>\n",
                html(&p.spec.title),
                html(&p.spec.caption)
            );
        }
        Err(e) => {
            let _ = writeln!(
                out,
                "<p class=\"error\">Plot “{}” could not be drawn: {}</p>",
                html(&p.spec.title),
                html(e)
            );
        }
    }
    out.push_str("</figure>\n");
}

/// The whole page.
pub fn render(r: &RunResults, plots: &[RenderedPlot]) -> String {
    let counts = Counts::of(r);
    let groups = content::groups(r);
    let mut out = String::with_capacity(256 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>isobench report — {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        html(&r.run_id)
    );
    let _ = write!(
        out,
        "<h1>isobench report</h1>\n<p>Run <code>{}</code> · kernel <code>{}</code> · cgroup \
         <code>{}</code> · {}</p>\n",
        html(&r.run_id),
        html(&r.environment.kernel),
        html(&r.environment.cgroup_mode),
        html(&r.started_at)
    );
    let (class, headline) = if counts.fail > 0 || counts.errors > 0 {
        ("fail", "✘ Some checks failed")
    } else if counts.warn > 0 {
        ("warn", "⚠ All checks passed, with warnings")
    } else {
        ("pass", "✔ All checks passed")
    };
    let _ = writeln!(
        out,
        "<div class=\"banner {class}\">{headline} — {}</div>",
        html(&counts.line())
    );
    if r.interrupted {
        out.push_str(
            "<div class=\"banner warn\">The run was interrupted: only the scenarios that \
             completed are shown.</div>\n",
        );
    }
    out.push_str(
        "<nav><a href=\"#attention\">Needs attention</a><a href=\"#matrix\">Behaviour matrix</a>\
         <a href=\"#environment\">Environment</a>",
    );
    for (name, _) in &groups {
        let _ = write!(out, "<a href=\"#{}\">{}</a>", anchor(name), html(name));
    }
    out.push_str("</nav>\n");

    // What did not pass comes first, with its reasons in view.
    let attention = content::attention_table(r);
    out.push_str("<h2 id=\"attention\">Needs attention</h2>\n");
    if attention.rows.is_empty() {
        out.push_str("<p>Every check passed.</p>\n");
    } else {
        let _ = writeln!(
            out,
            "<p>{} check(s) did not pass: failures first, then warnings, then skips.</p>",
            attention.rows.len()
        );
        table(&mut out, &attention);
    }
    let passed = content::passed_table(r);
    if !passed.rows.is_empty() {
        let _ = writeln!(
            out,
            "<details id=\"passed\"><summary>{} passed check(s)</summary>",
            passed.rows.len()
        );
        table(&mut out, &passed);
        out.push_str("</details>\n");
    }

    if let Some(m) = matrix::behaviour(r) {
        out.push_str("<h2 id=\"matrix\">Behaviour matrix</h2>\n");
        out.push_str(
            "<p>One row per check, one column per launcher: the worst status over the \
             check's points (<em>fail 1/3</em>: one of three points failed) and what that \
             point observed (hover for the full text).</p>\n<div class=\"matrix\"><div class=\"main\">\n",
        );
        table(&mut out, &m);
        out.push_str("</div>\n");
        if let Some(st) = matrix::startup(r) {
            out.push_str("<div class=\"side\"><h3>Startup latency</h3>\n");
            table(&mut out, &st);
            out.push_str("</div>\n");
        }
        out.push_str("</div>\n");
    }

    out.push_str("<h2 id=\"environment\">Environment</h2>\n");
    table(&mut out, &content::environment_table(r));

    for (name, results) in &groups {
        let _ = writeln!(out, "<h2 id=\"{}\">{}</h2>", anchor(name), html(name));
        if name == matrix::ISOLATION {
            for l in matrix::launchers(r) {
                if let Some(t) = matrix::per_point(r, name, &l) {
                    let _ = writeln!(
                        out,
                        "<h3>Isolation matrix · {}</h3>\n<p>Namespace set (columns) × check \
                         (rows); hover a cell for its detail.</p>",
                        html(&l)
                    );
                    table(&mut out, &t);
                }
            }
        }
        for p in plots.iter().filter(|p| &p.spec.group == name) {
            figure(&mut out, p);
        }
        for s in results {
            let heading = content::result_heading(s);
            if let Some(e) = &s.error {
                let _ = writeln!(
                    out,
                    "<h3>{} · {}</h3>\n<p class=\"error\">Did not complete: {}</p>",
                    html(name),
                    html(&heading),
                    html(e)
                );
            }
            let tables = content::result_tables(s);
            let skips = content::skip_reasons(s);
            if tables.is_empty() {
                if s.error.is_none() {
                    let _ = writeln!(out, "<h3>{} · {}</h3>", html(name), html(&heading));
                    if skips.is_empty() {
                        out.push_str("<p>No metrics or series recorded.</p>\n");
                    }
                }
                for why in &skips {
                    let _ = writeln!(out, "<p class=\"skipnote\">Skipped — {}</p>", html(why));
                }
                continue;
            }
            let _ = writeln!(
                out,
                "<details><summary>{} · {} — metrics</summary>",
                html(name),
                html(&heading)
            );
            for why in &skips {
                let _ = writeln!(out, "<p class=\"skipnote\">Skipped — {}</p>", html(why));
            }
            for t in &tables {
                table(&mut out, t);
            }
            out.push_str("</details>\n");
        }
    }
    // Plots whose group has no section (cannot happen with the built-in
    // builders, but never drop a plot silently).
    for p in plots
        .iter()
        .filter(|p| !groups.iter().any(|g| g.0 == p.spec.group))
    {
        figure(&mut out, p);
    }
    let _ = write!(
        out,
        "<footer><p>isobench-reports {} · results schema <code>{}</code></p></footer>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        html(&r.schema)
    );
    out
}
