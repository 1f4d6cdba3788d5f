//! The guest side: `isobench` running as PID 1 (/init) of a VM.
//!
//! It moves itself off the initramfs rootfs onto a tmpfs (pivot_root, which
//! sandboxes and runc/crun use, refuses to leave rootfs), mounts the
//! pseudo-filesystems and the cgroup filesystem in the mode the kernel
//! command line asks for (`isobench.cgroup=v1|v2`), loads the virtio modules
//! the kernel lacks, then runs `isobench run …` as a child process (the very
//! same code path as on a host), sends the results over the dedicated
//! virtio-serial port and powers off. PID 1 never returns: returning would
//! panic the kernel.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use nix::mount::{mount, MsFlags};

use super::frame::Frame;
use super::image::{GuestOs, StartMode};
use super::CgroupVersion;
use crate::run::{error_line, panic_text, RunArgs};

/// The `run` arguments (a JSON array of strings).
pub const ARGS_PATH: &str = "/isobench-args";
/// Modules to load before the port appears, one guest path per line.
pub const MODULES_PATH: &str = "/isobench-modules";
/// The tmpfs the guest moves its root onto.
pub const NEWROOT: &str = "/newroot";
/// Name of the virtio-serial port the results go to.
pub const PORT_NAME: &str = "isobench.results";
/// Where the child run writes its results inside the guest.
pub const RESULTS_PATH: &str = "/run/isobench-results.json";
/// PATH for the run, so `--include`d peers are found where the host had them.
const GUEST_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// v1 controllers mounted one hierarchy each, in mount order.
pub const V1_CONTROLLERS: [&str; 6] = ["cpu", "cpuacct", "cpuset", "memory", "pids", "freezer"];

/// What the host asked for on the kernel command line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GuestOptions {
    pub cgroup: CgroupVersion,
    /// `isobench.guest=debian12`: exec systemd instead of running here.
    pub os: GuestOs,
    /// `isobench.start=login|service|scope` (systemd guest).
    pub start: StartMode,
    /// Guest uptime (s) by which the run must be done; past it /init
    /// reports what is stuck instead of letting the host's deadline hit.
    pub deadline: Option<f64>,
    /// A scratch disk (/dev/vda, ext4) is attached for /var/tmp.
    pub scratch: bool,
}

/// Parses `isobench.*` options of /proc/cmdline (cgroup v2 unless told).
pub fn parse_cmdline(text: &str) -> Result<GuestOptions, String> {
    let mut cgroup = CgroupVersion::V2;
    let mut deadline = None;
    let mut scratch = false;
    let mut os = GuestOs::Minimal;
    let mut start = StartMode::Login;
    for tok in text.split_whitespace() {
        if tok == "isobench.scratch=1" {
            scratch = true;
        }
        if let Some(v) = tok.strip_prefix("isobench.guest=") {
            os = match v {
                "minimal" => GuestOs::Minimal,
                "debian12" => GuestOs::Debian12,
                o => return Err(format!("isobench.guest={o}: accepted minimal, debian12")),
            };
        }
        if let Some(v) = tok.strip_prefix("isobench.start=") {
            start = StartMode::parse(v)
                .ok_or_else(|| format!("isobench.start={v}: accepted login, service, scope"))?;
        }
        if let Some(v) = tok.strip_prefix("isobench.deadline=") {
            deadline = Some(
                v.parse::<f64>()
                    .map_err(|_| format!("isobench.deadline={v}: not a number of seconds"))?,
            );
        }
        if let Some(v) = tok.strip_prefix("isobench.cgroup=") {
            cgroup = match v {
                "v1" => CgroupVersion::V1,
                "v2" => CgroupVersion::V2,
                o => return Err(format!("isobench.cgroup={o}: accepted v1, v2")),
            };
        }
    }
    Ok(GuestOptions {
        cgroup,
        os,
        start,
        deadline,
        scratch,
    })
}

/// ` isobench.node=NAME` for the guest's command line when the host's
/// `$NODE_NAME` is a usable node name (letters, digits, `.-_`), else "".
/// The guest's run gets it back as `$NODE_NAME`: a simulated fleet's node.
pub fn node_arg(node: Option<&str>) -> String {
    match node {
        Some(n)
            if !n.is_empty()
                && n.len() <= 253
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)) =>
        {
            format!(" isobench.node={n}")
        }
        _ => String::new(),
    }
}

/// The node name the host passed (`isobench.node=`), if any.
pub fn node_from_cmdline(text: &str) -> Option<String> {
    text.split_whitespace()
        .find_map(|t| t.strip_prefix("isobench.node="))
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

/// Checks that `args` are a `run` command isobench accepts, and that they
/// leave the results file to the VM runner. The flags are `run`'s own
/// ([`RunArgs`]); the launchers and namespaces are taken as text, as the
/// run itself resolves them where its PATH and peers are (/init has no
/// PATH, and the host may lack what the guest has).
pub fn validate_run_args(args: &[String]) -> Result<(), String> {
    let Some(("run", rest)) = args.split_first().map(|(a, rest)| (a.as_str(), rest)) else {
        return Err(
            "the arguments after `--` must be a `run` command, e.g. -- run --suite quick".into(),
        );
    };
    let as_text = |a: clap::Arg| a.value_parser(clap::value_parser!(String));
    let run = RunArgs::augment_args(clap::Command::new("isobench run").no_binary_name(true))
        .mut_arg("launchers", as_text)
        .mut_arg("namespaces", as_text);
    let m = run
        .try_get_matches_from(rest)
        .map_err(|e| format!("run arguments after `--`: {}", error_line(&e)))?;
    match m.get_raw("output") {
        None => Ok(()),
        Some(_) => Err(
            "run arguments after `--`: drop -o there; the results file is the vm's own -o".into(),
        ),
    }
}

/// Entry point when `isobench` is PID 1. Never returns.
pub fn main() -> ! {
    let mut port: Option<File> = None;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| guest_main(&mut port)));
    let frame = match result {
        Ok(Ok(f)) => f,
        Ok(Err(msg)) => Frame::Error(msg),
        Err(p) => {
            let msg = panic_text(&*p).unwrap_or_else(|| "panic".into());
            Frame::Error(format!("guest /init panicked: {msg}"))
        }
    };
    if let Frame::Error(msg) = &frame {
        eprintln!("isobench-guest: error: {msg}");
    }
    if port.is_none() {
        port = open_port(Duration::from_secs(5)).ok();
    }
    if let Some(p) = port.as_mut() {
        send(p, &frame);
        // Let the host drain the virtqueue before the machine goes away.
        std::thread::sleep(Duration::from_millis(100));
    }
    power_off()
}

pub(crate) fn power_off() -> ! {
    nix::unistd::sync();
    // SAFETY: reboot(2) with a valid command; as PID 1 we own the machine.
    unsafe {
        libc::reboot(libc::RB_POWER_OFF);
    }
    // Only reached if power-off failed: never return from PID 1.
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

pub(crate) fn send(port: &mut File, frame: &Frame) {
    if let Err(e) = port.write_all(&frame.encode()).and_then(|()| port.flush()) {
        eprintln!("isobench-guest: writing to the results port: {e}");
    }
}

fn guest_main(port: &mut Option<File>) -> Result<Frame, String> {
    switch_root()?;
    mount_basics()?;
    let cmdline =
        std::fs::read_to_string("/proc/cmdline").map_err(|e| format!("/proc/cmdline: {e}"))?;
    let opts = parse_cmdline(&cmdline)?;
    load_modules()?;
    if opts.os == GuestOs::Debian12 {
        // systemd takes over as PID 1; the driver unit does the run.
        let err = nix::unistd::execv(c"/sbin/init", &[c"/sbin/init"]);
        return Err(format!("exec /sbin/init (systemd): {err:?}"));
    }
    let p = port.insert(open_port(Duration::from_secs(30))?);
    let uptime = std::fs::read_to_string("/proc/uptime").unwrap_or_default();
    send(
        p,
        &Frame::Hello(uptime.split_whitespace().next().unwrap_or("?").to_string()),
    );
    if opts.scratch {
        if let Err(e) = mount_scratch(Duration::from_secs(10)) {
            let note = format!("scratch disk not mounted on {SCRATCH_DIR}: {e}");
            eprintln!("isobench-guest: {note}");
            send(p, &Frame::Note(note));
        }
    }
    for note in mount_cgroups(opts.cgroup)? {
        eprintln!("isobench-guest: {note}");
        send(p, &Frame::Note(note));
    }
    let args: Vec<String> = std::fs::read(ARGS_PATH)
        .map_err(|e| format!("{ARGS_PATH}: {e}"))
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| format!("{ARGS_PATH}: {e}")))?;
    validate_run_args(&args)?;
    run_child(&args, opts.deadline)
}

fn mnt(src: &str, target: &str, fstype: &str, flags: MsFlags, data: &str) -> Result<(), String> {
    std::fs::create_dir_all(target).map_err(|e| format!("mkdir {target}: {e}"))?;
    let data = (!data.is_empty()).then_some(data);
    mount(Some(src), target, Some(fstype), flags, data)
        .map_err(|e| format!("mount {fstype} on {target}: {e}"))
}

/// Copies the initramfs onto a tmpfs and makes that the root (as
/// switch_root does), deleting the originals as it goes to free memory.
fn switch_root() -> Result<(), String> {
    mnt("tmpfs", NEWROOT, "tmpfs", MsFlags::empty(), "mode=0755")?;
    let skip = NEWROOT.trim_start_matches('/');
    for e in std::fs::read_dir("/").map_err(|e| format!("read /: {e}"))? {
        let e = e.map_err(|e| format!("read /: {e}"))?;
        if e.file_name() == skip {
            continue;
        }
        move_entry(&e.path(), &Path::new(NEWROOT).join(e.file_name()))?;
    }
    let err = |what: &str, e: nix::Error| format!("switching root: {what}: {e}");
    nix::unistd::chdir(NEWROOT).map_err(|e| err("chdir", e))?;
    mount(Some("."), "/", None::<&str>, MsFlags::MS_MOVE, None::<&str>)
        .map_err(|e| err("move mount", e))?;
    nix::unistd::chroot(".").map_err(|e| err("chroot", e))?;
    nix::unistd::chdir("/").map_err(|e| err("chdir /", e))?;
    Ok(())
}

fn move_entry(src: &Path, dst: &Path) -> Result<(), String> {
    let ctx = |e: std::io::Error| format!("moving {} to the new root: {e}", src.display());
    let meta = std::fs::symlink_metadata(src).map_err(ctx)?;
    let ft = meta.file_type();
    let perm = std::fs::Permissions::from_mode(meta.mode() & 0o7777);
    if ft.is_dir() {
        std::fs::create_dir(dst).map_err(ctx)?;
        std::fs::set_permissions(dst, perm).map_err(ctx)?;
        for e in std::fs::read_dir(src).map_err(ctx)? {
            let e = e.map_err(ctx)?;
            move_entry(&e.path(), &dst.join(e.file_name()))?;
        }
        let _ = std::fs::remove_dir(src);
        return Ok(());
    }
    if ft.is_symlink() {
        let target = std::fs::read_link(src).map_err(ctx)?;
        std::os::unix::fs::symlink(target, dst).map_err(ctx)?;
    } else if ft.is_file() {
        std::fs::copy(src, dst).map_err(ctx)?;
    } else if ft.is_char_device() || ft.is_block_device() {
        let kind = if ft.is_char_device() {
            nix::sys::stat::SFlag::S_IFCHR
        } else {
            nix::sys::stat::SFlag::S_IFBLK
        };
        nix::sys::stat::mknod(
            dst,
            kind,
            nix::sys::stat::Mode::from_bits_truncate(meta.mode() & 0o7777),
            meta.rdev(),
        )
        .map_err(|e| format!("mknod {}: {e}", dst.display()))?;
    }
    let _ = std::fs::remove_file(src);
    Ok(())
}

fn mount_basics() -> Result<(), String> {
    let safe = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    mnt("proc", "/proc", "proc", safe, "")?;
    mnt("sysfs", "/sys", "sysfs", safe, "")?;
    mnt(
        "devtmpfs",
        "/dev",
        "devtmpfs",
        MsFlags::MS_NOSUID,
        "mode=0755",
    )?;
    mnt(
        "devpts",
        "/dev/pts",
        "devpts",
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        "",
    )?;
    mnt(
        "tmpfs",
        "/dev/shm",
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        "mode=1777",
    )?;
    // / is already a writable tmpfs (see switch_root), so /run and /tmp need
    // no mounts of their own, and files carried there (a suite file under
    // /tmp) stay visible.
    Ok(())
}

/// Where the scratch disk goes: the first place pagecache's `dir = "auto"`
/// looks for a disk filesystem.
const SCRATCH_DIR: &str = "/var/tmp";

/// Mounts the scratch disk (ext4 on /dev/vda, made by the host) on
/// [`SCRATCH_DIR`], waiting up to `wait` for the device to appear.
/// `noinit_itable`: no ext4lazyinit thread zeroing inode tables in the
/// background, whose writes (charged to the root cgroup) would otherwise
/// share the disk with the io scenario's measurements.
fn mount_scratch(wait: Duration) -> Result<(), String> {
    let deadline = Instant::now() + wait;
    while !Path::new("/dev/vda").exists() {
        if Instant::now() > deadline {
            return Err(format!(
                "/dev/vda did not appear within {} s",
                wait.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    mnt(
        "/dev/vda",
        SCRATCH_DIR,
        "ext4",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
        "noinit_itable",
    )?;
    std::fs::set_permissions(SCRATCH_DIR, std::fs::Permissions::from_mode(0o1777))
        .map_err(|e| format!("chmod {SCRATCH_DIR}: {e}"))
}

/// finit_module(2) of every listed module; one already loaded is fine.
fn load_modules() -> Result<(), String> {
    let list = std::fs::read_to_string(MODULES_PATH).unwrap_or_default();
    for path in list.lines().filter(|l| !l.is_empty()) {
        let f = File::open(path).map_err(|e| format!("module {path}: {e}"))?;
        // SAFETY: finit_module(2) on an open fd with an empty parameter string.
        let rc = unsafe {
            use std::os::fd::AsRawFd;
            libc::syscall(libc::SYS_finit_module, f.as_raw_fd(), c"".as_ptr(), 0)
        };
        if rc != 0 {
            let e = std::io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EEXIST) {
                return Err(format!("loading module {path}: {e}"));
            }
        }
    }
    Ok(())
}

/// Waits for the virtio port named [`PORT_NAME`] and opens it for writing.
pub(crate) fn open_port(wait: Duration) -> Result<File, String> {
    let deadline = Instant::now() + wait;
    loop {
        if let Ok(dir) = std::fs::read_dir("/sys/class/virtio-ports") {
            for e in dir.flatten() {
                let name = std::fs::read_to_string(e.path().join("name")).unwrap_or_default();
                if name.trim() == PORT_NAME {
                    let dev = Path::new("/dev").join(e.file_name());
                    if let Ok(f) = std::fs::OpenOptions::new().write(true).open(&dev) {
                        return Ok(f);
                    }
                }
            }
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "no virtio-serial port named {PORT_NAME} after {} s (is virtio_console \
                 in the kernel, and did qemu get -device virtserialport,name={PORT_NAME}?)",
                wait.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub(crate) fn uptime() -> f64 {
    std::fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// User processes with state and wait channel: what a hung run waits on.
pub(crate) fn process_table() -> String {
    let mut rows = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if pid == 1 || cmd.is_empty() {
            continue; // PID 1 is us; kernel threads have no command line
        }
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let fields = crate::procfs::stat_fields(&stat);
        let wchan = std::fs::read_to_string(e.path().join("wchan")).unwrap_or_default();
        rows.push(format!(
            "{pid} {} {} {} {}",
            fields.get(1).unwrap_or(&"?"),
            fields.first().unwrap_or(&"?"),
            if wchan.is_empty() {
                "-"
            } else {
                wchan.as_str()
            },
            cmd.trim().chars().take(160).collect::<String>()
        ));
    }
    rows.join("\n")
}

/// Which v1 controllers /proc/cgroups lists, with their `enabled` column.
pub fn parse_proc_cgroups(text: &str) -> Vec<(String, bool)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            Some((f.first()?.to_string(), *f.get(3)? == "1"))
        })
        .collect()
}

/// Mounts the cgroup filesystem; returns notes on controllers left out.
fn mount_cgroups(version: CgroupVersion) -> Result<Vec<String>, String> {
    let flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let root = "/sys/fs/cgroup";
    match version {
        CgroupVersion::V2 => {
            // systemd's options, so the guest behaves like a v2 host.
            if mnt(
                "cgroup2",
                root,
                "cgroup2",
                flags,
                "nsdelegate,memory_recursiveprot",
            )
            .is_err()
            {
                mnt("cgroup2", root, "cgroup2", flags, "")?;
            }
            Ok(Vec::new())
        }
        CgroupVersion::V1 => {
            mnt("tmpfs", root, "tmpfs", flags, "mode=0755")?;
            let listed = parse_proc_cgroups(
                &std::fs::read_to_string("/proc/cgroups")
                    .map_err(|e| format!("/proc/cgroups: {e}"))?,
            );
            let mut notes = Vec::new();
            for c in V1_CONTROLLERS {
                match listed.iter().find(|(n, _)| n == c) {
                    None => {
                        notes.push(format!(
                            "cgroup v1 {c} controller unavailable: not in /proc/cgroups \
                             (kernel built without its v1 support)"
                        ));
                        continue;
                    }
                    Some((_, false)) => {
                        notes.push(format!(
                            "cgroup v1 {c} controller unavailable: disabled in /proc/cgroups"
                        ));
                        continue;
                    }
                    Some(_) => {}
                }
                let dir = format!("{root}/{c}");
                if let Err(e) = mnt("cgroup", &dir, "cgroup", flags, c) {
                    let _ = std::fs::remove_dir(&dir);
                    let hint = match c {
                        "memory" => " (CONFIG_MEMCG_V1 not set?)",
                        "cpuset" => " (CONFIG_CPUSETS_V1 not set?)",
                        _ => "",
                    };
                    notes.push(format!("cgroup v1 {c} controller unavailable: {e}{hint}"));
                }
            }
            Ok(notes)
        }
    }
}

/// Runs `/init run … -o RESULTS_PATH` (our own binary, not as PID 1, so it
/// takes the host's exact code path), reaping every orphan meanwhile.
fn run_child(args: &[String], deadline: Option<f64>) -> Result<Frame, String> {
    let mut cmd = Command::new("/init");
    cmd.args(args)
        .args(["-o", RESULTS_PATH])
        .env_clear()
        .env("PATH", GUEST_PATH)
        .env("HOME", "/root")
        .env("TERM", "linux");
    if let Some(n) = std::fs::read_to_string("/proc/cmdline")
        .ok()
        .and_then(|c| node_from_cmdline(&c))
    {
        cmd.env("NODE_NAME", n);
    }
    run_to_frame(cmd, Path::new(RESULTS_PATH), deadline)
}

/// Runs `cmd` (an `isobench run` that writes `results`) under the guest's
/// deadline, its stderr passed through; its results as a frame.
pub(crate) fn run_to_frame(
    mut cmd: Command,
    results: &Path,
    deadline: Option<f64>,
) -> Result<Frame, String> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting the run: {e}"))?;
    let tail = Arc::new(Mutex::new(VecDeque::<String>::new()));
    let reader = child.stderr.take().map(|err| {
        let tail = Arc::clone(&tail);
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                eprintln!("{line}");
                if let Ok(mut t) = tail.lock() {
                    t.push_back(line);
                    if t.len() > 20 {
                        t.pop_front();
                    }
                }
            }
        })
    });
    let child_pid = child.id() as i32;
    let status = loop {
        let mut st = 0;
        // SAFETY: waitpid(-1) reaps any child: the run and reparented orphans.
        let pid = unsafe { libc::waitpid(-1, &mut st, libc::WNOHANG) };
        if pid == child_pid {
            break st;
        }
        if pid > 0 {
            continue;
        }
        if pid < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return Err(format!(
                "waiting for the run: {}",
                std::io::Error::last_os_error()
            ));
        }
        if deadline.is_some_and(|d| uptime() >= d) {
            let stuck = process_table();
            eprintln!("isobench-guest: the run is past its deadline; processes:\n{stuck}");
            return Err(format!(
                "the run did not finish before the deadline (guest uptime {:.0} s); \
                 processes (pid ppid state wchan command):\n{stuck}",
                uptime()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    if let Some(r) = reader {
        let deadline = Instant::now() + Duration::from_secs(2);
        while !r.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let tail: Vec<String> = tail
        .lock()
        .map(|t| t.iter().cloned().collect())
        .unwrap_or_default();
    let why = || {
        tail.iter()
            .rev()
            .find(|l| l.starts_with("isobench: "))
            .map(|l| l.trim_start_matches("isobench: ").to_string())
            .unwrap_or_else(|| tail.join("\n"))
    };
    if libc::WIFSIGNALED(status) {
        return Err(format!(
            "the run was killed by signal {}: {}",
            libc::WTERMSIG(status),
            why()
        ));
    }
    let code = libc::WEXITSTATUS(status);
    match (code, std::fs::read(results)) {
        (0 | 1, Ok(json)) => Ok(Frame::Results {
            exit: code as u8,
            json,
        }),
        (_, _) => Err(format!("the run exited {code}: {}", why())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmdline_options() {
        let o = parse_cmdline("console=ttyS0 panic=-1 quiet isobench.cgroup=v1 isobench.virt=tcg")
            .unwrap();
        assert_eq!(o.cgroup, CgroupVersion::V1);
        assert_eq!(o.deadline, None);
        assert_eq!(parse_cmdline("quiet").unwrap().cgroup, CgroupVersion::V2);
        let o = parse_cmdline("isobench.deadline=590").unwrap();
        assert_eq!(o.deadline, Some(590.0));
        assert!(parse_cmdline("isobench.deadline=soon").is_err());
        assert!(parse_cmdline("isobench.cgroup=v3").is_err());
        let c = format!("quiet{}", node_arg(Some("node-6.1-v1")));
        assert_eq!(node_from_cmdline(&c).as_deref(), Some("node-6.1-v1"));
        assert_eq!(node_arg(Some("a b")), "");
        assert_eq!(node_arg(None), "");
        assert_eq!(node_from_cmdline("quiet"), None);
    }

    #[test]
    fn run_args_must_be_a_run_without_output() {
        let a = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        validate_run_args(&a("run --suite quick --scenario cpu-quota")).unwrap();
        let e = validate_run_args(&a("run -o x.json")).unwrap_err();
        assert!(e.contains("drop -o"), "{e}");
        let e = validate_run_args(&a("env")).unwrap_err();
        assert!(e.contains("must be a `run`"), "{e}");
        let e = validate_run_args(&a("run --bogus")).unwrap_err();
        assert!(e.contains("--bogus"), "{e}");
        let e = validate_run_args(&a("run --rounds 0")).unwrap_err();
        assert!(e.contains("rounds") && !e.contains('\n'), "{e}");
        // Launchers are resolved by the run, where the guest's PATH is.
        validate_run_args(&a(
            "run --launcher base=oci:no-such-runtime --namespaces pid",
        ))
        .unwrap();
    }

    #[test]
    fn proc_cgroups_listing() {
        let text = "#subsys_name\thierarchy\tnum_cgroups\tenabled\n\
                    cpuset\t0\t1\t1\ncpu\t0\t1\t1\nmemory\t0\t1\t0\n";
        assert_eq!(
            parse_proc_cgroups(text),
            [
                ("cpuset".to_string(), true),
                ("cpu".to_string(), true),
                ("memory".to_string(), false)
            ]
        );
    }
}
