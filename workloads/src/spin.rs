//! `spin --threads N --seconds S`: N busy threads for S seconds of wall time.

use crate::args::Flags;
use crate::json::Obj;
use crate::report::Reporter;
use crate::sys;
use crate::{Failure, Outcome};

/// Real arithmetic the optimiser cannot remove: `n` rounds of an LCG step
/// mixed with an xorshift, a serial dependency chain.
#[inline(never)]
pub fn burn(mut x: u64, n: u64) -> u64 {
    for i in 0..n {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(i | 1);
        x ^= x >> 29;
    }
    std::hint::black_box(x)
}

/// Target CPU time between clock checks.
const CHUNK_NS: i64 = 1_000_000;

struct ThreadResult {
    cpu_ns: u64,
    wait_ns: Option<u64>,
    cpus: Vec<u64>, // bitset of CPUs seen
    checksum: u64,
}

fn worker(seed: u64, deadline: i64) -> ThreadResult {
    let mut x = seed;
    let mut iters: u64 = 1 << 10;
    let mut calibrated = false;
    let mut cpus = vec![0u64; 1];
    loop {
        let c0 = if calibrated { 0 } else { sys::thread_cpu_ns() };
        x = burn(x, iters);
        if !calibrated {
            // Grow the chunk until it is measurable, then scale it to ~1ms
            // of CPU time (CPU, not wall: throttling must not shrink it).
            let d = sys::thread_cpu_ns() - c0;
            if d >= CHUNK_NS / 5 {
                iters = (iters as u128 * CHUNK_NS as u128 / d as u128).max(1) as u64;
                calibrated = true;
            } else if iters < 1 << 40 {
                iters *= 4;
            }
        }
        if let Some(cpu) = sys::current_cpu() {
            let (w, b) = (cpu as usize / 64, cpu % 64);
            if w >= cpus.len() {
                cpus.resize(w + 1, 0);
            }
            cpus[w] |= 1 << b;
        }
        if sys::mono_ns() >= deadline {
            break;
        }
    }
    ThreadResult {
        cpu_ns: sys::thread_cpu_ns().max(0) as u64,
        wait_ns: sys::thread_wait_ns(),
        cpus,
        checksum: x,
    }
}

pub fn main(rep: &Reporter, args: &[String]) -> Outcome {
    let f = Flags::parse("spin", args, &["threads", "seconds"]).map_err(Failure::Usage)?;
    let threads = f.u64_in("threads", 1, 1, 4096).map_err(Failure::Usage)?;
    let seconds = f
        .f64_in("seconds", Some(1.0), 0.0, 1e6)
        .map_err(Failure::Usage)?;
    rep.ready();
    let line = spin(threads, seconds)?;
    rep.emit(&line);
    Ok(())
}

/// Run the spinners and return the `spin` report line.
pub fn spin(threads: u64, seconds: f64) -> Result<String, Failure> {
    let start = sys::mono_ns();
    let affinity = sys::affinity();
    let deadline = start + (seconds * 1e9) as i64;
    let results = std::thread::scope(|s| {
        let mut handles = Vec::with_capacity(threads as usize);
        for i in 0..threads {
            let h = std::thread::Builder::new()
                .name(format!("spin-{i}"))
                .stack_size(64 << 10)
                .spawn_scoped(s, move || worker(i.wrapping_mul(0x9e37_79b9) | 1, deadline))
                .map_err(|e| Failure::Runtime(format!("spin: cannot start thread {i}: {e}")))?;
            handles.push(h);
        }
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| Failure::Runtime("spin: a thread panicked".into()))
            })
            .collect::<Result<Vec<_>, _>>()
    })?;
    let wall_ns = sys::since(start, sys::mono_ns());
    let cpu_ns = sys::clock_ns(libc::CLOCK_PROCESS_CPUTIME_ID).max(0) as u64;

    let mut union: Vec<u64> = Vec::new();
    let mut checksum = 0u64;
    for r in &results {
        if union.len() < r.cpus.len() {
            union.resize(r.cpus.len(), 0);
        }
        for (u, c) in union.iter_mut().zip(&r.cpus) {
            *u |= c;
        }
        checksum ^= r.checksum;
    }
    std::hint::black_box(checksum);
    let thread_cpu: Vec<u64> = results.iter().map(|r| r.cpu_ns).collect();
    let thread_wait: Option<Vec<u64>> = results.iter().map(|r| r.wait_ns).collect();
    let cpus_used: Vec<u64> = sys::bits_to_list(&union)
        .into_iter()
        .map(u64::from)
        .collect();
    let affinity: Option<Vec<u64>> = affinity.map(|v| v.into_iter().map(u64::from).collect());
    Ok(Obj::event("spin")
        .u64("threads", threads)
        .u64("wall_ns", wall_ns)
        .u64("cpu_ns", cpu_ns)
        .u64s("thread_cpu_ns", &thread_cpu)
        .opt_u64s("thread_wait_ns", thread_wait.as_deref())
        .u64s("cpus_used", &cpus_used)
        .opt_u64s("affinity", affinity.as_deref())
        .line())
}
