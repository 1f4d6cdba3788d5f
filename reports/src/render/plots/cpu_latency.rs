//! cpu-latency plots: latency CDFs per variant (no quota, quota, quota +
//! burst), one plot per latency metric, log time axis.

use super::common::*;
use super::spec::*;
use crate::key::slug;
use crate::names::cpu_latency as n;
use crate::schema::RunResults;
use crate::units::{is_time_unit, seconds_per};

fn pretty(metric: &str) -> String {
    match metric {
        n::WAKE_LATENCY => "Wake-up latency".into(),
        n::DONE_LATENCY => "Completion latency".into(),
        other => {
            let t = other.replace(['_', '.'], " ");
            let mut c = t.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
    }
}

/// All cpu-latency plots of a run.
pub fn plots(r: &RunResults) -> Vec<PlotSpec> {
    let all = by_name(r, n::SCENARIO);
    let names = unique(
        all.iter()
            .flat_map(|s| s.metrics.iter())
            .filter(|m| is_time_unit(&m.unit))
            .map(|m| m.name.clone()),
    );
    let mut out = Vec::new();
    for name in names {
        // Curves in seconds, whatever unit each result used.
        let curves: Vec<(String, Vec<f64>)> = all
            .iter()
            .filter_map(|s| {
                let m = metric(s, &name)?;
                let per = seconds_per(&m.unit)?;
                Some((
                    point_label(&all, s),
                    m.samples.iter().map(|x| x * per).collect(),
                ))
            })
            .collect();
        if curves.is_empty() {
            continue;
        }
        let mut p = XyPlot::new(
            Axis::log(format!("{} (log scale)", pretty(&name).to_lowercase())).ticks_in("s"),
            Axis::linear("fraction of samples ≤ t"),
        );
        p.legend = LegendAt::LowerRight;
        p.series = curves
            .iter()
            .map(|(l, v)| Series::line(l.clone(), cdf_points(v, 1.0, true)))
            .collect();
        out.push(PlotSpec {
            id: format!("{}-{}-cdf", n::SCENARIO, slug(&name)),
            group: n::SCENARIO.into(),
            title: format!("{} under CPU bandwidth control", pretty(&name)),
            caption: "CDF per variant: a quota without burst shows a tail up to the quota \
                      period, where wake-ups land in throttled time; burst should pull it in."
                .into(),
            kind: PlotKind::Xy(p),
        });
    }
    out
}
