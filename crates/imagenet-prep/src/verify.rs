//! `verify`: re-read an output directory and check it against its manifest
//! (format version, every shard's header, shape, size, count, labels and
//! SHA-256, the mean image).

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use atomic_io::hex;
use shard_format::manifest::{
    ColorStats, FORMAT_VERSION, Manifest, OLDEST_READABLE_VERSION, Shard, check_file_name,
    is_readable_version,
};
use shard_format::npy::{self, Dtype};

/// Why a directory could not be verified at all.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// `manifest.json` is missing or unreadable.
    #[error("{path}: {detail}")]
    Manifest {
        /// The manifest path.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

/// The outcome of [`verify`]: what was checked and every problem found.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Shards checked.
    pub shards: usize,
    /// Images across all checked shards.
    pub images: u64,
    /// Bytes re-hashed.
    pub bytes: u64,
    /// Problems, each naming its file; empty when everything matches.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// True when no problem was found.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Reads and parses `dir/manifest.json`, checking the format version.
pub fn read_manifest(dir: &Path) -> Result<Manifest, VerifyError> {
    let path = dir.join(shard_format::manifest::MANIFEST_FILE);
    let bad = |detail: String| VerifyError::Manifest {
        path: path.clone(),
        detail,
    };
    let text = std::fs::read(&path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|e| bad(format!("not a valid manifest: {e}")))?;
    if !is_readable_version(manifest.format_version.into()) {
        return Err(bad(format!(
            "format version {} (this code reads versions {OLDEST_READABLE_VERSION} to \
             {FORMAT_VERSION})",
            manifest.format_version
        )));
    }
    Ok(manifest)
}

/// Checks every file listed by `dir/manifest.json`.
pub fn verify(dir: &Path) -> Result<VerifyReport, VerifyError> {
    let manifest = read_manifest(dir)?;
    let mut report = VerifyReport::default();
    let s = manifest.image_size as u64;
    let classes = manifest.classes.len() as i64;
    for (i, c) in manifest.classes.iter().enumerate() {
        if c.index as usize != i {
            report
                .problems
                .push(format!("manifest.json: class {} has index {}", i, c.index));
        }
    }
    for (name, split) in [("train", &manifest.train), ("val", &manifest.val)] {
        let Some(split) = split else { continue };
        let mut next = 0u64;
        for shard in &split.shards {
            if shard.first_index != next {
                report.problems.push(format!(
                    "{}: first_index {} but the previous shards end at {next}",
                    shard.images, shard.first_index
                ));
            }
            next = shard.first_index + shard.count;
            check_shard(dir, shard, s, classes, &mut report);
        }
        if next != split.num_images {
            report.problems.push(format!(
                "manifest.json: {name} lists {} images but its shards hold {next}",
                split.num_images
            ));
        }
    }
    if let Some(stats) = &manifest.color_stats {
        check_mean_image(dir, stats, s, &mut report);
    }
    Ok(report)
}

/// The mean image: a plain file name, float32 `(S, S, 3)` of the right
/// size, the manifest's SHA-256 (when it records one), and every value a
/// finite mean of [0, 1] pixels.
fn check_mean_image(dir: &Path, stats: &ColorStats, s: u64, report: &mut VerifyReport) {
    let name = &stats.mean_image;
    if let Err(e) = check_file_name(name) {
        report
            .problems
            .push(format!("manifest.json: mean image: {e}"));
        return;
    }
    let bytes = match std::fs::read(dir.join(name)) {
        Ok(b) => b,
        Err(e) => {
            report.problems.push(format!("{name}: cannot read: {e}"));
            return;
        }
    };
    report.bytes += bytes.len() as u64;
    if let Some(want) = &stats.mean_image_sha256 {
        let sha = hex(&Sha256::digest(&bytes));
        if !sha.eq_ignore_ascii_case(want) {
            report.problems.push(format!(
                "{name}: SHA-256 {sha} does not match the manifest's {want}; the mean image was \
                 changed or damaged after prep wrote it (re-run prep)"
            ));
        }
    }
    let h = match npy::parse_header(&bytes) {
        Ok(h) => h,
        Err(e) => {
            report.problems.push(format!("{name}: {e}"));
            return;
        }
    };
    if h.dtype != Dtype::F32 || h.shape != [s, s, 3] {
        report.problems.push(format!(
            "{name}: expected float32 ({s}, {s}, 3), found {:?} {:?}",
            h.dtype, h.shape
        ));
        return;
    }
    let len = bytes.len() as u64;
    if len != h.data_offset as u64 + h.data_len() {
        report.problems.push(format!(
            "{name}: file is {len} bytes, header and shape imply {}",
            h.data_offset as u64 + h.data_len()
        ));
        return;
    }
    let values = bytes[h.data_offset..]
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let (mut not_finite, mut out_of_range, mut first) = (0u64, 0u64, None);
    for (i, v) in values.enumerate() {
        // A mean of pixels on [0, 1] lies in [0, 1]; NaN fails both tests.
        let bad_finite = !v.is_finite();
        let bad_range = !bad_finite && !(0.0..=1.0).contains(&v);
        not_finite += u64::from(bad_finite);
        out_of_range += u64::from(bad_range);
        if (bad_finite || bad_range) && first.is_none() {
            first = Some((i, v));
        }
    }
    if let Some((i, v)) = first {
        let (y, x, c) = (i as u64 / 3 / s, i as u64 / 3 % s, i % 3);
        report.problems.push(format!(
            "{name}: {not_finite} value(s) are not finite (NaN or infinite) and {out_of_range} \
             lie outside [0, 1]; the first is {v} at (row {y}, column {x}, channel {c}). The \
             mean image is damaged (re-run prep)"
        ));
    }
}

/// Header, SHA-256 and length of a `.npy` file; labels are returned when
/// the file is int16.
fn read_npy(path: &Path) -> Result<(npy::Header, String, u64), String> {
    let mut file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut head = Vec::new();
    let mut len = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| format!("read error: {e}"))?;
        if n == 0 {
            break;
        }
        if head.len() < 4096 {
            head.extend_from_slice(&buf[..n.min(4096 - head.len())]);
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    let header = npy::parse_header(&head)?;
    Ok((header, hex(&hasher.finalize()), len))
}

fn check_shard(dir: &Path, shard: &Shard, s: u64, classes: i64, report: &mut VerifyReport) {
    report.shards += 1;
    report.images += shard.count;
    // Names are joined to `dir`: one that leads elsewhere is reported and
    // never opened.
    let mut names_ok = true;
    for name in [&shard.images, &shard.labels] {
        if let Err(e) = check_file_name(name) {
            report.problems.push(format!("manifest.json: shard {e}"));
            names_ok = false;
        }
    }
    if !names_ok {
        return;
    }
    let n = shard.count;
    if shard.sources.len() as u64 != n {
        report.problems.push(format!(
            "manifest.json: shard {} has {} sources for {n} images",
            shard.images,
            shard.sources.len()
        ));
    }
    match read_npy(&dir.join(&shard.images)) {
        Err(e) => report.problems.push(format!("{}: {e}", shard.images)),
        Ok((h, sha, len)) => {
            report.bytes += len;
            if h.dtype != Dtype::U8 || h.shape != [n, s, s, 3] {
                report.problems.push(format!(
                    "{}: expected uint8 ({n}, {s}, {s}, 3), found {:?} {:?}",
                    shard.images, h.dtype, h.shape
                ));
            } else if len != h.data_offset as u64 + h.data_len() {
                report.problems.push(format!(
                    "{}: file is {len} bytes, header and shape imply {}",
                    shard.images,
                    h.data_offset as u64 + h.data_len()
                ));
            }
            if sha != shard.images_sha256 {
                report.problems.push(format!(
                    "{}: SHA-256 {sha} does not match the manifest's {}",
                    shard.images, shard.images_sha256
                ));
            }
        }
    }
    let path = dir.join(&shard.labels);
    match std::fs::read(&path) {
        Err(e) => report
            .problems
            .push(format!("{}: cannot read: {e}", shard.labels)),
        Ok(bytes) => {
            report.bytes += bytes.len() as u64;
            let sha = hex(&Sha256::digest(&bytes));
            if sha != shard.labels_sha256 {
                report.problems.push(format!(
                    "{}: SHA-256 {sha} does not match the manifest's {}",
                    shard.labels, shard.labels_sha256
                ));
            }
            match npy::parse_header(&bytes) {
                Err(e) => report.problems.push(format!("{}: {e}", shard.labels)),
                Ok(h) if h.dtype != Dtype::I16 || h.shape != [n] => report.problems.push(format!(
                    "{}: expected int16 ({n},), found {:?} {:?}",
                    shard.labels, h.dtype, h.shape
                )),
                Ok(h) => {
                    let data = &bytes[h.data_offset.min(bytes.len())..];
                    if data.len() as u64 != 2 * n {
                        report.problems.push(format!(
                            "{}: holds {} bytes of labels for {n} images",
                            shard.labels,
                            data.len()
                        ));
                    } else if let Some(bad) = data
                        .chunks_exact(2)
                        .map(|c| i16::from_le_bytes([c[0], c[1]]) as i64)
                        .find(|&l| l < 0 || l >= classes)
                    {
                        report.problems.push(format!(
                            "{}: label {bad} outside 0..{classes}",
                            shard.labels
                        ));
                    }
                }
            }
        }
    }
}
