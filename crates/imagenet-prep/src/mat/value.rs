//! The parsed form of a MATLAB array.

/// A MATLAB array as the reader sees it. Numeric data of every class is
/// widened to `f64` (the devkit only holds small integers).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// Any numeric or logical class; `real` is column-major.
    Numeric { dims: Vec<usize>, real: Vec<f64> },
    /// A character array, rows joined with `\n`.
    Char { text: String },
    /// A struct array: `elements[i][f]` is field `f` of element `i`.
    Struct {
        dims: Vec<usize>,
        fields: Vec<String>,
        elements: Vec<Vec<Value>>,
    },
    /// A cell array, column-major.
    Cell { elements: Vec<Value> },
    /// A zero-length `miMATRIX` element (an empty array of unknown class).
    Empty,
    /// A class this reader does not decode (sparse, object, function...).
    Unsupported { class: u8 },
}

impl Value {
    /// Short description for error messages.
    pub(crate) fn kind(&self) -> String {
        match self {
            Value::Numeric { dims, .. } => format!("numeric array {}", dims_str(dims)),
            Value::Char { .. } => "char array".into(),
            Value::Struct { dims, .. } => format!("struct array {}", dims_str(dims)),
            Value::Cell { .. } => "cell array".into(),
            Value::Empty => "empty array".into(),
            Value::Unsupported { class } => format!("unsupported array class {class}"),
        }
    }
}

fn dims_str(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x")
}
