//! [`AtomicFile`]: one way to write a file that appears whole or not at all.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::hex;

/// Why a file could not be written.
#[derive(Debug, thiserror::Error)]
pub enum AtomicError {
    /// Creating, writing, syncing or renaming failed.
    #[error("{path}: {source}")]
    Io {
        /// The file (or its temporary, or its directory) that failed.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Another process is writing the same file right now.
    #[error(
        "{path} is being written by another process; wait for it to finish or choose another name"
    )]
    Busy {
        /// The destination.
        path: PathBuf,
    },
    /// The destination cannot be a file.
    #[error("{path}: {reason}")]
    NotAFile {
        /// The destination.
        path: PathBuf,
        /// Why not.
        reason: &'static str,
    },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> AtomicError + '_ {
    move |source| AtomicError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A file being written through `.<name>.tmp` beside its destination. The
/// temporary is locked (an OS file lock) while it lives, so a second writer
/// of the same destination gets [`AtomicError::Busy`] instead of mixing its
/// bytes in. [`finish`](Self::finish) makes it visible under its name;
/// dropped unfinished, it leaves nothing behind. Creating one early claims
/// the destination: it proves the directory is writable before hours of
/// work whose result it will hold.
#[derive(Debug)]
pub struct AtomicFile {
    dest: PathBuf,
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
    hasher: Sha256,
    len: u64,
}

impl AtomicFile {
    /// Starts writing `dest`.
    pub fn create(dest: &Path) -> Result<Self, AtomicError> {
        let name = dest.file_name().ok_or(AtomicError::NotAFile {
            path: dest.to_path_buf(),
            reason: "names no file",
        })?;
        if dest.is_dir() {
            return Err(AtomicError::NotAFile {
                path: dest.to_path_buf(),
                reason: "is a directory; give a file name",
            });
        }
        let tmp = dest.with_file_name(format!(".{}.tmp", name.to_string_lossy()));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&tmp)
            .map_err(io_at(&tmp))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(AtomicError::Busy {
                    path: dest.to_path_buf(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io_at(&tmp)(e)),
        }
        // Only now, holding the lock: a leftover of a crashed writer.
        file.set_len(0).map_err(io_at(&tmp))?;
        Ok(AtomicFile {
            dest: dest.to_path_buf(),
            tmp,
            out: Some(BufWriter::with_capacity(1 << 20, file)),
            hasher: Sha256::new(),
            len: 0,
        })
    }

    /// Appends `bytes`.
    pub fn write(&mut self, bytes: &[u8]) -> Result<(), AtomicError> {
        self.hasher.update(bytes);
        self.len += bytes.len() as u64;
        let out = self.out.as_mut().expect("only finish takes the writer");
        out.write_all(bytes).map_err(io_at(&self.tmp))
    }

    /// Flushes, fsyncs, renames into place and fsyncs the directory;
    /// returns the lower-case hex SHA-256 and the length of the content.
    pub fn finish(mut self) -> Result<(String, u64), AtomicError> {
        let out = self.out.take().expect("only finish takes the writer");
        let result = (|| {
            let file = out
                .into_inner()
                .map_err(|e| io_at(&self.tmp)(e.into_error()))?;
            file.sync_all().map_err(io_at(&self.tmp))?;
            // Renamed while still open (and locked), so no second writer
            // can open the temporary between the sync and the rename.
            fs::rename(&self.tmp, &self.dest).map_err(io_at(&self.dest))?;
            drop(file);
            sync_dir(parent(&self.dest))
        })();
        if result.is_err() {
            let _ = fs::remove_file(&self.tmp);
        }
        result?;
        let sha = hex(&std::mem::take(&mut self.hasher).finalize());
        Ok((sha, self.len))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `dest` atomically; returns their hex SHA-256.
pub fn write_file(dest: &Path, bytes: &[u8]) -> Result<String, AtomicError> {
    let mut f = AtomicFile::create(dest)?;
    f.write(bytes)?;
    Ok(f.finish()?.0)
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// fsyncs `dir`, so that renames inside it survive a power loss. On
/// platforms that cannot open a directory for syncing this does nothing.
pub fn sync_dir(dir: &Path) -> Result<(), AtomicError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_at(dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// fsyncs every regular file directly inside `dir` (a directory about to
/// be renamed into place whole).
pub fn sync_files_in(dir: &Path) -> Result<(), AtomicError> {
    for entry in fs::read_dir(dir).map_err(io_at(dir))? {
        let entry = entry.map_err(io_at(dir))?;
        let path = entry.path();
        if entry.file_type().map_err(io_at(&path))?.is_file() {
            File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(io_at(&path))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut n: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    }

    #[test]
    fn appears_whole_on_finish_with_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("a.bin");
        fs::write(&dest, b"old").unwrap();
        let mut f = AtomicFile::create(&dest).unwrap();
        f.write(b"ab").unwrap();
        assert_eq!(
            fs::read(&dest).unwrap(),
            b"old",
            "not visible before finish"
        );
        f.write(b"c").unwrap();
        let (sha, len) = f.finish().unwrap();
        assert_eq!(len, 3);
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(fs::read(&dest).unwrap(), b"abc");
        assert_eq!(names(dir.path()), ["a.bin"]);
        write_file(&dest, b"second").unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"second");
    }

    #[test]
    fn a_second_writer_is_refused_and_an_unfinished_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("per_class.csv");
        let first = AtomicFile::create(&dest).unwrap();
        let e = AtomicFile::create(&dest).unwrap_err();
        assert!(matches!(e, AtomicError::Busy { .. }), "{e}");
        assert!(e.to_string().contains("per_class.csv"), "{e}");
        drop(first);
        assert_eq!(names(dir.path()), Vec::<String>::new());
        write_file(&dest, b"a,b\n").unwrap();
        drop(AtomicFile::create(&dest).unwrap());
        assert_eq!(fs::read(&dest).unwrap(), b"a,b\n", "the old file stays");
        assert_eq!(names(dir.path()), ["per_class.csv"]);
    }

    #[test]
    fn errors_name_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let e = AtomicFile::create(&dir.path().join("no/such/dir/x.csv")).unwrap_err();
        assert!(e.to_string().contains("no/such/dir/.x.csv.tmp"), "{e}");
        let e = AtomicFile::create(dir.path()).unwrap_err();
        assert!(matches!(e, AtomicError::NotAFile { .. }), "{e}");
    }
}
