//! Memory-mapped shard loader: shuffling, augmentation, batching, prefetch.
//!
//! [`ShardSet`] maps one split of an `imagenet-prep` dataset;
//! [`TrainLoader`] turns it into shuffled, augmented NCHW `f32` batches
//! (the paper's random crops, flips, PCA lighting and mean subtraction) on
//! worker threads; [`EvalLoader`] yields centre or ten-crop views of every
//! image in order. See `docs/LOADER.md`.

mod buffers;
mod config;
mod error;
mod eval;
mod kernel;
mod pipeline;
mod rng;
mod shards;
pub mod synthetic;
mod train;

pub use config::{AugmentConfig, Augmentation, MeanMode};
pub use error::LoaderError;
pub use eval::{EvalBatch, EvalLoader, EvalView};
pub use shards::{ShardSet, SplitName};
pub use train::{Batch, TrainLoader};
