//! The single-device network.

use burn::module::{Initializer, Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::config::{AlexNetConfig, Variant};
use crate::lrn::LocalResponseNorm;

/// AlexNet on one device (the paper's two towers expressed as grouped
/// convolutions). Build it with [`AlexNetConfig::init`].
#[derive(Module, Debug)]
pub struct AlexNet<B: Backend> {
    /// conv1..conv5.
    pub convs: Vec<Conv2d<B>>,
    /// fc6, fc7, fc8. Weights are `[in, out]` (burn's layout).
    pub fcs: Vec<Linear<B>>,
    /// The configuration the network was built from (not a parameter).
    pub config: AlexNetConfig,
    pub(crate) lrn: Option<LocalResponseNorm>,
    pub(crate) pool: MaxPool2d,
    pub(crate) adaptive: Option<AdaptiveAvgPool2d>,
    pub(crate) dropout: Dropout,
}

/// The stateless layers shared by [`AlexNet`] and the split model.
pub(crate) struct Fixed {
    pub lrn: Option<LocalResponseNorm>,
    pub pool: MaxPool2d,
    pub adaptive: Option<AdaptiveAvgPool2d>,
    pub dropout: Dropout,
}

impl Fixed {
    pub fn new(config: &AlexNetConfig) -> Self {
        Self {
            lrn: config.lrn.as_ref().map(|c| c.init()),
            pool: MaxPool2dConfig::new([config.pool_kernel; 2])
                .with_strides([config.pool_stride; 2])
                .init(),
            adaptive: config
                .adaptive_pool
                .map(|s| AdaptiveAvgPool2dConfig::new([s, s]).init()),
            dropout: DropoutConfig::new(config.dropout).init(),
        }
    }
}

/// Builds conv layer `l` (0-based) with the configured initialisation.
fn conv<B: Backend>(
    config: &AlexNetConfig,
    l: usize,
    in_ch: usize,
    device: &B::Device,
) -> Conv2d<B> {
    let p = config.paddings[l];
    let mut layer = Conv2dConfig::new([in_ch, config.channels[l]], [config.kernel_sizes[l]; 2])
        .with_stride([config.strides[l]; 2])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .with_groups(config.groups[l])
        .with_bias(false)
        .with_initializer(Initializer::Normal {
            mean: 0.0,
            std: config.init.weight_std,
        })
        .init(device);
    layer.bias = Some(bias(config.init.unit_bias[l], config.channels[l], device));
    layer
}

/// Builds fc layer `l` (0-based: fc6 = 0) with the configured initialisation.
fn fc<B: Backend>(
    config: &AlexNetConfig,
    l: usize,
    d_in: usize,
    d_out: usize,
    device: &B::Device,
) -> Linear<B> {
    let mut layer = LinearConfig::new(d_in, d_out)
        .with_bias(false)
        .with_initializer(Initializer::Normal {
            mean: 0.0,
            std: config.init.weight_std,
        })
        .init(device);
    layer.bias = Some(bias(config.init.unit_bias[5 + l], d_out, device));
    layer
}

fn bias<B: Backend>(one: bool, len: usize, device: &B::Device) -> Param<Tensor<B, 1>> {
    let t = if one {
        Tensor::ones([len], device)
    } else {
        Tensor::zeros([len], device)
    };
    Param::from_tensor(t)
}

impl<B: Backend> AlexNet<B> {
    /// Initialises a network; `config` must be valid (see [`AlexNetConfig::init`]).
    pub(crate) fn new(config: AlexNetConfig, device: &B::Device) -> Self {
        let mut convs = Vec::with_capacity(5);
        let mut in_ch = 3;
        for l in 0..5 {
            convs.push(conv(&config, l, in_ch, device));
            in_ch = config.channels[l];
        }
        let w = config.fc_width;
        let fcs = vec![
            fc(&config, 0, config.feature_len(), w, device),
            fc(&config, 1, w, w, device),
            fc(&config, 2, w, config.num_classes, device),
        ];
        Self::from_parts(config, convs, fcs)
    }

    /// Assembles a network from its layers (shapes are the caller's duty).
    pub(crate) fn from_parts(
        config: AlexNetConfig,
        convs: Vec<Conv2d<B>>,
        fcs: Vec<Linear<B>>,
    ) -> Self {
        let Fixed {
            lrn,
            pool,
            adaptive,
            dropout,
        } = Fixed::new(&config);
        Self {
            convs,
            fcs,
            config,
            lrn,
            pool,
            adaptive,
            dropout,
        }
    }

    /// Logits `[N, num_classes]` for images `[N, 3, S, S]` (NCHW, f32,
    /// `S = config.input_size`). Dropout is active only on an autodiff
    /// backend (burn's convention for training mode); use `model.valid()`
    /// for evaluation.
    pub fn forward(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let features = self.features(images);
        self.classifier(features)
    }

    /// The convolutional part: `[N, 3, S, S]` → flattened pool5 `[N, C*H*W]`.
    pub fn features(&self, images: Tensor<B, 4>) -> Tensor<B, 2> {
        let c = &self.convs;
        let mut x = c[0].forward(images).relu_act();
        if let Some(lrn) = &self.lrn {
            x = lrn.forward(x);
        }
        x = self.pool.forward(x);
        x = c[1].forward(x).relu_act();
        if let Some(lrn) = &self.lrn {
            x = lrn.forward(x);
        }
        x = self.pool.forward(x);
        x = c[2].forward(x).relu_act();
        x = c[3].forward(x).relu_act();
        x = c[4].forward(x).relu_act();
        x = self.pool.forward(x);
        if let Some(a) = &self.adaptive {
            x = a.forward(x);
        }
        x.flatten(1, 3)
    }

    /// fc6 → fc7 → fc8 on flattened features, with the variant's dropout.
    pub fn classifier(&self, features: Tensor<B, 2>) -> Tensor<B, 2> {
        let f = &self.fcs;
        match self.config.variant {
            Variant::Paper => {
                let x = self.dropout.forward(f[0].forward(features).relu_act());
                let x = self.dropout.forward(f[1].forward(x).relu_act());
                f[2].forward(x)
            }
            Variant::Torchvision => {
                let x = f[0].forward(self.dropout.forward(features)).relu_act();
                let x = f[1].forward(self.dropout.forward(x)).relu_act();
                f[2].forward(x)
            }
        }
    }
}

/// `relu` as a method (burn's `Tensor::relu` is crate-private).
pub(crate) trait ReluExt {
    /// max(x, 0).
    fn relu_act(self) -> Self;
}

impl<B: Backend, const D: usize> ReluExt for Tensor<B, D> {
    fn relu_act(self) -> Self {
        burn::tensor::activation::relu(self)
    }
}
