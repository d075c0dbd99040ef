//! Shared helpers for the end-to-end tests in `tests/tests/`.

use std::path::{Path, PathBuf};

use imagenet_prep::synth::{SynthConfig, SynthLayout, SynthSummary, synthesize};
use imagenet_prep::{PrepConfig, PrepSummary, prepare};

/// A small synthetic dataset prepared into shards.
pub struct Prepared {
    /// The synthetic raw input (three archives).
    pub input: PathBuf,
    /// The prepared output directory (holding `manifest.json`).
    pub out: PathBuf,
    /// What synth wrote (true labels of every image).
    pub synth: SynthSummary,
    /// What prep reported.
    pub prep: PrepSummary,
}

/// Synthesizes `classes` classes with `train` / `val` images each (sides
/// `min_side..=max_side`) as the three ILSVRC archives under `dir/raw`,
/// and prepares them at `size` px into `dir/prepared`.
pub fn synth_and_prep(
    dir: &Path,
    classes: usize,
    train: usize,
    val: usize,
    (min_side, max_side): (u32, u32),
    size: u32,
) -> anyhow::Result<Prepared> {
    let cfg = SynthConfig {
        classes,
        train_per_class: train,
        val_per_class: val,
        min_side,
        max_side,
        seed: 11,
        layout: SynthLayout::Archives,
        ..SynthConfig::default()
    };
    let input = dir.join("raw");
    let synth = synthesize(&cfg, &input)?;
    let out = dir.join("prepared");
    let mut pc = PrepConfig::new(&input, &out);
    pc.size = size;
    pc.shard_size = 16;
    pc.quiet = true;
    let prep = prepare(&pc)?;
    Ok(Prepared {
        input,
        out,
        synth,
        prep,
    })
}
