//! Synthetic ILSVRC-2012-shaped data for tests, benchmarks and the demo.
//!
//! [`synthesize`] writes the three archives of the real dataset (or the
//! extracted-folder or Kaggle layouts) with small, class-dependent,
//! learnable pictures, a devkit whose IDs are not in sorted-WNID order, and
//! optionally the oddities (CMYK, PNG named `.JPEG`, greyscale, progressive)
//! and corrupt files (truncated, zero bytes) of the real train set. The
//! output is a deterministic function of the configuration and the seed.

mod classes;
mod encode;
pub(crate) mod jpeg;
mod paint;
mod plan;
mod write;

use std::path::{Path, PathBuf};

pub use classes::SynthClass;
pub use encode::ImageKind;

use crate::mat::MatStyle;

/// File names of the real dataset.
pub const TRAIN_TAR: &str = "ILSVRC2012_img_train.tar";
/// Validation archive name.
pub const VAL_TAR: &str = "ILSVRC2012_img_val.tar";
/// Devkit archive name.
pub const DEVKIT_TGZ: &str = "ILSVRC2012_devkit_t12.tar.gz";

/// How the output is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum SynthLayout {
    /// `ILSVRC2012_img_train.tar`, `ILSVRC2012_img_val.tar`,
    /// `ILSVRC2012_devkit_t12.tar.gz`, as downloaded from image-net.org.
    #[default]
    Archives,
    /// Extracted: `train/<wnid>/<wnid>_<n>.JPEG`, `val/ILSVRC2012_val_*.JPEG`
    /// (or `val/<wnid>/...` with `val_by_class`), plus the devkit archive.
    Folders,
    /// Kaggle's ImageNet download: `LOC_synset_mapping.txt`,
    /// `LOC_val_solution.csv`, `ILSVRC/Data/CLS-LOC/{train,val}/`.
    Kaggle,
}

/// What to synthesize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthConfig {
    /// Number of leaf classes (the first twenty get real ImageNet WNIDs).
    pub classes: usize,
    /// Training images per class.
    pub train_per_class: usize,
    /// Validation images per class.
    pub val_per_class: usize,
    /// Smallest image side in pixels (width and height are drawn
    /// independently from `[min_side, max_side]`).
    pub min_side: u32,
    /// Largest image side in pixels.
    pub max_side: u32,
    /// Seed: the output is a deterministic function of the whole config.
    pub seed: u64,
    /// Include a CMYK JPEG, a PNG named `.JPEG`, greyscale and progressive
    /// JPEGs (all decodable).
    pub oddities: bool,
    /// Include a truncated JPEG (train) and a zero-byte file (val).
    pub corrupt: bool,
    /// Output layout.
    pub layout: SynthLayout,
    /// Conventions of the devkit's `meta.mat` (MATLAB-written by default).
    pub mat_style: MatStyle,
    /// Folders layout only: put val images in `val/<wnid>/` instead of flat.
    pub val_by_class: bool,
}

impl Default for SynthConfig {
    /// A small learnable set: 10 classes, 50 + 10 images each, 72–144 px.
    fn default() -> Self {
        Self {
            classes: 10,
            train_per_class: 50,
            val_per_class: 10,
            min_side: 72,
            max_side: 144,
            seed: 0,
            oddities: false,
            corrupt: false,
            layout: SynthLayout::Archives,
            mat_style: MatStyle::Matlab,
            val_by_class: false,
        }
    }
}

/// One written image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SynthImage {
    /// Where it is: archive members joined with `:`
    /// (`ILSVRC2012_img_train.tar:n01440764.tar:n01440764_1.JPEG`) or a
    /// path relative to the output directory (`train/n01440764/...`).
    pub path: String,
    /// File name alone (`n01440764_1.JPEG`, `ILSVRC2012_val_00000001.JPEG`).
    pub name: String,
    /// True class index (position in sorted-WNID order).
    pub label: u32,
    /// How the file was encoded (oddities and corrupt files say so).
    pub kind: ImageKind,
    /// Width and height of the picture (0 × 0 for a zero-byte file).
    pub size: (u32, u32),
}

/// What [`synthesize`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SynthSummary {
    /// Top-level files and directories written under the output directory.
    pub files: Vec<PathBuf>,
    /// Leaf classes in sorted-WNID order (index = label).
    pub classes: Vec<SynthClass>,
    /// Training images, class by class.
    pub train: Vec<SynthImage>,
    /// Validation images in sorted file-name order (the ground-truth order).
    pub val: Vec<SynthImage>,
}

impl SynthSummary {
    /// Every image, train then val.
    pub fn images(&self) -> impl Iterator<Item = &SynthImage> {
        self.train.iter().chain(&self.val)
    }

    /// Decodable oddities (CMYK, PNG, greyscale, progressive).
    pub fn oddities(&self) -> impl Iterator<Item = &SynthImage> {
        self.images().filter(|i| i.kind.is_oddity())
    }

    /// Corrupt files (truncated, zero bytes).
    pub fn corrupt(&self) -> impl Iterator<Item = &SynthImage> {
        self.images().filter(|i| i.kind.is_corrupt())
    }
}

/// Why synthesis failed.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// The configuration cannot be synthesized.
    #[error("invalid synth configuration: {0}")]
    Config(String),
    /// A directory the layout would create exists already.
    #[error("{0} already exists; remove it or choose another output directory")]
    Exists(PathBuf),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Encoding an image failed.
    #[error("encoding {name}: {source}")]
    Encode {
        /// The image's file name.
        name: String,
        /// The encoder's error.
        source: image::ImageError,
    },
}

/// Writes the dataset described by `cfg` under `out` (created if missing)
/// and returns what it wrote. Archives and single files are written to a
/// temporary name and renamed into place, directory trees are built under
/// a temporary directory and renamed, so a killed run never leaves a
/// half-written archive or tree under its final name.
pub fn synthesize(cfg: &SynthConfig, out: &Path) -> Result<SynthSummary, SynthError> {
    validate(cfg)?;
    let plan = plan::Plan::new(cfg);
    write::write(cfg, &plan, out)
}

fn validate(cfg: &SynthConfig) -> Result<(), SynthError> {
    let bad = |m: String| Err(SynthError::Config(m));
    if cfg.classes == 0 || cfg.classes > 100_000 {
        return bad(format!(
            "classes must be in 1..=100000, not {}",
            cfg.classes
        ));
    }
    if cfg.train_per_class == 0 || cfg.val_per_class == 0 {
        return bad("train_per_class and val_per_class must be at least 1".into());
    }
    if cfg.classes.saturating_mul(cfg.val_per_class) > 99_999_999 {
        return bad("more than 99,999,999 val images do not fit ILSVRC val names".into());
    }
    if cfg.min_side < 8 || cfg.min_side > cfg.max_side || cfg.max_side > 4096 {
        return bad(format!(
            "need 8 <= min_side <= max_side <= 4096, got {}..{}",
            cfg.min_side, cfg.max_side
        ));
    }
    Ok(())
}
