//! The two-tower model equals the grouped model: same logits, same
//! gradients, exact weight conversion.
//!
//! burn's flex backend has a single CPU device (`FlexDevice` is a unit
//! struct), so both towers get a handle to that device; `to_device` between
//! them is then a no-op for data but still part of the autodiff graph.
//!
//! Tolerances: the two forms add the same products in a different order
//! (grouped vs. separate convolutions), so elements near zero can differ by
//! ~1e-4 of the tensor's scale; we require the relative 2-norm error
//! `||split - grouped|| / ||grouped||` below 1e-5 (measured: ~1e-6) and every
//! element within 1e-3 of the tensor's largest magnitude.

use crate::common;

use alexnet::{AlexNet, AlexNetConfig, SplitAlexNet, SplitError};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};
use common::{AD, B, max_rel_err, norm_rel_err, random_scaled, random_tensor, values};

/// Replaces every parameter with its gradient.
struct ToGrad<'a> {
    grads: &'a <AD as AutodiffBackend>::Gradients,
}

impl ModuleMapper<AD> for ToGrad<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<AD, D>>) -> Param<Tensor<AD, D>> {
        let (id, tensor, mapper) = param.consume();
        let grad = tensor
            .grad(self.grads)
            .expect("every parameter gets a gradient");
        Param::from_mapped_value(id, Tensor::from_inner(grad), mapper)
    }
}

/// Collects every parameter's values in visiting order.
#[derive(Default)]
struct Collect(Vec<Vec<f32>>);

impl<Bk: Backend> ModuleVisitor<Bk> for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<Bk, D>>) {
        self.0.push(values(param.val()));
    }
}

fn params<Bk: Backend, M: Module<Bk>>(m: &M) -> Vec<Vec<f32>> {
    let mut c = Collect::default();
    m.visit(&mut c);
    c.0
}

fn config() -> AlexNetConfig {
    // Dropout off: each tower draws its own masks, so only a deterministic
    // network can be compared.
    let mut c = AlexNetConfig::tiny(10);
    c.dropout = 0.0;
    // Random biases make the check sharper than the paper's constant ones.
    c.init.weight_std = 0.05;
    c
}

fn randomise_biases(model: AlexNet<AD>) -> AlexNet<AD> {
    struct Rand(u64);
    impl ModuleMapper<AD> for Rand {
        fn map_float<const D: usize>(
            &mut self,
            param: Param<Tensor<AD, D>>,
        ) -> Param<Tensor<AD, D>> {
            let (id, tensor, mapper) = param.consume();
            let tensor = if D == 1 {
                self.0 += 1;
                random_scaled::<AD, D>(tensor.dims(), self.0, 0.1)
            } else {
                tensor
            };
            Param::from_mapped_value(id, tensor.require_grad(), mapper)
        }
    }
    model.map(&mut Rand(100))
}

#[test]
fn split_matches_grouped_logits_and_gradients() {
    let device = Default::default();
    let grouped = randomise_biases(config().init::<AD>(&device));
    let split = SplitAlexNet::from_grouped(grouped.clone(), [device, device]).unwrap();

    let images = random_scaled::<AD, 4>([3, 3, 64, 64], 7, 50.0);
    let weights = random_tensor::<AD, 2>([3, 10], 8);

    let x_grouped = images.clone().require_grad();
    let logits_grouped = grouped.forward(x_grouped.clone());
    let x_split = images.require_grad();
    let logits_split = split.forward(x_split.clone());

    let lg = values(logits_grouped.clone());
    let ls = values(logits_split.clone());
    assert!(
        lg.iter().any(|v| v.abs() > 1e-3),
        "logits are not trivially zero"
    );
    let err = max_rel_err(&ls, &lg, 1e-3 * max_abs(&lg));
    assert!(err < 1e-3, "logits differ: max relative error {err}");
    let err = norm_rel_err(&ls, &lg);
    assert!(err < 1e-5, "logits differ: relative 2-norm error {err}");

    let grads_grouped = (logits_grouped * weights.clone()).sum().backward();
    let grads_split = (logits_split * weights).sum().backward();

    let gx_grouped = values(x_grouped.grad(&grads_grouped).unwrap());
    let gx_split = values(x_split.grad(&grads_split).unwrap());
    let err = max_rel_err(&gx_split, &gx_grouped, 1e-3 * max_abs(&gx_grouped));
    assert!(err < 1e-3, "input gradients differ: {err}");
    let err = norm_rel_err(&gx_split, &gx_grouped);
    assert!(
        err < 1e-5,
        "input gradients differ: relative 2-norm error {err}"
    );

    let g_grouped = params(&grouped.map(&mut ToGrad {
        grads: &grads_grouped,
    }));
    let g_split = params(
        &split
            .map(&mut ToGrad {
                grads: &grads_split,
            })
            .into_grouped(&device),
    );
    assert_eq!(g_grouped.len(), 16);
    assert_eq!(g_grouped.len(), g_split.len());
    for (k, (a, b)) in g_split.iter().zip(&g_grouped).enumerate() {
        assert!(max_abs(b) > 0.0, "parameter {k} has a zero gradient");
        let err = max_rel_err(a, b, 1e-3 * max_abs(b));
        assert!(err < 1e-3, "gradient of parameter {k} differs: {err}");
        let err = norm_rel_err(a, b);
        assert!(
            err < 1e-5,
            "gradient of parameter {k} differs: relative 2-norm error {err}"
        );
    }
}

fn max_abs(v: &[f32]) -> f32 {
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

#[test]
fn conversion_round_trip_is_exact() {
    let device = Default::default();
    let grouped = AlexNetConfig::tiny(10).init::<B>(&device);
    let before = params(&grouped);
    let split = SplitAlexNet::from_grouped(grouped, [device, device]).unwrap();
    assert_eq!(split.towers.len(), 2);
    // Tower widths are half the configured widths.
    let widths: Vec<usize> = split.towers[1]
        .convs
        .iter()
        .map(|c| c.weight.dims()[0])
        .collect();
    assert_eq!(widths, vec![12, 32, 48, 48, 32]);
    assert_eq!(split.towers[0].fcs[0].weight.dims(), [64 * 9, 128]);
    let back = split.into_grouped(&device);
    assert_eq!(back.convs[1].groups, 2);
    assert_eq!(back.convs[2].groups, 1);
    assert_eq!(params(&back), before, "weights changed in the round trip");
}

#[test]
fn paper_widths_split_into_48_128_192_192_128_and_2048() {
    let device = Default::default();
    let grouped = AlexNetConfig::paper(1000).init::<B>(&device);
    let split = SplitAlexNet::from_grouped(grouped, [device, device]).unwrap();
    for t in &split.towers {
        let widths: Vec<usize> = t.convs.iter().map(|c| c.weight.dims()[0]).collect();
        assert_eq!(widths, vec![48, 128, 192, 192, 128]);
        // conv2, conv4, conv5 read only their tower; conv3 reads both.
        let inputs: Vec<usize> = t.convs.iter().map(|c| c.weight.dims()[1]).collect();
        assert_eq!(inputs, vec![3, 48, 256, 192, 192]);
        assert_eq!(t.fcs[0].weight.dims(), [9216, 2048]);
        assert_eq!(t.fcs[1].weight.dims(), [4096, 2048]);
    }
    assert_eq!(split.fc8.weight.dims(), [4096, 1000]);
}

#[test]
fn ungrouped_models_cannot_be_split() {
    let device = Default::default();
    let tv = AlexNetConfig {
        channels: [8, 16, 16, 16, 16],
        fc_width: 32,
        ..AlexNetConfig::torchvision(10)
    };
    let err = SplitAlexNet::from_grouped(tv.init::<B>(&device), [device, device]).unwrap_err();
    assert_eq!(err, SplitError::Groups([1, 1, 1, 1, 1]));
    assert!(err.to_string().contains("[1, 2, 1, 2, 2]"));
}
