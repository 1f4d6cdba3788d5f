//! The `debian12` guest: a Debian 12 (bookworm) userland with systemd as
//! PID 1, so isobench is tested where most of its users are (systemd on
//! pure cgroup v2). Built here from Debian packages with `mmdebstrap`, packed
//! as a newc cpio with our own writer, and cached, so CI builds it once.
//!
//! A boot's initrd is that image followed by a small per-boot cpio (the
//! kernel unpacks concatenated archives in order): `isobench` as `/init`,
//! the virtio modules, the run arguments and the driver unit. `/init`
//! copies everything onto a tmpfs (pivot_root, which sandboxes need, refuses
//! the initramfs root) and execs systemd; the driver unit then starts
//! `isobench run` the way users do (see [`StartMode`]) and sends the results
//! over the virtio-serial port.

use std::io::BufWriter;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::cpio::CpioWriter;
use super::initramfs::{Initramfs, Node, Source};
use super::kmod::ModuleFile;
use super::VmError;

/// Which userland the guest runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GuestOs {
    /// isobench alone as /init (no init system; /init in the root cgroup).
    Minimal,
    /// Debian 12 with systemd as PID 1.
    Debian12,
}

/// How the systemd guest starts `isobench run`: the ways users do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StartMode {
    /// `sudo isobench run …` from a login session of an unprivileged user
    /// (`su -l`, so pam_systemd gives it a session scope it shares).
    Login,
    /// As a systemd service (`systemd-run --wait`: a transient .service
    /// with the default OOMPolicy=stop).
    Service,
    /// Under `systemd-run --scope` (a scope that is not delegated).
    Scope,
}

impl StartMode {
    pub fn as_str(self) -> &'static str {
        match self {
            StartMode::Login => "login",
            StartMode::Service => "service",
            StartMode::Scope => "scope",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [StartMode::Login, StartMode::Service, StartMode::Scope]
            .into_iter()
            .find(|m| m.as_str() == s)
    }
}

/// The unprivileged user of the login start mode (sudo without password).
pub const LOGIN_USER: &str = "tester";
/// The unit that drives a run in the guest (not isobench-named, so the
/// leftover check sees only what isobench itself made).
pub const DRIVER_UNIT: &str = "vmrun-driver.service";
/// Where isobench is reachable in the guest.
pub const GUEST_BIN: &str = "/usr/local/bin/isobench";

/// Packages on top of minbase.
const PACKAGES: &str = "systemd,systemd-sysv,sudo,dbus,libpam-systemd";
/// Everything that decides the image's content; its hash names the cache
/// file, so a change of recipe builds a new image.
fn recipe() -> Vec<String> {
    let mut v: Vec<String> = vec!["--variant=minbase".into(), format!("--include={PACKAGES}")];
    for ex in [
        "/usr/share/doc/*",
        "/usr/share/man/*",
        "/usr/share/info/*",
        "/usr/share/locale/*",
    ] {
        v.push(format!("--dpkgopt=path-exclude={ex}"));
    }
    for hook in [
        format!("chroot \"$1\" useradd -m -s /bin/bash {LOGIN_USER}"),
        format!(
            "echo '{LOGIN_USER} ALL=(ALL) NOPASSWD: ALL' > \"$1/etc/sudoers.d/{LOGIN_USER}\" \
             && chmod 0440 \"$1/etc/sudoers.d/{LOGIN_USER}\""
        ),
        "echo debian12 > \"$1/etc/hostname\"".into(),
        "echo '127.0.1.1 debian12' >> \"$1/etc/hosts\"".into(),
        // No login prompt competing for the serial console.
        "ln -sf /dev/null \"$1/etc/systemd/system/serial-getty@.service\"".into(),
        "ln -sf /dev/null \"$1/etc/systemd/system/getty@.service\"".into(),
        "rm -rf \"$1/var/cache/apt\"/*.bin \"$1/var/lib/apt/lists\"/*_dists_*".into(),
    ] {
        v.push(format!("--customize-hook={hook}"));
    }
    v.push("bookworm".into());
    v
}

/// `$ISOBENCH_IMAGES`, else `~/.cache/isobench/images`.
pub fn images_dir() -> PathBuf {
    std::env::var_os("ISOBENCH_IMAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| super::kernels::cache_base().join("images"))
}

/// The cache file of the current recipe.
pub fn image_path() -> PathBuf {
    let h = crate::sandbox::workload::fnv64(recipe().join("\n").as_bytes());
    images_dir().join(format!("debian12-{:08x}.cpio", h as u32))
}

/// The cached image, built first when missing (needs root and mmdebstrap).
pub fn ensure_debian12() -> Result<PathBuf, VmError> {
    let out = image_path();
    if out.is_file() {
        return Ok(out);
    }
    let mmdebstrap = crate::env::which("mmdebstrap").ok_or_else(|| {
        VmError::Input(
            "--guest debian12 builds its image with mmdebstrap, which is not installed \
             (apt-get install mmdebstrap)"
                .into(),
        )
    })?;
    if !nix::unistd::geteuid().is_root() {
        return Err(VmError::Input(
            "building the debian12 guest image needs root (mmdebstrap); run with sudo".into(),
        ));
    }
    let dir = images_dir();
    std::fs::create_dir_all(&dir).map_err(|e| VmError::Io(format!("{}: {e}", dir.display())))?;
    let work = dir.join(format!(".build-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let root = work.join("root");
    eprintln!(
        "isobench: building the debian12 guest image (mmdebstrap, once; cached as {})",
        out.display()
    );
    let result = (|| {
        std::fs::create_dir_all(&work)
            .map_err(|e| VmError::Io(format!("{}: {e}", work.display())))?;
        let status = Command::new(mmdebstrap)
            .args(recipe().iter().take(recipe().len() - 1))
            .arg("bookworm")
            .arg(&root)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .map_err(|e| VmError::Io(format!("starting mmdebstrap: {e}")))?;
        if !status.success() {
            return Err(VmError::Input(format!(
                "mmdebstrap {status} (its messages are above; it needs a reachable Debian mirror)"
            )));
        }
        let tmp = work.join("image.cpio");
        pack_dir(&root, &tmp)?;
        std::fs::rename(&tmp, &out).map_err(|e| VmError::Io(format!("{}: {e}", out.display())))?;
        // Images of earlier recipes are never used again.
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("debian12-") && name.ends_with(".cpio") && e.path() != out {
                let _ = std::fs::remove_file(e.path());
            }
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&work);
    result.map(|()| out)
}

/// Packs a directory tree (a root filesystem) into a newc cpio as it is on
/// disk: modes, owners, symlinks, device nodes, FIFOs. Hard links become
/// separate copies.
pub fn pack_dir(root: &Path, out: &Path) -> Result<u64, VmError> {
    let io = |p: &Path, e: std::io::Error| VmError::Io(format!("{}: {e}", p.display()));
    let f = std::fs::File::create(out).map_err(|e| io(out, e))?;
    let mut w = CpioWriter::new(BufWriter::new(f));
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(|e| io(&dir, e))?
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        let mut subdirs = Vec::new();
        for p in entries {
            let meta = std::fs::symlink_metadata(&p).map_err(|e| io(&p, e))?;
            let rel = p
                .strip_prefix(root)
                .map_err(|_| VmError::Io(format!("{}: outside the root", p.display())))?
                .to_string_lossy()
                .into_owned();
            let owner = (meta.uid(), meta.gid());
            let ft = meta.file_type();
            let rdev = meta.rdev();
            let dev = (libc::major(rdev), libc::minor(rdev));
            let r = if ft.is_dir() {
                subdirs.push(p.clone());
                w.raw(&rel, meta.mode(), owner, (0, 0), &[])
            } else if ft.is_symlink() {
                let t = std::fs::read_link(&p).map_err(|e| io(&p, e))?;
                w.raw(
                    &rel,
                    meta.mode(),
                    owner,
                    (0, 0),
                    t.as_os_str().as_encoded_bytes(),
                )
            } else if ft.is_file() {
                let data = std::fs::read(&p).map_err(|e| io(&p, e))?;
                w.raw(&rel, meta.mode(), owner, (0, 0), &data)
            } else if ft.is_char_device() || ft.is_block_device() || ft.is_fifo() {
                w.raw(&rel, meta.mode(), owner, dev, &[])
            } else {
                continue; // sockets are never part of an image
            };
            r.map_err(|e| io(out, e))?;
        }
        // Depth-first, in order: a directory's entries right after it.
        subdirs.reverse();
        stack.extend(subdirs);
    }
    let f = w
        .finish()
        .map_err(|e| io(out, e))?
        .into_inner()
        .map_err(|e| io(out, e.into_error()))?;
    f.metadata().map(|m| m.len()).map_err(|e| io(out, e))
}

/// The driver unit: runs `isobench guest-driver` once the system is up.
fn driver_unit() -> String {
    format!(
        "[Unit]\n\
         Description=isobench VM run driver\n\
         After=dbus.service systemd-logind.service systemd-user-sessions.service\n\
         Wants=dbus.service systemd-logind.service\n\
         \n\
         [Service]\n\
         Type=exec\n\
         ExecStart={GUEST_BIN} guest-driver\n\
         StandardOutput=journal+console\n\
         StandardError=journal+console\n"
    )
}

/// The per-boot archive appended to the image.
pub fn overlay(
    init: &Path,
    modules: &[ModuleFile],
    run_args: &[String],
    files: &[PathBuf],
) -> Result<Initramfs, VmError> {
    let mut t = Initramfs::default();
    // The program alone: Debian 12's own libraries serve it (an isobench
    // built against a newer glibc than bookworm's 2.36 does not start
    // there). Nothing may be added below /lib, /bin or /sbin: they are
    // symlinks into /usr there (merged /usr), and a directory entry in
    // this archive would replace the link.
    t.add(
        "/init",
        Node::File {
            perm: 0o755,
            source: Source::Host(init.to_path_buf()),
        },
    );
    t.add(
        GUEST_BIN,
        Node::Symlink {
            target: "/init".into(),
        },
    );
    t.add_run_inputs(modules, run_args, files, usr_merged)?;
    t.add(
        &format!("/etc/systemd/system/{DRIVER_UNIT}"),
        Node::File {
            perm: 0o644,
            source: Source::Bytes(driver_unit().into_bytes()),
        },
    );
    t.add(
        &format!("/etc/systemd/system/multi-user.target.wants/{DRIVER_UNIT}"),
        Node::Symlink {
            target: format!("/etc/systemd/system/{DRIVER_UNIT}"),
        },
    );
    Ok(t)
}

/// `/lib/x` → `/usr/lib/x` (and /bin, /sbin, /lib64): the merged-/usr
/// path, so the archive never replaces those symlinks.
pub fn usr_merged(path: &str) -> String {
    for top in ["/lib/", "/lib64/", "/bin/", "/sbin/"] {
        if path.starts_with(top) {
            return format!("/usr{path}");
        }
    }
    path.to_string()
}

/// Writes `image` followed by `overlay` as one initrd.
pub fn write_initrd(image: &Path, overlay: &Initramfs, out: &Path) -> Result<(), VmError> {
    let io = |p: &Path, e: std::io::Error| VmError::Io(format!("{}: {e}", p.display()));
    let extra = out.with_extension("overlay");
    overlay.write(&extra)?;
    let mut o = std::fs::File::create(out).map_err(|e| io(out, e))?;
    for part in [image, extra.as_path()] {
        let mut i = std::fs::File::open(part).map_err(|e| io(part, e))?;
        std::io::copy(&mut i, &mut o).map_err(|e| io(out, e))?;
    }
    let _ = std::fs::remove_file(&extra);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::cpio::tests::parse;

    #[test]
    fn start_modes_round_trip() {
        for m in [StartMode::Login, StartMode::Service, StartMode::Scope] {
            assert_eq!(StartMode::parse(m.as_str()), Some(m));
        }
        assert_eq!(StartMode::parse("cron"), None);
    }

    #[test]
    fn recipe_names_the_image() {
        let r = recipe();
        assert_eq!(r.last().map(String::as_str), Some("bookworm"));
        assert!(r.iter().any(|a| a.contains("systemd-sysv")));
        let p = image_path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("debian12-") && name.ends_with(".cpio"),
            "{name}"
        );
    }

    #[test]
    fn a_tree_is_packed_as_it_is_on_disk() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("root");
        std::fs::create_dir_all(root.join("etc/x")).unwrap();
        std::fs::write(root.join("etc/x/f"), b"data").unwrap();
        std::os::unix::fs::symlink("x/f", root.join("etc/l")).unwrap();
        let out = d.path().join("o.cpio");
        pack_dir(&root, &out).unwrap();
        let e = parse(&std::fs::read(&out).unwrap());
        let names: Vec<&str> = e.iter().map(|x| x.name.as_str()).collect();
        assert_eq!(
            &names[..4],
            ["etc", "etc/l", "etc/x", "etc/x/f"],
            "{names:?}"
        );
        assert_eq!(e[3].data, b"data");
        assert_eq!(e[1].data, b"x/f");
    }

    #[test]
    fn overlay_paths_stay_out_of_merged_usr_links() {
        assert_eq!(
            usr_merged("/lib/modules/6.1/x.ko"),
            "/usr/lib/modules/6.1/x.ko"
        );
        assert_eq!(usr_merged("/usr/lib/x"), "/usr/lib/x");
        let init = std::env::current_exe().unwrap();
        let m = ModuleFile {
            name: "virtio_console".into(),
            guest_path: "/lib/modules/6.1.0-x/kernel/virtio_console.ko".into(),
            bytes: b"x".to_vec(),
        };
        let t = overlay(&init, &[m], &[], &[]).unwrap();
        for l in t.listing() {
            let path = l
                .split_whitespace()
                .nth(if l.starts_with('l') { 1 } else { 2 })
                .unwrap();
            for top in ["/lib", "/lib64", "/bin", "/sbin"] {
                assert!(path != top && !path.starts_with(&format!("{top}/")), "{l}");
            }
        }
    }

    #[test]
    fn overlay_carries_init_driver_and_arguments() {
        let init = std::env::current_exe().unwrap();
        let t = overlay(
            &init,
            &[],
            &["run".into(), "--suite".into(), "quick".into()],
            &[],
        )
        .unwrap();
        let list = t.listing();
        for want in [
            "f 0755 /init",
            "l /usr/local/bin/isobench -> /init",
            "f 0644 /etc/systemd/system/vmrun-driver.service",
            "f 0644 /isobench-args",
        ] {
            assert!(list.iter().any(|l| l == want), "{want} missing: {list:#?}");
        }
    }
}
