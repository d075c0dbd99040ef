//! AlexNet (Krizhevsky, Sutskever & Hinton, NIPS 2012) on burn, generic over
//! the backend.
//!
//! - [`AlexNetConfig`] / [`AlexNet`]: the paper's network (LRN, grouped
//!   convolutions), torchvision's variant, and a scaled-down network.
//! - [`SplitAlexNet`]: the paper's two-device model parallelism.
//! - [`safetensors`]: save and load weights, torchvision's names included.
//!
//! Conventions are documented in `docs/MODEL.md`.

pub mod bench;
mod config;
mod lrn;
mod model;
pub mod names;
pub mod safetensors;
mod split;

pub use config::{AlexNetConfig, ConfigError, InitConfig, Variant};
pub use lrn::{LocalResponseNorm, LocalResponseNormConfig};
pub use model::AlexNet;
pub use split::{SplitAlexNet, SplitError, Tower};
