//! `cargo xtask evaluate` (not implemented yet).

/// Arguments (none yet).
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`evaluate` is not implemented yet")
}
