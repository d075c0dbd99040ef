//! Crash-safe files for every crate of the workspace: a file is written to
//! a temporary sibling, fsynced, renamed over its destination, and the
//! directory fsynced ([`AtomicFile`], [`write_file`]), so a reader, a
//! resumed run or a crash sees the old file or the complete new one, never
//! a torn write; and an exclusive lock on an output directory
//! ([`DirLock`]) so two runs never write the same files.

mod file;
pub mod lock;

pub use file::{AtomicError, AtomicFile, sync_dir, sync_files_in, write_file};
pub use lock::{DirLock, LOCK_FILE, LockError};

/// Lower-case hex of `bytes` (a digest).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(2 * bytes.len()), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lower_case_two_digits_per_byte() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xab, 0xff]), "000fabff");
        assert_eq!(super::hex(&[]), "");
    }
}
