//! Helpers shared by the `prep_*` integration tests: small synthetic
//! inputs, reading shards back, an independent reference resize.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use imagenet_prep::synth::{SynthConfig, SynthLayout, SynthSummary, synthesize};
use shard_format::manifest::Manifest;
use shard_format::npy;

/// An in-memory tar of `(member name, bytes)` pairs, in the given order.
pub fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// A tiny learnable set: `classes` classes, small images.
pub fn synth_cfg(layout: SynthLayout, classes: usize, train: usize, val: usize) -> SynthConfig {
    SynthConfig {
        classes,
        train_per_class: train,
        val_per_class: val,
        min_side: 24,
        max_side: 90,
        seed: 7,
        layout,
        ..SynthConfig::default()
    }
}

/// Synthesizes `cfg` under `dir/input`.
pub fn synth(dir: &Path, cfg: &SynthConfig) -> (std::path::PathBuf, SynthSummary) {
    let input = dir.join("input");
    let summary = synthesize(cfg, &input).expect("synthesize");
    (input, summary)
}

/// One image read back from the shards.
pub struct ReadBack {
    pub source: String,
    pub label: i16,
    pub pixels: Vec<u8>,
}

fn npy_data(path: &Path) -> (npy::Header, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let h = npy::parse_header(&bytes).unwrap();
    let data = bytes[h.data_offset..].to_vec();
    (h, data)
}

/// Every image of a split, in order.
pub fn read_split(dir: &Path, manifest: &Manifest, val: bool) -> Vec<ReadBack> {
    let split = if val { &manifest.val } else { &manifest.train };
    let split = split.as_ref().expect("split present");
    let s = manifest.image_size as usize;
    let mut out = Vec::new();
    for shard in &split.shards {
        let (h, px) = npy_data(&dir.join(&shard.images));
        assert_eq!(h.shape, [shard.count, s as u64, s as u64, 3]);
        let (lh, lbl) = npy_data(&dir.join(&shard.labels));
        assert_eq!(lh.shape, [shard.count]);
        for i in 0..shard.count as usize {
            out.push(ReadBack {
                source: shard.sources[i].clone(),
                label: i16::from_le_bytes([lbl[2 * i], lbl[2 * i + 1]]),
                pixels: px[i * s * s * 3..(i + 1) * s * s * 3].to_vec(),
            });
        }
    }
    out
}

/// Every file under `dir`, name → bytes (for byte-identity checks), except
/// the lock file, whose text names the run that holds it.
pub fn all_files(dir: &Path) -> HashMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .map_or(true, |e| e.file_name() != atomic_io::LOCK_FILE)
        })
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Bytes of every image of a synthetic input, keyed by the source name the
/// pipeline uses, found by walking the archives/folders independently
/// (the `tar` crate's sequential reader, `std::fs`).
pub fn source_bytes(input: &Path) -> HashMap<String, Vec<u8>> {
    let mut out = HashMap::new();
    let train = input.join("ILSVRC2012_img_train.tar");
    if train.exists() {
        let mut outer = tar::Archive::new(std::fs::File::open(&train).unwrap());
        for e in outer.entries().unwrap() {
            let mut e = e.unwrap();
            let inner_name = e.path().unwrap().display().to_string();
            let mut inner_bytes = Vec::new();
            e.read_to_end(&mut inner_bytes).unwrap();
            let mut inner = tar::Archive::new(inner_bytes.as_slice());
            for m in inner.entries().unwrap() {
                let mut m = m.unwrap();
                let name = m.path().unwrap().display().to_string();
                let mut b = Vec::new();
                m.read_to_end(&mut b).unwrap();
                out.insert(format!("ILSVRC2012_img_train.tar:{inner_name}:{name}"), b);
            }
        }
    }
    let val = input.join("ILSVRC2012_img_val.tar");
    if val.exists() {
        let mut a = tar::Archive::new(std::fs::File::open(&val).unwrap());
        for m in a.entries().unwrap() {
            let mut m = m.unwrap();
            let name = m.path().unwrap().display().to_string();
            let mut b = Vec::new();
            m.read_to_end(&mut b).unwrap();
            out.insert(format!("ILSVRC2012_img_val.tar:{name}"), b);
        }
    }
    fn walk(root: &Path, dir: &Path, out: &mut HashMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    for sub in ["train", "val", "ILSVRC"] {
        if input.join(sub).is_dir() {
            walk(input, &input.join(sub), &mut out);
        }
    }
    out
}

/// Reference for `Resize(S)` + `CenterCrop(S)`: Pillow's antialiased
/// bilinear (a triangle filter whose support widens with the downscale
/// factor) written out plainly in f64 over the whole image, then cropped.
/// torchvision's geometry: long side `floor(S·long/short)`, crop offset
/// `round((resized − S) / 2)` with round-half-to-even.
pub fn reference_resize(rgb: &[u8], w: usize, h: usize, s: usize) -> Vec<u8> {
    let (rw, rh) = if w <= h {
        (s, s * h / w)
    } else {
        (s * w / h, s)
    };
    let half_even = |x: usize| {
        let q = x / 2;
        if x % 2 == 1 && q % 2 == 1 { q + 1 } else { q }
    };
    let (left, top) = (half_even(rw - s), half_even(rh - s));
    // Weights for one axis: out index → (first input index, weights).
    let weights = |n_in: usize, n_out: usize| -> Vec<(usize, Vec<f64>)> {
        let scale = n_in as f64 / n_out as f64;
        let support = scale.max(1.0);
        (0..n_out)
            .map(|o| {
                let center = (o as f64 + 0.5) * scale;
                let lo = ((center - support).floor().max(0.0)) as usize;
                let hi = ((center + support).ceil() as usize).min(n_in);
                let ws: Vec<f64> = (lo..hi)
                    .map(|i| {
                        let x = (i as f64 + 0.5 - center) / support;
                        (1.0 - x.abs()).max(0.0)
                    })
                    .collect();
                let total: f64 = ws.iter().sum();
                (lo, ws.into_iter().map(|v| v / total).collect())
            })
            .collect()
    };
    let wx = weights(w, rw);
    let wy = weights(h, rh);
    let mut out = vec![0u8; s * s * 3];
    for y in 0..s {
        let (y0, ref ky) = wy[y + top];
        for x in 0..s {
            let (x0, ref kx) = wx[x + left];
            for c in 0..3 {
                let mut acc = 0.0;
                for (j, wyj) in ky.iter().enumerate() {
                    let row = (y0 + j) * w;
                    for (i, wxi) in kx.iter().enumerate() {
                        acc += wyj * wxi * rgb[(row + x0 + i) * 3 + c] as f64;
                    }
                }
                out[(y * s + x) * 3 + c] = acc.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

/// Whether `python3` with numpy is available.
pub fn have_numpy() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success())
}
