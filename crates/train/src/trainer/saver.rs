//! Checkpointing inside the loop: when to save, `best/` after an epoch
//! end, and which checkpoint an error should name as the last good one.

use std::path::{Path, PathBuf};

use burn::tensor::backend::AutodiffBackend;

use crate::checkpoint::{self, CheckpointState};
use crate::error::{Result, TrainError};
use crate::net::{Classifier, Optim, all_finite};

use super::KEEP_CHECKPOINTS;

/// Saves checkpoints of one run and remembers the newest complete one.
pub(super) struct Saver {
    out: PathBuf,
    last: Option<PathBuf>,
    saved_step: Option<u64>,
}

impl Saver {
    /// A saver for `out`, whose newest checkpoint is `resumed_from` (at
    /// step `step`) when the run continues one.
    pub(super) fn new(out: &Path, resumed_from: Option<(PathBuf, u64)>) -> Self {
        let (last, saved_step) = match resumed_from {
            Some((dir, step)) => (Some(dir), Some(step)),
            None => (None, None),
        };
        Self {
            out: out.to_path_buf(),
            last,
            saved_step,
        }
    }

    /// The newest complete checkpoint.
    pub(super) fn last(&self) -> Option<&PathBuf> {
        self.last.as_ref()
    }

    /// Saves `st` unless this step is already on disk (an epoch end always
    /// saves: it carries the validation result and the schedule's decision),
    /// and makes an epoch end's checkpoint `best/` when its val top-1 error
    /// is the lowest yet. Returns whether a checkpoint was written. Weights
    /// that are not finite are never saved; a failed save names the last
    /// good checkpoint.
    pub(super) fn save<B: AutodiffBackend, M: Classifier<B>>(
        &mut self,
        st: &CheckpointState,
        model: &M,
        optim: &Optim<B, M>,
        device: &B::Device,
    ) -> Result<bool> {
        if self.saved_step == Some(st.global_step) && !st.epoch_end {
            return Ok(false);
        }
        if !all_finite(model) {
            return Err(TrainError::NonFiniteWeights {
                step: st.global_step,
                epoch: st.epoch,
                last_checkpoint: self.last.clone(),
            });
        }
        let dir = checkpoint::save::<B, M>(&self.out, st, model, optim, device, KEEP_CHECKPOINTS)
            .map_err(|e| TrainError::CheckpointSave {
            step: st.global_step,
            source: Box::new(e),
            last_checkpoint: self.last.clone(),
        })?;
        self.last = Some(dir.clone());
        self.saved_step = Some(st.global_step);
        if let Some(val) = st.val.filter(|_| st.epoch_end) {
            checkpoint::update_best(&self.out, &dir, st.global_step, val).map_err(|e| {
                TrainError::CheckpointSave {
                    step: st.global_step,
                    source: Box::new(e),
                    last_checkpoint: Some(dir),
                }
            })?;
        }
        Ok(true)
    }
}
