//! Turning a painted image into the bytes of one file, normal or odd.

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};

use super::jpeg::{self, Planes};

/// JPEG quality of every synthetic JPEG (ImageNet's are mostly ~90).
const QUALITY: u8 = 90;

/// What kind of file an image was written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum ImageKind {
    /// Baseline YCbCr JPEG (the normal case).
    Rgb,
    /// Greyscale (1-component) JPEG.
    Grey,
    /// 4-component Adobe CMYK JPEG (inverted, as Photoshop writes them).
    Cmyk,
    /// A PNG file named `.JPEG`.
    Png,
    /// A progressive YCbCr JPEG.
    Progressive,
    /// A JPEG cut off in the middle of its entropy-coded data (corrupt).
    Truncated,
    /// A zero-byte file (corrupt).
    Empty,
}

impl ImageKind {
    /// Decodable but unusual: what the real train set also contains.
    pub fn is_oddity(self) -> bool {
        matches!(
            self,
            Self::Grey | Self::Cmyk | Self::Png | Self::Progressive
        )
    }

    /// Not decodable: a correct pipeline reports these.
    pub fn is_corrupt(self) -> bool {
        matches!(self, Self::Truncated | Self::Empty)
    }
}

/// Encodes the RGB image `rgb` (`w × h`) as a file of `kind`.
pub(crate) fn encode_image(
    kind: ImageKind,
    rgb: &[u8],
    w: u32,
    h: u32,
) -> Result<Vec<u8>, image::ImageError> {
    let mut out = Vec::new();
    match kind {
        ImageKind::Rgb => JpegEncoder::new_with_quality(&mut out, QUALITY).encode(
            rgb,
            w,
            h,
            ExtendedColorType::Rgb8,
        )?,
        ImageKind::Grey => {
            let grey: Vec<u8> = rgb
                .chunks_exact(3)
                .map(|p| {
                    (0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32).round() as u8
                })
                .collect();
            JpegEncoder::new_with_quality(&mut out, QUALITY).encode(
                &grey,
                w,
                h,
                ExtendedColorType::L8,
            )?
        }
        ImageKind::Png => {
            PngEncoder::new(&mut out).write_image(rgb, w, h, ExtendedColorType::Rgb8)?
        }
        ImageKind::Cmyk => {
            let planes = jpeg::rgb_to_adobe_cmyk(rgb);
            out = jpeg::encode(
                &planes,
                Planes::AdobeCmyk,
                w as usize,
                h as usize,
                QUALITY,
                false,
            );
        }
        ImageKind::Progressive => {
            let planes = jpeg::rgb_to_ycbcr(rgb);
            out = jpeg::encode(
                &planes,
                Planes::YCbCr,
                w as usize,
                h as usize,
                QUALITY,
                true,
            );
        }
        ImageKind::Truncated => {
            JpegEncoder::new_with_quality(&mut out, QUALITY).encode(
                rgb,
                w,
                h,
                ExtendedColorType::Rgb8,
            )?;
            out.truncate(truncation_point(&out));
        }
        ImageKind::Empty => {}
    }
    Ok(out)
}

/// Where to cut a JPEG so that decoders fail: inside the header segments,
/// just before the start of the scan (some decoders pad a stream that ends
/// inside the entropy-coded data with zeros and report success).
fn truncation_point(jpeg: &[u8]) -> usize {
    let sos = jpeg
        .windows(2)
        .position(|w| w == [0xFF, 0xDA])
        .unwrap_or(jpeg.len() / 2);
    sos.saturating_sub(40).max(2)
}
