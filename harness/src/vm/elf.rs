//! Just enough ELF64 (little-endian) reading for the VM runner: a named
//! section (a module's `.modinfo`) and the notes of PT_NOTE segments (a
//! vmlinux's PVH entry). Every read is bounds-checked: inputs come from
//! whatever file the user points at.

/// A bounds-checked view of an ELF64 LE image.
#[derive(Debug, Clone, Copy)]
pub struct Elf<'a>(&'a [u8]);

/// One ELF note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Note<'a> {
    /// The name including its NUL, e.g. `b"Xen\0"`.
    pub name: &'a [u8],
    pub kind: u32,
    pub desc: &'a [u8],
}

const PT_NOTE: usize = 4;

impl<'a> Elf<'a> {
    /// None unless `b` starts like an ELF64 little-endian file.
    pub fn parse(b: &'a [u8]) -> Option<Self> {
        b.starts_with(b"\x7fELF\x02\x01").then_some(Elf(b))
    }

    fn bytes<const N: usize>(&self, o: usize) -> Option<[u8; N]> {
        self.0.get(o..o.checked_add(N)?)?.try_into().ok()
    }

    fn u16(&self, o: usize) -> Option<usize> {
        self.bytes(o).map(|b| usize::from(u16::from_le_bytes(b)))
    }

    fn u32(&self, o: usize) -> Option<usize> {
        self.bytes(o).map(|b| u32::from_le_bytes(b) as usize)
    }

    fn u64(&self, o: usize) -> Option<usize> {
        self.bytes(o).map(|b| u64::from_le_bytes(b) as usize)
    }

    fn slice(&self, off: usize, len: usize) -> Option<&'a [u8]> {
        self.0.get(off..off.checked_add(len)?)
    }

    /// The contents of the section called `name` (e.g. `.modinfo`).
    pub fn section(&self, name: &[u8]) -> Option<&'a [u8]> {
        let (shoff, shentsize) = (self.u64(0x28)?, self.u16(0x3a)?);
        let (shnum, shstrndx) = (self.u16(0x3c)?, self.u16(0x3e)?);
        // (name offset, file offset, size) of section i.
        let header = |i: usize| -> Option<(usize, usize, usize)> {
            let h = shoff.checked_add(i.checked_mul(shentsize)?)?;
            Some((self.u32(h)?, self.u64(h + 24)?, self.u64(h + 32)?))
        };
        let (_, str_off, str_size) = header(shstrndx)?;
        let strtab = self.slice(str_off, str_size)?;
        (0..shnum).find_map(|i| {
            let (name_off, off, size) = header(i)?;
            let n = strtab.get(name_off..)?.split(|b| *b == 0).next()?;
            (n == name).then(|| self.slice(off, size)).flatten()
        })
    }

    /// Every note of every PT_NOTE segment.
    pub fn notes(&self) -> Vec<Note<'a>> {
        let mut out = Vec::new();
        let (Some(phoff), Some(phentsize), Some(phnum)) =
            (self.u64(0x20), self.u16(0x36), self.u16(0x38))
        else {
            return out;
        };
        for i in 0..phnum {
            let ph = phoff + i * phentsize;
            if self.u32(ph) != Some(PT_NOTE) {
                continue;
            }
            let (Some(off), Some(size)) = (self.u64(ph + 8), self.u64(ph + 32)) else {
                continue;
            };
            let mut p = off;
            while p + 12 <= off.saturating_add(size) {
                let (Some(namesz), Some(descsz), Some(kind)) =
                    (self.u32(p), self.u32(p + 4), self.u32(p + 8))
                else {
                    break;
                };
                let name_at = p + 12;
                let desc_at = name_at + namesz.next_multiple_of(4);
                let (Some(name), Some(desc)) =
                    (self.slice(name_at, namesz), self.slice(desc_at, descsz))
                else {
                    break;
                };
                out.push(Note {
                    name,
                    kind: kind as u32,
                    desc,
                });
                p = desc_at + descsz.next_multiple_of(4);
            }
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An ELF64 LE file with the given sections (after a .shstrtab).
    pub(crate) fn with_sections(sections: &[(&str, &[u8])]) -> Vec<u8> {
        let mut names = vec![0u8];
        let mut name_offs = Vec::new();
        for n in std::iter::once(".shstrtab").chain(sections.iter().map(|(n, _)| *n)) {
            name_offs.push(names.len());
            names.extend_from_slice(n.as_bytes());
            names.push(0);
        }
        let mut elf = vec![0u8; 64];
        elf[..6].copy_from_slice(b"\x7fELF\x02\x01");
        let mut placed = vec![(elf.len(), names.len())];
        elf.extend_from_slice(&names);
        for (_, data) in sections {
            placed.push((elf.len(), data.len()));
            elf.extend_from_slice(data);
        }
        elf.resize(elf.len().next_multiple_of(8), 0);
        let shoff = elf.len();
        elf.extend_from_slice(&[0u8; 64]); // the null section
        for (i, (off, size)) in placed.iter().enumerate() {
            let mut h = [0u8; 64];
            h[..4].copy_from_slice(&(name_offs[i] as u32).to_le_bytes());
            h[24..32].copy_from_slice(&(*off as u64).to_le_bytes());
            h[32..40].copy_from_slice(&(*size as u64).to_le_bytes());
            elf.extend_from_slice(&h);
        }
        elf[0x28..0x30].copy_from_slice(&(shoff as u64).to_le_bytes());
        elf[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        elf[0x3c..0x3e].copy_from_slice(&((placed.len() + 1) as u16).to_le_bytes());
        elf[0x3e..0x40].copy_from_slice(&1u16.to_le_bytes());
        elf
    }

    /// An ELF64 LE file with one PT_NOTE segment holding `notes`.
    pub(crate) fn with_notes(notes: &[(&[u8], u32, &[u8])]) -> Vec<u8> {
        let mut seg = Vec::new();
        for (name, kind, desc) in notes {
            seg.extend_from_slice(&(name.len() as u32).to_le_bytes());
            seg.extend_from_slice(&(desc.len() as u32).to_le_bytes());
            seg.extend_from_slice(&kind.to_le_bytes());
            seg.extend_from_slice(name);
            seg.resize(seg.len().next_multiple_of(4), 0);
            seg.extend_from_slice(desc);
            seg.resize(seg.len().next_multiple_of(4), 0);
        }
        let mut e = vec![0u8; 64];
        e[..6].copy_from_slice(b"\x7fELF\x02\x01");
        e[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        e[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        e[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes());
        let mut ph = [0u8; 56];
        ph[..4].copy_from_slice(&(PT_NOTE as u32).to_le_bytes());
        ph[8..16].copy_from_slice(&120u64.to_le_bytes());
        ph[32..40].copy_from_slice(&(seg.len() as u64).to_le_bytes());
        e.extend_from_slice(&ph);
        e.extend_from_slice(&seg);
        e
    }

    #[test]
    fn finds_sections_by_name() {
        let e = with_sections(&[(".text", b"\x90\x90"), (".modinfo", b"a=b\0")]);
        let elf = Elf::parse(&e).unwrap();
        assert_eq!(elf.section(b".modinfo"), Some(&b"a=b\0"[..]));
        assert_eq!(elf.section(b".text"), Some(&b"\x90\x90"[..]));
        assert_eq!(elf.section(b".data"), None);
        assert!(Elf::parse(b"\x7fELF\x01\x01").is_none());
    }

    #[test]
    fn reads_notes_and_survives_truncation() {
        let e = with_notes(&[(b"Linux\0", 1, b"6.1"), (b"Xen\0", 18, b"\0\0\0\x01")]);
        let notes = Elf::parse(&e).unwrap().notes();
        assert_eq!(notes.len(), 2);
        assert_eq!(notes[1].name, b"Xen\0");
        assert_eq!(notes[1].kind, 18);
        assert_eq!(notes[0].desc, b"6.1");
        for cut in 0..e.len() {
            if let Some(elf) = Elf::parse(&e[..cut]) {
                let _ = elf.notes();
                let _ = elf.section(b".x");
            }
        }
    }
}
