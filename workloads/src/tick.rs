//! `tick --period-ms P --work-ms W [--count N]`: a periodic task on a fixed
//! CLOCK_MONOTONIC grid, measuring wake-up and completion latency (CPU
//! throttling shows up as completion latency beyond W).

use crate::args::Flags;
use crate::json::Obj;
use crate::report::Reporter;
use crate::spin::burn;
use crate::sys;
use crate::{Failure, Outcome};

pub fn main(rep: &Reporter, args: &[String]) -> Outcome {
    let f =
        Flags::parse("tick", args, &["period-ms", "work-ms", "count"]).map_err(Failure::Usage)?;
    let period_ms = f
        .f64_in("period-ms", None, 0.001, 3.6e6)
        .map_err(Failure::Usage)?;
    let work_ms = f
        .f64_in("work-ms", None, 0.0, 3.6e6)
        .map_err(Failure::Usage)?;
    let count = f
        .u64_in("count", 100, 1, 10_000_000)
        .map_err(Failure::Usage)?;
    rep.ready();
    rep.emit(&tick(period_ms, work_ms, count));
    Ok(())
}

/// Busy-work until this thread has consumed `ns` of CPU time.
fn work_cpu(ns: i64, mut x: u64) -> u64 {
    let c0 = sys::thread_cpu_ns();
    while sys::thread_cpu_ns() - c0 < ns {
        x = burn(x, 512);
    }
    x
}

/// Run the periodic task and return the `tick` report line.
pub fn tick(period_ms: f64, work_ms: f64, count: u64) -> String {
    let period = ((period_ms * 1e6) as i64).max(1);
    let work = (work_ms * 1e6) as i64;
    let mut wake_ns = Vec::with_capacity(count as usize);
    let mut done_ns = Vec::with_capacity(count as usize);
    let mut missed = 0u64;
    let mut x = 1u64;
    let origin = sys::mono_ns();
    let mut slot: i64 = 1; // first deadline one period after start
    for _ in 0..count {
        let deadline = origin + slot * period;
        sys::sleep_until_mono(deadline);
        let woke = sys::mono_ns();
        x = work_cpu(work, x);
        let done = sys::mono_ns();
        wake_ns.push(sys::since(deadline, woke));
        done_ns.push(sys::since(deadline, done));
        // Next slot on the fixed grid whose deadline is still ahead; the
        // ones skipped over were missed.
        let next = ((done - origin) / period + 1).max(slot + 1);
        missed += (next - slot - 1) as u64;
        slot = next;
    }
    std::hint::black_box(x);
    Obj::event("tick")
        .f64("period_ms", period_ms)
        .f64("work_ms", work_ms)
        .u64("count", count)
        .u64("missed", missed)
        .u64s("wake_ns", &wake_ns)
        .u64s("done_ns", &done_ns)
        .line()
}
