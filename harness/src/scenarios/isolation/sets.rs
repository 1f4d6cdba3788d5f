//! Which namespace sets a run probes, what part of each the launcher can
//! create, and the result-row parts every probe shares.

use isobench_reports::{Check, Status};

use super::Isolation;
use crate::launchers::Launcher;
use crate::sandbox::{Namespaces, Rootfs, SandboxSpec};
use crate::scenarios::{Point, Scenario};

/// Namespace kinds a launcher could not create, each with its reason.
pub type Dropped = Vec<(String, String)>;

/// Whether the launcher runs a workload in the host's namespaces when asked
/// for none, so a baseline through it shows the host. OCI runtimes always
/// make at least a mount namespace; their rows rely on another launcher's
/// baseline (native's, in a default run).
pub fn honours_no_namespace(kind: &Launcher) -> bool {
    !kind.always_own_mount_ns()
}

/// `sets`, after the no-namespace baseline where the launcher honours it.
pub fn with_baseline(kind: &Launcher, sets: impl IntoIterator<Item = Namespaces>) -> Vec<Namespaces> {
    honours_no_namespace(kind)
        .then(Namespaces::default)
        .into_iter()
        .chain(sets)
        .collect()
}

/// The part of `ns` the launcher can create, and each namespace it cannot
/// with the launcher's reason.
pub fn supported_part(kind: &Launcher, ns: Namespaces) -> (Namespaces, Dropped) {
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    for name in Namespaces::NAMES {
        let one = Namespaces::parse(name).expect("known namespace name");
        if ns.clone_flags() & one.clone_flags() == 0 {
            continue;
        }
        match kind.unsupported(&one) {
            Some(why) => dropped.push((name.to_string(), why)),
            None => kept.push(name),
        }
    }
    let kept = Namespaces::parse(&kept.join(",")).expect("known namespace names");
    (kept, dropped)
}

/// A skip per namespace kind the launcher could not create, with its reason.
pub fn dropped_checks(dropped: &[(String, String)]) -> impl Iterator<Item = Check> + '_ {
    dropped.iter().map(|(kind, why)| {
        Check::new(
            kind.as_str(),
            Status::Skip,
            format!("a {kind} namespace"),
            "not created by this launcher",
            why.as_str(),
        )
    })
}

/// A probe's row with the params every probe has: its namespaces, whether
/// it is the baseline, its rootfs.
pub fn probe_row(spec: &SandboxSpec, launcher: &str) -> Point {
    let ns = spec.namespaces;
    Point::for_launcher(Isolation::NAME, launcher)
        .param("namespaces", ns.to_string())
        .param("baseline", ns.is_empty())
        .param("rootfs", rootfs_name(spec.rootfs))
}

fn rootfs_name(r: Rootfs) -> &'static str {
    match r {
        Rootfs::Host => "host",
        Rootfs::Minimal => "minimal",
    }
}
