//! Shared helpers for root tests on the real cgroup hierarchy.
#![allow(dead_code)]

use isobench::cgroup::CgroupSet;

/// A cgroup set with a unique run id per test (so tests never collide).
pub fn set(test: &str) -> CgroupSet {
    let mut s = CgroupSet::discover(None).expect("cgroup discovery");
    s.run_id = format!("{}-t{}", s.run_id, test);
    s
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

/// Writes `suite_toml` to a temp dir and runs it (plus `extra` arguments)
/// with `-o` into the same dir: (output, results path, the dir guard).
pub fn run_suite(
    suite_toml: &str,
    extra: &[&str],
) -> (std::process::Output, std::path::PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("s.toml");
    std::fs::write(&suite, suite_toml).unwrap();
    let out_path = dir.path().join("r.json");
    let mut args = vec!["run", "--suite", suite.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-o", out_path.to_str().unwrap()]);
    let out = isobench(&args);
    (out, out_path, dir)
}
