//! memory-virtual: does the memory limit count virtual memory (address
//! space) or resident memory? A hog maps `map-factor` × the limit in one
//! mapping and touches only `touch-pct` % of the limit: it must live. The
//! same mapping touched page by page past the limit must be OOM-killed.
//! (The limit charges pages when they are faulted in, not when mapped.)

use std::time::Duration;

use isobench_reports::names::memory_virtual as n;
use isobench_reports::{Better, Check, Metric, ScenarioResult, Status};
use serde_json::json;

use super::config::{check_within, scenario_config};
use super::memory::{self, MIB};
use super::result::opt;
use super::{ConfigError, Ctx, Point, Scenario, ScenarioError};
use crate::cgroup::{Cgroup, Controller, MemoryStats};
use crate::sandbox::event::Event;
use crate::sandbox::Exit;

/// The scenario.
pub struct MemoryVirtual;

scenario_config! {
    /// Parameters.
    pub struct Config {
        /// memory.max (v1 limit_in_bytes), MiB.
        pub limit_mib: u64 = 64 => "memory limit",
        /// Each hog maps this many times the limit.
        pub map_factor: f64 = 4.0 => "mapping size, × the limit",
        /// The survivor touches this share of the limit.
        pub touch_pct: f64 = 25.0 => "the survivor touches this % of the limit",
        /// Peak may exceed the limit by this much (percent of the limit).
        pub peak_slack_pct: f64 = 2.0 => "peak may exceed the limit by this",
    }
}

impl Config {
    fn limit(&self) -> u64 {
        self.limit_mib * MIB
    }
    fn mapped(&self) -> u64 {
        memory::times(self.limit(), self.map_factor)
    }
    fn touched(&self) -> u64 {
        memory::pct_of(self.limit(), self.touch_pct)
    }
}

impl Scenario for MemoryVirtual {
    const NAME: &'static str = n::SCENARIO;
    const ABOUT: &'static str =
        "virtual vs resident memory: a hog mapping 4× the limit but touching a fraction lives; touching past the limit is OOM-killed";
    const NEEDS: &'static [Controller] = &[Controller::Memory];
    type Config = Config;

    fn validate(c: &Config) -> Result<(), ConfigError> {
        check_within("limit-mib", c.limit_mib, 8, 4096, "")?;
        check_within("map-factor", c.map_factor, 1.5, 64.0, " (the mapping must exceed the limit)")?;
        check_within("touch-pct", c.touch_pct, 1.0, 80.0, " (the survivor stays well below the limit)")?;
        memory::check_peak_slack(c.peak_slack_pct)
    }

    /// Two hogs, the second into the limit.
    fn estimate(_cfg: &Config, _cpus: u32) -> Duration {
        Duration::from_millis(400)
    }

    fn run(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, ScenarioError> {
        let survivor = run_hog(cfg, ctx, cfg.touched())?;
        let killed = run_hog(cfg, ctx, cfg.mapped())?;
        Ok(vec![result(cfg, &survivor, &killed, &ctx.launcher)])
    }
}

/// One hog: how it ended, what it touched, the cgroup's counters.
#[derive(Debug, Clone, PartialEq)]
struct Hog {
    exit: Exit,
    /// Bytes touched when done (None: it never finished).
    done: Option<u64>,
    /// Largest progress it reported.
    reached: u64,
    stats: MemoryStats,
}

/// Maps `cfg.mapped()` and touches `touch` bytes of it, under the limit.
fn run_hog(cfg: &Config, ctx: &Ctx, touch: u64) -> Result<Hog, ScenarioError> {
    let (map, max) = (cfg.mapped().to_string(), touch.to_string());
    let args = ["hog", "--step", "1M", "--max", &max, "--map", &map];
    let spec = memory::sandbox(ctx, &args, memory::memory_max(cfg.limit()), Duration::from_secs(60));
    let mut r = ctx.launch(&spec)?;
    r.wait_ready()?;
    let exit = r.wait_exit()?;
    let stats = r.cgroup().memory_stats()?;
    let done = r.events.iter().find_map(|e| match e {
        Event::HogDone(p) => Some(p.bytes),
        _ => None,
    });
    let reached = memory::hog_reached(&r.events);
    r.teardown()?;
    Ok(Hog {
        exit,
        done,
        reached,
        stats,
    })
}

fn peak(h: &Hog) -> Option<u64> {
    h.stats.peak.or(h.stats.current)
}

fn result(cfg: &Config, survivor: &Hog, killed: &Hog, launcher: &str) -> ScenarioResult {
    let limit = cfg.limit();
    let ceiling = limit + memory::pct_of(limit, cfg.peak_slack_pct);
    let lived = survivor.exit == Exit::Code(0)
        && survivor.done == Some(cfg.touched())
        && survivor.stats.events.oom_kill.unwrap_or(0) == 0;
    // The kernel killed it at the limit; the exit says so unless the
    // launcher swallows the signal (systemd-nspawn exits 1), as memory-oom
    // reports too: then a warn naming the launcher, not a pass.
    let oom_killed = killed.done.is_none()
        && killed.stats.events.oom_kill.unwrap_or(0) >= 1
        && peak(killed).is_some_and(|p| p <= ceiling);
    let died = if !oom_killed {
        Status::Fail
    } else if killed.exit.is_sigkill() {
        Status::Pass
    } else {
        Status::Warn
    };
    let show = |h: &Hog| {
        format!(
            "{}; touched {}; peak {}; oom_kill {}",
            h.exit,
            memory::mib(h.done.unwrap_or(h.reached)),
            peak(h).map_or("n/a".into(), memory::mib),
            opt(h.stats.events.oom_kill)
        )
    };
    let checks = [
        Check::new(
            n::MAPPED_SURVIVES,
            Status::pass_if(lived),
            format!(
                "a hog mapping {} (× {} the {} limit) and touching {} completes, exit 0, oom_kill 0",
                memory::mib(cfg.mapped()),
                cfg.map_factor,
                memory::mib(limit),
                memory::mib(cfg.touched())
            ),
            show(survivor),
            "the limit charges resident pages, not address space",
        ),
        Check::new(
            n::TOUCHED_KILLED,
            died,
            format!(
                "the same mapping touched page by page is SIGKILLed at the limit (peak ≤ {})",
                memory::mib(ceiling)
            ),
            show(killed),
            if died == Status::Warn {
                "the kernel OOM-killed it (oom_kill counted, peak at the limit), but the launcher did not pass the SIGKILL on: its callers cannot tell an OOM kill from a failure"
            } else {
                ""
            },
        ),
    ];
    let mut metrics = vec![
        Metric::with_target(n::KILLED_PEAK, "bytes", limit as f64, peak(killed).map(|p| p as f64).into_iter().collect()),
        Metric::new(n::SURVIVOR_PEAK, "bytes", Better::Lower, peak(survivor).map(|p| p as f64).into_iter().collect()),
    ];
    if let Some(p) = peak(survivor) {
        metrics.push(Metric::new(n::RESIDENT_OVER_MAPPED, "ratio", Better::Lower, vec![p as f64 / cfg.mapped() as f64]));
    }
    Point::for_launcher(n::SCENARIO, launcher)
        .params(memory::params(json!({
            "limit_mib": cfg.limit_mib,
            "mapped_mib": cfg.mapped() / MIB,
            "touched_mib": cfg.touched() / MIB,
        })))
        .checks(checks)
        .metrics(metrics)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::MemoryEvents;
    use crate::scenarios::memory::testing::{rejects, status};
    use crate::scenarios::Level;

    fn hog(exit: Exit, done: Option<u64>, peak: u64, oom_kill: u64) -> Hog {
        Hog {
            exit,
            done,
            reached: done.unwrap_or(peak),
            stats: MemoryStats {
                peak: Some(peak),
                events: MemoryEvents {
                    oom_kill: Some(oom_kill),
                    ..Default::default()
                },
                ..Default::default()
            },
        }
    }

    #[test]
    fn resident_limit_passes_and_a_virtual_limit_fails() {
        let c = MemoryVirtual::level(Level::Quick);
        let lives = hog(Exit::Code(0), Some(c.touched()), 17 * MIB, 0);
        let dies = hog(Exit::Signaled(9), None, 64 * MIB, 1);
        let r = result(&c, &lives, &dies, "native");
        assert!(r.checks.iter().all(|x| x.status == Status::Pass), "{:?}", r.checks);
        // A limit on address space would kill the survivor at mmap time.
        let refused = hog(Exit::Code(1), None, MIB, 0);
        let r = result(&c, &refused, &dies, "native");
        assert_eq!(status(&r, n::MAPPED_SURVIVES), Status::Fail);
        // A limit that does not hold: the toucher completes.
        let r = result(&c, &lives, &hog(Exit::Code(0), Some(c.mapped()), 256 * MIB, 0), "native");
        assert_eq!(status(&r, n::TOUCHED_KILLED), Status::Fail);
        // The kernel's OOM kill behind a launcher that exits 1 (nspawn).
        let r = result(&c, &lives, &hog(Exit::Code(1), None, 64 * MIB, 1), "nspawn");
        assert_eq!(status(&r, n::TOUCHED_KILLED), Status::Warn);
        // Exit 1 with no OOM kill counted is a failure, not a masked kill.
        let r = result(&c, &lives, &hog(Exit::Code(1), None, 30 * MIB, 0), "nspawn");
        assert_eq!(status(&r, n::TOUCHED_KILLED), Status::Fail);
    }

    #[test]
    fn config_is_checked() {
        rejects::<MemoryVirtual>(&[
            ("map-factor", |c| c.map_factor = 1.0),
            ("touch-pct", |c| c.touch_pct = 95.0),
            ("limit-mib", |c| c.limit_mib = 1),
        ]);
    }
}
