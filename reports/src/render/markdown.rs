//! report.md: the report's content as GitHub-flavoured Markdown, for a PR
//! comment or `$GITHUB_STEP_SUMMARY` (plots as links to the SVG files).

use std::fmt::Write;

use super::content::{self, Cell, Counts, Table};
use super::escape::{md_cell, md_code};
use super::matrix;
use super::RenderedPlot;
use crate::schema::{RunResults, Status};

fn status_md(s: Status) -> &'static str {
    match s {
        Status::Pass => "✅ pass",
        Status::Fail => "❌ fail",
        Status::Warn => "⚠️ warn",
        Status::Skip => "⏭️ skip",
    }
}

fn cell_md(c: &Cell) -> String {
    if let Some(s) = c.status {
        let mut t = status_md(s).to_string();
        if let Some(rest) = c.text.strip_prefix(s.as_str()) {
            t.push_str(rest);
        }
        if !c.note.is_empty() {
            t.push_str(" · ");
            t.push_str(&md_cell(&matrix::clip(&c.note, 60)));
        }
        return t;
    }
    if c.code && !c.text.is_empty() {
        return md_code(&c.text);
    }
    md_cell(&c.text)
}

pub(crate) fn table(out: &mut String, t: &Table) {
    let _ = writeln!(out, "| {} |", t.headers.join(" | "));
    let aligns: Vec<&str> = (0..t.headers.len())
        .map(|i| {
            if t.numeric.get(i).copied().unwrap_or(false) {
                "---:"
            } else {
                "---"
            }
        })
        .collect();
    let _ = writeln!(out, "|{}|", aligns.join("|"));
    for row in &t.rows {
        let cells: Vec<String> = row.iter().map(cell_md).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out.push('\n');
}

/// The whole document.
pub fn render(r: &RunResults, plots: &[RenderedPlot]) -> String {
    let counts = Counts::of(r);
    let mut out = String::new();
    let _ = writeln!(out, "# isobench report {}\n", md_code(&r.run_id));
    let headline = if counts.fail > 0 || counts.errors > 0 {
        "❌ **Some checks failed**"
    } else if counts.warn > 0 {
        "⚠️ **All checks passed, with warnings**"
    } else {
        "✅ **All checks passed**"
    };
    let _ = writeln!(out, "{headline} — {}\n", counts.line());
    if r.interrupted {
        out.push_str("> ⚠️ The run was interrupted: only completed scenarios are shown.\n\n");
    }
    out.push_str("## Needs attention\n\n");
    let attention = content::attention_table(r);
    if attention.rows.is_empty() {
        out.push_str("Every check passed.\n\n");
    } else {
        table(&mut out, &attention);
    }
    let passed = content::passed_table(r);
    if !passed.rows.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>{} passed check(s)</summary>\n",
            passed.rows.len()
        );
        table(&mut out, &passed);
        out.push_str("</details>\n\n");
    }
    if let Some(m) = matrix::behaviour(r) {
        out.push_str("## Behaviour matrix\n\n");
        out.push_str(
            "Worst status of each check over its points, per launcher (`fail 1/3`: one of \
             three points failed), with what that point observed.\n\n",
        );
        table(&mut out, &m);
        if let Some(st) = matrix::startup(r) {
            out.push_str("Startup latency (`ready`, p50 / p99):\n\n");
            table(&mut out, &st);
        }
    }
    out.push_str("## Environment\n\n");
    table(&mut out, &content::environment_table(r));
    for (name, results) in content::groups(r) {
        let _ = writeln!(out, "## {}\n", md_cell(&name));
        if name == matrix::ISOLATION {
            for l in matrix::launchers(r) {
                if let Some(t) = matrix::per_point(r, &name, &l) {
                    let _ = writeln!(out, "### Isolation matrix · {}\n", md_cell(&l));
                    table(&mut out, &t);
                }
            }
        }
        for p in plots.iter().filter(|p| p.spec.group == name) {
            match &p.svg {
                Ok(_) => {
                    let _ = writeln!(
                        out,
                        "![{}]({}.svg)\n\n*{}* ([PNG]({}.png))\n",
                        md_cell(&p.spec.title),
                        p.spec.id,
                        md_cell(&p.spec.caption),
                        p.spec.id
                    );
                }
                Err(e) => {
                    let _ = writeln!(
                        out,
                        "> Plot “{}” could not be drawn: {}\n",
                        md_cell(&p.spec.title),
                        md_cell(e)
                    );
                }
            }
        }
        for s in results {
            let _ = writeln!(
                out,
                "### {} · {}\n",
                md_cell(&name),
                md_cell(&content::result_heading(s))
            );
            if let Some(e) = &s.error {
                let _ = writeln!(out, "> ❌ Did not complete: {}\n", md_cell(e));
            }
            for why in content::skip_reasons(s) {
                let _ = writeln!(out, "> ⏭️ Skipped — {}\n", md_cell(&why));
            }
            for t in content::result_tables(s) {
                table(&mut out, &t);
            }
        }
    }
    out
}
