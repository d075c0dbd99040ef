//! A short training run of the tiny model through the real trainer (loader,
//! SGD, validation, checkpoints) on the device and on the CPU, from the same
//! seed and data: the per-step losses must track each other.

use std::path::{Path, PathBuf};

use imagenet_prep::prep::{PrepConfig, prepare};
use imagenet_prep::synth::{SynthConfig, synthesize};

use crate::config::{BackendKind, ModelKind, TrainConfig};
use crate::error::{Result, TrainError};
use crate::metrics::MetricRecord;
use crate::schedule::LrSchedule;
use crate::trainer::train;

/// Side of the prepared images (the tiny model crops 64 of them).
const IMAGE_SIZE: u32 = 72;

/// Synthesises and prepares a small 10-class dataset under `work`; returns
/// the shard directory.
pub fn dataset(work: &Path) -> Result<PathBuf> {
    let raw = work.join("raw");
    let shards = work.join("shards");
    let synth = SynthConfig {
        classes: 10,
        train_per_class: 40,
        val_per_class: 4,
        seed: 7,
        min_side: 72,
        max_side: 96,
        ..SynthConfig::default()
    };
    synthesize(&synth, &raw).map_err(|e| TrainError::BadData {
        path: raw.clone(),
        reason: format!("synthesising the check's dataset: {e}"),
    })?;
    let mut prep = PrepConfig::new(raw.clone(), shards.clone());
    prep.size = IMAGE_SIZE;
    prep.quiet = true;
    prepare(&prep).map_err(|e| TrainError::BadData {
        path: shards.clone(),
        reason: format!("preparing the check's dataset: {e}"),
    })?;
    Ok(shards)
}

/// The run both backends make: the tiny model, batch 32, the demo's init,
/// lr 0.001 and dropout off. Dropout is off because the two backends' RNGs
/// draw different masks (everything else — init, shuffling, augmentation —
/// is drawn on the host from the seed and is the same). The lr is a fifth
/// of the demo's: at 0.005 the first step overshoots (loss 4.0 → 8.0) and
/// in that regime each step multiplies any difference, rounding included,
/// so two correct backends part by 10% within 24 steps (measured).
pub fn track_config(
    shards: &Path,
    out: &Path,
    backend: BackendKind,
    ordinal: usize,
    steps: u64,
) -> TrainConfig {
    let mut t = TrainConfig::paper(shards.to_path_buf(), out.to_path_buf());
    t.model = ModelKind::Tiny;
    t.backend = backend;
    t.devices = vec![ordinal];
    t.batch_size = 32;
    t.val_batch_size = 40;
    t.lr = 0.001;
    t.init_std = Some(0.05);
    t.dropout = Some(0.0);
    t.seed = 3;
    t.epochs = 1000;
    t.max_steps = Some(steps);
    t.lr_schedule = LrSchedule::Step { milestones: vec![] };
    t.workers = 2;
    t.quiet = true;
    t
}

/// The losses of every step in `records`, in order.
pub fn step_losses(records: &[MetricRecord]) -> Vec<f64> {
    records
        .iter()
        .filter_map(|r| match r {
            MetricRecord::Step { loss, .. } => Some(*loss),
            _ => None,
        })
        .collect()
}

/// Steps over which the two runs must agree to rounding. Both start from
/// the same weights and see the same batches, so at first they part only
/// by f32 summation order. Later a rounding-level difference flips a ReLU
/// or a max-pool choice somewhere and SGD amplifies it, so later steps are
/// judged loosely. Where the first flip happens varies: burn's autotune
/// picks GPU kernels by timing, so the summation order depends on how busy
/// the machine is. Measured on lavapipe: ≤ 6e-7 relative over steps 1-5 on
/// a quiet machine (2e-5 at step 6, 1e-3 by step 13, 1.5e-2 by step 23);
/// under build load ≤ 1.2e-7 over steps 1-3, then 1e-5 at step 4 and 1e-4
/// at step 5. Three steps are still far more than a wrong learning rate,
/// momentum or layer survives (those part by 1e-2 from step 2).
pub const EARLY_STEPS: usize = 3;
/// Largest relative loss difference in the first [`EARLY_STEPS`] steps.
pub const EARLY_LIMIT: f64 = 1e-5;
/// Largest relative difference of the mean loss over the last quarter of
/// the steps: far above the chaos measured over 24 steps, far below what a
/// wrong update (lr, momentum, weight decay) or a wrong layer makes.
pub const LATE_LIMIT: f64 = 5e-2;

/// Per-step losses of the two runs.
#[derive(Debug, Clone)]
pub struct Track {
    /// On the checked device.
    pub device: Vec<f64>,
    /// On the CPU.
    pub cpu: Vec<f64>,
}

impl Track {
    /// Largest |device − cpu| / |cpu| over the first [`EARLY_STEPS`].
    pub fn early_rel_diff(&self) -> f64 {
        rel_diffs(&self.device, &self.cpu)
            .take(EARLY_STEPS)
            .fold(0.0, f64::max)
    }

    /// Largest |device − cpu| / |cpu| over all steps (reported, not judged).
    pub fn max_rel_diff(&self) -> f64 {
        rel_diffs(&self.device, &self.cpu).fold(0.0, f64::max)
    }

    /// |mean device − mean cpu| / mean cpu of the losses of the last quarter
    /// of the steps.
    pub fn late_rel_diff(&self) -> f64 {
        let n = self.cpu.len().min(self.device.len());
        let from = n - n.div_ceil(4);
        let mean = |v: &[f64]| v[from..n].iter().sum::<f64>() / (n - from).max(1) as f64;
        let (d, c) = (mean(&self.device), mean(&self.cpu));
        (d - c).abs() / c.abs().max(1e-12)
    }

    /// Same number of steps, the first steps equal to rounding, the last
    /// quarter's mean loss within [`LATE_LIMIT`].
    pub fn passed(&self) -> bool {
        self.device.len() == self.cpu.len()
            && !self.cpu.is_empty()
            && self.early_rel_diff() <= EARLY_LIMIT
            && self.late_rel_diff() <= LATE_LIMIT
    }
}

fn rel_diffs<'a>(a: &'a [f64], b: &'a [f64]) -> impl Iterator<Item = f64> + 'a {
    a.iter()
        .zip(b)
        .map(|(d, c)| (d - c).abs() / c.abs().max(1e-12))
}

/// Trains `steps` steps on `backend`/`ordinal` and on the CPU on the
/// dataset in `shards`, writing the runs under `work`.
pub fn run(
    shards: &Path,
    work: &Path,
    backend: BackendKind,
    ordinal: usize,
    steps: u64,
) -> Result<Track> {
    let losses = |backend, ordinal, name: &str| -> Result<Vec<f64>> {
        let out = work.join(name);
        let summary = train(&track_config(shards, &out, backend, ordinal, steps), None)?;
        Ok(step_losses(&summary.records))
    };
    Ok(Track {
        device: losses(backend, ordinal, "device-run")?,
        cpu: losses(BackendKind::Cpu, 0, "cpu-run")?,
    })
}
