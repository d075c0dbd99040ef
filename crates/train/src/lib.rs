//! Loader, training loop, checkpoints and evaluation for AlexNet on
//! `imagenet-prep` shards.

pub mod loader;
