//! Pressure stall information (PSI) of a cgroup: `cpu.pressure`,
//! `memory.pressure` and `io.pressure`, core files of every cgroup2
//! directory when the kernel has CONFIG_PSI (and was not booted `psi=0`).
//!
//! On a pure v2 host they sit in the sandbox's own cgroup. On a hybrid host
//! every sandbox also gets a directory in the unified tree (for tracking),
//! and the files are there: same tasks, so the same stalls. On pure v1 there
//! is no per-cgroup PSI (only some vendor kernels add it), so [`source`]
//! says none.

use std::path::{Path, PathBuf};

use isobench_reports::{Better, Metric};

use super::view::CgroupView;
use super::Mode;

/// Which resource's pressure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Cpu,
    Memory,
    Io,
}

impl Resource {
    pub const ALL: [Resource; 3] = [Resource::Cpu, Resource::Memory, Resource::Io];

    pub fn name(self) -> &'static str {
        match self {
            Resource::Cpu => "cpu",
            Resource::Memory => "memory",
            Resource::Io => "io",
        }
    }

    /// The cgroup file, e.g. `cpu.pressure`.
    pub fn file(self) -> &'static str {
        match self {
            Resource::Cpu => "cpu.pressure",
            Resource::Memory => "memory.pressure",
            Resource::Io => "io.pressure",
        }
    }
}

/// One line of a pressure file: the share of wall time (in %) some (or
/// all) runnable tasks were stalled, averaged over 10/60/300 s, and the
/// total stall time in µs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Line {
    pub avg10: f64,
    pub avg60: f64,
    pub avg300: f64,
    pub total_us: u64,
}

/// A pressure file: `some` always; `full` for memory and io, and for cpu
/// since 5.13 (at the cgroup level; the system-wide cpu `full` is zero).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Pressure {
    pub some: Line,
    pub full: Option<Line>,
}

fn parse_line(rest: &str) -> Option<Line> {
    let mut l = Line::default();
    let mut seen = 0;
    for kv in rest.split_whitespace() {
        let (k, v) = kv.split_once('=')?;
        match k {
            "avg10" => l.avg10 = v.parse().ok()?,
            "avg60" => l.avg60 = v.parse().ok()?,
            "avg300" => l.avg300 = v.parse().ok()?,
            "total" => l.total_us = v.parse().ok()?,
            _ => continue,
        }
        seen += 1;
    }
    (seen == 4).then_some(l)
}

/// Parses a pressure file's text; None when it has no valid `some` line.
pub fn parse(text: &str) -> Option<Pressure> {
    let mut some = None;
    let mut full = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("some ") {
            some = parse_line(rest);
        } else if let Some(rest) = line.strip_prefix("full ") {
            full = parse_line(rest);
        }
    }
    Some(Pressure { some: some?, full })
}

/// Reads `dir/<resource>.pressure`; None when absent or unreadable (no
/// PSI in this kernel, `psi=0`, or the cgroup is gone).
pub fn read(dir: &Path, r: Resource) -> Option<Pressure> {
    parse(&std::fs::read_to_string(dir.join(r.file())).ok()?)
}

/// Where a sandbox's pressure files are, and what that place is called in
/// results (`psi_source`): its cgroup2 directory on v2 (`cgroup2`), the
/// unified-tree directory on a hybrid host (`unified tree (hybrid)`). None
/// when the kernel has no per-cgroup PSI there.
pub fn source(view: &CgroupView, mode: Mode) -> Option<(PathBuf, &'static str)> {
    let dir = view.v2.as_ref()?.dir.clone();
    if !dir.join(Resource::Cpu.file()).exists() {
        return None;
    }
    let what = match mode {
        Mode::V2 => "cgroup2",
        _ => "unified tree (hybrid)",
    };
    Some((dir, what))
}

/// The stall between two readings, over `window_s` seconds of wall time,
/// as metrics named `psi_<res>_some_pct` / `psi_<res>_full_pct` (share of
/// the window stalled, from the `total` deltas) and `psi_<res>_some_avg10`
/// (the kernel's own 10 s average at the end). Lower is better.
pub fn metrics(r: Resource, before: &Pressure, after: &Pressure, window_s: f64) -> Vec<Metric> {
    let pct = |a: &Line, b: &Line| {
        if window_s > 0.0 {
            a.total_us.saturating_sub(b.total_us) as f64 / (window_s * 1e6) * 100.0
        } else {
            0.0
        }
    };
    let name = |what: &str| format!("psi_{}_{what}", r.name());
    let mut out = vec![Metric::new(
        &name("some_pct"),
        "%",
        Better::Lower,
        vec![pct(&after.some, &before.some)],
    )];
    if let (Some(a), Some(b)) = (&after.full, &before.full) {
        out.push(Metric::new(
            &name("full_pct"),
            "%",
            Better::Lower,
            vec![pct(a, b)],
        ));
    }
    out.push(Metric::new(
        &name("some_avg10"),
        "%",
        Better::Lower,
        vec![after.some.avg10],
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPU: &str = "some avg10=1.50 avg60=0.25 avg300=0.05 total=123456\n\
                       full avg10=0.00 avg60=0.00 avg300=0.00 total=789\n";

    #[test]
    fn parses_some_and_full() {
        let p = parse(CPU).unwrap();
        assert_eq!(p.some.avg10, 1.5);
        assert_eq!(p.some.avg60, 0.25);
        assert_eq!(p.some.total_us, 123456);
        assert_eq!(p.full.unwrap().total_us, 789);
        let old = parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n").unwrap();
        assert!(old.full.is_none());
    }

    #[test]
    fn refuses_malformed() {
        assert!(parse("").is_none());
        assert!(parse("full avg10=0.00 avg60=0.00 avg300=0.00 total=1\n").is_none());
        assert!(parse("some avg10=x avg60=0.00 avg300=0.00 total=1\n").is_none());
        assert!(parse("some avg10=0.00 total=1\n").is_none());
    }

    #[test]
    fn metrics_are_stall_share_of_the_window() {
        let b = parse(CPU).unwrap();
        let mut a = b;
        a.some.total_us += 500_000; // 0.5 s stalled
        a.full = Some(Line {
            total_us: b.full.unwrap().total_us + 100_000,
            ..Line::default()
        });
        let m = metrics(Resource::Cpu, &b, &a, 2.0);
        let get = |n: &str| m.iter().find(|x| x.name == n).unwrap().samples[0];
        assert!((get("psi_cpu_some_pct") - 25.0).abs() < 1e-9);
        assert!((get("psi_cpu_full_pct") - 5.0).abs() < 1e-9);
        assert_eq!(get("psi_cpu_some_avg10"), 1.5);
    }

    #[test]
    fn live_file_parses_when_present() {
        // On a kernel with PSI the system-wide files parse; a kernel without
        // them is not an error here.
        for r in Resource::ALL {
            let p = Path::new("/proc/pressure").join(r.name());
            if let Ok(t) = std::fs::read_to_string(&p) {
                assert!(parse(&t).is_some(), "{}: {t}", p.display());
            }
        }
    }
}
