//! `cargo xtask bench_prep` (not implemented yet).

/// Arguments (none yet).
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`bench_prep` is not implemented yet")
}
