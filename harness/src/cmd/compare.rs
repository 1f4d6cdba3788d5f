//! `isobench report`, `compare` and `calibrate`: reading results files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use isobench::cli::{CalibrateArgs, CompareArgs, CompareFormat};
use isobench_reports::{compare as cmp, ExportFormat, Gate, RunResults};

use super::{usage, CmdError, Outcome};

/// Renders a results file into a directory, or prints an export.
pub fn report(results: &Path, output: &Path, format: Option<ExportFormat>) -> Outcome {
    let r = isobench_reports::read_results(results).map_err(usage)?;
    if let Some(f) = format {
        println!("{}", isobench_reports::export(&r, f));
        return Ok(ExitCode::SUCCESS);
    }
    let files = isobench_reports::render_report(&r, output).map_err(usage)?;
    println!(
        "wrote {} files to {} (open {})",
        files.len(),
        output.display(),
        output.join("report.html").display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The gate file given, else the shipped one.
fn gate(path: Option<&Path>) -> Result<Gate, CmdError> {
    match path {
        Some(p) => Gate::load(p).map_err(usage),
        None => Ok(Gate::shipped()),
    }
}

/// Reads every results file, stopping at the first that cannot be read.
fn read_all(paths: &[PathBuf]) -> Result<Vec<RunResults>, CmdError> {
    paths
        .iter()
        .map(|p| isobench_reports::read_results(p).map_err(usage))
        .collect()
}

fn label(p: &Path) -> String {
    p.display().to_string()
}

/// Compares runs by one of the three designs; exit 1 on a regression.
pub fn compare(a: &CompareArgs) -> Outcome {
    if a.resamples < 100 {
        return Err(usage("--resamples must be at least 100"));
    }
    let gate = gate(a.gate.as_deref())?;
    let opts = cmp::Options {
        seed: a.seed,
        resamples: a.resamples,
        allow_coverage_loss: a.allow_coverage_loss,
    };
    let c = if let (Some(b), Some(n)) = (&a.base_arm, &a.new_arm) {
        if a.files.is_empty() {
            return Err(usage(
                "--base-arm/--new-arm need the results file(s) of a --rounds run",
            ));
        }
        cmp::compare_arms(&read_all(&a.files)?, b, n, &gate, &opts).map_err(usage)?
    } else if !a.base_files.is_empty() {
        if a.new_files.is_empty() {
            return Err(usage("--base needs --new FILE… (the other side)"));
        }
        if !a.files.is_empty() {
            return Err(usage(
                "give the files either after --base/--new or as BASE NEW, not both",
            ));
        }
        let (b, n) = (read_all(&a.base_files)?, read_all(&a.new_files)?);
        let mut c = cmp::compare_runs(&b, &n, &gate, &opts).map_err(usage)?;
        if b.len() == 1 && n.len() == 1 {
            c.set_labels(&label(&a.base_files[0]), &[&label(&a.new_files[0])]);
        } else {
            c.set_labels("base", &["new"]);
        }
        c
    } else {
        if a.files.len() < 2 {
            return Err(usage(
                "compare needs BASE.json NEW.json…, --base A.json… --new B.json…, or RUN.json --base-arm A --new-arm B",
            ));
        }
        let runs = read_all(&a.files)?;
        cmp::same_suite(runs.iter()).map_err(usage)?;
        let (b, n) = runs
            .split_first()
            .ok_or_else(|| usage("no results file given"))?;
        let mut c = cmp::compare_with(b, n, &gate, &opts);
        let labels: Vec<String> = a.files[1..].iter().map(|p| label(p)).collect();
        let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
        c.set_labels(&label(&a.files[0]), &refs);
        c
    };
    match a.format {
        CompareFormat::Json => println!("{}", c.to_json()),
        CompareFormat::Md => print!("{}", c.to_markdown()),
    }
    if c.regressed() {
        for line in c.regressions() {
            eprintln!("isobench: regression: {line}");
        }
        Ok(ExitCode::from(1))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// Writes a gate whose bands come from same-build runs.
pub fn calibrate(a: &CalibrateArgs) -> Outcome {
    let base = gate(a.gate.as_deref())?;
    let runs = read_all(&a.files)?;
    let opts = isobench_reports::CalibrateOptions {
        margin: a.margin,
        floor_pct: a.floor_pct,
        min_pairs: a.min_pairs,
    };
    let text = isobench_reports::calibrate(&runs, &base, opts)
        .and_then(|g| cmp::calibrate::to_toml(&g, runs.len(), opts))
        .map_err(usage)?;
    isobench_reports::load::write_atomic(&a.output, text.as_bytes()).map_err(usage)?;
    let bands = text.matches("[[band]]").count();
    println!(
        "gate: {} ({bands} bands from {} runs, {} pairs)",
        a.output.display(),
        runs.len(),
        runs.len() * (runs.len() - 1) / 2
    );
    Ok(ExitCode::SUCCESS)
}
