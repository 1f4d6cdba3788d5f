//! `isobench completions SHELL` and `isobench man`: generated from the
//! clap definition, so they cannot drift from the real flags.

use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;
use isobench::cli::Cli;

use super::{usage, Outcome};

/// Prints the completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> Outcome {
    clap_complete::generate(
        shell,
        &mut Cli::command(),
        "isobench",
        &mut std::io::stdout(),
    );
    Ok(ExitCode::SUCCESS)
}

/// Prints isobench.1 on stdout, or writes a page per command into `out`.
pub fn man(out: Option<&Path>) -> Outcome {
    let cmd = Cli::command();
    match out {
        None => {
            clap_mangen::Man::new(cmd)
                .render(&mut std::io::stdout())
                .map_err(usage)?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| usage(format!("{}: {e}", dir.display())))?;
            clap_mangen::generate_to(cmd, dir)
                .map_err(|e| usage(format!("{}: {e}", dir.display())))?;
            println!("man pages: {}", dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}
