//! Validation labels are keyed by the number in each file's name (line `k`
//! of the devkit's ground truth labels `ILSVRC2012_val_<k>`), never by
//! position: a missing, extra or stray file cannot shift any label, in the
//! folders, archive and Kaggle layouts; an output directory inside the
//! input tree is never read back as input.

use crate::prep_support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use imagenet_prep::synth::{SynthLayout, SynthSummary};
use imagenet_prep::{PrepConfig, PrepError, prepare, read_manifest, verify};
use prep_support::*;
use shard_format::manifest::Manifest;

const GT: &str = "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt";

fn cfg(input: &Path, out: &Path) -> PrepConfig {
    let mut c = PrepConfig::new(input, out);
    c.size = 16;
    c.shard_size = 5;
    c.quiet = true;
    c
}

/// A small input: 3 classes, 8 train and 4 val images each (12 val).
fn input(dir: &Path, layout: SynthLayout) -> (PathBuf, SynthSummary) {
    let mut c = synth_cfg(layout, 3, 8, 4);
    c.max_side = 40;
    synth(dir, &c)
}

/// Runs `c`, expecting an error naming each of `names`; a failed run
/// leaves no manifest behind unless an earlier run had made one.
fn expect_err(c: &PrepConfig, names: &[&str]) -> PrepError {
    let had_manifest = c.out.join("manifest.json").exists();
    let e = prepare(c).expect_err("prep should fail");
    let msg = e.to_string();
    for n in names {
        assert!(msg.contains(n), "message {msg:?} should name {n:?}");
    }
    assert!(
        had_manifest || !c.out.join("manifest.json").exists(),
        "no manifest after a failed run"
    );
    e
}

/// The devkit's members (name → bytes).
fn devkit_members(input: &Path) -> Vec<(String, Vec<u8>)> {
    let gz = flate2::read::GzDecoder::new(
        std::fs::File::open(input.join("ILSVRC2012_devkit_t12.tar.gz")).unwrap(),
    );
    let mut a = tar::Archive::new(gz);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut b = Vec::new();
            e.read_to_end(&mut b).unwrap();
            (name, b)
        })
        .filter(|(n, _)| !n.ends_with('/'))
        .collect()
}

/// Line `k` of the devkit's ground truth → class index, read independently
/// of the pipeline (IDs mapped through the manifest's classes).
fn ground_truth(input: &Path, m: &Manifest) -> Vec<i16> {
    let text = devkit_members(input)
        .into_iter()
        .find(|(n, _)| n == GT)
        .map(|(_, b)| String::from_utf8(b).unwrap())
        .unwrap();
    let by_id: HashMap<u32, i16> = m
        .classes
        .iter()
        .map(|c| (c.ilsvrc2012_id.unwrap(), c.index as i16))
        .collect();
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| by_id[&l.trim().parse::<u32>().unwrap()])
        .collect()
}

/// The number in `.../ILSVRC2012_val_<k>.JPEG`.
fn number(source: &str) -> usize {
    let base = source.rsplit(['/', ':']).next().unwrap();
    base.strip_prefix("ILSVRC2012_val_")
        .and_then(|r| r.split('.').next())
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("{source} has no number"))
}

/// Every val image in the shards has the ground truth's label of its own
/// number (and the label synth gave it); images come in number order; the
/// numbers are exactly `want`.
fn check_val(out: &Path, input: &Path, summary: &SynthSummary, want: &[usize]) -> Manifest {
    let m = read_manifest(out).unwrap();
    let gt = ground_truth(input, &m);
    let truth: HashMap<&str, i16> = summary
        .val
        .iter()
        .map(|i| (i.name.as_str(), i.label as i16))
        .collect();
    let val = read_split(out, &m, true);
    let numbers: Vec<usize> = val.iter().map(|i| number(&i.source)).collect();
    assert_eq!(numbers, want, "val images, in number order");
    for img in &val {
        let k = number(&img.source);
        assert_eq!(img.label, gt[k - 1], "label of {} (line {k})", img.source);
        let name = format!("ILSVRC2012_val_{k:08}.JPEG");
        assert_eq!(img.label, truth[name.as_str()], "label of {}", img.source);
    }
    let report = verify(out).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    m
}

fn all_but(n: usize, missing: &[usize]) -> Vec<usize> {
    (1..=n).filter(|k| !missing.contains(k)).collect()
}

#[test]
fn folders_val_is_labelled_by_number_not_position() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, summary) = input(tmp.path(), SynthLayout::Folders);
    let out = tmp.path().join("out");
    let val = input.join("val");

    // The repro: one val file removed, another one added under a
    // name with no number. Labelling by position made this exit 0 with
    // every later image mislabelled.
    std::fs::remove_file(val.join("ILSVRC2012_val_00000005.JPEG")).unwrap();
    std::fs::copy(
        val.join("ILSVRC2012_val_00000001.JPEG"),
        val.join("zz_extra.jpg"),
    )
    .unwrap();
    let e = expect_err(
        &cfg(&input, &out),
        &["val/zz_extra.jpg", "no image number", "ILSVRC2012_val_"],
    );
    assert!(matches!(e, PrepError::UnlabelledVal { .. }), "{e:?}");

    // A number past the ground truth's last line, and number 0.
    std::fs::rename(
        val.join("zz_extra.jpg"),
        val.join("ILSVRC2012_val_00000013.JPEG"),
    )
    .unwrap();
    expect_err(
        &cfg(&input, &out),
        &[
            "ILSVRC2012_val_00000013.JPEG",
            "ILSVRC2012_validation_ground_truth.txt",
            "labels images 1 to 12",
        ],
    );
    std::fs::rename(
        val.join("ILSVRC2012_val_00000013.JPEG"),
        val.join("ILSVRC2012_val_00000000.JPEG"),
    )
    .unwrap();
    expect_err(&cfg(&input, &out), &["ILSVRC2012_val_00000000.JPEG"]);

    // Two files with one number.
    std::fs::rename(
        val.join("ILSVRC2012_val_00000000.JPEG"),
        val.join("ILSVRC2012_val_2.jpg"),
    )
    .unwrap();
    expect_err(
        &cfg(&input, &out),
        &[
            "ILSVRC2012_val_2.jpg",
            "same number 2",
            "ILSVRC2012_val_00000002.JPEG",
        ],
    );
    std::fs::remove_file(val.join("ILSVRC2012_val_2.jpg")).unwrap();

    // Stray non-image files are ignored, in val/ as in train/<wnid>/.
    std::fs::write(val.join("README.txt"), "notes").unwrap();
    std::fs::write(val.join("checksums.md5"), "x").unwrap();
    let wnid = &summary.classes[0].wnid;
    std::fs::write(input.join("train").join(wnid).join("README.txt"), "x").unwrap();

    // The one missing image is named; nothing is written.
    let e = expect_err(
        &cfg(&input, &out),
        &[
            "1 of the 12 validation images",
            "val/ILSVRC2012_val_00000005.JPEG",
            "ILSVRC2012_validation_ground_truth.txt",
            "--skip-bad",
        ],
    );
    match &e {
        PrepError::MissingVal {
            expected, missing, ..
        } => {
            assert_eq!(*expected, 12);
            assert_eq!(missing, &["val/ILSVRC2012_val_00000005.JPEG"]);
        }
        other => panic!("expected MissingVal, got {other:?}"),
    }

    // With --skip-bad: the other 11, each with its own label, and the
    // missing one listed in the manifest.
    let mut c = cfg(&input, &out);
    c.skip_bad = true;
    let s = prepare(&c).unwrap();
    assert_eq!((s.train_images, s.val_images), (24, 11));
    assert_eq!(s.rejected.len(), 1);
    let m = check_val(&out, &input, &summary, &all_but(12, &[5]));
    assert_eq!(m.rejected.len(), 1);
    assert_eq!(m.rejected[0].source, "val/ILSVRC2012_val_00000005.JPEG");
    assert!(m.rejected[0].reason.contains("missing"), "{:?}", m.rejected);
    let sources: Vec<String> = [&m.train, &m.val]
        .into_iter()
        .flatten()
        .flat_map(|s| s.shards.iter().flat_map(|sh| sh.sources.clone()))
        .collect();
    assert_eq!(sources.len(), 35);
    assert!(
        sources
            .iter()
            .all(|s| !s.contains("README") && !s.contains("checksums")),
        "{sources:?}"
    );
}

/// Rewrites `ILSVRC2012_img_val.tar` with `members` in the given order,
/// with a directory entry `val/` first.
fn write_val_tar(input: &Path, members: &[(String, Vec<u8>)]) {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_size(0);
    h.set_mode(0o755);
    h.set_cksum();
    b.append_data(&mut h, "val/", std::io::empty()).unwrap();
    for (name, data) in members {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data.as_slice()).unwrap();
    }
    std::fs::write(
        input.join("ILSVRC2012_img_val.tar"),
        b.into_inner().unwrap(),
    )
    .unwrap();
}

#[test]
fn archive_val_members_in_any_order_with_one_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, summary) = input(tmp.path(), SynthLayout::Archives);
    let out = tmp.path().join("out");
    let bytes = source_bytes(&input);

    // Member 5 dropped, the rest in reverse order, some under `val/` and
    // `./`, and a README member (as many positions as before).
    let mut members: Vec<(String, Vec<u8>)> = (1..=12)
        .rev()
        .filter(|&k| k != 5)
        .map(|k| {
            let name = format!("ILSVRC2012_val_{k:08}.JPEG");
            let data = bytes[&format!("ILSVRC2012_img_val.tar:{name}")].clone();
            let name = match k % 3 {
                0 => format!("val/{name}"),
                1 => format!("./{name}"),
                _ => name,
            };
            (name, data)
        })
        .collect();
    members.insert(3, ("README.txt".into(), b"not an image".to_vec()));
    write_val_tar(&input, &members);

    let e = expect_err(
        &cfg(&input, &out),
        &[
            "ILSVRC2012_img_val.tar",
            "1 of the 12 validation images",
            "ILSVRC2012_img_val.tar:ILSVRC2012_val_00000005.JPEG",
        ],
    );
    assert!(matches!(e, PrepError::MissingVal { .. }), "{e:?}");

    let mut c = cfg(&input, &out);
    c.skip_bad = true;
    let s = prepare(&c).unwrap();
    assert_eq!((s.train_images, s.val_images), (24, 11));
    let m = check_val(&out, &input, &summary, &all_but(12, &[5]));
    assert_eq!(
        m.rejected
            .iter()
            .map(|r| r.source.as_str())
            .collect::<Vec<_>>(),
        ["ILSVRC2012_img_val.tar:ILSVRC2012_val_00000005.JPEG"]
    );

    // The pixels of each val image are those of the member with its number.
    let mut straight = cfg(&input, &tmp.path().join("straight"));
    straight.splits = Some(vec![imagenet_prep::SplitName::Val]);
    straight.skip_bad = true;
    let val = read_split(&out, &m, true);
    // A member beyond the ground truth is named, whatever its position.
    members.insert(
        0,
        ("ILSVRC2012_val_00000013.JPEG".into(), members[1].1.clone()),
    );
    write_val_tar(&input, &members);
    expect_err(
        &straight,
        &[
            "ILSVRC2012_img_val.tar:ILSVRC2012_val_00000013.JPEG",
            "labels images 1 to 12",
        ],
    );
    // Back to the original archive order: same labels and pixels per number.
    members.remove(0);
    members.reverse();
    write_val_tar(&input, &members);
    prepare(&straight).unwrap();
    let m2 = read_manifest(&straight.out).unwrap();
    let val2 = read_split(&straight.out, &m2, true);
    assert_eq!(val.len(), val2.len());
    for (a, b) in val.iter().zip(&val2) {
        assert_eq!(number(&a.source), number(&b.source));
        assert_eq!(a.label, b.label, "{}", a.source);
        assert!(a.pixels == b.pixels, "{}", a.source);
    }
}

#[test]
fn output_inside_the_input_tree_is_never_read_as_input() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, summary) = input(tmp.path(), SynthLayout::Folders);
    // The first run made the output directory; the second must not read
    // it back (as a class folder of val/ or train/, or as val images).
    for (out, remove) in [
        (input.join("val/prepped"), true),
        (input.join("train/prepped"), true),
        (
            input.join(format!("train/{}/prepped", summary.classes[0].wnid)),
            true,
        ),
        (input.join("val"), false),
        (input.clone(), false),
    ] {
        for run in 0..2 {
            let s = prepare(&cfg(&input, &out))
                .unwrap_or_else(|e| panic!("--out {} run {run}: {e}", out.display()));
            assert_eq!(
                (s.train_images, s.val_images),
                (24, 12),
                "{}",
                out.display()
            );
            check_val(&out, &input, &summary, &all_but(12, &[]));
        }
        if remove {
            std::fs::remove_dir_all(&out).unwrap();
        }
    }
}

#[test]
fn kaggle_val_is_labelled_by_image_id() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, summary) = input(tmp.path(), SynthLayout::Kaggle);
    let out = tmp.path().join("out");
    let val = input.join("ILSVRC/Data/CLS-LOC/val");
    std::fs::remove_file(val.join("ILSVRC2012_val_00000005.JPEG")).unwrap();
    std::fs::write(val.join("README.txt"), "notes").unwrap();

    expect_err(
        &cfg(&input, &out),
        &[
            "LOC_val_solution.csv",
            "1 of the 12 validation images",
            "ILSVRC/Data/CLS-LOC/val/ILSVRC2012_val_00000005.JPEG",
        ],
    );
    let mut c = cfg(&input, &out);
    c.skip_bad = true;
    let s = prepare(&c).unwrap();
    assert_eq!(s.val_images, 11);
    let m = read_manifest(&out).unwrap();
    let truth: HashMap<&str, i16> = summary
        .val
        .iter()
        .map(|i| (i.path.as_str(), i.label as i16))
        .collect();
    let val_read = read_split(&out, &m, true);
    assert_eq!(val_read.len(), 11);
    for img in &val_read {
        assert_eq!(
            Some(&img.label),
            truth.get(img.source.as_str()),
            "{}",
            img.source
        );
    }
    assert_eq!(
        m.rejected
            .iter()
            .map(|r| r.source.as_str())
            .collect::<Vec<_>>(),
        ["ILSVRC/Data/CLS-LOC/val/ILSVRC2012_val_00000005.JPEG"]
    );

    // An image whose name is not an ImageId of the CSV is named.
    std::fs::copy(
        val.join("ILSVRC2012_val_00000001.JPEG"),
        val.join("zz_extra.jpg"),
    )
    .unwrap();
    let e = expect_err(
        &c,
        &["zz_extra.jpg", "not an ImageId", "LOC_val_solution.csv"],
    );
    assert!(matches!(e, PrepError::UnlabelledVal { .. }), "{e:?}");
}

/// Rewrites the devkit with `edit` applied to the ground truth's text.
fn edit_ground_truth(input: &Path, edit: impl Fn(&str) -> String) {
    let members = devkit_members(input);
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(input.join("ILSVRC2012_devkit_t12.tar.gz")).unwrap(),
        flate2::Compression::fast(),
    );
    let edited: Vec<(String, Vec<u8>)> = members
        .into_iter()
        .map(|(n, b)| {
            if n == GT {
                let text = edit(std::str::from_utf8(&b).unwrap());
                (n, text.into_bytes())
            } else {
                (n, b)
            }
        })
        .collect();
    let refs: Vec<(&str, &[u8])> = edited
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    gz.write_all(&tar_of(&refs)).unwrap();
    gz.finish().unwrap().flush().unwrap();
}

#[test]
fn ground_truth_lines_are_image_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, summary) = input(tmp.path(), SynthLayout::Folders);
    let out = tmp.path().join("out");

    // Trailing blank lines and CRLF are fine.
    edit_ground_truth(&input, |t| format!("{}\n\n", t.replace('\n', "\r\n")));
    prepare(&cfg(&input, &out)).unwrap();
    check_val(&out, &input, &summary, &all_but(12, &[]));

    // A blank line inside would move every later label by one line.
    edit_ground_truth(&input, |t| {
        let mut lines: Vec<&str> = t.lines().collect();
        lines.insert(2, "");
        lines.join("\n")
    });
    let e = expect_err(
        &cfg(&input, &out),
        &["ILSVRC2012_validation_ground_truth.txt", "line 3: empty"],
    );
    assert!(matches!(e, PrepError::BadGroundTruth { .. }), "{e:?}");
}
