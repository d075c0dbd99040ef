//! The model's hyper-parameters: the paper's network, torchvision's variant and
//! a scaled-down network for tests and the demo.

use burn::config::Config;
use burn::tensor::backend::Backend;

use crate::lrn::LocalResponseNormConfig;
use crate::model::AlexNet;

/// Which published network a configuration follows. It fixes the parameter
/// names used in safetensors files and where dropout sits in the classifier.
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum Variant {
    /// Krizhevsky et al. (2012): LRN after conv1 and conv2, grouped conv2/4/5,
    /// dropout on the outputs of fc6 and fc7.
    Paper,
    /// torchvision's `alexnet` ("one weird trick" widths, no LRN, no groups,
    /// adaptive average pooling to 6x6, dropout on the inputs of fc6 and fc7).
    Torchvision,
}

/// Initialisation of the weights (Section 5 of the paper).
#[derive(Config, Debug)]
pub struct InitConfig {
    /// Standard deviation of the zero-mean Gaussian every weight is drawn from.
    pub weight_std: f64,
    /// For conv1..conv5, fc6, fc7, fc8 (in that order): `true` sets the
    /// layer's biases to 1, `false` to 0.
    pub unit_bias: [bool; 8],
}

impl InitConfig {
    /// The paper: "We initialized the weights in each layer from a zero-mean
    /// Gaussian distribution with standard deviation 0.01. We initialized the
    /// neuron biases in the second, fourth, and fifth convolutional layers, as
    /// well as in the fully-connected hidden layers, with the constant 1. [...]
    /// We initialized the neuron biases in the remaining layers with the
    /// constant 0." The hidden fully-connected layers are fc6 and fc7; fc8 (the
    /// output layer) gets 0.
    pub fn paper() -> Self {
        Self {
            weight_std: 0.01,
            unit_bias: [false, true, false, true, true, true, true, false],
        }
    }
}

/// Hyper-parameters of an AlexNet. All fields are public so any variation can
/// be built; [`AlexNetConfig::paper`], [`AlexNetConfig::torchvision`] and
/// [`AlexNetConfig::tiny`] give the three supported starting points.
///
/// Layers: conv1 → ReLU → [LRN] → maxpool → conv2 → ReLU → [LRN] → maxpool →
/// conv3 → ReLU → conv4 → ReLU → conv5 → ReLU → maxpool → [adaptive avg pool]
/// → fc6 → ReLU → fc7 → ReLU → fc8, with dropout placed per [`Variant`].
#[derive(Config, Debug)]
pub struct AlexNetConfig {
    /// Parameter naming and dropout placement.
    pub variant: Variant,
    /// Number of output classes (fc8's width).
    pub num_classes: usize,
    /// Side of the square input image, in pixels.
    pub input_size: usize,
    /// Output channels of conv1..conv5.
    pub channels: [usize; 5],
    /// Square kernel side of conv1..conv5.
    pub kernel_sizes: [usize; 5],
    /// Stride of conv1..conv5.
    pub strides: [usize; 5],
    /// Zero padding (each side) of conv1..conv5.
    pub paddings: [usize; 5],
    /// Groups of conv1..conv5 (the paper's two-GPU connectivity is groups 2
    /// in conv2, conv4 and conv5).
    pub groups: [usize; 5],
    /// Max-pooling window side (3 in the paper: overlapping pooling).
    pub pool_kernel: usize,
    /// Max-pooling stride (2 in the paper).
    pub pool_stride: usize,
    /// Adaptive average pooling to this side after the last max pool
    /// (torchvision: 6); `None` for none.
    pub adaptive_pool: Option<usize>,
    /// Local response normalisation after conv1 and conv2; `None` for none.
    pub lrn: Option<LocalResponseNormConfig>,
    /// Width of fc6 and fc7.
    pub fc_width: usize,
    /// Dropout probability in the classifier.
    pub dropout: f64,
    /// Weight and bias initialisation.
    pub init: InitConfig,
}

/// A configuration that cannot build a network.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A size that must be positive is zero.
    #[error("AlexNet config: {0} must be positive")]
    Zero(&'static str),
    /// A layer's channels are not divisible by its groups.
    #[error(
        "AlexNet config: conv{layer} has {channels} input/output channels, not divisible by groups {groups}"
    )]
    Groups {
        /// 1-based conv layer.
        layer: usize,
        /// Offending channel count.
        channels: usize,
        /// Configured groups.
        groups: usize,
    },
    /// A feature map shrinks to nothing.
    #[error("AlexNet config: input {input}x{input} leaves no pixels after {stage}")]
    Vanishes {
        /// Configured input side.
        input: usize,
        /// The stage where the map became empty.
        stage: &'static str,
    },
}

impl AlexNetConfig {
    /// The paper's network for 224x224 inputs.
    ///
    /// The paper says 224x224, but 11x11 stride-4 kernels only give its 55x55
    /// conv1 maps on 227x227 inputs. We keep 224 crops (the loader's and
    /// torchvision's size) and pad conv1 by 2, as torchvision does:
    /// (224 + 4 - 11) / 4 + 1 = 55. The maps are then 55 → 27 → 27 → 13 → 13
    /// → 13 → 13 → 6, so pool5 is 256x6x6 as in the paper.
    pub fn paper(num_classes: usize) -> Self {
        Self {
            variant: Variant::Paper,
            num_classes,
            input_size: 224,
            channels: [96, 256, 384, 384, 256],
            kernel_sizes: [11, 5, 3, 3, 3],
            strides: [4, 1, 1, 1, 1],
            paddings: [2, 2, 1, 1, 1],
            groups: [1, 2, 1, 2, 2],
            pool_kernel: 3,
            pool_stride: 2,
            adaptive_pool: None,
            lrn: Some(LocalResponseNormConfig::paper()),
            fc_width: 4096,
            dropout: 0.5,
            init: InitConfig::paper(),
        }
    }

    /// torchvision's `alexnet` (64-192-384-256-256, no LRN, adaptive average
    /// pooling to 6x6, dropout before fc6 and fc7), 224x224 inputs. Weights
    /// are initialised as in the paper; load torchvision's to use theirs.
    pub fn torchvision(num_classes: usize) -> Self {
        Self {
            variant: Variant::Torchvision,
            num_classes,
            input_size: 224,
            channels: [64, 192, 384, 256, 256],
            kernel_sizes: [11, 5, 3, 3, 3],
            strides: [4, 1, 1, 1, 1],
            paddings: [2, 2, 1, 1, 1],
            groups: [1, 1, 1, 1, 1],
            pool_kernel: 3,
            pool_stride: 2,
            adaptive_pool: Some(6),
            lrn: None,
            fc_width: 4096,
            dropout: 0.5,
            init: InitConfig::paper(),
        }
    }

    /// A scaled-down paper network for tests and the CPU demo: 64x64 inputs,
    /// the same topology (LRN, overlapping pooling, groups 2 in conv2/4/5)
    /// with a quarter of the widths (24-64-96-96-64, fc 256) and conv1
    /// 5x5 stride 2 pad 2, so the maps are 32 → 15 → 15 → 7 → 7 → 7 → 7 → 3.
    pub fn tiny(num_classes: usize) -> Self {
        Self {
            input_size: 64,
            channels: [24, 64, 96, 96, 64],
            kernel_sizes: [5, 5, 3, 3, 3],
            strides: [2, 1, 1, 1, 1],
            paddings: [2, 2, 1, 1, 1],
            fc_width: 256,
            ..Self::paper(num_classes)
        }
    }

    /// Side of the square input image the network expects.
    pub fn input_size(&self) -> usize {
        self.input_size
    }

    /// Builds the network on `device`, initialised per [`AlexNetConfig::init`].
    ///
    /// # Panics
    ///
    /// If [`AlexNetConfig::validate`] fails: a configuration is a programmer's
    /// choice, check it first where it comes from user input.
    pub fn init<B: Backend>(&self, device: &B::Device) -> AlexNet<B> {
        if let Err(e) = self.validate() {
            panic!("{e}");
        }
        AlexNet::new(self.clone(), device)
    }

    /// Checks the configuration and returns the pool5 output shape
    /// `[channels, height, width]` (after the adaptive pool, if any).
    pub fn validate(&self) -> Result<[usize; 3], ConfigError> {
        for (what, v) in [
            ("num_classes", self.num_classes),
            ("input_size", self.input_size),
            ("fc_width", self.fc_width),
            ("pool_kernel", self.pool_kernel),
            ("pool_stride", self.pool_stride),
        ] {
            if v == 0 {
                return Err(ConfigError::Zero(what));
            }
        }
        if self.channels.contains(&0)
            || self.kernel_sizes.contains(&0)
            || self.strides.contains(&0)
            || self.groups.contains(&0)
        {
            return Err(ConfigError::Zero(
                "every conv channel, kernel, stride and group",
            ));
        }
        let mut in_ch = 3;
        for l in 0..5 {
            let g = self.groups[l];
            for channels in [in_ch, self.channels[l]] {
                if !channels.is_multiple_of(g) {
                    return Err(ConfigError::Groups {
                        layer: l + 1,
                        channels,
                        groups: g,
                    });
                }
            }
            in_ch = self.channels[l];
        }
        if let Some(lrn) = &self.lrn {
            if lrn.size == 0 || lrn.groups == 0 {
                return Err(ConfigError::Zero("lrn size and groups"));
            }
            for l in 0..2 {
                if !self.channels[l].is_multiple_of(lrn.groups) {
                    return Err(ConfigError::Groups {
                        layer: l + 1,
                        channels: self.channels[l],
                        groups: lrn.groups,
                    });
                }
            }
        }
        let input = self.input_size;
        let conv = |s: usize, l: usize, stage| {
            let padded = s + 2 * self.paddings[l];
            if padded < self.kernel_sizes[l] {
                return Err(ConfigError::Vanishes { input, stage });
            }
            Ok((padded - self.kernel_sizes[l]) / self.strides[l] + 1)
        };
        let pool = |s: usize, stage| {
            if s < self.pool_kernel {
                return Err(ConfigError::Vanishes { input, stage });
            }
            Ok((s - self.pool_kernel) / self.pool_stride + 1)
        };
        let mut s = conv(input, 0, "conv1")?;
        s = pool(s, "pool1")?;
        s = conv(s, 1, "conv2")?;
        s = pool(s, "pool2")?;
        s = conv(s, 2, "conv3")?;
        s = conv(s, 3, "conv4")?;
        s = conv(s, 4, "conv5")?;
        s = pool(s, "pool5")?;
        if let Some(a) = self.adaptive_pool {
            if a == 0 {
                return Err(ConfigError::Zero("adaptive_pool"));
            }
            s = a;
        }
        Ok([self.channels[4], s, s])
    }

    /// Length of the flattened feature vector fc6 reads.
    ///
    /// # Panics
    ///
    /// If the configuration is invalid.
    pub fn feature_len(&self) -> usize {
        let [c, h, w] = self.validate().unwrap_or_else(|e| panic!("{e}"));
        c * h * w
    }

    /// Bytes of the largest weight, fc6's (f32), which limits the devices
    /// the whole model fits on (the split holds half of it per tower).
    ///
    /// # Panics
    ///
    /// If the configuration is invalid.
    pub fn largest_weight_bytes(&self) -> u64 {
        (self.feature_len() * self.fc_width * 4) as u64
    }
}
