//! Pixel-exact output: crops, flips, mean subtraction, evaluation views.

use crate::loader_fixture;

use loader_fixture::{S, at, dataset, open, px};
use train::loader::{AugmentConfig, EvalLoader, EvalView, MeanMode, SplitName, TrainLoader};

#[test]
fn crop_without_lighting_copies_the_source_pixels() {
    let dir = dataset(12, 0, 5);
    let set = open(dir.path(), SplitName::Train);
    let crop = 17;
    let aug = AugmentConfig {
        crop,
        pca_std: 0.0,
        mean: MeanMode::None,
        ..AugmentConfig::default()
    };
    let l = TrainLoader::new(set.clone(), aug, 3, 1, 2, 2).unwrap();
    assert_eq!(l.batches_per_epoch(), 4);
    let order = l.order(0);
    for (b, batch) in l.epoch(0, 0).enumerate() {
        assert_eq!(batch.images.len(), 3 * 3 * crop * crop);
        for i in 0..3 {
            let pos = b * 3 + i;
            let (k, a) = (order[pos] as usize, l.augmentation(0, pos as u64));
            for c in 0..3 {
                for y in 0..crop {
                    for x in 0..crop {
                        let sx = if a.flip { crop - 1 - x } else { x };
                        let want = f32::from(px(&set, k, a.y0 + y, a.x0 + sx, c));
                        assert_eq!(at(&batch.images, crop, i, c, y, x), want);
                    }
                }
            }
        }
    }
}

#[test]
fn mean_image_is_cropped_and_flipped_with_the_image() {
    let dir = dataset(8, 0, 8);
    let set = open(dir.path(), SplitName::Train);
    let mean = set.mean_image().unwrap();
    let crop = 24;
    let aug = AugmentConfig {
        crop,
        pca_std: 0.0,
        mean: MeanMode::Image,
        scale: 1.0,
        ..AugmentConfig::default()
    };
    let l = TrainLoader::new(set.clone(), aug, 8, 3, 0, 0).unwrap();
    let batch = l.epoch(0, 0).next().unwrap();
    let mut flipped = 0;
    for i in 0..8 {
        let a = l.augmentation(0, i as u64);
        flipped += usize::from(a.flip);
        let k = batch.indices[i] as usize;
        for c in 0..3 {
            for y in 0..crop {
                for x in 0..crop {
                    let sx = a.x0 + if a.flip { crop - 1 - x } else { x };
                    let m = mean[((a.y0 + y) * S + sx) * 3 + c];
                    let want = f32::from(px(&set, k, a.y0 + y, sx, c)) / 255.0 - m;
                    let got = at(&batch.images, crop, i, c, y, x);
                    assert!((got - want).abs() < 1e-6, "{got} vs {want}");
                }
            }
        }
    }
    assert!(
        flipped > 0 && flipped < 8,
        "want both flipped and plain images, got {flipped} flips"
    );
}

#[test]
fn mean_image_is_the_training_mean() {
    let dir = dataset(6, 0, 4);
    let set = open(dir.path(), SplitName::Train);
    let mean = set.mean_image().unwrap();
    for j in [0, 5, 1000, S * S * 3 - 1] {
        let avg = (0..6).map(|k| f64::from(set.image(k)[j])).sum::<f64>() / 6.0 / 255.0;
        assert!((f64::from(mean[j]) - avg).abs() < 1e-6);
    }
}

#[test]
fn per_channel_mean_is_subtracted_in_output_units() {
    let dir = dataset(4, 0, 4);
    let set = open(dir.path(), SplitName::Train);
    let ch = set.manifest().color_stats.as_ref().unwrap().mean;
    let crop = 16;
    let aug = AugmentConfig {
        crop,
        pca_std: 0.0,
        mean: MeanMode::PerChannel,
        ..AugmentConfig::plain(crop)
    };
    let l = TrainLoader::new(set.clone(), aug, 4, 0, 1, 1).unwrap();
    let batch = l.epoch(0, 0).next().unwrap();
    let off = (S - crop) / 2;
    for i in 0..4 {
        let k = batch.indices[i] as usize;
        for (c, m) in ch.iter().enumerate() {
            let want = f64::from(px(&set, k, off + 3, off + 5, c)) - m * 255.0;
            let got = f64::from(at(&batch.images, crop, i, c, 3, 5));
            assert!((got - want).abs() < 1e-3, "{got} vs {want}");
        }
    }
}

#[test]
fn ten_crops_are_the_corners_centre_and_their_mirrors() {
    let dir = dataset(0, 7, 3);
    let set = open(dir.path(), SplitName::Val);
    let crop = 20;
    let l = EvalLoader::new(
        set.clone(),
        EvalView::TenCrop,
        crop,
        MeanMode::None,
        255.0,
        3,
        2,
    )
    .unwrap();
    let far = S - crop;
    let mid = far / 2;
    let windows = [
        (0, 0, false),
        (0, far, false),
        (far, 0, false),
        (far, far, false),
        (mid, mid, false),
        (0, 0, true),
        (0, far, true),
        (far, 0, true),
        (far, far, true),
        (mid, mid, true),
    ];
    assert_eq!(EvalView::TenCrop.windows(S, crop), windows);
    let batches: Vec<_> = l.iter().collect();
    assert_eq!(
        batches.iter().map(|b| b.batch_size).collect::<Vec<_>>(),
        [3, 3, 1]
    );
    let mut k = 0;
    for batch in &batches {
        assert_eq!(batch.views, 10);
        assert_eq!(batch.images.len(), batch.batch_size * 10 * 3 * crop * crop);
        for i in 0..batch.batch_size {
            assert_eq!(batch.indices[i], k as u64);
            assert_eq!(batch.labels[i], i64::from(set.label(k)));
            for (v, &(y0, x0, flip)) in windows.iter().enumerate() {
                for c in 0..3 {
                    for y in [0, 7, crop - 1] {
                        for x in [0, 3, crop - 1] {
                            let sx = if flip { crop - 1 - x } else { x };
                            let want = f32::from(px(&set, k, y0 + y, x0 + sx, c));
                            assert_eq!(at(&batch.images, crop, i * 10 + v, c, y, x), want);
                        }
                    }
                }
            }
            k += 1;
        }
    }
    assert_eq!(k, 7);
}

#[test]
fn centre_view_subtracts_the_mean_image() {
    let dir = dataset(5, 4, 4);
    let set = open(dir.path(), SplitName::Val);
    let mean = set.mean_image().unwrap();
    let crop = 28;
    let l = EvalLoader::new(
        set.clone(),
        EvalView::Center,
        crop,
        MeanMode::Image,
        255.0,
        4,
        0,
    )
    .unwrap();
    let batch = l.iter().next().unwrap();
    assert_eq!((batch.views, batch.batch_size), (1, 4));
    let o = (S - crop) / 2;
    for i in 0..4 {
        for (c, y, x) in [(0, 0, 0), (1, 13, 27), (2, 27, 9)] {
            let want = f32::from(px(&set, i, o + y, o + x, c))
                - 255.0 * mean[((o + y) * S + o + x) * 3 + c];
            assert!((at(&batch.images, crop, i, c, y, x) - want).abs() < 1e-3);
        }
    }
}
