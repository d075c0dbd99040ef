//! The paper's model parallelism: one tower per device (Section 3.2).
//!
//! Each tower holds half of every layer's kernels: conv1..conv5, fc6, fc7.
//! Activations cross devices only where the paper's GPUs communicated: the
//! input to conv3 (each half sees both towers' conv2 maps), to fc6, to fc7,
//! and to fc8, which lives on device 0. conv2, conv4 and conv5 read only their
//! own tower, which is what groups = 2 expresses in [`AlexNet`]; LRN
//! normalises within each tower, as `LocalResponseNormConfig::groups = 2`
//! does. The two forms therefore compute the same function, and
//! [`SplitAlexNet::from_grouped`] / [`SplitAlexNet::into_grouped`] move
//! weights between them exactly.

use burn::module::{Module, Param};
use burn::nn::Dropout;
use burn::nn::Linear;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{AdaptiveAvgPool2d, MaxPool2d};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::config::{AlexNetConfig, Variant};
use crate::lrn::LocalResponseNorm;
use crate::model::{AlexNet, Fixed, ReluExt};

/// Conv groups a model must have to be split into two towers.
const SPLITTABLE_GROUPS: [usize; 5] = [1, 2, 1, 2, 2];

/// Why a grouped model cannot be split.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SplitError {
    /// The conv groups are not the paper's `[1, 2, 1, 2, 2]`.
    #[error(
        "cannot split AlexNet across two devices: conv groups are {0:?}, the two-tower model needs [1, 2, 1, 2, 2] (the paper's connectivity)"
    )]
    Groups([usize; 5]),
    /// LRN windows cross the tower boundary.
    #[error(
        "cannot split AlexNet across two devices: LRN has {0} channel group(s), the two-tower model needs 2"
    )]
    LrnGroups(usize),
    /// A width is odd.
    #[error("cannot split AlexNet across two devices: {0} is odd")]
    Odd(&'static str),
}

/// One device's half of the network.
#[derive(Module, Debug)]
pub struct Tower<B: Backend> {
    /// Halves of conv1..conv5 (output channels), ungrouped.
    pub convs: Vec<Conv2d<B>>,
    /// Halves of fc6 and fc7 (output units); weights `[in, out / 2]`.
    pub fcs: Vec<Linear<B>>,
}

/// AlexNet split over two devices, one [`Tower`] on each; see the module
/// documentation for where activations cross.
#[derive(Module, Debug)]
pub struct SplitAlexNet<B: Backend> {
    /// Tower 0 (on device 0) and tower 1 (on device 1).
    pub towers: Vec<Tower<B>>,
    /// fc8, on device 0, reading both towers' fc7 outputs.
    pub fc8: Linear<B>,
    /// The grouped configuration this model is equivalent to.
    pub config: AlexNetConfig,
    lrn: Option<LocalResponseNorm>,
    pool: MaxPool2d,
    adaptive: Option<AdaptiveAvgPool2d>,
    dropout: Dropout,
}

impl<B: Backend> SplitAlexNet<B> {
    /// Splits a grouped model: tower `t` goes to `devices[t]`, fc8 to
    /// `devices[0]`. Both devices may be the same (e.g. tests on one CPU).
    pub fn from_grouped(model: AlexNet<B>, devices: [B::Device; 2]) -> Result<Self, SplitError> {
        let config = model.config.clone();
        if config.groups != SPLITTABLE_GROUPS {
            return Err(SplitError::Groups(config.groups));
        }
        if let Some(lrn) = &config.lrn
            && lrn.groups != 2
        {
            return Err(SplitError::LrnGroups(lrn.groups));
        }
        if !config.channels[0].is_multiple_of(2) || !config.channels[2].is_multiple_of(2) {
            return Err(SplitError::Odd("the conv1 or conv3 width"));
        }
        if !config.fc_width.is_multiple_of(2) {
            return Err(SplitError::Odd("fc_width"));
        }
        let towers = (0..2)
            .map(|t| Tower {
                convs: model
                    .convs
                    .iter()
                    .map(|c| conv_half(c, t, &devices[t]))
                    .collect(),
                fcs: model.fcs[..2]
                    .iter()
                    .map(|f| linear_half(f, t, &devices[t]))
                    .collect(),
            })
            .collect();
        let fc8 = linear_to(&model.fcs[2], &devices[0]);
        let Fixed {
            lrn,
            pool,
            adaptive,
            dropout,
        } = Fixed::new(&config);
        let lrn = lrn.map(|l| LocalResponseNorm { groups: 1, ..l });
        Ok(Self {
            towers,
            fc8,
            config,
            lrn,
            pool,
            adaptive,
            dropout,
        })
    }

    /// Joins the towers back into a grouped model on `device`.
    pub fn into_grouped(self, device: &B::Device) -> AlexNet<B> {
        let [t0, t1]: [Tower<B>; 2] = self.towers.try_into().unwrap_or_else(|_| unreachable!());
        let convs = t0
            .convs
            .into_iter()
            .zip(t1.convs)
            .zip(SPLITTABLE_GROUPS)
            .map(|((a, b), groups)| conv_join(a, b, groups, device))
            .collect();
        let mut fcs: Vec<Linear<B>> = t0
            .fcs
            .into_iter()
            .zip(t1.fcs)
            .map(|(a, b)| linear_join(a, b, device))
            .collect();
        fcs.push(linear_to(&self.fc8, device));
        AlexNet::from_parts(self.config, convs, fcs)
    }

    /// Logits `[N, num_classes]` on device 0 for images `[N, 3, S, S]` on any
    /// device. Dropout as in [`AlexNet::forward`] (each tower draws its own
    /// masks).
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let dev = self.devices();
        let x: Vec<_> = dev.iter().map(|d| images.clone().to_device(d)).collect();
        // conv1 and conv2 stay inside their tower.
        let x: Vec<_> = x
            .into_iter()
            .zip(&self.towers)
            .map(|(x, t)| {
                let x = self
                    .pool
                    .forward(self.norm(t.convs[0].forward(x).relu_act()));
                self.pool
                    .forward(self.norm(t.convs[1].forward(x).relu_act()))
            })
            .collect();
        // conv3 reads both towers.
        let x = exchange(&x, &dev, 1);
        let x: Vec<_> = x
            .into_iter()
            .zip(&self.towers)
            .map(|(x, t)| {
                let x = t.convs[2].forward(x).relu_act();
                let x = t.convs[3].forward(x).relu_act();
                let mut x = self.pool.forward(t.convs[4].forward(x).relu_act());
                if let Some(a) = &self.adaptive {
                    x = a.forward(x);
                }
                x.flatten(1, 3)
            })
            .collect();
        let paper = self.config.variant == Variant::Paper;
        let mut x = x;
        for layer in 0..2 {
            x = exchange(&x, &dev, 1)
                .into_iter()
                .zip(&self.towers)
                .map(|(x, t)| {
                    if paper {
                        self.dropout.forward(t.fcs[layer].forward(x).relu_act())
                    } else {
                        t.fcs[layer].forward(self.dropout.forward(x)).relu_act()
                    }
                })
                .collect();
        }
        let x = Tensor::cat(vec![x[0].clone(), x[1].clone().to_device(&dev[0])], 1);
        self.fc8.forward(x)
    }

    /// The devices of tower 0 and tower 1.
    pub fn devices(&self) -> [B::Device; 2] {
        [0, 1].map(|t| self.towers[t].convs[0].weight.device())
    }

    fn norm(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        match &self.lrn {
            Some(l) => l.forward(x),
            None => x,
        }
    }
}

/// Gives each tower the concatenation (in tower order) of both towers'
/// activations along `dim`, on that tower's device.
fn exchange<B: Backend, const D: usize>(
    x: &[Tensor<B, D>],
    dev: &[B::Device; 2],
    dim: usize,
) -> Vec<Tensor<B, D>> {
    dev.iter()
        .map(|d| Tensor::cat(x.iter().map(|t| t.clone().to_device(d)).collect(), dim))
        .collect()
}

fn param<B: Backend, const D: usize>(t: Tensor<B, D>, device: &B::Device) -> Param<Tensor<B, D>> {
    Param::from_tensor(t.to_device(device).detach())
}

/// Output-channel half `t` of a conv, as an ungrouped conv on `device`.
fn conv_half<B: Backend>(c: &Conv2d<B>, t: usize, device: &B::Device) -> Conv2d<B> {
    let w = c.weight.val();
    let half = w.dims()[0] / 2;
    Conv2d {
        weight: param(w.narrow(0, t * half, half), device),
        bias: c
            .bias
            .as_ref()
            .map(|b| param(b.val().narrow(0, t * half, half), device)),
        stride: c.stride,
        kernel_size: c.kernel_size,
        dilation: c.dilation,
        groups: 1,
        padding: c.padding.clone(),
    }
}

fn conv_join<B: Backend>(
    a: Conv2d<B>,
    b: Conv2d<B>,
    groups: usize,
    device: &B::Device,
) -> Conv2d<B> {
    let cat = |x: Tensor<B, 4>, y: Tensor<B, 4>| {
        Tensor::cat(vec![x.to_device(device), y.to_device(device)], 0)
    };
    Conv2d {
        weight: param(cat(a.weight.val(), b.weight.val()), device),
        bias: match (a.bias, b.bias) {
            (Some(x), Some(y)) => Some(param(
                Tensor::cat(
                    vec![x.val().to_device(device), y.val().to_device(device)],
                    0,
                ),
                device,
            )),
            _ => None,
        },
        stride: a.stride,
        kernel_size: a.kernel_size,
        dilation: a.dilation,
        groups,
        padding: a.padding,
    }
}

/// Output half `t` of a linear layer (`[in, out]` weights) on `device`.
fn linear_half<B: Backend>(f: &Linear<B>, t: usize, device: &B::Device) -> Linear<B> {
    let w = f.weight.val();
    let half = w.dims()[1] / 2;
    Linear {
        weight: param(w.narrow(1, t * half, half), device),
        bias: f
            .bias
            .as_ref()
            .map(|b| param(b.val().narrow(0, t * half, half), device)),
    }
}

fn linear_join<B: Backend>(a: Linear<B>, b: Linear<B>, device: &B::Device) -> Linear<B> {
    Linear {
        weight: param(
            Tensor::cat(
                vec![
                    a.weight.val().to_device(device),
                    b.weight.val().to_device(device),
                ],
                1,
            ),
            device,
        ),
        bias: match (a.bias, b.bias) {
            (Some(x), Some(y)) => Some(param(
                Tensor::cat(
                    vec![x.val().to_device(device), y.val().to_device(device)],
                    0,
                ),
                device,
            )),
            _ => None,
        },
    }
}

fn linear_to<B: Backend>(f: &Linear<B>, device: &B::Device) -> Linear<B> {
    Linear {
        weight: param(f.weight.val(), device),
        bias: f.bias.as_ref().map(|b| param(b.val(), device)),
    }
}
