//! The GPU acceptance check (`cargo xtask gpu-check`): one command that
//! says whether a device backend computes what the CPU computes and how
//! fast it trains, as one table.
//!
//! 1. every layer of the paper and tiny networks, forward and backward,
//!    against the CPU ([`layers`]);
//! 2. a short training run of the tiny model through the real trainer,
//!    per-step losses against the CPU's ([`track`]);
//! 3. the paper model's training-step and forward throughput ([`speed`]);
//! 4. the two-tower split on one device and, given two, on two devices:
//!    logits against the grouped model, and training throughput;
//! 5. the device memory the backend reserved.

pub mod layers;
pub mod speed;
pub mod track;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use alexnet::AlexNet;
use burn::tensor::backend::AutodiffBackend;

use crate::backend::{BackendJob, max_binding_bytes, reserved_bytes, run_on};
use crate::config::{BackendKind, ModelKind};
use crate::error::{Result, TrainError};
use layers::LayerResult;
use speed::Rate;
use track::Track;

/// Largest ‖split − grouped‖₂ / ‖grouped‖₂ of the logits (summation order
/// only; the tests hold the CPU to 1e-5 the same way).
pub const SPLIT_LIMIT: f64 = 1e-5;

/// What to check and at what size.
#[derive(Debug, Clone)]
pub struct GpuCheckConfig {
    /// The backend under test.
    pub backend: BackendKind,
    /// One device ordinal, or two (the split is then also run across both).
    pub devices: Vec<usize>,
    /// Networks whose layers are compared.
    pub layer_models: Vec<ModelKind>,
    /// Batch of the layer comparisons.
    pub layer_batch: usize,
    /// Steps of the tracked tiny-model run.
    pub steps: u64,
    /// Network whose throughput is measured.
    pub speed_model: ModelKind,
    /// Batch of the throughput measurement (the paper's 128).
    pub speed_batch: usize,
    /// Untimed iterations before timing.
    pub warmup: usize,
    /// Timed iterations (the median is reported).
    pub iters: usize,
    /// Working directory for the tracked runs' dataset and checkpoints
    /// (a temporary directory if `None`).
    pub work: Option<PathBuf>,
}

impl GpuCheckConfig {
    /// The full check for a real GPU: paper-sized layers, 300 tracked
    /// steps, the paper model at batch 128. Minutes on an H100.
    pub fn full(backend: BackendKind, devices: Vec<usize>) -> Self {
        Self {
            backend,
            devices,
            layer_models: vec![ModelKind::Paper, ModelKind::Tiny],
            layer_batch: 2,
            steps: 300,
            speed_model: ModelKind::Paper,
            speed_batch: 128,
            warmup: 3,
            iters: 10,
            work: None,
        }
    }

    /// A small check that finishes in a few minutes on a CPU Vulkan device
    /// (lavapipe), for CI: the tiny model only, 24 steps, batch 8.
    pub fn quick(backend: BackendKind, devices: Vec<usize>) -> Self {
        Self {
            layer_models: vec![ModelKind::Tiny],
            steps: 24,
            speed_model: ModelKind::Tiny,
            speed_batch: 8,
            warmup: 1,
            iters: 3,
            ..Self::full(backend, devices)
        }
    }
}

/// The split on one placement.
#[derive(Debug, Clone)]
pub struct SplitResult {
    /// The two ordinals the towers ran on.
    pub devices: [usize; 2],
    /// ‖split − grouped‖₂ / ‖grouped‖₂ of the logits.
    pub logits_rel_diff: f64,
    /// Training throughput of the split.
    pub train: Rate,
}

/// Everything the check measured.
#[derive(Debug, Clone)]
pub struct GpuCheckReport {
    /// Backend and device, as burn names them.
    pub device: String,
    /// The configuration that ran.
    pub config: GpuCheckConfig,
    /// Per network, per layer.
    pub layers: Vec<(ModelKind, LayerResult)>,
    /// The tracked training run.
    pub track: Track,
    /// Training-step throughput of the grouped model.
    pub train: Rate,
    /// Forward throughput of the grouped model.
    pub forward: Rate,
    /// The split on one device, then (given two) across two.
    pub split: Vec<SplitResult>,
    /// Bytes the backend reserved per device, where it reports it.
    pub reserved: Vec<(usize, Option<u64>)>,
    /// Wall-clock seconds of the whole check.
    pub seconds: f64,
}

impl GpuCheckReport {
    /// Every comparison within its limit.
    pub fn passed(&self) -> bool {
        self.layers.iter().all(|(_, l)| l.passed())
            && self.track.passed()
            && self.split.iter().all(|s| s.logits_rel_diff <= SPLIT_LIMIT)
    }

    /// The report as one plain-text table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let ok = |pass: bool| if pass { "ok" } else { "FAIL" };
        let _ = writeln!(s, "GPU check: {} ({:.0} s)", self.device, self.seconds);
        let _ = writeln!(
            s,
            "{:<30} {:<22} {:>10} {:>10} {:>5}",
            "check", "shape / detail", "measured", "limit", ""
        );
        let _ = writeln!(s, "{}", "-".repeat(81));
        for (model, l) in &self.layers {
            let _ = writeln!(
                s,
                "{:<30} {:<22} {:>10.2e} {:>10.2e} {:>5}",
                format!("{model} {} forward", l.name),
                l.shape,
                l.forward.0,
                l.forward.1,
                ok(l.forward.0 <= l.forward.1)
            );
            let _ = writeln!(
                s,
                "{:<30} {:<22} {:>10.2e} {:>10.2e} {:>5}",
                format!("{model} {} backward", l.name),
                format!("worst: d/d{}", l.backward.2),
                l.backward.0,
                l.backward.1,
                ok(l.backward.0 <= l.backward.1)
            );
        }
        let t = &self.track;
        let last = |v: &[f64]| v.last().copied().unwrap_or(f64::NAN);
        let same_len = t.device.len() == t.cpu.len();
        let _ = writeln!(
            s,
            "{:<30} {:<22} {:>10.2e} {:>10.2e} {:>5}",
            format!("tiny training, steps 1-{}", track::EARLY_STEPS),
            "loss, rel. to cpu",
            t.early_rel_diff(),
            track::EARLY_LIMIT,
            ok(same_len && t.early_rel_diff() <= track::EARLY_LIMIT)
        );
        let _ = writeln!(
            s,
            "{:<30} {:<22} {:>10.2e} {:>10.2e} {:>5}",
            format!("tiny training, {} steps", t.cpu.len()),
            "last-quarter mean loss",
            t.late_rel_diff(),
            track::LATE_LIMIT,
            ok(same_len && t.late_rel_diff() <= track::LATE_LIMIT)
        );
        let _ = writeln!(
            s,
            "{:<30} {:<22} {:>10.2e} {:>10} {:>5}",
            "  (worst single step)",
            format!("final {:.4} vs {:.4}", last(&t.device), last(&t.cpu)),
            t.max_rel_diff(),
            "",
            ""
        );
        let c = &self.config;
        let _ = writeln!(
            s,
            "{:<30} {:<22} {:>10.1} {:>10} {:>5}",
            format!("{} train step, batch {}", c.speed_model, c.speed_batch),
            format!("{:.1} ms/step", self.train.millis),
            self.train.images_per_sec,
            "img/s",
            ""
        );
        let _ = writeln!(
            s,
            "{:<30} {:<22} {:>10.1} {:>10} {:>5}",
            format!("{} forward, batch {}", c.speed_model, c.speed_batch),
            format!("{:.1} ms/batch", self.forward.millis),
            self.forward.images_per_sec,
            "img/s",
            ""
        );
        for sp in &self.split {
            let _ = writeln!(
                s,
                "{:<30} {:<22} {:>10.2e} {:>10.2e} {:>5}",
                format!(
                    "split on devices {},{}: logits",
                    sp.devices[0], sp.devices[1]
                ),
                "vs grouped, rel. L2",
                sp.logits_rel_diff,
                SPLIT_LIMIT,
                ok(sp.logits_rel_diff <= SPLIT_LIMIT)
            );
            let _ = writeln!(
                s,
                "{:<30} {:<22} {:>10.1} {:>10} {:>5}",
                format!(
                    "split on devices {},{}: train",
                    sp.devices[0], sp.devices[1]
                ),
                format!("{:.1} ms/step", sp.train.millis),
                sp.train.images_per_sec,
                "img/s",
                ""
            );
        }
        for (d, bytes) in &self.reserved {
            let _ = writeln!(
                s,
                "{:<30} {:<22} {:>10} {:>10} {:>5}",
                format!("device {d} memory reserved"),
                "cubecl pools, high water",
                bytes.map_or("n/a".into(), |b| format!(
                    "{:.0} MiB",
                    b as f64 / (1 << 20) as f64
                )),
                "",
                ""
            );
        }
        let _ = writeln!(s, "{}", "-".repeat(81));
        let _ = writeln!(s, "result: {}", if self.passed() { "PASS" } else { "FAIL" });
        s
    }
}

/// Runs the check.
pub fn run(cfg: &GpuCheckConfig) -> Result<GpuCheckReport> {
    if !(1..=2).contains(&cfg.devices.len()) {
        return Err(TrainError::Config(format!(
            "the GPU check takes one device or two, got {:?}",
            cfg.devices
        )));
    }
    run_on(cfg.backend, &cfg.devices, Job(cfg))
}

struct Job<'a>(&'a GpuCheckConfig);

impl BackendJob for Job<'_> {
    type Output = GpuCheckReport;
    fn run<B: AutodiffBackend>(self, devices: Vec<B::Device>) -> Result<GpuCheckReport> {
        let cfg = self.0;
        let started = Instant::now();
        let dev0 = devices[0].clone();
        let mut layer_results = Vec::new();
        for &model in &cfg.layer_models {
            let net = model.config(if model == ModelKind::Tiny { 10 } else { 1000 });
            let mut list = layers::layers_of(&net, cfg.layer_batch);
            if let Some(max) = max_binding_bytes(cfg.backend, cfg.devices[0]) {
                list = layers::fit_to(list, max);
            }
            for (i, l) in list.iter().enumerate() {
                layer_results.push((model, layers::compare::<B>(l, 100 + i as u64, &dev0)));
            }
        }

        let tmp;
        let work = match &cfg.work {
            Some(w) => w.clone(),
            None => {
                tmp = tempfile::tempdir().map_err(TrainError::io(&std::env::temp_dir()))?;
                tmp.path().to_path_buf()
            }
        };
        std::fs::create_dir_all(&work).map_err(TrainError::io(&work))?;
        let shards = track::dataset(&work)?;
        let track = track::run(&shards, &work, cfg.backend, cfg.devices[0], cfg.steps)?;

        let net = cfg.speed_model.config(1000);
        B::seed(&dev0, 1);
        let model: AlexNet<B> = net.init(&dev0);
        let train = speed::train_steps(
            model.clone(),
            &net,
            cfg.speed_batch,
            cfg.warmup,
            cfg.iters,
            &dev0,
        );
        let forward = speed::forwards(&model, cfg.speed_batch, cfg.warmup, cfg.iters, &dev0);
        let mut placements = vec![[0usize, 0usize]];
        if devices.len() == 2 {
            placements.push([0, 1]);
        }
        let mut split = Vec::new();
        for p in placements {
            let pair = [devices[p[0]].clone(), devices[p[1]].clone()];
            let (diff, split_model) =
                speed::split_vs_grouped(&model, pair, cfg.speed_batch.min(16)).map_err(|e| {
                    TrainError::Model {
                        context: "splitting the model over two devices".into(),
                        message: e.to_string(),
                    }
                })?;
            let rate = speed::train_steps(
                split_model,
                &net,
                cfg.speed_batch,
                cfg.warmup,
                cfg.iters,
                &dev0,
            );
            split.push(SplitResult {
                devices: [cfg.devices[p[0]], cfg.devices[p[1]]],
                logits_rel_diff: diff,
                train: rate,
            });
        }
        let reserved = cfg
            .devices
            .iter()
            .map(|&d| (d, reserved_bytes(cfg.backend, d)))
            .collect();
        Ok(GpuCheckReport {
            device: crate::backend::describe(cfg.backend, cfg.devices[0]),
            config: cfg.clone(),
            layers: layer_results,
            track,
            train,
            forward,
            split,
            reserved,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}
