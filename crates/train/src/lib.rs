//! Loader, training loop, checkpoints and evaluation for AlexNet on
//! `imagenet-prep` shards.
//!
//! - [`train()`] runs the paper's recipe ([`TrainConfig`]): SGD with
//!   momentum, weight decay, the learning-rate schedule, validation every
//!   epoch, checkpoints with exact resume, `metrics.jsonl` and a plot.
//! - [`evaluate()`] scores a checkpoint or torchvision weights on the val
//!   shards (centre crop or ten crops), with per-class results.
//! - [`predict::predict`] classifies image files (top-5 with names).
//!
//! The formats and the recipe are described in `docs/TRAINING.md`.

pub mod backend;
pub mod checkpoint;
pub mod config;
pub mod config_file;
pub mod cuda_check;
pub mod data;
pub mod error;
pub mod evaluate;
pub mod fault;
pub mod gpu_check;
pub mod init_from;
pub mod loader;
pub mod metrics;
pub mod net;
mod plot;
pub mod predict;
pub mod run_log;
pub mod schedule;
pub mod sgd;
pub mod trainer;
pub mod validate;
#[cfg(feature = "wgpu")]
pub mod wgpu_probe;

pub use config::{AugmentSettings, BackendKind, MeanKind, ModelKind, TrainConfig};
pub use error::TrainError;
pub use evaluate::{EvalConfig, EvalReport, WeightsSource, evaluate};
pub use schedule::LrSchedule;
pub use trainer::{TrainSummary, train};
