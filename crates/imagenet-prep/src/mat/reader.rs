//! Parsing: header, data elements, arrays. Every length read from the file
//! is checked against the bytes that are actually there before it is used.

use std::io::Read;

use super::MatError;
use super::format::{FLAG_COMPLEX, HEADER_LEN, mi, mx, numeric_size};
use super::value::Value;

/// Deepest nesting of cells/structs accepted (the devkit needs 2).
const MAX_DEPTH: usize = 32;
/// Largest decompressed size of one `miCOMPRESSED` element.
const MAX_DECOMPRESSED: u64 = 64 << 20;

/// A named top-level variable.
pub(crate) struct Variable {
    pub name: String,
    pub value: Value,
}

/// Parses every variable of a MAT-file.
pub(crate) fn read_variables(bytes: &[u8]) -> Result<Vec<Variable>, MatError> {
    let big_endian = read_header(bytes)?;
    let mut vars = Vec::new();
    let mut pos = HEADER_LEN;
    let file = Region {
        data: bytes,
        big_endian,
        origin: None,
    };
    while pos < bytes.len() {
        // Some writers leave a few padding bytes at the end.
        if bytes.len() - pos < 8 && bytes[pos..].iter().all(|&b| b == 0) {
            break;
        }
        let el = file.element(pos, bytes.len())?;
        match el.ty {
            mi::MATRIX => {
                if let Some(v) = file.matrix(el.start, el.end, 0)? {
                    vars.push(v);
                }
            }
            mi::COMPRESSED => {
                let inflated = inflate(&bytes[el.start..el.end], el.start)?;
                let inner = Region {
                    data: &inflated,
                    big_endian,
                    origin: Some(el.start),
                };
                let iel = inner.element(0, inflated.len())?;
                if iel.ty != mi::MATRIX {
                    return Err(inner.err(
                        0,
                        format!("compressed element holds type {}, not miMATRIX", iel.ty),
                    ));
                }
                if let Some(v) = inner.matrix(iel.start, iel.end, 0)? {
                    vars.push(v);
                }
            }
            // Other top-level elements carry no variable; skip them.
            _ => {}
        }
        pos = el.next;
    }
    Ok(vars)
}

/// Checks the 128-byte header; returns true for a big-endian file.
fn read_header(bytes: &[u8]) -> Result<bool, MatError> {
    if bytes.len() < HEADER_LEN {
        return Err(MatError::NotMat(format!(
            "{} bytes, shorter than the 128-byte header",
            bytes.len()
        )));
    }
    let big_endian = match &bytes[126..128] {
        b"IM" => false,
        b"MI" => true,
        other => {
            return Err(MatError::NotMat(format!(
                "endian indicator is {other:02x?}, expected 'IM' or 'MI'"
            )));
        }
    };
    let v = [bytes[124], bytes[125]];
    let version = if big_endian {
        u16::from_be_bytes(v)
    } else {
        u16::from_le_bytes(v)
    };
    if version != 0x0100 {
        let hint = if version == 0x0200 {
            " (a v7.3 HDF5 file; save it with -v7 instead)"
        } else {
            ""
        };
        return Err(MatError::NotMat(format!(
            "version {version:#06x}, expected 0x0100{hint}"
        )));
    }
    Ok(big_endian)
}

fn inflate(compressed: &[u8], offset: usize) -> Result<Vec<u8>, MatError> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_DECOMPRESSED + 1)
        .read_to_end(&mut out)
        .map_err(|e| MatError::Malformed {
            offset: offset as u64,
            what: format!("bad zlib data in miCOMPRESSED element: {e}"),
        })?;
    if out.len() as u64 > MAX_DECOMPRESSED {
        return Err(MatError::Malformed {
            offset: offset as u64,
            what: format!("miCOMPRESSED element inflates to more than {MAX_DECOMPRESSED} bytes"),
        });
    }
    Ok(out)
}

/// A data element's type and the byte range of its data.
struct Element {
    ty: u32,
    start: usize,
    end: usize,
    /// Where the next element starts (after padding).
    next: usize,
}

/// A byte buffer being parsed: the file itself or one inflated element.
struct Region<'a> {
    data: &'a [u8],
    big_endian: bool,
    /// File offset of the `miCOMPRESSED` element this buffer came from.
    origin: Option<usize>,
}

impl Region<'_> {
    fn err(&self, at: usize, what: impl Into<String>) -> MatError {
        let mut what = what.into();
        let offset = match self.origin {
            Some(o) => {
                what = format!(
                    "{what} (at byte {at} of the data inflated from the element at byte {o})"
                );
                o
            }
            None => at,
        };
        MatError::Malformed {
            offset: offset as u64,
            what,
        }
    }

    fn u32_at(&self, at: usize) -> u32 {
        let b = [
            self.data[at],
            self.data[at + 1],
            self.data[at + 2],
            self.data[at + 3],
        ];
        if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }

    /// Reads the element tag at `pos`, which must lie before `limit`.
    fn element(&self, pos: usize, limit: usize) -> Result<Element, MatError> {
        if limit.saturating_sub(pos) < 8 {
            return Err(self.err(pos, "truncated data element tag"));
        }
        let first = self.u32_at(pos);
        if first >> 16 != 0 {
            // Small data element: type and size share one word, data fits
            // in the next four bytes.
            let ty = first & 0xffff;
            let n = (first >> 16) as usize;
            if n > 4 {
                return Err(self.err(
                    pos,
                    format!("small data element claims {n} bytes (at most 4)"),
                ));
            }
            return Ok(Element {
                ty,
                start: pos + 4,
                end: pos + 4 + n,
                next: pos + 8,
            });
        }
        let n = self.u32_at(pos + 4) as usize;
        let start = pos + 8;
        if n > limit - start {
            return Err(self.err(
                pos,
                format!(
                    "data element of type {first} claims {n} bytes but only {} remain",
                    limit - start
                ),
            ));
        }
        let end = start + n;
        // Compressed elements are not padded; everything else is padded to
        // 8 bytes (tolerate a missing pad at the very end).
        let next = if first == mi::COMPRESSED {
            end
        } else {
            end.div_ceil(8).saturating_mul(8).min(limit)
        };
        Ok(Element {
            ty: first,
            start,
            end,
            next,
        })
    }

    /// Parses the body of an `miMATRIX` element spanning `start..end`.
    /// Returns `None` for a zero-length element at the top level.
    fn matrix(&self, start: usize, end: usize, depth: usize) -> Result<Option<Variable>, MatError> {
        if start == end {
            return Ok(Some(Variable {
                name: String::new(),
                value: Value::Empty,
            }));
        }
        if depth > MAX_DEPTH {
            return Err(self.err(start, format!("arrays nested deeper than {MAX_DEPTH}")));
        }
        let flags_el = self.element(start, end)?;
        if flags_el.ty != mi::UINT32 || flags_el.end - flags_el.start != 8 {
            return Err(self.err(start, "array flags are not 8 bytes of miUINT32"));
        }
        let flags = self.u32_at(flags_el.start);
        let class = (flags & 0xff) as u8;
        let complex = flags & FLAG_COMPLEX != 0;

        let dims_el = self.element(flags_el.next, end)?;
        // Some writers store dimensions as miUINT32; scipy accepts them too.
        if !matches!(dims_el.ty, mi::INT32 | mi::UINT32)
            || !(dims_el.end - dims_el.start).is_multiple_of(4)
        {
            return Err(self.err(flags_el.next, "dimensions are not miINT32"));
        }
        let mut dims = Vec::new();
        let mut count: u64 = 1;
        for at in (dims_el.start..dims_el.end).step_by(4) {
            let d = self.u32_at(at) as i32;
            if d < 0 {
                return Err(self.err(at, format!("negative dimension {d}")));
            }
            dims.push(d as usize);
            count = count.saturating_mul(d as u64);
        }
        if dims.len() < 2 {
            return Err(self.err(
                dims_el.start,
                format!("{} dimensions, at least 2 expected", dims.len()),
            ));
        }

        let name_el = self.element(dims_el.next, end)?;
        if !matches!(name_el.ty, mi::INT8 | mi::UINT8 | mi::UTF8) {
            return Err(self.err(dims_el.next, "array name is not miINT8"));
        }
        let name = String::from_utf8_lossy(&self.data[name_el.start..name_el.end])
            .trim_end_matches('\0')
            .to_string();
        let body = name_el.next;
        // Every element of a cell or struct takes at least an 8-byte tag, so
        // this caps what the counts below may allocate.
        let room = (end.saturating_sub(body) / 8) as u64;

        let value = match class {
            mx::CELL => {
                if count > room {
                    return Err(self.err(
                        start,
                        format!("cell array of {count} elements in {} bytes", end - body),
                    ));
                }
                let mut elements = Vec::with_capacity(count as usize);
                let mut pos = body;
                for _ in 0..count {
                    let (v, next) = self.sub_matrix(pos, end, depth)?;
                    elements.push(v);
                    pos = next;
                }
                Value::Cell { elements }
            }
            mx::STRUCT => self.struct_body(body, end, dims, count, room, depth)?,
            mx::CHAR => {
                let el = self.element(body, end)?;
                Value::Char {
                    text: self.chars(&el, &dims, body)?,
                }
            }
            mx::DOUBLE..=mx::UINT64 => {
                let el = self.element(body, end)?;
                let real = self.numbers(&el, body)?;
                if real.len() as u64 != count {
                    return Err(self.err(
                        body,
                        format!("{} values for an array of {count} elements", real.len()),
                    ));
                }
                if complex {
                    // The imaginary part is read to validate it and dropped.
                    let im = self.element(el.next, end)?;
                    self.numbers(&im, el.next)?;
                }
                Value::Numeric { dims, real }
            }
            other => Value::Unsupported { class: other },
        };
        Ok(Some(Variable { name, value }))
    }

    /// A nested `miMATRIX` element at `pos`; returns it and the next position.
    fn sub_matrix(&self, pos: usize, end: usize, depth: usize) -> Result<(Value, usize), MatError> {
        let el = self.element(pos, end)?;
        if el.ty != mi::MATRIX {
            return Err(self.err(
                pos,
                format!("element of type {} where miMATRIX was expected", el.ty),
            ));
        }
        let v = self.matrix(el.start, el.end, depth + 1)?;
        Ok((v.map_or(Value::Empty, |v| v.value), el.next))
    }

    fn struct_body(
        &self,
        body: usize,
        end: usize,
        dims: Vec<usize>,
        count: u64,
        room: u64,
        depth: usize,
    ) -> Result<Value, MatError> {
        let len_el = self.element(body, end)?;
        if len_el.ty != mi::INT32 || len_el.end - len_el.start != 4 {
            return Err(self.err(body, "struct field-name length is not one miINT32"));
        }
        let name_len = self.u32_at(len_el.start) as usize;
        let names_el = self.element(len_el.next, end)?;
        if names_el.ty != mi::INT8 && names_el.ty != mi::UINT8 {
            return Err(self.err(len_el.next, "struct field names are not miINT8"));
        }
        let raw = &self.data[names_el.start..names_el.end];
        if name_len == 0 && !raw.is_empty() || name_len != 0 && !raw.len().is_multiple_of(name_len)
        {
            return Err(self.err(
                len_el.next,
                format!(
                    "{} bytes of field names is not a multiple of the name length {name_len}",
                    raw.len()
                ),
            ));
        }
        let fields: Vec<String> = if name_len == 0 {
            Vec::new()
        } else {
            raw.chunks(name_len)
                .map(|c| {
                    let n = c.iter().position(|&b| b == 0).unwrap_or(c.len());
                    String::from_utf8_lossy(&c[..n]).into_owned()
                })
                .collect()
        };
        // Field-less elements occupy no bytes; cap them separately.
        let total = count.saturating_mul(fields.len().max(1) as u64);
        if total > room.max(1024) {
            return Err(self.err(
                body,
                format!(
                    "struct array of {count} elements x {} fields in {} bytes",
                    fields.len(),
                    end - body
                ),
            ));
        }
        let mut elements = Vec::with_capacity(count as usize);
        let mut pos = names_el.next;
        for _ in 0..count {
            let mut values = Vec::with_capacity(fields.len());
            for _ in 0..fields.len() {
                let (v, next) = self.sub_matrix(pos, end, depth)?;
                values.push(v);
                pos = next;
            }
            elements.push(values);
        }
        Ok(Value::Struct {
            dims,
            fields,
            elements,
        })
    }

    /// Decodes a numeric data element of any type to `f64`s.
    fn numbers(&self, el: &Element, pos: usize) -> Result<Vec<f64>, MatError> {
        let size = numeric_size(el.ty)
            .ok_or_else(|| self.err(pos, format!("data type {} is not numeric", el.ty)))?;
        let bytes = &self.data[el.start..el.end];
        if !bytes.len().is_multiple_of(size) {
            return Err(self.err(
                pos,
                format!(
                    "{} bytes is not a whole number of {size}-byte values",
                    bytes.len()
                ),
            ));
        }
        let be = self.big_endian;
        Ok(bytes
            .chunks_exact(size)
            .map(|c| decode_number(el.ty, c, be))
            .collect())
    }

    /// Decodes a char array's data to a string (rows joined by `\n`).
    fn chars(&self, el: &Element, dims: &[usize], pos: usize) -> Result<String, MatError> {
        let bytes = &self.data[el.start..el.end];
        let be = self.big_endian;
        let units: Vec<char> = match el.ty {
            mi::UTF8 => String::from_utf8_lossy(bytes).chars().collect(),
            mi::UINT8 | mi::INT8 => bytes.iter().map(|&b| b as char).collect(),
            mi::UINT16 | mi::UTF16 | mi::INT16 => {
                if !bytes.len().is_multiple_of(2) {
                    return Err(self.err(pos, "odd number of bytes in UTF-16 char data"));
                }
                let u: Vec<u16> = bytes
                    .chunks_exact(2)
                    .map(|c| {
                        if be {
                            u16::from_be_bytes([c[0], c[1]])
                        } else {
                            u16::from_le_bytes([c[0], c[1]])
                        }
                    })
                    .collect();
                char::decode_utf16(u)
                    .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                    .collect()
            }
            mi::UTF32 | mi::UINT32 | mi::INT32 => {
                if !bytes.len().is_multiple_of(4) {
                    return Err(self.err(pos, "char data length is not a multiple of 4"));
                }
                bytes
                    .chunks_exact(4)
                    .map(|c| {
                        let b = [c[0], c[1], c[2], c[3]];
                        let u = if be {
                            u32::from_be_bytes(b)
                        } else {
                            u32::from_le_bytes(b)
                        };
                        char::from_u32(u).unwrap_or(char::REPLACEMENT_CHARACTER)
                    })
                    .collect()
            }
            other => return Err(self.err(pos, format!("char data of type {other}"))),
        };
        // Multi-row char arrays are stored column-major.
        let rows = dims[0];
        if rows > 1 && dims.len() == 2 && rows.checked_mul(dims[1]) == Some(units.len()) {
            let cols = dims[1];
            let lines: Vec<String> = (0..rows)
                .map(|r| (0..cols).map(|c| units[r + c * rows]).collect())
                .collect();
            return Ok(lines.join("\n"));
        }
        Ok(units.into_iter().collect())
    }
}

fn decode_number(ty: u32, c: &[u8], be: bool) -> f64 {
    macro_rules! get {
        ($t:ty, $n:literal) => {{
            let mut b = [0u8; $n];
            b.copy_from_slice(c);
            if be {
                <$t>::from_be_bytes(b)
            } else {
                <$t>::from_le_bytes(b)
            }
        }};
    }
    match ty {
        mi::INT8 => c[0] as i8 as f64,
        mi::UINT8 => c[0] as f64,
        mi::INT16 => get!(i16, 2) as f64,
        mi::UINT16 => get!(u16, 2) as f64,
        mi::INT32 => get!(i32, 4) as f64,
        mi::UINT32 => get!(u32, 4) as f64,
        mi::SINGLE => get!(f32, 4) as f64,
        mi::DOUBLE => get!(f64, 8),
        mi::INT64 => get!(i64, 8) as f64,
        _ => get!(u64, 8) as f64,
    }
}
