//! `cargo xtask train`: parse the recipe's flags into a `TrainConfig` and
//! run it.

use std::path::PathBuf;

use anyhow::Context;
use train::config::{AugmentSettings, BackendKind, MeanKind, ModelKind, TrainConfig, recipe};
use train::schedule::LrSchedule;

/// Train AlexNet on prepared shards (the paper's recipe by default).
#[derive(clap::Args)]
pub struct Args {
    /// Directory with manifest.json and the shards (`cargo xtask prep --out`).
    #[arg(long)]
    data: PathBuf,
    /// Output directory: checkpoints/, metrics.jsonl, curves.png.
    #[arg(long)]
    out: PathBuf,
    /// Model: paper, torchvision or tiny.
    #[arg(long, default_value = "paper")]
    model: ModelKind,
    /// Backend: cpu, cuda or wgpu.
    #[arg(long, default_value = "cpu")]
    backend: BackendKind,
    /// Devices: `0` (one device) or `0,1` (the paper's two-tower split).
    #[arg(long, default_value = "0", value_delimiter = ',')]
    devices: Vec<usize>,
    /// Epochs in total.
    #[arg(long, default_value_t = recipe::EPOCHS)]
    epochs: u64,
    /// Images per SGD step.
    #[arg(long, default_value_t = recipe::BATCH_SIZE)]
    batch_size: usize,
    /// Initial learning rate.
    #[arg(long, default_value_t = recipe::LR)]
    lr: f64,
    /// Momentum (dampening is 0, as in the paper).
    #[arg(long, default_value_t = recipe::MOMENTUM)]
    momentum: f64,
    /// L2 weight decay.
    #[arg(long, default_value_t = recipe::WEIGHT_DECAY)]
    weight_decay: f64,
    /// `plateau[:PATIENCE]` (÷10 when val top-1 error stops improving) or
    /// `step:E1,E2,...` (÷10 after those epochs).
    #[arg(long, default_value_t = format!("plateau:{}", recipe::PLATEAU_PATIENCE))]
    lr_schedule: String,
    /// Most learning-rate drops for `plateau`.
    #[arg(long, default_value_t = recipe::MAX_LR_DROPS)]
    max_drops: u32,
    /// Seed of initialisation, shuffling, augmentation and dropout.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Override the classifier's dropout probability (paper: 0.5).
    #[arg(long)]
    dropout: Option<f64>,
    /// Override the standard deviation of the initial weights (paper: 0.01).
    #[arg(long)]
    init_std: Option<f64>,
    /// Checkpoint every N steps (besides every epoch end).
    #[arg(long)]
    checkpoint_every: Option<u64>,
    /// Stop (with a checkpoint) after this many steps in total.
    #[arg(long)]
    max_steps: Option<u64>,
    /// Continue the run whose checkpoint (or output directory) this is.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Mean subtraction: image, per-channel or none.
    #[arg(long, default_value = "image")]
    mean: MeanKind,
    /// Standard deviation of PCA lighting (0 disables).
    #[arg(long, default_value_t = recipe::PCA_STD)]
    pca_std: f32,
    /// Centre crops instead of random crops.
    #[arg(long)]
    no_random_crop: bool,
    /// No horizontal flips.
    #[arg(long)]
    no_flip: bool,
    /// Loader threads (default: all cores).
    #[arg(long)]
    workers: Option<usize>,
    /// Batch size for validation.
    #[arg(long, default_value_t = recipe::VAL_BATCH_SIZE)]
    val_batch_size: usize,
    /// No progress bar or per-epoch lines.
    #[arg(long)]
    quiet: bool,
    /// When stdout is not a terminal, a plain progress line every N steps
    /// (0: none).
    #[arg(long, default_value_t = recipe::LOG_EVERY)]
    log_every: u64,
}

/// Builds the library's configuration from the flags.
fn config(a: &Args) -> anyhow::Result<TrainConfig> {
    let mut c = TrainConfig::paper(a.data.clone(), a.out.clone());
    c.model = a.model;
    c.backend = a.backend;
    c.devices = a.devices.clone();
    c.epochs = a.epochs;
    c.batch_size = a.batch_size;
    c.lr = a.lr;
    c.momentum = a.momentum;
    c.weight_decay = a.weight_decay;
    c.lr_schedule = LrSchedule::parse(&a.lr_schedule, a.max_drops)
        .map_err(anyhow::Error::msg)
        .context("--lr-schedule")?;
    c.seed = a.seed;
    c.dropout = a.dropout;
    c.init_std = a.init_std;
    c.augment = AugmentSettings {
        random_crop: !a.no_random_crop,
        flip: !a.no_flip,
        pca_std: a.pca_std,
        mean: a.mean,
        scale: 255.0,
    };
    c.checkpoint_every = a.checkpoint_every;
    c.max_steps = a.max_steps;
    if let Some(w) = a.workers {
        c.workers = w;
    }
    c.val_batch_size = a.val_batch_size;
    c.quiet = a.quiet;
    c.log_every = a.log_every;
    Ok(c)
}

/// Runs `cargo xtask train`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let cfg = config(&args)?;
    if !cfg.quiet {
        let mut ordinals = cfg.devices.clone();
        ordinals.dedup();
        for o in ordinals {
            eprintln!("device: {}", train::backend::describe(cfg.backend, o));
        }
    }
    let summary = train::train(&cfg, args.resume.as_deref())
        .with_context(|| format!("training on {}", cfg.data.display()))?;
    if summary.steps_run == 0 {
        println!(
            "nothing to do: the run is at step {} after {} of {} epochs{}; raise --epochs{} to train further",
            summary.global_step,
            summary.epochs_done,
            cfg.epochs,
            cfg.max_steps
                .map_or_else(String::new, |m| format!(" (--max-steps {m})")),
            if cfg.max_steps.is_some() {
                " or --max-steps"
            } else {
                ""
            },
        );
    }
    if !cfg.quiet {
        print!("{}", summary.table());
    }
    println!(
        "{} steps, {} epochs done, {:.1} images/s",
        summary.global_step, summary.epochs_done, summary.images_per_sec
    );
    if let Some(c) = &summary.last_checkpoint {
        println!("checkpoint: {}", c.display());
    }
    if let Some(b) = &summary.best_checkpoint {
        println!("best:       {}", b.display());
    }
    println!(
        "metrics:    {}",
        summary.out.join(train::run_log::METRICS_FILE).display()
    );
    let plot = summary.out.join(train::run_log::PLOT_FILE);
    if plot.is_file() {
        println!("plot:       {}", plot.display());
    }
    Ok(())
}
