//! Listing the members of (possibly nested) tar archives without extracting
//! them: only headers are read, file data is skipped by seeking. Members are
//! later read by offset, so any order can be produced from any tar order,
//! and a nested tar (`train.tar` → `<wnid>.tar`) is listed through a window
//! onto the outer file.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::sync::Arc;

/// Positional reads, shared between threads.
pub trait ReadAt: Send + Sync {
    /// Reads up to `buf.len()` bytes at `offset`; returns how many were read.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;

    /// Reads exactly `buf.len()` bytes at `offset`.
    fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        while !buf.is_empty() {
            match self.read_at(buf, offset)? {
                0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "archive ends inside a member",
                    ));
                }
                n => {
                    buf = &mut buf[n..];
                    offset += n as u64;
                }
            }
        }
        Ok(())
    }
}

impl ReadAt for File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        #[cfg(unix)]
        {
            std::os::unix::fs::FileExt::read_at(self, buf, offset)
        }
        #[cfg(windows)]
        {
            std::os::windows::fs::FileExt::seek_read(self, buf, offset)
        }
    }
}

impl ReadAt for Vec<u8> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let start = (offset.min(self.len() as u64)) as usize;
        let n = buf.len().min(self.len() - start);
        buf[..n].copy_from_slice(&self[start..start + n]);
        Ok(n)
    }
}

/// A `Read + Seek` view of bytes `[start, start + len)` of a [`ReadAt`].
pub struct Window<'a> {
    src: &'a dyn ReadAt,
    start: u64,
    len: u64,
    pos: u64,
}

impl<'a> Window<'a> {
    /// The view of `len` bytes at `start`.
    pub fn new(src: &'a dyn ReadAt, start: u64, len: u64) -> Self {
        Window {
            src,
            start,
            len,
            pos: 0,
        }
    }
}

impl Read for Window<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.len.saturating_sub(self.pos);
        let n = (buf.len() as u64).min(left) as usize;
        if n == 0 {
            return Ok(0);
        }
        let got = self.src.read_at(&mut buf[..n], self.start + self.pos)?;
        self.pos += got as u64;
        Ok(got)
    }
}

impl Seek for Window<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, "seek before start of archive")
        })?;
        Ok(self.pos)
    }
}

/// One regular file inside a tar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Path inside the tar, as stored (GNU/PAX long names resolved).
    pub name: String,
    /// Offset of the data, relative to the start of the source (not the window).
    pub offset: u64,
    /// Size of the data in bytes.
    pub size: u64,
    /// Modification time from the member's header, seconds since the Unix
    /// epoch (0 if the header has none).
    pub mtime: u64,
}

/// Lists the regular files of the tar in `src[start .. start + len]`.
/// Errors are I/O errors whose message says what is wrong with the tar.
pub fn list_tar(src: &dyn ReadAt, start: u64, len: u64) -> io::Result<Vec<Member>> {
    let mut first = [0u8; 512];
    let have = len.min(512) as usize;
    src.read_exact_at(&mut first[..have], start)?;
    if have < 512 || !header_checksum_ok(&first) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            if have < 512 {
                "too short for a tar header".to_string()
            } else {
                "first header block has a bad checksum".to_string()
            },
        ));
    }
    let mut archive = tar::Archive::new(Window::new(src, start, len));
    let mut members = Vec::new();
    for entry in archive.entries_with_seek()? {
        let entry = entry?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let size = entry.size();
        // An unreadable time field fingerprints as 0: the member's size,
        // offset and the archive's own stamp still identify it.
        let mtime = entry.header().mtime().unwrap_or(0);
        let offset = start + entry.raw_file_position();
        if offset.checked_add(size).is_none_or(|end| end > start + len) {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("member {name} extends past the end of the archive"),
            ));
        }
        members.push(Member {
            name,
            offset,
            size,
            mtime,
        });
    }
    Ok(members)
}

/// Whether the `len` bytes at `start` begin with the gzip magic `1f 8b`
/// (a compressed tar given where a plain one is expected).
pub fn looks_gzipped(src: &dyn ReadAt, start: u64, len: u64) -> bool {
    let mut magic = [0u8; 2];
    len >= 2 && src.read_exact_at(&mut magic, start).is_ok() && magic == [0x1f, 0x8b]
}

/// Whether a 512-byte block carries a valid tar header checksum (the
/// unsigned sum of the block with the checksum field read as spaces).
fn header_checksum_ok(block: &[u8; 512]) -> bool {
    let field = &block[148..156];
    let text: String = field
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    let Ok(stored) = u32::from_str_radix(text.trim(), 8) else {
        return false;
    };
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                b as u32
            }
        })
        .sum();
    sum == stored
}

/// Where one input image's bytes live.
#[derive(Debug, Clone)]
pub enum Location {
    /// A whole file on disk.
    File(std::path::PathBuf),
    /// A byte range of an open archive.
    Range {
        /// The archive.
        archive: Arc<File>,
        /// Data offset.
        offset: u64,
        /// Data size.
        size: u64,
        /// The member's modification time (its tar header), Unix seconds.
        mtime: u64,
    },
}

impl Location {
    /// Reads the image's bytes.
    pub fn read(&self) -> io::Result<Vec<u8>> {
        match self {
            Location::File(path) => std::fs::read(path),
            Location::Range {
                archive,
                offset,
                size,
                ..
            } => {
                let mut buf = vec![0u8; *size as usize];
                archive.read_exact_at(&mut buf, *offset)?;
                Ok(buf)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn lists_nested_tars_by_offset() {
        let inner = tar_of(&[("n1_2.JPEG", b"bb"), ("n1_1.JPEG", b"a")]);
        let long = "x".repeat(150);
        let outer = tar_of(&[("n1.tar", &inner), (&long, b"zzz")]);
        let members = list_tar(&outer, 0, outer.len() as u64).unwrap();
        assert_eq!(members.len(), 2);
        assert_eq!(members[1].name, long);
        let m = &members[0];
        let inner_members = list_tar(&outer, m.offset, m.size).unwrap();
        let names: Vec<_> = inner_members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["n1_2.JPEG", "n1_1.JPEG"]);
        let mut buf = vec![0; 2];
        outer
            .read_exact_at(&mut buf, inner_members[0].offset)
            .unwrap();
        assert_eq!(buf, b"bb");
    }

    #[test]
    fn rejects_non_tars() {
        let junk = vec![7u8; 2048];
        assert!(list_tar(&junk, 0, 2048).is_err());
        assert!(list_tar(&Vec::new(), 0, 0).is_err());
    }
}
