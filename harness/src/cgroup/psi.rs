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

use isobench_reports::{Better, Check, Metric, Status};

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

/// Why a sandbox has no pressure files (when [`source`] says None), in
/// words a user can act on.
pub fn absent_reason(view: &CgroupView, mode: Mode) -> String {
    match (&view.v2, mode) {
        (None, _) => "no per-cgroup PSI: pure cgroup v1 has no pressure files (only cgroup2, or a hybrid host's unified tree, has them)".into(),
        _ => "no cpu.pressure in the sandbox's cgroup2 directory: the kernel lacks CONFIG_PSI or was booted with psi=0".into(),
    }
}

/// One resource's pressure over a measured span of a sandbox.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    pub resource: Resource,
    pub before: Pressure,
    pub after: Pressure,
    pub seconds: f64,
    /// Where it was read (`psi_source`).
    pub source: &'static str,
}

impl Span {
    /// Share of the span some task was stalled, %.
    pub fn some_pct(&self) -> f64 {
        if self.seconds <= 0.0 {
            return 0.0;
        }
        let d = self
            .after
            .some
            .total_us
            .saturating_sub(self.before.some.total_us);
        d as f64 / (self.seconds * 1e6) * 100.0
    }

    /// [`metrics`] of the span.
    pub fn metrics(&self) -> Vec<Metric> {
        metrics(self.resource, &self.before, &self.after, self.seconds)
    }
}

/// [`Span::metrics`] of several spans (one per repetition) as one metric
/// per name, a sample per span.
pub fn merged_metrics(spans: &[Span]) -> Vec<Metric> {
    let mut out: Vec<Metric> = Vec::new();
    for s in spans {
        for m in s.metrics() {
            match out.iter_mut().find(|o| o.name == m.name) {
                Some(o) => o.samples.extend(m.samples),
                None => out.push(m),
            }
        }
    }
    for m in &mut out {
        *m = Metric::new(&m.name, &m.unit, m.better, std::mem::take(&mut m.samples));
    }
    out
}

/// A span being measured: the first reading and when it was taken.
#[derive(Debug, Clone)]
pub struct Probe {
    dir: PathBuf,
    resource: Resource,
    source: &'static str,
    before: Pressure,
    t0: std::time::Instant,
}

impl Probe {
    /// Starts a span on a sandbox's cgroup; None where it has no PSI.
    pub fn start(view: &CgroupView, mode: Mode, r: Resource) -> Option<Probe> {
        let (dir, source) = source(view, mode)?;
        let before = read(&dir, r)?;
        Some(Probe {
            dir,
            resource: r,
            source,
            before,
            t0: std::time::Instant::now(),
        })
    }

    /// Ends the span (None if the file went away meanwhile).
    pub fn finish(&self) -> Option<Span> {
        Some(Span {
            resource: self.resource,
            before: self.before,
            after: read(&self.dir, self.resource)?,
            seconds: self.t0.elapsed().as_secs_f64(),
            source: self.source,
        })
    }

    /// Where the pressure files are.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// How often a [`Recorder`] reads its pressure file: the stall share of
/// each 200 ms interval (the kernel's own averages are 10 s and longer).
pub const SERIES_PERIOD: std::time::Duration = std::time::Duration::from_millis(200);

/// The series name of a resource's stall share over time,
/// `psi_<res>_some_pct` ([t s, % of the interval some task stalled]).
pub fn series_name(r: Resource) -> String {
    format!("psi_{}_some_pct", r.name())
}

/// The stall share of each interval between readings of (seconds since
/// the start, `some` total µs): [[end of the interval, %]].
pub fn some_series(readings: &[(f64, u64)]) -> Vec<[f64; 2]> {
    readings
        .windows(2)
        .filter_map(|w| {
            let dt = w[1].0 - w[0].0;
            (dt > 0.0).then(|| {
                let d = w[1].1.saturating_sub(w[0].1) as f64;
                [w[1].0, (d / (dt * 1e6) * 100.0).min(100.0)]
            })
        })
        .collect()
}

/// Reads a sandbox's pressure file every [`SERIES_PERIOD`] on a thread of
/// its own until stopped: the time series beside a [`Probe`]'s span.
pub struct Recorder {
    resource: Resource,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<Vec<(f64, u64)>>>,
}

impl Recorder {
    /// Starts recording `dir`'s `r` pressure (a probe's [`Probe::dir`]).
    pub fn start(dir: &Path, r: Resource) -> Recorder {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let dir = dir.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("isobench-psi".into())
            .spawn(move || {
                let t0 = std::time::Instant::now();
                let mut out = Vec::new();
                loop {
                    if let Some(p) = read(&dir, r) {
                        out.push((t0.elapsed().as_secs_f64(), p.some.total_us));
                    }
                    if stop2.load(Ordering::Relaxed) {
                        return out;
                    }
                    std::thread::park_timeout(SERIES_PERIOD);
                }
            })
            .ok();
        Recorder {
            resource: r,
            stop,
            thread,
        }
    }

    /// Stops (one last reading) and returns (series name, series).
    pub fn stop(mut self) -> (String, Vec<[f64; 2]>) {
        (series_name(self.resource), some_series(&self.finish()))
    }

    fn finish(&mut self) -> Vec<(f64, u64)> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        match self.thread.take() {
            Some(t) => {
                t.thread().unpark();
                t.join().unwrap_or_default()
            }
            None => Vec::new(),
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.finish();
    }
}

/// A check where the cause of a stall is known (`cause`): `some` > 0 over
/// every span; a skip naming what is missing where there is no PSI.
pub fn stall_check(
    name: &str,
    r: Resource,
    spans: &[Option<Span>],
    cause: &str,
    absent: &str,
) -> Check {
    let expected = format!("{} some > 0 ({cause})", r.file());
    if spans.is_empty() || spans.iter().any(Option::is_none) {
        return Check::new(name, Status::Skip, expected, "not measured", absent);
    }
    let pct: Vec<f64> = spans.iter().flatten().map(Span::some_pct).collect();
    let shown: Vec<String> = pct.iter().map(|p| format!("{p:.2}%")).collect();
    Check::new(
        name,
        Status::pass_if(pct.iter().all(|p| *p > 0.0)),
        expected,
        format!("some {} of the time", shown.join(", ")),
        format!(
            "from the total stall time (µs) in {}",
            spans.iter().flatten().next().map_or("", |s| s.source)
        ),
    )
}

/// A PSI trigger on a cgroup's pressure file (`some <stall µs> <window
/// µs>`): the kernel signals POLLPRI when the tasks stalled at least that
/// long within a window. The trigger lives as long as its fd; dropping it
/// removes it.
#[derive(Debug)]
pub struct Trigger {
    fd: std::os::fd::OwnedFd,
    pub stall_us: u64,
    pub window_us: u64,
}

impl Trigger {
    /// Registers `some stall_us window_us` on `dir/<resource>.pressure`.
    /// The kernel takes windows of 500 ms – 10 s (unprivileged: multiples
    /// of 2 s) and refuses a second trigger on the same open file.
    pub fn some(
        dir: &Path,
        r: Resource,
        stall_us: u64,
        window_us: u64,
    ) -> std::io::Result<Trigger> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(dir.join(r.file()))?;
        // The kernel parses the string up to its NUL.
        f.write_all(format!("some {stall_us} {window_us}\0").as_bytes())?;
        Ok(Trigger {
            fd: f.into(),
            stall_us,
            window_us,
        })
    }

    /// Waits up to `timeout` for the trigger to fire: Ok(true) when it did,
    /// Ok(false) when the time passed; an error when the cgroup went away
    /// (POLLERR) or poll failed.
    pub fn wait(&self, timeout: std::time::Duration) -> std::io::Result<bool> {
        use std::os::fd::AsRawFd;
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let mut p = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events: libc::POLLPRI,
                revents: 0,
            };
            let ms = left.as_millis().min(i32::MAX as u128) as i32;
            // SAFETY: one valid pollfd, owned by this call.
            let n = unsafe { libc::poll(&mut p, 1, ms) };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if p.revents & libc::POLLERR != 0 {
                return Err(std::io::Error::other(
                    "PSI trigger: the pressure file went away",
                ));
            }
            if p.revents & libc::POLLPRI != 0 {
                return Ok(true);
            }
            if left.is_zero() || n == 0 {
                return Ok(false);
            }
        }
    }

    /// The trigger's text, as written.
    pub fn spec(&self) -> String {
        format!("some {} {}", self.stall_us, self.window_us)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn some_series_is_the_stall_share_of_each_interval() {
        // 0.2 s apart: 100 ms stalled is 50%, none 0%, a counter reset 0%,
        // rounding past the interval capped at 100%.
        let r = [
            (0.0, 1000),
            (0.2, 101_000),
            (0.4, 101_000),
            (0.6, 50),
            (0.8, 200_100),
        ];
        let s = some_series(&r);
        assert_eq!(s.len(), 4);
        assert!((s[0][0] - 0.2).abs() < 1e-12 && (s[0][1] - 50.0).abs() < 1e-9);
        assert_eq!(s[1][1], 0.0);
        assert_eq!(s[2][1], 0.0);
        assert_eq!(s[3][1], 100.0);
        assert!(some_series(&r[..1]).is_empty());
        assert_eq!(series_name(Resource::Io), "psi_io_some_pct");
    }

    #[test]
    fn recorder_reads_the_file_until_stopped() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("cpu.pressure");
        let write = |total: u64| {
            std::fs::write(
                &f,
                format!("some avg10=0.00 avg60=0.00 avg300=0.00 total={total}\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"),
            )
            .unwrap()
        };
        write(0);
        let rec = Recorder::start(d.path(), Resource::Cpu);
        std::thread::sleep(SERIES_PERIOD * 2);
        write(10_000_000);
        let (name, series) = rec.stop();
        assert_eq!(name, "psi_cpu_some_pct");
        assert!(!series.is_empty());
        // Readings go on until stop (a last one then): exactly one interval
        // holds the jump, stalled throughout (capped at 100%), none other.
        let stalled: Vec<f64> = series.iter().map(|p| p[1]).filter(|&v| v > 0.0).collect();
        assert_eq!(stalled, vec![100.0], "{series:?}");
        assert!(series.windows(2).all(|w| w[0][0] < w[1][0]));
    }

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
    fn stall_check_passes_fails_and_skips() {
        let b = parse(CPU).unwrap();
        let mut a = b;
        a.some.total_us += 100_000;
        let span = |after: Pressure| Span {
            resource: Resource::Cpu,
            before: b,
            after,
            seconds: 1.0,
            source: "cgroup2",
        };
        let c = stall_check("x", Resource::Cpu, &[Some(span(a))], "quota", "none");
        assert_eq!(c.status, Status::Pass, "{c:?}");
        assert!(c.observed.contains("10.00%"), "{c:?}");
        let c = stall_check("x", Resource::Cpu, &[Some(span(a)), Some(span(b))], "q", "");
        assert_eq!(c.status, Status::Fail);
        let c = stall_check("x", Resource::Cpu, &[None], "q", "no PSI here");
        assert_eq!((c.status, c.detail.as_str()), (Status::Skip, "no PSI here"));
    }

    #[test]
    fn trigger_on_a_missing_cgroup_is_an_error() {
        let gone = Path::new("/nonexistent-isobench-psi");
        let e = Trigger::some(gone, Resource::Cpu, 150_000, 1_000_000).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
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
