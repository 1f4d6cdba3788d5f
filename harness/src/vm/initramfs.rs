//! The guest's whole userland: `isobench` as /init, the shared libraries it
//! and every `--include`d program load (at the same absolute paths as on the
//! host), the modules /init must load, the run arguments, and the mount
//! points. Built in memory as a tree, written as one newc cpio.

use std::collections::BTreeMap;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::cpio::CpioWriter;
use super::kmod::ModuleFile;
use super::{guest, VmError};

/// Where an entry's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Read from the host at write time.
    Host(PathBuf),
    Bytes(Vec<u8>),
}

/// One entry of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir { perm: u32 },
    File { perm: u32, source: Source },
    Symlink { target: String },
    CharDev { perm: u32, major: u32, minor: u32 },
}

/// What goes into a guest's initramfs.
#[derive(Debug, Clone)]
pub struct InitramfsSpec {
    /// The `isobench` binary that becomes /init.
    pub init: PathBuf,
    /// Host programs to copy (with their libraries) to the same path.
    pub includes: Vec<PathBuf>,
    /// Modules /init loads, in order.
    pub modules: Vec<ModuleFile>,
    /// The `run ...` arguments, written to [`guest::ARGS_PATH`].
    pub run_args: Vec<String>,
    /// Host data files (e.g. a suite TOML) copied to the same absolute path.
    pub files: Vec<PathBuf>,
}

/// A `--suite FILE` of the run names a host file: make its path absolute
/// and return it so it is carried into the guest.
pub fn carry_suite_file(run_args: &[String]) -> (Vec<String>, Vec<PathBuf>) {
    let mut out = Vec::with_capacity(run_args.len());
    let mut files = Vec::new();
    let mut carry = |v: &str| -> String {
        let p = Path::new(v);
        match std::path::absolute(p) {
            Ok(abs) if !matches!(v, "quick" | "default") && abs.is_file() => {
                files.push(abs.clone());
                abs.to_string_lossy().to_string()
            }
            _ => v.to_string(),
        }
    };
    let mut it = run_args.iter();
    while let Some(a) = it.next() {
        if a == "--suite" {
            out.push(a.clone());
            if let Some(v) = it.next() {
                out.push(carry(v));
            }
        } else if let Some(v) = a.strip_prefix("--suite=") {
            out.push(format!("--suite={}", carry(v)));
        } else {
            out.push(a.clone());
        }
    }
    (out, files)
}

/// An initramfs tree keyed by absolute guest path. A `BTreeMap` orders every
/// directory before its contents, as the kernel's unpacker requires.
#[derive(Debug, Clone, Default)]
pub struct Initramfs {
    nodes: BTreeMap<String, Node>,
}

/// Directories the guest mounts on or writes to.
const GUEST_DIRS: [&str; 9] = [
    "/proc",
    "/sys",
    "/dev",
    "/run",
    "/tmp",
    "/root",
    "/etc",
    "/sys/fs/cgroup",
    guest::NEWROOT,
];

/// Absolute library paths from `ldd` output; a library ldd cannot find is
/// an error (the program would not start in the guest either).
pub fn parse_ldd(program: &Path, text: &str) -> Result<Vec<PathBuf>, String> {
    let mut libs = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.contains("statically linked") {
            continue;
        }
        let target = match line.split_once("=>") {
            Some((name, rest)) => {
                let rest = rest.trim();
                if rest.starts_with("not found") {
                    return Err(format!(
                        "{} needs {}, which ldd cannot find on this host",
                        program.display(),
                        name.trim()
                    ));
                }
                rest.split_whitespace().next().unwrap_or_default()
            }
            None => line.split_whitespace().next().unwrap_or_default(),
        };
        // linux-vdso.so.1 and friends have no file: only absolute paths count.
        if target.starts_with('/') {
            libs.push(PathBuf::from(target));
        }
    }
    Ok(libs)
}

/// The shared libraries `program` loads (its ELF interpreter included).
pub fn shared_libraries(program: &Path) -> Result<Vec<PathBuf>, String> {
    let out = Command::new("ldd").arg(program).output().map_err(|e| {
        format!(
            "cannot run ldd to find the libraries of {}: {e}",
            program.display()
        )
    })?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        // Static programs: "not a dynamic executable" (exit 1).
        if stderr.contains("not a dynamic executable") || stdout.contains("not a dynamic") {
            return Ok(Vec::new());
        }
        return Err(format!(
            "ldd {}: {}",
            program.display(),
            stderr.trim().lines().next().unwrap_or("failed")
        ));
    }
    parse_ldd(program, &stdout)
}

impl Initramfs {
    /// The skeleton every guest needs: mount points and /dev/console (5:1),
    /// so the kernel gives /init a console before devtmpfs is mounted.
    pub fn skeleton() -> Self {
        let mut t = Initramfs::default();
        for d in GUEST_DIRS {
            t.add_dir(d, 0o755);
        }
        t.add_dir("/tmp", 0o1777);
        t.add(
            "/dev/console",
            Node::CharDev {
                perm: 0o600,
                major: 5,
                minor: 1,
            },
        );
        t
    }

    /// Adds (or replaces) an entry, creating missing parents as 0755 dirs.
    pub fn add(&mut self, path: &str, node: Node) {
        let mut parent = Path::new(path).parent();
        let mut missing = Vec::new();
        while let Some(p) = parent {
            let s = p.to_string_lossy().to_string();
            if s == "/" || s.is_empty() || self.nodes.contains_key(&s) {
                break;
            }
            missing.push(s);
            parent = p.parent();
        }
        for m in missing {
            self.nodes.insert(m, Node::Dir { perm: 0o755 });
        }
        self.nodes.insert(path.to_string(), node);
    }

    pub fn add_dir(&mut self, path: &str, perm: u32) {
        self.add(path, Node::Dir { perm });
    }

    /// Adds a host program at `guest_path` plus the libraries it loads at
    /// their host paths (symlinks resolved: each becomes a regular file).
    pub fn add_program(&mut self, host: &Path, guest_path: &str) -> Result<(), String> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(host).map_err(|e| format!("{}: {e}", host.display()))?;
        if !meta.is_file() {
            return Err(format!("{}: not a regular file", host.display()));
        }
        self.add(
            guest_path,
            Node::File {
                perm: meta.permissions().mode() & 0o7777 | 0o500,
                source: Source::Host(host.to_path_buf()),
            },
        );
        for lib in shared_libraries(host)? {
            let key = lib.to_string_lossy().to_string();
            if !self.nodes.contains_key(&key) {
                self.add(
                    &key,
                    Node::File {
                        perm: 0o755,
                        source: Source::Host(lib),
                    },
                );
            }
        }
        Ok(())
    }

    /// Builds the whole initramfs of a guest.
    pub fn build(spec: &InitramfsSpec) -> Result<Self, VmError> {
        let mut t = Initramfs::skeleton();
        t.add_program(&spec.init, "/init").map_err(VmError::Input)?;
        for inc in &spec.includes {
            let host = resolve_include(inc)?;
            let guest_path = host.to_string_lossy().to_string();
            t.add_program(&host, &guest_path)
                .map_err(|e| VmError::Input(format!("--include: {e}")))?;
        }
        // Lets the guest's loader find libraries outside the default dirs.
        if Path::new("/etc/ld.so.cache").is_file() {
            t.add(
                "/etc/ld.so.cache",
                Node::File {
                    perm: 0o644,
                    source: Source::Host("/etc/ld.so.cache".into()),
                },
            );
        }
        t.add_run_inputs(&spec.modules, &spec.run_args, &spec.files, str::to_string)?;
        Ok(t)
    }

    /// What /init reads, in both kinds of guest: the modules to load (each
    /// at `place(its guest path)`) and their list, the run arguments, and
    /// host files carried to the same absolute path (a suite file).
    pub fn add_run_inputs(
        &mut self,
        modules: &[ModuleFile],
        run_args: &[String],
        files: &[PathBuf],
        place: fn(&str) -> String,
    ) -> Result<(), VmError> {
        let mut list = String::new();
        for m in modules {
            let path = place(&m.guest_path);
            self.add(
                &path,
                Node::File {
                    perm: 0o644,
                    source: Source::Bytes(m.bytes.clone()),
                },
            );
            list += &path;
            list.push('\n');
        }
        self.add(
            guest::MODULES_PATH,
            Node::File {
                perm: 0o644,
                source: Source::Bytes(list.into_bytes()),
            },
        );
        let args = serde_json::to_vec(run_args)
            .map_err(|e| VmError::Input(format!("run arguments: {e}")))?;
        self.add(
            guest::ARGS_PATH,
            Node::File {
                perm: 0o644,
                source: Source::Bytes(args),
            },
        );
        for f in files {
            self.add(
                &f.to_string_lossy(),
                Node::File {
                    perm: 0o644,
                    source: Source::Host(f.clone()),
                },
            );
        }
        Ok(())
    }

    /// One line per entry (`d 0755 /proc`, `f 0755 /init`, `c 0600 /dev/console 5:1`,
    /// `l /a -> b`), in archive order.
    pub fn listing(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|(path, node)| match node {
                Node::Dir { perm } => format!("d {perm:04o} {path}"),
                Node::File { perm, .. } => format!("f {perm:04o} {path}"),
                Node::Symlink { target } => format!("l {path} -> {target}"),
                Node::CharDev { perm, major, minor } => {
                    format!("c {perm:04o} {path} {major}:{minor}")
                }
            })
            .collect()
    }

    /// Writes the archive; returns its size in bytes.
    pub fn write(&self, out: &Path) -> Result<u64, VmError> {
        let io = |e: std::io::Error| VmError::Io(format!("writing {}: {e}", out.display()));
        let f = std::fs::File::create(out).map_err(io)?;
        let mut w = CpioWriter::new(BufWriter::new(f));
        for (path, node) in &self.nodes {
            match node {
                Node::Dir { perm } => w.dir(path, *perm),
                Node::File { perm, source } => {
                    let data = match source {
                        Source::Bytes(b) => std::borrow::Cow::Borrowed(b.as_slice()),
                        Source::Host(p) => {
                            std::borrow::Cow::Owned(std::fs::read(p).map_err(|e| {
                                VmError::Io(format!("reading {}: {e}", p.display()))
                            })?)
                        }
                    };
                    w.file(path, *perm, &data)
                }
                Node::Symlink { target } => w.symlink(path, target),
                Node::CharDev { perm, major, minor } => w.char_dev(path, *perm, *major, *minor),
            }
            .map_err(io)?;
        }
        let f = w
            .finish()
            .map_err(io)?
            .into_inner()
            .map_err(|e| io(e.into_error()))?;
        let len = f.metadata().map_err(io)?.len();
        Ok(len)
    }
}

/// `--include crun` finds crun on PATH; a path is taken as given.
fn resolve_include(p: &Path) -> Result<PathBuf, VmError> {
    let host = if p.components().count() == 1 && !p.is_absolute() {
        crate::env::which(&p.to_string_lossy()).ok_or_else(|| {
            VmError::Input(format!(
                "--include {}: not found on PATH; pass the program's path",
                p.display()
            ))
        })?
    } else {
        std::path::absolute(p)
            .map_err(|e| VmError::Input(format!("--include {}: {e}", p.display())))?
    };
    if !host.is_file() {
        return Err(VmError::Input(format!(
            "--include {}: no such program",
            host.display()
        )));
    }
    Ok(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vm::cpio::tests::parse;

    #[test]
    fn ldd_output_is_parsed() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                    \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f)\n\
                    \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f)\n\
                    \t/lib64/ld-linux-x86-64.so.2 (0x00007f)\n";
        let libs = parse_ldd(Path::new("/bin/x"), text).unwrap();
        assert_eq!(
            libs,
            [
                PathBuf::from("/lib/x86_64-linux-gnu/libgcc_s.so.1"),
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
        let err = parse_ldd(Path::new("/bin/x"), "\tlibyajl.so.2 => not found\n").unwrap_err();
        assert!(err.contains("libyajl.so.2"), "{err}");
        assert!(parse_ldd(Path::new("/x"), "\tstatically linked\n")
            .unwrap()
            .is_empty());
    }

    #[test]
    fn suite_files_are_carried_with_absolute_paths() {
        let dir = tempfile::tempdir().unwrap();
        let suite = dir.path().join("s.toml");
        std::fs::write(&suite, "").unwrap();
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let (args, files) = carry_suite_file(&v(&[
            "run",
            "--suite",
            suite.to_str().unwrap(),
            "--seed",
            "2",
        ]));
        assert_eq!(
            args,
            v(&["run", "--suite", suite.to_str().unwrap(), "--seed", "2"])
        );
        assert_eq!(files, std::slice::from_ref(&suite));
        let (args, files) = carry_suite_file(&v(&["run", "--suite=quick"]));
        assert_eq!(args, v(&["run", "--suite=quick"]));
        assert!(files.is_empty());
        let (_, files) = carry_suite_file(&v(&["run", "--suite", "/no/such.toml"]));
        assert!(files.is_empty());
    }

    #[test]
    fn parents_come_first_and_are_created() {
        let mut t = Initramfs::default();
        t.add(
            "/a/b/c",
            Node::File {
                perm: 0o644,
                source: Source::Bytes(b"x".to_vec()),
            },
        );
        t.add_dir("/a-b", 0o700);
        assert_eq!(
            t.listing(),
            ["d 0755 /a", "d 0700 /a-b", "d 0755 /a/b", "f 0644 /a/b/c"]
        );
    }

    /// The real thing, minus the boot: /init, its libraries, an included
    /// program, modules and the arguments land where the guest expects.
    #[test]
    fn guest_initramfs_contents() {
        let init = std::env::current_exe().unwrap();
        let sh = PathBuf::from("/bin/sh");
        let spec = InitramfsSpec {
            init: init.clone(),
            includes: vec![sh.clone()],
            modules: vec![ModuleFile {
                name: "virtio_console".into(),
                guest_path: "/lib/modules/6.1.0-x/kernel/drivers/char/virtio_console.ko".into(),
                bytes: b"\x7fELF".to_vec(),
            }],
            run_args: vec!["run".into(), "--scenario".into(), "cpu-quota".into()],
            files: vec![PathBuf::from("/etc/hostname")],
        };
        let t = Initramfs::build(&spec).unwrap();
        let list = t.listing();
        for want in [
            "f 0755 /init",
            "c 0600 /dev/console 5:1",
            "d 0755 /proc",
            "d 0755 /sys/fs/cgroup",
            "d 1777 /tmp",
            "f 0644 /isobench-args",
            "f 0644 /isobench-modules",
            "f 0644 /etc/hostname",
            "f 0644 /lib/modules/6.1.0-x/kernel/drivers/char/virtio_console.ko",
        ] {
            assert!(list.iter().any(|l| l == want), "{want} missing: {list:#?}");
        }
        // /bin/sh is dynamic on every distro we run on: its libc comes along.
        assert!(list.iter().any(|l| l.ends_with("/bin/sh")));
        assert!(list.iter().any(|l| l.contains("libc.so")), "{list:#?}");

        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("initrd");
        let size = t.write(&out).unwrap();
        let bytes = std::fs::read(&out).unwrap();
        assert_eq!(size, bytes.len() as u64);
        let entries = parse(&bytes);
        let init_entry = entries.iter().find(|e| e.name == "init").unwrap();
        assert_eq!(init_entry.data, std::fs::read(&init).unwrap());
        let args = entries.iter().find(|e| e.name == "isobench-args").unwrap();
        let parsed: Vec<String> = serde_json::from_slice(&args.data).unwrap();
        assert_eq!(parsed, ["run", "--scenario", "cpu-quota"]);
        let mods = entries
            .iter()
            .find(|e| e.name == "isobench-modules")
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&mods.data),
            "/lib/modules/6.1.0-x/kernel/drivers/char/virtio_console.ko\n"
        );
    }

    #[test]
    fn missing_include_is_bad_input() {
        let spec = InitramfsSpec {
            init: std::env::current_exe().unwrap(),
            includes: vec![PathBuf::from("no-such-program-isobench")],
            modules: vec![],
            run_args: vec![],
            files: vec![],
        };
        let e = Initramfs::build(&spec).unwrap_err();
        assert!(matches!(e, VmError::Input(_)), "{e:?}");
    }
}
