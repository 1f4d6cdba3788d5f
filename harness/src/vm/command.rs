//! The `vm` and `kernels` commands: parsed arguments in, output and an exit
//! code out (0 passed, 1 a check failed; errors are the caller's exit 2).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::args::{normalize_run_args, GuestArgs, KernelsCommand, VmArgs};
use super::image::{GuestOs, StartMode};
use super::kernels;
use super::qemu::{self, VmOutcome, VmRequest};
use super::{CgroupVersion, VmError};

/// `--kernel` is a path, or a series fetched into the cache (`6.1`).
pub fn resolve_kernel(arg: &str) -> Result<PathBuf, VmError> {
    let dirs = kernels::cache_dirs();
    if let Some(k) = dirs.iter().find_map(|d| resolve_kernel_in(arg, d).ok()) {
        return Ok(k);
    }
    match resolve_kernel_in(arg, &kernels::cache_dir()) {
        Err(VmError::Input(m)) if dirs.len() > 1 && m.contains("kernels fetch --version") => {
            Err(VmError::Input(format!(
                "--kernel {arg}: no {arg} kernel in {}; run `isobench kernels fetch --version {arg}`",
                dirs.iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            )))
        }
        r => r,
    }
}

fn resolve_kernel_in(arg: &str, cache: &Path) -> Result<PathBuf, VmError> {
    let p = Path::new(arg);
    if p.exists() {
        return Ok(p.to_path_buf());
    }
    let looks_like_series = !arg.contains('/')
        && arg
            .split('.')
            .all(|x| x.chars().all(|c| c.is_ascii_digit()));
    if looks_like_series {
        return kernels::find_cached_in(cache, arg).ok_or_else(|| {
            VmError::Input(format!(
                "--kernel {arg}: no {arg} kernel in {}; run `isobench kernels fetch --version {arg}`",
                cache.display()
            ))
        });
    }
    Err(VmError::Input(format!(
        "--kernel {arg}: no such file; fetch one with `isobench kernels fetch` \
         (then --kernel 6.1 or the printed path)"
    )))
}

/// The console log kept beside a results file: `x.json` → `x.console.log`.
pub fn console_beside(output: &Path) -> PathBuf {
    output.with_extension("console.log")
}

/// A boot request from shared guest settings.
pub fn request(
    kernel: PathBuf,
    cgroup: CgroupVersion,
    os: GuestOs,
    start: StartMode,
    guest: &GuestArgs,
    run_args: &[String],
    console_log: Option<PathBuf>,
) -> Result<VmRequest, VmError> {
    let init = std::env::current_exe()
        .map_err(|e| VmError::Io(format!("cannot find the isobench binary: {e}")))?;
    let memory = guest.memory.clone().unwrap_or_else(|| {
        match os {
            GuestOs::Minimal => "1G",
            GuestOs::Debian12 => "2G",
        }
        .into()
    });
    if os == GuestOs::Debian12 && cgroup != CgroupVersion::V2 {
        return Err(VmError::Input(
            "--guest debian12 boots systemd on cgroup v2; drop --cgroup v1".into(),
        ));
    }
    Ok(VmRequest {
        kernel,
        cgroup,
        os,
        start,
        cpus: guest.cpus,
        memory_mib: qemu::parse_memory(&memory).map_err(VmError::Input)?,
        timeout: Duration::from_secs(guest.timeout.max(1)),
        includes: guest.includes.clone(),
        run_args: normalize_run_args(run_args),
        accel: guest.accel,
        console_log,
        init,
    })
}

/// Why the guest runs emulated, when `--accel auto` could not use KVM.
pub fn accel_line(o: &VmOutcome) -> Option<String> {
    o.accel_note.as_ref().map(|why| {
        format!(
            "KVM not used ({why}); TCG emulation: times are emulated, not comparable with a host's"
        )
    })
}

/// Lines the user should see about how a guest ran.
pub fn describe(o: &VmOutcome, cgroup: CgroupVersion) -> Vec<String> {
    let mut lines = Vec::new();
    for n in &o.notes {
        lines.push(format!("guest: {n}"));
    }
    let env = &o.results.environment;
    if env.cgroup_mode != cgroup.as_str() {
        lines.push(format!(
            "warning: asked for cgroup {}, the guest ran {}",
            cgroup.as_str(),
            env.cgroup_mode
        ));
    }
    lines.push(format!(
        "guest kernel {} ({}), cgroup {}: /init started {} after qemu start (guest uptime {}), \
         results after {:.1} s",
        env.kernel,
        env.virtualization,
        env.cgroup_mode,
        o.boot
            .map(|b| format!("{:.1} s", b.as_secs_f64()))
            .unwrap_or_else(|| "?".into()),
        o.guest_uptime
            .map(|u| format!("{u:.1} s"))
            .unwrap_or_else(|| "?".into()),
        o.to_results.as_secs_f64()
    ));
    lines
}

/// `isobench vm`.
pub fn vm(a: &VmArgs) -> Result<u8, VmError> {
    crate::interrupt::install();
    if let Some(o) = &a.output {
        isobench_reports::load::check_writable(o).map_err(|e| VmError::Input(e.to_string()))?;
    }
    let kernel = resolve_kernel(&a.kernel)?;
    let req = request(
        kernel,
        a.cgroup,
        a.os,
        a.start,
        &a.guest,
        &a.run_args,
        a.output.as_deref().map(console_beside),
    )?;
    let o = qemu::boot(&req)?;
    for l in accel_line(&o).into_iter().chain(describe(&o, a.cgroup)) {
        eprintln!("isobench: {l}");
    }
    crate::run::summary(&o.results).print();
    if let Some(out) = &a.output {
        isobench_reports::write_results(out, &o.results).map_err(|e| VmError::Io(e.to_string()))?;
        println!("results: {}", out.display());
        if let Some(c) = &o.console_log {
            println!("console: {}", c.display());
        }
    }
    Ok(o.exit)
}

/// `isobench kernels fetch|list`: paths on stdout, progress on stderr.
pub fn kernels(cmd: &KernelsCommand) -> Result<u8, VmError> {
    match cmd {
        KernelsCommand::Fetch { version } => {
            let series: Vec<String> = if version.is_empty() {
                kernels::VERSIONS.iter().map(|s| s.to_string()).collect()
            } else {
                version.clone()
            };
            for s in &series {
                let f = kernels::fetch(s)?;
                eprintln!(
                    "isobench: {s}: {} ({})",
                    f.package,
                    if f.downloaded {
                        "downloaded"
                    } else {
                        "already in the cache"
                    }
                );
                println!("{}", f.vmlinuz.display());
            }
            Ok(0)
        }
        KernelsCommand::List => {
            let all = kernels::cached();
            if all.is_empty() {
                eprintln!(
                    "isobench: no kernels in {}; run `isobench kernels fetch`",
                    kernels::cache_dir().display()
                );
            }
            for k in all {
                println!("{:<50} {}", k.package, k.vmlinuz.display());
            }
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_argument_forms() {
        let e = resolve_kernel("/no/such/vmlinuz").unwrap_err().to_string();
        assert!(e.contains("no such file"), "{e}");
        // A series with nothing cached says how to fetch it.
        let dir = tempfile::tempdir().unwrap();
        let e = resolve_kernel_in("5.4", dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("kernels fetch --version 5.4"), "{e}");
    }

    #[test]
    fn console_log_sits_beside_the_results() {
        assert_eq!(
            console_beside(Path::new("/x/v.json")),
            PathBuf::from("/x/v.console.log")
        );
    }

    #[test]
    fn run_args_get_their_subcommand() {
        let v = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(
            normalize_run_args(&v("--suite quick")),
            v("run --suite quick")
        );
        assert_eq!(
            normalize_run_args(&v("run --suite quick")),
            v("run --suite quick")
        );
    }
}
