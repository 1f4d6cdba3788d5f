//! Errors of the cgroup layer; every one names the file it concerns.

use std::path::PathBuf;

/// A cgroup operation that failed, with the control file or directory involved.
#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: cannot parse {text:?}: {msg}")]
    Parse {
        path: PathBuf,
        text: String,
        msg: String,
    },
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Setup(String),
}

impl CgroupError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        CgroupError::Io {
            path: path.into(),
            source,
        }
    }

    /// The errno of an I/O failure, if this is one.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            CgroupError::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

pub type Result<T> = std::result::Result<T, CgroupError>;
