//! Timing of the network's forward pass, its SGD training step and each
//! layer's forward and backward, for `cargo xtask bench model`.

use std::time::Instant;

use burn::module::AutodiffModule;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Distribution, Int, Tensor};

use crate::config::AlexNetConfig;
use crate::model::ReluExt;

/// The paper's optimiser: SGD, momentum 0.9 **without dampening** (burn's
/// `MomentumConfig` defaults to dampening 0.1), weight decay 5e-4.
pub fn paper_sgd() -> SgdConfig {
    SgdConfig::new()
        .with_momentum(Some(
            MomentumConfig::new().with_momentum(0.9).with_dampening(0.0),
        ))
        .with_weight_decay(Some(WeightDecayConfig::new(5e-4)))
}

fn sync<B: Backend>(device: &B::Device) {
    // Flex runs eagerly; on asynchronous backends this waits for the queue.
    let _ = B::sync(device);
}

fn millis(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// Milliseconds of `iters` forward passes (evaluation mode, inner backend)
/// of `config`'s network on a random batch, after `warmup` untimed passes.
pub fn time_forward<B: AutodiffBackend>(
    config: &AlexNetConfig,
    batch: usize,
    warmup: usize,
    iters: usize,
    device: &B::Device,
) -> Vec<f64> {
    let model = config.init::<B>(device).valid();
    let s = config.input_size;
    let x = Tensor::<B::InnerBackend, 4>::random(
        [batch, 3, s, s],
        Distribution::Normal(0.0, 50.0),
        device,
    );
    (0..warmup + iters)
        .map(|_| {
            let t = Instant::now();
            let logits = model.forward(x.clone());
            let _ = logits.into_data();
            sync::<B::InnerBackend>(device);
            millis(t)
        })
        .skip(warmup)
        .collect()
}

/// Milliseconds of `iters` SGD training steps (forward, cross-entropy,
/// backward, update with [`paper_sgd`]) on a random batch, after `warmup`
/// untimed steps.
pub fn time_train_step<B: AutodiffBackend>(
    config: &AlexNetConfig,
    batch: usize,
    warmup: usize,
    iters: usize,
    device: &B::Device,
) -> Vec<f64> {
    let mut model = config.init::<B>(device);
    let mut optim = paper_sgd().init::<B, crate::AlexNet<B>>();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let s = config.input_size;
    let x = Tensor::<B, 4>::random([batch, 3, s, s], Distribution::Normal(0.0, 50.0), device);
    let y = Tensor::<B, 1, Int>::from_data(
        burn::tensor::TensorData::new(
            (0..batch as i64)
                .map(|i| i % config.num_classes as i64)
                .collect::<Vec<_>>(),
            [batch],
        ),
        device,
    );
    let mut times = Vec::with_capacity(iters);
    for i in 0..warmup + iters {
        let t = Instant::now();
        let loss = loss_fn.forward(model.forward(x.clone()), y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(0.01, model, grads);
        // Materialise the updated weights so lazy backends finish the step.
        let _ = model.fcs[2].weight.val().into_data();
        sync::<B>(device);
        if i >= warmup {
            times.push(millis(t));
        }
    }
    times
}

/// One layer's cost in a training step: forward alone, and forward plus
/// backward (gradient of `sum(y * r)` w.r.t. input and parameters).
#[derive(Debug, Clone)]
pub struct LayerTime {
    /// Layer name (`conv1`, `lrn1`, `pool1`, ...).
    pub name: String,
    /// Input shape.
    pub input: Vec<usize>,
    /// Median forward milliseconds.
    pub forward_ms: f64,
    /// Median forward + backward milliseconds.
    pub forward_backward_ms: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Times each layer of `config`'s network on the autodiff backend at
/// `batch`, `iters` repetitions (median). ReLU is folded into the conv/fc
/// before it; dropout is included in the fc layers of the paper variant.
pub fn layer_profile<B: AutodiffBackend>(
    config: &AlexNetConfig,
    batch: usize,
    iters: usize,
    device: &B::Device,
) -> Vec<LayerTime> {
    let model = config.init::<B>(device);
    let s = config.input_size;
    let mut x = Tensor::<B, 4>::random([batch, 3, s, s], Distribution::Normal(0.0, 50.0), device);
    let mut out = Vec::new();
    let apply = |name: &str, x: Tensor<B, 4>| -> Tensor<B, 4> {
        let conv = |l: usize, x| model.convs[l].forward(x).relu_act();
        match name {
            "conv1+relu" => conv(0, x),
            "conv2+relu" => conv(1, x),
            "conv3+relu" => conv(2, x),
            "conv4+relu" => conv(3, x),
            "conv5+relu" => conv(4, x),
            "lrn1" | "lrn2" => match &model.lrn {
                Some(l) => l.forward(x),
                None => x,
            },
            _ => model.pool.forward(x),
        }
    };
    let mut stages = vec!["conv1+relu"];
    if model.lrn.is_some() {
        stages.push("lrn1");
    }
    stages.extend(["pool1", "conv2+relu"]);
    if model.lrn.is_some() {
        stages.push("lrn2");
    }
    stages.extend(["pool2", "conv3+relu", "conv4+relu", "conv5+relu", "pool5"]);
    for name in stages {
        let (input, fwd, fb, next) = time_stage(x.clone(), &|x| apply(name, x), iters, device);
        out.push(LayerTime {
            name: name.to_string(),
            input,
            forward_ms: fwd,
            forward_backward_ms: fb,
        });
        x = next;
    }
    let mut h: Tensor<B, 2> = x.flatten(1, 3);
    for (l, name) in ["fc6+relu+dropout", "fc7+relu+dropout", "fc8"]
        .iter()
        .enumerate()
    {
        let f = |x: Tensor<B, 2>| {
            let y = model.fcs[l].forward(x);
            if l < 2 {
                model.dropout.forward(y.relu_act())
            } else {
                y
            }
        };
        let (input, fwd, fb, next) = time_stage(h.clone(), &f, iters, device);
        out.push(LayerTime {
            name: name.to_string(),
            input,
            forward_ms: fwd,
            forward_backward_ms: fb,
        });
        h = next;
    }
    out
}

fn time_stage<B: AutodiffBackend, const D: usize, const E: usize>(
    x: Tensor<B, D>,
    f: &dyn Fn(Tensor<B, D>) -> Tensor<B, E>,
    iters: usize,
    device: &B::Device,
) -> (Vec<usize>, f64, f64, Tensor<B, E>) {
    let input = x.dims().to_vec();
    let x = x.detach().require_grad();
    let mut fwd = Vec::new();
    let mut fb = Vec::new();
    let mut last = None;
    for _ in 0..iters + 1 {
        let t = Instant::now();
        let y = f(x.clone());
        let _ = y.clone().into_data();
        sync::<B>(device);
        fwd.push(millis(t));
        let r = y.ones_like();
        let t = Instant::now();
        let y = f(x.clone());
        let grads = (y.clone() * r).sum().backward();
        let _ = x.grad(&grads).map(|g| g.into_data());
        sync::<B>(device);
        fb.push(millis(t));
        last = Some(y.detach());
    }
    // The first repetition warms caches and allocators.
    fwd.remove(0);
    fb.remove(0);
    (
        input,
        median(fwd),
        median(fb),
        last.expect("at least one repetition"),
    )
}
