//! Raw ILSVRC-2012 archives → memory-mappable 256×256 `.npy` shards,
//! a `manifest.json`, and training-set colour statistics.
//!
//! Entry points: [`prep::prepare`] (with [`prep::PrepConfig`]),
//! [`verify::verify`], [`read_manifest`]. The on-disk format is described
//! in `docs/FORMAT.md`.

pub mod archive;
pub mod atomic;
pub mod decode;
pub mod error;
pub mod jpeg;
pub mod layout;
pub mod lock;
pub mod manifest;
pub mod mat;
pub mod npy;
pub mod prep;
mod progress;
mod resample;
pub mod resize;
pub mod shard;
pub mod stats;
pub mod synth;
pub mod verify;

pub use error::PrepError;
pub use layout::SplitName;
pub use prep::{PrepConfig, PrepSummary, prepare};
pub use verify::{VerifyError, VerifyReport, read_manifest, verify};
