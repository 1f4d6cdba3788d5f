//! Command-line arguments of `isobench vm`, `kernels` and `matrix` (clap
//! derive), kept beside the code they drive; cli.rs embeds them.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::accel::AccelChoice;
use super::image::{GuestOs, StartMode};
use super::CgroupVersion;

/// Settings every guest boot shares.
#[derive(Debug, Clone, Args)]
pub struct GuestArgs {
    /// Virtual CPUs of the guest.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub cpus: u32,
    /// Guest memory, e.g. 1G or 768M (default 1G; 2G for --guest debian12).
    #[arg(long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// Seconds before a guest that has not delivered results is killed.
    #[arg(long, default_value_t = 600, value_name = "S")]
    pub timeout: u64,
    /// Copy this host program (and the libraries it loads) into the guest at
    /// the same path, e.g. --include $(which crun) (repeatable).
    #[arg(long = "include", value_name = "PATH")]
    pub includes: Vec<PathBuf>,
    /// kvm, tcg, or auto (KVM only when a probe boot works).
    #[arg(long, value_enum, default_value_t = AccelChoice::Auto)]
    pub accel: AccelChoice,
}

/// `isobench vm`.
#[derive(Debug, Clone, Args)]
pub struct VmArgs {
    /// Kernel image (vmlinuz), or a series fetched by `isobench kernels
    /// fetch` (6.1, 6.12).
    #[arg(long, value_name = "VMLINUZ")]
    pub kernel: String,
    /// cgroup filesystem the guest mounts (minimal guest; debian12 is v2).
    #[arg(long, value_enum, default_value_t = CgroupVersion::V2)]
    pub cgroup: CgroupVersion,
    /// Guest userland: minimal (isobench as /init) or debian12 (Debian 12
    /// with systemd as PID 1, image built with mmdebstrap and cached).
    #[arg(long = "guest", value_enum, default_value_t = GuestOs::Minimal)]
    pub os: GuestOs,
    /// How the debian12 guest starts `isobench run`: login (`sudo` from a
    /// login session), service (systemd-run --wait), scope (systemd-run --scope).
    #[arg(long, value_enum, default_value_t = StartMode::Login)]
    pub start: StartMode,
    #[command(flatten)]
    pub guest: GuestArgs,
    /// Results file (written atomically); the console log goes beside it.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The `run` command for the guest, e.g. -- run --suite quick.
    #[arg(last = true, required = true, value_name = "RUN ARGS")]
    pub run_args: Vec<String>,
}

/// `isobench kernels …`.
#[derive(Debug, Clone, Subcommand)]
pub enum KernelsCommand {
    /// Download Debian cloud kernels into the cache and print their paths.
    #[command(disable_version_flag = true)]
    Fetch {
        /// Kernel series (default: all known, 6.1 and 6.12).
        #[arg(long, value_name = "SERIES")]
        version: Vec<String>,
    },
    /// Print the kernels in the cache.
    List,
}

/// `isobench matrix`.
#[derive(Debug, Clone, Args)]
pub struct MatrixArgs {
    /// Kernel images or fetched series (repeatable, or comma separated).
    #[arg(long, required = true, value_delimiter = ',', value_name = "VMLINUZ")]
    pub kernel: Vec<String>,
    /// cgroup modes to boot each kernel in.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "v1,v2")]
    pub cgroup: Vec<CgroupVersion>,
    /// Also run on this host, as one more column.
    #[arg(long)]
    pub host: bool,
    #[command(flatten)]
    pub guest: GuestArgs,
    /// Directory for one results file per environment and the comparison.
    #[arg(short, long, value_name = "DIR")]
    pub output: PathBuf,
    /// The `run` command for every environment, e.g. -- run --suite quick.
    #[arg(last = true, required = true, value_name = "RUN ARGS")]
    pub run_args: Vec<String>,
}

/// `-- --suite quick` means `-- run --suite quick`.
pub fn normalize_run_args(args: &[String]) -> Vec<String> {
    match args.first() {
        Some(a) if a.starts_with('-') => std::iter::once("run".to_string())
            .chain(args.iter().cloned())
            .collect(),
        _ => args.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use crate::cli::{Cli, Command};

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn vm_and_matrix_parse() {
        let cli = Cli::try_parse_from([
            "isobench",
            "vm",
            "--kernel",
            "6.1",
            "--cgroup",
            "v1",
            "--include",
            "/usr/bin/crun",
            "-o",
            "v.json",
            "--",
            "run",
            "--suite",
            "quick",
        ])
        .unwrap();
        let Command::Vm(a) = cli.command else {
            panic!("not vm")
        };
        assert_eq!(a.cgroup, super::CgroupVersion::V1);
        assert_eq!(a.run_args, ["run", "--suite", "quick"]);
        assert_eq!(a.guest.includes.len(), 1);
        let cli = Cli::try_parse_from([
            "isobench", "matrix", "--kernel", "6.1,6.12", "--host", "-o", "m", "--", "--suite",
            "quick",
        ])
        .unwrap();
        let Command::Matrix(m) = cli.command else {
            panic!("not matrix")
        };
        assert_eq!(m.kernel, ["6.1", "6.12"]);
        assert_eq!(
            m.cgroup,
            [super::CgroupVersion::V1, super::CgroupVersion::V2]
        );
        let cli =
            Cli::try_parse_from(["isobench", "kernels", "fetch", "--version", "6.12"]).unwrap();
        assert!(matches!(cli.command, Command::Kernels { .. }));
        // Run arguments are required.
        assert!(Cli::try_parse_from(["isobench", "vm", "--kernel", "k"]).is_err());
    }
}
