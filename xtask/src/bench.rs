//! `cargo xtask bench {prep,loader,model,train}`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Subcommand;

/// Which benchmark to run.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    which: Which,
}

#[derive(Subcommand)]
enum Which {
    /// Decode + resize throughput on real JPEGs vs a Pillow baseline.
    Prep(crate::bench_prep::Args),
    /// Augmented images/s from page-cached shards vs a NumPy loader.
    Loader(crate::bench_loader::Args),
    /// One SGD step and one forward pass vs PyTorch.
    Model(crate::bench_model::Args),
    /// Images/s of whole training steps through the trainer vs a PyTorch loop.
    Train(crate::bench_train::Args),
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let watch = crate::machine_load::Watch::start();
    let result = match args.which {
        Which::Prep(a) => crate::bench_prep::run(a),
        Which::Loader(a) => crate::bench_loader::run(a),
        Which::Model(a) => crate::bench_model::run(a),
        Which::Train(a) => crate::bench_train::run(a),
    };
    println!();
    watch.finish();
    result
}

/// The median of `xs` (the mean of the middle two for an even count); NaN
/// when empty. Every benchmark reports medians: robust to the odd slow
/// iteration a shared machine produces.
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Sizes rayon's global pool (the CPU backend's compute threads) to
/// `threads`, all cores by default; returns the count.
pub fn compute_threads(threads: Option<usize>) -> Result<usize> {
    let threads =
        threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .context("setting up the rayon thread pool")?;
    Ok(threads)
}

/// Runs a baseline script with `python` and parses the JSON object on the
/// last line of its output.
pub fn python_json(python: &str, script: &Path, args: &[String]) -> Result<serde_json::Value> {
    let out = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .with_context(|| format!("running {python} {}", script.display()))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("");
        bail!(
            "{} exited with {}: {last} (install torch for --python, or pass --no-torch)",
            script.display(),
            out.status
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout
        .lines()
        .last()
        .with_context(|| format!("{} printed nothing", script.display()))?;
    serde_json::from_str(line)
        .with_context(|| format!("parsing the output of {}: `{line}`", script.display()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(super::median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(super::median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(super::median(&[]).is_nan());
    }
}
