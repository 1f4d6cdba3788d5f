//! Where each controller lives: cgroup mounts from /proc/self/mountinfo joined
//! with this process's membership from /proc/self/cgroup. Never guesses paths.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::{CgroupError, Result};
use super::Controller;

/// One mounted cgroup filesystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupMount {
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// The cgroup path (within the hierarchy) that the mount exposes as its root.
    pub root: String,
    /// true for cgroup2.
    pub unified: bool,
    /// v1 controllers (and `name=` options) the hierarchy carries.
    pub options: Vec<String>,
}

/// One line of /proc/PID/cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub hierarchy_id: u32,
    /// Empty for the v2 hierarchy.
    pub controllers: Vec<String>,
    pub path: String,
}

/// Unescapes mountinfo's octal escapes (\040 for space, …).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = &b[i + 1..i + 4];
            if oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = oct
                    .iter()
                    .fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0'));
                if let Ok(v) = u8::try_from(v) {
                    out.push(v);
                    i += 4;
                    continue;
                }
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses the cgroup / cgroup2 mounts out of mountinfo text.
pub fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    let mut out = Vec::new();
    for line in text.lines() {
        // "36 35 98:0 /root /mnt rw,noatime master:1 - cgroup cgroup rw,cpu"
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 {
            continue;
        }
        let fstype = post[0];
        let unified = match fstype {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        let options = if unified {
            Vec::new()
        } else {
            post[2]
                .split(',')
                .filter(|o| !matches!(*o, "rw" | "ro"))
                .map(str::to_string)
                .collect()
        };
        out.push(CgroupMount {
            mount_point: PathBuf::from(unescape(pre[4])),
            root: unescape(pre[3]),
            unified,
            options,
        });
    }
    out
}

/// Parses /proc/PID/cgroup text.
pub fn parse_proc_cgroup(text: &str) -> Vec<Membership> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let id = it.next()?.parse::<u32>().ok()?;
            let ctrls = it.next()?;
            let path = it.next()?.to_string();
            Some(Membership {
                hierarchy_id: id,
                controllers: ctrls
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_string)
                    .collect(),
                path,
            })
        })
        .collect()
}

/// A hierarchy this process can create cgroups in: the directory that is its
/// own cgroup there, and the mount that directory belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub mount: CgroupMount,
    /// This process's cgroup path within the hierarchy (from /proc/self/cgroup).
    pub own_path: String,
    /// Absolute directory of that cgroup on the host filesystem.
    pub own_dir: PathBuf,
}

/// Joins a mount's root with a membership path to find the directory.
fn own_dir(mount: &CgroupMount, path: &str) -> Option<PathBuf> {
    let rel = if mount.root == "/" {
        path.trim_start_matches('/')
    } else {
        // The mount exposes a sub-tree; our cgroup must lie inside it.
        path.strip_prefix(mount.root.as_str())?
            .trim_start_matches('/')
    };
    Some(if rel.is_empty() {
        mount.mount_point.clone()
    } else {
        mount.mount_point.join(rel)
    })
}

/// Every controller's hierarchy plus the v2 hierarchy, if mounted.
#[derive(Debug, Clone, Default)]
pub struct Hierarchies {
    /// v1 hierarchy per controller.
    pub v1: BTreeMap<Controller, Hierarchy>,
    /// The cgroup2 hierarchy.
    pub unified: Option<Hierarchy>,
    /// Controllers available in the v2 hierarchy (its root cgroup.controllers,
    /// or this cgroup's).
    pub unified_controllers: Vec<String>,
}

impl Hierarchies {
    /// Resolves from text (for fixtures); `controllers_of` reads a v2 dir's
    /// cgroup.controllers.
    pub fn resolve(
        mountinfo: &str,
        proc_cgroup: &str,
        controllers_of: impl Fn(&Path) -> Option<String>,
    ) -> Self {
        let mounts = parse_mountinfo(mountinfo);
        let members = parse_proc_cgroup(proc_cgroup);
        let mut h = Hierarchies::default();
        for m in &members {
            if m.hierarchy_id == 0 && m.controllers.is_empty() {
                // The v2 hierarchy: pick the mount that contains our cgroup.
                if let Some((mount, dir)) = mounts
                    .iter()
                    .filter(|mt| mt.unified)
                    .find_map(|mt| own_dir(mt, &m.path).map(|d| (mt.clone(), d)))
                {
                    h.unified_controllers = controllers_of(&dir)
                        .map(|t| t.split_whitespace().map(str::to_string).collect())
                        .unwrap_or_default();
                    h.unified = Some(Hierarchy {
                        mount,
                        own_path: m.path.clone(),
                        own_dir: dir,
                    });
                }
                continue;
            }
            for c in &m.controllers {
                let Some(ctrl) = Controller::from_name(c) else {
                    continue;
                };
                let found = mounts
                    .iter()
                    .filter(|mt| !mt.unified && mt.options.iter().any(|o| o == c))
                    .find_map(|mt| own_dir(mt, &m.path).map(|d| (mt.clone(), d)));
                if let Some((mount, dir)) = found {
                    h.v1.insert(
                        ctrl,
                        Hierarchy {
                            mount,
                            own_path: m.path.clone(),
                            own_dir: dir,
                        },
                    );
                }
            }
        }
        h
    }

    /// Resolves for the calling process from /proc/self.
    pub fn current() -> Result<Self> {
        let mi = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| CgroupError::io("/proc/self/mountinfo", e))?;
        let pc = std::fs::read_to_string("/proc/self/cgroup")
            .map_err(|e| CgroupError::io("/proc/self/cgroup", e))?;
        Ok(Self::resolve(&mi, &pc, |d| {
            std::fs::read_to_string(d.join("cgroup.controllers")).ok()
        }))
    }

    /// Whether `ctrl` is usable in the v2 hierarchy (and not bound to v1).
    pub fn on_v2(&self, ctrl: Controller) -> bool {
        !self.v1.contains_key(&ctrl)
            && self.unified.is_some()
            && ctrl
                .v2_name()
                .is_some_and(|n| self.unified_controllers.iter().any(|c| c == n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID_MI: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";
    const HYBRID_PC: &str = "\
9:name=systemd:/
8:pids:/
4:memory:/process_api/abc
2:cpuacct:/
1:cpu:/
0::/
";

    #[test]
    fn hybrid_resolves_nested_memory_cgroup() {
        let h = Hierarchies::resolve(HYBRID_MI, HYBRID_PC, |_| Some("hugetlb\n".into()));
        let mem = &h.v1[&Controller::Memory];
        assert_eq!(
            mem.own_dir,
            PathBuf::from("/sys/fs/cgroup/memory/process_api/abc")
        );
        assert_eq!(
            h.v1[&Controller::Cpu].own_dir,
            PathBuf::from("/sys/fs/cgroup/cpu")
        );
        let u = h.unified.as_ref().unwrap();
        assert_eq!(u.own_dir, PathBuf::from("/sys/fs/cgroup/unified"));
        assert_eq!(h.unified_controllers, vec!["hugetlb".to_string()]);
        assert!(!h.on_v2(Controller::Memory));
    }

    #[test]
    fn pure_v2_with_nested_root_mount() {
        // A container-style mount whose root is a sub-tree.
        let mi = "30 20 0:26 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let pc = "0::/kubepods/pod1/ctr\n";
        let h = Hierarchies::resolve(mi, pc, |_| Some("cpuset cpu io memory pids".into()));
        let u = h.unified.unwrap();
        assert_eq!(u.own_dir, PathBuf::from("/sys/fs/cgroup/ctr"));
        assert!(h.v1.is_empty());
    }

    #[test]
    fn v2_controller_detection() {
        let mi = "30 20 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let h = Hierarchies::resolve(mi, "0::/\n", |_| Some("cpu memory pids\n".into()));
        assert!(h.on_v2(Controller::Memory));
        assert!(h.on_v2(Controller::Cpu));
        assert!(!h.on_v2(Controller::Cpuset));
    }

    #[test]
    fn mountinfo_escapes_and_comounted_controllers() {
        let mi = "32 31 0:29 / /sys/fs/cgroup/cpu\\040cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n";
        let m = parse_mountinfo(mi);
        assert_eq!(
            m[0].mount_point,
            PathBuf::from("/sys/fs/cgroup/cpu cpuacct")
        );
        assert_eq!(m[0].options, vec!["cpu".to_string(), "cpuacct".to_string()]);
        let h = Hierarchies::resolve(mi, "2:cpu,cpuacct:/a\n", |_| None);
        assert_eq!(
            h.v1[&Controller::Cpuacct].own_dir,
            PathBuf::from("/sys/fs/cgroup/cpu cpuacct/a")
        );
    }

    #[test]
    fn membership_outside_mount_root_is_ignored() {
        let mi = "30 20 0:26 /other /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let h = Hierarchies::resolve(mi, "0::/mine\n", |_| None);
        assert!(h.unified.is_none());
    }
}
