//! Numeric codes of the MAT-file Level 5 format.

/// Data element types (`mi*`).
pub(crate) mod mi {
    pub const INT8: u32 = 1;
    pub const UINT8: u32 = 2;
    pub const INT16: u32 = 3;
    pub const UINT16: u32 = 4;
    pub const INT32: u32 = 5;
    pub const UINT32: u32 = 6;
    pub const SINGLE: u32 = 7;
    pub const DOUBLE: u32 = 9;
    pub const INT64: u32 = 12;
    pub const UINT64: u32 = 13;
    pub const MATRIX: u32 = 14;
    pub const COMPRESSED: u32 = 15;
    pub const UTF8: u32 = 16;
    pub const UTF16: u32 = 17;
    pub const UTF32: u32 = 18;
}

/// Array classes (`mx*`), the low byte of the array flags.
pub(crate) mod mx {
    pub const CELL: u8 = 1;
    pub const STRUCT: u8 = 2;
    pub const CHAR: u8 = 4;
    pub const DOUBLE: u8 = 6;
    pub const UINT64: u8 = 15;
}

/// Array-flag bit: the array has an imaginary part.
pub(crate) const FLAG_COMPLEX: u32 = 0x0800;

/// Size of the file header.
pub(crate) const HEADER_LEN: usize = 128;

/// Bytes per value of a numeric data type, `None` for non-numeric types.
pub(crate) fn numeric_size(ty: u32) -> Option<usize> {
    match ty {
        mi::INT8 | mi::UINT8 => Some(1),
        mi::INT16 | mi::UINT16 => Some(2),
        mi::INT32 | mi::UINT32 | mi::SINGLE => Some(4),
        mi::DOUBLE | mi::INT64 | mi::UINT64 => Some(8),
        _ => None,
    }
}
