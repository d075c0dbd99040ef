//! Runs a saved network on a batch and writes the logits, for comparisons
//! with other implementations (`scripts/torch_compare.py`).
//!
//! ```text
//! cargo run --release -p alexnet --example logits -- \
//!     {paper|torchvision} NUM_CLASSES WEIGHTS.safetensors INPUTS.safetensors OUT.safetensors
//! ```
//! INPUTS holds `images`, f32 `[N, 3, 224, 224]`; OUT gets `logits`, f32
//! `[N, NUM_CLASSES]`. Evaluation mode (no dropout), CPU backend.

use std::collections::HashMap;
use std::error::Error;
use std::path::Path;

use alexnet::AlexNetConfig;
use burn::backend::Flex;
use burn::tensor::{Tensor, TensorData};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [variant, classes, weights, inputs, out] = args.as_slice() else {
        return Err("usage: logits {paper|torchvision} NUM_CLASSES WEIGHTS INPUTS OUT".into());
    };
    let classes: usize = classes
        .parse()
        .map_err(|e| format!("NUM_CLASSES `{classes}`: {e}"))?;
    let config = match variant.as_str() {
        "paper" => AlexNetConfig::paper(classes),
        "torchvision" => AlexNetConfig::torchvision(classes),
        other => return Err(format!("unknown variant `{other}` (paper or torchvision)").into()),
    };
    let device = Default::default();
    let model = alexnet::safetensors::load::<Flex>(&config, Path::new(weights), &device)?;

    let bytes = std::fs::read(inputs).map_err(|e| format!("{inputs}: {e}"))?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| format!("{inputs}: {e}"))?;
    let images = file
        .tensor("images")
        .map_err(|e| format!("{inputs}: tensor `images`: {e}"))?;
    let shape: [usize; 4] = images
        .shape()
        .try_into()
        .map_err(|_| format!("{inputs}: `images` must be 4-d, got {:?}", images.shape()))?;
    if images.dtype() != Dtype::F32 {
        return Err(format!("{inputs}: `images` must be F32").into());
    }
    let values: Vec<f32> = images
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let x = Tensor::<Flex, 4>::from_data(TensorData::new(values, shape), &device);

    let logits = model.forward(x);
    let dims = logits.dims();
    let v: Vec<f32> = logits.into_data().to_vec().map_err(|e| format!("{e:?}"))?;
    let raw: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let view = TensorView::new(Dtype::F32, dims.to_vec(), &raw)?;
    safetensors::serialize_to_file(
        [("logits", view)],
        None::<HashMap<String, String>>,
        Path::new(out),
    )?;
    Ok(())
}
