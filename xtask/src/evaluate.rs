//! `cargo xtask evaluate`: score a checkpoint or torchvision weights on the
//! val shards.

use std::path::PathBuf;

use anyhow::Context;
use train::config::BackendKind;
use train::{EvalConfig, WeightsSource};

/// Evaluate a checkpoint (or torchvision weights) on the val shards.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("weights").required(true).args(["checkpoint", "torchvision_weights"])))]
pub struct Args {
    /// Directory with manifest.json and the val shards.
    #[arg(long)]
    data: PathBuf,
    /// A checkpoint directory, or a run's output directory (uses its latest).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// A torchvision `alexnet` state dict saved as safetensors.
    #[arg(long)]
    torchvision_weights: Option<PathBuf>,
    /// The paper's ten crops (corners + centre, and flips; softmax averaged).
    #[arg(long)]
    ten_crop: bool,
    /// Write per-class results (class, wnid, words, n, top-1, top-5 error).
    #[arg(long)]
    csv: Option<PathBuf>,
    /// Images per batch.
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Backend: cpu, cuda or wgpu.
    #[arg(long, default_value = "cpu")]
    backend: BackendKind,
    /// Device ordinal.
    #[arg(long, default_value_t = 0)]
    device: usize,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// Runs `cargo xtask evaluate`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let weights = match (args.checkpoint, args.torchvision_weights) {
        (Some(c), _) => WeightsSource::Checkpoint(c),
        (None, Some(t)) => WeightsSource::Torchvision(t),
        (None, None) => anyhow::bail!("give --checkpoint or --torchvision-weights"),
    };
    let mut cfg = EvalConfig::new(args.data.clone(), weights);
    cfg.ten_crop = args.ten_crop;
    cfg.csv = args.csv;
    cfg.batch_size = args.batch_size;
    cfg.backend = args.backend;
    cfg.device = args.device;
    cfg.quiet = args.quiet;
    let r =
        train::evaluate(&cfg).with_context(|| format!("evaluating on {}", args.data.display()))?;
    println!(
        "{} images, {}: top-1 error {:.2}%, top-5 error {:.2}% (loss {:.4})",
        r.n,
        r.view,
        100.0 * r.top1_error,
        100.0 * r.top5_error,
        r.loss
    );
    if let Some(p) = &cfg.csv {
        println!("per-class results: {}", p.display());
    }
    Ok(())
}
