//! `isobench-workload`: the tiny static program isobench runs inside
//! sandboxes. Std and `libc` only.
//!
//! Results are line-delimited JSON objects (each with an `"event"` field),
//! one write(2) per line, on the fd named by `$ISOBENCH_REPORT_FD` (stderr if
//! unset or invalid); never on stdout. Every subcommand first emits
//! `{"event":"ready"}` once its arguments are parsed. Errors are reported as
//! `{"event":"error","msg":".."}` with exit code 2 (usage; also one line on
//! stderr) or 1 (runtime).

#![forbid(unsafe_op_in_unsafe_fn)]

mod args;
mod escape;
mod forkbomb;
mod hog;
mod io;
mod json;
mod nest;
mod oci_shim;
mod pagecache;
mod pid1;
mod probe;
mod report;
mod spin;
mod supervisor;
mod sys;
mod tick;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;

use std::io::Write;

pub use args::parse_bytes;
pub use json::escape as json_escape;
pub use report::{Reporter, REPORT_FD_ENV};

/// Why a subcommand failed.
#[derive(Debug)]
pub enum Failure {
    /// Bad command line: exit 2.
    Usage(String),
    /// Failure while working: exit 1.
    Runtime(String),
}

pub(crate) type Outcome = Result<(), Failure>;

/// Text printed by `--help`.
pub const USAGE: &str = "\
usage: isobench-workload <subcommand> [flags]

Results go as JSON lines to the fd in $ISOBENCH_REPORT_FD (stderr if unset).

subcommands:
  ready                                   report ready and exit
  spin --threads N --seconds S            N busy threads for S seconds (defaults 1, 1)
  hog --step BYTES --max BYTES [--procs P] [--hold-seconds H] [--map BYTES]
                                          touch anonymous memory step by step (--map:
                                          one mapping of BYTES, only --max of it touched)
  pagecache --bytes B [--dir D] [--chunk C] [--hold-seconds H]
                                          write B bytes to a file (default dir /tmp);
                                          --hold-seconds: fsync, keep it open H s
  io --path P --op read|write|buffered [--block B] [--seconds S] [--span N] [--depth D]
                                          block IO on P for S seconds: O_DIRECT read or
                                          write, or buffered writes (no fsync);
                                          D threads keep D requests in flight
  forkbomb [--report-ms MS]               fork until refused; never exits
  tick --period-ms P --work-ms W [--count N]
                                          periodic task latency (default N 100)
  probe                                   what the sandbox can see
  escape [--host-pid PID] [--abstract-socket NAME]
                                          try to get out: signal/ptrace PID, write
                                          cgroup limits and /proc/sys, mount, load
                                          a module, connect to \0NAME (harmless:
                                          current values are written back)
  pid1 --test hold|orphans [--seconds S] [--term-pid1 0|1] [--count N] [--settle-ms MS]
                                          PID 1 semantics: survive SIGTERM, leave zombies
  supervisor --task hog|fork|spin --children N [--bytes B] [--forks K] [--seconds S]
             [--hold-seconds H]           N children under one limit (needs its limit)
  nest --cgroup v1|v2 --inner-memory BYTES [--inner-pids N] [--step BYTES]
                                          make a sandbox inside this one (root in
                                          pid+mnt+cgroup namespaces): hog and fork
                                          under a larger inner limit, try the
                                          delegation rules

BYTES take suffixes K, M, G, T (powers of 1024), e.g. 4M or 1G.
";

/// Entry point: `args` excludes argv[0]. Returns the process exit code.
pub fn run(args: Vec<String>) -> i32 {
    run_with(&Reporter::from_env(), &args)
}

/// Like [`run`], reporting to `fd` instead of `$ISOBENCH_REPORT_FD`.
pub fn run_with_fd(fd: i32, args: &[String]) -> i32 {
    run_with(&Reporter::new(fd), args)
}

fn is_help(a: &str) -> bool {
    a == "--help" || a == "-h"
}

fn run_with(rep: &Reporter, args: &[String]) -> i32 {
    let Some((cmd, rest)) = args.split_first() else {
        return finish(
            rep,
            Err(Failure::Usage("missing subcommand (see --help)".into())),
        );
    };
    if is_help(cmd) || cmd == "help" || rest.iter().any(|a| is_help(a)) {
        let _ = std::io::stdout().write_all(USAGE.as_bytes());
        return 0;
    }
    if cmd == "oci-shim" {
        return oci_shim::main(rep, rest);
    }
    let outcome = match cmd.as_str() {
        "ready" => args::Flags::parse("ready", rest, &[])
            .map(|_| rep.ready())
            .map_err(Failure::Usage),
        "spin" => spin::main(rep, rest),
        "hog" => hog::main(rep, rest),
        "pagecache" => pagecache::main(rep, rest),
        "io" => io::main(rep, rest),
        "forkbomb" => forkbomb::main(rep, rest),
        "tick" => tick::main(rep, rest),
        "probe" => probe::main(rep, rest),
        "escape" => escape::main(rep, rest),
        "pid1" => pid1::main(rep, rest),
        "supervisor" => supervisor::main(rep, rest),
        "nest" => nest::main(rep, rest),
        other => Err(Failure::Usage(format!(
            "unknown subcommand {other:?} (see --help)"
        ))),
    };
    finish(rep, outcome)
}

fn finish(rep: &Reporter, outcome: Outcome) -> i32 {
    match outcome {
        Ok(()) => 0,
        Err(Failure::Usage(msg)) => {
            rep.error(&msg, None);
            let _ = writeln!(std::io::stderr(), "isobench-workload: {msg}");
            2
        }
        Err(Failure::Runtime(msg)) => {
            rep.error(&msg, None);
            1
        }
    }
}
