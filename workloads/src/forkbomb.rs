//! `forkbomb [--report-ms MS]`: a controlled fork bomb. Only the leader
//! forks (as fast as it can); children just sleep holding their pid. It
//! never exits on its own: the harness kills the cgroup (which must have a
//! pids limit).

use crate::args::Flags;
use crate::json::Obj;
use crate::report::Reporter;
use crate::sys::{self, Forked};
use crate::{Failure, Outcome};

pub fn main(rep: &Reporter, args: &[String]) -> Outcome {
    let f = Flags::parse("forkbomb", args, &["report-ms"]).map_err(Failure::Usage)?;
    let report_ms = f
        .f64_in("report-ms", Some(100.0), 1.0, 3.6e6)
        .map_err(Failure::Usage)?;
    rep.ready();
    bomb(rep, (report_ms * 1e6) as i64, None, None);
    unreachable!("forkbomb without a limit returns only via process death")
}

/// The leader's loop. Reports every `report_ns`. With `max_attempts` it
/// stops after that many fork attempts (tests); `pids` collects child pids.
/// Returns (forked, failed).
pub fn bomb(
    rep: &Reporter,
    report_ns: i64,
    max_attempts: Option<u64>,
    mut pids: Option<&mut Vec<i32>>,
) -> (u64, u64) {
    let start = sys::mono_ns();
    let mut next = start + report_ns;
    let (mut forked, mut failed) = (0u64, 0u64);
    let report = |forked: u64, failed: u64, now: i64| {
        rep.emit(
            &Obj::event("forkbomb")
                .u64("forked", forked)
                .u64("failed", failed)
                .u64("t_ns", sys::since(start, now))
                .line(),
        );
    };
    loop {
        match sys::fork_process() {
            // The child only calls pause(2): async-signal-safe.
            Ok(Forked::Child) => sys::pause_forever(),
            Ok(Forked::Parent(pid)) => {
                forked += 1;
                if let Some(p) = pids.as_deref_mut() {
                    p.push(pid);
                }
            }
            Err(_) => {
                // Usually EAGAIN from the pids limit: back off a little.
                failed += 1;
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
        let now = sys::mono_ns();
        if now >= next {
            report(forked, failed, now);
            next += report_ns;
            if next <= now {
                next = now + report_ns;
            }
        }
        if max_attempts.is_some_and(|m| forked + failed >= m) {
            report(forked, failed, sys::mono_ns());
            return (forked, failed);
        }
    }
}
