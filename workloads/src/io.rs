//! `io --path P --op read|write|buffered --block B --seconds S [--span N]
//! [--sync N]`: block IO for the `io` scenario's throttling checks.
//!
//! `read` and `write` use O_DIRECT with a page-aligned buffer of `B`
//! bytes (each request reaches the device, none is absorbed by the page
//! cache); `buffered` writes through the page cache and calls fdatasync
//! every `--sync` bytes (0: never, the flusher writes back later), so the
//! dirty data is written back while it runs.
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
        let layout =
            Layout::from_size_align(len, ALIGN).map_err(|e| format!("io: buffer: {e}"))?;
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
    let f = Flags::parse("io", args, &["path", "op", "block", "seconds", "span", "sync"])
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
    if block == 0 || block % ALIGN as u64 != 0 || block > 64 << 20 {
        return Err(Failure::Usage(format!(
            "io: --block must be a multiple of {ALIGN} up to 64M"
        )));
    }
    let seconds = f
        .f64_in("seconds", Some(1.0), 0.01, 3600.0)
        .map_err(Failure::Usage)?;
    let span = f.get("span").map(|_| f.bytes("span", None)).transpose();
    let span = span.map_err(Failure::Usage)?;
    let sync = f.bytes("sync", Some(1 << 20)).map_err(Failure::Usage)?;
    rep.ready();
    run(rep, path, op, block as usize, seconds, span, sync).map_err(Failure::Runtime)
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

fn run(
    rep: &Reporter,
    path: &str,
    op: Op,
    block: usize,
    seconds: f64,
    span: Option<u64>,
    sync: u64,
) -> Result<(), String> {
    let start = sys::mono_ns();
    let end = start + (seconds * 1e9) as i64;
    let mut file = open(path, op)?;
    let size = match span {
        Some(s) => s,
        None => file
            .seek(SeekFrom::End(0))
            .map_err(|e| format!("io: size of {path}: {e}"))?,
    };
    let blocks = size / block as u64;
    if blocks == 0 {
        return Err(format!(
            "io: {path} holds {size} bytes, less than one {block}-byte block"
        ));
    }
    let mut buf = Aligned::new(block)?;
    let buf = buf.as_mut();
    buf.fill(0xa5);
    let (mut bytes, mut ios, mut unsynced, mut i) = (0u64, 0u64, 0u64, 0u64);
    while sys::mono_ns() < end {
        let off = (i % blocks) * block as u64;
        i += 1;
        let r = match op {
            Op::Read => file.read_at(buf, off),
            Op::Write | Op::Buffered => file.write_at(buf, off),
        };
        let n = r.map_err(|e| format!("io: {} {path} at {off}: {e}", op.name()))?;
        bytes += n as u64;
        ios += 1;
        if op == Op::Buffered {
            unsynced += n as u64;
            if sync > 0 && unsynced >= sync {
                file.sync_data()
                    .map_err(|e| format!("io: fdatasync {path}: {e}"))?;
                unsynced = 0;
            }
        }
    }
    if op == Op::Buffered && sync > 0 && unsynced > 0 {
        file.sync_data()
            .map_err(|e| format!("io: fdatasync {path}: {e}"))?;
    }
    rep.emit(
        &Obj::event("io_done")
            .str("op", op.name())
            .u64("bytes", bytes)
            .u64("ios", ios)
            .u64("block", block as u64)
            .u64("t_ns", sys::since(start, sys::mono_ns()))
            .line(),
    );
    Ok(())
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
