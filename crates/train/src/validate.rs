//! Running a model over every image of a split: centre crop or the paper's
//! ten crops, softmax averaged over the views.

use std::sync::Arc;

use alexnet::AlexNet;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use crate::loader::{EvalLoader, EvalView, LoaderError, MeanMode, ShardSet};
use crate::metrics::TopK;

/// How the evaluation loader is set up.
#[derive(Debug, Clone, Copy)]
pub struct EvalSettings {
    /// Centre crop or ten crops.
    pub view: EvalView,
    /// Crop side (the model's input size).
    pub crop: usize,
    /// Mean subtraction.
    pub mean: MeanMode,
    /// Pixel scale.
    pub scale: f32,
    /// Images per batch (each gives `views` crops).
    pub batch_size: usize,
    /// Loader threads.
    pub workers: usize,
}

/// Overall and per-class results.
#[derive(Debug, Clone, Default)]
pub struct EvalCounts {
    /// Over all images (loss: mean −ln of the averaged true-class probability).
    pub total: TopK,
    /// Per class index.
    pub per_class: Vec<TopK>,
}

/// Evaluates `model` on every image of `set`; `on_batch` is told how many
/// images each batch held (for progress bars).
pub fn run<B: Backend>(
    model: &AlexNet<B>,
    set: Arc<ShardSet>,
    settings: EvalSettings,
    device: &B::Device,
    mut on_batch: impl FnMut(usize),
) -> Result<EvalCounts, LoaderError> {
    let classes = set.num_classes();
    let mut counts = EvalCounts {
        total: TopK::default(),
        per_class: vec![TopK::default(); classes],
    };
    let loader = EvalLoader::new(
        set,
        settings.view,
        settings.crop,
        settings.mean,
        settings.scale,
        settings.batch_size,
        settings.workers,
    )?;
    for batch in loader.iter() {
        let n_views = batch.labels.len() * batch.views;
        let c = settings.crop;
        let images =
            Tensor::<B, 4>::from_data(TensorData::new(batch.images, [n_views, 3, c, c]), device);
        let logits: Vec<f32> = model
            .forward(images)
            .into_data()
            .to_vec()
            .expect("logits are f32");
        let probs = mean_softmax(&logits, batch.labels.len(), batch.views, classes);
        for (row, &label) in probs.chunks_exact(classes).zip(&batch.labels) {
            let label_u = label as usize;
            let loss = -(row[label_u].max(1e-30) as f64).ln();
            for t in [&mut counts.total, &mut counts.per_class[label_u]] {
                t.add_batch(row, &[label], classes);
                t.add_loss(loss, 1);
            }
        }
        on_batch(batch.labels.len());
    }
    Ok(counts)
}

/// Softmax of each view's logits, averaged over the `views` consecutive
/// rows belonging to one image: `(images, classes)` probabilities.
pub fn mean_softmax(logits: &[f32], images: usize, views: usize, classes: usize) -> Vec<f32> {
    let mut out = vec![0f32; images * classes];
    for (i, dst) in out.chunks_exact_mut(classes).enumerate() {
        let mut acc = vec![0f64; classes];
        for v in 0..views {
            let row = &logits[(i * views + v) * classes..][..classes];
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let exps: Vec<f64> = row.iter().map(|&x| (x as f64 - max).exp()).collect();
            let sum: f64 = exps.iter().sum();
            for (a, e) in acc.iter_mut().zip(exps) {
                *a += e / sum;
            }
        }
        for (d, a) in dst.iter_mut().zip(acc) {
            *d = (a / views as f64) as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_softmax_averages_views() {
        // One image, two views, two classes: softmax([0, 0]) = [.5, .5],
        // softmax([ln 3, 0]) = [.75, .25] → mean [.625, .375].
        let p = mean_softmax(&[0.0, 0.0, 3f32.ln(), 0.0], 1, 2, 2);
        assert!(
            (p[0] - 0.625).abs() < 1e-6 && (p[1] - 0.375).abs() < 1e-6,
            "{p:?}"
        );
        // Large logits do not overflow.
        let p = mean_softmax(&[1000.0, 0.0], 1, 1, 2);
        assert!((p[0] - 1.0).abs() < 1e-6);
    }
}
