//! [`ShardSet`]: one split of a prepared dataset, every shard memory-mapped
//! and checked against the manifest before anything is read.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use rayon::prelude::*;
use sha2::{Digest, Sha256};
use shard_format::manifest::{
    ColorStats, FORMAT_VERSION, MANIFEST_FILE, Manifest, OLDEST_READABLE_VERSION, Shard,
    check_file_name, is_readable_version,
};

use super::LoaderError;
use shard_format::npy::{Dtype, parse_header};

/// Which split of the manifest to open (the same type `imagenet-prep` writes).
pub use shard_format::SplitName;

/// A memory-mapped `.npy` file: the mapping and where its data starts.
struct MappedNpy {
    path: PathBuf,
    map: Mmap,
    data_offset: usize,
}

impl MappedNpy {
    fn data(&self) -> &[u8] {
        &self.map[self.data_offset..]
    }
}

struct MappedShard {
    images: MappedNpy,
    labels: MappedNpy,
}

/// One split of a dataset written by `imagenet-prep`: pixels and labels of
/// every shard memory-mapped (nothing is read whole into RAM; the page cache
/// does the caching), addressed by the image's index within the split.
pub struct ShardSet {
    dir: PathBuf,
    manifest: Manifest,
    split: SplitName,
    shards: Vec<MappedShard>,
    /// `starts[i]` is the split index of shard `i`'s first image; one extra
    /// entry holds the total.
    starts: Vec<usize>,
    image_size: usize,
}

impl std::fmt::Debug for ShardSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShardSet")
            .field("dir", &self.dir)
            .field("split", &self.split)
            .field("shards", &self.shards.len())
            .field("len", &self.len())
            .field("image_size", &self.image_size)
            .finish()
    }
}

impl ShardSet {
    /// Opens `split` of the dataset in `dir` (the folder holding
    /// `manifest.json`), checking headers, shapes and counts but not
    /// checksums.
    pub fn open(dir: &Path, split: SplitName) -> Result<Self, LoaderError> {
        Self::open_with(dir, split, false)
    }

    /// Like [`ShardSet::open`]; with `verify` also hashes every shard file
    /// of the split (in parallel) and compares with the manifest's SHA-256.
    pub fn open_with(dir: &Path, split: SplitName, verify: bool) -> Result<Self, LoaderError> {
        let manifest_path = dir.join(MANIFEST_FILE);
        let manifest = read_manifest(&manifest_path)?;
        let bad = |message: String| LoaderError::Manifest {
            path: manifest_path.clone(),
            message,
        };
        let image_size = manifest.image_size as usize;
        if image_size == 0 {
            return Err(bad("image_size is 0".into()));
        }
        let entry = match split {
            SplitName::Train => manifest.train.as_ref(),
            SplitName::Val => manifest.val.as_ref(),
        };
        let entry = entry.ok_or_else(|| LoaderError::MissingSplit {
            path: manifest_path.clone(),
            split: split.as_str(),
        })?;
        let mut starts = Vec::with_capacity(entry.shards.len() + 1);
        let mut next = 0u64;
        for (i, shard) in entry.shards.iter().enumerate() {
            if shard.first_index != next {
                return Err(bad(format!(
                    "{} shard {i} ({}) starts at image {}, expected {next}",
                    split.as_str(),
                    shard.images,
                    shard.first_index
                )));
            }
            starts.push(next as usize);
            next += shard.count;
        }
        starts.push(next as usize);
        if next != entry.num_images {
            return Err(bad(format!(
                "{} split lists {} images but its shards hold {next}",
                split.as_str(),
                entry.num_images
            )));
        }
        for shard in &entry.shards {
            check_name(&manifest_path, &shard.images)?;
            check_name(&manifest_path, &shard.labels)?;
        }
        let num_classes = manifest.classes.len();
        let shards = entry
            .shards
            .iter()
            .map(|s| map_shard(dir, s, image_size, num_classes))
            .collect::<Result<Vec<_>, _>>()?;
        if verify {
            verify_checksums(&shards, &entry.shards)?;
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            split,
            shards,
            starts,
            image_size,
        })
    }

    /// Number of images in the split.
    pub fn len(&self) -> usize {
        *self.starts.last().unwrap_or(&0)
    }

    /// Whether the split holds no image.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of classes in the manifest.
    pub fn num_classes(&self) -> usize {
        self.manifest.classes.len()
    }

    /// Side `S` of the square images.
    pub fn image_size(&self) -> usize {
        self.image_size
    }

    /// The parsed manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Which split this is.
    pub fn split(&self) -> SplitName {
        self.split
    }

    /// Directory holding the manifest.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn locate(&self, k: usize) -> (usize, usize) {
        assert!(
            k < self.len(),
            "image {k} out of range ({} images)",
            self.len()
        );
        let shard = self.starts.partition_point(|&s| s <= k) - 1;
        (shard, k - self.starts[shard])
    }

    /// Pixels of image `k`: `S*S*3` bytes, row-major HWC RGB.
    ///
    /// # Panics
    /// If `k >= len()`.
    pub fn image(&self, k: usize) -> &[u8] {
        let (s, i) = self.locate(k);
        let n = self.image_size * self.image_size * 3;
        &self.shards[s].images.data()[i * n..(i + 1) * n]
    }

    /// Label (class index) of image `k`.
    ///
    /// # Panics
    /// If `k >= len()`.
    pub fn label(&self, k: usize) -> i16 {
        let (s, i) = self.locate(k);
        let d = self.shards[s].labels.data();
        i16::from_le_bytes([d[2 * i], d[2 * i + 1]])
    }

    /// The manifest's colour statistics; `needed` says what for, in the
    /// error when they are missing.
    pub fn color_stats(&self, needed: &'static str) -> Result<&ColorStats, LoaderError> {
        color_stats_in(&self.dir, &self.manifest, needed)
    }

    /// The training set's mean image, HWC `S*S*3` on a [0, 1] scale, read
    /// from the float32 `.npy` the manifest names. The file must match the
    /// manifest's SHA-256 when the manifest records one (manifests written
    /// before the field existed do not), and every value must be finite.
    pub fn mean_image(&self) -> Result<Vec<f32>, LoaderError> {
        read_mean_image(&self.dir, &self.manifest)
    }
}

/// [`ShardSet::color_stats`] for the manifest of the dataset in `dir`
/// (also used where no shard is opened, as by prediction).
pub(crate) fn color_stats_in<'m>(
    dir: &Path,
    manifest: &'m Manifest,
    needed: &'static str,
) -> Result<&'m ColorStats, LoaderError> {
    manifest
        .color_stats
        .as_ref()
        .ok_or_else(|| LoaderError::MissingColorStats {
            path: dir.join(MANIFEST_FILE),
            needed,
        })
}

/// [`ShardSet::mean_image`] for the manifest of the dataset in `dir`.
pub(crate) fn read_mean_image(dir: &Path, manifest: &Manifest) -> Result<Vec<f32>, LoaderError> {
    let stats = color_stats_in(dir, manifest, "mean-image subtraction")?;
    check_name(&dir.join(MANIFEST_FILE), &stats.mean_image)?;
    let path = dir.join(&stats.mean_image);
    let s = u64::from(manifest.image_size);
    let npy = map_npy(&path, Dtype::F32, &[s, s, 3])?;
    if let Some(expected) = &stats.mean_image_sha256 {
        // Small (S*S*12 bytes): hashed on every open, not only with
        // `verify`, because a wrong mean shifts every input silently.
        let found = hex(&Sha256::digest(&npy.map[..]));
        if !found.eq_ignore_ascii_case(expected) {
            return Err(LoaderError::npy(
                &path,
                format!(
                    "does not match the manifest's SHA-256 (manifest {expected}, file \
                     {found}); the mean image was changed or damaged after prep wrote it: \
                     re-run prep"
                ),
            ));
        }
    }
    let mean: Vec<f32> = npy
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if let Some(i) = mean.iter().position(|v| !v.is_finite()) {
        return Err(LoaderError::npy(
            &path,
            format!(
                "value {} at element {i} is not finite; the mean image is damaged: re-run prep",
                mean[i]
            ),
        ));
    }
    Ok(mean)
}

/// Refuses a file name from the manifest that is not a plain name inside
/// the dataset directory (`../x`, `/abs`, `a/b`): the loader joins names to
/// the directory, and must never be led to read a file elsewhere.
fn check_name(manifest: &Path, name: &str) -> Result<(), LoaderError> {
    check_file_name(name).map_err(|message| LoaderError::Manifest {
        path: manifest.to_path_buf(),
        message,
    })
}

/// Reads and version-checks the manifest at `path`.
pub(crate) fn read_manifest(path: &Path) -> Result<Manifest, LoaderError> {
    let text = std::fs::read_to_string(path).map_err(|e| LoaderError::io(path, e))?;
    let bad = |message: String| LoaderError::Manifest {
        path: path.to_path_buf(),
        message,
    };
    // Check the version before the shape, so a manifest of another version
    // gets the version error rather than a confusing field error.
    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let found = value
        .get("format_version")
        .and_then(serde_json::Value::as_u64)
        .ok_or_else(|| bad("no numeric format_version".into()))?;
    if !is_readable_version(found) {
        return Err(LoaderError::FormatVersion {
            path: path.to_path_buf(),
            found: u32::try_from(found).unwrap_or(u32::MAX),
            expected: FORMAT_VERSION,
            oldest: OLDEST_READABLE_VERSION,
        });
    }
    serde_json::from_value(value).map_err(|e| bad(e.to_string()))
}

fn map_shard(
    dir: &Path,
    shard: &Shard,
    image_size: usize,
    num_classes: usize,
) -> Result<MappedShard, LoaderError> {
    let s = image_size as u64;
    let images = map_npy(&dir.join(&shard.images), Dtype::U8, &[shard.count, s, s, 3])?;
    let labels = map_npy(&dir.join(&shard.labels), Dtype::I16, &[shard.count])?;
    for (i, b) in labels.data().chunks_exact(2).enumerate() {
        let label = i16::from_le_bytes([b[0], b[1]]);
        if label < 0 || label as usize >= num_classes {
            return Err(LoaderError::npy(
                &labels.path,
                format!("label {label} of image {i} is outside 0..{num_classes}"),
            ));
        }
    }
    Ok(MappedShard { images, labels })
}

/// Maps `path` and checks that it is a C-order `.npy` of `dtype` with
/// exactly `shape` and exactly the bytes that shape needs.
fn map_npy(path: &Path, dtype: Dtype, shape: &[u64]) -> Result<MappedNpy, LoaderError> {
    let item = dtype.size() as u64;
    let file = File::open(path).map_err(|e| LoaderError::io(path, e))?;
    let len = file.metadata().map_err(|e| LoaderError::io(path, e))?.len();
    if len == 0 {
        return Err(LoaderError::npy(path, "empty file"));
    }
    // SAFETY: the mapping is read-only; the shards are immutable once
    // written (atomic rename), so nobody truncates or rewrites them while
    // they are mapped.
    let map = unsafe { Mmap::map(&file) }.map_err(|e| LoaderError::io(path, e))?;
    let header = parse_header(&map).map_err(|m| LoaderError::npy(path, m))?;
    // (Unknown dtypes and Fortran order are refused by the parser.)
    if header.dtype != dtype {
        return Err(LoaderError::npy(
            path,
            format!(
                "dtype '{}', expected '{}'",
                header.dtype.descr(),
                dtype.descr()
            ),
        ));
    }
    if header.shape != shape {
        return Err(LoaderError::npy(
            path,
            format!(
                "shape {:?}, expected {shape:?} (from the manifest)",
                header.shape
            ),
        ));
    }
    let want = shape
        .iter()
        .try_fold(item, |a, &d| a.checked_mul(d))
        .ok_or_else(|| LoaderError::npy(path, format!("shape {shape:?} is too large")))?;
    let have = len - header.data_offset as u64;
    if have != want {
        let what = if have < want { "truncated" } else { "too long" };
        return Err(LoaderError::npy(
            path,
            format!("{what}: {have} bytes of data, shape {shape:?} needs {want}"),
        ));
    }
    Ok(MappedNpy {
        path: path.to_path_buf(),
        map,
        data_offset: header.data_offset,
    })
}

fn verify_checksums(maps: &[MappedShard], shards: &[Shard]) -> Result<(), LoaderError> {
    let jobs: Vec<(&MappedNpy, &str)> = maps
        .iter()
        .zip(shards)
        .flat_map(|(m, s)| {
            [
                (&m.images, s.images_sha256.as_str()),
                (&m.labels, s.labels_sha256.as_str()),
            ]
        })
        .collect();
    jobs.par_iter().try_for_each(|(npy, expected)| {
        let found = hex(&Sha256::digest(&npy.map[..]));
        if found.eq_ignore_ascii_case(expected) {
            Ok(())
        } else {
            Err(LoaderError::Checksum {
                path: npy.path.clone(),
                expected: expected.to_string(),
                found,
            })
        }
    })
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loader::synthetic::{SyntheticShards, write_synthetic_shards};

    fn dataset() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let cfg = SyntheticShards {
            image_size: 8,
            classes: 2,
            train: 4,
            val: 2,
            shard_size: 2,
            seed: 1,
        };
        write_synthetic_shards(dir.path(), &cfg).unwrap();
        dir
    }

    #[test]
    fn a_mean_image_that_does_not_match_the_manifest_is_refused() {
        let dir = dataset();
        let set = ShardSet::open(dir.path(), SplitName::Train).unwrap();
        assert_eq!(set.mean_image().unwrap().len(), 8 * 8 * 3);
        let path = dir.path().join("mean_image.npy");
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let e = set.mean_image().unwrap_err().to_string();
        assert!(
            e.contains("mean_image.npy: does not match the manifest's SHA-256")
                && e.contains("re-run prep"),
            "{e}"
        );
    }

    #[test]
    fn file_names_outside_the_dataset_directory_are_refused() {
        let dir = dataset();
        let path = dir.path().join(MANIFEST_FILE);
        let original: Manifest = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for bad in ["../train-00000.npy", "/etc/passwd", "sub\\x.npy", ".."] {
            let mut m = original.clone();
            m.train.as_mut().unwrap().shards[0].labels = bad.into();
            std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
            let e = ShardSet::open(dir.path(), SplitName::Train).unwrap_err();
            assert!(matches!(e, LoaderError::Manifest { .. }), "{bad}: {e}");
            assert!(e.to_string().contains(&format!("{bad:?}")), "{e}");
        }
        let mut m = original.clone();
        m.color_stats.as_mut().unwrap().mean_image = "../mean_image.npy".into();
        std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
        let set = ShardSet::open(dir.path(), SplitName::Train).unwrap();
        let e = set.mean_image().unwrap_err();
        assert!(matches!(e, LoaderError::Manifest { .. }), "{e}");
    }
}
