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

use crate::decode::Rgb8;

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
}

impl CenterCrop {
    /// A resizer producing `size × size` RGB8 images.
    pub fn new(size: u32) -> Self {
        CenterCrop {
            size,
            resizer: fr::Resizer::new(),
        }
    }

    /// Output side.
    pub fn size(&self) -> u32 {
        self.size
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
