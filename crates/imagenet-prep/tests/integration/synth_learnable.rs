//! The synthetic images carry their class: a nearest-centroid classifier
//! on 8×8 thumbnails, fitted on train, labels val far above chance.

use imagenet_prep::synth::{SynthConfig, SynthLayout, synthesize};

fn thumbnail(path: &std::path::Path) -> Vec<f32> {
    let img = image::open(path).unwrap().to_rgb8();
    image::imageops::thumbnail(&img, 8, 8)
        .into_raw()
        .into_iter()
        .map(|v| v as f32 / 255.0)
        .collect()
}

#[test]
fn a_nearest_centroid_classifier_beats_chance_by_far() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        classes: 10,
        train_per_class: 12,
        val_per_class: 6,
        min_side: 40,
        max_side: 80,
        seed: 11,
        layout: SynthLayout::Folders,
        ..SynthConfig::default()
    };
    let s = synthesize(&cfg, dir.path()).unwrap();
    let mut centroids = vec![vec![0f32; 8 * 8 * 3]; cfg.classes];
    for img in &s.train {
        for (c, v) in centroids[img.label as usize]
            .iter_mut()
            .zip(thumbnail(&dir.path().join(&img.path)))
        {
            *c += v / cfg.train_per_class as f32;
        }
    }
    let correct = s
        .val
        .iter()
        .filter(|img| {
            let t = thumbnail(&dir.path().join(&img.path));
            let dist = |c: &Vec<f32>| {
                c.iter()
                    .zip(&t)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f32>()
            };
            let best = (0..cfg.classes)
                .min_by(|&a, &b| dist(&centroids[a]).total_cmp(&dist(&centroids[b])))
                .unwrap();
            best == img.label as usize
        })
        .count();
    let accuracy = correct as f32 / s.val.len() as f32;
    // Chance is 10%; colour alone should carry most of the signal.
    assert!(accuracy >= 0.6, "nearest-centroid val accuracy {accuracy}");
}
