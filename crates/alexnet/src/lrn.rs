//! Local response normalisation in the paper's form (Section 3.3).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use burn::tensor::module::avg_pool2d;

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
/// [`LocalResponseNormConfig`] for the formula). Built from differentiable
/// tensor ops (square, an average pool over channels, `powf`, divide), so burn's autodiff gives its exact gradient.
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
        // Channels become the height of a one-channel image per (sample,
        // group), so the window sum is a single average pool (with zero
        // padding counted, i.e. sum / size) whose backward is burn's own.
        let sq: Tensor<B, 4> = input
            .clone()
            .square()
            .reshape([n * self.groups, 1, cg, h * w]);
        let avg = window_mean(sq, self.size);
        let base = avg
            .mul_scalar(self.alpha * self.size as f64)
            .add_scalar(self.k)
            .reshape([n, c, h, w]);
        input / base.powf_scalar(self.beta)
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

/// Mean over a window of `size` rows of `[B, 1, C, L]` (zeros outside, so
/// `size` times this is the window sum). An even window reaches one row
/// further back than forward.
fn window_mean<B: Backend>(x: Tensor<B, 4>, size: usize) -> Tensor<B, 4> {
    let before = size / 2;
    let after = size - 1 - before;
    if before == after {
        return avg_pool2d(x, [size, 1], [1, 1], [before, 0], true, false);
    }
    let [b, _, _, l] = x.dims();
    let device = x.device();
    let zeros = |rows| Tensor::zeros([b, 1, rows, l], &device);
    let padded = Tensor::cat(vec![zeros(before), x, zeros(after)], 2);
    avg_pool2d(padded, [size, 1], [1, 1], [0, 0], true, false)
}
