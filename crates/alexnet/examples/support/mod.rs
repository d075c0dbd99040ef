//! f32 tensors in and out of safetensors files, for the comparison examples.

use std::collections::HashMap;
use std::error::Error;
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

/// The f32 tensor `name` of the safetensors file `path`: values and shape.
pub fn read_f32(path: &str, name: &str) -> Result<(Vec<f32>, Vec<usize>), Box<dyn Error>> {
    let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| format!("{path}: {e}"))?;
    let t = file
        .tensor(name)
        .map_err(|e| format!("{path}: tensor `{name}`: {e}"))?;
    if t.dtype() != Dtype::F32 {
        return Err(format!("{path}: `{name}` must be F32, is {:?}", t.dtype()).into());
    }
    let values = t
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((values, t.shape().to_vec()))
}

/// The 4-d f32 tensor `name` of `path`.
pub fn read_f32_4d(path: &str, name: &str) -> Result<(Vec<f32>, [usize; 4]), Box<dyn Error>> {
    let (values, shape) = read_f32(path, name)?;
    let shape: [usize; 4] = shape
        .as_slice()
        .try_into()
        .map_err(|_| format!("{path}: `{name}` must be 4-d, got {shape:?}"))?;
    Ok((values, shape))
}

/// Writes f32 tensors `(name, values, shape)` to the safetensors file `path`.
pub fn write_f32(path: &str, tensors: &[(&str, &[f32], &[usize])]) -> Result<(), Box<dyn Error>> {
    let raw: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, v, _)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let mut views = Vec::new();
    for ((name, _, shape), raw) in tensors.iter().zip(&raw) {
        views.push((*name, TensorView::new(Dtype::F32, shape.to_vec(), raw)?));
    }
    safetensors::serialize_to_file(views, None::<HashMap<String, String>>, Path::new(path))?;
    Ok(())
}
