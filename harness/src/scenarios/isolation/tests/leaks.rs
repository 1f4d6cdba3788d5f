//! The /proc leak warnings.

use isobench_reports::names::isolation as n;

use super::*;

#[test]
fn leaks_warn_with_numbers() {
    let c = leak_checks(&isolated(), &expect("all"), &window());
    for k in n::LEAK_CHECKS {
        assert_eq!(status(&c, k), Status::Warn, "{k}: {c:#?}");
    }
    let m = check(&c, n::LEAK_MEMINFO);
    assert_eq!(m.expected, "MemTotal ≤ the memory limit 256 MiB");
    assert_eq!(m.observed, "MemTotal 23.54 GiB (94.2× the limit)");
    let nproc = check(&c, n::LEAK_NPROC);
    assert!(
        nproc.expected.contains("≤ 1 (the 0.50-CPU quota"),
        "{}",
        nproc.expected
    );
    assert_eq!(nproc.observed, "online 2, affinity 2");
    let u = check(&c, n::LEAK_UPTIME);
    assert!(u.detail.contains("time namespace"), "{u:?}");
}

#[test]
fn virtualised_views_pass() {
    // What lxcfs-style virtualisation shows.
    let mut p = isolated();
    p.meminfo_total_bytes = Some(256 << 20);
    p.nprocs_online = Some(1);
    p.affinity = Some(vec![0]);
    p.cpuinfo_processors = Some(1);
    p.uptime_s = Some(0.01);
    p.loadavg = Some("0.00 0.00 0.00".into());
    let c = leak_checks(&p, &expect("all"), &window());
    for ch in &c {
        assert_eq!(ch.status, Status::Pass, "{ch:?}");
    }
    // Unreadable views skip.
    let mut p = isolated();
    p.meminfo_total_bytes = None;
    p.uptime_s = None;
    let c = leak_checks(&p, &expect("all"), &window());
    assert_eq!(status(&c, n::LEAK_MEMINFO), Status::Skip);
    assert_eq!(status(&c, n::LEAK_UPTIME), Status::Skip);
}

#[test]
fn a_quota_above_one_cpu_allows_that_many() {
    let mut e = expect("all");
    e.quota_cpus = 1.5;
    let c = leak_checks(&isolated(), &e, &window());
    assert_eq!(status(&c, n::LEAK_NPROC), Status::Pass);
    assert_eq!(status(&c, n::LEAK_CPUINFO), Status::Pass);
}

