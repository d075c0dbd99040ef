//! MATLAB v5 `.mat` reading and writing, enough for the ILSVRC-2012 devkit's
//! `data/meta.mat`: the `synsets` struct array.
//!
//! Written from the MAT-file format description (Level 5): a 128-byte header
//! followed by data elements; variables are `miMATRIX` elements, possibly
//! wrapped in `miCOMPRESSED` (zlib). Both byte orders are read. The reader
//! never panics: every length is bounds-checked, allocations are capped by
//! the input size, recursion depth and decompressed size are limited.

mod format;
mod reader;
mod synsets;
mod value;
mod writer;

#[cfg(test)]
mod tests;

pub use synsets::{read_synsets, write_synsets};

/// One entry of the devkit's `synsets` struct array.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synset {
    /// The devkit's 1-based ID (1..=1000 for the leaves, not in WNID order).
    pub ilsvrc2012_id: u32,
    /// WordNet ID, e.g. `n01440764`.
    pub wnid: String,
    /// Comma-separated synonyms, e.g. `tench, Tinca tinca`.
    pub words: String,
    /// WordNet gloss (definition).
    pub gloss: String,
    /// Number of children; 0 for the 1000 leaf classes.
    pub num_children: u32,
    /// ILSVRC2012_IDs of the children (empty for leaves).
    pub children: Vec<u32>,
    /// Height in the WordNet tree (0 for leaves).
    pub wordnet_height: u32,
    /// Number of training images (0 for internal synsets).
    pub num_train_images: u32,
}

impl Synset {
    /// True for the classification classes (synsets without children).
    pub fn is_leaf(&self) -> bool {
        self.num_children == 0
    }
}

/// Which writer's conventions [`write_synsets`] follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MatStyle {
    /// As MATLAB (`save`, v7 default) writes: header `MATLAB 5.0 MAT-file,
    /// Platform: GLNXA64, ...`, the variable zlib-compressed in an
    /// `miCOMPRESSED` element, integral doubles stored in the smallest
    /// integer type, characters as UTF-16.
    #[default]
    Matlab,
    /// As `scipy.io.savemat` writes: header `MATLAB 5.0 MAT-file Platform:
    /// posix, ...` (no comma), uncompressed, doubles as `miDOUBLE`,
    /// characters as UTF-8.
    Scipy,
}

/// Why a `.mat` file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum MatError {
    /// The file does not start with a MATLAB v5 header.
    #[error("not a MATLAB v5 MAT-file: {0}")]
    NotMat(String),
    /// A data element is malformed; `offset` is the byte offset in the file
    /// (or in the decompressed stream, as `what` then says).
    #[error("malformed MAT-file at byte {offset}: {what}")]
    Malformed {
        /// Byte offset of the offending element or field.
        offset: u64,
        /// What is wrong.
        what: String,
    },
    /// The file holds no variable named `synsets`.
    #[error("no variable named `synsets` in the MAT-file (found: {found})")]
    NoSynsets {
        /// Names of the variables that were found.
        found: String,
    },
    /// `synsets` exists but does not have the devkit's shape or fields.
    #[error("`synsets` element {index}: {what}")]
    BadSynset {
        /// 0-based index in the struct array (column-major order).
        index: usize,
        /// What is wrong.
        what: String,
    },
}
