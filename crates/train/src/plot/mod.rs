//! `curves.png`: training curves redrawn after every epoch.
//!
//! The plot draws no text, so it needs no fonts (machines without any
//! fonts, CI containers, still get it). Layout, documented in
//! docs/TRAINING.md: left panel losses (per-step loss in light grey, epoch
//! train loss blue, val loss orange; y from 0 to the largest epoch loss,
//! x = steps); right panel errors over epochs on a fixed 0–100 % scale with
//! a grid line every 10 % (train top-1 blue, val top-1 orange, val top-5
//! green).

use std::path::Path;

use plotters::prelude::*;

use crate::metrics::MetricRecord;

const GREY: RGBColor = RGBColor(200, 200, 200);
const TRAIN: RGBColor = RGBColor(31, 119, 180);
const VAL: RGBColor = RGBColor(255, 127, 14);
const VAL5: RGBColor = RGBColor(44, 160, 44);

/// Draws the curves of `records` to `path` (written whole, then renamed).
/// Returns an error message rather than failing training.
pub fn draw(records: &[MetricRecord], path: &Path) -> Result<(), String> {
    let tmp = path.with_extension("tmp.png");
    render(records, &tmp).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

fn render(
    records: &[MetricRecord],
    path: &Path,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut steps = Vec::new();
    let mut epochs = Vec::new();
    for r in records {
        match r {
            MetricRecord::Step { step, loss, .. } if loss.is_finite() => {
                steps.push((*step as f64, *loss));
            }
            MetricRecord::Epoch {
                epoch,
                step,
                train_loss,
                train_top1_error,
                val_loss,
                val_top1_error,
                val_top5_error,
                ..
            } => epochs.push((
                *epoch as f64,
                *step as f64,
                *train_loss,
                *val_loss,
                *train_top1_error,
                *val_top1_error,
                *val_top5_error,
            )),
            _ => {}
        }
    }
    let root = BitMapBackend::new(path, (1200, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let (left, right) = root.split_horizontally(600);

    let max_step = steps.last().map_or(1.0, |s| s.0).max(1.0);
    let max_loss = epochs
        .iter()
        .flat_map(|e| [e.2, e.3])
        .chain(steps.iter().take(1).map(|s| s.1))
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max)
        .max(1e-3)
        * 1.1;
    let mut loss = ChartBuilder::on(&left)
        .margin(20)
        .build_cartesian_2d(0.0..max_step, 0.0..max_loss)?;
    loss.configure_mesh()
        .disable_x_mesh()
        .y_labels(11)
        .y_label_formatter(&|_| String::new())
        .x_label_formatter(&|_| String::new())
        .draw()?;
    loss.draw_series(LineSeries::new(
        steps.iter().map(|&(s, l)| (s, l.min(max_loss))),
        &GREY,
    ))?;
    loss.draw_series(LineSeries::new(
        epochs.iter().map(|e| (e.1, e.2)),
        TRAIN.stroke_width(2),
    ))?;
    loss.draw_series(LineSeries::new(
        epochs.iter().map(|e| (e.1, e.3)),
        VAL.stroke_width(2),
    ))?;

    let max_epoch = epochs.last().map_or(1.0, |e| e.0).max(1.0);
    let mut err = ChartBuilder::on(&right)
        .margin(20)
        .build_cartesian_2d(0.0..max_epoch, 0.0..1.0)?;
    err.configure_mesh()
        .y_labels(11)
        .x_labels(max_epoch as usize + 1)
        .y_label_formatter(&|_| String::new())
        .x_label_formatter(&|_| String::new())
        .draw()?;
    for (color, pick) in [(TRAIN, 4usize), (VAL, 5), (VAL5, 6)] {
        let pts: Vec<(f64, f64)> = epochs
            .iter()
            .map(|e| (e.0, [e.4, e.5, e.6][pick - 4]))
            .collect();
        err.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?;
        err.draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
    }
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_png_without_fonts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curves.png");
        let mut recs = Vec::new();
        for s in 1..=20u64 {
            recs.push(MetricRecord::Step {
                epoch: (s - 1) / 10,
                step: s,
                loss: 2.3 / s as f64,
                lr: 0.01,
                images_per_sec: 10.0,
            });
            if s % 10 == 0 {
                recs.push(MetricRecord::Epoch {
                    epoch: s / 10,
                    step: s,
                    train_loss: 1.0 / s as f64,
                    train_top1_error: 0.5,
                    train_top5_error: 0.2,
                    val_loss: 1.2 / s as f64,
                    val_top1_error: 0.6,
                    val_top5_error: 0.3,
                    lr: 0.01,
                    seconds: 1.0,
                });
            }
        }
        draw(&recs, &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        // Also with nothing to draw yet.
        draw(&[], &path).unwrap();
    }
}
