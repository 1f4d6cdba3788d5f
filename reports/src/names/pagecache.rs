//! Metric, series and check names of the pagecache scenario: the one spelling
//! the scenario, the plots and the fixtures share.

/// Peak usage of each run, bytes (target: the limit).
pub const PEAK_USAGE: &str = "peak_usage";
pub const WRITE_RATE: &str = "write_rate";
/// Largest page cache (memory.stat file) sampled, bytes.
pub const PAGE_CACHE_PEAK: &str = "page_cache_peak";
/// Limit hits (memory.events max / failcnt) of each run.
pub const LIMIT_HITS: &str = "limit_hits";

/// Series of the first run, `[t s, MiB]`: usage and page cache.
pub const USAGE_MIB: &str = "usage_mib";
pub const PAGE_CACHE_MIB: &str = "page_cache_mib";

pub const NO_OOM_KILL: &str = "no_oom_kill";
pub const USAGE_WITHIN_LIMIT: &str = "usage_within_limit";
pub const CACHE_RECLAIMED: &str = "cache_reclaimed";
/// The skip row when no disk directory is reachable.
pub const SKIP: &str = "pagecache";
