//! `isobench` binary: the edge where errors become one line and an exit code
//! (0 all passed, 1 a check failed, 2 bad input or unusable environment).

use std::process::ExitCode;

use clap::Parser;

use isobench::cgroup::CgroupSet;
use isobench::cli::{Cli, Command};
use isobench::run::{self, RunRequest};
use isobench::sandbox::Namespaces;
use isobench::scenarios;
use isobench::suite::Suite;

/// Bad input or an environment that cannot run what was asked.
fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("isobench: {msg}");
    ExitCode::from(2)
}

/// Exit code of the vm commands: theirs, or 2 with one line on error.
fn vm_exit(r: Result<u8, isobench::vm::VmError>) -> ExitCode {
    match r {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("isobench: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

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
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
            // One line: clap's first line, without the usage block.
            let text = e.render().to_string();
            let line = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("bad arguments");
            return usage(format!(
                "{} (see isobench --help)",
                line.trim_start_matches("error: ")
            ));
        }
    };
    match cli.command {
        Command::Run {
            suite,
            scenarios,
            launchers,
            namespaces,
            output,
            cgroup_parent,
            seed,
            rounds,
        } => {
            let launchers = match isobench::launchers::Arm::parse_all(&launchers) {
                Ok(l) => l,
                Err(e) => return usage(format!("--launcher: {e}")),
            };
            let namespaces = match namespaces.as_deref().map(Namespaces::parse).transpose() {
                Ok(n) => n,
                Err(e) => return usage(format!("--namespaces: {e}")),
            };
            let suite = match Suite::load(&suite, &scenarios) {
                Ok(s) => s,
                Err(e) => return usage(e),
            };
            // On a systemd v2 host without a delegated cgroup: the run
            // happens in a Delegate=yes scope of its own, and ends here.
            if let Some(code) = isobench::cgroup::systemd::run_delegated(cgroup_parent.as_deref()) {
                return ExitCode::from(code);
            }
            let req = RunRequest {
                suite,
                output: run::Output::from_arg(output),
                cgroup_parent,
                seed,
                namespaces,
                launchers,
                rounds,
            };
            match run::run(&req) {
                Ok(run::RunOutcome {
                    results: r,
                    written,
                }) => {
                    match &written {
                        Some(o) => {
                            print!("{}", run::summary(&r));
                            println!("results: {}", o.display());
                        }
                        None => eprint!("{}", run::summary(&r)),
                    }
                    if r.interrupted {
                        let sig = isobench::interrupt::requested().unwrap_or(libc::SIGINT);
                        ExitCode::from(isobench::interrupt::exit_code(sig))
                    } else if r.has_failures() {
                        ExitCode::from(1)
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Err(e) => usage(e.0),
            }
        }
        Command::Env { json } => {
            let set = CgroupSet::discover(None);
            let env = isobench::env::snapshot(set.as_ref().ok());
            if json {
                match serde_json::to_string_pretty(&env) {
                    Ok(s) => println!("{s}"),
                    Err(e) => return usage(e),
                }
                return ExitCode::SUCCESS;
            }
            println!("kernel:          {}", env.kernel);
            println!("cgroup mode:     {}", env.cgroup_mode);
            println!("cpus:            {} ({})", env.cpus, env.cpu_model);
            println!(
                "memory:          {:.1} GiB",
                env.memory_bytes as f64 / (1u64 << 30) as f64
            );
            println!("virtualization:  {}", env.virtualization);
            let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
            println!("node:            {}", opt(&env.node));
            println!("init (PID 1):    {}", opt(&env.init));
            println!("cgroup manager:  {}", opt(&env.cgroup_manager));
            println!("own cgroup:      {}", opt(&env.own_cgroup));
            if let Some(line) = isobench::cgroup::systemd::plan_line() {
                println!("sandboxes:       {line}");
            }
            match &set {
                Ok(s) => {
                    println!("controllers (hierarchy, this process's cgroup):");
                    for (name, h, dir) in s.describe() {
                        println!("  {name:<10} {h}  {}", dir.display());
                    }
                }
                Err(e) => println!("controllers:     unavailable: {e}"),
            }
            println!("peers:");
            for p in isobench::env::PEERS {
                match isobench::env::which(p) {
                    Some(path) => println!(
                        "  {p:<20} {} ({})",
                        isobench::env::peer_version(&path)
                            .unwrap_or_else(|| "version unknown".into()),
                        path.display()
                    ),
                    None => println!("  {p:<20} not installed"),
                }
            }
            ExitCode::SUCCESS
        }
        Command::Report {
            results,
            output,
            format,
        } => {
            let r = match isobench_reports::read_results(&results) {
                Ok(r) => r,
                Err(e) => return usage(e),
            };
            if let Some(f) = format {
                let f: isobench_reports::ExportFormat = match f.parse() {
                    Ok(f) => f,
                    Err(e) => return usage(format!("--format: {e}")),
                };
                println!("{}", isobench_reports::export(&r, f));
                return ExitCode::SUCCESS;
            }
            match isobench_reports::render_report(&r, &output) {
                Ok(files) => {
                    println!(
                        "wrote {} files to {} (open {})",
                        files.len(),
                        output.display(),
                        output.join("report.html").display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => usage(e),
            }
        }
        Command::Compare {
            files,
            base_files,
            new_files,
            base_arm,
            new_arm,
            allow_coverage_loss,
            gate,
            format,
            seed,
            resamples,
        } => {
            if format != "md" && format != "json" {
                return usage(format!("--format {format:?}: accepted: md, json"));
            }
            if resamples < 100 {
                return usage("--resamples must be at least 100");
            }
            let gate = match &gate {
                Some(p) => match isobench_reports::Gate::load(p) {
                    Ok(g) => g,
                    Err(e) => return usage(e),
                },
                None => isobench_reports::Gate::shipped(),
            };
            let read = |paths: &[std::path::PathBuf]| -> Result<Vec<_>, String> {
                paths
                    .iter()
                    .map(|p| isobench_reports::read_results(p).map_err(|e| e.to_string()))
                    .collect()
            };
            let opts = isobench_reports::compare::Options {
                seed,
                resamples,
                allow_coverage_loss,
            };
            let label = |p: &std::path::PathBuf| p.display().to_string();
            let result = if let (Some(b), Some(n)) = (&base_arm, &new_arm) {
                if files.is_empty() {
                    return usage(
                        "--base-arm/--new-arm need the results file(s) of a --rounds run",
                    );
                }
                read(&files).and_then(|runs| {
                    isobench_reports::compare::compare_arms(&runs, b, n, &gate, &opts)
                        .map_err(|e| e.to_string())
                })
            } else if !base_files.is_empty() {
                if new_files.is_empty() {
                    return usage("--base needs --new FILE… (the other side)");
                }
                if !files.is_empty() {
                    return usage(
                        "give the files either after --base/--new or as BASE NEW, not both",
                    );
                }
                match (read(&base_files), read(&new_files)) {
                    (Ok(b), Ok(n)) => isobench_reports::compare::compare_runs(&b, &n, &gate, &opts)
                        .map_err(|e| e.to_string())
                        .map(|mut c| {
                            if b.len() == 1 && n.len() == 1 {
                                c.set_labels(&label(&base_files[0]), &[&label(&new_files[0])]);
                            } else {
                                c.set_labels("base", &["new"]);
                            }
                            c
                        }),
                    (Err(e), _) | (_, Err(e)) => Err(e),
                }
            } else {
                if files.len() < 2 {
                    return usage(
                        "compare needs BASE.json NEW.json…, --base A.json… --new B.json…, or RUN.json --base-arm A --new-arm B",
                    );
                }
                read(&files).and_then(|runs| {
                    isobench_reports::compare::same_suite(runs.iter())
                        .map_err(|e| e.to_string())?;
                    let (b, n) = runs.split_first().ok_or("no results file given")?;
                    let mut c = isobench_reports::compare::compare_with(b, n, &gate, &opts);
                    let labels: Vec<String> = files[1..].iter().map(label).collect();
                    let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
                    c.set_labels(&label(&files[0]), &refs);
                    Ok(c)
                })
            };
            let c = match result {
                Ok(c) => c,
                Err(e) => return usage(e),
            };
            if format == "json" {
                println!("{}", c.to_json());
            } else {
                print!("{}", c.to_markdown());
            }
            if c.regressed() {
                for line in c.regressions() {
                    eprintln!("isobench: regression: {line}");
                }
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Command::Calibrate {
            files,
            gate,
            margin,
            floor_pct,
            min_pairs,
            output,
        } => {
            let base = match &gate {
                Some(p) => match isobench_reports::Gate::load(p) {
                    Ok(g) => g,
                    Err(e) => return usage(e),
                },
                None => isobench_reports::Gate::shipped(),
            };
            let mut runs = Vec::new();
            for p in &files {
                match isobench_reports::read_results(p) {
                    Ok(r) => runs.push(r),
                    Err(e) => return usage(e),
                }
            }
            let opts = isobench_reports::CalibrateOptions {
                margin,
                floor_pct,
                min_pairs,
            };
            let text = isobench_reports::calibrate(&runs, &base, opts)
                .and_then(|g| isobench_reports::compare::calibrate::to_toml(&g, runs.len(), opts));
            let text = match text {
                Ok(t) => t,
                Err(e) => return usage(e),
            };
            if let Err(e) = isobench_reports::load::write_atomic(&output, text.as_bytes()) {
                return usage(e);
            }
            let bands = text.matches("[[band]]").count();
            println!(
                "gate: {} ({bands} bands from {} runs, {} pairs)",
                output.display(),
                runs.len(),
                runs.len() * (runs.len() - 1) / 2
            );
            ExitCode::SUCCESS
        }
        Command::List => {
            for name in scenarios::NAMES {
                if let Some((about, params)) = scenarios::describe(name) {
                    println!("{name}: {about}");
                    println!(
                        "  {:<16} {:<22} {:<22} meaning",
                        "param", "quick", "default"
                    );
                    for p in params {
                        println!(
                            "  {:<16} {:<22} {:<22} {}",
                            p.name, p.quick, p.default, p.about
                        );
                    }
                    println!();
                }
            }
            ExitCode::SUCCESS
        }
        Command::GuestDriver => isobench::vm::driver::main(),
        Command::Vm(args) => vm_exit(isobench::vm::command::vm(&args)),
        Command::Kernels { action } => vm_exit(isobench::vm::command::kernels(&action)),
        Command::Matrix(args) => vm_exit(isobench::vm::matrix::matrix(&args)),
        Command::Cleanup { cgroup_parent } => {
            if let Err(e) = run::require_root("isobench cleanup") {
                return usage(e.0);
            }
            let set = match CgroupSet::discover(cgroup_parent.as_deref()) {
                Ok(s) => s,
                Err(e) => return usage(e),
            };
            let stale = run::cleanup_stale(&set);
            for d in stale
                .cgroups
                .iter()
                .chain(&stale.staging)
                .chain(&stale.vms.workdirs)
            {
                println!("removed {}", d.display());
            }
            for pid in &stale.vms.qemus {
                println!("killed qemu {pid}");
            }
            println!("removed {} of dead isobench runs", stale.summary());
            ExitCode::SUCCESS
        }
    }
}
