//! Opening the shards for a run and identifying the dataset.

use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use shard_format::manifest::MANIFEST_FILE;

use crate::checkpoint::DatasetId;
use crate::config::{AugmentSettings, MeanKind};
use crate::error::{Result, TrainError};
use crate::loader::{AugmentConfig, MeanMode, ShardSet, SplitName};

/// Both splits of a prepared dataset.
pub struct Splits {
    /// Training shards.
    pub train: Arc<ShardSet>,
    /// Validation shards.
    pub val: Arc<ShardSet>,
    /// Identity of the data.
    pub id: DatasetId,
}

/// Opens the train and val shards under `dir` (manifest, format version,
/// every shard's header and count are checked by the loader).
pub fn open_splits(dir: &Path) -> Result<Splits> {
    let train = Arc::new(ShardSet::open(dir, SplitName::Train)?);
    let val = Arc::new(ShardSet::open(dir, SplitName::Val)?);
    let id = dataset_id(
        dir,
        train.num_classes(),
        train.len() as u64,
        val.len() as u64,
    )?;
    Ok(Splits { train, val, id })
}

/// SHA-256 of the manifest (which lists every shard's checksum) plus sizes.
pub fn dataset_id(
    dir: &Path,
    num_classes: usize,
    train_images: u64,
    val_images: u64,
) -> Result<DatasetId> {
    let path = dir.join(MANIFEST_FILE);
    let bytes = std::fs::read(&path).map_err(TrainError::io(&path))?;
    Ok(DatasetId {
        manifest_sha256: hex(&Sha256::digest(&bytes)),
        num_classes,
        train_images,
        val_images,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The loader's mean mode for a configured one.
pub fn mean_mode(kind: MeanKind) -> MeanMode {
    match kind {
        MeanKind::Image => MeanMode::Image,
        MeanKind::PerChannel => MeanMode::PerChannel,
        MeanKind::Torchvision => MeanMode::Torchvision,
        MeanKind::None => MeanMode::None,
    }
}

/// The loader's augmentation for a configuration and crop size.
pub fn augment_config(aug: &AugmentSettings, crop: usize) -> AugmentConfig {
    AugmentConfig {
        crop,
        random_crop: aug.random_crop,
        flip: aug.flip,
        pca_std: aug.pca_std,
        mean: mean_mode(aug.mean),
        scale: aug.scale,
    }
}
