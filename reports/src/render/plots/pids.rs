//! pids plot: the fork bomb's process count over time against pids.max.

use super::common::*;
use super::spec::*;
use crate::key::slug;
use crate::names::pids as n;
use crate::schema::RunResults;
use crate::units::format_number;

/// All pids plots of a run.
pub fn plots(r: &RunResults) -> Vec<PlotSpec> {
    let all = by_name(r, n::SCENARIO);
    let mut out = Vec::new();
    for s in &all {
        let Some(cur) = s.series.get(n::SERIES_PIDS_CURRENT) else {
            continue;
        };
        let mut p = XyPlot::new(
            Axis::linear("time (s)"),
            Axis::linear("processes in the cgroup (count)"),
        );
        p.legend = LegendAt::UpperRight;
        p.series
            .push(Series::line("pids.current", timeline(cur, 1.0)));
        if let Some(max) = param_f64(s, n::PIDS_MAX) {
            p.hlines.push(RefLine {
                label: format!("pids.max = {}", format_number(max)),
                at: max,
            });
        }
        let label = point_label(&all, s);
        out.push(PlotSpec {
            id: format!("{}-timeline-{}", n::SCENARIO, slug(&label)),
            group: n::SCENARIO.into(),
            title: format!("Fork bomb: pids.current against pids.max — {label}"),
            caption: "The fork bomb grows until pids.max stops it; the count must plateau \
                      at or below the line, then drop to zero when the sandbox is killed."
                .into(),
            kind: PlotKind::Xy(p),
        });
    }
    out
}
