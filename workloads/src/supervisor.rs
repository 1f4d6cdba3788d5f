//! `supervisor --task hog|fork|spin --children N [--bytes B] [--forks K]
//! [--seconds S] [--hold-seconds H]`: one parent and N children, the way
//! supervisord runs programs, each child doing the same task:
//!
//! - `hog`: touch B bytes of anonymous memory, report, hold H seconds;
//! - `fork`: fork up to K sleeping grandchildren (stopping at the first
//!   refusal), report, hold H seconds, then kill and reap them;
//! - `spin`: spin one thread for S seconds, report its CPU time.
//!
//! The parent reports the children's pids (`supervisor_started`), waits for
//! every child and reports their exit codes (`supervisor_done`, 128 + signal
//! for a killed one). Needs the limits that bound the task (the harness's
//! memory and pids limits).

use crate::args::Flags;
use crate::json::Obj;
use crate::report::Reporter;
use crate::sys::{self, Forked, Mapping};
use crate::{Failure, Outcome};

#[derive(Clone, Copy)]
enum Task {
    Hog { bytes: u64 },
    Fork { forks: u64 },
    Spin { seconds: f64 },
}

pub fn main(rep: &Reporter, args: &[String]) -> Outcome {
    let f = Flags::parse(
        "supervisor",
        args,
        &[
            "task",
            "children",
            "bytes",
            "forks",
            "seconds",
            "hold-seconds",
        ],
    )
    .map_err(Failure::Usage)?;
    let children = f.u64_in("children", 4, 1, 64).map_err(Failure::Usage)?;
    let hold = f
        .f64_in("hold-seconds", Some(1.0), 0.0, 600.0)
        .map_err(Failure::Usage)?;
    let task = match f.get("task") {
        Some("hog") => {
            let bytes = f.bytes("bytes", None).map_err(Failure::Usage)?;
            if bytes == 0 || usize::try_from(bytes).is_err() {
                return Err(Failure::Usage(
                    "supervisor: --bytes must be > 0 and fit the address space".into(),
                ));
            }
            Task::Hog { bytes }
        }
        Some("fork") => Task::Fork {
            forks: f.u64_in("forks", 16, 1, 100_000).map_err(Failure::Usage)?,
        },
        Some("spin") => Task::Spin {
            seconds: f
                .f64_in("seconds", Some(1.0), 0.0, 600.0)
                .map_err(Failure::Usage)?,
        },
        other => {
            return Err(Failure::Usage(format!(
                "supervisor: --task must be hog, fork or spin, not {other:?}"
            )))
        }
    };
    rep.ready();
    supervise(rep, task, children, hold)
}

/// A pipe the children block on until the supervisor closes its write end:
/// every child exists before any starts its task (a forking child must not
/// take the pids the supervisor still needs for its siblings).
struct Gate {
    r: std::fs::File,
    w: std::os::fd::OwnedFd,
}

impl Gate {
    fn new() -> Result<Gate, Failure> {
        let (r, w) =
            sys::make_pipe().map_err(|e| Failure::Runtime(format!("supervisor: pipe: {e}")))?;
        Ok(Gate { r: r.into(), w })
    }

    /// In a child: waits for the supervisor's close (EOF, or its death).
    fn wait(self) {
        use std::io::Read;
        drop(self.w);
        let mut b = [0u8; 1];
        while let Err(e) = (&self.r).read(&mut b) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                break;
            }
        }
    }

    /// In the supervisor: lets every child go.
    fn open(self) {}
}

fn supervise(rep: &Reporter, task: Task, children: u64, hold: f64) -> Outcome {
    let mut pids: Vec<i32> = Vec::new();
    let gate = Gate::new()?;
    for i in 0..children {
        match sys::fork_process() {
            Ok(Forked::Child) => {
                gate.wait();
                sys::exit_now(child(rep, task, i, hold))
            }
            Ok(Forked::Parent(pid)) => pids.push(pid),
            Err(e) => {
                for &pid in &pids {
                    sys::kill_pid(pid, libc::SIGKILL);
                    let _ = sys::wait_pid(pid);
                }
                gate.open();
                return Err(Failure::Runtime(format!(
                    "supervisor: fork of child {i}: {e}"
                )));
            }
        }
    }
    gate.open();
    let as_u64: Vec<u64> = pids.iter().map(|&p| p as u64).collect();
    rep.emit(
        &Obj::event("supervisor_started")
            .u64s("pids", &as_u64)
            .line(),
    );
    let codes: Vec<u64> = pids
        .iter()
        .map(|&pid| match sys::wait_pid(pid) {
            Ok(s) => s.shell_code() as u64,
            Err(_) => 255,
        })
        .collect();
    rep.emit(&Obj::event("supervisor_done").u64s("codes", &codes).line());
    Ok(())
}

/// One child's task; returns its exit code.
fn child(rep: &Reporter, task: Task, index: u64, hold: f64) -> i32 {
    let report = |o: Obj| rep.emit(&o.u64("index", index).line());
    let hold = || std::thread::sleep(std::time::Duration::from_secs_f64(hold));
    match task {
        Task::Hog { bytes } => match Mapping::anon_touched(bytes as usize) {
            Ok(m) => {
                report(Obj::event("supervisor_child").u64("bytes", m.len() as u64));
                hold();
                0
            }
            Err(e) => {
                rep.error(&format!("supervisor: mmap {bytes}: {e}"), Some(index));
                1
            }
        },
        Task::Fork { forks } => {
            let mut kids: Vec<i32> = Vec::new();
            let mut failed = 0u64;
            while (kids.len() as u64) < forks {
                match sys::fork_process() {
                    // Only pause(2): async-signal-safe.
                    Ok(Forked::Child) => sys::pause_forever(),
                    Ok(Forked::Parent(p)) => kids.push(p),
                    Err(_) => {
                        failed += 1;
                        break;
                    }
                }
            }
            report(
                Obj::event("supervisor_child")
                    .u64("forked", kids.len() as u64)
                    .u64("failed", failed),
            );
            hold();
            for &k in &kids {
                sys::kill_pid(k, libc::SIGKILL);
                let _ = sys::wait_pid(k);
            }
            0
        }
        Task::Spin { seconds } => {
            let start = sys::mono_ns();
            let until = start + (seconds * 1e9) as i64;
            let c0 = sys::thread_cpu_ns();
            let mut x = index;
            while sys::mono_ns() < until {
                x = crate::spin::burn(x, 1 << 16);
            }
            std::hint::black_box(x);
            report(
                Obj::event("supervisor_child")
                    .u64("cpu_ns", sys::since(c0, sys::thread_cpu_ns()))
                    .u64("wall_ns", sys::since(start, sys::mono_ns())),
            );
            0
        }
    }
}
