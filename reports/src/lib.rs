//! isobench-reports: the result schema, statistics, comparison and renderers.
//! Pure by design: nothing here needs root or touches the kernel, so reports
//! can be rendered and compared on any machine.

pub mod compare;
pub mod export;
pub mod fixture;
pub mod fleet;
pub mod key;
pub mod load;
pub mod names;
pub mod render;
pub mod schema;
pub mod stats;
pub mod units;

pub use compare::{
    calibrate, compare, CalibrateOptions, Comparison, Gate, GateError, Verdict, DEFAULT_RESAMPLES,
    DEFAULT_SEED,
};
pub use export::{export, ExportFormat, ExportFormatError};
pub use load::{read_results, write_results, ResultsError};
pub use render::{render_report, ReportError};
pub use schema::*;
pub use stats::Summary;
