//! The fused LRN as burn tensor ops, for every backend without a dedicated
//! loop here (the GPU backends, where burn's fusion merges the elementwise
//! steps into few kernels).

use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use burn::tensor::module::avg_pool2d;

use super::op::Params;

/// `y = x * d^-beta`, `d = k + alpha * window sum of x^2`; with `keep`, also
/// `d` for [`backward`].
pub(super) fn forward<B: Backend>(
    x: Tensor<B, 4>,
    p: &Params,
    keep: bool,
) -> (Tensor<B, 4>, Option<Tensor<B, 4>>) {
    let [n, c, h, w] = x.dims();
    let rows = [n * p.groups, 1, c / p.groups, h * w];
    let mean = window_mean(x.clone().square().reshape(rows), p.before, p.after);
    let d = mean
        .mul_scalar(p.alpha * p.size() as f64)
        .add_scalar(p.k)
        .reshape([n, c, h, w]);
    let y = x * d.clone().powf_scalar(-p.beta);
    (y, keep.then_some(d))
}

/// `dx_i = g_i q_i - 2 alpha beta x_i * sum_{j : i in window(j)} g_j x_j r_j`
/// with `q = d^-beta` and `r = d^(-beta-1)`, recomputed rather than saved
/// (burn's fusion makes them part of one elementwise kernel on a GPU).
/// Row `i` is in row `j`'s window exactly when `j` is in the mirrored window
/// (`after` rows back, `before` forward), the same one for an odd size.
pub(super) fn backward<B: Backend>(
    x: Tensor<B, 4>,
    d: Tensor<B, 4>,
    g: Tensor<B, 4>,
    p: &Params,
) -> Tensor<B, 4> {
    let [n, c, h, w] = x.dims();
    let rows = [n * p.groups, 1, c / p.groups, h * w];
    let q = d.clone().powf_scalar(-p.beta);
    let r = q.clone() / d;
    let u = (g.clone() * x.clone() * r).reshape(rows);
    let mean = window_mean(u, p.after, p.before).reshape([n, c, h, w]);
    let scale = 2.0 * p.alpha * p.beta * p.size() as f64;
    g * q - x * mean.mul_scalar(scale)
}

/// Mean over the rows `i - before ..= i + after` of `[B, 1, C, L]`, zeros
/// outside (so the window size times this is the clipped window sum).
pub(super) fn window_mean<B: Backend>(
    x: Tensor<B, 4>,
    before: usize,
    after: usize,
) -> Tensor<B, 4> {
    let size = before + 1 + after;
    if before == after {
        return avg_pool2d(x, [size, 1], [1, 1], [before, 0], true, false);
    }
    let [b, _, _, l] = x.dims();
    let device = x.device();
    let zeros = |rows| Tensor::zeros([b, 1, rows, l], &device);
    let padded = Tensor::cat(vec![zeros(before), x, zeros(after)], 2);
    avg_pool2d(padded, [size, 1], [1, 1], [0, 0], true, false)
}
