//! Shorter side → S, then centre crop S×S, as ONE antialiased resize of
//! just the source region that lands in the crop.
//!
//! Geometry follows torchvision's `Resize(S)` + `CenterCrop(S)`: the long
//! side becomes `floor(S · long / short)`, the crop offset is
//! `round((resized − S) / 2)` with Python's round-half-to-even. Resampling
//! is fast_image_resize's bilinear convolution (Pillow's antialiased
//! `BILINEAR`: a triangle filter widened by the downscale factor).
//! Restricting the source region to the crop's pre-image gives the same
//! pixels as resizing the whole image and cropping afterwards, at a
//! fraction of the cost for non-square images.

use fast_image_resize as fr;

use crate::decode::{DecodeError, Rgb8, decode_rgb};
use crate::jpeg::{self, Plane, Planes, color};

/// The resized (pre-crop) size and the crop offset, in resized pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Width after resizing the shorter side to S.
    pub resized_width: u32,
    /// Height after resizing the shorter side to S.
    pub resized_height: u32,
    /// Left edge of the centre crop in the resized image.
    pub crop_left: u32,
    /// Top edge of the centre crop in the resized image.
    pub crop_top: u32,
}

/// Python's `round(x / 2)` for a non-negative integer `x`.
fn half_round_even(x: u32) -> u32 {
    let q = x / 2;
    if x % 2 == 1 && q % 2 == 1 { q + 1 } else { q }
}

/// Geometry of `Resize(size)` + `CenterCrop(size)` for a `width × height` image.
pub fn geometry(width: u32, height: u32, size: u32) -> Geometry {
    let (w, h, s) = (width as u64, height as u64, size as u64);
    let (rw, rh) = if w <= h {
        (s, (s * h / w).max(s))
    } else {
        ((s * w / h).max(s), s)
    };
    Geometry {
        resized_width: rw as u32,
        resized_height: rh as u32,
        crop_left: half_round_even((rw - s) as u32),
        crop_top: half_round_even((rh - s) as u32),
    }
}

/// A reusable resizer (one per worker thread: it keeps scratch buffers).
pub struct CenterCrop {
    size: u32,
    resizer: fr::Resizer,
    /// The JPEG fast path's reusable buffers.
    jpeg: jpeg::Scratch,
    /// Interleaved YCbCr (or grey) of the decoded region.
    merged: Vec<u8>,
    /// Chroma column of each luma column.
    columns: Vec<usize>,
    /// `columns` as copy runs.
    runs: Vec<Run>,
    /// One chroma row of Cb and of Cr, upsampled to luma columns.
    chroma_rows: [Vec<u8>; 2],
    /// Resized Y Cb Cr 0 pixels before colour conversion.
    resized: Vec<u8>,
    /// Resized grey image before replication to RGB.
    grey: Vec<u8>,
}

thread_local! {
    static THREAD_CROP: std::cell::RefCell<Option<CenterCrop>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` with this thread's resizer for `size`, made on first use and
/// kept: its buffers grow to the largest image seen and stay warm, where a
/// fresh one per job would page-fault them in again.
pub fn with_thread_crop<R>(size: u32, f: impl FnOnce(&mut CenterCrop) -> R) -> R {
    THREAD_CROP.with(|cell| {
        let mut slot = cell.borrow_mut();
        let crop = match &mut *slot {
            Some(c) if c.size == size => c,
            other => other.insert(CenterCrop::new(size)),
        };
        f(crop)
    })
}

impl CenterCrop {
    /// A resizer producing `size × size` RGB8 images.
    pub fn new(size: u32) -> Self {
        let n = (size * size) as usize;
        CenterCrop {
            size,
            resizer: fr::Resizer::new(),
            jpeg: jpeg::Scratch::default(),
            merged: Vec::new(),
            columns: Vec::new(),
            runs: Vec::new(),
            chroma_rows: [Vec::new(), Vec::new()],
            resized: vec![0; 4 * n],
            grey: vec![0; n],
        }
    }

    /// Output side.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Decodes image bytes and resizes and crops them into `out`
    /// (`size × size × 3` bytes). Sequential JPEGs take the fast path
    /// ([`crate::jpeg`]); everything else, and any JPEG it declines, is
    /// decoded whole by [`decode_rgb`], which also reports every error.
    pub fn decode_into(
        &mut self,
        bytes: &[u8],
        max_pixels: u64,
        out: &mut [u8],
    ) -> Result<(), DecodeError> {
        let size = self.size;
        // Our decoder on hostile input: a panic (a bug) sends the file to the
        // general decoder instead of ending the run.
        let planes = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            jpeg::decode_planes_with(&mut self.jpeg, bytes, max_pixels, |w, h| {
                read_region(w, h, size)
            })
        }))
        .unwrap_or_else(|_| {
            self.jpeg = jpeg::Scratch::default();
            None
        });
        if let Some(planes) = planes {
            let done = self.run_planes(&planes, out).is_ok();
            self.jpeg.recycle(planes);
            if done {
                return Ok(());
            }
        }
        let img = decode_rgb(bytes, max_pixels)?;
        self.run(&img, out).map_err(|detail| DecodeError::Corrupt {
            format: crate::decode::sniff(bytes).unwrap_or(crate::decode::Format::Jpeg),
            detail,
        })
    }

    /// Resizes and crops decoded planes into `out`, then converts to RGB.
    ///
    /// Y, Cb and Cr are first interleaved over the decoded region (chroma
    /// repeated per luma pixel it covers, a fourth byte of padding), because
    /// fast_image_resize's four-channel kernels are several times faster per
    /// sample than its one-channel ones; colour conversion then runs on the
    /// S×S result only.
    pub fn run_planes(&mut self, planes: &Planes, out: &mut [u8]) -> Result<(), String> {
        let s = self.size;
        if out.len() != (3 * s * s) as usize {
            return Err("bad output size".into());
        }
        let g = geometry(planes.width, planes.height, s);
        let fx = planes.width as f64 / g.resized_width as f64;
        let fy = planes.height as f64 / g.resized_height as f64;
        // The crop's pre-image, in image pixels.
        let (x0, y0) = (g.crop_left as f64 * fx, g.crop_top as f64 * fy);
        let (cw, ch) = (s as f64 * fx, s as f64 * fy);
        let y = &planes.planes[0];
        if y.width == 0 || y.height == 0 || y.scale_x != 1.0 || y.scale_y != 1.0 {
            return Err("luma plane is empty or subsampled".into());
        }
        let (pixel, merged) = match planes.planes.as_slice() {
            [_] => (fr::PixelType::U8, merge_grey(y, &mut self.merged)),
            [_, cb, cr] => (
                fr::PixelType::U8x4,
                merge_ycbcr(
                    y,
                    cb,
                    cr,
                    &mut self.merged,
                    &mut self.columns,
                    &mut self.runs,
                    &mut self.chroma_rows,
                )?,
            ),
            _ => return Err("expected one or three planes".into()),
        };
        let src = fr::images::ImageRef::new(y.width as u32, y.height as u32, merged, pixel)
            .map_err(|e| format!("bad plane buffer: {e}"))?;
        // The fourth byte is padding, not alpha.
        let options = fr::ResizeOptions::new()
            .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear))
            .use_alpha(false)
            .crop(x0 - y.left as f64, y0 - y.top as f64, cw, ch);
        if pixel == fr::PixelType::U8 {
            let n = (s * s) as usize;
            let grey = &mut self.grey[..n];
            let mut dst = fr::images::Image::from_slice_u8(s, s, grey, pixel)
                .map_err(|e| format!("bad destination buffer: {e}"))?;
            self.resizer
                .resize(&src, &mut dst, &options)
                .map_err(|e| format!("resize failed: {e}"))?;
            color::grey_to_rgb(&self.grey[..n], out);
        } else {
            let resized = &mut self.resized[..4 * (s * s) as usize];
            let mut dst = fr::images::Image::from_slice_u8(s, s, resized, pixel)
                .map_err(|e| format!("bad destination buffer: {e}"))?;
            self.resizer
                .resize(&src, &mut dst, &options)
                .map_err(|e| format!("resize failed: {e}"))?;
            color::ycbcrx_to_rgb(&self.resized[..4 * (s * s) as usize], out);
        }
        Ok(())
    }

    /// Resizes and crops `img` into `out` (`size × size × 3` bytes).
    pub fn run(&mut self, img: &Rgb8, out: &mut [u8]) -> Result<(), String> {
        let s = self.size;
        let g = geometry(img.width, img.height, s);
        let src = fr::images::ImageRef::new(img.width, img.height, &img.data, fr::PixelType::U8x3)
            .map_err(|e| format!("bad source buffer: {e}"))?;
        let mut dst = fr::images::Image::from_slice_u8(s, s, out, fr::PixelType::U8x3)
            .map_err(|e| format!("bad destination buffer: {e}"))?;
        // Source pixels per resized pixel, per axis.
        let fx = img.width as f64 / g.resized_width as f64;
        let fy = img.height as f64 / g.resized_height as f64;
        let options = fr::ResizeOptions::new()
            .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear))
            .crop(
                g.crop_left as f64 * fx,
                g.crop_top as f64 * fy,
                s as f64 * fx,
                s as f64 * fy,
            );
        self.resizer
            .resize(&src, &mut dst, &options)
            .map_err(|e| format!("resize failed: {e}"))
    }
}

/// The valid part of the luma plane, rows packed (no block padding).
fn merge_grey<'a>(y: &Plane, buf: &'a mut Vec<u8>) -> &'a [u8] {
    buf.clear();
    for row in y.data.chunks_exact(y.stride).take(y.height) {
        buf.extend_from_slice(&row[..y.width]);
    }
    buf
}

/// Interleaves Y with the Cb and Cr samples covering each luma pixel, as
/// four bytes per pixel (Y, Cb, Cr, 0), over the luma plane's valid region.
fn merge_ycbcr<'a>(
    y: &Plane,
    cb: &Plane,
    cr: &Plane,
    buf: &'a mut Vec<u8>,
    columns: &mut Vec<usize>,
    runs: &mut Vec<Run>,
    [cb_row, cr_row]: &mut [Vec<u8>; 2],
) -> Result<&'a [u8], String> {
    if cb.width == 0 || cb.height == 0 || (cb.width, cb.height) != (cr.width, cr.height) {
        return Err("chroma planes are empty or differ in size".into());
    }
    // Image column/row → chroma plane column/row, clamped to what was
    // decoded (the region's margin is never read by the resize).
    let chroma = |pos: usize, scale: f64, start: usize, len: usize| {
        (((pos as f64 + 0.5) * scale) as usize).clamp(start, start + len - 1) - start
    };
    columns.clear();
    columns.extend((0..y.width).map(|c| chroma(y.left + c, cb.scale_x, cb.left, cb.width)));
    runs_of(columns, runs);
    cb_row.resize(y.width, 0);
    cr_row.resize(y.width, 0);
    buf.resize(4 * y.width * y.height, 0);
    let mut last = usize::MAX;
    for (r, out) in buf.chunks_exact_mut(4 * y.width).enumerate() {
        let ci = chroma(y.top + r, cb.scale_y, cb.top, cb.height);
        if ci != last {
            // Chroma upsampled to luma columns, once per chroma row.
            let b = &cb.data[ci * cb.stride..][..cb.width];
            let rr = &cr.data[ci * cr.stride..][..cr.width];
            upsample_row(b, runs, cb_row);
            upsample_row(rr, runs, cr_row);
            last = ci;
        }
        let luma = &y.data[r * y.stride..][..y.width];
        pack_rows(luma, cb_row, cr_row, out);
    }
    Ok(buf)
}

/// A stretch of output columns reading one chroma row: `out[at..at + len]`
/// from `row[src..]`, each sample used `repeat` (1 or 2) times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    at: usize,
    len: usize,
    src: usize,
    repeat: usize,
}

/// Splits a non-decreasing column map into 1:1 and 2:1 runs (anything
/// else becomes runs of one column).
fn runs_of(columns: &[usize], runs: &mut Vec<Run>) {
    runs.clear();
    let n = columns.len();
    let mut c = 0;
    while c < n {
        let k = columns[c];
        let run = |repeat: usize| {
            let mut len = 0;
            while c + len < n && columns[c + len] == k + len / repeat {
                len += 1;
            }
            len - len % repeat
        };
        let (doubled, single) = (run(2), run(1));
        let (len, repeat) = if doubled >= 4 && doubled >= single {
            (doubled, 2)
        } else {
            (single.max(1), 1)
        };
        runs.push(Run {
            at: c,
            len,
            src: k,
            repeat,
        });
        c += len;
    }
}

/// One chroma row upsampled to luma columns.
fn upsample_row(row: &[u8], runs: &[Run], out: &mut [u8]) {
    for r in runs {
        let out = &mut out[r.at..r.at + r.len];
        if r.repeat == 2 {
            for (pair, &v) in out.chunks_exact_mut(2).zip(&row[r.src..]) {
                pair[0] = v;
                pair[1] = v;
            }
        } else {
            out.copy_from_slice(&row[r.src..r.src + r.len]);
        }
    }
}

/// Y, Cb, Cr rows → Y Cb Cr 0 pixels.
fn pack_rows(y: &[u8], cb: &[u8], cr: &[u8], out: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        unsafe { pack_rows_avx2(y, cb, cr, out) };
        return;
    }
    pack_rows_portable(y, cb, cr, out);
}

/// The same loop compiled with AVX2 enabled, so that it vectorises.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pack_rows_avx2(y: &[u8], cb: &[u8], cr: &[u8], out: &mut [u8]) {
    pack_rows_portable(y, cb, cr, out);
}

#[inline(always)]
fn pack_rows_portable(y: &[u8], cb: &[u8], cr: &[u8], out: &mut [u8]) {
    let n = y.len().min(cb.len()).min(cr.len()).min(out.len() / 4);
    let (y, cb, cr, out) = (&y[..n], &cb[..n], &cr[..n], &mut out[..4 * n]);
    for i in 0..n {
        out[4 * i] = y[i];
        out[4 * i + 1] = cb[i];
        out[4 * i + 2] = cr[i];
        out[4 * i + 3] = 0;
    }
}

/// The image pixels that resizing a `width × height` image to `size` and
/// cropping reads: the crop's pre-image widened by the bilinear filter's
/// support (one output pixel, i.e. the scale factor, when downscaling) and
/// a safety pixel.
fn read_region(width: u32, height: u32, size: u32) -> jpeg::Region {
    let g = geometry(width, height, size);
    let fx = width as f64 / g.resized_width as f64;
    let fy = height as f64 / g.resized_height as f64;
    let margin = fx.max(fy).max(1.0).ceil() + 2.0;
    let (x0, y0) = (g.crop_left as f64 * fx, g.crop_top as f64 * fy);
    [
        x0 - margin,
        y0 - margin,
        x0 + size as f64 * fx + margin,
        y0 + size as f64 * fy + margin,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_reproduce_the_column_map() {
        let maps: [Vec<usize>; 5] = [
            vec![0, 0, 1, 1, 2, 2, 3, 3, 4],
            vec![3, 4, 5, 6, 7],
            vec![0, 0, 0, 1, 1, 2, 2, 3, 3, 3],
            vec![5, 5, 5, 5],
            (0..90).map(|c| (c * 2) / 3).collect(),
        ];
        for map in maps {
            let mut runs = Vec::new();
            runs_of(&map, &mut runs);
            let row: Vec<u8> = (0..100).map(|v| v * 2 + 1).collect();
            let mut out = vec![0u8; map.len()];
            upsample_row(&row, &runs, &mut out);
            let want: Vec<u8> = map.iter().map(|&k| row[k]).collect();
            assert_eq!(out, want, "{map:?} → {runs:?}");
        }
        // The common 4:2:0 map is one doubled run.
        let mut runs = Vec::new();
        runs_of(&[7, 7, 8, 8, 9, 9], &mut runs);
        assert_eq!(
            runs,
            [Run {
                at: 0,
                len: 6,
                src: 7,
                repeat: 2
            }]
        );
    }

    #[test]
    fn geometry_matches_torchvision() {
        // 500x375 → 341x256, crop left round(85/2) = 42 (half to even).
        assert_eq!(
            geometry(500, 375, 256),
            Geometry {
                resized_width: 341,
                resized_height: 256,
                crop_left: 42,
                crop_top: 0
            }
        );
        // 375x500 → 256x341.
        assert_eq!(geometry(375, 500, 256).crop_top, 42);
        // 87 / 2 = 43.5 → 44.
        assert_eq!(half_round_even(87), 44);
        assert_eq!(geometry(64, 64, 64).resized_width, 64);
        // Tiny source, upscaled.
        let g = geometry(3, 7, 256);
        assert_eq!((g.resized_width, g.resized_height), (256, 597));
    }

    #[test]
    fn one_call_equals_resize_then_crop() {
        let (w, h, s) = (123u32, 77u32, 32u32);
        let data: Vec<u8> = (0..w * h * 3).map(|i| ((i * 7919) % 251) as u8).collect();
        let img = Rgb8 {
            width: w,
            height: h,
            data,
        };
        let mut out = vec![0u8; (s * s * 3) as usize];
        CenterCrop::new(s).run(&img, &mut out).unwrap();

        let g = geometry(w, h, s);
        let src = fr::images::ImageRef::new(w, h, &img.data, fr::PixelType::U8x3).unwrap();
        let mut full =
            fr::images::Image::new(g.resized_width, g.resized_height, fr::PixelType::U8x3);
        let opts = fr::ResizeOptions::new()
            .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear));
        fr::Resizer::new().resize(&src, &mut full, &opts).unwrap();
        let rw = g.resized_width as usize;
        let mut max_diff = 0;
        for y in 0..s as usize {
            for x in 0..s as usize {
                for c in 0..3 {
                    let a = out[(y * s as usize + x) * 3 + c] as i32;
                    let b = full.buffer()
                        [((y + g.crop_top as usize) * rw + x + g.crop_left as usize) * 3 + c]
                        as i32;
                    max_diff = max_diff.max((a - b).abs());
                }
            }
        }
        // Identical up to fixed-point rounding.
        assert!(max_diff <= 1, "max diff {max_diff}");
    }
}
