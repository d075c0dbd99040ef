//! The devkit's `synsets` struct array <-> [`Synset`].

use super::reader::read_variables;
use super::value::Value;
use super::writer::{StructArray, write_struct_file};
use super::{MatError, MatStyle, Synset};

/// Field names of the devkit's struct, in the devkit's order.
const FIELDS: [&str; 8] = [
    "ILSVRC2012_ID",
    "WNID",
    "words",
    "gloss",
    "num_children",
    "children",
    "wordnet_height",
    "num_train_images",
];

/// Reads the `synsets` struct array of a devkit `meta.mat` (MATLAB- or
/// scipy-written, either byte order, compressed or not). Elements come back
/// in file order (column-major). `ILSVRC2012_ID`, `WNID`, `words` and
/// `num_children` are required; the other fields default to empty/zero.
pub fn read_synsets(bytes: &[u8]) -> Result<Vec<Synset>, MatError> {
    let vars = read_variables(bytes)?;
    // Names come from the file: control bytes are escaped before they
    // reach a terminal in an error message.
    let names: Vec<String> = vars
        .iter()
        .map(|v| format!("`{}`", v.name.escape_debug()))
        .collect();
    let Some(var) = vars.into_iter().find(|v| v.name == "synsets") else {
        return Err(MatError::NoSynsets {
            found: if names.is_empty() {
                "no variables".into()
            } else {
                names.join(", ")
            },
        });
    };
    let (fields, elements) = match var.value {
        Value::Struct {
            fields, elements, ..
        } => (fields, elements),
        Value::Cell { elements } => structs_of_cell(elements)?,
        other => {
            return Err(MatError::BadSynset {
                index: 0,
                what: format!("`synsets` is a {}, not a struct array", other.kind()),
            });
        }
    };
    let col = |name: &str| fields.iter().position(|f| f == name);
    let required = |name: &str| {
        col(name).ok_or_else(|| MatError::BadSynset {
            index: 0,
            what: format!(
                "struct has no field `{name}` (fields: {})",
                fields
                    .iter()
                    .map(|f| f.escape_debug().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    };
    let id_c = required("ILSVRC2012_ID")?;
    let wnid_c = required("WNID")?;
    let words_c = required("words")?;
    let nch_c = required("num_children")?;
    let (gloss_c, children_c, height_c, ntrain_c) = (
        col("gloss"),
        col("children"),
        col("wordnet_height"),
        col("num_train_images"),
    );

    elements
        .iter()
        .enumerate()
        .map(|(index, el)| {
            let bad = |field: &str, what: String| MatError::BadSynset {
                index,
                what: format!("field `{field}`: {what}"),
            };
            let uint = |c: usize, field: &str| scalar_u32(&el[c]).map_err(|w| bad(field, w));
            let text = |c: usize, field: &str| string(&el[c]).map_err(|w| bad(field, w));
            let opt_uint = |c: Option<usize>, field: &str| c.map_or(Ok(0), |c| uint(c, field));
            Ok(Synset {
                ilsvrc2012_id: uint(id_c, "ILSVRC2012_ID")?,
                wnid: text(wnid_c, "WNID")?,
                words: text(words_c, "words")?,
                gloss: gloss_c.map_or(Ok(String::new()), |c| text(c, "gloss"))?,
                num_children: uint(nch_c, "num_children")?,
                children: match children_c {
                    Some(c) => u32_list(&el[c]).map_err(|w| bad("children", w))?,
                    None => Vec::new(),
                },
                wordnet_height: opt_uint(height_c, "wordnet_height")?,
                num_train_images: opt_uint(ntrain_c, "num_train_images")?,
            })
        })
        .collect()
}

/// Field names, and each element's values in that order.
type FieldsAndElements = (Vec<String>, Vec<Vec<Value>>);

/// The fields and elements of a cell array of 1×1 structs, the shape
/// scipy writes for an array of `mat_struct` objects (what
/// `loadmat(..., struct_as_record=False)` returns and `savemat` saves back).
/// Fields are matched by name, in the first element's order.
fn structs_of_cell(cells: Vec<Value>) -> Result<FieldsAndElements, MatError> {
    let mut fields: Option<Vec<String>> = None;
    let mut rows = Vec::with_capacity(cells.len());
    for (index, cell) in cells.into_iter().enumerate() {
        let bad = |what: String| MatError::BadSynset { index, what };
        let Value::Struct {
            fields: names,
            elements,
            ..
        } = cell
        else {
            return Err(bad(format!(
                "`synsets` is a cell array holding a {}, not structs",
                cell.kind()
            )));
        };
        let [element] = <[Vec<Value>; 1]>::try_from(elements).map_err(|e| {
            bad(format!(
                "`synsets` cell holds a struct array of {} elements, expected 1",
                e.len()
            ))
        })?;
        let order = fields.get_or_insert_with(|| names.clone());
        let mut by_name: Vec<Option<Value>> = element.into_iter().map(Some).collect();
        let row = order
            .iter()
            .map(|f| {
                names
                    .iter()
                    .position(|n| n == f)
                    .and_then(|i| by_name.get_mut(i)?.take())
                    .ok_or_else(|| bad(format!("struct has no field `{}`", f.escape_debug())))
            })
            .collect::<Result<Vec<_>, _>>()?;
        rows.push(row);
    }
    Ok((fields.unwrap_or_default(), rows))
}

/// Writes `synsets` as an N×1 struct array named `synsets` with the
/// devkit's eight fields, the way MATLAB or scipy would.
pub fn write_synsets(synsets: &[Synset], style: MatStyle) -> Vec<u8> {
    let elements = synsets
        .iter()
        .map(|s| {
            vec![
                Value::Numeric {
                    dims: vec![1, 1],
                    real: vec![s.ilsvrc2012_id as f64],
                },
                Value::Char {
                    text: s.wnid.clone(),
                },
                Value::Char {
                    text: s.words.clone(),
                },
                Value::Char {
                    text: s.gloss.clone(),
                },
                Value::Numeric {
                    dims: vec![1, 1],
                    real: vec![s.num_children as f64],
                },
                Value::Numeric {
                    // MATLAB's `[]` for leaves, a row vector otherwise.
                    dims: if s.children.is_empty() {
                        vec![0, 0]
                    } else {
                        vec![1, s.children.len()]
                    },
                    real: s.children.iter().map(|&c| c as f64).collect(),
                },
                Value::Numeric {
                    dims: vec![1, 1],
                    real: vec![s.wordnet_height as f64],
                },
                Value::Numeric {
                    dims: vec![1, 1],
                    real: vec![s.num_train_images as f64],
                },
            ]
        })
        .collect();
    let array = StructArray {
        name: "synsets",
        dims: vec![synsets.len(), 1],
        fields: FIELDS.to_vec(),
        elements,
    };
    write_struct_file(&array, style, false)
}

fn numbers(v: &Value) -> Result<&[f64], String> {
    match v {
        Value::Numeric { real, .. } => Ok(real),
        Value::Empty => Ok(&[]),
        // scipy may wrap values in 1x1 cells when saving object arrays.
        Value::Cell { elements } if elements.len() == 1 => numbers(&elements[0]),
        other => Err(format!("expected a number, found a {}", other.kind())),
    }
}

fn to_u32(x: f64) -> Result<u32, String> {
    if x.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(&x) {
        Ok(x as u32)
    } else {
        Err(format!("{x} is not a non-negative integer"))
    }
}

fn scalar_u32(v: &Value) -> Result<u32, String> {
    match numbers(v)? {
        [x] => to_u32(*x),
        xs => Err(format!("expected one number, found {}", xs.len())),
    }
}

fn u32_list(v: &Value) -> Result<Vec<u32>, String> {
    numbers(v)?.iter().map(|&x| to_u32(x)).collect()
}

fn string(v: &Value) -> Result<String, String> {
    match v {
        Value::Char { text } => Ok(text.clone()),
        Value::Empty => Ok(String::new()),
        Value::Numeric { real, .. } if real.is_empty() => Ok(String::new()),
        Value::Cell { elements } if elements.len() == 1 => string(&elements[0]),
        other => Err(format!("expected text, found a {}", other.kind())),
    }
}
