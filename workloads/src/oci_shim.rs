//! `oci-shim RUNTIME BUNDLE ID`: runs an OCI container with `create` +
//! `start` (so the runtime keeps the container — and its cgroup — until
//! `delete`, unlike `run`, which removes both when the workload exits) and
//! waits for the container's process as its child subreaper. Exits with the
//! container's exit code, or 128 + signal. The report fd (3) passes into the
//! container through `--preserve-fds 1`. Used for runtimes without
//! `run --keep` (crun).

use std::ffi::c_int;
use std::process::Command;

use crate::report::Reporter;

const PR_SET_CHILD_SUBREAPER: c_int = 36;
const EINTR: i32 = 4;

extern "C" {
    fn prctl(option: c_int, arg2: usize, arg3: usize, arg4: usize, arg5: usize) -> c_int;
    fn waitpid(pid: i32, status: *mut c_int, options: c_int) -> i32;
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Waits for `pid`, reaping any other orphan on the way; returns the raw
/// wait status.
fn wait_for(pid: i32) -> Result<c_int, String> {
    loop {
        let mut status: c_int = 0;
        // SAFETY: waitpid(-1) on our own children/adopted orphans, writing
        // into a local.
        let r = unsafe { waitpid(-1, &mut status, 0) };
        if r == pid {
            return Ok(status);
        }
        if r < 0 && errno() != EINTR {
            return Err(format!(
                "container process {pid} was not adopted (waitpid: errno {})",
                errno()
            ));
        }
    }
}

fn exit_code(status: c_int) -> i32 {
    let sig = status & 0x7f;
    if sig == 0 {
        (status >> 8) & 0xff
    } else {
        128 + sig
    }
}

/// Entry point of the subcommand: the container's exit code, or 1 with an
/// error event (and a stderr line) when the runtime failed.
pub fn main(rep: &Reporter, args: &[String]) -> i32 {
    match shim(args) {
        Ok(code) => code,
        Err(msg) => {
            rep.error(&msg, None);
            eprintln!("isobench-workload oci-shim: {msg}");
            1
        }
    }
}

fn shim(args: &[String]) -> Result<i32, String> {
    let [runtime, bundle, id] = args else {
        return Err("oci-shim needs RUNTIME BUNDLE ID".into());
    };
    // SAFETY: prctl with constant arguments.
    if unsafe { prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(format!("PR_SET_CHILD_SUBREAPER: errno {}", errno()));
    }
    let pid_file = format!("{bundle}/container.pid");
    let status = Command::new(runtime)
        .args([
            "create",
            "--bundle",
            bundle,
            "--preserve-fds",
            "1",
            "--pid-file",
            &pid_file,
            id,
        ])
        .status()
        .map_err(|e| format!("{runtime} create: {e}"))?;
    if !status.success() {
        return Err(format!("{runtime} create {id}: {status}"));
    }
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| format!("{runtime} create wrote no pid to {pid_file}"))?;
    let status = Command::new(runtime)
        .args(["start", id])
        .status()
        .map_err(|e| format!("{runtime} start: {e}"))?;
    if !status.success() {
        return Err(format!("{runtime} start {id}: {status}"));
    }
    let status = wait_for(pid)?;
    Ok(exit_code(status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_status_to_exit_code() {
        assert_eq!(exit_code(0), 0);
        assert_eq!(exit_code(3 << 8), 3);
        assert_eq!(exit_code(9), 137);
    }
}
