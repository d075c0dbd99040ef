//! `cargo xtask verify` (not implemented yet).

/// Arguments (none yet).
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`verify` is not implemented yet")
}
