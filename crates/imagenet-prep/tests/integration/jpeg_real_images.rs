//! The JPEG fast path on real ImageNet photographs (4:2:0 and 4:4:4,
//! encoder-optimised Huffman tables, greyscale, large and small images),
//! against the general decoder. The images live outside the repository
//! (`../shared/bench-images`, or `IMAGENET_PREP_BENCH_IMAGES`); without
//! them the test says so and passes.

use std::path::PathBuf;

use imagenet_prep::decode::{DEFAULT_MAX_PIXELS, decode_rgb, sniff};
use imagenet_prep::jpeg::decode_planes;
use imagenet_prep::resize::CenterCrop;

fn image_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("IMAGENET_PREP_BENCH_IMAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench-images")
        });
    dir.is_dir().then_some(dir)
}

#[test]
fn fast_path_matches_the_general_decoder_on_real_photographs() {
    let Some(dir) = image_dir() else {
        eprintln!("no bench images found; skipped (set IMAGENET_PREP_BENCH_IMAGES)");
        return;
    };
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let s = 256u32;
    let n = (s * s * 3) as usize;
    let mut crop = CenterCrop::new(s);
    let (mut fast, mut general) = (vec![0u8; n], vec![0u8; n]);
    let (mut images, mut taken, mut mean_sum) = (0usize, 0usize, 0f64);
    for path in names {
        let bytes = std::fs::read(&path).unwrap();
        if sniff(&bytes).is_none() {
            continue;
        }
        images += 1;
        if decode_planes(&bytes, DEFAULT_MAX_PIXELS, |_, _| [0.0; 4]).is_some() {
            taken += 1;
        }
        crop.decode_into(&bytes, DEFAULT_MAX_PIXELS, &mut fast)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let img = decode_rgb(&bytes, DEFAULT_MAX_PIXELS).unwrap();
        crop.run(&img, &mut general).unwrap();
        let diffs: Vec<i32> = fast
            .iter()
            .zip(&general)
            .map(|(&a, &b)| (a as i32 - b as i32).abs())
            .collect();
        let max = *diffs.iter().max().unwrap();
        let mean = diffs.iter().sum::<i32>() as f64 / n as f64;
        // Measured on the 200 bench images: per-image mean ≤ 0.93, max ≤ 30
        // (repeated rather than interpolated chroma at sharp colour
        // edges). A misplaced block or a wrong colour shows as far more.
        assert!(
            mean < 1.2 && max <= 48,
            "{}: max diff {max}, mean {mean:.3}",
            path.display()
        );
        mean_sum += mean;
    }
    assert!(images > 0, "{}: no images", dir.display());
    let mean = mean_sum / images as f64;
    eprintln!("{images} images, {taken} on the fast path, mean abs diff {mean:.3}");
    // Measured: 0.384.
    assert!(mean < 0.6, "average mean diff {mean}");
    // ImageNet is almost entirely baseline JPEG: the fast path must take
    // nearly all of it, or the speed it was written for is gone.
    assert!(
        taken * 10 >= images * 9,
        "{taken} of {images} on the fast path"
    );
}
