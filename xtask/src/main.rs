//! `cargo xtask`: the project's command line. Orchestration only: every
//! subcommand parses its arguments and calls into a library crate.

mod allocator;
mod bench;
mod bench_loader;
mod bench_model;
mod bench_prep;
mod bench_train;
mod demo;
mod evaluate;
mod gpu_check;
mod machine_load;
mod predict;
mod prep;
mod synth;
mod train;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// ImageNet → AlexNet in Rust.
#[derive(Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Synthesise small ILSVRC-2012-shaped archives (train, val, devkit).
    Synth(synth::Args),
    /// Raw archives or extracted folders → 256×256 .npy shards + manifest.
    Prep(prep::Args),
    /// Re-check every shard's checksum and count against its manifest.
    Verify(verify::Args),
    /// Train AlexNet on prepared shards.
    // Boxed: every flag is an Option (so a config file can fill it), which
    // makes these arguments the largest by far (clippy: large_enum_variant).
    Train(Box<train::Args>),
    /// Evaluate a checkpoint (or torchvision weights) on the val shards.
    Evaluate(evaluate::Args),
    /// Classify image files: top-5 classes with names and probabilities.
    Predict(predict::Args),
    /// Synth → prep → train → evaluate on a small built-in dataset (CPU).
    Demo(demo::Args),
    /// Benchmarks: prep throughput, loader throughput, model step time,
    /// trainer images/s.
    Bench(bench::Args),
    /// GPU acceptance: each layer vs the CPU, a tracked training run,
    /// throughput, the two-tower split, device memory; one table.
    GpuCheck(gpu_check::Args),
}

/// Errors print as `error: what` and the chain of causes, one per line
/// (not as anyhow's debug form, which adds a backtrace whenever
/// RUST_BACKTRACE is set: noise for a bad input), with exit status 1.
fn main() -> ExitCode {
    allocator::retain_freed_memory();
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Synth(args) => synth::run(args),
        Command::Prep(args) => prep::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Train(args) => train::run(*args),
        Command::Evaluate(args) => evaluate::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Bench(args) => bench::run(args),
        Command::GpuCheck(args) => gpu_check::run_check(args),
    }
}
