//! `predict` end to end: image files → prep → a short training run →
//! predictions that equal the evaluation view of the same images in the
//! shards; fine-tuning with `init_from`; the run's `config.toml`.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::backend::Flex;
use burn::backend::flex::FlexDevice;
use burn::tensor::{Tensor, TensorData};
use imagenet_prep::{PrepConfig, prepare};
use train::checkpoint::{self, WEIGHTS_FILE};
use train::config::{ModelKind, TrainConfig};
use train::config_file::{RUN_CONFIG_FILE, TrainOptions};
use train::loader::{EvalLoader, EvalView, MeanMode, ShardSet, SplitName};
use train::predict::{PredictConfig, predict};
use train::validate::mean_softmax;
use train::{LrSchedule, TrainError, WeightsSource, train};

const CLASSES: usize = 3;
const SIZE: u32 = 72;

/// A picture of `class`: a class colour, stripes whose spacing depends on
/// the class, per-image noise; `w`×`h` (not square, so prep resizes and crops).
fn picture(class: usize, image: usize, w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        let (x, y) = (x as usize, y as usize);
        let stripe = if (x / (3 + class * 4)).is_multiple_of(2) {
            60
        } else {
            0
        };
        let noise = (image * 29 + x * 7 + y * 11) % 19;
        image::Rgb(std::array::from_fn(|c| {
            ((class * 90 + c * 50 + stripe + noise) % 256) as u8
        }))
    })
}

/// `input/{train,val}/<wnid>/*.png`, prepared at 72 into `shards`; returns
/// the val image files.
fn folders_and_shards(dir: &Path) -> (PathBuf, Vec<PathBuf>) {
    let input = dir.join("input");
    let mut val_files = Vec::new();
    for (split, n) in [("train", 6), ("val", 2)] {
        for class in 0..CLASSES {
            let d = input.join(split).join(format!("n0000000{class}"));
            std::fs::create_dir_all(&d).unwrap();
            for i in 0..n {
                let f = d.join(format!("{split}_{i}.png"));
                picture(class, i + 10 * (split == "val") as usize, 96, 80)
                    .save(&f)
                    .unwrap();
                if split == "val" {
                    val_files.push(f);
                }
            }
        }
    }
    let shards = dir.join("shards");
    let mut cfg = PrepConfig::new(&input, &shards);
    cfg.size = SIZE;
    cfg.shard_size = 4;
    cfg.threads = 1;
    cfg.quiet = true;
    prepare(&cfg).unwrap();
    (shards, val_files)
}

fn tiny(data: &Path, out: &Path) -> TrainConfig {
    let mut c = TrainConfig::paper(data.to_path_buf(), out.to_path_buf());
    c.model = ModelKind::Tiny;
    c.batch_size = 6;
    c.val_batch_size = 6;
    c.epochs = 1;
    c.workers = 1;
    c.max_steps = Some(2);
    c.lr_schedule = LrSchedule::Step {
        milestones: vec![1],
    };
    c.quiet = true;
    c
}

/// The evaluation loader's class probabilities for every val image, with
/// the checkpoint's weights (what `evaluate` computes).
fn eval_probabilities(run: &Path, shards: &Path) -> (Arc<ShardSet>, Vec<Vec<f32>>) {
    let ckpt = checkpoint::find(run).unwrap();
    let model = ckpt.load_weights::<Flex>(&FlexDevice).unwrap();
    let set = Arc::new(ShardSet::open(shards, SplitName::Val).unwrap());
    let loader = EvalLoader::new(
        set.clone(),
        EvalView::Center,
        64,
        MeanMode::Image,
        255.0,
        4,
        0,
    )
    .unwrap();
    let mut out = Vec::new();
    for b in loader.iter() {
        let n = b.batch_size;
        let x =
            Tensor::<Flex, 4>::from_data(TensorData::new(b.images, [n, 3, 64, 64]), &FlexDevice);
        let logits: Vec<f32> = model.forward(x).into_data().to_vec().unwrap();
        let p = mean_softmax(&logits, n, 1, CLASSES);
        out.extend(p.chunks_exact(CLASSES).map(<[f32]>::to_vec));
    }
    (set, out)
}

#[test]
fn predictions_equal_the_evaluation_of_the_same_images() {
    let _g = common::lock();
    let dir = tempfile::tempdir().unwrap();
    let (shards, files) = folders_and_shards(dir.path());
    let run = dir.path().join("run");
    train(&tiny(&shards, &run), None).unwrap();

    let mut cfg = PredictConfig::new(WeightsSource::Checkpoint(run.clone()), files.clone());
    cfg.top_k = 2;
    let preds = predict(&cfg).unwrap();
    assert_eq!(preds.len(), files.len());

    let (set, reference) = eval_probabilities(&run, &shards);
    for (p, file) in preds.iter().zip(&files) {
        assert_eq!(&p.image, file);
        assert_eq!(p.top.len(), 2);
        // The image prediction prepared is byte for byte one prep wrote.
        let pixels = train::predict::prepare(file, SIZE as usize).unwrap();
        let k = (0..set.len())
            .find(|&k| set.image(k) == pixels.as_slice())
            .unwrap_or_else(|| {
                panic!(
                    "{} is in no val shard as predict prepared it",
                    file.display()
                )
            });
        let want = &reference[k];
        for s in &p.top {
            assert!(
                (s.probability - want[s.index]).abs() < 1e-5,
                "{}: class {} has {} in predict, {} in evaluation",
                file.display(),
                s.index,
                s.probability,
                want[s.index]
            );
            let class = &set.manifest().classes[s.index];
            assert_eq!(s.name.as_deref(), Some(class.name.as_str()));
        }
        assert!(p.top[0].probability >= p.top[1].probability);
        let best = (0..CLASSES)
            .max_by(|&a, &b| want[a].total_cmp(&want[b]))
            .unwrap();
        assert_eq!(p.top[0].index, best);
    }

    // Bad input: a missing image, a corrupt one, another dataset.
    let missing = dir.path().join("nope.jpg");
    cfg.images = vec![files[0].clone(), missing.clone()];
    let e = predict(&cfg).unwrap_err().to_string();
    assert!(e.contains("nope.jpg"), "{e}");
    let corrupt = dir.path().join("cut.png");
    let bytes = std::fs::read(&files[0]).unwrap();
    std::fs::write(&corrupt, &bytes[..bytes.len() / 2]).unwrap();
    cfg.images = vec![corrupt];
    let e = predict(&cfg).unwrap_err().to_string();
    assert!(e.contains("cut.png"), "{e}");
    let other = dir.path().join("other");
    common::write_dataset(&other, CLASSES, 2, 1, SIZE as usize);
    cfg.images = files.clone();
    cfg.data = Some(other);
    let e = predict(&cfg).unwrap_err().to_string();
    assert!(e.contains("manifest.json") && e.contains("--data"), "{e}");
}

#[test]
fn torchvision_weights_predict_with_names_from_a_manifest() {
    let _g = common::lock();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::write_dataset(&data, 4, 1, 1, 224);
    let weights = dir.path().join("tv.safetensors");
    let model = alexnet::AlexNetConfig::torchvision(4).init::<Flex>(&FlexDevice);
    alexnet::safetensors::save(&model, &weights).unwrap();
    let img = dir.path().join("photo.png");
    picture(1, 0, 300, 200).save(&img).unwrap();
    let mut cfg = PredictConfig::new(WeightsSource::Torchvision(weights), vec![img]);
    cfg.classes = Some(data.clone());
    cfg.ten_crop = true;
    let p = predict(&cfg).unwrap();
    let top = &p[0].top;
    assert_eq!(top.len(), 4, "top-5 of 4 classes");
    let sum: f32 = top.iter().map(|s| s.probability).sum();
    assert!((sum - 1.0).abs() < 1e-4, "{sum}");
    let manifest = train::loader::read_dataset_manifest(&data).unwrap();
    for s in top {
        assert_eq!(
            s.name.as_deref(),
            Some(manifest.classes[s.index].name.as_str())
        );
    }
    // Without names, a 4-class file is not torchvision's 1000 classes.
    cfg.classes = None;
    let e = predict(&cfg).unwrap_err().to_string();
    assert!(e.contains("tv.safetensors"), "{e}");
}

#[test]
fn init_from_starts_from_the_files_weights_and_is_part_of_the_identity() {
    let _g = common::lock();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::write_dataset(&data, CLASSES, 6, 2, SIZE as usize);
    let a = dir.path().join("a");
    train(&tiny(&data, &a), None).unwrap();
    let a_weights = checkpoint::find(&a).unwrap().dir.join(WEIGHTS_FILE);

    // A run from A's weights with a learning rate too small to move them:
    // its weights are A's, not a fresh draw (seed 5 would differ).
    let b = dir.path().join("b");
    let mut cfg = tiny(&data, &b);
    cfg.seed = 5;
    cfg.lr = 1e-12;
    cfg.weight_decay = 0.0;
    cfg.max_steps = Some(1);
    cfg.init_from = Some(a_weights.clone());
    train(&cfg, None).unwrap();
    let load = |run: &Path| {
        let m = checkpoint::find(run)
            .unwrap()
            .load_weights::<Flex>(&FlexDevice)
            .unwrap();
        let v: Vec<f32> = m.convs[0].weight.val().into_data().to_vec().unwrap();
        v
    };
    let (wa, wb) = (load(&a), load(&b));
    let d = wa
        .iter()
        .zip(&wb)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(d < 1e-6, "conv1 moved {d} from the init-from weights");

    // The run wrote its configuration, and it reads back as the same run.
    let written = TrainOptions::from_file(&b.join(RUN_CONFIG_FILE))
        .unwrap()
        .to_config()
        .unwrap();
    assert_eq!(written, cfg);

    // Resuming without the same init_from is refused, naming the field.
    let mut resume = cfg.clone();
    resume.init_from = None;
    resume.max_steps = Some(2);
    match train(&resume, Some(&b)) {
        Err(TrainError::ConfigMismatch { field, .. }) => assert_eq!(field, "init_from"),
        other => panic!("expected a mismatch on init_from, got {other:?}"),
    }

    // Weights for another class count: a clear error naming the file.
    let four = dir.path().join("four");
    common::write_dataset(&four, 4, 6, 2, SIZE as usize);
    let mut wrong = tiny(&four, &dir.path().join("c"));
    wrong.init_from = Some(a_weights);
    let e = train(&wrong, None).unwrap_err().to_string();
    assert!(
        e.contains("model.safetensors") && e.contains("3 classes"),
        "{e}"
    );
}
