//! `cargo xtask predict`: the top classes of image files, with a
//! checkpoint or torchvision weights.

use std::path::PathBuf;

use anyhow::Context;
use train::WeightsSource;
use train::config::BackendKind;
use train::predict::{PredictConfig, Prediction, predict};

/// Classify images: top-5 classes with names and probabilities, each image
/// prepared exactly as prep and the evaluation's centre crop prepare the
/// val set.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("weights").required(true).args(["checkpoint", "torchvision_weights"])))]
pub struct Args {
    /// A checkpoint directory, or a run's output directory (uses its latest).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// A torchvision `alexnet` state dict saved as safetensors (fed
    /// torchvision's normalisation; 256 resize, 224 centre crop).
    #[arg(long)]
    torchvision_weights: Option<PathBuf>,
    /// With --checkpoint: the prepared dataset it was trained on (default:
    /// the run's --data). Gives class names, image size and mean.
    #[arg(long)]
    data: Option<PathBuf>,
    /// With --torchvision-weights: a manifest.json (or prepared dataset) of
    /// ILSVRC-2012's 1000 classes for names; without it, indices only.
    #[arg(long)]
    classes: Option<PathBuf>,
    /// Classes shown per image.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Average over the paper's ten crops instead of the centre crop.
    #[arg(long)]
    ten_crop: bool,
    /// Print JSON (an array, one object per image) instead of text.
    #[arg(long)]
    json: bool,
    /// Backend: cpu, cuda or wgpu.
    #[arg(long, default_value = "cpu")]
    backend: BackendKind,
    /// Device ordinal.
    #[arg(long, default_value_t = 0)]
    device: usize,
    /// Image files (JPEG or PNG).
    #[arg(required = true, value_name = "IMAGE")]
    images: Vec<PathBuf>,
}

/// Runs `cargo xtask predict`.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.classes.is_some() && args.checkpoint.is_some() {
        anyhow::bail!(
            "--classes is for --torchvision-weights; a checkpoint's names come from its dataset (--data)"
        );
    }
    let weights = match (args.checkpoint, args.torchvision_weights) {
        (Some(c), _) => WeightsSource::Checkpoint(c),
        (None, Some(t)) => WeightsSource::Torchvision(t),
        (None, None) => anyhow::bail!("give --checkpoint or --torchvision-weights"),
    };
    let mut cfg = PredictConfig::new(weights, args.images);
    cfg.data = args.data;
    cfg.classes = args.classes;
    cfg.top_k = args.top;
    cfg.ten_crop = args.ten_crop;
    cfg.backend = args.backend;
    cfg.device = args.device;
    let predictions = predict(&cfg).context("predicting")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&predictions)?);
    } else {
        print!("{}", text(&predictions));
    }
    Ok(())
}

/// One block per image: its path, then `rank. probability  index  name
/// words` (the words only when the dataset has them; `#index` without a
/// manifest).
fn text(predictions: &[Prediction]) -> String {
    let mut s = String::new();
    for p in predictions {
        s.push_str(&format!("{}\n", p.image.display()));
        for (rank, c) in p.top.iter().enumerate() {
            let name = c.name.clone().unwrap_or_else(|| c.label());
            let line = format!(
                "  {}. {:6.2}%  {:>4}  {:<10} {}",
                rank + 1,
                100.0 * c.probability,
                c.index,
                name,
                c.words.as_deref().unwrap_or("")
            );
            s.push_str(line.trim_end());
            s.push('\n');
        }
    }
    s
}
