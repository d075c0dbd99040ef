//! Writing: the header and one struct-array variable, in MATLAB's or
//! scipy's conventions. The date in the header is fixed so that output is
//! reproducible.

use std::io::Write;

use super::MatStyle;
use super::format::{HEADER_LEN, mi, mx};
use super::value::Value;

/// A struct array to write: `elements[i][f]` is field `f` of element `i`.
pub(crate) struct StructArray<'a> {
    pub name: &'a str,
    pub dims: Vec<usize>,
    pub fields: Vec<&'a str>,
    pub elements: Vec<Vec<Value>>,
}

/// A whole MAT-file holding `array` as its only variable.
pub(crate) fn write_struct_file(array: &StructArray, style: MatStyle, big_endian: bool) -> Vec<u8> {
    let w = Writer { style, big_endian };
    let mut out = w.header();
    let mut var = Vec::new();
    w.struct_matrix(&mut var, array);
    match style {
        MatStyle::Matlab => {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            z.write_all(&var).expect("writing to a Vec cannot fail");
            let packed = z.finish().expect("writing to a Vec cannot fail");
            w.u32(&mut out, mi::COMPRESSED);
            w.u32(&mut out, packed.len() as u32);
            out.extend_from_slice(&packed);
        }
        MatStyle::Scipy => out.extend_from_slice(&var),
    }
    out
}

struct Writer {
    style: MatStyle,
    big_endian: bool,
}

impl Writer {
    fn header(&self) -> Vec<u8> {
        let text = match self.style {
            MatStyle::Matlab => {
                "MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Mon Jun 11 12:00:00 2012"
            }
            MatStyle::Scipy => {
                "MATLAB 5.0 MAT-file Platform: posix, Created on: Mon Jun 11 12:00:00 2012"
            }
        };
        // MATLAB pads the text with spaces, scipy with NULs.
        let pad = match self.style {
            MatStyle::Matlab => b' ',
            MatStyle::Scipy => 0,
        };
        let mut h = vec![pad; 116];
        h[..text.len()].copy_from_slice(text.as_bytes());
        h.extend_from_slice(&[0; 8]);
        if self.big_endian {
            h.extend_from_slice(&0x0100u16.to_be_bytes());
            h.extend_from_slice(b"MI");
        } else {
            h.extend_from_slice(&0x0100u16.to_le_bytes());
            h.extend_from_slice(b"IM");
        }
        debug_assert_eq!(h.len(), HEADER_LEN);
        h
    }

    fn u32(&self, out: &mut Vec<u8>, x: u32) {
        out.extend_from_slice(&if self.big_endian {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        });
    }

    /// One data element: small format when it fits in 4 bytes (both MATLAB
    /// and scipy do this), padded to 8 bytes otherwise.
    fn element(&self, out: &mut Vec<u8>, ty: u32, data: &[u8]) {
        if data.len() <= 4 && ty != mi::DOUBLE {
            self.u32(out, ((data.len() as u32) << 16) | ty);
            out.extend_from_slice(data);
            out.resize(out.len() + 4 - data.len(), 0);
        } else {
            self.u32(out, ty);
            self.u32(out, data.len() as u32);
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(8) * 8, 0);
        }
    }

    fn words<T: Copy>(&self, xs: &[T], le: fn(T) -> Vec<u8>, be: fn(T) -> Vec<u8>) -> Vec<u8> {
        xs.iter()
            .flat_map(|&x| if self.big_endian { be(x) } else { le(x) })
            .collect()
    }

    /// Starts an `miMATRIX`: flags, dimensions, name. Returns its body.
    fn matrix_head(&self, class: u8, dims: &[usize], name: &str) -> Vec<u8> {
        let mut m = Vec::new();
        let flags = self.words(
            &[class as u32, 0],
            |x| x.to_le_bytes().to_vec(),
            |x| x.to_be_bytes().to_vec(),
        );
        self.element(&mut m, mi::UINT32, &flags);
        let d: Vec<i32> = dims.iter().map(|&d| d as i32).collect();
        let d = self.words(
            &d,
            |x| x.to_le_bytes().to_vec(),
            |x| x.to_be_bytes().to_vec(),
        );
        self.element(&mut m, mi::INT32, &d);
        self.element(&mut m, mi::INT8, name.as_bytes());
        m
    }

    fn close_matrix(&self, out: &mut Vec<u8>, body: Vec<u8>) {
        self.u32(out, mi::MATRIX);
        self.u32(out, body.len() as u32);
        out.extend_from_slice(&body);
    }

    fn struct_matrix(&self, out: &mut Vec<u8>, a: &StructArray) {
        let mut m = self.matrix_head(mx::STRUCT, &a.dims, a.name);
        // MATLAB always uses 32-byte field names; scipy the longest + 1.
        let name_len = match self.style {
            MatStyle::Matlab => 32,
            MatStyle::Scipy => a.fields.iter().map(|f| f.len()).max().unwrap_or(0) + 1,
        };
        let len = self.words(
            &[name_len as i32],
            |x| x.to_le_bytes().to_vec(),
            |x| x.to_be_bytes().to_vec(),
        );
        self.element(&mut m, mi::INT32, &len);
        let mut names = Vec::new();
        for f in &a.fields {
            let start = names.len();
            names.extend_from_slice(&f.as_bytes()[..f.len().min(name_len - 1)]);
            names.resize(start + name_len, 0);
        }
        self.element(&mut m, mi::INT8, &names);
        for el in &a.elements {
            for v in el {
                self.value(&mut m, v);
            }
        }
        self.close_matrix(out, m);
    }

    fn value(&self, out: &mut Vec<u8>, v: &Value) {
        match v {
            Value::Numeric { dims, real } => {
                let mut m = self.matrix_head(mx::DOUBLE, dims, "");
                let (ty, data) = self.doubles(real);
                self.element(&mut m, ty, &data);
                self.close_matrix(out, m);
            }
            Value::Char { text } => {
                let (ty, data, n) = match self.style {
                    MatStyle::Matlab => {
                        let u: Vec<u16> = text.encode_utf16().collect();
                        let n = u.len();
                        (
                            mi::UINT16,
                            self.words(
                                &u,
                                |x| x.to_le_bytes().to_vec(),
                                |x| x.to_be_bytes().to_vec(),
                            ),
                            n,
                        )
                    }
                    MatStyle::Scipy => (mi::UTF8, text.as_bytes().to_vec(), text.chars().count()),
                };
                let dims = if n == 0 { [0, 0] } else { [1, n] };
                let mut m = self.matrix_head(mx::CHAR, &dims, "");
                self.element(&mut m, ty, &data);
                self.close_matrix(out, m);
            }
            // The synset writer only produces numbers and text.
            _ => self.close_matrix(out, Vec::new()),
        }
    }

    /// MATLAB stores integral doubles in the smallest integer type that
    /// holds them; scipy keeps `miDOUBLE`.
    fn doubles(&self, xs: &[f64]) -> (u32, Vec<u8>) {
        let integral =
            |lo: f64, hi: f64| xs.iter().all(|&x| x.fract() == 0.0 && x >= lo && x <= hi);
        if self.style == MatStyle::Matlab && !xs.is_empty() {
            if integral(0.0, 255.0) {
                return (mi::UINT8, xs.iter().map(|&x| x as u8).collect());
            }
            if integral(0.0, 65535.0) {
                let v: Vec<u16> = xs.iter().map(|&x| x as u16).collect();
                return (
                    mi::UINT16,
                    self.words(
                        &v,
                        |x| x.to_le_bytes().to_vec(),
                        |x| x.to_be_bytes().to_vec(),
                    ),
                );
            }
            if integral(i32::MIN as f64, i32::MAX as f64) {
                let v: Vec<i32> = xs.iter().map(|&x| x as i32).collect();
                return (
                    mi::INT32,
                    self.words(
                        &v,
                        |x| x.to_le_bytes().to_vec(),
                        |x| x.to_be_bytes().to_vec(),
                    ),
                );
            }
        }
        (
            mi::DOUBLE,
            self.words(
                xs,
                |x| x.to_le_bytes().to_vec(),
                |x| x.to_be_bytes().to_vec(),
            ),
        )
    }
}
