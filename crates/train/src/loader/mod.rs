//! Memory-mapped shard loader: shuffling, augmentation, batching, prefetch.
//!
//! [`ShardSet`] maps one split of an `imagenet-prep` dataset;
//! [`TrainLoader`] turns it into shuffled, augmented NCHW `f32` batches
//! (the paper's random crops, flips, PCA lighting and mean subtraction) on
//! worker threads; [`EvalLoader`] yields centre or ten-crop views of every
//! image in order; [`ImageTransform`] gives the same view of one image
//! outside a shard. See `docs/LOADER.md`.

mod buffers;
mod config;
mod error;
mod eval;
mod kernel;
mod pipeline;
mod rng;
mod shards;
mod single;
pub mod synthetic;
mod train;

pub use config::{AugmentConfig, Augmentation, MeanMode, TORCHVISION_MEAN, TORCHVISION_STD};
pub use error::LoaderError;
pub use eval::{EvalBatch, EvalLoader, EvalView};
pub use shards::{ShardSet, SplitName};
pub use single::{ImageTransform, read_dataset_manifest, read_manifest_file};
pub use train::{Batch, TrainLoader};
