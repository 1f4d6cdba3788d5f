//! Faster TCG boots: qemu can start an uncompressed `vmlinux` through its
//! PVH entry point, which skips the bzImage decompressor — about 2 s of
//! emulated CPU per boot. The vmlinux is unpacked once from the bzImage
//! payload with the host's decompressor and cached; any failure (no tool,
//! no PVH note) falls back to booting the bzImage as is.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The compressed kernel inside a bzImage (protocol ≥ 2.08 header fields
/// `payload_offset`/`payload_length`, relative to the protected-mode code).
pub fn payload(bz: &[u8]) -> Option<&[u8]> {
    if bz.get(0x202..0x206)? != b"HdrS" {
        return None;
    }
    let protocol = u16::from_le_bytes(bz.get(0x206..0x208)?.try_into().ok()?);
    if protocol < 0x208 {
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
    let u16_at = |o: usize| {
        elf.get(o..o + 2)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let u32_at = |o: usize| {
        elf.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let u64_at = |o: usize| {
        elf.get(o..o + 8)
            .and_then(|b| b.try_into().ok())
            .map(|b| u64::from_le_bytes(b) as usize)
    };
    if !elf.starts_with(b"\x7fELF\x02\x01") {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return false;
    };
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if u32_at(ph) != Some(4) {
            continue; // not PT_NOTE
        }
        let (Some(off), Some(size)) = (u64_at(ph + 8), u64_at(ph + 32)) else {
            continue;
        };
        let mut p = off;
        while p + 12 <= off + size {
            let (Some(namesz), Some(descsz), Some(kind)) =
                (u32_at(p), u32_at(p + 4), u32_at(p + 8))
            else {
                break;
            };
            let name = elf.get(p + 12..p + 12 + namesz).unwrap_or_default();
            if kind == 18 && name == b"Xen\0" {
                return true;
            }
            p += 12 + namesz.next_multiple_of(4) + descsz.next_multiple_of(4);
        }
    }
    false
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

    fn elf_with_note(name: &[u8], kind: u32) -> Vec<u8> {
        let mut e = vec![0u8; 64];
        e[..6].copy_from_slice(b"\x7fELF\x02\x01");
        let phoff = 64usize;
        e[0x20..0x28].copy_from_slice(&(phoff as u64).to_le_bytes());
        e[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        e[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        let note_off = phoff + 56;
        let mut note = Vec::new();
        note.extend_from_slice(&(name.len() as u32).to_le_bytes());
        note.extend_from_slice(&4u32.to_le_bytes());
        note.extend_from_slice(&kind.to_le_bytes());
        note.extend_from_slice(name);
        note.resize(note.len().next_multiple_of(4), 0);
        note.extend_from_slice(&0x100_0000u32.to_le_bytes());
        let mut ph = [0u8; 56];
        ph[..4].copy_from_slice(&4u32.to_le_bytes());
        ph[8..16].copy_from_slice(&(note_off as u64).to_le_bytes());
        ph[32..40].copy_from_slice(&(note.len() as u64).to_le_bytes());
        e.extend_from_slice(&ph);
        e.extend_from_slice(&note);
        e
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
