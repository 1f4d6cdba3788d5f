//! Faster TCG boots: qemu can start an uncompressed `vmlinux` through its
//! PVH entry point, which skips the bzImage decompressor — about 2 s of
//! emulated CPU per boot. The vmlinux is unpacked once from the bzImage
//! payload with the host's decompressor and cached; any failure (no tool,
//! no PVH note) falls back to booting the bzImage as is.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::elf::Elf;
use super::kernel::setup_protocol;

/// The compressed kernel inside a bzImage (protocol ≥ 2.08 header fields
/// `payload_offset`/`payload_length`, relative to the protected-mode code).
pub fn payload(bz: &[u8]) -> Option<&[u8]> {
    if setup_protocol(bz)? < 0x208 {
        return None;
    }
    let setup_sects = match *bz.get(0x1f1)? {
        0 => 4,
        n => usize::from(n),
    };
    let pm_start = (setup_sects + 1) * 512;
    let off = u32::from_le_bytes(bz.get(0x248..0x24c)?.try_into().ok()?) as usize;
    let len = u32::from_le_bytes(bz.get(0x24c..0x250)?.try_into().ok()?) as usize;
    bz.get(pm_start + off..pm_start + off + len)
}

/// The decompressor for a payload, by its magic bytes.
pub fn decompressor(payload: &[u8]) -> Option<&'static str> {
    let magics: [(&[u8], &str); 5] = [
        (b"\x1f\x8b", "gzip"),
        (b"\xfd7zXZ\0", "xz"),
        (b"\x28\xb5\x2f\xfd", "zstd"),
        (b"\x02\x21\x4c\x18", "lz4"),
        (b"BZh", "bzip2"),
    ];
    magics
        .iter()
        .find(|(m, _)| payload.starts_with(m))
        .map(|(_, t)| *t)
}

/// Whether an ELF64 image carries the Xen PVH entry note qemu needs
/// (`XEN_ELFNOTE_PHYS32_ENTRY`, type 18, name "Xen").
pub fn has_pvh_note(elf: &[u8]) -> bool {
    Elf::parse(elf).is_some_and(|e| e.notes().iter().any(|n| n.kind == 18 && n.name == b"Xen\0"))
}

fn decompress(tool: &str, data: &[u8]) -> Option<Vec<u8>> {
    let mut child = Command::new(tool)
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let input = data.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    // Trailing bytes (the appended size) make some tools exit non-zero after
    // a complete stream; the output is validated below instead.
    let out = child.wait_with_output().ok()?;
    let _ = writer.join();
    Some(out.stdout)
}

/// The cached PVH-bootable vmlinux of `bzimage`, unpacking it on first use.
pub fn vmlinux_for(bzimage: &Path, release: &str, cache: &Path) -> Option<PathBuf> {
    let meta = std::fs::metadata(bzimage).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    let target = cache.join(format!(
        "vmlinux-{release}-{}-{}",
        meta.len(),
        mtime.as_secs()
    ));
    if target.is_file() {
        return Some(target);
    }
    let bz = std::fs::read(bzimage).ok()?;
    let packed = payload(&bz)?;
    let elf = decompress(decompressor(packed)?, packed)?;
    // The build appends the uncompressed size to every payload.
    let want = packed
        .get(packed.len().checked_sub(4)?..)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)?;
    if elf.len() < want || !has_pvh_note(&elf[..want]) {
        return None;
    }
    std::fs::create_dir_all(cache).ok()?;
    let tmp = cache.join(format!(".vmlinux-{}", std::process::id()));
    std::fs::write(&tmp, &elf[..want]).ok()?;
    std::fs::rename(&tmp, &target).ok()?;
    Some(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::vm::elf::tests::with_notes;

    fn elf_with_note(name: &[u8], kind: u32) -> Vec<u8> {
        with_notes(&[(b"Linux\0", 1, b"6.1"), (name, kind, &[0, 0, 0, 1])])
    }

    #[test]
    fn pvh_note_detection() {
        assert!(has_pvh_note(&elf_with_note(b"Xen\0", 18)));
        assert!(!has_pvh_note(&elf_with_note(b"Xen\0", 17)));
        assert!(!has_pvh_note(&elf_with_note(b"GNU\0", 18)));
        assert!(!has_pvh_note(b"not an elf"));
    }

    #[test]
    fn payload_and_magic() {
        let mut bz = vec![0u8; 4096];
        bz[0x1f1] = 1; // setup_sects: protected-mode code at 1024
        bz[0x202..0x206].copy_from_slice(b"HdrS");
        bz[0x206..0x208].copy_from_slice(&0x20fu16.to_le_bytes());
        bz[0x248..0x24c].copy_from_slice(&100u32.to_le_bytes());
        bz[0x24c..0x250].copy_from_slice(&6u32.to_le_bytes());
        bz[1124..1130].copy_from_slice(b"\xfd7zXZ\0");
        let p = payload(&bz).unwrap();
        assert_eq!(p.len(), 6);
        assert_eq!(decompressor(p), Some("xz"));
        assert_eq!(decompressor(b"\x28\xb5\x2f\xfd...."), Some("zstd"));
        assert_eq!(decompressor(b"????"), None);
    }
}
