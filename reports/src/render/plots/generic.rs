//! Line plots for any series no specific plot uses, so new scenarios show
//! their data before anyone writes a dedicated plot for them. Series of one
//! scenario result that share a unit go in one plot; memory plots get the
//! limits their parameters name (limit / memory.high / memory.max).

use super::common::*;
use super::spec::*;
use crate::key::slug;
use crate::schema::RunResults;
use crate::units::DisplayUnit;

/// Plots for every series of every scenario not in `consumed`
/// (pairs of scenario name and series name).
pub fn plots(r: &RunResults, consumed: &[(&str, &str)]) -> Vec<PlotSpec> {
    let mut out = Vec::new();
    for s in &r.scenarios {
        let siblings = by_name(r, &s.name);
        let free: Vec<(&String, &Vec<[f64; 2]>)> = s
            .series
            .iter()
            .filter(|(name, pts)| {
                !consumed.contains(&(s.name.as_str(), name.as_str()))
                    && !super::psi::is_psi_series(name)
                    && !pts.is_empty()
            })
            .collect();
        let units = unique(free.iter().map(|(n, _)| series_unit(n).0));
        for unit in units {
            let group: Vec<_> = free
                .iter()
                .filter(|(n, _)| series_unit(n).0 == unit)
                .collect();
            let peak = group
                .iter()
                .flat_map(|(n, pts)| pts.iter().map(move |p| (p[1] * series_unit(n).1).abs()))
                .filter(|v| v.is_finite())
                .fold(0.0, f64::max);
            let limits = if unit == "bytes" {
                memory_limits(s)
            } else {
                vec![]
            };
            let d = DisplayUnit::for_values(unit, limits.iter().map(|l| l.1).fold(peak, f64::max));
            let names: Vec<&str> = group.iter().map(|(n, _)| n.as_str()).collect();
            let what = if unit == "bytes" {
                "memory".to_string()
            } else {
                names.join(", ")
            };
            let y_label = if d.suffix.is_empty() {
                what.clone()
            } else {
                format!("{what} ({})", d.suffix)
            };
            let mut p = XyPlot::new(Axis::linear("time (s)"), Axis::linear(y_label));
            for (name, pts) in &group {
                let (_, factor) = series_unit(name);
                p.series.push(Series::line(
                    name.to_string(),
                    timeline(pts, factor * d.factor),
                ));
            }
            for (label, at) in limits {
                p.hlines.push(RefLine {
                    label,
                    at: at * d.factor,
                });
            }
            let label = point_label(&siblings, s);
            let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
            out.push(PlotSpec {
                id: format!("{}-{}-{}", slug(&s.name), slug(&what), slug(&label)),
                group: s.name.clone(),
                title: format!("{} — {} {}", names.join(", "), s.name, label),
                caption: format!("The recorded series {} over time.", quoted.join(", ")),
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
    use serde_json::json;

    #[test]
    fn series_sharing_a_unit_share_a_plot_with_limits() {
        let mut r = empty_run("g");
        let mut s = scenario("pagecache", "native", json!({"limit_mib": 256}));
        s.series.insert(
            crate::names::pagecache::USAGE_MIB.into(),
            vec![[0.0, 10.0], [1.0, 250.0]],
        );
        s.series.insert(
            crate::names::pagecache::PAGE_CACHE_MIB.into(),
            vec![[0.0, 0.0], [1.0, 200.0]],
        );
        s.series.insert("ratio_thing".into(), vec![[0.0, 0.5]]);
        s.series.insert("skipped".into(), vec![[0.0, 0.5]]);
        r.scenarios.push(s);
        let specs = plots(&r, &[("pagecache", "skipped")]);
        assert_eq!(
            specs.len(),
            2,
            "{:?}",
            specs.iter().map(|s| &s.id).collect::<Vec<_>>()
        );
        let PlotKind::Xy(mem) = &specs[0].kind else {
            panic!()
        };
        assert_eq!(mem.series.len(), 2);
        assert_eq!(mem.hlines.len(), 1);
        assert!(mem.y.label.contains("MiB"));
    }
}
