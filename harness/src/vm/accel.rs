//! KVM when it really works, TCG otherwise. /dev/kvm existing is not
//! enough (nested setups fail on an MSR with `-cpu host`, or hang at boot
//! with other CPU models), so `auto` boots the kernel once under KVM without
//! an initramfs and expects its "no root" panic within seconds. The verdict
//! is cached per host boot.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What the user asked for (`--accel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AccelChoice {
    /// KVM if a probe boot works, else TCG.
    #[default]
    Auto,
    /// KVM without probing (qemu fails if the host cannot do it)
    Kvm,
    /// Emulation: works everywhere; times are not comparable with a host's
    Tcg,
}

/// What a VM runs with; recorded as the results' `virtualization`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }

    /// qemu arguments selecting the accelerator and a CPU model it supports.
    pub fn qemu_args(self) -> [&'static str; 4] {
        match self {
            Accel::Kvm => ["-accel", "kvm", "-cpu", "host"],
            Accel::Tcg => ["-accel", "tcg", "-cpu", "max"],
        }
    }
}

const PROBE_DEADLINE: Duration = Duration::from_secs(20);

/// The accelerator to use, and why TCG when KVM was not taken.
pub fn choose(choice: AccelChoice, qemu: &Path, kernel: &Path) -> (Accel, Option<String>) {
    match choice {
        AccelChoice::Kvm => (Accel::Kvm, None),
        AccelChoice::Tcg => (Accel::Tcg, None),
        AccelChoice::Auto => match kvm_works(qemu, kernel) {
            Ok(()) => (Accel::Kvm, None),
            Err(why) => (Accel::Tcg, Some(why)),
        },
    }
}

fn cache_file() -> PathBuf {
    super::kernels::cache_dir().join("kvm-probe")
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Ok when a KVM boot reaches the kernel's panic; Err says why not.
fn kvm_works(qemu: &Path, kernel: &Path) -> Result<(), String> {
    if let Err(e) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
    {
        return Err(format!("/dev/kvm: {e}"));
    }
    let key = format!("{}\t{}", boot_id(), qemu.display());
    if let Ok(cached) = std::fs::read_to_string(cache_file()) {
        if let Some(rest) = cached.strip_prefix(&format!("{key}\t")) {
            let rest = rest.trim_end();
            return match rest.strip_prefix("fail: ") {
                Some(why) => Err(format!("{why} (cached probe of this boot)")),
                None => Ok(()),
            };
        }
    }
    let verdict = probe(qemu, kernel);
    let line = match &verdict {
        Ok(()) => format!("{key}\tok\n"),
        Err(why) => format!("{key}\tfail: {why}\n"),
    };
    let _ = std::fs::create_dir_all(super::kernels::cache_dir());
    let _ = std::fs::write(cache_file(), line);
    verdict
}

fn probe(qemu: &Path, kernel: &Path) -> Result<(), String> {
    let dir = super::qemu::WorkDir::create().map_err(|e| format!("probe dir: {e}"))?;
    let console = dir.path().join("probe-console.log");
    let mut cmd = Command::new(qemu);
    cmd.args([
        "-nodefaults",
        "-no-user-config",
        "-machine",
        "pc",
        "-m",
        "256",
    ])
    .args(Accel::Kvm.qemu_args())
    .args([
        "-display",
        "none",
        "-no-reboot",
        "-monitor",
        "none",
        "-serial",
    ])
    .arg(format!("file:{}", super::qemu::escape(&console)))
    .arg("-kernel")
    .arg(kernel)
    .args(["-append", "console=ttyS0 panic=-1 quiet"])
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::piped());
    let mut child = super::qemu::spawn_guarded(&mut cmd).map_err(|e| format!("qemu: {e}"))?;
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut err = String::new();
                if let Some(mut s) = child.stderr.take() {
                    use std::io::Read;
                    let _ = s.read_to_string(&mut err);
                }
                let log = std::fs::read_to_string(&console).unwrap_or_default();
                if status.success() && log.contains("Kernel panic") {
                    return Ok(());
                }
                let first = err
                    .lines()
                    .find(|l| !l.trim().is_empty() && !l.contains("warning"))
                    .unwrap_or("no kernel panic seen")
                    .trim()
                    .to_string();
                return Err(format!("KVM probe boot failed ({status}): {first}"));
            }
            Ok(None) if start.elapsed() > PROBE_DEADLINE => {
                super::qemu::kill_group(&mut child);
                return Err(format!(
                    "KVM probe boot hung for {} s",
                    PROBE_DEADLINE.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("waiting for qemu: {e}")),
        }
    }
}
