//! io: block IO limits. A direct-IO reader and writer run under v1
//! `blkio.throttle.*_device` / v2 `io.max` on a device isobench sets up
//! itself (a loop device on the host, the virtio scratch disk in the VM);
//! accuracy is the rate the cgroup's own counters show over the window,
//! divided by the limit. A buffered writer shows what v1 does not throttle
//! (writeback is not charged to the cgroup) and v2 does; two readers with
//! different weights show BFQ's proportional sharing; io.pressure shows
//! the throttled task stalling.

mod points;
pub mod target;
mod weight;
pub mod window;

use std::time::Duration;

use isobench_reports::ScenarioResult;

use super::config::{check_within, reject_if, scenario_config};
use super::{check_range, interrupted, ConfigError, Ctx, Scenario, ScenarioError, Skip};
use crate::cgroup::Controller;
use crate::launchers::Launcher;
use isobench_reports::names::io as n;

/// The scenario.
pub struct Io;

scenario_config! {
    /// Parameters.
    pub struct Config {
        pub seconds: f64 = 5.0 => "measurement window of each point (≥ 5 s for the published bands)",
        pub warmup: f64 = 1.0 => "IO before the window (the throttle's initial budget is not measured)",
        pub bps_mib: Vec<f64> = vec![1.0, 4.0, 16.0] => "bps limits, MiB/s (a read and a write point each)",
        pub iops: Vec<u64> = vec![100, 500] => "IOPS limits (a read and a write point each; 4 KiB requests)",
        pub block_kib: u64 = 64 => "request size of the bps points",
        pub depth: u64 = 8 => "requests in flight per throttled workload (threads; a throttle then always has one waiting); the weight readers use 1",
        pub bps_tolerance_pct: f64 = 10.0 => "allowed bps error (blktests / fio suites: ±10%)",
        pub iops_tolerance_pct: f64 = 15.0 => "allowed IOPS error (±15%)",
        pub buffered_mib: f64 = 4.0 => "wbps limit of the buffered-writer point, MiB/s (0: no such point)",
        pub weights: Vec<u64> = vec![100, 500] => "io weights of two concurrent readers ([]: no weight point)",
        pub device: String = "auto".into() => "\"auto\" (the VM's scratch disk in an isobench guest, else a loop device), \"loop\", or a directory on a whole disk",
        pub size_mib: u64 = 64 => "size of the loop device or data file",
    }
}

impl Config {
    /// Throttled points, buffered point and weight point.
    fn points(&self) -> u32 {
        let t = 2 * (self.bps_mib.len() + self.iops.len()) as u32;
        t + u32::from(self.buffered_mib > 0.0) + u32::from(!self.weights.is_empty())
    }
}

impl Scenario for Io {
    const NAME: &'static str = "io";
    const ABOUT: &'static str =
        "block IO limits: direct-IO rate under blkio.throttle / io.max vs the limit, buffered writeback (v1 bypass, v2 charged), BFQ weights, io pressure";
    const NEEDS: &'static [Controller] = &[Controller::Io];
    /// Each point measures ≥ 5 s: too long for the quick suite.
    const QUICK: bool = false;
    type Config = Config;

    fn validate(c: &Config) -> Result<(), ConfigError> {
        check_range("seconds", c.seconds, 0.2, 600.0)?;
        check_range("warmup", c.warmup, 0.0, 60.0)?;
        for b in &c.bps_mib {
            check_within("bps-mib value", *b, 0.05, 4096.0, "")?;
        }
        for i in &c.iops {
            check_within("iops value", *i, 10, 1_000_000, "")?;
        }
        check_within("block-kib", c.block_kib, 4, 4096, "")?;
        check_within("depth", c.depth, 1, 64, "")?;
        reject_if(!c.block_kib.is_multiple_of(4), || {
            format!("block-kib {} must be a multiple of 4 (O_DIRECT alignment)", c.block_kib)
        })?;
        check_range("bps-tolerance-pct", c.bps_tolerance_pct, 0.1, 100.0)?;
        check_range("iops-tolerance-pct", c.iops_tolerance_pct, 0.1, 100.0)?;
        reject_if(c.buffered_mib != 0.0 && !(0.05..=4096.0).contains(&c.buffered_mib), || {
            format!("buffered-mib {} must be 0 or 0.05 – 4096", c.buffered_mib)
        })?;
        reject_if(
            !c.weights.is_empty()
                && (c.weights.len() != 2
                    || c.weights.iter().any(|w| !(1..=1000).contains(w))
                    || c.weights[0] == c.weights[1]),
            || format!("weights {:?} must be [] or two different weights 1 – 1000", c.weights),
        )?;
        reject_if(
            !matches!(c.device.as_str(), "auto" | "loop") && !c.device.starts_with('/'),
            || format!("device {:?} must be \"auto\", \"loop\" or an absolute directory", c.device),
        )?;
        check_within("size-mib", c.size_mib, 8, 65536, "")?;
        reject_if(c.points() == 0, || "no point to measure: bps-mib, iops, buffered-mib and weights are all empty".into())
    }

    fn estimate(cfg: &Config, _cpus: u32) -> Duration {
        // Plus up to four short unthrottled baselines.
        Duration::from_secs_f64(f64::from(cfg.points()) * (cfg.warmup + cfg.seconds + 0.8) + 7.0)
    }

    fn run(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, ScenarioError> {
        if matches!(ctx.kind, Launcher::Runc | Launcher::Crun | Launcher::Oci(_)) {
            return Err(ScenarioError::skipped(Skip::new(
                n::SKIP,
                "io limits on the sandbox's cgroup",
                format!("launcher {}", ctx.launcher),
                "an OCI runtime creates its own cgroup from linux.resources, and isobench does not translate io limits to blockIO yet: run io with the native launcher",
            )));
        }
        let target = target::Target::create(cfg, &ctx.set.run_id)?;
        let total = cfg.points();
        ctx.advance(0, total);
        let mut out = Vec::new();
        let mut baselines = points::Baselines::default();
        for p in points::throttled(cfg) {
            interrupted()?;
            let first = out.is_empty();
            out.push(ctx.timed(points::measure(ctx, cfg, &target, &p, first, &mut baselines)?));
            ctx.tick();
        }
        if cfg.buffered_mib > 0.0 {
            interrupted()?;
            out.push(ctx.timed(points::buffered(ctx, cfg, &target)?));
            ctx.tick();
        }
        if !cfg.weights.is_empty() {
            interrupted()?;
            out.push(ctx.timed(weight::run(ctx, cfg, &target)?));
            ctx.tick();
        }
        drop(target);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::Level;

    #[test]
    fn defaults_are_valid_and_bad_values_named() {
        let c = Io::level(Level::Default);
        assert!(Io::validate(&c).is_ok());
        assert_eq!(c.points(), 2 * 5 + 2);
        let bad = |f: fn(&mut Config)| {
            let mut c = Io::level(Level::Default);
            f(&mut c);
            Io::validate(&c).unwrap_err().to_string()
        };
        assert!(bad(|c| c.block_kib = 6).contains("multiple of 4"));
        assert!(bad(|c| c.weights = vec![100]).contains("weights"));
        assert!(bad(|c| c.weights = vec![100, 100]).contains("weights"));
        assert!(bad(|c| c.device = "rel/dir".into()).contains("device"));
        assert!(bad(|c| c.iops = vec![1]).contains("iops value"));
        assert!(bad(|c| c.buffered_mib = 0.01).contains("buffered-mib"));
        assert!(bad(|c| {
            c.bps_mib.clear();
            c.iops.clear();
            c.buffered_mib = 0.0;
            c.weights.clear();
        })
        .contains("no point"));
    }
}
