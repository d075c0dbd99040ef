//! The inner loop: one HWC `u8` image → one CHW `f32` crop, with flip, mean
//! subtraction, lighting and scaling fused into a single pass over the
//! window. Per-image values (offsets) are folded into three per-channel
//! biases up front, flips pick a reversed output iterator (monomorphised,
//! no per-pixel branch), and the row loops are plain zips that LLVM
//! vectorises; on x86-64 an AVX2 copy is chosen at run time.

use super::config::MeanMode;
use super::{LoaderError, ShardSet};

/// Everything about pixel normalisation that is fixed for a loader.
#[derive(Debug, Clone)]
pub(crate) struct Normaliser {
    /// Side of the source images.
    size: usize,
    /// `scale / 255`.
    mul: f32,
    /// Mean image in output units, HWC, when subtracting the mean image.
    mean_image: Option<Vec<f32>>,
    /// Per-channel mean in output units (zeros unless per-channel mode).
    mean_channel: [f32; 3],
}

impl Normaliser {
    pub(crate) fn new(set: &ShardSet, mean: MeanMode, scale: f32) -> Result<Self, LoaderError> {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(LoaderError::Config(format!(
                "scale must be positive, got {scale}"
            )));
        }
        let mut n = Self {
            size: set.image_size(),
            mul: scale / 255.0,
            mean_image: None,
            mean_channel: [0.0; 3],
        };
        match mean {
            MeanMode::Image => {
                let mut m = set.mean_image()?;
                m.iter_mut().for_each(|v| *v *= scale);
                n.mean_image = Some(m);
            }
            MeanMode::PerChannel => {
                let stats = set.color_stats("per-channel mean subtraction")?;
                n.mean_channel = stats.mean.map(|m| (m * f64::from(scale)) as f32);
            }
            MeanMode::None => {}
        }
        Ok(n)
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
        let bias = [0, 1, 2].map(|c| offset[c] - self.mean_channel[c]);
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
    mul: f32,
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
    mul: f32,
    bias: [f32; 3],
    outs: impl Iterator<Item = (&'o mut f32, (&'o mut f32, &'o mut f32))>,
) {
    for (px, (r, (g, b))) in src.chunks_exact(3).zip(outs) {
        *r = f32::from(px[0]) * mul + bias[0];
        *g = f32::from(px[1]) * mul + bias[1];
        *b = f32::from(px[2]) * mul + bias[2];
    }
}

#[inline(always)]
fn row_mean<'o>(
    src: &[u8],
    mean: &[f32],
    mul: f32,
    bias: [f32; 3],
    outs: impl Iterator<Item = (&'o mut f32, (&'o mut f32, &'o mut f32))>,
) {
    for ((px, m), (r, (g, b))) in src.chunks_exact(3).zip(mean.chunks_exact(3)).zip(outs) {
        *r = f32::from(px[0]) * mul + bias[0] - m[0];
        *g = f32::from(px[1]) * mul + bias[1] - m[1];
        *b = f32::from(px[2]) * mul + bias[2] - m[2];
    }
}
