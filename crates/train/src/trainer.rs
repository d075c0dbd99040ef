//! The training loop: SGD steps, checkpoints, validation every epoch, the
//! learning-rate schedule, metrics, and exact resume.

use std::path::{Path, PathBuf};
use std::time::Instant;

use alexnet::{AlexNet, AlexNetConfig, SplitAlexNet};
use burn::module::AutodiffModule;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};

use crate::backend::BackendJob;
use crate::checkpoint::{self, CHECKPOINT_FORMAT, Checkpoint, CheckpointState, DatasetId};
use crate::config::TrainConfig;
use crate::data::{Splits, augment_config, mean_mode, open_splits};
use crate::error::{Result, TrainError};
use crate::loader::{EvalView, TrainLoader};
use crate::metrics::{MetricRecord, TopK};
use crate::net::{Classifier, all_finite, sgd};
use crate::run_log::{MetricsLog, progress_bar, summary_table};
use crate::schedule::LrState;
use crate::validate::{self, EvalSettings};

/// Checkpoints kept on disk (older ones are deleted).
pub const KEEP_CHECKPOINTS: usize = 3;

/// What a finished (or step-limited) run reports.
#[derive(Debug, Clone)]
pub struct TrainSummary {
    /// The output directory.
    pub out: PathBuf,
    /// Global steps taken in total.
    pub global_step: u64,
    /// Epochs completed.
    pub epochs_done: u64,
    /// The newest checkpoint.
    pub last_checkpoint: Option<PathBuf>,
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
    // fc6's weight is the largest tensor; the split puts half on each device.
    let m = cfg.model.config(1000);
    let fc6 = (m.feature_len() * m.fc_width * 4 / cfg.devices.len()) as u64;
    crate::backend::check_fits(cfg.backend, &cfg.devices, fc6, "fc6's weight")?;
    crate::backend::run_on(cfg.backend, &cfg.devices, Job { cfg, resume })
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
    std::fs::create_dir_all(&cfg.out).map_err(TrainError::io(&cfg.out))?;
    let dev0 = devices[0].clone();
    let grouped: AlexNet<B> = match &ckpt {
        Some(c) => c.load_weights(&dev0)?,
        None => init_weights(&model_cfg, cfg.seed, &dev0)?,
    };
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
        train_loop(&ctx, split, ckpt)
    } else {
        train_loop(&ctx, grouped, ckpt)
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

fn train_loop<B: AutodiffBackend, M: Classifier<B>>(
    ctx: &Ctx<'_, B>,
    mut model: M,
    ckpt: Option<Checkpoint>,
) -> Result<TrainSummary> {
    let cfg = ctx.cfg;
    let dev0 = &ctx.devices[0];
    let mut optim = sgd::<B, M>(cfg.momentum, cfg.weight_decay);
    let mut last_checkpoint = None;
    let mut st = match ckpt {
        Some(c) => {
            optim = c.load_optimizer(&model, optim, dev0)?;
            last_checkpoint = Some(c.dir.clone());
            let mut st = c.state;
            st.config = cfg.clone();
            st
        }
        None => CheckpointState {
            format: CHECKPOINT_FORMAT,
            config: cfg.clone(),
            model_config: ctx.model_cfg.clone(),
            dataset: ctx.splits.id.clone(),
            epoch: 0,
            batch_in_epoch: 0,
            global_step: 0,
            lr_state: LrState::new(cfg.lr),
            epoch_train: TopK::default(),
            epoch_seconds: 0.0,
            param_ids: Vec::new(),
            epoch_end: false,
        },
    };
    let mut log = MetricsLog::open(&cfg.out, st.global_step)?;
    let crop = ctx.model_cfg.input_size();
    let classes = ctx.splits.id.num_classes;
    let loader = TrainLoader::new(
        ctx.splits.train.clone(),
        augment_config(&cfg.augment, crop),
        cfg.batch_size,
        cfg.seed,
        cfg.workers,
        cfg.prefetch,
    )?;
    let per_epoch = loader.batches_per_epoch() as u64;
    if per_epoch == 0 {
        return Err(TrainError::BadData {
            path: cfg.data.clone(),
            reason: format!(
                "{} training images make no full batch of {}",
                ctx.splits.train.len(),
                cfg.batch_size
            ),
        });
    }
    let total_steps = cfg
        .max_steps
        .unwrap_or(u64::MAX)
        .min(cfg.epochs * per_epoch);
    let bar = progress_bar(total_steps, cfg.quiet);
    bar.set_position(st.global_step);
    let loss_fn = CrossEntropyLossConfig::new().init::<B>(dev0);
    let started = Instant::now();
    let mut images_done = 0u64;
    let mut saved_step = last_checkpoint.as_ref().map(|_| st.global_step);

    let save = |st: &CheckpointState, model: &M, optim: &_, saved: &mut Option<u64>| {
        if *saved == Some(st.global_step) && !st.epoch_end {
            return Ok(None);
        }
        if !all_finite(model) {
            return Err(TrainError::NonFiniteWeights {
                step: st.global_step,
                epoch: st.epoch,
                last_checkpoint: None,
            });
        }
        let dir = checkpoint::save::<B, M>(&cfg.out, st, model, optim, dev0, KEEP_CHECKPOINTS)?;
        *saved = Some(st.global_step);
        Ok::<_, TrainError>(Some(dir))
    };

    'epochs: while st.epoch < cfg.epochs {
        bar.set_prefix(format!("epoch {}/{}", st.epoch + 1, cfg.epochs));
        let epoch_start = Instant::now() - std::time::Duration::from_secs_f64(st.epoch_seconds);
        for batch in loader.epoch(st.epoch, st.batch_in_epoch as usize) {
            if cfg.max_steps.is_some_and(|m| st.global_step >= m) {
                st.epoch_seconds = epoch_start.elapsed().as_secs_f64();
                st.epoch_end = false;
                if let Some(d) = save(&st, &model, &optim, &mut saved_step)
                    .map_err(|e| fill(e, &last_checkpoint))?
                {
                    last_checkpoint = Some(d);
                }
                break 'epochs;
            }
            let t = Instant::now();
            let n = batch.labels.len();
            for (i, d) in ctx.devices.iter().enumerate() {
                B::seed(d, step_seed(cfg.seed, st.global_step, i));
            }
            let images =
                Tensor::<B, 4>::from_data(TensorData::new(batch.images, [n, 3, crop, crop]), dev0);
            let labels =
                Tensor::<B, 1, Int>::from_data(TensorData::new(batch.labels.clone(), [n]), dev0);
            let logits = model.logits(images);
            let loss = loss_fn.forward(logits.clone(), labels);
            let loss_value: f32 = loss.clone().into_scalar().elem();
            if !loss_value.is_finite() {
                bar.abandon();
                return Err(TrainError::NonFiniteLoss {
                    step: st.global_step + 1,
                    epoch: st.epoch,
                    loss: loss_value,
                    last_checkpoint,
                });
            }
            let scores: Vec<f32> = logits.into_data().to_vec().expect("logits are f32");
            st.epoch_train.add_batch(&scores, &batch.labels, classes);
            st.epoch_train.add_loss(loss_value as f64, n);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(st.lr_state.lr, model, grads);
            st.global_step += 1;
            // ReLU and max pooling can hide NaN weights from the loss for a
            // while; check the weights themselves before anything is saved.
            if !all_finite(&model) {
                bar.abandon();
                return Err(TrainError::NonFiniteWeights {
                    step: st.global_step,
                    epoch: st.epoch,
                    last_checkpoint,
                });
            }
            st.batch_in_epoch += 1;
            images_done += n as u64;
            let ips = n as f64 / t.elapsed().as_secs_f64().max(1e-9);
            log.push(MetricRecord::Step {
                epoch: st.epoch,
                step: st.global_step,
                loss: loss_value as f64,
                lr: st.lr_state.lr,
                images_per_sec: ips,
            })?;
            bar.set_message(format!("loss {loss_value:.4}"));
            bar.set_position(st.global_step);
            let at_epoch_end = st.batch_in_epoch >= per_epoch;
            if !at_epoch_end
                && cfg
                    .checkpoint_every
                    .is_some_and(|k| st.global_step % k == 0)
            {
                st.epoch_seconds = epoch_start.elapsed().as_secs_f64();
                st.epoch_end = false;
                if let Some(d) = save(&st, &model, &optim, &mut saved_step)
                    .map_err(|e| fill(e, &last_checkpoint))?
                {
                    last_checkpoint = Some(d);
                }
            }
        }

        // Epoch end: validate, adjust the learning rate, log, checkpoint.
        let lr_used = st.lr_state.lr;
        let val = validate::run(
            &model.to_grouped(dev0).valid(),
            ctx.splits.val.clone(),
            EvalSettings {
                view: EvalView::Center,
                crop,
                mean: mean_mode(cfg.augment.mean),
                scale: cfg.augment.scale,
                batch_size: cfg.val_batch_size,
                workers: cfg.workers,
            },
            dev0,
            |_| {},
        )?;
        let epochs_done = st.epoch + 1;
        let dropped = st.lr_state.epoch_end(
            &cfg.lr_schedule,
            cfg.lr,
            epochs_done,
            val.total.top1_error(),
        );
        let seconds = epoch_start.elapsed().as_secs_f64();
        let rec = MetricRecord::Epoch {
            epoch: epochs_done,
            step: st.global_step,
            train_loss: st.epoch_train.mean_loss(),
            train_top1_error: st.epoch_train.top1_error(),
            train_top5_error: st.epoch_train.top5_error(),
            val_loss: val.total.mean_loss(),
            val_top1_error: val.total.top1_error(),
            val_top5_error: val.total.top5_error(),
            lr: lr_used,
            seconds,
        };
        if !cfg.quiet {
            bar.suspend(|| {
                eprintln!(
                    "epoch {epochs_done}/{}: train loss {:.4}, top-1 err {:.1}% | val loss {:.4}, top-1 err {:.1}%, top-5 err {:.1}% | {:.0}s{}",
                    cfg.epochs,
                    st.epoch_train.mean_loss(),
                    100.0 * st.epoch_train.top1_error(),
                    val.total.mean_loss(),
                    100.0 * val.total.top1_error(),
                    100.0 * val.total.top5_error(),
                    seconds,
                    if dropped {
                        format!(", lr → {:.1e}", st.lr_state.lr)
                    } else {
                        String::new()
                    }
                )
            });
        }
        log.push(rec)?;
        log.plot(&cfg.out, cfg.quiet);
        st.epoch = epochs_done;
        st.batch_in_epoch = 0;
        st.epoch_train = TopK::default();
        st.epoch_seconds = 0.0;
        st.epoch_end = true;
        if let Some(d) =
            save(&st, &model, &optim, &mut saved_step).map_err(|e| fill(e, &last_checkpoint))?
        {
            last_checkpoint = Some(d);
        }
        st.epoch_end = false;
    }
    bar.finish_and_clear();
    Ok(TrainSummary {
        out: cfg.out.clone(),
        global_step: st.global_step,
        epochs_done: st.epoch,
        last_checkpoint,
        records: log.records,
        images_per_sec: images_done as f64 / started.elapsed().as_secs_f64().max(1e-9),
    })
}

/// Names the last good checkpoint in a non-finite-weights error.
fn fill(e: TrainError, last: &Option<PathBuf>) -> TrainError {
    match e {
        TrainError::NonFiniteWeights {
            step,
            epoch,
            last_checkpoint: None,
        } => TrainError::NonFiniteWeights {
            step,
            epoch,
            last_checkpoint: last.clone(),
        },
        e => e,
    }
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
