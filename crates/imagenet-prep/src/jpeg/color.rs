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

/// Converts Y, Cb and Cr planes (one byte per pixel each) to interleaved
/// RGB; `rgb` holds `3 * pixels` bytes.
pub fn ycbcr_to_rgb(y: &[u8], cb: &[u8], cr: &[u8], rgb: &mut [u8]) {
    let n = y.len().min(cb.len()).min(cr.len()).min(rgb.len() / 3);
    let (y, cb, cr, rgb) = (&y[..n], &cb[..n], &cr[..n], &mut rgb[..3 * n]);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: AVX2 is present (checked just above).
        unsafe { ycbcr_to_rgb_avx2(y, cb, cr, rgb) };
        return;
    }
    ycbcr_to_rgb_portable(y, cb, cr, rgb);
}

/// One pixel as 0x00BBGGRR.
#[inline(always)]
fn convert(y: u8, cb: u8, cr: u8) -> u32 {
    let y = (y as i32) << FRAC;
    let (cb, cr) = (cb as i32 - 128, cr as i32 - 128);
    let r = ((y + CR_R * cr + HALF) >> FRAC).clamp(0, 255) as u32;
    let g = ((y - CB_G * cb - CR_G * cr + HALF) >> FRAC).clamp(0, 255) as u32;
    let b = ((y + CB_B * cb + HALF) >> FRAC).clamp(0, 255) as u32;
    r | g << 8 | b << 16
}

/// Eight pixels per step with the same integer arithmetic as the portable
/// loop (so the results are identical), and a byte shuffle that packs the
/// three bytes of each pixel.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn ycbcr_to_rgb_avx2(y: &[u8], cb: &[u8], cr: &[u8], rgb: &mut [u8]) {
    use std::arch::x86_64::*;
    let n = y.len();
    let bias = _mm256_set1_epi32(128);
    let half = _mm256_set1_epi32(HALF);
    let (cr_r, cb_g) = (_mm256_set1_epi32(CR_R), _mm256_set1_epi32(CB_G));
    let (cr_g, cb_b) = (_mm256_set1_epi32(CR_G), _mm256_set1_epi32(CB_B));
    let (lo, hi) = (_mm256_setzero_si256(), _mm256_set1_epi32(255));
    // Per 128-bit lane: bytes 0-2, 4-6, 8-10, 12-14, then zeros.
    let drop_pad = _mm256_setr_epi8(
        0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, -1, -1, -1, -1, 0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13,
        14, -1, -1, -1, -1,
    );
    let mut i = 0;
    // Each step stores 28 bytes for 24 of output; the 4 extra are the next
    // step's (or the tail's) to overwrite.
    while i + 8 <= n && 3 * i + 28 <= rgb.len() {
        // SAFETY: i + 8 <= n (the length of all three planes) and
        // 3 * i + 28 <= rgb.len() (loop condition): every access is in bounds.
        unsafe {
            let load = |p: &[u8]| {
                _mm256_cvtepu8_epi32(_mm_loadl_epi64(p.as_ptr().add(i) as *const __m128i))
            };
            let yy = _mm256_slli_epi32(load(y), FRAC);
            let cb = _mm256_sub_epi32(load(cb), bias);
            let cr = _mm256_sub_epi32(load(cr), bias);
            let clamp = |v: __m256i| _mm256_min_epi32(_mm256_max_epi32(v, lo), hi);
            let r = _mm256_add_epi32(_mm256_add_epi32(yy, _mm256_mullo_epi32(cr_r, cr)), half);
            let g = _mm256_sub_epi32(
                _mm256_sub_epi32(yy, _mm256_mullo_epi32(cb_g, cb)),
                _mm256_mullo_epi32(cr_g, cr),
            );
            let g = _mm256_add_epi32(g, half);
            let b = _mm256_add_epi32(_mm256_add_epi32(yy, _mm256_mullo_epi32(cb_b, cb)), half);
            let r = clamp(_mm256_srai_epi32(r, FRAC));
            let g = clamp(_mm256_srai_epi32(g, FRAC));
            let b = clamp(_mm256_srai_epi32(b, FRAC));
            let words = _mm256_or_si256(
                r,
                _mm256_or_si256(_mm256_slli_epi32(g, 8), _mm256_slli_epi32(b, 16)),
            );
            let packed = _mm256_shuffle_epi8(words, drop_pad);
            let out = rgb.as_mut_ptr().add(3 * i);
            _mm_storeu_si128(out as *mut __m128i, _mm256_castsi256_si128(packed));
            _mm_storeu_si128(
                out.add(12) as *mut __m128i,
                _mm256_extracti128_si256(packed, 1),
            );
        }
        i += 8;
    }
    ycbcr_to_rgb_portable(&y[i..], &cb[i..], &cr[i..], &mut rgb[3 * i..]);
}

#[inline(always)]
fn ycbcr_to_rgb_portable(y: &[u8], cb: &[u8], cr: &[u8], rgb: &mut [u8]) {
    for (((out, &y), &cb), &cr) in rgb.chunks_exact_mut(3).zip(y).zip(cb).zip(cr) {
        out.copy_from_slice(&convert(y, cb, cr).to_le_bytes()[..3]);
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
            ycbcr_to_rgb(&[y], &[cb], &[cr], &mut rgb);
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
        ycbcr_to_rgb(&[76], &[85], &[255], &mut rgb);
        assert!(rgb[0] >= 253 && rgb[1] <= 2 && rgb[2] <= 2, "{rgb:?}");
    }

    #[test]
    fn every_length_and_both_code_paths_agree() {
        let n = 64 * 3 + 5;
        let plane =
            |seed: usize| -> Vec<u8> { (0..n).map(|i| ((i + seed) * 7919 % 256) as u8).collect() };
        let (y, cb, cr) = (plane(0), plane(1), plane(2));
        let mut one = vec![0u8; 3 * n];
        ycbcr_to_rgb(&y, &cb, &cr, &mut one);
        let mut each = vec![0u8; 3 * n];
        for (i, out) in each.chunks_mut(3).enumerate() {
            ycbcr_to_rgb_portable(&y[i..=i], &cb[i..=i], &cr[i..=i], out);
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
