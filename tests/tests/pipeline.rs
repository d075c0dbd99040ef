//! The whole pipeline, tiny: synth → prep → train a few steps → evaluate
//! (centre and ten crops, per-class CSV) → resume.

use imagenet_prep::synth::{SynthConfig, synthesize};
use imagenet_prep::{PrepConfig, prepare};
use train::config::{ModelKind, TrainConfig};
use train::metrics::MetricRecord;
use train::{EvalConfig, LrSchedule, WeightsSource, evaluate, train};

#[test]
fn synth_prep_train_evaluate() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    let shards = dir.path().join("shards");
    let run = dir.path().join("run");

    let synth = SynthConfig {
        classes: 4,
        train_per_class: 10,
        val_per_class: 3,
        min_side: 72,
        max_side: 90,
        seed: 3,
        ..SynthConfig::default()
    };
    synthesize(&synth, &raw).unwrap();
    let mut prep = PrepConfig::new(raw, shards.clone());
    prep.size = 72;
    prep.quiet = true;
    let summary = prepare(&prep).unwrap();
    assert_eq!((summary.train_images, summary.val_images), (40, 12));

    let mut cfg = TrainConfig::paper(shards.clone(), run.clone());
    cfg.model = ModelKind::Tiny;
    cfg.batch_size = 8;
    cfg.val_batch_size = 8;
    cfg.epochs = 2;
    cfg.max_steps = Some(7);
    cfg.workers = 2;
    cfg.lr_schedule = LrSchedule::Plateau {
        patience: 1,
        max_drops: 3,
    };
    cfg.quiet = true;
    let s = train(&cfg, None).unwrap();
    assert_eq!(s.global_step, 7);
    assert_eq!(s.epochs_done, 1);
    let steps = s
        .records
        .iter()
        .filter(|r| matches!(r, MetricRecord::Step { loss, .. } if loss.is_finite()))
        .count();
    assert_eq!(steps, 7);
    let (top1, top5) = s.final_val_error().expect("one epoch validated");
    assert!((0.0..=1.0).contains(&top1) && top5 <= top1);
    assert!(run.join("metrics.jsonl").is_file() && run.join("curves.png").is_file());

    // Resume to the end of epoch 2.
    cfg.max_steps = None;
    let s = train(&cfg, Some(&run)).unwrap();
    assert_eq!((s.global_step, s.epochs_done), (10, 2));

    for ten_crop in [false, true] {
        let csv = dir.path().join(format!("per_class_{ten_crop}.csv"));
        let mut e = EvalConfig::new(shards.clone(), WeightsSource::Checkpoint(run.clone()));
        e.ten_crop = ten_crop;
        e.quiet = true;
        e.batch_size = 5;
        e.csv = Some(csv.clone());
        let r = evaluate(&e).unwrap();
        assert_eq!(r.n, 12);
        assert_eq!(r.view, if ten_crop { "10-crop" } else { "center" });
        assert!(r.top5_error <= r.top1_error && r.top1_error <= 1.0);
        let text = std::fs::read_to_string(&csv).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "class,wnid,words,n,top1_error,top5_error");
        assert_eq!(lines.len(), 5);
        assert!(lines[1].starts_with("0,n"), "{}", lines[1]);
        assert_eq!(r.per_class.iter().map(|c| c.n).sum::<u64>(), 12);
        if !ten_crop {
            // The centre-crop evaluation of the final checkpoint is the
            // last epoch's validation.
            let (v1, _) = s.final_val_error().unwrap();
            assert!((r.top1_error - v1).abs() < 1e-9, "{} vs {v1}", r.top1_error);
        }
    }
}
