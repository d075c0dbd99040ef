//! Shard files: `<split>-<k>.npy` (uint8 `(N, S, S, 3)`),
//! `<split>-<k>.labels.npy` (int16 `(N,)`) and the completion record
//! `<split>-<k>.done.json`, written last. A record whose fingerprint
//! matches the current run and whose files re-hash to the recorded
//! checksums marks a shard a resumed run can keep.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::PrepError;
use crate::stats::{ImageSums, StatsAccum};
use atomic_io::{AtomicFile, hex, write_file};
use shard_format::manifest::{Rejected, Shard};
use shard_format::npy::{self, Dtype};

/// What a finished shard's `.done.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardRecord {
    /// Hash of everything that determines the shard's content (format and
    /// pipeline version, image size, pixel limit, the input items and labels).
    pub fingerprint: String,
    /// The shard as the manifest lists it (`first_index` is recomputed
    /// when the manifest is assembled).
    pub shard: Shard,
    /// Inputs of this shard's range that could not be used.
    pub rejected: Vec<Rejected>,
}

/// File names of shard `k` of `split`: (pixels, labels, record).
pub fn names(split: &str, k: usize) -> (String, String, String) {
    (
        format!("{split}-{k:05}.npy"),
        format!("{split}-{k:05}.labels.npy"),
        format!("{split}-{k:05}.done.json"),
    )
}

/// One input after decoding: its pixels and sums, or why it failed.
pub struct Processed {
    /// Source name.
    pub source: String,
    /// Class index.
    pub label: i16,
    /// `S×S×3` pixels and their sums, or the rejection reason.
    pub result: Result<(Vec<u8>, ImageSums), String>,
}

/// Writes shard `k` from `items` (in order; failures become rejections),
/// adds its images to `stats`, writes the record last.
pub fn write_shard(
    dir: &Path,
    split: &str,
    k: usize,
    size: u32,
    fingerprint: String,
    items: Vec<Processed>,
    stats: Option<&mut StatsAccum>,
) -> Result<ShardRecord, PrepError> {
    let (img_name, lbl_name, rec_name) = names(split, k);
    let s = size as u64;
    let good: Vec<&Processed> = items.iter().filter(|p| p.result.is_ok()).collect();
    let n = good.len() as u64;

    let mut pixels = AtomicFile::create(&dir.join(&img_name))?;
    pixels.write(&npy::header(Dtype::U8, &[n, s, s, 3]))?;
    let mut labels = Vec::with_capacity(64 + 2 * good.len());
    labels.extend(npy::header(Dtype::I16, &[n]));
    let mut sources = Vec::with_capacity(good.len());
    let mut stats = stats;
    for p in &good {
        let (px, sums) = p.result.as_ref().expect("filtered");
        pixels.write(px)?;
        labels.extend(p.label.to_le_bytes());
        sources.push(p.source.clone());
        if let Some(acc) = stats.as_deref_mut() {
            acc.add(px, sums);
        }
    }
    let (images_sha256, _) = pixels.finish()?;
    let labels_sha256 = write_file(&dir.join(&lbl_name), &labels)?;
    let rejected = items
        .iter()
        .filter_map(|p| {
            p.result.as_ref().err().map(|reason| Rejected {
                source: p.source.clone(),
                reason: reason.clone(),
            })
        })
        .collect();
    let record = ShardRecord {
        fingerprint,
        shard: Shard {
            images: img_name,
            labels: lbl_name,
            count: n,
            first_index: 0,
            images_sha256,
            labels_sha256,
            sources,
        },
        rejected,
    };
    let json = serde_json::to_vec_pretty(&record).expect("records serialise");
    write_file(&dir.join(rec_name), &json)?;
    Ok(record)
}

/// Shard `k`'s record if the shard is complete, made by a run with the same
/// `fingerprint`, and its files still hash to the recorded checksums; its
/// images are then added to `stats`. `None` means: (re)make the shard.
pub fn try_reuse(
    dir: &Path,
    split: &str,
    k: usize,
    size: u32,
    fingerprint: &str,
    stats: Option<&mut StatsAccum>,
) -> Option<ShardRecord> {
    let (img_name, lbl_name, rec_name) = names(split, k);
    let text = std::fs::read(dir.join(rec_name)).ok()?;
    let record: ShardRecord = serde_json::from_slice(&text).ok()?;
    // The record must describe this shard's own files: a record naming
    // other files (copied, edited, or pointing outside `dir`) is not reused.
    if record.fingerprint != fingerprint
        || record.shard.sources.len() as u64 != record.shard.count
        || record.shard.images != img_name
        || record.shard.labels != lbl_name
    {
        return None;
    }
    let labels = std::fs::read(dir.join(&record.shard.labels)).ok()?;
    if hex(&Sha256::digest(&labels)) != record.shard.labels_sha256 {
        return None;
    }
    let mut local = StatsAccum::new(size);
    let sha = hash_pixels(
        &dir.join(&record.shard.images),
        size,
        record.shard.count,
        &mut local,
    )?;
    if sha != record.shard.images_sha256 {
        return None;
    }
    if let Some(acc) = stats {
        acc.merge(&local);
    }
    Some(record)
}

/// Re-reads a pixel `.npy`, checking its header, accumulating its images
/// into `stats`; returns its hex SHA-256.
fn hash_pixels(path: &Path, size: u32, count: u64, stats: &mut StatsAccum) -> Option<String> {
    let mut file = BufReader::with_capacity(1 << 20, File::open(path).ok()?);
    let mut hasher = Sha256::new();
    let mut head = [0u8; 64];
    file.read_exact(&mut head).ok()?;
    let header_len = 10 + u16::from_le_bytes([head[8], head[9]]) as usize;
    let mut header = head.to_vec();
    header.resize(header_len.max(64), 0);
    if header_len > 64 {
        file.read_exact(&mut header[64..]).ok()?;
    }
    header.truncate(header_len);
    let h = npy::parse_header(&header).ok()?;
    let s = size as u64;
    if h.dtype != Dtype::U8 || h.shape != [count, s, s, 3] {
        return None;
    }
    hasher.update(&header);
    let mut image = vec![0u8; (s * s * 3) as usize];
    for _ in 0..count {
        file.read_exact(&mut image).ok()?;
        hasher.update(&image);
        stats.add_image(&image);
    }
    // Trailing bytes mean the file is not what was recorded.
    if file.read(&mut [0u8; 1]).ok()? != 0 {
        return None;
    }
    Some(hex(&hasher.finalize()))
}
