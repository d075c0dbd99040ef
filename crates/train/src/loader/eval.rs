//! [`EvalLoader`]: every image once, in order, as the centre crop or the
//! paper's ten crops; mean subtraction, no lighting, no randomness.

use std::sync::Arc;

use super::buffers::Pool;
use super::config::MeanMode;
use super::kernel::Normaliser;
use super::pipeline::Ordered;
use super::{LoaderError, ShardSet};

/// Which crops of each image evaluation looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EvalView {
    /// The centre `crop`×`crop` window.
    Center,
    /// The paper's ten: the four corner windows and the centre, then the
    /// same five mirrored.
    TenCrop,
}

impl EvalView {
    /// Views per image (1 or 10).
    pub fn count(self) -> usize {
        match self {
            EvalView::Center => 1,
            EvalView::TenCrop => 10,
        }
    }

    /// The windows `(y0, x0, flip)` of this view for an `size`×`size`
    /// image, in output order: for ten crops top-left, top-right,
    /// bottom-left, bottom-right, centre, then those five flipped.
    pub fn windows(self, size: usize, crop: usize) -> Vec<(usize, usize, bool)> {
        let (far, mid) = (size - crop, (size - crop) / 2);
        match self {
            EvalView::Center => vec![(mid, mid, false)],
            EvalView::TenCrop => {
                let five = [(0, 0), (0, far), (far, 0), (far, far), (mid, mid)];
                [false, true]
                    .into_iter()
                    .flat_map(|flip| five.map(|(y, x)| (y, x, flip)))
                    .collect()
            }
        }
    }
}

/// One evaluation batch.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalBatch {
    /// `batch_size * views * 3 * crop * crop` values, NCHW; the `views`
    /// crops of one image are consecutive.
    pub images: Vec<f32>,
    /// Class index of each image (one per image, not per view).
    pub labels: Vec<i64>,
    /// Index of each image within the split.
    pub indices: Vec<u64>,
    /// Crops per image (1 or 10).
    pub views: usize,
    /// Images in this batch (the last batch may be short).
    pub batch_size: usize,
    /// Side of each crop.
    pub crop: usize,
}

struct Shared {
    set: Arc<ShardSet>,
    norm: Normaliser,
    windows: Vec<(usize, usize, bool)>,
    crop: usize,
    batch_size: usize,
    pool: Pool,
}

/// Evaluation batches over every image of a split once, in index order.
pub struct EvalLoader {
    shared: Arc<Shared>,
    workers: usize,
}

impl std::fmt::Debug for EvalLoader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvalLoader")
            .field("set", &self.shared.set)
            .field("views", &self.shared.windows.len())
            .field("crop", &self.shared.crop)
            .field("batch_size", &self.shared.batch_size)
            .field("workers", &self.workers)
            .finish()
    }
}

impl EvalLoader {
    /// A loader over `set` with `workers` threads (0: on the consumer's
    /// thread). `mean` and `scale` mean what they do in
    /// [`AugmentConfig`](super::AugmentConfig).
    pub fn new(
        set: Arc<ShardSet>,
        view: EvalView,
        crop: usize,
        mean: MeanMode,
        scale: f32,
        batch_size: usize,
        workers: usize,
    ) -> Result<Self, LoaderError> {
        let s = set.image_size();
        if crop == 0 || crop > s {
            return Err(LoaderError::Config(format!(
                "crop {crop} must be in 1..={s} (the shard image size)"
            )));
        }
        if batch_size == 0 {
            return Err(LoaderError::Config("batch size must be at least 1".into()));
        }
        let norm = Normaliser::new(&set, mean, scale)?;
        Ok(Self {
            shared: Arc::new(Shared {
                set,
                norm,
                windows: view.windows(s, crop),
                crop,
                batch_size,
                pool: Pool::new(3 * workers + 2),
            }),
            workers,
        })
    }

    /// Number of batches (the last may be partial).
    pub fn num_batches(&self) -> usize {
        self.shared.set.len().div_ceil(self.shared.batch_size)
    }

    /// Crops per image.
    pub fn views(&self) -> usize {
        self.shared.windows.len()
    }

    /// The shards read.
    pub fn set(&self) -> &Arc<ShardSet> {
        &self.shared.set
    }

    /// Hands a finished batch's `images` buffer back for reuse (optional;
    /// see [`TrainLoader::recycle`](super::TrainLoader::recycle)).
    pub fn recycle(&self, images: Vec<f32>) {
        self.shared.pool.give(images);
    }

    /// All batches, in order, made ahead by the workers.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = EvalBatch> + use<> {
        let shared = Arc::clone(&self.shared);
        let job = Arc::new(move |b: usize| shared.batch(b));
        Ordered::new(0..self.num_batches(), self.workers, 2 * self.workers, job)
    }
}

impl Shared {
    fn batch(&self, b: usize) -> EvalBatch {
        let first = b * self.batch_size;
        let n = self.batch_size.min(self.set.len() - first);
        let plane = 3 * self.crop * self.crop;
        let views = self.windows.len();
        let mut images = self.pool.take(n * views * plane);
        for (i, per_image) in images.chunks_exact_mut(views * plane).enumerate() {
            let src = self.set.image(first + i);
            for (&window, out) in self.windows.iter().zip(per_image.chunks_exact_mut(plane)) {
                self.norm.render(src, window, self.crop, [0.0; 3], out);
            }
        }
        EvalBatch {
            images,
            labels: (first..first + n)
                .map(|k| i64::from(self.set.label(k)))
                .collect(),
            indices: (first as u64..(first + n) as u64).collect(),
            views,
            batch_size: n,
            crop: self.crop,
        }
    }
}
