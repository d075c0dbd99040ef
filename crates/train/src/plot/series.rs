//! The numbers the plot draws, taken out of the metrics records.

use crate::metrics::MetricRecord;

/// One epoch's results, as drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct EpochPoint {
    /// Epochs completed.
    pub epoch: f64,
    /// Global step at the epoch end.
    pub step: f64,
    pub train_loss: f64,
    pub val_loss: f64,
    /// Errors in percent.
    pub train_top1: f64,
    pub train_top5: f64,
    pub val_top1: f64,
    pub val_top5: f64,
}

/// Everything the three panels draw.
#[derive(Debug, Clone, Default)]
pub(super) struct Curves {
    /// (step, loss) of every step with a finite loss.
    pub step_loss: Vec<(f64, f64)>,
    /// (step, learning rate) of every step with a positive finite rate.
    pub step_lr: Vec<(f64, f64)>,
    /// One point per finished epoch.
    pub epochs: Vec<EpochPoint>,
}

impl Curves {
    /// Collects the curves of `records`.
    pub fn of(records: &[MetricRecord]) -> Self {
        let mut c = Self::default();
        for r in records {
            match *r {
                MetricRecord::Step { step, loss, lr, .. } => {
                    if loss.is_finite() {
                        c.step_loss.push((step as f64, loss));
                    }
                    if lr.is_finite() && lr > 0.0 {
                        c.step_lr.push((step as f64, lr));
                    }
                }
                MetricRecord::Epoch {
                    epoch,
                    step,
                    train_loss,
                    train_top1_error,
                    train_top5_error,
                    val_loss,
                    val_top1_error,
                    val_top5_error,
                    ..
                } => c.epochs.push(EpochPoint {
                    epoch: epoch as f64,
                    step: step as f64,
                    train_loss,
                    val_loss,
                    train_top1: 100.0 * train_top1_error,
                    train_top5: 100.0 * train_top5_error,
                    val_top1: 100.0 * val_top1_error,
                    val_top5: 100.0 * val_top5_error,
                }),
            }
        }
        c
    }

    /// The last step recorded (at least 1, so an axis has a width).
    pub fn max_step(&self) -> f64 {
        let last = self.step_loss.last().map_or(0.0, |s| s.0);
        let epoch = self.epochs.last().map_or(0.0, |e| e.step);
        last.max(epoch).max(1.0)
    }

    /// Top of the loss axis: 1.2 × the largest epoch loss or first step
    /// loss (later step spikes are clipped rather than flattening the
    /// curves people read; the fifth on top keeps the legend, top right,
    /// off a short run's curves).
    pub fn max_loss(&self) -> f64 {
        self.epochs
            .iter()
            .flat_map(|e| [e.train_loss, e.val_loss])
            .chain(self.step_loss.first().map(|s| s.1))
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max)
            .max(1e-3)
            * 1.2
    }

    /// Epochs on the error axis (at least 1).
    pub fn max_epoch(&self) -> f64 {
        self.epochs.last().map_or(1.0, |e| e.epoch).max(1.0)
    }

    /// Learning-rate axis range (log scale): whole decades, at least half
    /// a decade beyond the rates used on each side, so the axis has a tick
    /// at each power of 10 and a constant rate sits mid-panel; 1e-3..1e-1
    /// before any step.
    pub fn lr_range(&self) -> (f64, f64) {
        let lo = self
            .step_lr
            .iter()
            .map(|p| p.1)
            .fold(f64::INFINITY, f64::min);
        let hi = self.step_lr.iter().map(|p| p.1).fold(0.0, f64::max);
        if lo.is_finite() && hi > 0.0 {
            (
                10f64.powf((lo.log10() - 0.5).floor()),
                10f64.powf((hi.log10() + 0.5).ceil()),
            )
        } else {
            (1e-3, 1e-1)
        }
    }

    /// The epoch with the lowest val top-1 error (the earliest of ties).
    pub fn best_epoch(&self) -> Option<&EpochPoint> {
        self.epochs
            .iter()
            .fold(None, |best: Option<&EpochPoint>, e| match best {
                Some(b) if b.val_top1 <= e.val_top1 => Some(b),
                _ if e.val_top1.is_finite() => Some(e),
                other => other,
            })
    }

    /// The figure's title line: where the run stands.
    pub fn headline(&self) -> String {
        let steps = self.max_step() as u64;
        let steps = if self.step_loss.is_empty() && self.epochs.is_empty() {
            "no step yet".to_string()
        } else {
            format!("step {}", thousands(steps))
        };
        match self.best_epoch() {
            Some(b) => format!(
                "AlexNet training — {steps}, {} epoch{} done; best val top-1 error {:.1} % (epoch {})",
                self.epochs.len(),
                if self.epochs.len() == 1 { "" } else { "s" },
                b.val_top1,
                b.epoch
            ),
            None => format!("AlexNet training — {steps}, no epoch finished yet"),
        }
    }
}

/// `1234567` as `1,234,567`.
pub(super) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A step-axis tick: `900`, `12k`, `1.5M`; none between whole steps.
pub(super) fn step_tick(v: f64) -> String {
    if (v - v.round()).abs() > 1e-6 {
        return String::new();
    }
    let a = v.abs();
    let (x, unit) = if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let s = format!("{x:.1}");
    let s = s.strip_suffix(".0").unwrap_or(&s);
    format!("{s}{unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_and_thousands() {
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(999), "999");
        assert_eq!(step_tick(900.0), "900");
        assert_eq!(step_tick(2500.0), "2500");
        assert_eq!(step_tick(12_000.0), "12k");
        assert_eq!(step_tick(1_500_000.0), "1.5M");
        assert_eq!(step_tick(1.5), "");
    }

    #[test]
    fn lr_axis_spans_whole_decades_around_the_rates() {
        let with = |lrs: &[f64]| Curves {
            step_lr: lrs
                .iter()
                .enumerate()
                .map(|(i, &l)| (i as f64, l))
                .collect(),
            ..Curves::default()
        };
        let close = |(a, b): (f64, f64), (c, d): (f64, f64)| {
            assert!(
                (a / c - 1.0).abs() < 1e-9 && (b / d - 1.0).abs() < 1e-9,
                "{a} {b}"
            );
        };
        close(with(&[0.01]).lr_range(), (1e-3, 1e-1));
        close(with(&[0.01, 1e-5]).lr_range(), (1e-6, 1e-1));
        close(with(&[0.005]).lr_range(), (1e-3, 1e-1));
        close(Curves::default().lr_range(), (1e-3, 1e-1));
    }

    #[test]
    fn best_epoch_is_the_earliest_lowest() {
        let p = |epoch: f64, val_top1: f64| EpochPoint {
            epoch,
            step: epoch * 10.0,
            train_loss: 1.0,
            val_loss: 1.0,
            train_top1: 50.0,
            train_top5: 20.0,
            val_top1,
            val_top5: 10.0,
        };
        let c = Curves {
            epochs: vec![p(1.0, 60.0), p(2.0, 40.0), p(3.0, 40.0), p(4.0, 45.0)],
            ..Curves::default()
        };
        assert_eq!(c.best_epoch().unwrap().epoch, 2.0);
        assert!(
            c.headline()
                .contains("best val top-1 error 40.0 % (epoch 2)")
        );
        assert!(Curves::default().headline().contains("no step yet"));
    }
}
