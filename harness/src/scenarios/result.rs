//! Building a scenario's result row: one `Point` per parameter point, so no
//! scenario spells out `ScenarioResult { … }` by hand.

use isobench_reports::{Check, Metric, ScenarioResult};

use super::Ctx;

/// One parameter point's results, under construction.
#[derive(Debug, Clone)]
pub struct Point(ScenarioResult);

impl Point {
    /// An empty row of scenario `name` for the arm under test.
    pub fn new(name: &str, ctx: &Ctx) -> Self {
        Self::for_launcher(name, &ctx.launcher)
    }

    /// An empty row for a given launcher label.
    pub fn for_launcher(name: &str, launcher: &str) -> Self {
        Point(ScenarioResult {
            name: name.into(),
            launcher: launcher.into(),
            launcher_spec: None,
            params: Default::default(),
            metrics: Vec::new(),
            checks: Vec::new(),
            series: Default::default(),
            error: None,
            duration_s: None,
        })
    }

    pub fn param(mut self, key: &str, value: impl serde::Serialize) -> Self {
        self.set_param(key, value);
        self
    }

    /// Adds a parameter to a row being built in place.
    pub fn set_param(&mut self, key: &str, value: impl serde::Serialize) {
        self.0.params.insert(
            key.into(),
            serde_json::to_value(value).unwrap_or(serde_json::Value::Null),
        );
    }

    /// Replaces the params with a prepared map.
    pub fn params(mut self, params: serde_json::Map<String, serde_json::Value>) -> Self {
        self.0.params = params;
        self
    }

    pub fn metric(self, m: Metric) -> Self {
        self.metrics([m])
    }

    pub fn metrics(mut self, ms: impl IntoIterator<Item = Metric>) -> Self {
        self.0.metrics.extend(ms);
        self
    }

    pub fn check(self, c: Check) -> Self {
        self.checks([c])
    }

    pub fn checks(mut self, cs: impl IntoIterator<Item = Check>) -> Self {
        self.0.checks.extend(cs);
        self
    }

    /// A time series for the plots: `[x, y]` points.
    pub fn series(mut self, name: &str, points: Vec<[f64; 2]>) -> Self {
        self.0.series.insert(name.into(), points);
        self
    }

    /// Marks the point as not run to completion, with its cause.
    pub fn error(mut self, cause: impl Into<String>) -> Self {
        self.0.error = Some(cause.into());
        self
    }

    pub fn build(self) -> ScenarioResult {
        self.0
    }
}

/// One value per run, comma-separated (observed texts of checks).
pub fn join<T>(v: &[T], f: impl Fn(&T) -> String) -> String {
    v.iter().map(f).collect::<Vec<_>>().join(", ")
}

/// A counter, `n/a` where the kernel has none.
pub fn opt(v: Option<u64>) -> String {
    v.map_or("n/a".into(), |x| x.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use isobench_reports::{Better, Status};

    #[test]
    fn a_point_builds_the_row() {
        let r = Point::for_launcher("cpuset", "runc")
            .param("threads", 4)
            .metric(Metric::new("usage_cpus", "cpus", Better::Lower, vec![1.0]))
            .check(Check::new("cpu-time", Status::pass_if(true), "", "", ""))
            .series("usage_cpus", vec![[0.0, 1.0]])
            .build();
        assert_eq!((r.name.as_str(), r.launcher.as_str()), ("cpuset", "runc"));
        assert_eq!(r.params["threads"], 4);
        assert_eq!(r.metrics[0].name, "usage_cpus");
        assert_eq!(r.checks[0].status, Status::Pass);
        assert_eq!(r.series["usage_cpus"].len(), 1);
    }
}
