//! A small JPEG encoder for the files the `image` crate cannot write: CMYK
//! (4 components, Adobe APP14 marker, inverted like Photoshop's files) and
//! progressive JPEGs. No chroma subsampling; one flat Huffman table per
//! class (every symbol 8 bits for AC, 4 for DC) — simple, valid, and small
//! enough for the few odd files the synthesizer writes.

use std::f32::consts::PI;

use crate::jpeg::ZIGZAG;

/// Which colour model the planes hold.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Planes {
    /// Y, Cb, Cr (JFIF).
    YCbCr,
    /// Inverted C, M, Y, K as Adobe writes them (transform 0).
    AdobeCmyk,
}

/// Encodes `planes` (each `width * height` bytes, row-major) as a JPEG.
pub(crate) fn encode(
    planes: &[Vec<u8>],
    model: Planes,
    width: usize,
    height: usize,
    quality: u8,
    progressive: bool,
) -> Vec<u8> {
    encode_inner(planes, model, width, height, quality, progressive, 0)
}

/// A sequential YCbCr JPEG with a restart marker every `interval` MCUs
/// (cameras write these; decoders must reset their DC predictors there).
#[cfg(test)]
pub(crate) fn encode_with_restarts(
    planes: &[Vec<u8>],
    width: usize,
    height: usize,
    quality: u8,
    interval: usize,
) -> Vec<u8> {
    encode_inner(
        planes,
        Planes::YCbCr,
        width,
        height,
        quality,
        false,
        interval,
    )
}

fn encode_inner(
    planes: &[Vec<u8>],
    model: Planes,
    width: usize,
    height: usize,
    quality: u8,
    progressive: bool,
    restart: usize,
) -> Vec<u8> {
    let n = planes.len();
    debug_assert_eq!(n, if model == Planes::YCbCr { 3 } else { 4 });
    let qt = [
        quant_table(&LUMA_Q, quality),
        quant_table(&CHROMA_Q, quality),
    ];
    let table_of = |c: usize| usize::from(model == Planes::YCbCr && c > 0);
    let bw = width.div_ceil(8);
    let bh = height.div_ceil(8);
    // Quantised coefficients in zigzag order, per component, blocks row-major.
    let coeffs: Vec<Vec<[i32; 64]>> = planes
        .iter()
        .enumerate()
        .map(|(c, p)| blocks(p, width, height, bw, bh, &qt[table_of(c)]))
        .collect();

    let mut out = vec![0xFF, 0xD8];
    match model {
        Planes::AdobeCmyk => {
            let mut app = b"Adobe".to_vec();
            app.extend_from_slice(&[0, 100, 0, 0, 0, 0, 0]); // version 100, flags, transform 0
            segment(&mut out, 0xEE, &app);
        }
        _ => segment(&mut out, 0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"),
    }
    for (id, t) in qt
        .iter()
        .enumerate()
        .take(if model == Planes::YCbCr { 2 } else { 1 })
    {
        let mut d = vec![id as u8];
        d.extend(ZIGZAG.iter().map(|&i| t[i as usize] as u8));
        segment(&mut out, 0xDB, &d);
    }
    let mut sof = vec![
        8,
        (height >> 8) as u8,
        height as u8,
        (width >> 8) as u8,
        width as u8,
        n as u8,
    ];
    for c in 0..n {
        sof.extend_from_slice(&[c as u8 + 1, 0x11, table_of(c) as u8]);
    }
    segment(&mut out, if progressive { 0xC2 } else { 0xC0 }, &sof);
    let (dc, ac) = (flat_table(12, 4), flat_table(AC_SYMBOLS.len(), 8));
    let mut dht = vec![0x00];
    dht.extend_from_slice(&dc.bits);
    dht.extend(0u8..12);
    dht.push(0x10);
    dht.extend_from_slice(&ac.bits);
    dht.extend_from_slice(&AC_SYMBOLS);
    segment(&mut out, 0xC4, &dht);

    let all: Vec<usize> = (0..n).collect();
    if progressive {
        // Spectral selection only: DC of all components, then each
        // component's AC band 1..=63 in its own scan.
        scan_header(&mut out, &all, 0, 0);
        let mut w = BitWriter::default();
        let mut pred = vec![0i32; n];
        for b in 0..bw * bh {
            for (comp, p) in coeffs.iter().zip(pred.iter_mut()) {
                put_dc(&mut w, &dc, comp[b][0] - *p);
                *p = comp[b][0];
            }
        }
        out.extend(w.finish());
        for (c, comp) in coeffs.iter().enumerate() {
            scan_header(&mut out, &[c], 1, 63);
            let mut w = BitWriter::default();
            for block in comp {
                put_ac(&mut w, &ac, block);
            }
            out.extend(w.finish());
        }
    } else {
        if restart > 0 {
            segment(&mut out, 0xDD, &[(restart >> 8) as u8, restart as u8]);
        }
        scan_header(&mut out, &all, 0, 63);
        let mut w = BitWriter::default();
        let mut pred = vec![0i32; n];
        for b in 0..bw * bh {
            if restart > 0 && b > 0 && b % restart == 0 {
                out.extend(std::mem::take(&mut w).finish());
                out.extend_from_slice(&[0xFF, 0xD0 + ((b / restart - 1) % 8) as u8]);
                pred.fill(0);
            }
            for (comp, p) in coeffs.iter().zip(pred.iter_mut()) {
                put_dc(&mut w, &dc, comp[b][0] - *p);
                *p = comp[b][0];
                put_ac(&mut w, &ac, &comp[b]);
            }
        }
        out.extend(w.finish());
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// RGB → inverted CMYK planes (Adobe/Photoshop convention: stored value =
/// 255 - ink, so a decoder's `c * k / 255` gives back red).
pub(crate) fn rgb_to_adobe_cmyk(rgb: &[u8]) -> Vec<Vec<u8>> {
    let mut p: Vec<Vec<u8>> = (0..4).map(|_| Vec::with_capacity(rgb.len() / 3)).collect();
    for px in rgb.chunks_exact(3) {
        let k = px[0].max(px[1]).max(px[2]);
        for c in 0..3 {
            let v = if k == 0 {
                0
            } else {
                (px[c] as u32 * 255 + k as u32 / 2) / k as u32
            };
            p[c].push(v.min(255) as u8);
        }
        p[3].push(k);
    }
    p
}

/// RGB → JFIF Y, Cb, Cr planes.
pub(crate) fn rgb_to_ycbcr(rgb: &[u8]) -> Vec<Vec<u8>> {
    let mut p: Vec<Vec<u8>> = (0..3).map(|_| Vec::with_capacity(rgb.len() / 3)).collect();
    for px in rgb.chunks_exact(3) {
        let (r, g, b) = (px[0] as f32, px[1] as f32, px[2] as f32);
        let y = 0.299 * r + 0.587 * g + 0.114 * b;
        let cb = 128.0 - 0.168_736 * r - 0.331_264 * g + 0.5 * b;
        let cr = 128.0 + 0.5 * r - 0.418_688 * g - 0.081_312 * b;
        for (plane, v) in p.iter_mut().zip([y, cb, cr]) {
            plane.push(v.round().clamp(0.0, 255.0) as u8);
        }
    }
    p
}

fn segment(out: &mut Vec<u8>, marker: u8, data: &[u8]) {
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(&((data.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(data);
}

fn scan_header(out: &mut Vec<u8>, comps: &[usize], ss: u8, se: u8) {
    let mut d = vec![comps.len() as u8];
    for &c in comps {
        d.extend_from_slice(&[c as u8 + 1, 0x00]);
    }
    d.extend_from_slice(&[ss, se, 0]);
    segment(out, 0xDA, &d);
}

/// Level-shifted, DCT'd, quantised blocks of one plane (edges replicated).
fn blocks(plane: &[u8], w: usize, h: usize, bw: usize, bh: usize, q: &[u16; 64]) -> Vec<[i32; 64]> {
    let cos = cos_table();
    let mut out = Vec::with_capacity(bw * bh);
    for by in 0..bh {
        for bx in 0..bw {
            let mut px = [0f32; 64];
            for y in 0..8 {
                for x in 0..8 {
                    let sy = (by * 8 + y).min(h - 1);
                    let sx = (bx * 8 + x).min(w - 1);
                    px[y * 8 + x] = plane[sy * w + sx] as f32 - 128.0;
                }
            }
            // Separable 2-D DCT-II: rows, then columns.
            let mut tmp = [0f32; 64];
            for y in 0..8 {
                for u in 0..8 {
                    tmp[y * 8 + u] = (0..8).map(|x| px[y * 8 + x] * cos[u][x]).sum();
                }
            }
            let mut block = [0i32; 64];
            for (k, &i) in ZIGZAG.iter().enumerate() {
                let i = i as usize;
                let (v, u) = (i / 8, i % 8);
                let f: f32 = (0..8).map(|y| tmp[y * 8 + u] * cos[v][y]).sum();
                // Baseline Huffman coding covers magnitudes up to 2^10 - 1 (AC).
                block[k] = ((f / q[i] as f32).round() as i32).clamp(-1023, 1023);
            }
            out.push(block);
        }
    }
    out
}

/// `cos[u][x] = C(u)/2 * cos((2x+1)uπ/16)`, the orthonormal 1-D DCT basis.
fn cos_table() -> [[f32; 8]; 8] {
    let mut t = [[0f32; 8]; 8];
    for (u, row) in t.iter_mut().enumerate() {
        let cu = if u == 0 { 1.0 / 2f32.sqrt() } else { 1.0 };
        for (x, v) in row.iter_mut().enumerate() {
            *v = cu / 2.0 * ((2 * x + 1) as f32 * u as f32 * PI / 16.0).cos();
        }
    }
    t
}

/// The example tables of the JPEG standard (natural order), scaled by
/// quality the way libjpeg does.
const LUMA_Q: [u16; 64] = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113,
    92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA_Q: [u16; 64] = [
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
];

fn quant_table(base: &[u16; 64], quality: u8) -> [u16; 64] {
    let q = quality.clamp(1, 100) as u32;
    let scale = if q < 50 { 5000 / q } else { 200 - 2 * q };
    base.map(|b| ((b as u32 * scale + 50) / 100).clamp(1, 255) as u16)
}

/// Every AC symbol: end-of-block, zero-run-length, and (run, size) pairs
/// for runs 0..=15 and sizes 1..=10.
const AC_SYMBOLS: [u8; 162] = ac_symbols();

const fn ac_symbols() -> [u8; 162] {
    let mut s = [0u8; 162];
    s[0] = 0x00;
    s[1] = 0xF0;
    let mut k = 2;
    let mut run = 0;
    while run < 16 {
        let mut size = 1;
        while size <= 10 {
            s[k] = (run << 4 | size) as u8;
            k += 1;
            size += 1;
        }
        run += 1;
    }
    s
}

/// A Huffman table in which every symbol has the same code length.
struct Table {
    bits: [u8; 16],
    /// Code of each symbol value (index = symbol byte).
    code: [u16; 256],
    len: u8,
}

fn flat_table(count: usize, len: u8) -> Table {
    // `count < 2^len` keeps the all-ones code unused, as JPEG requires.
    debug_assert!(count < 1 << len);
    let mut bits = [0u8; 16];
    bits[len as usize - 1] = count as u8;
    let mut code = [0u16; 256];
    let symbols: Vec<u8> = if len == 4 {
        (0..count as u8).collect()
    } else {
        AC_SYMBOLS.to_vec()
    };
    for (i, &s) in symbols.iter().enumerate() {
        code[s as usize] = i as u16;
    }
    Table { bits, code, len }
}

/// Magnitude category and the extra bits JPEG stores for value `v`.
fn category(v: i32) -> (u8, u16) {
    let size = (32 - v.unsigned_abs().leading_zeros()) as u8;
    let bits = if v < 0 { v - 1 } else { v };
    (size, (bits as u32 & ((1u32 << size) - 1)) as u16)
}

fn put_dc(w: &mut BitWriter, t: &Table, diff: i32) {
    let (size, bits) = category(diff);
    w.put(t.code[size as usize], t.len);
    w.put(bits, size);
}

fn put_ac(w: &mut BitWriter, t: &Table, block: &[i32; 64]) {
    let mut run = 0usize;
    for &v in &block[1..] {
        if v == 0 {
            run += 1;
            continue;
        }
        while run > 15 {
            w.put(t.code[0xF0], t.len);
            run -= 16;
        }
        let (size, bits) = category(v);
        w.put(t.code[run << 4 | size as usize], t.len);
        w.put(bits, size);
        run = 0;
    }
    if run > 0 {
        w.put(t.code[0x00], t.len);
    }
}

/// Entropy-coded segment writer with 0xFF byte stuffing.
#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u32,
    n: u8,
}

impl BitWriter {
    fn put(&mut self, bits: u16, len: u8) {
        if len == 0 {
            return;
        }
        self.acc = (self.acc << len) | (bits as u32 & ((1 << len) - 1));
        self.n += len;
        while self.n >= 8 {
            let byte = (self.acc >> (self.n - 8)) as u8;
            self.out.push(byte);
            if byte == 0xFF {
                self.out.push(0);
            }
            self.n -= 8;
        }
        self.acc &= (1 << self.n) - 1;
    }

    /// Pads the last byte with 1-bits, as the standard asks.
    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            let pad = 8 - self.n;
            self.put((1 << pad) - 1, pad);
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth test picture with edges, not a multiple of 8 in size.
    fn picture(w: usize, h: usize) -> Vec<u8> {
        let mut rgb = Vec::with_capacity(w * h * 3);
        for y in 0..h {
            for x in 0..w {
                let edge = if (x / 9 + y / 7) % 2 == 0 { 40 } else { 0 };
                rgb.extend_from_slice(&[
                    (x * 255 / w) as u8,
                    (y * 255 / h) as u8,
                    (100 + edge) as u8,
                ]);
            }
        }
        rgb
    }

    fn mean_abs_diff(a: &[u8], b: &[u8]) -> f64 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(&x, &y)| (x as f64 - y as f64).abs())
            .sum::<f64>()
            / a.len() as f64
    }

    #[test]
    fn decoders_read_what_we_write() {
        let (w, h) = (37, 22);
        let rgb = picture(w, h);
        let cases = [
            (Planes::YCbCr, false, rgb_to_ycbcr(&rgb)),
            (Planes::YCbCr, true, rgb_to_ycbcr(&rgb)),
            (Planes::AdobeCmyk, false, rgb_to_adobe_cmyk(&rgb)),
            (Planes::AdobeCmyk, true, rgb_to_adobe_cmyk(&rgb)),
        ];
        for (model, progressive, planes) in cases {
            let bytes = encode(&planes, model, w, h, 90, progressive);
            let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Jpeg)
                .unwrap_or_else(|e| panic!("{model:?} progressive={progressive}: {e}"))
                .to_rgb8();
            assert_eq!((img.width(), img.height()), (w as u32, h as u32));
            let err = mean_abs_diff(img.as_raw(), &rgb);
            assert!(
                err < 4.0,
                "{model:?} progressive={progressive}: mean abs error {err}"
            );
        }
    }

    #[test]
    fn categories() {
        assert_eq!(category(0), (0, 0));
        assert_eq!(category(1), (1, 1));
        assert_eq!(category(-1), (1, 0));
        assert_eq!(category(5), (3, 5));
        assert_eq!(category(-5), (3, 2));
        assert_eq!(category(1023), (10, 1023));
    }
}
