//! io plot: measured rate / limit for every throttled point (and the
//! buffered writer's ratio), one bar per point next to the limit (1.0).

use super::common::*;
use super::spec::*;
use crate::key::slug;
use crate::names::io as n;
use crate::schema::{RunResults, ScenarioResult};

/// The bar's label: `read rbps 1 MiB/s`, `write wiops 500`, `buffered wbps 4 MiB/s`.
fn category(s: &ScenarioResult) -> String {
    let op = param_text(s, n::PARAM_OP).unwrap_or_default();
    let limit = param_text(s, n::PARAM_LIMIT).unwrap_or_default();
    let v = param_f64(s, n::PARAM_LIMIT_VALUE).unwrap_or(f64::NAN);
    let value = if limit.ends_with("bps") {
        format!("{} MiB/s", v / (1u64 << 20) as f64)
    } else {
        format!("{v}")
    };
    format!("{op} {limit} {value}")
}

/// The io plots of a run: one per launcher with throttled points.
pub fn plots(r: &RunResults) -> Vec<PlotSpec> {
    let all = by_name(r, n::SCENARIO);
    let mut launchers: Vec<&str> = Vec::new();
    for s in &all {
        if !launchers.contains(&s.launcher.as_str()) {
            launchers.push(&s.launcher);
        }
    }
    let mut out = Vec::new();
    for l in launchers {
        let mut categories = Vec::new();
        let mut measured = Vec::new();
        for s in all.iter().filter(|s| s.launcher == l) {
            let m = metric(s, n::ACCURACY).or_else(|| metric(s, n::BUFFERED_RATIO));
            let Some(m) = m.filter(|m| !m.samples.is_empty()) else {
                continue;
            };
            categories.push(category(s));
            measured.push(m.summary.p50);
        }
        if categories.is_empty() {
            continue;
        }
        let limit = vec![1.0; categories.len()];
        out.push(PlotSpec {
            id: format!("{}-accuracy-{}", n::SCENARIO, slug(l)),
            group: n::SCENARIO.into(),
            title: format!("Block IO limits: measured rate / limit — {l}"),
            caption: "Rate from the cgroup's own counters (blkio.throttle.io_service_bytes / \
                      io_serviced on v1, io.stat on v2) over the window, divided by the limit; \
                      1.0 is exact. Checks allow ±10% for bps and ±15% for IOPS. The buffered \
                      writer's bar is its own rate / the wbps limit: far above 1 on v1, where \
                      writeback is not throttled."
                .into(),
            kind: PlotKind::Bars(BarPlot {
                value_label: "measured / limit (ratio)".into(),
                value_unit: "×".into(),
                categories,
                segments: vec![("limit".into(), limit), ("measured".into(), measured)],
                stacked: false,
            }),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{empty_run, scenario};
    use crate::schema::{Better, Metric};

    #[test]
    fn one_bar_per_point_with_a_ratio() {
        let mut r = empty_run("io");
        for (op, limit, v, acc) in [
            ("read", "rbps", 1048576.0, 0.98),
            ("write", "wiops", 500.0, 1.02),
        ] {
            let mut s = scenario(
                n::SCENARIO,
                "native",
                serde_json::json!({ n::PARAM_OP: op, n::PARAM_LIMIT: limit, n::PARAM_LIMIT_VALUE: v }),
            );
            s.metrics
                .push(Metric::new(n::ACCURACY, "ratio", Better::Target, vec![acc]));
            r.scenarios.push(s);
        }
        // A skip row has no ratio: no bar.
        r.scenarios
            .push(scenario(n::SCENARIO, "native", serde_json::json!({})));
        let p = plots(&r);
        assert_eq!(p.len(), 1);
        let PlotKind::Bars(b) = &p[0].kind else {
            panic!("{:?}", p[0].kind)
        };
        assert_eq!(b.categories, vec!["read rbps 1 MiB/s", "write wiops 500"]);
        assert_eq!(b.segments[1].1, vec![0.98, 1.02]);
        assert_eq!(p[0].id, "io-accuracy-native");
    }
}
