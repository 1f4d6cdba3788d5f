//! Command lines for launchers that wrap the workload in namespaces but have
//! no cgroup support (bwrap, unshare, custom templates): the harness creates
//! the cgroup and places the wrapper into it before it execs, so the limits
//! reach the workload.

use std::path::Path;

use super::{peer_ns, program_path, Launcher};
use crate::cgroup::CgroupSet;
use crate::sandbox::{Exec, LaunchError, Rootfs, SandboxSpec};

/// Placeholders a custom template may use.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("workload", "the full workload command, shell-quoted"),
    ("workload_path", "host path of the static isobench-workload"),
    ("args", "the workload's arguments, shell-quoted"),
    (
        "cgroup",
        "the sandbox cgroup directories (space-separated), already holding the launcher",
    ),
    ("id", "a unique sandbox id"),
    (
        "namespaces",
        "the namespace set asked for, e.g. pid,mnt,uts,ipc",
    ),
    ("cpu_quota_us", "CFS quota in µs or max"),
    ("cpu_period_us", "CFS period in µs"),
    ("memory_max", "memory limit in bytes or max"),
    ("pids_max", "pids limit or max"),
];

/// Rejects templates with unknown `{placeholders}` or unbalanced braces.
pub fn check_template(t: &str) -> Result<(), String> {
    let mut rest = t;
    while let Some(i) = rest.find('{') {
        let after = &rest[i + 1..];
        let j = after
            .find('}')
            .ok_or_else(|| format!("custom template: unclosed '{{' in {t:?}"))?;
        let name = &after[..j];
        if !PLACEHOLDERS.iter().any(|(p, _)| *p == name) {
            return Err(format!(
                "custom template: unknown placeholder {{{name}}}; accepted: {}",
                PLACEHOLDERS
                    .iter()
                    .map(|(p, _)| format!("{{{p}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        rest = &after[j + 1..];
    }
    Ok(())
}

/// Quotes a word for /bin/sh.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Substitutes the placeholders of a checked template.
pub fn expand_template(t: &str, values: &[(&str, String)]) -> String {
    let mut out = t.to_string();
    for (k, v) in values {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

fn opt(v: Option<u64>) -> String {
    v.map_or_else(|| "max".into(), |n| n.to_string())
}

/// The wrapper's command line for `spec`.
pub fn command(
    launcher: &Launcher,
    spec: &SandboxSpec,
    set: &CgroupSet,
    n: u32,
    workload: &Path,
) -> Result<Exec, LaunchError> {
    let ns = spec.namespaces;
    let wl = workload.to_string_lossy().into_owned();
    match launcher {
        Launcher::Bwrap => {
            let program = program_path("bwrap")?;
            let mut a: Vec<String> = vec!["bwrap".into(), "--die-with-parent".into()];
            let exec_path = match spec.rootfs {
                Rootfs::Host => {
                    a.extend(["--bind", "/", "/", "--dev-bind", "/dev", "/dev"].map(String::from));
                    wl.clone()
                }
                Rootfs::Minimal => {
                    // bwrap's own root is an empty tmpfs: bind only the workload.
                    a.extend(
                        ["--ro-bind", &wl, "/isobench-workload", "--tmpfs", "/tmp"]
                            .map(String::from),
                    );
                    "/isobench-workload".into()
                }
            };
            if ns.pid || spec.rootfs == Rootfs::Minimal {
                a.extend(["--proc", "/proc"].map(String::from));
            }
            for o in &spec.proc_overlays {
                a.push("--ro-bind".into());
                a.push(o.source.to_string_lossy().into_owned());
                a.push(format!("/proc/{}", o.name));
            }
            a.extend(peer_ns(&ns, |p| p.bwrap).map(String::from));
            if ns.user {
                a.extend(["--uid", "0", "--gid", "0"].map(String::from));
            }
            if let Some(h) = &spec.hostname {
                a.extend(["--hostname".to_string(), h.clone()]);
            }
            a.push("--".into());
            a.push(exec_path);
            a.extend(spec.args.iter().cloned());
            Ok(Exec { program, argv: a })
        }
        Launcher::Unshare => {
            let program = program_path("unshare")?;
            let mut a: Vec<String> = vec!["unshare".into(), "--kill-child".into()];
            a.extend(peer_ns(&ns, |p| p.unshare).map(String::from));
            if ns.user {
                a.extend(["--user", "--map-root-user"].map(String::from));
            }
            if ns.pid {
                a.extend(["--pid", "--fork"].map(String::from));
                if ns.mnt {
                    a.push("--mount-proc".into());
                }
            }
            a.push("--".into());
            if !spec.proc_overlays.is_empty() {
                // unshare(1) cannot bind files itself: a shell inside the new
                // mount namespace binds them over the fresh /proc, then execs.
                a.extend([
                    "/bin/sh".into(),
                    "-c".into(),
                    overlay_script(spec),
                    "sh".into(),
                ]);
            }
            a.push(wl);
            a.extend(spec.args.iter().cloned());
            Ok(Exec { program, argv: a })
        }
        Launcher::Custom(t) => {
            let dirs = set.planned_dirs(n);
            let l = &spec.limits;
            let args: Vec<String> = spec.args.iter().map(|a| shell_quote(a)).collect();
            let values = [
                ("workload_path", shell_quote(&wl)),
                (
                    "workload",
                    std::iter::once(shell_quote(&wl))
                        .chain(args.iter().cloned())
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                ("args", args.join(" ")),
                (
                    "cgroup",
                    dirs.iter()
                        .map(|d| shell_quote(&d.to_string_lossy()))
                        .collect::<Vec<_>>()
                        .join(" "),
                ),
                ("id", set.sandbox_name(n)),
                ("namespaces", ns.to_string()),
                ("cpu_quota_us", opt(l.cpu_max.and_then(|c| c.quota_us))),
                (
                    "cpu_period_us",
                    l.cpu_max
                        .map_or_else(|| "100000".into(), |c| c.period_us.to_string()),
                ),
                ("memory_max", opt(l.memory_max)),
                ("pids_max", opt(l.pids_max)),
            ];
            Ok(Exec {
                program: "/bin/sh".into(),
                argv: vec!["sh".into(), "-c".into(), expand_template(t, &values)],
            })
        }
        other => Err(LaunchError::Spec(format!(
            "{other} is not a wrapper launcher"
        ))),
    }
}

/// `sh -c` text binding each /proc overlay read-only, then exec'ing "$@".
fn overlay_script(spec: &SandboxSpec) -> String {
    let mut s = String::from("set -e; ");
    for o in &spec.proc_overlays {
        let dst = shell_quote(&format!("/proc/{}", o.name));
        s += &format!(
            "mount --bind {} {dst}; mount -o remount,bind,ro,nosuid,nodev {dst}; ",
            shell_quote(&o.source.to_string_lossy())
        );
    }
    s + "exec \"$@\""
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_checked_and_expanded() {
        assert!(check_template("x {workload} {cgroup}").is_ok());
        assert!(check_template("x {workloads}")
            .unwrap_err()
            .contains("unknown placeholder"));
        assert!(check_template("x {workload")
            .unwrap_err()
            .contains("unclosed"));
        let e = expand_template(
            "run {id} -- {workload}",
            &[("id", "a".into()), ("workload", "w 1".into())],
        );
        assert_eq!(e, "run a -- w 1");
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("abc/d-1"), "abc/d-1");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
