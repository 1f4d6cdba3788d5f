//! Typed counters read from a cgroup. Every field is an `Option` so a kernel
//! that lacks a key (older kernel, other cgroup version) still parses.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::error::Result;
use super::parse::{self, read_flat_keyed, read_u64_opt};

/// Declares a struct of counters, one line per counter, each an
/// `Option<u64>`; `delta` adds [`CpuStats::delta`]-style differences,
/// `keyed` a constructor from a flat-keyed file whose keys are the names.
macro_rules! counters {
    ($(#[$meta:meta])* $name:ident $([$($with:ident),*])? {
        $($(#[$fmeta:meta])* $field:ident),* $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: Option<u64>,)*
        }
        counters!(@with $name [$($field)*] $($($with)*)?);
    };
    (@with $name:ident $fields:tt) => {};
    (@with $name:ident $fields:tt $first:ident $($rest:ident)*) => {
        counters!(@$first $name $fields);
        counters!(@with $name $fields $($rest)*);
    };
    (@delta $name:ident [$($field:ident)*]) => {
        impl $name {
            /// Counter differences `self - earlier` (saturating; None stays None).
            pub fn delta(&self, earlier: &$name) -> $name {
                $name {
                    $($field: self.$field.map(|a| a.saturating_sub(earlier.$field.unwrap_or(0))),)*
                }
            }
        }
    };
    (@keyed $name:ident [$($field:ident)*]) => {
        impl $name {
            /// From a flat-keyed file's keys of the same names.
            pub fn from_keys(keys: &BTreeMap<String, u64>) -> $name {
                $name {
                    $($field: keys.get(stringify!($field)).copied(),)*
                }
            }
        }
    };
}

counters! {
    /// CPU accounting and CFS bandwidth counters, in nanoseconds.
    CpuStats [delta] {
        usage_ns, user_ns, system_ns, nr_periods, nr_throttled, throttled_ns, nr_bursts, burst_ns,
    }
}

counters! {
    /// v2 memory.events (v1 maps failcnt → max and oom_control → oom/oom_kill).
    MemoryEvents [keyed] {
        low, high, max, oom, oom_kill, oom_group_kill,
    }
}

counters! {
    /// Task counts under the pids controller.
    PidsStats {
        current,
        peak,
        max,
        /// Number of forks refused by pids.max (pids.events "max").
        events_max,
    }
}

counters! {
    /// Block IO done by a cgroup on one device: v2 `io.stat` keys, v1
    /// `blkio.throttle.io_service_bytes` / `io_serviced` Read and Write.
    IoStats [delta] {
        rbytes, wbytes, rios, wios,
    }
}

impl IoStats {
    /// Parses v2 `io.stat` for device `dev` (`MAJ:MIN rbytes=… wbytes=…`).
    /// A cgroup that has done no IO on the device has no line: zeros.
    pub fn parse_v2(text: &str, dev: &str) -> IoStats {
        let Some(line) = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(dev))
        else {
            return IoStats::zero();
        };
        let mut keys = BTreeMap::new();
        for kv in line.split_whitespace().skip(1) {
            if let Some((k, v)) = kv.split_once('=') {
                if let Ok(n) = v.parse::<u64>() {
                    keys.insert(k.to_string(), n);
                }
            }
        }
        let get = |k: &str| keys.get(k).copied();
        IoStats {
            rbytes: get("rbytes"),
            wbytes: get("wbytes"),
            rios: get("rios"),
            wios: get("wios"),
        }
    }

    /// Parses v1 `blkio.throttle.io_service_bytes` and `io_serviced` for
    /// device `dev` (`MAJ:MIN Read N` lines); no line for it: zeros.
    pub fn parse_v1(bytes: &str, serviced: &str, dev: &str) -> IoStats {
        let find = |text: &str, op: &str| -> u64 {
            text.lines()
                .find_map(|l| {
                    let mut w = l.split_whitespace();
                    match (w.next(), w.next(), w.next()) {
                        (Some(d), Some(o), Some(n)) if d == dev && o == op => n.parse().ok(),
                        _ => None,
                    }
                })
                .unwrap_or(0)
        };
        IoStats {
            rbytes: Some(find(bytes, "Read")),
            wbytes: Some(find(bytes, "Write")),
            rios: Some(find(serviced, "Read")),
            wios: Some(find(serviced, "Write")),
        }
    }

    fn zero() -> IoStats {
        IoStats {
            rbytes: Some(0),
            wbytes: Some(0),
            rios: Some(0),
            wios: Some(0),
        }
    }
}

/// Memory usage, peak and events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MemoryStats {
    pub current: Option<u64>,
    /// v2 memory.peak / v1 memory.max_usage_in_bytes.
    pub peak: Option<u64>,
    pub events: MemoryEvents,
    /// v1 memory.failcnt.
    pub failcnt: Option<u64>,
    /// v1 memory.oom_control under_oom: the cgroup is stuck at its limit
    /// with the OOM killer disabled.
    pub under_oom: Option<bool>,
    pub oom_kill_disable: Option<bool>,
    /// Page cache (v2 memory.stat file / v1 total_cache).
    pub file: Option<u64>,
    /// Anonymous memory (v2 memory.stat anon / v1 total_rss).
    pub anon: Option<u64>,
}

impl PidsStats {
    /// Reads the pids counters of cgroup `d` (the same files on v1 and v2).
    pub fn read(d: &Path) -> Result<PidsStats> {
        let max_path = d.join("pids.max");
        let max = match parse::read_opt(&max_path)? {
            Some(t) => parse::parse_max_or_u64(&max_path, &t)?,
            None => None,
        };
        let ev = read_flat_keyed(&d.join("pids.events"))?;
        Ok(PidsStats {
            current: read_u64_opt(&d.join("pids.current"))?,
            peak: read_u64_opt(&d.join("pids.peak"))?,
            max,
            events_max: ev.get("max").copied(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_stat_v2_picks_the_device_line() {
        let t = "8:0 rbytes=90 wbytes=1 rios=2 wios=3 dbytes=0 dios=0\n\
                 7:3 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n";
        let s = IoStats::parse_v2(t, "7:3");
        assert_eq!(
            (s.rbytes, s.wbytes, s.rios, s.wios),
            (Some(4096), Some(8192), Some(1), Some(2))
        );
        // No IO yet on the device: no line, zeros.
        assert_eq!(IoStats::parse_v2(t, "7:4").wbytes, Some(0));
        // A kernel without a key: None.
        assert_eq!(IoStats::parse_v2("7:3 rbytes=5", "7:3").wios, None);
        let later = IoStats::parse_v2("7:3 rbytes=5096 wbytes=8192 rios=3 wios=2", "7:3");
        assert_eq!(later.delta(&s).rbytes, Some(1000));
        assert_eq!(later.delta(&s).rios, Some(2));
    }

    #[test]
    fn blkio_v1_reads_read_and_write_of_the_device() {
        let bytes = "7:3 Read 1048576\n7:3 Write 2048\n7:3 Sync 0\n7:3 Async 0\n\
                     7:3 Discard 0\n7:3 Total 1050624\n8:0 Read 7\nTotal 1050631\n";
        let ios = "7:3 Read 256\n7:3 Write 1\n7:3 Total 257\nTotal 257\n";
        let s = IoStats::parse_v1(bytes, ios, "7:3");
        assert_eq!(
            (s.rbytes, s.wbytes, s.rios, s.wios),
            (Some(1 << 20), Some(2048), Some(256), Some(1))
        );
        assert_eq!(
            IoStats::parse_v1("Total 0\n", "Total 0\n", "7:3").rbytes,
            Some(0)
        );
    }

    #[test]
    fn cpu_delta_saturates_and_keeps_none() {
        let a = CpuStats {
            usage_ns: Some(100),
            nr_periods: Some(5),
            ..Default::default()
        };
        let b = CpuStats {
            usage_ns: Some(300),
            nr_periods: Some(4),
            burst_ns: Some(7),
            ..Default::default()
        };
        let d = b.delta(&a);
        assert_eq!(d.usage_ns, Some(200));
        assert_eq!(d.nr_periods, Some(0));
        assert_eq!(d.burst_ns, Some(7));
        assert_eq!(d.user_ns, None);
    }
}
