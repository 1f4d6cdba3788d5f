//! The systemd guest's driver (`isobench guest-driver`, started by the
//! `vmrun-driver.service` unit once the system is up): starts `isobench
//! run` the way the kernel command line asks (`isobench.start=`), checks
//! that nothing isobench-named is left in the cgroup tree or among the
//! units afterwards, sends the results frame and powers the guest off.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::frame::Frame;
use super::guest::{self, ARGS_PATH};
use super::image::{StartMode, GUEST_BIN, LOGIN_USER};

/// Where the run in the guest writes its results.
const RESULTS: &str = "/run/vmrun/results.json";
const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Prefix of the note that reports the cgroup tree after the run.
pub const LEFTOVER_NOTE: &str = "guest cgroup tree after the run:";

/// One word in single quotes for `sh -c`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The command that starts `isobench <run args> -o RESULTS` in `mode`.
pub fn start_command(mode: StartMode, run_args: &[String]) -> Command {
    let mut argv: Vec<String> = vec![GUEST_BIN.into()];
    argv.extend(run_args.iter().cloned());
    argv.push("-o".into());
    argv.push(RESULTS.into());
    let mut cmd = match mode {
        StartMode::Login => {
            // A login shell of an unprivileged user; pam_systemd puts it in a
            // session scope, which sudo and isobench then share.
            let line: Vec<String> = argv.iter().map(|a| shell_quote(a)).collect();
            let mut c = Command::new("su");
            c.args(["-l", LOGIN_USER, "-c"])
                .arg(format!("sudo -n {}", line.join(" ")));
            c
        }
        StartMode::Service => {
            let mut c = Command::new("systemd-run");
            c.args([
                "--wait",
                "--pipe",
                "--quiet",
                "--collect",
                "--unit=vmrun-service",
                "--",
            ])
            .args(&argv);
            c
        }
        StartMode::Scope => {
            let mut c = Command::new("systemd-run");
            c.args(["--scope", "--quiet", "--unit=vmrun-scope", "--"])
                .args(&argv);
            c
        }
    };
    cmd.env("PATH", PATH);
    cmd
}

/// Directories below `root` whose name mentions isobench.
pub fn isobench_cgroups(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if e.file_name().to_string_lossy().contains("isobench") {
                found.push(e.path());
            }
            stack.push(e.path());
        }
    }
    found.sort();
    found
}

/// Units whose name mentions isobench, as `systemctl list-units --all` has them.
fn isobench_units() -> Vec<String> {
    Command::new("systemctl")
        .args([
            "list-units",
            "--all",
            "--plain",
            "--no-legend",
            "--no-pager",
        ])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter_map(|l| l.split_whitespace().next())
                .filter(|u| u.contains("isobench"))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// What is left after the run; systemd removes an empty scope a moment
/// after its last process exits, so this waits up to 20 s for it.
fn leftovers() -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let cg = isobench_cgroups(Path::new("/sys/fs/cgroup"));
        let units = isobench_units();
        if cg.is_empty() && units.is_empty() {
            return format!("{LEFTOVER_NOTE} clean (no isobench cgroup or unit)");
        }
        if Instant::now() >= deadline {
            let mut what: Vec<String> = cg.iter().map(|p| p.display().to_string()).collect();
            what.extend(units.iter().map(|u| format!("unit {u}")));
            return format!("{LEFTOVER_NOTE} left behind: {}", what.join(", "));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Entry point of `isobench guest-driver`. Never returns: powers off.
pub fn main() -> ! {
    let mut port = guest::open_port(Duration::from_secs(60)).ok();
    let frame = match drive(&mut port) {
        Ok(f) => f,
        Err(msg) => Frame::Error(msg),
    };
    if let Frame::Error(m) = &frame {
        eprintln!("isobench-guest: error: {m}");
    }
    if let Some(p) = port.as_mut() {
        guest::send(p, &frame);
        std::thread::sleep(Duration::from_millis(100));
    }
    guest::power_off()
}

fn drive(port: &mut Option<std::fs::File>) -> Result<Frame, String> {
    let p = port
        .as_mut()
        .ok_or_else(|| format!("no virtio-serial port named {}", guest::PORT_NAME))?;
    guest::send(p, &Frame::Hello(format!("{:.2}", guest::uptime())));
    let cmdline =
        std::fs::read_to_string("/proc/cmdline").map_err(|e| format!("/proc/cmdline: {e}"))?;
    let opts = guest::parse_cmdline(&cmdline)?;
    let args: Vec<String> = std::fs::read(ARGS_PATH)
        .map_err(|e| format!("{ARGS_PATH}: {e}"))
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| format!("{ARGS_PATH}: {e}")))?;
    guest::validate_run_args(&args)?;
    std::fs::create_dir_all("/run/vmrun").map_err(|e| format!("/run/vmrun: {e}"))?;
    let mode = opts.start;
    guest::send(
        p,
        &Frame::Note(format!(
            "systemd guest up after {:.1} s (guest clock); starting isobench {}",
            guest::uptime(),
            match mode {
                StartMode::Login => "as `sudo isobench run` from a login session (su -l)",
                StartMode::Service => "as a systemd service (systemd-run --wait)",
                StartMode::Scope => "under `systemd-run --scope`",
            }
        )),
    );
    let frame = guest::run_to_frame(
        start_command(mode, &args),
        Path::new(RESULTS),
        opts.deadline,
    );
    guest::send(p, &Frame::Note(leftovers()));
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_the_shell() {
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn login_start_is_sudo_from_su() {
        let c = start_command(
            StartMode::Login,
            &["run".into(), "--suite".into(), "quick".into()],
        );
        let args: Vec<String> = c
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(c.get_program(), "su");
        assert_eq!(args[..3], ["-l", LOGIN_USER, "-c"]);
        assert!(
            args[3].starts_with("sudo -n '/usr/local/bin/isobench' 'run'"),
            "{}",
            args[3]
        );
        let c = start_command(StartMode::Scope, &["run".into()]);
        assert!(c.get_args().any(|a| a == "--scope"));
    }

    #[test]
    fn leftover_walk_finds_nested_isobench_dirs() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(
            d.path()
                .join("system.slice/isobench-p1-x.scope/isobench-p1-x-self"),
        )
        .unwrap();
        std::fs::create_dir_all(d.path().join("user.slice")).unwrap();
        let found = isobench_cgroups(d.path());
        assert_eq!(found.len(), 2, "{found:?}");
    }
}
