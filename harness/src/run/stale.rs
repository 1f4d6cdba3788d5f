//! What SIGKILLed isobench runs leave behind (cgroups, containers, rootfs
//! staging and VM directories), and the staging directory of a live run.

use std::path::{Path, PathBuf};

use crate::cgroup::owner::Owner;
use crate::cgroup::{manager, CgroupSet};

/// What dead isobench runs left behind and was removed.
#[derive(Debug, Default)]
pub struct Stale {
    pub cgroups: Vec<PathBuf>,
    /// OCI containers (and their bundles).
    pub containers: usize,
    /// Rootfs staging directories.
    pub staging: Vec<PathBuf>,
    /// `isobench vm` scratch directories (and qemu processes still using one).
    pub vms: crate::vm::qemu::StaleVms,
    /// Loop devices (the io scenario's) detached.
    pub loops: Vec<PathBuf>,
    /// lxcfs daemons and FUSE mounts.
    pub lxcfs: crate::lxcfs::StaleLxcfs,
}

impl Stale {
    pub fn is_empty(&self) -> bool {
        self.cgroups.is_empty()
            && self.containers == 0
            && self.staging.is_empty()
            && self.vms.workdirs.is_empty()
            && self.loops.is_empty()
            && self.lxcfs.mounts.is_empty()
            && self.lxcfs.daemons.is_empty()
    }

    /// "2 cgroup(s), 1 container(s), 1 staging dir(s), 1 VM dir(s), 0 qemu(s), 0 loop device(s)".
    pub fn summary(&self) -> String {
        format!(
            "{} cgroup(s), {} container(s), {} staging dir(s), {} VM dir(s), {} qemu(s), {} loop device(s), {} lxcfs mount(s)",
            self.cgroups.len(),
            self.containers,
            self.staging.len(),
            self.vms.workdirs.len(),
            self.vms.qemus.len(),
            self.loops.len(),
            self.lxcfs.mounts.len()
        )
    }
}

/// Removes what SIGKILLed isobench runs left (`isobench cleanup` and the
/// start of every run): their cgroups, containers and bundles, rootfs
/// staging directories, and VM scratch directories with any qemu still
/// booted from one. A live run's are never touched.
pub fn cleanup_stale(set: &CgroupSet) -> Stale {
    // podman's containers first: they hold processes in their cgroups.
    let podman = crate::launchers::podman::cleanup_stale();
    let mut cgroups = manager::cleanup_stale(set);
    if set.mode == crate::cgroup::Mode::V2
        && crate::cgroup::systemd::manager() == crate::cgroup::systemd::Manager::Systemd
    {
        if let Some(h) = &set.hierarchies.unified {
            cgroups.extend(crate::cgroup::systemd::cleanup_stale_scopes(
                &h.mount.mount_point,
            ));
        }
    }
    // lxcfs first: its daemons are killed and mounts gone before the
    // staging directory they live in is looked at.
    let lxcfs = crate::lxcfs::cleanup_stale();
    Stale {
        lxcfs,
        cgroups,
        containers: crate::launchers::oci::cleanup_stale() + podman,
        staging: cleanup_stale_staging(&staging_base())
            .into_iter()
            .chain(crate::launchers::nspawn::cleanup_stale())
            .collect(),
        vms: crate::vm::qemu::cleanup_stale_workdirs(),
        loops: crate::loopdev::cleanup_stale(),
    }
}

/// isobench's runtime directory: rootfs staging directories live in it,
/// OCI bundles below it.
pub fn staging_base() -> PathBuf {
    if Path::new("/run").is_dir() {
        PathBuf::from("/run/isobench")
    } else {
        std::env::temp_dir().join("isobench")
    }
}

/// Removes `root-<run id>` directories in `base` whose run is dead. They
/// are only ever mount points inside sandboxes, so empty on the host: a
/// non-empty one is left alone.
pub fn cleanup_stale_staging(base: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(base) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let run_id = name.strip_prefix("root-")?;
            let dir = e.path();
            let alive = Owner::from_run_id(run_id)?.alive(&dir);
            (!alive && std::fs::remove_dir(&dir).is_ok()).then_some(dir)
        })
        .collect()
}

/// The empty staging directory for minimal rootfs mounts; removed on drop.
pub(super) struct RootfsDir(pub(super) PathBuf);

impl RootfsDir {
    pub(super) fn create(run_id: &str) -> std::io::Result<Self> {
        let base = staging_base();
        std::fs::create_dir_all(&base)?;
        let d = base.join(format!("root-{run_id}"));
        std::fs::create_dir(&d)?;
        Ok(RootfsDir(d))
    }
}

impl Drop for RootfsDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}
