//! `prepare`: input layout → ordered items → parallel decode + resize →
//! shards (atomic, resumable) → colour statistics → manifest (last).
//!
//! Items are processed one shard at a time: the rayon pool decodes a
//! shard's images (each worker reads its image's bytes by offset, so no
//! archive is ever extracted), results come back in item order, and a
//! writer thread, fed through a channel of capacity one, writes the
//! previous shard while the pool works on the next. Memory is bounded by
//! about three shards of pixels whatever the archive size. Shard `k` of a
//! split always holds the usable images among items
//! `[k·shard_size, (k+1)·shard_size)`, so the output does not depend on
//! thread count, and a resumed run rebuilds exactly the missing shards.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::archive::Location;
use crate::decode::DEFAULT_MAX_PIXELS;
use crate::error::PrepError;
use crate::layout::{self, Item, Layout, Plan};
use crate::progress::{Progress, Spinner};
use crate::resize::{CenterCrop, with_thread_crop};
use crate::shard::{self, Processed, ShardRecord};
use crate::stats::{ImageSums, StatsAccum};
use atomic_io::{DirLock, hex, write_file};
use shard_format::SplitName;
use shard_format::manifest::{
    ColorStats, FORMAT_VERSION, MANIFEST_FILE, Manifest, Rejected, Split,
};
use shard_format::npy::{self, Dtype};

/// File name of the mean image.
pub const MEAN_IMAGE_FILE: &str = "mean_image.npy";

/// Changes whenever decoding or resizing changes the pixels, so that a
/// resumed run never mixes shards made by different code. The golden test
/// (`tests/tests/integration/pipeline.rs`) fails when the shards' hashes change while
/// this stays the same. 3: Y, Cb and Cr resized as planes (d1301b0).
pub const PIPELINE_VERSION: &str = "jpeg-planes+zune-jpeg+png/fir-bilinear-crop/tv-geometry/3";

/// Version of the shard files' layout in the resume fingerprint. It stays 1
/// while only the manifest changes ([`FORMAT_VERSION`] 2 changed classes),
/// so shards of an interrupted run are still reused.
const SHARD_FORMAT: u32 = 1;

/// Settings of one preparation run.
#[derive(Debug, Clone)]
pub struct PrepConfig {
    /// Directory holding the archives, or an extracted / Kaggle root.
    pub input: PathBuf,
    /// Output directory (created if needed).
    pub out: PathBuf,
    /// Side of the output images (256).
    pub size: u32,
    /// Images per shard (1024).
    pub shard_size: usize,
    /// Worker threads; 0 = one per core.
    pub threads: usize,
    /// Leave undecodable images, and validation images the ground truth
    /// lists but the input lacks, out (listed in the manifest) instead of
    /// failing.
    pub skip_bad: bool,
    /// No progress bar.
    pub quiet: bool,
    /// Images with more pixels than this are rejected before decoding.
    pub max_pixels: u64,
    /// Splits to prepare; `None`: every split the input has.
    pub splits: Option<Vec<SplitName>>,
    /// Extensions (any case, no dot) of the files read as images; other
    /// files are ignored. Contents must still be JPEG or PNG (detected by
    /// their bytes).
    pub extensions: Vec<String>,
    /// Stop (with [`PrepError::Interrupted`]) after writing this many new
    /// shards: a real interruption of the run, for testing resumption.
    pub stop_after_shards: Option<usize>,
    /// Free space to assume instead of asking the file system (tests).
    pub assume_free_bytes: Option<u64>,
}

impl PrepConfig {
    /// Defaults: 256 px, 1024 images per shard, all cores, strict.
    pub fn new(input: impl Into<PathBuf>, out: impl Into<PathBuf>) -> Self {
        PrepConfig {
            input: input.into(),
            out: out.into(),
            size: 256,
            shard_size: 1024,
            threads: 0,
            skip_bad: false,
            quiet: false,
            max_pixels: DEFAULT_MAX_PIXELS,
            splits: None,
            extensions: layout::default_extensions(),
            stop_after_shards: None,
            assume_free_bytes: None,
        }
    }
}

/// What a finished run did.
#[derive(Debug, Clone)]
pub struct PrepSummary {
    /// Layout the input was found in.
    pub layout: Layout,
    /// Training images written.
    pub train_images: u64,
    /// Validation images written.
    pub val_images: u64,
    /// Inputs left out (only non-empty with `skip_bad`): undecodable
    /// images, then missing validation images.
    pub rejected: Vec<Rejected>,
    /// Shards written by this run.
    pub shards_written: usize,
    /// Shards kept from an earlier, interrupted run.
    pub shards_reused: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Path of the manifest.
    pub manifest: PathBuf,
}

impl PrepSummary {
    /// Images per second over the whole run.
    pub fn images_per_second(&self) -> f64 {
        (self.train_images + self.val_images) as f64 / self.seconds.max(1e-9)
    }
}

/// Prepares `cfg.input` into `cfg.out`. See the module docs.
pub fn prepare(cfg: &PrepConfig) -> Result<PrepSummary, PrepError> {
    let start = Instant::now();
    if cfg.size == 0 || cfg.size > 8192 {
        return Err(PrepError::Config(format!(
            "size must be in 1..=8192, got {}",
            cfg.size
        )));
    }
    if cfg.shard_size == 0 {
        return Err(PrepError::Config("shard size must be at least 1".into()));
    }
    let extensions = layout::normalize_extensions(&cfg.extensions)?;
    // The output directory is made and locked before anything else, so a
    // second run on the same `--out` stops at once instead of after reading
    // the input's index, and no two runs ever write the same files. The
    // lock lives until `prepare` returns.
    if cfg.out.exists() && !cfg.out.is_dir() {
        return Err(PrepError::OutNotDir {
            path: cfg.out.clone(),
        });
    }
    std::fs::create_dir_all(&cfg.out).map_err(|e| PrepError::io(&cfg.out, e))?;
    let _lock = DirLock::acquire(&cfg.out, "prep")?;
    let plan = {
        let _spinner = Spinner::new(
            format!("reading the index of {}", cfg.input.display()),
            cfg.quiet,
        );
        let options = layout::PlanOptions {
            splits: cfg.splits.clone(),
            exclude: Some(cfg.out.clone()),
            extensions,
        };
        layout::plan(&cfg.input, &options)?
    };
    // Missing validation images shift no label (each image is labelled by
    // its own number), but a run is strict about its input unless told.
    if let Some(missing) = &plan.val_missing
        && !cfg.skip_bad
    {
        return Err(missing.to_error());
    }
    // A split with no input image at all fails now, not after the others
    // were processed.
    for name in [SplitName::Train, SplitName::Val] {
        if plan.split(name).is_some_and(Vec::is_empty) {
            return Err(PrepError::NoUsableImages {
                split: name.as_str(),
                detail: no_image_detail(&[], missing_in(&plan, name)),
            });
        }
    }
    check_disk(cfg, &plan)?;
    // An old manifest would describe shards this run is about to replace.
    let manifest_path = cfg.out.join(MANIFEST_FILE);
    if manifest_path.exists() {
        std::fs::remove_file(&manifest_path).map_err(|e| PrepError::io(&manifest_path, e))?;
    }

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(cfg.threads)
        .build()
        .map_err(|e| PrepError::Config(format!("cannot start {} threads: {e}", cfg.threads)))?;
    let total: u64 = [SplitName::Train, SplitName::Val]
        .iter()
        .filter_map(|&s| plan.split(s))
        .map(|v| v.len() as u64)
        .sum();
    let progress = Progress::new(total, cfg.quiet);
    let mut stats = StatsAccum::new(cfg.size);
    let mut run = RunCounters::default();
    let mut splits: Vec<(SplitName, Vec<ShardRecord>)> = Vec::new();
    for name in [SplitName::Train, SplitName::Val] {
        let Some(items) = plan.split(name) else {
            continue;
        };
        progress.set_split(name.as_str());
        remove_stale(
            &cfg.out,
            name.as_str(),
            items.len().div_ceil(cfg.shard_size),
        )?;
        let split_stats = (name == SplitName::Train).then_some(&mut stats);
        let records = run_split(cfg, &pool, name, items, split_stats, &progress, &mut run)?;
        splits.push((name, records));
    }
    progress.finish();

    // A split without a single image is a failed run whatever `skip_bad`
    // says (checked before `BadImages`, whose advice to rerun with
    // --skip-bad would not help).
    for (name, records) in &splits {
        if records.iter().all(|r| r.shard.count == 0) {
            let rejected: Vec<&Rejected> = records.iter().flat_map(|r| &r.rejected).collect();
            return Err(PrepError::NoUsableImages {
                split: name.as_str(),
                detail: no_image_detail(&rejected, missing_in(&plan, *name)),
            });
        }
    }
    let mut rejected: Vec<Rejected> = splits
        .iter()
        .flat_map(|(_, recs)| recs.iter().flat_map(|r| r.rejected.iter().cloned()))
        .collect();
    if !rejected.is_empty() && !cfg.skip_bad {
        return Err(PrepError::BadImages { rejected });
    }
    rejected.extend(plan.val_missing.iter().flat_map(|m| m.rejected()));

    let mut manifest = Manifest {
        format_version: FORMAT_VERSION,
        image_size: cfg.size,
        classes: plan.classes.clone(),
        train: None,
        val: None,
        sources: plan.sources.clone(),
        rejected: rejected.clone(),
        color_stats: None,
    };
    for (name, records) in splits {
        let split = assemble(records);
        match name {
            SplitName::Train => manifest.train = Some(split),
            SplitName::Val => manifest.val = Some(split),
        }
    }
    if let Some((m, mean_image)) = stats.finish() {
        let s = cfg.size as u64;
        let mut bytes = npy::header(Dtype::F32, &[s, s, 3]);
        bytes.extend(mean_image.iter().flat_map(|v| v.to_le_bytes()));
        let mean_sha256 = write_file(&cfg.out.join(MEAN_IMAGE_FILE), &bytes)?;
        manifest.color_stats = Some(ColorStats {
            num_images: stats.images,
            mean: m.mean,
            std: m.std,
            covariance: m.covariance,
            eigenvalues: m.eigenvalues,
            eigenvectors: m.eigenvectors,
            mean_image: MEAN_IMAGE_FILE.into(),
            mean_image_sha256: Some(mean_sha256),
        });
    }
    let json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
    write_file(&manifest_path, &json)?;
    Ok(PrepSummary {
        layout: plan.layout,
        train_images: manifest.train.as_ref().map_or(0, |s| s.num_images),
        val_images: manifest.val.as_ref().map_or(0, |s| s.num_images),
        rejected,
        shards_written: run.written,
        shards_reused: run.reused,
        seconds: start.elapsed().as_secs_f64(),
        manifest: manifest_path,
    })
}

/// Validation images of split `name` that the labels list but the input
/// lacks (left out with `skip_bad`).
fn missing_in(plan: &Plan, name: SplitName) -> usize {
    match (name, &plan.val_missing) {
        (SplitName::Val, Some(m)) => m.missing.len(),
        _ => 0,
    }
}

/// Why a split has no image: `rejected` inputs (the first few named with
/// their reasons) and `missing` validation images the labels list.
fn no_image_detail(rejected: &[&Rejected], missing: usize) -> String {
    const SHOWN: usize = 5;
    let mut parts = Vec::new();
    if !rejected.is_empty() {
        let mut list: Vec<String> = rejected
            .iter()
            .take(SHOWN)
            .map(|r| format!("{}: {}", r.source, r.reason))
            .collect();
        if rejected.len() > SHOWN {
            list.push(format!("and {} more", rejected.len() - SHOWN));
        }
        parts.push(format!(
            "all {} input image(s) were rejected ({})",
            rejected.len(),
            list.join("; ")
        ));
    }
    if missing > 0 {
        parts.push(format!(
            "{missing} validation image(s) the labels list are missing from the input"
        ));
    }
    if parts.is_empty() {
        "the input holds no image for it".into()
    } else {
        parts.join(", and ")
    }
}

#[derive(Default)]
struct RunCounters {
    written: usize,
    reused: usize,
}

fn assemble(records: Vec<ShardRecord>) -> Split {
    let mut first = 0;
    let shards = records
        .into_iter()
        .map(|r| {
            let mut s = r.shard;
            s.first_index = first;
            first += s.count;
            s
        })
        .collect();
    Split {
        num_images: first,
        shards,
    }
}

/// Hash of everything that determines shard `k`'s bytes: format and
/// pipeline versions, options, and for each input its name, label and a
/// stamp of its content ([`input_stamp`]). A resumed run keeps a shard only
/// if this matches its record, so an input that was edited or replaced
/// since the shard was written makes the shard be redone.
fn fingerprint(cfg: &PrepConfig, split: SplitName, k: usize, items: &[Item]) -> String {
    let mut h = Sha256::new();
    h.update(format!(
        "format {SHARD_FORMAT}\npipeline {PIPELINE_VERSION}\nsize {}\nmax_pixels {}\nsplit {}\nshard {k}\nstamps 2\n",
        cfg.size,
        cfg.max_pixels,
        split.as_str()
    ));
    // Consecutive items usually share an archive: stat it once per run of them.
    let mut archive_stamp: Option<(*const std::fs::File, String)> = None;
    for item in items {
        let stamp = match &item.location {
            Location::File(path) => match std::fs::metadata(path) {
                Ok(meta) => format!("file {}", input_stamp(&meta)),
                // Fingerprinted as such: the shard is redone, and the read
                // then reports the file.
                Err(e) => format!("file unreadable ({:?})", e.kind()),
            },
            Location::Range {
                archive,
                offset,
                size,
                mtime,
            } => {
                let ptr = std::sync::Arc::as_ptr(archive);
                let whole = match &archive_stamp {
                    Some((p, st)) if *p == ptr => st.clone(),
                    _ => {
                        let st = archive.metadata().map_or_else(
                            |e| format!("unreadable ({:?})", e.kind()),
                            |m| input_stamp(&m),
                        );
                        archive_stamp = Some((ptr, st.clone()));
                        st
                    }
                };
                format!("member at {offset} size {size} mtime {mtime} of archive {whole}")
            }
        };
        h.update(format!("{}\t{}\t{stamp}\n", item.source, item.label));
    }
    hex(&h.finalize())
}

/// What identifies a file's content without reading it. On Unix: inode,
/// size, and modification and status-change times in nanoseconds. Any
/// write updates the status-change time (and it cannot be set back from
/// user space), and a replaced file has a new inode, so this catches edits
/// and replacements even when the modification time was restored; it
/// misses only a change that bypasses the file system's timestamps. A
/// metadata-only change (chmod, touch) also counts, which costs a redone
/// shard, never a stale one. Elsewhere: size and modification time.
fn input_stamp(meta: &std::fs::Metadata) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        format!(
            "ino {} size {} mtime {}.{:09} ctime {}.{:09}",
            meta.ino(),
            meta.size(),
            meta.mtime(),
            meta.mtime_nsec(),
            meta.ctime(),
            meta.ctime_nsec()
        )
    }
    #[cfg(not(unix))]
    {
        let ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        format!("size {} mtime {ns}", meta.len())
    }
}

fn process(item: &Item, crop: &mut CenterCrop, max_pixels: u64) -> Processed {
    let result = (|| {
        let bytes = item
            .location
            .read()
            .map_err(|e| format!("cannot read: {e}"))?;
        let s = crop.size() as usize;
        let mut out = vec![0u8; s * s * 3];
        crop.decode_into(&bytes, max_pixels, &mut out)
            .map_err(|e| e.to_string())?;
        let sums = ImageSums::of(&out);
        Ok((out, sums))
    })();
    Processed {
        source: item.source.clone(),
        label: item.label,
        result,
    }
}

fn run_split(
    cfg: &PrepConfig,
    pool: &rayon::ThreadPool,
    name: SplitName,
    items: &[Item],
    stats: Option<&mut StatsAccum>,
    progress: &Progress,
    run: &mut RunCounters,
) -> Result<Vec<ShardRecord>, PrepError> {
    let split = name.as_str();
    let mut records: Vec<(usize, ShardRecord)> = Vec::new();
    let mut reused_stats = StatsAccum::new(cfg.size);
    let mut stopped = false;
    let want_stats = stats.is_some();
    let written_stats = std::thread::scope(|scope| -> Result<StatsAccum, PrepError> {
        let (tx, rx) = crossbeam_channel::bounded::<(usize, String, Vec<Processed>)>(1);
        let out = &cfg.out;
        let size = cfg.size;
        let writer = scope.spawn(
            move || -> Result<(Vec<(usize, ShardRecord)>, StatsAccum), PrepError> {
                let mut acc = StatsAccum::new(size);
                let mut done = Vec::new();
                for (k, fp, processed) in rx {
                    let st = want_stats.then_some(&mut acc);
                    done.push((
                        k,
                        shard::write_shard(out, split, k, size, fp, processed, st)?,
                    ));
                }
                Ok((done, acc))
            },
        );
        for (k, chunk) in items.chunks(cfg.shard_size).enumerate() {
            let fp = fingerprint(cfg, name, k, chunk);
            let st = want_stats.then_some(&mut reused_stats);
            if let Some(rec) = shard::try_reuse(out, split, k, size, &fp, st) {
                progress.inc(chunk.len() as u64);
                records.push((k, rec));
                run.reused += 1;
                continue;
            }
            let processed: Vec<Processed> = pool.install(|| {
                chunk
                    .par_iter()
                    .map(|item| {
                        let p = with_thread_crop(size, |crop| process(item, crop, cfg.max_pixels));
                        progress.inc(1);
                        p
                    })
                    .collect()
            });
            if tx.send((k, fp, processed)).is_err() {
                break; // the writer failed; its error is reported below
            }
            run.written += 1;
            if cfg.stop_after_shards.is_some_and(|n| run.written >= n) {
                stopped = true;
                break;
            }
        }
        drop(tx);
        let (done, acc) = writer.join().expect("shard writer panicked")?;
        records.extend(done);
        Ok(acc)
    })?;
    if stopped {
        return Err(PrepError::Interrupted {
            shards: run.written,
        });
    }
    // Reused and new shards were collected separately; restore shard order.
    records.sort_by_key(|(k, _)| *k);
    if let Some(acc) = stats {
        acc.merge(&reused_stats);
        acc.merge(&written_stats);
    }
    Ok(records.into_iter().map(|(_, r)| r).collect())
}

/// Removes leftovers an earlier run may have left: temporary files and
/// shards beyond the number this run makes.
fn remove_stale(out: &Path, split: &str, shards: usize) -> Result<(), PrepError> {
    let entries = std::fs::read_dir(out).map_err(|e| PrepError::io(out, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| PrepError::io(out, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale_tmp = name.starts_with(&format!(".{split}-")) && name.ends_with(".tmp");
        let beyond = name
            .strip_prefix(&format!("{split}-"))
            .map(|rest| rest.split('.').next().unwrap_or(""))
            .and_then(|k| k.parse::<usize>().ok())
            .is_some_and(|k| k >= shards);
        if stale_tmp || beyond {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| PrepError::io(&path, e))?;
        }
    }
    Ok(())
}

/// Refuses to start when the estimated output does not fit. Files of an
/// earlier run in `out` count as free (they are reused or replaced).
fn check_disk(cfg: &PrepConfig, plan: &Plan) -> Result<(), PrepError> {
    let s = cfg.size as u64;
    let per_image = s * s * 3 + 2 + 200; // pixels, label, source names in JSON
    let images: u64 = [SplitName::Train, SplitName::Val]
        .iter()
        .filter_map(|&n| plan.split(n))
        .map(|v| v.len() as u64)
        .sum();
    let shards = images.div_ceil(cfg.shard_size as u64) + 2;
    let needed_total = images * per_image + shards * 2048 + s * s * 12 + (1 << 20);
    let existing: u64 = std::fs::read_dir(&cfg.out)
        .map_err(|e| PrepError::io(&cfg.out, e))?
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum();
    let needed = needed_total.saturating_sub(existing);
    let available = match cfg.assume_free_bytes {
        Some(b) => b,
        None => fs4::available_space(&cfg.out).map_err(|e| PrepError::io(&cfg.out, e))?,
    };
    if needed > available {
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        return Err(PrepError::DiskTooSmall {
            path: cfg.out.clone(),
            needed,
            needed_gib: gib(needed),
            available,
            available_gib: gib(available),
        });
    }
    Ok(())
}
