//! The throttled points (one limit, one direct-IO workload each) and the
//! buffered-writer point, turned into metrics and checks.

use isobench_reports::names::io as n;
use isobench_reports::{Better, Check, Metric, ScenarioResult, Status};

use super::target::Target;
use super::window::{self, Job, Measured};
use super::Config;
use crate::cgroup::psi::{self, Resource};
use crate::cgroup::{Controller, IoMax, IoStats, Limits};
use crate::scenarios::{Ctx, Point, ScenarioError};

const MIB: f64 = (1u64 << 20) as f64;

/// Which rate a point limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rbps,
    Wbps,
    Riops,
    Wiops,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Rbps => "rbps",
            Kind::Wbps => "wbps",
            Kind::Riops => "riops",
            Kind::Wiops => "wiops",
        }
    }

    fn op(self) -> &'static str {
        match self {
            Kind::Rbps | Kind::Riops => "read",
            Kind::Wbps | Kind::Wiops => "write",
        }
    }

    fn is_bps(self) -> bool {
        matches!(self, Kind::Rbps | Kind::Wbps)
    }

    /// The counter this kind limits, from a delta.
    fn count(self, io: &IoStats) -> Option<u64> {
        match self {
            Kind::Rbps => io.rbytes,
            Kind::Wbps => io.wbytes,
            Kind::Riops => io.rios,
            Kind::Wiops => io.wios,
        }
    }

    /// The rate in the unit results show (MiB/s or IOPS).
    fn shown(self, per_s: f64) -> f64 {
        if self.is_bps() {
            per_s / MIB
        } else {
            per_s
        }
    }

    fn unit(self) -> &'static str {
        if self.is_bps() {
            "MiB/s"
        } else {
            "IOPS"
        }
    }
}

/// One throttled point: a limit of `kind` at `value` (bytes/s or IOs/s).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttled {
    pub kind: Kind,
    pub value: u64,
    pub block: u64,
    pub tolerance_pct: f64,
}

impl Throttled {
    pub fn io_max(&self, dev: crate::cgroup::DevNum) -> IoMax {
        let v = Some(self.value);
        let mut m = IoMax {
            dev,
            ..Default::default()
        };
        match self.kind {
            Kind::Rbps => m.rbps = v,
            Kind::Wbps => m.wbps = v,
            Kind::Riops => m.riops = v,
            Kind::Wiops => m.wiops = v,
        }
        m
    }
}

/// The points `cfg` asks for: each bps limit read then write (requests of
/// `block-kib`), then each IOPS limit (4 KiB requests).
pub fn throttled(cfg: &Config) -> Vec<Throttled> {
    let mut v = Vec::new();
    for b in &cfg.bps_mib {
        for kind in [Kind::Rbps, Kind::Wbps] {
            v.push(Throttled {
                kind,
                value: (b * MIB).round() as u64,
                block: cfg.block_kib << 10,
                tolerance_pct: cfg.bps_tolerance_pct,
            });
        }
    }
    for i in &cfg.iops {
        for kind in [Kind::Riops, Kind::Wiops] {
            v.push(Throttled {
                kind,
                value: *i,
                block: 4096,
                tolerance_pct: cfg.iops_tolerance_pct,
            });
        }
    }
    v
}

fn limits(io: IoMax) -> Limits {
    Limits {
        io_max: Some(io),
        ..Default::default()
    }
}

/// Params every point carries.
fn base(ctx: &Ctx, target: &Target, cfg: &Config) -> Point {
    Point::new(n::SCENARIO, ctx)
        .param(n::PARAM_DEVICE, target.kind_text())
        .param(n::PARAM_DEVICE_KIND, target.kind())
        .param(
            "cgroup",
            if ctx.set.on_v2(Controller::Io) {
                "v2 io.max"
            } else {
                "v1 blkio.throttle"
            },
        )
        .param("seconds", cfg.seconds)
        .param("warmup", cfg.warmup)
}

/// What the device does without a limit, per (op, request size): a
/// limit above it cannot bind, so its point is a skip, not a failure.
#[derive(Debug, Default)]
pub struct Baselines(std::collections::BTreeMap<(&'static str, u64), (f64, f64)>);

impl Baselines {
    /// Bytes/s and IOs/s of `op` with `block`-byte requests, unthrottled
    /// (a short window, measured once).
    fn get(
        &mut self,
        ctx: &Ctx,
        cfg: &Config,
        target: &Target,
        op: &'static str,
        block: u64,
    ) -> Result<(f64, f64), ScenarioError> {
        if let Some(b) = self.0.get(&(op, block)) {
            return Ok(*b);
        }
        let mut short = cfg.clone();
        short.seconds = cfg.seconds.min(1.0);
        short.warmup = cfg.warmup.min(0.2);
        let job = Job {
            op,
            block,
            depth: short.depth,
            file: None,
            limits: Limits::default(),
        };
        let m = window::run(ctx, &short, target, &[job])?
            .pop()
            .ok_or_else(|| ScenarioError::failed("no baseline measurement"))?;
        let per_s = |c: Option<u64>| c.unwrap_or(0) as f64 / m.secs;
        let b = match op {
            "read" => (per_s(m.io.rbytes), per_s(m.io.rios)),
            _ => (per_s(m.io.wbytes), per_s(m.io.wios)),
        };
        self.0.insert((op, block), b);
        Ok(b)
    }
}

/// Runs one throttled point; `with_psi_check` adds the io-pressure check.
pub fn measure(
    ctx: &Ctx,
    cfg: &Config,
    target: &Target,
    p: &Throttled,
    with_psi_check: bool,
    baselines: &mut Baselines,
) -> Result<ScenarioResult, ScenarioError> {
    let (bps, iops) = baselines.get(ctx, cfg, target, p.kind.op(), p.block)?;
    let unthrottled = p.kind.shown(if p.kind.is_bps() { bps } else { iops });
    let job = Job {
        op: p.kind.op(),
        block: p.block,
        depth: cfg.depth,
        file: None,
        limits: limits(p.io_max(target.dev())),
    };
    let m = window::run(ctx, cfg, target, &[job])?
        .pop()
        .ok_or_else(|| ScenarioError::failed("no measurement"))?;
    let counters = if ctx.set.on_v2(Controller::Io) {
        "io.stat"
    } else {
        "blkio.throttle.io_service_bytes / io_serviced"
    };
    let point = base(ctx, target, cfg);
    Ok(throttled_result(point, p, &m, counters, with_psi_check, unthrottled))
}

/// Metrics and checks of a throttled point.
pub fn throttled_result(
    point: Point,
    p: &Throttled,
    m: &Measured,
    counters: &str,
    with_psi_check: bool,
    unthrottled: f64,
) -> ScenarioResult {
    let k = p.kind;
    let limit = k.shown(p.value as f64);
    let count = k.count(&m.io);
    let rate = count.map(|c| k.shown(c as f64 / m.secs));
    let acc = rate.map(|r| r / limit);
    let tol = p.tolerance_pct / 100.0;
    let within = acc.is_some_and(|a| (a - 1.0).abs() <= tol);
    let ended = match m.exit {
        crate::sandbox::Exit::Code(0) => String::new(),
        e => format!("; the workload ended with {e}"),
    };
    // The device alone must be faster than the band's top, or the limit
    // does not bind and the point says nothing about the throttle.
    let binds = unthrottled > limit * (1.0 + tol);
    let status = match (binds, within && ended.is_empty()) {
        (false, _) => Status::Skip,
        (true, ok) => Status::pass_if(ok),
    };
    let check = Check::new(
        n::WITHIN_LIMIT,
        status,
        format!(
            "{} rate = limit {} {} ± {}% ({:.3} – {:.3})",
            k.op(),
            fmt(limit),
            k.unit(),
            p.tolerance_pct,
            limit * (1.0 - tol),
            limit * (1.0 + tol)
        ),
        match (rate, acc) {
            (Some(r), Some(a)) => format!(
                "{} {} ({a:.3} × the limit) over {:.1} s, from {counters}{ended}",
                fmt(r),
                k.unit(),
                m.secs
            ),
            _ => format!("no {} counter for the device in {counters}{ended}", k.name()),
        },
        if binds {
            String::new()
        } else {
            format!(
                "the limit does not bind: the device does only {} {} unthrottled ({} requests of {} KiB, `depth` in flight); a faster device or a lower limit is needed",
                fmt(unthrottled),
                k.unit(),
                k.op(),
                p.block >> 10
            )
        },
    );
    let workload = m.done.as_ref().filter(|d| d.t_ns > 0).map(|d| {
        let n = if k.is_bps() { d.bytes } else { d.ios };
        k.shown(n as f64 / (d.t_ns as f64 / 1e9))
    });
    let mut pt = point
        .param(n::PARAM_LIMIT, k.name())
        .param(n::PARAM_LIMIT_VALUE, p.value)
        .param(n::PARAM_OP, k.op())
        .param("block", p.block)
        .metric(Metric::with_target(n::ACCURACY, "ratio", 1.0, acc.into_iter().collect()))
        .metric(Metric::with_target(n::RATE, k.unit(), limit, rate.into_iter().collect()))
        .metric(Metric::new(
            n::WORKLOAD_RATE,
            k.unit(),
            Better::Target,
            workload.into_iter().collect(),
        ))
        .metric(Metric::new(n::UNTHROTTLED, k.unit(), Better::Target, vec![unthrottled]))
        .check(check);
    pt = with_psi(pt, m, with_psi_check);
    pt.build()
}

/// io.pressure metrics of the window, and (when asked) the check that the
/// throttled workload stalled on IO.
fn with_psi(mut pt: Point, m: &Measured, check: bool) -> Point {
    if let Some((name, s)) = &m.psi_series {
        pt = pt.series(name, s.clone());
    }
    match &m.psi {
        Some((b, a, what)) => {
            pt = pt
                .param(n::PARAM_PSI_SOURCE, *what)
                .metrics(psi::metrics(Resource::Io, b, a, m.secs));
            if check {
                let stalled = a.some.total_us.saturating_sub(b.some.total_us);
                pt = pt.check(Check::new(
                    n::IO_PRESSURE,
                    Status::pass_if(stalled > 0),
                    "io.pressure some > 0 while the limit throttles the workload",
                    format!(
                        "some {:.1}% of the window ({stalled} µs stalled; {what})",
                        stalled as f64 / (m.secs * 1e4)
                    ),
                    "",
                ));
            }
        }
        None if check => {
            pt = pt.check(Check::new(
                n::IO_PRESSURE,
                Status::Skip,
                "io.pressure some > 0 while throttled",
                "no io.pressure for the sandbox",
                "no per-cgroup PSI here: needs CONFIG_PSI (not booted psi=0) and a cgroup2 directory (v2, or the unified tree of a hybrid host); pure v1 has none",
            ));
        }
        None => {}
    }
    pt
}

/// memory.max of the v2 buffered writer: its memory cgroup's dirty limits
/// (a share of this) start background writeback within the window and
/// bound how far the writer can run ahead of the device.
const V2_MEMORY: u64 = 128 << 20;

/// The largest writeback bio (BIO_MAX_VECS 4 KiB pages), in bytes.
const WRITEBACK_BIO: f64 = (1u64 << 20) as f64;

/// Share of the device's writes the v2 writer's cgroup must be charged.
const MIN_CHARGED_SHARE: f64 = 0.9;

/// The buffered writer under a wbps limit. On v1 it writes through the
/// page cache without fsync, as most programs do: the flusher writes the
/// data back outside the cgroup, so nothing throttles the writer — a
/// finding with the measured ratio. On v2 the same writer, under a memory
/// limit, has its writeback charged to its cgroup (memory-cgroup
/// writeback), and dirty throttling holds it to the limit — two checks.
pub fn buffered(ctx: &Ctx, cfg: &Config, target: &Target) -> Result<ScenarioResult, ScenarioError> {
    let limit = (cfg.buffered_mib * MIB).round() as u64;
    let v2 = ctx.set.on_v2(Controller::Io);
    let job = Job {
        op: "buffered",
        block: cfg.block_kib << 10,
        depth: cfg.depth,
        file: Some(target.buffered_file(cfg.size_mib << 20)?),
        limits: Limits {
            memory_max: v2.then_some(V2_MEMORY),
            ..limits(IoMax {
                dev: target.dev(),
                wbps: Some(limit),
                ..Default::default()
            })
        },
    };
    let m = window::run(ctx, cfg, target, &[job])?
        .pop()
        .ok_or_else(|| ScenarioError::failed("no measurement"))?;
    let through = match target.kind() {
        "dir" => "a file on the disk's filesystem",
        _ => "the raw loop device",
    };
    Ok(buffered_result(base(ctx, target, cfg), limit, &m, v2, cfg.bps_tolerance_pct, through))
}

/// Metrics and the finding or check of the buffered point.
pub fn buffered_result(
    point: Point,
    limit: u64,
    m: &Measured,
    v2: bool,
    tol_pct: f64,
    through: &str,
) -> ScenarioResult {
    let lim = limit as f64 / MIB;
    let charged = m.io.wbytes.map(|b| b as f64 / MIB / m.secs);
    let writer = m
        .done
        .as_ref()
        .filter(|d| d.t_ns > 0)
        .map(|d| d.bytes as f64 / MIB / (d.t_ns as f64 / 1e9));
    let ratio = writer.map(|w| w / lim);
    let charged_ratio = charged.map(|c| c / lim);
    let tol = tol_pct / 100.0;
    let show = |x: Option<f64>| x.map_or("none".into(), |v| format!("{v:.2} MiB/s"));
    let device = m.device_wbytes.map(|b| b as f64 / MIB / m.secs);
    let observed = format!(
        "writer {} ({} × the limit); charged to the cgroup {} ({} × the limit); the whole device wrote {}, through {through}, no fsync",
        show(writer),
        ratio.map_or("?".into(), |r| format!("{r:.2}")),
        show(charged),
        charged_ratio.map_or("?".into(), |r| format!("{r:.2}")),
        show(device),
    );
    let mut checks = Vec::new();
    let share = m
        .device_wbytes
        .filter(|&d| d > 0)
        .zip(m.io.wbytes)
        .map(|(d, c)| c as f64 / d as f64);
    if v2 {
        // Charged: the cgroup's counter saw (almost) all the device wrote.
        // Other writers on a shared disk, and the journal, only lower it.
        checks.push(Check::new(
            n::WRITEBACK_CHARGED,
            Status::pass_if(share.is_some_and(|s| s >= MIN_CHARGED_SHARE)),
            format!(
                "v2: writeback charged to the writer's cgroup: ≥ {:.0}% of the bytes the device wrote over the window appear in the cgroup's io.stat wbytes",
                MIN_CHARGED_SHARE * 100.0
            ),
            format!("{}; {observed}", share.map_or("no device counter".into(), |s| format!("{:.1}% charged", s * 100.0))),
            "",
        ));
        // Throttled: the writer cannot outrun the limit by more than the
        // dirty pages its memory limit lets it keep, and what is charged
        // never goes above the limit. Below it is the kernel's dirty
        // throttling leaving the device idle at times (shown, not failed).
        let bound = m.done.as_ref().filter(|d| d.t_ns > 0).map(|d| {
            let t = d.t_ns as f64 / 1e9;
            (d.bytes, limit as f64 * t * (1.0 + tol) + V2_MEMORY as f64)
        });
        // Writeback submits whole bios (up to 1 MiB of pages), each charged
        // when the throttle dispatches it: either end of the window may
        // count one bio more or less than the limit's share.
        let max_charged = 1.0 + tol + 2.0 * WRITEBACK_BIO / (limit as f64 * m.secs.max(1.0));
        let held = bound.is_some_and(|(b, max)| b as f64 <= max)
            && charged_ratio.is_some_and(|r| r <= max_charged);
        checks.push(Check::new(
            n::BUFFERED_THROTTLED,
            Status::pass_if(held),
            format!(
                "v2: a page-cache writer under wbps {lim} MiB/s (memory.max {} MiB, no fsync) is held to it: bytes written ≤ limit × time × (1 + {tol_pct}%) + memory.max, and the charged rate ≤ {max_charged:.2} × the limit ({tol_pct}% and one 1 MiB writeback bio at each end of the window)",
                V2_MEMORY >> 20
            ),
            format!(
                "{}; {observed}",
                bound.map_or("no writer totals".into(), |(b, max)| format!(
                    "{:.1} MiB written, bound {:.1} MiB",
                    b as f64 / MIB,
                    max / MIB
                ))
            ),
            "",
        ));
    } else {
        let bypass = ratio.is_some_and(|r| r > 1.0 + tol);
        checks.push(Check::new(
            n::BUFFERED_V1_BYPASS,
            Status::pass_or(!bypass, Status::Warn),
            format!(
                "v1 documents that blkio.throttle does not limit buffered writes (writeback is issued by the flusher, outside the cgroup): a page-cache writer under wbps {lim} MiB/s"
            ),
            observed,
            if bypass {
                "finding: buffered writes bypass blkio throttling on cgroup v1; limit writers with O_DIRECT or move to cgroup v2 (io.max with memory-cgroup writeback)"
            } else {
                "the buffered writer stayed within the limit here"
            },
        ));
    }
    let mut pt = point
        .param(n::PARAM_LIMIT, "wbps")
        .param(n::PARAM_LIMIT_VALUE, limit)
        .param(n::PARAM_OP, "buffered")
        .metric(Metric::new(n::BUFFERED_RATIO, "ratio", Better::Target, ratio.into_iter().collect()))
        .metric(Metric::with_target(
            n::CHARGED_RATIO,
            "ratio",
            1.0,
            charged_ratio.into_iter().collect(),
        ))
        .metric(Metric::with_target(n::CHARGED_SHARE, "ratio", 1.0, share.into_iter().collect()));
    for c in checks {
        pt = pt.check(c);
    }
    pt = with_psi(pt, m, false);
    pt.build()
}

/// A rate with a sensible number of digits.
fn fmt(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroup::DevNum;
    use crate::sandbox::event::IoDone;
    use crate::sandbox::Exit;

    fn measured(io: IoStats, secs: f64) -> Measured {
        Measured {
            exit: Exit::Code(0),
            io,
            secs,
            done: Some(IoDone {
                op: "read".into(),
                bytes: 6 << 20,
                ios: 96,
                block: 65536,
                t_ns: 6_500_000_000,
            }),
            psi: None,
            device_wbytes: None,
            psi_series: None,
        }
    }

    fn point() -> Point {
        Point::for_launcher("io", "native")
    }

    #[test]
    fn accuracy_is_counter_rate_over_limit() {
        let p = Throttled {
            kind: Kind::Rbps,
            value: 1 << 20,
            block: 65536,
            tolerance_pct: 10.0,
        };
        let io = IoStats {
            rbytes: Some(5 << 20),
            ..Default::default()
        };
        let r = throttled_result(point(), &p, &measured(io, 5.0), "io.stat", true, 1e9);
        assert_eq!(r.metrics[0].name, n::ACCURACY);
        assert!((r.metrics[0].samples[0] - 1.0).abs() < 1e-9);
        assert_eq!(r.checks[0].status, Status::Pass);
        // No PSI here: the pressure check is a skip that says why.
        assert_eq!(r.checks[1].name, n::IO_PRESSURE);
        assert_eq!(r.checks[1].status, Status::Skip);
        // 20% over the limit fails the ±10% band.
        let io = IoStats {
            rbytes: Some(6 << 20),
            ..Default::default()
        };
        let r = throttled_result(point(), &p, &measured(io, 5.0), "io.stat", false, 1e9);
        assert_eq!(r.checks[0].status, Status::Fail);
        assert_eq!(r.checks.len(), 1);
        // No counter: fails, and says so.
        let r = throttled_result(point(), &p, &measured(IoStats::default(), 5.0), "io.stat", false, 1e9);
        assert_eq!(r.checks[0].status, Status::Fail);
        assert!(r.checks[0].observed.contains("no rbps counter"));
        // A device slower than the band's top: the limit does not bind.
        let io = IoStats {
            rbytes: Some(2 << 20),
            ..Default::default()
        };
        let r = throttled_result(point(), &p, &measured(io, 5.0), "io.stat", false, 1.05);
        assert_eq!(r.checks[0].status, Status::Skip);
        assert!(r.checks[0].detail.contains("does not bind"), "{:?}", r.checks[0]);
    }

    #[test]
    fn iops_points_count_requests() {
        let p = Throttled {
            kind: Kind::Wiops,
            value: 100,
            block: 4096,
            tolerance_pct: 15.0,
        };
        assert_eq!(p.io_max(DevNum { major: 7, minor: 0 }).wiops, Some(100));
        let io = IoStats {
            wios: Some(560),
            ..Default::default()
        };
        let r = throttled_result(point(), &p, &measured(io, 5.0), "io.stat", false, 1e9);
        assert!((r.metrics[1].samples[0] - 112.0).abs() < 1e-9);
        assert_eq!(r.checks[0].status, Status::Pass);
    }

    #[test]
    fn buffered_is_a_finding_on_v1_and_a_check_on_v2() {
        let limit = 4 << 20;
        // The writer went at 100 MiB/s, nothing charged: v1's bypass.
        let mut m = measured(IoStats { wbytes: Some(0), ..Default::default() }, 5.0);
        m.done.as_mut().unwrap().bytes = 650 << 20;
        let r = buffered_result(point(), limit, &m, false, 10.0, "x");
        assert_eq!(r.checks[0].name, n::BUFFERED_V1_BYPASS);
        assert_eq!(r.checks[0].status, Status::Warn);
        assert!((r.metrics[0].samples[0] - 25.0).abs() < 1e-9);
        // The same on v2 fails the writeback check.
        let r = buffered_result(point(), limit, &m, true, 10.0, "x");
        assert_eq!(r.checks[0].name, n::WRITEBACK_CHARGED);
        assert_eq!(r.checks[0].status, Status::Fail);
        // Charged (all the device wrote) and throttled: passes on v2.
        let mut m = measured(IoStats { wbytes: Some(20 << 20), ..Default::default() }, 5.0);
        m.done.as_mut().unwrap().bytes = 26 << 20;
        m.device_wbytes = Some(20 << 20);
        let r = buffered_result(point(), limit, &m, true, 10.0, "x");
        assert_eq!(r.checks[0].status, Status::Pass, "{:?}", r.checks[0]);
        assert_eq!(r.checks[1].name, n::BUFFERED_THROTTLED);
        assert_eq!(r.checks[1].status, Status::Pass, "{:?}", r.checks[1]);
        // One bio over at each end of the window still passes (1.2 × here).
        m.io.wbytes = Some(24 << 20);
        m.device_wbytes = Some(24 << 20);
        let r = buffered_result(point(), limit, &m, true, 10.0, "x");
        assert_eq!(r.checks[1].status, Status::Pass, "{:?}", r.checks[1]);
        // A limit applied at twice its value fails the throttled check.
        m.io.wbytes = Some(40 << 20);
        m.device_wbytes = Some(40 << 20);
        let r = buffered_result(point(), limit, &m, true, 10.0, "x");
        assert_eq!(r.checks[0].status, Status::Pass);
        assert_eq!(r.checks[1].status, Status::Fail, "{:?}", r.checks[1]);
        // Writeback the cgroup was not charged for (the flusher's root).
        m.io.wbytes = Some(2 << 20);
        m.device_wbytes = Some(20 << 20);
        let r = buffered_result(point(), limit, &m, true, 10.0, "x");
        assert_eq!(r.checks[0].status, Status::Fail, "{:?}", r.checks[0]);
    }

    #[test]
    fn points_cover_each_limit_read_and_write() {
        let cfg = <super::super::Io as crate::scenarios::Scenario>::level(crate::scenarios::Level::Default);
        let p = throttled(&cfg);
        assert_eq!(p.len(), 10);
        assert_eq!((p[0].kind, p[0].value), (Kind::Rbps, 1 << 20));
        assert_eq!((p[9].kind, p[9].value, p[9].block), (Kind::Wiops, 500, 4096));
    }
}
