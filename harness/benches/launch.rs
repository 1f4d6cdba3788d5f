//! Criterion benches of the hot paths (needs root): cgroup create+destroy,
//! launch-to-ready per namespace set, counter reads. `cargo bench -p isobench`.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

use isobench::cgroup::{Cgroup, CgroupSet};
use isobench::sandbox::{self, workload, Namespaces, SandboxSpec};

fn set(tag: &str) -> CgroupSet {
    let mut s = CgroupSet::discover(None).expect("cgroup discovery (run as root)");
    s.run_id = format!("{}-b{tag}", s.run_id);
    s
}

fn cgroup_lifecycle(c: &mut Criterion) {
    let s = set("cg");
    let mut n = 0;
    c.bench_function("cgroup create+destroy", |b| {
        b.iter(|| {
            n += 1;
            s.create(n).expect("create").destroy().expect("destroy");
        })
    });
}

fn launch_to_ready(c: &mut Criterion) {
    let s = set("launch");
    let wl = workload::path().expect("workload");
    let root = tempfile::tempdir().expect("tempdir");
    let mut g = c.benchmark_group("launch-to-ready");
    g.measurement_time(Duration::from_secs(4));
    let mut n = 0;
    for ns in ["none", "pid,mnt,uts,ipc", "pid,mnt,uts,ipc,net", "all"] {
        let mut spec = SandboxSpec::workload(&["ready"]);
        spec.namespaces = Namespaces::parse(ns).expect("namespaces");
        g.bench_function(ns, |b| {
            b.iter(|| {
                n += 1;
                let mut r = sandbox::launch(&spec, &s, n, &wl, Some(root.path())).expect("launch");
                r.wait_ready().expect("ready");
                r.wait_exit().expect("exit");
                r.teardown().expect("teardown");
            })
        });
    }
    g.finish();
}

fn counter_reads(c: &mut Criterion) {
    let s = set("read");
    let cg = s.create(0).expect("create");
    c.bench_function("read cpu+memory+pids counters", |b| {
        b.iter(|| {
            let _ = cg.cpu_stats().expect("cpu");
            let _ = cg.memory_stats().expect("memory");
            let _ = cg.pids_stats().expect("pids");
        })
    });
    cg.destroy().expect("destroy");
}

criterion_group!(benches, cgroup_lifecycle, launch_to_ready, counter_reads);
criterion_main!(benches);
