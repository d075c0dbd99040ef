//! `cargo xtask bench train`: images/s of real training steps through the
//! trainer (loader, forward, backward, optimizer, metrics, logging), against
//! a plain PyTorch loop with the same recipe on the same shards
//! (`scripts/bench_train_torch.py`).
//!
//! The trainer is run twice per round, to `--warmup` steps and to
//! `--warmup + --steps`; the difference of the two wall times is the time of
//! `--steps` steps with every overhead a run has after start-up (loader
//! waits, host copies, metric syncs, the weight check, the log) and none of
//! the start-up itself (model init, the loader's first batches, the final
//! checkpoint, which both runs pay alike).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use imagenet_prep::synth::SynthConfig;
use train::config::{BackendKind, ModelKind, TrainConfig};
use train::metrics::MetricRecord;
use train::train;

use crate::bench::{median, python_json};

/// Options of `bench train`.
#[derive(clap::Args)]
pub struct Args {
    /// Prepared dataset (default: a synthetic one made in --work).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Scratch directory for the synthetic dataset and the runs.
    #[arg(long, default_value = "target/bench-train")]
    work: PathBuf,
    /// Network: tiny (64x64 crops) or paper (224x224).
    #[arg(long, default_value = "tiny")]
    model: String,
    /// Batch size.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Timed steps per round.
    #[arg(long, default_value_t = 30)]
    steps: u64,
    /// Steps run before the clock starts.
    #[arg(long, default_value_t = 5)]
    warmup: u64,
    /// Rounds; each runs ours then PyTorch, so both see the same machine load.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Loader workers (threads here, DataLoader processes in PyTorch).
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Compute threads for both frameworks (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Python interpreter with torch installed.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Skip the PyTorch baseline.
    #[arg(long)]
    no_torch: bool,
}

/// Runs `cargo xtask bench train`.
pub fn run(args: Args) -> Result<()> {
    ensure!(
        args.steps > 0 && args.warmup > 0,
        "--steps and --warmup must be at least 1"
    );
    ensure!(args.batch > 0, "--batch must be at least 1");
    let threads = crate::bench::compute_threads(args.threads)?;
    let model = match args.model.as_str() {
        "tiny" => ModelKind::Tiny,
        "paper" => ModelKind::Paper,
        other => bail!("--model {other}: expected tiny or paper"),
    };
    let images_needed = (args.warmup + args.steps + 1) as usize * args.batch;
    let data = match &args.data {
        Some(d) => d.clone(),
        None => synthetic_dataset(&args, model, images_needed)?,
    };
    println!(
        "bench train: {} AlexNet, batch {}, {} timed steps after {} warm-up, {} loader worker(s), \
         {threads} compute thread(s), {} round(s), data {}",
        args.model,
        args.batch,
        args.steps,
        args.warmup,
        args.workers,
        args.rounds,
        data.display()
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/bench_train_torch.py");
    let (mut ours, mut compute, mut torch) = (Vec::new(), Vec::new(), Vec::new());
    let mut version = String::new();
    for round in 0..args.rounds {
        let (ips, compute_ips) = time_trainer(&args, model, &data)?;
        println!("round {round}: ours    {ips:7.1} img/s (compute alone {compute_ips:7.1} img/s)");
        ours.push(ips);
        compute.push(compute_ips);
        if !args.no_torch {
            let v = python_json(&args.python, &script, &torch_args(&args, &data, threads))?;
            let ips = v["images_per_s"]
                .as_f64()
                .context("PyTorch output lacks `images_per_s`")?;
            version = v["torch"].as_str().unwrap_or("?").to_string();
            println!("round {round}: pytorch {ips:7.1} img/s");
            torch.push(ips);
        }
    }
    let (o, t) = (median(&ours), median(&torch));
    println!();
    println!("| median img/s          |    ours |  PyTorch | ours / PyTorch |");
    println!("|-----------------------|---------|----------|----------------|");
    if args.no_torch {
        println!("| end to end            | {o:7.1} |      n/a |            n/a |");
    } else {
        println!(
            "| end to end            | {o:7.1} | {t:8.1} | {:13.2}x |",
            o / t
        );
        println!("PyTorch {version}; target: ours >= 0.8x the PyTorch loop's images/s");
    }
    println!(
        "ours, forward + backward + update alone (the step records): {:.1} img/s",
        median(&compute)
    );
    Ok(())
}

/// A synthetic dataset big enough for one epoch of the benchmark's steps,
/// made once in `--work` and reused while its size fits.
fn synthetic_dataset(args: &Args, model: ModelKind, images: usize) -> Result<PathBuf> {
    let (classes, size) = match model {
        ModelKind::Paper => (10, 256),
        _ => (10, 72),
    };
    let per_class = images.div_ceil(classes);
    let dir = args
        .work
        .join(format!("synth-{classes}x{per_class}-{size}"));
    let shards = dir.join("shards");
    if shards.join(shard_format::manifest::MANIFEST_FILE).is_file() {
        return Ok(shards);
    }
    let synth = SynthConfig {
        classes,
        train_per_class: per_class,
        val_per_class: 2,
        min_side: size,
        max_side: size + size / 3,
        ..SynthConfig::default()
    };
    println!(
        "bench train: making {} synthetic {size}x{size} images in {}",
        classes * per_class,
        dir.display()
    );
    crate::demo::synth_and_prep(&synth, &dir.join("raw"), &shards, size, true)?;
    Ok(shards)
}

/// One round of ours: (end-to-end img/s over the timed steps, median
/// compute-only img/s of those steps from the step records).
fn time_trainer(args: &Args, model: ModelKind, data: &Path) -> Result<(f64, f64)> {
    let short = run_trainer(args, model, data, args.warmup, "short")?;
    let long = run_trainer(args, model, data, args.warmup + args.steps, "long")?;
    let seconds = long.0 - short.0;
    ensure!(seconds > 0.0, "the longer run took no longer ({seconds} s)");
    let images = (args.steps as usize * args.batch) as f64;
    let compute: Vec<f64> = long
        .1
        .iter()
        .filter_map(|r| match r {
            MetricRecord::Step {
                step,
                images_per_sec,
                ..
            } if *step > args.warmup => Some(*images_per_sec),
            _ => None,
        })
        .collect();
    Ok((images / seconds, median(&compute)))
}

/// Trains `steps` steps in a fresh run directory: (wall seconds, records).
fn run_trainer(
    args: &Args,
    model: ModelKind,
    data: &Path,
    steps: u64,
    name: &str,
) -> Result<(f64, Vec<MetricRecord>)> {
    let out = args.work.join(format!("run-{name}"));
    if out.exists() {
        std::fs::remove_dir_all(&out).with_context(|| format!("clearing {}", out.display()))?;
    }
    let mut cfg = TrainConfig::paper(data.to_path_buf(), out.clone());
    cfg.model = model;
    cfg.backend = BackendKind::Cpu;
    cfg.batch_size = args.batch;
    cfg.workers = args.workers;
    cfg.max_steps = Some(steps);
    cfg.checkpoint_every = None;
    cfg.quiet = true;
    let t = Instant::now();
    let summary = train(&cfg, None).with_context(|| format!("training in {}", out.display()))?;
    let seconds = t.elapsed().as_secs_f64();
    ensure!(
        summary.epochs_done == 0,
        "{}: an epoch ended inside the benchmark (validation would be timed); use a dataset with \
         at least {} training images",
        data.display(),
        (args.warmup + args.steps + 1) as usize * args.batch
    );
    Ok((seconds, summary.records))
}

fn torch_args(args: &Args, data: &Path, threads: usize) -> Vec<String> {
    let mut v: Vec<String> = [
        "--data",
        &data.display().to_string(),
        "--model",
        &args.model,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (flag, value) in [
        ("--batch", args.batch.to_string()),
        ("--steps", args.steps.to_string()),
        ("--warmup", args.warmup.to_string()),
        ("--workers", args.workers.to_string()),
        ("--threads", threads.to_string()),
        ("--lr", train::config::recipe::LR.to_string()),
    ] {
        v.push(flag.into());
        v.push(value);
    }
    v
}
