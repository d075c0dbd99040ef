//! The training configuration: one serde struct the command line fills in
//! and every checkpoint stores in full.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::schedule::LrSchedule;

/// Which AlexNet configuration to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    /// The paper's network: LRN, groups of 2, 224×224 input.
    Paper,
    /// torchvision's "one weird trick" variant (no LRN, 64-192-384-256-256).
    Torchvision,
    /// Scaled-down network on 64×64 crops for tests and the demo.
    Tiny,
}

impl ModelKind {
    /// The alexnet crate's configuration for this kind.
    pub fn config(self, num_classes: usize) -> alexnet::AlexNetConfig {
        match self {
            ModelKind::Paper => alexnet::AlexNetConfig::paper(num_classes),
            ModelKind::Torchvision => alexnet::AlexNetConfig::torchvision(num_classes),
            ModelKind::Tiny => alexnet::AlexNetConfig::tiny(num_classes),
        }
    }
}

impl FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "paper" => Ok(Self::Paper),
            "torchvision" => Ok(Self::Torchvision),
            "tiny" => Ok(Self::Tiny),
            _ => Err(format!(
                "unknown model `{s}`: expected paper, torchvision or tiny"
            )),
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ModelKind::Paper => "paper",
            ModelKind::Torchvision => "torchvision",
            ModelKind::Tiny => "tiny",
        })
    }
}

/// Which burn backend runs the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// burn's pure-Rust `flex` CPU backend.
    Cpu,
    /// burn's CUDA backend (needs the `cuda` cargo feature).
    Cuda,
    /// burn's wgpu backend: Vulkan, Metal or DX12 (needs the `wgpu` cargo
    /// feature); the same cubecl kernels as `cuda`.
    Wgpu,
}

impl FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda),
            "wgpu" => Ok(Self::Wgpu),
            _ => Err(format!("unknown backend `{s}`: expected cpu, cuda or wgpu")),
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Cuda => "cuda",
            BackendKind::Wgpu => "wgpu",
        })
    }
}

/// How pixel means are subtracted (mirrors the loader's `MeanMode`, in a
/// serialisable form for checkpoints).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MeanKind {
    /// Subtract the manifest's mean image (the paper's "mean activity").
    Image,
    /// Subtract the manifest's per-channel mean.
    PerChannel,
    /// torchvision's normalisation, `(x/255 − mean_c) / std_c` with its
    /// fixed ImageNet constants, on [0, 1] pixels (scale 1): for
    /// torchvision's weights and fine-tuning them.
    Torchvision,
    /// No mean subtraction.
    None,
}

impl FromStr for MeanKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "image" => Ok(Self::Image),
            "per-channel" => Ok(Self::PerChannel),
            "torchvision" => Ok(Self::Torchvision),
            "none" => Ok(Self::None),
            _ => Err(format!(
                "unknown mean mode `{s}`: expected image, per-channel, torchvision or none"
            )),
        }
    }
}

/// Data augmentation and input scaling (the paper's defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AugmentSettings {
    /// Random crops (the paper's 224 of 256); off: centre crops.
    pub random_crop: bool,
    /// Random horizontal flips.
    pub flip: bool,
    /// Standard deviation of the PCA lighting coefficients (paper: 0.1; 0 disables).
    pub pca_std: f32,
    /// Mean subtraction.
    pub mean: MeanKind,
    /// Pixel scale: 255 keeps the paper's raw pixel units.
    pub scale: f32,
}

/// The paper's recipe (Krizhevsky et al. 2012, sections 4.1 and 5), defined
/// once: [`TrainConfig::paper`] and the command line's defaults both read
/// these.
pub mod recipe {
    /// Epochs ("roughly 90 cycles through the training set").
    pub const EPOCHS: u64 = 90;
    /// Images per SGD step.
    pub const BATCH_SIZE: usize = 128;
    /// Initial learning rate.
    pub const LR: f64 = 0.01;
    /// Momentum.
    pub const MOMENTUM: f64 = 0.9;
    /// L2 weight decay.
    pub const WEIGHT_DECAY: f64 = 5e-4;
    /// Epochs without a better validation error before the rate is divided
    /// by 10 (the paper divides "when the validation error rate stopped
    /// improving"; 3 is our reading).
    pub const PLATEAU_PATIENCE: u32 = 3;
    /// Divisions by 10 at most ("reduced three times prior to termination").
    pub const MAX_LR_DROPS: u32 = 3;
    /// Standard deviation of the PCA lighting factors α.
    pub const PCA_STD: f32 = 0.1;
    /// Images per validation batch (no effect on the result).
    pub const VAL_BATCH_SIZE: usize = 128;
    /// Steps between plain progress lines when stdout is not a terminal
    /// (not the paper's: a tool setting).
    pub const LOG_EVERY: u64 = 100;

    /// [`LOG_EVERY`], for serde's default of checkpoints written before
    /// the setting existed.
    pub fn log_every() -> u64 {
        LOG_EVERY
    }
}

impl Default for AugmentSettings {
    fn default() -> Self {
        Self {
            random_crop: true,
            flip: true,
            pca_std: recipe::PCA_STD,
            mean: MeanKind::Image,
            scale: 255.0,
        }
    }
}

/// Everything that defines a training run. Stored in full in every
/// checkpoint; [`TrainConfig::identity_mismatch`] says which fields a
/// resumed run must keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Directory holding `manifest.json` and the shards.
    pub data: PathBuf,
    /// Output directory: checkpoints, `metrics.jsonl`, `curves.png`.
    pub out: PathBuf,
    /// Network configuration.
    pub model: ModelKind,
    /// Backend.
    pub backend: BackendKind,
    /// Device ordinals: one (single device) or two (the paper's split).
    pub devices: Vec<usize>,
    /// Epochs to train in total (a resumed run may raise it).
    pub epochs: u64,
    /// Images per SGD step.
    pub batch_size: usize,
    /// Initial learning rate.
    pub lr: f64,
    /// Momentum (paper 0.9, dampening 0).
    pub momentum: f64,
    /// L2 weight decay (paper 5e-4).
    pub weight_decay: f64,
    /// Learning-rate schedule.
    pub lr_schedule: LrSchedule,
    /// Seed of initialisation, shuffling, augmentation and dropout.
    pub seed: u64,
    /// Overrides the model's dropout probability (paper: 0.5).
    #[serde(default)]
    pub dropout: Option<f64>,
    /// Overrides the standard deviation of the initial weights (paper: 0.01).
    #[serde(default)]
    pub init_std: Option<f64>,
    /// Start from the weights in this safetensors file (ours, or
    /// torchvision's names for the torchvision model) or checkpoint
    /// directory instead of the random initialisation: fine-tuning.
    #[serde(default)]
    pub init_from: Option<PathBuf>,
    /// Augmentation and input scaling.
    pub augment: AugmentSettings,
    /// Write a checkpoint every this many steps (besides every epoch end).
    pub checkpoint_every: Option<u64>,
    /// Stop (with a checkpoint) once this many steps have been taken in total.
    pub max_steps: Option<u64>,
    /// Loader worker threads.
    pub workers: usize,
    /// Batches prepared ahead per worker.
    pub prefetch: usize,
    /// Batch size for validation.
    pub val_batch_size: usize,
    /// No progress bars or per-epoch lines.
    pub quiet: bool,
    /// When stdout is not a terminal (SLURM, nohup), print a plain
    /// progress line every this many steps (0: never).
    #[serde(default = "recipe::log_every")]
    pub log_every: u64,
}

impl TrainConfig {
    /// The network this configuration trains on `num_classes` classes.
    pub fn model_config(&self, num_classes: usize) -> alexnet::AlexNetConfig {
        let mut m = self.model.config(num_classes);
        if let Some(p) = self.dropout {
            m.dropout = p;
        }
        if let Some(s) = self.init_std {
            m.init.weight_std = s;
        }
        m
    }

    /// The paper's recipe on `data`, writing to `out`.
    pub fn paper(data: PathBuf, out: PathBuf) -> Self {
        Self {
            data,
            out,
            model: ModelKind::Paper,
            backend: BackendKind::Cpu,
            devices: vec![0],
            epochs: recipe::EPOCHS,
            batch_size: recipe::BATCH_SIZE,
            lr: recipe::LR,
            momentum: recipe::MOMENTUM,
            weight_decay: recipe::WEIGHT_DECAY,
            lr_schedule: LrSchedule::Plateau {
                patience: recipe::PLATEAU_PATIENCE,
                max_drops: recipe::MAX_LR_DROPS,
            },
            seed: 0,
            dropout: None,
            init_std: None,
            init_from: None,
            augment: AugmentSettings::default(),
            checkpoint_every: None,
            max_steps: None,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            prefetch: 2,
            val_batch_size: recipe::VAL_BATCH_SIZE,
            quiet: false,
            log_every: recipe::LOG_EVERY,
        }
    }

    /// Checks the fields that decide the trajectory of training against a
    /// checkpoint's configuration: the first differing field, rendered as
    /// `(name, checkpoint value, current value)`. Epochs, step limits, output
    /// and loader threads may change on resume, and so may the backend and
    /// the device ordinals: a run checkpointed on a GPU continues on the CPU
    /// and the other way round (the same weights and optimizer state; only
    /// f32 rounding differs between backends).
    pub fn identity_mismatch(&self, stored: &TrainConfig) -> Option<(String, String, String)> {
        // Destructured without `..`: a new field does not compile until it
        // is placed on one side or the other of the resume check.
        let TrainConfig {
            // The dataset is checked by its manifest's SHA-256 instead.
            data: _,
            out: _,
            model,
            backend: _,
            devices,
            epochs: _,
            batch_size,
            lr,
            momentum,
            weight_decay,
            lr_schedule,
            seed,
            dropout,
            init_std,
            // Compared as given; the command line makes it absolute
            // (`TrainOptions::to_config`), so the working directory of the
            // resumed run does not matter.
            init_from,
            augment,
            checkpoint_every: _,
            max_steps: _,
            workers: _,
            prefetch: _,
            val_batch_size: _,
            quiet: _,
            log_every: _,
        } = self;
        let fields: [(&str, String, String); 12] = [
            ("model", stored.model.to_string(), model.to_string()),
            (
                "devices",
                stored.devices.len().to_string(),
                devices.len().to_string(),
            ),
            (
                "batch_size",
                stored.batch_size.to_string(),
                batch_size.to_string(),
            ),
            ("lr", stored.lr.to_string(), lr.to_string()),
            (
                "momentum",
                stored.momentum.to_string(),
                momentum.to_string(),
            ),
            (
                "weight_decay",
                stored.weight_decay.to_string(),
                weight_decay.to_string(),
            ),
            (
                "lr_schedule",
                stored.lr_schedule.to_string(),
                lr_schedule.to_string(),
            ),
            ("seed", stored.seed.to_string(), seed.to_string()),
            (
                "init_std",
                format!("{:?}", stored.init_std),
                format!("{init_std:?}"),
            ),
            (
                "dropout",
                format!("{:?}", stored.dropout),
                format!("{dropout:?}"),
            ),
            (
                "init_from",
                show_path(stored.init_from.as_deref()),
                show_path(init_from.as_deref()),
            ),
            (
                "augment",
                format!("{:?}", stored.augment),
                format!("{augment:?}"),
            ),
        ];
        fields
            .into_iter()
            .find(|(_, a, b)| a != b)
            .map(|(n, a, b)| (n.to_string(), a, b))
    }
}

/// A path for a mismatch message (`none` when absent).
fn show_path(p: Option<&std::path::Path>) -> String {
    p.map_or_else(|| "none".into(), |p| p.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_ignores_epochs_and_output_but_not_seed() {
        let a = TrainConfig::paper("d".into(), "o".into());
        let mut b = a.clone();
        b.epochs = 120;
        b.out = "elsewhere".into();
        b.max_steps = Some(3);
        b.quiet = true;
        b.backend = BackendKind::Wgpu;
        b.devices = vec![1];
        assert_eq!(b.identity_mismatch(&a), None);
        let mut c = b.clone();
        c.init_from = Some("/w/torchvision.safetensors".into());
        let (field, old, new) = c.identity_mismatch(&a).unwrap();
        assert_eq!(
            (field.as_str(), old.as_str(), new.as_str()),
            ("init_from", "none", "/w/torchvision.safetensors")
        );
        b.seed = 7;
        let (field, old, new) = b.identity_mismatch(&a).unwrap();
        assert_eq!(
            (field.as_str(), old.as_str(), new.as_str()),
            ("seed", "0", "7")
        );
    }

    #[test]
    fn round_trips_through_json() {
        let a = TrainConfig::paper("d".into(), "o".into());
        let json = serde_json::to_string(&a).unwrap();
        let b: TrainConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn parses_names() {
        assert_eq!("tiny".parse::<ModelKind>(), Ok(ModelKind::Tiny));
        assert!("vgg".parse::<ModelKind>().is_err());
        assert_eq!("cuda".parse::<BackendKind>(), Ok(BackendKind::Cuda));
        assert_eq!("wgpu".parse::<BackendKind>(), Ok(BackendKind::Wgpu));
        assert_eq!("per-channel".parse::<MeanKind>(), Ok(MeanKind::PerChannel));
        assert_eq!("torchvision".parse::<MeanKind>(), Ok(MeanKind::Torchvision));
    }
}
