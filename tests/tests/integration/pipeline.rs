//! The whole pipeline, tiny: synth → prep → train a few steps → evaluate
//! (centre and ten crops, per-class CSV) → resume.

use imagenet_prep::synth::{SynthConfig, synthesize};
use imagenet_prep::{PrepConfig, prepare};
use train::config::{ModelKind, TrainConfig};
use train::metrics::MetricRecord;
use train::{EvalConfig, LrSchedule, WeightsSource, evaluate, train};

/// burn's CPU backend has one process-wide RNG (dropout masks): trainings
/// in one test binary take turns so that each run's draws are its own.
static TRAINING: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn synth_prep_train_evaluate() {
    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
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
        assert_eq!(lines[0], "class,name,words,n,top1_error,top5_error");
        assert_eq!(lines.len(), 5);
        assert!(lines[1].starts_with("0,\"n"), "{}", lines[1]);
        assert_eq!(r.per_class.iter().map(|c| c.n).sum::<u64>(), 12);
        if !ten_crop {
            // The centre-crop evaluation of the final checkpoint is the
            // last epoch's validation.
            let (v1, _) = s.final_val_error().unwrap();
            assert!((r.top1_error - v1).abs() < 1e-9, "{} vs {v1}", r.top1_error);
        }
    }
}

/// How far (relative) a golden loss may move across CPUs.
const GOLDEN_LOSS_REL: f64 = 1e-5;

/// Where the golden hashes and losses live.
const GOLDEN: &str = "golden/pipeline.json";

/// Pins what the pipeline produces: synth with a fixed seed (oddities
/// included: CMYK, PNG, greyscale, progressive) → prep → SHA-256 of every
/// `.npy` it writes, and the per-step losses of a short training run on
/// them. Code may move freely as long as these stay the same; when pixels
/// change on purpose, `PIPELINE_VERSION` must change too (a resumed prep
/// would otherwise mix shards of two pipelines), and the new values are
/// recorded with `GOLDEN_UPDATE=1 cargo test --release --workspace --locked --test integration golden`.
#[test]
fn golden_shards_and_losses() {
    use sha2::{Digest, Sha256};
    use std::collections::BTreeMap;

    let _turn = TRAINING.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    let shards = dir.path().join("shards");
    let synth = SynthConfig {
        classes: 5,
        train_per_class: 8,
        val_per_class: 2,
        min_side: 60,
        max_side: 140,
        seed: 20261203,
        oddities: true,
        ..SynthConfig::default()
    };
    synthesize(&synth, &raw).unwrap();
    let mut prep = PrepConfig::new(raw, shards.clone());
    prep.size = 72;
    prep.shard_size = 16;
    prep.quiet = true;
    prepare(&prep).unwrap();
    let mut files = BTreeMap::new();
    for e in std::fs::read_dir(&shards).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with(".npy") {
            let digest = Sha256::digest(std::fs::read(&path).unwrap());
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            files.insert(name, hex);
        }
    }

    let mut cfg = TrainConfig::paper(shards, dir.path().join("run"));
    cfg.model = ModelKind::Tiny;
    cfg.batch_size = 8;
    cfg.val_batch_size = 8;
    cfg.epochs = 1;
    cfg.max_steps = Some(4);
    cfg.workers = 2;
    cfg.seed = 7;
    cfg.quiet = true;
    let losses: Vec<f64> = train(&cfg, None)
        .unwrap()
        .records
        .iter()
        .filter_map(|r| match r {
            MetricRecord::Step { loss, .. } => Some(*loss),
            _ => None,
        })
        .collect();
    let got = serde_json::json!({
        "pipeline_version": imagenet_prep::prep::PIPELINE_VERSION,
        "files": files,
        "losses": losses,
    });

    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(GOLDEN);
    if std::env::var_os("GOLDEN_UPDATE").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, serde_json::to_string_pretty(&got).unwrap() + "\n").unwrap();
        return;
    }
    let want: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; record it with GOLDEN_UPDATE=1", path.display())),
    )
    .unwrap();
    let same_version = want["pipeline_version"] == got["pipeline_version"];
    if want["files"] != got["files"] {
        assert!(
            !same_version,
            "prep's output changed but PIPELINE_VERSION did not: bump it in \
             crates/imagenet-prep/src/prep.rs (a resumed prep would mix shards of two \
             pipelines), then record the new hashes with GOLDEN_UPDATE=1.\nwant {}\ngot  {}",
            want["files"], got["files"]
        );
        panic!(
            "PIPELINE_VERSION changed and the shards with it: if that is meant, record them with \
             GOLDEN_UPDATE=1"
        );
    }
    assert!(
        same_version,
        "PIPELINE_VERSION changed but the pixels did not: record it with GOLDEN_UPDATE=1"
    );
    // Not bit-equal: gemm picks its kernels by CPU (AVX2, AVX-512), whose
    // sums round differently (seen: 1.5e-7 relative at step 2). Moving the
    // model, the loader or the optimizer changes these far more.
    let as_f64 = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .map(|a| a.iter().filter_map(serde_json::Value::as_f64).collect())
            .unwrap_or_default()
    };
    let (w, g) = (as_f64(&want["losses"]), as_f64(&got["losses"]));
    assert!(
        w.len() == g.len()
            && w.iter()
                .zip(&g)
                .all(|(a, b)| (a - b).abs() <= GOLDEN_LOSS_REL * a.abs()),
        "the training losses of the golden run changed (same shards) beyond {GOLDEN_LOSS_REL:e} \
         relative: something moved the model, the loader or the optimizer\nwant {w:?}\ngot  {g:?}"
    );
}
