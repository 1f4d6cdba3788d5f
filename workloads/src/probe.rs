//! `probe`: what the sandbox lets the workload see, as one JSON line.
//! Unreadable fields are null; the probe itself never fails.

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

fn mounts() -> Option<Vec<String>> {
    let text = fs::read("/proc/self/mountinfo").ok()?;
    let text = String::from_utf8_lossy(&text);
    Some(
        text.lines()
            .filter_map(|l| l.split(' ').nth(4).map(unescape_octal))
            .collect(),
    )
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
    Obj::event("probe")
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
        .opt_strs("mounts", mounts().as_deref())
        .opt_str("uid_map", read_trimmed("/proc/self/uid_map").as_deref())
        .opt_str("gid_map", read_trimmed("/proc/self/gid_map").as_deref())
        .opt_strs("cgroup", cgroup.as_deref())
        .opt_str("cap_eff", cap_eff)
        .opt_u64("no_new_privs", no_new_privs)
        .opt_u64s("affinity", affinity.as_deref())
        .line()
}
