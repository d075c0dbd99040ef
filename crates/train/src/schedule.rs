//! Learning-rate schedules: the paper's "divide by 10 when validation
//! error stops improving" rule, or fixed steps at given epochs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A learning-rate schedule, applied at epoch ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LrSchedule {
    /// Divide by 10 after `patience` epochs without a new best validation
    /// top-1 error, at most `max_drops` times (the paper: three).
    Plateau {
        /// Epochs without improvement before a drop.
        patience: u32,
        /// Most drops.
        max_drops: u32,
    },
    /// Divide by 10 once each listed epoch count has been completed.
    Step {
        /// Epoch counts (1-based: `30` means "after 30 epochs").
        milestones: Vec<u64>,
    },
}

impl LrSchedule {
    /// Parses `plateau`, `plateau:P` (patience P), or `step:30,60,80`.
    /// `max_drops` applies to `plateau`.
    pub fn parse(s: &str, max_drops: u32) -> Result<Self, String> {
        let (kind, arg) = s.split_once(':').unwrap_or((s, ""));
        match kind {
            "plateau" => {
                let patience = if arg.is_empty() {
                    3
                } else {
                    arg.parse()
                        .map_err(|_| format!("bad patience `{arg}` in `{s}`"))?
                };
                Ok(Self::Plateau {
                    patience,
                    max_drops,
                })
            }
            "step" => {
                let mut milestones = Vec::new();
                for part in arg.split(',').filter(|p| !p.is_empty()) {
                    let m: u64 = part
                        .trim()
                        .parse()
                        .map_err(|_| format!("bad epoch `{part}` in `{s}`"))?;
                    if m == 0 || milestones.last().is_some_and(|&last| m <= last) {
                        return Err(format!(
                            "step epochs must be positive and increasing: `{s}`"
                        ));
                    }
                    milestones.push(m);
                }
                if milestones.is_empty() {
                    return Err(format!("`{s}` lists no epochs (e.g. step:30,60,80)"));
                }
                Ok(Self::Step { milestones })
            }
            _ => Err(format!(
                "unknown schedule `{s}`: expected plateau[:PATIENCE] or step:E1,E2,..."
            )),
        }
    }
}

impl FromStr for LrSchedule {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s, 3)
    }
}

impl fmt::Display for LrSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LrSchedule::Plateau {
                patience,
                max_drops,
            } => write!(f, "plateau:{patience} (max {max_drops} drops)"),
            LrSchedule::Step { milestones } => {
                let list: Vec<String> = milestones.iter().map(u64::to_string).collect();
                write!(f, "step:{}", list.join(","))
            }
        }
    }
}

/// The schedule's state, saved in checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LrState {
    /// The learning rate in force.
    pub lr: f64,
    /// Best validation top-1 error so far.
    pub best_val_error: Option<f64>,
    /// Epochs since the best (plateau).
    pub epochs_since_best: u32,
    /// Drops made so far.
    pub drops: u32,
}

impl LrState {
    /// The state at the start of training.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            best_val_error: None,
            epochs_since_best: 0,
            drops: 0,
        }
    }

    /// Updates the state after `epochs_done` epochs with validation top-1
    /// error `val_error`; returns true when the rate was divided by 10.
    pub fn epoch_end(
        &mut self,
        schedule: &LrSchedule,
        base_lr: f64,
        epochs_done: u64,
        val_error: f64,
    ) -> bool {
        let improved = self.best_val_error.is_none_or(|best| val_error < best);
        if improved {
            self.best_val_error = Some(val_error);
            self.epochs_since_best = 0;
        } else {
            self.epochs_since_best += 1;
        }
        match schedule {
            LrSchedule::Plateau {
                patience,
                max_drops,
            } => {
                if !improved && self.epochs_since_best >= *patience && self.drops < *max_drops {
                    self.drops += 1;
                    self.epochs_since_best = 0;
                    self.lr /= 10.0;
                    true
                } else {
                    false
                }
            }
            LrSchedule::Step { milestones } => {
                let drops = milestones.iter().filter(|&&m| m <= epochs_done).count() as u32;
                let dropped = drops != self.drops;
                self.drops = drops;
                // Recomputed from the base rate so repeated divisions never drift.
                self.lr = base_lr * 0.1f64.powi(drops as i32);
                dropped
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plateau_drops_after_patience_and_at_most_max_drops() {
        let s = LrSchedule::Plateau {
            patience: 2,
            max_drops: 2,
        };
        let mut st = LrState::new(0.01);
        let errs = [0.9, 0.8, 0.8, 0.85, 0.7, 0.75, 0.75, 0.9, 0.9, 0.9, 0.9];
        let mut lrs = Vec::new();
        for (e, &err) in errs.iter().enumerate() {
            st.epoch_end(&s, 0.01, e as u64 + 1, err);
            lrs.push(st.lr);
        }
        // Epochs 3 and 4 do not improve on 0.8 → drop after epoch 4; epoch 5
        // improves; epochs 6,7 don't → second drop; no third drop ever.
        let expect = [
            0.01, 0.01, 0.01, 0.001, 0.001, 0.001, 0.0001, 0.0001, 0.0001, 0.0001, 0.0001,
        ];
        for (a, b) in lrs.iter().zip(expect) {
            assert!((a - b).abs() < 1e-12, "{lrs:?}");
        }
        assert_eq!(st.drops, 2);
        assert_eq!(st.best_val_error, Some(0.7));
    }

    #[test]
    fn step_schedule_follows_milestones() {
        let s = LrSchedule::parse("step:2,4", 3).unwrap();
        let mut st = LrState::new(0.1);
        let mut lrs = Vec::new();
        for e in 1..=5 {
            st.epoch_end(&s, 0.1, e, 0.5);
            lrs.push(st.lr);
        }
        let expect = [0.1, 0.01, 0.01, 0.001, 0.001];
        for (a, b) in lrs.iter().zip(expect) {
            assert!((a - b).abs() < 1e-12, "{lrs:?}");
        }
    }

    #[test]
    fn parse_accepts_and_rejects() {
        assert_eq!(
            LrSchedule::parse("plateau", 3),
            Ok(LrSchedule::Plateau {
                patience: 3,
                max_drops: 3
            })
        );
        assert_eq!(
            LrSchedule::parse("plateau:5", 1),
            Ok(LrSchedule::Plateau {
                patience: 5,
                max_drops: 1
            })
        );
        assert_eq!(
            LrSchedule::parse("step:30,60,80", 3),
            Ok(LrSchedule::Step {
                milestones: vec![30, 60, 80]
            })
        );
        assert!(LrSchedule::parse("step:", 3).is_err());
        assert!(LrSchedule::parse("step:60,30", 3).is_err());
        assert!(LrSchedule::parse("cosine", 3).is_err());
        assert!(LrSchedule::parse("plateau:x", 3).is_err());
    }
}
