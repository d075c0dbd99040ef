//! The prepared-dataset format, owned in one place: `manifest.json`
//! ([`manifest`]), the `.npy` headers of the shards ([`npy`]) and the split
//! names ([`SplitName`]). `imagenet-prep` writes it; the loader, `verify`
//! and `predict` read it. `docs/FORMAT.md` documents the same layout for
//! readers that do not use this crate.

pub mod manifest;
pub mod npy;
mod split;

pub use split::SplitName;
