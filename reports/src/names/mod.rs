//! Names that cross crates: the metrics, series and checks each scenario
//! records, as constants. The scenarios write them, the plots and fixtures
//! read them, so a rename that misses one side does not compile.

pub mod cpu_latency;
pub mod cpu_quota;
pub mod cpu_weight;
pub mod cpuset;
pub mod io;
pub mod isolation;
pub mod memory_high;
pub mod memory_oom;
pub mod memory_protection;
pub mod memory_virtual;
pub mod nesting;
pub mod pagecache;
pub mod pid1;
pub mod pids;
pub mod startup;
pub mod supervisor;
