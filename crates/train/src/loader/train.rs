//! [`TrainLoader`]: shuffled, augmented training batches from worker
//! threads, deterministic in (seed, epoch).

use std::sync::Arc;

use rand::Rng;
use rand::seq::SliceRandom;
use rand_distr::{Distribution, Normal};

use super::buffers::Pool;
use super::config::{AugmentConfig, Augmentation};
use super::kernel::Normaliser;
use super::pipeline::Ordered;
use super::rng::{AUGMENT, SHUFFLE, stream};
use super::{LoaderError, ShardSet};

/// One training batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// `batch_size * 3 * crop * crop` values, NCHW.
    pub images: Vec<f32>,
    /// Class index of each image.
    pub labels: Vec<i64>,
    /// Index of each image within the split.
    pub indices: Vec<u64>,
    /// Number of images `N`.
    pub batch_size: usize,
    /// Side of each image.
    pub crop: usize,
}

/// Everything a worker needs, shared read-only.
struct Shared {
    set: Arc<ShardSet>,
    aug: AugmentConfig,
    norm: Normaliser,
    /// `lighting[c][j] = eigvec[c][j] * eigval[j] * scale`.
    lighting: [[f32; 3]; 3],
    alpha: Normal<f32>,
    seed: u64,
    batch_size: usize,
    pool: Pool,
}

/// Training batches: each epoch a fresh permutation of the split from
/// (seed, epoch), random crops, flips and PCA lighting drawn per image from
/// a counter-based stream keyed by (seed, epoch, position in the epoch), so
/// the batches are identical whatever the worker count and wherever a
/// resumed run starts. The last partial batch of an epoch is dropped.
pub struct TrainLoader {
    shared: Arc<Shared>,
    workers: usize,
    prefetch: usize,
}

impl std::fmt::Debug for TrainLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrainLoader")
            .field("set", &self.shared.set)
            .field("aug", &self.shared.aug)
            .field("batch_size", &self.shared.batch_size)
            .field("seed", &self.shared.seed)
            .field("workers", &self.workers)
            .field("prefetch", &self.prefetch)
            .finish()
    }
}

impl TrainLoader {
    /// A loader over `set`. `workers` threads make batches (0: on the
    /// consumer's thread) and up to `prefetch` finished batches wait ready.
    pub fn new(
        set: Arc<ShardSet>,
        aug: AugmentConfig,
        batch_size: usize,
        seed: u64,
        workers: usize,
        prefetch: usize,
    ) -> Result<Self, LoaderError> {
        let s = set.image_size();
        if aug.crop == 0 || aug.crop > s {
            return Err(LoaderError::Config(format!(
                "crop {} must be in 1..={s} (the shard image size)",
                aug.crop
            )));
        }
        if batch_size == 0 {
            return Err(LoaderError::Config("batch size must be at least 1".into()));
        }
        if !(aug.pca_std.is_finite() && aug.pca_std >= 0.0) {
            return Err(LoaderError::Config(format!(
                "pca_std must be >= 0, got {}",
                aug.pca_std
            )));
        }
        let norm = Normaliser::new(&set, aug.mean, aug.scale)?;
        let mut lighting = [[0.0f32; 3]; 3];
        if aug.pca_std > 0.0 {
            let stats = set.color_stats("PCA lighting")?;
            for (c, row) in lighting.iter_mut().enumerate() {
                for (j, l) in row.iter_mut().enumerate() {
                    *l = (stats.eigenvectors[c][j] * stats.eigenvalues[j] * f64::from(aug.scale))
                        as f32;
                }
            }
        }
        let alpha =
            Normal::new(0.0, aug.pca_std).map_err(|e| LoaderError::Config(e.to_string()))?;
        Ok(Self {
            shared: Arc::new(Shared {
                set,
                aug,
                norm,
                lighting,
                alpha,
                seed,
                batch_size,
                pool: Pool::new(prefetch + workers + 2),
            }),
            workers,
            prefetch,
        })
    }

    /// Full batches per epoch (the last partial batch is dropped).
    pub fn batches_per_epoch(&self) -> usize {
        self.shared.set.len() / self.shared.batch_size
    }

    /// Images per batch.
    pub fn batch_size(&self) -> usize {
        self.shared.batch_size
    }

    /// The augmentation settings.
    pub fn config(&self) -> &AugmentConfig {
        &self.shared.aug
    }

    /// The shards read.
    pub fn set(&self) -> &Arc<ShardSet> {
        &self.shared.set
    }

    /// Hands a finished batch's `images` buffer back for reuse by later
    /// batches, sparing a fresh 77 MB allocation (and its page faults) per
    /// batch. Optional: consumers that keep the buffer (e.g. moving it into
    /// a CPU tensor) simply don't call this.
    pub fn recycle(&self, images: Vec<f32>) {
        self.shared.pool.give(images);
    }

    /// The order in which `epoch` visits the split's images.
    pub fn order(&self, epoch: u64) -> Vec<u64> {
        let mut order: Vec<u64> = (0..self.shared.set.len() as u64).collect();
        order.shuffle(&mut stream(self.shared.seed, epoch, SHUFFLE, 0));
        order
    }

    /// The random choices for the image at `position` of `epoch`'s order.
    pub fn augmentation(&self, epoch: u64, position: u64) -> Augmentation {
        self.shared.augmentation(epoch, position)
    }

    /// Batches `start_batch..batches_per_epoch()` of `epoch`, made by the
    /// worker threads ahead of the consumer. Dropping the iterator early
    /// stops the workers.
    pub fn epoch(
        &self,
        epoch: u64,
        start_batch: usize,
    ) -> impl ExactSizeIterator<Item = Batch> + use<> {
        let order = Arc::new(self.order(epoch));
        let shared = Arc::clone(&self.shared);
        let end = self.batches_per_epoch();
        let job = Arc::new(move |b: usize| shared.batch(epoch, &order, b));
        Ordered::new(start_batch.min(end)..end, self.workers, self.prefetch, job)
    }
}

impl Shared {
    fn augmentation(&self, epoch: u64, position: u64) -> Augmentation {
        let s = self.set.image_size();
        let crop = self.aug.crop;
        let mut rng = stream(self.seed, epoch, AUGMENT, position);
        // Every value is always drawn, so turning one option off leaves the
        // others' draws unchanged.
        let y0 = rng.random_range(0..=s - crop);
        let x0 = rng.random_range(0..=s - crop);
        let flip = rng.random_bool(0.5);
        let alpha: [f32; 3] = std::array::from_fn(|_| self.alpha.sample(&mut rng));
        let (y0, x0) = if self.aug.random_crop {
            (y0, x0)
        } else {
            ((s - crop) / 2, (s - crop) / 2)
        };
        let offset = std::array::from_fn(|c| (0..3).map(|j| self.lighting[c][j] * alpha[j]).sum());
        Augmentation {
            y0,
            x0,
            flip: flip && self.aug.flip,
            alpha,
            offset,
        }
    }

    fn batch(&self, epoch: u64, order: &[u64], b: usize) -> Batch {
        let (n, crop) = (self.batch_size, self.aug.crop);
        let plane = 3 * crop * crop;
        let mut images = self.pool.take(n * plane);
        let mut labels = Vec::with_capacity(n);
        let mut indices = Vec::with_capacity(n);
        for (i, out) in images.chunks_exact_mut(plane).enumerate() {
            let position = (b * n + i) as u64;
            let k = order[position as usize];
            let a = self.augmentation(epoch, position);
            let src = self.set.image(k as usize);
            self.norm
                .render(src, (a.y0, a.x0, a.flip), crop, a.offset, out);
            labels.push(i64::from(self.set.label(k as usize)));
            indices.push(k);
        }
        Batch {
            images,
            labels,
            indices,
            batch_size: n,
            crop,
        }
    }
}
