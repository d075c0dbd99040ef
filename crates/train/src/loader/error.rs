//! Errors of the shard loader.

use std::path::PathBuf;

/// Everything that can go wrong opening or configuring the loader. Every
/// variant about a file names it.
#[derive(Debug, thiserror::Error)]
pub enum LoaderError {
    /// A file could not be opened, read or memory-mapped.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `manifest.json` is not valid JSON of the expected shape.
    #[error("{path}: not a valid manifest: {message}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What serde or a consistency check reported.
        message: String,
    },
    /// The manifest was written by another version of the shard format.
    #[error(
        "{path}: shard format version {found}, but this loader reads versions {oldest} to \
         {expected}; re-run `cargo xtask prep` with this version"
    )]
    FormatVersion {
        /// The manifest file.
        path: PathBuf,
        /// Version in the file.
        found: u32,
        /// Newest version this build reads (and the one prep writes).
        expected: u32,
        /// Oldest version this build reads.
        oldest: u32,
    },
    /// The requested split (train or val) is not in the manifest.
    #[error("{path}: the manifest has no {split} split")]
    MissingSplit {
        /// The manifest file.
        path: PathBuf,
        /// `train` or `val`.
        split: &'static str,
    },
    /// A `.npy` file is malformed or does not hold what the manifest says.
    #[error("{path}: {message}")]
    Npy {
        /// The `.npy` file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A shard's SHA-256 differs from the manifest's.
    #[error("{path}: SHA-256 {found} does not match the manifest's {expected}")]
    Checksum {
        /// The shard file.
        path: PathBuf,
        /// Digest recorded in the manifest.
        expected: String,
        /// Digest of the file on disk.
        found: String,
    },
    /// The manifest lacks colour statistics that the configuration needs.
    #[error("{path}: the manifest has no colour statistics (needed for {needed})")]
    MissingColorStats {
        /// The manifest file.
        path: PathBuf,
        /// What needed them (mean subtraction, PCA lighting).
        needed: &'static str,
    },
    /// An invalid loader configuration (batch size, crop, ...).
    #[error("invalid loader configuration: {0}")]
    Config(String),
}

impl LoaderError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn npy(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self::Npy {
            path: path.into(),
            message: message.into(),
        }
    }
}
