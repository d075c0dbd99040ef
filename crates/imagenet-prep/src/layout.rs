//! Finding the inputs and turning them into an ordered, labelled list of
//! images per split (a [`Plan`]), for the supported layouts:
//!
//! - **archives**: `ILSVRC2012_img_train.tar`, `ILSVRC2012_img_val.tar`,
//!   `ILSVRC2012_devkit_t12.tar.gz` (either split may be absent);
//! - **ImageFolder** (torchvision's): `train/<class>/…` and `val/<class>/…`,
//!   any class names, images at any depth below their class folder;
//! - **folders** (ILSVRC-2012 extracted): `train/<wnid>/*`, and `val/` flat,
//!   labelled by the devkit (as a `.tar.gz` or extracted
//!   `ILSVRC2012_devkit_t12/` beside it), or per class `val/<wnid>/*`;
//! - **Kaggle**: `LOC_synset_mapping.txt`, `LOC_val_solution.csv`,
//!   `ILSVRC/Data/CLS-LOC/{train,val}`.
//!
//! Order (the shard order): by class index, then within a class folder as
//! torchvision's `ImageFolder` orders it (by folder path, then file name;
//! byte order), archive members by member name; flat val labelled by the
//! devkit by the number in the file name (the same as file-name order for
//! the official names), Kaggle's flat val by file name. Class index =
//! position in sorted-name order (WNIDs for ILSVRC-2012, class folder
//! names for ImageFolder: `ImageFolder`'s numbering).
//!
//! Flat validation images are labelled by the number in their names: line
//! `k` of the devkit's ground truth is the label of `ILSVRC2012_val_<k>`
//! (Kaggle: the row of the image's ImageId), never by position, so a missing
//! or extra file cannot shift the labels of the others. A file whose name
//! has no such number (or one the ground truth does not reach) is an error
//! naming it; images the ground truth lists but the input lacks are
//! reported by name ([`MissingVal`]). Only files whose extension is one of
//! [`PlanOptions::extensions`] (by default `.jpeg`, `.jpg`, `.png`, in any
//! case) are read as images, in every split and layout; other files
//! (`README.txt`, checksums) are ignored, and the output directory is never
//! read as input when it lies inside the input tree. Hidden entries (names
//! starting with `.`) are skipped; symbolic links are followed, and one
//! that leads back into a folder containing it is an error.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::archive::{Location, Member, list_tar, looks_gzipped};
use crate::error::PrepError;
use shard_format::SplitName;
use shard_format::manifest::{ClassInfo, Rejected, Source};

/// File names of the official archives.
pub const TRAIN_TAR: &str = "ILSVRC2012_img_train.tar";
/// Validation archive name.
pub const VAL_TAR: &str = "ILSVRC2012_img_val.tar";
/// Devkit archive name.
pub const DEVKIT_TGZ: &str = "ILSVRC2012_devkit_t12.tar.gz";
/// Extracted devkit folder name.
pub const DEVKIT_DIR: &str = "ILSVRC2012_devkit_t12";
const META_MAT: &str = "data/meta.mat";
const GROUND_TRUTH: &str = "data/ILSVRC2012_validation_ground_truth.txt";
const KAGGLE_MAPPING: &str = "LOC_synset_mapping.txt";
const KAGGLE_VAL_CSV: &str = "LOC_val_solution.csv";
const KAGGLE_DATA: &str = "ILSVRC/Data/CLS-LOC";
/// Prefix of the official validation file names.
const VAL_PREFIX: &str = "ILSVRC2012_val_";

/// Extensions (compared in any case) of the files read as images. Other
/// files in the input folders and archives are ignored; the image format
/// itself is detected by content, never by name.
pub const IMAGE_EXTENSIONS: [&str; 3] = ["jpeg", "jpg", "png"];

/// Whether `name` (a file name, or a member path with directories) ends in
/// one of [`IMAGE_EXTENSIONS`], in any case.
pub fn is_image_name(name: &str) -> bool {
    has_extension(name, &IMAGE_EXTENSIONS)
}

/// Whether `name` (a file name, or a member path with directories) has a
/// non-empty stem and one of `extensions` (compared in any case).
pub fn has_extension(name: &str, extensions: &[impl AsRef<str>]) -> bool {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    base.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty()
            && extensions
                .iter()
                .any(|e| ext.eq_ignore_ascii_case(e.as_ref()))
    })
}

/// The extensions of [`IMAGE_EXTENSIONS`], owned.
pub fn default_extensions() -> Vec<String> {
    IMAGE_EXTENSIONS.iter().map(|e| e.to_string()).collect()
}

/// `extensions` as [`PlanOptions::extensions`] wants them: lower case,
/// without a leading dot, each once, at least one. An empty entry, or one
/// holding a dot, a path separator or whitespace, is an error naming it.
pub fn normalize_extensions(extensions: &[String]) -> Result<Vec<String>, PrepError> {
    let given = extensions.join(",");
    let bad = |detail: String| PrepError::BadExtensions {
        given: given.clone(),
        detail,
    };
    let mut out: Vec<String> = Vec::new();
    for e in extensions {
        let e = e.trim();
        let e = e.strip_prefix('.').unwrap_or(e);
        if e.is_empty() {
            return Err(bad("an extension is empty".into()));
        }
        if e.contains(['.', '/', '\\']) || e.chars().any(char::is_whitespace) {
            return Err(bad(format!(
                "{e:?} is not a file extension (give them like jpg,jpeg,png)"
            )));
        }
        let e = e.to_ascii_lowercase();
        if !out.contains(&e) {
            out.push(e);
        }
    }
    if out.is_empty() {
        return Err(bad("no extension given".into()));
    }
    Ok(out)
}

/// What [`plan`] lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOptions {
    /// Splits to list; `None`: every split the input has.
    pub splits: Option<Vec<SplitName>>,
    /// A directory never listed: the output directory, which may lie
    /// inside the input tree (`--out val/prepped`).
    pub exclude: Option<PathBuf>,
    /// Extensions (compared in any case, without the dot) of the files read
    /// as images; see [`normalize_extensions`].
    pub extensions: Vec<String>,
}

impl Default for PlanOptions {
    /// Every split, nothing excluded, [`IMAGE_EXTENSIONS`].
    fn default() -> Self {
        PlanOptions {
            splits: None,
            exclude: None,
            extensions: default_extensions(),
        }
    }
}

/// How a listing goes: which files are images, and which directory (the
/// output, canonical) is never entered.
#[derive(Debug, Clone, Copy)]
struct Scan<'a> {
    skip: Option<&'a Path>,
    extensions: &'a [String],
}

impl Scan<'_> {
    fn is_image(&self, name: &str) -> bool {
        has_extension(name, self.extensions)
    }

    /// The extensions, for messages: `.jpeg, .jpg, .png`.
    fn described(&self) -> String {
        self.extensions
            .iter()
            .map(|e| format!(".{e}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Which convention a folder is read by, so that its errors speak of it:
/// ILSVRC-2012's (classes are WNIDs) or ImageFolder's (any class names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Ilsvrc,
    ImageFolder,
}

impl Shape {
    fn error(self, path: PathBuf, detail: String) -> PrepError {
        match self {
            Shape::Ilsvrc => PrepError::NotIlsvrc { path, detail },
            Shape::ImageFolder => PrepError::NotImageFolder { path, detail },
        }
    }

    /// How a class folder is written in messages.
    fn class_folder(self) -> &'static str {
        match self {
            Shape::Ilsvrc => "<wnid>/",
            Shape::ImageFolder => "<class>/",
        }
    }
}

/// The number `k` of a validation image named `ILSVRC2012_val_<k>.<ext>`
/// (directories before the name are ignored, the prefix is compared in any
/// case), or `None` when the name has no such number. A number too large
/// for `u64` comes back as `u64::MAX` (beyond any ground truth).
pub fn val_number(name: &str) -> Option<u64> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let stem = base.rsplit_once('.').map_or(base, |(stem, _)| stem);
    let digits = stem
        .get(..VAL_PREFIX.len())
        .filter(|p| p.eq_ignore_ascii_case(VAL_PREFIX))
        .and(stem.get(VAL_PREFIX.len()..))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse().unwrap_or(u64::MAX))
}

/// The official name of validation image number `k`.
fn val_name(k: usize) -> String {
    format!("{VAL_PREFIX}{k:08}.JPEG")
}

/// One input image.
#[derive(Debug, Clone)]
pub struct Item {
    /// Its name in reports and the manifest: `archive.tar:inner.tar:member`
    /// or a path relative to the input directory.
    pub source: String,
    /// Class index.
    pub label: i16,
    /// Where its bytes are.
    pub location: Location,
}

/// Which layout the input was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The official tar archives.
    Archives,
    /// ILSVRC-2012's extracted folders, labelled by its devkit.
    Folders,
    /// torchvision's ImageFolder: class folders with any names, no devkit.
    ImageFolder,
    /// Kaggle's layout.
    Kaggle,
}

/// Everything `prepare` needs to know about the input.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Detected layout.
    pub layout: Layout,
    /// Classes in index order.
    pub classes: Vec<ClassInfo>,
    /// Training images in shard order (if the split is prepared).
    pub train: Option<Vec<Item>>,
    /// Validation images in shard order (if the split is prepared).
    pub val: Option<Vec<Item>>,
    /// Fingerprints of the inputs.
    pub sources: Vec<Source>,
    /// Validation images the labels file lists but the input lacks (`None`
    /// when none is missing). `prepare` fails on them unless `skip_bad`,
    /// which lists them in the manifest's `rejected`.
    pub val_missing: Option<MissingVal>,
}

/// Validation images that the ground truth (or Kaggle's CSV) lists but the
/// input does not have. The images present are labelled by their own
/// numbers (names), so none of them is affected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingVal {
    /// The validation folder or archive.
    pub path: PathBuf,
    /// The labels file that lists the missing images.
    pub labels: PathBuf,
    /// Number of images the labels file lists.
    pub expected: usize,
    /// Source name each missing image would have had, in number order.
    pub missing: Vec<String>,
}

impl MissingVal {
    /// The error `prepare` reports without `skip_bad`.
    pub fn to_error(&self) -> PrepError {
        PrepError::MissingVal {
            path: self.path.clone(),
            labels: self.labels.clone(),
            expected: self.expected,
            missing: self.missing.clone(),
        }
    }

    /// The manifest entries `prepare` records with `skip_bad`.
    pub fn rejected(&self) -> Vec<Rejected> {
        let reason = format!(
            "missing: {} lists this validation image, but the input does not have it",
            self.labels.display()
        );
        self.missing
            .iter()
            .map(|source| Rejected {
                source: source.clone(),
                reason: reason.clone(),
            })
            .collect()
    }
}

impl Plan {
    /// The items of one split.
    pub fn split(&self, name: SplitName) -> Option<&Vec<Item>> {
        match name {
            SplitName::Train => self.train.as_ref(),
            SplitName::Val => self.val.as_ref(),
        }
    }
}

/// Detects the layout under `input` and lists the images of the wanted
/// splits, as `options` says.
pub fn plan(input: &Path, options: &PlanOptions) -> Result<Plan, PrepError> {
    let want = options.splits.as_deref();
    let extensions = normalize_extensions(&options.extensions)?;
    // Compared with every directory met while listing, as canonical paths
    // (an output directory that does not exist yet holds nothing to skip).
    let skip = options
        .exclude
        .as_deref()
        .and_then(|o| std::fs::canonicalize(o).ok());
    let scan = Scan {
        skip: skip.as_deref(),
        extensions: &extensions,
    };
    if !input.exists() {
        return Err(PrepError::MissingInput {
            path: input.to_path_buf(),
            what: "the input directory".into(),
        });
    }
    if !input.is_dir() {
        return Err(PrepError::MissingInput {
            path: input.to_path_buf(),
            what: "a directory holding the archives or extracted folders (this is a file)".into(),
        });
    }
    let mut plan = if input.join(KAGGLE_MAPPING).exists() || input.join(KAGGLE_DATA).is_dir() {
        kaggle(input, want, scan)?
    } else if [TRAIN_TAR, VAL_TAR].iter().any(|f| input.join(f).exists()) {
        archives(input, want, scan)?
    } else if input.join("train").is_dir() || input.join("val").is_dir() {
        folders(input, want, scan)?
    } else {
        // The official archives, but compressed: say how to get the tar.
        for name in [TRAIN_TAR, VAL_TAR] {
            let gz = input.join(format!("{name}.gz"));
            if gz.is_file() {
                return Err(PrepError::Gzipped {
                    hint: format!(
                        "gunzip {}, which leaves {name} in its place",
                        shell_word(&gz.display().to_string())
                    ),
                    path: gz,
                });
            }
        }
        return Err(PrepError::UnknownLayout {
            path: input.to_path_buf(),
        });
    };
    if plan.classes.len() > i16::MAX as usize {
        return Err(PrepError::NotIlsvrc {
            path: input.to_path_buf(),
            detail: format!("{} classes do not fit int16 labels", plan.classes.len()),
        });
    }
    if plan.train.is_none() && plan.val.is_none() {
        return Err(PrepError::NotIlsvrc {
            path: input.to_path_buf(),
            detail: "no split to prepare".into(),
        });
    }
    plan.sources.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(plan)
}

/// Whether split `s` should be prepared, given what is present. Errors if
/// it was asked for explicitly but is absent.
fn wanted(
    want: Option<&[SplitName]>,
    s: SplitName,
    present: bool,
    where_: &Path,
) -> Result<bool, PrepError> {
    match want {
        None => Ok(present),
        Some(list) if list.contains(&s) => {
            if present {
                Ok(true)
            } else {
                Err(PrepError::MissingInput {
                    path: where_.to_path_buf(),
                    what: format!("the {} split was requested", s.as_str()),
                })
            }
        }
        Some(_) => Ok(false),
    }
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> PrepError + '_ {
    move |e| PrepError::io(path, e)
}

fn modified_unix(meta: &std::fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

fn archive_source(path: &Path) -> Result<Source, PrepError> {
    file_source(path, "archive")
}

fn file_source(path: &Path, kind: &str) -> Result<Source, PrepError> {
    let meta = std::fs::metadata(path).map_err(io_err(path))?;
    Ok(Source {
        path: path.display().to_string(),
        kind: kind.into(),
        size: meta.len(),
        modified_unix: modified_unix(&meta),
    })
}

fn dir_source(path: &Path, files: usize) -> Result<Source, PrepError> {
    let meta = std::fs::metadata(path).map_err(io_err(path))?;
    Ok(Source {
        path: path.display().to_string(),
        kind: "directory".into(),
        size: files as u64,
        modified_unix: modified_unix(&meta),
    })
}

/// The devkit's classes (leaves, sorted by WNID) and its ground truth.
struct Devkit {
    path: PathBuf,
    classes: Vec<ClassInfo>,
    /// ILSVRC2012_ID of each validation image: `ground_truth[k - 1]` is
    /// that of `ILSVRC2012_val_<k>` (line `k` of the file).
    ground_truth: Option<Vec<u32>>,
}

/// A flat validation image before it is labelled.
struct ValFile {
    /// Its name as stored: file name, or archive member path.
    name: String,
    /// Where it is, for error messages (`dir/file` or `archive.tar:member`).
    shown: PathBuf,
    /// Its source name in the manifest.
    source: String,
    /// Where its bytes are.
    location: Location,
}

impl Devkit {
    fn gt_path(&self) -> PathBuf {
        PathBuf::from(format!("{}:{GROUND_TRUTH}", self.path.display()))
    }

    /// Class index of every line of the ground truth: `labels[k - 1]` is
    /// the label of `ILSVRC2012_val_<k>`.
    fn val_labels(&self) -> Result<Vec<i16>, PrepError> {
        let gt = self
            .ground_truth
            .as_ref()
            .ok_or_else(|| PrepError::BadGroundTruth {
                path: self.path.clone(),
                detail: format!(
                    "devkit has no {GROUND_TRUTH}, which the validation images need for their labels"
                ),
            })?;
        if gt.is_empty() {
            return Err(PrepError::BadGroundTruth {
                path: self.gt_path(),
                detail: "holds no labels (expected one ILSVRC2012_ID per validation image)".into(),
            });
        }
        let by_id: HashMap<u32, i16> = self
            .classes
            .iter()
            .filter_map(|c| c.ilsvrc2012_id.map(|id| (id, c.index as i16)))
            .collect();
        gt.iter()
            .enumerate()
            .map(|(line, id)| {
                by_id
                    .get(id)
                    .copied()
                    .ok_or_else(|| PrepError::BadGroundTruth {
                        path: self.gt_path(),
                        detail: format!(
                            "line {}: ILSVRC2012_ID {id} is not a leaf class of meta.mat",
                            line + 1
                        ),
                    })
            })
            .collect()
    }

    /// Labels flat validation images by the number in their names (line
    /// `k` of the ground truth labels `ILSVRC2012_val_<k>`), in number
    /// order. `val` is the folder or archive holding them (for messages);
    /// `source_of` turns an official file name into the source name a
    /// missing image would have had.
    fn label_by_number(
        &self,
        val: &Path,
        files: Vec<ValFile>,
        source_of: impl Fn(&str) -> String,
    ) -> Result<(Vec<Item>, Option<MissingVal>), PrepError> {
        let labels = self.val_labels()?;
        let gt = self.gt_path();
        let mut by_number: Vec<Option<ValFile>> = (0..labels.len()).map(|_| None).collect();
        for f in files {
            let Some(n) = val_number(&f.name) else {
                return Err(PrepError::UnlabelledVal {
                    path: f.shown,
                    detail: format!(
                        "its name has no image number. Flat validation images are labelled by \
                         the number k in {VAL_PREFIX}<k>.JPEG (line k of {}); give the file its \
                         original name, or move it out of {}",
                        gt.display(),
                        val.display()
                    ),
                });
            };
            let slot = usize::try_from(n)
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| by_number.get_mut(i));
            let Some(slot) = slot else {
                return Err(PrepError::UnlabelledVal {
                    path: f.shown,
                    detail: format!(
                        "its number {n} has no line in {}, which labels images 1 to {}; check \
                         that the devkit belongs to these validation images, or move the file \
                         out of {}",
                        gt.display(),
                        labels.len(),
                        val.display()
                    ),
                });
            };
            if let Some(first) = slot {
                return Err(PrepError::UnlabelledVal {
                    path: f.shown,
                    detail: format!(
                        "it has the same number {n} as {}; keep only one of them",
                        first.shown.display()
                    ),
                });
            }
            *slot = Some(f);
        }
        let mut items = Vec::new();
        let mut missing = Vec::new();
        for (i, (slot, label)) in by_number.into_iter().zip(labels).enumerate() {
            match slot {
                Some(f) => items.push(Item {
                    source: f.source,
                    label,
                    location: f.location,
                }),
                None => missing.push(source_of(&val_name(i + 1))),
            }
        }
        let missing = (!missing.is_empty()).then(|| MissingVal {
            path: val.to_path_buf(),
            labels: gt,
            expected: items.len() + missing.len(),
            missing,
        });
        Ok((items, missing))
    }
}

fn parse_devkit(
    path: &Path,
    meta: Option<Vec<u8>>,
    gt: Option<Vec<u8>>,
) -> Result<Devkit, PrepError> {
    let meta = meta.ok_or_else(|| PrepError::NoMetaMat {
        path: path.to_path_buf(),
    })?;
    let synsets = crate::mat::read_synsets(&meta).map_err(|e| PrepError::BadMetaMat {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    let mut leaves: Vec<_> = synsets.into_iter().filter(|s| s.is_leaf()).collect();
    if leaves.is_empty() {
        return Err(PrepError::BadMetaMat {
            path: path.to_path_buf(),
            detail: "no leaf synsets (num_children == 0)".into(),
        });
    }
    leaves.sort_by(|a, b| a.wnid.cmp(&b.wnid));
    if let Some(w) = leaves.windows(2).find(|w| w[0].wnid == w[1].wnid) {
        return Err(PrepError::BadMetaMat {
            path: path.to_path_buf(),
            detail: format!("WNID {} appears twice", w[0].wnid.escape_debug()),
        });
    }
    let classes = leaves
        .into_iter()
        .enumerate()
        .map(|(i, s)| ClassInfo {
            index: i as u32,
            name: s.wnid.clone(),
            wnid: Some(s.wnid),
            words: s.words,
            ilsvrc2012_id: Some(s.ilsvrc2012_id),
        })
        .collect();
    let ground_truth = match gt {
        None => None,
        Some(bytes) => {
            let gt_path = PathBuf::from(format!("{}:{GROUND_TRUTH}", path.display()));
            let text = String::from_utf8(bytes).map_err(|_| PrepError::BadGroundTruth {
                path: gt_path.clone(),
                detail: "not text".into(),
            })?;
            // Line k labels image k: a blank line inside the file would
            // shift every later label, so only trailing ones are allowed.
            let mut lines: Vec<&str> = text.lines().map(str::trim).collect();
            while lines.last().is_some_and(|l| l.is_empty()) {
                lines.pop();
            }
            let ids = lines
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let detail = if l.is_empty() {
                        format!(
                            "line {}: empty, but line k must hold the ILSVRC2012_ID of \
                             {VAL_PREFIX}<k>.JPEG; use the devkit's original file",
                            i + 1
                        )
                    } else {
                        format!("line {}: {l:?} is not a class ID", i + 1)
                    };
                    l.parse::<u32>().map_err(|_| PrepError::BadGroundTruth {
                        path: gt_path.clone(),
                        detail,
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Some(ids)
        }
    };
    Ok(Devkit {
        path: path.to_path_buf(),
        classes,
        ground_truth,
    })
}

/// Reads the devkit from `input` (archive or extracted folder), if present.
fn find_devkit(input: &Path) -> Result<Option<Devkit>, PrepError> {
    let tgz = input.join(DEVKIT_TGZ);
    if tgz.exists() {
        let file = File::open(&tgz).map_err(io_err(&tgz))?;
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
        let not_tar = |e: std::io::Error| PrepError::NotATar {
            path: tgz.clone(),
            detail: e.to_string(),
        };
        let (mut meta, mut gt) = (None, None);
        for entry in archive.entries().map_err(not_tar)? {
            let mut entry = entry.map_err(not_tar)?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let slot = if name.ends_with(META_MAT) {
                &mut meta
            } else if name.ends_with(GROUND_TRUTH) {
                &mut gt
            } else {
                continue;
            };
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(not_tar)?;
            *slot = Some(bytes);
        }
        return parse_devkit(&tgz, meta, gt).map(Some);
    }
    let dir = input.join(DEVKIT_DIR);
    if dir.is_dir() {
        let read = |p: PathBuf| -> Result<Option<Vec<u8>>, PrepError> {
            if p.exists() {
                std::fs::read(&p)
                    .map(Some)
                    .map_err(|e| PrepError::io(&p, e))
            } else {
                Ok(None)
            }
        };
        let meta = read(dir.join(META_MAT))?;
        let gt = read(dir.join(GROUND_TRUTH))?;
        return parse_devkit(&dir, meta, gt).map(Some);
    }
    Ok(None)
}

fn index_of(classes: &[ClassInfo]) -> HashMap<&str, i16> {
    classes
        .iter()
        .map(|c| (c.name.as_str(), c.index as i16))
        .collect()
}

/// Classes numbered by their names in sorted (byte) order.
fn classes_from_names(names: impl IntoIterator<Item = String>) -> Vec<ClassInfo> {
    let mut names: Vec<String> = names.into_iter().collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .enumerate()
        .map(|(i, name)| ClassInfo::named(i as u32, name))
        .collect()
}

fn base_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The error for an archive the tar reader refused: a gzip-compressed one
/// gets the way to decompress it, anything else the reader's complaint.
fn not_a_tar(path: &Path, file: &File, len: u64, e: std::io::Error) -> PrepError {
    if looks_gzipped(file, 0, len) {
        let p = shell_word(&path.display().to_string());
        let plain = shell_word(&format!("{}.plain", path.display()));
        return PrepError::Gzipped {
            path: path.to_path_buf(),
            hint: format!("gunzip -c {p} > {plain} && mv {plain} {p}"),
        };
    }
    PrepError::NotATar {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

/// `s` as one word for a POSIX shell (single-quoted unless it is plain),
/// for commands suggested in error messages.
fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

fn open_archive(path: &Path) -> Result<(Arc<File>, u64), PrepError> {
    let file = File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    Ok((Arc::new(file), len))
}

fn archives(input: &Path, want: Option<&[SplitName]>, scan: Scan<'_>) -> Result<Plan, PrepError> {
    let train_tar = input.join(TRAIN_TAR);
    let val_tar = input.join(VAL_TAR);
    let do_train = wanted(want, SplitName::Train, train_tar.exists(), &train_tar)?;
    let do_val = wanted(want, SplitName::Val, val_tar.exists(), &val_tar)?;
    let devkit = find_devkit(input)?;
    let mut sources = Vec::new();
    if let Some(d) = &devkit
        && d.path.is_file()
    {
        sources.push(archive_source(&d.path)?);
    }

    // Train: outer tar of <wnid>.tar.
    let mut train_classes: BTreeMap<String, (Vec<Member>, u64)> = BTreeMap::new();
    let mut train_file = None;
    if do_train {
        let (file, len) = open_archive(&train_tar)?;
        let outer = list_tar(&*file, 0, len).map_err(|e| not_a_tar(&train_tar, &file, len, e))?;
        if outer.is_empty() {
            return Err(PrepError::NotIlsvrc {
                path: train_tar.clone(),
                detail: "no class archives (<wnid>.tar) inside".into(),
            });
        }
        for m in &outer {
            let base = m.name.rsplit('/').next().unwrap_or(&m.name);
            let Some(wnid) = base.strip_suffix(".tar").filter(|w| !w.is_empty()) else {
                return Err(PrepError::NotIlsvrc {
                    path: train_tar.clone(),
                    detail: format!("member {:?} is not a per-class <wnid>.tar", m.name),
                });
            };
            let inner = list_tar(&*file, m.offset, m.size).map_err(|e| {
                if looks_gzipped(&*file, m.offset, m.size) {
                    PrepError::Gzipped {
                        path: PathBuf::from(format!(
                            "{}:{}",
                            train_tar.display(),
                            m.name.escape_debug()
                        )),
                        hint: format!(
                            "gunzip the class archive and put the plain tar back into {} under \
                             the same name",
                            base_name(&train_tar)
                        ),
                    }
                } else {
                    PrepError::NotIlsvrc {
                        path: train_tar.clone(),
                        detail: format!("member {:?} is not a readable tar: {e}", m.name),
                    }
                }
            })?;
            if train_classes
                .insert(wnid.to_string(), (inner, m.offset))
                .is_some()
            {
                return Err(PrepError::NotIlsvrc {
                    path: train_tar.clone(),
                    detail: format!("class {} appears twice", wnid.escape_debug()),
                });
            }
        }
        sources.push(archive_source(&train_tar)?);
        train_file = Some(file);
    }

    let classes = match &devkit {
        Some(d) => d.classes.clone(),
        None if do_val => {
            return Err(PrepError::NoDevkit {
                path: val_tar.clone(),
                devkit: input.join(DEVKIT_TGZ),
            });
        }
        None => classes_from_names(train_classes.keys().cloned()),
    };
    let index = index_of(&classes);

    let train = match train_file {
        None => None,
        Some(file) => {
            let train_name = base_name(&train_tar);
            let mut items = Vec::new();
            // BTreeMap iterates in WNID order = class index order.
            for (wnid, (mut members, _)) in train_classes {
                let &label = index
                    .get(wnid.as_str())
                    .ok_or_else(|| PrepError::NotIlsvrc {
                        path: train_tar.clone(),
                        detail: format!(
                            "class archive {}.tar is not a leaf class of the devkit's meta.mat",
                            wnid.escape_debug()
                        ),
                    })?;
                members.retain(|m| scan.is_image(&m.name));
                members.sort_by(|a, b| a.name.cmp(&b.name));
                items.extend(members.into_iter().map(|m| Item {
                    source: format!("{train_name}:{wnid}.tar:{}", m.name),
                    label,
                    location: Location::Range {
                        archive: file.clone(),
                        offset: m.offset,
                        size: m.size,
                        mtime: m.mtime,
                    },
                }));
            }
            Some(items)
        }
    };

    let mut val_missing = None;
    let val = if do_val {
        let devkit = devkit.as_ref().expect("checked above");
        let (file, len) = open_archive(&val_tar)?;
        let mut members =
            list_tar(&*file, 0, len).map_err(|e| not_a_tar(&val_tar, &file, len, e))?;
        if let Some(m) = members.iter().find(|m| m.name.ends_with(".tar")) {
            return Err(PrepError::NotIlsvrc {
                path: val_tar.clone(),
                detail: format!(
                    "member {:?} is a tar; the validation archive holds images",
                    m.name
                ),
            });
        }
        members.retain(|m| scan.is_image(&m.name));
        if members.is_empty() {
            return Err(PrepError::NotIlsvrc {
                path: val_tar.clone(),
                detail: format!("no images ({}) inside", scan.described()),
            });
        }
        // Member order is not sorted; items and labels follow the numbers
        // in the names.
        let val_name = base_name(&val_tar);
        let files = members
            .into_iter()
            .map(|m| ValFile {
                shown: PathBuf::from(format!("{}:{}", val_tar.display(), m.name)),
                source: format!("{val_name}:{}", m.name),
                location: Location::Range {
                    archive: file.clone(),
                    offset: m.offset,
                    size: m.size,
                    mtime: m.mtime,
                },
                name: m.name,
            })
            .collect();
        let (items, missing) =
            devkit.label_by_number(&val_tar, files, |name| format!("{val_name}:{name}"))?;
        sources.push(archive_source(&val_tar)?);
        val_missing = missing;
        Some(items)
    } else {
        None
    };
    Ok(Plan {
        layout: Layout::Archives,
        classes,
        train,
        val,
        sources,
        val_missing,
    })
}

/// Entries of a directory, sorted by name, hidden ones (`.`) left out, and
/// the directory `skip` (canonical: the output directory) too.
fn list_dir(dir: &Path, skip: Option<&Path>) -> Result<Vec<(String, PathBuf, bool)>, PrepError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let is_dir = path.is_dir();
        if is_dir && skip.is_some_and(|s| std::fs::canonicalize(&path).is_ok_and(|p| p == s)) {
            continue;
        }
        out.push((name, path, is_dir));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// One class folder: (class name, its image files in [`class_images`] order).
type ClassFiles = (String, Vec<PathBuf>);

/// `<dir>/<class>/…` → (class name, its image files at any depth, in
/// [`class_images`] order), by class name.
fn class_dirs(dir: &Path, scan: Scan<'_>, shape: Shape) -> Result<Vec<ClassFiles>, PrepError> {
    let mut out = Vec::new();
    for (name, path, is_dir) in list_dir(dir, scan.skip)? {
        if !is_dir {
            continue;
        }
        let files = class_images(&path, scan)?;
        out.push((name, files));
    }
    if out.is_empty() {
        return Err(shape.error(
            dir.to_path_buf(),
            format!("no class folders ({}) inside", shape.class_folder()),
        ));
    }
    Ok(out)
}

/// The image files below class folder `dir`, at any depth, in the order of
/// torchvision's `ImageFolder` (`sorted(os.walk(dir))`, then sorted file
/// names): by the folder's path relative to `dir` (`""` first), then by
/// file name, in byte order.
fn class_images(dir: &Path, scan: Scan<'_>) -> Result<Vec<PathBuf>, PrepError> {
    let mut found = Vec::new();
    walk(dir, String::new(), scan, &mut Vec::new(), &mut found)?;
    found.sort_by(|a: &(String, String, PathBuf), b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    Ok(found.into_iter().map(|(_, _, path)| path).collect())
}

/// Adds (folder relative to the class folder, file name, path) of every
/// image below `dir` to `found`. `ancestors` holds the canonical paths of
/// the folders being listed, so a link back into one of them is an error
/// instead of an endless listing.
fn walk(
    dir: &Path,
    folder: String,
    scan: Scan<'_>,
    ancestors: &mut Vec<PathBuf>,
    found: &mut Vec<(String, String, PathBuf)>,
) -> Result<(), PrepError> {
    let canonical = std::fs::canonicalize(dir).map_err(io_err(dir))?;
    if ancestors.contains(&canonical) {
        return Err(PrepError::FolderLoop {
            path: dir.to_path_buf(),
            target: canonical,
        });
    }
    ancestors.push(canonical);
    for (name, path, is_dir) in list_dir(dir, scan.skip)? {
        if is_dir {
            let sub = if folder.is_empty() {
                name
            } else {
                format!("{folder}/{name}")
            };
            walk(&path, sub, scan, ancestors, found)?;
        } else if scan.is_image(&name) {
            found.push((folder.clone(), name, path));
        }
    }
    ancestors.pop();
    Ok(())
}

fn rel(input: &Path, path: &Path) -> String {
    path.strip_prefix(input)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn per_class_items(
    input: &Path,
    dir: &Path,
    by_class: Vec<ClassFiles>,
    index: &HashMap<&str, i16>,
    shape: Shape,
) -> Result<Vec<Item>, PrepError> {
    let mut labelled = Vec::new();
    for (class, files) in by_class {
        let &label = index.get(class.as_str()).ok_or_else(|| {
            shape.error(
                dir.join(&class),
                format!("{} is not one of the known classes", class.escape_debug()),
            )
        })?;
        labelled.push((label, files));
    }
    labelled.sort_by_key(|(label, _)| *label);
    Ok(labelled
        .into_iter()
        .flat_map(|(label, files)| {
            files.into_iter().map(move |path| Item {
                source: rel(input, &path),
                label,
                location: Location::File(path),
            })
        })
        .collect())
}

/// The image files directly in `dir`, sorted by name, at least one.
fn flat_files(dir: &Path, scan: Scan<'_>) -> Result<Vec<(String, PathBuf)>, PrepError> {
    let files: Vec<_> = list_dir(dir, scan.skip)?
        .into_iter()
        .filter(|(n, _, d)| !d && scan.is_image(n))
        .map(|(n, p, _)| (n, p))
        .collect();
    if files.is_empty() {
        return Err(PrepError::NotIlsvrc {
            path: dir.to_path_buf(),
            detail: format!("no images ({}) inside", scan.described()),
        });
    }
    Ok(files)
}

fn folders(input: &Path, want: Option<&[SplitName]>, scan: Scan<'_>) -> Result<Plan, PrepError> {
    let train_dir = input.join("train");
    let val_dir = input.join("val");
    let do_train = wanted(want, SplitName::Train, train_dir.is_dir(), &train_dir)?;
    let do_val = wanted(want, SplitName::Val, val_dir.is_dir(), &val_dir)?;
    let devkit = find_devkit(input)?;
    let shape = if devkit.is_some() {
        Shape::Ilsvrc
    } else {
        Shape::ImageFolder
    };
    let train_classes = if do_train {
        Some(class_dirs(&train_dir, scan, shape)?)
    } else {
        None
    };
    let val_per_class = do_val && list_dir(&val_dir, scan.skip)?.iter().any(|(_, _, d)| *d);
    let val_classes = if val_per_class {
        Some(class_dirs(&val_dir, scan, shape)?)
    } else {
        None
    };
    let classes = match &devkit {
        Some(d) => d.classes.clone(),
        None if do_val && !val_per_class => {
            return Err(PrepError::NoDevkit {
                path: val_dir.clone(),
                devkit: input.join(DEVKIT_TGZ),
            });
        }
        None => folder_classes(
            &train_dir,
            &val_dir,
            train_classes.as_deref(),
            val_classes.as_deref(),
            scan,
        )?,
    };
    let index = index_of(&classes);
    let mut sources = Vec::new();
    if let Some(d) = &devkit
        && d.path.is_file()
    {
        sources.push(archive_source(&d.path)?);
    }
    let train = match train_classes {
        None => None,
        Some(by_class) => {
            let items = per_class_items(input, &train_dir, by_class, &index, shape)?;
            sources.push(dir_source(&train_dir, items.len())?);
            Some(items)
        }
    };
    let mut val_missing = None;
    let val = if !do_val {
        None
    } else if let Some(by_class) = val_classes {
        let items = per_class_items(input, &val_dir, by_class, &index, shape)?;
        sources.push(dir_source(&val_dir, items.len())?);
        Some(items)
    } else {
        let devkit = devkit.as_ref().expect("checked above");
        let files = flat_files(&val_dir, scan)?
            .into_iter()
            .map(|(name, path)| ValFile {
                name,
                shown: path.clone(),
                source: rel(input, &path),
                location: Location::File(path),
            })
            .collect();
        let val_rel = rel(input, &val_dir);
        let (items, missing) =
            devkit.label_by_number(&val_dir, files, |name| format!("{val_rel}/{name}"))?;
        sources.push(dir_source(&val_dir, items.len())?);
        val_missing = missing;
        Some(items)
    };
    Ok(Plan {
        layout: match shape {
            Shape::Ilsvrc => Layout::Folders,
            Shape::ImageFolder => Layout::ImageFolder,
        },
        classes,
        train,
        val,
        sources,
        val_missing,
    })
}

/// The classes of the folders layout without a devkit: the class folders of
/// `train/` in sorted order (torchvision's `ImageFolder` numbering), also
/// when only `val/` is prepared, so that validation labels always agree
/// with training. A `val/<class>/` with images but no training images
/// (`train/<class>/` missing or empty) is refused by name: it has no index
/// that agrees with training, and numbering the union of both folders would
/// shift every later class. Without class folders in `train/`, the `val/`
/// folders are the classes.
fn folder_classes(
    train_dir: &Path,
    val_dir: &Path,
    train: Option<&[ClassFiles]>,
    val: Option<&[ClassFiles]>,
    scan: Scan<'_>,
) -> Result<Vec<ClassInfo>, PrepError> {
    let listed;
    let train = match train {
        Some(t) => t,
        None if train_dir.is_dir()
            && list_dir(train_dir, scan.skip)?.iter().any(|(_, _, d)| *d) =>
        {
            listed = class_dirs(train_dir, scan, Shape::ImageFolder)?;
            &listed
        }
        None => {
            let val = val.unwrap_or_default();
            return Ok(classes_from_names(val.iter().map(|(w, _)| w.clone())));
        }
    };
    let trained: HashMap<&str, bool> = train
        .iter()
        .map(|(w, files)| (w.as_str(), !files.is_empty()))
        .collect();
    for (class, files) in val.unwrap_or_default() {
        if !files.is_empty() && trained.get(class.as_str()) != Some(&true) {
            return Err(PrepError::NotImageFolder {
                path: val_dir.join(class),
                detail: format!(
                    "this validation class has no training images ({} is missing or empty). \
                     The classes are numbered by the class folders of {}, so it has no index \
                     that agrees with training; add its training images or remove the folder \
                     (for ILSVRC-2012, {DEVKIT_TGZ} beside train/ and val/ numbers the classes \
                     instead)",
                    train_dir.join(class).display(),
                    train_dir.display()
                ),
            });
        }
    }
    Ok(classes_from_names(train.iter().map(|(w, _)| w.clone())))
}

fn kaggle(input: &Path, want: Option<&[SplitName]>, scan: Scan<'_>) -> Result<Plan, PrepError> {
    let mapping = input.join(KAGGLE_MAPPING);
    let text = std::fs::read_to_string(&mapping).map_err(io_err(&mapping))?;
    let mut classes = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (wnid, words) = line.trim().split_once(' ').unwrap_or((line.trim(), ""));
        if wnid.is_empty() {
            return Err(PrepError::NotIlsvrc {
                path: mapping.clone(),
                detail: format!("line {}: no WNID", i + 1),
            });
        }
        classes.push((wnid.to_string(), words.trim().to_string()));
    }
    classes.sort();
    if let Some(w) = classes.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(PrepError::NotIlsvrc {
            path: mapping.clone(),
            detail: format!("WNID {} appears twice", w[0].0.escape_debug()),
        });
    }
    let classes: Vec<ClassInfo> = classes
        .into_iter()
        .enumerate()
        .map(|(i, (wnid, words))| ClassInfo {
            index: i as u32,
            name: wnid.clone(),
            wnid: Some(wnid),
            words,
            ilsvrc2012_id: None,
        })
        .collect();
    let index = index_of(&classes);
    let data = input.join(KAGGLE_DATA);
    let train_dir = data.join("train");
    let val_dir = data.join("val");
    let do_train = wanted(want, SplitName::Train, train_dir.is_dir(), &train_dir)?;
    let do_val = wanted(want, SplitName::Val, val_dir.is_dir(), &val_dir)?;
    let mut sources = Vec::new();
    let mut val_missing = None;
    let train = if do_train {
        let by_class = class_dirs(&train_dir, scan, Shape::Ilsvrc)?;
        let items = per_class_items(input, &train_dir, by_class, &index, Shape::Ilsvrc)?;
        sources.push(dir_source(&train_dir, items.len())?);
        Some(items)
    } else {
        None
    };
    let val = if do_val {
        let csv_path = input.join(KAGGLE_VAL_CSV);
        if !csv_path.exists() {
            return Err(PrepError::MissingInput {
                path: csv_path,
                what: "the Kaggle validation labels".into(),
            });
        }
        let csv = std::fs::read_to_string(&csv_path).map_err(io_err(&csv_path))?;
        // ImageId → (label, line); a BTreeMap so missing images are listed
        // in name (= number) order.
        let mut label_of: BTreeMap<String, (i16, usize)> = BTreeMap::new();
        for (i, line) in csv.lines().enumerate().skip(1) {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |detail: String| PrepError::BadGroundTruth {
                path: csv_path.clone(),
                detail: format!("line {}: {detail}", i + 1),
            };
            let (id, pred) = line
                .split_once(',')
                .ok_or_else(|| bad("expected ImageId,PredictionString".into()))?;
            let wnid = pred
                .split_whitespace()
                .next()
                .ok_or_else(|| bad("empty PredictionString".into()))?;
            let &label = index.get(wnid).ok_or_else(|| {
                bad(format!(
                    "{} is not in {KAGGLE_MAPPING}",
                    wnid.escape_debug()
                ))
            })?;
            if let Some((_, first)) = label_of.insert(id.trim().to_string(), (label, i + 1)) {
                return Err(bad(format!(
                    "ImageId {} appears twice (also on line {first})",
                    id.trim().escape_debug()
                )));
            }
        }
        let files = flat_files(&val_dir, scan)?;
        let mut seen: HashMap<String, PathBuf> = HashMap::new();
        let mut items = Vec::with_capacity(files.len());
        for (name, path) in files {
            let stem = name.rsplit_once('.').map_or(name.as_str(), |(s, _)| s);
            let Some(&(label, _)) = label_of.get(stem) else {
                return Err(PrepError::UnlabelledVal {
                    path,
                    detail: format!(
                        "{stem:?} is not an ImageId of {}; give the file its original name, or \
                         move it out of {}",
                        csv_path.display(),
                        val_dir.display()
                    ),
                });
            };
            if let Some(first) = seen.insert(stem.to_string(), path.clone()) {
                return Err(PrepError::UnlabelledVal {
                    path,
                    detail: format!(
                        "it has the same ImageId {stem:?} as {}; keep only one of them",
                        first.display()
                    ),
                });
            }
            items.push(Item {
                source: rel(input, &path),
                label,
                location: Location::File(path),
            });
        }
        let val_rel = rel(input, &val_dir);
        let missing: Vec<String> = label_of
            .keys()
            .filter(|id| !seen.contains_key(id.as_str()))
            .map(|id| format!("{val_rel}/{id}.JPEG"))
            .collect();
        if !missing.is_empty() {
            val_missing = Some(MissingVal {
                path: val_dir.clone(),
                labels: csv_path.clone(),
                expected: label_of.len(),
                missing,
            });
        }
        sources.push(file_source(&csv_path, "file")?);
        sources.push(dir_source(&val_dir, items.len())?);
        Some(items)
    } else {
        None
    };
    sources.push(file_source(&mapping, "file")?);
    Ok(Plan {
        layout: Layout::Kaggle,
        classes,
        train,
        val,
        sources,
        val_missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn val_numbers_come_from_the_name_only() {
        assert_eq!(val_number("ILSVRC2012_val_00000005.JPEG"), Some(5));
        assert_eq!(val_number("val/ILSVRC2012_val_00050000.JPEG"), Some(50_000));
        assert_eq!(val_number("./x/ilsvrc2012_VAL_00000001.jpg"), Some(1));
        assert_eq!(val_number("ILSVRC2012_val_7.png"), Some(7));
        assert_eq!(val_number("ILSVRC2012_val_00000000.JPEG"), Some(0));
        assert_eq!(
            val_number("ILSVRC2012_val_99999999999999999999999.JPEG"),
            Some(u64::MAX)
        );
        for bad in [
            "zz_extra.jpg",
            "ILSVRC2012_val_.JPEG",
            "ILSVRC2012_val_0000001a.JPEG",
            "ILSVRC2012_val_-1.JPEG",
            "ILSVRC2012_val_ 1.JPEG",
            "copy of ILSVRC2012_val_00000001.JPEG",
            "ILSVRC2012_test_00000001.JPEG",
            "ILSVRC2012_val_00000001/photo.JPEG",
            "ILSVRC2012_vál_1.JPEG",
            "",
        ] {
            assert_eq!(val_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn image_names_by_extension_in_any_case() {
        for good in ["a.JPEG", "a.jpeg", "b.JPG", "c.jpg", "d.PNG", "dir/e.Png"] {
            assert!(is_image_name(good), "{good}");
        }
        for bad in [
            "README.txt",
            "manifest.json",
            "val-00000.npy",
            "n01440764.tar",
            "JPEG",
            ".jpg",
            "a.jpeg.txt",
            "dir.jpg/README",
        ] {
            assert!(!is_image_name(bad), "{bad}");
        }
    }

    fn devkit(gt: &[u32]) -> Devkit {
        Devkit {
            path: PathBuf::from("dk.tar.gz"),
            classes: [(7, "n1"), (3, "n2"), (5, "n3")]
                .iter()
                .enumerate()
                .map(|(i, &(id, wnid))| ClassInfo {
                    index: i as u32,
                    name: wnid.into(),
                    wnid: Some(wnid.into()),
                    words: String::new(),
                    ilsvrc2012_id: Some(id),
                })
                .collect(),
            ground_truth: Some(gt.to_vec()),
        }
    }

    fn file(name: &str) -> ValFile {
        ValFile {
            name: name.into(),
            shown: PathBuf::from(format!("val/{name}")),
            source: format!("val/{name}"),
            location: Location::File(PathBuf::from(name)),
        }
    }

    #[test]
    fn labels_follow_numbers_not_positions() {
        // IDs 7, 3, 5, 3 → class indices 0, 1, 2, 1.
        let dk = devkit(&[7, 3, 5, 3]);
        let files = [
            "ILSVRC2012_val_00000004.JPEG",
            "ILSVRC2012_val_00000001.JPEG",
        ]
        .map(file)
        .into();
        let (items, missing) = dk
            .label_by_number(Path::new("val"), files, |n| format!("val/{n}"))
            .unwrap();
        let got: Vec<(&str, i16)> = items.iter().map(|i| (i.source.as_str(), i.label)).collect();
        assert_eq!(
            got,
            [
                ("val/ILSVRC2012_val_00000001.JPEG", 0),
                ("val/ILSVRC2012_val_00000004.JPEG", 1)
            ]
        );
        let missing = missing.unwrap();
        assert_eq!(missing.expected, 4);
        assert_eq!(
            missing.missing,
            [
                "val/ILSVRC2012_val_00000002.JPEG",
                "val/ILSVRC2012_val_00000003.JPEG"
            ]
        );
        let rejected = missing.rejected();
        assert_eq!(rejected.len(), 2);
        assert!(rejected[0].reason.contains("missing"), "{:?}", rejected[0]);
        let msg = missing.to_error().to_string();
        assert!(
            msg.contains("2 of the 4") && msg.contains("ILSVRC2012_val_00000003.JPEG"),
            "{msg}"
        );
    }

    #[test]
    fn unlabelled_val_files_are_named() {
        let dk = devkit(&[7, 3]);
        let run = |names: &[&str]| {
            let files = names.iter().map(|n| file(n)).collect();
            dk.label_by_number(Path::new("val"), files, |n| n.to_string())
                .unwrap_err()
                .to_string()
        };
        let msg = run(&["ILSVRC2012_val_00000001.JPEG", "zz_extra.jpg"]);
        assert!(
            msg.starts_with("val/zz_extra.jpg: ") && msg.contains("no image number"),
            "{msg}"
        );
        for n in [
            "ILSVRC2012_val_00000003.JPEG",
            "ILSVRC2012_val_00000000.JPEG",
        ] {
            let msg = run(&[n]);
            assert!(
                msg.contains(n) && msg.contains("labels images 1 to 2"),
                "{msg}"
            );
        }
        let msg = run(&["ILSVRC2012_val_00000001.JPEG", "ILSVRC2012_val_1.png"]);
        assert!(
            msg.starts_with("val/ILSVRC2012_val_1.png: ")
                && msg.contains("same number 1 as val/ILSVRC2012_val_00000001.JPEG"),
            "{msg}"
        );
    }

    #[test]
    fn control_bytes_in_meta_mat_wnids_are_escaped_in_errors() {
        let leaf = |id: u32| crate::mat::Synset {
            ilsvrc2012_id: id,
            wnid: "n0\x1b]0;pwned\x07".into(),
            words: "w".into(),
            gloss: String::new(),
            num_children: 0,
            children: vec![],
            wordnet_height: 0,
            num_train_images: 0,
        };
        let mat = crate::mat::write_synsets(&[leaf(1), leaf(2)], crate::mat::MatStyle::Matlab);
        let Err(e) = parse_devkit(Path::new("dk.tar.gz"), Some(mat), None) else {
            panic!("a WNID given twice is refused");
        };
        let msg = e.to_string();
        assert!(
            msg.contains("WNID n0\\u{1b}]0;pwned\\u{7} appears twice"),
            "{msg}"
        );
        assert!(!msg.chars().any(char::is_control), "{msg:?}");
    }

    #[test]
    fn missing_lists_are_cut_short() {
        let missing: Vec<String> = (1..=9).map(val_name).collect();
        let msg = PrepError::MissingVal {
            path: "val".into(),
            labels: "gt.txt".into(),
            expected: 10,
            missing,
        }
        .to_string();
        assert!(
            msg.contains("ILSVRC2012_val_00000005.JPEG and 4 more")
                && !msg.contains("ILSVRC2012_val_00000006.JPEG"),
            "{msg}"
        );
    }
}
