//! The arguments of `isobench run`, as a clap `Args`: the top-level command
//! line embeds them, and a VM guest parses them on their own (the `run …`
//! after `isobench vm --`), so neither imports the other. Every flag is a
//! typed value once parsed; bad input is one line (see [`error_line`]).

use std::path::PathBuf;

use clap::Args;

use super::{Output, RunRequest};
use crate::launchers::Arm;
use crate::sandbox::Namespaces;
use crate::scenarios::Level;
use crate::suite::Suite;

/// Arguments of `isobench run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// quick, default, or a suite TOML file.
    #[arg(long, default_value = "default", value_parser = SuiteArg::parse)]
    pub suite: SuiteArg,
    /// Run only this scenario (repeatable); see `isobench list`.
    #[arg(long = "scenario", value_name = "NAME")]
    pub scenarios: Vec<String>,
    /// Arm under test (repeatable), as SPEC or LABEL=SPEC: native, bare,
    /// runc, crun, bwrap, unshare, oci:PATH (any OCI runtime with runc's
    /// commands), or custom:TEMPLATE (placeholders: {workload},
    /// {cgroup}, {id}, {namespaces}, {cpu_quota_us}, {cpu_period_us},
    /// {memory_max}, {pids_max}, {workload_path}, {args}).
    #[arg(long = "launcher", value_name = "[LABEL=]SPEC", value_parser = Arm::parse)]
    pub launchers: Vec<Arm>,
    /// Run the suite N times, the arms alternating inside each round in a
    /// balanced order (ABBA…); every sample records its round. Compare
    /// the arms with `isobench compare FILE --base-arm A --new-arm B`.
    #[arg(long, default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub rounds: u32,
    /// Namespace set for every sandbox, e.g. pid,mnt,uts,ipc (or none, all).
    #[arg(long, value_name = "LIST", value_parser = Namespaces::parse)]
    pub namespaces: Option<Namespaces>,
    /// Results file (written atomically).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Create sandbox cgroups beneath this cgroup path (in every
    /// hierarchy) instead of isobench's own cgroup.
    #[arg(long, value_name = "PATH")]
    pub cgroup_parent: Option<String>,
    /// Seed for anything randomised.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// For a Kubernetes pod or a Sonobuoy plugin: write DIR/isobench/
    /// isobench.json (unless -o), its sonobuoy_results.yaml, then DIR/done
    /// naming that folder; exit 0 once written (the verdict is in them).
    #[arg(long, value_name = "DIR")]
    pub sonobuoy: Option<PathBuf>,
}

/// `--suite`: a built-in suite level, or a suite file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SuiteArg {
    Builtin(Level),
    File(PathBuf),
}

impl SuiteArg {
    /// `quick` and `default` are the built-in levels; anything else is a
    /// path (read when the suite is loaded).
    pub fn parse(s: &str) -> Result<SuiteArg, String> {
        Ok(match s {
            "quick" => SuiteArg::Builtin(Level::Quick),
            "default" => SuiteArg::Builtin(Level::Default),
            path => SuiteArg::File(PathBuf::from(path)),
        })
    }

    /// Loads the suite, restricted to the `only` scenarios when given.
    pub fn load(&self, only: &[String]) -> Result<Suite, String> {
        match self {
            SuiteArg::Builtin(Level::Quick) => Suite::load("quick", only),
            SuiteArg::Builtin(Level::Default) => Suite::load("default", only),
            // Clap hands value parsers UTF-8 only, so the path is lossless.
            SuiteArg::File(p) => Suite::load(&p.to_string_lossy(), only),
        }
    }
}

impl RunArgs {
    /// The request: arms told apart by label, the suite loaded.
    pub fn into_request(self) -> Result<RunRequest, String> {
        let launchers = Arm::distinct(self.launchers).map_err(|e| format!("--launcher: {e}"))?;
        Ok(RunRequest {
            suite: self.suite.load(&self.scenarios)?,
            output: Output::from_arg(self.output),
            cgroup_parent: self.cgroup_parent,
            seed: self.seed,
            namespaces: self.namespaces,
            launchers,
            rounds: self.rounds,
        })
    }
}

/// A clap error as one line: its first line without `error: ` and the
/// usage block, plus the accepted values when clap lists them.
pub fn error_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines.next().unwrap_or("bad arguments");
    let first = first.trim_start_matches("error: ");
    match lines.next().filter(|l| l.starts_with("[possible values:")) {
        Some(values) => format!("{first} {values}"),
        None => first.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    #[command(no_binary_name = true)]
    struct Run {
        #[command(flatten)]
        args: RunArgs,
    }

    fn parse(args: &[&str]) -> Result<RunArgs, String> {
        Run::try_parse_from(args)
            .map(|r| r.args)
            .map_err(|e| error_line(&e))
    }

    #[test]
    fn flags_become_typed_values() {
        let a = parse(&[
            "--suite",
            "quick",
            "--namespaces",
            "pid,mnt",
            "--rounds",
            "3",
        ])
        .unwrap();
        assert_eq!(a.suite, SuiteArg::Builtin(Level::Quick));
        assert_eq!(a.namespaces, Some(Namespaces::parse("pid,mnt").unwrap()));
        assert_eq!(a.rounds, 3);
        let a = parse(&["--suite", "s.toml", "--launcher", "base=native"]).unwrap();
        assert_eq!(a.suite, SuiteArg::File("s.toml".into()));
        assert_eq!(a.launchers[0].label, "base");
        assert_eq!(parse(&[]).unwrap().suite, SuiteArg::Builtin(Level::Default));
    }

    #[test]
    fn bad_values_are_one_line_naming_the_problem() {
        for (args, needle) in [
            (&["--namespaces", "pid,bogus"][..], "bogus"),
            (&["--launcher", "nope"], "unknown launcher"),
            (&["--rounds", "0"], "rounds"),
            (&["--frobnicate"], "--frobnicate"),
        ] {
            let e = parse(args).unwrap_err();
            assert!(e.contains(needle) && !e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn two_arms_may_not_share_a_label() {
        let a = parse(&["--launcher", "native", "--launcher", "native"]).unwrap();
        let e = a.into_request().unwrap_err();
        assert!(
            e.starts_with("--launcher: ") && e.contains("LABEL=SPEC"),
            "{e}"
        );
    }
}
