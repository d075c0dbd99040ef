//! Local response normalisation in the paper's form (Section 3.3).

mod cpu;
mod op;
mod tensor_ops;
#[cfg(test)]
mod tests;

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
            groups: self.groups,
        }
    }
}

/// Local response normalisation across channels (see
/// [`LocalResponseNormConfig`] for the formula).
///
/// One operation with its analytic backward: the forward computes
/// `d = k + alpha * window sum of a^2` and `b = a * d^-beta` and keeps only
/// `a`, `d^-beta` and `d^(-beta-1)`; the backward is
/// `da_i = g_i d_i^-beta - 2 alpha beta a_i * sum_{j : i in window(j)} g_j a_j d_j^(-beta-1)`.
/// On flex it is one loop over the channel rows each way; on the GPU
/// backends burn tensor ops. On an autodiff backend other than
/// `Autodiff<Flex | Cuda | Wgpu>` the same forward is built from tensor ops
/// and burn differentiates it (exact, just more intermediates).
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
        let c = input.dims()[1];
        assert!(
            c.is_multiple_of(self.groups),
            "LRN: {c} channels are not divisible by {} groups",
            self.groups
        );
        op::lrn(input, &self.params())
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

    fn params(&self) -> op::Params {
        // Fields are public: a hand-built module may hold a zero size that
        // `init` would have raised to 1 (a zero `groups` fails `forward`'s
        // divisibility check first).
        let size = self.size.max(1);
        let before = size / 2;
        op::Params {
            before,
            after: size - 1 - before,
            alpha: self.alpha,
            beta: self.beta,
            k: self.k,
            groups: self.groups,
        }
    }
}
