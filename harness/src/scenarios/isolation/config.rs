//! The isolation scenario's parameters and the limits it can run under.


use crate::scenarios::config::{reject_if, scenario_config};
use crate::scenarios::ConfigError;
use crate::sandbox::{Namespaces, NsSet};

scenario_config! {
    /// Parameters.
    pub struct Config {
        /// Namespace sets probed after the baseline.
        pub sets: Vec<NsSet> = vec![NsSet::of("pid,mnt,uts,ipc"), NsSet(Namespaces::all())] => "namespace sets probed after the no-namespace baseline; --namespaces picks one",
        pub memory_max_mib: u64 = 256 => "memory limit of the probed sandboxes (what MemTotal should show)",
        pub cpu_quota_pct: f64 = 50.0 => "CPU quota of the probed sandboxes, % of one CPU (what nproc should show)",
        pub hostname: String = "isobench-probe".into() => "hostname given to sandboxes with a uts namespace",
        pub outside_uid: u32 = 65534 => "host uid that root in a user namespace maps to (uid_map \"0 UID 1\")",
        pub outside_gid: u32 = 65534 => "host gid that root in a user namespace maps to",
        pub lxcfs: bool = true => "probe each set with pid+mnt again with lxcfs's /proc files bound over /proc (skips when lxcfs is absent)",
    }
}

impl Config {
    /// Rejects limits the kernel cannot set or a probe cannot start under,
    /// on a machine of `cpus` CPUs and `memory_bytes` of memory.
    pub fn validate_on(&self, cpus: u32, memory_bytes: Option<u64>) -> Result<(), ConfigError> {
        reject_if(self.sets.is_empty(), || {
            "sets must name at least one namespace set".into()
        })?;
        for (i, s) in self.sets.iter().enumerate() {
            reject_if(self.sets[..i].contains(s), || format!("sets lists {s:?} twice"))?;
        }
        reject_if(self.memory_max_mib < 16, || {
            format!(
                "memory-max-mib {} is below the 16 MiB a probe needs to start",
                self.memory_max_mib
            )
        })?;
        if let Some(m) = memory_bytes {
            reject_if(self.memory_max_mib.saturating_mul(1 << 20) > m, || {
                format!(
                    "memory-max-mib {} exceeds this machine's {} MiB",
                    self.memory_max_mib,
                    m >> 20
                )
            })?;
        }
        let max_pct = 100.0 * f64::from(cpus);
        reject_if(!(1.0..=max_pct).contains(&self.cpu_quota_pct), || {
            format!(
                "cpu-quota-pct {} is outside 1 – {max_pct} (1 ms of a 100 ms period – all {cpus} CPUs)",
                self.cpu_quota_pct
            )
        })?;
        let h = &self.hostname;
        let bad_hostname = h.is_empty()
            || h.len() > 64
            || h.starts_with('-')
            || !h
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        reject_if(bad_hostname, || {
            format!("hostname {h:?} is not 1 – 64 characters of letters, digits, '-' and '.'")
        })?;
        reject_if(
            self.outside_uid == u32::MAX || self.outside_gid == u32::MAX,
            || "outside-uid / outside-gid 4294967295 is (uid_t)-1, not an id".into(),
        )
    }

    /// The sets to probe after the baseline: `--namespaces` wins.
    pub fn effective_sets(&self, ctx_namespaces: Option<Namespaces>) -> Vec<Namespaces> {
        let sets = match ctx_namespaces {
            Some(n) => vec![n],
            None => self.sets.iter().map(|s| s.0).collect(),
        };
        // The baseline already is the empty set.
        sets.into_iter().filter(|n| !n.is_empty()).collect()
    }

    /// The quota as CPUs.
    pub fn quota_cpus(&self) -> f64 {
        self.cpu_quota_pct / 100.0
    }
}

/// Physical memory (sysinfo), for validating the memory limit.
pub fn physical_memory() -> Option<u64> {
    // SAFETY: sysinfo fills a zeroed struct we own.
    let mut si: libc::sysinfo = unsafe { std::mem::zeroed() };
    if unsafe { libc::sysinfo(&mut si) } != 0 {
        return None;
    }
    #[allow(clippy::unnecessary_cast)] // c_ulong is u32 on 32-bit targets
    let total = si.totalram as u64;
    Some(total.saturating_mul(u64::from(si.mem_unit.max(1))))
}
