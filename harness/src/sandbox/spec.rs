//! What a sandbox is: namespaces, limits, rootfs, hostname, id maps, the
//! command and its deadline. Built at the edge, consumed by launchers.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::cgroup::Limits;

/// The namespaces to create (each a clone flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Namespaces {
    pub pid: bool,
    pub mnt: bool,
    pub net: bool,
    pub uts: bool,
    pub ipc: bool,
    pub user: bool,
    pub cgroup: bool,
    pub time: bool,
}

/// One kind of namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ns {
    Pid,
    Mnt,
    Net,
    Uts,
    Ipc,
    User,
    Cgroup,
    Time,
}

impl Ns {
    /// Every kind, in the order sets are written ("pid,mnt,...").
    pub const ALL: [Ns; 8] = [
        Ns::Pid,
        Ns::Mnt,
        Ns::Net,
        Ns::Uts,
        Ns::Ipc,
        Ns::User,
        Ns::Cgroup,
        Ns::Time,
    ];

    /// (name in sets, other accepted spelling, clone(2) flag).
    fn row(self) -> (&'static str, Option<&'static str>, u64) {
        match self {
            Ns::Pid => ("pid", None, libc::CLONE_NEWPID as u64),
            Ns::Mnt => ("mnt", Some("mount"), libc::CLONE_NEWNS as u64),
            Ns::Net => ("net", Some("network"), libc::CLONE_NEWNET as u64),
            Ns::Uts => ("uts", None, libc::CLONE_NEWUTS as u64),
            Ns::Ipc => ("ipc", None, libc::CLONE_NEWIPC as u64),
            Ns::User => ("user", None, libc::CLONE_NEWUSER as u64),
            Ns::Cgroup => ("cgroup", None, libc::CLONE_NEWCGROUP as u64),
            Ns::Time => ("time", None, CLONE_NEWTIME),
        }
    }

    pub fn name(self) -> &'static str {
        self.row().0
    }

    /// The kind called `s` (its name, or "mount" / "network").
    pub fn from_name(s: &str) -> Option<Ns> {
        Ns::ALL.into_iter().find(|k| {
            let (name, alias, _) = k.row();
            s == name || Some(s) == alias
        })
    }
}

impl Namespaces {
    pub const NAMES: [&'static str; 8] =
        ["pid", "mnt", "net", "uts", "ipc", "user", "cgroup", "time"];

    /// Every namespace kind.
    pub fn all() -> Self {
        Self::of(Ns::ALL)
    }

    /// The set of these kinds.
    pub fn of(kinds: impl IntoIterator<Item = Ns>) -> Self {
        let mut n = Namespaces::default();
        for k in kinds {
            *n.slot(k) = true;
        }
        n
    }

    fn slot(&mut self, k: Ns) -> &mut bool {
        match k {
            Ns::Pid => &mut self.pid,
            Ns::Mnt => &mut self.mnt,
            Ns::Net => &mut self.net,
            Ns::Uts => &mut self.uts,
            Ns::Ipc => &mut self.ipc,
            Ns::User => &mut self.user,
            Ns::Cgroup => &mut self.cgroup,
            Ns::Time => &mut self.time,
        }
    }

    /// Whether the set has kind `k`.
    pub fn has(&self, k: Ns) -> bool {
        let mut copy = *self;
        *copy.slot(k)
    }

    /// The kinds in the set, in `Ns::ALL` order.
    pub fn kinds(&self) -> impl Iterator<Item = Ns> + '_ {
        Ns::ALL.into_iter().filter(|k| self.has(*k))
    }

    /// Parses "pid,mnt,net" ("none" or "" for no namespace, "all" for all).
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() || s == "none" {
            return Ok(Namespaces::default());
        }
        if s == "all" {
            return Ok(Self::all());
        }
        let kinds = s.split(',').map(|part| {
            Ns::from_name(part.trim()).ok_or_else(|| {
                format!(
                    "unknown namespace {:?}; accepted: {}, none, all",
                    part.trim(),
                    Self::NAMES.join(", ")
                )
            })
        });
        Ok(Self::of(kinds.collect::<Result<Vec<_>, _>>()?))
    }

    pub fn is_empty(&self) -> bool {
        *self == Namespaces::default()
    }

    /// The clone(2) flags for this set.
    pub fn clone_flags(&self) -> u64 {
        self.kinds().fold(0, |f, k| f | k.row().2)
    }
}

/// clone3-only flag for a new time namespace.
pub const CLONE_NEWTIME: u64 = 0x80;

impl fmt::Display for Namespaces {
    /// "pid,mnt,uts,ipc" in a fixed order, or "none".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.kinds().map(Ns::name).collect();
        if names.is_empty() {
            write!(f, "none")
        } else {
            write!(f, "{}", names.join(","))
        }
    }
}

/// The filesystem a sandbox sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rootfs {
    /// The host's root (with a fresh /proc when pid+mnt are unshared).
    #[default]
    Host,
    /// A tmpfs holding only the read-only workload binary and /proc, entered
    /// with pivot_root. Needs a mount namespace.
    Minimal,
}

/// One line of a uid_map / gid_map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMap {
    pub inside: u32,
    pub outside: u32,
    pub count: u32,
}

/// Everything a launcher needs to start one workload.
#[derive(Debug, Clone)]
pub struct SandboxSpec {
    pub namespaces: Namespaces,
    pub limits: Limits,
    pub rootfs: Rootfs,
    pub hostname: Option<String>,
    /// Maps for a user namespace (root inside → an unprivileged uid outside
    /// by default, so the sandbox's root is nobody on the host).
    pub uid_map: Vec<IdMap>,
    pub gid_map: Vec<IdMap>,
    /// Arguments of `isobench-workload` (the subcommand and its flags).
    pub args: Vec<String>,
    /// Hard deadline from launch to exit; the sandbox is killed past it.
    pub deadline: Duration,
    /// Controllers to create for counters beyond those the limits need.
    pub accounting: Vec<crate::cgroup::Controller>,
    /// An init shim exec'd as PID 1 with the workload as its argument.
    pub init: Option<InitShim>,
    /// Files bind-mounted over /proc/<name> once the sandbox's /proc is
    /// mounted (lxcfs's virtualised views). Needs pid + mnt namespaces.
    pub proc_overlays: Vec<ProcOverlay>,
}

/// Where an init shim sits inside a sandbox's own rootfs.
pub const INIT_IN_ROOTFS: &str = "/isobench-init";

/// A static init (tini, catatonit) that runs as the sandbox's PID 1 and
/// starts the workload: `PATH ARGS… WORKLOAD WORKLOAD_ARGS…`. Launchers with
/// their own rootfs place the binary at [`INIT_IN_ROOTFS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitShim {
    /// Its name in results ("tini").
    pub name: String,
    /// The static binary on the host.
    pub path: std::path::PathBuf,
    /// Its own arguments before the workload's command (e.g. "--").
    pub args: Vec<String>,
}

/// A host file bind-mounted over `/proc/<name>` inside the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcOverlay {
    /// The host file (e.g. `<lxcfs mount>/proc/meminfo`).
    pub source: std::path::PathBuf,
    /// The file under /proc it covers ("meminfo").
    pub name: String,
}

impl SandboxSpec {
    /// A spec running `isobench-workload ARGS` with no namespace and no limit.
    pub fn workload(args: &[&str]) -> Self {
        SandboxSpec {
            namespaces: Namespaces::default(),
            limits: Limits::default(),
            rootfs: Rootfs::Host,
            hostname: None,
            uid_map: vec![IdMap {
                inside: 0,
                outside: 65534,
                count: 1,
            }],
            gid_map: vec![IdMap {
                inside: 0,
                outside: 65534,
                count: 1,
            }],
            args: args.iter().map(|s| s.to_string()).collect(),
            deadline: Duration::from_secs(30),
            accounting: Vec::new(),
            init: None,
            proc_overlays: Vec::new(),
        }
    }

    /// The command line of the sandbox's first process: the workload at
    /// `workload`, behind the init shim at `init` when the spec has one.
    pub fn command_line(&self, workload: &str, init: &str) -> Vec<String> {
        let shim = self
            .init
            .iter()
            .flat_map(|i| std::iter::once(init.to_string()).chain(i.args.iter().cloned()));
        shim.chain(std::iter::once(workload.to_string()))
            .chain(self.args.iter().cloned())
            .collect()
    }

    /// Refuses specs that break the safety rules or cannot work.
    pub fn validate(&self) -> Result<(), String> {
        let sub = self.args.first().map(String::as_str).unwrap_or("");
        if sub == "forkbomb" && self.limits.pids_max.is_none() {
            return Err("a fork bomb never runs without a pids limit (set pids_max)".into());
        }
        if matches!(sub, "pid1" | "supervisor") && self.limits.pids_max.is_none() {
            return Err(format!(
                "{sub} forks: it never runs without a pids limit (set pids_max)"
            ));
        }
        let hogs = sub == "hog" || (sub == "supervisor" && self.args.iter().any(|a| a == "hog"));
        if hogs && self.limits.memory_max.is_none() && self.limits.memory_high.is_none() {
            return Err("a memory hog never runs without a memory limit (set memory_max)".into());
        }
        if self.rootfs == Rootfs::Minimal && !self.namespaces.mnt {
            return Err("the minimal rootfs needs a mount namespace (add mnt)".into());
        }
        if self.hostname.is_some() && !self.namespaces.uts {
            return Err("setting a hostname needs a uts namespace (add uts)".into());
        }
        if self.init.is_some() && !self.namespaces.pid {
            return Err("an init shim is PID 1 only in a pid namespace (add pid)".into());
        }
        let own_proc = self.namespaces.mnt && self.namespaces.pid;
        if !self.proc_overlays.is_empty() && !own_proc {
            return Err("/proc overlays need a sandbox /proc: pid and mnt namespaces".into());
        }
        if let Some(o) = self.proc_overlays.iter().find(|o| {
            o.name.is_empty()
                || !o
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        }) {
            return Err(format!(
                "/proc overlay {:?} is not a plain /proc file name",
                o.name
            ));
        }
        if self.deadline.is_zero() {
            return Err("every workload needs a deadline > 0".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display_namespaces() {
        let n = Namespaces::parse("pid, mnt,uts,ipc").unwrap();
        assert!(n.pid && n.mnt && n.uts && n.ipc && !n.net && !n.user);
        assert_eq!(n.to_string(), "pid,mnt,uts,ipc");
        assert_eq!(Namespaces::parse("none").unwrap().to_string(), "none");
        assert_eq!(Namespaces::parse("all").unwrap(), Namespaces::all());
        let e = Namespaces::parse("pid,bogus").unwrap_err();
        assert!(e.contains("bogus") && e.contains("accepted"), "{e}");
        assert_eq!(
            Namespaces::parse("mount, network").unwrap(),
            Namespaces::of([Ns::Mnt, Ns::Net])
        );
        let names: Vec<&str> = Ns::ALL.into_iter().map(Ns::name).collect();
        assert_eq!(names, Namespaces::NAMES);
        assert!(Namespaces::all().kinds().eq(Ns::ALL));
    }

    #[test]
    fn clone_flags_match_kernel_constants() {
        let n = Namespaces::parse("pid,net").unwrap();
        assert_eq!(
            n.clone_flags(),
            (libc::CLONE_NEWPID | libc::CLONE_NEWNET) as u64
        );
        assert_ne!(Namespaces::all().clone_flags() & CLONE_NEWTIME, 0);
        assert_eq!(Namespaces::default().clone_flags(), 0);
        assert_eq!(
            Namespaces::parse("mnt,uts,ipc,user,cgroup")
                .unwrap()
                .clone_flags(),
            (libc::CLONE_NEWNS
                | libc::CLONE_NEWUTS
                | libc::CLONE_NEWIPC
                | libc::CLONE_NEWUSER
                | libc::CLONE_NEWCGROUP) as u64
        );
    }

    #[test]
    fn safety_rules_are_enforced() {
        let s = SandboxSpec::workload(&["forkbomb"]);
        assert!(s.validate().unwrap_err().contains("pids limit"));
        let s = SandboxSpec::workload(&["hog", "--max", "1G"]);
        assert!(s.validate().unwrap_err().contains("memory limit"));
        let mut s = SandboxSpec::workload(&["ready"]);
        s.rootfs = Rootfs::Minimal;
        assert!(s.validate().is_err());
        s.namespaces.mnt = true;
        assert!(s.validate().is_ok());
        // Forking workloads need a pids limit; a supervisor of hogs memory too.
        let mut s = SandboxSpec::workload(&["supervisor", "--task", "hog"]);
        assert!(s.validate().unwrap_err().contains("pids limit"));
        s.limits.pids_max = Some(8);
        assert!(s.validate().unwrap_err().contains("memory limit"));
        let mut s = SandboxSpec::workload(&["pid1", "--test", "orphans"]);
        assert!(s.validate().unwrap_err().contains("pids limit"));
        s.limits.pids_max = Some(200);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn an_init_shim_goes_in_front_and_needs_a_pid_namespace() {
        let mut s = SandboxSpec::workload(&["ready"]);
        assert_eq!(s.command_line("/w", "/i"), ["/w", "ready"]);
        s.init = Some(InitShim {
            name: "tini".into(),
            path: "/usr/bin/tini-static".into(),
            args: vec!["--".into()],
        });
        assert_eq!(s.command_line("/w", "/i"), ["/i", "--", "/w", "ready"]);
        assert!(s.validate().unwrap_err().contains("pid namespace"));
        s.namespaces.pid = true;
        assert!(s.validate().is_ok());
    }
}

/// A namespace set as it appears in suite files and results ("pid,mnt").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NsSet(pub Namespaces);

impl NsSet {
    /// Parses a built-in set (panics on a typo in this crate's own tables).
    pub fn of(s: &str) -> Self {
        NsSet(Namespaces::parse(s).expect("built-in namespace set"))
    }
}

impl fmt::Display for NsSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for NsSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

impl<'de> Deserialize<'de> for NsSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Namespaces::parse(&s)
            .map(NsSet)
            .map_err(serde::de::Error::custom)
    }
}
