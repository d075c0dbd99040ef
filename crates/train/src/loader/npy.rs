//! The `.npy` header: parsed here rather than through a crate so every
//! malformation gets a precise message, and written for test and benchmark
//! fixtures. Format: <https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html>.

const MAGIC: &[u8] = b"\x93NUMPY";

/// A parsed `.npy` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NpyHeader {
    /// NumPy dtype string, e.g. `|u1`, `<i2`, `<f4`.
    pub descr: String,
    /// Whether the array is stored in Fortran (column-major) order.
    pub fortran_order: bool,
    /// Array shape.
    pub shape: Vec<u64>,
    /// Byte offset of the array data from the start of the file.
    pub data_offset: usize,
}

/// Parses the header at the start of `bytes` (a whole `.npy` file or at
/// least its header). Versions 1.0 and 2.0 are accepted.
pub fn parse_header(bytes: &[u8]) -> Result<NpyHeader, String> {
    if bytes.len() < MAGIC.len() + 2 || &bytes[..MAGIC.len()] != MAGIC {
        return Err("not a .npy file (missing \\x93NUMPY magic)".into());
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (len_bytes, start) = match (major, minor) {
        (1, 0) => (2, 10),
        (2, 0) => (4, 12),
        _ => {
            return Err(format!(
                "unsupported .npy version {major}.{minor} (need 1.0 or 2.0)"
            ));
        }
    };
    if bytes.len() < start {
        return Err("truncated .npy header".into());
    }
    let mut len = 0usize;
    for (i, b) in bytes[8..8 + len_bytes].iter().enumerate() {
        len |= (*b as usize) << (8 * i);
    }
    let end = start
        .checked_add(len)
        .filter(|&e| e <= bytes.len())
        .ok_or("truncated .npy header")?;
    let text = std::str::from_utf8(&bytes[start..end]).map_err(|_| "header is not ASCII")?;
    let mut header = parse_dict(text)?;
    header.data_offset = end;
    Ok(header)
}

/// Encodes a version 1.0 header for a C-order array, padded to a multiple
/// of 64 bytes as NumPy does.
pub fn encode_header(descr: &str, shape: &[u64]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let unpadded = 10 + dict.len() + 1;
    dict.push_str(&" ".repeat(unpadded.next_multiple_of(64) - unpadded));
    dict.push('\n');
    let mut out = Vec::with_capacity(10 + dict.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// A tiny parser for the Python dict literal NumPy writes, e.g.
/// `{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }`.
struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.s.get(self.pos).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!(
                "malformed header: expected '{}' at byte {}",
                c as char, self.pos
            ))
        }
    }

    fn string(&mut self) -> Result<String, String> {
        let quote = self.peek().filter(|q| *q == b'\'' || *q == b'"');
        let quote = quote
            .ok_or_else(|| format!("malformed header: expected a string at byte {}", self.pos))?;
        self.pos += 1;
        let start = self.pos;
        while self.pos < self.s.len() && self.s[self.pos] != quote {
            self.pos += 1;
        }
        if self.pos == self.s.len() {
            return Err("malformed header: unterminated string".into());
        }
        self.pos += 1;
        Ok(String::from_utf8_lossy(&self.s[start..self.pos - 1]).into_owned())
    }

    fn word(&mut self) -> &str {
        self.skip_ws();
        let start = self.pos;
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_alphanumeric() {
            self.pos += 1;
        }
        std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("")
    }

    fn boolean(&mut self) -> Result<bool, String> {
        match self.word() {
            "True" => Ok(true),
            "False" => Ok(false),
            w => Err(format!(
                "malformed header: expected True or False, found '{w}'"
            )),
        }
    }

    fn tuple(&mut self) -> Result<Vec<u64>, String> {
        self.expect(b'(')?;
        let mut dims = Vec::new();
        loop {
            if self.peek() == Some(b')') {
                self.pos += 1;
                return Ok(dims);
            }
            let w = self.word().trim_end_matches('L').to_string();
            let d = w
                .parse::<u64>()
                .map_err(|_| format!("malformed header: bad dimension '{w}' in shape"))?;
            dims.push(d);
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b')') => {}
                _ => return Err("malformed header: bad shape tuple".into()),
            }
        }
    }
}

fn parse_dict(text: &str) -> Result<NpyHeader, String> {
    let mut p = Parser {
        s: text.as_bytes(),
        pos: 0,
    };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    p.expect(b'{')?;
    loop {
        if p.peek() == Some(b'}') {
            break;
        }
        let key = p.string()?;
        p.expect(b':')?;
        match key.as_str() {
            "descr" => descr = Some(p.string()?),
            "fortran_order" => fortran = Some(p.boolean()?),
            "shape" => shape = Some(p.tuple()?),
            other => return Err(format!("malformed header: unexpected key '{other}'")),
        }
        match p.peek() {
            Some(b',') => p.pos += 1,
            Some(b'}') => {}
            _ => return Err("malformed header: expected ',' or '}'".into()),
        }
    }
    Ok(NpyHeader {
        descr: descr.ok_or("header has no 'descr'")?,
        fortran_order: fortran.ok_or("header has no 'fortran_order'")?,
        shape: shape.ok_or("header has no 'shape'")?,
        data_offset: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for shape in [vec![5u64], vec![2, 3, 3, 3], vec![]] {
            let h = encode_header("<i2", &shape);
            assert_eq!(h.len() % 64, 0);
            let p = parse_header(&h).unwrap();
            assert_eq!(p.descr, "<i2");
            assert!(!p.fortran_order);
            assert_eq!(p.shape, shape);
            assert_eq!(p.data_offset, h.len());
        }
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_header(b"hello").is_err());
        let mut h = encode_header("|u1", &[4]);
        h[6] = 9;
        assert!(parse_header(&h).unwrap_err().contains("version 9.0"));
        let h = encode_header("|u1", &[4]);
        assert!(parse_header(&h[..20]).unwrap_err().contains("truncated"));
    }
}
