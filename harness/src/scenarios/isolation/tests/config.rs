//! Parameters, specs and the rows a failed probe makes.

use crate::sandbox::NsSet;
use crate::scenarios::Level;
use super::*;
use crate::sandbox::Rootfs;

#[test]
fn a_failed_probe_is_an_error_naming_the_set() {
    let cfg = Isolation::level(Level::Quick);
    let spec = probe_spec(&cfg, Namespaces::all());
    let r = set_result(
        &cfg,
        &spec,
        &[],
        Some(Err(ScenarioError::failed("clone3: EPERM"))),
        &host(),
        "native",
    );
    assert_eq!(
        r.error.as_deref(),
        Some("probe with namespaces [pid,mnt,net,uts,ipc,user,cgroup,time]: clone3: EPERM")
    );
    assert_eq!(r.params["rootfs"], "minimal");
    assert_eq!(r.params["baseline"], false);
}

#[test]
fn probe_specs_follow_the_set() {
    let cfg = Isolation::level(Level::Quick);
    let s = probe_spec(&cfg, Namespaces::all());
    assert_eq!(s.rootfs, Rootfs::Minimal);
    assert_eq!(s.hostname.as_deref(), Some("isobench-probe"));
    assert_eq!(s.limits.memory_max, Some(256 << 20));
    assert_eq!(s.limits.cpu_max.unwrap().quota_us, Some(50_000));
    assert!(s.validate().is_ok());
    let s = probe_spec(&cfg, Namespaces::default());
    assert_eq!(s.rootfs, Rootfs::Host);
    assert_eq!(s.hostname, None);
    assert!(s.validate().is_ok());
}

#[test]
fn config_rejects_impossible_values() {
    let ok = Isolation::level(Level::Default);
    assert!(ok.validate_on(2, Some(24 << 30)).is_ok());
    let bad = |f: &dyn Fn(&mut Config)| {
        let mut c = Isolation::level(Level::Default);
        f(&mut c);
        c.validate_on(2, Some(24 << 30)).unwrap_err().to_string()
    };
    assert!(bad(&|c| c.memory_max_mib = 8).contains("memory-max-mib"));
    assert!(bad(&|c| c.memory_max_mib = 1 << 20).contains("exceeds"));
    assert!(bad(&|c| c.cpu_quota_pct = 0.5).contains("cpu-quota-pct"));
    assert!(bad(&|c| c.cpu_quota_pct = 250.0).contains("2 CPUs"));
    assert!(bad(&|c| c.cpu_quota_pct = f64::NAN).contains("cpu-quota-pct"));
    assert!(bad(&|c| c.hostname = "a b".into()).contains("hostname"));
    assert!(bad(&|c| c.hostname = String::new()).contains("hostname"));
    assert!(bad(&|c| c.sets.clear()).contains("at least one"));
    assert!(bad(&|c| c.outside_uid = u32::MAX).contains("outside-uid"));
    let t: toml::Table = toml::from_str("sets = [\"pid,net\"]\nmemory-max-mib = 512").unwrap();
    let c = Isolation::parse(Level::Quick, Some(&t)).unwrap();
    assert_eq!(c.sets[0].to_string(), "pid,net");
    assert_eq!(c.memory_max_mib, 512);
    let t: toml::Table = toml::from_str("memory = 5").unwrap();
    let e = Isolation::parse(Level::Quick, Some(&t))
        .unwrap_err()
        .to_string();
    assert!(e.contains("memory") && e.contains("accepted"), "{e}");
    // The registry names the scenario.
    let t: toml::Table = toml::from_str("cpu-quota-pct = 0.5").unwrap();
    let e = crate::scenarios::ScenarioSpec::parse("isolation", Level::Quick, Some(&t))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("[isolation]: cpu-quota-pct 0.5 is outside 1 – "), "{e}");
}


#[test]
fn the_baseline_is_not_probed_twice() {
    let mut c = Isolation::level(Level::Quick);
    c.sets.insert(0, NsSet(Namespaces::default()));
    assert_eq!(c.effective_sets(None).len(), 2);
    assert_eq!(c.effective_sets(Some(Namespaces::default())).len(), 0);
}
