//! What protects a run's files: the output-directory lock, checkpoint
//! checksums (and the older checkpoint an error points to), a failed save
//! naming the last good checkpoint, a resume with nothing to do, and
//! evaluation checking its outputs before the long pass.

use crate::common;

use std::path::{Path, PathBuf};

use atomic_io::DirLock;
use train::checkpoint::{self, OPTIMIZER_FILE, WEIGHTS_FILE};
use train::config::{ModelKind, TrainConfig};
use train::{EvalConfig, TrainError, WeightsSource, train};

fn config(data: &Path, out: &Path) -> TrainConfig {
    let mut c = TrainConfig::paper(data.to_path_buf(), out.to_path_buf());
    c.model = ModelKind::Tiny;
    c.batch_size = 8;
    c.val_batch_size = 16;
    c.epochs = 2;
    c.workers = 2;
    c.checkpoint_every = Some(1);
    c.quiet = true;
    c
}

fn dataset(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    common::write_dataset(&data, 4, 6, 2, 72);
    data
}

#[test]
fn a_locked_output_directory_is_refused_naming_the_holder() {
    let _g = common::lock();
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let out = dir.path().join("run");
    std::fs::create_dir_all(&out).unwrap();
    let held = DirLock::acquire(&out, "train").unwrap();
    let mut cfg = config(&data, &out);
    cfg.max_steps = Some(1);
    let err = train(&cfg, None).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, TrainError::Locked(_)), "{msg}");
    assert!(
        msg.contains(&format!("pid {}", std::process::id())) && msg.contains("run"),
        "{msg}"
    );
    assert!(!out.join("checkpoints").exists(), "nothing was written");
    drop(held);
    assert_eq!(train(&cfg, None).unwrap().global_step, 1);

    // An --out that is a file.
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let msg = train(&config(&data, &file), None).unwrap_err().to_string();
    assert!(msg.contains("a-file is a file, not a directory"), "{msg}");
}

#[test]
fn a_damaged_checkpoint_is_caught_and_points_to_the_older_one() {
    let _g = common::lock();
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let out = dir.path().join("run");
    let mut cfg = config(&data, &out);
    cfg.max_steps = Some(2);
    train(&cfg, None).unwrap();
    let newest = checkpoint::find(&out).unwrap();
    assert_eq!(newest.state.global_step, 2);

    // Truncated weights.
    let w = newest.dir.join(WEIGHTS_FILE);
    let bytes = std::fs::read(&w).unwrap();
    std::fs::write(&w, &bytes[..bytes.len() / 2]).unwrap();
    cfg.max_steps = Some(3);
    let msg = train(&cfg, Some(&out)).unwrap_err().to_string();
    assert!(
        msg.contains("step-00000002/model.safetensors") && msg.contains("SHA-256"),
        "{msg}"
    );
    assert!(
        msg.contains("an older checkpoint remains: resume with --resume")
            && msg.contains("step-00000001"),
        "{msg}"
    );
    std::fs::write(&w, &bytes).unwrap();

    // One flipped byte in the optimizer state.
    let o = newest.dir.join(OPTIMIZER_FILE);
    let mut bytes = std::fs::read(&o).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&o, &bytes).unwrap();
    let msg = train(&cfg, Some(&out)).unwrap_err().to_string();
    assert!(
        msg.contains("optimizer.mpk") && msg.contains("SHA-256"),
        "{msg}"
    );
    // Evaluation reads through the same check.
    let eval = EvalConfig::new(data.clone(), WeightsSource::Checkpoint(out.clone()));
    let msg = train::evaluate(&eval).unwrap_err().to_string();
    assert!(msg.contains("optimizer.mpk"), "{msg}");

    // The older checkpoint it names continues the run.
    let older = out.join("checkpoints").join("step-00000001");
    assert_eq!(train(&cfg, Some(&older)).unwrap().global_step, 3);
}

#[test]
fn a_failed_save_names_the_last_good_checkpoint() {
    let _g = common::lock();
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let out = dir.path().join("run");
    let mut cfg = config(&data, &out);
    cfg.max_steps = Some(1);
    train(&cfg, None).unwrap();
    // A file where the next save's temporary directory goes: the save
    // fails as on a full or read-only disk.
    std::fs::write(out.join("checkpoints/.tmp-step-00000002"), b"in the way").unwrap();
    cfg.max_steps = Some(2);
    let err = train(&cfg, Some(&out)).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, TrainError::CheckpointSave { step: 2, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("the last good checkpoint is") && msg.contains("step-00000001"),
        "{msg}"
    );
    assert_eq!(checkpoint::find(&out).unwrap().state.global_step, 1);
}

#[test]
fn resuming_a_finished_run_says_there_is_nothing_to_do() {
    let _g = common::lock();
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let out = dir.path().join("run");
    let cfg = config(&data, &out);
    let done = train(&cfg, None).unwrap();
    assert_eq!((done.epochs_done, done.steps_run), (2, 6));
    let again = train(&cfg, Some(&out)).unwrap();
    assert_eq!(again.steps_run, 0);
    assert_eq!(again.global_step, 6);
    assert_eq!(checkpoint::find(&out).unwrap().state.global_step, 6);
}

#[test]
fn evaluation_checks_its_outputs_before_the_long_pass() {
    let dir = tempfile::tempdir().unwrap();
    // No data and no weights: were the val set read first, the error would
    // name those instead.
    let absent = dir.path().join("absent");
    let mut cfg = EvalConfig::new(absent.clone(), WeightsSource::Checkpoint(absent.clone()));
    cfg.csv = Some(dir.path().join("no/such/dir/per_class.csv"));
    let msg = train::evaluate(&cfg).unwrap_err().to_string();
    assert!(msg.contains("no/such/dir/.per_class.csv.tmp"), "{msg}");

    cfg.csv = None;
    cfg.batch_size = 0;
    let msg = train::evaluate(&cfg).unwrap_err().to_string();
    assert!(msg.contains("--batch-size must be positive"), "{msg}");
}
