//! Metric, series, param and check names of the cpu-quota scenario: the one
//! spelling the scenario, the plots and the fixtures share. Metric, series
//! and check names overlap (`accuracy`, `throttled`), so series and checks
//! carry their kind in the constant's name.

/// The scenario's name in results.
pub const SCENARIO: &str = "cpu-quota";

/// Param: the quota, % of one CPU.
pub const QUOTA_PCT: &str = "quota_pct";
/// Param: the CFS period.
pub const PERIOD_MS: &str = "period_ms";
/// Param: spinner threads.
pub const THREADS: &str = "threads";
/// Param: CPUs the threads can use.
pub const DEMAND_CPUS: &str = "demand_cpus";

/// Measured over expected CPU time.
pub const ACCURACY: &str = "accuracy";
/// `accuracy` where the quota equals the demand.
pub const AT_LIMIT_EFFICIENCY: &str = "at_limit_efficiency";
/// CPU time over wall time, in CPUs.
pub const USAGE_CPUS: &str = "usage_cpus";
pub const THROTTLED_FRACTION: &str = "throttled_fraction";
pub const THROTTLED_TIME: &str = "throttled_time";
/// Other work on the host during the spin, in CPUs: compare does not judge a
/// point whose host was busy (`compare::BUSY_CPUS`).
pub const HOST_OTHER_LOAD: &str = "host_other_load";
/// The monitor's own CPU time over the sampled span.
pub const MONITOR_CPU_FRACTION: &str = "monitor_cpu_fraction";

/// Series: CPU usage per monitor sample interval.
pub const SERIES_USAGE_CPUS: &str = "usage_cpus";
/// Series: 1 where the interval saw throttling, else 0.
pub const SERIES_THROTTLED: &str = "throttled";

pub const CHECK_ACCURACY: &str = "accuracy";
/// The accuracy check where the quota equals the demand.
pub const CHECK_AT_LIMIT: &str = "at-limit";
pub const CHECK_CONFINED: &str = "confined";
pub const CHECK_THROTTLED: &str = "throttled";
/// A quota below demand shows cpu.pressure some > 0.
pub const CHECK_PSI_STALL: &str = "psi-cpu-stall";
/// A PSI trigger fires within one window under the stall, not when idle.
pub const CHECK_PSI_TRIGGER: &str = "psi-trigger";
/// Metric: seconds from registering the trigger to POLLPRI.
pub const PSI_TRIGGER_LATENCY: &str = "psi_trigger_latency";
