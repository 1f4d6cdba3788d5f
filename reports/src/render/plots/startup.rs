//! Startup plots: latency CDFs per namespace set and per launcher (log time
//! axis), and the mean phases to ready per namespace set.

use super::common::*;
use super::spec::*;
use crate::key::slug;
use crate::names::startup as n;
use crate::schema::{RunResults, ScenarioResult};
use crate::units::DisplayUnit;

fn namespaces(s: &ScenarioResult) -> String {
    param_text(s, n::NAMESPACES)
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| "(no namespaces)".into())
}

fn cdf_plot(
    id: String,
    title: String,
    caption: &str,
    curves: Vec<(String, &[f64])>,
) -> Option<PlotSpec> {
    if curves.is_empty() {
        return None;
    }
    let mut p = XyPlot::new(
        Axis::log("time from cgroup creation to ready (log scale)").ticks_in("s"),
        Axis::linear("fraction of launches ≤ t"),
    );
    p.legend = LegendAt::LowerRight;
    p.series = curves
        .into_iter()
        .map(|(label, samples)| Series::line(label, cdf_points(samples, 1.0, true)))
        .collect();
    Some(PlotSpec {
        id,
        group: n::SCENARIO.into(),
        title,
        caption: caption.into(),
        kind: PlotKind::Xy(p),
    })
}

/// All startup plots of a run.
pub fn plots(r: &RunResults) -> Vec<PlotSpec> {
    let all = by_name(r, n::SCENARIO);
    let launchers = unique(all.iter().map(|s| s.launcher.clone()));
    let ns_sets = unique(all.iter().map(|s| namespaces(s)));
    fn ready<'a>(s: &&'a ScenarioResult) -> Option<&'a [f64]> {
        metric(s, n::READY).map(|m| m.samples.as_slice())
    }
    let mut out = Vec::new();

    for l in &launchers {
        let curves: Vec<(String, &[f64])> = all
            .iter()
            .filter(|s| &s.launcher == l)
            .filter_map(|s| ready(s).map(|m| (namespaces(s), m)))
            .collect();
        out.extend(cdf_plot(
            format!("startup-ready-cdf-{}", slug(l)),
            format!("Startup latency by namespace set — {l}"),
            "Time from cgroup creation until the workload signals ready, one curve per \
             namespace set; further right is slower, a long flat top is a tail.",
            curves,
        ));
    }
    if launchers.len() > 1 {
        for ns in &ns_sets {
            let curves: Vec<(String, &[f64])> = all
                .iter()
                .filter(|s| &namespaces(s) == ns)
                .filter_map(|s| ready(s).map(|m| (s.launcher.clone(), m)))
                .collect();
            if curves.len() > 1 {
                out.extend(cdf_plot(
                    format!("startup-ready-cdf-ns-{}", slug(ns)),
                    format!("Startup latency by launcher — namespaces {ns}"),
                    "The same namespace set launched by each launcher; further right is slower.",
                    curves,
                ));
            }
        }
    }
    // One breakdown per launcher: a slow launcher would otherwise squash
    // the others' phases into slivers.
    for l in &launchers {
        let mine: Vec<&ScenarioResult> = all.iter().copied().filter(|s| &s.launcher == l).collect();
        let id = if launchers.len() > 1 {
            format!("startup-phases-{}", slug(l))
        } else {
            "startup-phases".to_string()
        };
        out.extend(phase_breakdown(&mine, id, l));
    }
    out
}

/// Mean of a metric's finite samples.
fn mean_of(s: &ScenarioResult, name: &str) -> Option<f64> {
    let m = metric(s, name)?;
    let v: Vec<f64> = m
        .samples
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// The phases before ready, then exec → ready, stacked as means: each launch
/// has ready = cgroup + clone + place + setup + exec + exec→ready, and means
/// add up where medians do not, so the bar ends at the mean `ready`.
/// Teardown comes after ready and is named beside the bar instead.
fn phase_breakdown(all: &[&ScenarioResult], id: String, launcher: &str) -> Option<PlotSpec> {
    let with_phases: Vec<&&ScenarioResult> = all
        .iter()
        .filter(|s| {
            s.metrics
                .iter()
                .any(|m| m.name.starts_with(n::PHASE_PREFIX))
        })
        .collect();
    if with_phases.is_empty() {
        return None;
    }
    let mut phases: Vec<String> = n::PHASES
        .iter()
        .filter(|p| **p != n::PHASE_TEARDOWN)
        .filter(|p| with_phases.iter().any(|s| metric(s, p).is_some()))
        .map(|p| p.to_string())
        .collect();
    for s in &with_phases {
        for m in &s.metrics {
            if m.name.starts_with(n::PHASE_PREFIX)
                && m.name != n::PHASE_TEARDOWN
                && !phases.contains(&m.name)
            {
                phases.push(m.name.clone());
            }
        }
    }
    phases.push(n::EXEC_TO_READY.to_string());
    let means: Vec<Vec<f64>> = phases
        .iter()
        .map(|p| {
            with_phases
                .iter()
                .map(|s| mean_of(s, p).unwrap_or(0.0))
                .collect()
        })
        .collect();
    let biggest = (0..with_phases.len())
        .map(|c| means.iter().map(|v| v[c]).sum::<f64>())
        .fold(0.0, f64::max);
    let unit = DisplayUnit::for_values("s", biggest);
    let categories = with_phases
        .iter()
        .map(|s| match mean_of(s, n::PHASE_TEARDOWN) {
            Some(t) => format!("{} (teardown {})", namespaces(s), unit.show(t)),
            None => namespaces(s),
        })
        .collect();
    let segments = phases
        .iter()
        .zip(means)
        .map(|(p, v)| {
            let name = if p == n::EXEC_TO_READY {
                "exec → ready".to_string()
            } else {
                p.trim_start_matches(n::PHASE_PREFIX).to_string()
            };
            (name, v.into_iter().map(|x| x * unit.factor).collect())
        })
        .collect();
    Some(PlotSpec {
        id,
        group: n::SCENARIO.into(),
        title: format!("Startup phases to ready by namespace set — {launcher}"),
        caption: "Mean time of each launch phase, stacked, so each bar ends at the mean time \
                  to ready (its label). exec → ready is the workload's own start until the \
                  parent reads its ready byte; for a runtime such as runc, clone to exec time \
                  the runtime's own process and the container is created inside exec → ready. \
                  Teardown (after ready) is given beside each namespace set."
            .into(),
        kind: PlotKind::Bars(BarPlot {
            value_label: format!("mean time to ready, by phase ({})", unit.suffix),
            value_unit: unit.suffix.clone(),
            categories,
            segments,
            stacked: true,
        }),
    })
}
