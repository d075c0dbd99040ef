//! The NumPy `.npy` v1.0 header: writing it, and parsing the subset this
//! crate writes (little-endian scalar dtypes, C order).

/// Element types used in our files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    /// `|u1`: pixels.
    U8,
    /// `<i2`: labels.
    I16,
    /// `<f4`: the mean image.
    F32,
}

impl Dtype {
    /// NumPy's `descr` string.
    pub fn descr(self) -> &'static str {
        match self {
            Dtype::U8 => "|u1",
            Dtype::I16 => "<i2",
            Dtype::F32 => "<f4",
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Dtype::U8 => 1,
            Dtype::I16 => 2,
            Dtype::F32 => 4,
        }
    }
}

const MAGIC: &[u8] = b"\x93NUMPY";

/// The complete header (magic, version, length, dict, padding) for an array
/// of `dtype` and `shape`, padded so the data starts on a 64-byte boundary.
pub fn header(dtype: Dtype, shape: &[u64]) -> Vec<u8> {
    header_with_descr(dtype.descr(), shape)
}

/// [`header`] with any NumPy `descr` string, including ones this crate
/// does not read (tests write such files to check they are refused).
pub fn header_with_descr(descr: &str, shape: &[u64]) -> Vec<u8> {
    let dims = match shape {
        [one] => format!("({one},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    // 10 bytes precede the dict; the dict ends with '\n'.
    let unpadded = 10 + dict.len() + 1;
    let padded = unpadded.div_ceil(64) * 64;
    dict.extend(std::iter::repeat_n(' ', padded - unpadded));
    dict.push('\n');
    let mut out = Vec::with_capacity(padded);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out
}

/// A parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Element type.
    pub dtype: Dtype,
    /// Array shape.
    pub shape: Vec<u64>,
    /// Byte offset of the data.
    pub data_offset: usize,
}

impl Header {
    /// Bytes of data the shape implies.
    pub fn data_len(&self) -> u64 {
        self.shape.iter().product::<u64>() * self.dtype.size() as u64
    }
}

/// Parses the header at the start of `bytes` (which must hold at least the
/// whole header). Accepts only what [`header`] writes: v1/v2, a known
/// dtype, C order.
pub fn parse_header(bytes: &[u8]) -> Result<Header, String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not a .npy file (bad magic)".into());
    }
    let (len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let dict = bytes
        .get(start..start + len)
        .ok_or("truncated .npy header")?;
    let dict = std::str::from_utf8(dict).map_err(|_| "header is not text")?;
    let descr = field(dict, "descr").ok_or("header has no 'descr'")?;
    let dtype = match descr.trim_matches('\'') {
        "|u1" | "<u1" | "u1" => Dtype::U8,
        "<i2" => Dtype::I16,
        "<f4" => Dtype::F32,
        other => return Err(format!("unsupported dtype {other}")),
    };
    let fortran = field(dict, "fortran_order").ok_or("header has no 'fortran_order'")?;
    if fortran != "False" {
        return Err("Fortran-ordered arrays are not supported".into());
    }
    let shape_text = dict
        .split("'shape':")
        .nth(1)
        .and_then(|s| s.split_once('(').map(|(_, rest)| rest))
        .and_then(|s| s.split_once(')').map(|(inside, _)| inside))
        .ok_or("header has no 'shape'")?;
    let shape = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<u64>()
                .map_err(|_| format!("bad shape entry {s:?}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Header {
        dtype,
        shape,
        data_offset: start + len,
    })
}

/// The value text of `'key': value` up to the next comma or brace.
fn field<'a>(dict: &'a str, key: &str) -> Option<&'a str> {
    let after = dict.split(&format!("'{key}':")).nth(1)?;
    let end = after.find([',', '}']).unwrap_or(after.len());
    Some(after[..end].trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_aligned_and_parses_back() {
        for (dtype, shape) in [
            (Dtype::U8, vec![1024, 256, 256, 3]),
            (Dtype::I16, vec![7]),
            (Dtype::F32, vec![64, 64, 3]),
            (Dtype::U8, vec![0, 64, 64, 3]),
        ] {
            let h = header(dtype, &shape);
            assert_eq!(h.len() % 64, 0);
            assert_eq!(*h.last().unwrap(), b'\n');
            let parsed = parse_header(&h).unwrap();
            assert_eq!(parsed.dtype, dtype);
            assert_eq!(parsed.shape, shape);
            assert_eq!(parsed.data_offset, h.len());
        }
        let one = String::from_utf8_lossy(&header(Dtype::I16, &[5])).into_owned();
        assert!(one.contains("'shape': (5,), }"), "{one}");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_header(b"hello").is_err());
        assert!(parse_header(b"\x93NUMPY\x01\x00\xff\xff{").is_err());
    }
}
