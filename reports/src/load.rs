//! Reading and writing results files: strict on read, atomic on write.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::schema::{RunResults, SCHEMA};

/// Why a results file could not be read or written; always names the path.
#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not an isobench results file: {msg}")]
    Parse { path: PathBuf, msg: String },
    #[error("{path}: unknown schema {found:?}; this isobench reads {SCHEMA:?}")]
    Schema { path: PathBuf, found: String },
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Parses results JSON text, refusing other schema versions.
pub fn parse_results(text: &str, path: &Path) -> Result<RunResults, ResultsError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| ResultsError::Parse {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    let found = value
        .get("schema")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .ok_or_else(|| ResultsError::Parse {
            path: path.to_path_buf(),
            msg: "missing \"schema\" field".into(),
        })?;
    if found != SCHEMA {
        return Err(ResultsError::Schema {
            path: path.to_path_buf(),
            found,
        });
    }
    let mut r: RunResults = serde_json::from_value(value).map_err(|e| ResultsError::Parse {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    for m in r.scenarios.iter_mut().flat_map(|s| s.metrics.iter_mut()) {
        if m.summary.n != m.samples.len() {
            m.summary = crate::stats::Summary::of(&m.samples);
        }
        if !m.rounds.is_empty() && m.rounds.len() != m.samples.len() {
            return Err(ResultsError::Parse {
                path: path.to_path_buf(),
                msg: format!(
                    "metric {:?}: {} rounds for {} samples (rounds must be parallel to samples)",
                    m.name,
                    m.rounds.len(),
                    m.samples.len()
                ),
            });
        }
    }
    Ok(r)
}

/// Reads and parses a results file.
pub fn read_results(path: &Path) -> Result<RunResults, ResultsError> {
    let text = fs::read_to_string(path).map_err(|source| ResultsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_results(&text, path)
}

/// Writes `bytes` to `path` atomically: a temp file in the same directory,
/// fsync, then rename. On error nothing is left at `path` or beside it.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ResultsError> {
    let err = |source| ResultsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| err(std::io::Error::other("path has no file name")))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(err(e));
    }
    Ok(())
}

/// Serialises results and writes them atomically.
pub fn write_results(path: &Path, results: &RunResults) -> Result<(), ResultsError> {
    let mut text = serde_json::to_vec_pretty(results).map_err(|e| ResultsError::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e),
    })?;
    text.push(b'\n');
    write_atomic(path, &text)
}

/// Checks up front that `path` can be written (its directory exists and is
/// writable), so a run does not compute for minutes and then fail to save.
pub fn check_writable(path: &Path) -> Result<(), ResultsError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if path.is_dir() {
        return Err(ResultsError::Write {
            path: path.to_path_buf(),
            source: std::io::Error::other("is a directory"),
        });
    }
    let probe = dir.join(format!(".isobench-probe-{}", std::process::id()));
    fs::File::create(&probe)
        .and_then(|_| fs::remove_file(&probe))
        .map_err(|source| ResultsError::Write {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::*;

    fn sample() -> RunResults {
        RunResults {
            schema: SCHEMA.into(),
            run_id: "r1".into(),
            started_at: "2026-01-01T00:00:00Z".into(),
            finished_at: "2026-01-01T00:00:01Z".into(),
            environment: Environment::default(),
            scenarios: vec![ScenarioResult {
                name: "cpu-quota".into(),
                launcher: "native".into(),
                launcher_spec: None,
                params: Default::default(),
                metrics: vec![Metric::with_target(
                    "accuracy",
                    "ratio",
                    1.0,
                    vec![0.99, 1.01],
                )],
                checks: vec![Check::new("x", Status::Pass, "a", "b", "")],
                series: Default::default(),
                error: None,
                duration_s: None,
            }],
            interrupted: false,
        }
    }

    /// The environment fields of systemd hosts are optional: files written
    /// before them load, and a file with them keeps them.
    #[test]
    fn environment_host_fields_are_optional() {
        let mut r = sample();
        let old = serde_json::to_string(&r).unwrap();
        assert!(
            !old.contains("cgroup_manager"),
            "absent fields are not written"
        );
        let back = parse_results(&old, Path::new("old.json")).unwrap();
        assert_eq!(back.environment.cgroup_manager, None);
        r.environment.node = Some("n1".into());
        r.environment.cgroup_manager = Some("systemd".into());
        r.environment.own_cgroup = Some("/system.slice/isobench-p1-x.scope".into());
        r.environment.init = Some("systemd".into());
        let text = serde_json::to_string(&r).unwrap();
        let back = parse_results(&text, Path::new("new.json")).unwrap();
        assert_eq!(back.environment, r.environment);
    }

    #[test]
    fn round_trip_through_file() {
        let dir = std::env::temp_dir().join(format!("isobench-load-test-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("r.json");
        write_results(&p, &sample()).unwrap();
        let back = read_results(&p).unwrap();
        assert_eq!(back, sample());
        // No temp file left beside it.
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rejects_truncated_and_foreign_schema() {
        let text = serde_json::to_string(&sample()).unwrap();
        let p = Path::new("x.json");
        assert!(matches!(
            parse_results(&text[..text.len() / 2], p),
            Err(ResultsError::Parse { .. })
        ));
        let other = text.replace("isobench/1", "isobench/9");
        assert!(matches!(
            parse_results(&other, p),
            Err(ResultsError::Schema { .. })
        ));
        assert!(parse_results("[]", p).is_err());
    }

    #[test]
    fn write_into_missing_dir_fails_cleanly() {
        let p = Path::new("/nonexistent-isobench-dir/r.json");
        assert!(check_writable(p).is_err());
        assert!(write_results(p, &sample()).is_err());
    }
}
