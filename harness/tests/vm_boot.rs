//! Real boots of a fetched kernel under qemu (`isobench kernels fetch
//! --version 6.1` first). Without a cached kernel or qemu they fail, saying
//! what to install: a VM test never passes without booting.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn kernel_and_qemu() -> Option<PathBuf> {
    Some(common::vm_kernel("6.1"))
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

/// The v2 code paths, on every CI run: cpu-quota (emulated timing, so its
/// checks may fail under TCG), memory-oom and pids (behaviour: must pass).
#[test]
fn v2_guest_runs_cpu_quota_memory_oom_pids() {
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
        .args(["--scenario", "memory-oom", "--scenario", "pids"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    println!("{stderr}{}", String::from_utf8_lossy(&res.stdout));
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
    for name in ["cpu-quota", "memory-oom", "pids"] {
        assert!(r.scenarios.iter().any(|s| s.name == name), "{name} missing");
    }
    for s in &r.scenarios {
        assert!(s.error.is_none(), "{} errored: {:?}", s.name, s.error);
        if s.name == "memory-oom" || s.name == "pids" {
            for c in &s.checks {
                assert_ne!(
                    c.status,
                    isobench_reports::Status::Fail,
                    "{} {}: expected {}, observed {}",
                    s.name,
                    c.name,
                    c.expected,
                    c.observed
                );
            }
        }
    }
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
