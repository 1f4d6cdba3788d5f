//! memory-oom plot: memory usage over time up to the OOM kill, with the
//! limit line and the kill time marked. Reads `memory_bytes` or `usage_mib`
//! (any series `series_unit` maps to bytes), the limit from `limit_bytes` /
//! `limit_mib`, and the kill time from an `oom_kill` series ([[t, 1]]).

use super::common::*;
use super::spec::*;
use crate::key::slug;
use crate::names::memory_oom as n;
use crate::schema::{RunResults, ScenarioResult};
use crate::units::{format_number, DisplayUnit};

/// Memory series this plot draws, in order of preference.
pub const MEMORY_SERIES: [&str; 2] = [n::MEMORY_BYTES, n::USAGE_MIB];

fn memory_series(s: &ScenarioResult) -> Option<(&str, &Vec<[f64; 2]>)> {
    MEMORY_SERIES
        .iter()
        .find_map(|n| s.series.get_key_value(*n).map(|(k, v)| (k.as_str(), v)))
}

/// All memory-oom plots of a run.
pub fn plots(r: &RunResults) -> Vec<PlotSpec> {
    let all = by_name(r, "memory-oom");
    let mut out = Vec::new();
    for s in &all {
        let Some((name, mem)) = memory_series(s) else {
            continue;
        };
        let (_, to_bytes) = series_unit(name);
        let limits = memory_limits(s);
        let peak = mem
            .iter()
            .map(|p| p[1] * to_bytes)
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max);
        let top = limits.iter().map(|l| l.1).fold(peak, f64::max);
        let unit = DisplayUnit::for_values("bytes", top);
        let mut p = XyPlot::new(
            Axis::linear("time (s)"),
            Axis::linear(format!("memory charged to the cgroup ({})", unit.suffix)),
        );
        p.legend = LegendAt::UpperLeft;
        p.series.push(Series::line(
            "memory usage",
            timeline(mem, to_bytes * unit.factor),
        ));
        for (label, bytes) in limits {
            p.hlines.push(RefLine {
                label,
                at: bytes * unit.factor,
            });
        }
        let kill = s.series.get(n::OOM_KILL).and_then(|v| {
            v.iter()
                .filter(|p| p[1] > 0.0 && p[0].is_finite())
                .map(|p| p[0])
                .next()
        });
        if let Some(t) = kill {
            p.vlines.push(RefLine {
                label: format!("OOM kill (t = {} s)", format_number(t)),
                at: t,
            });
        }
        let label = point_label(&all, s);
        out.push(PlotSpec {
            id: format!("memory-oom-timeline-{}", slug(&label)),
            group: "memory-oom".into(),
            title: format!("Memory usage until the OOM kill — {label}"),
            caption: "The hog allocates and touches memory until the kernel's OOM killer \
                      ends it; usage should approach but never exceed the limit."
                .into(),
            kind: PlotKind::Xy(p),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{empty_run, scenario};
    use serde_json::json;

    #[test]
    fn reads_mib_series_and_limits_as_well_as_bytes() {
        let mut r = empty_run("m");
        let mut a = scenario(
            "memory-oom",
            "native",
            json!({"variant": "single", "limit_mib": 64}),
        );
        a.series
            .insert(n::USAGE_MIB.into(), vec![[0.0, 1.0], [0.1, 63.0]]);
        let mut b = scenario(
            "memory-oom",
            "native",
            json!({"variant": "big", "limit_bytes": 1u64 << 30}),
        );
        b.series
            .insert(n::MEMORY_BYTES.into(), vec![[0.0, 0.0], [0.5, 1e9]]);
        b.series.insert(n::OOM_KILL.into(), vec![[0.52, 1.0]]);
        r.scenarios = vec![a, b];
        let specs = plots(&r);
        assert_eq!(specs.len(), 2);
        let PlotKind::Xy(p) = &specs[0].kind else {
            panic!()
        };
        assert_eq!(specs[0].id, "memory-oom-timeline-single");
        assert!(p.y.label.ends_with("(MiB)"), "{}", p.y.label);
        assert_eq!(p.hlines[0].at, 64.0);
        assert_eq!(p.series[0].points[1], (0.1, 63.0));
        let PlotKind::Xy(q) = &specs[1].kind else {
            panic!()
        };
        assert_eq!(q.vlines[0].at, 0.52);
        assert!(q.y.label.ends_with("(GiB)") || q.y.label.ends_with("(MiB)"));
    }
}
