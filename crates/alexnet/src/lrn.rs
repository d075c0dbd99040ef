//! Local response normalisation in the paper's form (Section 3.3).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

/// Configuration of [`LocalResponseNorm`].
///
/// Convention: `b[i] = a[i] / (k + alpha * sum_{j in window(i)} a[j]^2)^beta`,
/// the sum running over the `size` channels centred on `i` (clipped at the
/// edges) — exactly the paper's formula, with **no division by `size`**.
/// Caffe's LRN layer and PyTorch's `nn.LocalResponseNorm` divide `alpha` by
/// `size`, so the paper's `alpha = 1e-4` is `alpha = 5e-4` there.
///
/// `groups` splits the channels into independent blocks that never share a
/// window: the paper ran conv1 and conv2 as two towers on two GPUs, and each
/// GPU normalised only its own maps. `groups = 2` reproduces that, which is
/// also what makes the two-device split equal the single-device model.
#[derive(Config, Debug)]
pub struct LocalResponseNormConfig {
    /// Channels in the window (`n` in the paper). Odd sizes are centred; an
    /// even size reaches one channel further back than forward.
    #[config(default = 5)]
    pub size: usize,
    /// Scale of the sum of squares (not divided by `size`).
    #[config(default = 1e-4)]
    pub alpha: f64,
    /// Exponent.
    #[config(default = 0.75)]
    pub beta: f64,
    /// Additive constant.
    #[config(default = 2.0)]
    pub k: f64,
    /// Independent channel blocks (windows never cross a block boundary).
    #[config(default = 1)]
    pub groups: usize,
}

impl LocalResponseNormConfig {
    /// The paper's values: k = 2, n = 5, alpha = 1e-4, beta = 0.75, one block
    /// per GPU tower (groups = 2).
    pub fn paper() -> Self {
        Self::new().with_groups(2)
    }

    /// Builds the module.
    pub fn init(&self) -> LocalResponseNorm {
        LocalResponseNorm {
            size: self.size.max(1),
            alpha: self.alpha,
            beta: self.beta,
            k: self.k,
            groups: self.groups.max(1),
        }
    }
}

/// Local response normalisation across channels (see
/// [`LocalResponseNormConfig`] for the formula). Built from plain tensor ops
/// (square, shifted sums, `powf`, divide), so burn's autodiff gives its
/// exact gradient.
#[derive(Module, Clone, Debug)]
pub struct LocalResponseNorm {
    /// Channels in the window.
    pub size: usize,
    /// Scale of the sum of squares.
    pub alpha: f64,
    /// Exponent.
    pub beta: f64,
    /// Additive constant.
    pub k: f64,
    /// Independent channel blocks.
    pub groups: usize,
}

impl LocalResponseNorm {
    /// Normalises `[N, C, H, W]`; `C` must be divisible by `groups`.
    ///
    /// # Panics
    ///
    /// If `C` is not divisible by `groups`.
    pub fn forward<B: Backend>(&self, input: Tensor<B, 4>) -> Tensor<B, 4> {
        let [n, c, h, w] = input.dims();
        assert!(
            c % self.groups == 0,
            "LRN: {c} channels are not divisible by {} groups",
            self.groups
        );
        let cg = c / self.groups;
        let sq: Tensor<B, 5> = input.clone().square().reshape([n, self.groups, cg, h, w]);
        let sum = window_sum(sq, self.size);
        let denom = sum
            .mul_scalar(self.alpha)
            .add_scalar(self.k)
            .powf_scalar(self.beta)
            .reshape([n, c, h, w]);
        input / denom
    }

    /// The configuration this module was built from.
    pub fn config(&self) -> LocalResponseNormConfig {
        LocalResponseNormConfig {
            size: self.size,
            alpha: self.alpha,
            beta: self.beta,
            k: self.k,
            groups: self.groups,
        }
    }
}

/// Sum over a window of `size` neighbours along dim 2, zero outside: pads
/// the channel axis and adds `size` shifted views.
fn window_sum<B: Backend>(x: Tensor<B, 5>, size: usize) -> Tensor<B, 5> {
    let [n, g, c, h, w] = x.dims();
    let before = size / 2;
    let after = size - 1 - before;
    let device = x.device();
    let mut parts = Vec::with_capacity(3);
    if before > 0 {
        parts.push(Tensor::zeros([n, g, before, h, w], &device));
    }
    parts.push(x);
    if after > 0 {
        parts.push(Tensor::zeros([n, g, after, h, w], &device));
    }
    let padded = Tensor::cat(parts, 2);
    let mut sum = padded.clone().narrow(2, 0, c);
    for s in 1..size {
        sum = sum + padded.clone().narrow(2, s, c);
    }
    sum
}
