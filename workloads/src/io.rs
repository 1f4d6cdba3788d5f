//! `io --path P --op read|write|buffered --block B --seconds S [--span N]
//! [--depth D]`: block IO for the `io` scenario's throttling
//! checks. `D` threads keep up to `D` requests in flight (fio's iodepth),
//! so a throttle always has a request waiting and a late wake-up of one
//! thread does not lose the limit's budget.
//!
//! `read` and `write` use O_DIRECT with a page-aligned buffer of `B`
//! bytes (each request reaches the device, none is absorbed by the page
//! cache); `buffered` writes through the page cache without fsync (the
//! flusher, or the writer's memory cgroup's dirty limits, write it back).
//! IO is sequential over the first `--span` bytes of `P` (default: its
//! size), wrapping around, until `S` seconds have passed. Reports
//! `io_done` with the bytes and requests done.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::{FileExt, OpenOptionsExt};

use crate::args::Flags;
use crate::json::Obj;
use crate::report::Reporter;
use crate::sys;
use crate::{Failure, Outcome};

/// Alignment O_DIRECT needs of buffers and offsets (a page covers every
/// logical block size in use).
const ALIGN: usize = 4096;

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Read,
    Write,
    Buffered,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        match s {
            "read" => Some(Op::Read),
            "write" => Some(Op::Write),
            "buffered" => Some(Op::Buffered),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Write => "write",
            Op::Buffered => "buffered",
        }
    }
}

/// A zeroed buffer aligned for O_DIRECT, freed on drop.
struct Aligned {
    ptr: *mut u8,
    layout: Layout,
}

impl Aligned {
    fn new(len: usize) -> Result<Aligned, String> {
        let layout = Layout::from_size_align(len, ALIGN).map_err(|e| format!("io: buffer: {e}"))?;
        // SAFETY: the layout has a non-zero size (checked by the caller).
        let ptr = unsafe { alloc_zeroed(layout) };
        if ptr.is_null() {
            return Err(format!("io: cannot allocate {len} bytes"));
        }
        Ok(Aligned { ptr, layout })
    }

    fn as_mut(&mut self) -> &mut [u8] {
        // SAFETY: ptr points to layout.size() initialised (zeroed) bytes we own.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.layout.size()) }
    }
}

impl Drop for Aligned {
    fn drop(&mut self) {
        // SAFETY: allocated with this layout in `new`.
        unsafe { dealloc(self.ptr, self.layout) }
    }
}

pub fn main(rep: &Reporter, args: &[String]) -> Outcome {
    let f = Flags::parse(
        "io",
        args,
        &["path", "op", "block", "seconds", "span", "depth"],
    )
    .map_err(Failure::Usage)?;
    let path = f
        .get("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Failure::Usage("io: --path is required".into()))?;
    let op = f.get("op").unwrap_or("read");
    let op = Op::parse(op).ok_or_else(|| {
        Failure::Usage(format!(
            "io: invalid value {op:?} for --op (read, write or buffered)"
        ))
    })?;
    let block = f.bytes("block", Some(64 << 10)).map_err(Failure::Usage)?;
    if block == 0 || !block.is_multiple_of(ALIGN as u64) || block > 64 << 20 {
        return Err(Failure::Usage(format!(
            "io: --block must be a multiple of {ALIGN} up to 64M"
        )));
    }
    let seconds = f
        .f64_in("seconds", Some(1.0), 0.01, 3600.0)
        .map_err(Failure::Usage)?;
    let span = f.get("span").map(|_| f.bytes("span", None)).transpose();
    let span = span.map_err(Failure::Usage)?;
    let depth = f.u64_in("depth", 1, 1, 64).map_err(Failure::Usage)?;
    rep.ready();
    let job = Job {
        path,
        op,
        block: block as usize,
        seconds,
        span,
        depth,
    };
    run(rep, &job).map_err(Failure::Runtime)
}

/// What `io` was asked to do.
struct Job<'a> {
    path: &'a str,
    op: Op,
    block: usize,
    seconds: f64,
    span: Option<u64>,
    depth: u64,
}

fn open(path: &str, op: Op) -> Result<File, String> {
    let mut o = OpenOptions::new();
    match op {
        Op::Read => o.read(true),
        Op::Write | Op::Buffered => o.write(true),
    };
    if op != Op::Buffered {
        o.custom_flags(libc::O_DIRECT);
    }
    o.open(path).map_err(|e| format!("io: open {path}: {e}"))
}

fn run(rep: &Reporter, j: &Job) -> Result<(), String> {
    let start = sys::mono_ns();
    let end = start + (j.seconds * 1e9) as i64;
    let mut file = open(j.path, j.op)?;
    let size = match j.span {
        Some(s) => s,
        None => file
            .seek(SeekFrom::End(0))
            .map_err(|e| format!("io: size of {}: {e}", j.path))?,
    };
    let blocks = size / j.block as u64;
    if blocks == 0 {
        return Err(format!(
            "io: {} holds {size} bytes, less than one {}-byte block",
            j.path, j.block
        ));
    }
    // Thread t does blocks t, t + depth, t + 2·depth, … (wrapping).
    let results: Vec<Result<(u64, u64), String>> = std::thread::scope(|s| {
        let file = &file;
        let handles: Vec<_> = (0..j.depth)
            .map(|t| s.spawn(move || worker(file, j, blocks, t, end)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("io: a thread panicked".into()))
            })
            .collect()
    });
    let (mut bytes, mut ios) = (0, 0);
    for r in results {
        let (b, n) = r?;
        bytes += b;
        ios += n;
    }
    rep.emit(
        &Obj::event("io_done")
            .str("op", j.op.name())
            .u64("bytes", bytes)
            .u64("ios", ios)
            .u64("block", j.block as u64)
            .u64("t_ns", sys::since(start, sys::mono_ns()))
            .line(),
    );
    Ok(())
}

/// One thread's requests until `end`: (bytes, requests).
fn worker(file: &File, j: &Job, blocks: u64, t: u64, end: i64) -> Result<(u64, u64), String> {
    let mut buf = Aligned::new(j.block)?;
    let buf = buf.as_mut();
    buf.fill(0xa5);
    let (mut bytes, mut ios, mut i) = (0u64, 0u64, t);
    while sys::mono_ns() < end {
        let off = (i % blocks) * j.block as u64;
        i += j.depth;
        let r = match j.op {
            Op::Read => file.read_at(buf, off),
            Op::Write | Op::Buffered => file.write_at(buf, off),
        };
        let n = r.map_err(|e| format!("io: {} {} at {off}: {e}", j.op.name(), j.path))?;
        bytes += n as u64;
        ios += 1;
    }
    Ok((bytes, ios))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_parse_and_round_trip() {
        for op in [Op::Read, Op::Write, Op::Buffered] {
            assert_eq!(Op::parse(op.name()), Some(op));
        }
        assert_eq!(Op::parse("trim"), None);
    }

    #[test]
    fn buffers_are_aligned_for_direct_io() {
        let mut b = Aligned::new(3 * ALIGN).unwrap();
        assert_eq!(b.as_mut().as_ptr() as usize % ALIGN, 0);
        assert!(b.as_mut().iter().all(|x| *x == 0));
    }
}
