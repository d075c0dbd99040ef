//! `cargo xtask synth`: write a small ILSVRC-2012-shaped dataset.

use std::path::PathBuf;

use anyhow::Context;
use imagenet_prep::mat::MatStyle;
use imagenet_prep::synth::{SynthConfig, SynthLayout, synthesize};

/// Layouts on the command line.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Layout {
    /// The three archives of image-net.org.
    Archives,
    /// Extracted `train/<wnid>/`, `val/` folders plus the devkit archive.
    Folders,
    /// Kaggle's layout (`LOC_*` files, `ILSVRC/Data/CLS-LOC/`).
    Kaggle,
}

/// Arguments of `cargo xtask synth`.
#[derive(clap::Args)]
pub struct Args {
    /// Output directory (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Number of classes.
    #[arg(long, default_value_t = SynthConfig::default().classes)]
    classes: usize,
    /// Training images per class.
    #[arg(long, default_value_t = SynthConfig::default().train_per_class)]
    train_per_class: usize,
    /// Validation images per class.
    #[arg(long, default_value_t = SynthConfig::default().val_per_class)]
    val_per_class: usize,
    /// Smallest image side (pixels).
    #[arg(long, default_value_t = SynthConfig::default().min_side)]
    min_side: u32,
    /// Largest image side (pixels).
    #[arg(long, default_value_t = SynthConfig::default().max_side)]
    max_side: u32,
    /// Random seed; the output is a deterministic function of all options.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output layout.
    #[arg(long, value_enum, default_value = "archives")]
    layout: Layout,
    /// Add a CMYK JPEG, a PNG named .JPEG, greyscale and progressive JPEGs.
    #[arg(long)]
    oddities: bool,
    /// Add a truncated JPEG (train) and a zero-byte file (val).
    #[arg(long)]
    corrupt: bool,
    /// Write meta.mat as scipy.io.savemat does (uncompressed) instead of MATLAB.
    #[arg(long)]
    scipy_mat: bool,
    /// Folders layout: val images in val/<wnid>/ instead of flat.
    #[arg(long)]
    val_by_class: bool,
}

/// Runs `cargo xtask synth`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let cfg = SynthConfig {
        classes: args.classes,
        train_per_class: args.train_per_class,
        val_per_class: args.val_per_class,
        min_side: args.min_side,
        max_side: args.max_side,
        seed: args.seed,
        oddities: args.oddities,
        corrupt: args.corrupt,
        layout: match args.layout {
            Layout::Archives => SynthLayout::Archives,
            Layout::Folders => SynthLayout::Folders,
            Layout::Kaggle => SynthLayout::Kaggle,
        },
        mat_style: if args.scipy_mat {
            MatStyle::Scipy
        } else {
            MatStyle::Matlab
        },
        val_by_class: args.val_by_class,
    };
    let summary = synthesize(&cfg, &args.out)
        .with_context(|| format!("synthesizing into {}", args.out.display()))?;
    println!(
        "wrote {} classes, {} train and {} val images:",
        summary.classes.len(),
        summary.train.len(),
        summary.val.len()
    );
    for f in &summary.files {
        println!("  {}", f.display());
    }
    for img in summary.oddities().chain(summary.corrupt()) {
        println!("  {:?}: {}", img.kind, img.path);
    }
    Ok(())
}
