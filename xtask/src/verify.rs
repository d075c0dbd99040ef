//! `cargo xtask verify DIR`: re-check every shard against the manifest.

use std::path::PathBuf;

use anyhow::Context;

/// Arguments of `cargo xtask verify`.
#[derive(clap::Args)]
pub struct Args {
    /// Output directory of `cargo xtask prep` (holding manifest.json).
    dir: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let report = imagenet_prep::verify(&args.dir)
        .with_context(|| format!("verifying {}", args.dir.display()))?;
    println!(
        "{}: checked {} shards, {} images, {:.1} MiB",
        args.dir.display(),
        report.shards,
        report.images,
        report.bytes as f64 / (1 << 20) as f64
    );
    if report.is_ok() {
        println!("OK: every checksum, header, shape and count matches the manifest");
        return Ok(());
    }
    for p in &report.problems {
        println!("  PROBLEM {p}");
    }
    anyhow::bail!(
        "{}: {} problem(s) found",
        args.dir.display(),
        report.problems.len()
    )
}
