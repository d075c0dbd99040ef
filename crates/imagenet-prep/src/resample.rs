//! Pillow's antialiased bilinear resampling of one 8-bit plane, with a
//! nearest-neighbour upsampling (JPEG chroma) folded into the weights.
//!
//! The JPEG fast path resizes Y, Cb and Cr as separate planes, each at its
//! own resolution. Repeating a chroma sample over the luma pixels it covers
//! and then filtering equals filtering the chroma plane with the weights of
//! those luma pixels summed per chroma sample: so 4:2:0 chroma is filtered
//! at a quarter of the samples, and no interleaved copy of the decoded
//! region is ever written.
//!
//! The filter is Pillow's `BILINEAR` with antialiasing (a triangle of radius
//! one source pixel, widened by the downscale factor), with fixed-point
//! weights as in fast_image_resize. Both passes use one kernel, vertical
//! filtering (sixteen columns per AVX2 step, every output row reading whole
//! source rows): the vertical pass runs on the plane, then the horizontal
//! pass runs as a vertical one on the transpose of the S rows it produced,
//! and the result is transposed back. A horizontal kernel, whose windows
//! start somewhere new for every output, took three times the instructions
//! of the vertical kernel and the two transposes together (cachegrind, 200
//! ImageNet JPEGs).
//! Pillow runs the horizontal pass first; the orders round the
//! intermediate differently, so results differ by at most one level.

use std::ops::Range;

/// Largest fraction-bit count: 8 bits of pixel and 2 of headroom in an i32
/// accumulator (Pillow's `PRECISION_BITS`).
const MAX_PRECISION: u32 = 32 - 8 - 2;

/// One axis of a resize: the crop `span` of a grid of `len` pixels, and
/// which sample of a plane each grid pixel reads: pixel `j` reads
/// `((offset + j + 0.5) · scale)` clamped to `first..first + count`, counted
/// from `first`. For luma that is the identity (`scale` 1, `offset` =
/// `first`); for 2:1 chroma, every second pixel moves on one sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Axis {
    /// Grid pixels.
    pub len: usize,
    /// The crop, in grid pixels: `[start, end)`.
    pub span: [f64; 2],
    /// Position of grid pixel 0 in the full image's pixels.
    pub offset: usize,
    /// Plane samples per image pixel.
    pub scale: f64,
    /// Position of plane sample 0 in the full plane.
    pub first: usize,
    /// Plane samples that may be read.
    pub count: usize,
}

impl Axis {
    /// The plane sample grid pixel `j` reads.
    #[inline]
    fn sample(&self, j: usize) -> usize {
        let at = ((self.offset + j) as f64 + 0.5) * self.scale;
        (at as usize).clamp(self.first, self.first + self.count - 1) - self.first
    }
}

/// The taps of one axis: output `i` is the sum over `t < window` of
/// `weights[i * window + t] * source[starts[i] + t]`, in fixed point with
/// `precision` fraction bits.
#[derive(Debug, Default, Clone)]
pub struct Taps {
    starts: Vec<usize>,
    weights: Vec<i16>,
    window: usize,
    precision: u32,
    /// The axis and bound these taps were computed for.
    made_for: Option<(Axis, usize)>,
    /// Real-valued weights of the output being built, per plane sample.
    scratch: Vec<f64>,
    /// (first plane sample, range of `real`) of every output.
    spans: Vec<(usize, Range<usize>)>,
    real: Vec<f64>,
}

/// `ceil` for non-negative values, without a libm call.
fn ceil_usize(x: f64) -> usize {
    let t = x as usize;
    if (t as f64) < x { t + 1 } else { t }
}

impl Taps {
    /// Computes the taps of `out` outputs over `axis` (Pillow's window,
    /// clamped to the grid as Pillow clamps it to the image), padded to an
    /// even length and kept inside `0..readable` plane samples.
    /// Does nothing if the taps are already those. `None` if the crop is
    /// empty or a window cannot fit.
    pub fn compute(&mut self, axis: Axis, out: usize, readable: usize) -> Option<()> {
        let key = Some((axis, readable));
        if self.made_for == key && self.starts.len() == out {
            return Some(());
        }
        self.made_for = None;
        let [in0, in1] = axis.span;
        let scale = (in1 - in0) / out as f64;
        let len = axis.len;
        if len == 0 || axis.count == 0 || out == 0 || !(scale > 0.0 && scale.is_finite()) {
            return None;
        }
        let widen = scale.max(1.0);
        self.spans.clear();
        self.real.clear();
        let mut widest = 0;
        let mut heaviest = 0.0f64;
        for i in 0..out {
            let center = in0 + (i as f64 + 0.5) * scale;
            // Pixel j's centre is j + 0.5: it counts if within `widen`.
            let lo = ((center - widen).max(0.0) as usize).min(len - 1);
            let hi = ceil_usize((center + widen).max(0.0)).clamp(lo + 1, len);
            let first = axis.sample(lo);
            let last = axis.sample(hi - 1);
            if last < first {
                return None;
            }
            self.scratch.clear();
            self.scratch.resize(last - first + 1, 0.0);
            let mut total = 0.0;
            for j in lo..hi {
                let w = (1.0 - ((j as f64 + 0.5 - center) / widen).abs()).max(0.0);
                self.scratch[axis.sample(j) - first] += w;
                total += w;
            }
            if total > 0.0 {
                self.scratch.iter_mut().for_each(|w| *w /= total);
            } else {
                // A crop beyond the grid's edge (every weight was zero):
                // the nearest pixel.
                let near = if center < lo as f64 { 0 } else { last - first };
                self.scratch[near] = 1.0;
            }
            let skip = self.scratch.iter().take_while(|&&w| w == 0.0).count();
            let tail = self.scratch[skip..]
                .iter()
                .rev()
                .take_while(|&&w| w == 0.0)
                .count();
            let keep = (self.scratch.len() - skip - tail).max(1);
            let at = self.real.len();
            self.real
                .extend_from_slice(&self.scratch[skip..skip + keep]);
            self.spans.push((first + skip, at..self.real.len()));
            widest = widest.max(keep);
            heaviest = self.scratch.iter().fold(heaviest, |m, &w| m.max(w));
        }
        // Even: the SIMD kernel takes the taps in pairs.
        let window = widest.div_ceil(2) * 2;
        if window > readable {
            return None;
        }
        // As many fraction bits as keep every weight inside an i16.
        let mut precision = MAX_PRECISION;
        while precision > 1 && heaviest * (1u64 << precision) as f64 + 0.5 > i16::MAX as f64 {
            precision -= 1;
        }
        let one = (1u64 << precision) as f64;
        self.window = window;
        self.precision = precision;
        self.starts.clear();
        self.weights.clear();
        self.weights.resize(out * window, 0);
        for (i, (first, range)) in self.spans.iter().enumerate() {
            // Shifted left where the padded window would run off the plane;
            // the weights move right within it.
            let start = (*first).min(readable - window);
            let dst = &mut self.weights[i * window + (first - start)..];
            for (d, &w) in dst.iter_mut().zip(&self.real[range.clone()]) {
                *d = (w * one + 0.5) as i16;
            }
            self.starts.push(start);
        }
        self.made_for = key;
        Some(())
    }

    /// Outputs.
    pub fn outputs(&self) -> usize {
        self.starts.len()
    }

    /// The plane samples any output reads.
    pub fn reads(&self) -> Range<usize> {
        let lo = self.starts.iter().copied().min().unwrap_or(0);
        let hi = self
            .starts
            .iter()
            .map(|s| s + self.window)
            .max()
            .unwrap_or(0);
        lo..hi
    }
}

/// Rounds and clamps a fixed-point sum to a pixel.
#[inline(always)]
fn pixel(acc: i32, precision: u32) -> u8 {
    (acc >> precision).clamp(0, 255) as u8
}

/// Vertical pass: `out` (`taps.outputs()` rows of `cols.len()`) from columns
/// `cols` of `src` (rows of `stride`, row 0 being the taps' sample
/// `skip`). Every row `taps.reads()` names must be in `src`.
pub fn vertical(
    src: &[u8],
    stride: usize,
    skip: usize,
    taps: &Taps,
    cols: Range<usize>,
    out: &mut [u8],
) {
    let width = cols.len();
    let reads = taps.reads();
    assert!(
        cols.end <= stride
            && reads.start >= skip
            && (reads.end - skip) * stride <= src.len()
            && out.len() == taps.outputs() * width,
        "vertical pass out of bounds"
    );
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && width >= 16 {
        // SAFETY: AVX2 is present; bounds were checked above.
        unsafe { vertical_avx2(src, stride, skip, taps, cols, out) };
        return;
    }
    vertical_portable(src, stride, skip, taps, cols, out);
}

fn vertical_portable(
    src: &[u8],
    stride: usize,
    skip: usize,
    taps: &Taps,
    cols: Range<usize>,
    out: &mut [u8],
) {
    let width = cols.len();
    let round = 1i32 << (taps.precision - 1);
    for (i, row) in out.chunks_exact_mut(width).enumerate() {
        let weights = &taps.weights[i * taps.window..][..taps.window];
        let first = (taps.starts[i] - skip) * stride + cols.start;
        for (x, o) in row.iter_mut().enumerate() {
            let mut acc = round;
            for (t, &w) in weights.iter().enumerate() {
                acc += w as i32 * src[first + t * stride + x] as i32;
            }
            *o = pixel(acc, taps.precision);
        }
    }
}

/// Sixteen columns per step, two taps per `madd`: the two source rows'
/// pixels interleaved as i16 pairs against the pair of weights.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn vertical_avx2(
    src: &[u8],
    stride: usize,
    skip: usize,
    taps: &Taps,
    cols: Range<usize>,
    out: &mut [u8],
) {
    use std::arch::x86_64::*;
    /// Tap pairs kept in registers; wider windows (downscales beyond ~30×)
    /// take the portable loop.
    const MAX_PAIRS: usize = 16;
    let width = cols.len();
    let window = taps.window;
    let pairs = window / 2;
    if pairs > MAX_PAIRS || !window.is_multiple_of(2) {
        return vertical_portable(src, stride, skip, taps, cols, out);
    }
    let round = _mm256_set1_epi32(1 << (taps.precision - 1));
    let shift = _mm_cvtsi32_si128(taps.precision as i32);
    let mut weights = [_mm256_setzero_si256(); MAX_PAIRS];
    for (i, row) in out.chunks_exact_mut(width).enumerate() {
        let w = &taps.weights[i * window..][..window];
        for (pair, w) in weights.iter_mut().zip(w.chunks_exact(2)) {
            *pair = _mm256_set1_epi32((w[0] as u16 as i32) | ((w[1] as i32) << 16));
        }
        // SAFETY: rows starts[i]..starts[i] + window are inside `src`
        // (taps.reads() was checked by the caller).
        let top = unsafe {
            src.as_ptr()
                .add((taps.starts[i] - skip) * stride + cols.start)
        };
        let mut x = 0;
        while x < width {
            // The last step overlaps the one before rather than run past.
            let at = x.min(width - 16);
            let (mut lo, mut hi) = (round, round);
            for (p, &pair) in weights[..pairs].iter().enumerate() {
                // SAFETY: rows 2p and 2p + 1 below `top` are in the window;
                // cols.start + at + 16 <= cols.end <= stride.
                let (a, b) = unsafe {
                    let p = top.add(2 * p * stride + at);
                    (
                        _mm256_cvtepu8_epi16(_mm_loadu_si128(p as *const __m128i)),
                        _mm256_cvtepu8_epi16(_mm_loadu_si128(p.add(stride) as *const __m128i)),
                    )
                };
                lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), pair));
                hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), pair));
            }
            // unpacklo/hi split each 128-bit lane; packs joins them back
            // in column order within the lane.
            let words =
                _mm256_packs_epi32(_mm256_sra_epi32(lo, shift), _mm256_sra_epi32(hi, shift));
            let bytes = _mm256_packus_epi16(words, words);
            let bytes = _mm256_permute4x64_epi64(bytes, 0b1000);
            // SAFETY: at + 16 <= width = row.len().
            unsafe {
                _mm_storeu_si128(
                    row.as_mut_ptr().add(at) as *mut __m128i,
                    _mm256_castsi256_si128(bytes),
                )
            };
            x = at + 16;
        }
    }
}

/// Writes the `rows × cols` matrix `src` transposed into `dst`
/// (`cols × rows`).
pub fn transpose(src: &[u8], rows: usize, cols: usize, dst: &mut [u8]) {
    assert!(
        src.len() == rows * cols && dst.len() == rows * cols,
        "transpose: buffer sizes"
    );
    let (full_rows, full_cols) = (rows / 16 * 16, cols / 16 * 16);
    #[cfg(target_arch = "x86_64")]
    for r in (0..full_rows).step_by(16) {
        for c in (0..full_cols).step_by(16) {
            // SAFETY: the 16×16 block at (r, c) lies inside both matrices.
            unsafe { transpose_block_sse2(src, cols, r, c, dst, rows) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let full_cols = 0;
    // The edges (and everything, without SSE2) one byte at a time.
    for r in 0..rows {
        let from = if r < full_rows { full_cols } else { 0 };
        for c in from..cols {
            dst[c * rows + r] = src[r * cols + c];
        }
    }
}

/// One 16×16 block in four rounds of interleaving: bytes, then pairs,
/// quads and eights of rows, after which each register holds a column.
/// SSE2 is part of x86-64, so this needs no detection.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
unsafe fn transpose_block_sse2(
    src: &[u8],
    src_stride: usize,
    r: usize,
    c: usize,
    dst: &mut [u8],
    dst_stride: usize,
) {
    use std::arch::x86_64::*;
    // SAFETY (all loads and stores): rows r..r + 16 and columns c..c + 16
    // are inside `src`, and their transposes inside `dst` (caller).
    let row = |k: usize| unsafe {
        _mm_loadu_si128(src.as_ptr().add((r + k) * src_stride + c) as *const __m128i)
    };
    let rows: [__m128i; 16] = std::array::from_fn(row);
    // a[2k], a[2k + 1]: rows 2k, 2k + 1 byte-interleaved, columns 0-7, 8-15.
    let mut a = [_mm_setzero_si128(); 16];
    for k in 0..8 {
        a[2 * k] = _mm_unpacklo_epi8(rows[2 * k], rows[2 * k + 1]);
        a[2 * k + 1] = _mm_unpackhi_epi8(rows[2 * k], rows[2 * k + 1]);
    }
    // b[4g + m]: rows 4g..4g + 4 of columns 4m..4m + 4.
    let mut b = [_mm_setzero_si128(); 16];
    for g in 0..4 {
        let k = 4 * g;
        b[k] = _mm_unpacklo_epi16(a[k], a[k + 2]);
        b[k + 1] = _mm_unpackhi_epi16(a[k], a[k + 2]);
        b[k + 2] = _mm_unpacklo_epi16(a[k + 1], a[k + 3]);
        b[k + 3] = _mm_unpackhi_epi16(a[k + 1], a[k + 3]);
    }
    // d[8h + 2m], d[8h + 2m + 1]: rows 8h..8h + 8 of columns 4m, 4m + 1
    // and 4m + 2, 4m + 3.
    let mut d = [_mm_setzero_si128(); 16];
    for h in 0..2 {
        for m in 0..4 {
            let (x, y) = (b[8 * h + m], b[8 * h + 4 + m]);
            d[8 * h + 2 * m] = _mm_unpacklo_epi32(x, y);
            d[8 * h + 2 * m + 1] = _mm_unpackhi_epi32(x, y);
        }
    }
    for p in 0..8 {
        let (lo, hi) = (d[p], d[8 + p]);
        for (col, v) in [
            (2 * p, _mm_unpacklo_epi64(lo, hi)),
            (2 * p + 1, _mm_unpackhi_epi64(lo, hi)),
        ] {
            unsafe {
                _mm_storeu_si128(
                    dst.as_mut_ptr().add((c + col) * dst_stride + r) as *mut __m128i,
                    v,
                )
            };
        }
    }
}

/// Taps and buffers of plane resizing, kept from one plane and one image to
/// the next (planes of the same geometry share their taps).
#[derive(Debug, Default)]
pub struct PlaneResizer {
    across: Taps,
    down: Taps,
    /// After the vertical pass: S rows of the columns read.
    columns: Vec<u8>,
    /// The same, transposed.
    transposed: Vec<u8>,
    /// After the horizontal pass: the result, transposed.
    swapped: Vec<u8>,
}

/// One plane to resize: `data` in rows of `stride`, every row readable,
/// samples outside the axes' `count` never weighted.
pub struct PlaneRef<'a> {
    /// Samples.
    pub data: &'a [u8],
    /// Bytes per row; a multiple of 8.
    pub stride: usize,
}

impl PlaneResizer {
    /// Resizes the crop `x × y` of `plane` to `size × size` into `out`.
    pub fn resize(
        &mut self,
        plane: &PlaneRef,
        x: Axis,
        y: Axis,
        size: usize,
        out: &mut [u8],
    ) -> Result<(), String> {
        let rows = plane.data.len() / plane.stride.max(1);
        if x.count > plane.stride || y.count > rows {
            return Err("plane smaller than its axes".into());
        }
        if out.len() != size * size {
            return Err("bad output size".into());
        }
        self.across
            .compute(x, size, plane.stride)
            .ok_or("horizontal crop is empty")?;
        self.down
            .compute(y, size, rows)
            .ok_or("vertical crop is empty")?;
        // The horizontal pass, whose windows start somewhere new for every
        // output, is the vertical kernel run on the transpose.
        let cols = self.across.reads();
        let n = size * cols.len();
        self.columns.resize(n, 0);
        self.transposed.resize(n, 0);
        self.swapped.resize(size * size, 0);
        vertical(
            plane.data,
            plane.stride,
            0,
            &self.down,
            cols.clone(),
            &mut self.columns,
        );
        transpose(&self.columns, size, cols.len(), &mut self.transposed);
        vertical(
            &self.transposed,
            size,
            cols.start,
            &self.across,
            0..size,
            &mut self.swapped,
        );
        transpose(&self.swapped, size, size, out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fast_image_resize as fr;

    fn noise(n: usize, seed: u32) -> Vec<u8> {
        (0..n as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
            .collect()
    }

    /// A smooth picture with an edge (noise would make rounding differences
    /// between the two pass orders the whole story).
    fn picture(w: usize, h: usize) -> Vec<u8> {
        (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                ((x * 200 / w + y * 55 / h) as u8).wrapping_add(if x > w / 3 { 40 } else { 0 })
            })
            .collect()
    }

    fn identity(len: usize, span: [f64; 2]) -> Axis {
        Axis {
            len,
            span,
            offset: 0,
            scale: 1.0,
            first: 0,
            count: len,
        }
    }

    fn ours(data: &[u8], w: usize, h: usize, x: [f64; 2], y: [f64; 2], s: usize) -> Vec<u8> {
        let stride = w.div_ceil(8) * 8;
        let rows = h.div_ceil(8) * 8;
        let mut padded = vec![0u8; stride * rows];
        for r in 0..h {
            padded[r * stride..][..w].copy_from_slice(&data[r * w..][..w]);
        }
        let plane = PlaneRef {
            data: &padded,
            stride,
        };
        let mut out = vec![0; s * s];
        PlaneResizer::default()
            .resize(&plane, identity(w, x), identity(h, y), s, &mut out)
            .unwrap();
        out
    }

    fn fast_image_resize(
        data: &[u8],
        w: usize,
        h: usize,
        x: [f64; 2],
        y: [f64; 2],
        s: usize,
    ) -> Vec<u8> {
        let src = fr::images::ImageRef::new(w as u32, h as u32, data, fr::PixelType::U8).unwrap();
        let mut dst = fr::images::Image::new(s as u32, s as u32, fr::PixelType::U8);
        let options = fr::ResizeOptions::new()
            .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear))
            .crop(x[0], y[0], x[1] - x[0], y[1] - y[0]);
        fr::Resizer::new().resize(&src, &mut dst, &options).unwrap();
        dst.into_vec()
    }

    #[test]
    fn matches_fast_image_resize_within_one_level() {
        // Down by 1.46 (ImageNet's typical), by 7 (windows over 8 taps),
        // up (tiny sources), sizes not multiples of 8 or 16.
        for (w, h, x, y, s) in [
            (500, 375, [62.0, 437.0], [0.0, 375.0], 256),
            (123, 77, [10.5, 110.0], [3.0, 70.25], 32),
            (900, 700, [100.0, 800.0], [0.0, 700.0], 100),
            (7, 5, [0.0, 7.0], [0.0, 5.0], 24),
            (40, 33, [2.0, 35.0], [1.0, 30.0], 19),
        ] {
            let data = picture(w, h);
            let a = ours(&data, w, h, x, y, s);
            let b = fast_image_resize(&data, w, h, x, y, s);
            let diff = a.iter().zip(&b).map(|(&p, &q)| (p as i32 - q as i32).abs());
            let max = diff.clone().max().unwrap();
            let mean = diff.sum::<i32>() as f64 / a.len() as f64;
            assert!(max <= 1 && mean < 0.3, "{w}x{h}→{s}: max {max} mean {mean}");
        }
    }

    #[test]
    fn folding_a_repeat_into_the_weights_equals_upsampling_first() {
        // A 2:1 chroma plane against the same plane repeated to full size.
        let (cw, ch, w, h, s): (usize, usize, usize, usize, usize) = (70, 45, 140, 90, 48);
        let chroma = noise(cw * ch, 5);
        let full: Vec<u8> = (0..w * h)
            .map(|i| chroma[(i / w / 2) * cw + (i % w) / 2])
            .collect();
        let (x, y) = ([11.0, 131.0], [0.0, 90.0]);
        let want = ours(&full, w, h, x, y, s);
        let stride = cw.div_ceil(8) * 8;
        let mut padded = vec![0u8; stride * ch.div_ceil(8) * 8];
        for r in 0..ch {
            padded[r * stride..][..cw].copy_from_slice(&chroma[r * cw..][..cw]);
        }
        let half = |len, span, count| Axis {
            scale: 0.5,
            count,
            ..identity(len, span)
        };
        let plane = PlaneRef {
            data: &padded,
            stride,
        };
        let mut got = vec![0; s * s];
        PlaneResizer::default()
            .resize(&plane, half(w, x, cw), half(h, y, ch), s, &mut got)
            .unwrap();
        // Only the rounding of the summed weights differs.
        let max = got
            .iter()
            .zip(&want)
            .map(|(&a, &b)| (a as i32 - b as i32).abs())
            .max();
        assert!(max <= Some(1), "max {max:?}");
    }

    #[test]
    fn simd_and_portable_kernels_agree_exactly() {
        for (w, h, s) in [(300usize, 200usize, 128usize), (64, 64, 21), (90, 1000, 64)] {
            let stride = w.div_ceil(8) * 8;
            let rows = h.div_ceil(8) * 8;
            let src = noise(stride * rows, w as u32);
            let mut down = Taps::default();
            down.compute(identity(h, [3.0, h as f64 - 2.0]), s, rows)
                .unwrap();
            let skip = down.reads().start;
            for cols in [0..w, 5..w - 3, 0..16] {
                let (mut a, mut b) = (vec![0; s * cols.len()], vec![0; s * cols.len()]);
                let src = &src[skip * stride..];
                vertical(src, stride, skip, &down, cols.clone(), &mut a);
                vertical_portable(src, stride, skip, &down, cols.clone(), &mut b);
                assert_eq!(a, b, "{w}x{h}→{s}, columns {cols:?}");
            }
        }
    }

    #[test]
    fn transposes_every_shape() {
        for (rows, cols) in [(16, 16), (32, 48), (37, 21), (5, 70), (1, 1), (256, 379)] {
            let src = noise(rows * cols, 7);
            let mut dst = vec![0; rows * cols];
            transpose(&src, rows, cols, &mut dst);
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(
                        dst[c * rows + r],
                        src[r * cols + c],
                        "{rows}x{cols} at {r},{c}"
                    );
                }
            }
        }
    }

    #[test]
    fn weights_sum_to_one_and_windows_stay_inside() {
        let mut taps = Taps::default();
        for (len, crop, out, readable) in [
            (500, [62.0, 437.0], 256, 504),
            (3, [0.0, 3.0], 256, 8),
            (2000, [0.0, 2000.0], 37, 2000),
        ] {
            taps.compute(identity(len, crop), out, readable).unwrap();
            let one = 1i32 << taps.precision;
            for i in 0..out {
                let sum: i32 = taps.weights[i * taps.window..][..taps.window]
                    .iter()
                    .map(|&w| w as i32)
                    .sum();
                assert!(
                    (sum - one).abs() <= taps.window as i32,
                    "{len}: output {i} sums to {sum}"
                );
            }
            assert!(taps.reads().end <= readable);
        }
        // An empty crop, or a window wider than the buffer, is refused.
        assert!(taps.compute(identity(10, [5.0, 5.0]), 4, 16).is_none());
        assert!(taps.compute(identity(100, [0.0, 100.0]), 4, 16).is_none());
    }
}
