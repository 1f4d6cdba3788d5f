//! Command lines for launchers that wrap the workload in namespaces but have
//! no cgroup support (bwrap, unshare, custom templates): the harness creates
//! the cgroup and places the wrapper into it before it execs, so the limits
//! reach the workload.

use std::path::Path;

use super::{peer_ns, program_path, Launcher};
use crate::cgroup::CgroupSet;
use crate::sandbox::{Exec, LaunchError, Rootfs, SandboxSpec, INIT_IN_ROOTFS};

/// Placeholders a custom template may use.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    (
        "workload",
        "the full workload command, shell-quoted (behind the init shim when there is one)",
    ),
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
            let init_host = spec
                .init
                .as_ref()
                .map(|i| i.path.to_string_lossy().into_owned());
            let (exec_path, init_path) = match spec.rootfs {
                Rootfs::Host => {
                    a.extend(["--bind", "/", "/", "--dev-bind", "/dev", "/dev"].map(String::from));
                    (wl.clone(), init_host.unwrap_or_default())
                }
                Rootfs::Minimal => {
                    // bwrap's own root is an empty tmpfs: bind only the workload.
                    a.extend(
                        ["--ro-bind", &wl, "/isobench-workload", "--tmpfs", "/tmp"]
                            .map(String::from),
                    );
                    if let Some(h) = init_host {
                        a.extend(["--ro-bind".into(), h, INIT_IN_ROOTFS.into()]);
                    }
                    ("/isobench-workload".into(), INIT_IN_ROOTFS.to_string())
                }
            };
            if spec.init.is_some() {
                // The shim, not bwrap's own reaper, is PID 1.
                a.push("--as-pid-1".into());
            }
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
            a.extend(spec.command_line(&exec_path, &init_path));
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
            let init = spec
                .init
                .as_ref()
                .map(|i| i.path.to_string_lossy().into_owned());
            a.extend(spec.command_line(&wl, &init.unwrap_or_default()));
            Ok(Exec { program, argv: a })
        }
        Launcher::Custom(t) => {
            let dirs = set.planned_dirs(n);
            let l = &spec.limits;
            let args: Vec<String> = spec.args.iter().map(|a| shell_quote(a)).collect();
            let init = spec
                .init
                .as_ref()
                .map(|i| i.path.to_string_lossy().into_owned());
            let values = [
                ("workload_path", shell_quote(&wl)),
                (
                    "workload",
                    spec.command_line(&wl, &init.unwrap_or_default())
                        .iter()
                        .map(|a| shell_quote(a))
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
    fn wrappers_put_the_init_shim_in_front() {
        let set = CgroupSet::discover(None);
        let Ok(set) = set else { return };
        let mut spec = SandboxSpec::workload(&["ready"]);
        spec.namespaces = crate::sandbox::Namespaces::parse("pid,mnt").unwrap();
        spec.init = Some(crate::sandbox::InitShim {
            name: "tini".into(),
            path: "/usr/bin/tini-static".into(),
            args: vec!["--".into()],
        });
        let wl = Path::new("/x/isobench-workload");
        // The command behind the wrapper's `--` with the host's root.
        const ON_HOST: [&str; 4] = [
            "/usr/bin/tini-static",
            "--",
            "/x/isobench-workload",
            "ready",
        ];
        let tail =
            |argv: &[String]| argv[argv.iter().position(|a| a == "--").unwrap() + 1..].to_vec();
        if crate::env::which("bwrap").is_some() {
            let e = command(&Launcher::Bwrap, &spec, &set, 0, wl).unwrap();
            assert!(e.argv.contains(&"--as-pid-1".to_string()), "{:?}", e.argv);
            assert_eq!(tail(&e.argv), ON_HOST);
            spec.rootfs = Rootfs::Minimal;
            let e = command(&Launcher::Bwrap, &spec, &set, 0, wl).unwrap();
            assert!(e
                .argv
                .windows(3)
                .any(|w| w == ["--ro-bind", "/usr/bin/tini-static", INIT_IN_ROOTFS]));
            assert_eq!(
                tail(&e.argv),
                [INIT_IN_ROOTFS, "--", "/isobench-workload", "ready"]
            );
            spec.rootfs = Rootfs::Host;
        }
        if crate::env::which("unshare").is_some() {
            let e = command(&Launcher::Unshare, &spec, &set, 0, wl).unwrap();
            assert_eq!(tail(&e.argv), ON_HOST);
        }
        let e = command(
            &Launcher::Custom("exec {workload}".into()),
            &spec,
            &set,
            0,
            wl,
        )
        .unwrap();
        assert_eq!(
            e.argv[2],
            "exec /usr/bin/tini-static -- /x/isobench-workload ready"
        );
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(shell_quote("abc/d-1"), "abc/d-1");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
