//! `summary.csv`: one row per finished epoch, for a spreadsheet or
//! `pandas.read_csv`, derived from the metrics records (so it is rebuilt,
//! never appended to, and cannot disagree with `metrics.jsonl`).

use std::collections::BTreeMap;

use crate::metrics::MetricRecord;

/// The header line.
pub(super) const HEADER: &str = "epoch,step,train_loss,train_top1_error,train_top5_error,\
val_loss,val_top1_error,val_top5_error,lr,seconds,total_seconds,images_per_sec";

/// The CSV of the epoch records in `records`. Errors are fractions in
/// [0, 1] as in `metrics.jsonl`; floats are written in Rust's shortest
/// round-trip form. `seconds` is the epoch's wall time (validation
/// included), `total_seconds` their running sum, `images_per_sec` the
/// training throughput of the epoch's steps (the harmonic mean of the
/// per-step figures: images over compute time, loader waits excluded;
/// empty when the epoch's step records are missing).
pub(super) fn render(records: &[MetricRecord]) -> String {
    let mut out = String::from(HEADER);
    out.push('\n');
    let mut total = 0.0;
    // Per epoch (0-based, as step records number them): count and sum of
    // 1 / images_per_sec. A map, not a vector: a garbled epoch number in
    // the log must not allocate its way to an abort.
    let mut inv: BTreeMap<u64, (u64, f64)> = BTreeMap::new();
    for r in records {
        match *r {
            MetricRecord::Step {
                epoch,
                images_per_sec,
                ..
            } if images_per_sec.is_finite() && images_per_sec > 0.0 => {
                let e = inv.entry(epoch).or_insert((0, 0.0));
                e.0 += 1;
                e.1 += 1.0 / images_per_sec;
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
                lr,
                seconds,
            } => {
                total += seconds;
                let ips = epoch
                    .checked_sub(1)
                    .and_then(|e| inv.get(&e))
                    .filter(|(n, _)| *n > 0)
                    .map_or_else(String::new, |(n, s)| (*n as f64 / s).to_string());
                out.push_str(&format!(
                    "{epoch},{step},{train_loss},{train_top1_error},{train_top5_error},\
                     {val_loss},{val_top1_error},{val_top5_error},{lr},{seconds},{total},{ips}\n"
                ));
            }
            MetricRecord::Step { .. } => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(epoch: u64, step: u64, ips: f64) -> MetricRecord {
        MetricRecord::Step {
            epoch,
            step,
            loss: 2.0,
            lr: 0.01,
            images_per_sec: ips,
        }
    }

    fn epoch(epoch: u64, step: u64) -> MetricRecord {
        MetricRecord::Epoch {
            epoch,
            step,
            train_loss: 2.5,
            train_top1_error: 0.75,
            train_top5_error: 0.25,
            val_loss: 2.25,
            val_top1_error: 0.5,
            val_top5_error: 0.125,
            lr: 0.01,
            seconds: 10.5,
        }
    }

    #[test]
    fn one_row_per_epoch_with_the_header_names() {
        // Epoch 1: steps at 100 and 300 images/s → 2 / (1/100 + 1/300) = 150.
        let recs = vec![
            step(0, 1, 100.0),
            step(0, 2, 300.0),
            epoch(1, 2),
            step(1, 3, 50.0),
            epoch(2, 3),
            step(2, 4, 50.0),
        ];
        let csv = render(&recs);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3, "{csv}");
        assert_eq!(lines[0], HEADER);
        assert_eq!(
            lines[1],
            "1,2,2.5,0.75,0.25,2.25,0.5,0.125,0.01,10.5,10.5,150"
        );
        assert_eq!(lines[2], "2,3,2.5,0.75,0.25,2.25,0.5,0.125,0.01,10.5,21,50");
        let cols = HEADER.split(',').count();
        assert!(lines.iter().all(|l| l.split(',').count() == cols));
    }

    #[test]
    fn no_epoch_yet_is_the_header_alone() {
        assert_eq!(render(&[step(0, 1, 10.0)]), format!("{HEADER}\n"));
        // An epoch whose steps were not logged leaves the throughput empty.
        assert!(render(&[epoch(1, 5)]).ends_with(",10.5,10.5,\n"));
    }
}
