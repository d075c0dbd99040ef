//! Colour statistics of the training split.
//!
//! Accumulated as exact integer sums of 8-bit values (per-channel sums, sums
//! of channel products, per-location sums for the mean image), so merging
//! partial results in any order gives the same bits: the statistics do not
//! depend on thread count, shard order or resuming. They become f64 on a
//! [0, 1] scale only at the end.

/// Exact integer sums over a set of `S×S×3` images.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsAccum {
    /// Images added.
    pub images: u64,
    /// Pixels added (images × S²).
    pub pixels: u64,
    /// Σ value per channel (RGB).
    pub sum: [u64; 3],
    /// Σ value_a × value_b for (a, b) in RR, RG, RB, GG, GB, BB.
    pub prod: [u64; 6],
    /// Σ value at every position of the `S×S×3` image.
    pub image_sum: Vec<u64>,
}

/// Per-image sums, cheap to compute in the worker that produced the image.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImageSums {
    /// Σ value per channel.
    pub sum: [u64; 3],
    /// Σ products, order as in [`StatsAccum::prod`].
    pub prod: [u64; 6],
}

impl ImageSums {
    /// Sums of one interleaved RGB8 image.
    #[allow(clippy::needless_range_loop)] // fixed-size arrays, indexed in step
    pub fn of(pixels: &[u8]) -> Self {
        // u32 partial sums are exact for up to 66k pixels of 255², so flush
        // them to u64 in blocks of 65,536 pixels.
        let mut s = ImageSums::default();
        for block in pixels.chunks(3 * 65_536) {
            let mut sum = [0u32; 3];
            let mut prod = [0u32; 6];
            for px in block.chunks_exact(3) {
                let (r, g, b) = (px[0] as u32, px[1] as u32, px[2] as u32);
                sum[0] += r;
                sum[1] += g;
                sum[2] += b;
                prod[0] += r * r;
                prod[1] += r * g;
                prod[2] += r * b;
                prod[3] += g * g;
                prod[4] += g * b;
                prod[5] += b * b;
            }
            for c in 0..3 {
                s.sum[c] += sum[c] as u64;
            }
            for k in 0..6 {
                s.prod[k] += prod[k] as u64;
            }
        }
        s
    }
}

impl StatsAccum {
    /// Empty sums for images of side `size`.
    pub fn new(size: u32) -> Self {
        let n = size as usize * size as usize * 3;
        StatsAccum {
            images: 0,
            pixels: 0,
            sum: [0; 3],
            prod: [0; 6],
            image_sum: vec![0; n],
        }
    }

    /// Adds one image whose [`ImageSums`] were computed already.
    pub fn add(&mut self, pixels: &[u8], sums: &ImageSums) {
        debug_assert_eq!(pixels.len(), self.image_sum.len());
        self.images += 1;
        self.pixels += (pixels.len() / 3) as u64;
        for c in 0..3 {
            self.sum[c] += sums.sum[c];
        }
        for k in 0..6 {
            self.prod[k] += sums.prod[k];
        }
        for (acc, &v) in self.image_sum.iter_mut().zip(pixels) {
            *acc += v as u64;
        }
    }

    /// Adds everything in `other` (exact: the result does not depend on
    /// the order of merging).
    pub fn merge(&mut self, other: &StatsAccum) {
        self.images += other.images;
        self.pixels += other.pixels;
        for c in 0..3 {
            self.sum[c] += other.sum[c];
        }
        for k in 0..6 {
            self.prod[k] += other.prod[k];
        }
        for (a, b) in self.image_sum.iter_mut().zip(&other.image_sum) {
            *a += b;
        }
    }

    /// Adds one image, computing its sums.
    pub fn add_image(&mut self, pixels: &[u8]) {
        let sums = ImageSums::of(pixels);
        self.add(pixels, &sums);
    }

    /// The statistics on a [0, 1] scale (population moments, divided by
    /// the pixel count), and the float32 mean image; `None` if empty.
    pub fn finish(&self) -> Option<(Moments, Vec<f32>)> {
        if self.images == 0 {
            return None;
        }
        let n = self.pixels as f64;
        let mean: [f64; 3] = std::array::from_fn(|c| self.sum[c] as f64 / n / 255.0);
        let idx = |a: usize, b: usize| match (a.min(b), a.max(b)) {
            (0, 0) => 0,
            (0, 1) => 1,
            (0, 2) => 2,
            (1, 1) => 3,
            (1, 2) => 4,
            _ => 5,
        };
        // n·Σab − Σa·Σb is computed exactly in 128-bit integers.
        let covariance: [[f64; 3]; 3] = std::array::from_fn(|a| {
            std::array::from_fn(|b| {
                let num = self.pixels as i128 * self.prod[idx(a, b)] as i128
                    - self.sum[a] as i128 * self.sum[b] as i128;
                num as f64 / (n * n) / (255.0 * 255.0)
            })
        });
        let std = std::array::from_fn(|c| covariance[c][c].max(0.0).sqrt());
        let (eigenvalues, eigenvectors) = symmetric_eigen(covariance);
        let count = self.images as f64;
        let mean_image = self
            .image_sum
            .iter()
            .map(|&s| (s as f64 / count / 255.0) as f32)
            .collect();
        Some((
            Moments {
                mean,
                std,
                covariance,
                eigenvalues,
                eigenvectors,
            },
            mean_image,
        ))
    }
}

/// Moments of the RGB distribution, on a [0, 1] scale.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    /// Per-channel mean.
    pub mean: [f64; 3],
    /// Per-channel standard deviation (population).
    pub std: [f64; 3],
    /// 3×3 population covariance.
    pub covariance: [[f64; 3]; 3],
    /// Eigenvalues, descending.
    pub eigenvalues: [f64; 3],
    /// Eigenvectors as columns (`v[c][j]`: channel `c` of vector `j`).
    pub eigenvectors: [[f64; 3]; 3],
}

/// Eigen-decomposition of a symmetric 3×3 matrix by cyclic Jacobi
/// rotations. Returns eigenvalues in descending order and the matching
/// unit eigenvectors as columns, each signed so that its component of
/// largest magnitude is positive (the first such component on ties).
#[allow(clippy::needless_range_loop)] // matrix code reads best with indices
pub fn symmetric_eigen(m: [[f64; 3]; 3]) -> ([f64; 3], [[f64; 3]; 3]) {
    let mut a = m;
    let mut v = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
    for _sweep in 0..64 {
        let off = a[0][1].powi(2) + a[0][2].powi(2) + a[1][2].powi(2);
        let scale = a[0][0].powi(2) + a[1][1].powi(2) + a[2][2].powi(2);
        if off <= 1e-30 * scale.max(f64::MIN_POSITIVE) || off == 0.0 {
            break;
        }
        for (p, q) in [(0, 1), (0, 2), (1, 2)] {
            if a[p][q] == 0.0 {
                continue;
            }
            // The rotation angle that zeroes a[p][q] (Golub & Van Loan's
            // stable form: t = tan θ with |θ| ≤ π/4).
            let theta = (a[q][q] - a[p][p]) / (2.0 * a[p][q]);
            let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
            let t = if theta == 0.0 { 1.0 } else { t };
            let c = 1.0 / (t * t + 1.0).sqrt();
            let s = t * c;
            // a ← Jᵀ a J, v ← v J.
            for k in 0..3 {
                let (akp, akq) = (a[k][p], a[k][q]);
                a[k][p] = c * akp - s * akq;
                a[k][q] = s * akp + c * akq;
            }
            for k in 0..3 {
                let (apk, aqk) = (a[p][k], a[q][k]);
                a[p][k] = c * apk - s * aqk;
                a[q][k] = s * apk + c * aqk;
            }
            for row in v.iter_mut() {
                let (vp, vq) = (row[p], row[q]);
                row[p] = c * vp - s * vq;
                row[q] = s * vp + c * vq;
            }
        }
    }
    let mut order = [0usize, 1, 2];
    order.sort_by(|&i, &j| a[j][j].total_cmp(&a[i][i]));
    let values = order.map(|j| a[j][j]);
    let mut vectors = [[0.0; 3]; 3];
    for (col, &j) in order.iter().enumerate() {
        let mut big = 0;
        for c in 1..3 {
            if v[c][j].abs() > v[big][j].abs() {
                big = c;
            }
        }
        let sign = if v[big][j] < 0.0 { -1.0 } else { 1.0 };
        for c in 0..3 {
            vectors[c][col] = sign * v[c][j];
        }
    }
    (values, vectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mat_vec(m: &[[f64; 3]; 3], x: [f64; 3]) -> [f64; 3] {
        std::array::from_fn(|r| (0..3).map(|c| m[r][c] * x[c]).sum())
    }

    #[test]
    fn jacobi_reconstructs_published_covariance() {
        // fb.resnet.torch's ImageNet PCA: rebuild the covariance from it and
        // check we get its eigenpairs back.
        let vals = [0.2175, 0.0188, 0.0045];
        let rows = [
            [-0.5675, 0.7192, 0.4009],
            [-0.5808, -0.0045, -0.8140],
            [-0.5836, -0.6948, 0.4203],
        ];
        let cov: [[f64; 3]; 3] = std::array::from_fn(|a| {
            std::array::from_fn(|b| (0..3).map(|j| rows[a][j] * vals[j] * rows[b][j]).sum())
        });
        let (ev, vecs) = symmetric_eigen(cov);
        for j in 0..3 {
            assert!((ev[j] - vals[j]).abs() < 1e-3, "{ev:?}");
            let col = [vecs[0][j], vecs[1][j], vecs[2][j]];
            let mv = mat_vec(&cov, col);
            for c in 0..3 {
                assert!((mv[c] - ev[j] * col[c]).abs() < 1e-12);
            }
            // Same direction as the published vector up to sign.
            let dot: f64 = (0..3).map(|c| col[c] * rows[c][j]).sum();
            assert!(dot.abs() > 0.999, "{dot}");
            let big = (0..3)
                .max_by(|&x, &y| col[x].abs().total_cmp(&col[y].abs()))
                .unwrap();
            assert!(col[big] > 0.0);
        }
        assert!(ev[0] >= ev[1] && ev[1] >= ev[2]);
    }

    #[test]
    fn jacobi_diagonal_and_degenerate() {
        let (ev, v) = symmetric_eigen([[1.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 2.0]]);
        assert_eq!(ev, [3.0, 2.0, 1.0]);
        assert_eq!(v, [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]);
        let (ev, _) = symmetric_eigen([[0.0; 3]; 3]);
        assert_eq!(ev, [0.0; 3]);
    }

    #[test]
    fn sums_match_float_moments() {
        let img: Vec<u8> = (0..4 * 4 * 3).map(|i| (i * 37 % 256) as u8).collect();
        let mut acc = StatsAccum::new(4);
        acc.add_image(&img);
        acc.add_image(&img.iter().map(|v| 255 - v).collect::<Vec<_>>());
        let (m, mean_img) = acc.finish().unwrap();
        let px: Vec<[f64; 3]> = img
            .chunks(3)
            .chain(img.iter().map(|v| 255 - v).collect::<Vec<_>>().chunks(3))
            .map(|p| std::array::from_fn(|c| p[c] as f64 / 255.0))
            .collect();
        let n = px.len() as f64;
        for a in 0..3 {
            let ma = px.iter().map(|p| p[a]).sum::<f64>() / n;
            assert!((m.mean[a] - ma).abs() < 1e-12);
            for b in 0..3 {
                let mb = px.iter().map(|p| p[b]).sum::<f64>() / n;
                let c = px.iter().map(|p| (p[a] - ma) * (p[b] - mb)).sum::<f64>() / n;
                assert!((m.covariance[a][b] - c).abs() < 1e-12);
            }
        }
        assert!(mean_img.iter().all(|&v| (v - 0.5).abs() < 1e-6));
    }
}
