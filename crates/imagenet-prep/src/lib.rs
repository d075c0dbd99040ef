//! Raw ILSVRC-2012 archives → memory-mappable 256×256 `.npy` shards,
//! a `manifest.json`, and training-set colour statistics.

pub mod manifest;
pub mod mat;
pub mod synth;
