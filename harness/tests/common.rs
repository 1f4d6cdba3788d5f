//! Shared helpers for root tests on the real cgroup hierarchy.
#![allow(dead_code)]

use std::io::Write;

use isobench::cgroup::CgroupSet;

/// A cgroup set with a unique run id per test (so tests never collide).
pub fn set(test: &str) -> CgroupSet {
    let mut s = CgroupSet::discover(None).expect("cgroup discovery");
    s.run_id = format!("{}-t{}", s.run_id, test);
    s
}

/// A scenario context on [`set`]`(test)` running the built workload, with
/// its rootfs mount point (keep the guard alive while the context is used).
pub fn ctx(
    test: &str,
    namespaces: Option<isobench::sandbox::Namespaces>,
) -> (isobench::scenarios::Ctx, tempfile::TempDir) {
    let root = tempfile::tempdir().unwrap();
    let ctx = isobench::scenarios::Ctx::new(
        set(test),
        isobench::sandbox::workload::path().unwrap(),
        root.path().to_path_buf(),
        1,
        namespaces,
    );
    (ctx, root)
}

/// Asserts that nothing named after this set's run id is left anywhere.
pub fn assert_clean(s: &CgroupSet) {
    for base in s.base_dirs() {
        for e in std::fs::read_dir(&base).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            assert!(
                !n.contains(&s.run_id),
                "leaked cgroup {}",
                e.path().display()
            );
        }
    }
}

/// Runs the `isobench` binary with `args`.
pub fn isobench(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_isobench"))
        .args(args)
        .output()
        .expect("run isobench")
}

/// Runs `isobench ARGS -o DIR/r.json` in a fresh temp dir: (output, results
/// path, the dir guard).
pub fn isobench_out(
    args: &[&str],
) -> (std::process::Output, std::path::PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("r.json");
    let mut all = args.to_vec();
    all.extend_from_slice(&["-o", out_path.to_str().unwrap()]);
    let out = isobench(&all);
    (out, out_path, dir)
}

/// Writes `suite_toml` to a temp dir and runs it (plus `extra` arguments)
/// with `-o` into a temp dir: (output, results path, the dir guard).
pub fn run_suite(
    suite_toml: &str,
    extra: &[&str],
) -> (std::process::Output, std::path::PathBuf, tempfile::TempDir) {
    let suite_dir = tempfile::tempdir().unwrap();
    let suite = suite_dir.path().join("s.toml");
    std::fs::write(&suite, suite_toml).unwrap();
    let mut args = vec!["run", "--suite", suite.to_str().unwrap()];
    args.extend_from_slice(extra);
    isobench_out(&args)
}

/// `run_suite`, then its results read back (a run that wrote none panics
/// with its stderr).
pub fn suite_results(
    suite_toml: &str,
    extra: &[&str],
) -> (std::process::Output, isobench_reports::RunResults) {
    let (out, path, _dir) = run_suite(suite_toml, extra);
    let r = isobench_reports::read_results(&path)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out, r)
}

/// Preconditions `ISOBENCH_REQUIRE` may name (a typo there is an error, not
/// a silently skipped requirement).
pub const PRECONDITIONS: &[&str] = &[
    "runc",
    "crun",
    "bwrap",
    "unshare",
    "kernel",
    "qemu",
    "tini",
    "catatonit",
    "kubernetes-validate",
    "xmllint",
    "junit-xsd",
    "youki",
    "podman",
    "nspawn",
    "loop",
    "lxcfs",
];

/// Whether `ISOBENCH_REQUIRE` (a comma list) names precondition `what`.
pub fn required(what: &str) -> bool {
    let Ok(list) = std::env::var("ISOBENCH_REQUIRE") else {
        return false;
    };
    let names: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    for n in &names {
        assert!(
            PRECONDITIONS.contains(n),
            "ISOBENCH_REQUIRE names {n:?}; known preconditions: {}",
            PRECONDITIONS.join(",")
        );
    }
    names.contains(&what)
}

/// The running test's name (libtest names each test's thread after it).
pub fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed test")
        .to_string()
}

/// Whether the test may go on. When precondition `what` is missing
/// (`missing` is its reason), prints `skipped: <test>: <reason>` to stderr
/// (visible through output capture) and returns false; when
/// `ISOBENCH_REQUIRE` names `what`, fails the test instead, so CI cannot
/// count an untested runtime as passed.
pub fn precondition(what: &str, missing: Option<String>) -> bool {
    let Some(reason) = missing else {
        return true;
    };
    assert!(
        !required(what),
        "{}: required precondition {what:?} is missing (ISOBENCH_REQUIRE): {reason}",
        test_name()
    );
    skipped(&reason);
    false
}

/// Prints `skipped: <test>: <reason>` straight to fd 2: libtest captures
/// eprintln! as well, which is how skips used to go unseen.
pub fn skipped(reason: &str) {
    let _ = writeln!(std::io::stderr(), "skipped: {}: {reason}", test_name());
}

/// The path of program `tool` when installed; else see [`precondition`]
/// (named `what`; the Debian package is named in the reason).
pub fn tool(what: &str, tool: &str, package: &str) -> Option<std::path::PathBuf> {
    let path = isobench::env::which(tool);
    let missing = path
        .is_none()
        .then(|| format!("{tool} is not installed (apt-get install {package})"));
    if precondition(what, missing) {
        path
    } else {
        None
    }
}

/// Tests that need root (real cgroups, namespaces) skip without it, loudly:
/// one line on stderr naming the test and the way to run it, visible even
/// when the harness captures output (`cargo test` shows stderr of failures
/// only, so the line goes straight to the terminal's fd 2 as well).
pub fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    let line = format!(
        "SKIPPED {test}: needs root (cgroups, namespaces); run the tests as \
         sudo -E env \"PATH=$PATH\" cargo test --workspace -- --test-threads=1\n"
    );
    // Straight to fd 2: libtest's capture only swallows print!/eprint!.
    // SAFETY: write(2) of a valid buffer to stderr.
    unsafe {
        libc::write(2, line.as_ptr().cast(), line.len());
    }
    false
}

/// The newest cached kernel of `series` for the VM tests, and qemu; the
/// test fails (never passes vacuously) when either is missing.
pub fn vm_kernel(series: &str) -> std::path::PathBuf {
    assert!(
        isobench::env::which("qemu-system-x86_64").is_some(),
        "qemu-system-x86_64 is not installed: apt-get install qemu-system-x86"
    );
    isobench::vm::kernels::find_cached(series).unwrap_or_else(|| {
        let looked: Vec<String> = isobench::vm::kernels::cache_dirs()
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        panic!(
            "no {series} kernel in {}: run `target/release/isobench kernels fetch --version {series}` first",
            looked.join(" or ")
        )
    })
}

/// A command line clap refused: exit 2, nothing on stdout, clap's rendering
/// on stderr with exactly one `error:` (the first line), every `needle` in
/// it, and no panic.
pub fn assert_clap_error(out: &std::process::Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(out.stdout.is_empty(), "stdout: {:?}", out.stdout);
    assert!(err.starts_with("error: "), "{err}");
    assert_eq!(err.matches("error:").count(), 1, "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err}");
    }
}
