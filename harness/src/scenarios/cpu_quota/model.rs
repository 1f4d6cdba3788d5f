//! What CFS bandwidth control should grant, and whether other load on the
//! host explains a spinner that got less: the arithmetic behind the
//! accuracy and throttled checks, apart from any measuring.

use std::time::Duration;

use isobench_reports::compare::BUSY_CPUS;

use crate::monitor;

/// CPU time the kernel should grant: whole periods at the quota plus the
/// last partial period, capped by what the threads can consume.
pub fn expected_usage_ns(wall_ns: u64, quota_ns: u64, period_ns: u64, demand_cpus: f64) -> f64 {
    let n = wall_ns / period_ns;
    let rem = wall_ns % period_ns;
    let by_quota = (n * quota_ns + rem.min(quota_ns)) as f64;
    by_quota.min(demand_cpus * wall_ns as f64)
}

/// One spinner run, as measured.
#[derive(Debug, Clone)]
pub struct Rep {
    pub measured_ns: f64,
    pub expected_ns: f64,
    /// The quota set, per period (ns).
    pub quota_ns: f64,
    pub wall_ns: u64,
    pub nr_periods: u64,
    pub nr_throttled: u64,
    pub throttled_ns: u64,
    /// The monitor's samples (the timeline), when this run carried it.
    pub samples: Vec<monitor::Sample>,
    pub monitor_cpu: Duration,
    /// CPUs' worth of other work (and steal) on the host during the spin.
    pub others_cpus: f64,
    /// The workload's own CPU time (CLOCK_PROCESS_CPUTIME_ID), startup
    /// included.
    pub workload_cpu_ns: f64,
    /// CPU time of the spinning threads alone (their thread clocks): what
    /// the quota applied to after `ready`.
    pub spin_cpu_ns: f64,
    /// Everything the cgroup accounted, launch to exit.
    pub cgroup_total_ns: f64,
    /// The cgroup's cpu pressure over the spin (None: no PSI here).
    pub psi: Option<crate::cgroup::psi::Span>,
    /// The pressure over time (series name, points), on the sampled run.
    pub psi_series: Option<(String, Vec<[f64; 2]>)>,
    /// The PSI trigger test, on the run that carried it.
    pub trigger: Option<Result<TriggerRun, String>>,
}

/// A PSI trigger on this (stalled) spinner's cpu.pressure and one on an
/// idle sandbox beside it, polled over the same window.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerRun {
    /// As written: `some 150000 1000000`.
    pub spec: String,
    pub window_s: f64,
    /// Extra wait beyond the window: an unprivileged trigger (2 s windows)
    /// is evaluated only by the kernel's 2 s averaging work, so its first
    /// event can come one averaging period after the window; 0 otherwise.
    pub grace_s: f64,
    /// Seconds from registration to POLLPRI on the stalled cgroup (None:
    /// not within the window).
    pub stalled_after: Option<f64>,
    /// The idle cgroup's trigger fired within the window.
    pub idle_fired: bool,
}

impl Rep {
    /// Measured over expected CPU time.
    pub fn accuracy(&self) -> f64 {
        self.measured_ns / self.expected_ns
    }
}

/// One point of the sweep.
#[derive(Debug, Clone)]
pub struct SweepPoint {
    pub quota_pct: f64,
    pub period_ms: f64,
    pub threads: u32,
    pub demand: f64,
    /// Quota below demand: throttling must be seen.
    pub limited: bool,
    /// Running under TCG emulation (time is emulated).
    pub emulated: bool,
    /// CPUs the host has: what other load and the spinner share.
    pub cpus: f64,
}

impl SweepPoint {
    /// The quota equals the demand and the period is short enough for CFS's
    /// per-period accounting (up to one bandwidth slice, 5 ms by default,
    /// per period) to exceed the tolerance: slice / period > tolerance.
    pub fn at_limit(&self, tol: f64) -> bool {
        let slice_ms = std::fs::read_to_string("/proc/sys/kernel/sched_cfs_bandwidth_slice_us")
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .map_or(5.0, |us| us / 1000.0);
        (self.quota_pct / 100.0 - self.demand).abs() < 1e-9 && slice_ms / self.period_ms > tol
    }
}

/// Whether other host load explains a repetition's shortfall, by arithmetic.
/// First, the throttling counter must agree: a period ends throttled only
/// after the group used its whole quota in it, so a group throttled in N
/// periods used at least N × quota. Less than that means the limit enforced
/// is lower than the one set, however busy the host was (a runtime that
/// halves the quota is throttled every period at half the quota). Then one
/// of:
/// - the CPUs left after the measured other load (over the same interval)
///   are fewer than the expected usage, and the spinner got what was left
///   (within the margin below);
/// - the host was busy (other load above 0.25 CPUs) and the CPU time missing
///   is no more than the other load used (within the margin): run-queue
///   contention, which an average load figure understates (three runnable
///   tasks on two CPUs share them even when their average leaves room).
///
/// The margin is the check's tolerance of the expected usage plus what
/// the other-load figure itself can be off: it comes from two /proc/stat
/// readings, in ticks (1/USER_HZ per CPU, and tick-sampled where the kernel
/// accounts by tick), while the spinner's usage is the cgroup's exact
/// count. Without it a spinner that got 0.262 of the 0.31 CPUs left (2
/// CPUs, other load 1.69) was called a broken limit, one run in seven.
///
/// Returns the verdict and the arithmetic for the check's detail.
pub fn starvation(r: &Rep, cpus: f64, tol: f64) -> (bool, String) {
    let wall = r.wall_ns.max(1) as f64;
    let (expected, measured) = (r.expected_ns / wall, r.measured_ns / wall);
    let left = (cpus - r.others_cpus).max(0.0);
    let margin = tol * expected + other_load_resolution(cpus, wall);
    let floor = (expected.min(left) - margin).max(0.0);
    let missing = (expected - measured).max(0.0);
    let throttled_floor = (1.0 - tol) * r.nr_throttled as f64 * r.quota_ns;
    let lower_limit = r.measured_ns < throttled_floor;
    let no_room = left < expected && measured >= floor;
    let contention = r.others_cpus > BUSY_CPUS && missing <= r.others_cpus + margin;
    let explained = !lower_limit && (no_room || contention);
    let verdict = if lower_limit {
        format!(
            "; but throttled in {} periods: a group throttled N times used ≥ N × quota = {:.3} s (less the tolerance), and it used {:.3} s — the limit enforced is lower than the one set",
            r.nr_throttled,
            throttled_floor / 1e9,
            r.measured_ns / 1e9
        )
    } else if no_room {
        format!("; ≥ {floor:.3}, what was left less the margin {margin:.3}: starved")
    } else if contention {
        format!(
            "; missing {missing:.3} ≤ other load {:.2} (> {BUSY_CPUS} CPUs) + margin {margin:.3}: run-queue contention, starved",
            r.others_cpus
        )
    } else {
        format!(
            "; missing {missing:.3} CPUs > other load {:.2} CPUs + margin {margin:.3}: more missing than other load explains",
            r.others_cpus
        )
    };
    let text = format!(
        "{cpus} CPUs − other load {:.2} = {left:.2} left {} expected {expected:.3}; got {measured:.3}{verdict}",
        r.others_cpus,
        if left < expected { "<" } else { "≥" },
    );
    (explained, text)
}

/// How far the other-load figure (CPUs) over `wall_ns` can be off from
/// its resolution alone: each of the two /proc/stat readings is up to one
/// tick (1/USER_HZ s) per CPU short.
pub fn other_load_resolution(cpus: f64, wall_ns: f64) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let tick_s = 1.0 / if hz > 0 { hz as f64 } else { 100.0 };
    2.0 * cpus * tick_s / (wall_ns / 1e9).max(1e-3)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(measured_cpus: f64, expected_cpus: f64, others_cpus: f64, throttled: u64) -> Rep {
        let wall_ns = 2_500_000_000u64;
        let w = wall_ns as f64;
        Rep {
            measured_ns: measured_cpus * w,
            expected_ns: expected_cpus * w,
            quota_ns: 2e8,
            wall_ns,
            nr_periods: 25,
            nr_throttled: throttled,
            throttled_ns: 0,
            samples: Vec::new(),
            monitor_cpu: Duration::ZERO,
            others_cpus,
            workload_cpu_ns: measured_cpus * w,
            spin_cpu_ns: measured_cpus * w,
            cgroup_total_ns: measured_cpus * w,
            psi: None,
            psi_series: None,
            trigger: None,
        }
    }

    #[test]
    fn other_load_explains_a_shortfall_within_its_margin_only() {
        // The intermittent runc failure (issue 17, one run in seven): 200%
        // quota, 2 threads, 2 CPUs, other load 1.69: got 0.262 of the 0.31
        // left; 1.734 missing against 1.69 of other load.
        let (ok, why) = starvation(&rep(0.262, 1.996, 1.69, 0), 2.0, 0.05);
        assert!(ok, "{why}");
        assert!(why.contains("margin"), "{why}");
        // Far more missing than other load and the margin explain.
        let (ok, why) = starvation(&rep(0.262, 1.996, 1.2, 0), 2.0, 0.05);
        assert!(!ok, "{why}");
        assert!(why.contains("more missing than other load explains"), "{why}");
        // A group throttled in every period used less than N × quota:
        // a lower limit, however busy the host.
        let (ok, why) = starvation(&rep(0.262, 1.996, 1.69, 25), 2.0, 0.05);
        assert!(!ok && why.contains("lower than the one set"), "{why}");
        // The figure's resolution: 2 ticks per CPU over the wall time.
        let res = other_load_resolution(2.0, 2.5e9);
        assert!(res > 0.0 && res < 0.05, "{res}");
    }

    #[test]
    fn expected_follows_selftest_formula() {
        // 2.05 s at 20 ms / 100 ms: 20 full periods + min(50 ms, 20 ms).
        let e = expected_usage_ns(2_050_000_000, 20_000_000, 100_000_000, 1.0);
        assert_eq!(e, (20 * 20_000_000 + 20_000_000) as f64);
        // Remainder shorter than the quota counts fully.
        let e = expected_usage_ns(2_010_000_000, 20_000_000, 100_000_000, 1.0);
        assert_eq!(e, (20 * 20_000_000 + 10_000_000) as f64);
        // Capped by demand: 1 thread under a 150% quota gets at most 1 CPU.
        let e = expected_usage_ns(1_000_000_000, 150_000_000, 100_000_000, 1.0);
        assert_eq!(e, 1e9);
    }
}
