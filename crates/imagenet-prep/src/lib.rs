//! Raw ILSVRC-2012 archives → memory-mappable 256×256 `.npy` shards,
//! a `manifest.json`, and training-set colour statistics.
//!
//! Entry points: [`prep::prepare`] (with [`prep::PrepConfig`]),
//! [`verify::verify`], [`read_manifest`]. The on-disk format is the
//! `shard-format` crate's (and `docs/FORMAT.md`'s).

pub mod archive;
pub mod decode;
pub mod error;
pub mod jpeg;
pub mod layout;
pub mod mat;
pub mod prep;
mod progress;
mod resample;
pub mod resize;
pub mod shard;
pub mod stats;
pub mod synth;
pub mod verify;

pub use error::PrepError;
pub use prep::{PrepConfig, PrepSummary, prepare};
pub use shard_format::SplitName;
pub use verify::{VerifyError, VerifyReport, read_manifest, verify};
