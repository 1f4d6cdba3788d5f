//! memory-protection plot: each child's memory.current after the sibling's
//! pressure, beside what the kernel selftest expects of it.

use super::common::*;
use super::spec::*;
use crate::key::slug;
use crate::names::memory_protection as n;
use crate::schema::{RunResults, ScenarioResult};

/// Category labels: each child's protection (from the params), else its index.
fn categories(s: &ScenarioResult, count: usize) -> Vec<String> {
    let file = param_text(s, "control_file").unwrap_or_else(|| "protection".into());
    let prot: Vec<f64> = s
        .params
        .get(n::PROTECTIONS_MIB)
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
        .unwrap_or_default();
    (0..count)
        .map(|i| match prot.get(i) {
            Some(p) => format!("child {i}: {file} {p} MiB"),
            None => format!("child {i}"),
        })
        .collect()
}

/// All memory-protection plots of a run (one per mode and launcher).
pub fn plots(r: &RunResults) -> Vec<PlotSpec> {
    let all = by_name(r, n::SCENARIO);
    let mut out = Vec::new();
    for s in &all {
        let Some(cur) = s.series.get(n::SERIES_CURRENT) else {
            continue;
        };
        let count = cur.iter().map(|p| p[0] as usize + 1).max().unwrap_or(0);
        let at = |pts: &[[f64; 2]]| -> Vec<f64> {
            (0..count)
                .map(|i| {
                    pts.iter()
                        .find(|p| p[0] as usize == i)
                        .map_or(f64::NAN, |p| p[1])
                })
                .collect()
        };
        let mut segments = vec![("measured".to_string(), at(cur))];
        if let Some(exp) = s.series.get(n::SERIES_EXPECTED).filter(|e| !e.is_empty()) {
            segments.insert(0, ("selftest expects".to_string(), at(exp)));
        }
        let label = point_label(&all, s);
        out.push(PlotSpec {
            id: format!("{}-children-{}", n::SCENARIO, slug(&label)),
            group: n::SCENARIO.into(),
            title: format!(
                "Memory protection: each child's memory.current under pressure — {label}"
            ),
            caption: "Three children hold 50 MiB of page cache each under a 200 MiB parent while \
                      a sibling allocates 148 MiB; protected children keep more, in proportion \
                      to their protection (test_memcg_min/low in the kernel selftests)."
                .into(),
            kind: PlotKind::Bars(BarPlot {
                value_label: "memory.current after the pressure (MiB)".into(),
                value_unit: " MiB".into(),
                categories: categories(s, count),
                segments,
                stacked: false,
            }),
        });
    }
    out
}
