//! Throughput of training steps and forward passes on the device, and the
//! paper's two-tower split against the grouped model.

use std::time::Instant;

use alexnet::{AlexNet, AlexNetConfig, SplitAlexNet};
use burn::module::AutodiffModule;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Distribution, Int, Tensor, TensorData};

use crate::net::{Classifier, sgd};

/// Images per second: median over the timed iterations.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    /// Median images/s.
    pub images_per_sec: f64,
    /// Median milliseconds per iteration.
    pub millis: f64,
}

fn rate(batch: usize, mut ms: Vec<f64>) -> Rate {
    ms.sort_by(f64::total_cmp);
    let m = ms[ms.len() / 2];
    Rate {
        images_per_sec: batch as f64 * 1e3 / m,
        millis: m,
    }
}

fn images<B: Backend>(config: &AlexNetConfig, batch: usize, device: &B::Device) -> Tensor<B, 4> {
    let s = config.input_size;
    Tensor::random([batch, 3, s, s], Distribution::Normal(0.0, 50.0), device)
}

fn labels<B: Backend>(
    config: &AlexNetConfig,
    batch: usize,
    device: &B::Device,
) -> Tensor<B, 1, Int> {
    let y: Vec<i64> = (0..batch as i64)
        .map(|i| i % config.num_classes as i64)
        .collect();
    Tensor::from_data(TensorData::new(y, [batch]), device)
}

/// Times SGD steps (forward, cross-entropy, backward, the paper's update)
/// of `model` on a random batch; the updated weights are read back each
/// step so asynchronous backends finish it inside the timing.
pub fn train_steps<B: AutodiffBackend, M: Classifier<B>>(
    mut model: M,
    config: &AlexNetConfig,
    batch: usize,
    warmup: usize,
    iters: usize,
    device: &B::Device,
) -> Rate {
    let mut optim = sgd::<B, M>(0.9, 5e-4);
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let x = images::<B>(config, batch, device);
    let y = labels::<B>(config, batch, device);
    let mut ms = Vec::with_capacity(iters);
    for i in 0..warmup + iters.max(1) {
        let t = Instant::now();
        let loss = loss_fn.forward(model.logits(x.clone()), y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(0.01, model, grads);
        let _ = loss.into_data();
        let _ = B::sync(device);
        if i >= warmup {
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    rate(batch, ms)
}

/// Times forward passes (evaluation mode) of `model` on a random batch.
pub fn forwards<B: AutodiffBackend>(
    model: &AlexNet<B>,
    batch: usize,
    warmup: usize,
    iters: usize,
    device: &B::Device,
) -> Rate {
    let model = model.valid();
    let x = images::<B::InnerBackend>(&model.config, batch, device);
    let mut ms = Vec::with_capacity(iters);
    for i in 0..warmup + iters.max(1) {
        let t = Instant::now();
        let _ = model.forward(x.clone()).into_data();
        let _ = B::InnerBackend::sync(device);
        if i >= warmup {
            ms.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    rate(batch, ms)
}

/// Logits of the grouped model and of the same weights split over
/// `devices`, on the same batch: ‖split − grouped‖₂ / ‖grouped‖₂.
pub fn split_vs_grouped<B: AutodiffBackend>(
    model: &AlexNet<B>,
    devices: [B::Device; 2],
    batch: usize,
) -> Result<(f64, SplitAlexNet<B>), alexnet::SplitError> {
    let dev0 = devices[0].clone();
    let grouped = model.valid();
    let x = images::<B::InnerBackend>(&model.config, batch, &dev0);
    let a: Vec<f32> = grouped
        .forward(x.clone())
        .into_data()
        .convert::<f32>()
        .to_vec()
        .expect("f32");
    let split = SplitAlexNet::from_grouped(model.clone(), devices)?;
    let b: Vec<f32> = split
        .valid()
        .forward(x)
        .into_data()
        .convert::<f32>()
        .to_vec()
        .expect("f32");
    let num: f64 = a
        .iter()
        .zip(&b)
        .map(|(x, y)| ((x - y) as f64).powi(2))
        .sum();
    let den: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum();
    Ok(((num / den.max(f64::MIN_POSITIVE)).sqrt(), split))
}
