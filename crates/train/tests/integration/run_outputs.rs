//! What a run leaves beside its checkpoints for a person to read:
//! `curves.png` from the first checkpoint on, `summary.csv` in step with
//! `metrics.jsonl`, and `checkpoints/best` — evaluable, and kept right when
//! a run resumes from an older checkpoint.

use crate::common;

use std::path::{Path, PathBuf};

use train::checkpoint::{self, BEST_DIR, CHECKPOINTS_DIR};
use train::config::{ModelKind, TrainConfig};
use train::metrics::MetricRecord;
use train::run_log::{METRICS_FILE, PLOT_FILE, SUMMARY_FILE};
use train::{EvalConfig, LrSchedule, WeightsSource, train};

/// 24 training images, batch 8: 3 steps an epoch, 3 epochs.
fn config(data: &Path, out: &Path) -> TrainConfig {
    let mut c = TrainConfig::paper(data.to_path_buf(), out.to_path_buf());
    c.model = ModelKind::Tiny;
    c.batch_size = 8;
    c.val_batch_size = 16;
    c.epochs = 3;
    c.workers = 2;
    c.lr_schedule = LrSchedule::Step {
        milestones: vec![2],
    };
    c.quiet = true;
    c
}

/// `summary.csv`'s rows as (epoch, step, val top-1 error).
fn summary_rows(out: &Path) -> Vec<(u64, u64, f64)> {
    let text = std::fs::read_to_string(out.join(SUMMARY_FILE)).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (e, s, v) = (col("epoch"), col("step"), col("val_top1_error"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), header.len(), "{l}");
            (
                f[e].parse().unwrap(),
                f[s].parse().unwrap(),
                f[v].parse().unwrap(),
            )
        })
        .collect()
}

/// The epoch records of `metrics.jsonl` as (epoch, step, val top-1 error).
fn metric_epochs(out: &Path) -> Vec<(u64, u64, f64)> {
    std::fs::read_to_string(out.join(METRICS_FILE))
        .unwrap()
        .lines()
        .filter_map(|l| match serde_json::from_str(l).unwrap() {
            MetricRecord::Epoch {
                epoch,
                step,
                val_top1_error,
                ..
            } => Some((epoch, step, val_top1_error)),
            MetricRecord::Step { .. } => None,
        })
        .collect()
}

fn best(out: &Path) -> PathBuf {
    out.join(CHECKPOINTS_DIR).join(BEST_DIR)
}

#[test]
fn a_step_limited_run_has_its_plot_and_an_empty_summary() {
    let _g = common::lock();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::write_dataset(&data, 4, 6, 2, 72);
    let out = dir.path().join("run");
    let mut cfg = config(&data, &out);
    // Stopped before the first epoch end, no --checkpoint-every.
    cfg.max_steps = Some(2);
    let s = train(&cfg, None).unwrap();
    assert!(s.last_checkpoint.is_some());
    let png = std::fs::read(out.join(PLOT_FILE)).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert_eq!(summary_rows(&out), vec![]);
    assert_eq!(s.best_checkpoint, None, "no epoch end, no best");
    assert!(!best(&out).exists());
}

#[test]
fn best_and_summary_follow_the_epochs_and_survive_a_resume_from_the_past() {
    let _g = common::lock();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::write_dataset(&data, 4, 6, 2, 72);
    let out = dir.path().join("run");
    let s = train(&config(&data, &out), None).unwrap();

    let epochs = metric_epochs(&out);
    assert_eq!(epochs.len(), 3);
    assert_eq!(
        summary_rows(&out),
        epochs,
        "summary.csv is metrics.jsonl's epochs"
    );
    // best/ is the earliest epoch end with the lowest val top-1 error.
    let want = epochs
        .iter()
        .fold(None, |b: Option<&(u64, u64, f64)>, e| match b {
            Some(b) if b.2 <= e.2 => Some(b),
            _ => Some(e),
        })
        .unwrap();
    assert_eq!(s.best_checkpoint.as_deref(), Some(best(&out).as_path()));
    let b = checkpoint::find(&best(&out)).unwrap();
    assert_eq!(b.state.global_step, want.1);
    assert_eq!(b.state.val.unwrap().top1_error, want.2);
    // Evaluating it reproduces the validation that chose it.
    let mut eval = EvalConfig::new(data.clone(), WeightsSource::Checkpoint(best(&out)));
    eval.quiet = true;
    let report = train::evaluate(&eval).unwrap();
    assert!(
        (report.top1_error - want.2).abs() < 1e-9,
        "evaluate {} vs validation {}",
        report.top1_error,
        want.2
    );

    // Resumed from the first epoch end: epochs 2 and 3 are a discarded
    // future, in the table and in best/.
    let first = out.join(CHECKPOINTS_DIR).join("step-00000003");
    let mut cfg = config(&data, &out);
    cfg.max_steps = Some(4);
    train(&cfg, Some(&first)).unwrap();
    assert_eq!(summary_rows(&out), epochs[..1].to_vec());
    assert_eq!(metric_epochs(&out), epochs[..1].to_vec());
    let b = checkpoint::find(&best(&out)).unwrap();
    assert_eq!(b.state.global_step, 3);
    assert!(out.join(PLOT_FILE).is_file());
}
