//! A fast path for sequential 8-bit JPEGs (nearly all of ImageNet): decode
//! only what a centre crop reads, and leave colour to after the resize.
//!
//! [`decode_planes`] entropy-decodes the scan (which must be read in order)
//! but runs the inverse DCT only for blocks inside the region the resize
//! will read, stops after the last MCU row that region needs, and returns
//! each component as its own plane at its own resolution: chroma is neither
//! upsampled nor colour-converted at full size. The caller resizes the
//! planes and converts the 256×256 result to RGB (see
//! [`crate::resize::CenterCrop`]).
//!
//! Anything it does not handle (progressive, arithmetic coding, 12-bit,
//! CMYK/YCCK, RGB-coded, several scans, odd sampling ratios) and anything
//! malformed yields `None`: the general decoder then decodes the file and
//! owns the error message.

pub mod color;
mod headers;
mod huffman;
mod idct;

pub(crate) use headers::ZIGZAG;
use headers::{Header, Parsed};
use huffman::{BitReader, decode_block};

/// One decoded component, restricted to the block-aligned region needed.
#[derive(Debug, Clone)]
pub struct Plane {
    /// Samples, `stride` per row.
    pub data: Vec<u8>,
    /// Bytes per row (a multiple of 8).
    pub stride: usize,
    /// Valid columns (the rest of each row is block padding).
    pub width: usize,
    /// Valid rows.
    pub height: usize,
    /// Column of the component's full plane where this one starts.
    pub left: usize,
    /// Row of the component's full plane where this one starts.
    pub top: usize,
    /// Component samples per image pixel, horizontally (`h / h_max`).
    pub scale_x: f64,
    /// Component samples per image pixel, vertically (`v / v_max`).
    pub scale_y: f64,
}

/// The decoded planes of one image: Y alone (greyscale) or Y, Cb, Cr.
#[derive(Debug, Clone)]
pub struct Planes {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// One plane per component, in frame order.
    pub planes: Vec<Plane>,
}

/// A rectangle in image pixel coordinates: left, top, right, bottom.
pub type Region = [f64; 4];

/// Buffers [`decode_planes_with`] reuses from one image to the next (keep
/// one per worker thread).
#[derive(Debug, Default)]
pub struct Scratch {
    unstuffed: Vec<u8>,
    segments: Vec<std::ops::Range<usize>>,
    spare: Vec<Vec<u8>>,
}

impl Scratch {
    /// Takes back the sample buffers of planes no longer needed.
    pub fn recycle(&mut self, planes: Planes) {
        self.spare.extend(planes.planes.into_iter().map(|p| p.data));
    }
}

/// Decodes `bytes` to planes if the fast path supports the file and it is
/// well formed; `region(width, height)` names the pixels that will be
/// read (already widened by the resampling filter's support). `None` also
/// when the image has more than `max_pixels` pixels.
pub fn decode_planes(
    bytes: &[u8],
    max_pixels: u64,
    region: impl FnOnce(u32, u32) -> Region,
) -> Option<Planes> {
    decode_planes_with(&mut Scratch::default(), bytes, max_pixels, region)
}

/// [`decode_planes`] with buffers from `scratch`.
pub fn decode_planes_with(
    scratch: &mut Scratch,
    bytes: &[u8],
    max_pixels: u64,
    region: impl FnOnce(u32, u32) -> Region,
) -> Option<Planes> {
    let Parsed::Supported(header) = headers::parse(bytes) else {
        return None;
    };
    if (header.width as u64).saturating_mul(header.height as u64) > max_pixels {
        return None;
    }
    let ended = unstuff(
        bytes.get(header.scan_start..)?,
        &mut scratch.unstuffed,
        &mut scratch.segments,
    );
    // A file cut short (no end-of-image marker after its scan) is the
    // general decoder's to refuse, with its message.
    if !ended {
        return None;
    }
    let region = region(header.width as u32, header.height as u32);
    decode_scan(
        &header,
        &scratch.unstuffed,
        &scratch.segments,
        &mut scratch.spare,
        region,
    )
}

/// Removes byte stuffing (`FF 00` → `FF`) from the entropy-coded data,
/// splitting it at restart markers (`segments`, ranges of `out`); stops at
/// any other marker. Returns whether that marker is end-of-image.
fn unstuff(scan: &[u8], out: &mut Vec<u8>, segments: &mut Vec<std::ops::Range<usize>>) -> bool {
    out.clear();
    out.reserve(scan.len());
    segments.clear();
    let mut start = 0;
    let mut i = 0;
    let mut ended = false;
    while let Some(off) = memchr::memchr(0xFF, &scan[i..]) {
        out.extend_from_slice(&scan[i..i + off]);
        let mut j = i + off + 1;
        while scan.get(j) == Some(&0xFF) {
            j += 1;
        }
        match scan.get(j) {
            Some(0x00) => out.push(0xFF),
            Some(0xD0..=0xD7) => {
                segments.push(start..out.len());
                start = out.len();
            }
            other => {
                ended = other == Some(&0xD9);
                i = scan.len();
                break;
            }
        }
        i = j + 1;
    }
    out.extend_from_slice(&scan[i.min(scan.len())..]);
    segments.push(start..out.len());
    ended
}

/// Per-component layout of the scan and of the plane being filled.
struct Layout {
    /// Blocks per MCU, horizontally and vertically.
    h: usize,
    v: usize,
    /// Needed block columns and rows (half-open).
    bx: (usize, usize),
    by: (usize, usize),
}

fn decode_scan(
    header: &Header,
    data: &[u8],
    segments: &[std::ops::Range<usize>],
    spare: &mut Vec<Vec<u8>>,
    region: Region,
) -> Option<Planes> {
    let (w, h) = (header.width, header.height);
    let comps = &header.components;
    // A single-component scan is not interleaved: one block per MCU,
    // whatever the sampling factors say (T.81 A.2.2).
    let interleaved = comps.len() > 1;
    let h_max = comps.iter().map(|c| c.h).max()?;
    let v_max = comps.iter().map(|c| c.v).max()?;
    let (mcu_w, mcu_h) = if interleaved {
        (8 * h_max, 8 * v_max)
    } else {
        (8, 8)
    };
    let mcus_x = w.div_ceil(mcu_w);
    let mcus_y = h.div_ceil(mcu_h);
    // Every block takes at least two bits (a DC code and an end-of-block
    // code): a header promising more blocks than that is refused before any
    // plane is allocated.
    let blocks_per_mcu: usize = if interleaved {
        comps.iter().map(|c| c.h * c.v).sum()
    } else {
        1
    };
    if (mcus_x * mcus_y).saturating_mul(blocks_per_mcu) > data.len().saturating_mul(4) {
        return None;
    }

    let mut layouts = Vec::with_capacity(comps.len());
    let mut planes = Vec::with_capacity(comps.len());
    for c in comps {
        let (ch, cv) = if interleaved { (c.h, c.v) } else { (1, 1) };
        let (sx, sy) = if interleaved {
            (c.h as f64 / h_max as f64, c.v as f64 / v_max as f64)
        } else {
            (1.0, 1.0)
        };
        // Component size (T.81 A.1.1).
        let cw = (w * c.h).div_ceil(h_max);
        let chh = (h * c.v).div_ceil(v_max);
        let span = |lo: f64, hi: f64, scale: f64, blocks: usize, size: usize| {
            let lo = ((lo * scale).floor().max(0.0) as usize / 8).min(blocks);
            let hi = (((hi * scale).ceil().max(0.0) as usize).min(size)).div_ceil(8);
            (lo, hi.clamp(lo, blocks))
        };
        let bx = span(region[0], region[2], sx, mcus_x * ch, cw);
        let by = span(region[1], region[3], sy, mcus_y * cv, chh);
        let stride = (bx.1 - bx.0) * 8;
        let rows = (by.1 - by.0) * 8;
        // Every byte is written by an inverse DCT before it is read (the
        // region is whole blocks, all decoded), so old contents may stay.
        let mut data = spare.pop().unwrap_or_default();
        data.resize(stride * rows, 0);
        planes.push(Plane {
            data,
            stride,
            width: cw.min(bx.1 * 8).saturating_sub(bx.0 * 8),
            height: chh.min(by.1 * 8).saturating_sub(by.0 * 8),
            left: bx.0 * 8,
            top: by.0 * 8,
            scale_x: sx,
            scale_y: sy,
        });
        layouts.push(Layout {
            h: ch,
            v: cv,
            bx,
            by,
        });
    }
    // MCU rows past the last one any plane needs are never decoded.
    let rows_needed = layouts
        .iter()
        .map(|l| l.by.1.div_ceil(l.v))
        .max()?
        .min(mcus_y);

    let tables: Vec<_> = comps
        .iter()
        .map(|c| {
            Some((
                header.dc_tables[c.dc].as_ref()?,
                header.ac_tables[c.ac].as_ref()?,
            ))
        })
        .collect::<Option<_>>()?;
    let mut segments = segments.iter();
    let mut bits = BitReader::new(data.get(segments.next()?.clone())?);
    let mut preds = [0i32; 3];
    let mut block = [0i32; 64];
    let restart = header.restart_interval;
    let mut mcu = 0usize;
    for my in 0..rows_needed {
        // A header promising far more image than the data holds ends here,
        // not after decoding millions of blocks of zero bits.
        if bits.overrun() {
            return None;
        }
        for mx in 0..mcus_x {
            if restart > 0 && mcu > 0 && mcu.is_multiple_of(restart) {
                if bits.overrun() {
                    return None;
                }
                bits = BitReader::new(data.get(segments.next()?.clone())?);
                preds = [0; 3];
            }
            mcu += 1;
            for (ci, ((c, l), plane)) in comps.iter().zip(&layouts).zip(&mut planes).enumerate() {
                let (dc, ac) = tables[ci];
                for v in 0..l.v {
                    let gy = my * l.v + v;
                    for u in 0..l.h {
                        let gx = mx * l.h + u;
                        let p = &mut preds[ci];
                        if !((l.bx.0..l.bx.1).contains(&gx) && (l.by.0..l.by.1).contains(&gy)) {
                            decode_block::<false>(&mut bits, dc, ac, &c.quant, p, &mut block)
                                .ok()?;
                            continue;
                        }
                        let end = decode_block::<true>(&mut bits, dc, ac, &c.quant, p, &mut block)
                            .ok()?;
                        let at = (gy - l.by.0) * 8 * plane.stride + (gx - l.bx.0) * 8;
                        let out = &mut plane.data[at..];
                        if end == 1 {
                            idct::idct_dc_only(block[0], out, plane.stride);
                            block[0] = 0;
                        } else {
                            idct::idct_block(&block, out, plane.stride);
                            block = [0; 64];
                        }
                    }
                }
            }
        }
    }
    if bits.overrun() {
        return None;
    }
    Some(Planes {
        width: w as u32,
        height: h as u32,
        planes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{DEFAULT_MAX_PIXELS, decode_rgb};
    use crate::resize::CenterCrop;
    use crate::synth::jpeg::{Planes as Model, encode, encode_with_restarts, rgb_to_ycbcr};

    /// A smooth colourful picture with one sharp edge.
    fn picture(w: usize, h: usize) -> Vec<u8> {
        let mut rgb = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                let edge = if x > w / 2 { 90 } else { 0 };
                rgb.push(((x * 255) / w.max(1)) as u8);
                rgb.push(((y * 255) / h.max(1)) as u8 / 2 + edge as u8);
                rgb.push((((x + y) * 97) % 256) as u8 / 3 + 60);
            }
        }
        rgb
    }

    fn image_crate_jpeg(rgb: &[u8], w: usize, h: usize, grey: bool) -> Vec<u8> {
        use image::ImageEncoder;
        let mut out = Vec::new();
        let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90);
        if grey {
            let luma: Vec<u8> = rgb.chunks(3).map(|p| p[1]).collect();
            enc.write_image(&luma, w as u32, h as u32, image::ExtendedColorType::L8)
        } else {
            enc.write_image(rgb, w as u32, h as u32, image::ExtendedColorType::Rgb8)
        }
        .unwrap();
        out
    }

    /// (max, mean) absolute difference of the fast path against the
    /// general decoder + RGB resize, at output side `s`.
    fn fast_vs_general(bytes: &[u8], s: u32) -> (i32, f64) {
        assert!(
            decode_planes(bytes, DEFAULT_MAX_PIXELS, |_, _| [0.0; 4]).is_some(),
            "the fast path declined the file"
        );
        let mut crop = CenterCrop::new(s);
        let n = (s * s * 3) as usize;
        let (mut fast, mut general) = (vec![0; n], vec![0; n]);
        crop.decode_into(bytes, DEFAULT_MAX_PIXELS, &mut fast)
            .unwrap();
        let img = decode_rgb(bytes, DEFAULT_MAX_PIXELS).unwrap();
        crop.run(&img, &mut general).unwrap();
        let d: Vec<i32> = fast
            .iter()
            .zip(&general)
            .map(|(&a, &b)| (a as i32 - b as i32).abs())
            .collect();
        (
            *d.iter().max().unwrap(),
            d.iter().sum::<i32>() as f64 / n as f64,
        )
    }

    #[test]
    fn full_resolution_chroma_and_grey_match_the_general_decoder() {
        // Odd sizes: partial blocks on both edges; down- and upscaling.
        for (w, h, s) in [(37, 23, 16), (61, 90, 32), (200, 130, 64), (20, 12, 48)] {
            let rgb = picture(w, h);
            let ours = encode(&rgb_to_ycbcr(&rgb), Model::YCbCr, w, h, 90, false);
            let grey = image_crate_jpeg(&rgb, w, h, true);
            for (name, bytes) in [("4:4:4", ours.as_slice()), ("grey", grey.as_slice())] {
                let bytes: &[u8] = bytes;
                // IDCT rounding (both ±1) differs, and colour is converted
                // after the resize, so values clipped at 0 or 255 are
                // clipped after interpolation instead of before.
                let (max, mean) = fast_vs_general(bytes, s);
                assert!(
                    max <= 8 && mean < 1.0,
                    "{name} {w}x{h}→{s}: max {max} mean {mean}"
                );
            }
        }
    }

    #[test]
    fn subsampled_chroma_stays_close_to_the_general_decoder() {
        // The image crate writes 4:2:2 with the standard Huffman tables. The
        // fast path repeats chroma samples where libjpeg-style decoders
        // interpolate them, so colour edges may differ by a few levels.
        for (w, h, s) in [(37, 23, 16), (200, 130, 64), (99, 160, 48)] {
            let bytes = image_crate_jpeg(&picture(w, h), w, h, false);
            let (max, mean) = fast_vs_general(&bytes, s);
            assert!(
                max <= 40 && mean < 1.5,
                "{w}x{h}→{s}: max {max} mean {mean}"
            );
        }
    }

    #[test]
    fn restart_intervals_decode_like_one_segment() {
        let (w, h) = (83, 45);
        let planes = rgb_to_ycbcr(&picture(w, h));
        let plain = encode(&planes, Model::YCbCr, w, h, 85, false);
        let everything = |_, _| [-1e9, -1e9, 1e9, 1e9];
        let want = decode_planes(&plain, DEFAULT_MAX_PIXELS, everything).unwrap();
        for interval in [1, 3, 7, 11, 1000] {
            let bytes = encode_with_restarts(&planes, w, h, 85, interval);
            let got = decode_planes(&bytes, DEFAULT_MAX_PIXELS, everything)
                .unwrap_or_else(|| panic!("interval {interval} declined"));
            for (a, b) in got.planes.iter().zip(&want.planes) {
                assert_eq!(a.data, b.data, "interval {interval}");
            }
        }
        // A missing restart marker is refused, not misdecoded.
        let bytes = encode_with_restarts(&planes, w, h, 85, 3);
        let rst = bytes.windows(2).position(|p| p == [0xFF, 0xD1]).unwrap();
        let mut cut = bytes[..rst].to_vec();
        cut.extend_from_slice(&bytes[rst + 2..]);
        assert!(decode_planes(&cut, DEFAULT_MAX_PIXELS, everything).is_none());
    }

    #[test]
    fn declines_what_the_general_decoder_owns() {
        let (w, h) = (30, 20);
        let rgb = picture(w, h);
        let progressive = encode(&rgb_to_ycbcr(&rgb), Model::YCbCr, w, h, 90, true);
        let cmyk = encode(
            &crate::synth::jpeg::rgb_to_adobe_cmyk(&rgb),
            Model::AdobeCmyk,
            w,
            h,
            90,
            false,
        );
        for bytes in [progressive.as_slice(), cmyk.as_slice()] {
            assert!(decode_planes(bytes, DEFAULT_MAX_PIXELS, |_, _| [0.0; 4]).is_none());
            // ...and the crop still comes out, through the general decoder.
            let mut out = vec![0; 16 * 16 * 3];
            CenterCrop::new(16)
                .decode_into(bytes, DEFAULT_MAX_PIXELS, &mut out)
                .unwrap();
        }
        let sequential = encode(&rgb_to_ycbcr(&rgb), Model::YCbCr, w, h, 90, false);
        assert!(
            decode_planes(&sequential, 599, |_, _| [0.0; 4]).is_none(),
            "pixel limit"
        );
    }

    #[test]
    fn only_the_region_is_transformed() {
        let (w, h) = (160, 48);
        let planes = rgb_to_ycbcr(&picture(w, h));
        let bytes = encode(&planes, Model::YCbCr, w, h, 90, false);
        let got =
            decode_planes(&bytes, DEFAULT_MAX_PIXELS, |_, _| [50.0, 10.0, 90.0, 20.0]).unwrap();
        let y = &got.planes[0];
        // Block columns 6..12 and rows 1..3, i.e. pixels 48..96 × 8..24.
        assert_eq!((y.left, y.top, y.width, y.height), (48, 8, 48, 16));
        // Same samples as a full decode at the same place.
        let all = decode_planes(&bytes, DEFAULT_MAX_PIXELS, |_, _| [0.0, 0.0, 1e9, 1e9]).unwrap();
        let full = &all.planes[0];
        for r in 0..16 {
            assert_eq!(
                y.data[r * y.stride..][..48],
                full.data[(r + 8) * full.stride + 48..][..48]
            );
        }
    }

    #[test]
    fn a_header_promising_more_than_the_data_is_declined() {
        let (w, h) = (24, 16);
        let mut bytes = encode(&rgb_to_ycbcr(&picture(w, h)), Model::YCbCr, w, h, 90, false);
        // Claim 8000x8000 (64 megapixels, under the limit) in the frame header.
        let sof = bytes.windows(2).position(|p| p == [0xFF, 0xC0]).unwrap();
        bytes[sof + 5..sof + 9].copy_from_slice(&[0x1F, 0x40, 0x1F, 0x40]);
        assert!(
            decode_planes(&bytes, DEFAULT_MAX_PIXELS, |w, h| [
                0.0, 0.0, w as f64, h as f64
            ])
            .is_none()
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
        /// Damaged files (bytes overwritten anywhere) never panic the fast
        /// path, and whatever it returns has the header's size.
        #[test]
        fn damaged_files_never_panic(edits in proptest::collection::vec((0usize..4000, proptest::prelude::any::<u8>()), 1..8)) {
            let (w, h) = (41, 29);
            let mut bytes = image_crate_jpeg(&picture(w, h), w, h, false);
            for (at, v) in edits {
                let at = at % bytes.len();
                bytes[at] = v;
            }
            if let Some(p) = decode_planes(&bytes, DEFAULT_MAX_PIXELS, |w, h| [0.0, 0.0, w as f64, h as f64]) {
                for plane in &p.planes {
                    proptest::prop_assert!(plane.data.len() >= plane.stride * plane.height);
                }
                let mut out = vec![0; 8 * 8 * 3];
                let _ = CenterCrop::new(8).run_planes(&p, &mut out);
            }
        }

        /// Arbitrary bytes behind a JPEG signature never panic it either.
        #[test]
        fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
            let mut bytes = vec![0xFF, 0xD8, 0xFF];
            bytes.extend(tail);
            let _ = decode_planes(&bytes, DEFAULT_MAX_PIXELS, |_, _| [0.0; 4]);
        }
    }

    #[test]
    fn unstuff_removes_stuffing_and_splits_at_restarts() {
        let scan = [
            1, 0xFF, 0x00, 2, 0xFF, 0xD0, 3, 0xFF, 0xFF, 0xD1, 4, 0xFF, 0xD9, 9,
        ];
        let run = |scan: &[u8]| {
            let (mut data, mut segs) = (vec![42], vec![7..9, 1..2]);
            let ended = unstuff(scan, &mut data, &mut segs);
            (data, segs, ended)
        };
        assert_eq!(
            run(&scan),
            (vec![1, 0xFF, 2, 3, 4], vec![0..3, 3..4, 4..5], true)
        );
        // Cut short: no marker at all, or a lone FF at the end.
        let one = |r: std::ops::Range<usize>| vec![r];
        assert_eq!(run(&[5, 6]), (vec![5, 6], one(0..2), false));
        assert_eq!(run(&[5, 0xFF]), (vec![5], one(0..1), false));
        // Another marker (a second scan, say) is not the end of the image.
        assert!(!run(&[5, 0xFF, 0xDA, 0, 0]).2);
    }
}
