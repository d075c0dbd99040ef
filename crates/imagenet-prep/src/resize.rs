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
use crate::jpeg::{self, Planes, color};
use crate::resample::{Axis, PlaneRef, PlaneResizer};

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
    /// The planar resizer's reusable buffers.
    planar: PlaneResizer,
    /// Resized Y, Cb, Cr (or grey) planes before colour conversion.
    resized: [Vec<u8>; 3],
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
            planar: PlaneResizer::default(),
            resized: [vec![0; n], vec![0; n], vec![0; n]],
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
    /// Each plane is resized on its own, at its own resolution: chroma
    /// samples count for the luma pixels they cover (repeated, not
    /// interpolated) through the resampling weights, and colour
    /// conversion runs on the S×S result only.
    pub fn run_planes(&mut self, planes: &Planes, out: &mut [u8]) -> Result<(), String> {
        let s = self.size as usize;
        if out.len() != 3 * s * s {
            return Err("bad output size".into());
        }
        let g = geometry(planes.width, planes.height, self.size);
        let fx = planes.width as f64 / g.resized_width as f64;
        let fy = planes.height as f64 / g.resized_height as f64;
        if !matches!(planes.planes.len(), 1 | 3) {
            return Err("expected one or three planes".into());
        }
        let y = &planes.planes[0];
        if y.width == 0 || y.height == 0 || y.scale_x != 1.0 || y.scale_y != 1.0 {
            return Err("luma plane is empty or subsampled".into());
        }
        // The crop's pre-image, in pixels of the luma plane's valid region.
        let x0 = g.crop_left as f64 * fx - y.left as f64;
        let y0 = g.crop_top as f64 * fy - y.top as f64;
        let [ry, rcb, rcr] = &mut self.resized;
        for (plane, dst) in planes.planes.iter().zip([ry, rcb, rcr]) {
            if plane.width == 0 || plane.height == 0 {
                return Err("empty plane".into());
            }
            // Each luma pixel reads the sample of this plane covering it
            // (itself, for luma), clamped to what was decoded: the region's
            // margin is never weighted.
            let x = Axis {
                len: y.width,
                span: [x0, x0 + s as f64 * fx],
                offset: y.left,
                scale: plane.scale_x,
                first: plane.left,
                count: plane.width,
            };
            let yy = Axis {
                len: y.height,
                span: [y0, y0 + s as f64 * fy],
                offset: y.top,
                scale: plane.scale_y,
                first: plane.top,
                count: plane.height,
            };
            let src = PlaneRef {
                data: &plane.data,
                stride: plane.stride,
            };
            self.planar.resize(&src, x, yy, s, &mut dst[..s * s])?;
        }
        let [ry, rcb, rcr] = &self.resized;
        if planes.planes.len() == 1 {
            color::grey_to_rgb(&ry[..s * s], out);
        } else {
            color::ycbcr_to_rgb(&ry[..s * s], &rcb[..s * s], &rcr[..s * s], out);
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
