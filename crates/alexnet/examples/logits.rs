//! Runs a saved network on a batch and writes the logits, for comparisons
//! with other implementations (`scripts/torch_compare.py`).
//!
//! ```text
//! cargo run --release -p alexnet --example logits -- \
//!     {paper|torchvision} NUM_CLASSES WEIGHTS.safetensors INPUTS.safetensors OUT.safetensors
//! ```
//! INPUTS holds `images`, f32 `[N, 3, 224, 224]`; OUT gets `logits`, f32
//! `[N, NUM_CLASSES]`. Evaluation mode (no dropout), CPU backend.

mod support;

use std::error::Error;
use std::path::Path;

use alexnet::AlexNetConfig;
use burn::backend::Flex;
use burn::tensor::{Tensor, TensorData};

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

    let (values, shape) = support::read_f32_4d(inputs, "images")?;
    let x = Tensor::<Flex, 4>::from_data(TensorData::new(values, shape), &device);

    let logits = model.forward(x);
    let dims = logits.dims();
    let v: Vec<f32> = logits.into_data().to_vec().map_err(|e| format!("{e:?}"))?;
    support::write_f32(out, &[("logits", &v, &dims)])
}
