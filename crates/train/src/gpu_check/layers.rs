//! Every layer of a network on the device against burn's CPU backend, on
//! the same inputs, parameters and upstream gradients: forward output and
//! every gradient (input, weight, bias).
//!
//! Errors are relative to a per-element scale and compared with a limit
//! that follows from f32 rounding, so the check holds on any correct
//! backend whatever its summation order, and a wrong index, group or window
//! (off by whole terms) fails by orders of magnitude:
//! - convolution and linear layers (sums of products): scale = Σ|terms| of
//!   that element, obtained by running the same layer on |inputs|,
//!   |parameters| and |upstream gradient|; any order of summing m terms
//!   errs by at most (m−1)·ε·Σ|terms| (Higham, *Accuracy and Stability of
//!   Numerical Algorithms*, §4.2), so two backends differ by at most
//!   2·(m+1)·ε·Σ|terms| (one extra term for the bias or an FMA);
//! - max pooling: the forward selects, so it must be exact; the backward
//!   adds at most 4 upstream values per element (3×3 windows at stride 2
//!   overlap twice per axis), scale = max |upstream|, limit 8ε;
//! - LRN: a sum of 5 squares, a power and a quotient per element;
//!   Vulkan's `pow` is exp2(y·log2 x) with a few ulp of error on each, so
//!   the limit is 2⁻¹⁶ relative (about 128 ulp) to |output| forward and to
//!   the layer's mean |gradient| backward, where terms of mixed sign meet.

use alexnet::{AlexNetConfig, LocalResponseNorm};
use burn::backend::Autodiff;
use burn::backend::Flex;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::module::{conv2d, max_pool2d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The CPU reference backend.
type Cpu = Autodiff<Flex>;

const EPS: f64 = f32::EPSILON as f64;

/// One layer of a network at the shape the network runs it.
#[derive(Debug, Clone)]
pub enum Layer {
    /// A (grouped) convolution.
    Conv {
        /// Input `[N, C, H, W]`.
        input: [usize; 4],
        /// Output channels.
        out: usize,
        /// Kernel side.
        kernel: usize,
        /// Stride.
        stride: usize,
        /// Zero padding per side.
        pad: usize,
        /// Groups.
        groups: usize,
    },
    /// Local response normalisation (the paper's form).
    Lrn {
        /// Input `[N, C, H, W]`.
        input: [usize; 4],
        /// The module.
        lrn: LocalResponseNorm,
    },
    /// Max pooling.
    Pool {
        /// Input `[N, C, H, W]`.
        input: [usize; 4],
        /// Window side.
        kernel: usize,
        /// Stride.
        stride: usize,
    },
    /// A fully connected layer.
    Linear {
        /// Batch.
        batch: usize,
        /// Input width.
        d_in: usize,
        /// Output width.
        d_out: usize,
    },
    /// Dropout with p = 0 (the identity, forward and backward).
    DropoutOff {
        /// Batch.
        batch: usize,
        /// Width.
        width: usize,
    },
}

/// A named layer.
#[derive(Debug, Clone)]
pub struct NamedLayer {
    /// `conv1`, `lrn1`, `pool1`, `fc6`, ...
    pub name: String,
    /// What to run.
    pub layer: Layer,
}

/// The layers of `config`'s network, at its shapes, for a batch of `batch`.
pub fn layers_of(config: &AlexNetConfig, batch: usize) -> Vec<NamedLayer> {
    let mut out = Vec::new();
    let mut push = |name: String, layer| out.push(NamedLayer { name, layer });
    let (mut c, mut s) = (3, config.input_size);
    let pooled = |s: usize| (s - config.pool_kernel) / config.pool_stride + 1;
    for l in 0..5 {
        let input = [batch, c, s, s];
        push(
            format!("conv{}", l + 1),
            Layer::Conv {
                input,
                out: config.channels[l],
                kernel: config.kernel_sizes[l],
                stride: config.strides[l],
                pad: config.paddings[l],
                groups: config.groups[l],
            },
        );
        c = config.channels[l];
        s = (s + 2 * config.paddings[l] - config.kernel_sizes[l]) / config.strides[l] + 1;
        if l < 2
            && let Some(lrn) = &config.lrn
        {
            push(
                format!("lrn{}", l + 1),
                Layer::Lrn {
                    input: [batch, c, s, s],
                    lrn: lrn.init(),
                },
            );
        }
        if l < 2 || l == 4 {
            push(
                format!("pool{}", if l == 4 { 5 } else { l + 1 }),
                Layer::Pool {
                    input: [batch, c, s, s],
                    kernel: config.pool_kernel,
                    stride: config.pool_stride,
                },
            );
            s = pooled(s);
        }
    }
    let w = config.fc_width;
    let fcs = [(config.feature_len(), w), (w, w), (w, config.num_classes)];
    for (i, (d_in, d_out)) in fcs.into_iter().enumerate() {
        push(format!("fc{}", i + 6), Layer::Linear { batch, d_in, d_out });
    }
    push("dropout p=0".into(), Layer::DropoutOff { batch, width: w });
    out
}

/// `layers` with every fully connected layer whose weight is larger than
/// `max_bytes` narrowed to the widest half, quarter, ... that fits (the
/// split's towers hold half of fc6 and fc7): some devices cannot bind a
/// buffer as large as the paper's fc6 weight (lavapipe: 128 MiB).
pub fn fit_to(layers: Vec<NamedLayer>, max_bytes: u64) -> Vec<NamedLayer> {
    layers
        .into_iter()
        .map(|mut l| {
            if let Layer::Linear { d_in, d_out, .. } = &mut l.layer {
                let full = *d_out;
                while (*d_in * *d_out * 4) as u64 > max_bytes && *d_out > 1 {
                    *d_out /= 2;
                }
                if *d_out != full {
                    l.name = format!("{} ({}/{full} wide)", l.name, *d_out);
                }
            }
            l
        })
        .collect()
}

/// How one layer compares: the largest relative error over the forward
/// output and over all gradients, with the limit each must stay under.
#[derive(Debug, Clone)]
pub struct LayerResult {
    /// Layer name.
    pub name: String,
    /// Input shape, for the table.
    pub shape: String,
    /// Forward: (error, limit).
    pub forward: (f64, f64),
    /// Backward, the worst of the gradients: (error, limit, which gradient).
    pub backward: (f64, f64, &'static str),
}

impl LayerResult {
    /// Both directions within their limits.
    pub fn passed(&self) -> bool {
        self.forward.0 <= self.forward.1 && self.backward.0 <= self.backward.1
    }
}

fn random(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// The layer's inputs: data, parameters and the upstream gradient, as flat
/// values (scaled like the network's: weights ~0.01-0.1, activations ~1).
struct Values {
    x: (Vec<f32>, Vec<usize>),
    params: Vec<(Vec<f32>, Vec<usize>)>,
    upstream: Vec<f32>,
}

fn values_for(layer: &Layer, seed: u64) -> Values {
    let v = |shape: Vec<usize>, seed: u64, scale: f32| {
        let n = shape.iter().product();
        let data = random(n, seed).into_iter().map(|x| x * scale).collect();
        (data, shape)
    };
    let (x, params, out_len) = match *layer {
        Layer::Conv {
            input,
            out,
            kernel,
            stride,
            pad,
            groups,
        } => {
            let fan_in = input[1] / groups * kernel * kernel;
            let scale = (1.0 / fan_in as f32).sqrt();
            let side = (input[2] + 2 * pad - kernel) / stride + 1;
            (
                v(input.to_vec(), seed, 1.0),
                vec![
                    v(
                        vec![out, input[1] / groups, kernel, kernel],
                        seed + 1,
                        scale,
                    ),
                    v(vec![out], seed + 2, 0.1),
                ],
                input[0] * out * side * side,
            )
        }
        Layer::Lrn { input, .. } => (
            // LRN sees post-ReLU activations of order 1-10 in the paper's units.
            v(input.to_vec(), seed, 4.0),
            vec![],
            input.iter().product(),
        ),
        Layer::Pool {
            input,
            kernel,
            stride,
        } => {
            let side = (input[2] - kernel) / stride + 1;
            (
                v(input.to_vec(), seed, 1.0),
                vec![],
                input[0] * input[1] * side * side,
            )
        }
        Layer::Linear { batch, d_in, d_out } => (
            v(vec![batch, d_in], seed, 1.0),
            vec![
                v(vec![d_in, d_out], seed + 1, (1.0 / d_in as f32).sqrt()),
                v(vec![d_out], seed + 2, 0.1),
            ],
            batch * d_out,
        ),
        Layer::DropoutOff { batch, width } => {
            (v(vec![batch, width], seed, 1.0), vec![], batch * width)
        }
    };
    Values {
        x,
        params,
        upstream: random(out_len, seed + 3),
    }
}

fn leaf<B: AutodiffBackend, const D: usize>(
    (data, shape): &(Vec<f32>, Vec<usize>),
    abs: bool,
    device: &B::Device,
) -> Tensor<B, D> {
    let data: Vec<f32> = if abs {
        data.iter().map(|x| x.abs()).collect()
    } else {
        data.clone()
    };
    Tensor::<B, D>::from_data(TensorData::new(data, shape.clone()), device).require_grad()
}

fn flat<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data()
        .convert::<f32>()
        .to_vec()
        .expect("f32 tensor data")
}

/// Forward output and gradients (input, then parameters) of `layer` on `B`;
/// with `abs`, of the layer on the absolute values of everything.
fn run_layer<B: AutodiffBackend>(
    layer: &Layer,
    vals: &Values,
    abs: bool,
    device: &B::Device,
) -> Vec<Vec<f32>> {
    let up = |shape: Vec<usize>| -> Tensor<B, 1> {
        let data: Vec<f32> = if abs {
            vals.upstream.iter().map(|x| x.abs()).collect()
        } else {
            vals.upstream.clone()
        };
        let n: usize = shape.iter().product();
        Tensor::from_data(TensorData::new(data, [n]), device)
    };
    match layer {
        Layer::Conv {
            stride,
            pad,
            groups,
            ..
        } => {
            let x: Tensor<B, 4> = leaf(&vals.x, abs, device);
            let w: Tensor<B, 4> = leaf(&vals.params[0], abs, device);
            let b: Tensor<B, 1> = leaf(&vals.params[1], abs, device);
            let y = conv2d(
                x.clone(),
                w.clone(),
                Some(b.clone()),
                ConvOptions::new([*stride; 2], [*pad; 2], [1, 1], *groups),
            );
            let shape = y.dims().to_vec();
            let loss = (y.clone().flatten::<1>(0, 3) * up(shape)).sum();
            let grads = loss.backward();
            vec![
                flat(y),
                flat(x.grad(&grads).expect("input grad")),
                flat(w.grad(&grads).expect("weight grad")),
                flat(b.grad(&grads).expect("bias grad")),
            ]
        }
        Layer::Linear { .. } => {
            let x: Tensor<B, 2> = leaf(&vals.x, abs, device);
            let w: Tensor<B, 2> = leaf(&vals.params[0], abs, device);
            let b: Tensor<B, 1> = leaf(&vals.params[1], abs, device);
            let y = x.clone().matmul(w.clone()) + b.clone().unsqueeze::<2>();
            let shape = y.dims().to_vec();
            let loss = (y.clone().flatten::<1>(0, 1) * up(shape)).sum();
            let grads = loss.backward();
            vec![
                flat(y),
                flat(x.grad(&grads).expect("input grad")),
                flat(w.grad(&grads).expect("weight grad")),
                flat(b.grad(&grads).expect("bias grad")),
            ]
        }
        Layer::Lrn { lrn, .. } => {
            let x: Tensor<B, 4> = leaf(&vals.x, abs, device);
            let y = lrn.forward(x.clone());
            let shape = y.dims().to_vec();
            let grads = (y.clone().flatten::<1>(0, 3) * up(shape)).sum().backward();
            vec![flat(y), flat(x.grad(&grads).expect("input grad"))]
        }
        Layer::Pool { kernel, stride, .. } => {
            let x: Tensor<B, 4> = leaf(&vals.x, abs, device);
            let y = max_pool2d(x.clone(), [*kernel; 2], [*stride; 2], [0, 0], [1, 1], false);
            let shape = y.dims().to_vec();
            let grads = (y.clone().flatten::<1>(0, 3) * up(shape)).sum().backward();
            vec![flat(y), flat(x.grad(&grads).expect("input grad"))]
        }
        Layer::DropoutOff { .. } => {
            // Off as in the comparisons of training runs (p = 0: the two
            // backends' RNGs would draw different masks).
            let x: Tensor<B, 2> = leaf(&vals.x, abs, device);
            let y = burn::nn::DropoutConfig::new(0.0).init().forward(x.clone());
            let shape = y.dims().to_vec();
            let grads = (y.clone().flatten::<1>(0, 1) * up(shape)).sum().backward();
            vec![flat(y), flat(x.grad(&grads).expect("input grad"))]
        }
    }
}

/// Terms summed per element of each output (forward, then each gradient)
/// of a linear layer, bias included.
fn terms(layer: &Layer) -> Vec<usize> {
    match *layer {
        Layer::Conv {
            input,
            out,
            kernel,
            stride,
            pad,
            groups,
        } => {
            let side = (input[2] + 2 * pad - kernel) / stride + 1;
            let positions = input[0] * side * side;
            vec![
                input[1] / groups * kernel * kernel + 1,
                out / groups * kernel * kernel,
                positions,
                positions,
            ]
        }
        Layer::Linear { batch, d_in, d_out } => vec![d_in + 1, d_out, batch, batch],
        _ => vec![],
    }
}

const GRAD_NAMES: [&str; 3] = ["input", "weight", "bias"];

/// Largest |a−b|/scale and the limit, for one output.
fn worst(a: &[f32], b: &[f32], scale: impl Fn(usize) -> f64) -> f64 {
    a.iter()
        .zip(b)
        .enumerate()
        .map(|(i, (x, y))| {
            let d = (*x as f64 - *y as f64).abs();
            if d == 0.0 {
                0.0
            } else {
                d / scale(i).max(f64::MIN_POSITIVE)
            }
        })
        .fold(0.0, f64::max)
}

fn mean_abs(v: &[f32]) -> f64 {
    v.iter().map(|x| x.abs() as f64).sum::<f64>() / v.len().max(1) as f64
}

/// Compares `layer` on backend `B` with the CPU.
pub fn compare<B: AutodiffBackend>(
    named: &NamedLayer,
    seed: u64,
    device: &B::Device,
) -> LayerResult {
    let layer = &named.layer;
    let vals = values_for(layer, seed);
    let dev = run_layer::<B>(layer, &vals, false, device);
    let cpu = run_layer::<Cpu>(layer, &vals, false, &Default::default());
    // (error, limit) of output k.
    let judged: Vec<(f64, f64)> = match layer {
        Layer::Conv { .. } | Layer::Linear { .. } => {
            let mag = run_layer::<Cpu>(layer, &vals, true, &Default::default());
            terms(layer)
                .iter()
                .enumerate()
                .map(|(k, &m)| {
                    let e = worst(&dev[k], &cpu[k], |i| mag[k][i] as f64);
                    (e, 2.0 * (m + 1) as f64 * EPS)
                })
                .collect()
        }
        Layer::Pool { .. } => {
            let up = vals
                .upstream
                .iter()
                .map(|x| x.abs() as f64)
                .fold(0.0, f64::max);
            vec![
                (worst(&dev[0], &cpu[0], |i| cpu[0][i].abs() as f64), 0.0),
                (worst(&dev[1], &cpu[1], |_| up), 8.0 * EPS),
            ]
        }
        Layer::Lrn { .. } => {
            let grad_scale = mean_abs(&cpu[1]);
            let limit = 2f64.powi(-16);
            vec![
                (worst(&dev[0], &cpu[0], |i| cpu[0][i].abs() as f64), limit),
                (worst(&dev[1], &cpu[1], |_| grad_scale), limit),
            ]
        }
        Layer::DropoutOff { .. } => vec![
            (worst(&dev[0], &cpu[0], |i| cpu[0][i].abs() as f64), 0.0),
            (worst(&dev[1], &cpu[1], |i| cpu[1][i].abs() as f64), 0.0),
        ],
    };
    let backward = judged[1..]
        .iter()
        .enumerate()
        .map(|(k, &(e, l))| (e, l, GRAD_NAMES[k]))
        .max_by(|a, b| (a.0 / a.1.max(EPS)).total_cmp(&(b.0 / b.1.max(EPS))))
        .expect("every layer has a gradient");
    LayerResult {
        name: named.name.clone(),
        shape: match layer {
            Layer::Conv { input, .. } | Layer::Lrn { input, .. } | Layer::Pool { input, .. } => {
                format!("{input:?}")
            }
            Layer::Linear { batch, d_in, .. } => format!("[{batch}, {d_in}]"),
            Layer::DropoutOff { batch, width } => format!("[{batch}, {width}]"),
        },
        forward: judged[0],
        backward,
    }
}
