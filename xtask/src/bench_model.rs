//! `cargo xtask bench model`: the network's forward pass and SGD training
//! step on a burn backend, alternated with PyTorch doing the same work on
//! the same kind of device (CPU for `cpu`, the GPU for `cuda`; PyTorch has
//! no wgpu counterpart).

use std::path::{Path, PathBuf};

use alexnet::AlexNetConfig;
use alexnet::bench::{layer_profile, time_forward, time_train_step};
use anyhow::{Context, Result, bail};
use burn::tensor::backend::AutodiffBackend;
use train::backend::{BackendJob, run_on};
use train::config::BackendKind;

use crate::bench::{median, python_json};

/// Options of `bench model`.
#[derive(clap::Args)]
pub struct Args {
    /// Batch size.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Timed iterations per round (after one warm-up).
    #[arg(long, default_value_t = 3)]
    iters: usize,
    /// Rounds; each runs burn then PyTorch, so both see the same machine load.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Threads for both frameworks (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Network: paper or torchvision.
    #[arg(long, default_value = "paper")]
    model: String,
    /// Python interpreter with torch installed.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Skip the PyTorch baseline.
    #[arg(long)]
    no_torch: bool,
    /// Also time each layer's forward and backward (burn only).
    #[arg(long)]
    layers: bool,
    /// Backend: cpu, cuda or wgpu.
    #[arg(long, default_value = "cpu")]
    backend: BackendKind,
    /// Device ordinal.
    #[arg(long, default_value_t = 0)]
    device: usize,
}

#[derive(Default)]
struct Samples {
    forward: Vec<f64>,
    train: Vec<f64>,
}

pub fn run(args: Args) -> Result<()> {
    let threads = crate::bench::compute_threads(args.threads)?;
    let config = match args.model.as_str() {
        "paper" => AlexNetConfig::paper(1000),
        "torchvision" => AlexNetConfig::torchvision(1000),
        other => bail!("--model {other}: expected paper or torchvision"),
    };
    let s = config.input_size;
    println!(
        "bench model: {} AlexNet, batch {}x3x{s}x{s}, {threads} thread(s), {} round(s) x {} iteration(s)",
        args.model, args.batch, args.rounds, args.iters
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scripts/bench_model_torch.py");
    let job = Bench {
        args: &args,
        config: &config,
        script: &script,
        threads,
    };
    run_on(args.backend, &[args.device], job).context("bench model")
}

/// The benchmark's rounds on whichever backend `--backend` names.
struct Bench<'a> {
    args: &'a Args,
    config: &'a AlexNetConfig,
    script: &'a PathBuf,
    threads: usize,
}

impl BackendJob for Bench<'_> {
    type Output = ();
    fn run<B: AutodiffBackend>(self, devices: Vec<B::Device>) -> train::error::Result<()> {
        rounds::<B>(&self, &devices[0]);
        Ok(())
    }

    fn largest_tensor(&self) -> Option<(u64, String)> {
        Some((self.config.largest_weight_bytes(), "fc6's weight".into()))
    }
}

fn rounds<B: AutodiffBackend>(bench: &Bench<'_>, device: &B::Device) {
    let (args, config, script, threads) = (bench.args, bench.config, bench.script, bench.threads);
    let burn_name = format!("burn ({})", args.backend);
    let torch_device = match args.backend {
        BackendKind::Cpu => Some("cpu".to_string()),
        BackendKind::Cuda => Some(format!("cuda:{}", args.device)),
        BackendKind::Wgpu => None,
    };
    let mut ours = Samples::default();
    let mut torch = Samples::default();
    let mut torch_error = None;
    let mut torch_version = String::new();
    if torch_device.is_none() && !args.no_torch {
        println!("PyTorch has no wgpu backend: burn only");
    }
    for round in 0..args.rounds {
        let f = time_forward::<B>(config, args.batch, 1, args.iters, device);
        let t = time_train_step::<B>(config, args.batch, 1, args.iters, device);
        println!(
            "round {round}: burn    forward {:8.1} ms  train step {:8.1} ms",
            median(&f),
            median(&t)
        );
        ours.forward.extend(f);
        ours.train.extend(t);
        let Some(torch_device) = &torch_device else {
            continue;
        };
        if args.no_torch || torch_error.is_some() {
            continue;
        }
        match run_torch(args, script, threads, torch_device) {
            Ok((f, t, version)) => {
                println!(
                    "round {round}: pytorch forward {:8.1} ms  train step {:8.1} ms",
                    median(&f),
                    median(&t)
                );
                torch.forward.extend(f);
                torch.train.extend(t);
                torch_version = version;
            }
            Err(e) => {
                println!("PyTorch baseline unavailable: {e:#}");
                torch_error = Some(e);
            }
        }
    }
    println!();
    println!(
        "| {:<12} | {:>12} | {:>12} | {:>7} |",
        "median ms", burn_name, "PyTorch", "ratio"
    );
    println!("|--------------|--------------|--------------|---------|");
    for (name, a, b) in [
        ("forward", &ours.forward, &torch.forward),
        ("train step", &ours.train, &torch.train),
    ] {
        let (a, b) = (median(a), median(b));
        if b.is_nan() {
            println!("| {name:<12} | {a:>12.1} | {:>12} | {:>7} |", "n/a", "n/a");
        } else {
            println!("| {name:<12} | {a:>12.1} | {b:>12.1} | {:>6.2}x |", a / b);
        }
    }
    if !torch_version.is_empty() {
        println!("PyTorch {torch_version}; ratio = burn / PyTorch (target <= 1.2x)");
    }
    if args.layers {
        println!();
        println!(
            "per-layer (burn, autodiff backend, median of {} after a warm-up):",
            args.iters
        );
        println!(
            "| {:<18} | {:<18} | {:>10} | {:>12} |",
            "layer", "input", "fwd ms", "fwd+bwd ms"
        );
        println!("|--------------------|--------------------|------------|--------------|");
        let rows = layer_profile::<B>(config, args.batch, args.iters, device);
        let total: f64 = rows.iter().map(|r| r.forward_backward_ms).sum();
        for r in &rows {
            println!(
                "| {:<18} | {:<18} | {:>10.1} | {:>12.1} |",
                r.name,
                format!("{:?}", r.input),
                r.forward_ms,
                r.forward_backward_ms
            );
        }
        println!(
            "| {:<18} | {:<18} | {:>10} | {:>12.1} |",
            "sum", "", "", total
        );
    }
}

fn run_torch(
    args: &Args,
    script: &Path,
    threads: usize,
    device: &str,
) -> Result<(Vec<f64>, Vec<f64>, String)> {
    let flags = [
        ("--model", args.model.clone()),
        ("--batch", args.batch.to_string()),
        ("--iters", args.iters.to_string()),
        ("--threads", threads.to_string()),
        ("--device", device.to_string()),
    ];
    let argv: Vec<String> = flags
        .into_iter()
        .flat_map(|(f, v)| [f.to_string(), v])
        .collect();
    let v = python_json(&args.python, script, &argv)?;
    let list = |k: &str| -> Result<Vec<f64>> {
        v[k].as_array()
            .with_context(|| format!("PyTorch output lacks `{k}`"))?
            .iter()
            .map(|x| x.as_f64().context("not a number"))
            .collect()
    };
    Ok((
        list("forward_ms")?,
        list("train_ms")?,
        v["torch"].as_str().unwrap_or("?").to_string(),
    ))
}
