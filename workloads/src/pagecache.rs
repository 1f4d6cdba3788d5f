//! `pagecache --bytes B [--dir D] [--chunk C] [--hold-seconds H]`: fill the
//! page cache by writing a file (no fsync), to exercise reclaim under a
//! memory limit. With `--hold-seconds` the file is fsynced (clean pages,
//! reclaimable without writeback) and kept open H s after `pagecache_done`,
//! so its cache stays charged to this cgroup (memory.min/low tests).

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::args::Flags;
use crate::json::Obj;
use crate::report::Reporter;
use crate::sys;
use crate::{Failure, Outcome};

const REPORT_EVERY: u64 = 64 << 20;

pub fn main(rep: &Reporter, args: &[String]) -> Outcome {
    let f = Flags::parse(
        "pagecache",
        args,
        &["bytes", "dir", "chunk", "hold-seconds"],
    )
    .map_err(Failure::Usage)?;
    let bytes = f.bytes("bytes", None).map_err(Failure::Usage)?;
    let chunk = f.bytes("chunk", Some(1 << 20)).map_err(Failure::Usage)?;
    if chunk == 0 || chunk > 1 << 30 {
        return Err(Failure::Usage(
            "pagecache: --chunk must be between 1 and 1G".into(),
        ));
    }
    let hold = f
        .f64_in("hold-seconds", Some(0.0), 0.0, 1e6)
        .map_err(Failure::Usage)?;
    let dir = f.get("dir");
    if dir == Some("") {
        return Err(Failure::Usage("pagecache: --dir must not be empty".into()));
    }
    rep.ready();
    let dir = match dir {
        Some(d) => PathBuf::from(d),
        None if Path::new("/tmp").is_dir() => PathBuf::from("/tmp"),
        None => PathBuf::from("."),
    };
    pagecache(rep, &dir, bytes, chunk as usize, hold).map_err(Failure::Runtime)
}

fn create_unique(dir: &Path) -> Result<(File, PathBuf), String> {
    let pid = std::process::id();
    for n in 0..1000 {
        let path = dir.join(format!(".isobench-pagecache-{pid}-{n}"));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => return Ok((f, path)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("pagecache: create {}: {e}", path.display())),
        }
    }
    Err(format!("pagecache: no free file name in {}", dir.display()))
}

pub fn pagecache(
    rep: &Reporter,
    dir: &Path,
    bytes: u64,
    chunk: usize,
    hold_seconds: f64,
) -> Result<(), String> {
    let start = sys::mono_ns();
    let (mut file, path) = create_unique(dir)?;
    // Unlink at once: the open inode keeps its page cache, and nothing is
    // left behind if the workload is killed (e.g. by the OOM killer).
    let unlinked = fs::remove_file(&path).is_ok();
    let mut result = write_data(rep, &mut file, bytes, chunk, start);
    if hold_seconds > 0.0 {
        if let Ok(n) = result {
            result = file.sync_data().map(|()| n).map_err(|e| (n, e));
        }
    }
    let done = |written: u64| {
        rep.emit(
            &Obj::event("pagecache_done")
                .u64("bytes", written)
                .u64("t_ns", sys::since(start, sys::mono_ns()))
                .line(),
        )
    };
    if let Ok(n) = result {
        if hold_seconds > 0.0 {
            // The open (unlinked) file keeps its cache; closing frees it.
            done(n);
            std::thread::sleep(std::time::Duration::from_secs_f64(hold_seconds));
        }
    }
    drop(file);
    if !unlinked {
        let _ = fs::remove_file(&path);
    }
    let written = result.map_err(|(done, e)| {
        format!(
            "pagecache: write to {} after {done} bytes: {e}",
            path.display()
        )
    })?;
    if hold_seconds == 0.0 {
        done(written);
    }
    Ok(())
}

fn write_data(
    rep: &Reporter,
    file: &mut File,
    bytes: u64,
    chunk: usize,
    start: i64,
) -> Result<u64, (u64, std::io::Error)> {
    let buf = vec![
        0xa5u8;
        chunk
            .min(usize::try_from(bytes).unwrap_or(usize::MAX))
            .max(1)
    ];
    let mut written: u64 = 0;
    let mut next_report = REPORT_EVERY;
    while written < bytes {
        let n = (buf.len() as u64).min(bytes - written) as usize;
        file.write_all(&buf[..n]).map_err(|e| (written, e))?;
        written += n as u64;
        if written >= next_report {
            rep.emit(
                &Obj::event("pagecache")
                    .u64("bytes", written)
                    .u64("t_ns", sys::since(start, sys::mono_ns()))
                    .line(),
            );
            while next_report <= written {
                next_report += REPORT_EVERY;
            }
        }
    }
    Ok(written)
}
