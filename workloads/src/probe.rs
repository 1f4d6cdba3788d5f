//! `probe`: what the sandbox lets the workload see, as one JSON line.
//! Unreadable fields are null; the probe itself never fails.
//!
//! Besides identity (pids, ids, mounts, interfaces, hostname, cgroup) it
//! reports the global views that namespaces do not virtualise — MemTotal,
//! CPUs online and in /proc/cpuinfo, uptime, load average — so the harness
//! can show what leaks past a memory limit or a CPU quota.

use std::fs;

use crate::args::Flags;
use crate::json::Obj;
use crate::report::Reporter;
use crate::sys;
use crate::{Failure, Outcome};

pub fn main(rep: &Reporter, args: &[String]) -> Outcome {
    Flags::parse("probe", args, &[]).map_err(Failure::Usage)?;
    rep.ready();
    rep.emit(&probe());
    Ok(())
}

fn read_trimmed(path: &str) -> Option<String> {
    fs::read(path)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
}

fn visible_pids() -> Option<Vec<u64>> {
    let mut pids: Vec<u64> = fs::read_dir("/proc")
        .ok()?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .collect();
    pids.sort_unstable();
    Some(pids)
}

/// Interface names of this process's network namespace, sorted.
///
/// /proc/net/dev first: it always follows the caller's netns, whereas
/// /sys/class/net shows the netns of whoever mounted sysfs (a sandbox that
/// did not remount /sys would otherwise see the host's interfaces).
fn interfaces() -> Option<Vec<String>> {
    if let Some(text) = read_trimmed("/proc/net/dev") {
        let mut names: Vec<String> = text
            .lines()
            .skip(2)
            .filter_map(|l| Some(l.split_once(':')?.0.trim().to_string()))
            .filter(|n| !n.is_empty())
            .collect();
        names.sort();
        return Some(names);
    }
    let mut names: Vec<String> = fs::read_dir("/sys/class/net")
        .ok()?
        .filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    Some(names)
}

/// Undo the octal escapes (`\040` for space, ...) of /proc/self/mountinfo.
pub fn unescape_octal(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && b.len() - i >= 4
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            if let Ok(v) = u8::try_from(v) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Mount points (unescaped) and mount keys of /proc/self/mountinfo.
fn mounts() -> Option<(Vec<String>, Vec<String>)> {
    let text = fs::read("/proc/self/mountinfo").ok()?;
    let text = String::from_utf8_lossy(&text);
    Some(
        text.lines()
            .filter_map(|l| Some((unescape_octal(l.split(' ').nth(4)?), mount_key(l)?)))
            .unzip(),
    )
}

/// "MAJ:MIN ROOT MOUNTPOINT" (mountinfo fields 3–5, still escaped): the same
/// key inside and outside a sandbox means the same mount of the same
/// filesystem, where a fresh mount (proc, tmpfs, a bind of another root)
/// differs even when its mount point is named alike.
pub fn mount_key(line: &str) -> Option<String> {
    let f: Vec<&str> = line.split(' ').skip(2).take(3).collect();
    (f.len() == 3).then(|| f.join(" "))
}

/// Ids of the SysV shared memory segments in this IPC namespace (the
/// `shmid` column of /proc/sysvipc/shm, after its header line).
pub fn parse_shm_ids(text: &str) -> Vec<u64> {
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect()
}

/// `MemTotal` of /proc/meminfo, in bytes.
pub fn parse_meminfo_total(text: &str) -> Option<u64> {
    let rest = text.lines().find_map(|l| l.strip_prefix("MemTotal:"))?;
    let mut it = rest.split_whitespace();
    let n: u64 = it.next()?.parse().ok()?;
    match it.next() {
        Some("kB") => n.checked_mul(1024),
        None => Some(n),
        Some(_) => None,
    }
}

/// Number of CPUs in a kernel CPU list ("0-3,6" is 5); None when malformed.
pub fn count_cpulist(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() {
        return Some(0);
    }
    let mut n = 0u64;
    for part in text.split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (u64, u64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        if b < a {
            return None;
        }
        n += b - a + 1;
    }
    Some(n)
}

/// Count of `processor : N` lines in /proc/cpuinfo.
pub fn count_processors(text: &str) -> u64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix("processor")
                .is_some_and(|r| r.trim_start().starts_with(':'))
        })
        .count() as u64
}

/// First field of /proc/uptime (seconds since boot, as this namespace sees it).
pub fn parse_uptime(text: &str) -> Option<f64> {
    text.split_whitespace().next()?.parse().ok()
}

/// The three load averages of /proc/loadavg, exactly as the kernel wrote them.
pub fn parse_loadavg(text: &str) -> Option<String> {
    let f: Vec<&str> = text.split_whitespace().take(3).collect();
    if f.len() == 3 && f.iter().all(|x| x.parse::<f64>().is_ok()) {
        Some(f.join(" "))
    } else {
        None
    }
}

/// Count of per-CPU `cpuN` lines in /proc/stat (lxcfs's `--enable-cfs`
/// trims them to the quota).
pub fn count_stat_cpus(text: &str) -> u64 {
    text.lines()
        .filter(|l| {
            l.strip_prefix("cpu")
                .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        })
        .count() as u64
}

/// Mount points of FUSE filesystems (fstype `fuse` or `fuse.*`, after the
/// " - " separator of a mountinfo line): where lxcfs shows through.
pub fn fuse_mount_points(mountinfo: &str) -> Vec<String> {
    mountinfo
        .lines()
        .filter(|l| {
            l.split_once(" - ")
                .and_then(|(_, r)| r.split(' ').next())
                .is_some_and(|t| t == "fuse" || t.starts_with("fuse."))
        })
        .filter_map(|l| l.split(' ').nth(4).map(unescape_octal))
        .collect()
}

/// CPUs online as the sandbox sees them: sysfs when mounted, else cpuinfo.
fn nprocs_online() -> Option<u64> {
    read_trimmed("/sys/devices/system/cpu/online")
        .and_then(|t| count_cpulist(&t))
        .filter(|n| *n > 0)
        .or_else(|| read_trimmed("/proc/cpuinfo").map(|t| count_processors(&t)))
}

fn opt_f64(o: Obj, k: &str, v: Option<f64>) -> Obj {
    match v {
        Some(v) => o.f64(k, v),
        None => o.null(k),
    }
}

fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

/// Build the `probe` report line for the current process.
pub fn probe() -> String {
    let ids = sys::ids();
    let status = read_trimmed("/proc/self/status");
    let cap_eff = status.as_deref().and_then(|s| status_field(s, "CapEff"));
    let no_new_privs = status
        .as_deref()
        .and_then(|s| status_field(s, "NoNewPrivs"))
        .and_then(|v| v.parse::<u64>().ok());
    let cgroup: Option<Vec<String>> = read_trimmed("/proc/self/cgroup").map(|t| {
        t.lines()
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect()
    });
    let affinity: Option<Vec<u64>> =
        sys::affinity().map(|v| v.into_iter().map(u64::from).collect());
    let shm = read_trimmed("/proc/sysvipc/shm").map(|t| parse_shm_ids(&t));
    let mounts = mounts();
    let obj = Obj::event("probe")
        .i64("pid", ids.pid.into())
        .i64("ppid", ids.ppid.into())
        .u64("uid", ids.uid.into())
        .u64("gid", ids.gid.into())
        .u64("euid", ids.euid.into())
        .opt_str(
            "hostname",
            read_trimmed("/proc/sys/kernel/hostname").as_deref(),
        )
        .opt_u64s("visible_pids", visible_pids().as_deref())
        .opt_strs("interfaces", interfaces().as_deref())
        .opt_strs("mounts", mounts.as_ref().map(|m| m.0.as_slice()))
        .opt_strs("mount_keys", mounts.as_ref().map(|m| m.1.as_slice()))
        .opt_str("uid_map", read_trimmed("/proc/self/uid_map").as_deref())
        .opt_str("gid_map", read_trimmed("/proc/self/gid_map").as_deref())
        .opt_strs("cgroup", cgroup.as_deref())
        .opt_str("cap_eff", cap_eff)
        .opt_u64("no_new_privs", no_new_privs)
        .opt_u64s("affinity", affinity.as_deref())
        .opt_u64s("sysvipc_shm", shm.as_deref())
        .opt_u64(
            "meminfo_total_bytes",
            read_trimmed("/proc/meminfo").and_then(|t| parse_meminfo_total(&t)),
        )
        .opt_u64("nprocs_online", nprocs_online())
        .opt_u64(
            "stat_cpus",
            read_trimmed("/proc/stat").map(|t| count_stat_cpus(&t)),
        )
        .opt_u64(
            "sys_cpus_online",
            read_trimmed("/sys/devices/system/cpu/online").and_then(|t| count_cpulist(&t)),
        )
        .opt_strs(
            "fuse_mounts",
            read_trimmed("/proc/self/mountinfo")
                .map(|t| fuse_mount_points(&t))
                .as_deref(),
        )
        .opt_u64(
            "cpuinfo_processors",
            read_trimmed("/proc/cpuinfo").map(|t| count_processors(&t)),
        )
        .opt_str(
            "loadavg",
            read_trimmed("/proc/loadavg")
                .and_then(|t| parse_loadavg(&t))
                .as_deref(),
        );
    opt_f64(
        obj,
        "uptime_s",
        read_trimmed("/proc/uptime").and_then(|t| parse_uptime(&t)),
    )
    .line()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{parse, Value};

    #[test]
    fn shm_ids_skip_the_header() {
        let text = "       key      shmid perms  size  cpid\n\
                             0         17   600  4096  100\n\
                    1234567890      32769   644  8192  101\n";
        assert_eq!(parse_shm_ids(text), vec![17, 32769]);
        assert!(parse_shm_ids("       key      shmid perms\n").is_empty());
        assert!(parse_shm_ids("").is_empty());
    }

    #[test]
    fn mount_keys_are_device_root_and_point() {
        let l = "36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 - ext3 /dev/root rw";
        assert_eq!(mount_key(l).as_deref(), Some("98:0 /mnt1 /mnt/a\\040b"));
        assert_eq!(mount_key("36 35 98:0"), None);
    }

    #[test]
    fn meminfo_total_in_bytes() {
        let t = "MemTotal:       24684096 kB\nMemFree:  1 kB\n";
        assert_eq!(parse_meminfo_total(t), Some(24_684_096 * 1024));
        assert_eq!(parse_meminfo_total("MemFree: 1 kB\n"), None);
        assert_eq!(parse_meminfo_total("MemTotal: x kB\n"), None);
        assert_eq!(parse_meminfo_total("MemTotal: 5 MB\n"), None);
    }

    #[test]
    fn cpu_counts() {
        assert_eq!(count_cpulist("0-1"), Some(2));
        assert_eq!(count_cpulist("0-3,6\n"), Some(5));
        assert_eq!(count_cpulist("5"), Some(1));
        assert_eq!(count_cpulist(""), Some(0));
        assert_eq!(count_cpulist("3-1"), None);
        assert_eq!(count_cpulist("a"), None);
        let info = "processor\t: 0\nmodel name\t: x\n\nprocessor\t: 1\nprocessors: 9\n";
        assert_eq!(count_processors(info), 2);
        assert_eq!(count_processors(""), 0);
    }

    #[test]
    fn stat_cpus_and_fuse_mounts() {
        let stat = "cpu  1 2 3\ncpu0 1 2\ncpu1 3 4\nintr 5\ncpufoo 1\n";
        assert_eq!(count_stat_cpus(stat), 2);
        assert_eq!(count_stat_cpus(""), 0);
        let mi = "30 25 0:52 /proc/meminfo /proc/meminfo ro,nosuid - fuse.lxcfs lxcfs rw\n\
                  31 25 0:5 / /proc rw - proc proc rw\n\
                  32 25 0:53 / /mnt/a\\040b rw - fuse sshfs rw\n";
        assert_eq!(fuse_mount_points(mi), vec!["/proc/meminfo", "/mnt/a b"]);
    }

    #[test]
    fn uptime_and_loadavg() {
        assert_eq!(parse_uptime("1146.63 1536.24\n"), Some(1146.63));
        assert_eq!(parse_uptime(""), None);
        assert_eq!(
            parse_loadavg("0.87 1.29 0.80 4/123 25029\n").as_deref(),
            Some("0.87 1.29 0.80")
        );
        assert_eq!(parse_loadavg("0.87 1.29"), None);
        assert_eq!(parse_loadavg("a b c"), None);
    }

    #[test]
    fn probe_reports_the_global_views() {
        let p = parse(&probe()).unwrap();
        let host_mem = std::fs::read_to_string("/proc/meminfo").unwrap();
        assert_eq!(
            p.num("meminfo_total_bytes"),
            parse_meminfo_total(&host_mem).unwrap() as f64
        );
        let cpus = count_processors(&std::fs::read_to_string("/proc/cpuinfo").unwrap());
        assert_eq!(p.num("cpuinfo_processors"), cpus as f64);
        assert!(p.num("nprocs_online") >= 1.0);
        assert!(p.num("uptime_s") > 0.0);
        assert_eq!(p.str("loadavg").split(' ').count(), 3);
        let keys = p.arr("mount_keys");
        assert_eq!(keys.len(), p.arr("mounts").len());
        assert!(keys
            .iter()
            .all(|k| matches!(k, Value::Str(s) if s.split(' ').count() >= 3)));
        // An array (possibly empty) where /proc/sysvipc exists.
        assert!(matches!(p.get("sysvipc_shm"), Some(Value::Arr(_))));
    }
}
