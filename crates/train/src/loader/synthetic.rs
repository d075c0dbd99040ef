//! Small valid datasets of random pixels in the shard format, written
//! without the `imagenet-prep` pipeline: fixtures for tests and the loader
//! benchmark.

use std::path::Path;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};
use shard_format::manifest::{
    ClassInfo, ColorStats, FORMAT_VERSION, MANIFEST_FILE, Manifest, Shard, Split,
};

use super::LoaderError;
use super::shards::hex;
use shard_format::npy::{Dtype, header};

/// fb.resnet.torch's published ImageNet PCA on a [0, 1] scale, used as the
/// synthetic dataset's lighting statistics (random pixels have no
/// meaningful principal components of their own).
pub const IMAGENET_EIGENVALUES: [f64; 3] = [0.2175, 0.0188, 0.0045];
/// Eigenvectors as columns, matching [`IMAGENET_EIGENVALUES`].
pub const IMAGENET_EIGENVECTORS: [[f64; 3]; 3] = [
    [-0.5675, 0.7192, 0.4009],
    [-0.5808, -0.0045, -0.8140],
    [-0.5836, -0.6948, 0.4203],
];

/// What to write.
#[derive(Debug, Clone)]
pub struct SyntheticShards {
    /// Side `S` of the square images.
    pub image_size: usize,
    /// Number of classes; image `k` has label `k % classes`.
    pub classes: usize,
    /// Training images.
    pub train: usize,
    /// Validation images.
    pub val: usize,
    /// Images per shard (the last shard of a split may be shorter).
    pub shard_size: usize,
    /// Seed of the random pixels.
    pub seed: u64,
}

/// Writes a manifest, uniformly random uint8 pixel shards, int16 label
/// shards and a mean image into `dir` (created if needed). The mean image
/// and per-channel mean/std are those of the written training pixels; the
/// eigen-decomposition is [`IMAGENET_EIGENVALUES`]/[`IMAGENET_EIGENVECTORS`].
pub fn write_synthetic_shards(dir: &Path, cfg: &SyntheticShards) -> Result<Manifest, LoaderError> {
    std::fs::create_dir_all(dir).map_err(|e| LoaderError::io(dir, e))?;
    let s = cfg.image_size;
    let pixels = s * s * 3;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut sum = vec![0u64; pixels];
    let mut sq = [0f64; 3];
    let mut write_split = |name: &str, n: usize, stats: bool| -> Result<Split, LoaderError> {
        let mut shards = Vec::new();
        for (i, first) in (0..n).step_by(cfg.shard_size.max(1)).enumerate() {
            let count = cfg.shard_size.max(1).min(n - first);
            let mut img = header(Dtype::U8, &[count as u64, s as u64, s as u64, 3]);
            let start = img.len();
            img.resize(start + count * pixels, 0);
            rng.fill_bytes(&mut img[start..]);
            if stats {
                for im in img[start..].chunks_exact(pixels) {
                    for (j, (acc, &v)) in sum.iter_mut().zip(im).enumerate() {
                        *acc += u64::from(v);
                        sq[j % 3] += f64::from(v) * f64::from(v);
                    }
                }
            }
            let mut lab = header(Dtype::I16, &[count as u64]);
            for k in first..first + count {
                lab.extend_from_slice(&((k % cfg.classes) as i16).to_le_bytes());
            }
            let images = format!("{name}-{i:05}.npy");
            let labels = format!("{name}-{i:05}-labels.npy");
            write(dir, &images, &img)?;
            write(dir, &labels, &lab)?;
            shards.push(Shard {
                images,
                labels,
                count: count as u64,
                first_index: first as u64,
                images_sha256: hex(&Sha256::digest(&img)),
                labels_sha256: hex(&Sha256::digest(&lab)),
                sources: (first..first + count)
                    .map(|k| format!("synthetic/{name}/{k}"))
                    .collect(),
            });
        }
        Ok(Split {
            num_images: n as u64,
            shards,
        })
    };
    let train = write_split("train", cfg.train, true)?;
    let val = write_split("val", cfg.val, false)?;

    let n = cfg.train.max(1) as f64;
    let mean_image: Vec<f32> = sum.iter().map(|&v| (v as f64 / n / 255.0) as f32).collect();
    let mut mean = [0f64; 3];
    for (j, m) in mean_image.iter().enumerate() {
        mean[j % 3] += f64::from(*m) / (s * s) as f64;
    }
    let count = n * (s * s) as f64;
    let std = std::array::from_fn(|c| {
        (sq[c] / count / 65025.0 - mean[c] * mean[c])
            .max(0.0)
            .sqrt()
    });
    let (v, l) = (IMAGENET_EIGENVECTORS, IMAGENET_EIGENVALUES);
    let covariance = std::array::from_fn(|a| {
        std::array::from_fn(|b| (0..3).map(|j| v[a][j] * l[j] * v[b][j]).sum())
    });
    let mut mean_npy = header(Dtype::F32, &[s as u64, s as u64, 3]);
    mean_image
        .iter()
        .for_each(|m| mean_npy.extend_from_slice(&m.to_le_bytes()));
    write(dir, "mean_image.npy", &mean_npy)?;

    let manifest = Manifest {
        format_version: FORMAT_VERSION,
        image_size: s as u32,
        classes: (0..cfg.classes)
            .map(|i| ClassInfo {
                words: format!("synthetic class {i}"),
                ilsvrc2012_id: Some(i as u32 + 1),
                ..ClassInfo::named(i as u32, format!("n{i:08}"))
            })
            .collect(),
        train: Some(train),
        val: Some(val),
        sources: vec![],
        rejected: vec![],
        color_stats: Some(ColorStats {
            num_images: cfg.train as u64,
            mean,
            std,
            covariance,
            eigenvalues: l,
            eigenvectors: v,
            mean_image: "mean_image.npy".into(),
            mean_image_sha256: Some(hex(&Sha256::digest(&mean_npy))),
        }),
    };
    let json =
        serde_json::to_vec_pretty(&manifest).map_err(|e| LoaderError::Config(e.to_string()))?;
    write(dir, MANIFEST_FILE, &json)?;
    Ok(manifest)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), LoaderError> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).map_err(|e| LoaderError::io(path, e))
}
