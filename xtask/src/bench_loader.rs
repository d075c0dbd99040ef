//! `cargo xtask bench_loader` (not implemented yet).

/// Arguments (none yet).
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`bench_loader` is not implemented yet")
}
