//! What the host knows about a guest kernel before booting it: its release
//! (from the bzImage header), its build config and module tree when they
//! sit beside it, and so which drivers /init must load itself.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::kmod::{ModuleFile, ModuleTree};
use super::VmError;

/// Drivers the guest needs for the results port, with their config symbol.
const PORT_DRIVERS: [(&str, &str); 2] = [
    ("virtio_pci", "CONFIG_VIRTIO_PCI"),
    ("virtio_console", "CONFIG_VIRTIO_CONSOLE"),
];

/// Drivers of the optional scratch disk: a virtio-blk ext4 image the guest
/// mounts on /var/tmp, for scenarios that need a disk filesystem
/// (pagecache: tmpfs pages are not reclaimable without swap).
const SCRATCH_DRIVERS: [(&str, &str); 2] = [
    ("virtio_blk", "CONFIG_VIRTIO_BLK"),
    ("ext4", "CONFIG_EXT4_FS"),
];

/// Modules loaded with the scratch disk when the kernel ships them, and
/// left out silently otherwise: BFQ, for the io scenario's weight point
/// (which skips, naming it, where the disk offers no BFQ).
const SCRATCH_OPTIONAL: [&str; 1] = ["bfq"];

/// A parsed kernel `.config`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelConfig {
    values: BTreeMap<String, String>,
}

/// How a config option is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Build {
    BuiltIn,
    Module,
    Absent,
}

impl KernelConfig {
    pub fn parse(text: &str) -> Self {
        let values = text
            .lines()
            .filter(|l| l.starts_with("CONFIG_"))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
            .collect();
        KernelConfig { values }
    }

    /// `y` → built in, `m` → module, unset → absent.
    pub fn build(&self, symbol: &str) -> Build {
        match self.values.get(symbol).map(String::as_str) {
            Some("y") => Build::BuiltIn,
            Some("m") => Build::Module,
            _ => Build::Absent,
        }
    }
}

/// A guest kernel image and what was found beside it.
#[derive(Debug, Clone)]
pub struct KernelImage {
    pub path: PathBuf,
    /// `uname -r` of the kernel, e.g. `6.1.0-56-cloud-amd64`.
    pub release: String,
    pub config: Option<KernelConfig>,
    /// lib/modules/<release>, when found.
    pub modules_dir: Option<PathBuf>,
}

/// The boot protocol version of an x86 bzImage ("HdrS" setup header).
pub fn setup_protocol(head: &[u8]) -> Option<u16> {
    if head.get(0x202..0x206)? != b"HdrS" {
        return None;
    }
    Some(u16::from_le_bytes(head.get(0x206..0x208)?.try_into().ok()?))
}

/// The release string in an x86 bzImage header (`kernel_version` field at
/// 0x20e points, minus 0x200, at "6.1.0-56-cloud-amd64 (…) #1 SMP …").
pub fn bzimage_release(head: &[u8]) -> Option<String> {
    let protocol = setup_protocol(head)?;
    let ptr = u16::from_le_bytes(head.get(0x20e..0x210)?.try_into().ok()?);
    if protocol < 0x200 || ptr == 0 {
        return None;
    }
    let s = head.get(usize::from(ptr) + 0x200..)?;
    let end = s.iter().position(|b| *b == 0 || *b == b' ')?;
    let release = std::str::from_utf8(&s[..end]).ok()?;
    (!release.is_empty()).then(|| release.to_string())
}

impl KernelImage {
    /// Reads the header and looks for `config-<release>` and the module tree
    /// beside the image (an extracted .deb's boot/ and lib/modules/), then in
    /// /boot and /lib/modules.
    pub fn inspect(path: &Path) -> Result<Self, VmError> {
        let mut head = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
            .map_err(|e| {
                VmError::Input(format!(
                    "--kernel {}: {e}; fetch one with `isobench kernels fetch`",
                    path.display()
                ))
            })?;
        let release = bzimage_release(&head).ok_or_else(|| {
            VmError::Input(format!(
                "--kernel {}: not an x86 bzImage (vmlinuz); pass a kernel image such as \
                 boot/vmlinuz-* from `isobench kernels fetch`",
                path.display()
            ))
        })?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let config = [
            dir.join(format!("config-{release}")),
            PathBuf::from(format!("/boot/config-{release}")),
        ]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .map(|t| KernelConfig::parse(&t));
        let modules_dir = [
            dir.join("../lib/modules").join(&release),
            dir.join("../usr/lib/modules").join(&release),
            PathBuf::from("/lib/modules").join(&release),
        ]
        .into_iter()
        .find(|p| p.join("kernel").is_dir());
        Ok(KernelImage {
            path: path.to_path_buf(),
            release,
            config,
            modules_dir,
        })
    }

    /// The modules /init must load before the results port can appear
    /// (empty when the drivers are built in).
    pub fn port_modules(&self) -> Result<Vec<ModuleFile>, VmError> {
        let tree = match &self.modules_dir {
            Some(d) => Some(
                ModuleTree::open(d)
                    .map_err(|e| VmError::Input(format!("kernel modules {}: {e}", d.display())))?,
            ),
            None => None,
        };
        let mut wanted = Vec::new();
        for (module, symbol) in PORT_DRIVERS {
            let build = self.config.as_ref().map(|c| c.build(symbol));
            match (build, &tree) {
                (Some(Build::BuiltIn), _) => {}
                (Some(Build::Absent), _) => {
                    return Err(VmError::Input(format!(
                        "kernel {}: built without {symbol}, which the results port \
                         (virtio-serial) needs",
                        self.release
                    )))
                }
                (_, Some(t)) if t.is_builtin(module) => {}
                (_, Some(t)) if t.has_module(module) => wanted.push(module),
                (Some(Build::Module), _) => {
                    return Err(VmError::Input(format!(
                        "kernel {}: {module} is a module ({symbol}=m) but no lib/modules/{} \
                         was found beside {}; use a kernel from `isobench kernels fetch`, \
                         which keeps the modules",
                        self.release,
                        self.release,
                        self.path.display()
                    )))
                }
                // Nothing known: assume built in; the guest says otherwise.
                _ => {}
            }
        }
        match (&tree, wanted.is_empty()) {
            (_, true) => Ok(Vec::new()),
            (Some(t), false) => t.resolve(&wanted).map_err(VmError::Input),
            (None, false) => Ok(Vec::new()),
        }
    }

    /// The modules /init must load for the scratch disk; `None` when this
    /// kernel cannot have one (the disk is then left out, and scenarios
    /// that need a disk skip with their reason).
    pub fn scratch_modules(&self) -> Option<Vec<ModuleFile>> {
        let tree = self
            .modules_dir
            .as_ref()
            .and_then(|d| ModuleTree::open(d).ok());
        let mut wanted = Vec::new();
        for (module, symbol) in SCRATCH_DRIVERS {
            let build = self.config.as_ref().map(|c| c.build(symbol));
            match (build, &tree) {
                (Some(Build::Absent), _) => return None,
                (_, Some(t)) if t.is_builtin(module) => {}
                (_, Some(t)) if t.has_module(module) => wanted.push(module),
                (Some(Build::Module), _) => return None,
                // Built in, or nothing known: assume it is there.
                _ => {}
            }
        }
        if let Some(t) = &tree {
            wanted.extend(SCRATCH_OPTIONAL.iter().filter(|m| t.has_module(m)));
        }
        match &tree {
            Some(t) if !wanted.is_empty() => t.resolve(&wanted).ok(),
            _ => Some(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_bzimage(release_line: &str) -> Vec<u8> {
        let mut b = vec![0u8; 0x1000];
        b[0x202..0x206].copy_from_slice(b"HdrS");
        b[0x206..0x208].copy_from_slice(&0x20fu16.to_le_bytes());
        let at = 0x400usize;
        b[0x20e..0x210].copy_from_slice(&((at - 0x200) as u16).to_le_bytes());
        b[at..at + release_line.len()].copy_from_slice(release_line.as_bytes());
        b
    }

    #[test]
    fn release_from_bzimage_header() {
        let b = fake_bzimage("6.1.0-56-cloud-amd64 (debian-kernel@lists.debian.org) #1 SMP");
        assert_eq!(bzimage_release(&b).as_deref(), Some("6.1.0-56-cloud-amd64"));
        assert_eq!(bzimage_release(&[0u8; 0x300]), None);
    }

    #[test]
    fn config_tristates() {
        let c = KernelConfig::parse(
            "CONFIG_VIRTIO=m\nCONFIG_VIRTIO_CONSOLE=y\n# CONFIG_MEMCG_V1 is not set\n\
             CONFIG_LOCALVERSION=\"\"\n",
        );
        assert_eq!(c.build("CONFIG_VIRTIO"), Build::Module);
        assert_eq!(c.build("CONFIG_VIRTIO_CONSOLE"), Build::BuiltIn);
        assert_eq!(c.build("CONFIG_MEMCG_V1"), Build::Absent);
    }

    #[test]
    fn inspect_finds_config_and_modules_beside_the_image() {
        use crate::vm::kmod::tests::fake_module;
        let dir = tempfile::tempdir().unwrap();
        let boot = dir.path().join("boot");
        let rel = "6.1.0-99-cloud-amd64";
        let mods = dir
            .path()
            .join("lib/modules")
            .join(rel)
            .join("kernel/drivers");
        std::fs::create_dir_all(&boot).unwrap();
        std::fs::create_dir_all(&mods).unwrap();
        let img = boot.join(format!("vmlinuz-{rel}"));
        std::fs::write(&img, fake_bzimage(&format!("{rel} (x) #1"))).unwrap();
        std::fs::write(
            boot.join(format!("config-{rel}")),
            "CONFIG_VIRTIO_PCI=y\nCONFIG_VIRTIO_CONSOLE=m\n",
        )
        .unwrap();
        std::fs::write(mods.join("virtio_console.ko"), fake_module("depends=\0")).unwrap();
        let k = KernelImage::inspect(&img).unwrap();
        assert_eq!(k.release, rel);
        let m = k.port_modules().unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].name, "virtio_console");

        std::fs::remove_dir_all(dir.path().join("lib")).unwrap();
        let k = KernelImage::inspect(&img).unwrap();
        let e = k.port_modules().unwrap_err().to_string();
        assert!(e.contains("no lib/modules"), "{e}");

        let missing = KernelImage::inspect(&dir.path().join("nope")).unwrap_err();
        assert!(matches!(missing, VmError::Input(_)));
    }
}
