//! Creating sandbox cgroups beneath our own cgroup in every hierarchy, and the
//! hybrid driver that sends each controller to the hierarchy it lives in.

use std::collections::BTreeMap;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::counters::{CpuStats, MemoryStats, PidsStats};
use super::error::{CgroupError, Result};
use super::hierarchy::Hierarchies;
use super::limits::Limits;
use super::v1::V1Cgroup;
use super::v2::{self, V2Cgroup};
use super::{parse, Cgroup, Controller, Mode};

/// Prefix of every cgroup isobench creates:
/// `isobench-p<owner pid>-t<owner start ticks>-<nonce>-<n>` (see [`Owner`]).
pub const NAME_PREFIX: &str = "isobench-";

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

/// A unique run id that names its owner: `p<pid>-t<start ticks>-<nonce>`,
/// so stale cgroups can be told apart from those of a concurrently running
/// isobench, by the kernel's clock (see [`Owner`]).
pub fn new_run_id() -> String {
    let mut b = [0u8; 4];
    let _ = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b));
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let nonce = u32::from_ne_bytes(b) ^ t;
    format!("{}-{nonce:08x}", Owner::current().tag())
}

/// The owner pid encoded in an isobench cgroup name.
pub fn owner_pid(name: &str) -> Option<i32> {
    Owner::from_name(name).map(|o| o.pid)
}

/// The isobench process that made an object (cgroup, bundle, staging or VM
/// directory), as encoded in the object's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Owner {
    pub pid: i32,
    /// Field 22 of the owner's /proc/PID/stat (clock ticks since boot);
    /// `None` in names made by isobench versions before it was encoded.
    pub start_ticks: Option<u64>,
}

impl Owner {
    /// This process.
    pub fn current() -> Owner {
        let pid = std::process::id() as i32;
        Owner {
            pid,
            start_ticks: crate::procfs::start_ticks(pid),
        }
    }

    /// `p<pid>-t<ticks>` (or `p<pid>` when the start time is unknown): the
    /// head of a run id. Older cleanups read the pid and ignore the rest.
    pub fn tag(&self) -> String {
        match self.start_ticks {
            Some(t) => format!("p{}-t{t}", self.pid),
            None => format!("p{}", self.pid),
        }
    }

    /// Parses the head of a run id: `p<pid>-t<ticks>-…` or `p<pid>-…`.
    pub fn from_run_id(run_id: &str) -> Option<Owner> {
        let mut parts = run_id.strip_prefix('p')?.split('-');
        let pid = parts.next()?.parse().ok()?;
        let start_ticks = parts
            .next()
            .and_then(|p| p.strip_prefix('t'))
            .and_then(|t| t.parse().ok());
        Some(Owner { pid, start_ticks })
    }

    /// Parses an isobench object name: `isobench-<run id>-…`.
    pub fn from_name(name: &str) -> Option<Owner> {
        Owner::from_run_id(name.strip_prefix(NAME_PREFIX)?)
    }

    /// Whether the owner still runs. With a start time in the name, by the
    /// kernel's boot-relative clock: the pid exists and started at exactly
    /// that tick (another start means the pid was reused); a wall-clock step
    /// cannot change the answer. Names without one fall back to comparing
    /// the start with `created`'s mtime (as older versions did). When in
    /// doubt the owner counts as alive, so a live run is never disturbed.
    pub fn alive(&self, created: &Path) -> bool {
        let Some(stat) = crate::procfs::read_stat(self.pid) else {
            return false;
        };
        let fields = crate::procfs::stat_fields(&stat);
        // A zombie (killed, not yet reaped by its parent) runs nothing.
        if fields.first().is_some_and(|s| s.starts_with(['Z', 'X'])) {
            return false;
        }
        let Some(live) = fields.get(19).and_then(|v| v.parse::<u64>().ok()) else {
            return true;
        };
        match self.start_ticks {
            Some(t) => t == live,
            None => started_before_mtime(live, created),
        }
    }
}

/// The legacy judgement, for names without a start time: a process that
/// started (in wall-clock terms, 1 s of slack) after `created` was made is
/// a reused pid. A wall-clock step can fool it, hence [`Owner::start_ticks`].
fn started_before_mtime(start_ticks: u64, created: &Path) -> bool {
    let btime = std::fs::read_to_string("/proc/stat").ok().and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("btime "))
            .and_then(|v| v.trim().parse::<u64>().ok())
    });
    let created_at = std::fs::metadata(created)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok());
    match (btime, created_at) {
        (Some(b), Some(c)) => {
            // SAFETY: sysconf has no preconditions.
            let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
            let started = b + start_ticks / hz;
            started <= c.as_secs() + 1
        }
        _ => true,
    }
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
        Ok(SandboxCgroup {
            view: cg,
            removed: false,
        })
    }

    /// Every base directory (for listing stale cgroups).
    pub fn base_dirs(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.v1_base.values().cloned().collect();
        v.extend(self.v2_base.iter().cloned());
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
    let mut removed = Vec::new();
    for base in set.base_dirs() {
        let Ok(rd) = std::fs::read_dir(&base) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let dir = e.path();
            if owner_alive(&name, &dir) != Some(false) {
                continue;
            }
            let procs = || match parse::read_pids(&dir.join("cgroup.procs")) {
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(Vec::new()),
                r => r,
            };
            let kill = dir.join("cgroup.kill");
            if kill.exists() {
                let _ = parse::write(&kill, "1");
            }
            let freezer = dir.join("freezer.state");
            let _ = kill_loop(procs, |frozen| {
                if freezer.exists() {
                    let _ = parse::write(&freezer, if frozen { "FROZEN" } else { "THAWED" });
                }
            });
            if rmdir_retry(&dir).is_ok() {
                removed.push(dir);
            }
        }
    }
    removed
}

/// Whether the owner of `created`, a cgroup directory, bundle or staging
/// directory named `name` (`isobench-<run id>-…`), still runs; `None`
/// when the name is not an isobench one. See [`Owner::alive`].
pub fn owner_alive(name: &str, created: &Path) -> Option<bool> {
    Owner::from_name(name).map(|o| o.alive(created))
}

/// Safety rule: only cgroups isobench created may have their processes
/// killed. A directory qualifies when its own name carries our prefix.
pub(crate) fn ensure_ours(dir: &Path) -> Result<()> {
    let ours = dir
        .file_name()
        .map(|n| n.to_string_lossy().starts_with(NAME_PREFIX))
        .unwrap_or(false);
    if ours {
        Ok(())
    } else {
        Err(CgroupError::Setup(format!(
            "refusing to kill processes in {}: not a cgroup isobench created",
            dir.display()
        )))
    }
}

/// Freeze, SIGKILL every listed process, thaw; repeat until empty or 10 s.
pub(crate) fn kill_loop(pids: impl Fn() -> Result<Vec<i32>>, freeze: impl Fn(bool)) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut wait = Duration::from_micros(200);
    loop {
        let list = pids()?;
        if list.is_empty() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(CgroupError::Setup(format!(
                "processes {list:?} survive SIGKILL after 10 s"
            )));
        }
        freeze(true);
        let me = std::process::id() as i32;
        for p in list.iter().filter(|p| **p > 1 && **p != me) {
            if std::env::var_os("ISOBENCH_DEBUG").is_some() {
                let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
                eprintln!("isobench: debug: SIGKILL {p} ({})", comm.trim());
            }
            // SAFETY: kill(2) with a pid read from our own cgroup.
            unsafe {
                libc::kill(*p, libc::SIGKILL);
            }
        }
        freeze(false);
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_millis(50));
    }
}

/// rmdir, retrying while the kernel still holds exiting tasks (EBUSY).
pub(crate) fn rmdir_retry(dir: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut wait = Duration::from_micros(100);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_millis(20));
            }
            Err(e) => return Err(CgroupError::io(dir, e)),
        }
    }
}

/// One sandbox's cgroup across hierarchies, as paths: cheap to clone for
/// monitors. Ownership (and removal) is [`SandboxCgroup`]'s.
#[derive(Debug, Clone, Default)]
pub struct CgroupView {
    pub name: String,
    pub v1: V1Cgroup,
    pub v2: Option<V2Cgroup>,
}

/// One sandbox's cgroup, owned: dropping it kills what is inside and removes
/// it, so an error or panic never leaks a cgroup.
#[derive(Debug)]
pub struct SandboxCgroup {
    view: CgroupView,
    removed: bool,
}

impl std::ops::Deref for SandboxCgroup {
    type Target = CgroupView;
    fn deref(&self) -> &CgroupView {
        &self.view
    }
}

impl SandboxCgroup {
    /// Kills and removes now, reporting errors (Drop does it silently).
    pub fn destroy(mut self) -> Result<()> {
        self.removed = true;
        let k = self.view.kill_all();
        let r = self.view.remove();
        k.and(r)
    }
}

impl Drop for SandboxCgroup {
    fn drop(&mut self) {
        if !self.removed {
            self.removed = true;
            let _ = self.view.kill_all();
            let _ = self.view.remove();
        }
    }
}

impl CgroupView {
    /// A clone, for readers that outlive a borrow (monitors).
    pub fn view(&self) -> CgroupView {
        self.clone()
    }

    /// True when there is no cgroup at all (bare launcher).
    pub fn is_empty(&self) -> bool {
        self.v1.dirs.is_empty() && self.v2.is_none()
    }

    /// A directory fd for clone3's CLONE_INTO_CGROUP (the v2 part).
    pub fn v2_dir_fd(&self) -> Result<Option<OwnedFd>> {
        let Some(v2) = &self.v2 else {
            return Ok(None);
        };
        let c = std::ffi::CString::new(v2.dir.as_os_str().as_encoded_bytes())
            .map_err(|_| CgroupError::Setup("cgroup path contains NUL".into()))?;
        // SAFETY: open(2) on a valid C string; the fd is owned below.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(CgroupError::io(&v2.dir, std::io::Error::last_os_error()));
        }
        // SAFETY: fd is a fresh descriptor we own.
        Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Whether a controller is handled by the v2 part.
    fn v2_for(&self, c: Controller) -> Option<&V2Cgroup> {
        if self.v1.dirs.contains_key(&c) {
            return None;
        }
        self.v2.as_ref().filter(|v| v.controllers.contains(&c))
    }

    /// The v1 directories that must receive the child's pid (CLONE_INTO_CGROUP
    /// covers only the v2 part).
    pub fn v1_procs_files(&self) -> Vec<PathBuf> {
        self.v1
            .unique_dirs()
            .into_iter()
            .map(|d| d.join("cgroup.procs"))
            .collect()
    }

    /// All directories of this cgroup.
    pub fn dirs(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self
            .v1
            .unique_dirs()
            .iter()
            .map(|p| p.to_path_buf())
            .collect();
        v.extend(self.v2.iter().map(|c| c.dir.clone()));
        v
    }

    /// Directory of a controller (for reports and peers that need a path).
    pub fn dir_of(&self, c: Controller) -> Option<&Path> {
        self.v1
            .dirs
            .get(&c)
            .map(PathBuf::as_path)
            .or_else(|| self.v2_for(c).map(|v| v.dir.as_path()))
    }

    /// Splits limits between the v1 and v2 parts: (for v1, for v2).
    fn split(&self, l: &Limits) -> (Limits, Limits) {
        let cpu = self.v2_for(Controller::Cpu).is_some();
        let mem = self.v2_for(Controller::Memory).is_some();
        let set = self.v2_for(Controller::Cpuset).is_some();
        let pids = self.v2_for(Controller::Pids).is_some();
        let side = |v2: bool| Limits {
            cpu_max: l.cpu_max.filter(|_| cpu == v2),
            cpu_weight: l.cpu_weight.filter(|_| cpu == v2),
            cpuset_cpus: l.cpuset_cpus.clone().filter(|_| set == v2),
            cpuset_mems: l.cpuset_mems.clone().filter(|_| set == v2),
            memory_max: l.memory_max.filter(|_| mem == v2),
            memory_high: l.memory_high.filter(|_| mem == v2),
            memory_swap_max: l.memory_swap_max.filter(|_| mem == v2),
            oom_group: l.oom_group && mem == v2,
            oom_kill_disable: l.oom_kill_disable && mem == v2,
            pids_max: l.pids_max.filter(|_| pids == v2),
        };
        (side(false), side(true))
    }
}

impl Cgroup for CgroupView {
    fn apply(&self, l: &Limits) -> Result<()> {
        let (on_v1, on_v2) = self.split(l);
        if on_v1 != Limits::default() {
            self.v1.apply(&on_v1)?;
        }
        if on_v2 != Limits::default() {
            match &self.v2 {
                Some(v2) => v2.apply(&on_v2)?,
                None => {
                    return Err(CgroupError::Unsupported(
                        "a requested controller is not available in any hierarchy".into(),
                    ))
                }
            }
        }
        Ok(())
    }

    fn add_pid(&self, pid: i32) -> Result<()> {
        if let Some(v2) = &self.v2 {
            v2.add_pid(pid)?;
        }
        self.v1.add_pid(pid)
    }

    fn pids(&self) -> Result<Vec<i32>> {
        let mut p = self.v1.pids()?;
        if let Some(v2) = &self.v2 {
            p.extend(v2.pids()?);
        }
        p.sort_unstable();
        p.dedup();
        Ok(p)
    }

    fn cpu_stats(&self) -> Result<CpuStats> {
        let cpu_v1 = self.v1.dirs.get(&Controller::Cpu).map(PathBuf::as_path);
        let acct_v1 = self.v1.dirs.get(&Controller::Cpuacct).map(PathBuf::as_path);
        let mut s = super::v1::read_cpu_stats(cpu_v1, acct_v1)?;
        // Read v2's cpu.stat only for what v1 does not provide (the monitor
        // calls this at 100 Hz: every file read counts).
        if let Some(v2) = self
            .v2
            .as_ref()
            .filter(|_| acct_v1.is_none() || cpu_v1.is_none())
        {
            let t = v2.cpu_stats()?;
            if acct_v1.is_none() {
                s.usage_ns = t.usage_ns;
                s.user_ns = t.user_ns;
                s.system_ns = t.system_ns;
            }
            if cpu_v1.is_none() {
                s.nr_periods = t.nr_periods;
                s.nr_throttled = t.nr_throttled;
                s.throttled_ns = t.throttled_ns;
                s.nr_bursts = t.nr_bursts;
                s.burst_ns = t.burst_ns;
            }
        }
        Ok(s)
    }

    fn memory_stats(&self) -> Result<MemoryStats> {
        match self.v2_for(Controller::Memory) {
            Some(v2) => v2.memory_stats(),
            None => self.v1.memory_stats(),
        }
    }

    fn pids_stats(&self) -> Result<PidsStats> {
        match self.v2_for(Controller::Pids) {
            Some(v2) => v2.pids_stats(),
            None => self.v1.pids_stats(),
        }
    }

    fn kill_all(&self) -> Result<()> {
        if let Some(v2) = &self.v2 {
            v2.kill_all()?;
        }
        self.v1.kill_all()
    }

    fn remove(&self) -> Result<()> {
        let r1 = self.v1.remove();
        let r2 = self.v2.as_ref().map_or(Ok(()), |v| v.remove());
        r1.and(r2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sets `path`'s mtime (utimensat through std): a stand-in for a
    /// wall-clock step, without touching the real clock.
    fn set_mtime(path: &Path, t: std::time::SystemTime) {
        let f = std::fs::File::open(path).unwrap();
        f.set_times(std::fs::FileTimes::new().set_modified(t))
            .unwrap();
    }

    #[test]
    fn owner_liveness_detects_dead_and_reused_pids() {
        let dir = tempfile::tempdir().unwrap();
        let me = Owner::current();
        assert!(me.start_ticks.is_some());
        assert!(me.alive(dir.path()));
        // No such pid (above pid_max).
        let gone = Owner {
            pid: i32::MAX,
            ..me
        };
        assert!(!gone.alive(dir.path()));
        // Our pid, but another start: the pid was reused.
        let reused = Owner {
            start_ticks: me.start_ticks.map(|t| t + 1),
            ..me
        };
        assert!(!reused.alive(dir.path()));
        // A killed owner its parent has not reaped yet (a zombie).
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let zpid = child.id() as i32;
        let patience = std::time::Instant::now() + Duration::from_secs(60);
        let zombie = loop {
            assert!(std::time::Instant::now() < patience, "true never exited");
            let stat = crate::procfs::read_stat(zpid).unwrap();
            if crate::procfs::stat_fields(&stat)[0] == "Z" {
                break Owner {
                    pid: zpid,
                    start_ticks: crate::procfs::start_ticks(zpid),
                };
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(!zombie.alive(dir.path()));
        child.wait().unwrap();
        // A legacy name (no start time): an object older than the process
        // means the pid was reused.
        let legacy = Owner {
            start_ticks: None,
            ..me
        };
        let old = dir.path().join("old");
        std::fs::create_dir(&old).unwrap();
        set_mtime(&old, std::time::UNIX_EPOCH + Duration::from_secs(1000));
        assert!(!legacy.alive(&old));
        assert!(legacy.alive(dir.path()));
    }

    /// A wall-clock step during a run moves every wall-clock comparison:
    /// the object's mtime far in the past (a forward step of the clock
    /// after it was made) or far in the future (a backward step) must not
    /// change whether its live owner counts as alive, nor make a reused pid
    /// count as alive.
    #[test]
    fn a_clock_step_does_not_change_liveness() {
        let base = tempfile::tempdir().unwrap();
        let me = Owner::current();
        let name = format!("{NAME_PREFIX}{}-0", new_run_id());
        let obj = base.path().join(&name);
        std::fs::create_dir(&obj).unwrap();
        let reused = format!(
            "{NAME_PREFIX}p{}-t{}-0badf00d-0",
            me.pid,
            me.start_ticks.unwrap() + 100
        );
        let year = Duration::from_secs(365 * 86400);
        for t in [
            std::time::UNIX_EPOCH + Duration::from_secs(1000),
            std::time::SystemTime::now() - year,
            std::time::SystemTime::now() + 10 * year,
        ] {
            set_mtime(&obj, t);
            assert_eq!(owner_alive(&name, &obj), Some(true), "mtime {t:?}");
            assert_eq!(owner_alive(&reused, &obj), Some(false), "mtime {t:?}");
        }
        assert_eq!(owner_alive("not-ours", &obj), None);
    }

    #[test]
    fn owners_are_parsed_from_names() {
        assert_eq!(
            Owner::from_name("isobench-p1234-t987-deadbeef-3"),
            Some(Owner {
                pid: 1234,
                start_ticks: Some(987)
            })
        );
        // Legacy names: the nonce is hex, never `t<digits>`.
        assert_eq!(
            Owner::from_name("isobench-p1234-deadbeef-3"),
            Some(Owner {
                pid: 1234,
                start_ticks: None
            })
        );
        assert_eq!(
            Owner::from_run_id("p7-t1-ab-tclockstep")
                .unwrap()
                .start_ticks,
            Some(1)
        );
        let me = Owner::current();
        assert_eq!(Owner::from_run_id(&new_run_id()), Some(me));
        assert_eq!(Owner::from_run_id(&me.tag()), Some(me));
    }

    #[test]
    fn owner_pid_is_parsed_from_names() {
        assert_eq!(owner_pid("isobench-p1234-deadbeef-3"), Some(1234));
        assert_eq!(owner_pid("isobench-p1234-deadbeef-self"), Some(1234));
        assert_eq!(owner_pid("isobench-x"), None);
        assert_eq!(owner_pid("other-p1-2"), None);
        let id = new_run_id();
        assert_eq!(
            owner_pid(&format!("{NAME_PREFIX}{id}-0")),
            Some(std::process::id() as i32)
        );
    }
}
