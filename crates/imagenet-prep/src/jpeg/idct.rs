//! 8×8 inverse DCT for the JPEG decoder's hot path.
//!
//! Every 8×8 block of every colour component goes through here (about 5,000
//! blocks per ImageNet image), so this is one of the decoder's most expensive
//! steps. The algorithm is the Loeffler–Ligtenberg–Moschytz factorisation in
//! the fixed-point form of the Independent JPEG Group's `jidctint.c` ("islow"):
//! 13-bit multipliers, a column pass that keeps 2 extra fractional bits, and a
//! row pass that descales, level-shifts by +128 and clamps to `0..=255`.
//!
//! Accuracy: every output is within ±1 of the exact (double-precision)
//! inverse DCT, rounded and clamped, for the blocks real 8-bit encoders
//! produce. Those keep every dequantised coefficient within ±1151 (a forward
//! DCT of 8-bit samples stays within ±1024 and rounding to a multiple of the
//! quantiser adds less than 128), inside [`FAST_MAX_ABS`], the largest bound
//! for which no 32-bit intermediate can overflow. A block with any larger
//! coefficient (only hostile or unusual files) is sent to a slower
//! double-precision path instead, so no input overflows, panics or wraps.
//!
//! On x86-64 the fixed-point transform runs in AVX2 registers (eight `i32`
//! lanes, one per column) when the CPU has AVX2; elsewhere a portable version
//! runs the same arithmetic on `[i32; 8]` rows. Both instantiate one generic
//! kernel ([`idct_1d`]), so their outputs are bit-identical.
//!
//! Many blocks of real photographs (most chroma blocks, smooth regions) have
//! all their nonzero coefficients in the top-left 4×4 corner (37% of the
//! blocks 200 ImageNet JPEGs send here). The AVX2 path spots those as a
//! by-product of its range check and runs a reduced transform that skips
//! the products of the zero coefficients, in about 60% of the full one's
//! time. It gives exactly the same bytes: it computes the same `i32` values
//! before every shift, only regrouping sums of wrapping products, which is
//! exact modulo 2^32 (see [`idct_1d_low4`]).

use std::array;

/// Fractional bits of the fixed-point multipliers (IJG `CONST_BITS`).
const CONST_BITS: i32 = 13;
/// Extra fractional bits the column pass keeps for the row pass (IJG `PASS1_BITS`).
const PASS1_BITS: i32 = 2;
/// Right shift that ends the column pass.
const PASS1_SHIFT: i32 = CONST_BITS - PASS1_BITS;
/// Right shift that ends the row pass: the multipliers' scale, the column
/// pass's extra bits, and the 1/8 that the two √8-scaled 1-D passes leave over.
const PASS2_SHIFT: i32 = CONST_BITS + PASS1_BITS + 3;
/// Added before the column pass's shift so that it rounds to nearest.
const PASS1_BIAS: i32 = 1 << (PASS1_SHIFT - 1);
/// Added before the row pass's shift: rounding plus the +128 level shift, so
/// that both cost one addition per block instead of one per output.
const PASS2_BIAS: i32 = (1 << (PASS2_SHIFT - 1)) + (128 << PASS2_SHIFT);

// The multipliers of IJG libjpeg's `jidctint.c`: round(x * 2^13) for the
// named real x, each a sum of √2-scaled cosines of multiples of π/16 (the test
// `multipliers_match_their_cosine_formulas` re-derives every one).
/// √2·cos(6π/16), the even part's rotation.
const FIX_0_541196100: i32 = 4433;
/// √2·(cos(2π/16) − cos(6π/16)).
const FIX_0_765366865: i32 = 6270;
/// √2·(cos(2π/16) + cos(6π/16)).
const FIX_1_847759065: i32 = 15137;
/// √2·cos(3π/16), the odd part's shared rotation.
const FIX_1_175875602: i32 = 9633;
/// √2·(−c1 + c3 + c5 − c7), with ck = cos(kπ/16).
const FIX_0_298631336: i32 = 2446;
/// √2·(c1 + c3 − c5 + c7).
const FIX_2_053119869: i32 = 16819;
/// √2·(c1 + c3 + c5 − c7).
const FIX_3_072711026: i32 = 25172;
/// √2·(c1 + c3 − c5 − c7).
const FIX_1_501321110: i32 = 12299;
/// √2·(c3 − c7).
const FIX_0_899976223: i32 = 7373;
/// √2·(c1 + c3).
const FIX_2_562915447: i32 = 20995;
/// √2·(c3 + c5).
const FIX_1_961570560: i32 = 16069;
/// √2·(c3 − c5).
const FIX_0_390180644: i32 = 3196;

/// Largest |coefficient| the fixed-point path accepts.
///
/// With every coefficient in `-FAST_MAX_ABS..=FAST_MAX_ABS`, no value the
/// kernel shifts right can leave the `i32` range, whatever the signs (the
/// test `fast_range_cannot_overflow` checks the worst case of every output).
/// Intermediate sums may wrap, harmlessly: wrapping addition and
/// multiplication are exact modulo 2^32, so only the shifted values must fit.
const FAST_MAX_ABS: i32 = 1155;

/// Inverse DCT of one dequantized 8x8 block (natural row-major order, coefficient
/// `[u*8+v]` = row frequency u, column frequency v, i.e. already un-zigzagged and
/// multiplied by the quantisation table), level-shifted by +128, rounded and
/// clamped to `0..=255`, written to `out[r * stride + c]` for r, c in `0..8`.
///
/// Within ±1 of the exact transform when every coefficient is within
/// ±[`FAST_MAX_ABS`] (all blocks real 8-bit encoders produce); any other
/// block takes a slower double-precision path that is exact to rounding.
///
/// # Panics
///
/// If `out` is shorter than `7 * stride + 8` bytes.
pub(crate) fn idct_block(coeffs: &[i32; 64], out: &mut [u8], stride: usize) {
    check_out_len(out.len(), stride);
    #[cfg(target_arch = "x86_64")]
    if avx2::available() {
        // SAFETY: the CPU has AVX2 (just checked) and `out` holds 8 rows of
        // 8 bytes at `stride` (checked on entry).
        let done = unsafe { avx2::idct_block::<true>(coeffs, out, stride) };
        if !done {
            idct_exact(coeffs, out, stride);
        }
        return;
    }
    if in_fast_range(coeffs) {
        idct_portable(coeffs, out, stride);
    } else {
        idct_exact(coeffs, out, stride);
    }
}

/// Fills the 8x8 block at `out[r * stride + c]` with the value [`idct_block`]
/// gives for a block whose only nonzero coefficient is the DC term `dc`.
///
/// Decoders call this for the many blocks without AC coefficients: it costs
/// one rounding shift instead of a transform.
///
/// # Panics
///
/// If `out` is shorter than `7 * stride + 8` bytes.
pub(crate) fn idct_dc_only(dc: i32, out: &mut [u8], stride: usize) {
    check_out_len(out.len(), stride);
    // The DC term reaches every output with weight exactly 1/8 in both
    // paths, and both round halves up; i64 keeps `dc + 4` from overflowing.
    let level = ((i64::from(dc) + 4) >> 3) + 128;
    let value = level.clamp(0, 255) as u8;
    for r in 0..8 {
        out[r * stride..][..8].fill(value);
    }
}

/// Panics unless `len` bytes cover 8 rows of 8 bytes spaced `stride` apart.
///
/// This single check is what lets the AVX2 path store without bounds checks.
#[inline]
fn check_out_len(len: usize, stride: usize) {
    let needed = stride.checked_mul(7).and_then(|n| n.checked_add(8));
    assert!(
        needed.is_some_and(|needed| len >= needed),
        "IDCT output of {len} bytes cannot hold 8 rows at stride {stride}"
    );
}

/// Whether every coefficient is within ±[`FAST_MAX_ABS`], so the fixed-point
/// path cannot overflow.
#[inline]
fn in_fast_range(coeffs: &[i32; 64]) -> bool {
    // A max-reduction rather than `all` so that it vectorises (no early exit).
    let largest = coeffs.iter().fold(0, |acc, c| acc.max(c.unsigned_abs()));
    largest <= FAST_MAX_ABS.unsigned_abs()
}

/// Lane-wise wrapping `i32` arithmetic: what [`idct_1d`] needs from a vector
/// of eight lanes, so that one kernel serves the portable and AVX2 paths.
trait Lanes: Copy {
    /// Lane-wise wrapping sum.
    fn plus(self, other: Self) -> Self;
    /// Lane-wise wrapping difference.
    fn minus(self, other: Self) -> Self;
    /// Lane-wise wrapping product with the constant `k`.
    fn scale(self, k: i32) -> Self;
    /// Lane-wise wrapping sum with the constant `k`.
    fn offset(self, k: i32) -> Self;
    /// Lane-wise left shift by `N` bits (wrapping).
    fn shift_left<const N: i32>(self) -> Self;
    /// Lane-wise arithmetic right shift by `N` bits.
    fn shift_right<const N: i32>(self) -> Self;
}

// A column whose coefficients are all zero comes out of the column pass as
// `PASS1_BIAS >> PASS1_SHIFT`. The sparse path relies on that being zero:
// columns 4..8 of a top-left-4×4 block then stay zero, so the row pass sees
// frequencies 4..8 as zero too.
const _: () = assert!(PASS1_BIAS >> PASS1_SHIFT == 0);

/// `odd[0] - z5` per unit of `c1` in [`idct_1d`] when `c5 = c7 = 0`: the
/// `c1` terms of `c1·FIX_1_501321110 + z1 + z4`.
// The reduced kernel only runs on the AVX2 path (and in tests).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const ODD0_C1: i32 = FIX_1_501321110 - FIX_0_899976223 - FIX_0_390180644;
/// `odd[1] - z5` per unit of `c3` in [`idct_1d`] when `c5 = c7 = 0`: the
/// `c3` terms of `c3·FIX_3_072711026 + z2 + z3`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const ODD1_C3: i32 = FIX_3_072711026 - FIX_2_562915447 - FIX_1_961570560;

/// One 1-D islow inverse DCT on eight independent lanes: `x[k]` holds the
/// frequency-k coefficients, output `k` the sample at position k, scaled by
/// √8·2^13, plus `bias`, arithmetically shifted right by `SHIFT`.
///
/// The structure follows `jidctint.c`: an even part (frequencies 0, 2, 4, 6)
/// and an odd part (1, 3, 5, 7) combined by a final butterfly, 12 multiplies
/// in all.
#[inline(always)]
fn idct_1d<L: Lanes, const SHIFT: i32>(x: [L; 8], bias: i32) -> [L; 8] {
    let [c0, c1, c2, c3, c4, c5, c6, c7] = x;

    // Even part: the 2/6 rotation shares one multiply; the DC bias rides
    // along to every output.
    let rotated = c2.plus(c6).scale(FIX_0_541196100);
    let e3 = rotated.plus(c2.scale(FIX_0_765366865));
    let e2 = rotated.minus(c6.scale(FIX_1_847759065));
    let dc = c0.shift_left::<CONST_BITS>().offset(bias);
    let c4 = c4.shift_left::<CONST_BITS>();
    let (s0, s1) = (dc.plus(c4), dc.minus(c4));
    let even = [s0.plus(e3), s1.plus(e2), s1.minus(e2), s0.minus(e3)];

    // Odd part: pairwise sums share the 3π/16 rotation.
    let z1 = c7.plus(c1);
    let z2 = c5.plus(c3);
    let z3 = c7.plus(c3);
    let z4 = c5.plus(c1);
    let z5 = z3.plus(z4).scale(FIX_1_175875602);
    let z1 = z1.scale(-FIX_0_899976223);
    let z2 = z2.scale(-FIX_2_562915447);
    let z3 = z3.scale(-FIX_1_961570560).plus(z5);
    let z4 = z4.scale(-FIX_0_390180644).plus(z5);
    let odd = [
        c1.scale(FIX_1_501321110).plus(z1).plus(z4),
        c3.scale(FIX_3_072711026).plus(z2).plus(z3),
        c5.scale(FIX_2_053119869).plus(z2).plus(z4),
        c7.scale(FIX_0_298631336).plus(z1).plus(z3),
    ];
    butterfly::<L, SHIFT>(even, odd)
}

/// [`idct_1d`] for lanes whose frequencies 4..8 are zero, given only
/// frequencies 0..4: 9 multiplies instead of 12, same results bit for bit.
///
/// With `c4..c7` zero, every sum in [`idct_1d`] that multiplies one input by
/// several constants is regrouped into one product by the summed constant
/// (`c2·a + c2·b = c2·(a + b)`), and the zero terms are dropped. Wrapping
/// `i32` addition and multiplication form the ring of integers modulo 2^32,
/// where that regrouping is exact, so each value reaching a shift is the
/// same `i32` as in [`idct_1d`], and so is each output.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
fn idct_1d_low4<L: Lanes, const SHIFT: i32>(x: [L; 4], bias: i32) -> [L; 8] {
    let [c0, c1, c2, c3] = x;

    // Even part: `rotated` is c2·FIX_0_541196100 once c6 = 0, and s0 = s1.
    let e3 = c2.scale(FIX_0_541196100 + FIX_0_765366865);
    let e2 = c2.scale(FIX_0_541196100);
    let dc = c0.shift_left::<CONST_BITS>().offset(bias);
    let even = [dc.plus(e3), dc.plus(e2), dc.minus(e2), dc.minus(e3)];

    // Odd part: z1 = z4 = c1 and z2 = z3 = c3 before scaling, so only z5's
    // shared product survives as such.
    let z5 = c1.plus(c3).scale(FIX_1_175875602);
    let odd = [
        c1.scale(ODD0_C1).plus(z5),
        c3.scale(ODD1_C3).plus(z5),
        z5.minus(c1.scale(FIX_0_390180644))
            .minus(c3.scale(FIX_2_562915447)),
        z5.minus(c1.scale(FIX_0_899976223))
            .minus(c3.scale(FIX_1_961570560)),
    ];
    butterfly::<L, SHIFT>(even, odd)
}

/// The final butterfly of the 1-D transform: output k is `even[k] + odd[k]`
/// and output `7 - k` is `even[k] - odd[k]`, each shifted right by `SHIFT`.
#[inline(always)]
fn butterfly<L: Lanes, const SHIFT: i32>(even: [L; 4], odd: [L; 4]) -> [L; 8] {
    [
        even[0].plus(odd[0]).shift_right::<SHIFT>(),
        even[1].plus(odd[1]).shift_right::<SHIFT>(),
        even[2].plus(odd[2]).shift_right::<SHIFT>(),
        even[3].plus(odd[3]).shift_right::<SHIFT>(),
        even[3].minus(odd[3]).shift_right::<SHIFT>(),
        even[2].minus(odd[2]).shift_right::<SHIFT>(),
        even[1].minus(odd[1]).shift_right::<SHIFT>(),
        even[0].minus(odd[0]).shift_right::<SHIFT>(),
    ]
}

/// Eight `i32` lanes in plain Rust. The compiler vectorises these loops on
/// targets with a 32-bit vector multiply (NEON, SSE4.1); on baseline x86-64
/// they stay scalar, which only CPUs without AVX2 ever run.
#[derive(Clone, Copy)]
struct Row([i32; 8]);

impl Row {
    /// Applies `f` lane by lane to `self` and `other`.
    #[inline(always)]
    fn zip(self, other: Self, f: impl Fn(i32, i32) -> i32) -> Self {
        Row(array::from_fn(|i| f(self.0[i], other.0[i])))
    }
}

impl Lanes for Row {
    #[inline(always)]
    fn plus(self, other: Self) -> Self {
        self.zip(other, i32::wrapping_add)
    }
    #[inline(always)]
    fn minus(self, other: Self) -> Self {
        self.zip(other, i32::wrapping_sub)
    }
    #[inline(always)]
    fn scale(self, k: i32) -> Self {
        Row(self.0.map(|v| v.wrapping_mul(k)))
    }
    #[inline(always)]
    fn offset(self, k: i32) -> Self {
        Row(self.0.map(|v| v.wrapping_add(k)))
    }
    #[inline(always)]
    fn shift_left<const N: i32>(self) -> Self {
        Row(self.0.map(|v| v.wrapping_shl(N as u32)))
    }
    #[inline(always)]
    fn shift_right<const N: i32>(self) -> Self {
        Row(self.0.map(|v| v >> N))
    }
}

/// Portable fixed-point transform; callers ensure [`in_fast_range`] and the
/// output length.
fn idct_portable(coeffs: &[i32; 64], out: &mut [u8], stride: usize) {
    let rows = array::from_fn(|u| Row(array::from_fn(|v| coeffs[u * 8 + v])));
    // Columns first: lane v of vector r is sample row r of column v.
    let columns_done = idct_1d::<Row, PASS1_SHIFT>(rows, PASS1_BIAS);
    let transposed = array::from_fn(|v| Row(array::from_fn(|r| columns_done[r].0[v])));
    // Lane r of vector c is now the final sample at row r, column c.
    let samples = idct_1d::<Row, PASS2_SHIFT>(transposed, PASS2_BIAS);
    for r in 0..8 {
        let line = &mut out[r * stride..][..8];
        for (pixel, column) in line.iter_mut().zip(&samples) {
            *pixel = column.0[r].clamp(0, 255) as u8;
        }
    }
}

/// Double-precision transform for blocks outside the fixed-point range.
///
/// Only hostile or unusual files get here, so it favours being exact for
/// every `i32` input over speed. The basis is scaled by √8 so that the DC
/// weight is exactly 1/8: DC-only blocks then round exactly as
/// [`idct_dc_only`] does.
#[cold]
fn idct_exact(coeffs: &[i32; 64], out: &mut [u8], stride: usize) {
    let basis: [[f64; 8]; 8] = array::from_fn(|x| {
        array::from_fn(|u| {
            if u == 0 {
                1.0
            } else {
                let angle = ((2 * x + 1) * u) as f64 * std::f64::consts::PI / 16.0;
                std::f64::consts::SQRT_2 * angle.cos()
            }
        })
    });
    let columns_done: [[f64; 8]; 8] = array::from_fn(|r| {
        array::from_fn(|v| {
            (0..8)
                .map(|u| basis[r][u] * f64::from(coeffs[u * 8 + v]))
                .sum()
        })
    });
    for (r, samples) in columns_done.iter().enumerate() {
        let line = &mut out[r * stride..][..8];
        for (pixel, weights) in line.iter_mut().zip(&basis) {
            let value: f64 = weights.iter().zip(samples).map(|(w, s)| w * s).sum();
            *pixel = (value / 8.0 + 128.5).floor().clamp(0.0, 255.0) as u8;
        }
    }
}

/// The AVX2 path: the whole block lives in eight `__m256i` registers.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{
        CONST_BITS, FAST_MAX_ABS, FIX_0_390180644, FIX_0_541196100, FIX_0_765366865,
        FIX_0_899976223, FIX_1_175875602, FIX_1_961570560, FIX_2_562915447, Lanes, ODD0_C1,
        ODD1_C3, PASS1_BIAS, PASS1_SHIFT, PASS2_BIAS, PASS2_SHIFT, idct_1d, idct_1d_low4,
    };
    use std::arch::x86_64::{
        __m128i, __m256i, _mm_storel_epi64, _mm_unpackhi_epi64, _mm256_abs_epi32, _mm256_add_epi32,
        _mm256_and_si256, _mm256_castsi256_si128, _mm256_cmpeq_epi32, _mm256_extracti128_si256,
        _mm256_loadu_si256, _mm256_max_epu32, _mm256_movemask_epi8, _mm256_mullo_epi32,
        _mm256_or_si256, _mm256_packs_epi32, _mm256_packus_epi16, _mm256_permute2x128_si256,
        _mm256_permute4x64_epi64, _mm256_set1_epi32, _mm256_setr_epi8, _mm256_setr_epi32,
        _mm256_shuffle_epi8, _mm256_slli_epi32, _mm256_srai_epi32, _mm256_sub_epi32,
        _mm256_testz_si256, _mm256_unpackhi_epi32, _mm256_unpackhi_epi64, _mm256_unpacklo_epi32,
        _mm256_unpacklo_epi64,
    };
    use std::sync::atomic::{AtomicU8, Ordering};

    /// [`DETECTED`] before the first detection.
    const UNKNOWN: u8 = 0;
    /// [`DETECTED`] when the CPU lacks AVX2.
    const ABSENT: u8 = 1;
    /// [`DETECTED`] when the CPU has AVX2.
    const PRESENT: u8 = 2;
    /// Cached AVX2 detection, so each block pays one load and one branch.
    static DETECTED: AtomicU8 = AtomicU8::new(UNKNOWN);

    /// Whether the CPU supports AVX2.
    #[inline]
    pub(super) fn available() -> bool {
        match DETECTED.load(Ordering::Relaxed) {
            PRESENT => true,
            ABSENT => false,
            _ => detect(),
        }
    }

    /// Runs the CPU feature detection and caches the answer; racing callers
    /// store the same value.
    #[cold]
    fn detect() -> bool {
        let present = is_x86_feature_detected!("avx2");
        DETECTED.store(if present { PRESENT } else { ABSENT }, Ordering::Relaxed);
        present
    }

    /// Eight `i32` lanes in an AVX2 register.
    ///
    /// Invariant: a `V` only exists inside [`idct_block`], which requires
    /// AVX2, so its methods may use AVX2 instructions.
    #[derive(Clone, Copy)]
    #[repr(transparent)]
    struct V(__m256i);

    // The methods are `inline(always)` so that they are compiled inside
    // `idct_block`, where AVX2 is enabled, rather than as calls.
    impl Lanes for V {
        #[inline(always)]
        fn plus(self, other: Self) -> Self {
            // SAFETY: AVX2 is available wherever a `V` exists (type invariant).
            V(unsafe { _mm256_add_epi32(self.0, other.0) })
        }
        #[inline(always)]
        fn minus(self, other: Self) -> Self {
            // SAFETY: AVX2 is available wherever a `V` exists (type invariant).
            V(unsafe { _mm256_sub_epi32(self.0, other.0) })
        }
        #[inline(always)]
        fn scale(self, k: i32) -> Self {
            // SAFETY: AVX2 is available wherever a `V` exists (type invariant).
            V(unsafe { _mm256_mullo_epi32(self.0, _mm256_set1_epi32(k)) })
        }
        #[inline(always)]
        fn offset(self, k: i32) -> Self {
            // SAFETY: AVX2 is available wherever a `V` exists (type invariant).
            V(unsafe { _mm256_add_epi32(self.0, _mm256_set1_epi32(k)) })
        }
        #[inline(always)]
        fn shift_left<const N: i32>(self) -> Self {
            // SAFETY: AVX2 is available wherever a `V` exists (type invariant).
            V(unsafe { _mm256_slli_epi32::<N>(self.0) })
        }
        #[inline(always)]
        fn shift_right<const N: i32>(self) -> Self {
            // SAFETY: AVX2 is available wherever a `V` exists (type invariant).
            V(unsafe { _mm256_srai_epi32::<N>(self.0) })
        }
    }

    /// AVX2 version of the fixed-point transform; returns `false`, writing
    /// nothing, when a coefficient is outside ±[`FAST_MAX_ABS`].
    ///
    /// With `SPARSE`, blocks confined to the top-left 4×4 take the cheaper
    /// [`idct_corner`] (same bytes); without, every block takes the full
    /// transform, which the tests use as the yardstick.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2, and `out` must hold at least
    /// `7 * stride + 8` bytes.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn idct_block<const SPARSE: bool>(
        coeffs: &[i32; 64],
        out: &mut [u8],
        stride: usize,
    ) -> bool {
        let base = coeffs.as_ptr().cast::<__m256i>();
        // SAFETY: the 64 coefficients are 8 rows of 32 bytes; unaligned loads
        // are allowed.
        let rows: [__m256i; 8] = unsafe {
            [
                _mm256_loadu_si256(base),
                _mm256_loadu_si256(base.add(1)),
                _mm256_loadu_si256(base.add(2)),
                _mm256_loadu_si256(base.add(3)),
                _mm256_loadu_si256(base.add(4)),
                _mm256_loadu_si256(base.add(5)),
                _mm256_loadu_si256(base.add(6)),
                _mm256_loadu_si256(base.add(7)),
            ]
        };
        // The range check's |coefficient| maxima, kept per half, also tell
        // where the nonzero coefficients are: spotting sparse blocks costs
        // full blocks an AND, an OR, a test and a branch.
        let top = abs_max(&rows[..4]);
        let bottom = abs_max(&rows[4..]);
        if SPARSE && corner_only(top, bottom) {
            // Rows 4..8 are zero, so `top` covers the whole block.
            if !in_fast_range(top) {
                return false;
            }
            // SAFETY: AVX2 and `out` as this function's contract requires;
            // the block is confined to the corner (just checked) and within
            // range.
            unsafe { idct_corner(&rows, out, stride) };
            return true;
        }
        if !in_fast_range(_mm256_max_epu32(top, bottom)) {
            return false;
        }
        // Lane v of vector r: sample row r of column v.
        let columns_done = idct_1d::<V, PASS1_SHIFT>(rows.map(V), PASS1_BIAS);
        let transposed = transpose(columns_done.map(|v| v.0));
        // Lane r of vector c: the sample at row r, column c.
        let samples = idct_1d::<V, PASS2_SHIFT>(transposed.map(V), PASS2_BIAS);
        // SAFETY: AVX2 is available and `out` holds 8 rows at `stride`
        // (this function's contract).
        unsafe { store_transposed::<false>(samples.map(|v| v.0), out, stride) };
        true
    }

    /// Lane-wise maximum of |row| over `rows`, as unsigned (so that the
    /// |i32::MIN| that wraps to itself counts as the largest of all).
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) fn abs_max(rows: &[__m256i]) -> __m256i {
        let mut largest = _mm256_abs_epi32(rows[0]);
        for &row in &rows[1..] {
            largest = _mm256_max_epu32(largest, _mm256_abs_epi32(row));
        }
        largest
    }

    /// Whether every nonzero coefficient lies in rows 0..4 and columns 0..4,
    /// given the [`abs_max`] of rows 0..4 (`top`) and of rows 4..8
    /// (`bottom`): a lane of those is zero exactly when the column's
    /// coefficients are all zero there.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) fn corner_only(top: __m256i, bottom: __m256i) -> bool {
        let right_lanes = _mm256_setr_epi32(0, 0, 0, 0, -1, -1, -1, -1);
        let outside = _mm256_or_si256(bottom, _mm256_and_si256(top, right_lanes));
        // `testz(a, a)` is 1 exactly when `a` is all zeros.
        _mm256_testz_si256(outside, outside) != 0
    }

    /// Multipliers of `c1` that give the odd parts of [`idct_1d_low4`] in one
    /// product per input, z5's share folded in: `odd[k] = c1·ODD_C1[k] +
    /// c3·ODD_C3[k]` (exact modulo 2^32, like every regrouping there).
    pub(super) const ODD_C1: [i32; 4] = [
        ODD0_C1 + FIX_1_175875602,
        FIX_1_175875602,
        FIX_1_175875602 - FIX_0_390180644,
        FIX_1_175875602 - FIX_0_899976223,
    ];
    /// Multipliers of `c3`; see [`ODD_C1`].
    pub(super) const ODD_C3: [i32; 4] = [
        FIX_1_175875602,
        ODD1_C3 + FIX_1_175875602,
        FIX_1_175875602 - FIX_2_562915447,
        FIX_1_175875602 - FIX_1_961570560,
    ];

    /// The transform of a block whose nonzero coefficients all lie in the
    /// top-left 4×4, bit-identical to the full one.
    ///
    /// Column pass: only columns 0..4 can be nonzero, so each vector holds
    /// two output rows of 4 columns, and [`idct_1d_low4`]'s products shrink
    /// to two `vpmulld` per pair of outputs: 6 multiplies and 4 result
    /// vectors instead of 12 and 8. Columns 4..8 of the result are zero (see
    /// the assertion on `PASS1_BIAS`), so the row pass is [`idct_1d_low4`]
    /// on 4 vectors, fed by a 4×4 transpose within each 128-bit half rather
    /// than a full 8×8 one. Its lanes come out in row order 0, 1, 6, 7, 4,
    /// 5, 2, 3: pairing rows k and k + 4 in each vector is what lets the
    /// store put them back with one shuffle instead of per-row addresses.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2, `out` must hold at least `7 * stride + 8`
    /// bytes, and the block's `rows` must be confined to the corner
    /// ([`corner_only`]) and within ±[`FAST_MAX_ABS`].
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn idct_corner(rows: &[__m256i; 8], out: &mut [u8], stride: usize) {
        // Frequency u's 4 columns in both halves.
        let [c0, c1, c2, c3] = [
            _mm256_permute4x64_epi64::<0b01_00_01_00>(rows[0]),
            _mm256_permute4x64_epi64::<0b01_00_01_00>(rows[1]),
            _mm256_permute4x64_epi64::<0b01_00_01_00>(rows[2]),
            _mm256_permute4x64_epi64::<0b01_00_01_00>(rows[3]),
        ];
        // Multiplier `lo` in the low half, `hi` in the high one.
        let halves = |lo: i32, hi: i32| _mm256_setr_epi32(lo, lo, lo, lo, hi, hi, hi, hi);

        // [`idct_1d_low4`]'s even part, [even0 | even3] and [even1 | even2]:
        // the high halves' minus signs are folded into the multipliers
        // (negation is exact modulo 2^32 too).
        let dc = _mm256_add_epi32(
            _mm256_slli_epi32::<CONST_BITS>(c0),
            _mm256_set1_epi32(PASS1_BIAS),
        );
        let (k3, k2) = (FIX_0_541196100 + FIX_0_765366865, FIX_0_541196100);
        let even_03 = _mm256_add_epi32(dc, _mm256_mullo_epi32(c2, halves(k3, -k3)));
        let even_12 = _mm256_add_epi32(dc, _mm256_mullo_epi32(c2, halves(k2, -k2)));
        // Its odd part, [odd0 | -odd3] and [odd1 | -odd2].
        let odd = |k: usize, j: usize| {
            _mm256_add_epi32(
                _mm256_mullo_epi32(c1, halves(ODD_C1[k], -ODD_C1[j])),
                _mm256_mullo_epi32(c3, halves(ODD_C3[k], -ODD_C3[j])),
            )
        };
        let (odd_03, odd_12) = (odd(0, 3), odd(1, 2));
        // Its butterfly (even[k] ± odd[k] are rows k and 7 - k): each vector
        // holds two output rows, [0 | 4], [1 | 5], [6 | 2] and [7 | 3].
        let rows_04 = _mm256_srai_epi32::<PASS1_SHIFT>(_mm256_add_epi32(even_03, odd_03));
        let rows_15 = _mm256_srai_epi32::<PASS1_SHIFT>(_mm256_add_epi32(even_12, odd_12));
        let rows_62 = _mm256_srai_epi32::<PASS1_SHIFT>(_mm256_sub_epi32(even_12, odd_12));
        let rows_73 = _mm256_srai_epi32::<PASS1_SHIFT>(_mm256_sub_epi32(even_03, odd_03));

        // 4×4 transpose within each half: vector v holds column v of rows
        // 0, 1, 6, 7 | 4, 5, 2, 3.
        let t0 = _mm256_unpacklo_epi32(rows_04, rows_15);
        let t1 = _mm256_unpackhi_epi32(rows_04, rows_15);
        let t2 = _mm256_unpacklo_epi32(rows_62, rows_73);
        let t3 = _mm256_unpackhi_epi32(rows_62, rows_73);
        let transposed = [
            V(_mm256_unpacklo_epi64(t0, t2)),
            V(_mm256_unpackhi_epi64(t0, t2)),
            V(_mm256_unpacklo_epi64(t1, t3)),
            V(_mm256_unpackhi_epi64(t1, t3)),
        ];
        let samples = idct_1d_low4::<V, PASS2_SHIFT>(transposed, PASS2_BIAS);
        // SAFETY: AVX2 is available and `out` holds 8 rows at `stride`
        // (contract).
        unsafe { store_transposed::<true>(samples.map(|v| v.0), out, stride) };
    }

    /// Whether every lane of `largest` (an [`abs_max`]) is at most
    /// [`FAST_MAX_ABS`].
    #[target_feature(enable = "avx2")]
    #[inline]
    fn in_fast_range(largest: __m256i) -> bool {
        // Unsigned comparison also rejects i32::MIN, whose absolute value
        // wraps to itself.
        let bound = _mm256_set1_epi32(FAST_MAX_ABS);
        let within = _mm256_cmpeq_epi32(_mm256_max_epu32(largest, bound), bound);
        _mm256_movemask_epi8(within) == -1
    }

    /// Transposes an 8×8 matrix of `i32` (vector index ↔ lane index).
    #[target_feature(enable = "avx2")]
    #[inline]
    fn transpose(m: [__m256i; 8]) -> [__m256i; 8] {
        // Interleave 32-bit, then 64-bit elements within each 128-bit half,
        // then swap halves: the usual three shuffle stages.
        let [a0, a1, a2, a3, a4, a5, a6, a7] = m;
        let t0 = _mm256_unpacklo_epi32(a0, a1);
        let t1 = _mm256_unpackhi_epi32(a0, a1);
        let t2 = _mm256_unpacklo_epi32(a2, a3);
        let t3 = _mm256_unpackhi_epi32(a2, a3);
        let t4 = _mm256_unpacklo_epi32(a4, a5);
        let t5 = _mm256_unpackhi_epi32(a4, a5);
        let t6 = _mm256_unpacklo_epi32(a6, a7);
        let t7 = _mm256_unpackhi_epi32(a6, a7);
        let u0 = _mm256_unpacklo_epi64(t0, t2);
        let u1 = _mm256_unpackhi_epi64(t0, t2);
        let u2 = _mm256_unpacklo_epi64(t1, t3);
        let u3 = _mm256_unpackhi_epi64(t1, t3);
        let u4 = _mm256_unpacklo_epi64(t4, t6);
        let u5 = _mm256_unpackhi_epi64(t4, t6);
        let u6 = _mm256_unpacklo_epi64(t5, t7);
        let u7 = _mm256_unpackhi_epi64(t5, t7);
        [
            _mm256_permute2x128_si256::<0x20>(u0, u4),
            _mm256_permute2x128_si256::<0x20>(u1, u5),
            _mm256_permute2x128_si256::<0x20>(u2, u6),
            _mm256_permute2x128_si256::<0x20>(u3, u7),
            _mm256_permute2x128_si256::<0x31>(u0, u4),
            _mm256_permute2x128_si256::<0x31>(u1, u5),
            _mm256_permute2x128_si256::<0x31>(u2, u6),
            _mm256_permute2x128_si256::<0x31>(u3, u7),
        ]
    }

    /// Saturates the samples to bytes and stores them row by row; `columns[c]`
    /// holds column c, with lane r = row r, or, if `SWAPPED`, with lanes
    /// 2, 3, 6, 7 holding rows 6, 7, 2, 3 (the order [`idct_corner`] makes).
    ///
    /// Transposing after narrowing to bytes costs 4 shuffles instead of the
    /// 24 an `i32` transpose would.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2, and `out` must hold at least
    /// `7 * stride + 8` bytes.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn store_transposed<const SWAPPED: bool>(
        columns: [__m256i; 8],
        out: &mut [u8],
        stride: usize,
    ) {
        let [c0, c1, c2, c3, c4, c5, c6, c7] = columns;
        // Saturating packs clamp to 0..=255. Within each 128-bit half (lanes
        // 0-3 low, lanes 4-7 high), `left` then holds columns 0-3 and `right`
        // columns 4-7, column-major: byte 4c + lane.
        let left = _mm256_packus_epi16(_mm256_packs_epi32(c0, c1), _mm256_packs_epi32(c2, c3));
        let right = _mm256_packus_epi16(_mm256_packs_epi32(c4, c5), _mm256_packs_epi32(c6, c7));
        // Transpose each 4×4 byte tile so that dword i is lane i.
        let tile_transpose = _mm256_setr_epi8(
            0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15, //
            0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,
        );
        let left = _mm256_shuffle_epi8(left, tile_transpose);
        let right = _mm256_shuffle_epi8(right, tile_transpose);
        // Join each row's two halves: 8-byte rows of lanes 0, 1 | 4, 5 and
        // 2, 3 | 6, 7; swapping the halves of the latter puts rows 2, 3 back
        // in the low half when `SWAPPED`.
        let lanes_0145 = _mm256_unpacklo_epi32(left, right);
        let mut lanes_2367 = _mm256_unpackhi_epi32(left, right);
        if SWAPPED {
            lanes_2367 = _mm256_permute4x64_epi64::<0b01_00_11_10>(lanes_2367);
        }
        let base = out.as_mut_ptr();
        let row = |r: usize| base.wrapping_add(r * stride);
        // SAFETY: row r's 8 bytes start at r * stride <= 7 * stride, inside
        // `out` by the contract; the stores need no alignment.
        unsafe {
            store_pair(_mm256_castsi256_si128(lanes_0145), row(0), row(1));
            store_pair(_mm256_extracti128_si256::<1>(lanes_0145), row(4), row(5));
            store_pair(_mm256_castsi256_si128(lanes_2367), row(2), row(3));
            store_pair(_mm256_extracti128_si256::<1>(lanes_2367), row(6), row(7));
        }
    }

    /// Stores the low 8 bytes of `v` at `first` and the high 8 at `second`.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2; `first` and `second` must each be valid
    /// for an 8-byte write (any alignment).
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn store_pair(v: __m128i, first: *mut u8, second: *mut u8) {
        // SAFETY: both pointers are valid for 8-byte writes (contract), and
        // `_mm_storel_epi64` has no alignment requirement.
        unsafe {
            _mm_storel_epi64(first.cast(), v);
            _mm_storel_epi64(second.cast(), _mm_unpackhi_epi64(v, v));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::f64::consts::{FRAC_1_SQRT_2, PI, SQRT_2};

    /// The textbook inverse DCT (ITU-T T.81 A.3.3) in double precision,
    /// rounded to nearest and clamped: the accuracy yardstick.
    fn reference(coeffs: &[i32; 64]) -> [u8; 64] {
        let scale = |u: usize| if u == 0 { FRAC_1_SQRT_2 } else { 1.0 };
        let cos = |x: usize, u: usize| (((2 * x + 1) * u) as f64 * PI / 16.0).cos();
        array::from_fn(|i| {
            let (x, y) = (i / 8, i % 8);
            let mut sum = 0.0;
            for u in 0..8 {
                for v in 0..8 {
                    sum +=
                        scale(u) * scale(v) * f64::from(coeffs[u * 8 + v]) * cos(x, u) * cos(y, v);
                }
            }
            (sum / 4.0 + 128.0).round().clamp(0.0, 255.0) as u8
        })
    }

    /// Runs `idct_block` with stride 8.
    fn idct(coeffs: &[i32; 64]) -> [u8; 64] {
        let mut out = [0; 64];
        idct_block(coeffs, &mut out, 8);
        out
    }

    /// The portable path with stride 8, bypassing the dispatch.
    fn portable(coeffs: &[i32; 64]) -> [u8; 64] {
        let mut out = [0; 64];
        if in_fast_range(coeffs) {
            idct_portable(coeffs, &mut out, 8);
        } else {
            idct_exact(coeffs, &mut out, 8);
        }
        out
    }

    /// Largest |a - b| over the block.
    fn max_diff(a: &[u8; 64], b: &[u8; 64]) -> u8 {
        a.iter()
            .zip(b)
            .map(|(x, y)| x.abs_diff(*y))
            .max()
            .unwrap_or(0)
    }

    /// Forward DCT (T.81 A.3.3) of a level-shifted 8-bit block.
    fn forward_dct(pixels: &[u8; 64]) -> [f64; 64] {
        let scale = |u: usize| if u == 0 { FRAC_1_SQRT_2 } else { 1.0 };
        let cos = |x: usize, u: usize| (((2 * x + 1) * u) as f64 * PI / 16.0).cos();
        array::from_fn(|k| {
            let (u, v) = (k / 8, k % 8);
            let mut sum = 0.0;
            for (i, &p) in pixels.iter().enumerate() {
                sum += (f64::from(p) - 128.0) * cos(i / 8, u) * cos(i % 8, v);
            }
            sum * scale(u) * scale(v) / 4.0
        })
    }

    /// A block as a real encoder would produce it: random pixels (smooth
    /// ramps, noise, or extremes), forward DCT, quantised with random steps,
    /// dequantised.
    fn realistic_block(rng: &mut ChaCha8Rng) -> [i32; 64] {
        let kind = rng.random_range(0..3);
        let (base, dx, dy) = (
            rng.random_range(0..=255) as f64,
            rng.random_range(-40.0..40.0),
            rng.random_range(-40.0..40.0),
        );
        let noise = rng.random_range(0.0..60.0);
        let pixels: [u8; 64] = array::from_fn(|i| match kind {
            0 => {
                let ramp = base + dx * (i / 8) as f64 + dy * (i % 8) as f64;
                (ramp + rng.random_range(-noise..=noise)).clamp(0.0, 255.0) as u8
            }
            1 => rng.random(),
            _ => {
                if rng.random() {
                    255
                } else {
                    0
                }
            }
        });
        let max_step = rng.random_range(1..=255);
        forward_dct(&pixels).map(|f| {
            let step = rng.random_range(1..=max_step);
            (f / f64::from(step)).round() as i32 * step
        })
    }

    /// A block with a few random low-frequency coefficients.
    fn sparse_block(rng: &mut ChaCha8Rng) -> [i32; 64] {
        let mut coeffs = [0; 64];
        for _ in 0..rng.random_range(1..=4) {
            let (u, v) = (rng.random_range(0..3), rng.random_range(0..3));
            coeffs[u * 8 + v] = rng.random_range(-1024..=1023);
        }
        coeffs
    }

    /// Quantised values anywhere in the 11-bit range times quantisers up
    /// to 255: mostly far outside the fixed-point range.
    fn wide_block(rng: &mut ChaCha8Rng) -> [i32; 64] {
        array::from_fn(|_| rng.random_range(-1024..=1023) * rng.random_range(1..=255))
    }

    /// Uniform coefficients across the whole fixed-point range.
    fn fast_range_block(rng: &mut ChaCha8Rng) -> [i32; 64] {
        array::from_fn(|_| rng.random_range(-FAST_MAX_ABS..=FAST_MAX_ABS))
    }

    /// Max error of `idct` against the reference over `n` blocks from `make`.
    fn max_error(seed: u64, n: usize, make: fn(&mut ChaCha8Rng) -> [i32; 64]) -> u8 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let coeffs = make(&mut rng);
                max_diff(&idct(&coeffs), &reference(&coeffs))
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn multipliers_match_their_cosine_formulas() {
        let c = |k: f64| (k * PI / 16.0).cos();
        let cases = [
            (FIX_0_541196100, c(6.0)),
            (FIX_0_765366865, c(2.0) - c(6.0)),
            (FIX_1_847759065, c(2.0) + c(6.0)),
            (FIX_1_175875602, c(3.0)),
            (FIX_0_298631336, -c(1.0) + c(3.0) + c(5.0) - c(7.0)),
            (FIX_2_053119869, c(1.0) + c(3.0) - c(5.0) + c(7.0)),
            (FIX_3_072711026, c(1.0) + c(3.0) + c(5.0) - c(7.0)),
            (FIX_1_501321110, c(1.0) + c(3.0) - c(5.0) - c(7.0)),
            (FIX_0_899976223, c(3.0) - c(7.0)),
            (FIX_2_562915447, c(1.0) + c(3.0)),
            (FIX_1_961570560, c(3.0) + c(5.0)),
            (FIX_0_390180644, c(3.0) - c(5.0)),
        ];
        for (fixed, cosines) in cases {
            let exact = (SQRT_2 * cosines * f64::from(1 << CONST_BITS)).round();
            assert_eq!(f64::from(fixed), exact);
        }
    }

    #[test]
    fn realistic_blocks_within_one() {
        assert!(max_error(1, 20_000, realistic_block) <= 1);
    }

    #[test]
    fn sparse_blocks_within_one() {
        assert!(max_error(2, 20_000, sparse_block) <= 1);
    }

    #[test]
    fn whole_fast_range_within_one() {
        assert!(max_error(3, 20_000, fast_range_block) <= 1);
    }

    #[test]
    fn wide_blocks_within_one() {
        assert!(max_error(4, 5_000, wide_block) <= 1);
    }

    #[test]
    fn dc_only_matches_full_transform() {
        let mut full = [0; 64];
        let mut fast = [0; 64];
        let extremes = [
            i32::MIN,
            i32::MIN + 1,
            -(1 << 20),
            1 << 20,
            i32::MAX - 4,
            i32::MAX,
        ];
        for dc in (-2048 * 8..=2047 * 8).chain(extremes) {
            let mut coeffs = [0; 64];
            coeffs[0] = dc;
            idct_block(&coeffs, &mut full, 8);
            idct_dc_only(dc, &mut fast, 8);
            assert_eq!(full, fast, "dc {dc}");
            assert_eq!(fast, portable(&coeffs), "dc {dc}");
        }
    }

    #[test]
    fn dc_only_matches_reference() {
        for dc in -2048 * 8..=2047 * 8 {
            let mut coeffs = [0; 64];
            coeffs[0] = dc;
            let mut out = [0; 64];
            idct_dc_only(dc, &mut out, 8);
            assert!(max_diff(&out, &reference(&coeffs)) <= 1, "dc {dc}");
        }
    }

    #[test]
    fn dispatch_matches_portable_bit_for_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let makers: [fn(&mut ChaCha8Rng) -> [i32; 64]; 4] =
            [realistic_block, sparse_block, fast_range_block, wide_block];
        for make in makers {
            for _ in 0..20_000 {
                let coeffs = make(&mut rng);
                assert_eq!(idct(&coeffs), portable(&coeffs), "{coeffs:?}");
            }
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn avx2_matches_portable_bit_for_bit() {
        if !avx2::available() {
            eprintln!("no AVX2 on this CPU; nothing to compare");
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        for _ in 0..50_000 {
            let coeffs = fast_range_block(&mut rng);
            let mut simd = [0; 64];
            // SAFETY: AVX2 is present (checked above); `simd` is 64 bytes.
            assert!(unsafe { avx2::idct_block::<false>(&coeffs, &mut simd, 8) });
            let mut plain = [0; 64];
            idct_portable(&coeffs, &mut plain, 8);
            assert_eq!(simd, plain, "{coeffs:?}");
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn avx2_rejects_exactly_the_out_of_range_blocks() {
        if !avx2::available() {
            return;
        }
        // Positions inside the 4×4 corner (0, 3, 9, 24, 27) take the sparse
        // path's own range check; the others the full path's.
        for bad in [FAST_MAX_ABS + 1, -FAST_MAX_ABS - 1, i32::MIN, i32::MAX] {
            for at in [0, 3, 4, 9, 24, 27, 32, 63] {
                for sparse in [false, true] {
                    let run = |coeffs: &[i32; 64], out: &mut [u8; 64]| {
                        // SAFETY: AVX2 is present (checked above); `out` is
                        // 64 bytes.
                        unsafe {
                            if sparse {
                                avx2::idct_block::<true>(coeffs, out, 8)
                            } else {
                                avx2::idct_block::<false>(coeffs, out, 8)
                            }
                        }
                    };
                    let mut coeffs = [0; 64];
                    coeffs[at] = bad;
                    let mut out = [7; 64];
                    assert!(!run(&coeffs, &mut out));
                    assert_eq!(out, [7; 64], "rejected block must not be written");
                    coeffs[at] = bad.signum() * FAST_MAX_ABS;
                    assert!(run(&coeffs, &mut out));
                }
            }
        }
    }

    /// Whether (u, v) lies in the top-left 4×4 corner.
    fn in_corner(k: usize) -> bool {
        k / 8 < 4 && k % 8 < 4
    }

    /// A block confined to the top-left 4×4: each of its 16 coefficients
    /// nonzero with a random per-block probability, uniform over the
    /// fixed-point range, sometimes exactly at its ends.
    fn corner_block(rng: &mut ChaCha8Rng) -> [i32; 64] {
        let density = rng.random_range(0.05..=1.0);
        array::from_fn(|k| {
            if !in_corner(k) || !rng.random_bool(density) {
                0
            } else if rng.random_bool(0.05) {
                if rng.random() {
                    FAST_MAX_ABS
                } else {
                    -FAST_MAX_ABS
                }
            } else {
                rng.random_range(-FAST_MAX_ABS..=FAST_MAX_ABS)
            }
        })
    }

    /// All paths on `coeffs`: the dispatch, and on x86-64 with AVX2 the
    /// AVX2 transform with and without the sparse-block path; asserts they
    /// all give the portable path's bytes (the original kernel, unchanged).
    fn assert_all_paths_agree(coeffs: &[i32; 64]) {
        let expected = portable(coeffs);
        assert_eq!(idct(coeffs), expected, "dispatch {coeffs:?}");
        #[cfg(target_arch = "x86_64")]
        if avx2::available() {
            let (mut sparse, mut full) = ([0; 64], [0; 64]);
            // SAFETY: AVX2 is present (checked above); the outputs are 64
            // bytes.
            let (sparse_done, full_done) = unsafe {
                (
                    avx2::idct_block::<true>(coeffs, &mut sparse, 8),
                    avx2::idct_block::<false>(coeffs, &mut full, 8),
                )
            };
            assert_eq!(sparse_done, full_done, "{coeffs:?}");
            if full_done {
                assert_eq!(sparse, expected, "sparse AVX2 {coeffs:?}");
                assert_eq!(full, expected, "full AVX2 {coeffs:?}");
            }
        }
    }

    /// Whether the AVX2 path classifies `coeffs` as confined to the corner;
    /// `None` without AVX2.
    fn detected_corner(coeffs: &[i32; 64]) -> Option<bool> {
        #[cfg(target_arch = "x86_64")]
        if avx2::available() {
            let rows: [_; 8] = array::from_fn(|u| {
                // SAFETY: AVX2 is present (checked above); row u is 32
                // bytes inside `coeffs`, and the load needs no alignment.
                unsafe { std::arch::x86_64::_mm256_loadu_si256(coeffs[u * 8..].as_ptr().cast()) }
            });
            // SAFETY: AVX2 is present (checked above).
            return Some(unsafe {
                avx2::corner_only(avx2::abs_max(&rows[..4]), avx2::abs_max(&rows[4..]))
            });
        }
        None
    }

    #[test]
    fn reduced_kernel_matches_full_kernel_on_any_i32() {
        // The regrouping is exact modulo 2^32, so it holds for any inputs,
        // wrapping included, not only for the fast range.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        for _ in 0..20_000 {
            let low: [Row; 4] = array::from_fn(|_| Row(array::from_fn(|_| rng.random())));
            let zero = Row([0; 8]);
            let x = [low[0], low[1], low[2], low[3], zero, zero, zero, zero];
            let bias = rng.random();
            let full = idct_1d::<Row, PASS1_SHIFT>(x, bias).map(|r| r.0);
            let reduced = idct_1d_low4::<Row, PASS1_SHIFT>(low, bias).map(|r| r.0);
            assert_eq!(full, reduced);
            let full = idct_1d::<Row, PASS2_SHIFT>(x, bias).map(|r| r.0);
            let reduced = idct_1d_low4::<Row, PASS2_SHIFT>(low, bias).map(|r| r.0);
            assert_eq!(full, reduced);
        }
    }

    #[test]
    #[cfg(target_arch = "x86_64")]
    fn packed_odd_multipliers_match_reduced_kernel() {
        let unit = |k: usize| -> [i64; 4] {
            let x = array::from_fn(|i| i64::from(i == k));
            let odd = idct_1d_low4::<i64, 0>(x, 0);
            // Output k is even[k] + odd[k] and output 7 - k even[k] - odd[k].
            array::from_fn(|j| (odd[j] - odd[7 - j]) / 2)
        };
        assert_eq!(unit(1), avx2::ODD_C1.map(i64::from));
        assert_eq!(unit(3), avx2::ODD_C3.map(i64::from));
    }

    #[test]
    fn corner_blocks_match_full_path_bit_for_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(10);
        for _ in 0..100_000 {
            let coeffs = corner_block(&mut rng);
            assert_ne!(detected_corner(&coeffs), Some(false), "{coeffs:?}");
            assert_all_paths_agree(&coeffs);
        }
    }

    #[test]
    fn one_coefficient_outside_corner_takes_full_path() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        for at in (0..64).filter(|&k| !in_corner(k)) {
            for i in 0..400 {
                let mut coeffs = corner_block(&mut rng);
                coeffs[at] = match i {
                    0 => 1,
                    1 => -1,
                    2 => FAST_MAX_ABS,
                    3 => -FAST_MAX_ABS,
                    4 => i32::MIN,
                    _ => loop {
                        let c = rng.random_range(-FAST_MAX_ABS..=FAST_MAX_ABS);
                        if c != 0 {
                            break c;
                        }
                    },
                };
                assert_ne!(detected_corner(&coeffs), Some(true), "{at} {coeffs:?}");
                assert_all_paths_agree(&coeffs);
            }
        }
    }

    /// `i64` lanes: the kernel without any wrapping, to measure true
    /// magnitudes.
    impl Lanes for i64 {
        fn plus(self, other: Self) -> Self {
            self + other
        }
        fn minus(self, other: Self) -> Self {
            self - other
        }
        fn scale(self, k: i32) -> Self {
            self * i64::from(k)
        }
        fn offset(self, k: i32) -> Self {
            self + i64::from(k)
        }
        fn shift_left<const N: i32>(self) -> Self {
            self << N
        }
        fn shift_right<const N: i32>(self) -> Self {
            self >> N
        }
    }

    /// Whether every value the fixed-point path shifts fits in `i32` for
    /// the block that drives sample (x, y) to its extreme times `sign` with
    /// coefficients of magnitude `m`; also returns that sample, clamped.
    ///
    /// The kernel is linear and the shifts monotone, so over all x, y and
    /// signs these blocks are the worst cases of `-m..=m`.
    fn worst_case(m: i32, x: usize, y: usize, sign: i32) -> ([i32; 64], bool, u8) {
        let fits = |v: i64| i32::try_from(v).is_ok();
        let weights = |x: usize| -> [i64; 8] {
            array::from_fn(|u| {
                let unit = array::from_fn(|k| i64::from(k == u));
                idct_1d::<i64, 0>(unit, 0)[x]
            })
        };
        let (wx, wy) = (weights(x), weights(y));
        let coeffs: [i32; 64] =
            array::from_fn(|k| sign * (wx[k / 8].signum() * wy[k % 8].signum()) as i32 * m);
        let mut all_fit = true;
        let mut columns_done = [[0i64; 8]; 8];
        for v in 0..8 {
            let column = array::from_fn(|u| i64::from(coeffs[u * 8 + v]));
            for (r, pre) in idct_1d::<i64, 0>(column, PASS1_BIAS).iter().enumerate() {
                all_fit &= fits(*pre);
                columns_done[r][v] = pre >> PASS1_SHIFT;
            }
        }
        let mut sample = 0;
        for (c, pre) in idct_1d::<i64, 0>(columns_done[x], PASS2_BIAS)
            .iter()
            .enumerate()
        {
            all_fit &= fits(*pre);
            if c == y {
                sample = (pre >> PASS2_SHIFT).clamp(0, 255) as u8;
            }
        }
        (coeffs, all_fit, sample)
    }

    #[test]
    fn fast_range_cannot_overflow() {
        let mut tight = false;
        for x in 0..8 {
            for y in 0..8 {
                for sign in [-1, 1] {
                    let (coeffs, fits, sample) = worst_case(FAST_MAX_ABS, x, y, sign);
                    assert!(fits, "sample ({x}, {y}) sign {sign}");
                    assert_eq!(idct(&coeffs)[x * 8 + y], sample);
                    assert_eq!(portable(&coeffs)[x * 8 + y], sample);
                    tight |= !worst_case(FAST_MAX_ABS + 1, x, y, sign).1;
                }
            }
        }
        assert!(tight, "FAST_MAX_ABS could be raised");
    }

    #[test]
    fn saturating_blocks_clamp() {
        let black = {
            let mut c = [0; 64];
            c[0] = -FAST_MAX_ABS;
            c
        };
        assert_eq!(idct(&black), [0; 64]);
        let white = {
            let mut c = [0; 64];
            c[0] = FAST_MAX_ABS;
            c
        };
        assert_eq!(idct(&white), [255; 64]);
        for c in [
            i32::MIN,
            i32::MAX,
            1 << 16,
            -(1 << 16),
            FAST_MAX_ABS,
            -FAST_MAX_ABS,
        ] {
            let all = [c; 64];
            assert!(max_diff(&idct(&all), &reference(&all)) <= 1, "{c}");
            let alternating: [i32; 64] =
                array::from_fn(|k| if k % 3 == 0 { c } else { c.saturating_neg() });
            let out = idct(&alternating);
            assert!(max_diff(&out, &reference(&alternating)) <= 1, "{c}");
            assert_eq!(out, portable(&alternating));
        }
    }

    #[test]
    fn strides_other_than_eight_leave_gaps_alone() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for stride in [8, 9, 13, 64] {
            for _ in 0..200 {
                let coeffs = realistic_block(&mut rng);
                let expected = idct(&coeffs);
                let mut out = vec![0xA5; 7 * stride + 8];
                idct_block(&coeffs, &mut out, stride);
                let mut dc = vec![0xA5; 7 * stride + 8];
                idct_dc_only(coeffs[0], &mut dc, stride);
                for (i, (&pixel, &dc_pixel)) in out.iter().zip(&dc).enumerate() {
                    let (r, c) = (i / stride, i % stride);
                    if c < 8 {
                        assert_eq!(pixel, expected[r * 8 + c], "stride {stride} ({r}, {c})");
                    } else {
                        assert_eq!(pixel, 0xA5, "stride {stride} gap ({r}, {c})");
                        assert_eq!(dc_pixel, 0xA5, "stride {stride} gap ({r}, {c})");
                    }
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "cannot hold 8 rows")]
    fn short_output_panics() {
        let mut out = [0; 7 * 16 + 7];
        idct_block(&[0; 64], &mut out, 16);
    }

    #[test]
    #[should_panic(expected = "cannot hold 8 rows")]
    fn short_output_panics_dc_only() {
        let mut out = [0; 63];
        idct_dc_only(0, &mut out, 8);
    }

    #[test]
    #[should_panic(expected = "cannot hold 8 rows")]
    fn overflowing_stride_panics() {
        idct_block(&[0; 64], &mut [0; 64], usize::MAX / 4);
    }

    /// Nanoseconds per block for each implementation on realistic blocks
    /// (all 64 coefficients in play), on blocks confined to the top-left
    /// 4×4, and on an unpredictable mix of 60% of the former and 40% of the
    /// latter (so that mispredicting the sparse-block branch shows).
    ///
    /// The mix is what 200 real ImageNet JPEGs send to `idct_block`: 37%
    /// of those blocks are confined to the corner (and about 6% and 9% more
    /// only to rows 0..4 or only to columns 0..4: too few for paths of
    /// their own to pay, at about 2 ns saved on each).
    #[test]
    #[ignore = "timing; run with `cargo test --release -- --ignored --nocapture`"]
    fn bench_ns_per_block() {
        use std::hint::black_box;
        use std::time::Instant;
        const CALLS: usize = 200_000;
        const RUNS: usize = 15;
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let full: Vec<[i32; 64]> = (0..4096).map(|_| realistic_block(&mut rng)).collect();
        let corner: Vec<[i32; 64]> = (0..4096)
            .map(|_| {
                let mut c = realistic_block(&mut rng);
                for (k, c) in c.iter_mut().enumerate() {
                    if k / 8 >= 4 || k % 8 >= 4 {
                        *c = 0;
                    }
                }
                c
            })
            .collect();
        let mixed: Vec<[i32; 64]> = full
            .iter()
            .zip(&corner)
            .map(|(f, c)| if rng.random_bool(0.6) { *f } else { *c })
            .collect();
        let mut out = [0u8; 64];
        // The best of several runs, so that other load on the machine
        // disturbs the figures less.
        let mut time =
            |name: &str, blocks: &[[i32; 64]], f: &mut dyn FnMut(&[i32; 64], &mut [u8])| {
                let ns = (0..RUNS)
                    .map(|_| {
                        let start = Instant::now();
                        for i in 0..CALLS {
                            f(black_box(&blocks[i % blocks.len()]), &mut out);
                            black_box(&mut out);
                        }
                        start.elapsed().as_secs_f64() * 1e9 / CALLS as f64
                    })
                    .fold(f64::INFINITY, f64::min);
                println!("{name}: {ns:.2} ns/block");
            };
        for (set, blocks) in [("full", &full), ("corner", &corner), ("mixed", &mixed)] {
            time(&format!("{set} dispatch"), blocks, &mut |c, o| {
                idct_block(c, o, 8)
            });
            time(&format!("{set} portable"), blocks, &mut |c, o| {
                idct_portable(c, o, 8)
            });
        }
        time("dc_only", &full, &mut |c, o| idct_dc_only(c[0], o, 8));
    }
}
