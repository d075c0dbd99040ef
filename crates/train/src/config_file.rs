//! Config files for `train`: TOML whose keys are the command line's flag
//! names (`batch-size = 256` for `--batch-size 256`), merged under the
//! flags given, over the paper's recipe ([`TrainConfig::paper`], the one
//! source of defaults). Every run writes its effective configuration in
//! this form to `OUT/config.toml`, which `--config` reads back.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::{BackendKind, MeanKind, ModelKind, TrainConfig, recipe};
use crate::error::{Result, TrainError};
use crate::schedule::LrSchedule;

/// The effective configuration a run writes into its output directory.
pub const RUN_CONFIG_FILE: &str = "config.toml";

/// Every setting of `train` as it appears on the command line, each
/// optional: absent means "not set here". Unknown keys are an error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TrainOptions {
    /// `--data`: the prepared dataset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<PathBuf>,
    /// `--out`: the run's output directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out: Option<PathBuf>,
    /// `--model`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelKind>,
    /// `--backend`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<BackendKind>,
    /// `--devices`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devices: Option<Vec<usize>>,
    /// `--epochs`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epochs: Option<u64>,
    /// `--batch-size`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// `--lr`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// `--momentum`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f64>,
    /// `--weight-decay`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
    /// `--lr-schedule`: `plateau[:PATIENCE]` or `step:E1,E2,...`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr_schedule: Option<String>,
    /// `--max-drops` (plateau only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_drops: Option<u32>,
    /// `--seed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// `--dropout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropout: Option<f64>,
    /// `--init-std`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_std: Option<f64>,
    /// `--init-from`: starting weights instead of the random init.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init_from: Option<PathBuf>,
    /// `--checkpoint-every`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_every: Option<u64>,
    /// `--max-steps`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_steps: Option<u64>,
    /// `--resume`: not part of the configuration proper (never written to
    /// `config.toml`), but settable like every flag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume: Option<PathBuf>,
    /// `--mean`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean: Option<MeanKind>,
    /// `--pca-std`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pca_std: Option<f32>,
    /// `--no-random-crop`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_random_crop: Option<bool>,
    /// `--no-flip`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_flip: Option<bool>,
    /// `--workers`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    /// `--val-batch-size`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_batch_size: Option<usize>,
    /// `--quiet`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quiet: Option<bool>,
    /// `--log-every`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_every: Option<u64>,
}

impl TrainOptions {
    /// Reads a config file; a key that is not a `train` flag, or a value
    /// of the wrong type, is an error naming the file, line and key.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(TrainError::io(path))?;
        Self::from_toml(&text).map_err(|e| {
            TrainError::Config(format!("config file {}: {}", path.display(), e.trim_end()))
        })
    }

    /// Parses config-file text (errors as the TOML parser words them).
    pub fn from_toml(text: &str) -> std::result::Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// The settings as config-file text, every set key in flag order.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("plain keys and values always serialise")
    }

    /// These settings where set, `base`'s elsewhere (command-line flags
    /// `.over(file)`).
    pub fn over(self, base: TrainOptions) -> TrainOptions {
        // Destructured without `..`: a new setting does not compile until
        // it is merged.
        let TrainOptions {
            data,
            out,
            model,
            backend,
            devices,
            epochs,
            batch_size,
            lr,
            momentum,
            weight_decay,
            lr_schedule,
            max_drops,
            seed,
            dropout,
            init_std,
            init_from,
            checkpoint_every,
            max_steps,
            resume,
            mean,
            pca_std,
            no_random_crop,
            no_flip,
            workers,
            val_batch_size,
            quiet,
            log_every,
        } = self;
        TrainOptions {
            data: data.or(base.data),
            out: out.or(base.out),
            model: model.or(base.model),
            backend: backend.or(base.backend),
            devices: devices.or(base.devices),
            epochs: epochs.or(base.epochs),
            batch_size: batch_size.or(base.batch_size),
            lr: lr.or(base.lr),
            momentum: momentum.or(base.momentum),
            weight_decay: weight_decay.or(base.weight_decay),
            lr_schedule: lr_schedule.or(base.lr_schedule),
            max_drops: max_drops.or(base.max_drops),
            seed: seed.or(base.seed),
            dropout: dropout.or(base.dropout),
            init_std: init_std.or(base.init_std),
            init_from: init_from.or(base.init_from),
            checkpoint_every: checkpoint_every.or(base.checkpoint_every),
            max_steps: max_steps.or(base.max_steps),
            resume: resume.or(base.resume),
            mean: mean.or(base.mean),
            pca_std: pca_std.or(base.pca_std),
            no_random_crop: no_random_crop.or(base.no_random_crop),
            no_flip: no_flip.or(base.no_flip),
            workers: workers.or(base.workers),
            val_batch_size: val_batch_size.or(base.val_batch_size),
            quiet: quiet.or(base.quiet),
            log_every: log_every.or(base.log_every),
        }
    }

    /// The run's configuration: the paper's recipe with these settings
    /// applied. `data` and `out` must be set. `init_from` is made absolute
    /// (it is part of the run's identity, checked on resume, and the
    /// resumed run may start in another directory).
    pub fn to_config(&self) -> Result<TrainConfig> {
        let need = |v: &Option<PathBuf>, key: &str| {
            v.clone().ok_or_else(|| {
                TrainError::Config(format!(
                    "--{key} is required (on the command line or as `{key} = \"...\"` in a --config file)"
                ))
            })
        };
        let mut c = TrainConfig::paper(need(&self.data, "data")?, need(&self.out, "out")?);
        set(&mut c.model, &self.model);
        set(&mut c.backend, &self.backend);
        if let Some(d) = &self.devices {
            c.devices = d.clone();
        }
        set(&mut c.epochs, &self.epochs);
        set(&mut c.batch_size, &self.batch_size);
        set(&mut c.lr, &self.lr);
        set(&mut c.momentum, &self.momentum);
        set(&mut c.weight_decay, &self.weight_decay);
        if self.lr_schedule.is_some() || self.max_drops.is_some() {
            let text = self
                .lr_schedule
                .clone()
                .unwrap_or_else(|| format!("plateau:{}", recipe::PLATEAU_PATIENCE));
            let drops = self.max_drops.unwrap_or(recipe::MAX_LR_DROPS);
            c.lr_schedule = LrSchedule::parse(&text, drops)
                .map_err(|e| TrainError::Config(format!("--lr-schedule: {e}")))?;
        }
        set(&mut c.seed, &self.seed);
        c.dropout = self.dropout.or(c.dropout);
        c.init_std = self.init_std.or(c.init_std);
        if let Some(p) = &self.init_from {
            c.init_from = Some(std::path::absolute(p).map_err(TrainError::io(p))?);
        }
        c.checkpoint_every = self.checkpoint_every.or(c.checkpoint_every);
        c.max_steps = self.max_steps.or(c.max_steps);
        set(&mut c.augment.mean, &self.mean);
        // torchvision's constants are defined on [0, 1] pixels; the other
        // modes keep the paper's raw 0..255 units.
        c.augment.scale = if c.augment.mean == MeanKind::Torchvision {
            1.0
        } else {
            255.0
        };
        set(&mut c.augment.pca_std, &self.pca_std);
        c.augment.random_crop = !self.no_random_crop.unwrap_or(!c.augment.random_crop);
        c.augment.flip = !self.no_flip.unwrap_or(!c.augment.flip);
        set(&mut c.workers, &self.workers);
        set(&mut c.val_batch_size, &self.val_batch_size);
        set(&mut c.quiet, &self.quiet);
        set(&mut c.log_every, &self.log_every);
        Ok(c)
    }

    /// Every setting of `cfg`, as a config file would state it (`resume`
    /// unset): what `--print-config` shows and `config.toml` holds.
    pub fn from_config(cfg: &TrainConfig) -> TrainOptions {
        let (lr_schedule, max_drops) = match &cfg.lr_schedule {
            LrSchedule::Plateau {
                patience,
                max_drops,
            } => (format!("plateau:{patience}"), Some(*max_drops)),
            LrSchedule::Step { milestones } => {
                let list: Vec<String> = milestones.iter().map(u64::to_string).collect();
                (format!("step:{}", list.join(",")), None)
            }
        };
        TrainOptions {
            data: Some(cfg.data.clone()),
            out: Some(cfg.out.clone()),
            model: Some(cfg.model),
            backend: Some(cfg.backend),
            devices: Some(cfg.devices.clone()),
            epochs: Some(cfg.epochs),
            batch_size: Some(cfg.batch_size),
            lr: Some(cfg.lr),
            momentum: Some(cfg.momentum),
            weight_decay: Some(cfg.weight_decay),
            lr_schedule: Some(lr_schedule),
            max_drops,
            seed: Some(cfg.seed),
            dropout: cfg.dropout,
            init_std: cfg.init_std,
            init_from: cfg.init_from.clone(),
            checkpoint_every: cfg.checkpoint_every,
            max_steps: cfg.max_steps,
            resume: None,
            mean: Some(cfg.augment.mean),
            pca_std: Some(cfg.augment.pca_std),
            no_random_crop: Some(!cfg.augment.random_crop),
            no_flip: Some(!cfg.augment.flip),
            workers: Some(cfg.workers),
            val_batch_size: Some(cfg.val_batch_size),
            quiet: Some(cfg.quiet),
            log_every: Some(cfg.log_every),
        }
    }
}

/// `*dst = v` where `v` is set.
fn set<T: Copy>(dst: &mut T, v: &Option<T>) {
    if let Some(v) = v {
        *dst = *v;
    }
}

/// Writes `cfg` as `OUT/config.toml` (atomically: a reader sees the old
/// file or the new one, never half of one).
pub fn write_run_config(cfg: &TrainConfig) -> Result<PathBuf> {
    let path = cfg.out.join(RUN_CONFIG_FILE);
    let text = format!(
        "# The effective configuration of this run (cargo xtask train --config {} to reuse it).\n{}",
        path.display(),
        TrainOptions::from_config(cfg).to_toml()
    );
    atomic_io::write_file(&path, text.as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> TrainOptions {
        TrainOptions {
            data: Some("d".into()),
            out: Some("o".into()),
            ..TrainOptions::default()
        }
    }

    #[test]
    fn no_settings_give_the_papers_recipe() {
        let c = base().to_config().unwrap();
        assert_eq!(c, TrainConfig::paper("d".into(), "o".into()));
    }

    #[test]
    fn every_setting_round_trips_through_the_file_form() {
        let mut c = TrainConfig::paper("data/shards".into(), "runs/a".into());
        c.model = ModelKind::Tiny;
        c.backend = BackendKind::Wgpu;
        c.devices = vec![0, 1];
        c.epochs = 7;
        c.batch_size = 32;
        c.lr = 0.005;
        c.momentum = 0.8;
        c.weight_decay = 1e-4;
        c.lr_schedule = LrSchedule::Step {
            milestones: vec![3, 5],
        };
        c.seed = 9;
        c.dropout = Some(0.25);
        c.init_std = Some(0.02);
        c.init_from = Some("/w/init.safetensors".into());
        c.checkpoint_every = Some(50);
        c.max_steps = Some(400);
        c.augment.mean = MeanKind::Torchvision;
        c.augment.scale = 1.0;
        c.augment.pca_std = 0.05;
        c.augment.random_crop = false;
        c.augment.flip = false;
        c.workers = 3;
        c.val_batch_size = 17;
        c.quiet = true;
        c.log_every = 7;
        let text = TrainOptions::from_config(&c).to_toml();
        let back = TrainOptions::from_toml(&text).unwrap().to_config().unwrap();
        assert_eq!(back, c, "{text}");
        // Flag names as keys, plain values.
        assert!(text.contains("batch-size = 32\n"), "{text}");
        assert!(text.contains("lr-schedule = \"step:3,5\"\n"), "{text}");
        assert!(text.contains("mean = \"torchvision\"\n"), "{text}");
        assert!(text.contains("pca-std = 0.05\n"), "{text}");
        // The paper's recipe too (plateau, no optional overrides).
        let p = TrainConfig::paper("d".into(), "o".into());
        let text = TrainOptions::from_config(&p).to_toml();
        assert_eq!(
            TrainOptions::from_toml(&text).unwrap().to_config().unwrap(),
            p,
            "{text}"
        );
    }

    #[test]
    fn flags_override_the_file_and_the_file_overrides_defaults() {
        let file = TrainOptions::from_toml("lr = 0.02\nepochs = 5\nno-flip = true\n").unwrap();
        let flags = TrainOptions {
            lr: Some(0.03),
            ..base()
        };
        let c = flags.over(file).to_config().unwrap();
        assert_eq!((c.lr, c.epochs, c.augment.flip), (0.03, 5, false));
        assert_eq!(c.batch_size, recipe::BATCH_SIZE);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors_naming_file_and_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.toml");
        std::fs::write(&path, "lr = 0.01\nlearning-rate = 0.1\n").unwrap();
        let e = TrainOptions::from_file(&path).unwrap_err().to_string();
        assert!(e.contains("run.toml") && e.contains("learning-rate"), "{e}");
        std::fs::write(&path, "epochs = \"ten\"\n").unwrap();
        let e = TrainOptions::from_file(&path).unwrap_err().to_string();
        assert!(e.contains("run.toml") && e.contains("epochs"), "{e}");
        let e = TrainOptions::from_file(&dir.path().join("absent.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("absent.toml"), "{e}");
    }

    #[test]
    fn data_and_out_are_required_and_schedules_are_checked() {
        let e = TrainOptions::default().to_config().unwrap_err().to_string();
        assert!(e.contains("--data"), "{e}");
        let bad = TrainOptions {
            lr_schedule: Some("cosine".into()),
            ..base()
        };
        assert!(bad.to_config().is_err());
        let drops = TrainOptions {
            max_drops: Some(1),
            ..base()
        };
        assert_eq!(
            drops.to_config().unwrap().lr_schedule,
            LrSchedule::Plateau {
                patience: recipe::PLATEAU_PATIENCE,
                max_drops: 1
            }
        );
    }

    #[test]
    fn the_run_config_is_written_to_the_output_directory() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = TrainConfig::paper("d".into(), dir.path().to_path_buf());
        let path = write_run_config(&cfg).unwrap();
        assert_eq!(path, dir.path().join(RUN_CONFIG_FILE));
        let back = TrainOptions::from_file(&path).unwrap().to_config().unwrap();
        assert_eq!(back, cfg);
    }
}
