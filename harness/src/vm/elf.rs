//! Just enough ELF64 (little-endian) reading for the VM runner, through the
//! `object` crate: a named section (a module's `.modinfo`) and the notes of
//! PT_NOTE segments (a vmlinux's PVH entry). `object` bounds-checks every
//! read: inputs come from whatever file the user points at.

use object::elf::FileHeader64;
use object::read::elf::{FileHeader, ProgramHeader, SectionHeader};
use object::LittleEndian as LE;

/// An ELF64 LE image whose file header has been checked.
#[derive(Debug, Clone, Copy)]
pub struct Elf<'a> {
    header: &'a FileHeader64<LE>,
    data: &'a [u8],
}

/// One ELF note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Note<'a> {
    /// The name including its NUL, e.g. `b"Xen\0"`.
    pub name: &'a [u8],
    pub kind: u32,
    pub desc: &'a [u8],
}

impl<'a> Elf<'a> {
    /// None unless `b` starts with an ELF64 little-endian file header.
    pub fn parse(b: &'a [u8]) -> Option<Self> {
        let header = FileHeader64::<LE>::parse(b).ok()?;
        // `parse` accepts either byte order; LE only reads a little-endian one.
        header.endian().ok()?;
        Some(Elf { header, data: b })
    }

    /// The contents of the section called `name` (e.g. `.modinfo`).
    pub fn section(&self, name: &[u8]) -> Option<&'a [u8]> {
        let sections = self.header.sections(LE, self.data).ok()?;
        let (_, section) = sections.section_by_name(LE, name)?;
        section.data(LE, self.data).ok()
    }

    /// Every note of every PT_NOTE segment, up to the first malformed one
    /// in each segment.
    pub fn notes(&self) -> Vec<Note<'a>> {
        let segments = self
            .header
            .program_headers(LE, self.data)
            .unwrap_or_default();
        segments
            .iter()
            .filter_map(|ph| ph.notes(LE, self.data).ok().flatten())
            .flat_map(|notes| notes.map_while(Result::ok))
            .map(|n| Note {
                name: n.name_bytes(),
                kind: n.n_type(LE).0,
                desc: n.desc(),
            })
            .collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use object::elf::{self, NoteHeader64, ProgramHeader64, SectionHeader64};
    use object::pod::{from_bytes_mut, Pod};
    use std::mem::size_of;

    /// The bytes of a zeroed `T` once `set` has filled in its fields.
    fn pod<T: Pod>(set: impl FnOnce(&mut T)) -> Vec<u8> {
        let mut b = vec![0u8; size_of::<T>()];
        set(from_bytes_mut::<T>(&mut b).unwrap().0);
        b
    }

    /// An ELF64 LE file header; `set` points it at its tables.
    fn file_header(set: impl FnOnce(&mut FileHeader64<LE>)) -> Vec<u8> {
        pod(|h: &mut FileHeader64<LE>| {
            h.e_ident.magic = elf::ELFMAG;
            h.e_ident.class = elf::ELFCLASS64;
            h.e_ident.data = elf::ELFDATA2LSB;
            h.e_ident.version = elf::EV_CURRENT;
            set(h)
        })
    }

    /// An ELF64 LE file with the given sections (after a .shstrtab).
    pub(crate) fn with_sections(sections: &[(&str, &[u8])]) -> Vec<u8> {
        let mut names = vec![0u8];
        let mut name_offs = Vec::new();
        for n in std::iter::once(".shstrtab").chain(sections.iter().map(|(n, _)| *n)) {
            name_offs.push(names.len());
            names.extend_from_slice(n.as_bytes());
            names.push(0);
        }
        let start = size_of::<FileHeader64<LE>>();
        let mut placed = vec![(elf::SHT_STRTAB, start, names.len())];
        let mut body = names;
        for (_, data) in sections {
            placed.push((elf::SHT_PROGBITS, start + body.len(), data.len()));
            body.extend_from_slice(data);
        }
        let mut e = file_header(|h| {
            h.e_shoff.set(LE, (start + body.len()) as u64);
            h.e_shentsize
                .set(LE, size_of::<SectionHeader64<LE>>() as u16);
            h.e_shnum.set(LE, (placed.len() + 1) as u16);
            h.e_shstrndx.set(LE, elf::SymbolSection(1));
        });
        e.extend(body);
        e.extend(pod(|_: &mut SectionHeader64<LE>| {})); // the null section
        for ((kind, off, size), name) in placed.into_iter().zip(name_offs) {
            e.extend(pod(|s: &mut SectionHeader64<LE>| {
                s.sh_name.set(LE, name as u32);
                s.sh_type.set(LE, kind);
                s.sh_offset.set(LE, off as u64);
                s.sh_size.set(LE, size as u64);
            }));
        }
        e
    }

    /// An ELF64 LE file with one PT_NOTE segment holding `notes`.
    pub(crate) fn with_notes(notes: &[(&[u8], u32, &[u8])]) -> Vec<u8> {
        let mut seg = Vec::new();
        for (name, kind, desc) in notes {
            seg.extend(pod(|n: &mut NoteHeader64<LE>| {
                n.n_namesz.set(LE, name.len() as u32);
                n.n_descsz.set(LE, desc.len() as u32);
                n.n_type.set(LE, elf::NoteType(*kind));
            }));
            seg.extend_from_slice(name);
            seg.resize(seg.len().next_multiple_of(4), 0);
            seg.extend_from_slice(desc);
            seg.resize(seg.len().next_multiple_of(4), 0);
        }
        let (eh, ph) = (
            size_of::<FileHeader64<LE>>(),
            size_of::<ProgramHeader64<LE>>(),
        );
        let mut e = file_header(|h| {
            h.e_phoff.set(LE, eh as u64);
            h.e_phentsize.set(LE, ph as u16);
            h.e_phnum.set(LE, 1);
        });
        e.extend(pod(|p: &mut ProgramHeader64<LE>| {
            p.p_type.set(LE, elf::PT_NOTE);
            p.p_offset.set(LE, (eh + ph) as u64);
            p.p_filesz.set(LE, seg.len() as u64);
            p.p_align.set(LE, 4);
        }));
        e.extend(seg);
        e
    }

    #[test]
    fn finds_sections_by_name() {
        let e = with_sections(&[(".text", b"\x90\x90"), (".modinfo", b"a=b\0")]);
        let elf = Elf::parse(&e).unwrap();
        assert_eq!(elf.section(b".modinfo"), Some(&b"a=b\0"[..]));
        assert_eq!(elf.section(b".text"), Some(&b"\x90\x90"[..]));
        assert_eq!(elf.section(b".data"), None);
        // Section headers cut short: no section, not a wrong one.
        let cut = Elf::parse(&e[..e.len() - 1]).unwrap();
        assert_eq!(cut.section(b".modinfo"), None);
    }

    #[test]
    fn only_elf64_little_endian_parses() {
        let e = with_sections(&[(".modinfo", b"a=b\0")]);
        assert!(Elf::parse(&e).is_some());
        let mut big = e.clone();
        big[5] = elf::ELFDATA2MSB.0;
        assert!(Elf::parse(&big).is_none());
        let mut elf32 = e.clone();
        elf32[4] = elf::ELFCLASS32.0;
        assert!(Elf::parse(&elf32).is_none());
        assert!(Elf::parse(&e[..63]).is_none());
        assert!(Elf::parse(b"\x7fELF\x01\x01").is_none());
    }

    #[test]
    fn reads_notes_and_survives_truncation() {
        let e = with_notes(&[(b"Linux\0", 1, b"6.1"), (b"Xen\0", 18, b"\0\0\0\x01")]);
        let notes = Elf::parse(&e).unwrap().notes();
        assert_eq!(notes.len(), 2);
        assert_eq!(notes[0].name, b"Linux\0");
        assert_eq!(notes[0].kind, 1);
        assert_eq!(notes[0].desc, b"6.1");
        assert_eq!(notes[1].name, b"Xen\0");
        assert_eq!(notes[1].kind, 18);
        assert_eq!(notes[1].desc, b"\0\0\0\x01");
        for cut in 0..e.len() {
            if let Some(elf) = Elf::parse(&e[..cut]) {
                assert!(elf.notes().len() < 2, "{cut} bytes hold both notes");
                let _ = elf.section(b".x");
            }
        }
    }
}
