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
    let mut rows: Vec<(usize, &str, Rate)> = Vec::new();
    for threads in if all > 1 { vec![1, all] } else { vec![1] } {
        rows.push((
            threads,
            "Rust, recycled buffers",
            rust_rate(&set, &args, threads, true)?,
        ));
        rows.push((
            threads,
            "Rust, fresh buffers",
            rust_rate(&set, &args, threads, false)?,
        ));
        if !args.no_python {
            rows.push((threads, "NumPy", numpy_rate(&dir, &args, threads)?));
        }
    }
    println!();
    println!(
        "\"recycled\": the consumer hands each batch buffer back (`TrainLoader::recycle`); \
         \"fresh\": it keeps them. Images per CPU-second counts the CPU time of every \
         thread/process making batches, so it is a per-core rate even on a busy machine."
    );
    println!(
        "| threads | loader | images/s | images/s per thread | images per CPU-second | vs NumPy (per CPU-s) |"
    );
    println!(
        "|--------:|--------|---------:|--------------------:|----------------------:|---------------------:|"
    );
    for (t, name, r) in &rows {
        let numpy = rows
            .iter()
            .find(|(tn, n, _)| tn == t && *n == "NumPy")
            .and_then(|(_, _, r)| r.per_cpu());
        let vs = match (r.per_cpu(), numpy) {
            (Some(a), Some(b)) => format!("{:.1}x", a / b),
            _ => "-".into(),
        };
        let cpu = r.per_cpu().map_or("-".into(), |c| format!("{c:.0}"));
        println!(
            "| {t} | {name} | {:.0} | {:.0} | {cpu} | {vs} |",
            r.wall,
            r.wall / *t as f64
        );
    }
    Ok(())
}

/// A measured throughput.
struct Rate {
    /// Images per wall-clock second.
    wall: f64,
    /// Images made and the CPU seconds spent making them, if known.
    cpu: Option<(f64, f64)>,
}

impl Rate {
    fn per_cpu(&self) -> Option<f64> {
        self.cpu.filter(|(_, s)| *s > 0.0).map(|(n, s)| n / s)
    }
}

/// CPU time (user + system) of this process, all threads, from
/// `/proc/self/stat`; `None` where that file does not exist.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields, in USER_HZ (100 per second on Linux).
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
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
) -> anyhow::Result<Rate> {
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
    // Warm-up, to time the steady state of a long run: first touches of the
    // mean image, and (when recycling) enough batches in flight to fill the
    // buffer pool, whose first fill costs fresh zeroed pages.
    let warm = 3 * (threads + 2);
    let mut seen = 0;
    while seen < warm {
        for batch in loader.epoch(1000 + seen as u64, 0).take(warm - seen) {
            if recycle {
                loader.recycle(batch.images);
            }
            seen += 1;
        }
    }
    let (start, cpu0) = (Instant::now(), cpu_seconds());
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
    let (wall, images) = (
        start.elapsed().as_secs_f64(),
        (done * args.batch_size) as f64,
    );
    let cpu = cpu0.zip(cpu_seconds()).map(|(a, b)| (images, b - a));
    Ok(Rate {
        wall: images / wall,
        cpu,
    })
}

/// Images/s of the NumPy baseline with `threads` processes.
fn numpy_rate(dir: &Path, args: &Args, threads: usize) -> anyhow::Result<Rate> {
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
    let wall = json["images_per_s"]
        .as_f64()
        .context("no images_per_s in the NumPy output")?;
    let cpu = json["images"].as_f64().zip(json["cpu_seconds"].as_f64());
    Ok(Rate { wall, cpu })
}
