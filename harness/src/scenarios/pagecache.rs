//! pagecache: page cache is charged to the cgroup but reclaimable. Writing
//! several times the memory limit of file data inside the sandbox must not
//! OOM-kill it, and usage must stay within the limit (the kernel reclaims
//! the cache instead). The file lives on a disk filesystem: tmpfs pages are
//! shmem, not reclaimable without swap, and would (rightly) OOM.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use isobench_reports::names::pagecache as n;
use isobench_reports::{Better, Check, Metric, ScenarioResult, Status};
use serde_json::json;

use super::config::reject_if;
use super::error::Context;
use super::config::check_within;
use super::memory::{self, in_mib, mib, MIB};
use super::result::{join, opt};
use super::config::scenario_config;
use super::{ConfigError, Ctx, Point, Scenario, ScenarioError, Skip};
use crate::cgroup::{Cgroup, Controller, MemoryStats};
use crate::monitor::{Monitor, Sample, Sampling};
use crate::sandbox::event::Event;
use crate::sandbox::Exit;

/// The directory picked when `dir = "auto"`, in order of preference.
pub(super) const AUTO_DIRS: &[&str] = &["/var/tmp", "/tmp"];

/// The scenario.
pub struct Pagecache;

scenario_config! {
    /// Parameters.
    pub struct Config {
        /// memory.max of the writer's sandbox, MiB.
        pub limit_mib: u64 = 64 => "memory limit of the writer's sandbox",
        /// File data written, as a multiple of the limit.
        pub factor: f64 = 4.0 => "file data written, × the limit",
        /// Where the (immediately unlinked) file goes: a disk filesystem, or
        /// "auto" for the first of /var/tmp, /tmp that is not tmpfs.
        pub dir: String = "auto".into() => "disk directory for the file (\"auto\": /var/tmp or /tmp, not tmpfs)",
        /// write(2) size, KiB.
        pub chunk_kib: u64 = 1024 => "write size",
        /// Repetitions.
        pub repetitions: u32 = 1, 3 => "runs",
        /// Usage may exceed the limit by this much (percent of the limit).
        pub peak_slack_pct: f64 = 2.0 => "usage may exceed the limit by this",
        /// Usage timeline sampling rate.
        pub monitor_hz: u32 = 100 => "usage timeline sampling rate",
    }
}

impl Config {
    fn limit(&self) -> u64 {
        self.limit_mib * MIB
    }

    fn bytes(&self) -> u64 {
        memory::times(self.limit(), self.factor)
    }

    fn slack(&self) -> u64 {
        memory::pct_of(self.limit(), self.peak_slack_pct)
    }
}

impl Scenario for Pagecache {
    const NAME: &'static str = "pagecache";
    const ABOUT: &'static str =
        "page cache under a memory limit: write N× the limit to a file; no OOM kill, usage stays within the limit (cache reclaimed)";
    const NEEDS: &'static [Controller] = &[Controller::Memory];
    type Config = Config;

    /// Rejects settings that cannot show reclaim.
    fn validate(c: &Config) -> Result<(), ConfigError> {
        check_within("limit-mib", c.limit_mib, 16, 4096, "")?;
        let clearly = " (the file must clearly exceed the limit)";
        check_within("factor", c.factor, 1.5, 64.0, clearly)?;
        reject_if(c.dir != "auto" && !Path::new(&c.dir).is_absolute(), || {
            format!("dir {:?} must be \"auto\" or an absolute path", c.dir)
        })?;
        check_within("chunk-kib", c.chunk_kib, 4, 65536, "")?;
        memory::check_repetitions(c.repetitions)?;
        memory::check_peak_slack(c.peak_slack_pct)?;
        super::check_range("monitor-hz", c.monitor_hz, 1, 1000)
    }

    /// Each run writes `factor` × the limit to disk (a few hundred MiB/s).
    fn estimate(cfg: &Config, _cpus: u32) -> Duration {
        let run = 0.5 + cfg.bytes() as f64 / (300.0 * MIB as f64);
        Duration::from_secs_f64(f64::from(cfg.repetitions) * run)
    }

    fn run(cfg: &Config, ctx: &Ctx) -> Result<Vec<ScenarioResult>, ScenarioError> {
        let scratch = Scratch::create(cfg, &ctx.set.run_id)?;
        let reps = memory::repeat(cfg.repetitions, || run_rep(cfg, ctx, &scratch.0))?;
        let mut res = result(cfg, &reps, &ctx.launcher);
        res.params.insert(
            "dir".into(),
            json!(scratch.0.parent().map(|p| p.display().to_string())),
        );
        Ok(vec![res])
    }
}

/// ramfs's statfs f_type (linux/magic.h; not in nix or libc).
const RAMFS_MAGIC: u32 = 0x8584_58f6;

/// Why a directory cannot hold reclaimable page cache (None: it can).
pub(super) fn not_disk(dir: &Path) -> Option<String> {
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
    /// the first suitable of [`AUTO_DIRS`]. With "auto", finding none skips
    /// the scenario; a configured directory that does not fit fails it.
    fn create(cfg: &Config, run_id: &str) -> Result<Self, ScenarioError> {
        let auto = cfg.dir == "auto";
        let unfit = |why: String| match auto {
            true => ScenarioError::skipped(skip(cfg, why)),
            false => ScenarioError::Failed(why),
        };
        let parent = if auto {
            let mut why = Vec::new();
            let found = AUTO_DIRS.iter().map(Path::new).find(|d| match not_disk(d) {
                None => true,
                Some(w) => {
                    why.push(w);
                    false
                }
            });
            found.ok_or_else(|| {
                unfit(format!(
                    "no disk directory for the file ({}); set dir in the suite's [pagecache]",
                    why.join("; ")
                ))
            })?
        } else {
            let d = Path::new(&cfg.dir);
            if let Some(w) = not_disk(d) {
                return Err(unfit(format!("[pagecache] dir: {w}")));
            }
            d
        };
        let dir = parent.join(format!("isobench-pagecache-{run_id}"));
        std::fs::create_dir(&dir).map_err(|e| unfit(format!("{}: {e}", dir.display())))?;
        let scratch = Scratch(dir);
        // Writable by a user-namespaced root (nobody on the host) too.
        std::fs::set_permissions(&scratch.0, std::fs::Permissions::from_mode(0o777))
            .map_err(|e| unfit(format!("{}: {e}", scratch.0.display())))?;
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

/// One run; a skip when the sandbox cannot reach the directory (a launcher
/// whose rootfs holds only the workload).
fn run_rep(cfg: &Config, ctx: &Ctx, dir: &Path) -> Result<Rep, ScenarioError> {
    let bytes = cfg.bytes().to_string();
    let chunk = format!("{}K", cfg.chunk_kib);
    let d = dir.to_string_lossy().into_owned();
    let args = [
        "pagecache",
        "--bytes",
        &bytes,
        "--dir",
        &d,
        "--chunk",
        &chunk,
    ];
    // Even a slow disk (10 MiB/s) finishes well within this.
    let deadline = Duration::from_secs(30 + cfg.bytes() / (10 * MIB));
    let spec = memory::sandbox(ctx, &args, memory::memory_max(cfg.limit()), deadline);
    let mut r = ctx.launch(&spec)?;
    r.wait_ready()?;
    let sampling = Sampling {
        memory: true,
        ..Default::default()
    };
    let mon = Monitor::start(r.cgroup().view(), sampling, cfg.monitor_hz).context("monitor")?;
    let exit = r.wait_exit()?;
    let (samples, _) = mon.stop();
    let stats = r.cgroup().memory_stats()?;
    let events = std::mem::take(&mut r.events);
    r.teardown()?;
    let unreachable = events.iter().find_map(|e| match e {
        Event::Error { msg } if msg.starts_with("pagecache: create") => Some(msg),
        _ => None,
    });
    if let Some(msg) = unreachable {
        return Err(ScenarioError::skipped(skip(
            cfg,
            format!(
                "the {} sandbox cannot write to {} ({msg}): pagecache needs a disk directory visible inside the sandbox",
                ctx.launcher,
                dir.display()
            ),
        )));
    }
    let done = events.iter().find_map(|e| match e {
        Event::PagecacheDone(p) => Some(p),
        _ => None,
    });
    let mem = |f: fn(&MemoryStats) -> Option<u64>| {
        samples
            .iter()
            .filter_map(|s| s.memory.as_ref().and_then(f))
            .max()
            .unwrap_or(0)
    };
    Ok(Rep {
        exit,
        written: done.map(|p| p.bytes),
        write_seconds: done.and_then(|p| p.t_ns).map(|t| t as f64 / 1e9),
        stats,
        max_sampled: mem(|m| m.current),
        max_file: mem(|m| m.file),
        samples,
    })
}

fn params(cfg: &Config) -> serde_json::Map<String, serde_json::Value> {
    memory::params(json!({
        "limit_mib": cfg.limit_mib,
        "written_mib": cfg.bytes() / MIB,
    }))
}

/// The skip row, with why.
fn skip(cfg: &Config, why: String) -> Skip {
    memory::not_run(
        n::SKIP,
        "page cache reclaimed under the limit, no OOM kill",
        why,
        params(cfg),
    )
}

fn peak_of(r: &Rep) -> u64 {
    r.stats.peak.unwrap_or(r.max_sampled)
}

/// Turns the runs into metrics and checks.
fn result(cfg: &Config, reps: &[Rep], launcher: &str) -> ScenarioResult {
    let limit = cfg.limit();
    let want = cfg.bytes();
    let oom_kills = |r: &Rep| r.stats.events.oom_kill.unwrap_or(0);
    let no_oom = reps
        .iter()
        .all(|r| r.exit == Exit::Code(0) && oom_kills(r) == 0 && r.written == Some(want));
    let oomed = reps.iter().any(|r| oom_kills(r) > 0);
    let peak = reps.iter().map(peak_of).max().unwrap_or(0);
    let within = peak <= limit + cfg.slack();
    // The limit was reached and the writer went on: the cache was reclaimed.
    let hits: Vec<Option<u64>> = reps.iter().map(|r| memory::limit_hits(&r.stats)).collect();
    let reclaimed = hits.iter().all(|h| h.unwrap_or(0) > 0);
    let checks = [
        Check::new(
            n::NO_OOM_KILL,
            Status::pass_if(no_oom),
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
            n::USAGE_WITHIN_LIMIT,
            Status::pass_if(within),
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
            n::CACHE_RECLAIMED,
            Status::pass_or(reclaimed, Status::Warn),
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
    let rate = |r: &Rep| Some(in_mib(r.written?) / r.write_seconds?);
    let metrics = [
        Metric::with_target(
            n::PEAK_USAGE,
            "bytes",
            limit as f64,
            reps.iter().map(|r| peak_of(r) as f64).collect(),
        ),
        Metric::new(
            n::WRITE_RATE,
            "MiB/s",
            Better::Higher,
            reps.iter().filter_map(rate).collect(),
        ),
        Metric::new(
            n::PAGE_CACHE_PEAK,
            "bytes",
            Better::Target,
            reps.iter().map(|r| r.max_file as f64).collect(),
        ),
        Metric::new(
            n::LIMIT_HITS,
            "count",
            Better::Higher,
            hits.iter().map(|h| h.unwrap_or(0) as f64).collect(),
        ),
    ];
    let mut p = Point::for_launcher(Pagecache::NAME, launcher)
        .params(params(cfg))
        .checks(checks)
        .metrics(metrics);
    if let Some(r) = reps.first() {
        let pick = |f: fn(&MemoryStats) -> Option<u64>| -> Vec<[f64; 2]> {
            r.samples
                .iter()
                .filter_map(|s| Some([s.t, in_mib(f(s.memory.as_ref()?)?)]))
                .collect()
        };
        p = p
            .series(n::USAGE_MIB, pick(|m| m.current))
            .series(n::PAGE_CACHE_MIB, pick(|m| m.file));
    }
    p.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::Level;
    use crate::cgroup::MemoryEvents;
    use crate::scenarios::memory::testing::{plot_ids, rejects, status};

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

    #[test]
    fn reclaimed_cache_passes() {
        let cfg = Pagecache::level(Level::Quick);
        let r = result(&cfg, &[rep(&cfg)], "native");
        for c in &r.checks {
            assert_eq!(c.status, Status::Pass, "{c:?}");
        }
        assert_eq!(r.metrics[1].samples, vec![512.0]);
    }

    #[test]
    fn cache_not_reclaimed_means_oom_and_fails() {
        // What a tmpfs file does without swap: the writer is OOM-killed.
        let cfg = Pagecache::level(Level::Quick);
        let mut x = rep(&cfg);
        x.exit = Exit::Signaled(9);
        x.written = None;
        x.write_seconds = None;
        x.stats.events.oom_kill = Some(1);
        let r = result(&cfg, &[x], "native");
        assert_eq!(status(&r, n::NO_OOM_KILL), Status::Fail);
        assert!(r.checks[0].detail.contains("not reclaimed"));
        assert!(r.metrics[1].samples.is_empty());
    }

    #[test]
    fn usage_above_the_limit_fails_and_no_limit_hit_warns() {
        let cfg = Pagecache::level(Level::Quick);
        let mut x = rep(&cfg);
        x.stats.peak = Some(cfg.limit() + 4 * MIB);
        assert_eq!(
            status(&result(&cfg, &[x], "native"), n::USAGE_WITHIN_LIMIT),
            Status::Fail
        );
        let mut x = rep(&cfg);
        x.stats.events.max = Some(0);
        x.stats.failcnt = Some(0);
        assert_eq!(
            status(&result(&cfg, &[x], "native"), n::CACHE_RECLAIMED),
            Status::Warn
        );
    }

    #[test]
    fn the_plot_draws_what_the_result_records() {
        let cfg = Pagecache::level(Level::Quick);
        let mut x = rep(&cfg);
        x.samples = (0..3u32)
            .map(|i| Sample {
                t: f64::from(i) * 0.1,
                cpu: None,
                memory: Some(MemoryStats {
                    current: Some(u64::from(i) * 20 * MIB),
                    file: Some(u64::from(i) * 18 * MIB),
                    ..Default::default()
                }),
                pids: None,
            })
            .collect();
        let ids = plot_ids(vec![result(&cfg, &[x], "native")]);
        assert!(ids.iter().any(|i| i == "pagecache-memory-native"), "{ids:?}");
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
        rejects::<Pagecache>(&[
            ("factor", |c| c.factor = 1.0),
            ("dir", |c| c.dir = "relative/dir".into()),
            ("limit-mib", |c| c.limit_mib = 1),
        ]);
    }
}
