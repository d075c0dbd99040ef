//! The fused LRN against the composed formulation it replaced (square, an
//! average pool over channels, powf, divide: burn differentiates that one
//! op by op), on the same random inputs: values and input gradients.

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::strategy::BalancedCheckpointing;
use burn::tensor::activation::relu;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::module::avg_pool2d;
use burn::tensor::{Tensor, TensorData};
use burn_flex::Flex;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{LocalResponseNorm, LocalResponseNormConfig, tensor_ops};

type AD = Autodiff<Flex>;

/// The implementation before the fused op, kept as the reference.
fn lrn_composed<B: Backend>(m: &LocalResponseNorm, input: Tensor<B, 4>) -> Tensor<B, 4> {
    let [n, c, h, w] = input.dims();
    let cg = c / m.groups;
    let sq: Tensor<B, 4> = input.clone().square().reshape([n * m.groups, 1, cg, h * w]);
    let avg = window_mean(sq, m.size);
    let base = avg
        .mul_scalar(m.alpha * m.size as f64)
        .add_scalar(m.k)
        .reshape([n, c, h, w]);
    input / base.powf_scalar(m.beta)
}

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

fn random<B: Backend>(shape: [usize; 4], seed: u64, scale: f32) -> Tensor<B, 4> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let len = shape.iter().product();
    let v: Vec<f32> = (0..len)
        .map(|_| rng.random_range(-1.0f32..1.0) * scale)
        .collect();
    Tensor::from_data(TensorData::new(v, shape), &Default::default())
}

fn values<B: Backend>(t: Tensor<B, 4>) -> Vec<f32> {
    t.into_data().to_vec().unwrap()
}

/// Largest |a - b| over the largest |b|, and the largest element-wise
/// |a - b| / max(|b|, 1e-3 max|b|).
fn errors(a: &[f32], b: &[f32]) -> (f32, f32) {
    assert_eq!(a.len(), b.len());
    let top = b.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let abs = a
        .iter()
        .zip(b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
    let rel = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / y.abs().max(1e-3 * top))
        .fold(0.0f32, f32::max);
    (abs / top, rel)
}

/// `(y, dL/dx)` with `L = sum(y * r)` for `f` on backend `A`.
fn value_and_grad<A: AutodiffBackend>(
    x: &Tensor<A::InnerBackend, 4>,
    r: &Tensor<A::InnerBackend, 4>,
    f: impl Fn(Tensor<A, 4>) -> Tensor<A, 4>,
) -> (Vec<f32>, Vec<f32>) {
    let x = Tensor::<A, 4>::from_inner(x.clone()).require_grad();
    let y = f(x.clone());
    let grads = (y.clone() * Tensor::from_inner(r.clone())).sum().backward();
    (values(y.inner()), values(x.grad(&grads).unwrap()))
}

/// Fused vs composed for `cfg` on `shape`, with input values in ±`scale`.
fn check(cfg: LocalResponseNormConfig, shape: [usize; 4], scale: f32, seed: u64) {
    let m = cfg.init();
    let x = random::<Flex>(shape, seed, scale);
    let r = random::<Flex>(shape, seed + 1, 1.0);
    let (y_ref, g_ref) = value_and_grad::<AD>(&x, &r, |x| lrn_composed(&m, x));
    let (y, g) = value_and_grad::<AD>(&x, &r, |x| m.forward(x));
    let (abs, rel) = errors(&y, &y_ref);
    assert!(
        abs < 1e-6 && rel < 2e-6,
        "forward {cfg:?} {shape:?}: {abs} {rel}"
    );
    let (abs, rel) = errors(&g, &g_ref);
    assert!(
        abs < 1e-5 && rel < 1e-4,
        "backward {cfg:?} {shape:?}: {abs} {rel}"
    );

    // Without autodiff, and on autodiff with a leaf that needs no gradient.
    let (abs, _) = errors(&values(m.forward(x.clone())), &y_ref);
    assert!(abs < 1e-6, "plain forward {cfg:?}: {abs}");
    let untracked = m.forward(Tensor::<AD, 4>::from_inner(x.clone()));
    let (abs, _) = errors(&values(untracked.inner()), &y_ref);
    assert!(abs < 1e-6, "untracked forward {cfg:?}: {abs}");

    // The tensor-op kernels the GPU backends run, here on flex's tensors.
    let p = m.params();
    let (y, d) = tensor_ops::forward(x.clone(), &p, true);
    let g = tensor_ops::backward(x.clone(), d.unwrap(), r.clone(), &p);
    let (abs, rel) = errors(&values(y), &y_ref);
    assert!(
        abs < 1e-6 && rel < 2e-6,
        "tensor-op forward {cfg:?}: {abs} {rel}"
    );
    let (abs, rel) = errors(&values(g), &g_ref);
    assert!(
        abs < 1e-5 && rel < 1e-4,
        "tensor-op backward {cfg:?}: {abs} {rel}"
    );
}

#[test]
fn fused_equals_composed_on_the_papers_settings() {
    for (groups, seed) in [(1, 1), (2, 3)] {
        let cfg = LocalResponseNormConfig::new().with_groups(groups);
        // Activation-like magnitudes (alpha * sum a^2 ~ k) and small ones.
        check(cfg.clone(), [2, 96, 7, 7], 80.0, seed);
        check(cfg, [2, 96, 7, 7], 1.0, seed + 10);
    }
}

#[test]
fn fused_equals_composed_on_odd_shapes_and_windows() {
    let base = LocalResponseNormConfig::new();
    // Odd channel counts, a block smaller than the window, odd planes.
    check(base.clone(), [3, 15, 5, 3], 80.0, 20);
    check(base.clone().with_groups(3), [2, 21, 4, 5], 80.0, 21);
    check(base.clone().with_groups(5), [1, 15, 3, 3], 80.0, 22);
    // Even windows reach one channel further back: the backward's window is
    // mirrored.
    check(
        base.clone().with_size(4).with_alpha(0.5).with_k(1.0),
        [2, 9, 3, 4],
        2.0,
        23,
    );
    check(
        base.clone()
            .with_size(6)
            .with_alpha(0.05)
            .with_k(1.0)
            .with_groups(2),
        [2, 14, 3, 3],
        3.0,
        24,
    );
    // A general exponent (powf rather than square roots) and size 1.
    check(
        base.clone().with_size(3).with_alpha(0.2).with_beta(0.6),
        [2, 7, 3, 3],
        3.0,
        25,
    );
    check(base.with_size(1).with_alpha(0.3), [2, 5, 2, 2], 2.0, 26);
}

#[test]
fn fused_node_works_under_checkpointing_and_reuse() {
    // A checkpointing strategy has the same float primitive, so it gets the
    // fused node too; the input also feeds a second op, so its gradient is
    // the sum of both paths.
    type Balanced = Autodiff<Flex, BalancedCheckpointing>;
    let m = LocalResponseNormConfig::paper().init();
    let shape = [2, 12, 4, 4];
    let x = random::<Flex>(shape, 40, 80.0);
    let r = random::<Flex>(shape, 41, 1.0);
    let twice = |f: fn(&LocalResponseNorm, Tensor<Balanced, 4>) -> Tensor<Balanced, 4>| {
        value_and_grad::<Balanced>(&x, &r, |x| relu(f(&m, x.clone())) + x.mul_scalar(0.5))
    };
    let (y_ref, g_ref) = twice(lrn_composed);
    let (y, g) = twice(|m, x| m.forward(x));
    assert!(errors(&y, &y_ref).0 < 1e-6);
    let (abs, rel) = errors(&g, &g_ref);
    assert!(abs < 1e-5 && rel < 1e-4, "{abs} {rel}");
}

#[test]
fn fallback_for_other_autodiff_backends_equals_the_fused_node() {
    // An autodiff backend the dispatch does not recognise runs the tensor-op
    // forward on itself and burn differentiates it op by op: the same
    // values and gradients as the fused node.
    let m = LocalResponseNormConfig::paper().init();
    let p = m.params();
    let shape = [2, 10, 3, 3];
    let x = random::<Flex>(shape, 50, 80.0);
    let r = random::<Flex>(shape, 51, 1.0);
    let (y_ref, g_ref) = value_and_grad::<AD>(&x, &r, |x| m.forward(x));
    let (y, g) = value_and_grad::<AD>(&x, &r, |x| tensor_ops::forward(x, &p, false).0);
    assert!(errors(&y, &y_ref).0 < 1e-6);
    let (abs, rel) = errors(&g, &g_ref);
    assert!(abs < 1e-5 && rel < 1e-4, "{abs} {rel}");
}
