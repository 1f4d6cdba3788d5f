//! The host side of a VM run: build the initramfs, boot qemu with the
//! results port, watch the port file for frames under a deadline, and make
//! sure no qemu process outlives the run (own process group, SIGKILL on
//! timeout, parent-death signal if isobench itself dies).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use isobench_reports::RunResults;

use super::accel::{self, Accel, AccelChoice};
use super::frame::{self, Frame, Tail};
use super::guest::{self, PORT_NAME};
use super::image::{self, GuestOs, StartMode};
use super::initramfs::{carry_suite_file, Initramfs, InitramfsSpec};
use super::kernel::KernelImage;
use super::{CgroupVersion, VmError};
use crate::cgroup::manager::Owner;

/// Everything `isobench vm` was asked, parsed.
#[derive(Debug, Clone)]
pub struct VmRequest {
    pub kernel: PathBuf,
    pub cgroup: CgroupVersion,
    /// The guest's userland.
    pub os: GuestOs,
    /// How the debian12 guest starts the run.
    pub start: StartMode,
    pub cpus: u32,
    pub memory_mib: u64,
    pub timeout: Duration,
    pub includes: Vec<PathBuf>,
    /// `run …` arguments for the guest.
    pub run_args: Vec<String>,
    pub accel: AccelChoice,
    /// Where to keep the guest console log; `None` keeps it only on failure
    /// (in the temp dir).
    pub console_log: Option<PathBuf>,
    /// The `isobench` binary that becomes /init (normally the running one).
    pub init: PathBuf,
}

/// A guest run that delivered results.
#[derive(Debug, Clone)]
pub struct VmOutcome {
    pub results: RunResults,
    /// The guest run's exit code: 0 all passed, 1 a check failed.
    pub exit: u8,
    /// What the guest reported on the side (controllers it lacks, …).
    pub notes: Vec<String>,
    pub accel: Accel,
    /// Why not KVM, when `--accel auto` fell back to TCG.
    pub accel_note: Option<String>,
    pub kernel_release: String,
    /// Host wall time from qemu start to /init's first frame.
    pub boot: Option<Duration>,
    /// The guest's own uptime when /init started (emulated clock under TCG).
    pub guest_uptime: Option<f64>,
    /// Host wall time from qemu start to the results frame.
    pub to_results: Duration,
    pub console_log: Option<PathBuf>,
}

/// A private scratch directory, removed on drop. Named
/// `isobench-vm-<pid>-t<start ticks>-<n>` after its owner (see
/// [`Owner`]), so `isobench cleanup` can tell a dead run's from a live one.
#[derive(Debug)]
pub struct WorkDir(PathBuf);

/// Prefix of VM scratch directories in the temp dir.
const WORKDIR_PREFIX: &str = "isobench-vm-";

impl WorkDir {
    pub fn create() -> std::io::Result<Self> {
        static N: AtomicU32 = AtomicU32::new(0);
        // The run-id head without its `p`: older cleanups read the pid as
        // the first field.
        let tag = Owner::current().tag();
        let d = std::env::temp_dir().join(format!(
            "{WORKDIR_PREFIX}{}-{}",
            tag.trim_start_matches('p'),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&d)?;
        Ok(WorkDir(d))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What [`cleanup_stale_workdirs`] removed.
#[derive(Debug, Default)]
pub struct StaleVms {
    pub workdirs: Vec<PathBuf>,
    /// qemu processes still running from a removed workdir, killed.
    pub qemus: Vec<i32>,
}

/// Removes scratch directories of VM runs whose isobench process is gone
/// (SIGKILLed), after killing any qemu still booted from one (qemu dies
/// with isobench through its parent-death signal; this covers the rest).
pub fn cleanup_stale_workdirs() -> StaleVms {
    let mut stale = StaleVms::default();
    let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) else {
        return stale;
    };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        let Some(owner) = name
            .strip_prefix(WORKDIR_PREFIX)
            .and_then(|rest| Owner::from_run_id(&format!("p{rest}")))
        else {
            continue;
        };
        let path = e.path();
        if !path.is_dir() || owner.alive(&path) {
            continue;
        }
        stale.qemus.extend(kill_qemus_of(&path));
        if std::fs::remove_dir_all(&path).is_ok() {
            stale.workdirs.push(path);
        }
    }
    stale
}

/// SIGKILLs every qemu whose command line names a file in `workdir` (its
/// kernel, initrd, console or results port), and waits up to 5 s for them
/// to go; returns their pids.
fn kill_qemus_of(workdir: &Path) -> Vec<i32> {
    let inside = format!("{}/", workdir.display());
    let qemus: Vec<i32> = qemu_processes()
        .into_iter()
        .filter(|(_, args)| args.iter().any(|a| a.contains(&inside)))
        .map(|(pid, _)| pid)
        .collect();
    for &pid in &qemus {
        // SAFETY: kill(2) of a qemu booted from a dead run's scratch dir.
        unsafe {
            libc::kill(pid, libc::SIGKILL);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline
        && qemus
            .iter()
            .any(|&p| crate::procfs::read_stat(p).is_some_and(|s| !is_zombie(&s)))
    {
        std::thread::sleep(Duration::from_millis(10));
    }
    qemus
}

fn is_zombie(stat: &str) -> bool {
    crate::procfs::stat_fields(stat)
        .first()
        .is_some_and(|s| s.starts_with(['Z', 'X']))
}

/// Running qemu-system processes and their arguments.
fn qemu_processes() -> Vec<(i32, Vec<String>)> {
    let Ok(rd) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let pid: i32 = e.file_name().to_str()?.parse().ok()?;
            let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
            if !comm.starts_with("qemu-system") {
                return None;
            }
            let cmdline = std::fs::read(e.path().join("cmdline")).ok()?;
            let args = cmdline
                .split(|b| *b == 0)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            Some((pid, args))
        })
        .collect()
}

/// A copy of `exe` without debug sections when `objcopy` is at hand: a
/// debug build of isobench is ~80 MB, which the guest would unpack and copy
/// under emulation on every boot. Falls back to `exe` itself.
fn without_debug_info(exe: &Path, dir: &Path) -> PathBuf {
    let out = dir.join("init");
    let ok = Command::new("objcopy")
        .arg("--strip-debug")
        .arg(exe)
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        out
    } else {
        exe.to_path_buf()
    }
}

/// qemu option values separate on commas; a literal comma is doubled.
pub fn escape(p: &Path) -> String {
    p.to_string_lossy().replace(',', ",,")
}

/// Spawns qemu in its own process group (so the whole group can be killed)
/// with SIGKILL as its parent-death signal (so it dies with isobench).
pub fn spawn_guarded(cmd: &mut Command) -> std::io::Result<Child> {
    cmd.process_group(0);
    // SAFETY: only prctl(2), which is async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// SIGKILLs qemu's whole process group and reaps qemu.
pub fn kill_group(child: &mut Child) {
    // SAFETY: kill(2) of the process group we created for this child.
    unsafe {
        libc::kill(-(child.id() as i32), libc::SIGKILL);
    }
    let _ = child.wait();
}

/// The last `n` lines of a console log, without terminal control noise.
pub fn tail_lines(text: &str, n: usize) -> String {
    let clean: Vec<String> = text
        .lines()
        .map(|l| {
            l.chars()
                .filter(|c| !c.is_control() || *c == '\t')
                .collect::<String>()
        })
        .filter(|l| !l.trim().is_empty())
        .collect();
    clean[clean.len().saturating_sub(n)..].join("\n")
}

/// The kernel command line of a guest. The guest's own deadline comes a
/// little before the host's, so a hung run is reported with what hangs.
pub fn kernel_cmdline(
    cgroup: CgroupVersion,
    accel: Accel,
    timeout: Duration,
    scratch: bool,
) -> String {
    let margin = (timeout.as_secs_f64() * 0.1).clamp(2.0, 15.0);
    format!(
        "console=ttyS0 panic=-1 quiet isobench.cgroup={} isobench.virt={} isobench.deadline={:.0}{}",
        cgroup.as_str(),
        accel.as_str(),
        (timeout.as_secs_f64() - margin).max(1.0),
        if scratch { " isobench.scratch=1" } else { "" }
    )
}

/// Size of the scratch disk image (sparse: only what the guest writes
/// takes host space).
const SCRATCH_BYTES: u64 = 4 << 30;

/// A sparse ext4 image in `dir` for the guest's /var/tmp, when mkfs.ext4
/// is at hand; `None` otherwise (scenarios needing a disk then skip).
fn scratch_disk(dir: &Path) -> Option<PathBuf> {
    let mkfs = crate::env::which("mkfs.ext4")?;
    let img = dir.join("scratch.img");
    std::fs::File::create(&img)
        .and_then(|f| f.set_len(SCRATCH_BYTES))
        .ok()?;
    let ok = Command::new(mkfs)
        .args(["-q", "-F", "-O", "^has_journal", "-E", "nodiscard"])
        .arg(&img)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some(img)
}

/// The command line of a guest of `os`: the debian12 guest also names
/// its start mode, and asks systemd for the unified (v2) hierarchy.
pub fn kernel_cmdline_for(
    cgroup: CgroupVersion,
    os: GuestOs,
    start: StartMode,
    accel: Accel,
    timeout: Duration,
    scratch: bool,
) -> String {
    let base = kernel_cmdline(cgroup, accel, timeout, scratch);
    match os {
        GuestOs::Minimal => base,
        GuestOs::Debian12 => format!(
            "{base} isobench.guest=debian12 isobench.start={} systemd.unified_cgroup_hierarchy=1",
            start.as_str()
        ),
    }
}

/// `512M`, `1G`, `2GiB`, or a plain number of MiB (qemu's unit).
pub fn parse_memory(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let lower = lower
        .strip_suffix("ib")
        .or_else(|| lower.strip_suffix('b'))
        .unwrap_or(&lower);
    let (num, mul) = match lower.chars().last() {
        Some('k') => (&lower[..lower.len() - 1], 1.0 / 1024.0),
        Some('m') => (&lower[..lower.len() - 1], 1.0),
        Some('g') => (&lower[..lower.len() - 1], 1024.0),
        Some('t') => (&lower[..lower.len() - 1], 1024.0 * 1024.0),
        _ => (lower, 1.0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("--memory {s:?}: expected e.g. 512M, 1G or a number of MiB"))?;
    let mib = (v * mul).round();
    if !(128.0..=1024.0 * 1024.0).contains(&mib) {
        return Err(format!("--memory {s}: the guest needs between 128M and 1T"));
    }
    Ok(mib as u64)
}

fn qemu_binary() -> Result<PathBuf, VmError> {
    crate::env::which("qemu-system-x86_64").ok_or_else(|| {
        VmError::Input(
            "qemu-system-x86_64 not found; install it (apt-get install qemu-system-x86)".into(),
        )
    })
}

/// Boots the kernel, runs the suite in the guest, returns its results.
pub fn boot(req: &VmRequest) -> Result<VmOutcome, VmError> {
    let (run_args, files) = carry_suite_file(&req.run_args);
    guest::validate_run_args(&run_args).map_err(VmError::Input)?;
    let qemu = qemu_binary()?;
    let kernel = KernelImage::inspect(&req.kernel)?;
    cleanup_stale_workdirs();
    let mut modules = kernel.port_modules()?;
    let work = WorkDir::create().map_err(|e| VmError::Io(format!("scratch dir: {e}")))?;
    // The scratch disk is mounted by the minimal guest's /init; the
    // debian12 guest runs from its own root and does not use one.
    let scratch = if matches!(req.os, GuestOs::Minimal) {
        kernel
            .scratch_modules()
            .and_then(|m| Some((scratch_disk(work.path())?, m)))
    } else {
        None
    };
    if let Some((_, extra)) = &scratch {
        for m in extra {
            if !modules.iter().any(|have| have.name == m.name) {
                modules.push(m.clone());
            }
        }
    }
    let initrd = work.path().join("initrd.cpio");
    match req.os {
        GuestOs::Minimal => {
            Initramfs::build(&InitramfsSpec {
                init: without_debug_info(&req.init, work.path()),
                includes: req.includes.clone(),
                modules,
                run_args,
                files,
            })?
            .write(&initrd)?;
        }
        GuestOs::Debian12 => {
            if !req.includes.is_empty() {
                return Err(VmError::Input(
                    "--include is for the minimal guest; the debian12 guest has its own \
                     userland"
                        .into(),
                ));
            }
            let img = image::ensure_debian12()?;
            let init = without_debug_info(&req.init, work.path());
            let overlay = image::overlay(&init, &modules, &run_args, &files)?;
            image::write_initrd(&img, &overlay, &initrd)?;
        }
    }
    let (accel, accel_note) = accel::choose(req.accel, &qemu, &kernel.path);
    let image = super::pvh::vmlinux_for(
        &kernel.path,
        &kernel.release,
        &super::kernels::cache_dir().join("vmlinux"),
    )
    .unwrap_or_else(|| kernel.path.clone());

    let console = work.path().join("console.log");
    let port_file = work.path().join("results.port");
    let qemu_log = work.path().join("qemu.log");
    let qemu_err = std::fs::File::create(&qemu_log)
        .map_err(|e| VmError::Io(format!("{}: {e}", qemu_log.display())))?;
    let mut cmd = Command::new(&qemu);
    cmd.args(["-nodefaults", "-no-user-config", "-machine", "pc"])
        .args(accel.qemu_args())
        .args(["-m", &format!("{}M", req.memory_mib)])
        .args(["-smp", &req.cpus.to_string()])
        .args(["-display", "none", "-no-reboot", "-monitor", "none"])
        .arg("-serial")
        .arg(format!("file:{}", escape(&console)))
        .arg("-kernel")
        .arg(&image)
        .arg("-initrd")
        .arg(&initrd)
        .arg("-append")
        .arg(
            kernel_cmdline_for(
                req.cgroup,
                req.os,
                req.start,
                accel,
                req.timeout,
                scratch.is_some(),
            ) + &guest::node_arg(std::env::var("NODE_NAME").ok().as_deref()),
        )
        .args(["-device", "virtio-serial-pci", "-chardev"])
        .arg(format!("file,id=res,path={}", escape(&port_file)))
        .args([
            "-device",
            &format!("virtserialport,chardev=res,name={PORT_NAME}"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(qemu_err);
    if let Some((disk, _)) = &scratch {
        cmd.arg("-drive").arg(format!(
            "file={},if=virtio,format=raw,cache=unsafe",
            escape(disk)
        ));
    }

    let start = Instant::now();
    let mut child = spawn_guarded(&mut cmd)
        .map_err(|e| VmError::Input(format!("starting {}: {e}", qemu.display())))?;
    let mut bar = super::progress::GuestBar::new(&req.run_args, req.cpus);
    let watch = watch(
        &mut child,
        &port_file,
        &console,
        start,
        req.timeout,
        &mut bar,
    );
    if let End::Interrupted(sig) = watch.end {
        return Err(VmError::Interrupted(sig));
    }

    // Keep the console where the user can read it.
    let keep = |failed: bool| -> Option<PathBuf> {
        let dest = match (&req.console_log, failed) {
            (Some(d), _) => d.clone(),
            (None, true) => std::env::temp_dir().join(format!(
                "isobench-vm-{}-{}.console.log",
                kernel.release,
                std::process::id()
            )),
            (None, false) => return None,
        };
        std::fs::copy(&console, &dest).ok().map(|_| dest)
    };
    let console_text = std::fs::read_to_string(&console).unwrap_or_default();
    let console_tail = || tail_lines(&console_text, 15);

    let frames = watch.frames;
    let notes: Vec<String> = frames
        .iter()
        .filter_map(|f| match f {
            Frame::Note(n) => Some(n.clone()),
            _ => None,
        })
        .collect();
    let boot_time = watch.hello_at;
    match frames.iter().find_map(|f| match f {
        Frame::Results { exit, json } => Some((*exit, json)),
        _ => None,
    }) {
        Some((exit, json)) => {
            let text = String::from_utf8_lossy(json);
            let mut results =
                isobench_reports::load::parse_results(&text, &port_file).map_err(|e| {
                    VmError::Guest {
                        msg: format!("unreadable results from the guest: {e}"),
                        console: keep(true).unwrap_or_default(),
                    }
                })?;
            // The guest reads isobench.virt= from its command line; make sure.
            results.environment.virtualization = accel.as_str().to_string();
            Ok(VmOutcome {
                results,
                exit,
                notes,
                accel,
                accel_note,
                kernel_release: kernel.release.clone(),
                boot: boot_time,
                guest_uptime: frames.iter().find_map(|f| match f {
                    Frame::Hello(u) => u.parse().ok(),
                    _ => None,
                }),
                to_results: watch.results_at.unwrap_or_else(|| start.elapsed()),
                console_log: keep(false),
            })
        }
        None => {
            if let Some(msg) = frames.iter().find_map(|f| match f {
                Frame::Error(m) => Some(m.clone()),
                _ => None,
            }) {
                return Err(VmError::Guest {
                    msg,
                    console: keep(true).unwrap_or_default(),
                });
            }
            let qemu_says = std::fs::read_to_string(&qemu_log).unwrap_or_default();
            let qemu_line = qemu_says
                .lines()
                .find(|l| !l.trim().is_empty() && !l.contains("warning:"))
                .map(|l| format!(" ({})", l.trim()))
                .unwrap_or_default();
            let what = match (&watch.end, &watch.tail) {
                (End::Interrupted(sig), _) => return Err(VmError::Interrupted(*sig)),
                (End::TimedOut, _) => format!(
                    "kernel {} gave no results within {} s; qemu was killed (raise --timeout \
                     if the suite is long)",
                    kernel.release,
                    req.timeout.as_secs()
                ),
                (End::Exited(status), Tail::Truncated { .. } | Tail::Garbage { .. }) => format!(
                    "kernel {}: the guest's results were cut short ({}); qemu {status}{qemu_line}",
                    kernel.release, watch.tail
                ),
                (End::Exited(status), Tail::Clean) => format!(
                    "kernel {} ({}) ended without results: qemu {status}{qemu_line}",
                    kernel.release,
                    accel.as_str()
                ),
            };
            let tail = console_tail();
            let tail = if tail.is_empty() {
                "(empty: the kernel printed nothing yet; it boots with `quiet`)".to_string()
            } else {
                tail
            };
            Err(VmError::Boot {
                what,
                console: keep(true).unwrap_or_default(),
                tail,
            })
        }
    }
}

#[derive(Debug)]
enum End {
    Exited(std::process::ExitStatus),
    TimedOut,
    Interrupted(i32),
}

#[derive(Debug)]
struct Watch {
    frames: Vec<Frame>,
    tail: Tail,
    end: End,
    hello_at: Option<Duration>,
    results_at: Option<Duration>,
}

/// After the final frame, how long the guest gets to power off.
const POWEROFF_GRACE: Duration = Duration::from_secs(30);

/// Polls qemu and the port file until qemu exits or the deadline passes;
/// on the deadline (or a guest that will not power off) kills the group.
fn watch(
    child: &mut Child,
    port_file: &Path,
    console: &Path,
    start: Instant,
    timeout: Duration,
    bar: &mut super::progress::GuestBar,
) -> Watch {
    let mut progress = GuestProgress::default();
    let mut w = Watch {
        frames: Vec::new(),
        tail: Tail::Clean,
        end: End::TimedOut,
        hello_at: None,
        results_at: None,
    };
    let mut seen_len = 0u64;
    loop {
        let exited = match child.try_wait() {
            Ok(Some(status)) => Some(status),
            Ok(None) => None,
            Err(_) => {
                kill_group(child);
                None
            }
        };
        let len = std::fs::metadata(port_file).map(|m| m.len()).unwrap_or(0);
        if len != seen_len || exited.is_some() {
            seen_len = len;
            let bytes = std::fs::read(port_file).unwrap_or_default();
            let (frames, tail) = frame::decode(&bytes);
            let now = start.elapsed();
            if w.hello_at.is_none() && frames.iter().any(|f| matches!(f, Frame::Hello(_))) {
                w.hello_at = Some(now);
            }
            if w.results_at.is_none()
                && frames
                    .iter()
                    .any(|f| matches!(f, Frame::Results { .. } | Frame::Error(_)))
            {
                w.results_at = Some(now);
            }
            w.frames = frames;
            w.tail = tail;
        }
        for line in progress.poll(console) {
            bar.line(&line);
        }
        if let Some(status) = exited {
            w.end = End::Exited(status);
            return w;
        }
        if let Some(sig) = crate::interrupt::requested() {
            kill_group(child);
            w.end = End::Interrupted(sig);
            return w;
        }
        let limit = match w.results_at {
            Some(t) => (t + POWEROFF_GRACE).min(timeout.max(t)),
            None => timeout,
        };
        if start.elapsed() >= limit {
            kill_group(child);
            if w.results_at.is_none() {
                w.end = End::TimedOut;
            } else if let Ok(Some(status)) = child.try_wait() {
                w.end = End::Exited(status);
            }
            // Final read: frames written just before the kill.
            let bytes = std::fs::read(port_file).unwrap_or_default();
            let (frames, tail) = frame::decode(&bytes);
            w.frames = frames;
            w.tail = tail;
            return w;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Follows the guest's console log and picks out the guest run's own
/// progress lines (`isobench: [2/10] cpu-quota (native) ...`), so `vm`
/// shows what the guest is doing while it runs instead of nothing.
#[derive(Debug, Default)]
struct GuestProgress {
    offset: u64,
    partial: String,
}

impl GuestProgress {
    /// New complete progress lines since the last call.
    fn poll(&mut self, console: &Path) -> Vec<String> {
        use std::io::{Read, Seek, SeekFrom};
        let Ok(mut f) = std::fs::File::open(console) else {
            return Vec::new();
        };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut buf = Vec::new();
        let Ok(n) = f.read_to_end(&mut buf) else {
            return Vec::new();
        };
        self.offset += n as u64;
        self.feed(&String::from_utf8_lossy(&buf))
    }

    /// Splits `chunk` (after what an earlier chunk left unfinished) into
    /// lines and keeps the guest run's progress lines, without the prefix.
    fn feed(&mut self, chunk: &str) -> Vec<String> {
        self.partial.push_str(chunk);
        let Some(end) = self.partial.rfind('\n') else {
            return Vec::new();
        };
        let complete: String = self.partial.drain(..=end).collect();
        complete
            .lines()
            .filter_map(|l| l.trim_end_matches('\r').strip_prefix("isobench: "))
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_progress_keeps_the_runs_own_lines_across_chunks() {
        let mut p = GuestProgress::default();
        assert!(p
            .feed("[    0.02] MP-BIOS bug\r\nisobench: [1/2] startup (nat")
            .is_empty());
        assert_eq!(
            p.feed("ive) ...\r\nscenario launcher point\r\nisobench: [1/2] startup (native) done in 8.3 s\r\n"),
            vec!["[1/2] startup (native) ...", "[1/2] startup (native) done in 8.3 s"]
        );
        assert!(p.feed("isobench: [2/2] pids").is_empty());
        assert_eq!(p.feed(" (native) ...\n"), vec!["[2/2] pids (native) ..."]);
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("1G").unwrap(), 1024);
        assert_eq!(parse_memory("512M").unwrap(), 512);
        assert_eq!(parse_memory("2GiB").unwrap(), 2048);
        assert_eq!(parse_memory("768").unwrap(), 768);
        assert_eq!(parse_memory("1.5g").unwrap(), 1536);
        assert!(parse_memory("64M").is_err());
        assert!(parse_memory("lots").is_err());
    }

    #[test]
    fn cmdline_carries_mode_and_accel() {
        let c = kernel_cmdline(
            CgroupVersion::V1,
            Accel::Tcg,
            Duration::from_secs(600),
            true,
        );
        assert!(c.contains("isobench.cgroup=v1"));
        assert!(c.contains("isobench.deadline=585"), "{c}");
        assert!(c.contains("isobench.virt=tcg"));
        assert!(c.contains("panic=-1"));
        let o = guest::parse_cmdline(&c).unwrap();
        assert_eq!(o.cgroup, CgroupVersion::V1);
        assert_eq!(o.deadline, Some(585.0));
        assert!(o.scratch);
        let c = kernel_cmdline(
            CgroupVersion::V2,
            Accel::Tcg,
            Duration::from_secs(60),
            false,
        );
        assert!(!guest::parse_cmdline(&c).unwrap().scratch);
    }

    #[test]
    fn console_tail_strips_control_characters() {
        let t = tail_lines("a\n\x1b[2Jb\n\nc\nd\n", 2);
        assert_eq!(t, "c\nd");
        assert_eq!(tail_lines("x\x1bc\n", 5), "xc");
    }

    #[test]
    fn stale_workdirs_of_dead_runs_are_removed() {
        let tmp = std::env::temp_dir();
        let dead = tmp.join(format!("isobench-vm-{}-7", i32::MAX));
        std::fs::create_dir_all(dead.join("sub")).unwrap();
        let me = Owner::current();
        let reused = tmp.join(format!(
            "isobench-vm-{}-t{}-7",
            me.pid,
            me.start_ticks.unwrap() + 1
        ));
        std::fs::create_dir_all(&reused).unwrap();
        let live = WorkDir::create().unwrap();
        let removed = cleanup_stale_workdirs().workdirs;
        assert!(removed.contains(&dead), "{removed:?}");
        assert!(removed.contains(&reused), "{removed:?}");
        assert!(!dead.exists() && !reused.exists());
        assert!(live.path().is_dir(), "a live run's directory was removed");
    }

    #[test]
    fn escapes_commas_for_qemu() {
        assert_eq!(escape(Path::new("/tmp/a,b")), "/tmp/a,,b");
    }

    /// A guest that never answers is killed at the deadline and leaves no
    /// process behind (`sleep` stands in for a hung qemu).
    #[test]
    fn deadline_kills_the_whole_group() {
        let dir = WorkDir::create().unwrap();
        let port = dir.path().join("port");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & sleep 30; wait"]);
        let mut child = spawn_guarded(&mut cmd).unwrap();
        let pgid = child.id() as i32;
        let start = Instant::now();
        let console = dir.path().join("console.log");
        let w = watch(
            &mut child,
            &port,
            &console,
            start,
            Duration::from_millis(300),
            &mut super::super::progress::GuestBar::with_mode(
                crate::run::progress::Mode::Plain,
                None,
            ),
        );
        assert!(matches!(w.end, End::TimedOut));
        assert!(start.elapsed() < Duration::from_secs(5));
        // Killed members may linger as zombies until their new parent reaps them.
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(20));
            // SAFETY: kill(2) with signal 0 only probes whether the group exists.
            (unsafe { libc::kill(-pgid, 0) }) != 0
        });
        assert!(gone, "processes of group {pgid} survived the deadline");
    }
}
