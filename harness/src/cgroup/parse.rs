//! Parsers for the shapes of cgroup control files, shared by v1 and v2:
//! single values, "max"-or-number, and flat-keyed "key value" lines.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use super::error::{CgroupError, Result};

/// Reads a control file as text.
pub fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| CgroupError::io(path, e))
}

/// Reads a control file if it exists; `None` when the kernel lacks it.
pub fn read_opt(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CgroupError::io(path, e)),
    }
}

/// Writes a value to a control file (one write, as the kernel expects).
pub fn write(path: &Path, value: &str) -> Result<()> {
    fs::write(path, value).map_err(|e| CgroupError::io(path, e))
}

/// Writes a control file that only some kernels have: its absence is
/// `Unsupported(missing)`, so a limit is never silently dropped.
pub fn write_feature(path: &Path, value: &str, missing: &str) -> Result<()> {
    if !path.exists() {
        return Err(CgroupError::Unsupported(missing.into()));
    }
    write(path, value)
}

fn parse_err(path: &Path, text: &str, msg: &str) -> CgroupError {
    CgroupError::Parse {
        path: path.to_path_buf(),
        text: text.to_string(),
        msg: msg.to_string(),
    }
}

/// Parses a file holding a single unsigned number.
pub fn parse_u64(path: &Path, text: &str) -> Result<u64> {
    let t = text.trim();
    t.parse::<u64>()
        .map_err(|e| parse_err(path, t, &e.to_string()))
}

/// Parses a file holding a signed number (v1 cpu.cfs_quota_us uses -1).
pub fn parse_i64(path: &Path, text: &str) -> Result<i64> {
    let t = text.trim();
    t.parse::<i64>()
        .map_err(|e| parse_err(path, t, &e.to_string()))
}

/// Parses "max" (→ None) or a number (v2 limits, v1 pids.max).
pub fn parse_max_or_u64(path: &Path, text: &str) -> Result<Option<u64>> {
    let t = text.trim();
    if t == "max" {
        return Ok(None);
    }
    t.parse::<u64>()
        .map(Some)
        .map_err(|e| parse_err(path, t, &e.to_string()))
}

/// Parses flat-keyed content ("key value" per line). Lines whose value is not
/// a number are skipped, so kernels adding keys never break the reader.
pub fn parse_flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let k = it.next()?;
            let v = it.next()?.parse::<u64>().ok()?;
            Some((k.to_string(), v))
        })
        .collect()
}

/// Reads and parses a flat-keyed file; a missing file gives an empty map.
pub fn read_flat_keyed(path: &Path) -> Result<BTreeMap<String, u64>> {
    Ok(read_opt(path)?
        .map(|t| parse_flat_keyed(&t))
        .unwrap_or_default())
}

/// Reads a single-number file; `None` if the kernel lacks the file.
pub fn read_u64_opt(path: &Path) -> Result<Option<u64>> {
    match read_opt(path)? {
        Some(t) => parse_u64(path, &t).map(Some),
        None => Ok(None),
    }
}

/// Reads the pids listed in a cgroup.procs / tasks file.
pub fn read_pids(path: &Path) -> Result<Vec<i32>> {
    let text = read(path)?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.trim()
                .parse::<i32>()
                .map_err(|e| parse_err(path, l, &e.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_keyed_skips_garbage_and_keeps_numbers() {
        let m = parse_flat_keyed("nr_periods 10\nnr_throttled 3\nweird\nname str\n\n");
        assert_eq!(m.get("nr_periods"), Some(&10));
        assert_eq!(m.get("nr_throttled"), Some(&3));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn max_or_number() {
        let p = Path::new("pids.max");
        assert_eq!(parse_max_or_u64(p, "max\n").unwrap(), None);
        assert_eq!(parse_max_or_u64(p, "42\n").unwrap(), Some(42));
        let e = parse_max_or_u64(p, "x").unwrap_err().to_string();
        assert!(e.contains("pids.max"), "{e}");
    }

    #[test]
    fn signed_quota() {
        assert_eq!(parse_i64(Path::new("q"), "-1\n").unwrap(), -1);
    }
}
