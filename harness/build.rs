//! Builds `isobench-workload` as a static executable (+crt-static) with the
//! same toolchain, so `isobench` can embed it and drop it unchanged into a
//! minimal rootfs, an OCI bundle or an initramfs. A nested `cargo build`
//! with an explicit `--target` gets its rustflags on the workload and its
//! dependency (`libc`) only, never on build scripts or proc-macros; a plain
//! cargo bin target could not be made static without breaking those.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let workloads = manifest.join("../workloads");
    let src = workloads.join("src");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    for p in [workloads.join("Cargo.toml"), manifest.join("../Cargo.lock")] {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    println!("cargo:rerun-if-changed={}", src.display());
    for e in std::fs::read_dir(&src).expect("workloads/src") {
        let e = e.expect("dir entry");
        println!("cargo:rerun-if-changed={}", e.path().display());
    }

    let rustflags = [
        "-Ctarget-feature=+crt-static",
        // Non-PIE: a static-pie binary relocates itself at every start.
        "-Crelocation-model=static",
    ];
    let target = env::var("TARGET").expect("TARGET");
    let target_dir = out.join("workload");
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--locked", "--quiet"])
        .args(["-p", "isobench-workload", "--bin", "isobench-workload"])
        .args(["--features", "standalone", "--target", &target])
        .arg("--manifest-path")
        .arg(workloads.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        // Said here, so no profile setting of the workspace changes the
        // embedded binary.
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "symbols")
        .env("CARGO_ENCODED_RUSTFLAGS", rustflags.join("\x1f"));
    run(&mut cmd);
    let bin = target_dir
        .join(&target)
        .join("release")
        .join("isobench-workload");
    println!("cargo:rustc-env=ISOBENCH_WORKLOAD_BIN={}", bin.display());

    // Also place a copy beside the isobench binary (target/<profile>/) so
    // users and peers can run it directly.
    if let Some(profile_dir) = out.ancestors().nth(3) {
        copy_if_changed(&bin, &profile_dir.join("isobench-workload"));
    }
}

fn run(cmd: &mut Command) {
    // Never let an outer clippy/coverage wrapper or flags leak into this
    // build, nor the outer build's target-specific rustflags.
    cmd.env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR");
    let status = cmd.status().expect("running cargo for isobench-workload");
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
