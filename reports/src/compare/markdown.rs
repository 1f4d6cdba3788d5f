//! Markdown rendering of a comparison: the verdict first, then what differs
//! between the machines, then the checks that changed, then every metric.

use std::fmt::Write;

use super::{Comparison, MetricCell, MetricRow, Verdict};
use crate::render::escape::{md_cell, md_code};
use crate::schema::{Better, Status};
use crate::units::{format_sig, format_value};

/// Regressions listed by name at the top; the tables show all of them.
const MAX_LISTED: usize = 25;

/// Renders the whole comparison.
pub fn render(c: &Comparison) -> String {
    let mut out = String::new();
    let regressions = c.regressions();
    let _ = writeln!(
        out,
        "## isobench compare: {}\n",
        if regressions.is_empty() {
            "✅ no regression".to_string()
        } else {
            format!(
                "❌ {} regression{}",
                regressions.len(),
                if regressions.len() == 1 { "" } else { "s" }
            )
        }
    );
    let news: Vec<String> = c
        .news
        .iter()
        .map(|n| {
            if n.runs > 1 {
                format!("{} ({} runs)", md_code(&n.info.label), n.runs)
            } else {
                md_code(&n.info.label)
            }
        })
        .collect();
    let base = if c.base_runs > 1 {
        format!("{} ({} runs)", md_code(&c.base.label), c.base_runs)
    } else {
        md_code(&c.base.label)
    };
    let _ = writeln!(
        out,
        "Baseline {} vs {}. Design: {}.\n\nA metric regresses only when the whole {:.0}% CI of \
         median(NEW)/median(BASE) lies beyond its threshold (default {}%) in the bad direction \
         and the p-value is below α (default {}){}. Bootstrap: {} resamples, seed {}.\n",
        base,
        news.join(", "),
        c.design.describe(),
        c.confidence * 100.0,
        c.gate.defaults.threshold_pct,
        c.gate.defaults.alpha,
        match c.gate.defaults.correction {
            super::Correction::Holm => ", p Holm-adjusted across all gated metrics of a run",
            super::Correction::None => "",
        },
        c.resamples,
        c.seed
    );
    for (j, n) in c.news.iter().enumerate() {
        let (gated, testable) = c.testable_counts(j);
        let _ = writeln!(
            out,
            "**Testable:** {testable} of {gated} gated metrics{} could show a change with the samples they have; the others are labelled `∅ not testable`, with the sample sizes in a footnote.\n",
            if c.news.len() > 1 {
                format!(" in {}", md_code(&n.info.label))
            } else {
                String::new()
            }
        );
    }
    if !regressions.is_empty() {
        out.push_str("**Regressions**\n\n");
        for r in regressions.iter().take(MAX_LISTED) {
            let _ = writeln!(out, "- {}", md_cell(r));
        }
        if regressions.len() > MAX_LISTED {
            let _ = writeln!(
                out,
                "- … and {} more (see the tables below)",
                regressions.len() - MAX_LISTED
            );
        }
        out.push('\n');
    }
    environment(c, &mut out);
    checks(c, &mut out);
    metrics(c, &mut out);
    coverage(c, &mut out);
    out
}

fn environment(c: &Comparison, out: &mut String) {
    out.push_str("### Environment\n\n");
    let e = &c.base.environment;
    let all_same = c.news.iter().all(|n| n.environment_differences.is_empty());
    if all_same {
        let _ = writeln!(
            out,
            "Same environment: kernel {}, cgroup {}, virtualization {}, {} CPUs ({}).\n",
            md_code(&e.kernel),
            md_code(&e.cgroup_mode),
            md_code(&e.virtualization),
            e.cpus,
            md_cell(&e.cpu_model)
        );
        return;
    }
    let mut fields: Vec<&str> = Vec::new();
    for n in &c.news {
        for d in &n.environment_differences {
            if !fields.contains(&d.field.as_str()) {
                fields.push(&d.field);
            }
        }
    }
    let _ = writeln!(out, "**Differs:** {}.\n", fields.join(", "));
    let base_fields = super::environment::fields(e);
    let first = format!("| field | {} (base) |", md_code(&c.base.label));
    arm_header(out, c, &first, "|---|---|");
    for f in &fields {
        let base_v = base_fields
            .iter()
            .find(|x| x.0 == *f)
            .map(|x| x.1.clone())
            .unwrap_or_else(|| "(absent)".into());
        let _ = write!(out, "| {} | {} |", f, md_cell(&base_v));
        for n in &c.news {
            match n.environment_differences.iter().find(|d| d.field == *f) {
                Some(d) => {
                    let _ = write!(out, " **{}** |", md_cell(&d.new));
                }
                None => {
                    let _ = write!(out, " {} |", md_cell(&base_v));
                }
            }
        }
        out.push('\n');
    }
    out.push('\n');
    let base_tcg = super::is_tcg(e);
    for n in &c.news {
        if base_tcg != super::is_tcg(&n.info.environment) {
            let _ = writeln!(
                out,
                "> ⚠️ One of {} and {} ran under QEMU TCG emulation: time metrics between them \
                 are {}.\n",
                md_code(&c.base.label),
                md_code(&n.info.label),
                super::TCG_NOTE
            );
        }
    }
}

/// A table's header row: the `first` columns, then one per NEW arm; and its
/// alignment row: `align`, then one plain column per arm.
fn arm_header(out: &mut String, c: &Comparison, first: &str, align: &str) {
    out.push_str(first);
    for n in &c.news {
        let _ = write!(out, " {} |", md_code(&n.info.label));
    }
    let _ = writeln!(out, "\n{align}{}", "---|".repeat(c.news.len()));
}

fn status_text(s: Option<Status>) -> String {
    match s {
        Some(Status::Pass) => "✅ pass".into(),
        Some(Status::Fail) => "❌ fail".into(),
        Some(Status::Warn) => "⚠️ warn".into(),
        Some(Status::Skip) => "⏭️ skip".into(),
        None => "(missing)".into(),
    }
}

fn checks(c: &Comparison, out: &mut String) {
    if c.checks.is_empty() {
        out.push_str("### Checks\n\nNo check changed status.\n\n");
        return;
    }
    out.push_str("### Checks that changed\n\n");
    arm_header(out, c, "| scenario | check | base |", "|---|---|---|");
    for row in &c.checks {
        let _ = write!(
            out,
            "| {} | {} | {} |",
            md_code(&row.scenario),
            md_cell(&row.check),
            status_text(row.base)
        );
        for ((s, reg), ch) in row.news.iter().zip(&row.regressed).zip(&row.changes) {
            let mark = match (reg, ch) {
                (true, Some(super::CheckChange::Skipped | super::CheckChange::Absent)) => {
                    " **(coverage lost)**"
                }
                (true, _) => " **(regression)**",
                (false, Some(super::CheckChange::Skipped | super::CheckChange::Absent)) => {
                    " (coverage lost, allowed)"
                }
                _ => "",
            };
            let _ = write!(out, " {}{} |", status_text(*s), mark);
        }
        out.push('\n');
    }
    out.push('\n');
}

/// The distinct notes of one table's verdicts, each printed once under it
/// and referred to by number (the same note on 60 rows would otherwise be
/// a fifth of a PR comment).
#[derive(Default)]
struct Notes(Vec<String>);

impl Notes {
    /// The number of `note`, numbering it on first use.
    fn number(&mut self, note: &str) -> usize {
        match self.0.iter().position(|n| n == note) {
            Some(i) => i + 1,
            None => {
                self.0.push(note.to_string());
                self.0.len()
            }
        }
    }

    /// `text` with the numbers of `notes` as one superscript (`… ¹˒²`).
    fn marked(&mut self, text: String, notes: &[&str]) -> String {
        if notes.is_empty() {
            return text;
        }
        let ks: Vec<String> = notes.iter().map(|n| self.number(n).to_string()).collect();
        format!("{text} <sup>{}</sup>", ks.join(","))
    }

    fn legend(&self, out: &mut String) {
        if self.0.is_empty() {
            return;
        }
        out.push('\n');
        for (i, n) in self.0.iter().enumerate() {
            let _ = writeln!(out, "<sup>{}</sup> {}  ", i + 1, md_cell(n));
        }
    }
}

/// What a verdict compared against its calibrated band says.
const BAND_NOTE: &str =
    "judged against the metric's calibrated run-to-run band ([[band]] in the gate), \
                         not the within-run noise alone";

fn verdict_text(cell: &MetricCell, notes: &mut Notes) -> String {
    let v = match cell.verdict {
        Verdict::Regressed if cell.fails_gate => "❌ **regressed**".to_string(),
        Verdict::Regressed => "regressed".to_string(),
        Verdict::Improved => "✅ improved".to_string(),
        Verdict::WithinNoise => "≈ within noise".to_string(),
        Verdict::Unchanged => "unchanged".to_string(),
        Verdict::NotComparable => "– not comparable".to_string(),
        Verdict::NotTestable => "∅ not testable".to_string(),
    };
    let mut marks = Vec::new();
    if cell.band && cell.testable {
        marks.push(BAND_NOTE);
    }
    if let Some(n) = &cell.note {
        marks.push(n.as_str());
    }
    notes.marked(v, &marks)
}

fn p_text(p: f64) -> String {
    if p.is_nan() {
        "–".into()
    } else if p < 0.001 {
        "<0.001".into()
    } else {
        format_sig(p, 2)
    }
}

/// `p=0.02` or `p<0.001`, for the compact multi-run cells.
fn p_inline(p: f64) -> String {
    let t = p_text(p);
    if t.starts_with('<') {
        format!("p{t}")
    } else {
        format!("p={t}")
    }
}

fn ratio_text(cell: &MetricCell) -> (String, String) {
    if !cell.ratio.is_finite() {
        return ("–".into(), "–".into());
    }
    let ci = if cell.ci_low.is_finite() && cell.ci_high.is_finite() {
        format!(
            "{}–{}",
            format_sig(cell.ci_low, 3),
            format_sig(cell.ci_high, 3)
        )
    } else {
        "–".into()
    };
    (format!("×{}", format_sig(cell.ratio, 3)), ci)
}

/// A metric key split into its point (`scenario[launcher]{params}`) and
/// the metric's own name.
fn split_key(key: &str) -> (&str, &str) {
    match key.find("}/") {
        Some(i) => (&key[..i + 1], &key[i + 2..]),
        None => key.rsplit_once('/').unwrap_or(("", key)),
    }
}

fn metric_label(r: &MetricRow) -> String {
    let mut s = md_code(split_key(&r.key).1);
    match (r.better, r.target) {
        (Better::Target, Some(t)) => {
            let _ = write!(s, " (distance to {})", crate::units::format_number(t));
        }
        (Better::Higher, _) => s.push_str(" ↑"),
        _ => {}
    }
    if r.limits.threshold_pct != 10.0 || r.limits.ignore {
        let _ = write!(
            s,
            " <sub>{}</sub>",
            if r.limits.ignore {
                "not gated".to_string()
            } else {
                format!("gate {}%", r.limits.threshold_pct)
            }
        );
    }
    s
}

/// Whether a row shows a change worth seeing (a regression, an
/// improvement, a missing side); the rest are collapsed.
fn notable(r: &MetricRow) -> bool {
    r.cells.iter().any(|c| match c {
        None => true,
        Some(c) => c.fails_gate || matches!(c.verdict, Verdict::Regressed | Verdict::Improved),
    })
}

/// One metric row of the table (single NEW run: one column set; several:
/// one compact cell per run).
fn metric_line(c: &Comparison, r: &MetricRow, notes: &mut Notes) -> String {
    let mut line = String::new();
    if c.news.len() == 1 {
        let base = format_value(r.base_median, &r.unit);
        match &r.cells[0] {
            Some(cell) => {
                let (ratio, ci) = ratio_text(cell);
                let n = if cell.n == r.base_n {
                    cell.n.to_string()
                } else {
                    format!("{} / {}", r.base_n, cell.n)
                };
                let _ = write!(
                    line,
                    "| {} | {n} | {} | {} | {} | {} | {} | {} |",
                    metric_label(r),
                    base,
                    format_value(cell.median, &r.unit),
                    ratio,
                    ci,
                    p_text(cell.p_adjusted),
                    verdict_text(cell, notes)
                );
            }
            None => {
                let _ = write!(
                    line,
                    "| {} | {} | {} | (missing) | – | – | – | – |",
                    metric_label(r),
                    r.base_n,
                    base
                );
            }
        }
    } else {
        let _ = write!(
            line,
            "| {} | {} |",
            metric_label(r),
            format_value(r.base_median, &r.unit)
        );
        for cell in &r.cells {
            match cell {
                Some(cell) => {
                    let (ratio, ci) = ratio_text(cell);
                    let _ = write!(
                        line,
                        " {} {} [{}] {} {} |",
                        format_value(cell.median, &r.unit),
                        ratio,
                        ci,
                        p_inline(cell.p_adjusted),
                        verdict_text(cell, notes)
                    );
                }
                None => line.push_str(" (missing) |"),
            }
        }
    }
    line.push('\n');
    line
}

fn metrics_header(c: &Comparison, out: &mut String) {
    if c.news.len() == 1 {
        out.push_str(
            "| metric | n | base median | new median | ratio | 95% CI | p | verdict |\n\
             |---|---:|---:|---:|---:|---:|---:|---|\n",
        );
    } else {
        arm_header(out, c, "| metric | base median |", "|---|---:|");
    }
}

/// Rows written until the document reaches this size; the rest are
/// counted and left to `--format json` (a PR comment takes 65,536
/// characters at most).
pub const BUDGET: usize = 60_000;

/// The rows under one header, grouped by point: a bold row naming the
/// point, then its metrics by their own names; the verdicts' notes as
/// numbered footnotes below.
fn rows(c: &Comparison, out: &mut String, rows: &[&MetricRow]) {
    metrics_header(c, out);
    let mut notes = Notes::default();
    let mut point = None;
    for (i, r) in rows.iter().enumerate() {
        let here = split_key(&r.key).0;
        let mut line = String::new();
        if point != Some(here) {
            let _ = writeln!(line, "| **{}** |", md_code(here));
        }
        line.push_str(&metric_line(c, r, &mut notes));
        if out.len() + line.len() > BUDGET {
            let _ = writeln!(
                out,
                "\n… and {} more row(s) left out to stay within a PR comment; \
                 `isobench compare --format json` has them all.",
                rows.len() - i
            );
            notes.legend(out);
            return;
        }
        point = Some(here);
        out.push_str(&line);
    }
    notes.legend(out);
}

fn metrics(c: &Comparison, out: &mut String) {
    out.push_str("### Metrics\n\n");
    if c.metrics.is_empty() {
        out.push_str("BASE has no metrics.\n\n");
        return;
    }
    let (shown, quiet): (Vec<&MetricRow>, Vec<&MetricRow>) =
        c.metrics.iter().partition(|r| notable(r));
    if shown.is_empty() {
        out.push_str("No metric regressed or improved beyond its threshold.\n\n");
    } else {
        rows(c, out, &shown);
    }
    if !quiet.is_empty() {
        let _ = writeln!(
            out,
            "\n<details><summary>{} metric(s) without a significant change (unchanged, \
             within noise, not comparable or not testable)</summary>\n",
            quiet.len()
        );
        rows(c, out, &quiet);
        out.push_str("\n</details>\n");
    }
    out.push_str(
        "\nratio = median(NEW) / median(BASE); for `better = target` metrics the distance \
         to the target is compared (medians shown are of the raw values); ↑ marks \
         higher-is-better metrics.\n\n",
    );
}

fn coverage(c: &Comparison, out: &mut String) {
    for n in &c.news {
        if n.missing.is_empty() && n.only_in_new.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "<details><summary>{}: {} metric(s) missing, {} only in this run</summary>\n",
            md_cell(&n.info.label),
            n.missing.len(),
            n.only_in_new.len()
        );
        for k in &n.missing {
            let _ = writeln!(out, "- missing: {}", md_code(k));
        }
        for k in &n.only_in_new {
            let _ = writeln!(out, "- only in new: {}", md_code(k));
        }
        out.push_str("\n</details>\n\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{empty_run, scenario};
    use crate::schema::Metric;

    /// A run with `points` × 10 metrics, each a few samples around `level`.
    fn big(points: usize, level: f64) -> crate::schema::RunResults {
        let mut r = empty_run("big");
        for p in 0..points {
            let mut s = scenario(
                "synthetic",
                "native",
                serde_json::json!({"point": p, "variant": "a-rather-long-variant-name"}),
            );
            for m in 0..10 {
                let v: Vec<f64> = (0..8).map(|i| level * (1.0 + 0.001 * i as f64)).collect();
                // Not a time unit: absolute times of one run per side are not gated.
                s.metrics.push(Metric::new(
                    &format!("metric_{m}"),
                    "bytes",
                    Better::Lower,
                    v,
                ));
            }
            r.scenarios.push(s);
        }
        r
    }

    #[test]
    fn a_same_build_compare_of_the_default_suites_size_shows_every_row() {
        // 45 points × 10 metrics: more than the 424 metrics of two real
        // default-suite runs (59,057 bytes of markdown, every row shown).
        let (base, new) = (big(45, 1e6), big(45, 1e6));
        let c = crate::compare::compare(&base, &[new], &crate::compare::Gate::default(), 1, 200);
        let md = c.to_markdown();
        assert!(!md.contains("left out"), "rows were cut");
        assert!(md.len() < BUDGET, "{} bytes", md.len());
        // Each point is named once, its metrics by their own names.
        assert_eq!(
            md.matches("{point=7 variant=a-rather-long-variant-name}")
                .count(),
            1
        );
        assert_eq!(md.matches("| `metric_3` |").count(), 45);
    }

    #[test]
    fn notes_are_numbered_once_and_marked_together() {
        let mut n = Notes::default();
        assert_eq!(n.marked("a".into(), &[]), "a");
        assert_eq!(n.marked("a".into(), &["x", "y"]), "a <sup>1,2</sup>");
        assert_eq!(n.marked("b".into(), &["y"]), "b <sup>2</sup>");
        let mut out = String::new();
        n.legend(&mut out);
        assert_eq!(out, "\n<sup>1</sup> x  \n<sup>2</sup> y  \n");
    }

    #[test]
    fn unchanged_rows_collapse_and_the_document_stays_under_a_pr_comment() {
        // 3,000 metric rows: far more than the default suite's ~400.
        let mut base = big(300, 1e6);
        let mut new = big(300, 1e6);
        // One clear regression among them, with samples enough to survive
        // Holm's correction over 3,000 metrics.
        let spread = |level: f64| (0..40).map(|i| level * (1.0 + 0.001 * i as f64)).collect();
        for (r, level) in [(&mut base, 1e6), (&mut new, 2e6)] {
            let m = &mut r.scenarios[0].metrics[0];
            m.samples = spread(level);
            m.summary = crate::stats::Summary::of(&m.samples);
        }
        let c = crate::compare::compare(&base, &[new], &crate::compare::Gate::default(), 1, 200);
        let md = c.to_markdown();
        assert!(md.len() < 65_536, "{} characters", md.len());
        let details = md.find("<details><summary>").expect("collapsed section");
        let reg = md
            .find("| **`synthetic[native]{point=0 variant=a-rather-long-variant-name}`** |\n| `metric_0`")
            .unwrap();
        assert!(
            reg < details,
            "the regression is shown before the collapsed rows"
        );
        assert!(
            md.contains("more row(s) left out"),
            "the budget cut the collapsed rows"
        );
        let json: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap();
        let summary = &json["summary"];
        assert_eq!(summary["regressed"], true);
        assert_eq!(summary["metrics"], 3000);
        assert_eq!(summary["runs"][0]["metrics_failing_gate"], 1);
    }
}
