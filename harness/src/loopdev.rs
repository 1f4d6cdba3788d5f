//! Loop devices isobench attaches itself (the `io` scenario's block device
//! on the host): a sparse file in a private directory, attached through the
//! loop ioctls, and an owning guard that detaches it and removes the file.
//!
//! Nothing is left behind:
//! - the guard detaches on drop (success, error, panic, and SIGINT, which
//!   the scenarios turn into an early return);
//! - the device is attached with `LO_FLAGS_AUTOCLEAR` while the guard
//!   holds it open, so the kernel detaches it itself when a SIGKILL closes
//!   that fd;
//! - `isobench cleanup` ([`cleanup_stale`]) detaches any loop device whose
//!   backing file is in an `isobench-io-<run id>` directory of a dead run,
//!   and only those (the backing file names the owner, as cgroups do).

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::cgroup::owner::Owner;
use crate::cgroup::DevNum;

/// Prefix of the directory that holds a run's backing files.
pub const DIR_PREFIX: &str = "isobench-io-";
/// The backing file's name inside it.
const BACKING: &str = "disk.img";

// linux/loop.h
const LOOP_SET_FD: libc::c_ulong = 0x4C00;
const LOOP_CLR_FD: libc::c_ulong = 0x4C01;
const LOOP_SET_STATUS64: libc::c_ulong = 0x4C04;
const LOOP_CONFIGURE: libc::c_ulong = 0x4C0A;
const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
const LO_FLAGS_AUTOCLEAR: u32 = 4;
const LO_FLAGS_DIRECT_IO: u32 = 16;
const LO_NAME_SIZE: usize = 64;

/// `struct loop_info64`.
#[repr(C)]
#[derive(Clone, Copy)]
struct LoopInfo64 {
    lo_device: u64,
    lo_inode: u64,
    lo_rdevice: u64,
    lo_offset: u64,
    lo_sizelimit: u64,
    lo_number: u32,
    lo_encrypt_type: u32,
    lo_encrypt_key_size: u32,
    lo_flags: u32,
    lo_file_name: [u8; LO_NAME_SIZE],
    lo_crypt_name: [u8; LO_NAME_SIZE],
    lo_encrypt_key: [u8; 32],
    lo_init: [u64; 2],
}

/// `struct loop_config` (LOOP_CONFIGURE, Linux 5.8+).
#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

/// Why a loop device could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    /// No loop driver (or no permission): the caller skips.
    #[error("{0}")]
    Unavailable(String),
    #[error("{what}: {err}")]
    Io { what: String, err: std::io::Error },
}

fn io_err(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> LoopError {
    let what = what.into();
    move |err| LoopError::Io { what, err }
}

/// An attached loop device over a sparse file of ours; detached, and its
/// directory removed, on drop.
#[derive(Debug)]
pub struct LoopDevice {
    /// `/dev/loopN`.
    pub path: PathBuf,
    pub dev: DevNum,
    /// Whether the kernel took `LO_FLAGS_DIRECT_IO` (no double caching).
    pub direct_io: bool,
    pub backing: PathBuf,
    dir: PathBuf,
    /// Held open: with AUTOCLEAR the last close detaches the device.
    fd: Option<File>,
}

impl LoopDevice {
    /// Creates `<parent>/isobench-io-<run id>-<n>/disk.img` (sparse, `size`
    /// bytes) and attaches it to a free loop device.
    pub fn create(parent: &Path, run_id: &str, n: u32, size: u64) -> Result<Self, LoopError> {
        let ctl = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/loop-control")
            .map_err(|e| {
                LoopError::Unavailable(format!(
                    "/dev/loop-control: {e} (no loop driver: CONFIG_BLK_DEV_LOOP, modprobe loop)"
                ))
            })?;
        let dir = parent.join(format!("{DIR_PREFIX}{run_id}-{n}"));
        std::fs::create_dir(&dir).map_err(io_err(dir.display().to_string()))?;
        let backing = dir.join(BACKING);
        let mut dev = LoopDevice {
            path: PathBuf::new(),
            dev: DevNum::default(),
            direct_io: false,
            backing: backing.clone(),
            dir,
            fd: None,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&backing)
            .map_err(io_err(backing.display().to_string()))?;
        file.set_len(size)
            .map_err(io_err(format!("truncate {}", backing.display())))?;
        // A free device can be taken by someone else before we configure
        // it (EBUSY): ask again.
        let mut last = None;
        for _ in 0..16 {
            // SAFETY: ioctl without argument on the control fd.
            let n = unsafe { libc::ioctl(ctl.as_raw_fd(), LOOP_CTL_GET_FREE) };
            if n < 0 {
                return Err(io_err("LOOP_CTL_GET_FREE")(std::io::Error::last_os_error()));
            }
            let path = PathBuf::from(format!("/dev/loop{n}"));
            let lo = OpenOptions::new()
                .read(true)
                .write(true)
                .open(&path)
                .map_err(io_err(path.display().to_string()))?;
            match attach(&lo, &file, &backing) {
                Ok(direct) => {
                    let rdev = lo
                        .metadata()
                        .map_err(io_err(path.display().to_string()))?
                        .rdev();
                    dev.path = path;
                    dev.dev = DevNum::from_raw(rdev);
                    dev.direct_io = direct;
                    dev.fd = Some(lo);
                    return Ok(dev);
                }
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => last = Some(e),
                Err(e) => return Err(io_err(format!("attach {}", path.display()))(e)),
            }
        }
        Err(io_err("attach a free loop device")(last.unwrap_or_else(
            || std::io::Error::from_raw_os_error(libc::EBUSY),
        )))
    }

    /// Detaches and removes the backing file now, reporting errors.
    pub fn destroy(mut self) -> Result<(), LoopError> {
        self.release()
    }

    fn release(&mut self) -> Result<(), LoopError> {
        let mut r = Ok(());
        if let Some(fd) = self.fd.take() {
            r = clear(&fd).map_err(io_err(format!("LOOP_CLR_FD {}", self.path.display())));
        }
        let _ = std::fs::remove_file(&self.backing);
        let _ = std::fs::remove_dir(&self.dir);
        r
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = self.release();
    }
}

fn name_bytes(backing: &Path) -> [u8; LO_NAME_SIZE] {
    let mut name = [0u8; LO_NAME_SIZE];
    let b = backing.as_os_str().as_encoded_bytes();
    let n = b.len().min(LO_NAME_SIZE - 1);
    name[..n].copy_from_slice(&b[..n]);
    name
}

/// Attaches `file` to the open loop device `lo` with AUTOCLEAR, and
/// direct IO where the backing filesystem allows it. LOOP_CONFIGURE where
/// the kernel has it, else LOOP_SET_FD + LOOP_SET_STATUS64. Returns
/// whether direct IO is on.
fn attach(lo: &File, file: &File, backing: &Path) -> std::io::Result<bool> {
    // SAFETY: plain-old-data struct, all zeros is valid.
    let mut info: LoopInfo64 = unsafe { std::mem::zeroed() };
    info.lo_file_name = name_bytes(backing);
    for flags in [LO_FLAGS_AUTOCLEAR | LO_FLAGS_DIRECT_IO, LO_FLAGS_AUTOCLEAR] {
        info.lo_flags = flags;
        let cfg = LoopConfig {
            fd: file.as_raw_fd() as u32,
            block_size: 0,
            info,
            reserved: [0; 8],
        };
        // SAFETY: LOOP_CONFIGURE reads a struct loop_config we own.
        let r = unsafe { libc::ioctl(lo.as_raw_fd(), LOOP_CONFIGURE, &cfg as *const LoopConfig) };
        if r == 0 {
            return Ok(flags & LO_FLAGS_DIRECT_IO != 0);
        }
        let e = std::io::Error::last_os_error();
        match e.raw_os_error() {
            // Direct IO refused by the backing filesystem: try without.
            Some(libc::EINVAL) if flags & LO_FLAGS_DIRECT_IO != 0 => continue,
            // No LOOP_CONFIGURE (before 5.8): the two-step way.
            Some(libc::EINVAL) | Some(libc::ENOTTY) => break,
            _ => return Err(e),
        }
    }
    // SAFETY: LOOP_SET_FD takes the backing fd by value.
    if unsafe { libc::ioctl(lo.as_raw_fd(), LOOP_SET_FD, file.as_raw_fd()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    info.lo_flags = LO_FLAGS_AUTOCLEAR;
    // SAFETY: LOOP_SET_STATUS64 reads a struct loop_info64 we own.
    if unsafe {
        libc::ioctl(
            lo.as_raw_fd(),
            LOOP_SET_STATUS64,
            &info as *const LoopInfo64,
        )
    } != 0
    {
        let e = std::io::Error::last_os_error();
        let _ = clear(lo);
        return Err(e);
    }
    Ok(false)
}

/// LOOP_CLR_FD; a device already cleared (ENXIO) is fine.
fn clear(lo: &File) -> std::io::Result<()> {
    // SAFETY: LOOP_CLR_FD takes no argument.
    if unsafe { libc::ioctl(lo.as_raw_fd(), LOOP_CLR_FD) } == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::ENXIO) => Ok(()),
        _ => Err(e),
    }
}

/// The run id in a backing-file path of ours
/// (`…/isobench-io-<run id>-<n>/disk.img`), or None: not ours.
pub fn run_id_of(backing: &str) -> Option<&str> {
    let backing = backing.trim().trim_end_matches(" (deleted)");
    let p = Path::new(backing);
    if p.file_name()? != BACKING {
        return None;
    }
    let dir = p.parent()?.file_name()?.to_str()?;
    let rest = dir.strip_prefix(DIR_PREFIX)?;
    // Strip the trailing `-<n>`.
    let (run, n) = rest.rsplit_once('-')?;
    n.parse::<u32>().ok()?;
    // Owner::from_run_id wants `p<pid>-…`; return a slice of the input.
    Owner::from_run_id(run)?;
    let start = backing.len() - BACKING.len() - 1 - dir.len() + DIR_PREFIX.len();
    Some(&backing[start..start + run.len()])
}

/// Loop devices attached now whose backing file is ours: (device, backing).
pub fn ours() -> Vec<(PathBuf, PathBuf)> {
    let Ok(rd) = std::fs::read_dir("/sys/block") else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("loop").then_some(())?;
            let b = std::fs::read_to_string(e.path().join("loop/backing_file")).ok()?;
            run_id_of(&b)?;
            let b = b.trim().trim_end_matches(" (deleted)").to_string();
            Some((PathBuf::from("/dev").join(name), PathBuf::from(b)))
        })
        .collect()
}

/// Detaches loop devices (and removes backing files) that dead isobench
/// runs left; devices whose backing file is not ours, or whose run is
/// alive, are never touched. Returns the devices detached.
pub fn cleanup_stale() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for (dev, backing) in ours() {
        let b = backing.to_string_lossy().into_owned();
        let Some(owner) = run_id_of(&b).and_then(Owner::from_run_id) else {
            continue;
        };
        let dir = backing.parent().map(Path::to_path_buf).unwrap_or_default();
        if owner.alive(&dir) {
            continue;
        }
        let is_block = std::fs::metadata(&dev)
            .map(|m| m.file_type().is_block_device())
            .unwrap_or(false);
        let cleared = is_block
            && OpenOptions::new()
                .read(true)
                .open(&dev)
                .and_then(|f| clear(&f))
                .is_ok();
        if cleared {
            out.push(dev);
        }
        let _ = std::fs::remove_file(&backing);
        let _ = std::fs::remove_dir(&dir);
    }
    // Directories of dead runs whose device is already gone.
    for parent in [Path::new("/var/tmp"), Path::new("/tmp")] {
        let Ok(rd) = std::fs::read_dir(parent) else {
            continue;
        };
        for e in rd.flatten() {
            let b = e.path().join(BACKING);
            let s = b.to_string_lossy().into_owned();
            let Some(owner) = run_id_of(&s).and_then(Owner::from_run_id) else {
                continue;
            };
            if !owner.alive(&e.path()) {
                let _ = std::fs::remove_file(&b);
                let _ = std::fs::remove_dir(e.path());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_backing_files_are_recognised() {
        let ours = "/var/tmp/isobench-io-p12-t34-deadbeef-0/disk.img\n";
        assert_eq!(run_id_of(ours), Some("p12-t34-deadbeef"));
        assert_eq!(
            run_id_of("/tmp/isobench-io-p12-abc-3/disk.img (deleted)"),
            Some("p12-abc")
        );
        for other in [
            "/var/lib/images/disk.img",
            "/var/tmp/isobench-io-p12-t34-x-0/other.img",
            "/var/tmp/isobench-io-x-0/disk.img",
            "/var/tmp/isobench-io-p12-t34-x/disk.img",
            "/var/tmp/someone-io-p12-0/disk.img",
            "",
        ] {
            assert_eq!(run_id_of(other), None, "{other}");
        }
    }

    #[test]
    fn long_names_are_cut_to_the_kernel_field() {
        let long = PathBuf::from(format!("/{}", "x".repeat(100)));
        let n = name_bytes(&long);
        assert_eq!(n[LO_NAME_SIZE - 1], 0);
        assert_eq!(n[0], b'/');
    }
}
