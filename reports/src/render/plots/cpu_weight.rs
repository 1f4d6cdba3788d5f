//! cpu-weight plot: expected against measured CPU shares per weight.

use super::common::*;
use super::spec::*;
use crate::key::slug;
use crate::names::cpu_weight as n;
use crate::schema::{Better, RunResults};

/// Numeric weight in a `share.w<N>` metric name, for ordering.
fn weight_of(name: &str) -> Option<f64> {
    name.trim_start_matches(n::SHARE_PREFIX)
        .trim_start_matches('w')
        .parse()
        .ok()
}

/// All cpu-weight plots of a run (one per scenario result with shares).
pub fn plots(r: &RunResults) -> Vec<PlotSpec> {
    let all = by_name(r, n::SCENARIO);
    let mut out = Vec::new();
    for s in &all {
        let mut shares: Vec<_> = s
            .metrics
            .iter()
            .filter(|m| m.name.starts_with(n::SHARE_PREFIX))
            .collect();
        if shares.is_empty() {
            continue;
        }
        shares.sort_by(|a, b| {
            weight_of(&a.name)
                .unwrap_or(f64::MAX)
                .total_cmp(&weight_of(&b.name).unwrap_or(f64::MAX))
                .then(a.name.cmp(&b.name))
        });
        let categories = shares
            .iter()
            .map(|m| match weight_of(&m.name) {
                Some(w) => format!("weight {w}"),
                None => m.name.clone(),
            })
            .collect();
        let expected = shares
            .iter()
            .map(|m| match m.better {
                Better::Target => m.target.unwrap_or(f64::NAN),
                _ => f64::NAN,
            })
            .collect();
        let measured = shares.iter().map(|m| m.summary.p50).collect();
        let label = point_label(&all, s);
        out.push(PlotSpec {
            id: format!("{}-shares-{}", n::SCENARIO, slug(&label)),
            group: n::SCENARIO.into(),
            title: format!("CPU weight: expected vs measured share — {}", s.launcher),
            caption: format!(
                "Share of the contended CPU time each cgroup got (median over repetitions) \
                 next to weight / Σ weights; point {label}."
            ),
            kind: PlotKind::Bars(BarPlot {
                value_label: "share of CPU time (fraction of total)".into(),
                value_unit: String::new(),
                categories,
                segments: vec![
                    ("expected (weight / Σ weights)".into(), expected),
                    ("measured (median)".into(), measured),
                ],
                stacked: false,
            }),
        });
    }
    out
}
