//! The command line (clap derive). Every input becomes a typed value here.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Benchmark and verify Linux isolation and resource limits.
#[derive(Debug, Parser)]
#[command(name = "isobench", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a suite (or chosen scenarios) and write results JSON.
    Run {
        /// quick, default, or a suite TOML file.
        #[arg(long, default_value = "default")]
        suite: String,
        /// Run only this scenario (repeatable); see `isobench list`.
        #[arg(long = "scenario", value_name = "NAME")]
        scenarios: Vec<String>,
        /// Launcher under test (repeatable): native, bare, runc, crun, bwrap,
        /// unshare, or custom:TEMPLATE (placeholders: {workload}, {cgroup},
        /// {id}, {namespaces}, {cpu_quota_us}, {cpu_period_us}, {memory_max},
        /// {pids_max}, {workload_path}, {args}).
        #[arg(long = "launcher", value_name = "NAME")]
        launchers: Vec<String>,
        /// Namespace set for every sandbox, e.g. pid,mnt,uts,ipc (or none, all).
        #[arg(long, value_name = "LIST")]
        namespaces: Option<String>,
        /// Results file (written atomically).
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Create sandbox cgroups beneath this cgroup path (in every
        /// hierarchy) instead of isobench's own cgroup.
        #[arg(long, value_name = "PATH")]
        cgroup_parent: Option<String>,
        /// Seed for anything randomised.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Render a results file: report.html, report.md, junit.xml and plots
    /// (SVG + PNG) into a directory, or print a CI export.
    Report {
        /// The results JSON of `isobench run`.
        results: PathBuf,
        /// Output directory.
        #[arg(short, long, value_name = "DIR", default_value = "isobench-report")]
        output: PathBuf,
        /// Print an export instead: gab (github-action-benchmark
        /// customSmallerIsBetter), gab-bigger (customBiggerIsBetter), bmf
        /// (Bencher Metric Format).
        #[arg(long, value_name = "FORMAT")]
        format: Option<String>,
    },
    /// Compare runs: NEW (one or more) against BASE, with a regression gate.
    Compare {
        /// The baseline results file.
        base: PathBuf,
        /// One or more results files to compare with the baseline.
        #[arg(required = true)]
        new: Vec<PathBuf>,
        /// Gate thresholds (TOML); the built-in defaults otherwise.
        #[arg(long, value_name = "FILE")]
        gate: Option<PathBuf>,
        /// Output format: md or json.
        #[arg(long, default_value = "md")]
        format: String,
        /// Seed of the bootstrap resampling.
        #[arg(long, default_value_t = isobench_reports::DEFAULT_SEED)]
        seed: u64,
        /// Bootstrap resamples.
        #[arg(long, default_value_t = isobench_reports::DEFAULT_RESAMPLES)]
        resamples: usize,
    },
    /// Print kernel, cgroup mode, controllers and the peers installed.
    Env {
        /// Print JSON (the results file's environment block) instead.
        #[arg(long)]
        json: bool,
    },
    /// List scenarios, their parameters and defaults.
    List,
    /// Boot a kernel under qemu and run there, in cgroup v1 or v2 mode.
    Vm(crate::vm::args::VmArgs),
    /// Fetch Debian cloud kernels for `vm` and `matrix`.
    Kernels {
        #[command(subcommand)]
        action: crate::vm::args::KernelsCommand,
    },
    /// Run in every kernel x cgroup mode (and the host) and compare them.
    Matrix(crate::vm::args::MatrixArgs),
    /// Inside the debian12 guest only: start the run the way the kernel
    /// command line asks and send its results to the host.
    #[command(hide = true)]
    GuestDriver,
    /// Remove cgroups left by isobench runs whose process is dead.
    Cleanup {
        /// Look beneath this cgroup path instead of our own cgroup.
        #[arg(long, value_name = "PATH")]
        cgroup_parent: Option<String>,
    },
}
