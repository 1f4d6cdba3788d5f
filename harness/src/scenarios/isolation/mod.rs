//! isolation: what a workload inside each namespace set can see of the host.
//!
//! `isobench-workload probe` runs first with no namespace at all — the
//! baseline, which must show every leak (otherwise a check that passes
//! later proves nothing) — then in each configured set, under a memory
//! limit and a CPU quota so the famous /proc visibility leaks have
//! something to leak. Each namespace of a set gets one check: it must
//! isolate (pass / fail). The baseline gets one per namespace kind: the leak
//! must be visible (pass / fail, or skip when this host cannot show it).
//! Visibility leaks are warnings.
//!
//! Then `isobench-workload escape` runs twice more: with no namespace (the
//! baseline, where most attempts get through, which proves the probe can
//! see an escape) and with the full set and the minimal rootfs, where every
//! attempt must be refused: signal and ptrace a host process (a `sleep` the
//! harness starts for it), write its own or its parent's cgroup limits,
//! mount and remount, load a kernel module, write /proc/sys, connect to an
//! abstract unix socket the harness listens on. Each attempt is a check
//! `escape.<attempt>` in a row with `probe = "escape"`.
//!
//! The verdicts are pure functions of the probe's typed report, the spec
//! and a few host facts, so they are tested on recorded data.
//!
//! Files: `config` (parameters), `sets` (which sets, what a launcher can
//! create), `probe` (one visibility probe and its row), `namespaces` (the
//! per-namespace detectors), `leaks` (the /proc views), `escape` (the
//! escape probe), `host` (what the harness knows of the host).

use std::time::Duration;

use isobench_reports::ScenarioResult;

use crate::cgroup::Controller;
use crate::sandbox::Namespaces;
use crate::scenarios::{ConfigError, Ctx, Scenario, ScenarioError};

mod config;
mod escape;
mod host;
mod leaks;
mod lxcfs_arm;
mod namespaces;
mod probe;
mod sets;
#[cfg(test)]
mod tests;

pub use config::{physical_memory, Config};
pub use escape::{escape_checks, escape_result, escape_spec, Escaped, ESCAPE_ATTEMPTS};
pub use host::{Host, ShmError, Window};
pub use leaks::leak_checks;
pub use namespaces::{namespace_checks, parse_id_map};
pub use probe::{probe_spec, set_result, Expect, Probed};
pub use sets::supported_part;

use host::{hostname, ShmSegment};
use sets::with_baseline;
use crate::scenarios::interrupted;

/// The scenario.
pub struct Isolation;

impl Scenario for Isolation {
    const NAME: &'static str = "isolation";
    const ABOUT: &'static str =
        "Isolation: `probe` per namespace set (and a no-namespace baseline that must leak); per-namespace checks and /proc leaks of memory, CPUs, uptime, load; `escape` attempts under the full set (each must be refused) and the baseline";
    const NEEDS: &'static [Controller] = &[Controller::Cpu, Controller::Memory];
    type Config = Config;

    /// The probes take milliseconds, so both levels probe the same.
    fn validate(cfg: &Config) -> Result<(), ConfigError> {
        cfg.validate_on(crate::env::cpus(), physical_memory())
    }

    /// A probe of the baseline and of each set, then the escapes.
    fn estimate(cfg: &Config, _cpus: u32) -> Duration {
        Duration::from_secs_f64((cfg.sets.len() + 2) as f64 * 0.4)
    }

    /// Probes the baseline, then each set, then the escapes.
    fn run(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, ScenarioError> {
        let shm = ShmSegment::create();
        let mut host = Host::gather(&shm);
        let mut probed = Vec::new();
        let mut arm_sets = Vec::new();
        let sets = with_baseline(&ctx.kind, cfg.effective_sets(ctx.namespaces));
        let total = sets.len() as u32;
        for (i, ns) in sets.into_iter().enumerate() {
            ctx.advance(i as u32, total);
            interrupted()?;
            // A peer that lacks a namespace kind is probed with the rest; the
            // missing kinds are reported, never silently dropped.
            let (kept, dropped) = supported_part(&ctx.kind, ns);
            if !ns.is_empty() {
                arm_sets.push((kept, dropped.clone()));
            }
            let spec = probe_spec(cfg, kept);
            // Nothing left to probe: the skips say why.
            let p = (kept != Namespaces::default() || ns.is_empty())
                .then(|| probe::run_probe(ctx, &spec, cfg.quota_cpus()));
            probed.push((spec, dropped, p, ctx.lap()));
        }
        let escapes = escape::run_escapes(cfg, ctx)?;
        let lxcfs = if cfg.lxcfs {
            lxcfs_arm::run_lxcfs_arm(cfg, ctx, &arm_sets)?
        } else {
            Vec::new()
        };
        host.hostname_after = hostname();
        drop(shm);
        let mut out: Vec<ScenarioResult> = probed
            .into_iter()
            .map(|(spec, dropped, p, took)| {
                let mut r = set_result(cfg, &spec, &dropped, p, &host, &ctx.launcher);
                r.duration_s = Some(took);
                r
            })
            .collect();
        out.extend(escapes);
        out.extend(lxcfs);
        Ok(out)
    }
}
