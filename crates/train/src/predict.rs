//! `predict`: classify image files with a checkpoint or torchvision
//! weights, each image prepared exactly as `prep` and the evaluation view
//! prepare the val set (decode, shorter side to S and centre crop S×S,
//! then the centre crop (or ten crops) and the normalisation the weights
//! were trained with), and report the most probable classes.

use std::path::{Path, PathBuf};

use alexnet::AlexNet;
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Tensor, TensorData};
use imagenet_prep::decode::DEFAULT_MAX_PIXELS;
use imagenet_prep::resize::CenterCrop;
use serde::Serialize;
use shard_format::manifest::{ClassInfo, MANIFEST_FILE, Manifest};

use crate::backend::BackendJob;
use crate::config::BackendKind;
use crate::error::TrainError;
use crate::evaluate::{Source, WeightsSource, load_model};
use crate::loader::{EvalView, ImageTransform, MeanMode, read_manifest_file};
use crate::validate::mean_softmax;

/// The side torchvision's evaluation resizes to before its 224 crop
/// (`Resize(256)`, `CenterCrop(224)`): prep's default size.
pub const TORCHVISION_RESIZE: usize = 256;

/// Images per forward pass.
const BATCH: usize = 32;

/// What to classify, with which weights.
#[derive(Debug, Clone)]
pub struct PredictConfig {
    /// The weights: a checkpoint (its run's dataset gives names and
    /// normalisation) or torchvision's state dict.
    pub weights: WeightsSource,
    /// The prepared dataset a checkpoint was trained on; default: the
    /// `data` directory its configuration names. Its `manifest.json` gives
    /// the image size, class names and, for mean subtraction, the mean.
    pub data: Option<PathBuf>,
    /// For torchvision weights: a `manifest.json` (or a dataset directory
    /// holding one) whose classes, in index order, are the weights'
    /// outputs (for torchvision's own: an ILSVRC-2012 preparation, whose
    /// sorted-WNID order is torchvision's). Gives names and the class
    /// count; without it, 1000 classes reported by index only.
    pub classes: Option<PathBuf>,
    /// The image files (JPEG or PNG, recognised by content).
    pub images: Vec<PathBuf>,
    /// Classes reported per image (at most the number of classes).
    pub top_k: usize,
    /// Average the softmax over the paper's ten crops instead of the centre crop.
    pub ten_crop: bool,
    /// Backend.
    pub backend: BackendKind,
    /// Device ordinal.
    pub device: usize,
}

impl PredictConfig {
    /// Top-5, centre crop, on the CPU.
    pub fn new(weights: WeightsSource, images: Vec<PathBuf>) -> Self {
        Self {
            weights,
            data: None,
            classes: None,
            images,
            top_k: 5,
            ten_crop: false,
            backend: BackendKind::Cpu,
            device: 0,
        }
    }
}

/// One of an image's most probable classes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassScore {
    /// Class index (the network's output).
    pub index: usize,
    /// The class's name (WNID, or ImageFolder class folder name), when a
    /// manifest is known.
    pub name: Option<String>,
    /// Its human-readable name, when the manifest has one.
    pub words: Option<String>,
    /// Softmax probability (averaged over views with ten crops).
    pub probability: f32,
}

impl ClassScore {
    /// The best label for people: the words, else the name, else `#index`.
    pub fn label(&self) -> String {
        match (&self.words, &self.name) {
            (Some(w), _) if !w.is_empty() => w.clone(),
            (_, Some(id)) if !id.is_empty() => id.clone(),
            _ => format!("#{}", self.index),
        }
    }
}

/// The classes of one image, most probable first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// The image file.
    pub image: PathBuf,
    /// Up to `top_k` classes, by descending probability.
    pub top: Vec<ClassScore>,
}

/// Why prediction failed.
#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    /// Loading the weights, the dataset or running the model failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// An image file could not be decoded.
    #[error("{path}: cannot be read as an image: {reason}")]
    Image {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        reason: String,
    },
}

/// Classifies every image of `cfg`. Every image is read and prepared
/// before the model is loaded, so a bad file fails at once, named.
pub fn predict(cfg: &PredictConfig) -> Result<Vec<Prediction>, PredictError> {
    if cfg.images.is_empty() {
        return Err(TrainError::Config("no image given".into()).into());
    }
    if cfg.top_k == 0 {
        return Err(TrainError::Config("--top must be at least 1".into()).into());
    }
    let source = Source::resolve(&cfg.weights)?;
    let view = if cfg.ten_crop {
        EvalView::TenCrop
    } else {
        EvalView::Center
    };
    let crop = source.model_config().input_size();
    let (transform, classes, num_classes) = match &source {
        Source::Checkpoint(ckpt) => {
            let data = cfg
                .data
                .clone()
                .unwrap_or_else(|| ckpt.state.config.data.clone());
            check_dataset(&data, &ckpt.state.dataset.manifest_sha256, &ckpt.dir)?;
            let aug = &ckpt.state.config.augment;
            let (t, manifest) = ImageTransform::for_dataset(
                &data,
                view,
                crop,
                crate::data::mean_mode(aug.mean),
                aug.scale,
            )
            .map_err(TrainError::from)?;
            let n = ckpt.state.model_config.num_classes;
            (t, Some(manifest.classes), n)
        }
        Source::Torchvision(_) => {
            let t = ImageTransform::standalone(
                TORCHVISION_RESIZE,
                view,
                crop,
                MeanMode::Torchvision,
                1.0,
            )
            .map_err(TrainError::from)?;
            let classes = cfg.classes.as_deref().map(classes_file).transpose()?;
            let n = classes.as_ref().map_or(1000, Vec::len);
            (t, classes, n)
        }
    };
    let mut inputs = Vec::with_capacity(cfg.images.len());
    for path in &cfg.images {
        let prepared = prepare(path, transform.image_size())?;
        inputs.push(transform.apply(&prepared).map_err(TrainError::from)?);
    }
    let job = Job {
        source: &source,
        num_classes,
        inputs,
        views: transform.views(),
        crop,
    };
    let probs = crate::backend::run_on(cfg.backend, &[cfg.device], job)?;
    Ok(cfg
        .images
        .iter()
        .zip(probs)
        .map(|(image, p)| Prediction {
            image: image.clone(),
            top: top_k(&p, cfg.top_k, classes.as_deref()),
        })
        .collect())
}

/// Decodes `path` and resizes and crops it to `size`×`size` exactly as
/// `prep` does (the same function), HWC RGB bytes.
pub fn prepare(path: &Path, size: usize) -> Result<Vec<u8>, PredictError> {
    let bytes = std::fs::read(path).map_err(TrainError::io(path))?;
    let mut out = vec![0u8; size * size * 3];
    CenterCrop::new(size as u32)
        .decode_into(&bytes, DEFAULT_MAX_PIXELS, &mut out)
        .map_err(|e| PredictError::Image {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    Ok(out)
}

/// Refuses a dataset other than the one the checkpoint was trained on:
/// its class names and mean would be the wrong ones.
fn check_dataset(data: &Path, expected: &str, ckpt: &Path) -> Result<(), TrainError> {
    let manifest = data.join(MANIFEST_FILE);
    if !manifest.is_file() {
        return Err(TrainError::BadData {
            path: data.to_path_buf(),
            reason: format!(
                "no {MANIFEST_FILE} here; the checkpoint {} needs the prepared dataset it was \
                 trained on (class names, image size, mean): pass --data DIR",
                ckpt.display()
            ),
        });
    }
    let found = crate::data::dataset_id(data, 0, 0, 0)?.manifest_sha256;
    if found != expected {
        return Err(TrainError::BadData {
            path: manifest,
            reason: format!(
                "is not the manifest the checkpoint {} was trained on (SHA-256 {found}, the \
                 checkpoint's {expected}); pass --data with that dataset",
                ckpt.display()
            ),
        });
    }
    Ok(())
}

/// The classes of a manifest (or of the dataset directory holding one).
fn classes_file(path: &Path) -> Result<Vec<ClassInfo>, TrainError> {
    let file = if path.is_dir() {
        path.join(MANIFEST_FILE)
    } else {
        path.to_path_buf()
    };
    let manifest: Manifest = read_manifest_file(&file)?;
    if manifest.classes.is_empty() {
        return Err(TrainError::BadData {
            path: file,
            reason: "lists no classes".into(),
        });
    }
    Ok(manifest.classes)
}

/// The `k` most probable classes of one image's probabilities.
fn top_k(probs: &[f32], k: usize, classes: Option<&[ClassInfo]>) -> Vec<ClassScore> {
    let mut order: Vec<usize> = (0..probs.len()).collect();
    // Ties broken by index, so the output does not depend on the sort.
    order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
    order
        .into_iter()
        .take(k)
        .map(|i| {
            let info = classes.and_then(|c| c.get(i));
            ClassScore {
                index: i,
                name: info.map(|c| c.name.clone()),
                words: info.map(|c| c.words.clone()),
                probability: probs[i],
            }
        })
        .collect()
}

/// The forward passes, on whichever backend the configuration names.
struct Job<'a> {
    source: &'a Source,
    /// Outputs of the network.
    num_classes: usize,
    /// Per image: `views * 3 * crop * crop` values.
    inputs: Vec<Vec<f32>>,
    views: usize,
    crop: usize,
}

impl BackendJob for Job<'_> {
    /// Per image, the (view-averaged) class probabilities.
    type Output = Vec<Vec<f32>>;

    fn run<B: AutodiffBackend>(self, devices: Vec<B::Device>) -> Result<Self::Output, TrainError> {
        let device = devices
            .into_iter()
            .next()
            .expect("run_on gives one device per ordinal");
        let (model, _, _) = load_model::<B::InnerBackend>(self.source, self.num_classes, &device)?;
        Ok(self.forward(&model, &device))
    }

    fn largest_tensor(&self) -> Option<(u64, String)> {
        let bytes = self.source.model_config().largest_weight_bytes();
        Some((bytes, "fc6's weight".into()))
    }
}

impl Job<'_> {
    fn forward<B: Backend>(&self, model: &AlexNet<B>, device: &B::Device) -> Vec<Vec<f32>> {
        let classes = model.config.num_classes;
        let c = self.crop;
        let mut out = Vec::with_capacity(self.inputs.len());
        for chunk in self.inputs.chunks(BATCH) {
            let rows = chunk.len() * self.views;
            let data: Vec<f32> = chunk.concat();
            let images = Tensor::<B, 4>::from_data(TensorData::new(data, [rows, 3, c, c]), device);
            let logits: Vec<f32> = model
                .forward(images)
                .into_data()
                .to_vec()
                .expect("logits are f32");
            let probs = mean_softmax(&logits, chunk.len(), self.views, classes);
            out.extend(probs.chunks_exact(classes).map(<[f32]>::to_vec));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(i: u32, name: &str, words: &str) -> ClassInfo {
        ClassInfo {
            words: words.into(),
            ..ClassInfo::named(i, name.into())
        }
    }

    #[test]
    fn top_k_orders_by_probability_and_names_classes() {
        let classes = [
            class(0, "n0", "tench"),
            class(1, "n1", ""),
            class(2, "n2", "cat"),
        ];
        let t = top_k(&[0.2, 0.5, 0.3], 2, Some(&classes));
        assert_eq!(t.iter().map(|s| s.index).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(t[0].label(), "n1", "no words: the name");
        assert_eq!(t[1].label(), "cat");
        let t = top_k(&[0.5, 0.5], 5, None);
        assert_eq!(t.len(), 2, "k is capped at the number of classes");
        assert_eq!(
            (t[0].index, t[0].label()),
            (0, "#0".to_string()),
            "ties by index"
        );
    }

    #[test]
    fn missing_and_corrupt_images_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("absent.jpg");
        let e = prepare(&missing, 32).unwrap_err().to_string();
        assert!(e.contains("absent.jpg"), "{e}");
        let bad = dir.path().join("bad.jpg");
        // A JPEG start marker and nothing after it.
        std::fs::write(&bad, [0xFF, 0xD8, 0xFF, 0xE0, 0, 16, b'J', b'F']).unwrap();
        let e = prepare(&bad, 32).unwrap_err().to_string();
        assert!(
            e.contains("bad.jpg") && e.contains("cannot be read as an image"),
            "{e}"
        );
        let text = dir.path().join("notes.jpg");
        std::fs::write(&text, "hello").unwrap();
        let e = prepare(&text, 32).unwrap_err().to_string();
        assert!(e.contains("notes.jpg"), "{e}");
    }
}
