//! Sampling the hog's cgroup while it runs into the limit: when the limit
//! was first hit, when the leader died, when a hang showed, and the usage
//! timeline, all on the parent's clock.

use std::time::{Duration, Instant};

use crate::cgroup::{Cgroup, MemoryStats};
use crate::sandbox::Running;
use crate::scenarios::memory::in_mib;
use crate::scenarios::ScenarioError;

/// How often the watcher samples counters while the hog runs.
pub const WATCH_INTERVAL: Duration = Duration::from_micros(500);

/// What the watcher saw while the hog ran, on the parent's clock.
#[derive(Debug, Default)]
pub struct Watch {
    /// First sample showing the limit was hit (failcnt / memory.events max).
    pub limit_hit: Option<Instant>,
    /// The leader's exit.
    pub died: Option<Instant>,
    /// First sample with under_oom (v1, oom_kill_disable).
    pub under_oom: Option<Instant>,
    pub max_current: u64,
    /// [t s, usage MiB] since the watch started, when usage changed.
    pub series: Vec<[f64; 2]>,
}

/// True once the cgroup ran into its limit: the kernel counted a limit hit
/// (failcnt / memory.events max), or usage is within one hog step of the
/// limit (runtimes that set v1 memsw equal to the limit hit memsw first,
/// leaving memory.failcnt at 0).
pub fn limit_was_hit(s: &MemoryStats, near: u64) -> bool {
    s.events.max.unwrap_or(0) > 0 || s.failcnt.unwrap_or(0) > 0 || s.current.unwrap_or(0) >= near
}

/// Samples memory counters until the leader dies (or a hang shows, when
/// `stop_on_hang`), or `until`.
pub fn watch(
    r: &Running,
    until: Instant,
    near: u64,
    stop_on_hang: bool,
) -> Result<Watch, ScenarioError> {
    let t0 = Instant::now();
    let mut w = Watch::default();
    let mut last = None;
    loop {
        crate::scenarios::interrupted()?;
        let s = r.cgroup().memory_stats()?;
        let now = Instant::now();
        if w.limit_hit.is_none() && limit_was_hit(&s, near) {
            w.limit_hit = Some(now);
        }
        let cur = s.current.unwrap_or(0);
        w.max_current = w.max_current.max(cur);
        if last != Some(cur) {
            w.series.push([(now - t0).as_secs_f64(), in_mib(cur)]);
            last = Some(cur);
        }
        if s.under_oom == Some(true) && w.under_oom.is_none() {
            w.under_oom = Some(now);
            if stop_on_hang {
                return Ok(w);
            }
        }
        if r.exited_within(WATCH_INTERVAL) {
            w.died = Some(Instant::now());
            return Ok(w);
        }
        if now >= until {
            return Ok(w);
        }
    }
}

/// Polls until the cgroup is empty; the seconds it took, or None past `bound`.
pub fn wait_empty(r: &Running, bound: Duration) -> Result<Option<f64>, ScenarioError> {
    let t = Instant::now();
    loop {
        crate::scenarios::interrupted()?;
        if r.cgroup().pids()?.is_empty() {
            return Ok(Some(t.elapsed().as_secs_f64()));
        }
        if t.elapsed() > bound {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_micros(500));
    }
}

/// Seconds from `from` to `to`, when both were seen.
pub fn between(from: Option<Instant>, to: Option<Instant>) -> Option<f64> {
    Some(to?.saturating_duration_since(from?).as_secs_f64())
}
