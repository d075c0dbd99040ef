//! `cargo xtask train`: the recipe's flags, over a `--config` file, over
//! the paper's defaults (`train::config_file`), into a `TrainConfig`; run it.

use std::path::PathBuf;

use anyhow::Context;
use train::config::{BackendKind, MeanKind, ModelKind};
use train::config_file::TrainOptions;

/// Train AlexNet on prepared shards. Defaults are the paper's recipe;
/// `--print-config` shows every value in effect.
#[derive(clap::Args)]
pub struct Args {
    /// Read settings from this TOML file: its keys are these flags' names
    /// (`batch-size = 256`, `no-flip = true`); flags given here override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print the effective configuration as TOML (a valid --config file)
    /// and exit without training.
    #[arg(long)]
    print_config: bool,
    /// Directory with manifest.json and the shards (`cargo xtask prep --out`).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Output directory: checkpoints/, metrics.jsonl, curves.png, config.toml.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Model: paper, torchvision or tiny [default: paper].
    #[arg(long)]
    model: Option<ModelKind>,
    /// Backend: cpu, cuda or wgpu [default: cpu].
    #[arg(long)]
    backend: Option<BackendKind>,
    /// Devices: `0` (one device) or `0,1` (the paper's two-tower split).
    #[arg(long, value_delimiter = ',')]
    devices: Option<Vec<usize>>,
    /// Epochs in total.
    #[arg(long)]
    epochs: Option<u64>,
    /// Images per SGD step.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Initial learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Momentum (dampening is 0, as in the paper).
    #[arg(long)]
    momentum: Option<f64>,
    /// L2 weight decay.
    #[arg(long)]
    weight_decay: Option<f64>,
    /// `plateau[:PATIENCE]` (÷10 when val top-1 error stops improving) or
    /// `step:E1,E2,...` (÷10 after those epochs).
    #[arg(long)]
    lr_schedule: Option<String>,
    /// Most learning-rate drops for `plateau`.
    #[arg(long)]
    max_drops: Option<u32>,
    /// Seed of initialisation, shuffling, augmentation and dropout.
    #[arg(long)]
    seed: Option<u64>,
    /// Override the classifier's dropout probability (paper: 0.5).
    #[arg(long)]
    dropout: Option<f64>,
    /// Override the standard deviation of the initial weights (paper: 0.01).
    #[arg(long)]
    init_std: Option<f64>,
    /// Start from these weights instead of the random init (fine-tuning): a
    /// .safetensors file (ours; torchvision's state dict with --model
    /// torchvision) or a checkpoint directory.
    #[arg(long, value_name = "WEIGHTS")]
    init_from: Option<PathBuf>,
    /// Checkpoint every N steps (besides every epoch end).
    #[arg(long)]
    checkpoint_every: Option<u64>,
    /// Stop (with a checkpoint) after this many steps in total.
    #[arg(long)]
    max_steps: Option<u64>,
    /// Continue the run whose checkpoint (or output directory) this is.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Input normalisation: image (mean image), per-channel, torchvision
    /// (its mean/std on [0, 1] pixels, for torchvision weights) or none.
    #[arg(long)]
    mean: Option<MeanKind>,
    /// Standard deviation of PCA lighting (0 disables).
    #[arg(long)]
    pca_std: Option<f32>,
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
    #[arg(long)]
    val_batch_size: Option<usize>,
    /// No progress bar or per-epoch lines.
    #[arg(long)]
    quiet: bool,
    /// When stdout is not a terminal, a plain progress line every N steps
    /// (0: none).
    #[arg(long)]
    log_every: Option<u64>,
}

impl Args {
    /// The flags given, as settings (absent flags unset).
    fn options(&self) -> TrainOptions {
        TrainOptions {
            data: self.data.clone(),
            out: self.out.clone(),
            model: self.model,
            backend: self.backend,
            devices: self.devices.clone(),
            epochs: self.epochs,
            batch_size: self.batch_size,
            lr: self.lr,
            momentum: self.momentum,
            weight_decay: self.weight_decay,
            lr_schedule: self.lr_schedule.clone(),
            max_drops: self.max_drops,
            seed: self.seed,
            dropout: self.dropout,
            init_std: self.init_std,
            init_from: self.init_from.clone(),
            checkpoint_every: self.checkpoint_every,
            max_steps: self.max_steps,
            resume: self.resume.clone(),
            mean: self.mean,
            pca_std: self.pca_std,
            // A switch can only be turned on here; absent, the file decides.
            no_random_crop: self.no_random_crop.then_some(true),
            no_flip: self.no_flip.then_some(true),
            workers: self.workers,
            val_batch_size: self.val_batch_size,
            quiet: self.quiet.then_some(true),
            log_every: self.log_every,
        }
    }

    /// The flags over the config file, if any.
    fn merged(&self) -> anyhow::Result<TrainOptions> {
        let flags = self.options();
        Ok(match &self.config {
            Some(path) => flags.over(TrainOptions::from_file(path)?),
            None => flags,
        })
    }
}

/// The effective configuration as a config file; `data` and `out` are left
/// out when neither the flags nor the file set them (a template).
fn printed_config(opts: &TrainOptions) -> anyhow::Result<String> {
    let placeholder = TrainOptions {
        data: Some("DATA".into()),
        out: Some("OUT".into()),
        ..TrainOptions::default()
    };
    let cfg = opts.clone().over(placeholder).to_config()?;
    let mut full = TrainOptions::from_config(&cfg);
    full.data = opts.data.clone();
    full.out = opts.out.clone();
    full.resume = opts.resume.clone();
    Ok(full.to_toml())
}

/// Runs `cargo xtask train`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let opts = args.merged()?;
    if args.print_config {
        print!("{}", printed_config(&opts)?);
        return Ok(());
    }
    let cfg = opts.to_config()?;
    if !cfg.quiet {
        let mut ordinals = cfg.devices.clone();
        ordinals.dedup();
        for o in ordinals {
            eprintln!("device: {}", train::backend::describe(cfg.backend, o));
        }
    }
    let summary = train::train(&cfg, opts.resume.as_deref())
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
    println!(
        "config:     {}",
        summary
            .out
            .join(train::config_file::RUN_CONFIG_FILE)
            .display()
    );
    let plot = summary.out.join(train::run_log::PLOT_FILE);
    if plot.is_file() {
        println!("plot:       {}", plot.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser};

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(argv: &[&str]) -> Args {
        Cli::try_parse_from(std::iter::once("train").chain(argv.iter().copied()))
            .unwrap()
            .args
    }

    /// Every key a config file may hold is a flag of the same name and
    /// every flag (but --config and --print-config) is a key: the two lists
    /// are kept by hand and this holds them together.
    #[test]
    fn config_keys_are_exactly_the_flags() {
        let mut all = TrainOptions::from_config(&train::TrainConfig::paper("d".into(), "o".into()));
        all.dropout = Some(0.5);
        all.init_std = Some(0.01);
        all.init_from = Some("w".into());
        all.checkpoint_every = Some(1);
        all.max_steps = Some(1);
        all.resume = Some("r".into());
        let mut keys: Vec<String> = all
            .to_toml()
            .lines()
            .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.to_string()))
            .collect();
        keys.sort();
        let mut flags: Vec<String> = Cli::command()
            .get_arguments()
            .filter_map(|a| a.get_long().map(String::from))
            .filter(|l| l != "config" && l != "print-config")
            .collect();
        flags.sort();
        assert_eq!(keys, flags);
    }

    #[test]
    fn flags_override_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("run.toml");
        std::fs::write(
            &file,
            "data = \"d\"\nout = \"o\"\nlr = 0.02\nepochs = 4\nno-flip = true\ndevices = [0, 1]\n",
        )
        .unwrap();
        let f = file.to_str().unwrap();
        let cfg = parse(&["--config", f, "--lr", "0.03", "--quiet"])
            .merged()
            .unwrap()
            .to_config()
            .unwrap();
        assert_eq!((cfg.lr, cfg.epochs, cfg.augment.flip), (0.03, 4, false));
        assert_eq!((cfg.devices.clone(), cfg.quiet), (vec![0, 1], true));
        assert_eq!(cfg.data, PathBuf::from("d"));
    }

    #[test]
    fn printed_config_reads_back_as_the_same_run() {
        let args = parse(&[
            "--data",
            "d",
            "--out",
            "o",
            "--model",
            "tiny",
            "--lr-schedule",
            "step:2,4",
        ]);
        let opts = args.merged().unwrap();
        let text = printed_config(&opts).unwrap();
        let back = TrainOptions::from_toml(&text).unwrap().to_config().unwrap();
        assert_eq!(back, opts.to_config().unwrap(), "{text}");
        // Without --data/--out: a template without them, still valid.
        let text = printed_config(&parse(&[]).merged().unwrap()).unwrap();
        assert!(
            !text.contains("data =") && text.contains("lr = 0.01"),
            "{text}"
        );
        assert!(TrainOptions::from_toml(&text).is_ok());
    }
}
