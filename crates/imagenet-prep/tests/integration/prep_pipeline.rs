//! synth → prep → read back: labels for every image in all three layouts,
//! pixels against an independent decode + resize, oddities, corrupt files,
//! statistics recomputed from the shards, verify, and numpy.

use crate::prep_support;

use std::collections::HashMap;

use imagenet_prep::synth::{SynthLayout, SynthSummary};
use imagenet_prep::{PrepConfig, PrepError, prepare, read_manifest, verify};
use prep_support::*;
use shard_format::manifest::Manifest;

fn expected_labels(summary: &SynthSummary) -> HashMap<String, i16> {
    summary
        .images()
        .filter(|i| !i.kind.is_corrupt())
        .map(|i| (i.path.clone(), i.label as i16))
        .collect()
}

/// Every image of the input appears exactly once, with its true label,
/// train in (class, name) order and val in file-name order.
fn check_labels(out: &std::path::Path, m: &Manifest, summary: &SynthSummary) {
    let want = expected_labels(summary);
    let train = read_split(out, m, false);
    let val = read_split(out, m, true);
    assert_eq!(train.len() + val.len(), want.len());
    for img in train.iter().chain(&val) {
        assert_eq!(
            Some(&img.label),
            want.get(&img.source),
            "label of {}",
            img.source
        );
    }
    let keys: Vec<(i16, &str)> = train.iter().map(|i| (i.label, i.source.as_str())).collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "train order");
    assert!(
        val.windows(2).all(|w| w[0].source < w[1].source),
        "val order"
    );
    assert_eq!(m.classes.len(), summary.classes.len());
    for (c, s) in m.classes.iter().zip(&summary.classes) {
        assert_eq!(c.name, s.wnid);
        assert_eq!(c.wnid.as_deref(), Some(s.wnid.as_str()));
        assert_eq!(c.words, s.words);
    }
}

#[test]
fn archives_labels_pixels_oddities_stats() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = synth_cfg(SynthLayout::Archives, 4, 7, 4);
    cfg.oddities = true;
    let (input, summary) = synth(tmp.path(), &cfg);
    assert!(summary.oddities().count() >= 4, "synth made the oddities");
    let out = tmp.path().join("out");
    let mut pc = PrepConfig::new(&input, &out);
    pc.size = 64;
    pc.shard_size = 5;
    pc.threads = 2;
    pc.quiet = true;
    let s = prepare(&pc).unwrap();
    assert_eq!(s.train_images, 28);
    assert_eq!(s.val_images, 16);
    assert!(s.rejected.is_empty());
    let m = read_manifest(&out).unwrap();
    check_labels(&out, &m, &summary);
    // The devkit's IDs are not in WNID order, and the manifest keeps them.
    let ids: Vec<u32> = m.classes.iter().map(|c| c.ilsvrc2012_id.unwrap()).collect();
    assert!(ids.windows(2).any(|w| w[0] > w[1]), "IDs permuted: {ids:?}");

    // Pixels against an independent decode (image crate: libjpeg-style
    // interpolated chroma) + plain f64 antialiased bilinear. Both resize
    // with the same filter, but fast_image_resize works in fixed point and
    // rounds to u8 between its passes, the reference does not; and prep's
    // JPEG fast path repeats subsampled chroma samples instead of
    // interpolating them and converts colour after resizing, so values
    // clipped at 0 or 255 are clipped after interpolation. Measured on this
    // synthetic set: RGB mean difference 0.50-0.58, max 16; luma max 7.6
    // (at saturated colour edges). Any misplaced block or colour mix-up
    // shows as tens of levels.
    let bytes = source_bytes(&input);
    let kinds: HashMap<&str, _> = summary
        .images()
        .map(|i| (i.path.as_str(), i.kind))
        .collect();
    let luma = |p: &[u8]| 0.299 * p[0] as f64 + 0.587 * p[1] as f64 + 0.114 * p[2] as f64;
    for img in read_split(&out, &m, false)
        .iter()
        .chain(&read_split(&out, &m, true))
    {
        let decoded = image::load_from_memory(&bytes[&img.source])
            .unwrap_or_else(|e| panic!("{}: {e}", img.source))
            .to_rgb8();
        let (w, h) = decoded.dimensions();
        let want = reference_resize(decoded.as_raw(), w as usize, h as usize, 64);
        let diffs: Vec<i32> = want
            .iter()
            .zip(&img.pixels)
            .map(|(&a, &b)| (a as i32 - b as i32).abs())
            .collect();
        let max = *diffs.iter().max().unwrap();
        let mean = diffs.iter().sum::<i32>() as f64 / diffs.len() as f64;
        let max_luma = want
            .chunks(3)
            .zip(img.pixels.chunks(3))
            .map(|(a, b)| (luma(a) - luma(b)).abs())
            .fold(0.0, f64::max);
        let kind = kinds[img.source.as_str()];
        assert!(
            max_luma <= 10.0 && mean < 0.8 && max <= 24,
            "{} ({kind:?}, {w}x{h}): max diff {max}, mean {mean}, luma max diff {max_luma}",
            img.source,
        );
    }

    // Statistics recomputed from the shards in plain f64.
    let train = read_split(&out, &m, false);
    let cs = m.color_stats.as_ref().unwrap();
    assert_eq!(cs.num_images, 28);
    let mut sum = [0f64; 3];
    let mut prod = [[0f64; 3]; 3];
    let mut n = 0f64;
    for img in &train {
        for p in img.pixels.chunks(3) {
            let v: [f64; 3] = std::array::from_fn(|c| p[c] as f64 / 255.0);
            for a in 0..3 {
                sum[a] += v[a];
                for b in 0..3 {
                    prod[a][b] += v[a] * v[b];
                }
            }
            n += 1.0;
        }
    }
    for a in 0..3 {
        let mean = sum[a] / n;
        assert!((cs.mean[a] - mean).abs() < 1e-9);
        for b in 0..3 {
            let cov = prod[a][b] / n - mean * (sum[b] / n);
            assert!((cs.covariance[a][b] - cov).abs() < 1e-9, "cov {a}{b}");
        }
        assert!((cs.std[a] - cs.covariance[a][a].sqrt()).abs() < 1e-12);
    }
    for j in 0..3 {
        let v: [f64; 3] = std::array::from_fn(|c| cs.eigenvectors[c][j]);
        for a in 0..3 {
            let cv: f64 = (0..3).map(|b| cs.covariance[a][b] * v[b]).sum();
            assert!((cv - cs.eigenvalues[j] * v[a]).abs() < 1e-10);
        }
    }
    assert!(cs.eigenvalues[0] >= cs.eigenvalues[1] && cs.eigenvalues[1] >= cs.eigenvalues[2]);
    let mean_img = std::fs::read(out.join(&cs.mean_image)).unwrap();
    let h = shard_format::npy::parse_header(&mean_img).unwrap();
    assert_eq!(h.shape, [64, 64, 3]);
    for (k, c) in mean_img[h.data_offset..].chunks(4).enumerate() {
        let got = f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64;
        let want = train.iter().map(|i| i.pixels[k] as f64).sum::<f64>() / 28.0 / 255.0;
        assert!((got - want).abs() < 1e-6);
    }

    // verify: clean, then a flipped byte is found and named.
    let report = verify(&out).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.images, 44);
    let shard = &m.train.as_ref().unwrap().shards[1].images;
    let mut b = std::fs::read(out.join(shard)).unwrap();
    let last = b.len() - 1;
    b[last] ^= 1;
    std::fs::write(out.join(shard), b).unwrap();
    let report = verify(&out).unwrap();
    assert!(!report.is_ok());
    assert!(
        report.problems[0].contains(shard.as_str()),
        "{:?}",
        report.problems
    );
}

#[test]
fn folders_and_kaggle_layouts_label_every_image() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, layout, by_class) in [
        ("folders", SynthLayout::Folders, false),
        ("folders-by-class", SynthLayout::Folders, true),
        ("kaggle", SynthLayout::Kaggle, false),
    ] {
        let dir = tmp.path().join(name);
        let mut cfg = synth_cfg(layout, 3, 4, 3);
        cfg.val_by_class = by_class;
        cfg.max_side = 48;
        let (input, summary) = synth(&dir, &cfg);
        let out = dir.join("out");
        let mut pc = PrepConfig::new(&input, &out);
        pc.size = 32;
        pc.shard_size = 4;
        pc.quiet = true;
        let s = prepare(&pc).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((s.train_images, s.val_images), (12, 9), "{name}");
        let m = read_manifest(&out).unwrap();
        check_labels(&out, &m, &summary);
        if layout == SynthLayout::Kaggle {
            assert!(m.classes.iter().all(|c| c.ilsvrc2012_id.is_none()));
        }
    }
}

#[test]
fn corrupt_files_are_reported_then_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = synth_cfg(SynthLayout::Archives, 3, 4, 2);
    cfg.corrupt = true;
    let (input, summary) = synth(tmp.path(), &cfg);
    let corrupt: Vec<String> = summary.corrupt().map(|i| i.path.clone()).collect();
    assert!(corrupt.len() >= 2);
    let out = tmp.path().join("out");
    let mut pc = PrepConfig::new(&input, &out);
    pc.size = 32;
    pc.shard_size = 3;
    pc.quiet = true;
    let err = prepare(&pc).unwrap_err();
    let msg = err.to_string();
    match &err {
        PrepError::BadImages { rejected } => {
            let mut got: Vec<_> = rejected.iter().map(|r| r.source.clone()).collect();
            got.sort();
            let mut want = corrupt.clone();
            want.sort();
            assert_eq!(got, want);
        }
        other => panic!("expected BadImages, got {other}"),
    }
    for c in &corrupt {
        assert!(msg.contains(c.as_str()), "{msg}");
    }
    assert!(
        !out.join("manifest.json").exists(),
        "no manifest without --skip-bad"
    );

    pc.skip_bad = true;
    let s = prepare(&pc).unwrap();
    // The shards of the failed run were complete and are reused.
    assert_eq!(s.shards_written, 0);
    let m = read_manifest(&out).unwrap();
    let mut listed: Vec<_> = m.rejected.iter().map(|r| r.source.clone()).collect();
    listed.sort();
    let mut want = corrupt.clone();
    want.sort();
    assert_eq!(listed, want);
    assert!(m.rejected.iter().all(|r| !r.reason.is_empty()));
    check_labels(&out, &m, &summary);
}

#[test]
fn numpy_reads_a_shard_with_mmap() {
    if !have_numpy() {
        println!("note: python3 with numpy not available; numpy check skipped");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (input, _) = synth(tmp.path(), &synth_cfg(SynthLayout::Archives, 2, 3, 2));
    let out = tmp.path().join("out");
    let mut pc = PrepConfig::new(&input, &out);
    pc.size = 32;
    pc.quiet = true;
    prepare(&pc).unwrap();
    let m = read_manifest(&out).unwrap();
    let shard = &m.train.as_ref().unwrap().shards[0];
    let ours = read_split(&out, &m, false);
    let script = format!(
        "import numpy as np, json\n\
         x = np.load({:?}, mmap_mode='r')\n\
         y = np.load({:?}, mmap_mode='r')\n\
         mi = np.load({:?})\n\
         print(json.dumps({{'shape': list(x.shape), 'dtype': str(x.dtype), 'lshape': list(y.shape), \
         'ldtype': str(y.dtype), 'labels': [int(v) for v in y], 'sum': int(x.astype(np.int64).sum()), \
         'px': [int(v) for v in x[1, 5, 7]], 'mdtype': str(mi.dtype), 'mshape': list(mi.shape)}}))",
        out.join(&shard.images).display().to_string(),
        out.join(&shard.labels).display().to_string(),
        out.join("mean_image.npy").display().to_string(),
    );
    let o = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(v["shape"], serde_json::json!([6, 32, 32, 3]));
    assert_eq!(v["dtype"], "uint8");
    assert_eq!(v["lshape"], serde_json::json!([6]));
    assert_eq!(v["ldtype"], "int16");
    assert_eq!(v["mdtype"], "float32");
    assert_eq!(v["mshape"], serde_json::json!([32, 32, 3]));
    let labels: Vec<i64> = ours.iter().map(|i| i.label as i64).collect();
    assert_eq!(v["labels"], serde_json::json!(labels));
    let sum: u64 = ours.iter().flat_map(|i| &i.pixels).map(|&p| p as u64).sum();
    assert_eq!(v["sum"].as_u64(), Some(sum));
    let px = &ours[1].pixels[(5 * 32 + 7) * 3..(5 * 32 + 7) * 3 + 3];
    assert_eq!(v["px"], serde_json::json!(px));
}
