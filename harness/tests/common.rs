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
