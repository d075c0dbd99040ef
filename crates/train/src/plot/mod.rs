//! `curves.png`: the training curves, redrawn at every checkpoint save
//! (epoch ends included), so the file exists whenever a checkpoint does.
//!
//! A headline (step, epochs done, best val top-1 error) above three
//! panels: loss against steps, top-1/top-5 error against epochs, learning
//! rate against steps; each titled, with named axes, tick labels and a
//! legend. Text is drawn with a font carried in the binary ([`font`]), so
//! no system font is needed. The figure is described in docs/TRAINING.md.

mod font;
mod panels;
mod series;

use std::path::{Path, PathBuf};

use plotters::prelude::*;

use crate::metrics::MetricRecord;
use series::Curves;

/// A plot that could not be drawn or written.
#[derive(Debug, thiserror::Error)]
#[error("{path}: cannot draw the plot: {message}")]
pub struct PlotError {
    /// The plot file.
    pub path: PathBuf,
    /// What went wrong.
    pub message: String,
}

/// Draws the curves of `records` to `path` (written whole under a
/// temporary name, then renamed, so a reader never sees half a PNG).
pub fn draw(records: &[MetricRecord], path: &Path) -> Result<(), PlotError> {
    let fail = |message: String| PlotError {
        path: path.to_path_buf(),
        message,
    };
    font::ensure_registered().map_err(fail)?;
    let tmp = path.with_extension("tmp.png");
    let painted = {
        let root = BitMapBackend::new(&tmp, panels::SIZE).into_drawing_area();
        panels::paint(&root, &Curves::of(records), BLACK.to_rgba())
    };
    // The backend writes what it has when dropped; a failed figure is
    // not left lying beside the good one.
    if let Err(e) = painted {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    std::fs::rename(&tmp, path).map_err(|e| fail(e.to_string()))
}

/// The figure of `records` as RGB bytes, row-major, text in `ink`.
#[cfg(test)]
fn render_rgb(records: &[MetricRecord], ink: RGBAColor) -> Vec<u8> {
    font::ensure_registered().unwrap();
    let (w, h) = panels::SIZE;
    let mut buf = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        panels::paint(&root, &Curves::of(records), ink).unwrap();
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::panels::{HEADER, MARGIN, SIZE, X_LABELS, Y_LABELS};
    use super::*;

    /// Three epochs of ten steps, the rate divided by 10 after epoch 2.
    fn records() -> Vec<MetricRecord> {
        let mut recs = Vec::new();
        for s in 1..=30u64 {
            let lr = if s > 20 { 0.001 } else { 0.01 };
            recs.push(MetricRecord::Step {
                epoch: (s - 1) / 10,
                step: s,
                loss: 2.3 / s as f64 + 0.5,
                lr,
                images_per_sec: 10.0,
            });
            if s % 10 == 0 {
                let e = s / 10;
                recs.push(MetricRecord::Epoch {
                    epoch: e,
                    step: s,
                    train_loss: 1.0 / e as f64 + 0.6,
                    train_top1_error: 0.9 - 0.2 * e as f64,
                    train_top5_error: 0.5 - 0.1 * e as f64,
                    val_loss: 1.2 / e as f64 + 0.6,
                    val_top1_error: 0.95 - 0.2 * e as f64,
                    val_top5_error: 0.6 - 0.1 * e as f64,
                    lr,
                    seconds: 1.0,
                });
            }
        }
        recs
    }

    /// Pixels inside `(x0, y0)..(x1, y1)` that are dark (text is black)
    /// in `with` and differ from `without`.
    fn text_pixels(
        with: &[u8],
        without: &[u8],
        (x0, y0): (u32, u32),
        (x1, y1): (u32, u32),
    ) -> usize {
        let w = SIZE.0;
        let mut n = 0;
        for y in y0..y1 {
            for x in x0..x1 {
                let i = ((y * w + x) * 3) as usize;
                let a = &with[i..i + 3];
                let dark = a.iter().map(|&v| v as u32).sum::<u32>() < 3 * 110;
                if dark && a != &without[i..i + 3] {
                    n += 1;
                }
            }
        }
        n
    }

    #[test]
    fn text_is_drawn_in_the_title_axis_and_legend_areas() {
        let recs = records();
        let with = render_rgb(&recs, BLACK.to_rgba());
        let without = render_rgb(&recs, TRANSPARENT);
        let (w, h) = SIZE;
        // The headline strip.
        assert!(text_pixels(&with, &without, (0, 0), (w, HEADER)) > 300);
        let panel_w = w / 3;
        for p in 0..3 {
            let (x0, x1) = (p * panel_w, (p + 1) * panel_w);
            let top = HEADER + MARGIN;
            let bottom = h - MARGIN;
            // "Loss", the shortest title, has about 85 dark text pixels.
            let named = |n: usize, what: &str| {
                assert!(n > 40, "panel {p}: {what}: {n} text pixels");
            };
            // Title: the strip between the panel's margin and its plot.
            named(
                text_pixels(
                    &with,
                    &without,
                    (x0 + Y_LABELS, top),
                    (x1 - MARGIN, top + 26),
                ),
                "title",
            );
            // Y tick labels, right-aligned against the axis, and the axis
            // name, rotated, at the panel's left edge.
            let (plot_top, plot_bottom) = (top + 30, bottom - X_LABELS);
            let axis_x = x0 + MARGIN + Y_LABELS;
            named(
                text_pixels(
                    &with,
                    &without,
                    (axis_x - 40, plot_top),
                    (axis_x - 6, plot_bottom),
                ),
                "y tick labels",
            );
            named(
                text_pixels(
                    &with,
                    &without,
                    (x0 + MARGIN, plot_top),
                    (x0 + MARGIN + 26, plot_bottom),
                ),
                "y axis name",
            );
            // X tick labels just below the plot, the axis name below them.
            named(
                text_pixels(
                    &with,
                    &without,
                    (axis_x, plot_bottom + 4),
                    (x1 - MARGIN, plot_bottom + 24),
                ),
                "x tick labels",
            );
            named(
                text_pixels(
                    &with,
                    &without,
                    (axis_x, plot_bottom + 28),
                    (x1 - MARGIN, bottom),
                ),
                "x axis name",
            );
            // The legend: upper right inside the plot.
            named(
                text_pixels(
                    &with,
                    &without,
                    (x1 - MARGIN - 220, top + 30),
                    (x1 - MARGIN, top + 130),
                ),
                "legend",
            );
        }
        // Transparent ink draws no text at all: the only difference is text.
        let plot_core = text_pixels(
            &with,
            &without,
            (MARGIN + Y_LABELS + 10, HEADER + 200),
            (panel_w - 240, h - MARGIN - X_LABELS - 10),
        );
        assert_eq!(plot_core, 0, "text drawn inside the loss plot's data area");
    }

    #[test]
    fn writes_a_png_of_the_figure_size_with_and_without_data() {
        // To look at the test figure: CURVES_PNG=/tmp/curves.png.
        if let Some(p) = std::env::var_os("CURVES_PNG") {
            draw(&records(), Path::new(&p)).unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("curves.png");
        for recs in [records(), Vec::new(), records()[..5].to_vec()] {
            draw(&recs, &path).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(&bytes[1..4], b"PNG");
            // IHDR: width and height, big-endian, at bytes 16..24.
            let dim = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
            assert_eq!((dim(16), dim(20)), SIZE);
        }
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("curves.png")]);
    }

    #[test]
    fn an_unwritable_path_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no/such/dir/curves.png");
        let e = draw(&records(), &path).unwrap_err().to_string();
        assert!(e.contains("no/such/dir/curves.png"), "{e}");
    }
}
