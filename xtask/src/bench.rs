//! `cargo xtask bench {prep,loader,model}`.

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
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.which {
        Which::Prep(a) => crate::bench_prep::run(a),
        Which::Loader(a) => crate::bench_loader::run(a),
        Which::Model(a) => crate::bench_model::run(a),
    }
}
