//! Samples cgroup counters on a tokio interval while a workload runs, and
//! measures its own CPU cost so the observer's overhead is visible.

pub mod host_load;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cgroup::{Cgroup, CgroupView, CpuStats, MemoryStats, PidsStats};

/// What to sample.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sampling {
    pub cpu: bool,
    pub memory: bool,
    pub pids: bool,
}

/// One sample: seconds since the monitor started and the counters read.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub t: f64,
    pub cpu: Option<CpuStats>,
    pub memory: Option<MemoryStats>,
    pub pids: Option<PidsStats>,
}

/// A running monitor; `stop` returns the samples and its own CPU time.
pub struct Monitor {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<(Vec<Sample>, Duration)>>,
}

fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into a local timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

impl Monitor {
    /// Starts sampling `cg` at `hz` on a dedicated current-thread runtime.
    pub fn start(cg: CgroupView, what: Sampling, hz: u32) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?;
        let thread = std::thread::Builder::new()
            .name("isobench-monitor".into())
            .spawn(move || {
                let cpu0 = thread_cpu_time();
                let samples = rt.block_on(async move {
                    let period = Duration::from_secs_f64(1.0 / f64::from(hz.max(1)));
                    let mut iv = tokio::time::interval(period);
                    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
                    let t0 = Instant::now();
                    let mut out = Vec::new();
                    while !stop2.load(Ordering::Relaxed) {
                        iv.tick().await;
                        out.push(Sample {
                            t: t0.elapsed().as_secs_f64(),
                            cpu: if what.cpu { cg.cpu_stats().ok() } else { None },
                            memory: if what.memory {
                                cg.memory_stats().ok()
                            } else {
                                None
                            },
                            pids: if what.pids {
                                cg.pids_stats().ok()
                            } else {
                                None
                            },
                        });
                    }
                    out
                });
                (samples, thread_cpu_time().saturating_sub(cpu0))
            })?;
        Ok(Monitor {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops and returns (samples, the monitor thread's own CPU time).
    pub fn stop(mut self) -> (Vec<Sample>, Duration) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// CPUs used per interval from cumulative usage samples: [[t, cpus]].
pub fn usage_series(samples: &[Sample]) -> Vec<[f64; 2]> {
    samples
        .windows(2)
        .filter_map(|w| {
            let a = w[0].cpu?.usage_ns?;
            let b = w[1].cpu?.usage_ns?;
            let dt = w[1].t - w[0].t;
            (dt > 0.0).then(|| [w[1].t, b.saturating_sub(a) as f64 / 1e9 / dt])
        })
        .collect()
}

/// 1 where nr_throttled grew during the interval, else 0: [[t, 0|1]].
pub fn throttled_series(samples: &[Sample]) -> Vec<[f64; 2]> {
    samples
        .windows(2)
        .filter_map(|w| {
            let a = w[0].cpu?.nr_throttled?;
            let b = w[1].cpu?.nr_throttled?;
            Some([w[1].t, if b > a { 1.0 } else { 0.0 }])
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(t: f64, usage: u64, thr: u64) -> Sample {
        Sample {
            t,
            cpu: Some(CpuStats {
                usage_ns: Some(usage),
                nr_throttled: Some(thr),
                ..Default::default()
            }),
            memory: None,
            pids: None,
        }
    }

    #[test]
    fn derives_usage_and_throttling() {
        let v = [s(0.0, 0, 0), s(0.1, 20_000_000, 1), s(0.2, 40_000_000, 1)];
        let u = usage_series(&v);
        assert_eq!(u.len(), 2);
        assert!((u[0][1] - 0.2).abs() < 1e-9);
        assert_eq!(throttled_series(&v), vec![[0.1, 1.0], [0.2, 0.0]]);
    }
}
