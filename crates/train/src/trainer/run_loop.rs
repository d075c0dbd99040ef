//! The loop itself, in the pieces a reader checks one at a time: one SGD
//! step, one epoch, the epoch end (validation, schedule, log) and the
//! checkpoints between them ([`Saver`]).

use std::time::{Duration, Instant};

use burn::module::AutodiffModule;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{ElementConversion, Int, Tensor, TensorData};
use indicatif::ProgressBar;

use crate::checkpoint::{self, CHECKPOINT_FORMAT, Checkpoint, CheckpointState, ValResult};
use crate::data::{augment_config, mean_mode};
use crate::error::{Result, TrainError};
use crate::fault;
use crate::loader::{Batch, EvalView, TrainLoader};
use crate::metrics::{MetricRecord, TopK};
use crate::net::{Classifier, Optim, all_finite, sgd};
use crate::run_log::{MetricsLog, progress_bar};
use crate::schedule::LrState;
use crate::validate::{self, EvalSettings};

use super::saver::Saver;
use super::step_log::{Position, StepLog};
use super::{Ctx, KEEP_CHECKPOINTS, TrainSummary, step_seed};

/// Trains `model` from `ckpt` (or from scratch) to the configured end.
pub(super) fn train_loop<B: AutodiffBackend, M: Classifier<B>>(
    ctx: &Ctx<'_, B>,
    mut model: M,
    ckpt: Option<Checkpoint>,
) -> Result<TrainSummary> {
    let mut run = Run::start(ctx, &model, ckpt)?;
    while run.st.epoch < ctx.cfg.epochs {
        let end;
        (model, end) = run.epoch(model)?;
        match end {
            EpochEnd::Finished => run.end_epoch(&model)?,
            EpochEnd::Stopped => break,
        }
    }
    Ok(run.finish())
}

/// How an epoch's batches ended.
enum EpochEnd {
    /// Every batch was trained on.
    Finished,
    /// `--max-steps` was reached (a checkpoint is on disk).
    Stopped,
}

/// One invocation's training state besides the model (which each step
/// consumes and returns, so the optimizer may update it in place).
struct Run<'c, 'a, B: AutodiffBackend, M: Classifier<B>> {
    ctx: &'c Ctx<'a, B>,
    optim: Optim<B, M>,
    st: CheckpointState,
    log: MetricsLog,
    saver: Saver,
    loader: TrainLoader,
    bar: ProgressBar,
    step_log: StepLog,
    loss_fn: CrossEntropyLoss<B>,
    per_epoch: u64,
    total_steps: u64,
    steps_run: u64,
    images_done: u64,
    started: Instant,
    /// When the current epoch began (earlier by the seconds a resumed
    /// checkpoint had already spent in it).
    epoch_start: Instant,
}

impl<'c, 'a, B: AutodiffBackend, M: Classifier<B>> Run<'c, 'a, B, M> {
    fn start(ctx: &'c Ctx<'a, B>, model: &M, ckpt: Option<Checkpoint>) -> Result<Self> {
        let cfg = ctx.cfg;
        let dev0 = &ctx.devices[0];
        let mut optim = sgd::<B, M>(cfg.momentum, cfg.weight_decay);
        let (st, saver) = match ckpt {
            Some(c) => {
                optim = c.load_optimizer(model, optim, dev0)?;
                checkpoint::tidy(&cfg.out, KEEP_CHECKPOINTS)?;
                let saver = Saver::new(&cfg.out, Some((c.dir.clone(), c.state.global_step)));
                let mut st = c.state;
                st.config = cfg.clone();
                (st, saver)
            }
            None => (fresh_state(ctx), Saver::new(&cfg.out, None)),
        };
        // best/ must come from this trajectory's epoch ends up to here.
        checkpoint::reconcile_best(&cfg.out, st.global_step)?;
        let log = MetricsLog::open(&cfg.out, st.global_step)?;
        let loader = TrainLoader::new(
            ctx.splits.train.clone(),
            augment_config(&cfg.augment, ctx.model_cfg.input_size()),
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
        Ok(Self {
            ctx,
            optim,
            st,
            log,
            saver,
            loader,
            bar,
            step_log: StepLog::new(cfg.log_every, cfg.quiet),
            loss_fn: CrossEntropyLossConfig::new().init::<B>(dev0),
            per_epoch,
            total_steps,
            steps_run: 0,
            images_done: 0,
            started: Instant::now(),
            epoch_start: Instant::now(),
        })
    }

    /// Trains on the rest of the current epoch's batches.
    fn epoch(&mut self, mut model: M) -> Result<(M, EpochEnd)> {
        let cfg = self.ctx.cfg;
        self.bar
            .set_prefix(format!("epoch {}/{}", self.st.epoch + 1, cfg.epochs));
        self.epoch_start = Instant::now() - Duration::from_secs_f64(self.st.epoch_seconds);
        let mut batches = self
            .loader
            .epoch(self.st.epoch, self.st.batch_in_epoch as usize);
        loop {
            // The time the loader keeps the step waiting, for the log line.
            let asked = Instant::now();
            let Some(batch) = batches.next() else { break };
            let wait = asked.elapsed();
            if cfg.max_steps.is_some_and(|m| self.st.global_step >= m) {
                self.st.epoch_seconds = self.epoch_start.elapsed().as_secs_f64();
                self.save(&model)?;
                return Ok((model, EpochEnd::Stopped));
            }
            model = self.step(model, batch, wait)?;
            let at_epoch_end = self.st.batch_in_epoch >= self.per_epoch;
            if !at_epoch_end
                && cfg
                    .checkpoint_every
                    .is_some_and(|k| self.st.global_step.is_multiple_of(k))
            {
                self.st.epoch_seconds = self.epoch_start.elapsed().as_secs_f64();
                self.save(&model)?;
            }
        }
        Ok((model, EpochEnd::Finished))
    }

    /// One SGD step on `batch` (which took `wait` to arrive), its metrics
    /// and its log lines.
    fn step(&mut self, model: M, batch: Batch, wait: Duration) -> Result<M> {
        let (cfg, st) = (self.ctx.cfg, &mut self.st);
        let dev0 = &self.ctx.devices[0];
        let crop = self.ctx.model_cfg.input_size();
        let t = Instant::now();
        let n = batch.labels.len();
        for (i, d) in self.ctx.devices.iter().enumerate() {
            B::seed(d, step_seed(cfg.seed, st.global_step, i));
        }
        let images =
            Tensor::<B, 4>::from_data(TensorData::new(batch.images, [n, 3, crop, crop]), dev0);
        let labels =
            Tensor::<B, 1, Int>::from_data(TensorData::new(batch.labels.clone(), [n]), dev0);
        let logits = model.logits(images);
        let loss = self.loss_fn.forward(logits.clone(), labels);
        let loss_value: f32 = loss.clone().into_scalar().elem();
        if !loss_value.is_finite() {
            self.bar.abandon();
            return Err(TrainError::NonFiniteLoss {
                step: st.global_step + 1,
                epoch: st.epoch,
                loss: loss_value,
                last_checkpoint: self.saver.last().cloned(),
            });
        }
        let scores: Vec<f32> = logits.into_data().to_vec().expect("logits are f32");
        st.epoch_train
            .add_batch(&scores, &batch.labels, self.ctx.splits.id.num_classes);
        st.epoch_train.add_loss(loss_value as f64, n);
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let model = self.optim.step(st.lr_state.lr, model, grads);
        st.global_step += 1;
        // The state now describes a position inside an epoch, whatever the
        // checkpoint it resumed from was.
        st.epoch_end = false;
        st.val = None;
        // ReLU and max pooling can hide NaN weights from the loss for a
        // while; check the weights themselves before anything is saved.
        if !all_finite(&model) {
            self.bar.abandon();
            return Err(TrainError::NonFiniteWeights {
                step: st.global_step,
                epoch: st.epoch,
                last_checkpoint: self.saver.last().cloned(),
            });
        }
        st.batch_in_epoch += 1;
        self.steps_run += 1;
        self.images_done += n as u64;
        let compute = t.elapsed();
        let ips = n as f64 / compute.as_secs_f64().max(1e-9);
        self.log.push(MetricRecord::Step {
            epoch: st.epoch,
            step: st.global_step,
            loss: loss_value as f64,
            lr: st.lr_state.lr,
            images_per_sec: ips,
        })?;
        fault::point("step.logged");
        let at = Position {
            step: st.global_step,
            total_steps: self.total_steps,
            epoch: st.epoch,
            epochs: cfg.epochs,
            loss: loss_value as f64,
            lr: st.lr_state.lr,
        };
        if let Some(line) = self.step_log.step(&at, wait, compute, n as u64) {
            self.bar.suspend(|| println!("{line}"));
        }
        self.bar.set_message(format!("loss {loss_value:.4}"));
        self.bar.set_position(st.global_step);
        Ok(model)
    }

    /// Validates, steps the schedule, logs the epoch, checkpoints.
    fn end_epoch(&mut self, model: &M) -> Result<()> {
        let cfg = self.ctx.cfg;
        let dev0 = &self.ctx.devices[0];
        let lr_used = self.st.lr_state.lr;
        let val = validate::run(
            &model.to_grouped(dev0).valid(),
            self.ctx.splits.val.clone(),
            EvalSettings {
                view: EvalView::Center,
                crop: self.ctx.model_cfg.input_size(),
                mean: mean_mode(cfg.augment.mean),
                scale: cfg.augment.scale,
                batch_size: cfg.val_batch_size,
                workers: cfg.workers,
            },
            dev0,
            |_| {},
        )?;
        let st = &mut self.st;
        let epochs_done = st.epoch + 1;
        let dropped = st.lr_state.epoch_end(
            &cfg.lr_schedule,
            cfg.lr,
            epochs_done,
            val.total.top1_error(),
        );
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
            // Validation included.
            seconds: self.epoch_start.elapsed().as_secs_f64(),
        };
        if !cfg.quiet {
            let line = epoch_line(&rec, cfg.epochs, dropped.then_some(st.lr_state.lr));
            self.bar.suspend(|| eprintln!("{line}"));
        }
        self.log.push(rec)?;
        fault::point("epoch.logged");
        st.epoch = epochs_done;
        st.batch_in_epoch = 0;
        st.epoch_train = TopK::default();
        st.epoch_seconds = 0.0;
        st.epoch_end = true;
        st.val = Some(ValResult {
            loss: val.total.mean_loss(),
            top1_error: val.total.top1_error(),
            top5_error: val.total.top5_error(),
        });
        let saved = self.save(model);
        self.st.epoch_end = false;
        self.st.val = None;
        saved
    }

    /// Checkpoints the current state and redraws the plot beside it.
    fn save(&mut self, model: &M) -> Result<()> {
        let dev0 = &self.ctx.devices[0];
        let saved = self
            .saver
            .save::<B, M>(&self.st, model, &self.optim, dev0)
            .inspect_err(|_| self.bar.abandon())?;
        if saved {
            self.log.plot(&self.ctx.cfg.out, self.ctx.cfg.quiet);
        }
        Ok(())
    }

    fn finish(self) -> TrainSummary {
        self.bar.finish_and_clear();
        TrainSummary {
            out: self.ctx.cfg.out.clone(),
            global_step: self.st.global_step,
            epochs_done: self.st.epoch,
            steps_run: self.steps_run,
            last_checkpoint: self.saver.last().cloned(),
            best_checkpoint: best_dir(&self.ctx.cfg.out),
            records: self.log.records,
            images_per_sec: self.images_done as f64
                / self.started.elapsed().as_secs_f64().max(1e-9),
        }
    }
}

/// The state of a run that has not taken a step.
fn fresh_state<B: AutodiffBackend>(ctx: &Ctx<'_, B>) -> CheckpointState {
    CheckpointState {
        format: CHECKPOINT_FORMAT,
        config: ctx.cfg.clone(),
        model_config: ctx.model_cfg.clone(),
        dataset: ctx.splits.id.clone(),
        epoch: 0,
        batch_in_epoch: 0,
        global_step: 0,
        lr_state: LrState::new(ctx.cfg.lr),
        epoch_train: TopK::default(),
        epoch_seconds: 0.0,
        param_ids: Vec::new(),
        epoch_end: false,
        val: None,
        files: Default::default(),
    }
}

/// `OUT/checkpoints/best`, when the run has one.
fn best_dir(out: &std::path::Path) -> Option<std::path::PathBuf> {
    let dir = out
        .join(checkpoint::CHECKPOINTS_DIR)
        .join(checkpoint::BEST_DIR);
    dir.join(checkpoint::STATE_FILE).is_file().then_some(dir)
}

/// The line printed at an epoch end.
fn epoch_line(rec: &MetricRecord, epochs: u64, new_lr: Option<f64>) -> String {
    let MetricRecord::Epoch {
        epoch,
        train_loss,
        train_top1_error,
        val_loss,
        val_top1_error,
        val_top5_error,
        seconds,
        ..
    } = rec
    else {
        return String::new();
    };
    format!(
        "epoch {epoch}/{epochs}: train loss {train_loss:.4}, top-1 err {:.1}% | val loss {val_loss:.4}, top-1 err {:.1}%, top-5 err {:.1}% | {seconds:.0}s{}",
        100.0 * train_top1_error,
        100.0 * val_top1_error,
        100.0 * val_top5_error,
        new_lr.map_or_else(String::new, |lr| format!(", lr → {lr:.1e}")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_line_reads_as_before() {
        let rec = MetricRecord::Epoch {
            epoch: 2,
            step: 30,
            train_loss: 2.43384,
            train_top1_error: 0.919,
            train_top5_error: 0.5,
            val_loss: 2.36194,
            val_top1_error: 0.9,
            val_top5_error: 0.5,
            lr: 0.005,
            seconds: 14.2,
        };
        assert_eq!(
            epoch_line(&rec, 2, None),
            "epoch 2/2: train loss 2.4338, top-1 err 91.9% | val loss 2.3619, top-1 err 90.0%, top-5 err 50.0% | 14s"
        );
        assert!(epoch_line(&rec, 2, Some(5e-4)).ends_with(", lr → 5.0e-4"));
    }
}
