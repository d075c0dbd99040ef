//! `cargo xtask demo`: synth → prep → train → evaluate on a small built-in
//! dataset, on the CPU.

use std::path::PathBuf;

use anyhow::Context;
use train::demo::{DemoConfig, run as run_demo};

/// Run the whole pipeline on a small synthetic dataset (a few minutes on 2 cores).
#[derive(clap::Args)]
pub struct Args {
    /// Output directory (replaced: raw/, shards/, run/).
    #[arg(long, default_value = "demo-out")]
    out: PathBuf,
    /// Epochs.
    #[arg(long)]
    epochs: Option<u64>,
    /// Seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Initial learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

/// Runs `cargo xtask demo`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut cfg = DemoConfig::new(args.out.clone());
    if let Some(e) = args.epochs {
        cfg.epochs = e;
    }
    if let Some(s) = args.seed {
        cfg.seed = s;
    }
    if let Some(lr) = args.lr {
        cfg.lr = lr;
    }
    cfg.quiet = args.quiet;
    println!(
        "demo: {} classes × {} train / {} val images, {}×{} shards, tiny AlexNet, {} epochs on the CPU",
        cfg.classes,
        cfg.train_per_class,
        cfg.val_per_class,
        cfg.image_size,
        cfg.image_size,
        cfg.epochs
    );
    let r = run_demo(&cfg).with_context(|| format!("demo in {}", args.out.display()))?;
    print!("{}", r.train.table());
    let chance = 100.0 * r.chance_top1_error;
    for e in [&r.center, &r.ten_crop] {
        println!(
            "val {:>7}: top-1 error {:5.1}% (accuracy {:5.1}%, chance {:.0}%), top-5 error {:5.1}%",
            e.view,
            100.0 * e.top1_error,
            100.0 * (1.0 - e.top1_error),
            100.0 - chance,
            100.0 * e.top5_error
        );
    }
    let [s, p, t, e] = r.seconds;
    println!("time: synth {s:.0}s, prep {p:.0}s, train {t:.0}s, evaluate {e:.0}s");
    println!("archives:   {}", r.raw.display());
    println!("shards:     {}", r.shards.display());
    if let Some(c) = &r.train.last_checkpoint {
        println!("checkpoint: {}", c.display());
    }
    println!("metrics:    {}", r.metrics().display());
    println!("plot:       {}", r.plot().display());
    println!(
        "per class:  {}",
        r.run.join("per_class_10crop.csv").display()
    );
    Ok(())
}
