//! The inner loop: one HWC `u8` image → one CHW `f32` crop, with flip, mean
//! subtraction, lighting and scaling fused into a single pass over the
//! window. Per-image values (offsets) are folded into three per-channel
//! biases up front, flips pick a reversed output iterator (monomorphised,
//! no per-pixel branch), and the row loops are plain zips that LLVM
//! vectorises; on x86-64 an AVX2 copy is chosen at run time.

use std::path::Path;

use shard_format::manifest::Manifest;

use super::config::{MeanMode, TORCHVISION_MEAN, TORCHVISION_STD};
use super::shards::{color_stats_in, read_mean_image};
use super::{LoaderError, ShardSet};

/// Everything about pixel normalisation that is fixed for a loader.
///
/// Every mode computes `(x * scale / 255 + offset − mean) / std` per
/// channel, folded into one multiply-add per value: `mul = scale / 255 /
/// std`, a per-channel bias, and for the mean-image mode a per-pixel mean
/// (already in output units). Only torchvision's mode has a std other
/// than 1, so the other modes' arithmetic (and pixels) are unchanged by it.
#[derive(Debug, Clone)]
pub(crate) struct Normaliser {
    /// Side of the source images.
    size: usize,
    /// `scale / 255 / std`, per channel.
    mul: [f32; 3],
    /// `1 / std`, per channel (1 unless torchvision's mode).
    inv_std: [f32; 3],
    /// Mean image in output units, HWC, when subtracting the mean image.
    mean_image: Option<Vec<f32>>,
    /// Per-channel mean in `scale` units, before the division by the std
    /// (zeros unless a per-channel mode).
    mean_channel: [f32; 3],
}

impl Normaliser {
    /// The normalisation of `set`'s images (statistics from its manifest).
    pub(crate) fn new(set: &ShardSet, mean: MeanMode, scale: f32) -> Result<Self, LoaderError> {
        Self::build(
            set.image_size(),
            mean,
            scale,
            Some((set.dir(), set.manifest())),
        )
    }

    /// The normalisation of `size`×`size` images; `dataset` (its directory
    /// and manifest) supplies the statistics the image and per-channel
    /// modes need, and may be absent for the others.
    pub(crate) fn build(
        size: usize,
        mean: MeanMode,
        scale: f32,
        dataset: Option<(&Path, &Manifest)>,
    ) -> Result<Self, LoaderError> {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(LoaderError::Config(format!(
                "scale must be positive, got {scale}"
            )));
        }
        let mut n = Self {
            size,
            mul: [scale / 255.0; 3],
            inv_std: [1.0; 3],
            mean_image: None,
            mean_channel: [0.0; 3],
        };
        let needs = |what: &str| {
            LoaderError::Config(format!(
                "{what} needs a prepared dataset's colour statistics, and none was given"
            ))
        };
        match mean {
            MeanMode::Image => {
                let (dir, manifest) = dataset.ok_or_else(|| needs("mean-image subtraction"))?;
                let mut m = read_mean_image(dir, manifest)?;
                if m.len() != size * size * 3 {
                    return Err(LoaderError::Config(format!(
                        "the mean image is {}x{}, the images {size}x{size}",
                        manifest.image_size, manifest.image_size
                    )));
                }
                m.iter_mut().for_each(|v| *v *= scale);
                n.mean_image = Some(m);
            }
            MeanMode::PerChannel => {
                let (dir, manifest) =
                    dataset.ok_or_else(|| needs("per-channel mean subtraction"))?;
                let stats = color_stats_in(dir, manifest, "per-channel mean subtraction")?;
                n.mean_channel = stats.mean.map(|m| (m * f64::from(scale)) as f32);
            }
            MeanMode::Torchvision => {
                // Its constants are defined on [0, 1] pixels; another
                // scale would silently feed the weights 255x their input.
                if scale != 1.0 {
                    return Err(LoaderError::Config(format!(
                        "torchvision normalisation works on [0, 1] pixels: scale must be 1, got {scale}"
                    )));
                }
                n.inv_std = TORCHVISION_STD.map(|s| 1.0 / s);
                n.mul = TORCHVISION_STD.map(|s| scale / 255.0 / s);
                n.mean_channel = TORCHVISION_MEAN.map(|m| m * scale);
            }
            MeanMode::None => {}
        }
        Ok(n)
    }

    /// Side of the source images.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Writes the `crop`×`crop` window at (`y0`, `x0`) of `src` (HWC,
    /// `size`×`size`×3), mirrored if `flip`, into `out` (CHW, `3*crop*crop`),
    /// adding `offset` to every pixel of each channel.
    pub(crate) fn render(
        &self,
        src: &[u8],
        (y0, x0, flip): (usize, usize, bool),
        crop: usize,
        offset: [f32; 3],
        out: &mut [f32],
    ) {
        let s = self.size;
        assert!(y0 + crop <= s && x0 + crop <= s && src.len() == s * s * 3);
        assert_eq!(out.len(), 3 * crop * crop);
        // (offset − mean) / std: exact for std 1, so those modes' pixels are
        // bit for bit what they were before torchvision's mode existed.
        let bias = [0, 1, 2].map(|c| (offset[c] - self.mean_channel[c]) * self.inv_std[c]);
        let job = Job {
            src,
            mean: self.mean_image.as_deref(),
            s,
            y0,
            x0,
            crop,
            mul: self.mul,
            bias,
        };
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above).
            unsafe { job.run_avx2(flip, out) };
            return;
        }
        job.run(flip, out);
    }
}

struct Job<'a> {
    src: &'a [u8],
    mean: Option<&'a [f32]>,
    s: usize,
    y0: usize,
    x0: usize,
    crop: usize,
    mul: [f32; 3],
    bias: [f32; 3],
}

impl Job<'_> {
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn run_avx2(&self, flip: bool, out: &mut [f32]) {
        self.run(flip, out);
    }

    #[inline(always)]
    fn run(&self, flip: bool, out: &mut [f32]) {
        let c = self.crop;
        let (p0, rest) = out.split_at_mut(c * c);
        let (p1, p2) = rest.split_at_mut(c * c);
        let rows = p0
            .chunks_exact_mut(c)
            .zip(p1.chunks_exact_mut(c).zip(p2.chunks_exact_mut(c)));
        for (y, (o0, (o1, o2))) in rows.enumerate() {
            let start = ((self.y0 + y) * self.s + self.x0) * 3;
            let src = &self.src[start..start + 3 * c];
            match (flip, self.mean) {
                (false, None) => row(
                    src,
                    self.mul,
                    self.bias,
                    o0.iter_mut().zip(o1.iter_mut().zip(o2.iter_mut())),
                ),
                (true, None) => row(
                    src,
                    self.mul,
                    self.bias,
                    o0.iter_mut()
                        .rev()
                        .zip(o1.iter_mut().rev().zip(o2.iter_mut().rev())),
                ),
                (false, Some(m)) => row_mean(
                    src,
                    &m[start..start + 3 * c],
                    self.mul,
                    self.bias,
                    o0.iter_mut().zip(o1.iter_mut().zip(o2.iter_mut())),
                ),
                (true, Some(m)) => row_mean(
                    src,
                    &m[start..start + 3 * c],
                    self.mul,
                    self.bias,
                    o0.iter_mut()
                        .rev()
                        .zip(o1.iter_mut().rev().zip(o2.iter_mut().rev())),
                ),
            }
        }
    }
}

#[inline(always)]
fn row<'o>(
    src: &[u8],
    mul: [f32; 3],
    bias: [f32; 3],
    outs: impl Iterator<Item = (&'o mut f32, (&'o mut f32, &'o mut f32))>,
) {
    for (px, (r, (g, b))) in src.chunks_exact(3).zip(outs) {
        *r = f32::from(px[0]) * mul[0] + bias[0];
        *g = f32::from(px[1]) * mul[1] + bias[1];
        *b = f32::from(px[2]) * mul[2] + bias[2];
    }
}

#[inline(always)]
fn row_mean<'o>(
    src: &[u8],
    mean: &[f32],
    mul: [f32; 3],
    bias: [f32; 3],
    outs: impl Iterator<Item = (&'o mut f32, (&'o mut f32, &'o mut f32))>,
) {
    for ((px, m), (r, (g, b))) in src.chunks_exact(3).zip(mean.chunks_exact(3)).zip(outs) {
        *r = f32::from(px[0]) * mul[0] + bias[0] - m[0];
        *g = f32::from(px[1]) * mul[1] + bias[1] - m[1];
        *b = f32::from(px[2]) * mul[2] + bias[2] - m[2];
    }
}
