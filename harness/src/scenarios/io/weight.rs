//! Proportional weights: two direct-IO readers at once on the device, in
//! cgroups of different BFQ weights (v1 `blkio.bfq.weight`, v2
//! `io.bfq.weight`); the heavier one should get the larger share of the
//! bytes read. The device's scheduler is switched to BFQ for the point and
//! back afterwards; a kernel or device without BFQ gets a skip saying so.

use std::path::PathBuf;

use isobench_reports::names::io as n;
use isobench_reports::{Check, Metric, ScenarioResult, Status};

use super::target::Target;
use super::window::{self, Job};
use super::Config;
use crate::cgroup::Limits;
use crate::scenarios::{Ctx, Point, ScenarioError};

/// The device's scheduler, set to BFQ with `low_latency` off, both
/// restored on drop. BFQ's low-latency heuristics raise the weight of
/// queues that look interactive or new, which is not the configured
/// weight; proportional-share tests turn them off.
struct Scheduler {
    path: PathBuf,
    old: String,
    /// `iosched/low_latency` and its value before.
    low_latency: Option<(PathBuf, String)>,
}

impl Scheduler {
    /// Switches `disk` to BFQ; Err(why) when it cannot be.
    fn bfq(disk: &str) -> Result<Scheduler, String> {
        let path = PathBuf::from(format!("/sys/block/{disk}/queue/scheduler"));
        let t = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let old = t
            .split_whitespace()
            .find(|s| s.starts_with('['))
            .map(|s| s.trim_matches(|c| c == '[' || c == ']').to_string())
            .unwrap_or_else(|| "none".into());
        if !t.split_whitespace().any(|s| s.trim_matches(|c| c == '[' || c == ']') == "bfq") {
            return Err(format!(
                "{disk}'s schedulers are \"{}\": no BFQ (CONFIG_IOSCHED_BFQ; modprobe bfq)",
                t.trim()
            ));
        }
        std::fs::write(&path, "bfq").map_err(|e| format!("{}: bfq: {e}", path.display()))?;
        let ll = PathBuf::from(format!("/sys/block/{disk}/queue/iosched/low_latency"));
        let low_latency = std::fs::read_to_string(&ll)
            .ok()
            .filter(|_| std::fs::write(&ll, "0").is_ok())
            .map(|v| (ll, v.trim().to_string()));
        Ok(Scheduler { path, old, low_latency })
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        if let Some((p, v)) = &self.low_latency {
            let _ = std::fs::write(p, v);
        }
        let _ = std::fs::write(&self.path, &self.old);
    }
}

/// The weight point (a skip row when BFQ or its weight file is missing).
pub fn run(ctx: &Ctx, cfg: &Config, target: &Target) -> Result<ScenarioResult, ScenarioError> {
    let (lo, hi) = (cfg.weights[0].min(cfg.weights[1]), cfg.weights[0].max(cfg.weights[1]));
    let point = Point::new(n::SCENARIO, ctx)
        .param(n::PARAM_DEVICE, target.kind_text())
        .param(n::PARAM_DEVICE_KIND, target.kind())
        .param(n::PARAM_LIMIT, "weight")
        .param("weights", [lo, hi])
        .param("seconds", cfg.seconds);
    let expected = hi as f64 / (hi + lo) as f64;
    let want = format!(
        "the weight-{hi} reader gets more than the midpoint of an even split and weight share {expected:.2}"
    );
    let skip = |why: String| {
        point
            .clone()
            .check(Check::new(n::WEIGHTS, Status::Skip, want.clone(), "not measured", why))
            .build()
    };
    let sched = match Scheduler::bfq(&target.disk()) {
        Ok(s) => s,
        Err(why) => return Ok(skip(why)),
    };
    let job = |w: u64| Job {
        op: "read",
        block: cfg.block_kib << 10,
        // One request at a time: BFQ's idling, which holds a queue's
        // slice while its next request is on its way, is what enforces
        // weights; with many in flight, both queues look busy and the
        // share drifts toward even (0.57–0.71 at depth 8 in the guests,
        // 0.81–0.82 at depth 1, for an expected 0.83).
        depth: 1,
        file: None,
        limits: Limits {
            io_weight: Some(w),
            ..Default::default()
        },
    };
    let m = match window::run(ctx, cfg, target, &[job(lo), job(hi)]) {
        Ok(m) => m,
        Err(e) => match window::unsupported(&e) {
            Some(why) => return Ok(skip(why)),
            None => return Err(e),
        },
    };
    drop(sched);
    let bytes = |i: usize| m.get(i).and_then(|x| x.io.rbytes).unwrap_or(0) as f64;
    let (b_lo, b_hi) = (bytes(0), bytes(1));
    let share = (b_lo + b_hi > 0.0).then(|| b_hi / (b_lo + b_hi));
    Ok(result(point, lo, hi, share, b_lo, b_hi, want))
}

/// The check: the heavier reader's share must pass the midpoint between an
/// even split and the weights' ratio.
fn result(
    point: Point,
    lo: u64,
    hi: u64,
    share: Option<f64>,
    b_lo: f64,
    b_hi: f64,
    want: String,
) -> ScenarioResult {
    let expected = hi as f64 / (hi + lo) as f64;
    let bar = (0.5 + expected) / 2.0;
    let ok = share.is_some_and(|s| s > bar);
    let mib = |b: f64| b / (1u64 << 20) as f64;
    point
        .metric(Metric::with_target(
            n::WEIGHT_SHARE,
            "fraction",
            expected,
            share.into_iter().collect(),
        ))
        .check(Check::new(
            n::WEIGHTS,
            Status::pass_or(ok, Status::Warn),
            format!("{want} (> {bar:.2})"),
            format!(
                "share {} (weight {lo}: {:.1} MiB, weight {hi}: {:.1} MiB)",
                share.map_or("none".into(), |s| format!("{s:.2}")),
                mib(b_lo),
                mib(b_hi)
            ),
            if ok {
                ""
            } else {
                "BFQ did not favour the heavier cgroup: weights act only while both queues stay backlogged and BFQ idles for them (slice_idle), which fast or virtual devices may defeat"
            },
        ))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn share_must_pass_the_midpoint() {
        let p = Point::for_launcher("io", "native");
        let r = result(p.clone(), 100, 500, Some(0.8), 1.0, 4.0, "w".into());
        assert_eq!(r.checks[0].status, Status::Pass);
        assert_eq!(r.metrics[0].target, Some(500.0 / 600.0));
        let r = result(p.clone(), 100, 500, Some(0.55), 1.0, 1.2, "w".into());
        assert_eq!(r.checks[0].status, Status::Warn);
        let r = result(p, 100, 500, None, 0.0, 0.0, "w".into());
        assert_eq!(r.checks[0].status, Status::Warn);
        assert!(r.metrics[0].samples.is_empty());
    }
}
