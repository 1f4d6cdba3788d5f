//! The result channel: line-delimited JSON on an inherited file descriptor.

use crate::json::Obj;
use crate::sys;

/// Environment variable naming the fd results are written to.
pub const REPORT_FD_ENV: &str = "ISOBENCH_REPORT_FD";

/// Writes one JSON object per line, each with a single write(2).
#[derive(Clone, Copy, Debug)]
pub struct Reporter {
    fd: i32,
}

impl Reporter {
    /// Report to `fd` (not validated).
    pub fn new(fd: i32) -> Reporter {
        Reporter { fd }
    }

    /// Report to the fd in `$ISOBENCH_REPORT_FD`, or stderr if it is unset,
    /// not a non-negative integer, or not an open fd.
    pub fn from_env() -> Reporter {
        let fd = std::env::var_os(REPORT_FD_ENV)
            .and_then(|v| v.to_str().and_then(|s| s.trim().parse::<i32>().ok()))
            .filter(|&fd| fd >= 0 && sys::fd_is_open(fd))
            .unwrap_or(2);
        Reporter { fd }
    }

    pub fn fd(&self) -> i32 {
        self.fd
    }

    /// Write one complete line (must end in '\n'). Errors are ignored: there
    /// is nowhere else to report them.
    pub fn emit(&self, line: &str) {
        debug_assert!(line.ends_with('\n'));
        let _ = sys::write_all(self.fd, line.as_bytes());
    }

    /// `{"event":"ready"}` — no allocation.
    pub fn ready(&self) {
        self.emit("{\"event\":\"ready\"}\n");
    }

    /// `{"event":"error","msg":..}` (plus `"proc":i` in forked children).
    pub fn error(&self, msg: &str, proc_index: Option<u64>) {
        self.emit(
            &Obj::event("error")
                .str("msg", msg)
                .maybe_u64("proc", proc_index)
                .line(),
        );
    }
}
