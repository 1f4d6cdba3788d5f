//! isobench-reports: the result schema, statistics, comparison and renderers.
//! Pure by design: nothing here needs root or touches the kernel, so reports
//! can be rendered and compared on any machine.

pub mod load;
pub mod schema;
pub mod stats;

pub use load::{read_results, write_results, ResultsError};
pub use schema::*;
pub use stats::Summary;
