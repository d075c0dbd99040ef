//! The GPU code path on burn's wgpu backend: the same cubecl kernels
//! (convolution, matmul, pooling, reductions, autotune, fusion) that CUDA
//! runs, here on whatever Vulkan/Metal adapter the machine has — in CI,
//! lavapipe, a Vulkan device that runs on the CPU.
//!
//! Without an adapter every test prints a note and passes, unless
//! `ALEXNET_REQUIRE_WGPU=1` (set by `.ci/run`), which makes a missing
//! adapter a failure so CI cannot skip the GPU path silently.

use std::sync::Mutex;

use alexnet::{AlexNet, AlexNetConfig, SplitAlexNet};
use burn::backend::{Autodiff, Flex, Wgpu};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Distribution, Tensor};
use train::config::{BackendKind, ModelKind};
use train::gpu_check::{self, GpuCheckConfig, layers, track};
use train::metrics::MetricRecord;

type Gpu = Autodiff<Wgpu>;

/// One GPU test at a time: lavapipe uses every core, and the CPU reference
/// runs share burn's process-wide CPU RNG.
static SERIAL: Mutex<()> = Mutex::new(());

/// The adapter's device, or `None` (with a note) when there is none.
fn gpu() -> Option<(
    std::sync::MutexGuard<'static, ()>,
    burn::backend::wgpu::WgpuDevice,
)> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let adapters = train::wgpu_probe::adapters();
    if adapters.is_empty() {
        if std::env::var_os("ALEXNET_REQUIRE_WGPU").is_some_and(|v| v == "1") {
            panic!(
                "ALEXNET_REQUIRE_WGPU=1 but wgpu finds no adapter (is mesa-vulkan-drivers installed?)"
            );
        }
        eprintln!(
            "note: no wgpu adapter (install mesa-vulkan-drivers for lavapipe): GPU-path test skipped"
        );
        return None;
    }
    eprintln!("wgpu adapter 0: {}", adapters[0]);
    let device = train::wgpu_probe::devices(&[0])
        .expect("adapter 0 exists")
        .remove(0);
    Some((guard, device))
}

fn assert_layers_match(
    config: &AlexNetConfig,
    batch: usize,
    device: &burn::backend::wgpu::WgpuDevice,
) {
    let max = train::wgpu_probe::adapters()[0].max_binding_bytes;
    let mut failures = Vec::new();
    for (i, l) in layers::fit_to(layers::layers_of(config, batch), max)
        .iter()
        .enumerate()
    {
        let r = layers::compare::<Gpu>(l, 10 + i as u64, device);
        eprintln!(
            "{:<14} {:<20} forward {:.2e} (limit {:.2e})  backward d/d{} {:.2e} (limit {:.2e})",
            r.name, r.shape, r.forward.0, r.forward.1, r.backward.2, r.backward.0, r.backward.1
        );
        if !r.passed() {
            failures.push(r.name.clone());
        }
    }
    assert!(
        failures.is_empty(),
        "layers beyond f32 rounding: {failures:?}"
    );
}

// The tiny network's layers are compared by the acceptance check below.
#[test]
fn every_paper_layer_forward_and_backward_matches_the_cpu() {
    let Some((_g, device)) = gpu() else { return };
    // Batch 1: every index path is exercised and lavapipe (a CPU) takes
    // minutes per batch element at these sizes.
    assert_layers_match(&AlexNetConfig::paper(1000), 1, &device);
}

/// Replaces every parameter with its gradient.
struct ToGrad<'a, B: AutodiffBackend> {
    grads: &'a B::Gradients,
}

impl<B: AutodiffBackend> ModuleMapper<B> for ToGrad<'_, B> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let grad = tensor
            .grad(self.grads)
            .expect("every parameter gets a gradient");
        Param::from_mapped_value(id, Tensor::from_inner(grad), mapper)
    }
}

#[derive(Default)]
struct Collect(Vec<Vec<f32>>);

impl<B: Backend> ModuleVisitor<B> for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.0
            .push(param.val().into_data().convert::<f32>().to_vec().unwrap());
    }
}

fn params<B: Backend, M: Module<B>>(m: &M) -> Vec<Vec<f32>> {
    let mut c = Collect::default();
    m.visit(&mut c);
    c.0
}

fn norm_rel(a: &[f32], b: &[f32]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| ((x - y) as f64).powi(2)).sum();
    let den: f64 = b.iter().map(|y| (*y as f64).powi(2)).sum();
    (num / den).sqrt()
}

/// Logits and every parameter's gradient of `model` for `images`, with
/// loss = sum(logits * weights).
fn logits_and_grads<B: AutodiffBackend>(
    logits: Tensor<B, 2>,
    weights: Tensor<B, 2>,
) -> (Vec<f32>, B::Gradients) {
    let l = logits
        .clone()
        .into_data()
        .convert::<f32>()
        .to_vec()
        .unwrap();
    (l, (logits * weights).sum().backward())
}

#[test]
fn split_with_both_towers_on_wgpu_equals_the_grouped_model() {
    let Some((_g, device)) = gpu() else { return };
    let mut config = AlexNetConfig::tiny(10);
    // Each tower would draw its own dropout masks.
    config.dropout = 0.0;
    config.init.weight_std = 0.05;
    Flex::seed(&Default::default(), 5);
    let host: AlexNet<Flex> = config.init(&Default::default());
    let grouped: AlexNet<Gpu> = alexnet::safetensors::transfer(&host, &device).unwrap();
    let split =
        SplitAlexNet::from_grouped(grouped.clone(), [device.clone(), device.clone()]).unwrap();

    Flex::seed(&Default::default(), 6);
    let images = Tensor::<Flex, 4>::random(
        [3, 3, 64, 64],
        Distribution::Normal(0.0, 50.0),
        &Default::default(),
    );
    let images: Tensor<Gpu, 4> = Tensor::from_data(images.into_data(), &device);
    let weights = Tensor::<Gpu, 2>::random([3, 10], Distribution::Uniform(-1.0, 1.0), &device);

    let (lg, gg) = logits_and_grads(grouped.forward(images.clone()), weights.clone());
    let (ls, gs) = logits_and_grads(split.forward(images), weights);
    assert!(
        lg.iter().any(|v| v.abs() > 1e-3),
        "logits are not trivially zero"
    );
    let e = norm_rel(&ls, &lg);
    assert!(
        e < gpu_check::SPLIT_LIMIT,
        "logits differ: relative 2-norm error {e}"
    );

    let g_grouped = params(&grouped.map(&mut ToGrad::<Gpu> { grads: &gg }));
    let g_split = params(
        &split
            .map(&mut ToGrad::<Gpu> { grads: &gs })
            .into_grouped(&device),
    );
    assert_eq!(g_grouped.len(), 16);
    assert_eq!(g_split.len(), 16);
    for (k, (a, b)) in g_split.iter().zip(&g_grouped).enumerate() {
        assert!(
            b.iter().any(|x| *x != 0.0),
            "parameter {k} has a zero gradient"
        );
        let e = norm_rel(a, b);
        assert!(
            e < 1e-5,
            "gradient of parameter {k} differs: relative 2-norm error {e}"
        );
    }
}

fn losses(summary: &train::TrainSummary) -> Vec<f64> {
    track::step_losses(&summary.records)
}

fn assert_tracks(device: &[f64], cpu: &[f64], what: &str) {
    let t = track::Track {
        device: device.to_vec(),
        cpu: cpu.to_vec(),
    };
    eprintln!(
        "{what}: {} steps, steps 1-{} within {:.2e}, last-quarter mean within {:.2e}, worst step {:.2e}",
        cpu.len(),
        track::EARLY_STEPS,
        t.early_rel_diff(),
        t.late_rel_diff(),
        t.max_rel_diff()
    );
    assert!(
        t.passed(),
        "{what}: losses part (device {device:?}, cpu {cpu:?})"
    );
}

#[test]
fn checkpoints_move_between_wgpu_and_cpu() {
    let Some((_g, _device)) = gpu() else { return };
    let dir = tempfile::tempdir().unwrap();
    let shards = track::dataset(dir.path()).unwrap();
    let cfg = |out: &str, backend, steps| {
        track::track_config(&shards, &dir.path().join(out), backend, 0, steps)
    };

    let straight = train::train(&cfg("cpu", BackendKind::Cpu, 24), None).unwrap();
    let straight = losses(&straight);
    assert_eq!(straight.len(), 24);
    assert!(
        straight[23] < straight[0],
        "the tiny model learns: {straight:?}"
    );

    // Half on wgpu, the rest on the CPU; and the other way round.
    for (first, then, name) in [
        (BackendKind::Wgpu, BackendKind::Cpu, "wgpu-then-cpu"),
        (BackendKind::Cpu, BackendKind::Wgpu, "cpu-then-wgpu"),
    ] {
        let a = train::train(&cfg(name, first, 12), None).unwrap();
        assert_eq!(a.global_step, 12);
        let out = dir.path().join(name);
        let b = train::train(&cfg(name, then, 24), Some(&out)).unwrap();
        assert_eq!(b.global_step, 24);
        let all = losses(&b);
        assert_eq!(all.len(), 24, "{name}: metrics keep the first half");
        assert_tracks(&all, &straight, name);
        // The resumed half really ran: its steps are logged after the first half's.
        let resumed = b
            .records
            .iter()
            .filter(|r| matches!(r, MetricRecord::Step { step, .. } if *step > 12))
            .count();
        assert_eq!(resumed, 12, "{name}");
    }
}

#[test]
fn a_wgpu_device_that_does_not_exist_is_a_clear_error() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let cfg = track::track_config(
        dir.path(),
        &dir.path().join("run"),
        BackendKind::Wgpu,
        4096,
        1,
    );
    let err = train::train(&cfg, None).unwrap_err().to_string();
    assert!(err.starts_with("--backend wgpu: "), "{err}");
    assert!(
        err.contains("device 4096")
            || err.contains("no Vulkan adapter")
            || err.contains("adapter was found"),
        "{err}"
    );
}

#[test]
fn the_acceptance_check_runs_and_passes_on_wgpu() {
    let Some((_g, _device)) = gpu() else { return };
    let mut cfg = GpuCheckConfig::quick(BackendKind::Wgpu, vec![0]);
    assert_eq!(cfg.layer_models, vec![ModelKind::Tiny]);
    cfg.steps = 24;
    let report = gpu_check::run(&cfg).unwrap();
    let table = report.table();
    eprintln!("{table}");
    assert_eq!(report.track.device.len(), 24);
    assert_eq!(report.track.cpu.len(), 24);
    assert!(report.train.images_per_sec > 0.0 && report.forward.images_per_sec > 0.0);
    assert_eq!(report.split.len(), 1);
    for row in [
        "tiny conv2 forward",
        "tiny lrn1 backward",
        "tiny pool5",
        "tiny fc8",
        "tiny training, steps 1-3",
        "tiny training, 24 steps",
        "split on devices 0,0",
        "result: PASS",
    ] {
        assert!(table.contains(row), "table lacks `{row}`:\n{table}");
    }
    assert!(report.passed(), "{table}");
}
