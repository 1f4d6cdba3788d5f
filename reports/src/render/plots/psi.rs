//! Pressure over time: one plot per scenario and resource, a line per
//! result row, of the share of each interval some task of the sandbox was
//! stalled (series `psi_<res>_some_pct`, read every 200 ms).

use super::common::*;
use super::spec::*;
use crate::key::slug;
use crate::schema::RunResults;

/// Prefix and suffix of a PSI series name.
const PREFIX: &str = "psi_";
const SUFFIX: &str = "_some_pct";

/// Whether a series is a PSI stall series (drawn here, not generically).
pub fn is_psi_series(name: &str) -> bool {
    resource_of(name).is_some()
}

/// `cpu` of `psi_cpu_some_pct`.
fn resource_of(name: &str) -> Option<&str> {
    name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)
}

/// The PSI plots of a run.
pub fn plots(r: &RunResults) -> Vec<PlotSpec> {
    let names = unique(r.scenarios.iter().map(|s| s.name.as_str()));
    let mut out = Vec::new();
    for name in names {
        let rows = by_name(r, name);
        let series: Vec<(&str, &str)> = rows
            .iter()
            .flat_map(|s| {
                s.series
                    .keys()
                    .filter_map(|k| resource_of(k).map(|res| (k.as_str(), res)))
            })
            .collect();
        for (key, res) in unique(series) {
            let mut p = XyPlot::new(
                Axis::linear("time (s)"),
                Axis::linear(format!("{res} pressure: some (% of each interval)")),
            );
            for s in &rows {
                if let Some(pts) = s.series.get(key).filter(|p| !p.is_empty()) {
                    p.series
                        .push(Series::line(point_label(&rows, s), timeline(pts, 1.0)));
                }
            }
            if p.series.is_empty() {
                continue;
            }
            out.push(PlotSpec {
                id: format!("{}-psi-{}", slug(name), slug(res)),
                group: name.to_string(),
                title: format!("{res} pressure over time — {name}"),
                caption: format!(
                    "Share of each 200 ms interval in which some task of the sandbox was stalled \
                     on {res} (the `total` of its {res}.pressure file), one line per point. A \
                     limit that binds shows as a stall; an unlimited, idle sandbox stays at 0."
                ),
                kind: PlotKind::Xy(p),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{empty_run, scenario};

    #[test]
    fn one_plot_per_scenario_and_resource_with_a_line_per_row() {
        let mut run = empty_run("psi");
        for (limit, pct) in [(1, 90.0), (4, 60.0)] {
            let mut s = scenario("io", "native", serde_json::json!({ "limit_value": limit }));
            s.series
                .insert("psi_io_some_pct".into(), vec![[0.2, pct], [0.4, pct]]);
            s.series.insert("other".into(), vec![[0.2, 1.0]]);
            run.scenarios.push(s);
        }
        let p = plots(&run);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].id, "io-psi-io");
        let PlotKind::Xy(xy) = &p[0].kind else {
            panic!("not an xy plot")
        };
        assert_eq!(xy.series.len(), 2);
        assert!(is_psi_series("psi_memory_some_pct") && !is_psi_series("psi_memory_some_avg10"));
    }
}
