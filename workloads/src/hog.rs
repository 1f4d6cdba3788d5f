//! `hog --step BYTES --max BYTES [--procs P] [--hold-seconds H] [--map N]`:
//! resident anonymous memory, grown step by step (meant to meet a memory
//! limit). With `--map N` the hog maps N bytes at once and touches only
//! `--max` of them: virtual size N, resident size max (does the limit count
//! address space or resident pages?).

use crate::args::Flags;
use crate::json::Obj;
use crate::report::Reporter;
use crate::sys::{self, ChildStatus, Forked, Mapping};
use crate::{Failure, Outcome};

pub struct Params {
    pub step: u64,
    pub max: u64,
    pub procs: u64,
    pub hold_seconds: f64,
    /// One mapping of this many bytes, touched up to `max` (None: a fresh
    /// touched mapping per step).
    pub map: Option<u64>,
}

pub fn main(rep: &Reporter, args: &[String]) -> Outcome {
    let f = Flags::parse(
        "hog",
        args,
        &["step", "max", "procs", "hold-seconds", "map"],
    )
    .map_err(Failure::Usage)?;
    let step = f.bytes("step", None).map_err(Failure::Usage)?;
    let max = f.bytes("max", None).map_err(Failure::Usage)?;
    let procs = f.u64_in("procs", 1, 1, 4096).map_err(Failure::Usage)?;
    let hold_seconds = f
        .f64_in("hold-seconds", Some(0.0), 0.0, 1e6)
        .map_err(Failure::Usage)?;
    if step == 0 {
        return Err(Failure::Usage("hog: --step must be > 0".into()));
    }
    let map = match f.get("map") {
        None => None,
        Some(_) => Some(f.bytes("map", None).map_err(Failure::Usage)?),
    };
    if let Some(m) = map {
        if m < max || m == 0 || usize::try_from(m).is_err() {
            return Err(Failure::Usage(
                "hog: --map must be > 0, at least --max and fit the address space".into(),
            ));
        }
    }
    if usize::try_from(step).is_err() {
        return Err(Failure::Usage(
            "hog: --step does not fit the address space".into(),
        ));
    }
    rep.ready();
    hog(
        rep,
        &Params {
            step,
            max,
            procs,
            hold_seconds,
            map,
        },
    )
}

/// Fork `procs - 1` children, hog in every process, then wait for children.
pub fn hog(rep: &Reporter, p: &Params) -> Outcome {
    let start = sys::mono_ns();
    let mut children: Vec<i32> = Vec::new();
    for i in 1..p.procs {
        match sys::fork_process() {
            Ok(Forked::Child) => {
                let code = match hog_one(rep, p, start, Some(i)) {
                    Ok(()) => 0,
                    Err(msg) => {
                        rep.error(&msg, Some(i));
                        1
                    }
                };
                sys::exit_now(code);
            }
            Ok(Forked::Parent(pid)) => children.push(pid),
            Err(e) => {
                for &pid in &children {
                    sys::kill_pid(pid, libc::SIGKILL);
                    let _ = sys::wait_pid(pid);
                }
                return Err(Failure::Runtime(format!("hog: fork of child {i}: {e}")));
            }
        }
    }
    let own = hog_one(rep, p, start, None);
    let mut problems = Vec::new();
    for (i, &pid) in children.iter().enumerate() {
        match sys::wait_pid(pid) {
            Ok(ChildStatus::Exited(0)) => {}
            Ok(ChildStatus::Exited(c)) => problems.push(format!("child {} exited {c}", i + 1)),
            Ok(ChildStatus::Signaled(s)) => {
                problems.push(format!("child {} killed by signal {s}", i + 1))
            }
            Err(e) => problems.push(format!("child {}: waitpid: {e}", i + 1)),
        }
    }
    own.map_err(Failure::Runtime)?;
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::Runtime(format!("hog: {}", problems.join(", "))))
    }
}

/// One process's hog: allocate and touch, report, hold, release.
fn hog_one(rep: &Reporter, p: &Params, start: i64, proc_index: Option<u64>) -> Result<(), String> {
    let progress = |total: u64| {
        rep.emit(
            &Obj::event("hog")
                .u64("bytes", total)
                .u64("t_ns", sys::since(start, sys::mono_ns()))
                .maybe_u64("proc", proc_index)
                .line(),
        )
    };
    let mut maps: Vec<Mapping> = Vec::new();
    let mut total: u64 = 0;
    if let Some(len) = p.map {
        // main() checked that len fits usize and is at least max.
        let m =
            Mapping::anon(len as usize).map_err(|e| format!("hog: mmap of {len} bytes: {e}"))?;
        while total < p.max {
            let n = p.step.min(p.max - total);
            m.touch(total as usize, (total + n) as usize);
            total += n;
            progress(total);
        }
        maps.push(m);
    }
    while total < p.max {
        let n = p.step.min(p.max - total);
        // n <= step, which main() checked fits usize.
        let m = Mapping::anon_touched(n as usize)
            .map_err(|e| format!("hog: mmap of {n} bytes after {total}: {e}"))?;
        total += m.len() as u64;
        maps.push(m);
        progress(total);
    }
    rep.emit(
        &Obj::event("hog_done")
            .u64("bytes", total)
            .maybe_u64("proc", proc_index)
            .line(),
    );
    if p.hold_seconds > 0.0 {
        std::thread::sleep(std::time::Duration::from_secs_f64(p.hold_seconds));
    }
    drop(maps);
    Ok(())
}
