//! pagecache: page cache is charged to the cgroup but reclaimable. Writing
//! several times the memory limit of file data inside the sandbox must not
//! OOM-kill it, and usage must stay within the limit (the kernel reclaims
//! the cache instead). The file lives on a disk filesystem: tmpfs pages are
//! shmem, not reclaimable without swap, and would (rightly) OOM.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use isobench_reports::{Better, Check, Metric, ScenarioResult, Status};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{merge_over, Ctx, Level};
use crate::cgroup::{Cgroup, Limits, MemoryStats};
use crate::monitor::{Monitor, Sample, Sampling};
use crate::sandbox::{Exit, SandboxSpec};

pub const ABOUT: &str =
    "page cache under a memory limit: write N× the limit to a file; no OOM kill, usage stays within the limit (cache reclaimed)";

const MIB: u64 = 1 << 20;

/// The directory picked when `dir = "auto"`, in order of preference.
const AUTO_DIRS: &[&str] = &["/var/tmp", "/tmp"];

/// Parameters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// memory.max of the writer's sandbox, MiB.
    pub limit_mib: u64,
    /// File data written, as a multiple of the limit.
    pub factor: f64,
    /// Where the (immediately unlinked) file goes: a disk filesystem, or
    /// "auto" for the first of /var/tmp, /tmp that is not tmpfs.
    pub dir: String,
    /// write(2) size, KiB.
    pub chunk_kib: u64,
    /// Repetitions.
    pub repetitions: u32,
    /// Usage may exceed the limit by this much (percent of the limit).
    pub peak_slack_pct: f64,
    /// Usage timeline sampling rate.
    pub monitor_hz: u32,
}

impl Config {
    /// Built-in defaults of a suite level.
    pub fn level(level: Level) -> Self {
        let base = Config {
            limit_mib: 64,
            factor: 4.0,
            dir: "auto".into(),
            chunk_kib: 1024,
            repetitions: 1,
            peak_slack_pct: 2.0,
            monitor_hz: 100,
        };
        match level {
            Level::Quick => base,
            Level::Default => Config {
                repetitions: 3,
                ..base
            },
        }
    }

    /// Level defaults overridden by a suite-file section, then validated.
    pub fn parse(level: Level, table: Option<&toml::Table>) -> Result<Self, String> {
        let c: Config = merge_over("pagecache", &Self::level(level), table)?;
        c.validate()?;
        Ok(c)
    }

    /// Rejects settings that cannot show reclaim.
    pub fn validate(&self) -> Result<(), String> {
        let e = |m: String| Err(format!("[pagecache]: {m}"));
        if !(16..=4096).contains(&self.limit_mib) {
            return e(format!("limit-mib {} is outside 16 – 4096", self.limit_mib));
        }
        if !(1.5..=64.0).contains(&self.factor) {
            return e(format!(
                "factor {} is outside 1.5 – 64 (the file must clearly exceed the limit)",
                self.factor
            ));
        }
        if self.dir != "auto" && !Path::new(&self.dir).is_absolute() {
            return e(format!(
                "dir {:?} must be \"auto\" or an absolute path",
                self.dir
            ));
        }
        if !(4..=65536).contains(&self.chunk_kib) {
            return e(format!("chunk-kib {} is outside 4 – 65536", self.chunk_kib));
        }
        if self.repetitions == 0 || self.repetitions > 100 {
            return e("repetitions must be 1 – 100".into());
        }
        if !(0.0..=50.0).contains(&self.peak_slack_pct) {
            return e(format!(
                "peak-slack-pct {} is outside 0 – 50",
                self.peak_slack_pct
            ));
        }
        if !(1..=1000).contains(&self.monitor_hz) {
            return e("monitor-hz must be 1 – 1000".into());
        }
        Ok(())
    }

    fn limit(&self) -> u64 {
        self.limit_mib * MIB
    }

    fn bytes(&self) -> u64 {
        (self.limit() as f64 * self.factor) as u64
    }

    fn slack(&self) -> u64 {
        (self.limit() as f64 * self.peak_slack_pct / 100.0) as u64
    }
}

/// Meaning of each parameter, for `isobench list`.
pub const ABOUT_PARAMS: &[(&str, &str)] = &[
    ("limit-mib", "memory limit of the writer's sandbox"),
    ("factor", "file data written, × the limit"),
    (
        "dir",
        "disk directory for the file (\"auto\": /var/tmp or /tmp, not tmpfs)",
    ),
    ("chunk-kib", "write size"),
    ("repetitions", "runs"),
    ("peak-slack-pct", "usage may exceed the limit by this"),
    ("monitor-hz", "usage timeline sampling rate"),
];

/// ramfs's statfs f_type (linux/magic.h; not in nix or libc).
const RAMFS_MAGIC: u32 = 0x8584_58f6;

/// Why a directory cannot hold reclaimable page cache (None: it can).
fn not_disk(dir: &Path) -> Option<String> {
    use nix::sys::statfs::{statfs, FsType, TMPFS_MAGIC};
    match statfs(dir) {
        Err(e) => Some(format!("{}: {e}", dir.display())),
        Ok(s) => {
            let t = s.filesystem_type();
            (t == TMPFS_MAGIC || t == FsType(RAMFS_MAGIC as _)).then(|| {
                format!(
                    "{} is tmpfs/ramfs: its pages are shmem, not reclaimable without swap",
                    dir.display()
                )
            })
        }
    }
}

/// A private scratch directory for the writer, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    /// Picks the directory: the configured one (which must be on disk), or
    /// the first suitable of [`AUTO_DIRS`]. Err(reason) when none fits.
    fn create(cfg: &Config, run_id: &str) -> Result<Self, String> {
        let parent = if cfg.dir == "auto" {
            let mut why = Vec::new();
            let found = AUTO_DIRS.iter().map(Path::new).find(|d| match not_disk(d) {
                None => true,
                Some(w) => {
                    why.push(w);
                    false
                }
            });
            found.ok_or_else(|| {
                format!(
                    "no disk directory for the file ({}); set dir in the suite's [pagecache]",
                    why.join("; ")
                )
            })?
        } else {
            let d = Path::new(&cfg.dir);
            if let Some(w) = not_disk(d) {
                return Err(format!("[pagecache] dir: {w}"));
            }
            d
        };
        let dir = parent.join(format!("isobench-pagecache-{run_id}"));
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let scratch = Scratch(dir);
        // Writable by a user-namespaced root (nobody on the host) too.
        std::fs::set_permissions(&scratch.0, std::fs::Permissions::from_mode(0o777))
            .map_err(|e| format!("{}: {e}", scratch.0.display()))?;
        Ok(scratch)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One run.
#[derive(Debug, Clone)]
struct Rep {
    exit: Exit,
    /// Bytes the writer reported done (None: it never finished).
    written: Option<u64>,
    /// Seconds the writer took, on its own clock.
    write_seconds: Option<f64>,
    stats: MemoryStats,
    /// Largest usage and page cache the monitor saw.
    max_sampled: u64,
    max_file: u64,
    samples: Vec<Sample>,
}

/// One run; Ok(Err(reason)) when the sandbox cannot reach the directory
/// (a launcher whose rootfs holds only the workload).
fn run_rep(cfg: &Config, ctx: &Ctx, dir: &Path) -> Result<Result<Rep, String>, String> {
    let bytes = cfg.bytes().to_string();
    let chunk = format!("{}K", cfg.chunk_kib);
    let d = dir.to_string_lossy().into_owned();
    let mut spec = SandboxSpec::workload(&[
        "pagecache",
        "--bytes",
        &bytes,
        "--dir",
        &d,
        "--chunk",
        &chunk,
    ]);
    spec.namespaces = ctx.namespaces_or("pid,mnt,uts,ipc");
    spec.limits = Limits {
        memory_max: Some(cfg.limit()),
        ..Default::default()
    };
    // Even a slow disk (10 MiB/s) finishes well within this.
    spec.deadline = Duration::from_secs(30 + cfg.bytes() / (10 * MIB));
    let mut r = ctx.launch(&spec).map_err(|e| e.to_string())?;
    r.wait_ready().map_err(|e| e.to_string())?;
    let mon = Monitor::start(
        r.cgroup().view(),
        Sampling {
            memory: true,
            ..Default::default()
        },
        cfg.monitor_hz,
    )
    .map_err(|e| format!("monitor: {e}"))?;
    let exit = r.wait_exit().map_err(|e| e.to_string())?;
    let (samples, _) = mon.stop();
    let stats = r.cgroup().memory_stats().map_err(|e| e.to_string())?;
    let unreachable = r.events.iter().find_map(|e| {
        let msg = e["msg"].as_str()?;
        (e["event"] == "error" && msg.starts_with("pagecache: create")).then(|| msg.to_string())
    });
    if let Some(msg) = unreachable {
        r.teardown().map_err(|e| e.to_string())?;
        return Ok(Err(format!(
            "the {} sandbox cannot write to {} ({msg}): pagecache needs a disk directory visible inside the sandbox",
            ctx.launcher,
            dir.display()
        )));
    }
    let done = r.events.iter().find(|e| e["event"] == "pagecache_done");
    let written = done.and_then(|e| e["bytes"].as_u64());
    let write_seconds = done
        .and_then(|e| e["t_ns"].as_u64())
        .map(|t| t as f64 / 1e9);
    r.teardown().map_err(|e| e.to_string())?;
    let mem = |f: fn(&MemoryStats) -> Option<u64>| {
        samples
            .iter()
            .filter_map(|s| s.memory.as_ref().and_then(f))
            .max()
            .unwrap_or(0)
    };
    Ok(Ok(Rep {
        exit,
        written,
        write_seconds,
        stats,
        max_sampled: mem(|m| m.current),
        max_file: mem(|m| m.file),
        samples,
    }))
}

/// Runs the scenario.
pub fn run(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, String> {
    let scratch = match Scratch::create(cfg, &ctx.set.run_id) {
        Ok(s) => s,
        Err(why) if cfg.dir == "auto" => return Ok(vec![skipped(cfg, &why, &ctx.launcher)]),
        Err(e) => return Err(e),
    };
    let mut reps = Vec::new();
    for _ in 0..cfg.repetitions {
        if let Some(sig) = crate::interrupt::requested() {
            return Err(format!("interrupted by signal {sig}"));
        }
        match run_rep(cfg, ctx, &scratch.0)? {
            Ok(rep) => reps.push(rep),
            Err(why) => return Ok(vec![skipped(cfg, &why, &ctx.launcher)]),
        }
    }
    let mut res = result(cfg, &reps, &ctx.launcher);
    res.params.insert(
        "dir".into(),
        json!(scratch.0.parent().map(|p| p.display().to_string())),
    );
    Ok(vec![res])
}

fn params(cfg: &Config) -> serde_json::Map<String, serde_json::Value> {
    let mut p = serde_json::Map::new();
    p.insert("limit_mib".into(), json!(cfg.limit_mib));
    p.insert("written_mib".into(), json!(cfg.bytes() / MIB));
    p
}

fn skipped(cfg: &Config, why: &str, launcher: &str) -> ScenarioResult {
    ScenarioResult {
        name: "pagecache".into(),
        launcher: launcher.to_string(),
        launcher_spec: None,
        params: params(cfg),
        metrics: Vec::new(),
        checks: vec![Check::new(
            "pagecache",
            Status::Skip,
            "page cache reclaimed under the limit, no OOM kill",
            "not run",
            why,
        )],
        series: BTreeMap::new(),
        error: None,
    }
}

fn join<T>(v: &[T], f: impl Fn(&T) -> String) -> String {
    v.iter().map(f).collect::<Vec<_>>().join(", ")
}

fn opt(v: Option<u64>) -> String {
    v.map_or("n/a".into(), |x| x.to_string())
}

fn mib(b: u64) -> String {
    format!("{:.2} MiB", b as f64 / MIB as f64)
}

fn peak_of(r: &Rep) -> u64 {
    r.stats.peak.unwrap_or(r.max_sampled)
}

/// Turns the runs into metrics and checks.
fn result(cfg: &Config, reps: &[Rep], launcher: &str) -> ScenarioResult {
    let limit = cfg.limit();
    let want = cfg.bytes();
    let no_oom = reps.iter().all(|r| {
        r.exit == Exit::Code(0)
            && r.stats.events.oom_kill.unwrap_or(0) == 0
            && r.written == Some(want)
    });
    let oomed = reps
        .iter()
        .any(|r| r.stats.events.oom_kill.unwrap_or(0) > 0);
    let peak = reps.iter().map(peak_of).max().unwrap_or(0);
    let within = peak <= limit + cfg.slack();
    // The limit was reached and the writer went on: the cache was reclaimed.
    let hits: Vec<Option<u64>> = reps
        .iter()
        .map(|r| r.stats.events.max.or(r.stats.failcnt))
        .collect();
    let reclaimed = hits.iter().all(|h| h.unwrap_or(0) > 0);
    let checks = vec![
        Check::new(
            "no_oom_kill",
            if no_oom { Status::Pass } else { Status::Fail },
            format!("the writer completes {} (exit 0), oom_kill 0", mib(want)),
            format!(
                "{}; oom_kill {}; written {}",
                join(reps, |r| r.exit.to_string()),
                join(reps, |r| opt(r.stats.events.oom_kill)),
                join(reps, |r| r.written.map_or("not done".into(), mib))
            ),
            if oomed {
                "page cache was not reclaimed: the OOM killer ran instead"
            } else {
                ""
            },
        ),
        Check::new(
            "usage_within_limit",
            if within { Status::Pass } else { Status::Fail },
            format!(
                "peak usage ≤ limit {} + slack {} ({}%)",
                mib(limit),
                mib(cfg.slack()),
                cfg.peak_slack_pct
            ),
            format!(
                "peak {} ({:+} bytes vs the limit); per run {}",
                mib(peak),
                peak as i64 - limit as i64,
                join(reps, |r| mib(peak_of(r)))
            ),
            "",
        ),
        Check::new(
            "cache_reclaimed",
            if reclaimed { Status::Pass } else { Status::Warn },
            format!(
                "usage reached the limit (failcnt / memory.events max > 0) while {} of file data passed through the cache",
                mib(want)
            ),
            format!(
                "limit hits {}; page cache peak {} (sampled at {} Hz)",
                join(&hits, |h| opt(*h)),
                join(reps, |r| mib(r.max_file)),
                cfg.monitor_hz
            ),
            if reclaimed {
                ""
            } else {
                "the limit was never reached: the file's pages were not charged to the sandbox (filesystem or kernel behaviour); reclaim was not exercised"
            },
        ),
    ];
    let metrics = vec![
        Metric::with_target(
            "peak_usage",
            "bytes",
            limit as f64,
            reps.iter().map(|r| peak_of(r) as f64).collect(),
        ),
        Metric::new(
            "write_rate",
            "MiB/s",
            Better::Higher,
            reps.iter()
                .filter_map(|r| Some(r.written? as f64 / MIB as f64 / r.write_seconds?))
                .collect(),
        ),
        Metric::new(
            "page_cache_peak",
            "bytes",
            Better::Target,
            reps.iter().map(|r| r.max_file as f64).collect(),
        ),
        Metric::new(
            "limit_hits",
            "count",
            Better::Higher,
            hits.iter().map(|h| h.unwrap_or(0) as f64).collect(),
        ),
    ];
    let mut series = BTreeMap::new();
    if let Some(r) = reps.first() {
        let pick = |f: fn(&MemoryStats) -> Option<u64>| -> Vec<[f64; 2]> {
            r.samples
                .iter()
                .filter_map(|s| Some([s.t, f(s.memory.as_ref()?)? as f64 / MIB as f64]))
                .collect()
        };
        series.insert("usage_mib".to_string(), pick(|m| m.current));
        series.insert("page_cache_mib".to_string(), pick(|m| m.file));
    }
    ScenarioResult {
        name: "pagecache".into(),
        launcher: launcher.to_string(),
        launcher_spec: None,
        params: params(cfg),
        metrics,
        checks,
        series,
        error: None,
    }
}

super::legacy_scenario!(Pagecache, "pagecache", [Memory]);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::MemoryEvents;

    fn rep(cfg: &Config) -> Rep {
        Rep {
            exit: Exit::Code(0),
            written: Some(cfg.bytes()),
            write_seconds: Some(0.5),
            stats: MemoryStats {
                current: Some(60 * MIB),
                peak: Some(cfg.limit()),
                failcnt: Some(200),
                file: Some(58 * MIB),
                events: MemoryEvents {
                    max: Some(200),
                    oom_kill: Some(0),
                    ..Default::default()
                },
                ..Default::default()
            },
            max_sampled: cfg.limit() - MIB,
            max_file: 62 * MIB,
            samples: Vec::new(),
        }
    }

    fn status(r: &ScenarioResult, name: &str) -> Status {
        r.checks.iter().find(|c| c.name == name).unwrap().status
    }

    #[test]
    fn reclaimed_cache_passes() {
        let cfg = Config::level(Level::Quick);
        let r = result(&cfg, &[rep(&cfg)], "native");
        for c in &r.checks {
            assert_eq!(c.status, Status::Pass, "{c:?}");
        }
        assert_eq!(r.metrics[1].samples, vec![512.0]);
    }

    #[test]
    fn cache_not_reclaimed_means_oom_and_fails() {
        // What a tmpfs file does without swap: the writer is OOM-killed.
        let cfg = Config::level(Level::Quick);
        let mut x = rep(&cfg);
        x.exit = Exit::Signaled(9);
        x.written = None;
        x.write_seconds = None;
        x.stats.events.oom_kill = Some(1);
        let r = result(&cfg, &[x], "native");
        assert_eq!(status(&r, "no_oom_kill"), Status::Fail);
        assert!(r.checks[0].detail.contains("not reclaimed"));
        assert!(r.metrics[1].samples.is_empty());
    }

    #[test]
    fn usage_above_the_limit_fails_and_no_limit_hit_warns() {
        let cfg = Config::level(Level::Quick);
        let mut x = rep(&cfg);
        x.stats.peak = Some(cfg.limit() + 4 * MIB);
        assert_eq!(
            status(&result(&cfg, &[x], "native"), "usage_within_limit"),
            Status::Fail
        );
        let mut x = rep(&cfg);
        x.stats.events.max = Some(0);
        x.stats.failcnt = Some(0);
        assert_eq!(
            status(&result(&cfg, &[x], "native"), "cache_reclaimed"),
            Status::Warn
        );
    }

    #[test]
    fn tmpfs_is_not_a_disk() {
        // /dev/shm is tmpfs on every Linux with glibc's shm_open support.
        if Path::new("/dev/shm").is_dir() {
            assert!(not_disk(Path::new("/dev/shm")).unwrap().contains("tmpfs"));
        }
        assert!(not_disk(Path::new("/nonexistent-isobench")).is_some());
    }

    #[test]
    fn config_rejects_impossible_values() {
        let c = Config::level(Level::Default);
        assert!(c.validate().is_ok());
        let mut x = c.clone();
        x.factor = 1.0;
        assert!(x.validate().unwrap_err().contains("factor"));
        let mut x = c.clone();
        x.dir = "relative/dir".into();
        assert!(x.validate().unwrap_err().contains("dir"));
        let mut x = c;
        x.limit_mib = 1;
        assert!(x.validate().unwrap_err().contains("limit-mib"));
    }
}
