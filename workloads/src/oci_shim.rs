//! `oci-shim RUNTIME BUNDLE ID`: runs an OCI container with `create` +
//! `start` (so the runtime keeps the container — and its cgroup — until
//! `delete`, unlike `run`, which removes both when the workload exits) and
//! waits for the container's process as its child subreaper. Exits with the
//! container's exit code, or 128 + signal. The report fd (3) passes into the
//! container through `--preserve-fds 1`. Used for runtimes without
//! `run --keep` (crun).

use std::process::Command;

use crate::report::Reporter;
use crate::sys::{self, errno};

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
    sys::set_child_subreaper()
        .map_err(|e| format!("PR_SET_CHILD_SUBREAPER: errno {}", errno(&e)))?;
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
    // Reaps any other orphan on the way.
    let status = sys::reap_until(pid).map_err(|e| {
        format!(
            "container process {pid} was not adopted (waitpid: errno {})",
            errno(&e)
        )
    })?;
    Ok(status.shell_code())
}

#[cfg(test)]
mod tests {
    use crate::sys::ChildStatus;

    #[test]
    fn wait_status_to_exit_code() {
        let code = |status| ChildStatus::from_wait(status).shell_code();
        assert_eq!(code(0), 0);
        assert_eq!(code(3 << 8), 3);
        assert_eq!(code(9), 137);
        assert_eq!(ChildStatus::from_wait(9 | 0x80), ChildStatus::Signaled(9));
    }
}
