//! The one place where v1 and v2 semantics are translated into each other.

use super::limits::IoMax;

/// Default v1 cpu.shares / v2 cpu.weight.
pub const DEFAULT_SHARES: u64 = 1024;
pub const DEFAULT_WEIGHT: u64 = 100;

/// v2 cpu.weight (1..=10000) → v1 cpu.shares (2..=262144) with the kernel's
/// own scale (kernel/sched/core.c: weight 100 ≙ 1024 shares), so a default
/// sibling competes the same on both versions. (runc maps the two ranges
/// linearly instead, which turns the default weight 100 into 2597 shares.)
pub fn weight_to_shares(weight: u64) -> u64 {
    (weight.clamp(1, 10000) * DEFAULT_SHARES / DEFAULT_WEIGHT).clamp(2, 262_144)
}

/// v1 cpu.shares → v2 cpu.weight, inverse of [`weight_to_shares`] up to rounding.
pub fn shares_to_weight(shares: u64) -> u64 {
    let s = shares.clamp(2, 262_144);
    ((s * DEFAULT_WEIGHT + DEFAULT_SHARES / 2) / DEFAULT_SHARES).clamp(1, 10000)
}

/// v2 "memory.swap.max" (swap on top of memory) → v1 memsw limit (memory+swap).
pub fn swap_to_memsw(memory_max: u64, swap_max: u64) -> u64 {
    memory_max.saturating_add(swap_max)
}

/// v1 cfs_quota_us (-1 = unlimited) → v2 quota (None = "max").
pub fn v1_quota_to_v2(quota_us: i64) -> Option<u64> {
    if quota_us < 0 {
        None
    } else {
        Some(quota_us as u64)
    }
}

/// v2 quota (None = "max") → v1 cfs_quota_us.
pub fn v2_quota_to_v1(quota_us: Option<u64>) -> i64 {
    match quota_us {
        None => -1,
        Some(q) => q.min(i64::MAX as u64) as i64,
    }
}

/// v1 cpuacct.stat is in USER_HZ ticks; v2 cpu.stat user/system are in µs.
pub fn user_hz_ticks_to_ns(ticks: u64, user_hz: u64) -> u64 {
    ticks.saturating_mul(1_000_000_000) / user_hz.max(1)
}

/// The v2 `io.max` line: `MAJ:MIN rbps=N wbps=max riops=max wiops=max`
/// (every key written, so a rewrite also lifts what is now unlimited).
pub fn io_max_line(l: &IoMax) -> String {
    let v = |x: Option<u64>| x.map_or_else(|| "max".to_string(), |n| n.to_string());
    format!(
        "{} rbps={} wbps={} riops={} wiops={}",
        l.dev,
        v(l.rbps),
        v(l.wbps),
        v(l.riops),
        v(l.wiops)
    )
}

/// The v1 `blkio.throttle.*_device` writes: (file, `MAJ:MIN N`), where 0
/// means unlimited (the kernel's spelling of "no rule").
pub fn blkio_throttle_lines(l: &IoMax) -> [(&'static str, String); 4] {
    let line = |x: Option<u64>| format!("{} {}", l.dev, x.unwrap_or(0));
    [
        ("blkio.throttle.read_bps_device", line(l.rbps)),
        ("blkio.throttle.write_bps_device", line(l.wbps)),
        ("blkio.throttle.read_iops_device", line(l.riops)),
        ("blkio.throttle.write_iops_device", line(l.wiops)),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::limits::DevNum;
    use super::*;

    #[test]
    fn io_limits_as_v2_and_v1_lines() {
        let l = IoMax {
            dev: DevNum { major: 7, minor: 3 },
            rbps: Some(1 << 20),
            wbps: None,
            riops: None,
            wiops: Some(500),
        };
        assert_eq!(
            io_max_line(&l),
            "7:3 rbps=1048576 wbps=max riops=max wiops=500"
        );
        let v1 = blkio_throttle_lines(&l);
        assert_eq!(
            v1[0],
            ("blkio.throttle.read_bps_device", "7:3 1048576".into())
        );
        assert_eq!(v1[1], ("blkio.throttle.write_bps_device", "7:3 0".into()));
        assert_eq!(v1[2].1, "7:3 0");
        assert_eq!(
            v1[3],
            ("blkio.throttle.write_iops_device", "7:3 500".into())
        );
    }

    #[test]
    fn weight_shares_endpoints_and_defaults() {
        assert_eq!(weight_to_shares(DEFAULT_WEIGHT), DEFAULT_SHARES);
        assert_eq!(shares_to_weight(DEFAULT_SHARES), DEFAULT_WEIGHT);
        assert_eq!(weight_to_shares(1), 10);
        assert_eq!(weight_to_shares(10000), 102_400);
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(262144), 10000);
    }

    #[test]
    fn weight_shares_round_trip_within_one() {
        for w in [1u64, 2, 50, 100, 200, 400, 1000, 9999, 10000] {
            // Shares are 10.24× finer than weights: the round trip is exact
            // up to rounding.
            let back = shares_to_weight(weight_to_shares(w));
            assert!(back.abs_diff(w) <= 1, "{w} -> {back}");
        }
    }

    #[test]
    fn ratios_preserved_for_contention() {
        // 1:2:4 weights stay ~1:2:4 in shares (what cpu-weight relies on).
        let s: Vec<f64> = [100u64, 200, 400]
            .iter()
            .map(|&w| weight_to_shares(w) as f64)
            .collect();
        assert!((s[1] / s[0] - 2.0).abs() < 0.02);
        assert!((s[2] / s[0] - 4.0).abs() < 0.04);
    }

    #[test]
    fn out_of_range_is_clamped() {
        assert_eq!(weight_to_shares(0), 10);
        assert_eq!(weight_to_shares(u64::MAX), 102_400);
    }

    #[test]
    fn quota_conversions() {
        assert_eq!(v1_quota_to_v2(-1), None);
        assert_eq!(v1_quota_to_v2(20000), Some(20000));
        assert_eq!(v2_quota_to_v1(None), -1);
        assert_eq!(v2_quota_to_v1(Some(5000)), 5000);
        assert_eq!(swap_to_memsw(100, 0), 100);
        assert_eq!(swap_to_memsw(u64::MAX, 5), u64::MAX);
        assert_eq!(user_hz_ticks_to_ns(100, 100), 1_000_000_000);
    }
}
