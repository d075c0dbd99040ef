//! Crash-safe file writes: temp file, fsync, rename, fsync the directory.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use imagenet_prep::lock::LockError;

use crate::error::TrainError;

/// Writes `bytes` to `path` so that a crash leaves either the old file or
/// the complete new one, never a torn write.
pub fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("path has no file name"))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    sync_dir(dir)
}

/// An output file claimed before long work starts, written at the end:
/// creating it proves the destination is writable (and locks it against a
/// second writer) before hours of evaluation, and the content still appears
/// whole or not at all. Dropped without [`commit`](Self::commit), it leaves
/// nothing behind.
#[derive(Debug)]
pub struct PendingFile {
    dest: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
}

impl PendingFile {
    /// Claims `dest` (through `.<name>.tmp` beside it).
    pub fn create(dest: &Path) -> Result<Self, TrainError> {
        let dir = match dest.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = dest
            .file_name()
            .ok_or_else(|| TrainError::Config(format!("{} names no file", dest.display())))?;
        if dest.is_dir() {
            return Err(TrainError::Config(format!(
                "{} is a directory; give a file name",
                dest.display()
            )));
        }
        let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&tmp)
            .map_err(TrainError::io(&tmp))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(LockError::Busy {
                    dir: dest.to_path_buf(),
                    holder: "another process writing it".into(),
                }
                .into());
            }
            Err(TryLockError::Error(e)) => return Err(TrainError::io(&tmp)(e)),
        }
        file.set_len(0).map_err(TrainError::io(&tmp))?;
        Ok(Self {
            dest: dest.to_path_buf(),
            tmp,
            file: Some(file),
        })
    }

    /// Writes `bytes`, fsyncs, and renames the file into place.
    pub fn commit(mut self, bytes: &[u8]) -> Result<(), TrainError> {
        let mut file = self.file.take().expect("only commit takes the file");
        let io = TrainError::io(&self.tmp);
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(io)?;
        fs::rename(&self.tmp, &self.dest).map_err(TrainError::io(&self.dest))?;
        sync_dir(self.dest.parent().unwrap_or(Path::new(".")))
            .map_err(TrainError::io(&self.dest))?;
        Ok(())
    }
}

impl Drop for PendingFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// fsyncs every regular file directly inside `dir`.
pub fn sync_files_in(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            File::open(entry.path())?.sync_all()?;
        }
    }
    Ok(())
}

/// fsyncs a directory so renames inside it are durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    // Directories cannot be opened for syncing on every platform; a failure
    // here only weakens durability, never correctness.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("latest");
        write_file(&p, b"first version, long").unwrap();
        write_file(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("latest")]);
    }

    #[test]
    fn pending_file_claims_early_commits_whole_and_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("per_class.csv");
        let first = PendingFile::create(&dest).unwrap();
        let second = PendingFile::create(&dest).unwrap_err().to_string();
        assert!(second.contains("per_class.csv"), "{second}");
        assert!(second.contains("another process"), "{second}");
        assert!(!dest.exists(), "nothing appears before the commit");
        first.commit(b"a,b\n").unwrap();
        assert_eq!(fs::read(&dest).unwrap(), b"a,b\n");
        // Dropped uncommitted: the old file stays, no temporary remains.
        drop(PendingFile::create(&dest).unwrap());
        assert_eq!(fs::read(&dest).unwrap(), b"a,b\n");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn pending_file_in_a_missing_directory_fails_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let err = PendingFile::create(&dir.path().join("no/such/dir/x.csv")).unwrap_err();
        assert!(err.to_string().contains("no/such/dir/.x.csv.tmp"), "{err}");
    }
}
