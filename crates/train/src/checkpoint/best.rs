//! `checkpoints/best/`: a copy of the epoch-end checkpoint with the lowest
//! val top-1 error so far (the earliest of equals), kept whatever pruning
//! removes. It is a checkpoint like the others (`evaluate --checkpoint
//! OUT/checkpoints/best`, even `--resume` from it).
//!
//! Crash safety is the step checkpoints': the copy is made complete under
//! `.tmp-best` (hard links to the saved checkpoint's files, which are never
//! rewritten in place; a copy where links are refused), fsynced, then put
//! in place by one rename, or by `renameat2(RENAME_EXCHANGE)` when a best
//! exists, so `best/` is always a whole checkpoint. A kill after an epoch
//! end's save but before `best/` follows it is repaired by
//! [`reconcile_best`] when the run resumes.

use std::fs;
use std::path::{Path, PathBuf};

use super::{
    CHECKPOINTS_DIR, CheckpointState, OPTIMIZER_FILE, STATE_FILE, ValResult, WEIGHTS_FILE, install,
};
use crate::error::{Result, TrainError};
use crate::fault;

/// Directory name of the best checkpoint inside `checkpoints/`.
pub const BEST_DIR: &str = "best";

/// The temporary the next best is assembled in (removed by pruning, like
/// every `.tmp-*`, when a kill leaves it).
const TMP_BEST: &str = ".tmp-best";

/// The step and validation result recorded in `dir/state.json`, if it is
/// readable and was written at an epoch end. Only the state is read: the
/// files' checksums are checked when the checkpoint is used.
fn recorded(dir: &Path) -> Option<(u64, ValResult)> {
    let text = fs::read_to_string(dir.join(STATE_FILE)).ok()?;
    let st: CheckpointState = serde_json::from_str(&text).ok()?;
    Some((st.global_step, st.val?))
}

/// Whether `a` is a better best than `b`: lower error, then earlier step.
fn better(a: (u64, ValResult), b: (u64, ValResult)) -> bool {
    (a.1.top1_error, a.0) < (b.1.top1_error, b.0)
}

/// After the epoch-end checkpoint `saved` (validated as `val`) is on disk:
/// makes it `best/` if its val top-1 error is below the current best's (or
/// there is none). Returns whether it did.
pub fn update_best(out: &Path, saved: &Path, step: u64, val: ValResult) -> Result<bool> {
    let root = out.join(CHECKPOINTS_DIR);
    if let Some(current) = recorded(&root.join(BEST_DIR))
        && !better((step, val), current)
    {
        return Ok(false);
    }
    install_best(&root, saved)?;
    Ok(true)
}

/// Makes `best/` right for a run that continues from step `upto` (0: a
/// fresh run): the best of the epoch-end checkpoints at or before `upto`
/// that are on disk — the current `best/` and the kept `step-*` ones. A
/// `best/` from after `upto` (a future the resumed run discards) is
/// replaced, or removed when no candidate remains.
pub fn reconcile_best(out: &Path, upto: u64) -> Result<()> {
    let root = out.join(CHECKPOINTS_DIR);
    if !root.is_dir() {
        return Ok(());
    }
    let best_dir = root.join(BEST_DIR);
    let incumbent = recorded(&best_dir).filter(|(step, _)| *step <= upto);
    let mut winner: Option<((u64, ValResult), PathBuf)> = None;
    for entry in fs::read_dir(&root).map_err(TrainError::io(&root))? {
        let entry = entry.map_err(TrainError::io(&root))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(step) = name
            .strip_prefix("step-")
            .and_then(|s| s.parse::<u64>().ok())
        else {
            continue;
        };
        if step > upto {
            continue;
        }
        if let Some(rec) = recorded(&entry.path())
            && winner.as_ref().is_none_or(|(w, _)| better(rec, *w))
        {
            winner = Some((rec, entry.path()));
        }
    }
    match (incumbent, winner) {
        // The incumbent wins ties: it is the same checkpoint or an equal,
        // earlier one.
        (Some(inc), Some((w, _))) if !better(w, inc) => Ok(()),
        (Some(_), None) => Ok(()),
        (_, Some((_, dir))) => install_best(&root, &dir),
        (None, None) => remove_best(&root),
    }
}

/// Copies the checkpoint `from` to `root/best` as one atomic step.
fn install_best(root: &Path, from: &Path) -> Result<()> {
    let tmp = root.join(TMP_BEST);
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(TrainError::io(&tmp))?;
    }
    fs::create_dir_all(&tmp).map_err(TrainError::io(&tmp))?;
    fault::point("best.begin");
    for f in [WEIGHTS_FILE, OPTIMIZER_FILE, STATE_FILE] {
        let (src, dst) = (from.join(f), tmp.join(f));
        // Hard links cost no space; a file system without them gets a copy.
        if fs::hard_link(&src, &dst).is_err() {
            fs::copy(&src, &dst).map_err(TrainError::io(&src))?;
        }
    }
    fault::point("best.linked");
    atomic_io::sync_files_in(&tmp)?;
    atomic_io::sync_dir(&tmp)?;
    install(&tmp, &root.join(BEST_DIR), "best.exchanged")?;
    atomic_io::sync_dir(root)?;
    fault::point("best.installed");
    Ok(())
}

/// Removes `root/best`: renamed away first, so no reader ever finds half
/// of it.
fn remove_best(root: &Path) -> Result<()> {
    let best = root.join(BEST_DIR);
    if !best.exists() {
        return Ok(());
    }
    let tmp = root.join(TMP_BEST);
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(TrainError::io(&tmp))?;
    }
    fs::rename(&best, &tmp).map_err(TrainError::io(&best))?;
    atomic_io::sync_dir(root)?;
    fs::remove_dir_all(&tmp).map_err(TrainError::io(&tmp))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checkpoint::{CHECKPOINT_FORMAT, DatasetId, checkpoint_name};
    use crate::config::TrainConfig;
    use crate::metrics::TopK;
    use crate::schedule::LrState;

    /// A checkpoint directory at `step` whose weights file holds `tag`,
    /// validated with top-1 error `err` when given (an epoch end).
    fn fake(out: &Path, step: u64, err: Option<f64>, tag: &str) -> PathBuf {
        let dir = out.join(CHECKPOINTS_DIR).join(checkpoint_name(step));
        fs::create_dir_all(&dir).unwrap();
        let cfg = TrainConfig::paper("data".into(), out.to_path_buf());
        let st = CheckpointState {
            format: CHECKPOINT_FORMAT,
            model_config: cfg.model_config(10),
            config: cfg,
            dataset: DatasetId {
                manifest_sha256: "0".into(),
                num_classes: 10,
                train_images: 1,
                val_images: 1,
            },
            epoch: 0,
            batch_in_epoch: 0,
            global_step: step,
            lr_state: LrState::new(0.01),
            epoch_train: TopK::default(),
            epoch_seconds: 0.0,
            param_ids: Vec::new(),
            epoch_end: err.is_some(),
            val: err.map(|e| ValResult {
                loss: 1.0,
                top1_error: e,
                top5_error: e / 2.0,
            }),
            files: Default::default(),
        };
        fs::write(dir.join(STATE_FILE), serde_json::to_vec(&st).unwrap()).unwrap();
        fs::write(dir.join(WEIGHTS_FILE), tag).unwrap();
        fs::write(dir.join(OPTIMIZER_FILE), tag).unwrap();
        dir
    }

    fn val(e: f64) -> ValResult {
        ValResult {
            loss: 1.0,
            top1_error: e,
            top5_error: e / 2.0,
        }
    }

    /// The tag in `best/`'s weights, or None without a best.
    fn best_tag(out: &Path) -> Option<String> {
        fs::read_to_string(out.join(CHECKPOINTS_DIR).join(BEST_DIR).join(WEIGHTS_FILE)).ok()
    }

    /// Names inside `checkpoints/`, sorted.
    fn names(out: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(out.join(CHECKPOINTS_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn lower_error_replaces_the_best_ties_and_worse_do_not() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path();
        let a = fake(out, 3, Some(0.5), "a");
        assert!(update_best(out, &a, 3, val(0.5)).unwrap());
        assert_eq!(best_tag(out).as_deref(), Some("a"));
        let b = fake(out, 6, Some(0.5), "b");
        assert!(
            !update_best(out, &b, 6, val(0.5)).unwrap(),
            "a tie keeps the earlier"
        );
        let c = fake(out, 9, Some(0.25), "c");
        // Replaced through the exchange: no temporary remains.
        assert!(update_best(out, &c, 9, val(0.25)).unwrap());
        assert_eq!(best_tag(out).as_deref(), Some("c"));
        let d = fake(out, 12, Some(0.75), "d");
        assert!(!update_best(out, &d, 12, val(0.75)).unwrap());
        assert_eq!(best_tag(out).as_deref(), Some("c"));
        assert_eq!(
            names(out),
            [
                "best",
                "step-00000003",
                "step-00000006",
                "step-00000009",
                "step-00000012"
            ]
        );
        // best/ outlives its source's pruning (hard links keep the data).
        fs::remove_dir_all(&c).unwrap();
        assert_eq!(best_tag(out).as_deref(), Some("c"));
        let st = recorded(&out.join(CHECKPOINTS_DIR).join(BEST_DIR)).unwrap();
        assert_eq!(st, (9, val(0.25)));
    }

    #[test]
    fn reconcile_installs_a_best_a_kill_left_unmade() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path();
        let a = fake(out, 3, Some(0.5), "a");
        update_best(out, &a, 3, val(0.5)).unwrap();
        // Epoch 2 ended better, saved, killed before best/ followed; a
        // mid-epoch checkpoint after it records no validation.
        fake(out, 6, Some(0.25), "b");
        fake(out, 8, None, "mid");
        reconcile_best(out, 8).unwrap();
        assert_eq!(best_tag(out).as_deref(), Some("b"));
        // Nothing to change: reconciling again keeps it.
        reconcile_best(out, 8).unwrap();
        assert_eq!(best_tag(out).as_deref(), Some("b"));
    }

    #[test]
    fn reconcile_drops_a_best_from_a_discarded_future() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path();
        fake(out, 3, Some(0.5), "a");
        let c = fake(out, 9, Some(0.25), "c");
        update_best(out, &c, 9, val(0.25)).unwrap();
        // Resumed from step 6: step 9 has not happened on this trajectory.
        reconcile_best(out, 6).unwrap();
        assert_eq!(best_tag(out).as_deref(), Some("a"));
        // From step 2: no epoch end before it at all.
        reconcile_best(out, 2).unwrap();
        assert_eq!(best_tag(out), None);
        assert!(
            !names(out)
                .iter()
                .any(|n| n.starts_with(".tmp") || n == "best")
        );
        // A fresh run (step 0) in a directory without checkpoints is fine.
        let empty = tempfile::tempdir().unwrap();
        reconcile_best(empty.path(), 0).unwrap();
    }

    #[test]
    fn a_stale_temporary_does_not_block_the_next_best() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path();
        let a = fake(out, 3, Some(0.5), "a");
        let stale = out.join(CHECKPOINTS_DIR).join(TMP_BEST);
        fs::create_dir_all(&stale).unwrap();
        fs::write(stale.join(WEIGHTS_FILE), "torn").unwrap();
        update_best(out, &a, 3, val(0.5)).unwrap();
        assert_eq!(best_tag(out).as_deref(), Some("a"));
        assert!(!stale.exists());
    }
}
