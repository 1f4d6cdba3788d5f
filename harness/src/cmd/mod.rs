//! One function per subcommand, each returning its exit code or a typed
//! [`CmdError`] that `main` prints as one line.

mod compare;
mod env;
mod list;
mod merge;
mod run;
mod shell;

pub use compare::{calibrate, compare, report};
pub use env::env;
pub use list::list;
pub use merge::merge;
pub use run::{cleanup, run};
pub use shell::{completions, man};

use std::process::ExitCode;

use isobench::run::EnvError;
use isobench::vm::VmError;

/// What a subcommand ends with: its exit code, or why it could not run.
pub type Outcome = Result<ExitCode, CmdError>;

/// Why a subcommand did not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum CmdError {
    /// Bad input or an environment that cannot run what was asked (exit 2).
    #[error("{0}")]
    Usage(String),
    /// A vm command's error, with its own exit code.
    #[error(transparent)]
    Vm(#[from] VmError),
}

impl CmdError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CmdError::Usage(_) => 2,
            CmdError::Vm(e) => e.exit_code(),
        }
    }
}

impl From<EnvError> for CmdError {
    fn from(e: EnvError) -> Self {
        CmdError::Usage(e.0)
    }
}

/// A usage error from anything printable.
pub fn usage(e: impl std::fmt::Display) -> CmdError {
    CmdError::Usage(e.to_string())
}

/// The exit code a vm command chose.
pub fn vm_code(r: Result<u8, VmError>) -> Outcome {
    Ok(ExitCode::from(r?))
}
