//! `isobench matrix`: the same run in every kernel × cgroup mode (and on the
//! host with `--host`), one results file per environment, then one
//! comparison across them with a column per environment. An environment
//! that cannot run (a mode the kernel lacks, a guest that will not boot) is
//! recorded with its reason and the matrix goes on.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use isobench_reports::{RunResults, Status};
use serde::Serialize;

use super::args::{normalize_run_args, MatrixArgs};
use super::command::{accel_line, describe, request, resolve_kernel};
use super::kernel::KernelImage;
use super::{qemu, CgroupVersion, VmError};

/// How one environment of the matrix went.
#[derive(Debug, Clone, Serialize)]
pub struct EnvOutcome {
    pub label: String,
    /// `host`, or the guest kernel image.
    pub kernel: String,
    pub cgroup: String,
    /// `ran`, `skipped` (cannot run what was asked) or `failed` (no results).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub results: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<u8>,
    pub checks_passed: usize,
    pub checks_failed: usize,
    pub checks_skipped: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot_seconds: Option<f64>,
    pub wall_seconds: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// `6.1.0-56-cloud-amd64` + v2 → `6.1.0-56-v2`: short, still unique per release.
pub fn label(release: &str, cgroup: CgroupVersion) -> String {
    let short = release
        .strip_suffix("-cloud-amd64")
        .or_else(|| release.strip_suffix("-amd64"))
        .unwrap_or(release);
    format!("{short}-{}", cgroup.as_str())
}

fn unique(label: String, taken: &[EnvOutcome]) -> String {
    let mut l = label.clone();
    let mut n = 2;
    while taken.iter().any(|e| e.label == l) {
        l = format!("{label}-{n}");
        n += 1;
    }
    l
}

fn count(r: &RunResults, status: Status) -> usize {
    r.scenarios
        .iter()
        .flat_map(|s| &s.checks)
        .filter(|c| c.status == status)
        .count()
}

fn blank(label: String, kernel: String, cgroup: String) -> EnvOutcome {
    EnvOutcome {
        label,
        kernel,
        cgroup,
        status: "failed",
        reason: None,
        results: None,
        exit: None,
        checks_passed: 0,
        checks_failed: 0,
        checks_skipped: 0,
        boot_seconds: None,
        wall_seconds: 0.0,
        notes: Vec::new(),
    }
}

fn ran(mut e: EnvOutcome, r: &RunResults, exit: u8, file: PathBuf) -> EnvOutcome {
    e.status = "ran";
    e.exit = Some(exit);
    e.results = Some(file);
    e.checks_passed = count(r, Status::Pass);
    e.checks_failed =
        count(r, Status::Fail) + r.scenarios.iter().filter(|s| s.error.is_some()).count();
    e.checks_skipped = count(r, Status::Skip) + count(r, Status::Warn);
    e
}

/// Runs `isobench run …` on this host as a child (the exact CLI path).
fn run_host(run_args: &[String], out: &Path, mut e: EnvOutcome) -> EnvOutcome {
    let start = Instant::now();
    let exe = match std::env::current_exe() {
        Ok(x) => x,
        Err(err) => {
            e.reason = Some(format!("cannot find the isobench binary: {err}"));
            return e;
        }
    };
    let res = Command::new(exe).args(run_args).arg("-o").arg(out).output();
    e.wall_seconds = start.elapsed().as_secs_f64();
    let output = match res {
        Ok(o) => o,
        Err(err) => {
            e.reason = Some(format!("starting isobench run: {err}"));
            return e;
        }
    };
    let code = output.status.code().unwrap_or(2);
    match (code, isobench_reports::read_results(out)) {
        (0 | 1, Ok(r)) => ran(e, &r, code as u8, out.to_path_buf()),
        _ => {
            let err = String::from_utf8_lossy(&output.stderr);
            let line = err
                .lines()
                .rev()
                .find(|l| l.starts_with("isobench: "))
                .unwrap_or("isobench run failed")
                .trim_start_matches("isobench: ")
                .to_string();
            e.status = if code == 2 { "skipped" } else { "failed" };
            e.reason = Some(line);
            e
        }
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().to_string()
}

/// `isobench matrix`.
pub fn matrix(a: &MatrixArgs) -> Result<u8, VmError> {
    crate::interrupt::install();
    let run_args = normalize_run_args(&a.run_args);
    super::guest::validate_run_args(&run_args).map_err(VmError::Input)?;
    let mut kernels = Vec::new();
    for k in &a.kernel {
        let path = resolve_kernel(k)?;
        let image = KernelImage::inspect(&path)?;
        kernels.push(image);
    }
    let mut modes = a.cgroup.clone();
    modes.dedup();
    std::fs::create_dir_all(&a.output)
        .map_err(|e| VmError::Input(format!("-o {}: {e}", a.output.display())))?;
    let total = kernels.len() * modes.len() + usize::from(a.host);
    let mut envs: Vec<EnvOutcome> = Vec::new();
    let mut results: Vec<(String, RunResults)> = Vec::new();
    let started = Instant::now();
    let mut accel_said = false;

    if a.host {
        eprintln!("isobench: [1/{total}] host");
        let out = a.output.join("host.json");
        let mode = crate::cgroup::detect_mode()
            .map(|m| m.as_str().to_string())
            .unwrap_or_else(|_| "?".into());
        let e = run_host(&run_args, &out, blank("host".into(), "host".into(), mode));
        if let Some(sig) = crate::interrupt::requested() {
            return Err(VmError::Interrupted(sig));
        }
        if e.status == "ran" {
            if let Ok(r) = isobench_reports::read_results(&out) {
                results.push((e.label.clone(), r));
            }
        }
        envs.push(e);
    }
    for k in &kernels {
        for &mode in &modes {
            let l = unique(label(&k.release, mode), &envs);
            eprintln!(
                "isobench: [{}/{total}] {} cgroup {}",
                envs.len() + 1,
                k.release,
                mode.as_str()
            );
            let out = a.output.join(format!("{l}.json"));
            let mut e = blank(
                l.clone(),
                k.path.display().to_string(),
                mode.as_str().into(),
            );
            let start = Instant::now();
            let req = request(
                k.path.clone(),
                mode,
                crate::vm::image::GuestOs::Minimal,
                crate::vm::image::StartMode::Login,
                &a.guest,
                &run_args,
                Some(a.output.join(format!("{l}.console.log"))),
            )?;
            match qemu::boot(&req) {
                Ok(o) => {
                    let accel = accel_line(&o).filter(|_| !accel_said);
                    accel_said |= accel.is_some();
                    for line in accel.into_iter().chain(describe(&o, mode)) {
                        eprintln!("isobench:   {line}");
                    }
                    isobench_reports::write_results(&out, &o.results)
                        .map_err(|err| VmError::Io(err.to_string()))?;
                    e = ran(e, &o.results, o.exit, out);
                    e.boot_seconds = o.boot.map(|b| b.as_secs_f64());
                    e.notes = o.notes.clone();
                    results.push((l.clone(), o.results));
                }
                Err(VmError::Interrupted(sig)) => return Err(VmError::Interrupted(sig)),
                Err(err) => {
                    eprintln!("isobench:   {err}");
                    e.status = match &err {
                        // The run itself said it cannot run here (exit 2).
                        VmError::Guest { msg, .. } if msg.starts_with("the run exited 2") => {
                            "skipped"
                        }
                        VmError::Input(_) => "skipped",
                        VmError::Guest { .. } => "failed",
                        VmError::Boot { .. } | VmError::Io(_) | VmError::Interrupted(_) => "failed",
                    };
                    e.reason = Some(first_line(&err.to_string()));
                }
            }
            e.wall_seconds = start.elapsed().as_secs_f64();
            envs.push(e);
        }
    }

    let summary_path = a.output.join("matrix.json");
    let summary = serde_json::to_vec_pretty(&envs).map_err(|e| VmError::Io(e.to_string()))?;
    isobench_reports::load::write_atomic(&summary_path, &summary)
        .map_err(|e| VmError::Io(e.to_string()))?;
    let report = write_comparison(&a.output, &results)?;

    let table = table(&envs);
    let md = format!(
        "# isobench matrix\n\nOne row per environment; `compare.md` compares them \
         metric by metric (first row is the baseline). Guest times are TCG-emulated \
         unless the virtualization says kvm.\n\n```\n{table}```\n"
    );
    isobench_reports::load::write_atomic(&a.output.join("matrix.md"), md.as_bytes())
        .map_err(|e| VmError::Io(e.to_string()))?;
    print!("{table}");
    println!("summary: {}", summary_path.display());
    match &report {
        Some(p) => println!("comparison: {}", p.display()),
        None => println!("comparison: needs at least two environments with results"),
    }
    println!(
        "matrix took {:.0} s",
        Duration::as_secs_f64(&started.elapsed())
    );

    let any_ran = envs.iter().any(|e| e.status == "ran");
    let any_bad = envs
        .iter()
        .any(|e| e.status == "failed" || e.exit == Some(1));
    Ok(if !any_ran {
        2
    } else if any_bad {
        1
    } else {
        0
    })
}

/// The per-environment table printed and written to matrix.md.
fn table(envs: &[EnvOutcome]) -> String {
    let mut t = format!(
        "{:<24} {:<7} {:<8} {:>5} {:>5} {:>5} {:>7} {:>7}  results / reason\n",
        "environment", "cgroup", "status", "pass", "fail", "skip", "boot s", "wall s"
    );
    let secs = |s: Option<f64>| s.map(|v| format!("{v:.1}")).unwrap_or_else(|| "-".into());
    for e in envs {
        t += &format!(
            "{:<24} {:<7} {:<8} {:>5} {:>5} {:>5} {:>7} {:>7}  {}\n",
            e.label,
            e.cgroup,
            e.status,
            e.checks_passed,
            e.checks_failed,
            e.checks_skipped,
            secs(e.boot_seconds),
            secs(Some(e.wall_seconds)),
            e.results
                .as_ref()
                .map(|p| p.display().to_string())
                .or_else(|| e.reason.clone())
                .unwrap_or_default()
        );
        for n in &e.notes {
            t += &format!("{:<24} note: {n}\n", "");
        }
    }
    t
}

/// The comparison across environments (the first is the baseline: the host
/// when `--host`), as Markdown and JSON. None with fewer than two runs.
fn write_comparison(
    dir: &Path,
    results: &[(String, RunResults)],
) -> Result<Option<PathBuf>, VmError> {
    let Some(((base_label, base), rest)) = results.split_first() else {
        return Ok(None);
    };
    if rest.is_empty() {
        return Ok(None);
    }
    let news: Vec<RunResults> = rest.iter().map(|(_, r)| r.clone()).collect();
    let mut c = isobench_reports::compare(
        base,
        &news,
        &isobench_reports::Gate::default(),
        isobench_reports::DEFAULT_SEED,
        isobench_reports::DEFAULT_RESAMPLES,
    );
    let labels: Vec<&str> = rest.iter().map(|(l, _)| l.as_str()).collect();
    c.set_labels(base_label, &labels);
    let md = dir.join("compare.md");
    let io = |e: isobench_reports::ResultsError| VmError::Io(e.to_string());
    isobench_reports::load::write_atomic(&md, c.to_markdown().as_bytes()).map_err(io)?;
    isobench_reports::load::write_atomic(&dir.join("compare.json"), c.to_json().as_bytes())
        .map_err(io)?;
    Ok(Some(md))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_short_and_unique() {
        assert_eq!(
            label("6.1.0-56-cloud-amd64", CgroupVersion::V2),
            "6.1.0-56-v2"
        );
        assert_eq!(
            label("6.12.117+deb12-cloud-amd64", CgroupVersion::V1),
            "6.12.117+deb12-v1"
        );
        let taken = vec![blank("a-v2".into(), String::new(), String::new())];
        assert_eq!(unique("a-v2".into(), &taken), "a-v2-2");
        assert_eq!(unique("b-v2".into(), &taken), "b-v2");
    }
}
