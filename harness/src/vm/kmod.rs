//! Kernel modules the guest must load itself: a kernel whose virtio drivers
//! are modules (Debian's 6.1 cloud kernel) cannot reach the results port
//! until /init loads them. Dependencies come from each module's `.modinfo`
//! (`depends=`), since an extracted .deb ships no modules.dep.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::elf::Elf;

/// One module to put into the initramfs, in load order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleFile {
    /// Module name (underscores).
    pub name: String,
    /// Absolute path in the guest (always an uncompressed `.ko`).
    pub guest_path: String,
    /// The uncompressed module.
    pub bytes: Vec<u8>,
}

/// Module names use `_`; file names may use `-`.
pub fn normalize(name: &str) -> String {
    name.replace('-', "_")
}

/// The `.modinfo` key=value strings of an ELF64 little-endian module.
pub fn modinfo(elf: &[u8]) -> Result<Vec<(String, String)>, String> {
    let elf = Elf::parse(elf).ok_or("not an ELF64 little-endian object")?;
    let data = elf.section(b".modinfo").ok_or("no .modinfo section")?;
    Ok(data
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect())
}

/// The modules of one kernel release: what is built in, and where each
/// loadable module's file is.
#[derive(Debug, Clone)]
pub struct ModuleTree {
    /// lib/modules/<release>
    pub root: PathBuf,
    builtin: BTreeSet<String>,
    files: BTreeMap<String, PathBuf>,
}

fn module_name_of(file: &str) -> Option<&str> {
    [".ko", ".ko.xz", ".ko.zst", ".ko.gz"]
        .iter()
        .find_map(|ext| file.strip_suffix(ext))
}

impl ModuleTree {
    /// Indexes `root` (lib/modules/<release>).
    pub fn open(root: &Path) -> std::io::Result<Self> {
        let builtin = std::fs::read_to_string(root.join("modules.builtin"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.rsplit('/').next().and_then(module_name_of))
            .map(normalize)
            .collect();
        let mut files = BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir)? {
                let e = e?;
                let p = e.path();
                if e.file_type()?.is_dir() {
                    stack.push(p);
                } else if let Some(name) = e.file_name().to_str().and_then(module_name_of) {
                    files.insert(normalize(name), p);
                }
            }
        }
        Ok(ModuleTree {
            root: root.to_path_buf(),
            builtin,
            files,
        })
    }

    /// Whether `name` is compiled into the kernel (modules.builtin).
    pub fn is_builtin(&self, name: &str) -> bool {
        self.builtin.contains(&normalize(name))
    }

    /// Whether a loadable module file exists for `name`.
    pub fn has_module(&self, name: &str) -> bool {
        self.files.contains_key(&normalize(name))
    }

    /// The modules to load for `wanted`, dependencies first, each once.
    pub fn resolve(&self, wanted: &[&str]) -> Result<Vec<ModuleFile>, String> {
        let mut out = Vec::new();
        let mut done = BTreeSet::new();
        for w in wanted {
            self.visit(&normalize(w), &mut done, &mut Vec::new(), &mut out)?;
        }
        Ok(out)
    }

    fn visit(
        &self,
        name: &str,
        done: &mut BTreeSet<String>,
        path: &mut Vec<String>,
        out: &mut Vec<ModuleFile>,
    ) -> Result<(), String> {
        if done.contains(name) || self.is_builtin(name) {
            return Ok(());
        }
        if path.iter().any(|p| p == name) {
            return Err(format!("module dependency cycle: {}", path.join(" -> ")));
        }
        let file = self.files.get(name).ok_or_else(|| {
            format!(
                "module {name} is neither built in nor present under {}",
                self.root.display()
            )
        })?;
        let bytes = read_module(file)?;
        let info = modinfo(&bytes).map_err(|e| format!("{}: {e}", file.display()))?;
        let deps: Vec<String> = info
            .iter()
            .filter(|(k, _)| k == "depends")
            .flat_map(|(_, v)| v.split(',').filter(|d| !d.is_empty()).map(normalize))
            .collect();
        path.push(name.to_string());
        for d in &deps {
            self.visit(d, done, path, out)?;
        }
        path.pop();
        let rel = file
            .strip_prefix(&self.root)
            .unwrap_or(file)
            .to_string_lossy()
            .to_string();
        let rel = module_name_of(&rel)
            .map(|s| format!("{s}.ko"))
            .unwrap_or(rel);
        let release = self
            .root
            .file_name()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        out.push(ModuleFile {
            name: name.to_string(),
            guest_path: format!("/lib/modules/{release}/{rel}"),
            bytes,
        });
        done.insert(name.to_string());
        Ok(())
    }
}

/// Reads a module, decompressing `.xz` / `.zst` / `.gz` with the host's tool
/// so the guest only ever loads plain ELF.
fn read_module(file: &Path) -> Result<Vec<u8>, String> {
    let name = file.to_string_lossy();
    let tool = if name.ends_with(".xz") {
        Some("xz")
    } else if name.ends_with(".zst") {
        Some("zstd")
    } else if name.ends_with(".gz") {
        Some("gzip")
    } else {
        None
    };
    let Some(tool) = tool else {
        return std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()));
    };
    let out = Command::new(tool)
        .args(["-dc"])
        .arg(file)
        .output()
        .map_err(|e| {
            format!(
                "{}: cannot run {tool} to decompress it ({e}); install {tool}",
                file.display()
            )
        })?;
    if !out.status.success() {
        return Err(format!(
            "{}: {tool} -dc failed: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(out.stdout)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A module: an ELF64 LE object with a .modinfo section.
    pub(crate) fn fake_module(modinfo: &str) -> Vec<u8> {
        crate::vm::elf::tests::with_sections(&[(".modinfo", modinfo.as_bytes())])
    }

    #[test]
    fn reads_modinfo_keys() {
        let m = fake_module("license=GPL\0depends=virtio,virtio_ring\0name=virtio_pci\0");
        let info = modinfo(&m).unwrap();
        assert!(info.contains(&("depends".into(), "virtio,virtio_ring".into())));
        assert!(info.contains(&("name".into(), "virtio_pci".into())));
        assert!(modinfo(b"not elf").is_err());
    }

    #[test]
    fn resolves_dependencies_first_and_skips_builtins() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("6.1.0-test");
        let drv = root.join("kernel/drivers/virtio");
        std::fs::create_dir_all(&drv).unwrap();
        for (file, depends) in [
            ("virtio", ""),
            ("virtio_ring", "virtio"),
            ("virtio_pci", "virtio_ring,virtio,virtio-pci-modern-dev"),
            ("virtio_pci_modern_dev", ""),
            ("virtio_console", "virtio,virtio_ring"),
        ] {
            let m = fake_module(&format!("depends={depends}\0"));
            std::fs::write(drv.join(format!("{file}.ko")), m).unwrap();
        }
        std::fs::write(
            root.join("modules.builtin"),
            "kernel/drivers/virtio/virtio_pci_modern_dev.ko\n",
        )
        .unwrap();
        let tree = ModuleTree::open(&root).unwrap();
        assert!(tree.is_builtin("virtio-pci-modern-dev"));
        let order: Vec<String> = tree
            .resolve(&["virtio_pci", "virtio_console"])
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(
            order,
            ["virtio", "virtio_ring", "virtio_pci", "virtio_console"]
        );
        let all = tree.resolve(&["virtio_console"]).unwrap();
        assert_eq!(
            all.last().unwrap().guest_path,
            "/lib/modules/6.1.0-test/kernel/drivers/virtio/virtio_console.ko"
        );
        let err = tree.resolve(&["nonexistent"]).unwrap_err();
        assert!(err.contains("neither built in nor present"), "{err}");
    }
}
