//! The namespace checks: one detector per namespace kind reads the probe's
//! report and says whether the host showed through. In a set each kind must
//! isolate; in the no-namespace baseline each leak must be visible, or the
//! detector's passes prove nothing.

use isobench_reports::names::isolation as n;
use isobench_reports::{Check, Status};

use super::host::Host;
use super::Expect;
use crate::sandbox::event::Probe;
use crate::sandbox::IdMap;

/// How a namespace's check is judged in this probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// In the set: must isolate.
    Isolate,
    /// The no-namespace baseline: the leak must be visible.
    Baseline,
}

/// What one namespace's detector saw.
struct Seen {
    /// Whether the host leaked through.
    leaked: bool,
    /// Isolation expected, in numbers.
    isolated_text: String,
    /// The leak the baseline must show.
    leak_text: String,
    observed: String,
    /// Hint for a failing isolation check.
    note: String,
}

/// Nothing can be told: the view was unreadable or there was nothing to
/// look for. What was seen, and why it says nothing.
struct Blind(String, String);

impl Blind {
    fn new(observed: impl Into<String>, why: impl Into<String>) -> Self {
        Blind(observed.into(), why.into())
    }
}

/// A detector's reading: `Err` when it cannot tell.
type Sight = Result<Seen, Blind>;

/// A view the probe reports, or `Blind` naming the file it could not read.
fn readable<'a, T>(view: &'a Option<T>, observed: &str, file: &str) -> Result<&'a T, Blind> {
    view.as_ref()
        .ok_or_else(|| Blind::new(observed, format!("the probe could not read {file}")))
}

fn list(v: &[String], max: usize) -> String {
    let mut s = v.iter().take(max).cloned().collect::<Vec<_>>().join(", ");
    if v.len() > max {
        s += &format!(", … ({} more)", v.len() - max);
    }
    s
}

/// Parses the kernel's uid_map / gid_map text ("0 65534 1" per line).
pub fn parse_id_map(text: &str) -> Option<Vec<IdMap>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<u32> = l
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?;
            match f[..] {
                [inside, outside, count] => Some(IdMap {
                    inside,
                    outside,
                    count,
                }),
                _ => None,
            }
        })
        .collect()
}

fn map_text(m: &[IdMap]) -> String {
    m.iter()
        .map(|m| format!("{} {} {}", m.inside, m.outside, m.count))
        .collect::<Vec<_>>()
        .join(", ")
}

fn see_pid(p: &Probe, exp: &Expect, host: &Host) -> Sight {
    let pid = u64::try_from(p.pid).ok();
    let ppid = u64::try_from(p.ppid).ok();
    let vis = p.visible_pids.as_ref();
    let harness = u64::from(host.harness_pid);
    // Its own pid namespace's processes: init (a launcher may keep one, as
    // bwrap does), itself and its parent.
    let own = |x: u64| x == 1 || Some(x) == pid || Some(x) == ppid;
    let foreign = vis.map_or(0, |v| v.iter().filter(|&&x| !own(x)).count());
    let sees_harness = vis.is_some_and(|v| v.contains(&harness));
    let leaked = foreign > 0 || sees_harness || pid == u64::try_from(exp.host_pid).ok();
    let show = |v: Option<u64>| v.map_or("?".into(), |x| x.to_string());
    Ok(Seen {
        leaked,
        isolated_text: "only its own pid namespace's processes visible (init, itself, its parent)"
            .into(),
        leak_text: format!(
            "host pids visible: its host pid {} or the harness's {harness}",
            exp.host_pid
        ),
        observed: format!(
            "pid {} (parent {}); {}",
            show(pid),
            show(ppid),
            match vis {
                Some(v) => format!(
                    "{} pid(s) visible, {foreign} of them not its own{}",
                    v.len(),
                    if sees_harness {
                        format!(", the harness's {harness} among them")
                    } else {
                        String::new()
                    }
                ),
                None => "/proc unreadable".into(),
            }
        ),
        note: if pid.is_some_and(|x| x <= 2) && foreign > 0 {
            "a pid namespace without its own /proc mount still lists the host's processes".into()
        } else {
            String::new()
        },
    })
}

fn see_mnt(p: &Probe, host: &Host) -> Sight {
    let keys = readable(&p.mount_keys, "mountinfo unreadable", "/proc/self/mountinfo")?;
    let host_keys = host.mount_keys.as_ref().ok_or_else(|| {
        Blind::new(
            "no host mount table",
            "the harness could not read its own /proc/self/mountinfo",
        )
    })?;
    let host_set: std::collections::HashSet<&str> = host_keys.iter().map(String::as_str).collect();
    let point = |k: &String| k.rsplit(' ').next().unwrap_or("").to_string();
    let shared: Vec<String> = keys
        .iter()
        .filter(|k| host_set.contains(k.as_str()))
        .map(point)
        .collect();
    let points: Vec<String> = keys.iter().map(point).collect();
    Ok(Seen {
        leaked: !shared.is_empty(),
        isolated_text: format!(
            "none of the host's {} mounts (same device, root and mount point)",
            host_keys.len()
        ),
        leak_text: "the host's mounts visible".into(),
        observed: if shared.is_empty() {
            format!(
                "{} mount(s): {}; none the host's",
                keys.len(),
                list(&points, 6)
            )
        } else {
            format!(
                "{} mount(s), {} of them the host's: {}",
                keys.len(),
                shared.len(),
                list(&shared, 5)
            )
        },
        note: String::new(),
    })
}

fn see_net(p: &Probe, exp: &Expect) -> Sight {
    let ifs = readable(&p.interfaces, "interfaces unreadable", "/proc/net/dev")?;
    let others = ifs.iter().filter(|i| *i != "lo").count();
    let observed = format!("interfaces: {}", list(ifs, 8));
    // In the host's own namespace, only lo means the host has nothing else.
    if exp.spec.namespaces.is_empty() && others == 0 {
        return Err(Blind::new(
            observed,
            "this host has no interface besides lo, so a net leak looks like isolation",
        ));
    }
    Ok(Seen {
        leaked: others > 0,
        isolated_text: "only lo".into(),
        leak_text: "host interfaces besides lo visible".into(),
        observed,
        note: String::new(),
    })
}

fn see_uts(p: &Probe, exp: &Expect, host: &Host) -> Sight {
    let h = p.hostname.as_deref();
    let own = exp.spec.hostname.as_deref();
    let host_changed = host.hostname_after != host.hostname_before;
    let leaked = match own {
        Some(own) => h != Some(own) || host_changed,
        None => h == Some(host.hostname_before.as_str()),
    };
    Ok(Seen {
        leaked,
        isolated_text: format!(
            "hostname {:?} inside, host's stays {:?}",
            own.unwrap_or("(own)"),
            host.hostname_before
        ),
        leak_text: format!("the host's hostname {:?}", host.hostname_before),
        observed: format!(
            "hostname {:?} inside; host's {:?}{}",
            h.unwrap_or("?"),
            host.hostname_after,
            if host_changed {
                format!(" (was {:?})", host.hostname_before)
            } else {
                String::new()
            }
        ),
        note: if host_changed {
            "the sandbox renamed the host".into()
        } else {
            String::new()
        },
    })
}

fn see_ipc(p: &Probe, host: &Host) -> Sight {
    let id = host.shm_id.map_err(|e| {
        Blind::new(
            "no segment to look for",
            format!("the harness could not make a SysV shm segment: {e}"),
        )
    })?;
    let ids = readable(
        &p.sysvipc_shm,
        "/proc/sysvipc/shm unreadable",
        "/proc/sysvipc/shm",
    )?;
    let seen = ids.contains(&id);
    Ok(Seen {
        leaked: seen,
        isolated_text: format!("the harness's shm segment {id} absent"),
        leak_text: format!("the harness's shm segment {id} listed"),
        observed: format!(
            "{} segment(s) listed; {id} {}",
            ids.len(),
            if seen { "among them" } else { "absent" }
        ),
        note: String::new(),
    })
}

fn see_user(p: &Probe, exp: &Expect) -> Sight {
    let uid = parse_id_map(p.uid_map.as_deref().unwrap_or(""));
    let gid = parse_id_map(p.gid_map.as_deref().unwrap_or(""));
    let (Some(uid), Some(gid)) = (uid, gid) else {
        return Err(Blind::new(
            format!(
                "uid_map {}, gid_map {}",
                serde_json::json!(p.uid_map),
                serde_json::json!(p.gid_map)
            ),
            "the probe could not read its id maps",
        ));
    };
    let root_is_root = uid.iter().any(|m| m.inside == 0 && m.outside == 0);
    let as_configured = uid == exp.spec.uid_map && gid == exp.spec.gid_map;
    Ok(Seen {
        leaked: if exp.spec.namespaces.user {
            !as_configured
        } else {
            root_is_root
        },
        isolated_text: format!(
            "uid_map {}, gid_map {}",
            map_text(&exp.spec.uid_map),
            map_text(&exp.spec.gid_map)
        ),
        leak_text: "root inside is root on the host (uid 0 → 0)".into(),
        observed: format!(
            "uid_map {}, gid_map {}; uid {} inside",
            map_text(&uid),
            map_text(&gid),
            p.uid
        ),
        note: String::new(),
    })
}

fn see_cgroup(p: &Probe, exp: &Expect) -> Sight {
    let lines = readable(&p.cgroup, "/proc/self/cgroup unreadable", "/proc/self/cgroup")?;
    let not_root: Vec<String> = lines
        .iter()
        .filter(|l| l.splitn(3, ':').nth(2) != Some("/"))
        .cloned()
        .collect();
    let names_own =
        !exp.cgroup_name.is_empty() && not_root.iter().any(|l| l.contains(&exp.cgroup_name));
    Ok(Seen {
        leaked: !not_root.is_empty(),
        isolated_text: format!("every hierarchy's path \"/\" ({} lines)", lines.len()),
        leak_text: format!("its cgroup path ({}) visible", exp.cgroup_name),
        observed: if not_root.is_empty() {
            format!("all {} lines at \"/\"", lines.len())
        } else {
            format!(
                "{} of {} lines not at \"/\": {}",
                not_root.len(),
                lines.len(),
                list(&not_root, 4)
            )
        },
        note: if names_own && exp.spec.namespaces.cgroup {
            "the namespace is rooted above the sandbox's own cgroup: the process entered those hierarchies after the namespace was made (enter the cgroup first, then unshare the cgroup namespace)".into()
        } else {
            String::new()
        },
    })
}

/// One check per namespace kind of the set (pid, mnt, net, uts, ipc, user,
/// cgroup), or per kind for the baseline. Kinds a set leaves out are not
/// judged: their leaks are what the set chose.
pub fn namespace_checks(p: &Probe, exp: &Expect, host: &Host) -> Vec<Check> {
    let ns = exp.spec.namespaces;
    let kinds: [(&str, bool, Sight); 7] = [
        (n::PID, ns.pid, see_pid(p, exp, host)),
        (n::MNT, ns.mnt, see_mnt(p, host)),
        (n::NET, ns.net, see_net(p, exp)),
        (n::UTS, ns.uts, see_uts(p, exp, host)),
        (n::IPC, ns.ipc, see_ipc(p, host)),
        (n::USER, ns.user, see_user(p, exp)),
        (n::CGROUP, ns.cgroup, see_cgroup(p, exp)),
    ];
    kinds
        .into_iter()
        .filter(|(_, on, _)| *on || ns.is_empty())
        .map(|(name, on, seen)| {
            let role = if on { Role::Isolate } else { Role::Baseline };
            verdict(name, role, seen)
        })
        .collect()
}

fn verdict(name: &str, role: Role, sight: Sight) -> Check {
    let s = match sight {
        Ok(s) => s,
        Err(Blind(observed, why)) => {
            return Check::new(name, Status::Skip, "an observable view", observed, why)
        }
    };
    let leaked = s.leaked;
    let (status, expected, detail) = match role {
        Role::Isolate => (
            Status::pass_if(!leaked),
            s.isolated_text,
            if leaked { s.note } else { String::new() },
        ),
        Role::Baseline => (
            Status::pass_if(leaked),
            format!(
                "{} (no {name} namespace: proves the check can fail)",
                s.leak_text
            ),
            if leaked {
                String::new()
            } else {
                "the detector saw no leak without a namespace, so its passes prove nothing".into()
            },
        ),
    };
    Check::new(name, status, expected, s.observed, detail)
}
