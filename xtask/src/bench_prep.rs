//! `cargo xtask bench prep`: decode → RGB → resize (shorter side) →
//! centre crop throughput on real JPEGs, 1 thread and all threads, against
//! the Pillow baseline `scripts/bench_prep_pillow.py` timed in the same run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};
use imagenet_prep::decode::{DEFAULT_MAX_PIXELS, decode_rgb, sniff};
use imagenet_prep::resize::with_thread_crop;
use rayon::prelude::*;

use crate::bench::median;

/// Arguments of `cargo xtask bench prep`.
#[derive(clap::Args)]
pub struct Args {
    /// Folder of JPEG/PNG images (e.g. ../shared/bench-images).
    #[arg(long)]
    images: PathBuf,
    /// Threads for the parallel run (0 = one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Use at most this many images (0 = all).
    #[arg(long, default_value_t = 0)]
    limit: usize,
    /// Output side.
    #[arg(long, default_value_t = 256)]
    size: u32,
    /// Minimum seconds per measurement.
    #[arg(long, default_value_t = 3.0)]
    min_seconds: f64,
    /// Skip the Pillow baseline.
    #[arg(long)]
    no_pillow: bool,
    /// Rounds of measurements; each round times every pipeline back to back,
    /// and ratios are taken within a round (the median is reported), so
    /// that a neighbour's load on a shared machine hits both sides alike.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

/// One pipeline at one thread count: its images/s in each round.
struct Row {
    name: &'static str,
    threads: usize,
    rates: Vec<f64>,
}

const PILLOW: &str = "pillow (no draft)";

fn load(dir: &Path, limit: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for path in names {
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        if sniff(&bytes).is_some() {
            out.push(bytes);
        }
        if limit > 0 && out.len() >= limit {
            break;
        }
    }
    if out.is_empty() {
        bail!("{}: no JPEG or PNG images", dir.display());
    }
    Ok(out)
}

/// Which Rust decode path to time.
#[derive(Clone, Copy)]
enum DecodePath {
    /// What prep runs: the JPEG fast path, falling back to the general one.
    Prep,
    /// zune-jpeg to full-size RGB, then the resize.
    General,
}

/// Images/s of the Rust pipeline with `threads` workers.
fn rust_rate(
    images: &[Vec<u8>],
    size: u32,
    threads: usize,
    min_s: f64,
    path: DecodePath,
) -> anyhow::Result<f64> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    // `reps` passes over the images as ONE parallel loop: a pass boundary
    // would make every worker wait for the slowest image, which prep's
    // thousand-image shards rarely do.
    let run = |reps: usize| -> anyhow::Result<()> {
        pool.install(|| {
            // One resizer per worker thread, kept across passes, as in prep.
            (0..reps * images.len()).into_par_iter().try_for_each_init(
                || vec![0u8; (size * size * 3) as usize],
                |out, i| -> anyhow::Result<()> {
                    let bytes = &images[i % images.len()];
                    with_thread_crop(size, |crop| -> anyhow::Result<()> {
                        match path {
                            DecodePath::Prep => crop.decode_into(bytes, DEFAULT_MAX_PIXELS, out)?,
                            DecodePath::General => {
                                let img = decode_rgb(bytes, DEFAULT_MAX_PIXELS)?;
                                crop.run(&img, out).map_err(anyhow::Error::msg)?;
                            }
                        }
                        Ok(())
                    })?;
                    std::hint::black_box(&out);
                    Ok(())
                },
            )
        })
    };
    let t = Instant::now();
    run(1)?; // warm-up, and the length of one pass
    let reps = (min_s / t.elapsed().as_secs_f64().max(1e-6))
        .ceil()
        .max(1.0) as usize;
    let (done, t0) = (reps * images.len(), Instant::now());
    run(reps)?;
    Ok(done as f64 / t0.elapsed().as_secs_f64())
}

fn pillow_rate(args: &Args, workers: usize, draft: bool) -> anyhow::Result<f64> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/bench_prep_pillow.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script)
        .arg("--images")
        .arg(&args.images)
        .args(["--size", &args.size.to_string()])
        .args(["--workers", &workers.to_string()])
        .args(["--limit", &args.limit.to_string()])
        .args(["--min-seconds", &args.min_seconds.to_string()]);
    if draft {
        cmd.arg("--draft");
    }
    let out = cmd
        .output()
        .with_context(|| format!("running python3 {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("parsing the output of {}", script.display()))?;
    v["images_per_sec"]
        .as_f64()
        .context("no images_per_sec in the Pillow script's output")
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let images = load(&args.images, args.limit)?;
    let all = if args.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        args.threads
    };
    let mb: usize = images.iter().map(Vec::len).sum();
    println!(
        "{} images ({:.1} MB) from {}, output {}x{}, {} thread(s) for the parallel runs",
        images.len(),
        mb as f64 / 1e6,
        args.images.display(),
        args.size,
        args.size,
        all
    );
    let mut counts = vec![1];
    if all > 1 {
        counts.push(all);
    }
    let pillow_ok = !args.no_pillow
        && Command::new("python3")
            .args(["-c", "import PIL"])
            .output()
            .is_ok_and(|o| o.status.success());
    if !args.no_pillow && !pillow_ok {
        println!("note: python3 with Pillow not found (pip install pillow); Pillow rows skipped");
    }
    let rounds = args.rounds.max(1);
    let mut rows: Vec<Row> = Vec::new();
    let mut record = |name: &'static str, threads: usize, rate: f64| match rows
        .iter_mut()
        .find(|r| r.name == name && r.threads == threads)
    {
        Some(r) => r.rates.push(rate),
        None => rows.push(Row {
            name,
            threads,
            rates: vec![rate],
        }),
    };
    for round in 0..rounds {
        eprintln!("round {}/{rounds}", round + 1);
        // Rust and Pillow back to back per thread count, so that both see
        // the same machine state.
        for &t in &counts {
            let prep = rust_rate(&images, args.size, t, args.min_seconds, DecodePath::Prep)?;
            record("rust prep (JPEG fast path)", t, prep);
            let general = rust_rate(&images, args.size, t, args.min_seconds, DecodePath::General)?;
            record("rust general (zune-jpeg + fast_image_resize)", t, general);
            if pillow_ok {
                record(PILLOW, t, pillow_rate(&args, t, false)?);
                record(
                    "pillow + draft() (DCT scaling)",
                    t,
                    pillow_rate(&args, t, true)?,
                );
            }
        }
    }
    println!();
    println!(
        "| pipeline | threads | images/s | images/s per thread | vs pillow (no draft), median of {rounds} | range |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    for r in &rows {
        let base = rows
            .iter()
            .find(|b| b.threads == r.threads && b.name == PILLOW);
        let (ratio, range) = match base {
            Some(b) => {
                let ratios: Vec<f64> = r.rates.iter().zip(&b.rates).map(|(x, y)| x / y).collect();
                let lo = ratios.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = ratios.iter().copied().fold(0.0, f64::max);
                (
                    format!("{:.2}x", median(&ratios)),
                    format!("{lo:.2}-{hi:.2}x"),
                )
            }
            None => ("-".into(), "-".into()),
        };
        let rate = median(&r.rates);
        println!(
            "| {} | {} | {:.0} | {:.0} | {} | {} |",
            r.name,
            r.threads,
            rate,
            rate / r.threads as f64,
            ratio,
            range
        );
    }
    Ok(())
}
