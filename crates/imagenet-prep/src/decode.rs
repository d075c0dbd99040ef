//! Decoding image bytes to RGB8, by content (magic bytes), never by name.
//!
//! JPEG goes straight through zune-jpeg into RGB (greyscale, progressive,
//! CMYK and Adobe YCCK included); PNG through the `image` crate. The pixel
//! count is read from the header and checked against a limit before any
//! pixel is decoded, so a decompression bomb costs nothing.

use std::io::Cursor;

use image::ImageDecoder;
use zune_core::bytestream::ZCursor;
use zune_core::colorspace::ColorSpace;
use zune_core::options::DecoderOptions;

/// Default pixel-count limit: 100 megapixels (the largest ILSVRC-2012
/// training image has under 20).
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;

/// An interleaved RGB8 image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb8 {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width × height × 3` bytes, row-major.
    pub data: Vec<u8>,
}

/// Image formats we decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JPEG (`FF D8 FF`).
    Jpeg,
    /// PNG (`89 'PNG' 0D 0A 1A 0A`).
    Png,
}

/// Why one image could not be decoded. These never stop a run: the image
/// is reported (and, with `skip_bad`, listed in the manifest).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The file is empty.
    #[error("empty file")]
    Empty,
    /// Neither JPEG nor PNG magic bytes.
    #[error("not a JPEG or PNG image (starts with {0})")]
    UnknownFormat(String),
    /// More pixels than the configured limit (possible decompression bomb).
    #[error("{width}x{height} = {pixels} pixels exceeds the limit of {limit} pixels")]
    TooManyPixels {
        /// Width from the header.
        width: u64,
        /// Height from the header.
        height: u64,
        /// width × height.
        pixels: u64,
        /// The limit.
        limit: u64,
    },
    /// The decoder failed.
    #[error("cannot decode {}: {detail}", .format.name())]
    Corrupt {
        /// The detected format.
        format: Format,
        /// The decoder's message.
        detail: String,
    },
}

impl Format {
    /// `JPEG` or `PNG`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "JPEG",
            Format::Png => "PNG",
        }
    }
}

/// The format of `bytes`, from its magic number.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else {
        None
    }
}

/// Decodes `bytes` to RGB8, refusing images of more than `max_pixels`.
pub fn decode_rgb(bytes: &[u8], max_pixels: u64) -> Result<Rgb8, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let format = sniff(bytes).ok_or_else(|| {
        DecodeError::UnknownFormat(
            bytes
                .iter()
                .take(4)
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(" "),
        )
    })?;
    // Third-party decoders on hostile input: a panic becomes a rejection
    // of this one file, not the end of a multi-hour run.
    let result = std::panic::catch_unwind(|| match format {
        Format::Jpeg => decode_jpeg(bytes, max_pixels),
        Format::Png => decode_png(bytes, max_pixels),
    });
    result.unwrap_or_else(|_| {
        Err(DecodeError::Corrupt {
            format,
            detail: "decoder panicked".into(),
        })
    })
}

fn check_pixels(width: u64, height: u64, limit: u64) -> Result<(), DecodeError> {
    let pixels = width.saturating_mul(height);
    if pixels > limit {
        return Err(DecodeError::TooManyPixels {
            width,
            height,
            pixels,
            limit,
        });
    }
    Ok(())
}

fn corrupt(format: Format, detail: impl std::fmt::Display) -> DecodeError {
    // Decoder messages may span lines; a report line should not.
    let detail = detail.to_string();
    DecodeError::Corrupt {
        format,
        detail: detail.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

fn decode_jpeg(bytes: &[u8], max_pixels: u64) -> Result<Rgb8, DecodeError> {
    let options = DecoderOptions::default()
        .set_strict_mode(false)
        .set_max_width(usize::MAX)
        .set_max_height(usize::MAX)
        .jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder
        .decode_headers()
        .map_err(|e| corrupt(Format::Jpeg, format!("{e:?}")))?;
    let (w, h) = decoder
        .dimensions()
        .ok_or_else(|| corrupt(Format::Jpeg, "no frame header"))?;
    check_pixels(w as u64, h as u64, max_pixels)?;
    if w == 0 || h == 0 {
        return Err(corrupt(Format::Jpeg, "zero-sized image"));
    }
    if !has_end_of_image(bytes) {
        return Err(corrupt(
            Format::Jpeg,
            "truncated: no end-of-image marker after the last scan",
        ));
    }
    let data = decoder
        .decode()
        .map_err(|e| corrupt(Format::Jpeg, format!("{e:?}")))?;
    let out = decoder.output_colorspace().unwrap_or(ColorSpace::RGB);
    let data = match out {
        ColorSpace::RGB => data,
        ColorSpace::Luma => data.iter().flat_map(|&v| [v, v, v]).collect(),
        other => {
            return Err(corrupt(
                Format::Jpeg,
                format!("unexpected output colour space {other:?}"),
            ));
        }
    };
    if data.len() != w * h * 3 {
        return Err(corrupt(Format::Jpeg, "decoder returned a short buffer"));
    }
    Ok(Rgb8 {
        width: w as u32,
        height: h as u32,
        data,
    })
}

fn decode_png(bytes: &[u8], max_pixels: u64) -> Result<Rgb8, DecodeError> {
    let decoder = image::codecs::png::PngDecoder::new(Cursor::new(bytes))
        .map_err(|e| corrupt(Format::Png, e))?;
    let (w, h) = decoder.dimensions();
    check_pixels(w as u64, h as u64, max_pixels)?;
    if w == 0 || h == 0 {
        return Err(corrupt(Format::Png, "zero-sized image"));
    }
    let img = image::DynamicImage::from_decoder(decoder).map_err(|e| corrupt(Format::Png, e))?;
    let rgb = img.into_rgb8();
    Ok(Rgb8 {
        width: w,
        height: h,
        data: rgb.into_raw(),
    })
}

/// Whether an end-of-image marker (FF D9) follows the last start-of-scan
/// marker (FF DA). zune-jpeg pads a file cut inside its entropy-coded data
/// with grey and reports no error; Pillow refuses such a file ("image file is
/// truncated"), and so do we. Inside scan data a 0xFF byte is always followed
/// by 0x00 or a restart marker, so neither marker can appear there by chance;
/// searching from the end skips an EXIF thumbnail's own markers, and trailing
/// bytes after the EOI (some cameras add them) are allowed.
fn has_end_of_image(bytes: &[u8]) -> bool {
    let last = |marker: u8| bytes.windows(2).rposition(|w| w == [0xFF, marker]);
    match (last(0xDA), last(0xD9)) {
        (Some(sos), Some(eoi)) => eoi > sos,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(img: image::DynamicImage, format: image::ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    #[test]
    fn decodes_by_content_jpeg_png_grey() {
        let rgb =
            image::RgbImage::from_fn(40, 30, |x, y| image::Rgb([x as u8 * 6, y as u8 * 8, 128]));
        let png = encode(rgb.clone().into(), image::ImageFormat::Png);
        let got = decode_rgb(&png, DEFAULT_MAX_PIXELS).unwrap();
        assert_eq!((got.width, got.height), (40, 30));
        assert_eq!(got.data, rgb.as_raw().as_slice());

        let jpg = encode(rgb.clone().into(), image::ImageFormat::Jpeg);
        let got = decode_rgb(&jpg, DEFAULT_MAX_PIXELS).unwrap();
        assert_eq!(got.data.len(), 40 * 30 * 3);
        let err: f64 = got
            .data
            .iter()
            .zip(rgb.as_raw())
            .map(|(&a, &b)| (a as f64 - b as f64).abs())
            .sum::<f64>()
            / got.data.len() as f64;
        assert!(err < 4.0, "mean abs error {err}");

        let grey = image::GrayImage::from_fn(9, 7, |x, _| image::Luma([x as u8 * 20]));
        let jpg = encode(grey.into(), image::ImageFormat::Jpeg);
        let got = decode_rgb(&jpg, DEFAULT_MAX_PIXELS).unwrap();
        assert_eq!(got.data.len(), 9 * 7 * 3);
        assert!(got.data.chunks(3).all(|p| p[0] == p[1] && p[1] == p[2]));
    }

    #[test]
    fn limit_and_garbage() {
        let rgb = image::RgbImage::new(100, 100);
        let png = encode(rgb.into(), image::ImageFormat::Png);
        assert!(matches!(
            decode_rgb(&png, 9_999),
            Err(DecodeError::TooManyPixels { pixels: 10_000, .. })
        ));
        assert_eq!(decode_rgb(&[], 10), Err(DecodeError::Empty));
        assert!(matches!(
            decode_rgb(b"GIF89a", 10),
            Err(DecodeError::UnknownFormat(_))
        ));
        assert!(matches!(
            decode_rgb(&png[..png.len() / 2], 1 << 20),
            Err(DecodeError::Corrupt { .. })
        ));
        assert!(decode_rgb(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 3], 1 << 20).is_err());
    }

    #[test]
    fn jpeg_cut_inside_its_scan_is_corrupt() {
        let rgb = image::RgbImage::from_fn(64, 48, |x, y| {
            image::Rgb([(x * 4) as u8, (y * 5) as u8, (x ^ y) as u8])
        });
        let jpg = encode(rgb.into(), image::ImageFormat::Jpeg);
        assert!(decode_rgb(&jpg, DEFAULT_MAX_PIXELS).is_ok());
        for percent in [50, 80, 95] {
            let cut = &jpg[..jpg.len() * percent / 100];
            assert!(
                matches!(
                    decode_rgb(cut, DEFAULT_MAX_PIXELS),
                    Err(DecodeError::Corrupt { .. })
                ),
                "a JPEG cut at {percent}% decoded"
            );
        }
        let mut trailing = jpg.clone();
        trailing.extend_from_slice(&[0u8; 16]);
        assert!(decode_rgb(&trailing, DEFAULT_MAX_PIXELS).is_ok());
    }
}
