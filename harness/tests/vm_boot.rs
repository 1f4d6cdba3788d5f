//! Real boots of a fetched kernel under qemu (`isobench kernels fetch
//! --version 6.1` first). Skipped, with a printed reason, when no kernel or
//! no qemu is present.

use std::path::{Path, PathBuf};
use std::process::Command;

fn kernel_and_qemu() -> Option<PathBuf> {
    let cache = isobench::vm::kernels::cache_dir();
    let Some(k) = isobench::vm::kernels::find_cached("6.1") else {
        println!(
            "skipped: no kernel at {} (run isobench kernels fetch --version 6.1)",
            cache.display()
        );
        return None;
    };
    if isobench::env::which("qemu-system-x86_64").is_none() {
        println!("skipped: qemu-system-x86_64 not installed");
        return None;
    }
    Some(k)
}

/// Processes whose command line mentions `needle` (our private TMPDIR).
fn processes_mentioning(needle: &Path) -> Vec<String> {
    let needle = needle.to_string_lossy().to_string();
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if !e
            .file_name()
            .to_string_lossy()
            .chars()
            .all(|c| c.is_ascii_digit())
        {
            continue;
        }
        if let Ok(c) = std::fs::read(e.path().join("cmdline")) {
            let c = String::from_utf8_lossy(&c).replace('\0', " ");
            if c.contains(&needle) {
                found.push(c);
            }
        }
    }
    found
}

#[test]
fn v2_guest_runs_cpu_quota() {
    let Some(kernel) = kernel_and_qemu() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v.json");
    let res = Command::new(env!("CARGO_BIN_EXE_isobench"))
        .env("TMPDIR", dir.path())
        .arg("vm")
        .arg("--kernel")
        .arg(&kernel)
        .args(["--cgroup", "v2", "--timeout", "300", "-o"])
        .arg(&out)
        .args(["--", "run", "--suite", "quick", "--scenario", "cpu-quota"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    let code = res.status.code();
    assert!(
        matches!(code, Some(0 | 1)),
        "vm exited {code:?}: {stderr}{}",
        String::from_utf8_lossy(&res.stdout)
    );
    let r = isobench_reports::read_results(&out).unwrap();
    assert_eq!(r.environment.cgroup_mode, "v2");
    assert!(
        r.environment.kernel.starts_with("6.1"),
        "{}",
        r.environment.kernel
    );
    assert!(
        matches!(r.environment.virtualization.as_str(), "tcg" | "kvm"),
        "{}",
        r.environment.virtualization
    );
    assert!(r.scenarios.iter().any(|s| s.name == "cpu-quota"));
    assert!(dir.path().join("v.console.log").is_file());
    assert!(processes_mentioning(dir.path()).is_empty());
}

#[test]
fn hung_guest_is_killed_at_the_deadline() {
    let Some(kernel) = kernel_and_qemu() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.json");
    let start = std::time::Instant::now();
    let res = Command::new(env!("CARGO_BIN_EXE_isobench"))
        .env("TMPDIR", dir.path())
        .arg("vm")
        .arg("--kernel")
        .arg(&kernel)
        .args(["--accel", "tcg", "--timeout", "2", "-o"])
        .arg(&out)
        .args(["--", "run", "--suite", "quick"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert_eq!(res.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("gave no results within 2 s"), "{stderr}");
    assert!(start.elapsed().as_secs() < 60);
    assert!(!out.exists(), "no results file on failure");
    assert!(dir.path().join("t.console.log").is_file());
    assert!(processes_mentioning(dir.path()).is_empty());
}
