//! `cargo xtask train` (not implemented yet).

/// Arguments (none yet).
#[derive(clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`train` is not implemented yet")
}
