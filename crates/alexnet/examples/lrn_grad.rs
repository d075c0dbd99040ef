//! Runs the paper's LRN forward and backward on given tensors, for the
//! comparison with `torch.nn.LocalResponseNorm` (`scripts/torch_compare.py
//! --variants lrn`).
//!
//! ```text
//! cargo run --release -p alexnet --example lrn_grad -- GROUPS INPUTS.safetensors OUT.safetensors
//! ```
//! INPUTS holds `x` and `r`, f32 `[N, C, H, W]`; OUT gets `y = lrn(x)` and
//! `dx`, the gradient of `sum(y * r)` with respect to `x`. The paper's
//! constants (size 5, alpha 1e-4, beta 0.75, k 2), CPU autodiff backend.

mod support;

use std::error::Error;

use alexnet::LocalResponseNormConfig;
use burn::backend::{Autodiff, Flex};
use burn::tensor::{Tensor, TensorData};

type AD = Autodiff<Flex>;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [groups, inputs, out] = args.as_slice() else {
        return Err("usage: lrn_grad GROUPS INPUTS OUT".into());
    };
    let groups: usize = groups
        .parse()
        .map_err(|e| format!("GROUPS `{groups}`: {e}"))?;
    let device = Default::default();
    let (x, shape) = support::read_f32_4d(inputs, "x")?;
    let (r, r_shape) = support::read_f32_4d(inputs, "r")?;
    if r_shape != shape {
        return Err(format!("{inputs}: `r` is {r_shape:?}, `x` is {shape:?}").into());
    }
    let x = Tensor::<AD, 4>::from_data(TensorData::new(x, shape), &device).require_grad();
    let r = Tensor::<AD, 4>::from_data(TensorData::new(r, shape), &device);

    let lrn = LocalResponseNormConfig::paper().with_groups(groups).init();
    let y = lrn.forward(x.clone());
    let grads = (y.clone() * r).sum().backward();
    let dx = x.grad(&grads).ok_or("no gradient reached x")?;

    let y: Vec<f32> = y.into_data().to_vec().map_err(|e| format!("{e:?}"))?;
    let dx: Vec<f32> = dx.into_data().to_vec().map_err(|e| format!("{e:?}"))?;
    support::write_f32(out, &[("y", &y, &shape), ("dx", &dx, &shape)])
}
