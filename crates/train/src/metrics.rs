//! Top-k accuracy counting and the `metrics.jsonl` records.

use serde::{Deserialize, Serialize};

/// Rank of the true class among `scores` (0 = the highest score). Ties
/// count against the prediction: a class scoring the same as the true one
/// and listed earlier ranks above it, so a constant output is never
/// "right" by luck. NaN scores rank below everything.
pub fn rank_of_label(scores: &[f32], label: usize) -> usize {
    let target = scores[label];
    if target.is_nan() {
        return scores.len() - 1;
    }
    scores
        .iter()
        .enumerate()
        .filter(|&(i, &s)| s > target || (s == target && i < label))
        .count()
}

/// Running top-1/top-5 counts and a loss sum.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct TopK {
    /// Examples seen.
    pub n: u64,
    /// Examples whose true class was the top prediction.
    pub top1: u64,
    /// Examples whose true class was among the top five.
    pub top5: u64,
    /// Sum of per-batch mean losses times batch sizes.
    pub loss_sum: f64,
}

impl TopK {
    /// Adds a batch: `scores` is row-major `(labels.len(), classes)`.
    pub fn add_batch(&mut self, scores: &[f32], labels: &[i64], classes: usize) {
        for (row, &label) in scores.chunks_exact(classes).zip(labels) {
            let rank = rank_of_label(row, label as usize);
            self.n += 1;
            self.top1 += u64::from(rank < 1);
            self.top5 += u64::from(rank < 5);
        }
    }

    /// Adds a batch's mean loss, weighted by its size.
    pub fn add_loss(&mut self, mean_loss: f64, batch: usize) {
        self.loss_sum += mean_loss * batch as f64;
    }

    /// Top-1 error in [0, 1] (1 when nothing was seen).
    pub fn top1_error(&self) -> f64 {
        1.0 - self.top1 as f64 / self.n.max(1) as f64
    }

    /// Top-5 error in [0, 1].
    pub fn top5_error(&self) -> f64 {
        1.0 - self.top5 as f64 / self.n.max(1) as f64
    }

    /// Mean loss per example.
    pub fn mean_loss(&self) -> f64 {
        self.loss_sum / self.n.max(1) as f64
    }
}

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum MetricRecord {
    /// After each SGD step.
    Step {
        /// Epoch (0-based) the step belongs to.
        epoch: u64,
        /// Global step count after this step (1-based).
        step: u64,
        /// Mean cross-entropy of the batch.
        loss: f64,
        /// Learning rate used.
        lr: f64,
        /// Training throughput over this step.
        images_per_sec: f64,
    },
    /// After each epoch's validation.
    Epoch {
        /// Epoch number (1-based: epochs completed).
        epoch: u64,
        /// Global step count at the end of the epoch.
        step: u64,
        /// Mean training loss over the epoch.
        train_loss: f64,
        /// Training top-1 error (augmented crops, dropout on).
        train_top1_error: f64,
        /// Training top-5 error.
        train_top5_error: f64,
        /// Validation loss (centre crop).
        val_loss: f64,
        /// Validation top-1 error (centre crop).
        val_top1_error: f64,
        /// Validation top-5 error (centre crop).
        val_top5_error: f64,
        /// Learning rate used during the epoch.
        lr: f64,
        /// Wall-clock seconds the epoch took (training and validation).
        seconds: f64,
    },
}

impl MetricRecord {
    /// Global step the record was written at.
    pub fn step(&self) -> u64 {
        match self {
            MetricRecord::Step { step, .. } | MetricRecord::Epoch { step, .. } => *step,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_and_ties() {
        let s = [0.1, 0.5, 0.3, 0.5];
        assert_eq!(rank_of_label(&s, 1), 0);
        assert_eq!(rank_of_label(&s, 3), 1); // tie with an earlier class
        assert_eq!(rank_of_label(&s, 2), 2);
        assert_eq!(rank_of_label(&s, 0), 3);
        assert_eq!(rank_of_label(&[1.0, f32::NAN, 0.0], 1), 2);
    }

    #[test]
    fn topk_counts() {
        // 7 classes, 3 examples.
        let scores = [
            0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, // label 6: rank 0
            6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0, // label 4: rank 4
            6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.0, // label 6: rank 6
        ];
        let mut t = TopK::default();
        t.add_batch(&scores, &[6, 4, 6], 7);
        assert_eq!((t.n, t.top1, t.top5), (3, 1, 2));
        assert!((t.top1_error() - 2.0 / 3.0).abs() < 1e-12);
        assert!((t.top5_error() - 1.0 / 3.0).abs() < 1e-12);
        t.add_loss(2.0, 3);
        assert!((t.mean_loss() - 2.0).abs() < 1e-12);
    }

    #[test]
    fn constant_scores_are_wrong_except_for_class_zero() {
        let mut t = TopK::default();
        t.add_batch(&[0.0; 20], &[0, 7], 10);
        assert_eq!((t.top1, t.top5), (1, 1));
    }

    #[test]
    fn record_json_shape() {
        let r = MetricRecord::Step {
            epoch: 0,
            step: 3,
            loss: 2.5,
            lr: 0.01,
            images_per_sec: 100.0,
        };
        let line = serde_json::to_string(&r).unwrap();
        assert!(
            line.starts_with(r#"{"kind":"step","epoch":0,"step":3"#),
            "{line}"
        );
        let back: MetricRecord = serde_json::from_str(&line).unwrap();
        assert_eq!(back, r);
    }
}
