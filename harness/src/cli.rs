//! The command line (clap derive). Every input becomes a typed value here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    Run(crate::run::RunArgs),
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
        format: Option<isobench_reports::ExportFormat>,
    },
    /// Compare runs with a regression gate: BASE.json NEW.json [NEW2.json…]
    /// (one run per side); --base A… --new B… (several runs per side); or
    /// RUN.json… --base-arm A --new-arm B (interleaved arms of --rounds runs).
    Compare(CompareArgs),
    /// Merge one results file per node into a fleet: fleet.json plus
    /// fleet.html / fleet.md (node × check table, metric spread with
    /// outliers, nodes grouped by kernel, cgroup mode and runtimes).
    Merge(MergeArgs),
    /// Write a gate file whose per-metric run-to-run bands come from K
    /// same-build results files (every pair of them).
    Calibrate(CalibrateArgs),
    /// Print kernel, cgroup mode, controllers and the peers installed.
    Env {
        /// Print JSON (the results file's environment block) instead.
        #[arg(long)]
        json: bool,
    },
    /// List scenarios, their parameters and defaults.
    List {
        /// Print JSON: per scenario its name, about, the controllers it
        /// needs and its params (name, quick, default, meaning).
        #[arg(long)]
        json: bool,
    },
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
    /// Print a shell completion script, e.g.
    /// `isobench completions bash > /etc/bash_completion.d/isobench`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout, or with --out write one page
    /// per command (isobench.1, isobench-run.1, …) into DIR.
    Man {
        /// Directory to write the pages into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
}

/// `compare --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompareFormat {
    Md,
    Json,
}

/// Arguments of `isobench compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// BASE then NEW files; or, with --base-arm/--new-arm, the files of
    /// interleaved runs.
    pub files: Vec<PathBuf>,
    /// Several BASE runs (same build): run-level noise is estimated.
    #[arg(long = "base", value_name = "FILE", num_args = 1.., conflicts_with_all = ["base_arm", "new_arm"])]
    pub base_files: Vec<PathBuf>,
    /// Several NEW runs, to compare with --base.
    #[arg(long = "new", value_name = "FILE", num_args = 1.., requires = "base_files")]
    pub new_files: Vec<PathBuf>,
    /// The BASE arm's label inside the file(s) (`run --launcher LABEL=SPEC`).
    #[arg(long, value_name = "LABEL", requires = "new_arm")]
    pub base_arm: Option<String>,
    /// The NEW arm's label.
    #[arg(long, value_name = "LABEL", requires = "base_arm")]
    pub new_arm: Option<String>,
    /// Report lost coverage (pass → skip or absent, a missing scenario or
    /// launcher, an interrupted NEW) without failing the gate.
    #[arg(long)]
    pub allow_coverage_loss: bool,
    /// Gate thresholds (TOML); the built-in defaults otherwise.
    #[arg(long, value_name = "FILE")]
    pub gate: Option<PathBuf>,
    /// Output format: md or json.
    #[arg(long, value_enum, default_value_t = CompareFormat::Md)]
    pub format: CompareFormat,
    /// Seed of the bootstrap resampling.
    #[arg(long, default_value_t = isobench_reports::DEFAULT_SEED)]
    pub seed: u64,
    /// Bootstrap resamples.
    #[arg(long, default_value_t = isobench_reports::DEFAULT_RESAMPLES)]
    pub resamples: usize,
}

/// Arguments of `isobench merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Results files, one per node (the node is `environment.node`).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The fleet results file to write (atomically).
    #[arg(short, long, value_name = "FILE", default_value = "fleet.json")]
    pub output: PathBuf,
    /// Directory for fleet.html and fleet.md (default: beside -o).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The nodes the fleet should have: a count N, or names a,b,c.
    /// A missing one fails the merge (exit 1).
    #[arg(long, value_name = "N|a,b,c")]
    pub expect_nodes: Option<String>,
}

/// Arguments of `isobench calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateArgs {
    /// K ≥ 3 results files of the same build and suite (8 give 28 pairs).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Gate whose defaults and rules to keep (default: the shipped one).
    #[arg(long, value_name = "FILE")]
    pub gate: Option<PathBuf>,
    /// Factor on the largest same-build change (log scale).
    #[arg(long, default_value_t = 2.0)]
    pub margin: f64,
    /// Smallest band, in percent.
    #[arg(long, default_value_t = 5.0)]
    pub floor_pct: f64,
    /// Fewest same-build pairs a band may rest on (else no band: the
    /// metric stays not testable with one run per side).
    #[arg(long, default_value_t = 10)]
    pub min_pairs: usize,
    /// The gate file to write (atomically).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}
