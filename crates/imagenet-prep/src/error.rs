//! Errors of the preparation pipeline. Every variant names the file it is
//! about, so a user can act on the message alone.

use std::path::PathBuf;

use atomic_io::{AtomicError, LockError};
use shard_format::manifest::Rejected;

/// Why `prepare` could not produce (or finish) an output directory.
#[derive(Debug, thiserror::Error)]
pub enum PrepError {
    /// The input path (or a file the layout requires) does not exist.
    #[error("{path}: does not exist ({what})")]
    MissingInput {
        /// The missing path.
        path: PathBuf,
        /// What was expected there.
        what: String,
    },
    /// The input directory holds none of the supported layouts.
    #[error(
        "{path}: no dataset found (expected ILSVRC2012_img_train.tar / ILSVRC2012_img_val.tar \
         / ILSVRC2012_devkit_t12.tar.gz, the Kaggle layout with LOC_synset_mapping.txt, or \
         train/ and val/ folders: ImageFolder's train/<class>/<image>, or ILSVRC-2012's extracted \
         folders)"
    )]
    UnknownLayout {
        /// The input directory.
        path: PathBuf,
    },
    /// A file expected to be a tar archive is not one.
    #[error("{path}: not a tar archive ({detail})")]
    NotATar {
        /// The file.
        path: PathBuf,
        /// What the tar reader reported.
        detail: String,
    },
    /// A tar archive (or folder) does not have the ILSVRC-2012 shape.
    #[error("{path}: not shaped like ILSVRC-2012: {detail}")]
    NotIlsvrc {
        /// The archive or folder.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// A folder does not have the ImageFolder shape (`train/<class>/…`,
    /// `val/<class>/…`).
    #[error(
        "{path}: not an ImageFolder tree (train/<class>/<image>, val/<class>/<image>): {detail}"
    )]
    NotImageFolder {
        /// The folder.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// A folder of the input links (through a symbolic link) to a folder
    /// that contains it, so listing it would never end.
    #[error("{path}: links back to {target}, which contains it; remove the link")]
    FolderLoop {
        /// The link (or folder) met while listing.
        path: PathBuf,
        /// The folder it resolves to.
        target: PathBuf,
    },
    /// `--extensions` names no usable extension.
    #[error("--extensions {given:?}: {detail}")]
    BadExtensions {
        /// The list as given.
        given: String,
        /// What is wrong with it.
        detail: String,
    },
    /// Flat validation images were found but no devkit to label them.
    #[error(
        "{path}: the validation images lie directly in this folder, so they need the ILSVRC-2012 \
         devkit for their labels, but {devkit} was not found (for an ImageFolder dataset, put \
         them in per-class folders, val/<class>/<image>)"
    )]
    NoDevkit {
        /// The validation archive or folder.
        path: PathBuf,
        /// Where the devkit was looked for.
        devkit: PathBuf,
    },
    /// The devkit archive has no `data/meta.mat`.
    #[error("{path}: devkit has no data/meta.mat")]
    NoMetaMat {
        /// The devkit archive or folder.
        path: PathBuf,
    },
    /// `meta.mat` could not be parsed or lacks what is needed.
    #[error("{path}: malformed meta.mat: {detail}")]
    BadMetaMat {
        /// The devkit archive or folder (member `data/meta.mat`).
        path: PathBuf,
        /// The parser's complaint.
        detail: String,
    },
    /// The ground-truth file (or Kaggle CSV) is malformed.
    #[error("{path}: {detail}")]
    BadGroundTruth {
        /// The ground-truth file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A validation image the labels file cannot label: its name has no
    /// image number, a number the ground truth does not reach, or the same
    /// number (Kaggle: ImageId) as another file.
    #[error("{path}: cannot label this validation image: {detail}")]
    UnlabelledVal {
        /// The image (a file, or `archive.tar:member`).
        path: PathBuf,
        /// What is wrong with it, and what to do.
        detail: String,
    },
    /// Validation images the labels file lists are absent from the input
    /// (and `skip_bad` was off). The images present are labelled by their
    /// own numbers, so none of them is affected.
    #[error(
        "{path}: {} of the {expected} validation images listed in {labels} are missing: {}. Every \
         image present is labelled by the number in its own name, so none is mislabelled; restore \
         the missing files, or rerun with --skip-bad to prepare the others and list the missing \
         ones in the manifest",
        .missing.len(),
        list_names(.missing)
    )]
    MissingVal {
        /// The validation folder or archive.
        path: PathBuf,
        /// The ground truth (or Kaggle CSV) that lists the missing images.
        labels: PathBuf,
        /// Images the labels file lists.
        expected: usize,
        /// Source names of the missing images, in number order.
        missing: Vec<String>,
    },
    /// Not enough free disk space for the estimated output.
    #[error(
        "{path}: not enough free disk space: the output needs about {needed} bytes ({needed_gib:.2} GiB) \
         but only {available} bytes ({available_gib:.2} GiB) are available"
    )]
    DiskTooSmall {
        /// The output directory.
        path: PathBuf,
        /// Estimated bytes still to write.
        needed: u64,
        /// `needed` in GiB, for the message.
        needed_gib: f64,
        /// Free bytes on the output's file system.
        available: u64,
        /// `available` in GiB, for the message.
        available_gib: f64,
    },
    /// Some images could not be used and `skip_bad` was off. Every other
    /// image was processed and its shard written; rerunning with
    /// `skip_bad` reuses them and lists these in the manifest.
    #[error(
        "{} input image(s) could not be used (rerun with --skip-bad to leave them out and list them \
         in the manifest):\n{}",
        .rejected.len(),
        list_rejected(.rejected)
    )]
    BadImages {
        /// Each bad image and why.
        rejected: Vec<Rejected>,
    },
    /// A split ended up with no image at all: every input was rejected
    /// (or, with `skip_bad`, missing), or the input holds none. Nothing is
    /// written as a finished dataset: a 0-image split is never a result.
    #[error(
        "{split} split: no usable image, {detail}; no manifest was written. Fix or replace the \
         inputs (or leave the split out with --splits)"
    )]
    NoUsableImages {
        /// `train` or `val`.
        split: &'static str,
        /// What happened to its inputs, with the first few reasons.
        detail: String,
    },
    /// An input that should be a plain tar is gzip-compressed.
    #[error(
        "{path}: this looks gzip-compressed (it starts with the gzip magic bytes 1f 8b), not a \
         plain tar; decompress it first ({hint})"
    )]
    Gzipped {
        /// The file (or `archive.tar:member`).
        path: PathBuf,
        /// How to decompress it.
        hint: String,
    },
    /// An invalid setting in the configuration.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The output directory is locked by another run (its message names
    /// the holder: tool, pid, host, start time), or could not be locked.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// An output file could not be written.
    #[error(transparent)]
    File(#[from] AtomicError),
    /// `--out` names an existing file.
    #[error("{path} is a file, not a directory; give --out a directory (it is created if needed)")]
    OutNotDir {
        /// The output path.
        path: PathBuf,
    },
    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The run stopped on purpose after writing some shards
    /// (`PrepConfig::stop_after_shards`, used to test resuming).
    #[error("stopped on request after writing {shards} shard(s); run again to resume")]
    Interrupted {
        /// Shards written by this run before stopping.
        shards: usize,
    },
}

impl PrepError {
    /// Shorthand for [`PrepError::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        PrepError::Io {
            path: path.into(),
            source,
        }
    }
}

fn list_rejected(rejected: &[Rejected]) -> String {
    rejected
        .iter()
        .map(|r| format!("  {}: {}", r.source, r.reason))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The first few names, then how many more.
fn list_names(names: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = names
        .iter()
        .take(SHOWN)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}
