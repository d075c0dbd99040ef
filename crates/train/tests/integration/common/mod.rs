//! Writes a small prepared dataset (shards + manifest) directly, so the
//! training tests do not depend on synth and prep: class `c`'s images are a
//! class colour plus a class-dependent stripe and per-image noise.

#![allow(dead_code)]

use std::fs;
use std::path::Path;
use std::sync::Mutex;

use sha2::{Digest, Sha256};
use shard_format::manifest::{
    ClassInfo, ColorStats, FORMAT_VERSION, MANIFEST_FILE, Manifest, Shard, Split,
};
use shard_format::npy::header_with_descr;

/// burn's CPU backend keeps one global RNG, seeded per step by the
/// trainer: trainings in parallel threads of one test binary would
/// interleave their draws, so tests that train hold this lock.
pub static TRAINING: Mutex<()> = Mutex::new(());

/// Takes the training lock, even if a failed test poisoned it.
pub fn lock() -> std::sync::MutexGuard<'static, ()> {
    TRAINING.lock().unwrap_or_else(|e| e.into_inner())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn write_npy(path: &Path, descr: &str, shape: &[u64], data: &[u8]) -> String {
    let mut bytes = header_with_descr(descr, shape);
    bytes.extend_from_slice(data);
    fs::write(path, &bytes).unwrap();
    hex(&Sha256::digest(&bytes))
}

fn pixel(class: usize, image: usize, y: usize, x: usize, c: usize, size: usize) -> u8 {
    let base = [
        (class * 70) % 256,
        (class * 140 + 60) % 256,
        (class * 37 + 120) % 256,
    ][c];
    let stripe = if (x * (class % 4 + 1) / size.max(1)).is_multiple_of(2) {
        40
    } else {
        0
    };
    let noise = (image * 31 + y * 7 + x * 13 + c * 5) % 23;
    (base + stripe + noise).min(255) as u8
}

/// Writes `classes` classes with `train`/`val` images each, `size`×`size`,
/// train split in two shards, into `dir`.
pub fn write_dataset(dir: &Path, classes: usize, train: usize, val: usize, size: usize) {
    fs::create_dir_all(dir).unwrap();
    let make_split = |name: &str, per_class: usize, shards: usize| -> Split {
        let total = classes * per_class;
        // Interleave classes so every shard holds all of them.
        let labels: Vec<usize> = (0..total).map(|k| k % classes).collect();
        let per_shard = total.div_ceil(shards);
        let mut out = Vec::new();
        for (s, chunk) in labels.chunks(per_shard).enumerate() {
            let first = s * per_shard;
            let mut px = Vec::with_capacity(chunk.len() * size * size * 3);
            for (i, &cl) in chunk.iter().enumerate() {
                for y in 0..size {
                    for x in 0..size {
                        for c in 0..3 {
                            px.push(pixel(cl, first + i, y, x, c, size));
                        }
                    }
                }
            }
            let lab: Vec<u8> = chunk
                .iter()
                .flat_map(|&l| (l as i16).to_le_bytes())
                .collect();
            let img_name = format!("{name}-{s:05}-images.npy");
            let lab_name = format!("{name}-{s:05}-labels.npy");
            let n = chunk.len() as u64;
            let s3 = size as u64;
            let images_sha256 = write_npy(&dir.join(&img_name), "|u1", &[n, s3, s3, 3], &px);
            let labels_sha256 = write_npy(&dir.join(&lab_name), "<i2", &[n], &lab);
            out.push(Shard {
                images: img_name,
                labels: lab_name,
                count: n,
                first_index: first as u64,
                images_sha256,
                labels_sha256,
                sources: (0..n)
                    .map(|i| format!("{name}/{}.JPEG", first as u64 + i))
                    .collect(),
            });
        }
        Split {
            num_images: total as u64,
            shards: out,
        }
    };
    let train_split = make_split("train", train, 2);
    let val_split = make_split("val", val, 1);
    let mean: Vec<u8> = (0..size * size * 3)
        .flat_map(|_| 0.45f32.to_le_bytes())
        .collect();
    let s3 = size as u64;
    let mean_sha256 = write_npy(&dir.join("mean.npy"), "<f4", &[s3, s3, 3], &mean);
    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        image_size: size as u32,
        classes: (0..classes)
            .map(|i| ClassInfo {
                words: format!("class {i}, test"),
                ilsvrc2012_id: Some(i as u32 + 1),
                ..ClassInfo::named(i as u32, format!("n{:08}", 1000 + i))
            })
            .collect(),
        train: Some(train_split),
        val: Some(val_split),
        sources: Vec::new(),
        rejected: Vec::new(),
        color_stats: Some(ColorStats {
            num_images: (classes * train) as u64,
            mean: [0.45, 0.45, 0.45],
            std: [0.25, 0.25, 0.25],
            covariance: [[0.06, 0.0, 0.0], [0.0, 0.06, 0.0], [0.0, 0.0, 0.06]],
            eigenvalues: [0.06, 0.06, 0.06],
            eigenvectors: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            mean_image: "mean.npy".into(),
            mean_image_sha256: Some(mean_sha256),
        }),
    };
    fs::write(
        dir.join(MANIFEST_FILE),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
}
