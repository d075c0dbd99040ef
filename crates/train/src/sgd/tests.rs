//! The fused SGD against burn's `Sgd`: bitwise the same weights, step after
//! step, and optimizer files readable across the two.

use burn::backend::{Autodiff, Flex};
use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{GradientsParams, Optimizer, SgdConfig};
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::{Tensor, TensorData};

use super::FusedSgd;

type AD = Autodiff<Flex>;

fn burn_sgd(momentum: f64, dampening: f64, decay: Option<f32>) -> SgdConfig {
    SgdConfig::new()
        .with_momentum(Some(MomentumConfig {
            momentum,
            dampening,
            nesterov: false,
        }))
        .with_weight_decay(decay.map(|penalty| WeightDecayConfig { penalty }))
}

fn layer() -> Linear<AD> {
    LinearConfig::new(37, 300).init(&Default::default())
}

/// Deterministic pseudo-random values (not burn's global RNG, which tests
/// running in parallel would share).
fn values(n: usize, seed: u64) -> Vec<f32> {
    (0..n)
        .map(|i| (i as f32 * 0.731 + seed as f32 * 1.37).sin() * 3.0)
        .collect()
}

fn tensor<const D: usize>(shape: [usize; D], seed: u64) -> Tensor<Flex, D> {
    let n = shape.iter().product();
    Tensor::from_data(TensorData::new(values(n, seed), shape), &Default::default())
}

/// Gradients of a fixed loss of `layer` on input batch `seed`.
fn grads(layer: &Linear<AD>, seed: u64) -> GradientsParams {
    let x = Tensor::<AD, 2>::from_inner(tensor([8, 37], seed));
    let loss = layer.forward(x).powi_scalar(2).mean();
    GradientsParams::from_grads(loss.backward(), layer)
}

fn bits(layer: &Linear<AD>) -> Vec<u32> {
    let w: Vec<f32> = layer.weight.val().into_data().to_vec().unwrap();
    let b: Vec<f32> = layer
        .bias
        .as_ref()
        .unwrap()
        .val()
        .into_data()
        .to_vec()
        .unwrap();
    w.iter().chain(&b).map(|v| v.to_bits()).collect()
}

/// A copy whose parameters share no buffer with `layer`'s, so the fused
/// optimizer's in-place writes cannot reach the other run.
fn deep_copy(layer: &Linear<AD>) -> Linear<AD> {
    fn copy<const D: usize>(p: &Param<Tensor<AD, D>>) -> Param<Tensor<AD, D>> {
        let t = Tensor::from_data(p.val().into_data(), &p.val().device());
        Param::initialized(p.id, t.require_grad())
    }
    let mut l = layer.clone();
    l.weight = copy(&layer.weight);
    l.bias = layer.bias.as_ref().map(copy);
    l
}

#[test]
fn same_weights_as_burns_sgd_bit_for_bit() {
    for (momentum, dampening, decay) in [
        (0.9, 0.0, Some(5e-4)),
        (0.9, 0.1, None),
        (0.5, 0.0, Some(1e-2)),
    ] {
        let start = layer();
        let (mut a, mut b) = (deep_copy(&start), deep_copy(&start));
        let mut theirs = burn_sgd(momentum, dampening, decay).init::<AD, Linear<AD>>();
        let mut ours = FusedSgd::new(momentum, dampening, decay).init::<AD, Linear<AD>>();
        let first = bits(&start);
        for step in 0..4 {
            let lr = [0.1, 0.1, 0.05, 0.01][step];
            let ga = grads(&a, step as u64);
            let gb = grads(&b, step as u64);
            a = theirs.step(lr, a, ga);
            b = ours.step(lr, b, gb);
            assert!(
                bits(&a) == bits(&b),
                "step {step}, momentum {momentum}, dampening {dampening}, decay {decay:?}"
            );
            assert!(
                bits(&start) == first,
                "the optimizers wrote into another run's buffers"
            );
        }
        let moved = bits(&a)
            .iter()
            .zip(bits(&start))
            .filter(|(x, y)| *x != y)
            .count();
        assert!(moved > 0, "the steps moved no weight");
    }
}

#[test]
fn tensor_op_path_equals_the_fused_loop() {
    // The formula the GPU backends run, here on flex tensors.
    let dev = Default::default();
    let opt = FusedSgd::new(0.9, 0.0, Some(5e-4));
    let (w, g, v) = (
        tensor([50, 70], 1),
        tensor([50, 70], 2),
        tensor([50, 70], 3),
    );
    let copy = |t: &Tensor<Flex, 2>| Tensor::<Flex, 2>::from_data(t.to_data(), &dev);
    let vals = |t: Tensor<Flex, 2>| -> Vec<u32> {
        t.into_data()
            .to_vec::<f32>()
            .unwrap()
            .iter()
            .map(|x| x.to_bits())
            .collect()
    };
    for velocity in [None, Some(&v)] {
        let (w1, v1) = opt.step_tensors(0.01, copy(&w), copy(&g), velocity.map(copy));
        let (w2, v2) = opt.step_flex(0.01, copy(&w), copy(&g), velocity.map(copy));
        assert_eq!(vals(w1), vals(w2));
        assert_eq!(vals(v1), vals(v2));
    }
}

#[test]
fn optimizer_files_load_across_burns_sgd_and_this_one() {
    let start = layer();
    let (a, b) = (deep_copy(&start), deep_copy(&start));
    let mut theirs = burn_sgd(0.9, 0.0, Some(5e-4)).init::<AD, Linear<AD>>();
    let ga = grads(&a, 1);
    let a = theirs.step(0.1, a, ga);
    let mut ours = FusedSgd::new(0.9, 0.0, Some(5e-4)).init::<AD, Linear<AD>>();
    let gb = grads(&b, 1);
    let b = ours.step(0.1, b, gb);
    assert_eq!(bits(&a), bits(&b));

    let recorder = NamedMpkBytesRecorder::<FullPrecisionSettings>::new();
    let dev = Default::default();
    // burn's file into ours, and ours into burn's: the next steps agree.
    let bytes = recorder.record(theirs.to_record(), ()).unwrap();
    let mut ours_loaded = FusedSgd::new(0.9, 0.0, Some(5e-4))
        .init::<AD, Linear<AD>>()
        .load_record(recorder.load(bytes, &dev).unwrap());
    let bytes = recorder.record(ours.to_record(), ()).unwrap();
    let mut theirs_loaded = burn_sgd(0.9, 0.0, Some(5e-4))
        .init::<AD, Linear<AD>>()
        .load_record(recorder.load(bytes, &dev).unwrap());
    let (a2, b2) = (deep_copy(&a), deep_copy(&b));
    let a = theirs_loaded.step(0.1, a, grads(&a2, 2));
    let b = ours_loaded.step(0.1, b, grads(&b2, 2));
    assert_eq!(bits(&a), bits(&b));
    assert_eq!(a.num_params(), b.num_params());
}
