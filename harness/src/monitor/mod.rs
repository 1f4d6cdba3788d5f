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

/// CPU counters read through descriptors opened once and re-read with
/// pread(2) at offset 0 (cgroup files regenerate on every read): two
/// syscalls per file per sample instead of open/fstat/read/close.
struct CpuFastReader {
    /// v1 cpuacct.usage (ns), when CPU accounting is on v1.
    usage: Option<std::fs::File>,
    /// cpu.stat (v1: throttling; v2: usage_usec and throttling).
    stat: Option<std::fs::File>,
    /// Whether `stat` is v2's (usage in µs inside it).
    stat_is_v2: bool,
}

impl CpuFastReader {
    fn open(cg: &CgroupView) -> Self {
        use crate::cgroup::Controller;
        let open = |p: std::path::PathBuf| std::fs::File::open(p).ok();
        let acct = cg.v1.dirs.get(&Controller::Cpuacct);
        let cpu = cg.v1.dirs.get(&Controller::Cpu);
        let v2 = cg.v2.as_ref().map(|v| v.dir.clone());
        match (acct, cpu, v2) {
            (Some(a), Some(c), _) => CpuFastReader {
                usage: open(a.join("cpuacct.usage")),
                stat: open(c.join("cpu.stat")),
                stat_is_v2: false,
            },
            (Some(a), None, _) => CpuFastReader {
                usage: open(a.join("cpuacct.usage")),
                stat: None,
                stat_is_v2: false,
            },
            (None, _, Some(d)) => CpuFastReader {
                usage: None,
                stat: open(d.join("cpu.stat")),
                stat_is_v2: true,
            },
            _ => CpuFastReader {
                usage: None,
                stat: None,
                stat_is_v2: false,
            },
        }
    }

    fn pread(f: &std::fs::File, buf: &mut [u8]) -> Option<usize> {
        use std::os::unix::fs::FileExt;
        f.read_at(buf, 0).ok()
    }

    fn read(&self, buf: &mut [u8]) -> Option<CpuStats> {
        let mut s = CpuStats::default();
        if let Some(f) = &self.usage {
            let n = Self::pread(f, buf)?;
            s.usage_ns = std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok();
        }
        if let Some(f) = &self.stat {
            let n = Self::pread(f, buf)?;
            for line in std::str::from_utf8(&buf[..n]).ok()?.lines() {
                let mut it = line.split_whitespace();
                let (Some(k), Some(v)) = (it.next(), it.next().and_then(|v| v.parse::<u64>().ok()))
                else {
                    continue;
                };
                match k {
                    "usage_usec" if self.stat_is_v2 => s.usage_ns = Some(v * 1000),
                    "nr_periods" => s.nr_periods = Some(v),
                    "nr_throttled" => s.nr_throttled = Some(v),
                    "throttled_time" => s.throttled_ns = Some(v),
                    "throttled_usec" => s.throttled_ns = Some(v * 1000),
                    _ => {}
                }
            }
        }
        Some(s)
    }
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
                    let mut out = Vec::with_capacity(1024);
                    let fast = what.cpu.then(|| CpuFastReader::open(&cg));
                    let mut buf = [0u8; 1024];
                    while !stop2.load(Ordering::Relaxed) {
                        iv.tick().await;
                        out.push(Sample {
                            t: t0.elapsed().as_secs_f64(),
                            cpu: match &fast {
                                Some(f) => f.read(&mut buf),
                                None => None,
                            },
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

/// Each interval over which `field` was read at both ends, as (start,
/// end, value at the start, value at the end).
fn intervals(
    samples: &[Sample],
    field: fn(&CpuStats) -> Option<u64>,
) -> impl Iterator<Item = (f64, f64, u64, u64)> + '_ {
    samples.windows(2).filter_map(move |w| {
        let a = field(&w[0].cpu?)?;
        let b = field(&w[1].cpu?)?;
        Some((w[0].t, w[1].t, a, b))
    })
}

/// CPUs used per interval from cumulative usage samples: [[t, cpus]].
pub fn usage_series(samples: &[Sample]) -> Vec<[f64; 2]> {
    intervals(samples, |c| c.usage_ns)
        .filter_map(|(t0, t, a, b)| {
            let dt = t - t0;
            (dt > 0.0).then(|| [t, b.saturating_sub(a) as f64 / 1e9 / dt])
        })
        .collect()
}

/// 1 where nr_throttled grew during the interval, else 0: [[t, 0|1]].
pub fn throttled_series(samples: &[Sample]) -> Vec<[f64; 2]> {
    intervals(samples, |c| c.nr_throttled)
        .map(|(_, t, a, b)| [t, if b > a { 1.0 } else { 0.0 }])
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
