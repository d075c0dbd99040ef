//! Atomic file writes: write to a temporary file in the destination's
//! directory, fsync it, rename it over the destination, fsync the
//! directory. A reader (or a resumed run) sees either the old file or the
//! complete new one, never a partial file. The SHA-256 of the content is
//! computed on the way through.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::PrepError;

/// A file being written; becomes visible under its name on [`finish`](Self::finish).
pub struct AtomicFile {
    dest: PathBuf,
    tmp: PathBuf,
    out: BufWriter<File>,
    hasher: Sha256,
    len: u64,
}

/// Lower-case hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl AtomicFile {
    /// Starts writing `dest` (through `.<name>.tmp` beside it).
    pub fn create(dest: &Path) -> Result<Self, PrepError> {
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = dest.with_file_name(format!(".{name}.tmp"));
        let file = File::create(&tmp).map_err(|e| PrepError::io(&tmp, e))?;
        Ok(AtomicFile {
            dest: dest.to_path_buf(),
            tmp,
            out: BufWriter::with_capacity(1 << 20, file),
            hasher: Sha256::new(),
            len: 0,
        })
    }

    /// Appends bytes.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), PrepError> {
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
        self.out
            .write_all(bytes)
            .map_err(|e| PrepError::io(&self.tmp, e))
    }

    /// Flushes, fsyncs, renames into place, fsyncs the directory; returns
    /// the hex SHA-256 and length of what was written.
    pub fn finish(self) -> Result<(String, u64), PrepError> {
        let tmp = self.tmp;
        let file = self
            .out
            .into_inner()
            .map_err(|e| PrepError::io(&tmp, e.into_error()))?;
        file.sync_all().map_err(|e| PrepError::io(&tmp, e))?;
        drop(file);
        std::fs::rename(&tmp, &self.dest).map_err(|e| PrepError::io(&self.dest, e))?;
        sync_dir(&self.dest)?;
        Ok((hex(&self.hasher.finalize()), self.len))
    }
}

/// Writes `bytes` to `dest` atomically; returns the hex SHA-256.
pub fn write_file(dest: &Path, bytes: &[u8]) -> Result<String, PrepError> {
    let mut f = AtomicFile::create(dest)?;
    f.write(bytes)?;
    Ok(f.finish()?.0)
}

/// Makes a rename inside `file`'s directory durable.
fn sync_dir(file: &Path) -> Result<(), PrepError> {
    #[cfg(unix)]
    {
        let dir = match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| PrepError::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_atomically_and_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("a.bin");
        std::fs::write(&dest, b"old").unwrap();
        let mut f = AtomicFile::create(&dest).unwrap();
        f.write(b"ab").unwrap();
        // Not visible until finished.
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        f.write(b"c").unwrap();
        let (sha, len) = f.finish().unwrap();
        assert_eq!(len, 3);
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(std::fs::read(&dest).unwrap(), b"abc");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
