//! Marker parsing up to the first scan: quantisation and Huffman tables,
//! the frame header, the restart interval, the Adobe colour transform.
//!
//! Only what the fast path decodes is accepted (8-bit sequential Huffman
//! JPEGs, greyscale or YCbCr, one interleaved scan); anything else is
//! [`Parsed::Unsupported`] and goes to the general decoder, which also owns
//! every error message a user sees.

use super::huffman::HuffTable;

/// Zigzag position → natural (row-major) position (ITU-T T.81, figure A.6).
pub(crate) const ZIGZAG: [u8; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// One frame component with its scan tables resolved.
#[derive(Debug, Clone)]
pub(crate) struct Component {
    /// Horizontal sampling factor (1..=4).
    pub h: usize,
    /// Vertical sampling factor (1..=4).
    pub v: usize,
    /// Quantisation table in zigzag order.
    pub quant: [i32; 64],
    /// DC Huffman table index (0..4).
    pub dc: usize,
    /// AC Huffman table index (0..4).
    pub ac: usize,
}

/// Everything needed to decode the scan.
pub(crate) struct Header {
    /// Image width in pixels.
    pub width: usize,
    /// Image height in pixels.
    pub height: usize,
    /// One (greyscale) or three (Y, Cb, Cr) components, in scan order.
    pub components: Vec<Component>,
    /// MCUs per restart interval (0 = none).
    pub restart_interval: usize,
    /// DC tables by slot.
    pub dc_tables: [Option<HuffTable>; 4],
    /// AC tables by slot.
    pub ac_tables: [Option<HuffTable>; 4],
    /// Offset of the first entropy-coded byte of the scan.
    pub scan_start: usize,
}

/// Outcome of parsing.
pub(crate) enum Parsed {
    /// A JPEG the fast path decodes.
    Supported(Box<Header>),
    /// Anything else (progressive, arithmetic, 12-bit, CMYK, RGB, several
    /// scans, malformed): the general decoder handles it.
    Unsupported,
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(((*b.get(at)? as usize) << 8) | *b.get(at + 1)? as usize)
}

struct Frame {
    width: usize,
    height: usize,
    /// (id, h, v, quant slot)
    comps: Vec<(u8, usize, usize, usize)>,
}

/// Parses `bytes` from SOI to the first SOS.
pub(crate) fn parse(bytes: &[u8]) -> Parsed {
    parse_inner(bytes).map_or(Parsed::Unsupported, |h| Parsed::Supported(Box::new(h)))
}

fn parse_inner(b: &[u8]) -> Option<Header> {
    if b.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut quant: [Option<[i32; 64]>; 4] = [None; 4];
    let mut dc_tables: [Option<HuffTable>; 4] = Default::default();
    let mut ac_tables: [Option<HuffTable>; 4] = Default::default();
    let mut frame: Option<Frame> = None;
    let mut restart_interval = 0;
    let mut adobe_transform: Option<u8> = None;
    let mut at = 2;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        if *b.get(at)? != 0xFF {
            return None;
        }
        while *b.get(at)? == 0xFF {
            at += 1;
        }
        let marker = *b.get(at)?;
        at += 1;
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            continue; // standalone markers
        }
        let len = be16(b, at)?;
        if len < 2 {
            return None;
        }
        let seg = b.get(at + 2..at + len)?;
        let next = at + len;
        match marker {
            0xDB => parse_dqt(seg, &mut quant)?,
            0xC4 => parse_dht(seg, &mut dc_tables, &mut ac_tables)?,
            // Baseline and extended sequential Huffman only.
            0xC0 | 0xC1 => frame = Some(parse_sof(seg)?),
            0xC2 | 0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return None,
            0xDD => restart_interval = be16(seg, 0)?,
            0xEE if seg.starts_with(b"Adobe") && seg.len() >= 12 => {
                adobe_transform = Some(seg[11]);
            }
            0xDA => {
                let frame = frame?;
                let components = parse_sos(seg, &frame, &quant)?;
                // Three components are YCbCr unless Adobe says otherwise
                // (transform 0) or the IDs spell R, G, B.
                if components.len() == 3
                    && (adobe_transform == Some(0) || frame.comps.iter().map(|c| c.0).eq(*b"RGB"))
                {
                    return None;
                }
                for c in &components {
                    dc_tables[c.dc].as_ref()?;
                    ac_tables[c.ac].as_ref()?;
                }
                return Some(Header {
                    width: frame.width,
                    height: frame.height,
                    components,
                    restart_interval,
                    dc_tables,
                    ac_tables,
                    scan_start: next,
                });
            }
            0xD9 => return None,
            _ => {} // APPn, COM and the like
        }
        at = next;
    }
}

fn parse_dqt(mut seg: &[u8], quant: &mut [Option<[i32; 64]>; 4]) -> Option<()> {
    while !seg.is_empty() {
        let (pq, tq) = (seg[0] >> 4, (seg[0] & 15) as usize);
        if tq > 3 || pq > 1 {
            return None;
        }
        let n = if pq == 0 { 64 } else { 128 };
        let body = seg.get(1..1 + n)?;
        let mut table = [0i32; 64];
        for (k, q) in table.iter_mut().enumerate() {
            *q = if pq == 0 {
                body[k] as i32
            } else {
                be16(body, 2 * k)? as i32
            };
        }
        quant[tq] = Some(table);
        seg = &seg[1 + n..];
    }
    Some(())
}

fn parse_dht(
    mut seg: &[u8],
    dc: &mut [Option<HuffTable>; 4],
    ac: &mut [Option<HuffTable>; 4],
) -> Option<()> {
    while !seg.is_empty() {
        let (tc, th) = (seg[0] >> 4, (seg[0] & 15) as usize);
        if tc > 1 || th > 3 {
            return None;
        }
        let counts: [u8; 16] = seg.get(1..17)?.try_into().ok()?;
        let total: usize = counts.iter().map(|&c| c as usize).sum();
        let values = seg.get(17..17 + total)?;
        let table = HuffTable::new(&counts, values, tc == 1)?;
        if tc == 0 {
            dc[th] = Some(table);
        } else {
            ac[th] = Some(table);
        }
        seg = &seg[17 + total..];
    }
    Some(())
}

fn parse_sof(seg: &[u8]) -> Option<Frame> {
    if *seg.first()? != 8 {
        return None; // 12-bit samples
    }
    let height = be16(seg, 1)?;
    let width = be16(seg, 3)?;
    let n = *seg.get(5)? as usize;
    if width == 0 || height == 0 || !(n == 1 || n == 3) {
        return None;
    }
    let mut comps = Vec::with_capacity(n);
    for i in 0..n {
        let c = seg.get(6 + 3 * i..9 + 3 * i)?;
        let (h, v, tq) = ((c[1] >> 4) as usize, (c[1] & 15) as usize, c[2] as usize);
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) || tq > 3 {
            return None;
        }
        comps.push((c[0], h, v, tq));
    }
    Some(Frame {
        width,
        height,
        comps,
    })
}

fn parse_sos(seg: &[u8], frame: &Frame, quant: &[Option<[i32; 64]>; 4]) -> Option<Vec<Component>> {
    let n = *seg.first()? as usize;
    // One interleaved scan with every component; multi-scan files go to
    // the general decoder.
    if n != frame.comps.len() {
        return None;
    }
    let hmax = frame.comps.iter().map(|c| c.1).max()?;
    let vmax = frame.comps.iter().map(|c| c.2).max()?;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let s = seg.get(1 + 2 * i..3 + 2 * i)?;
        // Planes are named by frame order (Y, Cb, Cr): the scan must agree.
        let (id, h, v, tq) = frame.comps[i];
        if s[0] != id {
            return None;
        }
        // Chroma planes are resized from their own resolution, which needs
        // whole-number subsampling ratios.
        if hmax % h != 0 || vmax % v != 0 {
            return None;
        }
        let (dc, ac) = ((s[1] >> 4) as usize, (s[1] & 15) as usize);
        if dc > 3 || ac > 3 {
            return None;
        }
        out.push(Component {
            h,
            v,
            quant: quant[tq]?,
            dc,
            ac,
        });
    }
    // Ss = 0, Se = 63, Ah = Al = 0 for sequential scans.
    if seg.get(1 + 2 * n..4 + 2 * n)? != [0, 63, 0] {
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_is_a_permutation_walking_antidiagonals() {
        assert_eq!(&ZIGZAG[..10], &[0, 1, 8, 16, 9, 2, 3, 10, 17, 24]);
        assert_eq!(ZIGZAG[63], 63);
        let mut seen = [false; 64];
        for (k, &n) in ZIGZAG.iter().enumerate() {
            assert!(!seen[n as usize]);
            seen[n as usize] = true;
            if k > 0 {
                let (r0, c0) = (ZIGZAG[k - 1] / 8, ZIGZAG[k - 1] % 8);
                let (r1, c1) = (n / 8, n % 8);
                assert!(r0.abs_diff(r1) <= 1 && c0.abs_diff(c1) <= 1);
            }
        }
    }

    #[test]
    fn rejects_what_it_does_not_decode() {
        assert!(matches!(parse(b""), Parsed::Unsupported));
        assert!(matches!(parse(b"\xFF\xD8\xFF\xC2"), Parsed::Unsupported));
        assert!(matches!(parse(b"\x89PNG\r\n\x1a\n"), Parsed::Unsupported));
    }
}
