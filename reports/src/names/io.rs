//! Metric, param and check names of the io scenario: the one spelling the
//! scenario, the plots and the fixtures share.

pub const SCENARIO: &str = "io";

/// Params of every point: what was limited (`rbps`, `wbps`, `riops`,
/// `wiops`, `weight`), to what (bytes or IOs per second), and how.
pub const PARAM_LIMIT: &str = "limit";
pub const PARAM_LIMIT_VALUE: &str = "limit_value";
pub const PARAM_OP: &str = "op";
pub const PARAM_DEVICE: &str = "device";
/// `loop` (a loop device isobench attached) or `dir` (the disk under a
/// filesystem directory, e.g. the VM's virtio scratch disk).
pub const PARAM_DEVICE_KIND: &str = "device_kind";
/// `cgroup2` or `unified tree (hybrid)`: where io.pressure was read.
pub const PARAM_PSI_SOURCE: &str = "psi_source";

/// Rate from the cgroup's own counters over the window / the limit.
pub const ACCURACY: &str = "accuracy";
/// Rate from the cgroup's counters (MiB/s or IOPS).
pub const RATE: &str = "rate";
/// The device's unthrottled rate for the point's op and request size
/// (MiB/s or IOPS), measured once per run: a limit above it is a skip.
pub const UNTHROTTLED: &str = "unthrottled";
/// Rate the workload itself saw (bytes or requests / its run time).
pub const WORKLOAD_RATE: &str = "workload_rate";
/// Buffered writes: the writer's rate / the wbps limit.
pub const BUFFERED_RATIO: &str = "buffered_ratio";
/// Buffered writes: the rate charged to the cgroup (io.stat / blkio
/// wbytes) / the wbps limit.
pub const CHARGED_RATIO: &str = "charged_ratio";
/// Weights: the high-weight reader's share of the bytes both read.
pub const WEIGHT_SHARE: &str = "weight_share";

/// A throttled point's rate is within its band of the limit.
pub const WITHIN_LIMIT: &str = "rate_within_limit";
/// io.max / blkio throttling shows as io pressure (some > 0).
pub const IO_PRESSURE: &str = "io_pressure";
/// v1: buffered writes bypass blkio throttling (a finding, never a failure).
pub const BUFFERED_V1_BYPASS: &str = "buffered_v1_bypass";
/// v2: the device's writeback of buffered writes is charged to the
/// writer's cgroup (not to the flusher's root).
pub const WRITEBACK_CHARGED: &str = "writeback_charged";
/// v2: a buffered writer is held to the wbps limit (its bytes ≤ limit ×
/// time + what its memory limit lets it keep dirty).
pub const BUFFERED_THROTTLED: &str = "buffered_throttled";
/// Buffered writes: the share of the device's writes over the window
/// that the writer's cgroup was charged.
pub const CHARGED_SHARE: &str = "charged_share";
/// Proportional weights give the heavier reader the larger share.
pub const WEIGHTS: &str = "weights";
/// The skip row when no device or no io controller is usable.
pub const SKIP: &str = "io";
