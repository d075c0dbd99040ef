//! Huffman decoding of 8×8 coefficient blocks: the hot loop of JPEG decoding.
//!
//! Two things make it fast. The bit reader works on scan data whose byte
//! stuffing was removed beforehand, so a refill is one unaligned big-endian
//! load with no per-byte 0xFF test. And AC codes whose code plus value bits
//! fit in [`FAST_BITS`] decode with one table lookup to (run, value, length),
//! which covers nearly every coefficient of a photograph.

use super::headers::ZIGZAG;

/// Bits looked up at once.
const FAST_BITS: u32 = 10;
const FAST_SIZE: usize = 1 << FAST_BITS;
/// Most bits one symbol can take: a 16-bit code and 15 value bits.
const SLOW_MAX: u32 = 31;
/// Fast AC entry flag: end of block.
const EOB: i32 = 1 << 4;

/// One Huffman table (ITU-T T.81 annex C) with its lookup tables.
#[derive(Debug, Clone)]
pub(crate) struct HuffTable {
    /// Top FAST_BITS bits → (code length << 8) | symbol; 0 if the code is longer.
    symbols: Box<[u16; FAST_SIZE]>,
    /// Top FAST_BITS bits → a whole coefficient, 0 if code plus value bits
    /// do not fit: AC tables (value << 16) | (run << 8) | flags | total
    /// length, DC tables (difference << 16) | total length.
    fast: Box<[i32; FAST_SIZE]>,
    /// Exclusive upper bound of codes of each length, left-aligned to 16 bits.
    max_code: [u32; 18],
    /// Index into `values` of the first code of each length, minus that code.
    offset: [i32; 17],
    values: Vec<u8>,
}

impl HuffTable {
    /// Builds a table from a DHT segment's 16 counts and symbol values;
    /// `None` if the counts describe an impossible code.
    pub(crate) fn new(counts: &[u8; 16], values: &[u8], is_ac: bool) -> Option<HuffTable> {
        let mut symbols = Box::new([0u16; FAST_SIZE]);
        let mut max_code = [0u32; 18];
        let mut offset = [0i32; 17];
        let mut code = 0u32;
        let mut k = 0usize;
        for len in 1..=16u32 {
            let n = counts[len as usize - 1] as u32;
            offset[len as usize] = k as i32 - code as i32;
            for _ in 0..n {
                if code >= 1 << len {
                    return None;
                }
                if len <= FAST_BITS {
                    let shift = FAST_BITS - len;
                    let first = (code << shift) as usize;
                    let entry = ((len as u16) << 8) | *values.get(k)? as u16;
                    symbols[first..first + (1 << shift)].fill(entry);
                }
                code += 1;
                k += 1;
            }
            max_code[len as usize] = code << (16 - len);
            code <<= 1;
        }
        // Sentinel: every 16-bit pattern is below it, so a search ends.
        max_code[17] = u32::MAX;
        let values = values.get(..k)?.to_vec();
        let mut table = HuffTable {
            symbols,
            fast: Box::new([0; FAST_SIZE]),
            max_code,
            offset,
            values,
        };
        table.fast = if is_ac {
            table.fast_ac()
        } else {
            table.fast_dc()
        };
        Some(table)
    }

    fn fast_dc(&self) -> Box<[i32; FAST_SIZE]> {
        let mut dc = Box::new([0i32; FAST_SIZE]);
        for (bits, slot) in dc.iter_mut().enumerate() {
            let entry = self.symbols[bits];
            let (len, size) = ((entry >> 8) as u32, (entry & 0xFF) as u32);
            if entry == 0 || size > 11 || len + size > FAST_BITS {
                continue;
            }
            let value = if size == 0 {
                0
            } else {
                extend(
                    ((bits as u32 >> (FAST_BITS - len - size)) & ((1 << size) - 1)) as i32,
                    size,
                )
            };
            *slot = (value << 16) | (len + size) as i32;
        }
        dc
    }

    fn fast_ac(&self) -> Box<[i32; FAST_SIZE]> {
        let mut ac = Box::new([0i32; FAST_SIZE]);
        for (bits, slot) in ac.iter_mut().enumerate() {
            let entry = self.symbols[bits];
            if entry == 0 {
                continue;
            }
            let len = (entry >> 8) as u32;
            let symbol = (entry & 0xFF) as u32;
            let (run, size) = (symbol >> 4, symbol & 15);
            if size == 0 {
                // End of block, or ZRL: 16 zeros, i.e. run 15 then a zero.
                *slot = if run == 15 {
                    (15 << 8) | len as i32
                } else {
                    EOB | len as i32
                };
            } else if len + size <= FAST_BITS {
                let raw = (bits as u32 >> (FAST_BITS - len - size)) & ((1 << size) - 1);
                let value = extend(raw as i32, size);
                *slot = (value << 16) | ((run as i32) << 8) | (len + size) as i32;
            }
        }
        ac
    }

    /// Decodes one symbol from the top of `bits` (at least 16 bits valid).
    #[inline(always)]
    fn symbol(&self, bits: &mut BitReader<'_>) -> Result<u8, ()> {
        let peek = bits.peek(FAST_BITS) as usize;
        let entry = self.symbols[peek];
        if entry != 0 {
            bits.consume((entry >> 8) as u32);
            return Ok(entry as u8);
        }
        let peek16 = bits.peek(16);
        let mut len = FAST_BITS + 1;
        while peek16 >= self.max_code[len as usize] {
            len += 1;
        }
        if len > 16 {
            return Err(());
        }
        let code = (peek16 >> (16 - len)) as i32;
        let index = self.offset[len as usize] + code;
        bits.consume(len);
        self.values.get(index as usize).copied().ok_or(())
    }
}

/// JPEG's sign extension of an `size`-bit magnitude category value (F.2.2.1).
#[inline(always)]
fn extend(v: i32, size: u32) -> i32 {
    if v < 1 << (size - 1) {
        v - (1 << size) + 1
    } else {
        v
    }
}

/// MSB-first bit reader over unstuffed scan data. Reading past the end
/// yields zero bits; [`BitReader::overrun`] tells whether any was consumed.
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    buf: u64,
    count: u32,
}

impl<'a> BitReader<'a> {
    /// A reader at the start of `data`.
    pub(crate) fn new(data: &'a [u8]) -> Self {
        let mut r = BitReader {
            data,
            pos: 0,
            buf: 0,
            count: 0,
        };
        r.refill();
        r
    }

    /// Tops the buffer up to at least 56 bits (at most 63).
    #[inline(always)]
    fn refill(&mut self) {
        if let Some(word) = self.data.get(self.pos..self.pos + 8) {
            // Bits below `count` are either zero or these same stream
            // bits, so OR-ing the whole word in is exact.
            let word = u64::from_be_bytes(word.try_into().unwrap_or([0; 8]));
            self.buf |= word >> self.count;
            let bytes = (63 - self.count) >> 3;
            self.pos += bytes as usize;
            self.count += bytes * 8;
        } else {
            self.refill_tail();
        }
    }

    #[cold]
    fn refill_tail(&mut self) {
        // Stops below 64 so that `refill`'s shift stays in range.
        while self.count < 56 {
            let byte = self.data.get(self.pos).copied().unwrap_or(0);
            self.buf |= (byte as u64) << (56 - self.count);
            self.pos += 1;
            self.count += 8;
        }
    }

    #[inline(always)]
    fn peek(&self, n: u32) -> u32 {
        (self.buf >> (64 - n)) as u32
    }

    #[inline(always)]
    fn consume(&mut self, n: u32) {
        self.buf <<= n;
        self.count -= n;
    }

    /// `n` (1..=16) bits as a number.
    #[inline(always)]
    fn take(&mut self, n: u32) -> i32 {
        let v = self.peek(n) as i32;
        self.consume(n);
        v
    }

    /// Whether more bits were consumed than the data holds.
    pub(crate) fn overrun(&self) -> bool {
        (self.pos * 8).saturating_sub(self.count as usize) > self.data.len() * 8
    }
}

/// Decodes one block into `block` (natural order, dequantised; must be all
/// zeros on entry), updating the DC predictor. Returns the zigzag position
/// where the block ended (1: DC only; 64: no end-of-block code needed).
/// `Err` on an invalid code or a run past the block.
/// With `STORE` false the block is only read past (the DC predictor still
/// updates): for blocks nobody will look at.
#[inline(always)]
pub(crate) fn decode_block<const STORE: bool>(
    bits: &mut BitReader<'_>,
    dc_table: &HuffTable,
    ac_table: &HuffTable,
    quant: &[i32; 64],
    dc_pred: &mut i32,
    block: &mut [i32; 64],
) -> Result<usize, ()> {
    bits.refill();
    let entry = dc_table.fast[bits.peek(FAST_BITS) as usize];
    let diff = if entry != 0 {
        bits.consume((entry & 15) as u32);
        entry >> 16
    } else {
        let size = dc_table.symbol(bits)? as u32;
        if size > 11 {
            return Err(());
        }
        if size > 0 {
            extend(bits.take(size), size)
        } else {
            0
        }
    };
    *dc_pred = dc_pred.wrapping_add(diff);
    if STORE {
        block[0] = dc_pred.wrapping_mul(quant[0]);
    }
    let fast = &*ac_table.fast;
    let mut k = 1usize;
    // One refill per three symbols (a refill is on the critical path). A
    // refill leaves at least 56 bits; a fast symbol needs and takes at most
    // FAST_BITS (10); a slow one takes at most SLOW_MAX (31) and first tops
    // up unless it has SLOW_MAX + FAST_BITS, so it leaves at least 10. The
    // fewest bits a third symbol can meet: 56 - 31 - 10 = 15 (slow, fast)
    // or 56 - 10 - 31 = 15 (fast, slow). A fourth could meet 5.
    loop {
        bits.refill();
        if !ac_step::<STORE>(bits, ac_table, fast, quant, block, &mut k)? || k >= 64 {
            break;
        }
        if !ac_step::<STORE>(bits, ac_table, fast, quant, block, &mut k)? || k >= 64 {
            break;
        }
        if !ac_step::<STORE>(bits, ac_table, fast, quant, block, &mut k)? || k >= 64 {
            break;
        }
    }
    Ok(k)
}

/// Decodes one AC symbol at zigzag position `*k` (< 64). `Ok(false)` at an
/// end-of-block code.
#[inline(always)]
fn ac_step<const STORE: bool>(
    bits: &mut BitReader<'_>,
    ac_table: &HuffTable,
    fast: &[i32; FAST_SIZE],
    quant: &[i32; 64],
    block: &mut [i32; 64],
    k: &mut usize,
) -> Result<bool, ()> {
    let entry = fast[bits.peek(FAST_BITS) as usize];
    if entry != 0 {
        bits.consume((entry & 15) as u32);
        if entry & EOB != 0 {
            return Ok(false);
        }
        *k += ((entry >> 8) & 15) as usize;
        if *k > 63 {
            return Err(());
        }
        if STORE {
            // `& 63` (a no-op on ZIGZAG's values) spares a bounds check.
            block[(ZIGZAG[*k] & 63) as usize] = (entry >> 16) * quant[*k];
        }
        *k += 1;
        return Ok(true);
    }
    if bits.count < SLOW_MAX + FAST_BITS {
        bits.refill();
    }
    let symbol = ac_table.symbol(bits)? as u32;
    let (run, size) = ((symbol >> 4) as usize, symbol & 15);
    if size == 0 {
        if run != 15 {
            return Ok(false);
        }
        *k += 16;
        return Ok(true);
    }
    *k += run;
    if *k > 63 || size > 15 {
        return Err(());
    }
    let v = bits.take(size);
    if STORE {
        block[(ZIGZAG[*k] & 63) as usize] = extend(v, size).wrapping_mul(quant[*k]);
    }
    *k += 1;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `(code, len)` pairs MSB-first.
    fn pack(codes: &[(u32, u32)]) -> Vec<u8> {
        let mut out = Vec::new();
        let (mut acc, mut n) = (0u64, 0u32);
        for &(code, len) in codes {
            acc = (acc << len) | code as u64;
            n += len;
            while n >= 8 {
                out.push((acc >> (n - 8)) as u8);
                n -= 8;
            }
        }
        if n > 0 {
            out.push(((acc << (8 - n)) | ((1 << (8 - n)) - 1)) as u8);
        }
        out
    }

    /// Canonical codes (T.81 annex C) of a table: symbol → (code, length).
    fn codes_of(counts: &[u8; 16], values: &[u8]) -> std::collections::HashMap<u8, (u32, u32)> {
        let mut codes = std::collections::HashMap::new();
        let (mut code, mut k) = (0u32, 0usize);
        for len in 1..=16u32 {
            for _ in 0..counts[len as usize - 1] {
                codes.insert(values[k], (code, len));
                code += 1;
                k += 1;
            }
            code <<= 1;
        }
        codes
    }

    /// Random blocks coded with a table shaped like the standard luminance
    /// AC table (T.81 table K.5's code-length counts, symbols shuffled) and
    /// decoded back to back: short and long codes, ZRLs, ends of block and
    /// blocks filled to position 63 come out exact, with and without
    /// storing.
    #[test]
    fn random_blocks_decode_exactly() {
        use rand::seq::SliceRandom;
        use rand::{Rng, SeedableRng};
        let counts: [u8; 16] = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
        let mut dc_counts = [0u8; 16];
        dc_counts[0] = 1;
        let dc = HuffTable::new(&dc_counts, &[0], false).unwrap();
        for seed in 0..40u64 {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            // EOB, ZRL and run/size 0..15 × 1..10: the 162 AC symbols.
            let mut values: Vec<u8> = vec![0x00, 0xF0];
            values.extend((0..16u8).flat_map(|r| (1..=10u8).map(move |s| r << 4 | s)));
            values.shuffle(&mut rng);
            let table = HuffTable::new(&counts, &values, true).unwrap();
            let code = codes_of(&counts, &values);
            let quant: [i32; 64] = std::array::from_fn(|_| rng.random_range(1..=255));
            let mut stream = vec![];
            let mut want = vec![];
            for _ in 0..200 {
                stream.push((0, 1)); // DC difference 0
                let mut block = [0i32; 64];
                let mut k = 1;
                let dense = rng.random_bool(0.3);
                while k < 64 {
                    if !dense && rng.random_bool(0.15) {
                        stream.push(code[&0x00]);
                        break;
                    }
                    let run = if dense {
                        0
                    } else {
                        rng.random_range(0..(64 - k).min(40))
                    };
                    let mut run = run.min(63 - k);
                    while run >= 16 {
                        stream.push(code[&0xF0]);
                        run -= 16;
                        k += 16;
                    }
                    k += run;
                    let size = if rng.random_bool(0.8) {
                        rng.random_range(1..=3u32)
                    } else {
                        rng.random_range(1..=10u32)
                    };
                    let magnitude: i32 = rng.random_range(1 << (size - 1)..1 << size);
                    let v = if rng.random_bool(0.5) {
                        magnitude
                    } else {
                        -magnitude
                    };
                    stream.push(code[&((run as u8) << 4 | size as u8)]);
                    let raw = if v < 0 { v - 1 } else { v } as u32 & ((1 << size) - 1);
                    stream.push((raw, size));
                    block[ZIGZAG[k] as usize] = v * quant[k];
                    k += 1;
                }
                want.push((block, if k < 64 { k } else { 64 }));
            }
            let stream = pack(&stream);
            let mut bits = BitReader::new(&stream);
            let mut skip = BitReader::new(&stream);
            for (i, (block, end)) in want.iter().enumerate() {
                let mut got = [0i32; 64];
                let e = decode_block::<true>(&mut bits, &dc, &table, &quant, &mut 0, &mut got);
                assert_eq!(e, Ok(*end), "seed {seed} block {i}");
                assert_eq!(&got, block, "seed {seed} block {i}");
                let mut untouched = [0i32; 64];
                let e =
                    decode_block::<false>(&mut skip, &dc, &table, &quant, &mut 0, &mut untouched);
                assert_eq!(e, Ok(*end), "seed {seed} block {i}, not stored");
            }
            assert!(!bits.overrun());
        }
    }

    #[test]
    fn extend_matches_the_standard_table() {
        assert_eq!(extend(0, 1), -1);
        assert_eq!(extend(1, 1), 1);
        assert_eq!(extend(0, 3), -7);
        assert_eq!(extend(3, 3), -4);
        assert_eq!(extend(4, 3), 4);
        assert_eq!(extend(1023, 10), 1023);
        assert_eq!(extend(0, 11), -2047);
    }

    #[test]
    fn impossible_counts_are_refused() {
        let mut counts = [0u8; 16];
        counts[0] = 3; // three 1-bit codes
        assert!(HuffTable::new(&counts, &[0, 1, 2], false).is_none());
        counts[0] = 1;
        assert!(
            HuffTable::new(&counts, &[], false).is_none(),
            "missing values"
        );
    }

    /// A table with codes of every length up to 16, so both the fast and
    /// the slow lookup run.
    #[test]
    fn decodes_short_and_long_codes_and_values() {
        // Lengths: one code of each length 1..=15, two of 16.
        let mut counts = [1u8; 16];
        counts[15] = 2;
        let values: Vec<u8> = vec![
            0x01, 0x00, 0x12, 0xF0, 0x03, 0x21, 0x0A, 0x31, 0x41, 0x51, 0x61, 0x71, 0x81, 0x91,
            0xA1, 0xB2, 0x02,
        ];
        let table = HuffTable::new(&counts, &values, true).unwrap();
        // Canonical codes: length L has code (2^L - 2) for L < 16.
        let code = |len: u32| ((1u32 << len) - 2, len);
        // DC table: a single 1-bit code '0' for size 0... use a 2-symbol table.
        let mut dc_counts = [0u8; 16];
        dc_counts[1] = 2; // codes 00, 01
        let dc = HuffTable::new(&dc_counts, &[0, 3], false).unwrap();
        let quant = [2i32; 64];
        let stream = pack(&[
            (1, 2),       // DC size 3
            (5, 3),       // value 5
            code(1),      // AC 0x01: run 0, size 1
            (1, 1),       // +1 at k=1
            code(3),      // AC 0x12: run 1, size 2
            (0, 2),       // -3 at k=3
            code(4),      // ZRL: k += 16 → 20
            code(14),     // 0x91: run 9, size 1 → k=29
            (0, 1),       // -1
            (0xFFFF, 16), // second 16-bit code: 0x02 → run 0 size 2 at k=30
            (2, 2),       // +2
            code(2),      // EOB
        ]);
        let mut bits = BitReader::new(&stream);
        let mut pred = 10;
        let mut block = [0i32; 64];
        let end =
            decode_block::<true>(&mut bits, &dc, &table, &quant, &mut pred, &mut block).unwrap();
        assert_eq!(pred, 15);
        let mut want = [0i32; 64];
        want[0] = 30;
        want[ZIGZAG[1] as usize] = 2;
        want[ZIGZAG[3] as usize] = -6;
        want[ZIGZAG[29] as usize] = -2;
        want[ZIGZAG[30] as usize] = 4;
        assert_eq!(block, want);
        assert_eq!(end, 31);
        assert!(!bits.overrun());
    }

    /// Long codes with wide values back to back (26 bits each), mixed with
    /// short ones: the three-symbols-per-refill budget must hold.
    #[test]
    fn back_to_back_long_symbols_keep_enough_bits() {
        // '0' = EOB, '10' = 0x08 (2 + 8 bits: exactly FAST_BITS), 16-bit
        // codes from 0xC000: 0x0A, 0x0F.
        let mut counts = [0u8; 16];
        counts[0] = 1;
        counts[1] = 1;
        counts[15] = 2;
        let table = HuffTable::new(&counts, &[0x00, 0x08, 0x0A, 0x0F], true).unwrap();
        let mut dc_counts = [0u8; 16];
        dc_counts[0] = 1;
        let dc = HuffTable::new(&dc_counts, &[0], false).unwrap();
        let mut quant = [1i32; 64];
        quant[0] = 1;
        let mut codes = vec![(0, 1)]; // DC: size 0
        let mut want = [0i32; 64];
        for k in 1..63usize {
            // Period 5 (every alignment with the refills occurs): first a
            // widest slow symbol then four widest fast ones, later three
            // fast, a 26-bit slow and a widest slow symbol.
            let slow31 = ((0xC001, 16), (0x4000 | k as u32, 15));
            let slow26 = ((0xC000, 16), (0x200 | k as u32, 10));
            let fast10 = ((0b10, 2), (0x80 | k as u32, 8));
            let (code, value) = match (k < 32, k % 5) {
                (_, 0) => slow31,
                (false, 4) => slow26,
                _ => fast10,
            };
            codes.push(code);
            codes.push(value);
            want[ZIGZAG[k] as usize] = extend(value.0 as i32, value.1);
        }
        codes.push((0, 1)); // EOB
        let stream = pack(&codes);
        let mut bits = BitReader::new(&stream);
        let mut block = [0i32; 64];
        let end = decode_block::<true>(&mut bits, &dc, &table, &quant, &mut 0, &mut block).unwrap();
        assert_eq!(end, 63);
        assert_eq!(block, want);
        assert!(!bits.overrun());
    }

    /// DC differences by the one-lookup table and, when code plus value do
    /// not fit in it, by the symbol-then-value path.
    #[test]
    fn dc_differences_short_and_long() {
        // DC: '0' = size 11, '10' = size 3, '110' = size 0. AC: '0' = EOB.
        let mut dc_counts = [0u8; 16];
        dc_counts[..3].fill(1);
        let dc = HuffTable::new(&dc_counts, &[11, 3, 0], false).unwrap();
        let mut ac_counts = [0u8; 16];
        ac_counts[0] = 1;
        let ac = HuffTable::new(&ac_counts, &[0x00], true).unwrap();
        let quant = [3i32; 64];
        let stream = pack(
            &[
                ((0, 1), (0b000_0000_0011, 11)), // -2044
                ((0b10, 2), (0b101, 3)),         // +5
                ((0b110, 3), (0, 0)),            // 0
                ((0, 1), (0b111_1111_1111, 11)), // +2047
            ]
            .iter()
            .flat_map(|&(code, value)| [code, value, (0, 1)]) // each block ends with EOB
            .filter(|&(_, len)| len > 0)
            .collect::<Vec<_>>(),
        );
        let mut bits = BitReader::new(&stream);
        let mut pred = 0;
        for want in [-2044, -2039, -2039, 8] {
            let mut block = [0i32; 64];
            let end =
                decode_block::<true>(&mut bits, &dc, &ac, &quant, &mut pred, &mut block).unwrap();
            assert_eq!((end, pred, block[0]), (1, want, 3 * want));
        }
        assert!(!bits.overrun());
    }

    #[test]
    fn run_past_the_block_and_invalid_codes_are_errors() {
        let mut counts = [0u8; 16];
        counts[0] = 1; // code '0' only
        let ac = HuffTable::new(&counts, &[0xF1], true).unwrap(); // run 15, size 1
        let dc = HuffTable::new(&counts, &[0], false).unwrap();
        // DC '0' then 0xF1 five times: k reaches past 63.
        let stream = [0b0000_0000u8, 0, 0, 0];
        let mut block = [0; 64];
        let r = decode_block::<true>(
            &mut BitReader::new(&stream),
            &dc,
            &ac,
            &[1; 64],
            &mut 0,
            &mut block,
        );
        assert!(r.is_err());
        // All ones is no code of this table.
        let stream = [0xFFu8; 8];
        let r = decode_block::<true>(
            &mut BitReader::new(&stream),
            &dc,
            &ac,
            &[1; 64],
            &mut 0,
            &mut [0; 64],
        );
        assert!(r.is_err());
    }

    #[test]
    fn reading_past_the_end_is_reported() {
        let data = [0xAB, 0xCD];
        let mut bits = BitReader::new(&data);
        assert_eq!(bits.take(12), 0xABC);
        assert!(!bits.overrun());
        bits.take(4);
        assert!(!bits.overrun());
        bits.refill();
        bits.take(1);
        assert!(bits.overrun());
    }
}
