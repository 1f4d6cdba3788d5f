//! `isobench` binary: a dispatcher with one function per subcommand (in
//! `cmd`), and the edge where errors become a message and an exit code
//! (0 all passed, 1 a check failed, 2 bad input or unusable environment).

mod cmd;

use std::process::ExitCode;

use clap::Parser;

use isobench::cli::{Cli, Command};

fn main() -> ExitCode {
    // As a VM's /init: mount, run, send results, power off; never returns.
    if std::process::id() == 1 {
        isobench::vm::guest::main();
    }
    // Behave like a Unix filter when piped into `head`: die quietly on EPIPE.
    // SAFETY: setting a signal disposition before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => return bad_arguments(&e),
    };
    let outcome = match cli.command {
        Command::Run(args) => cmd::run(args),
        Command::Env { json } => cmd::env(json),
        Command::Report {
            results,
            output,
            format,
        } => cmd::report(&results, &output, format),
        Command::Compare(args) => cmd::compare(&args),
        Command::Calibrate(args) => cmd::calibrate(&args),
        Command::Merge(args) => cmd::merge(&args),
        Command::List { json } => cmd::list(json),
        Command::GuestDriver => isobench::vm::driver::main(),
        Command::Vm(args) => cmd::vm_code(isobench::vm::command::vm(&args)),
        Command::Kernels { action } => cmd::vm_code(isobench::vm::command::kernels(&action)),
        Command::Matrix(args) => cmd::vm_code(isobench::vm::matrix::matrix(&args)),
        Command::Cleanup { cgroup_parent } => cmd::cleanup(cgroup_parent.as_deref()),
        Command::Completions { shell } => cmd::completions(shell),
        Command::Man { out } => cmd::man(out.as_deref()),
    };
    outcome.unwrap_or_else(|e| {
        eprintln!("isobench: {e}");
        ExitCode::from(e.exit_code())
    })
}

/// Help and version print as clap has them (exit 0). A command line clap
/// refuses is clap's own rendering in full, on stderr, exit 2: one
/// `error:` line with what is wrong, then the context clap adds (missing
/// argument names, "a similar argument exists" tips, possible values,
/// usage). Errors found after parsing stay one `isobench:` line.
fn bad_arguments(e: &clap::Error) -> ExitCode {
    let _ = e.print();
    ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2))
}
