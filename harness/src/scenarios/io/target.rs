//! The block device the io scenario throttles, set up by isobench itself:
//! a loop device over a sparse file (the host), or the whole disk under a
//! directory's filesystem (the VM's virtio scratch disk, ext4), with a
//! data file there. Both are removed when the target is dropped.
//!
//! The workload opens the device node (or the data file) by path: the
//! scenario runs its sandboxes with the host rootfs, so /dev/loopN is
//! visible inside (a minimal rootfs would need the node bind-mounted or
//! the fd passed; no launcher here needs that).

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::Config;
use crate::cgroup::DevNum;
use crate::loopdev::{self, LoopDevice, LoopError};
use crate::scenarios::{ScenarioError, Skip};
use isobench_reports::names::io as n;

/// The kernel command-line flag of an isobench VM guest with its virtio
/// scratch disk mounted on /var/tmp (see vm/guest.rs).
const GUEST_SCRATCH_FLAG: &str = "isobench.scratch=1";
const SCRATCH_DIR: &str = "/var/tmp";

/// Where the IO goes.
#[derive(Debug)]
pub enum Target {
    Loop(LoopDevice),
    Dir {
        /// Our directory on the filesystem, removed on drop.
        dir: PathBuf,
        /// The data file in it (prefilled, so reads reach the disk).
        file: PathBuf,
        dev: DevNum,
        disk: String,
    },
}

impl Drop for Target {
    fn drop(&mut self) {
        if let Target::Dir { dir, .. } = self {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The skip row when no device can be set up.
pub fn skip(why: String) -> ScenarioError {
    ScenarioError::skipped(Skip::new(
        n::SKIP,
        "a block device isobench can throttle (a loop device, or a whole disk under `device`)",
        "none",
        why,
    ))
}

fn failed(e: impl std::fmt::Display) -> ScenarioError {
    ScenarioError::Failed(format!("io device: {e}"))
}

impl Target {
    /// Sets up the device `cfg.device` names: `loop`, a directory, or
    /// `auto` (the scratch disk in an isobench VM guest, else a loop device).
    pub fn create(cfg: &Config, run_id: &str) -> Result<Target, ScenarioError> {
        let size = cfg.size_mib << 20;
        let guest = std::fs::read_to_string("/proc/cmdline")
            .map(|c| c.split_whitespace().any(|t| t == GUEST_SCRATCH_FLAG))
            .unwrap_or(false);
        match cfg.device.as_str() {
            "auto" if guest => Target::dir(Path::new(SCRATCH_DIR), run_id, size),
            "auto" | "loop" => {
                let parent = loop_parent();
                match LoopDevice::create(parent, run_id, 0, size) {
                    Ok(d) => Ok(Target::Loop(d)),
                    Err(LoopError::Unavailable(why)) => Err(skip(why)),
                    Err(e) => Err(failed(e)),
                }
            }
            dir => Target::dir(Path::new(dir), run_id, size),
        }
    }

    /// A data file of `size` bytes in a private directory under `parent`,
    /// whose filesystem must sit on a whole disk (io.max and blkio take
    /// whole disks only).
    fn dir(parent: &Path, run_id: &str, size: u64) -> Result<Target, ScenarioError> {
        let meta = std::fs::metadata(parent).map_err(|e| failed(format!("{}: {e}", parent.display())))?;
        let dev = DevNum::from_raw(meta.dev());
        let sys = PathBuf::from(format!("/sys/dev/block/{dev}"));
        if !sys.exists() {
            return Err(skip(format!(
                "{} is not on a block device ({dev}: no {}); set [io] device to a directory on a disk, or \"loop\"",
                parent.display(),
                sys.display()
            )));
        }
        if sys.join("partition").exists() {
            return Err(skip(format!(
                "{} is on partition {dev}: io.max and blkio.throttle take whole disks only",
                parent.display()
            )));
        }
        let disk = std::fs::canonicalize(&sys)
            .ok()
            .and_then(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
            .unwrap_or_else(|| dev.to_string());
        let dir = parent.join(format!("{}{run_id}-0", loopdev::DIR_PREFIX));
        std::fs::create_dir(&dir).map_err(|e| failed(format!("{}: {e}", dir.display())))?;
        let file = dir.join("disk.img");
        let t = Target::Dir {
            dir,
            file: file.clone(),
            dev,
            disk,
        };
        fill(&file, size).map_err(|e| failed(format!("fill {}: {e}", file.display())))?;
        Ok(t)
    }

    /// What the workload opens.
    pub fn path(&self) -> &Path {
        match self {
            Target::Loop(l) => &l.path,
            Target::Dir { file, .. } => file,
        }
    }

    /// Where the buffered writer writes, and how many bytes (`--span`):
    /// on a filesystem a new, empty file, so its inode's writeback belongs
    /// to the writer's cgroup (cgroup writeback attaches an inode to the
    /// cgroup that first dirties it; the data file was filled by isobench);
    /// on a loop device the device itself.
    pub fn buffered_file(&self, size: u64) -> Result<(PathBuf, u64), ScenarioError> {
        match self {
            Target::Loop(l) => Ok((l.path.clone(), size)),
            Target::Dir { dir, .. } => {
                let f = dir.join("buffered.img");
                std::fs::File::create(&f).map_err(|e| failed(format!("{}: {e}", f.display())))?;
                Ok((f, size))
            }
        }
    }

    pub fn dev(&self) -> DevNum {
        match self {
            Target::Loop(l) => l.dev,
            Target::Dir { dev, .. } => *dev,
        }
    }

    /// `loop` or `dir` (results' `device_kind`).
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Loop(_) => "loop",
            Target::Dir { .. } => "dir",
        }
    }

    /// The whole-disk sysfs name (`loop3`, `vda`), for its queue settings.
    pub fn disk(&self) -> String {
        match self {
            Target::Loop(l) => l.path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default(),
            Target::Dir { disk, .. } => disk.clone(),
        }
    }

    /// The `device` param: what kind of device, without anything that
    /// differs from run to run (the loop number, the run's directory), so
    /// that the same point of two runs has the same key in `compare`:
    /// `loop device, direct-io` or `file on /dev/vda`.
    pub fn kind_text(&self) -> String {
        match self {
            Target::Loop(l) => format!("loop device{}", if l.direct_io { ", direct-io" } else { "" }),
            Target::Dir { disk, .. } => format!("file on /dev/{disk}"),
        }
    }
}

/// The loop device's backing file goes on a disk filesystem (/var/tmp),
/// else /tmp.
fn loop_parent() -> &'static Path {
    let vt = Path::new("/var/tmp");
    if vt.is_dir() {
        vt
    } else {
        Path::new("/tmp")
    }
}

/// Writes `size` bytes of data and syncs them: reads must reach the disk,
/// not a hole.
fn fill(file: &Path, size: u64) -> std::io::Result<()> {
    let mut f = std::fs::File::create(file)?;
    let chunk = vec![0x5au8; 1 << 20];
    let mut done = 0;
    while done < size {
        let n = chunk.len().min((size - done) as usize);
        f.write_all(&chunk[..n])?;
        done += n as u64;
    }
    f.sync_all()
}
