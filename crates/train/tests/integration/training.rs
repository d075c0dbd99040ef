//! Training end to end on a tiny written dataset: exact resume, checkpoint
//! errors and layout, the non-finite-loss stop, the two-device split.

use crate::common;

use std::path::{Path, PathBuf};

use train::checkpoint::{self, WEIGHTS_FILE};
use train::config::{ModelKind, TrainConfig};
use train::metrics::MetricRecord;
use train::{LrSchedule, TrainError, train};

fn tiny_config(data: &Path, out: &Path) -> TrainConfig {
    let mut c = TrainConfig::paper(data.to_path_buf(), out.to_path_buf());
    c.model = ModelKind::Tiny;
    c.batch_size = 8;
    c.val_batch_size = 16;
    c.epochs = 3;
    c.workers = 2;
    c.lr_schedule = LrSchedule::Step {
        milestones: vec![1],
    };
    c.quiet = true;
    c
}

fn dataset(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    // 4 classes × 6 = 24 training images → 3 batches of 8 per epoch.
    common::write_dataset(&data, 4, 6, 2, 72);
    data
}

fn weights(run: &Path) -> Vec<u8> {
    let ck = checkpoint::find(run).unwrap();
    std::fs::read(ck.dir.join(WEIGHTS_FILE)).unwrap()
}

/// Per-step losses as the f32 values training computed (the f64 in the
/// JSON log is their widening; serde_json may round its last bit).
fn step_losses(s: &train::TrainSummary) -> Vec<(u64, f32)> {
    s.records
        .iter()
        .filter_map(|r| match r {
            MetricRecord::Step { step, loss, .. } => Some((*step, *loss as f32)),
            _ => None,
        })
        .collect()
}

#[test]
fn stopping_and_resuming_gives_bitwise_identical_weights() {
    let _g = common::lock();
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());

    // 8 steps straight: crosses two epoch ends (validation, an LR drop).
    let straight = dir.path().join("straight");
    let mut cfg = tiny_config(&data, &straight);
    cfg.max_steps = Some(8);
    let a = train(&cfg, None).unwrap();
    assert_eq!(a.global_step, 8);

    // 4 steps (mid-epoch), stop, resume for 4 more.
    let split_run = dir.path().join("resumed");
    let mut cfg = tiny_config(&data, &split_run);
    cfg.max_steps = Some(4);
    let b1 = train(&cfg, None).unwrap();
    assert_eq!(b1.global_step, 4);
    let ck = checkpoint::find(&split_run).unwrap();
    assert_eq!((ck.state.epoch, ck.state.batch_in_epoch), (1, 1));
    cfg.max_steps = Some(8);
    let b2 = train(&cfg, Some(&split_run)).unwrap();
    assert_eq!(b2.global_step, 8);

    assert_eq!(step_losses(&a), step_losses(&b2), "per-step losses differ");
    assert!(
        weights(&straight) == weights(&split_run),
        "weights after resume differ from the straight run"
    );
    // The optimizer state went through the checkpoint too: one more step
    // from each gives the same weights again.
    let mut cfg_a = tiny_config(&data, &straight);
    cfg_a.max_steps = Some(9);
    let mut cfg_b = tiny_config(&data, &split_run);
    cfg_b.max_steps = Some(9);
    train(&cfg_a, Some(&straight)).unwrap();
    train(&cfg_b, Some(&split_run)).unwrap();
    assert!(weights(&straight) == weights(&split_run));
}

#[test]
fn resume_rejects_other_config_other_data_and_broken_checkpoints() {
    let _g = common::lock();
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let run = dir.path().join("run");
    let mut cfg = tiny_config(&data, &run);
    cfg.max_steps = Some(2);
    cfg.checkpoint_every = Some(1);
    train(&cfg, None).unwrap();

    // Starting afresh into a used directory is refused.
    let err = train(&cfg, None).unwrap_err();
    assert!(err.to_string().contains("--resume"), "{err}");

    // Another seed changes the trajectory.
    let mut other = cfg.clone();
    other.seed = 99;
    other.max_steps = Some(3);
    match train(&other, Some(&run)).unwrap_err() {
        TrainError::ConfigMismatch { field, .. } => assert_eq!(field, "seed"),
        e => panic!("expected a config mismatch, got {e}"),
    }
    let mut other = cfg.clone();
    other.batch_size = 4;
    let msg = train(&other, Some(&run)).unwrap_err().to_string();
    assert!(
        msg.contains("batch_size") && msg.contains("state.json"),
        "{msg}"
    );

    // Other data with the same shape.
    let data2 = dir.path().join("data2");
    common::write_dataset(&data2, 4, 7, 2, 72);
    let mut other = cfg.clone();
    other.data = data2;
    other.max_steps = Some(3);
    assert!(matches!(
        train(&other, Some(&run)).unwrap_err(),
        TrainError::DatasetMismatch { .. }
    ));

    // Not a checkpoint at all.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let msg = train(&cfg, Some(&empty)).unwrap_err().to_string();
    assert!(msg.contains("no checkpoint here"), "{msg}");

    // A checkpoint missing its optimizer state.
    let ck = checkpoint::find(&run).unwrap();
    std::fs::remove_file(ck.dir.join(checkpoint::OPTIMIZER_FILE)).unwrap();
    let msg = train(&cfg, Some(&ck.dir)).unwrap_err().to_string();
    assert!(
        msg.contains("optimizer.mpk") && msg.contains("missing"),
        "{msg}"
    );

    // A garbled state file.
    std::fs::write(ck.dir.join(checkpoint::STATE_FILE), b"{ not json").unwrap();
    let msg = train(&cfg, Some(&ck.dir)).unwrap_err().to_string();
    assert!(msg.contains("corrupt checkpoint"), "{msg}");
}

#[test]
fn checkpoints_are_complete_and_latest_points_at_the_newest() {
    let _g = common::lock();
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let run = dir.path().join("run");
    let mut cfg = tiny_config(&data, &run);
    cfg.max_steps = Some(5);
    cfg.checkpoint_every = Some(1);
    train(&cfg, None).unwrap();
    let root = run.join(checkpoint::CHECKPOINTS_DIR);
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // Only the newest three are kept besides best/ (epoch 1's end, step
    // 3), no temporaries are left behind.
    assert_eq!(
        names,
        vec![
            "best",
            "latest",
            "step-00000003",
            "step-00000004",
            "step-00000005"
        ]
    );
    let latest = std::fs::read_to_string(root.join("latest")).unwrap();
    assert_eq!(latest.trim(), "step-00000005");
    for n in names.iter().filter(|n| *n != "latest") {
        for f in ["model.safetensors", "optimizer.mpk", "state.json"] {
            assert!(root.join(n).join(f).is_file(), "{n}/{f}");
        }
    }
    // A stale temporary (a checkpoint being written when the process was
    // killed) is ignored by `find` and removed by the next save.
    std::fs::create_dir_all(root.join(".tmp-step-00000006")).unwrap();
    assert_eq!(checkpoint::find(&run).unwrap().state.global_step, 5);
    cfg.max_steps = Some(6);
    train(&cfg, Some(&run)).unwrap();
    assert!(!root.join(".tmp-step-00000006").exists());
    assert_eq!(checkpoint::find(&run).unwrap().state.global_step, 6);
    // metrics.jsonl holds each step once.
    let text = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let steps: Vec<u64> = text
        .lines()
        .filter_map(|l| match serde_json::from_str::<MetricRecord>(l).unwrap() {
            MetricRecord::Step { step, .. } => Some(step),
            _ => None,
        })
        .collect();
    assert_eq!(steps, (1..=6).collect::<Vec<_>>());
    assert!(run.join("curves.png").is_file());
}

#[test]
fn a_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint() {
    let _g = common::lock();
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let run = dir.path().join("run");
    let mut cfg = tiny_config(&data, &run);
    cfg.lr = 1e12;
    cfg.checkpoint_every = Some(1);
    cfg.epochs = 50;
    let err = train(&cfg, None).unwrap_err();
    let msg = err.to_string();
    let (step, last_checkpoint) = match &err {
        TrainError::NonFiniteLoss {
            step,
            last_checkpoint,
            ..
        } => {
            assert!(msg.starts_with("loss is "), "{msg}");
            (*step, last_checkpoint.clone())
        }
        TrainError::NonFiniteWeights {
            step,
            last_checkpoint,
            ..
        } => (*step, last_checkpoint.clone()),
        e => panic!("expected a non-finite loss, got {e}"),
    };
    assert!(msg.contains(&format!("step {step}")), "{msg}");
    // The last checkpoint is intact, finite, and resumable; it is older
    // than the failing step.
    let last_checkpoint = last_checkpoint.expect("step 1 was still finite and saved");
    let ck = checkpoint::find(&run).unwrap();
    assert!(ck.state.global_step < step);
    assert_eq!(last_checkpoint, ck.dir);
    assert!(msg.contains(&ck.dir.display().to_string()), "{msg}");
    eprintln!("{msg}");
    let model = ck
        .load_weights::<burn::backend::Flex>(&burn::backend::flex::FlexDevice)
        .unwrap();
    assert!(train::net::all_finite(&model));

    // Without step checkpoints nothing is saved before the blow-up.
    let run2 = dir.path().join("run2");
    let mut cfg = tiny_config(&data, &run2);
    cfg.lr = 1e12;
    cfg.epochs = 50;
    match train(&cfg, None).unwrap_err() {
        TrainError::NonFiniteLoss {
            step,
            epoch: 0,
            last_checkpoint: None,
            ..
        }
        | TrainError::NonFiniteWeights {
            step,
            epoch: 0,
            last_checkpoint: None,
        } => assert!(step <= 3, "step {step}"),
        e => panic!("expected a non-finite loss or weights in epoch 0, got {e}"),
    }
}

#[test]
fn the_two_device_split_trains_like_the_grouped_model() {
    let _g = common::lock();
    let dir = tempfile::tempdir().unwrap();
    let data = dataset(dir.path());
    let losses = |devices: Vec<usize>, name: &str| {
        let mut cfg = tiny_config(&data, &dir.path().join(name));
        cfg.devices = devices;
        // Dropout masks are drawn per tower in the split model, so they
        // differ from the grouped model's; everything else must agree.
        cfg.dropout = Some(0.0);
        cfg.max_steps = Some(3);
        let s = train(&cfg, None).unwrap();
        (step_losses(&s), s.final_val_error())
    };
    let (grouped, g_val) = losses(vec![0], "grouped");
    let (split, s_val) = losses(vec![0, 1], "split");
    assert_eq!(grouped.len(), 3);
    for ((_, a), (_, b)) in grouped.iter().zip(&split) {
        assert!(
            (a - b).abs() <= 1e-4 * a.abs().max(1.0),
            "{grouped:?} vs {split:?}"
        );
    }
    let (g1, _) = g_val.unwrap();
    let (s1, _) = s_val.unwrap();
    assert!((g1 - s1).abs() < 0.2, "val error {g1} vs {s1}");
}

#[test]
fn evaluates_torchvision_weights_from_safetensors() {
    // Initialising a model draws from burn's process-wide CPU RNG: without
    // the lock it would interleave with a seeded training test's init.
    let _g = common::lock();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data224");
    common::write_dataset(&data, 4, 1, 2, 224);
    let weights = dir.path().join("tv.safetensors");
    let model = alexnet::AlexNetConfig::torchvision(4)
        .init::<burn::backend::Flex>(&burn::backend::flex::FlexDevice);
    alexnet::safetensors::save(&model, &weights).unwrap();
    let mut cfg = train::EvalConfig::new(data, train::WeightsSource::Torchvision(weights));
    cfg.quiet = true;
    cfg.batch_size = 4;
    let r = train::evaluate(&cfg).unwrap();
    assert_eq!((r.n, r.view), (8, "center"));
    assert!(r.top5_error <= r.top1_error && r.loss.is_finite());
    // A file that is not safetensors gets an error naming it.
    let bad = dir.path().join("bad.safetensors");
    std::fs::write(&bad, b"nope").unwrap();
    cfg.weights = train::WeightsSource::Torchvision(bad.clone());
    let msg = train::evaluate(&cfg).unwrap_err().to_string();
    assert!(msg.contains(&bad.display().to_string()), "{msg}");
}
