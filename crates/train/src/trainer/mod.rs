//! Training: a run's setup (output directory, resume checks, initial
//! weights, the devices) here; the loop in `run_loop`, its checkpoints in
//! `saver`.

mod run_loop;
mod saver;
mod step_log;

use std::path::{Path, PathBuf};

use alexnet::{AlexNet, AlexNetConfig, SplitAlexNet};
use atomic_io::DirLock;
use burn::tensor::backend::{AutodiffBackend, Backend};

use crate::backend::BackendJob;
use crate::checkpoint::{self, Checkpoint, DatasetId};
use crate::config::TrainConfig;
use crate::data::{Splits, open_splits};
use crate::error::{Result, TrainError};
use crate::metrics::MetricRecord;
use crate::run_log::summary_table;

/// Checkpoints kept on disk (older ones are deleted).
pub const KEEP_CHECKPOINTS: usize = 3;

/// What a finished (or step-limited) run reports.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    /// The output directory.
    pub out: PathBuf,
    /// Global steps taken in total.
    pub global_step: u64,
    /// Steps this invocation took (0: a resumed run had nothing left to do).
    pub steps_run: u64,
    /// Epochs completed.
    pub epochs_done: u64,
    /// The newest checkpoint.
    pub last_checkpoint: Option<PathBuf>,
    /// `checkpoints/best`: the epoch end with the lowest val top-1 error.
    pub best_checkpoint: Option<PathBuf>,
    /// All metrics of the run (including before a resume).
    pub records: Vec<MetricRecord>,
    /// Mean training images/s of this invocation.
    pub images_per_sec: f64,
}

impl TrainSummary {
    /// The per-epoch table.
    pub fn table(&self) -> String {
        summary_table(&self.records)
    }

    /// Validation (top-1, top-5) error of the last epoch, if any.
    pub fn final_val_error(&self) -> Option<(f64, f64)> {
        self.records.iter().rev().find_map(|r| match r {
            MetricRecord::Epoch {
                val_top1_error,
                val_top5_error,
                ..
            } => Some((*val_top1_error, *val_top5_error)),
            _ => None,
        })
    }
}

/// Trains as `cfg` says, from scratch or from the checkpoint at `resume`
/// (a checkpoint directory or a run's output directory).
pub fn train(cfg: &TrainConfig, resume: Option<&Path>) -> Result<TrainSummary> {
    validate_config(cfg)?;
    let _lock = lock_out(&cfg.out)?;
    crate::backend::run_on(cfg.backend, &cfg.devices, Job { cfg, resume })
}

/// Creates the output directory and locks it for this run (released when
/// the run ends, however it ends).
fn lock_out(out: &Path) -> Result<DirLock> {
    if out.exists() && !out.is_dir() {
        return Err(TrainError::Config(format!(
            "--out {} is a file, not a directory; choose a directory for the run",
            out.display()
        )));
    }
    std::fs::create_dir_all(out).map_err(TrainError::io(out))?;
    Ok(DirLock::acquire(out, "train")?)
}

/// [`train`] as a job for whichever backend the configuration names.
struct Job<'a> {
    cfg: &'a TrainConfig,
    resume: Option<&'a Path>,
}

impl BackendJob for Job<'_> {
    type Output = TrainSummary;
    fn run<B: AutodiffBackend>(self, devices: Vec<B::Device>) -> Result<TrainSummary> {
        run::<B>(self.cfg, self.resume, devices)
    }

    fn largest_tensor(&self) -> Option<(u64, String)> {
        // fc6's weight; the split puts half of it on each device.
        let bytes = self.cfg.model.config(1000).largest_weight_bytes();
        Some((bytes / self.cfg.devices.len() as u64, "fc6's weight".into()))
    }
}

fn validate_config(cfg: &TrainConfig) -> Result<()> {
    let bad = |m: String| Err(TrainError::Config(m));
    if !(1..=2).contains(&cfg.devices.len()) {
        return bad(format!(
            "--devices takes one device or two (the paper's split), got {:?}",
            cfg.devices
        ));
    }
    if cfg.batch_size == 0 || cfg.val_batch_size == 0 {
        return bad("batch sizes must be positive".into());
    }
    if !(cfg.lr.is_finite() && cfg.lr > 0.0) {
        return bad(format!("learning rate must be positive, got {}", cfg.lr));
    }
    if !(0.0..1.0).contains(&cfg.momentum) || !(0.0..f64::INFINITY).contains(&cfg.weight_decay) {
        return bad("momentum must be in [0, 1) and weight decay non-negative".into());
    }
    if cfg.dropout.is_some_and(|p| !(0.0..1.0).contains(&p)) {
        return bad("dropout must be in [0, 1)".into());
    }
    if cfg.init_std.is_some_and(|s| !(s.is_finite() && s > 0.0)) {
        return bad("init_std must be positive".into());
    }
    if cfg.checkpoint_every == Some(0) {
        return bad("--checkpoint-every must be positive".into());
    }
    Ok(())
}

/// Mixes the run seed and a step into the backend seed of that step, so
/// dropout masks depend on (seed, step) only and no RNG state has to be
/// saved for an exact resume.
pub fn step_seed(seed: u64, step: u64, device: usize) -> u64 {
    let mut z = seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((device as u64) << 56);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn run<B: AutodiffBackend>(
    cfg: &TrainConfig,
    resume: Option<&Path>,
    devices: Vec<B::Device>,
) -> Result<TrainSummary> {
    let splits = open_splits(&cfg.data)?;
    let model_cfg = cfg.model_config(splits.id.num_classes);
    let crop = model_cfg.input_size();
    let size = splits.train.image_size();
    if size < crop {
        return Err(TrainError::BadData {
            path: cfg.data.clone(),
            reason: format!(
                "images are {size}x{size}, smaller than the {crop}x{crop} crops the {} model needs",
                cfg.model
            ),
        });
    }
    let ckpt = match resume {
        Some(p) => Some(check_resume(cfg, p, &splits.id)?),
        None => {
            let latest = cfg
                .out
                .join(checkpoint::CHECKPOINTS_DIR)
                .join(checkpoint::LATEST_FILE);
            if latest.exists() {
                return Err(TrainError::Config(format!(
                    "{} already holds a run; pass --resume {} to continue it or choose another --out",
                    cfg.out.display(),
                    cfg.out.display()
                )));
            }
            None
        }
    };
    let dev0 = devices[0].clone();
    let grouped: AlexNet<B> = match (&ckpt, &cfg.init_from) {
        (Some(c), _) => c.load_weights(&dev0)?,
        (None, Some(path)) => crate::init_from::load(&model_cfg, path, &dev0)?,
        (None, None) => init_weights(&model_cfg, cfg.seed, &dev0)?,
    };
    // The run's settings, for people and for `--config` (after the checks
    // above, so a refused run leaves the directory's file alone).
    crate::config_file::write_run_config(cfg)?;
    let ctx: Ctx<'_, B> = Ctx {
        cfg,
        splits,
        model_cfg,
        devices,
    };
    if ctx.devices.len() == 2 {
        let pair = [ctx.devices[0].clone(), ctx.devices[1].clone()];
        let split = SplitAlexNet::from_grouped(grouped, pair).map_err(|e| TrainError::Model {
            context: format!(
                "placing the {} model on devices {:?}",
                cfg.model, cfg.devices
            ),
            message: e.to_string(),
        })?;
        run_loop::train_loop(&ctx, split, ckpt)
    } else {
        run_loop::train_loop(&ctx, grouped, ckpt)
    }
}

/// The same initial weights on every backend: drawn on the CPU from the run's
/// seed (each backend's RNG draws differently), then copied to the device.
fn init_weights<B: Backend>(
    model_cfg: &AlexNetConfig,
    seed: u64,
    device: &B::Device,
) -> Result<AlexNet<B>> {
    use burn::backend::{Flex, flex::FlexDevice};
    Flex::seed(&FlexDevice, seed);
    let host: AlexNet<Flex> = model_cfg.init(&FlexDevice);
    alexnet::safetensors::transfer(&host, device).map_err(|e| TrainError::Model {
        context: "copying the initial weights to the device".into(),
        message: e.to_string(),
    })
}

/// Finds the checkpoint to resume from and checks it belongs to this run.
fn check_resume(cfg: &TrainConfig, path: &Path, data: &DatasetId) -> Result<Checkpoint> {
    let ckpt = checkpoint::find(path)?;
    let state_path = ckpt.dir.join(checkpoint::STATE_FILE);
    if let Some((field, stored, current)) = cfg.identity_mismatch(&ckpt.state.config) {
        return Err(TrainError::ConfigMismatch {
            path: state_path,
            field,
            stored,
            current,
        });
    }
    if ckpt.state.dataset.manifest_sha256 != data.manifest_sha256 {
        return Err(TrainError::DatasetMismatch {
            path: state_path,
            data: cfg.data.clone(),
            stored: ckpt.state.dataset.manifest_sha256.clone(),
            current: data.manifest_sha256.clone(),
        });
    }
    Ok(ckpt)
}

struct Ctx<'a, B: AutodiffBackend> {
    cfg: &'a TrainConfig,
    splits: Splits,
    model_cfg: AlexNetConfig,
    devices: Vec<B::Device>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_seeds_differ_by_step_and_device() {
        let a = step_seed(1, 0, 0);
        assert_ne!(a, step_seed(1, 1, 0));
        assert_ne!(a, step_seed(1, 0, 1));
        assert_ne!(a, step_seed(2, 0, 0));
        assert_eq!(a, step_seed(1, 0, 0));
    }
}
