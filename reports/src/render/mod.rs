//! `isobench report`: one directory with report.html (self-contained, plots
//! inline as SVG), report.md, junit.xml, and an SVG + PNG per plot.

pub mod content;
pub mod escape;
mod html;
mod junit;
mod markdown;
pub mod matrix;
pub mod plots;

use std::path::{Path, PathBuf};

use crate::load::{write_atomic, ResultsError};
use crate::schema::RunResults;
use plots::PlotSpec;

pub use html::render as render_html;
pub use junit::render as render_junit;
pub use markdown::render as render_markdown;
// The fleet report (crate::fleet) lays out its tables the same way.
pub(crate) use html::{table as html_table, STYLE as HTML_STYLE};
pub(crate) use markdown::table as md_table;

/// Why a report could not be written; always names the path.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{}: cannot create report directory: {source}", path.display())]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Write(#[from] ResultsError),
}

/// A plot after drawing: its spec and SVG text, or why it could not be drawn
/// (shown in the report instead of failing the whole report).
#[derive(Debug, Clone)]
pub struct RenderedPlot {
    pub spec: PlotSpec,
    pub svg: Result<String, String>,
    png: Option<Vec<u8>>,
}

/// Draws every plot, on all CPUs; a panic inside plotters becomes an error
/// message for that plot only.
pub fn render_plots(specs: Vec<PlotSpec>) -> Vec<RenderedPlot> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let render_one = |spec: PlotSpec| {
        let both = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            Ok::<_, String>((plots::render_svg(&spec)?, plots::render_png(&spec)?))
        }))
        .unwrap_or_else(|_| Err("plotting panicked".into()));
        match both {
            Ok((svg, png)) => RenderedPlot {
                spec,
                svg: Ok(svg),
                png: Some(png),
            },
            Err(e) => RenderedPlot {
                spec,
                svg: Err(e),
                png: None,
            },
        }
    };
    let mut slots: Vec<Option<RenderedPlot>> = vec![None; specs.len()];
    let jobs: Vec<(usize, PlotSpec)> = specs.into_iter().enumerate().collect();
    let chunk = jobs.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|c| {
                let c = c.to_vec();
                scope.spawn(move || {
                    c.into_iter()
                        .map(|(i, s)| (i, render_one(s)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for h in handles {
            if let Ok(done) = h.join() {
                for (i, p) in done {
                    slots[i] = Some(p);
                }
            }
        }
    });
    slots.into_iter().flatten().collect()
}

/// Writes the full report for `results` into `out_dir` (created if missing),
/// each file atomically; returns every path written.
pub fn render_report(results: &RunResults, out_dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(out_dir).map_err(|source| ReportError::CreateDir {
        path: out_dir.to_path_buf(),
        source,
    })?;
    let rendered = render_plots(plots::build_all(results));
    let mut written = Vec::new();
    let mut put = |name: String, bytes: &[u8]| -> Result<(), ReportError> {
        let path = out_dir.join(name);
        write_atomic(&path, bytes)?;
        written.push(path);
        Ok(())
    };
    for p in &rendered {
        if let (Ok(svg), Some(png)) = (&p.svg, &p.png) {
            put(format!("{}.svg", p.spec.id), svg.as_bytes())?;
            put(format!("{}.png", p.spec.id), png)?;
        }
    }
    put(
        "report.html".into(),
        html::render(results, &rendered).as_bytes(),
    )?;
    put(
        "report.md".into(),
        markdown::render(results, &rendered).as_bytes(),
    )?;
    put("junit.xml".into(), junit::render(results).as_bytes())?;
    Ok(written)
}

#[cfg(test)]
mod tests;
