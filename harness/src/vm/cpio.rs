//! A writer for the "newc" cpio format the kernel unpacks as an initramfs,
//! so building one needs no external `cpio`.
//!
//! Layout of each entry: a 110-byte ASCII header (`070701` and 13 fields of
//! 8 hex digits), the NUL-terminated name padded to a multiple of 4 bytes
//! (counted from the header's start), then the data padded to 4 bytes. The
//! archive ends with an entry named `TRAILER!!!`.

use std::io::{self, Write};

/// File type bits of `st_mode`.
pub const S_IFDIR: u32 = 0o040_000;
pub const S_IFREG: u32 = 0o100_000;
pub const S_IFLNK: u32 = 0o120_000;
pub const S_IFCHR: u32 = 0o020_000;

const MAGIC: &[u8; 6] = b"070701";
const HEADER_LEN: usize = 110;
/// Name of the entry that ends an archive.
pub const TRAILER: &str = "TRAILER!!!";

/// Streams entries into `W`; call [`CpioWriter::finish`] to write the trailer.
#[derive(Debug)]
pub struct CpioWriter<W: Write> {
    out: W,
    next_ino: u32,
    written: u64,
}

/// The numeric fields of one header, in on-disk order.
#[derive(Debug, Clone, Copy, Default)]
struct Header {
    ino: u32,
    mode: u32,
    uid: u32,
    gid: u32,
    nlink: u32,
    filesize: u32,
    rdev_major: u32,
    rdev_minor: u32,
}

fn pad4(n: u64) -> usize {
    ((4 - (n % 4)) % 4) as usize
}

/// Archive names carry no leading `/` (the kernel unpacks relative to /).
fn archive_name(path: &str) -> io::Result<&str> {
    let name = path.trim_start_matches('/');
    if name.is_empty() || name.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cpio: bad entry name {path:?}"),
        ));
    }
    Ok(name)
}

impl<W: Write> CpioWriter<W> {
    pub fn new(out: W) -> Self {
        CpioWriter {
            out,
            next_ino: 1,
            written: 0,
        }
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn pad(&mut self) -> io::Result<()> {
        let n = pad4(self.written);
        self.put(&[0u8; 3][..n])
    }

    fn entry(&mut self, name: &str, mut h: Header, data: &[u8]) -> io::Result<()> {
        h.filesize = u32::try_from(data.len()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cpio: {name} is larger than 4 GiB"),
            )
        })?;
        let namesize = name.len() + 1;
        let fields: [u32; 13] = [
            h.ino,
            h.mode,
            h.uid,
            h.gid,
            h.nlink,
            0, // mtime: fixed, so archives are reproducible
            h.filesize,
            0, // devmajor
            0, // devminor
            h.rdev_major,
            h.rdev_minor,
            namesize as u32,
            0, // check (only for the crc format)
        ];
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        for f in fields {
            header.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        debug_assert_eq!(header.len(), HEADER_LEN);
        self.put(&header)?;
        self.put(name.as_bytes())?;
        self.put(&[0])?;
        self.pad()?;
        self.put(data)?;
        self.pad()
    }

    fn ino(&mut self) -> u32 {
        let i = self.next_ino;
        self.next_ino += 1;
        i
    }

    /// A directory; parents must have been written before (the kernel does
    /// not create them).
    pub fn dir(&mut self, path: &str, perm: u32) -> io::Result<()> {
        let h = Header {
            ino: self.ino(),
            mode: S_IFDIR | (perm & 0o7777),
            nlink: 2,
            ..Header::default()
        };
        self.entry(archive_name(path)?, h, &[])
    }

    /// A regular file with its whole content.
    pub fn file(&mut self, path: &str, perm: u32, data: &[u8]) -> io::Result<()> {
        let h = Header {
            ino: self.ino(),
            mode: S_IFREG | (perm & 0o7777),
            nlink: 1,
            ..Header::default()
        };
        self.entry(archive_name(path)?, h, data)
    }

    /// A symbolic link; the data is the target, without a NUL.
    pub fn symlink(&mut self, path: &str, target: &str) -> io::Result<()> {
        let h = Header {
            ino: self.ino(),
            mode: S_IFLNK | 0o777,
            nlink: 1,
            ..Header::default()
        };
        self.entry(archive_name(path)?, h, target.as_bytes())
    }

    /// A character device node (e.g. /dev/console, 5:1), so the kernel can
    /// open a console for init before devtmpfs is mounted.
    pub fn char_dev(&mut self, path: &str, perm: u32, major: u32, minor: u32) -> io::Result<()> {
        let h = Header {
            ino: self.ino(),
            mode: S_IFCHR | (perm & 0o7777),
            nlink: 1,
            rdev_major: major,
            rdev_minor: minor,
            ..Header::default()
        };
        self.entry(archive_name(path)?, h, &[])
    }

    /// Any entry as it is on disk: full `st_mode` (type bits included),
    /// owner, device numbers (for device nodes) and data (file content or
    /// symlink target). For packing a whole root filesystem.
    pub fn raw(
        &mut self,
        path: &str,
        mode: u32,
        owner: (u32, u32),
        rdev: (u32, u32),
        data: &[u8],
    ) -> io::Result<()> {
        let h = Header {
            ino: self.ino(),
            mode,
            uid: owner.0,
            gid: owner.1,
            nlink: if mode & 0o170_000 == S_IFDIR { 2 } else { 1 },
            rdev_major: rdev.0,
            rdev_minor: rdev.1,
            ..Header::default()
        };
        self.entry(archive_name(path)?, h, data)
    }

    /// Writes the trailer and returns the underlying writer.
    pub fn finish(mut self) -> io::Result<W> {
        let h = Header {
            nlink: 1,
            ..Header::default()
        };
        self.entry(TRAILER, h, &[])?;
        self.out.flush()?;
        Ok(self.out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One parsed entry of a newc archive.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) struct Parsed {
        pub name: String,
        pub mode: u32,
        pub nlink: u32,
        pub rdev: (u32, u32),
        pub data: Vec<u8>,
    }

    fn hex(b: &[u8]) -> u32 {
        u32::from_str_radix(std::str::from_utf8(b).unwrap(), 16).unwrap()
    }

    /// A minimal newc reader: checks magic, alignment and zero padding, and
    /// stops at the trailer (which must end the archive).
    pub(crate) fn parse(buf: &[u8]) -> Vec<Parsed> {
        let mut out = Vec::new();
        let mut off = 0usize;
        loop {
            assert_eq!(off % 4, 0, "entry at {off} is not 4-aligned");
            let h = &buf[off..off + HEADER_LEN];
            assert_eq!(&h[..6], MAGIC, "bad magic at {off}");
            let field = |i: usize| hex(&h[6 + i * 8..6 + (i + 1) * 8]);
            let (mode, nlink, size) = (field(1), field(4), field(6) as usize);
            let (rmaj, rmin, namesize) = (field(9), field(10), field(11) as usize);
            let name_start = off + HEADER_LEN;
            let name = &buf[name_start..name_start + namesize];
            assert_eq!(name.last(), Some(&0), "name not NUL-terminated");
            let name = String::from_utf8(name[..namesize - 1].to_vec()).unwrap();
            let mut p = name_start + namesize;
            let data_start = p.next_multiple_of(4);
            assert!(buf[p..data_start].iter().all(|b| *b == 0), "name padding");
            p = data_start + size;
            let data = buf[data_start..p].to_vec();
            let next = p.next_multiple_of(4);
            assert!(buf[p..next].iter().all(|b| *b == 0), "data padding");
            off = next;
            if name == TRAILER {
                assert_eq!(off, buf.len(), "bytes after the trailer");
                return out;
            }
            out.push(Parsed {
                name,
                mode,
                nlink,
                rdev: (rmaj, rmin),
                data,
            });
        }
    }

    #[test]
    fn round_trip_every_entry_kind() {
        let mut w = CpioWriter::new(Vec::new());
        w.dir("/dev", 0o755).unwrap();
        w.char_dev("/dev/console", 0o600, 5, 1).unwrap();
        w.dir("/bin", 0o755).unwrap();
        // Sizes 0..=5 cover every padding remainder.
        for n in 0..=5usize {
            let data: Vec<u8> = (0..n as u8).map(|i| b'a' + i).collect();
            w.file(&format!("/bin/f{n}"), 0o755, &data).unwrap();
        }
        w.symlink("/sh", "bin/f3").unwrap();
        let buf = w.finish().unwrap();
        assert_eq!(buf.len() % 4, 0);
        let e = parse(&buf);
        let names: Vec<&str> = e.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "dev",
                "dev/console",
                "bin",
                "bin/f0",
                "bin/f1",
                "bin/f2",
                "bin/f3",
                "bin/f4",
                "bin/f5",
                "sh"
            ]
        );
        assert_eq!(e[0].mode, S_IFDIR | 0o755);
        assert_eq!(e[1].mode, S_IFCHR | 0o600);
        assert_eq!(e[1].rdev, (5, 1));
        assert_eq!(e[6].data, b"abc");
        assert_eq!(e[6].mode, S_IFREG | 0o755);
        assert_eq!(e[6].nlink, 1);
        assert_eq!(e[9].mode, S_IFLNK | 0o777);
        assert_eq!(e[9].data, b"bin/f3");
    }

    #[test]
    fn header_is_ascii_hex_and_names_are_relative() {
        let mut w = CpioWriter::new(Vec::new());
        w.file("/init", 0o755, b"x").unwrap();
        let buf = w.finish().unwrap();
        let head = std::str::from_utf8(&buf[..HEADER_LEN]).unwrap();
        assert!(head.starts_with("070701"));
        assert!(head[6..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(&buf[HEADER_LEN..HEADER_LEN + 5], b"init\0");
    }

    #[test]
    fn rejects_empty_names() {
        let mut w = CpioWriter::new(Vec::new());
        assert!(w.file("/", 0o644, b"").is_err());
        assert!(w.file("a\0b", 0o644, b"").is_err());
    }
}
