//! The figure: a headline, then three titled panels side by side — loss
//! against steps, top-1/top-5 error against epochs, learning rate against
//! steps (log scale) — each with labelled axes, tick labels and a legend.
//!
//! Every piece of text is drawn in one colour, `ink`; the test draws the
//! same figure with transparent ink (same layout, no text) to find the text
//! pixels.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::font::FAMILY;
use super::series::{Curves, step_tick};

/// Pixel size of the figure.
pub(super) const SIZE: (u32, u32) = (1500, 540);
/// Height of the headline strip above the panels.
pub(super) const HEADER: u32 = 40;
/// Blank space around each panel.
pub(super) const MARGIN: u32 = 14;
/// Height of the x tick labels and axis name below a panel's plot.
pub(super) const X_LABELS: u32 = 50;
/// Width of the y tick labels and axis name left of a panel's plot.
pub(super) const Y_LABELS: u32 = 80;

const GRID: RGBColor = RGBColor(232, 232, 232);
const STEP_GREY: RGBColor = RGBColor(190, 190, 190);
/// Training curves (matplotlib's C0 blue).
const TRAIN: RGBColor = RGBColor(31, 119, 180);
/// Validation curves (C1 orange).
const VAL: RGBColor = RGBColor(255, 127, 14);
/// The learning rate (C2 green).
const LR: RGBColor = RGBColor(44, 160, 44);

/// Epoch markers are drawn up to this many epochs; beyond, they would
/// hide the lines (and the dashes of top-5).
const MARKERS_UP_TO: usize = 25;

type Area<DB> = DrawingArea<DB, Shift>;
type Drawn = Result<(), String>;

fn text(ink: RGBAColor, size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&ink)
}

fn err<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

/// Draws the whole figure of `c` onto `root`, text in `ink`.
pub(super) fn paint<DB: DrawingBackend>(root: &Area<DB>, c: &Curves, ink: RGBAColor) -> Drawn {
    root.fill(&WHITE).map_err(err)?;
    let (header, body) = root.split_vertically(HEADER);
    let (w, h) = header.dim_in_pixel();
    header
        .draw(&Text::new(
            c.headline(),
            (w as i32 / 2, h as i32 / 2),
            text(ink, 20).pos(Pos::new(HPos::Center, VPos::Center)),
        ))
        .map_err(err)?;
    let panels = body.split_evenly((1, 3));
    loss(&panels[0], c, ink)?;
    errors(&panels[1], c, ink)?;
    lr(&panels[2], c, ink)?;
    root.present().map_err(err)
}

/// A legend entry's solid line.
fn solid(at: (i32, i32), style: ShapeStyle) -> PathElement<(i32, i32)> {
    PathElement::new(vec![(at.0, at.1), (at.0 + 22, at.1)], style)
}

/// The chart frame shared by the panels: margin, caption, label areas.
fn frame<'a, 'b, DB: DrawingBackend>(
    area: &'a Area<DB>,
    title: &str,
    ink: RGBAColor,
) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(area);
    b.margin(MARGIN)
        .caption(title, text(ink, 18))
        .x_label_area_size(X_LABELS)
        .y_label_area_size(Y_LABELS);
    b
}

/// The legend box, top right inside the plot.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    ink: RGBAColor,
) -> Drawn {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(text(ink, 13))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.4))
        .draw()
        .map_err(err)
}

/// Decimals for tick labels of an axis reaching `top`.
fn decimals(top: f64) -> usize {
    match top {
        t if t < 0.1 => 3,
        t if t < 1.0 => 2,
        _ => 1,
    }
}

/// Loss against steps: every step's loss, the epoch means, val loss.
fn loss<DB: DrawingBackend>(area: &Area<DB>, c: &Curves, ink: RGBAColor) -> Drawn {
    let (max_step, max_loss) = (c.max_step(), c.max_loss());
    let mut chart = frame(area, "Loss", ink)
        .build_cartesian_2d(0.0..max_step, 0.0..max_loss)
        .map_err(err)?;
    let d = decimals(max_loss);
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .x_labels(8)
        .y_labels(10)
        .x_label_formatter(&|v| step_tick(*v))
        .y_label_formatter(&|v| format!("{v:.d$}"))
        .x_desc("step")
        .y_desc("cross-entropy loss")
        .label_style(text(ink, 13))
        .axis_desc_style(text(ink, 15))
        .draw()
        .map_err(err)?;
    let grey = STEP_GREY.stroke_width(1);
    chart
        .draw_series(LineSeries::new(
            c.step_loss.iter().map(|&(s, l)| (s, l.min(max_loss))),
            grey,
        ))
        .map_err(err)?
        .label("train, every step")
        .legend(move |at| solid(at, grey));
    for (name, color, pick) in [("train, epoch mean", TRAIN, 0usize), ("val", VAL, 1)] {
        let pts: Vec<(f64, f64)> = c
            .epochs
            .iter()
            .map(|e| (e.step, [e.train_loss, e.val_loss][pick].min(max_loss)))
            .collect();
        let style = color.stroke_width(2);
        chart
            .draw_series(LineSeries::new(pts.clone(), style))
            .map_err(err)?
            .label(name)
            .legend(move |at| solid(at, style));
        if pts.len() <= MARKERS_UP_TO {
            chart
                .draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled())))
                .map_err(err)?;
        }
    }
    legend(&mut chart, ink)
}

/// Top-1 (solid) and top-5 (dashed) error of train and val, per epoch.
fn errors<DB: DrawingBackend>(area: &Area<DB>, c: &Curves, ink: RGBAColor) -> Drawn {
    let max_epoch = c.max_epoch();
    let mut chart = frame(area, "Error (top-1 solid, top-5 dashed)", ink)
        .build_cartesian_2d(0.0..max_epoch, 0.0..100.0)
        .map_err(err)?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .x_labels((max_epoch as usize + 1).min(11))
        .y_labels(11)
        // Whole epochs only: a fractional tick would repeat a label.
        .x_label_formatter(&|v| {
            if (v - v.round()).abs() < 1e-6 {
                format!("{v:.0}")
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|v| format!("{v:.0}"))
        .x_desc("epoch")
        .y_desc("error (%)")
        .label_style(text(ink, 13))
        .axis_desc_style(text(ink, 15))
        .draw()
        .map_err(err)?;
    for (name, color, top5) in [
        ("train top-1", TRAIN, false),
        ("train top-5", TRAIN, true),
        ("val top-1", VAL, false),
        ("val top-5", VAL, true),
    ] {
        let pts: Vec<(f64, f64)> = c
            .epochs
            .iter()
            .map(|e| {
                let v = match (color == TRAIN, top5) {
                    (true, false) => e.train_top1,
                    (true, true) => e.train_top5,
                    (false, false) => e.val_top1,
                    (false, true) => e.val_top5,
                };
                (e.epoch, v)
            })
            .collect();
        let style = color.stroke_width(2);
        let marks = pts.len() <= MARKERS_UP_TO;
        if top5 {
            chart
                .draw_series(DashedLineSeries::new(pts.clone(), 8, 6, style))
                .map_err(err)?
                .label(name)
                .legend(move |at| {
                    // Two dashes, relative to the entry's anchor.
                    EmptyElement::at(at)
                        + PathElement::new(vec![(0, 0), (8, 0)], style)
                        + PathElement::new(vec![(14, 0), (22, 0)], style)
                });
            if marks {
                chart
                    .draw_series(
                        pts.into_iter()
                            .map(|p| TriangleMarker::new(p, 4, color.filled())),
                    )
                    .map_err(err)?;
            }
        } else {
            chart
                .draw_series(LineSeries::new(pts.clone(), style))
                .map_err(err)?
                .label(name)
                .legend(move |at| solid(at, style));
            if marks {
                chart
                    .draw_series(pts.into_iter().map(|p| Circle::new(p, 3, color.filled())))
                    .map_err(err)?;
            }
        }
    }
    legend(&mut chart, ink)
}

/// The learning rate of every step, on a log scale (the schedule divides
/// it by 10).
fn lr<DB: DrawingBackend>(area: &Area<DB>, c: &Curves, ink: RGBAColor) -> Drawn {
    let (lo, hi) = c.lr_range();
    let mut chart = frame(area, "Learning rate", ink)
        .build_cartesian_2d(0.0..c.max_step(), (lo..hi).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&|v| step_tick(*v))
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .x_desc("step")
        .y_desc("learning rate (log scale)")
        .label_style(text(ink, 13))
        .axis_desc_style(text(ink, 15))
        .draw()
        .map_err(err)?;
    let style = LR.stroke_width(2);
    chart
        .draw_series(LineSeries::new(c.step_lr.iter().copied(), style))
        .map_err(err)?
        .label("learning rate")
        .legend(move |at| solid(at, style));
    legend(&mut chart, ink)
}
