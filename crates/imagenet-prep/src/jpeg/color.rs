//! YCbCr → RGB (JFIF, ITU-T T.871 §7), applied after resizing so that it
//! runs on 256×256 pixels instead of the full image.

/// Fixed-point fraction bits: 16, as in libjpeg's `jdcolor.c`, which keeps
/// every product below 2^31 for 8-bit inputs.
const FRAC: i32 = 16;
const HALF: i32 = 1 << (FRAC - 1);

const fn fixed(x: f64) -> i32 {
    (x * (1 << FRAC) as f64 + 0.5) as i32
}

// T.871: R = Y + 1.402 Cr', G = Y − 0.344136 Cb' − 0.714136 Cr', B = Y + 1.772 Cb'.
const CR_R: i32 = fixed(1.402);
const CB_G: i32 = fixed(0.344_136_286);
const CR_G: i32 = fixed(0.714_136_286);
const CB_B: i32 = fixed(1.772);

/// Converts Y Cb Cr x pixels (four bytes each, the fourth ignored) to
/// interleaved RGB (`rgb.len() == 3 * pixels`).
pub fn ycbcrx_to_rgb(ycbcrx: &[u8], rgb: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        unsafe { ycbcrx_to_rgb_avx2(ycbcrx, rgb) };
        return;
    }
    ycbcrx_to_rgb_portable(ycbcrx, rgb);
}

/// The same loop compiled with AVX2 enabled, so that it vectorises 8 pixels
/// at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn ycbcrx_to_rgb_avx2(ycbcrx: &[u8], rgb: &mut [u8]) {
    ycbcrx_to_rgb_portable(ycbcrx, rgb);
}

#[inline(always)]
fn ycbcrx_to_rgb_portable(ycbcrx: &[u8], rgb: &mut [u8]) {
    // Convert in chunks: a vectorisable pass into packed 0x00BBGGRR words,
    // then 3 bytes of each word to the output.
    const CHUNK: usize = 64;
    let mut words = [0u32; CHUNK];
    for (src, dst) in ycbcrx.chunks(4 * CHUNK).zip(rgb.chunks_mut(3 * CHUNK)) {
        let n = (src.len() / 4).min(dst.len() / 3);
        for (w, px) in words.iter_mut().zip(src.chunks_exact(4)) {
            let y = (px[0] as i32) << FRAC;
            let (cb, cr) = (px[1] as i32 - 128, px[2] as i32 - 128);
            let r = ((y + CR_R * cr + HALF) >> FRAC).clamp(0, 255) as u32;
            let g = ((y - CB_G * cb - CR_G * cr + HALF) >> FRAC).clamp(0, 255) as u32;
            let b = ((y + CB_B * cb + HALF) >> FRAC).clamp(0, 255) as u32;
            *w = r | g << 8 | b << 16;
        }
        for (out, w) in dst[..3 * n].chunks_exact_mut(3).zip(&words) {
            out.copy_from_slice(&w.to_le_bytes()[..3]);
        }
    }
}

/// Writes each grey level three times.
pub fn grey_to_rgb(y: &[u8], rgb: &mut [u8]) {
    for (px, &v) in rgb.chunks_exact_mut(3).zip(y) {
        px.fill(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_jfif_formulas() {
        for (y, cb, cr) in [
            (0u8, 128u8, 128u8),
            (255, 128, 128),
            (76, 85, 255),
            (150, 44, 21),
            (29, 255, 107),
        ] {
            let mut rgb = [0u8; 3];
            ycbcrx_to_rgb(&[y, cb, cr, 0], &mut rgb);
            let (yf, cbf, crf) = (y as f64, cb as f64 - 128.0, cr as f64 - 128.0);
            let want = [
                yf + 1.402 * crf,
                yf - 0.344136 * cbf - 0.714136 * crf,
                yf + 1.772 * cbf,
            ];
            for c in 0..3 {
                let w = want[c].round().clamp(0.0, 255.0);
                assert!(
                    (rgb[c] as f64 - w).abs() <= 1.0,
                    "{y} {cb} {cr}: {rgb:?} vs {want:?}"
                );
            }
        }
        // Pure red in, pure red out.
        let mut rgb = [0u8; 3];
        ycbcrx_to_rgb(&[76, 85, 255, 9], &mut rgb);
        assert!(rgb[0] >= 253 && rgb[1] <= 2 && rgb[2] <= 2, "{rgb:?}");
    }

    #[test]
    fn every_length_and_both_code_paths_agree() {
        let n = 64 * 3 + 5;
        let src: Vec<u8> = (0..4 * n).map(|i| (i * 7919 % 256) as u8).collect();
        let mut one = vec![0u8; 3 * n];
        ycbcrx_to_rgb(&src, &mut one);
        let mut each = vec![0u8; 3 * n];
        for (px, out) in src.chunks(4).zip(each.chunks_mut(3)) {
            ycbcrx_to_rgb_portable(px, out);
        }
        assert_eq!(one, each);
    }

    #[test]
    fn grey_replicates() {
        let mut rgb = [0u8; 6];
        grey_to_rgb(&[7, 200], &mut rgb);
        assert_eq!(rgb, [7, 7, 7, 200, 200, 200]);
    }
}
