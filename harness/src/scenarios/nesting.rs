//! nesting: a sandbox makes its own sandbox. The outer sandbox (root in
//! pid + mnt + cgroup namespaces, minimal rootfs, memory and pids limits)
//! runs `isobench-workload nest`: it mounts its cgroup hierarchy (rooted at
//! its own cgroup by the cgroup namespace), creates `inner` with limits
//! larger than its own, delegates it to uid 65534, and starts a child there
//! that unshares user, pid, mnt and cgroup namespaces. The inner pid 1's
//! hog must die near the *outer* memory limit, its forks be refused at the
//! *outer* pids limit. On v2 the delegation rules of the kernel's
//! selftests (tools/testing/selftests/cgroup/test_core.c) are tried on the
//! way, each a check with the errno seen; on v1 they are skips.

use std::time::Duration;

use isobench_reports::names::nesting as n;
use isobench_reports::{Better, Check, Metric, ScenarioResult, Status};

use super::config::{reject_if, scenario_config};
use super::error::Context;
use super::{ConfigError, Ctx, Point, Scenario, ScenarioError};
use crate::cgroup::{Controller, Limits};
use crate::sandbox::event::{Event, Nest, NestBoundary, NestInner};
use crate::sandbox::{Exit, Namespaces, Rootfs, SandboxSpec};

/// The scenario.
pub struct Nesting;

scenario_config! {
    /// Parameters.
    pub struct Config {
        pub outer_memory_mib: u64 = 256 => "memory limit of the outer sandbox",
        pub inner_memory_mib: u64 = 1024 => "memory limit the outer sets on its inner cgroup (larger: still bound by the outer)",
        pub outer_pids: u64 = 32 => "pids limit of the outer sandbox",
        pub inner_pids: u64 = 1000 => "pids limit the outer sets on its inner cgroup",
        pub step_mib: u64 = 8 => "the inner hog's allocation step",
    }
}

impl Scenario for Nesting {
    const NAME: &'static str = n::SCENARIO;
    const ABOUT: &'static str = "nesting: a sandbox creates its own (user/pid/mnt/cgroup namespaces, a delegated child cgroup); inner limits larger than the outer are bound by the outer; on v2 the delegation rules (no internal processes, top-down controllers, boundary) hold with the kernel's errnos";
    const NEEDS: &'static [Controller] = &[Controller::Memory, Controller::Pids];
    /// One sandbox hogging 256 MiB and forking: well under a second here,
    /// seconds in a TCG guest.
    const QUICK: bool = false;
    type Config = Config;

    fn validate(c: &Config) -> Result<(), ConfigError> {
        reject_if(!(32..=4096).contains(&c.outer_memory_mib), || {
            format!("outer-memory-mib {} is outside 32 – 4096", c.outer_memory_mib)
        })?;
        reject_if(c.inner_memory_mib <= c.outer_memory_mib, || {
            format!(
                "inner-memory-mib {} must exceed outer-memory-mib {} (the point is an inner limit the outer binds)",
                c.inner_memory_mib, c.outer_memory_mib
            )
        })?;
        reject_if(!(8..=1024).contains(&c.outer_pids), || {
            format!("outer-pids {} is outside 8 – 1024", c.outer_pids)
        })?;
        reject_if(c.inner_pids <= c.outer_pids, || {
            format!(
                "inner-pids {} must exceed outer-pids {}",
                c.inner_pids, c.outer_pids
            )
        })?;
        reject_if(!(1..=64).contains(&c.step_mib), || {
            format!("step-mib {} is outside 1 – 64", c.step_mib)
        })
    }

    fn estimate(_cfg: &Config, _cpus: u32) -> Duration {
        Duration::from_secs(2)
    }

    fn run(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, ScenarioError> {
        let v2 = [Controller::Memory, Controller::Pids]
            .iter()
            .all(|c| ctx.set.v2_controllers.contains(c));
        let spec = spec(cfg, v2);
        let mut r = ctx.launch(&spec)?;
        r.wait_ready()?;
        let exit = r.wait_exit()?;
        let nest = r.first(Event::as_nest);
        let boundary = r.first(Event::as_nest_boundary);
        let inner = r.first(Event::as_nest_inner);
        let errors: Vec<String> = r
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Error { msg } => Some(msg.clone()),
                _ => None,
            })
            .collect();
        r.teardown().context("teardown")?;
        let row = Point::new(Self::NAME, ctx)
            .param("cgroup", if v2 { "v2" } else { "v1" })
            .param("outer_memory_mib", cfg.outer_memory_mib)
            .param("inner_memory_mib", cfg.inner_memory_mib)
            .param("outer_pids", cfg.outer_pids)
            .param("inner_pids", cfg.inner_pids);
        if exit != Exit::Code(0) || nest.is_none() {
            return Ok(vec![row
                .error(format!(
                    "nest ended with {exit}{}",
                    if errors.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", errors.join("; "))
                    }
                ))
                .build()]);
        }
        let nest = nest.expect("checked above");
        let mut row = row.checks(checks(cfg, v2, &nest, boundary.as_ref(), inner.as_ref()));
        if let Some(p) = nest.inner_peak_bytes {
            row = row.metric(Metric::new(n::INNER_PEAK, "bytes", Better::Target, vec![p as f64]));
        }
        if let Some(i) = &inner {
            row = row.metric(Metric::new(n::INNER_FORKS, "count", Better::Target, vec![i.forks as f64]));
        }
        Ok(vec![row.build()])
    }
}

/// The outer sandbox: root (no user namespace, so it may mount its cgroup
/// hierarchy and delegate), pid + mnt + cgroup namespaces, minimal rootfs.
pub fn spec(cfg: &Config, v2: bool) -> SandboxSpec {
    let mib = |m: u64| (m << 20).to_string();
    let mut s = SandboxSpec::workload(&[
        "nest",
        "--cgroup",
        if v2 { "v2" } else { "v1" },
        "--inner-memory",
        &mib(cfg.inner_memory_mib),
        "--inner-pids",
        &cfg.inner_pids.to_string(),
        "--step",
        &mib(cfg.step_mib),
    ]);
    s.namespaces = Namespaces::parse("pid,mnt,cgroup").expect("built-in set");
    s.rootfs = Rootfs::Minimal;
    s.limits = Limits {
        memory_max: Some(cfg.outer_memory_mib << 20),
        pids_max: Some(cfg.outer_pids),
        ..Default::default()
    };
    s.deadline = Duration::from_secs(60);
    s
}

fn errno_name(e: i64) -> String {
    match e {
        0 => "allowed".into(),
        -1 => "not tried".into(),
        e => {
            let name = nix::errno::Errno::from_raw(e as i32);
            format!("{name:?} ({e})")
        }
    }
}

/// A check that the kernel refused with one of `want`.
fn refused(name: &str, got: Option<i64>, want: &[nix::errno::Errno], what: &str) -> Check {
    let want_s: Vec<String> = want.iter().map(|w| format!("{w:?}")).collect();
    let expected = format!("{what} refused with {}", want_s.join(" or "));
    match got {
        None => Check::new(name, Status::Fail, expected, "not reported", "the workload did not get that far"),
        Some(e) => {
            let ok = want.iter().any(|w| *w as i64 == e);
            Check::new(
                name,
                Status::pass_or(ok, Status::Fail),
                expected,
                errno_name(e),
                if e == 0 { "the kernel allowed it: the delegation rule does not hold" } else { "" },
            )
        }
    }
}

/// The checks, from the three events.
pub fn checks(cfg: &Config, v2: bool, nest: &Nest, b: Option<&NestBoundary>, i: Option<&NestInner>) -> Vec<Check> {
    use nix::errno::Errno;
    let outer = cfg.outer_memory_mib << 20;
    let mib = |b: u64| b as f64 / f64::from(1u32 << 20);
    let memory = match (i, nest.inner_peak_bytes) {
        (Some(i), Some(peak)) => {
            let killed = i.hog_signal == libc::SIGKILL as i64;
            // The page counter may pass the limit by a charge batch before
            // reclaim and the OOM killer act: 2 % is "near".
            let near = peak <= outer + outer / 50 && peak * 2 >= outer;
            Check::new(
                n::INNER_MEMORY_BOUND_BY_OUTER,
                Status::pass_or(killed && near, Status::Fail),
                format!(
                    "the inner hog SIGKILLed with the inner cgroup's peak within 2 % of the outer {} MiB (and over half of it), though the inner limit is {} MiB",
                    cfg.outer_memory_mib, cfg.inner_memory_mib
                ),
                format!(
                    "{}; inner peak {:.2} MiB{}",
                    if killed { "SIGKILLed".to_string() } else if i.hog_signal != 0 { format!("signal {}", i.hog_signal) } else { format!("exited {}", i.hog_code) },
                    mib(peak),
                    nest.inner_oom_kills.map_or(String::new(), |k| format!(", {k} OOM kill(s) in the inner cgroup's memory.events"))
                ),
                "",
            )
        }
        _ => Check::new(n::INNER_MEMORY_BOUND_BY_OUTER, Status::Fail, "the inner hog's end and peak", "not reported", "the inner sandbox did not report"),
    };
    let pids = match i {
        Some(i) => {
            let ok = i.fork_errno == Errno::EAGAIN as i64 && i.forks < cfg.outer_pids;
            Check::new(
                n::INNER_PIDS_BOUND_BY_OUTER,
                Status::pass_or(ok, Status::Fail),
                format!(
                    "forks refused (EAGAIN) below the outer pids limit {}, though the inner limit is {}",
                    cfg.outer_pids, cfg.inner_pids
                ),
                format!("{} fork(s), then {}", i.forks, errno_name(i.fork_errno)),
                "",
            )
        }
        None => Check::new(n::INNER_PIDS_BOUND_BY_OUTER, Status::Fail, "the inner forks", "not reported", ""),
    };
    let mut out = vec![memory, pids];
    if !v2 {
        let why = "cgroup v1 (this host's memory and pids controllers): no subtree_control, so no no-internal-process or top-down rule, and v1 ignores the cgroup namespace on migration; run it in the v2 guest: isobench vm --kernel 6.1 -- run --scenario nesting";
        for c in [n::NO_INTERNAL_PROCESSES, n::TOP_DOWN, n::CGROUPNS_BOUNDARY, n::DELEGATEE_BOUNDARY] {
            out.push(Check::new(c, Status::Skip, "a cgroup v2 memory and pids hierarchy", "cgroup v1", why));
        }
        return out;
    }
    out.push(refused(
        n::NO_INTERNAL_PROCESSES,
        nest.enter_parent_errno,
        &[Errno::EBUSY],
        "writing a pid into the cgroup that enabled memory and pids in its subtree_control",
    ));
    out.push(refused(
        n::TOP_DOWN,
        nest.topdown_errno,
        &[Errno::ENOENT],
        &format!(
            "enabling +{} in the child, which its parent did not enable for it",
            nest.topdown_controller.as_deref().unwrap_or("?")
        ),
    ));
    out.push(refused(
        n::CGROUPNS_BOUNDARY,
        b.map(|b| b.cgroupns_errno),
        &[Errno::ENOENT],
        "migrating to a cgroup outside its cgroup namespace (cgroup.procs opened inside the namespace)",
    ));
    out.push(refused(
        n::DELEGATEE_BOUNDARY,
        b.map(|b| b.lesser_euid_errno),
        &[Errno::EACCES],
        "the delegatee (euid 65534) migrating to a cgroup outside its delegated subtree",
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nest(enter: i64, topdown: i64) -> Nest {
        Nest {
            cgroup: "v2".into(),
            enter_parent_errno: Some(enter),
            topdown_controller: Some("cpu".into()),
            topdown_errno: Some(topdown),
            child_code: 0,
            inner_peak_bytes: Some(255 << 20),
            outer_peak_bytes: Some(256 << 20),
            inner_oom_kills: Some(1),
        }
    }

    fn status(cs: &[Check], name: &str) -> Status {
        cs.iter().find(|c| c.name == name).unwrap().status
    }

    #[test]
    fn verdicts_follow_the_kernel_errnos() {
        let cfg = Nesting::level(super::super::Level::Default);
        let inner = NestInner { hog_signal: 9, hog_code: -1, forks: 29, fork_errno: libc::EAGAIN as i64 };
        let b = NestBoundary { cgroupns_errno: libc::ENOENT as i64, lesser_euid_errno: libc::EACCES as i64 };
        let cs = checks(&cfg, true, &nest(libc::EBUSY as i64, libc::ENOENT as i64), Some(&b), Some(&inner));
        assert!(cs.iter().all(|c| c.status == Status::Pass), "{cs:#?}");
        // Allowed where the rule forbids: fail.
        let cs = checks(&cfg, true, &nest(0, libc::ENOENT as i64), Some(&b), Some(&inner));
        assert_eq!(status(&cs, n::NO_INTERNAL_PROCESSES), Status::Fail);
        // A hog that finished under the inner limit: the outer did not bind.
        let done = NestInner { hog_signal: 0, hog_code: 0, ..inner.clone() };
        let cs = checks(&cfg, true, &nest(16, 2), Some(&b), Some(&done));
        assert_eq!(status(&cs, n::INNER_MEMORY_BOUND_BY_OUTER), Status::Fail);
        // v1: the v2-only rules skip, the limits still count.
        let cs = checks(&cfg, false, &nest(-1, -1), None, Some(&inner));
        assert_eq!(status(&cs, n::INNER_MEMORY_BOUND_BY_OUTER), Status::Pass);
        assert_eq!(status(&cs, n::TOP_DOWN), Status::Skip);
    }

    #[test]
    fn config_rejects_inner_limits_that_do_not_exceed_the_outer() {
        let mut c = Nesting::level(super::super::Level::Default);
        assert!(Nesting::validate(&c).is_ok());
        c.inner_memory_mib = c.outer_memory_mib;
        assert!(Nesting::validate(&c).is_err());
    }
}
