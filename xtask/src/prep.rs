//! `cargo xtask prep`: raw ILSVRC-2012 input → shards + manifest.

use std::path::PathBuf;

use anyhow::Context;
use imagenet_prep::{PrepConfig, PrepError, SplitName, prepare};

/// Arguments of `cargo xtask prep`.
#[derive(clap::Args)]
pub struct Args {
    /// Directory with the three ILSVRC-2012 archives, an ImageFolder tree
    /// (`train/<class>/…`, `val/<class>/…`), ILSVRC-2012's extracted
    /// folders, or the Kaggle layout.
    #[arg(long)]
    input: PathBuf,
    /// Output directory for shards, manifest.json and mean_image.npy.
    #[arg(long)]
    out: PathBuf,
    /// Side of the square output images.
    #[arg(long, default_value_t = 256)]
    size: u32,
    /// Images per shard.
    #[arg(long, default_value_t = 1024)]
    shard_size: usize,
    /// Worker threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Leave undecodable images and missing validation images out and list
    /// them in the manifest instead of failing.
    #[arg(long)]
    skip_bad: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    /// Reject images with more pixels than this (decompression bombs).
    #[arg(long, default_value_t = imagenet_prep::decode::DEFAULT_MAX_PIXELS)]
    max_pixels: u64,
    /// Splits to prepare, comma-separated (default: every split present).
    #[arg(long, value_delimiter = ',')]
    splits: Option<Vec<SplitName>>,
    /// File extensions read as images, comma-separated, any case (other
    /// files are ignored; contents must be JPEG or PNG).
    #[arg(long, value_delimiter = ',', default_value = "jpeg,jpg,png")]
    extensions: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut cfg = PrepConfig::new(&args.input, &args.out);
    cfg.size = args.size;
    cfg.shard_size = args.shard_size;
    cfg.threads = args.threads;
    cfg.skip_bad = args.skip_bad;
    cfg.quiet = args.quiet;
    cfg.max_pixels = args.max_pixels;
    cfg.splits = args.splits;
    cfg.extensions = args.extensions;
    let summary = match prepare(&cfg) {
        Ok(s) => s,
        Err(e @ PrepError::BadImages { .. }) => {
            return Err(e).context(format!(
                "prep of {} finished, but without a manifest",
                args.input.display()
            ));
        }
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "preparing {} into {}",
                    args.input.display(),
                    args.out.display()
                )
            });
        }
    };
    println!(
        "prepared {} ({:?} layout)",
        args.input.display(),
        summary.layout
    );
    println!("  train images   {:>10}", summary.train_images);
    println!("  val images     {:>10}", summary.val_images);
    println!("  rejected       {:>10}", summary.rejected.len());
    for r in &summary.rejected {
        println!("    {}: {}", r.source, r.reason);
    }
    println!(
        "  shards         {:>10} written, {} reused from an earlier run",
        summary.shards_written, summary.shards_reused
    );
    println!(
        "  time           {:>10.1} s ({:.0} images/s)",
        summary.seconds,
        summary.images_per_second()
    );
    println!("  manifest       {}", summary.manifest.display());
    Ok(())
}
