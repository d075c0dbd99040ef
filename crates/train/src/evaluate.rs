//! `evaluate`: a checkpoint or torchvision weights on the val shards,
//! centre crop or the paper's ten crops, overall and per-class errors.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use alexnet::{AlexNet, AlexNetConfig};
use burn::tensor::backend::{AutodiffBackend, Backend};

use crate::backend::BackendJob;
use crate::checkpoint;
use crate::config::BackendKind;
use crate::error::{Result, TrainError};
use crate::loader::{EvalView, MeanMode, ShardSet, SplitName};
use crate::run_log::progress_bar;
use crate::validate::{self, EvalCounts, EvalSettings};
use atomic_io::AtomicFile;

/// Which weights to evaluate.
#[derive(Debug, Clone, PartialEq)]
pub enum WeightsSource {
    /// A checkpoint directory or a run's output directory (its `latest`).
    Checkpoint(PathBuf),
    /// A torchvision `alexnet` state dict exported to safetensors.
    Torchvision(PathBuf),
}

/// What to evaluate and how.
#[derive(Debug, Clone)]
pub struct EvalConfig {
    /// Directory with `manifest.json` and the val shards.
    pub data: PathBuf,
    /// The weights.
    pub weights: WeightsSource,
    /// Ten crops (4 corners + centre, and their flips, softmax averaged)
    /// instead of the centre crop.
    pub ten_crop: bool,
    /// Images per batch.
    pub batch_size: usize,
    /// Loader threads.
    pub workers: usize,
    /// Backend.
    pub backend: BackendKind,
    /// Device ordinal.
    pub device: usize,
    /// Where to write the per-class CSV, if anywhere.
    pub csv: Option<PathBuf>,
    /// No progress bar.
    pub quiet: bool,
}

impl EvalConfig {
    /// Centre-crop evaluation of `weights` on `data` on the CPU.
    pub fn new(data: PathBuf, weights: WeightsSource) -> Self {
        Self {
            data,
            weights,
            ten_crop: false,
            batch_size: 64,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            backend: BackendKind::Cpu,
            device: 0,
            csv: None,
            quiet: false,
        }
    }
}

/// Results of one class.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassResult {
    /// Class index.
    pub index: usize,
    /// The class's name (WNID, or ImageFolder class folder name).
    pub name: String,
    /// Human-readable name.
    pub words: String,
    /// Validation images of the class.
    pub n: u64,
    /// Top-1 error.
    pub top1_error: f64,
    /// Top-5 error.
    pub top5_error: f64,
}

/// Evaluation results.
#[derive(Debug, Clone)]
pub struct EvalReport {
    /// `center` or `10-crop`.
    pub view: &'static str,
    /// Images evaluated.
    pub n: u64,
    /// Top-1 error.
    pub top1_error: f64,
    /// Top-5 error.
    pub top5_error: f64,
    /// Mean −ln of the (view-averaged) probability of the true class.
    pub loss: f64,
    /// Per class, in index order.
    pub per_class: Vec<ClassResult>,
}

impl EvalReport {
    /// The per-class CSV: `class,name,words,n,top1_error,top5_error`, with
    /// `name` and `words` quoted (class folder names may hold commas).
    pub fn csv(&self) -> String {
        let mut s = String::from("class,name,words,n,top1_error,top5_error\n");
        for c in &self.per_class {
            let _ = writeln!(
                s,
                "{},\"{}\",\"{}\",{},{:.6},{:.6}",
                c.index,
                c.name.replace('"', "\"\""),
                c.words.replace('"', "\"\""),
                c.n,
                c.top1_error,
                c.top5_error
            );
        }
        s
    }
}

/// Evaluates as `cfg` says; writes the CSV if asked.
///
/// Everything that can be checked before the (possibly hours-long) pass
/// over the val set is: the batch size, the CSV's destination (claimed
/// now, written at the end), the checkpoint and its checksums, the device.
pub fn evaluate(cfg: &EvalConfig) -> Result<EvalReport> {
    if cfg.batch_size == 0 {
        return Err(TrainError::Config("--batch-size must be positive".into()));
    }
    let csv = cfg.csv.as_deref().map(AtomicFile::create).transpose()?;
    let source = Source::resolve(&cfg.weights)?;
    let report = crate::backend::run_on(cfg.backend, &[cfg.device], Job { cfg, source })?;
    if let Some(mut csv) = csv {
        csv.write(report.csv().as_bytes())?;
        csv.finish()?;
    }
    Ok(report)
}

/// The weights, resolved.
pub(crate) enum Source {
    // Boxed: a checkpoint carries its whole state (clippy: large_enum_variant).
    Checkpoint(Box<checkpoint::Checkpoint>),
    Torchvision(PathBuf),
}

impl Source {
    /// Resolves `weights` (finds the checkpoint and checks its files).
    pub(crate) fn resolve(weights: &WeightsSource) -> Result<Self> {
        Ok(match weights {
            WeightsSource::Checkpoint(path) => {
                Source::Checkpoint(Box::new(checkpoint::find(path)?))
            }
            WeightsSource::Torchvision(path) => Source::Torchvision(path.clone()),
        })
    }

    /// The network the weights are for (torchvision's: 1000 classes).
    pub(crate) fn model_config(&self) -> AlexNetConfig {
        match self {
            Source::Checkpoint(c) => c.state.model_config.clone(),
            Source::Torchvision(_) => AlexNetConfig::torchvision(1000),
        }
    }
}

/// [`evaluate`] as a job for whichever backend the configuration names.
struct Job<'a> {
    cfg: &'a EvalConfig,
    source: Source,
}

impl BackendJob for Job<'_> {
    type Output = EvalReport;
    fn run<B: AutodiffBackend>(self, devices: Vec<B::Device>) -> Result<EvalReport> {
        let device = devices
            .into_iter()
            .next()
            .expect("run_on gives one device per ordinal");
        run::<B::InnerBackend>(self.cfg, &self.source, device)
    }

    fn largest_tensor(&self) -> Option<(u64, String)> {
        let bytes = self.source.model_config().largest_weight_bytes();
        Some((bytes, "fc6's weight".into()))
    }
}

fn run<B: Backend>(cfg: &EvalConfig, source: &Source, device: B::Device) -> Result<EvalReport> {
    let set = Arc::new(ShardSet::open(&cfg.data, SplitName::Val)?);
    let (model, mean, scale) = load_model::<B>(source, set.num_classes(), &device)?;
    let view = if cfg.ten_crop {
        EvalView::TenCrop
    } else {
        EvalView::Center
    };
    let settings = EvalSettings {
        view,
        crop: model.config.input_size(),
        mean,
        scale,
        batch_size: cfg.batch_size,
        workers: cfg.workers,
    };
    let bar = progress_bar(set.len() as u64, cfg.quiet);
    bar.set_prefix(if cfg.ten_crop { "10-crop" } else { "centre" });
    let counts = validate::run(&model, set.clone(), settings, &device, |n| {
        bar.inc(n as u64)
    })?;
    bar.finish_and_clear();
    Ok(report(&counts, set.as_ref(), cfg.ten_crop))
}

/// Loads the network and the input normalisation it was trained with.
pub(crate) fn load_model<B: Backend>(
    source: &Source,
    num_classes: usize,
    device: &B::Device,
) -> Result<(AlexNet<B>, MeanMode, f32)> {
    match source {
        Source::Checkpoint(ckpt) => {
            let classes = ckpt.state.dataset.num_classes;
            if classes != num_classes {
                return Err(TrainError::BadData {
                    path: ckpt.dir.clone(),
                    reason: format!(
                        "the checkpoint's model has {classes} classes, the val shards {num_classes}"
                    ),
                });
            }
            let aug = &ckpt.state.config.augment;
            let (mean, scale) = (crate::data::mean_mode(aug.mean), aug.scale);
            Ok((ckpt.load_weights(device)?, mean, scale))
        }
        Source::Torchvision(path) => {
            let config = AlexNetConfig::torchvision(num_classes);
            let model = load_torchvision(&config, path, device)?;
            // What its weights were trained on: torchvision's own
            // per-channel mean and std on [0, 1] pixels, not the dataset's.
            Ok((model, MeanMode::Torchvision, 1.0))
        }
    }
}

fn load_torchvision<B: Backend>(
    config: &AlexNetConfig,
    path: &Path,
    device: &B::Device,
) -> Result<AlexNet<B>> {
    alexnet::safetensors::load(config, path, device).map_err(|e| TrainError::Model {
        context: format!("loading torchvision weights {}", path.display()),
        message: e.to_string(),
    })
}

fn report(counts: &EvalCounts, set: &ShardSet, ten_crop: bool) -> EvalReport {
    let classes = &set.manifest().classes;
    let per_class = counts
        .per_class
        .iter()
        .enumerate()
        .map(|(i, t)| ClassResult {
            index: i,
            name: classes.get(i).map_or_else(String::new, |c| c.name.clone()),
            words: classes.get(i).map_or_else(String::new, |c| c.words.clone()),
            n: t.n,
            top1_error: if t.n == 0 { 0.0 } else { t.top1_error() },
            top5_error: if t.n == 0 { 0.0 } else { t.top5_error() },
        })
        .collect();
    EvalReport {
        view: if ten_crop { "10-crop" } else { "center" },
        n: counts.total.n,
        top1_error: counts.total.top1_error(),
        top5_error: counts.total.top5_error(),
        loss: counts.total.mean_loss(),
        per_class,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_words() {
        let r = EvalReport {
            view: "center",
            n: 3,
            top1_error: 0.5,
            top5_error: 0.0,
            loss: 1.0,
            per_class: vec![ClassResult {
                index: 0,
                name: "n01440764".into(),
                words: "tench, Tinca \"tinca\"".into(),
                n: 3,
                top1_error: 1.0 / 3.0,
                top5_error: 0.0,
            }],
        };
        assert_eq!(
            r.csv(),
            "class,name,words,n,top1_error,top5_error\n0,\"n01440764\",\"tench, Tinca \"\"tinca\"\"\",3,0.333333,0.000000\n"
        );
    }
}
