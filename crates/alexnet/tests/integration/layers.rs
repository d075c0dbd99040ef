//! Each layer the network uses, against a plain nested-loop reference on
//! small random inputs.

use crate::common;

use alexnet::LocalResponseNormConfig;
use burn::module::AutodiffModule;
use burn::nn::DropoutConfig;
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2dConfig;
use burn::nn::pool::MaxPool2dConfig;
use burn::tensor::Tensor;
use common::{AD, B, max_rel_err, random_scaled, random_tensor, random_vec, values};

/// Index of `[a, b, c, d]` in a C-order 4-d array of shape `s`.
fn at(s: [usize; 4], a: usize, b: usize, c: usize, d: usize) -> usize {
    ((a * s[1] + b) * s[2] + c) * s[3] + d
}

#[test]
fn grouped_conv_matches_reference() {
    let (n, cin, cout, hw, k, stride, pad, groups) = (2, 4, 6, 7, 3, 2, 1, 2);
    let device = Default::default();
    let conv = Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(pad, pad, pad, pad))
        .with_groups(groups)
        .init::<B>(&device);
    let w = values(conv.weight.val());
    let bias = values(conv.bias.as_ref().unwrap().val());
    let xs = [n, cin, hw, hw];
    let x = random_vec(xs.iter().product(), 1);
    let out = values(conv.forward(Tensor::from_data(
        burn::tensor::TensorData::new(x.clone(), xs),
        &device,
    )));

    let oh = (hw + 2 * pad - k) / stride + 1;
    let ws = [cout, cin / groups, k, k];
    let os = [n, cout, oh, oh];
    let mut expected = vec![0.0f32; os.iter().product()];
    // Sum of |terms| per output: f32 rounding of a dot product of m terms is
    // at most about m·ε·Σ|terms|, whatever the (random) weights are.
    let mut magnitude = vec![0.0f64; os.iter().product()];
    let (cin_g, cout_g) = (cin / groups, cout / groups);
    for b in 0..n {
        for o in 0..cout {
            let g = o / cout_g;
            for i in 0..oh {
                for j in 0..oh {
                    let mut acc = bias[o] as f64;
                    let mut mag = (bias[o] as f64).abs();
                    for ci in 0..cin_g {
                        for u in 0..k {
                            for v in 0..k {
                                let (y, xx) = (
                                    (i * stride + u) as isize - pad as isize,
                                    (j * stride + v) as isize - pad as isize,
                                );
                                if y < 0 || xx < 0 || y >= hw as isize || xx >= hw as isize {
                                    continue;
                                }
                                let xv = x[at(xs, b, g * cin_g + ci, y as usize, xx as usize)];
                                let term = (xv * w[at(ws, o, ci, u, v)]) as f64;
                                acc += term;
                                mag += term.abs();
                            }
                        }
                    }
                    expected[at(os, b, o, i, j)] = acc as f32;
                    magnitude[at(os, b, o, i, j)] = mag;
                }
            }
        }
    }
    // Relative to each output's rounding scale (2·(m+1)·ε·Σ|terms|, m =
    // cin/groups·k² terms): a wrong window, group or weight index is off by
    // a whole term, orders of magnitude more.
    let terms = (cin_g * k * k + 1) as f64;
    let err = out
        .iter()
        .zip(&expected)
        .zip(&magnitude)
        .map(|((&a, &e), &m)| (a as f64 - e as f64).abs() / (m * terms * f32::EPSILON as f64))
        .fold(0.0, f64::max);
    assert!(
        err < 2.0,
        "grouped conv differs from reference: {err} rounding units"
    );
}

#[test]
fn overlapping_max_pool_forward_and_backward_match_reference() {
    let s = [2, 3, 9, 9];
    let (k, stride) = (3, 2);
    let pool = MaxPool2dConfig::new([k, k])
        .with_strides([stride, stride])
        .init();
    let x = random_scaled::<AD, 4>(s, 2, 1.0).require_grad();
    let y = pool.forward(x.clone());
    let oh = (s[2] - k) / stride + 1;
    assert_eq!(y.dims(), [2, 3, oh, oh]);
    let r = random_tensor::<AD, 4>([2, 3, oh, oh], 3);
    let grads = (y.clone() * r.clone()).sum().backward();
    let gx = values(x.grad(&grads).unwrap());

    let xv = values(x.inner());
    let rv = values(r.inner());
    let os = [2, 3, oh, oh];
    let mut expected = vec![0.0f32; os.iter().product()];
    let mut expected_grad = vec![0.0f32; xv.len()];
    for b in 0..2 {
        for c in 0..3 {
            for i in 0..oh {
                for j in 0..oh {
                    let mut best = (f32::NEG_INFINITY, 0);
                    for u in 0..k {
                        for v in 0..k {
                            let idx = at(s, b, c, i * stride + u, j * stride + v);
                            if xv[idx] > best.0 {
                                best = (xv[idx], idx);
                            }
                        }
                    }
                    expected[at(os, b, c, i, j)] = best.0;
                    // Overlapping windows: one input may be the max of several.
                    expected_grad[best.1] += rv[at(os, b, c, i, j)];
                }
            }
        }
    }
    assert_eq!(values(y.inner()), expected);
    let err = max_rel_err(&gx, &expected_grad, 1e-3);
    assert!(err < 1e-6, "max pool gradient differs: {err}");
}

/// The paper's LRN in f64: returns (output, d(sum r*b)/da).
fn lrn_reference(
    a: &[f32],
    r: &[f32],
    s: [usize; 4],
    cfg: &LocalResponseNormConfig,
) -> (Vec<f64>, Vec<f64>) {
    let cg = s[1] / cfg.groups;
    let before = cfg.size / 2;
    let after = cfg.size - 1 - before;
    let window = |i: usize| {
        let g0 = (i / cg) * cg;
        let lo = (i - g0).saturating_sub(before) + g0;
        let hi = (i - g0 + after).min(cg - 1) + g0;
        lo..=hi
    };
    let mut out = vec![0.0; a.len()];
    let mut grad = vec![0.0; a.len()];
    let mut denom = vec![0.0; a.len()];
    for b in 0..s[0] {
        for y in 0..s[2] {
            for x in 0..s[3] {
                for i in 0..s[1] {
                    let sum: f64 = window(i)
                        .map(|j| (a[at(s, b, j, y, x)] as f64).powi(2))
                        .sum();
                    let d = cfg.k + cfg.alpha * sum;
                    let idx = at(s, b, i, y, x);
                    denom[idx] = d;
                    out[idx] = a[idx] as f64 / d.powf(cfg.beta);
                }
                // b_j = a_j D_j^-beta, D_j = k + alpha sum_{i in win(j)} a_i^2:
                // db_j/da_i = [i == j] D_j^-beta - 2 alpha beta a_j a_i D_j^(-beta-1) [i in win(j)].
                for j in 0..s[1] {
                    let jdx = at(s, b, j, y, x);
                    let (aj, dj, rj) = (a[jdx] as f64, denom[jdx], r[jdx] as f64);
                    grad[jdx] += rj * dj.powf(-cfg.beta);
                    for i in window(j) {
                        let idx = at(s, b, i, y, x);
                        grad[idx] -= rj
                            * 2.0
                            * cfg.alpha
                            * cfg.beta
                            * aj
                            * a[idx] as f64
                            * dj.powf(-cfg.beta - 1.0);
                    }
                }
            }
        }
    }
    (out, grad)
}

fn check_lrn(cfg: LocalResponseNormConfig, scale: f32, seed: u64) {
    let s = [2, 8, 3, 3];
    let lrn = cfg.init();
    let x = random_scaled::<AD, 4>(s, seed, scale).require_grad();
    let r = random_tensor::<AD, 4>(s, seed + 1);
    let y = lrn.forward(x.clone());
    let grads = (y.clone() * r.clone()).sum().backward();
    let (out, grad) = lrn_reference(&values(x.clone().inner()), &values(r.inner()), s, &cfg);
    let out: Vec<f32> = out.iter().map(|v| *v as f32).collect();
    let grad: Vec<f32> = grad.iter().map(|v| *v as f32).collect();
    let err = max_rel_err(&values(y.inner()), &out, 1e-6);
    assert!(
        err < 1e-5,
        "LRN forward differs from the paper's formula ({cfg:?}): {err}"
    );
    let err = max_rel_err(&values(x.grad(&grads).unwrap()), &grad, 1e-4);
    assert!(
        err < 1e-4,
        "LRN backward differs from the analytic gradient ({cfg:?}): {err}"
    );
}

#[test]
fn lrn_matches_the_papers_formula_forward_and_backward() {
    // Paper constants at activation-like magnitudes (alpha * sum a^2 ~ k).
    check_lrn(LocalResponseNormConfig::new(), 80.0, 10);
    // Two independent channel blocks, as in the paper's towers.
    check_lrn(LocalResponseNormConfig::paper(), 80.0, 20);
    // Strong normalisation and an even window.
    check_lrn(
        LocalResponseNormConfig::new()
            .with_size(4)
            .with_alpha(0.5)
            .with_k(1.0),
        2.0,
        30,
    );
    // A general exponent (computed with powf rather than square roots).
    check_lrn(
        LocalResponseNormConfig::new()
            .with_size(3)
            .with_alpha(0.2)
            .with_beta(0.6),
        3.0,
        35,
    );
}

#[test]
fn lrn_does_not_divide_alpha_by_the_window_size() {
    // One non-zero channel: b = a / (k + alpha a^2)^beta exactly.
    let lrn = LocalResponseNormConfig::new().init();
    let mut v = vec![0.0f32; 5];
    v[2] = 100.0;
    let x = Tensor::<B, 4>::from_data(
        burn::tensor::TensorData::new(v, [1, 5, 1, 1]),
        &Default::default(),
    );
    let y = values(lrn.forward(x));
    let expected = 100.0 / (2.0f64 + 1e-4 * 1e4).powf(0.75);
    assert!(
        (y[2] as f64 - expected).abs() < 1e-4 * expected,
        "{} vs {expected}",
        y[2]
    );
}

#[test]
fn lrn_gradient_passes_finite_differences() {
    // f32 central differences: eps = 1e-2 on O(1) inputs with strong
    // normalisation keeps truncation (~eps^2) and rounding (~1e-7/eps) both
    // near 1e-4 of the gradient's scale.
    let cfg = LocalResponseNormConfig::new()
        .with_size(3)
        .with_alpha(0.3)
        .with_k(1.0);
    let lrn = cfg.init();
    let s = [1, 5, 2, 2];
    let base = random_vec(20, 40)
        .into_iter()
        .map(|v| v * 2.0)
        .collect::<Vec<_>>();
    let r = random_tensor::<AD, 4>(s, 41);
    let loss = |v: &[f32]| -> f64 {
        let x = Tensor::<AD, 4>::from_data(
            burn::tensor::TensorData::new(v.to_vec(), s),
            &Default::default(),
        );
        values((lrn.forward(x) * r.clone()).sum())[0] as f64
    };
    let x = Tensor::<AD, 4>::from_data(
        burn::tensor::TensorData::new(base.clone(), s),
        &Default::default(),
    )
    .require_grad();
    let grads = (lrn.forward(x.clone()) * r.clone()).sum().backward();
    let g = values(x.grad(&grads).unwrap());
    let eps = 1e-2f32;
    let scale = g.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for i in 0..base.len() {
        let mut p = base.clone();
        p[i] += eps;
        let mut m = base.clone();
        m[i] -= eps;
        let fd = (loss(&p) - loss(&m)) / (2.0 * eps as f64);
        let diff = (fd - g[i] as f64).abs();
        assert!(
            diff < 2e-3 * scale as f64,
            "element {i}: autodiff {} vs finite difference {fd}",
            g[i]
        );
    }
}

#[test]
fn dropout_is_identity_in_eval_and_scaled_bernoulli_in_training() {
    let p = 0.5;
    let dropout = DropoutConfig::new(p).init();
    let s = [4, 100, 50];
    // Eval (no autodiff): identity.
    let x = random_tensor::<B, 3>(s, 50);
    assert_eq!(values(dropout.forward(x.clone())), values(x));
    // Training (autodiff): each element is dropped or scaled by 1/(1-p).
    let x = random_scaled::<AD, 3>(s, 51, 1.0).require_grad();
    let y = dropout.forward(x.clone());
    let grads = y.clone().sum().backward();
    let (xv, yv, gv) = (
        values(x.clone().inner()),
        values(y.inner()),
        values(x.grad(&grads).unwrap()),
    );
    let mut dropped = 0usize;
    for ((xi, yi), gi) in xv.iter().zip(&yv).zip(&gv) {
        if *yi == 0.0 {
            dropped += 1;
            assert_eq!(*gi, 0.0, "a dropped unit passes gradient");
        } else {
            let k = (1.0 / (1.0 - p)) as f32;
            assert!(
                (yi - xi * k).abs() <= 1e-6 * xi.abs().max(1.0),
                "kept unit not scaled by 1/(1-p)"
            );
            assert!((gi - k).abs() < 1e-6, "kept unit's gradient is not 1/(1-p)");
        }
    }
    let frac = dropped as f64 / xv.len() as f64;
    // 20,000 Bernoulli(0.5) draws: std 0.0035.
    assert!(
        (frac - p).abs() < 0.02,
        "dropped fraction {frac}, expected {p}"
    );
}

#[test]
fn model_dropout_only_under_autodiff() {
    let config = alexnet::AlexNetConfig::tiny(10);
    let device = Default::default();
    let model = config.init::<AD>(&device);
    let x = random_scaled::<AD, 4>([2, 3, 64, 64], 60, 50.0);
    let a = values(model.forward(x.clone()));
    let b = values(model.forward(x.clone()));
    assert_ne!(
        a, b,
        "training forward passes should draw different dropout masks"
    );
    let valid = model.valid();
    let c = values(valid.forward(x.clone().inner()));
    let d = values(valid.forward(x.inner()));
    assert_eq!(c, d, "evaluation forward must be deterministic");
}
