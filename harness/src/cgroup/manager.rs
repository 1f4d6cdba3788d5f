//! Creating sandbox cgroups beneath our own cgroup in every hierarchy (the
//! hybrid driver of one sandbox's cgroup is in [`super::view`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::{CgroupError, Result};
use super::hierarchy::Hierarchies;
use super::teardown::rmdir_retry;
use super::v1::V1Cgroup;
use super::v2::{self, V2Cgroup};
use super::{parse, Controller, Mode};

pub use super::owner::{new_run_id, owner_alive, owner_pid, Owner, NAME_PREFIX};
pub use super::view::{CgroupView, SandboxCgroup};

/// Where this run creates its cgroups: one base directory per hierarchy.
#[derive(Debug, Clone)]
pub struct CgroupSet {
    pub mode: Mode,
    pub hierarchies: Hierarchies,
    /// Base directory per v1 controller (our own cgroup or --cgroup-parent).
    pub v1_base: BTreeMap<Controller, PathBuf>,
    /// Base directory in the v2 hierarchy, if mounted and writable.
    pub v2_base: Option<PathBuf>,
    /// Controllers driven through v2.
    pub v2_controllers: Vec<Controller>,
    pub run_id: String,
    /// Set once v2 controllers are delegated (checked once per run).
    v2_ready: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// What preparing v2 changed, for [`CgroupSet::release`].
    prepared: std::sync::Arc<std::sync::Mutex<Prepared>>,
}

/// Changes made to the base cgroup for v2 delegation.
#[derive(Debug, Default)]
struct Prepared {
    /// The `-self` leaf the harness moved into.
    leaf: Option<PathBuf>,
    /// Controllers enabled in the base's cgroup.subtree_control.
    enabled: Vec<String>,
}

impl CgroupSet {
    /// Discovers the hierarchies and prepares base directories. `parent` is a
    /// cgroup path (as in /proc/self/cgroup) used instead of our own cgroup in
    /// every hierarchy; it must already exist.
    pub fn discover(parent: Option<&str>) -> Result<Self> {
        let mode = super::detect_mode()?;
        let hierarchies = Hierarchies::current()?;
        Self::with(mode, hierarchies, parent, new_run_id())
    }

    /// Builds from already-resolved hierarchies (used by tests and the VM).
    pub fn with(
        mode: Mode,
        hierarchies: Hierarchies,
        parent: Option<&str>,
        run_id: String,
    ) -> Result<Self> {
        let base_of = |mount_point: &Path, own_dir: &Path| -> Result<PathBuf> {
            match parent {
                None => Ok(own_dir.to_path_buf()),
                Some(p) => {
                    let d = mount_point.join(p.trim_start_matches('/'));
                    if d.is_dir() {
                        Ok(d)
                    } else {
                        Err(CgroupError::Setup(format!(
                            "--cgroup-parent {p}: {} does not exist; create it first",
                            d.display()
                        )))
                    }
                }
            }
        };
        let mut v1_base = BTreeMap::new();
        for (c, h) in &hierarchies.v1 {
            v1_base.insert(*c, base_of(&h.mount.mount_point, &h.own_dir)?);
        }
        let mut v2_base = None;
        let mut v2_controllers = Vec::new();
        if let Some(h) = &hierarchies.unified {
            v2_base = Some(base_of(&h.mount.mount_point, &h.own_dir)?);
            for c in Controller::ALL {
                if hierarchies.on_v2(c) {
                    v2_controllers.push(c);
                }
            }
        }
        Ok(CgroupSet {
            mode,
            hierarchies,
            v1_base,
            v2_base,
            v2_controllers,
            run_id,
            v2_ready: Default::default(),
            prepared: Default::default(),
        })
    }

    /// Whether a controller is usable (on v1 or v2).
    pub fn has(&self, c: Controller) -> bool {
        self.v1_base.contains_key(&c)
            || self.v2_controllers.contains(&c)
            || (matches!(c, Controller::Cpuacct | Controller::Freezer) && self.v2_base.is_some())
    }

    /// Whether a controller is driven through the v2 hierarchy.
    pub fn on_v2(&self, c: Controller) -> bool {
        !self.v1_base.contains_key(&c) && self.v2_controllers.contains(&c)
    }

    /// Makes sure v2 controllers are delegated to children of the base,
    /// respecting the no-internal-process rule. What it changes (a leaf it
    /// moved us into, controllers it enabled) is recorded so that
    /// [`CgroupSet::release`] undoes it; on error it is undone at once.
    fn prepare_v2(&self) -> Result<()> {
        let Some(base) = &self.v2_base else {
            return Ok(());
        };
        if self.v2_controllers.is_empty() {
            return Ok(());
        }
        let before = parse::read(&base.join("cgroup.subtree_control")).unwrap_or_default();
        let enabled_now = || -> Vec<String> {
            self.v2_controllers
                .iter()
                .filter_map(|c| c.v2_name())
                .filter(|n| !before.split_whitespace().any(|x| x == *n))
                .map(str::to_string)
                .collect()
        };
        match v2::enable_controllers(base, &self.v2_controllers) {
            Ok(()) => {
                self.record(None, enabled_now());
                Ok(())
            }
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                // Our base holds processes (at least us): move ourselves into a
                // leaf of our own, then retry.
                let leaf = base.join(format!("{NAME_PREFIX}{}-self", self.run_id));
                match std::fs::create_dir(&leaf) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(CgroupError::io(&leaf, e)),
                }
                if let Err(e) =
                    parse::write(&leaf.join("cgroup.procs"), &std::process::id().to_string())
                {
                    let _ = std::fs::remove_dir(&leaf);
                    return Err(e);
                }
                match v2::enable_controllers(base, &self.v2_controllers) {
                    Ok(()) => {
                        self.record(Some(leaf), enabled_now());
                        Ok(())
                    }
                    Err(_) => {
                        // Undo: back into the base (still without controllers
                        // enabled, so that is allowed), and the leaf goes.
                        let _ = parse::write(
                            &base.join("cgroup.procs"),
                            &std::process::id().to_string(),
                        );
                        let _ = rmdir_retry(&leaf);
                        Err(CgroupError::Setup(format!(
                            "cgroup v2: {} holds other processes, so controllers cannot be \
                             delegated below it; on a systemd host run isobench without \
                             --cgroup-parent (it takes a Delegate=yes scope), else pass \
                             --cgroup-parent with a cgroup you own",
                            base.display()
                        )))
                    }
                }
            }
            Err(e) => Err(e),
        }
    }

    fn record(&self, leaf: Option<PathBuf>, enabled: Vec<String>) {
        if let Ok(mut p) = self.prepared.lock() {
            *p = Prepared { leaf, enabled };
        }
    }

    /// Undoes what preparing v2 did, once every sandbox cgroup is gone:
    /// disables the controllers it enabled in the base, moves the harness
    /// back into the base and removes its `-self` leaf. Errors are
    /// returned (the leaf is then left for `isobench cleanup`).
    pub fn release(&self) -> Result<()> {
        let prepared = match self.prepared.lock() {
            Ok(mut p) => std::mem::take(&mut *p),
            Err(_) => return Ok(()),
        };
        self.v2_ready
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let (Some(base), Some(leaf)) = (&self.v2_base, prepared.leaf) else {
            return Ok(());
        };
        // Another cgroup beside our leaf (a concurrent run's) still needs the
        // controllers: leave everything as is then.
        let others: Vec<PathBuf> = std::fs::read_dir(base)
            .map_err(|e| CgroupError::io(base, e))?
            .flatten()
            .filter(|e| e.path().is_dir() && e.path() != leaf)
            .map(|e| e.path())
            .collect();
        if !others.is_empty() {
            return Err(CgroupError::Setup(format!(
                "{} stays: {} also holds {}",
                leaf.display(),
                base.display(),
                others
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        if !prepared.enabled.is_empty() {
            let off: Vec<String> = prepared.enabled.iter().map(|n| format!("-{n}")).collect();
            parse::write(&base.join("cgroup.subtree_control"), &off.join(" "))?;
        }
        parse::write(&base.join("cgroup.procs"), &std::process::id().to_string())?;
        rmdir_retry(&leaf)
    }

    /// The name of sandbox cgroup `n` of this run.
    pub fn sandbox_name(&self, n: u32) -> String {
        format!("{NAME_PREFIX}{}-{n}", self.run_id)
    }

    /// The directories `create(n)` will make (for launchers that need them
    /// in a command line before the cgroup exists).
    pub fn planned_dirs(&self, n: u32) -> Vec<PathBuf> {
        let name = self.sandbox_name(n);
        let mut v: Vec<PathBuf> = self
            .base_dirs()
            .into_iter()
            .map(|b| b.join(&name))
            .collect();
        v.dedup();
        v
    }

    /// The view of sandbox cgroup `n` by name, without creating it (for
    /// runtimes that create it themselves from a relative cgroupsPath).
    pub fn view_of(&self, n: u32) -> CgroupView {
        let name = self.sandbox_name(n);
        CgroupView {
            name: name.clone(),
            v1: V1Cgroup {
                dirs: self
                    .v1_base
                    .iter()
                    .map(|(c, b)| (*c, b.join(&name)))
                    .collect(),
            },
            v2: self.v2_base.as_ref().map(|b| V2Cgroup {
                dir: b.join(&name),
                controllers: self.v2_controllers.clone(),
            }),
        }
    }

    /// Creates sandbox cgroup number `n` in every hierarchy. On error nothing
    /// is left behind.
    pub fn create(&self, n: u32) -> Result<SandboxCgroup> {
        self.create_for(n, None)
    }

    /// Creates sandbox cgroup `n` in the v1 hierarchies of `only` (all when
    /// None) plus what tracking needs: the v2 hierarchy when mounted (one
    /// clone3 CLONE_INTO_CGROUP, cgroup.kill), else the v1 freezer. Fewer
    /// hierarchies mean fewer mkdirs and fewer cgroup.procs writes per launch.
    pub fn create_for(&self, n: u32, only: Option<&[Controller]>) -> Result<SandboxCgroup> {
        if !self.v2_ready.load(std::sync::atomic::Ordering::Relaxed) {
            self.prepare_v2()?;
            self.v2_ready
                .store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let name = self.sandbox_name(n);
        let tracking = if self.v2_base.is_some() {
            None
        } else {
            Some(Controller::Freezer)
        };
        let wanted = |c: &Controller| match only {
            None => true,
            Some(o) => o.contains(c) || tracking == Some(*c),
        };
        let mut cg = CgroupView {
            name: name.clone(),
            v1: V1Cgroup::default(),
            v2: None,
        };
        let mut made: Vec<PathBuf> = Vec::new();
        let mut mk = |d: PathBuf| -> Result<PathBuf> {
            if !made.contains(&d) {
                std::fs::create_dir(&d).map_err(|e| CgroupError::io(&d, e))?;
                made.push(d.clone());
            }
            Ok(d)
        };
        let result = (|| -> Result<()> {
            for (c, base) in self.v1_base.iter().filter(|(c, _)| wanted(c)) {
                let d = mk(base.join(&name))?;
                cg.v1.dirs.insert(*c, d);
            }
            if let Some(base) = &self.v2_base {
                let d = mk(base.join(&name))?;
                cg.v2 = Some(V2Cgroup {
                    dir: d,
                    controllers: self.v2_controllers.clone(),
                });
            }
            cg.v1.init_cpuset()
        })();
        if let Err(e) = result {
            for d in made.iter().rev() {
                let _ = std::fs::remove_dir(d);
            }
            return Err(e);
        }
        Ok(SandboxCgroup::owning(cg))
    }

    /// Every base directory (for listing stale cgroups).
    pub fn base_dirs(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.v1_base.values().cloned().collect();
        v.extend(self.v2_base.iter().cloned());
        // The v1 hierarchies' roots too: youki 0.7 on a hybrid host puts a
        // container's memory cgroup there (its relative cgroupsPath taken
        // from the root, not from its caller's cgroup). Only directories
        // named by an isobench run whose owner is dead are ever removed.
        v.extend(
            self.hierarchies
                .v1
                .values()
                .map(|h| h.mount.mount_point.clone()),
        );
        v.sort();
        v.dedup();
        v
    }

    /// Why controller `c` is not usable here, in words a user can act on:
    /// on v2, the kernel lacking it is told apart from a parent (systemd)
    /// that did not delegate it.
    pub fn why_missing(&self, c: Controller) -> String {
        match (&self.hierarchies.unified, c.v2_name(), self.mode) {
            (Some(h), Some(name), super::Mode::V2) => {
                let root = std::fs::read_to_string(h.mount.mount_point.join("cgroup.controllers"))
                    .unwrap_or_default();
                let parent_sc = h
                    .own_dir
                    .parent()
                    .and_then(|p| std::fs::read_to_string(p.join("cgroup.subtree_control")).ok());
                super::systemd::missing_reason(
                    name,
                    &root,
                    &h.own_dir,
                    parent_sc.as_deref(),
                    super::systemd::manager(),
                )
            }
            _ => format!(
                "no {} controller in this kernel's cgroup {} setup (e.g. 6.12 builds without \
                 CONFIG_MEMCG_V1 have no v1 memory controller)",
                c.name(),
                self.mode.as_str()
            ),
        }
    }

    /// Names of controllers and where they are, for `isobench env`.
    pub fn describe(&self) -> Vec<(String, String, PathBuf)> {
        let mut out = Vec::new();
        for (c, h) in &self.hierarchies.v1 {
            out.push((c.name().to_string(), "v1".to_string(), h.own_dir.clone()));
        }
        if let Some(h) = &self.hierarchies.unified {
            for c in &self.hierarchies.unified_controllers {
                out.push((c.clone(), "v2".to_string(), h.own_dir.clone()));
            }
        }
        out
    }
}

/// Removes isobench cgroups whose owner process is dead. Returns the
/// directories removed. Cgroups of a live isobench are never touched.
pub fn cleanup_stale(set: &CgroupSet) -> Vec<PathBuf> {
    super::teardown::cleanup_stale_in(&set.base_dirs())
}
