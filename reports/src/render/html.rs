//! report.html: one self-contained page (inline CSS, plots inline as SVG,
//! no scripts, nothing fetched from the network).

use std::fmt::Write;

use super::content::{self, Cell, Counts, Table};
use super::escape::html;
use super::RenderedPlot;
use crate::schema::{RunResults, Status};

pub(crate) const STYLE: &str = r#"
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif;
       margin: 0 auto; max-width: 1200px; padding: 1.5rem; color: #1b1f23; line-height: 1.45; }
h1 { margin-bottom: .2rem; } h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; margin-top: 2.5rem; }
h3 { margin-top: 1.6rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .88rem; }
th, td { border: 1px solid #d0d7de; padding: .28rem .55rem; vertical-align: top; text-align: left; }
th { background: #f6f8fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .85em; }
.status { font-weight: 600; white-space: nowrap; }
.pass { color: #1a7f37; } .fail { color: #cf222e; } .warn { color: #9a6700; } .skip { color: #57606a; }
tr.fail td { background: #ffebe9; } tr.warn td { background: #fff8c5; }
.banner { padding: .6rem 1rem; border-radius: 6px; font-weight: 600; margin: .8rem 0; }
.banner.pass { background: #dafbe1; } .banner.fail { background: #ffebe9; } .banner.warn { background: #fff8c5; }
figure { margin: 1rem 0 1.8rem; } figure svg { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
figcaption { font-size: .9rem; color: #444; max-width: 960px; }
nav a { margin-right: .8rem; } .error { color: #cf222e; white-space: pre-wrap; }
"#;

fn status_class(s: Status) -> &'static str {
    s.as_str()
}

fn cell_html(c: &Cell) -> String {
    if let Some(s) = c.status {
        return format!(
            "<span class=\"status {}\">{}</span>",
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
    out.push_str("<table>\n<thead><tr>");
    for h in &t.headers {
        let _ = write!(out, "<th>{}</th>", html(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &t.rows {
        let row_status = row.iter().find_map(|c| c.status);
        match row_status {
            Some(s @ (Status::Fail | Status::Warn)) => {
                let _ = write!(out, "<tr class=\"{}\">", status_class(s));
            }
            _ => out.push_str("<tr>"),
        }
        for (i, c) in row.iter().enumerate() {
            let num = t.numeric.get(i).copied().unwrap_or(false);
            let _ = write!(
                out,
                "<td{}>{}</td>",
                if num { " class=\"num\"" } else { "" },
                cell_html(c)
            );
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
    out.push_str("<nav><a href=\"#environment\">Environment</a><a href=\"#checks\">Checks</a>");
    for (name, _) in &groups {
        let _ = write!(out, "<a href=\"#{}\">{}</a>", anchor(name), html(name));
    }
    out.push_str("</nav>\n");

    out.push_str("<h2 id=\"environment\">Environment</h2>\n");
    table(&mut out, &content::environment_table(r));
    if let Some(m) = content::launcher_matrix(r) {
        out.push_str("<h2 id=\"launchers\">Correctness by launcher</h2>\n");
        out.push_str("<p>Worst status of each check over its points, per launcher.</p>\n");
        table(&mut out, &m);
    }
    out.push_str("<h2 id=\"checks\">Checks</h2>\n");
    let checks = content::checks_table(r);
    if checks.rows.is_empty() {
        out.push_str("<p>No checks were recorded.</p>\n");
    } else {
        table(&mut out, &checks);
    }

    for (name, results) in &groups {
        let _ = writeln!(out, "<h2 id=\"{}\">{}</h2>", anchor(name), html(name));
        for p in plots.iter().filter(|p| &p.spec.group == name) {
            figure(&mut out, p);
        }
        for s in results {
            let _ = writeln!(
                out,
                "<h3>{} · {}</h3>",
                html(name),
                html(&content::result_heading(s))
            );
            if let Some(e) = &s.error {
                let _ = writeln!(out, "<p class=\"error\">Did not complete: {}</p>", html(e));
            }
            let tables = content::result_tables(s);
            for t in &tables {
                table(&mut out, t);
            }
            if tables.is_empty() && s.error.is_none() {
                out.push_str("<p>No metrics or series recorded.</p>\n");
            }
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
