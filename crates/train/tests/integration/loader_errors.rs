//! Bad inputs get clear errors that name the file.

use crate::loader_fixture;

use std::path::Path;

use loader_fixture::{S, dataset, open};
use shard_format::npy::header_with_descr;
use train::loader::{AugmentConfig, LoaderError, ShardSet, SplitName, TrainLoader};

fn open_err(dir: &Path, split: SplitName) -> (LoaderError, String) {
    let e = ShardSet::open(dir, split).unwrap_err();
    let msg = e.to_string();
    (e, msg)
}

/// Rewrites `dir/manifest.json` as `edit` changes its JSON.
fn edit_manifest(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("manifest.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    edit(&mut json);
    std::fs::write(&path, json.to_string()).unwrap();
}

#[test]
fn missing_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let (e, msg) = open_err(dir.path(), SplitName::Train);
    assert!(matches!(e, LoaderError::Io { .. }), "{e:?}");
    assert!(msg.contains("manifest.json"), "{msg}");
}

#[test]
fn manifest_of_another_format_version() {
    let dir = dataset(2, 0, 2);
    edit_manifest(dir.path(), |json| {
        json["format_version"] = 99.into();
        json["something_new"] = "x".into();
    });
    let (e, msg) = open_err(dir.path(), SplitName::Train);
    assert!(
        matches!(e, LoaderError::FormatVersion { found: 99, .. }),
        "{e:?}"
    );
    assert!(msg.contains("manifest.json") && msg.contains("99"), "{msg}");
}

#[test]
fn a_version_1_manifest_still_loads_with_its_class_names() {
    let dir = dataset(2, 0, 2);
    edit_manifest(dir.path(), |json| {
        json["format_version"] = 1.into();
        for c in json["classes"].as_array_mut().unwrap() {
            let name = c["name"].take();
            c["wnid"] = name;
            c.as_object_mut().unwrap().remove("name");
        }
    });
    let set = train::loader::ShardSet::open(dir.path(), SplitName::Train)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.manifest().classes[1].name, "n00000001");
}

#[test]
fn corrupt_manifest() {
    let dir = dataset(2, 0, 2);
    std::fs::write(dir.path().join("manifest.json"), "{ not json").unwrap();
    let (e, msg) = open_err(dir.path(), SplitName::Train);
    assert!(
        matches!(e, LoaderError::Manifest { .. }) && msg.contains("manifest.json"),
        "{msg}"
    );
}

#[test]
fn missing_split() {
    let dir = dataset(2, 1, 2);
    edit_manifest(dir.path(), |json| json["val"] = serde_json::Value::Null);
    let (e, msg) = open_err(dir.path(), SplitName::Val);
    assert!(
        matches!(e, LoaderError::MissingSplit { split: "val", .. }),
        "{msg}"
    );
}

#[test]
fn missing_shard_file() {
    let dir = dataset(6, 0, 2);
    std::fs::remove_file(dir.path().join("train-00001.npy")).unwrap();
    let (e, msg) = open_err(dir.path(), SplitName::Train);
    assert!(matches!(e, LoaderError::Io { .. }), "{e:?}");
    assert!(msg.contains("train-00001.npy"), "{msg}");
}

#[test]
fn truncated_shard() {
    let dir = dataset(4, 0, 2);
    let path = dir.path().join("train-00000.npy");
    let len = std::fs::metadata(&path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len - 100).unwrap();
    let (e, msg) = open_err(dir.path(), SplitName::Train);
    assert!(matches!(e, LoaderError::Npy { .. }), "{e:?}");
    assert!(
        msg.contains("train-00000.npy") && msg.contains("truncated"),
        "{msg}"
    );
    // Cut inside the header too.
    f.set_len(30).unwrap();
    let (_, msg) = open_err(dir.path(), SplitName::Train);
    assert!(
        msg.contains("train-00000.npy") && msg.contains("truncated"),
        "{msg}"
    );
}

fn replace_header(path: &Path, descr: &str, shape: &[u64]) {
    let bytes = std::fs::read(path).unwrap();
    let old = shard_format::npy::parse_header(&bytes).unwrap();
    let mut out = header_with_descr(descr, shape);
    out.extend_from_slice(&bytes[old.data_offset..]);
    std::fs::write(path, out).unwrap();
}

#[test]
fn wrong_dtype_or_shape() {
    let dir = dataset(4, 0, 2);
    let images = dir.path().join("train-00001.npy");
    replace_header(&images, "<f4", &[2, S as u64, S as u64, 3]);
    let (e, msg) = open_err(dir.path(), SplitName::Train);
    assert!(
        matches!(e, LoaderError::Npy { .. })
            && msg.contains("train-00001.npy")
            && msg.contains("dtype"),
        "{msg}"
    );

    replace_header(&images, "|u1", &[2, S as u64 / 2, S as u64 * 2, 3]);
    let (_, msg) = open_err(dir.path(), SplitName::Train);
    assert!(
        msg.contains("train-00001.npy") && msg.contains("shape"),
        "{msg}"
    );

    replace_header(&images, "|u1", &[2, S as u64, S as u64, 3]);
    let labels = dir.path().join("train-00000-labels.npy");
    replace_header(&labels, "<i4", &[1]);
    let (_, msg) = open_err(dir.path(), SplitName::Train);
    assert!(
        msg.contains("train-00000-labels.npy") && msg.contains("dtype"),
        "{msg}"
    );
}

#[test]
fn not_an_npy_file() {
    let dir = dataset(2, 0, 2);
    std::fs::write(
        dir.path().join("train-00000-labels.npy"),
        b"PK\x03\x04 this is a zip",
    )
    .unwrap();
    let (_, msg) = open_err(dir.path(), SplitName::Train);
    assert!(
        msg.contains("train-00000-labels.npy") && msg.contains("not a .npy"),
        "{msg}"
    );
}

#[test]
fn label_out_of_range() {
    let dir = dataset(2, 0, 2);
    let path = dir.path().join("train-00000-labels.npy");
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 2..].copy_from_slice(&77i16.to_le_bytes());
    std::fs::write(&path, bytes).unwrap();
    let (_, msg) = open_err(dir.path(), SplitName::Train);
    assert!(
        msg.contains("train-00000-labels.npy") && msg.contains("77"),
        "{msg}"
    );
}

#[test]
fn checksums_are_checked_only_when_asked() {
    let dir = dataset(4, 0, 2);
    let path = dir.path().join("train-00001.npy");
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();
    assert!(ShardSet::open(dir.path(), SplitName::Train).is_ok());
    let e = ShardSet::open_with(dir.path(), SplitName::Train, true).unwrap_err();
    assert!(matches!(e, LoaderError::Checksum { .. }), "{e:?}");
    assert!(e.to_string().contains("train-00001.npy"));
    let clean = dataset(4, 0, 2);
    assert!(ShardSet::open_with(clean.path(), SplitName::Train, true).is_ok());
}

#[test]
fn bad_loader_configuration() {
    let dir = dataset(4, 0, 2);
    let set = open(dir.path(), SplitName::Train);
    let big = AugmentConfig {
        crop: S + 1,
        ..AugmentConfig::default()
    };
    assert!(matches!(
        TrainLoader::new(set.clone(), big, 2, 0, 1, 1),
        Err(LoaderError::Config(_))
    ));
    let ok = AugmentConfig {
        crop: S,
        ..AugmentConfig::default()
    };
    assert!(matches!(
        TrainLoader::new(set.clone(), ok.clone(), 0, 0, 1, 1),
        Err(LoaderError::Config(_))
    ));
    let neg = AugmentConfig {
        pca_std: -1.0,
        ..ok.clone()
    };
    assert!(matches!(
        TrainLoader::new(set.clone(), neg, 2, 0, 1, 1),
        Err(LoaderError::Config(_))
    ));
    std::fs::remove_file(dir.path().join("mean_image.npy")).unwrap();
    let e = TrainLoader::new(set, ok, 2, 0, 1, 1).unwrap_err();
    assert!(e.to_string().contains("mean_image.npy"), "{e}");
}
