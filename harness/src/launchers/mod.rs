//! Launchers under test: ours (`native`), a plain spawn (`bare`, the
//! physical-limit reference), OCI runtimes (`runc`, `crun`), wrappers
//! (`bwrap`, `unshare`), `custom:TEMPLATE`, and the named runtimes `youki`
//! (an OCI runtime), `podman` (the engine, runc underneath) and `nspawn`
//! (systemd-nspawn). Each turns a SandboxSpec into a running workload;
//! scenarios do not care which one they got.

pub mod nspawn;
pub mod oci;
pub mod podman;
pub mod wrappers;

use std::fmt;
use std::path::{Path, PathBuf};

use crate::cgroup::CgroupSet;
use crate::sandbox::spec::Ns;
use crate::sandbox::{self, CgroupMode, Exec, LaunchError, Namespaces, Running, SandboxSpec};

/// How each peer launcher asks for a namespace kind: the OCI `type`, the
/// bwrap flag, the unshare(1) flag. None where that launcher does it
/// otherwise (OCI always has a mount namespace; unshare's pid and user need
/// more than one flag) or cannot (bwrap has no time namespace and always a
/// mount namespace).
struct PeerNs {
    kind: Ns,
    oci: Option<&'static str>,
    bwrap: Option<&'static str>,
    unshare: Option<&'static str>,
}

#[rustfmt::skip]
const PEER_NS: [PeerNs; 8] = [
    PeerNs { kind: Ns::Pid, oci: Some("pid"), bwrap: Some("--unshare-pid"), unshare: None },
    PeerNs { kind: Ns::Mnt, oci: None, bwrap: None, unshare: Some("--mount") },
    PeerNs { kind: Ns::Net, oci: Some("network"), bwrap: Some("--unshare-net"), unshare: Some("--net") },
    PeerNs { kind: Ns::Uts, oci: Some("uts"), bwrap: Some("--unshare-uts"), unshare: Some("--uts") },
    PeerNs { kind: Ns::Ipc, oci: Some("ipc"), bwrap: Some("--unshare-ipc"), unshare: Some("--ipc") },
    PeerNs { kind: Ns::User, oci: Some("user"), bwrap: Some("--unshare-user"), unshare: None },
    PeerNs { kind: Ns::Cgroup, oci: Some("cgroup"), bwrap: Some("--unshare-cgroup"), unshare: Some("--cgroup") },
    PeerNs { kind: Ns::Time, oci: Some("time"), bwrap: None, unshare: Some("--time") },
];

/// What one launcher's column of [`PEER_NS`] says for the kinds in `ns`, in
/// `Ns::ALL` order.
fn peer_ns(
    ns: &Namespaces,
    column: fn(&PeerNs) -> Option<&'static str>,
) -> impl Iterator<Item = &'static str> + '_ {
    PEER_NS.iter().filter(|p| ns.has(p.kind)).filter_map(column)
}

/// A launcher, parsed from `--launcher NAME`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Launcher {
    Native,
    Bare,
    Runc,
    Crun,
    Bwrap,
    Unshare,
    /// A command template; see [`wrappers::expand_template`].
    Custom(String),
    /// Any OCI runtime binary with runc's command set (create, start,
    /// delete, state): runc, crun, youki, a local build.
    Oci(PathBuf),
    /// youki, found on PATH or in cargo's bin directory (`cargo install
    /// youki`); driven like `oci:PATH`.
    Youki,
    /// podman with runc underneath, the cgroupfs manager and a store of
    /// this run's own (see [`podman`]).
    Podman,
    /// systemd-nspawn without registering with systemd (see [`nspawn`]).
    Nspawn,
}

/// Accepted `--launcher` names.
pub const NAMES: &str =
    "native, bare, runc, crun, youki, podman, nspawn, bwrap, unshare, oci:PATH, \
     custom:TEMPLATE (each optionally as LABEL=SPEC)";

/// One arm of a run: a label (what results and `compare --base-arm` name
/// it by) and the launcher behind it. `--launcher LABEL=SPEC`; a bare SPEC
/// is its own label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arm {
    pub label: String,
    pub launcher: Launcher,
}

impl Arm {
    /// Parses `LABEL=SPEC` or `SPEC`. A label is letters, digits, `_`, `-`
    /// and `.` (so `custom:…=…` templates are never mistaken for one).
    pub fn parse(s: &str) -> Result<Arm, String> {
        if let Some((label, spec)) = s.split_once('=') {
            let is_label = !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            if is_label {
                if spec.is_empty() {
                    return Err(format!("arm {label:?} has no launcher after '='"));
                }
                return Ok(Arm {
                    label: label.to_string(),
                    launcher: Launcher::parse(spec)?,
                });
            }
        }
        let launcher = Launcher::parse(s)?;
        Ok(Arm {
            label: launcher.name().to_string(),
            launcher,
        })
    }

    /// Parses every `--launcher`; two arms may share a spec, not a label.
    pub fn parse_all(specs: &[String]) -> Result<Vec<Arm>, String> {
        let arms = specs
            .iter()
            .map(|s| Arm::parse(s))
            .collect::<Result<Vec<_>, _>>()?;
        Arm::distinct(arms)
    }

    /// Checks parsed arms: two may share a spec, not a label.
    pub fn distinct(arms: Vec<Arm>) -> Result<Vec<Arm>, String> {
        for (i, a) in arms.iter().enumerate() {
            if arms[..i].iter().any(|b| b.label == a.label) {
                return Err(format!(
                    "two arms are labelled {:?}; name them apart with LABEL=SPEC (e.g. base={} new={})",
                    a.label, a.launcher, a.launcher
                ));
            }
        }
        Ok(arms)
    }

    /// The spec text when it differs from the label (results' `launcher_spec`).
    pub fn spec_if_labelled(&self) -> Option<String> {
        let spec = self.launcher.to_string();
        (spec != self.label).then_some(spec)
    }
}

impl Launcher {
    /// Parses a launcher name.
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "native" => Launcher::Native,
            "bare" => Launcher::Bare,
            "runc" => Launcher::Runc,
            "crun" => Launcher::Crun,
            "bwrap" => Launcher::Bwrap,
            "unshare" => Launcher::Unshare,
            "youki" => Launcher::Youki,
            "podman" => Launcher::Podman,
            "nspawn" | "systemd-nspawn" => Launcher::Nspawn,
            _ if s.starts_with("oci:") => {
                let path = &s["oci:".len()..];
                if path.is_empty() {
                    return Err(
                        "oci: needs the path of an OCI runtime binary after the colon".into(),
                    );
                }
                let p = PathBuf::from(path);
                let p = if p.components().count() == 1 {
                    crate::env::which(path)
                        .ok_or_else(|| format!("oci:{path}: not found on PATH"))?
                } else {
                    p
                };
                if !p.is_file() {
                    return Err(format!("oci:{}: no such file", p.display()));
                }
                Launcher::Oci(p)
            }
            _ => match s.strip_prefix("custom:") {
                Some(t) if !t.trim().is_empty() => {
                    wrappers::check_template(t)?;
                    Launcher::Custom(t.to_string())
                }
                Some(_) => return Err("custom: needs a command template after the colon".into()),
                None => return Err(format!("unknown launcher {s:?}; accepted: {NAMES}")),
            },
        })
    }

    /// Short name used in results (`custom` for templates).
    pub fn name(&self) -> &'static str {
        match self {
            Launcher::Native => "native",
            Launcher::Bare => "bare",
            Launcher::Runc => "runc",
            Launcher::Crun => "crun",
            Launcher::Bwrap => "bwrap",
            Launcher::Unshare => "unshare",
            Launcher::Custom(_) => "custom",
            Launcher::Oci(_) => "oci",
            Launcher::Youki => "youki",
            Launcher::Podman => "podman",
            Launcher::Nspawn => "nspawn",
        }
    }

    /// The program this launcher needs on PATH.
    pub fn program(&self) -> Option<&'static str> {
        match self {
            Launcher::Runc => Some("runc"),
            Launcher::Crun => Some("crun"),
            Launcher::Bwrap => Some("bwrap"),
            Launcher::Unshare => Some("unshare"),
            Launcher::Youki => Some("youki"),
            Launcher::Podman => Some("podman"),
            Launcher::Nspawn => Some("systemd-nspawn"),
            _ => None,
        }
    }

    /// Where this launcher's program is: `oci:PATH`'s path, youki on PATH
    /// or in cargo's bin directory, any other program on PATH.
    pub fn program_path(&self) -> Result<PathBuf, LaunchError> {
        match self {
            Launcher::Oci(p) => Ok(p.clone()),
            Launcher::Youki => youki_path().ok_or_else(|| {
                LaunchError::Spec(format!(
                    "youki is not installed: not on PATH, not in {} (cargo install youki --locked --features v1,v2)",
                    cargo_bin().map(|d| d.display().to_string()).unwrap_or_else(|| "~/.cargo/bin".into())
                ))
            }),
            _ => program_path(self.program().unwrap_or("runc")),
        }
    }

    /// Whether the launcher always makes a mount namespace of its own (so a
    /// workload asked to share the host's namespaces does not see the host).
    pub fn always_own_mount_ns(&self) -> bool {
        matches!(
            self,
            Launcher::Runc
                | Launcher::Crun
                | Launcher::Oci(_)
                | Launcher::Youki
                | Launcher::Podman
                | Launcher::Nspawn
        )
    }

    /// Whether limits reach the workload (bare applies none).
    pub fn applies_limits(&self) -> bool {
        !matches!(self, Launcher::Bare)
    }

    /// Who owns the cgroup: the harness (native and wrappers) or the runtime.
    pub fn harness_cgroup(&self) -> bool {
        matches!(
            self,
            Launcher::Native
                | Launcher::Bwrap
                | Launcher::Unshare
                | Launcher::Custom(_)
                | Launcher::Nspawn
        )
    }

    /// Why this launcher cannot provide `ns`, if it cannot.
    pub fn unsupported(&self, ns: &Namespaces) -> Option<String> {
        let missing: Vec<&str> = match self {
            Launcher::Native | Launcher::Unshare | Launcher::Custom(_) => Vec::new(),
            Launcher::Bare => {
                if ns.is_empty() {
                    Vec::new()
                } else {
                    return Some("bare is a plain spawn: it creates no namespace".into());
                }
            }
            // bwrap 0.8 and runc 1.1 have no time namespace.
            Launcher::Bwrap | Launcher::Runc => {
                if ns.time {
                    vec!["time"]
                } else {
                    Vec::new()
                }
            }
            Launcher::Crun | Launcher::Oci(_) | Launcher::Youki => Vec::new(),
            Launcher::Podman => podman::unsupported(ns),
            Launcher::Nspawn => nspawn::unsupported(ns),
        };
        (!missing.is_empty()).then(|| {
            format!(
                "{} cannot create the {} namespace",
                self.name(),
                missing.join(", ")
            )
        })
    }

    /// Why this launcher cannot run on this machine at all, if so.
    pub fn unavailable(&self) -> Option<String> {
        if let Launcher::Oci(p) = self {
            use std::os::unix::fs::PermissionsExt;
            let exec = std::fs::metadata(p).is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
            return (!exec).then(|| format!("{} is not an executable file", p.display()));
        }
        if let Launcher::Youki = self {
            return self.program_path().err().map(|e| e.to_string());
        }
        if let Launcher::Podman = self {
            if let Some(why) = podman::unavailable() {
                return Some(why);
            }
        }
        let p = self.program()?;
        if crate::env::which(p).is_none() {
            return Some(format!(
                "{p} is not installed (apt-get install {})",
                package_of(p)
            ));
        }
        None
    }

    /// Starts `spec` through this launcher. `n` numbers the sandbox uniquely
    /// within the run; `rootfs_dir` is the staging mount point.
    pub fn launch(
        &self,
        spec: &SandboxSpec,
        set: &CgroupSet,
        n: u32,
        workload: &Path,
        rootfs_dir: &Path,
    ) -> Result<Running, LaunchError> {
        match self {
            Launcher::Native => sandbox::launch(spec, set, n, workload, Some(rootfs_dir)),
            Launcher::Bare => {
                let exec = Exec {
                    program: workload.to_path_buf(),
                    argv: std::iter::once("isobench-workload".to_string())
                        .chain(spec.args.iter().cloned())
                        .collect(),
                };
                let mut s = spec.clone();
                s.namespaces = Namespaces::default();
                sandbox::launch_with(&s, set, n, workload, None, Some(&exec), CgroupMode::None)
            }
            Launcher::Bwrap | Launcher::Unshare | Launcher::Custom(_) => {
                let exec = wrappers::command(self, spec, set, n, workload)?;
                sandbox::launch_with(
                    spec,
                    set,
                    n,
                    workload,
                    None,
                    Some(&exec),
                    CgroupMode::Create,
                )
            }
            Launcher::Runc | Launcher::Crun | Launcher::Oci(_) | Launcher::Youki => {
                oci::launch(self, spec, set, n, workload)
            }
            Launcher::Podman => podman::launch(spec, set, n, workload),
            Launcher::Nspawn => nspawn::launch(spec, set, n, workload),
        }
    }
}

impl fmt::Display for Launcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Launcher::Custom(t) => write!(f, "custom:{t}"),
            Launcher::Oci(p) => write!(f, "oci:{}", p.display()),
            o => write!(f, "{}", o.name()),
        }
    }
}

fn package_of(program: &str) -> &'static str {
    match program {
        "bwrap" => "bubblewrap",
        "unshare" => "util-linux",
        "runc" => "runc",
        "crun" => "crun",
        "podman" => "podman",
        "systemd-nspawn" => "systemd-container",
        _ => "?",
    }
}

/// Starts a peer's command line with its own teardown registered (run
/// at teardown or drop, and at once if the launch fails).
pub(crate) fn launch_peer(
    spec: &SandboxSpec,
    set: &CgroupSet,
    n: u32,
    workload: &Path,
    exec: &Exec,
    cgroup: CgroupMode,
    cleanup: impl FnOnce() -> Result<(), String> + Send + 'static,
) -> Result<Running, LaunchError> {
    match sandbox::launch_with(spec, set, n, workload, None, Some(exec), cgroup) {
        Ok(mut r) => {
            r.set_cleanup(Box::new(cleanup));
            Ok(r)
        }
        Err(e) => {
            let _ = cleanup();
            Err(e)
        }
    }
}

/// An error unless some directory of a runtime's container cgroup exists.
pub(crate) fn require_cgroup(
    runtime: &str,
    view: &crate::cgroup::CgroupView,
) -> Result<(), LaunchError> {
    if view.dirs().iter().any(|d| d.is_dir()) {
        return Ok(());
    }
    Err(LaunchError::Setup(format!(
        "{runtime}: no container cgroup at {}",
        view.dirs()
            .first()
            .map(|d| d.display().to_string())
            .unwrap_or_default()
    )))
}

/// cargo's bin directory: `$CARGO_HOME/bin`, else `~/.cargo/bin`.
fn cargo_bin() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|d| d.join("bin"))
}

/// youki on PATH, else in cargo's bin directory (where `cargo install`
/// puts it).
pub fn youki_path() -> Option<PathBuf> {
    crate::env::which("youki").or_else(|| {
        let p = cargo_bin()?.join("youki");
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(&p)
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .then_some(p)
    })
}

/// Absolute path of a peer program.
pub fn program_path(name: &str) -> Result<PathBuf, LaunchError> {
    crate::env::which(name).ok_or_else(|| {
        LaunchError::Spec(format!(
            "{name} is not installed (apt-get install {})",
            package_of(name)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names_and_templates() {
        assert_eq!(Launcher::parse("runc").unwrap(), Launcher::Runc);
        assert!(Launcher::parse("docker").unwrap_err().contains("accepted"));
        assert!(Launcher::parse("custom:").is_err());
        let c = Launcher::parse("custom:sh -c '{workload}'").unwrap();
        assert_eq!(c.name(), "custom");
        assert!(Launcher::parse("custom:echo {nope}").is_err());
    }

    #[test]
    fn arms_with_labels() {
        let a = Arm::parse("base=runc").unwrap();
        assert_eq!((a.label.as_str(), &a.launcher), ("base", &Launcher::Runc));
        assert_eq!(a.spec_if_labelled().as_deref(), Some("runc"));
        let b = Arm::parse("native").unwrap();
        assert_eq!(b.label, "native");
        assert_eq!(b.spec_if_labelled(), None);
        // A template with '=' inside is not a label.
        let c = Arm::parse("custom:X=1 exec {workload}").unwrap();
        assert_eq!(c.label, "custom");
        let d = Arm::parse("new=custom:X=1 exec {workload}").unwrap();
        assert_eq!(d.label, "new");
        assert!(Arm::parse("base=").is_err());
        assert!(Arm::parse("base=docker").unwrap_err().contains("accepted"));
        let e = Arm::parse_all(&["native".into(), "native".into()]).unwrap_err();
        assert!(e.contains("LABEL=SPEC"), "{e}");
        assert!(Arm::parse_all(&["a=native".into(), "b=native".into()]).is_ok());
        let sh = Arm::parse("x=oci:/bin/sh").unwrap();
        assert_eq!(sh.launcher, Launcher::Oci(PathBuf::from("/bin/sh")));
        assert!(Arm::parse("oci:/nonexistent/runtime")
            .unwrap_err()
            .contains("no such file"));
        assert!(Arm::parse("oci:").is_err());
    }

    #[test]
    fn namespace_support() {
        let all = Namespaces::all();
        assert!(Launcher::Native.unsupported(&all).is_none());
        assert!(Launcher::Runc.unsupported(&all).unwrap().contains("time"));
        assert!(Launcher::Bare
            .unsupported(&Namespaces::parse("pid").unwrap())
            .is_some());
        assert!(Launcher::Bare.unsupported(&Namespaces::default()).is_none());
    }

    #[test]
    fn peer_namespace_flags_follow_the_set_order() {
        let all = Namespaces::all();
        let col = |ns, column| peer_ns(ns, column).collect::<Vec<_>>();
        assert_eq!(
            col(&all, |p| p.bwrap),
            [
                "--unshare-pid",
                "--unshare-net",
                "--unshare-uts",
                "--unshare-ipc",
                "--unshare-user",
                "--unshare-cgroup"
            ]
        );
        assert_eq!(
            col(&all, |p| p.unshare),
            ["--mount", "--net", "--uts", "--ipc", "--cgroup", "--time"]
        );
        let some = Namespaces::parse("ipc,mnt,pid").unwrap();
        assert_eq!(col(&some, |p| p.oci), ["pid", "ipc"]);
        assert_eq!(col(&Namespaces::default(), |p| p.oci), [""; 0]);
    }
}
