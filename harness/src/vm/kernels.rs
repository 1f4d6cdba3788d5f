//! `isobench kernels fetch`: Debian cloud kernels for the matrix, fetched
//! with apt (`apt-get download`, no install) and unpacked with `dpkg-deb -x`
//! into a cache, keeping boot/ (vmlinuz, config) and the module tree (the
//! 6.1 kernel's virtio drivers are modules). Idempotent: a package already
//! unpacked is not fetched again.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::VmError;

/// Kernel series `fetch` knows, oldest first.
pub const VERSIONS: [&str; 2] = ["6.1", "6.12"];

/// `$ISOBENCH_KERNELS`, else `~/.cache/isobench/kernels`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("ISOBENCH_KERNELS") {
        return PathBuf::from(d);
    }
    cache_base().join("kernels")
}

/// `$XDG_CACHE_HOME/isobench`, else `~/.cache/isobench` (kernels, images).
pub fn cache_base() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from("/var/cache"))
        .join("isobench")
}

/// The kernel cache of the user who ran `sudo`: `isobench kernels fetch`
/// as that user, then `sudo isobench vm`, must find the same kernels.
pub fn sudo_user_cache_dir() -> Option<PathBuf> {
    if std::env::var_os("ISOBENCH_KERNELS").is_some() || !nix::unistd::geteuid().is_root() {
        return None;
    }
    let name = std::env::var("SUDO_USER").ok().filter(|u| u != "root")?;
    let user = nix::unistd::User::from_name(&name).ok()??;
    let d = user.dir.join(".cache/isobench/kernels");
    (d != cache_dir()).then_some(d)
}

/// Every cache `--kernel 6.1` looks in, in order: ours, then SUDO_USER's.
pub fn cache_dirs() -> Vec<PathBuf> {
    std::iter::once(cache_dir())
        .chain(sudo_user_cache_dir())
        .collect()
}

/// A kernel package in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedKernel {
    pub package: String,
    pub vmlinuz: PathBuf,
}

/// The release part of a cloud kernel package name, when it is one:
/// `linux-image-6.1.0-56-cloud-amd64` → `6.1.0-56`; metapackages
/// (`linux-image-6.12-cloud-amd64`), -dbg and others → None.
pub fn package_release(name: &str) -> Option<&str> {
    let mid = name
        .strip_prefix("linux-image-")?
        .strip_suffix("-unsigned")
        .unwrap_or(name.strip_prefix("linux-image-")?)
        .strip_suffix("-cloud-amd64")?;
    let numbers = mid
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty());
    (numbers.count() >= 3).then_some(mid)
}

/// Whether a release belongs to a series: `6.1.0-56` is 6.1, `6.12.117+deb12` is 6.12.
pub fn in_series(release: &str, series: &str) -> bool {
    release
        .strip_prefix(series)
        .is_some_and(|rest| rest.starts_with(['.', '-', '+']))
}

fn version_key(release: &str) -> Vec<u64> {
    release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|s| s.parse().ok())
        .collect()
}

/// The newest package of `series` among `names`, signed builds preferred.
pub fn pick_package<'a>(names: impl IntoIterator<Item = &'a str>, series: &str) -> Option<String> {
    names
        .into_iter()
        .filter_map(|n| package_release(n).map(|r| (n, r)))
        .filter(|(_, r)| in_series(r, series))
        .max_by_key(|(n, r)| (version_key(r), !n.ends_with("-unsigned")))
        .map(|(n, _)| n.to_string())
}

/// Kernels already unpacked in the cache.
pub fn cached() -> Vec<CachedKernel> {
    cached_in(&cache_dir())
}

/// Kernels unpacked in `cache`.
pub fn cached_in(cache: &Path) -> Vec<CachedKernel> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir(cache) else {
        return out;
    };
    for e in dir.flatten() {
        let package = e.file_name().to_string_lossy().to_string();
        if package_release(&package).is_none() {
            continue;
        }
        if let Some(v) = vmlinuz_in(&e.path()) {
            out.push(CachedKernel {
                package,
                vmlinuz: v,
            });
        }
    }
    out.sort_by_key(|k| package_release(&k.package).map(version_key));
    out
}

/// The newest cached kernel of a series (e.g. `6.1`), for `--kernel 6.1`,
/// from the first of [`cache_dirs`] that has one.
pub fn find_cached(series: &str) -> Option<PathBuf> {
    cache_dirs().iter().find_map(|d| find_cached_in(d, series))
}

/// The newest kernel of a series in `cache`.
pub fn find_cached_in(cache: &Path, series: &str) -> Option<PathBuf> {
    cached_in(cache)
        .into_iter()
        .rev()
        .find(|k| package_release(&k.package).is_some_and(|r| in_series(r, series)))
        .map(|k| k.vmlinuz)
}

fn vmlinuz_in(pkg_dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(pkg_dir.join("boot"))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
        })
}

fn tool(cmd: &mut Command, what: &str) -> Result<String, VmError> {
    let out = cmd.output().map_err(|e| {
        VmError::Input(format!(
            "{what}: {e}; fetching kernels needs apt and dpkg (Debian/Ubuntu), \
             or pass --kernel with a vmlinuz of your own"
        ))
    })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let line = err
            .lines()
            .filter(|l| !l.starts_with("W:"))
            .find(|l| !l.trim().is_empty())
            .unwrap_or("failed");
        return Err(VmError::Input(format!("{what}: {}", line.trim())));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The outcome of fetching one series.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub package: String,
    pub vmlinuz: PathBuf,
    /// false when it was already in the cache.
    pub downloaded: bool,
}

/// Fetches (or finds in the cache) the newest cloud kernel of `series`.
pub fn fetch(series: &str) -> Result<Fetched, VmError> {
    if !VERSIONS.contains(&series) {
        return Err(VmError::Input(format!(
            "--version {series}: known {}",
            VERSIONS.join(", ")
        )));
    }
    let dir = cache_dir();
    let listing = tool(
        Command::new("apt-cache").args([
            "search",
            "--names-only",
            "^linux-image-.*-cloud-amd64(-unsigned)?$",
        ]),
        "apt-cache search",
    );
    let package = match &listing {
        Ok(text) => pick_package(text.lines().filter_map(|l| l.split(" - ").next()), series),
        Err(_) => None,
    };
    let Some(package) = package else {
        // Offline or not Debian: a cached kernel of the series still serves.
        if let Some(v) = find_cached(series) {
            let package = v
                .parent()
                .and_then(Path::parent)
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            return Ok(Fetched {
                package,
                vmlinuz: v,
                downloaded: false,
            });
        }
        listing?;
        return Err(VmError::Input(format!(
            "no Debian cloud kernel {series} in the apt lists (apt-cache search \
             linux-image-{series}*-cloud-amd64); run apt-get update, or on Debian 12 make sure \
             bookworm-security (6.1, 6.12) is in the sources"
        )));
    };
    let dest = dir.join(&package);
    if let Some(v) = vmlinuz_in(&dest) {
        return Ok(Fetched {
            package,
            vmlinuz: v,
            downloaded: false,
        });
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| VmError::Io(format!("kernel cache {}: {e}", dir.display())))?;
    let tmp = dir.join(format!(".fetch-{}-{package}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|e| VmError::Io(format!("{}: {e}", tmp.display())))?;
    let result = download_and_unpack(&package, &tmp, &dest);
    let _ = std::fs::remove_dir_all(&tmp);
    result?;
    let vmlinuz = vmlinuz_in(&dest)
        .ok_or_else(|| VmError::Input(format!("{package}: the package holds no boot/vmlinuz-*")))?;
    Ok(Fetched {
        package,
        vmlinuz,
        downloaded: true,
    })
}

/// The .deb's size from the apt lists (`Size:`), for the progress line.
fn package_size(package: &str) -> Option<u64> {
    let out = Command::new("apt-cache")
        .args(["show", "--no-all-versions", package])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Size:"))
        .and_then(|v| v.trim().parse().ok())
}

fn download_and_unpack(package: &str, tmp: &Path, dest: &Path) -> Result<(), VmError> {
    let mut dl = Command::new("apt-get");
    dl.current_dir(tmp).args(["-q", "download"]);
    if nix::unistd::geteuid().is_root() {
        // apt's _apt sandbox user cannot write into root's cache dir.
        dl.args(["-o", "APT::Sandbox::User=root"]);
    }
    let total = package_size(package);
    let shown = crate::run::progress::ByteCounter::start(package, total, tmp);
    let got = tool(dl.arg(package), &format!("apt-get download {package}"));
    shown.finish(got.is_ok());
    got?;
    let deb = std::fs::read_dir(tmp)
        .map_err(|e| VmError::Io(format!("{}: {e}", tmp.display())))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or_else(|| VmError::Input(format!("apt-get download {package}: no .deb appeared")))?;
    let root = tmp.join("root");
    tool(
        Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&root),
        &format!("dpkg-deb -x {}", deb.display()),
    )?;
    // Keep what a guest needs: boot/ and the module tree.
    let unpacked = tmp.join("keep");
    std::fs::create_dir_all(&unpacked).map_err(|e| VmError::Io(e.to_string()))?;
    for part in ["boot", "lib", "usr/lib/modules"] {
        let from = root.join(part);
        if from.exists() {
            let to = unpacked.join(part);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| VmError::Io(e.to_string()))?;
            }
            std::fs::rename(&from, &to)
                .map_err(|e| VmError::Io(format!("{}: {e}", from.display())))?;
        }
    }
    std::fs::rename(&unpacked, dest)
        .map_err(|e| VmError::Io(format!("{}: {e}", dest.display())))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names() {
        assert_eq!(
            package_release("linux-image-6.1.0-56-cloud-amd64"),
            Some("6.1.0-56")
        );
        assert_eq!(
            package_release("linux-image-6.12.117+deb12-cloud-amd64-unsigned"),
            Some("6.12.117+deb12")
        );
        assert_eq!(package_release("linux-image-6.12-cloud-amd64"), None);
        assert_eq!(package_release("linux-image-cloud-amd64"), None);
        assert_eq!(
            package_release("linux-image-6.1.0-47-cloud-amd64-dbg"),
            None
        );
        assert!(in_series("6.1.0-56", "6.1"));
        assert!(!in_series("6.12.117+deb12", "6.1"));
        assert!(in_series("6.12.117+deb12", "6.12"));
    }

    #[test]
    fn picks_newest_signed_of_the_series() {
        let names = [
            "linux-image-6.1.0-47-cloud-amd64",
            "linux-image-6.1.0-56-cloud-amd64-unsigned",
            "linux-image-6.1.0-56-cloud-amd64",
            "linux-image-6.1.0-9-cloud-amd64",
            "linux-image-6.12.107+deb12-cloud-amd64-unsigned",
            "linux-image-6.12.117+deb12-cloud-amd64-unsigned",
            "linux-image-6.12-cloud-amd64",
            "linux-image-6.12.117+deb12-cloud-amd64-dbg",
        ];
        assert_eq!(
            pick_package(names, "6.1").as_deref(),
            Some("linux-image-6.1.0-56-cloud-amd64")
        );
        assert_eq!(
            pick_package(names, "6.12").as_deref(),
            Some("linux-image-6.12.117+deb12-cloud-amd64-unsigned")
        );
        assert_eq!(pick_package(names, "5.10"), None);
    }
}
