//! `cargo xtask gpu-check`: the GPU acceptance check, one table.

use std::path::PathBuf;

use anyhow::{Context, bail};
use train::config::{BackendKind, ModelKind};
use train::gpu_check::{GpuCheckConfig, run};

/// Compare a GPU backend with the CPU layer by layer, track a short
/// training run, and measure the paper model's throughput.
#[derive(clap::Args)]
pub struct Args {
    /// Backend under test: cuda or wgpu.
    #[arg(long, default_value = "cuda")]
    backend: BackendKind,
    /// One device ordinal, or two (the split then also runs across both).
    #[arg(long, default_value = "0", value_delimiter = ',')]
    devices: Vec<usize>,
    /// The small check (tiny model only, 24 steps, batch 8): minutes on a
    /// CPU Vulkan device such as lavapipe.
    #[arg(long)]
    quick: bool,
    /// Steps of the tracked training run (default 300, quick 24).
    #[arg(long)]
    steps: Option<u64>,
    /// Batch of the throughput measurement (default 128, quick 8).
    #[arg(long)]
    batch: Option<usize>,
    /// Network of the throughput measurement: paper, torchvision or tiny.
    #[arg(long)]
    model: Option<ModelKind>,
    /// Keep the tracked runs' dataset and checkpoints here (default: a
    /// temporary directory, removed afterwards).
    #[arg(long)]
    work: Option<PathBuf>,
}

/// Runs `cargo xtask gpu-check`.
pub fn run_check(args: Args) -> anyhow::Result<()> {
    if args.backend == BackendKind::Cpu {
        bail!("--backend cpu is the reference the check compares with; use cuda or wgpu");
    }
    let mut cfg = if args.quick {
        GpuCheckConfig::quick(args.backend, args.devices)
    } else {
        GpuCheckConfig::full(args.backend, args.devices)
    };
    if let Some(s) = args.steps {
        cfg.steps = s;
    }
    if let Some(b) = args.batch {
        cfg.speed_batch = b;
    }
    if let Some(m) = args.model {
        cfg.speed_model = m;
    }
    cfg.work = args.work;
    let report = run(&cfg).context("gpu-check")?;
    print!("{}", report.table());
    if !report.passed() {
        bail!("gpu-check: a comparison exceeded its limit (marked FAIL above)");
    }
    Ok(())
}
