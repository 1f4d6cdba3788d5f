//! Builds `isobench-workload` as a static executable (+crt-static) with the
//! same rustc, so `isobench` can embed it and drop it unchanged into a
//! minimal rootfs, an OCI bundle or an initramfs. A plain cargo bin target
//! cannot be made static without also breaking proc-macro builds, hence this.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let src = manifest.join("../workloads/src");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    println!("cargo:rerun-if-changed={}", src.display());
    for e in std::fs::read_dir(&src).expect("workloads/src") {
        let e = e.expect("dir entry");
        println!("cargo:rerun-if-changed={}", e.path().display());
    }

    let common = [
        "--edition",
        "2021",
        "-C",
        "target-feature=+crt-static",
        "-C",
        "opt-level=3",
        "-C",
        "debuginfo=0",
        // Non-PIE: a static-pie binary relocates itself at every start.
        "-C",
        "relocation-model=static",
        "--cap-lints",
        "allow",
    ];
    let target = env::var("TARGET").expect("TARGET");
    run(Command::new(&rustc)
        .args(common)
        .args(["--target", &target])
        .args(["--crate-type", "rlib", "--crate-name", "isobench_workload"])
        .arg(src.join("lib.rs"))
        .arg("--out-dir")
        .arg(&out));
    let bin = out.join("isobench-workload");
    run(Command::new(&rustc)
        .args(common)
        .args(["--target", &target])
        .args(["-C", "strip=symbols"])
        .args([
            "--crate-type",
            "bin",
            "--crate-name",
            "isobench_workload_bin",
        ])
        .arg(src.join("main.rs"))
        .arg("--extern")
        .arg(format!(
            "isobench_workload={}",
            out.join("libisobench_workload.rlib").display()
        ))
        .arg("-L")
        .arg(&out)
        .arg("-o")
        .arg(&bin));
    println!("cargo:rustc-env=ISOBENCH_WORKLOAD_BIN={}", bin.display());

    // Also place a copy beside the isobench binary (target/<profile>/) so
    // users and peers can run it directly.
    if let Some(profile_dir) = out.ancestors().nth(3) {
        copy_if_changed(&bin, &profile_dir.join("isobench-workload"));
    }
}

fn run(cmd: &mut Command) {
    // Never let an outer clippy/coverage wrapper or flags leak into this build.
    cmd.env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS");
    let status = cmd.status().expect("running rustc for isobench-workload");
    assert!(
        status.success(),
        "building isobench-workload failed: {cmd:?}"
    );
}

fn copy_if_changed(from: &Path, to: &Path) {
    let same = std::fs::read(from).ok() == std::fs::read(to).ok();
    if !same {
        let tmp = to.with_extension("tmp");
        if std::fs::copy(from, &tmp).is_ok() {
            let _ = std::fs::rename(&tmp, to);
        }
    }
}
