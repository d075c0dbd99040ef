//! Shared fixture of the loader tests: a tiny valid dataset in a tempdir.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use tempfile::TempDir;
use train::loader::synthetic::{SyntheticShards, write_synthetic_shards};
use train::loader::{ShardSet, SplitName};

/// Image side of the fixtures.
pub const S: usize = 32;

/// Writes `train` + `val` random images of side [`S`], 5 classes, shards of
/// `shard_size`, into a fresh tempdir.
pub fn dataset(train: usize, val: usize, shard_size: usize) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SyntheticShards {
        image_size: S,
        classes: 5,
        train,
        val,
        shard_size,
        seed: 7,
    };
    write_synthetic_shards(dir.path(), &cfg).unwrap();
    dir
}

/// Opens `split` of the dataset in `dir`.
pub fn open(dir: &Path, split: SplitName) -> Arc<ShardSet> {
    Arc::new(ShardSet::open(dir, split).unwrap())
}

/// Pixel (y, x, c) of image `k`.
pub fn px(set: &ShardSet, k: usize, y: usize, x: usize, c: usize) -> u8 {
    set.image(k)[(y * set.image_size() + x) * 3 + c]
}

/// Value at (c, y, x) of NCHW image `i` of side `crop`.
pub fn at(images: &[f32], crop: usize, i: usize, c: usize, y: usize, x: usize) -> f32 {
    images[((i * 3 + c) * crop + y) * crop + x]
}
