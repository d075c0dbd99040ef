//! The deterministic plan: which image has which class, name, size and
//! kind. Pixels are drawn later from a per-image random stream, so images
//! can be rendered in any order (in parallel) with identical results.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::classes::{SynthClass, make_classes};
use super::encode::{ImageKind, encode_image};
use super::paint::paint;
use super::{SynthConfig, SynthError};
use crate::mat::Synset;

/// One image to render.
pub(crate) struct Planned {
    pub label: u32,
    pub name: String,
    pub kind: ImageKind,
    pub width: u32,
    pub height: u32,
    /// Random stream of this image's pixels.
    stream: u64,
}

/// Everything decided before any pixel is drawn.
pub(crate) struct Plan {
    pub classes: Vec<SynthClass>,
    pub synsets: Vec<Synset>,
    /// Class by class, in file-name order within a class.
    pub train: Vec<Planned>,
    /// In file-name order (`ILSVRC2012_val_00000001.JPEG` first).
    pub val: Vec<Planned>,
    /// Order of val members in the tar (a permutation of `0..val.len()`).
    pub val_tar_order: Vec<usize>,
    /// Random numbers for anything else a layout needs (Kaggle boxes).
    pub seed: u64,
}

/// Special train and val files, placed at fixed early slots.
fn specials(cfg: &SynthConfig) -> (Vec<ImageKind>, Vec<ImageKind>) {
    let mut train = Vec::new();
    let mut val = Vec::new();
    if cfg.oddities {
        use ImageKind::*;
        train.extend([Cmyk, Png, Grey, Progressive, Grey]);
        val.extend([Grey, Progressive]);
    }
    if cfg.corrupt {
        train.push(ImageKind::Truncated);
        val.push(ImageKind::Empty);
    }
    (train, val)
}

impl Plan {
    pub(crate) fn new(cfg: &SynthConfig) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let (classes, synsets) = make_classes(cfg.classes, cfg.train_per_class as u32, &mut rng);
        let (train_special, val_special) = specials(cfg);
        let mut stream = 0u64;
        let mut next = |rng: &mut ChaCha8Rng, label: u32, name: String, kind: ImageKind| {
            stream += 1;
            Planned {
                label,
                name,
                kind,
                width: rng.random_range(cfg.min_side..=cfg.max_side),
                height: rng.random_range(cfg.min_side..=cfg.max_side),
                stream,
            }
        };

        let mut train = Vec::with_capacity(cfg.classes * cfg.train_per_class);
        for (c, class) in classes.iter().enumerate() {
            // Real file numbers are sparse: n01440764_10026.JPEG etc.
            let mut number = 0u32;
            for k in 0..cfg.train_per_class {
                number += rng.random_range(1..=60);
                let slot = k * cfg.classes + c;
                let kind = train_special.get(slot).copied().unwrap_or(ImageKind::Rgb);
                let name = format!("{}_{number}.JPEG", class.wnid);
                train.push(next(&mut rng, c as u32, name, kind));
            }
        }

        let mut labels: Vec<u32> = (0..cfg.classes as u32)
            .flat_map(|c| std::iter::repeat_n(c, cfg.val_per_class))
            .collect();
        labels.shuffle(&mut rng);
        let val: Vec<Planned> = labels
            .iter()
            .enumerate()
            .map(|(i, &label)| {
                let kind = val_special.get(i).copied().unwrap_or(ImageKind::Rgb);
                next(
                    &mut rng,
                    label,
                    format!("ILSVRC2012_val_{:08}.JPEG", i + 1),
                    kind,
                )
            })
            .collect();
        let mut val_tar_order: Vec<usize> = (0..val.len()).collect();
        val_tar_order.shuffle(&mut rng);
        if val_tar_order.len() >= 2 && val_tar_order.windows(2).all(|w| w[0] < w[1]) {
            val_tar_order.swap(0, 1);
        }
        Plan {
            classes,
            synsets,
            train,
            val,
            val_tar_order,
            seed: cfg.seed,
        }
    }

    /// The file bytes of one planned image.
    pub(crate) fn render(&self, p: &Planned) -> Result<Vec<u8>, SynthError> {
        if p.kind == ImageKind::Empty {
            return Ok(Vec::new());
        }
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(p.stream);
        let rgb = paint(p.label as usize, p.width, p.height, &mut rng);
        encode_image(p.kind, &rgb, p.width, p.height).map_err(|source| SynthError::Encode {
            name: p.name.clone(),
            source,
        })
    }
}
