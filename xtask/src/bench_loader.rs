//! `cargo xtask bench loader`: augmented training images/s of the Rust
//! loader from page-cached shards, against a NumPy loader doing the same
//! per-image work (scripts/bench_loader_numpy.py), in the same run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use train::loader::synthetic::{SyntheticShards, write_synthetic_shards};
use train::loader::{AugmentConfig, ShardSet, SplitName, TrainLoader};

/// Arguments of `cargo xtask bench loader`.
#[derive(clap::Args)]
pub struct Args {
    /// Prepared dataset (folder with manifest.json); default: synthetic
    /// 256×256 shards written to a temporary folder.
    #[arg(long)]
    shards: Option<PathBuf>,
    /// Images in the synthetic dataset.
    #[arg(long, default_value_t = 2048)]
    images: usize,
    /// Worker threads of the "all threads" row (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Batches timed per measurement.
    #[arg(long, default_value_t = 40)]
    batches: usize,
    /// Images per batch.
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Crop side.
    #[arg(long, default_value_t = 224)]
    crop: usize,
    /// Skip the NumPy baseline.
    #[arg(long)]
    no_python: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let tmp;
    let dir = match &args.shards {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::tempdir().context("creating a temporary folder")?;
            println!(
                "writing {} synthetic 256x256 images to {}",
                args.images,
                tmp.path().display()
            );
            let cfg = SyntheticShards {
                image_size: 256,
                classes: 10,
                train: args.images,
                val: 0,
                shard_size: 512,
                seed: 1,
            };
            write_synthetic_shards(tmp.path(), &cfg).context("writing synthetic shards")?;
            tmp.path().to_path_buf()
        }
    };
    let set = Arc::new(
        ShardSet::open(&dir, SplitName::Train)
            .with_context(|| format!("opening {}", dir.display()))?,
    );
    page_cache(&set)?;
    let all = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    println!(
        "{} images {}x{}, crop {}, batch {}, {} batches per measurement; paper augmentation \
         (random crop, flip, PCA lighting, mean image, NCHW f32)",
        set.len(),
        set.image_size(),
        set.image_size(),
        args.crop,
        args.batch_size,
        args.batches
    );
    let mut rows = Vec::new();
    for threads in if all > 1 { vec![1, all] } else { vec![1] } {
        let reuse = rust_rate(&set, &args, threads, true)?;
        let fresh = rust_rate(&set, &args, threads, false)?;
        let numpy = if args.no_python {
            None
        } else {
            Some(numpy_rate(&dir, &args, threads)?)
        };
        rows.push((threads, reuse, fresh, numpy));
    }
    println!();
    println!(
        "images/s; \"recycled\": the consumer hands each batch buffer back (`recycle`), \"fresh\": it keeps them"
    );
    println!(
        "| threads | Rust recycled | per core | Rust fresh | per core | NumPy | per core | Rust/NumPy (recycled, fresh) |"
    );
    println!(
        "|--------:|--------------:|---------:|-----------:|---------:|------:|---------:|-----------------------------:|"
    );
    for (t, reuse, fresh, numpy) in rows {
        let per = |r: f64| r / t as f64;
        let (n, ratio) = match numpy {
            Some(n) => (
                format!("{n:.0} | {:.0}", per(n)),
                format!("{:.1}x, {:.1}x", reuse / n, fresh / n),
            ),
            None => ("- | -".into(), "-".into()),
        };
        println!(
            "| {t} | {reuse:.0} | {:.0} | {fresh:.0} | {:.0} | {n} | {ratio} |",
            per(reuse),
            per(fresh)
        );
    }
    Ok(())
}

/// Reads every shard once so the measurements see page-cached files.
fn page_cache(set: &ShardSet) -> anyhow::Result<()> {
    let mut sum = 0u64;
    for k in 0..set.len() {
        sum = sum.wrapping_add(
            set.image(k)
                .iter()
                .step_by(4096)
                .map(|&b| u64::from(b))
                .sum::<u64>(),
        );
    }
    std::hint::black_box(sum);
    Ok(())
}

/// Images/s of `threads` workers (1: made on the consumer's thread),
/// handing batch buffers back for reuse if `recycle`.
fn rust_rate(
    set: &Arc<ShardSet>,
    args: &Args,
    threads: usize,
    recycle: bool,
) -> anyhow::Result<f64> {
    let aug = AugmentConfig {
        crop: args.crop,
        ..AugmentConfig::default()
    };
    let workers = if threads == 1 { 0 } else { threads };
    let loader = TrainLoader::new(set.clone(), aug, args.batch_size, 0, workers, 2 * threads)?;
    if loader.batches_per_epoch() == 0 {
        bail!(
            "fewer images ({}) than one batch ({})",
            set.len(),
            args.batch_size
        );
    }
    // Warm-up: first touches of the allocator and the mean image.
    loader
        .epoch(1000, 0)
        .take(2.min(loader.batches_per_epoch()))
        .for_each(drop);
    let start = Instant::now();
    let mut done = 0;
    let mut epoch = 0;
    while done < args.batches {
        for batch in loader.epoch(epoch, 0).take(args.batches - done) {
            std::hint::black_box(&batch.images);
            if recycle {
                loader.recycle(batch.images);
            }
            done += 1;
        }
        epoch += 1;
    }
    Ok((done * args.batch_size) as f64 / start.elapsed().as_secs_f64())
}

/// Images/s of the NumPy baseline with `threads` processes.
fn numpy_rate(dir: &Path, args: &Args, threads: usize) -> anyhow::Result<f64> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/bench_loader_numpy.py");
    let out = Command::new("python3")
        .arg(&script)
        .arg("--dir")
        .arg(dir)
        .args(["--threads", &threads.to_string()])
        .args(["--batches", &args.batches.to_string()])
        .args(["--batch-size", &args.batch_size.to_string()])
        .args(["--crop", &args.crop.to_string()])
        .output()
        .with_context(|| {
            format!(
                "running python3 {} (is numpy installed? `pip install numpy`)",
                script.display()
            )
        })?;
    if !out.status.success() {
        bail!(
            "{} failed:\n{}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let json: serde_json::Value =
        serde_json::from_str(line).with_context(|| format!("parsing {line:?}"))?;
    json["images_per_s"]
        .as_f64()
        .context("no images_per_s in the NumPy output")
}
