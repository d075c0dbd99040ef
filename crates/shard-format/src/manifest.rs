//! `manifest.json`: the contract between `imagenet-prep` and every reader of
//! its output. `docs/FORMAT.md` documents the same layout for readers that
//! do not use this crate.

use serde::{Deserialize, Serialize};

/// Version of the on-disk format; bumped on any incompatible change.
/// 2: classes carry `name`, and `wnid` is `null` for classes that are not
/// WordNet synsets (ImageFolder datasets).
pub const FORMAT_VERSION: u32 = 2;

/// The oldest format version readers still accept. Version 1 differs only
/// in its classes (no `name`; `wnid` always a string, the class folder's
/// name), which [`ClassInfo`]'s reader turns into version 2's.
pub const OLDEST_READABLE_VERSION: u32 = 1;

/// Whether this code reads manifests of format `version`.
pub fn is_readable_version(version: u64) -> bool {
    (u64::from(OLDEST_READABLE_VERSION)..=u64::from(FORMAT_VERSION)).contains(&version)
}

/// File name of the manifest inside an output directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Everything a reader needs to find, check and interpret the shards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT_VERSION`] for files written by this crate.
    pub format_version: u32,
    /// Side of the square images in every shard (256).
    pub image_size: u32,
    /// Classes in index order: `classes[i].index == i`, sorted by name
    /// (WNID for ILSVRC-2012, class folder name for ImageFolder trees).
    pub classes: Vec<ClassInfo>,
    /// The training split, if it was prepared.
    pub train: Option<Split>,
    /// The validation split, if it was prepared.
    pub val: Option<Split>,
    /// Fingerprints of the inputs the shards were made from.
    pub sources: Vec<Source>,
    /// Inputs left out, and why (only with `--skip-bad`): files that could
    /// not be decoded, and validation images the ground truth lists but the
    /// input lacks.
    pub rejected: Vec<Rejected>,
    /// Colour statistics of the training split; `None` without a train split.
    pub color_stats: Option<ColorStats>,
}

/// One class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ClassInfoOnDisk")]
pub struct ClassInfo {
    /// Position in sorted-name order (torchvision's convention).
    pub index: u32,
    /// The class's name as the dataset gives it: the WNID (`n01440764`)
    /// for ILSVRC-2012, the class folder's name (`airplane`) for an
    /// ImageFolder tree.
    pub name: String,
    /// WordNet ID, e.g. `n01440764`, when the classes are WordNet synsets
    /// (every ILSVRC layout, and class folders all named like WNIDs).
    pub wnid: Option<String>,
    /// Human-readable synonyms from the devkit, e.g. `tench, Tinca tinca`
    /// (empty when the dataset has none).
    pub words: String,
    /// The devkit's ILSVRC2012_ID (1-based, not in WNID order), if known.
    pub ilsvrc2012_id: Option<u32>,
}

impl ClassInfo {
    /// A class named `name`, which is also its WNID when it looks like one
    /// (`n` and eight digits), with no words or ILSVRC2012_ID.
    pub fn named(index: u32, name: String) -> Self {
        ClassInfo {
            index,
            wnid: looks_like_wnid(&name).then(|| name.clone()),
            name,
            words: String::new(),
            ilsvrc2012_id: None,
        }
    }
}

/// Whether `s` has a WordNet noun ID's shape: `n` and eight digits.
pub fn looks_like_wnid(s: &str) -> bool {
    s.len() == 9 && s.starts_with('n') && s[1..].bytes().all(|b| b.is_ascii_digit())
}

/// A class as either format version stores it: version 1 has no `name`
/// and a string `wnid` (which then is the name).
#[derive(Deserialize)]
struct ClassInfoOnDisk {
    index: u32,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    wnid: Option<String>,
    words: String,
    ilsvrc2012_id: Option<u32>,
}

impl TryFrom<ClassInfoOnDisk> for ClassInfo {
    type Error = String;
    fn try_from(c: ClassInfoOnDisk) -> Result<Self, String> {
        let name = c
            .name
            .or_else(|| c.wnid.clone())
            .ok_or_else(|| format!("class {} has neither a name nor a wnid", c.index))?;
        Ok(ClassInfo {
            index: c.index,
            name,
            wnid: c.wnid,
            words: c.words,
            ilsvrc2012_id: c.ilsvrc2012_id,
        })
    }
}

/// One split (train or val): its shards in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Split {
    /// Total images over all shards.
    pub num_images: u64,
    /// Shards in order; image `k` of the split is in the shard whose
    /// `[first_index, first_index + count)` range holds `k`.
    pub shards: Vec<Shard>,
}

/// One shard: a pixel `.npy` and a label `.npy` of equal length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shard {
    /// Pixel file, relative to the manifest's directory: uint8 `(N, S, S, 3)`.
    pub images: String,
    /// Label file, relative to the manifest's directory: int16 `(N,)`.
    pub labels: String,
    /// Number of images `N`.
    pub count: u64,
    /// Index of this shard's first image within its split.
    pub first_index: u64,
    /// Lower-case hex SHA-256 of the whole pixel `.npy` file.
    pub images_sha256: String,
    /// Lower-case hex SHA-256 of the whole label `.npy` file.
    pub labels_sha256: String,
    /// Source name of each image (archive member path), in shard order.
    pub sources: Vec<String>,
}

/// Fingerprint of one input archive or folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// Path as given on the command line.
    pub path: String,
    /// `archive` (a tar/tar.gz), `directory`, or `file` (a label or
    /// mapping file of the Kaggle layout).
    pub kind: String,
    /// Size in bytes (archives) or number of files (directories).
    pub size: u64,
    /// Modification time, seconds since the Unix epoch.
    pub modified_unix: u64,
}

/// An input image that was skipped, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    /// `archive.tar:inner.tar:member.JPEG` or a file path.
    pub source: String,
    /// Why it could not be used.
    pub reason: String,
}

/// Colour statistics of the training split, on a [0, 1] pixel scale,
/// accumulated in f64 over every pixel of every 256×256 training image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColorStats {
    /// Images the statistics were computed over.
    pub num_images: u64,
    /// Per-channel mean, RGB.
    pub mean: [f64; 3],
    /// Per-channel standard deviation, RGB.
    pub std: [f64; 3],
    /// 3×3 RGB covariance.
    pub covariance: [[f64; 3]; 3],
    /// Eigenvalues of the covariance, descending.
    pub eigenvalues: [f64; 3],
    /// Eigenvectors as columns: `eigenvectors[c][j]` is channel `c` of the
    /// eigenvector of `eigenvalues[j]` (the layout of fb.resnet.torch's
    /// `eigvec`, whose rows are {-0.5675, 0.7192, 0.4009}, ...).
    pub eigenvectors: [[f64; 3]; 3],
    /// The mean image: float32 `.npy` `(S, S, 3)`, relative to the manifest.
    pub mean_image: String,
    /// Lower-case hex SHA-256 of the whole mean-image `.npy` file. Absent
    /// (`None`) only in manifests written before the field existed; readers
    /// then skip the check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_image_sha256: Option<String>,
}

/// Checks that `name`, a file name read from a manifest, names a file
/// directly inside the manifest's directory: not empty, not `.` or `..`,
/// and without `/`, `\\`, `:` (a Windows drive) or NUL. Readers join such
/// names to the dataset directory, so anything else could make them read
/// (or a resumed run trust) a file elsewhere on the disk. The error says
/// what is wrong with the name.
pub fn check_file_name(name: &str) -> Result<(), String> {
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name == "." || name == ".." {
        Some("is a directory reference")
    } else if name.contains(['/', '\\']) {
        Some("contains a path separator")
    } else if name.contains(':') {
        Some("contains ':' (a drive or stream name on Windows)")
    } else if name.contains('\0') {
        Some("contains a NUL byte")
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(p) => Err(format!(
            "file name {name:?} {p}; a manifest may only name files in its own directory, so this \
             one is refused (re-run prep to rewrite the manifest)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_file_names_pass() {
        for good in ["train-00000.npy", "mean_image.npy", "a..b.npy", "..hidden"] {
            assert!(check_file_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../train-00000.npy",
            "sub/train-00000.npy",
            "/etc/passwd",
            "..\\x.npy",
            "C:x.npy",
            "a\0b",
        ] {
            let e = check_file_name(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
    }

    #[test]
    fn version_1_classes_read_as_version_2() {
        let v1 = r#"{"index": 3, "wnid": "n01440764", "words": "tench", "ilsvrc2012_id": 449}"#;
        let c: ClassInfo = serde_json::from_str(v1).unwrap();
        assert_eq!(c.name, "n01440764");
        assert_eq!(c.wnid.as_deref(), Some("n01440764"));
        // A version-1 ImageFolder class kept its folder name in `wnid`.
        let v1 = r#"{"index": 0, "wnid": "airplane", "words": "", "ilsvrc2012_id": null}"#;
        let c: ClassInfo = serde_json::from_str(v1).unwrap();
        assert_eq!(c.name, "airplane");
        let v2 = ClassInfo::named(0, "airplane".into());
        assert_eq!(v2.wnid, None);
        let json = serde_json::to_string(&v2).unwrap();
        assert!(json.contains(r#""name":"airplane""#) && json.contains(r#""wnid":null"#));
        assert_eq!(serde_json::from_str::<ClassInfo>(&json).unwrap(), v2);
        let none = r#"{"index": 0, "words": "", "ilsvrc2012_id": null}"#;
        let e = serde_json::from_str::<ClassInfo>(none)
            .unwrap_err()
            .to_string();
        assert!(e.contains("neither a name nor a wnid"), "{e}");
    }

    #[test]
    fn wnid_shapes() {
        assert!(looks_like_wnid("n01440764"));
        for no in [
            "airplane",
            "n0144076",
            "n014407640",
            "N01440764",
            "n0144076x",
            "",
        ] {
            assert!(!looks_like_wnid(no), "{no}");
        }
        assert_eq!(
            ClassInfo::named(1, "n01440764".into()).wnid.as_deref(),
            Some("n01440764")
        );
    }

    #[test]
    fn readable_versions() {
        assert!(is_readable_version(1) && is_readable_version(2));
        assert!(!is_readable_version(0) && !is_readable_version(3));
    }

    #[test]
    fn old_color_stats_without_a_mean_checksum_still_load() {
        let json = r#"{"num_images": 1, "mean": [0.5, 0.5, 0.5], "std": [0.1, 0.1, 0.1],
            "covariance": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "eigenvalues": [1, 1, 1],
            "eigenvectors": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "mean_image": "mean_image.npy"}"#;
        let cs: ColorStats = serde_json::from_str(json).unwrap();
        assert_eq!(cs.mean_image_sha256, None);
        let back = serde_json::to_string(&cs).unwrap();
        assert!(!back.contains("mean_image_sha256"), "{back}");
    }
}
