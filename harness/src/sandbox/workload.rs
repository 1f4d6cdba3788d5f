//! The static `isobench-workload` binary embedded in `isobench`, and the
//! reader of its line-delimited JSON reports.

use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The workload binary, built static by build.rs.
pub static EMBEDDED: &[u8] = include_bytes!(env!("ISOBENCH_WORKLOAD_BIN"));

/// FNV-1a 64: a content tag, not a cryptographic hash.
pub(crate) fn fnv64(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for x in b {
        h ^= u64::from(*x);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Host path of the workload binary: `$ISOBENCH_WORKLOAD` if set, else the
/// embedded copy written once (content-addressed, atomically) to
/// /run/isobench (or the temp dir when /run is not writable).
pub fn path() -> std::io::Result<PathBuf> {
    static PATH: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(p) = std::env::var_os("ISOBENCH_WORKLOAD") {
            return Ok(PathBuf::from(p));
        }
        let name = format!("isobench-workload-{:016x}", fnv64(EMBEDDED));
        let mut last = String::new();
        for dir in [
            PathBuf::from("/run/isobench"),
            std::env::temp_dir().join("isobench"),
        ] {
            match extract_to(&dir, &name) {
                Ok(p) => return Ok(p),
                Err(e) => last = format!("{}: {e}", dir.display()),
            }
        }
        Err(last)
    })
    .clone()
    .map_err(std::io::Error::other)
}

fn extract_to(dir: &Path, name: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    let target = dir.join(name);
    if let Ok(existing) = std::fs::read(&target) {
        if existing == EMBEDDED {
            return Ok(target);
        }
    }
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(EMBEDDED)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o755))?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, &target)?;
    Ok(target)
}

/// Accumulates bytes from a pipe and splits them into JSON events.
#[derive(Debug)]
pub struct LineReader {
    pub fd: Option<OwnedFd>,
    buf: Vec<u8>,
}

impl LineReader {
    pub fn new(fd: OwnedFd) -> Self {
        LineReader {
            fd: Some(fd),
            buf: Vec::new(),
        }
    }

    pub fn raw_fd(&self) -> Option<i32> {
        self.fd.as_ref().map(|f| f.as_raw_fd())
    }

    /// One read(2); returns parsed complete lines. Closes on EOF.
    pub fn read_once(&mut self) -> Vec<serde_json::Value> {
        let Some(fd) = &self.fd else {
            return Vec::new();
        };
        let mut chunk = [0u8; 8192];
        // SAFETY: read(2) into a local buffer of the given size.
        let n = unsafe { libc::read(fd.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len()) };
        if n == 0 {
            self.fd = None;
        } else if n > 0 {
            self.buf.extend_from_slice(&chunk[..n as usize]);
        } else {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted
                && e.kind() != std::io::ErrorKind::WouldBlock
            {
                self.fd = None;
            }
        }
        self.take_lines()
    }

    fn take_lines(&mut self) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        while let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=pos).collect();
            let text = String::from_utf8_lossy(&line);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            out.push(
                serde_json::from_str(text)
                    .unwrap_or_else(|_| serde_json::json!({"event": "garbled", "text": text})),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_workload_is_static_elf() {
        assert_eq!(&EMBEDDED[..4], b"\x7fELF");
        // A static executable has no PT_INTERP program header.
        let phoff = u64::from_le_bytes(EMBEDDED[0x20..0x28].try_into().unwrap()) as usize;
        let phentsize = u16::from_le_bytes(EMBEDDED[0x36..0x38].try_into().unwrap()) as usize;
        let phnum = u16::from_le_bytes(EMBEDDED[0x38..0x3a].try_into().unwrap()) as usize;
        for i in 0..phnum {
            let off = phoff + i * phentsize;
            let p_type = u32::from_le_bytes(EMBEDDED[off..off + 4].try_into().unwrap());
            assert_ne!(p_type, 3, "workload has PT_INTERP: dynamically linked");
        }
    }

    #[test]
    fn line_reader_splits_and_flags_garbage() {
        let (r, w) = nix::unistd::pipe().unwrap();
        nix::unistd::write(&w, b"{\"event\":\"ready\"}\nnot json\n{\"event\":").unwrap();
        let mut lr = LineReader::new(r);
        let v = lr.read_once();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0]["event"], "ready");
        assert_eq!(v[1]["event"], "garbled");
        nix::unistd::write(&w, b"\"done\"}\n").unwrap();
        drop(w);
        let v = lr.read_once();
        assert_eq!(v[0]["event"], "done");
        assert!(lr.read_once().is_empty());
        assert!(lr.fd.is_none());
    }
}
