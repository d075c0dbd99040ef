//! Statistics of the random augmentation: crop offsets, flips, PCA lighting.

use crate::loader_fixture;

use loader_fixture::{S, at, dataset, open, px};
use train::loader::synthetic::{IMAGENET_EIGENVALUES, IMAGENET_EIGENVECTORS};
use train::loader::{AugmentConfig, MeanMode, SplitName, TrainLoader};

const DRAWS: u64 = 20_000;

fn loader(aug: AugmentConfig) -> (tempfile::TempDir, TrainLoader) {
    let dir = dataset(16, 0, 8);
    let set = open(dir.path(), SplitName::Train);
    (dir, TrainLoader::new(set, aug, 4, 11, 0, 0).unwrap())
}

#[test]
fn crop_offsets_are_uniform_over_every_position() {
    let crop = 24;
    let (_d, l) = loader(AugmentConfig {
        crop,
        ..AugmentConfig::default()
    });
    let positions = S - crop + 1;
    let (mut ys, mut xs) = (vec![0u64; positions], vec![0u64; positions]);
    for p in 0..DRAWS {
        let a = l.augmentation(3, p);
        ys[a.y0] += 1;
        xs[a.x0] += 1;
    }
    let expected = DRAWS as f64 / positions as f64;
    for counts in [&ys, &xs] {
        assert!(
            counts.iter().all(|&c| c > 0),
            "an offset was never drawn: {counts:?}"
        );
        let chi2: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        // 8 degrees of freedom: P(chi2 > 26.1) = 0.001.
        assert!(chi2 < 26.1, "chi-square {chi2} for {counts:?}");
    }
}

#[test]
fn flips_happen_half_the_time() {
    let (_d, l) = loader(AugmentConfig {
        crop: 24,
        ..AugmentConfig::default()
    });
    let flips = (0..DRAWS).filter(|&p| l.augmentation(0, p).flip).count() as f64;
    let sd = (DRAWS as f64 * 0.25).sqrt();
    assert!(
        (flips - DRAWS as f64 / 2.0).abs() < 4.0 * sd,
        "{flips} flips in {DRAWS}"
    );
}

#[test]
fn options_off_means_centre_no_flip_no_lighting() {
    let (_d, l) = loader(AugmentConfig::plain(24));
    for p in 0..200 {
        let a = l.augmentation(1, p);
        assert_eq!((a.y0, a.x0, a.flip, a.offset), (4, 4, false, [0.0; 3]));
    }
}

#[test]
fn lighting_has_zero_mean_and_the_pca_covariance() {
    let (sigma, scale) = (0.1f64, 255.0f64);
    let (_d, l) = loader(AugmentConfig {
        crop: 24,
        pca_std: sigma as f32,
        ..AugmentConfig::default()
    });
    let n = DRAWS as f64;
    let mut mean = [0f64; 3];
    let mut cov = [[0f64; 3]; 3];
    for p in 0..DRAWS {
        let o = l.augmentation(2, p).offset.map(f64::from);
        for a in 0..3 {
            mean[a] += o[a] / n;
            for b in 0..3 {
                cov[a][b] += o[a] * o[b] / n;
            }
        }
    }
    let (v, lam) = (IMAGENET_EIGENVECTORS, IMAGENET_EIGENVALUES);
    let expect = |a: usize, b: usize| -> f64 {
        (0..3)
            .map(|j| v[a][j] * v[b][j] * (lam[j] * sigma * scale).powi(2))
            .sum()
    };
    let largest = (0..3).map(|a| expect(a, a)).fold(0.0, f64::max);
    for a in 0..3 {
        let sd = expect(a, a).sqrt();
        assert!(mean[a].abs() < 5.0 * sd / n.sqrt(), "mean {mean:?}");
        for b in 0..3 {
            let got = cov[a][b] - mean[a] * mean[b];
            // The sample covariance has a relative sd of about sqrt(2/n) = 1%.
            assert!(
                (got - expect(a, b)).abs() < 0.05 * largest,
                "cov[{a}][{b}] {got} vs {}",
                expect(a, b)
            );
        }
    }
}

#[test]
fn batches_are_the_drawn_windows_plus_the_lighting_offset() {
    let crop = 20;
    let aug = AugmentConfig {
        crop,
        mean: MeanMode::None,
        ..AugmentConfig::default()
    };
    let (_d, l) = loader(aug);
    let set = l.set().clone();
    let order = l.order(5);
    let mut flips = 0;
    for (b, batch) in l.epoch(5, 0).enumerate() {
        for i in 0..batch.batch_size {
            let pos = b * batch.batch_size + i;
            let k = order[pos] as usize;
            assert_eq!(batch.indices[i], k as u64);
            assert_eq!(batch.labels[i], i64::from(set.label(k)));
            let a = l.augmentation(5, pos as u64);
            flips += usize::from(a.flip);
            for c in 0..3 {
                for y in 0..crop {
                    for x in 0..crop {
                        let sx = if a.flip { crop - 1 - x } else { x };
                        let want = f32::from(px(&set, k, a.y0 + y, a.x0 + sx, c)) + a.offset[c];
                        assert_eq!(at(&batch.images, crop, i, c, y, x), want);
                    }
                }
            }
        }
    }
    assert!(flips > 0, "no flipped image among the batches");
}
