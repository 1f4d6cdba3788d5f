//! `pid1 --test hold [--seconds S] [--term-pid1 0|1]` and
//! `pid1 --test orphans [--count N] [--settle-ms MS]`: what PID 1 of a pid
//! namespace does with signals and orphans. The workload installs no signal
//! handler, so when it is PID 1 it is the "handler-less init" of the kernel's
//! rules; behind an init shim it is PID 2.
//!
//! - `hold` reports its pid, optionally has a forked helper send SIGTERM to
//!   PID 1 (reporting `pid1_signal` just before), then sleeps `S` seconds and
//!   reports `pid1_alive`. Whoever watches sees whether it survived.
//! - `orphans` forks a child that forks `N` grandchildren and exits; the
//!   grandchildren, orphaned, exit as soon as they see their new parent.
//!   Once none is alive it waits `MS` and counts the zombies in /proc (its
//!   own pid namespace's): `pid1_orphans`.

use std::io::Read;

use crate::args::Flags;
use crate::json::Obj;
use crate::report::Reporter;
use crate::sys::{self, Forked};
use crate::{Failure, Outcome};

pub fn main(rep: &Reporter, args: &[String]) -> Outcome {
    let f = Flags::parse(
        "pid1",
        args,
        &["test", "seconds", "term-pid1", "count", "settle-ms"],
    )
    .map_err(Failure::Usage)?;
    match f.get("test") {
        Some("hold") => {
            let seconds = f
                .f64_in("seconds", Some(5.0), 0.0, 3600.0)
                .map_err(Failure::Usage)?;
            let term = f.u64_in("term-pid1", 0, 0, 1).map_err(Failure::Usage)? == 1;
            rep.ready();
            report_pid(rep);
            hold(rep, seconds, term)
        }
        Some("orphans") => {
            let count = f.u64_in("count", 100, 1, 10_000).map_err(Failure::Usage)?;
            let settle_ms = f
                .u64_in("settle-ms", 1000, 0, 60_000)
                .map_err(Failure::Usage)?;
            rep.ready();
            report_pid(rep);
            orphans(rep, count, settle_ms)
        }
        other => Err(Failure::Usage(format!(
            "pid1: --test must be hold or orphans, not {other:?}"
        ))),
    }
}

/// `{"event":"pid1","pid":..,"ppid":..}`: 1 when the workload is the init.
fn report_pid(rep: &Reporter) {
    let ids = sys::ids();
    rep.emit(
        &Obj::event("pid1")
            .i64("pid", ids.pid.into())
            .i64("ppid", ids.ppid.into())
            .line(),
    );
}

fn hold(rep: &Reporter, seconds: f64, term_pid1: bool) -> Outcome {
    let until = sys::mono_ns() + (seconds * 1e9) as i64;
    if term_pid1 {
        match sys::fork_process() {
            Ok(Forked::Child) => {
                // Announce first: PID 1 may take the whole namespace down
                // with it before a second line could be written.
                rep.emit(&Obj::event("pid1_signal").u64("sig", 15).line());
                let errno = match sys::send_signal(1, libc::SIGTERM) {
                    Ok(()) => 0,
                    Err(e) => sys::errno(&e),
                };
                rep.emit(
                    &Obj::event("pid1_signal_sent")
                        .i64("errno", errno.into())
                        .line(),
                );
                sys::exit_now(0);
            }
            Ok(Forked::Parent(pid)) => {
                let _ = sys::wait_pid(pid);
            }
            Err(e) => return Err(Failure::Runtime(format!("pid1: fork: {e}"))),
        }
    }
    sys::sleep_until_mono(until);
    rep.emit(&Obj::event("pid1_alive").line());
    Ok(())
}

/// (pid, state letter) of every process in this /proc.
fn proc_states() -> Vec<(i32, char)> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            Some((pid, stat_state(&stat)?))
        })
        .collect()
}

/// The state letter of a /proc/PID/stat line (after the `(comm)`).
pub fn stat_state(stat: &str) -> Option<char> {
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

fn orphans(rep: &Reporter, count: u64, settle_ms: u64) -> Outcome {
    let me = sys::ids().pid;
    let child = match sys::fork_process() {
        Ok(Forked::Child) => {
            let parent = sys::ids().pid;
            // The grandchildren block on this pipe: EOF comes when the
            // middle child, the last holder of the write end, exits.
            let (r, w) =
                sys::make_pipe().map_err(|e| Failure::Runtime(format!("pid1: pipe: {e}")))?;
            let r = std::fs::File::from(r);
            let (mut forked, mut failed) = (0u64, 0u64);
            for _ in 0..count {
                match sys::fork_process() {
                    Ok(Forked::Child) => {
                        drop(w);
                        let mut b = [0u8; 1];
                        let _ = (&r).read(&mut b);
                        // Orphaned (at most 1 s more): leave, a zombie for
                        // whoever adopted us.
                        for _ in 0..1000 {
                            if sys::ids().ppid != parent {
                                break;
                            }
                            std::thread::sleep(std::time::Duration::from_millis(1));
                        }
                        sys::exit_now(0);
                    }
                    Ok(Forked::Parent(_)) => forked += 1,
                    Err(_) => failed += 1,
                }
            }
            rep.emit(
                &Obj::event("pid1_forked")
                    .u64("forked", forked)
                    .u64("failed", failed)
                    .line(),
            );
            sys::exit_now(0);
        }
        Ok(Forked::Parent(pid)) => pid,
        Err(e) => return Err(Failure::Runtime(format!("pid1: fork: {e}"))),
    };
    // Our own child is reaped; its orphans are PID 1's business.
    let _ = sys::wait_pid(child);
    let start = sys::mono_ns();
    let live = |s: &[(i32, char)]| {
        s.iter()
            .filter(|(p, st)| *p != me && *p != 1 && !matches!(st, 'Z' | 'X'))
            .count() as u64
    };
    let mut states = proc_states();
    while live(&states) > 0 && sys::since(start, sys::mono_ns()) < 10_000_000_000 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        states = proc_states();
    }
    let gone_ns = sys::since(start, sys::mono_ns());
    sys::sleep_until_mono(sys::mono_ns() + settle_ms as i64 * 1_000_000);
    let states = proc_states();
    let zombies = states.iter().filter(|(_, s)| *s == 'Z').count() as u64;
    rep.emit(
        &Obj::event("pid1_orphans")
            .u64("zombies", zombies)
            .u64("live", live(&states))
            .u64("orphans_gone_ns", gone_ns)
            .u64("settle_ms", settle_ms)
            .line(),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::stat_state;

    #[test]
    fn state_after_the_command_name() {
        assert_eq!(stat_state("12 (a) b) Z 1 2"), Some('Z'));
        assert_eq!(stat_state("1 (init) S 0"), Some('S'));
        assert_eq!(stat_state("garbage"), None);
    }
}
