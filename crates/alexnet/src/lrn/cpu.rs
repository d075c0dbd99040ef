//! The fused LRN on flex's f32 buffers: one pass forward, two in place
//! backward, parallel on rayon's pool (the one flex's own kernels use).
//!
//! A tensor `[N, C, H, W]` is `N·C` rows of `H·W` contiguous values; the
//! window of channel row `i` is up to `size` whole rows in the same block of
//! `C / groups` channels, so every inner loop runs over contiguous slices
//! and vectorises.

use core::ops::RangeInclusive;

use rayon::prelude::*;

use super::op::Params;

/// Below this many values a rayon task costs more to hand out than to run.
const MIN_TASK: usize = 16 * 1024;

/// Shape of the input as rows of channels.
#[derive(Clone, Copy, Debug)]
pub(super) struct Geometry {
    /// Channels per sample.
    channels: usize,
    /// Channels per independent block.
    block: usize,
    /// Values per channel row (`H·W`).
    plane: usize,
}

impl Geometry {
    /// The geometry of `[N, C, H, W]` split into `groups` channel blocks.
    pub fn of(dims: [usize; 4], groups: usize) -> Self {
        Self {
            channels: dims[1],
            block: dims[1] / groups,
            plane: dims[2] * dims[3],
        }
    }

    /// Rows `row - back ..= row + ahead`, clipped to `row`'s block.
    fn window(&self, row: usize, back: usize, ahead: usize) -> RangeInclusive<usize> {
        let ch = row % self.channels;
        let first = row - ch % self.block;
        let lo = row.saturating_sub(back).max(first);
        let hi = (row + ahead).min(first + self.block - 1);
        lo..=hi
    }

    /// Rows per rayon task.
    fn min_rows(&self) -> usize {
        (MIN_TASK / self.plane.max(1)).max(1)
    }

    fn row<'a>(&self, t: &'a [f32], row: usize) -> &'a [f32] {
        &t[row * self.plane..(row + 1) * self.plane]
    }
}

/// `d^-beta`, as a type so that each kernel is compiled (and vectorised)
/// for its exponent.
trait InvPow: Copy + Sync {
    fn of(self, d: f32) -> f32;
}

/// The paper's beta = 0.75 through square roots: correctly rounded steps,
/// and vectorised where `powf` is a scalar library call per value.
#[derive(Clone, Copy)]
struct ThreeQuarters;

impl InvPow for ThreeQuarters {
    #[inline(always)]
    fn of(self, d: f32) -> f32 {
        let s = d.sqrt();
        1.0 / (s * s.sqrt())
    }
}

/// Any other exponent.
#[derive(Clone, Copy)]
struct Powf(f32);

impl InvPow for Powf {
    #[inline(always)]
    fn of(self, d: f32) -> f32 {
        d.powf(-self.0)
    }
}

/// `y = x * d^-beta`; with `keep`, also `d`.
///
/// The backward gets `d` alone (not `d^-beta` and `d^(-beta-1)` as well)
/// and recomputes the powers: a fresh buffer costs more here than the
/// arithmetic, since each of its pages faults in on first write.
pub(super) fn forward(
    x: &[f32],
    geo: Geometry,
    p: &Params,
    keep: bool,
) -> (Vec<f32>, Option<Vec<f32>>) {
    if x.is_empty() {
        return (Vec::new(), keep.then(Vec::new));
    }
    if p.beta == 0.75 {
        forward_with(x, geo, p, keep, ThreeQuarters)
    } else {
        forward_with(x, geo, p, keep, Powf(p.beta as f32))
    }
}

fn forward_with(
    x: &[f32],
    geo: Geometry,
    p: &Params,
    keep: bool,
    pow: impl InvPow,
) -> (Vec<f32>, Option<Vec<f32>>) {
    let (k, alpha) = (p.k as f32, p.alpha as f32);
    // Writes row `row`'s window sum of squares to `acc`. The first row is
    // stored, not added: a fresh buffer's first touch must be a write, since
    // a read maps the shared zero page and the write after it then faults
    // again and flushes every core's TLB (costly in a VM: measured as most
    // of this loop's time).
    let sum_squares = |row: usize, acc: &mut [f32]| {
        let mut window = geo.window(row, p.before, p.after);
        let first = window.next().expect("a window holds its own row");
        for (a, &v) in acc.iter_mut().zip(geo.row(x, first)) {
            *a = v * v;
        }
        for j in window {
            for (a, &v) in acc.iter_mut().zip(geo.row(x, j)) {
                *a += v * v;
            }
        }
    };
    let mut y = vec![0.0f32; x.len()];
    if !keep {
        y.par_chunks_mut(geo.plane)
            .enumerate()
            .with_min_len(geo.min_rows())
            .for_each(|(row, y)| {
                sum_squares(row, y);
                for (y, &x) in y.iter_mut().zip(geo.row(x, row)) {
                    *y = x * pow.of(k + alpha * *y);
                }
            });
        return (y, None);
    }
    let mut d = vec![0.0f32; x.len()];
    y.par_chunks_mut(geo.plane)
        .zip(d.par_chunks_mut(geo.plane))
        .enumerate()
        .with_min_len(geo.min_rows())
        .for_each(|(row, (y, d))| {
            sum_squares(row, d);
            for ((y, d), &x) in y.iter_mut().zip(d).zip(geo.row(x, row)) {
                *d = k + alpha * *d;
                *y = x * pow.of(*d);
            }
        });
    (y, Some(d))
}

/// `dx_i = g_i d_i^-beta - 2 alpha beta x_i * sum_{j : i in window(j)} g_j x_j d_j^(-beta-1)`,
/// the `j` running over the mirrored window (`after` rows back, `before`
/// forward; the same window for an odd size).
///
/// In place, allocating nothing: `g` becomes `dx` and `d` is used up (it
/// holds `g x d^(-beta-1)` on return). First every value turns into its
/// own terms (`d` into `u = g x d^(-beta-1)`, `g` into `g d^-beta`); then
/// row `i` of `g` reads only itself and the window of `u`, so it can take
/// `dx_i`'s place.
pub(super) fn backward(x: &[f32], d: &mut [f32], g: &mut [f32], geo: Geometry, p: &Params) {
    if x.is_empty() {
        return;
    }
    if p.beta == 0.75 {
        own_terms(x, d, g, geo, ThreeQuarters);
    } else {
        own_terms(x, d, g, geo, Powf(p.beta as f32));
    }
    let c = (2.0 * p.alpha * p.beta) as f32;
    let u: &[f32] = d;
    g.par_chunks_mut(geo.plane)
        .enumerate()
        .with_min_len(geo.min_rows())
        .for_each_init(
            || vec![0.0f32; geo.plane],
            |sum, (row, g)| {
                sum.fill(0.0);
                for j in geo.window(row, p.after, p.before) {
                    for (s, &u) in sum.iter_mut().zip(geo.row(u, j)) {
                        *s += u;
                    }
                }
                for ((g, &x), &s) in g.iter_mut().zip(geo.row(x, row)).zip(sum.iter()) {
                    *g -= c * x * s;
                }
            },
        );
}

/// `d <- g x d^(-beta-1)`, `g <- g d^-beta`, value by value.
fn own_terms(x: &[f32], d: &mut [f32], g: &mut [f32], geo: Geometry, pow: impl InvPow) {
    let chunk = geo.min_rows() * geo.plane;
    d.par_chunks_mut(chunk)
        .zip(g.par_chunks_mut(chunk))
        .zip(x.par_chunks(chunk))
        .for_each(|((d, g), x)| {
            for ((d, g), &x) in d.iter_mut().zip(g).zip(x) {
                let q = pow.of(*d);
                *d = *g * x * (q / *d);
                *g *= q;
            }
        });
}
