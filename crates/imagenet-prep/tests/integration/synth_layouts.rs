//! The extracted-folder and Kaggle layouts, the scipy-style devkit, and
//! what synthesis leaves behind when it refuses to run.

use crate::synth_common;

use std::collections::BTreeMap;
use std::path::Path;

use imagenet_prep::mat::{MatStyle, read_synsets};
use imagenet_prep::synth::{SynthConfig, SynthLayout, synthesize};
use synth_common::gz_tar_members;

fn config(layout: SynthLayout) -> SynthConfig {
    SynthConfig {
        classes: 4,
        train_per_class: 3,
        val_per_class: 2,
        min_side: 20,
        max_side: 40,
        seed: 3,
        layout,
        ..SynthConfig::default()
    }
}

/// Every file under `root`, as paths relative to it with `/` separators.
fn walk(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(
                    p.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/"),
                );
            }
        }
    }
    out.sort();
    out
}

#[test]
fn folders_layout_matches_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        mat_style: MatStyle::Scipy,
        ..config(SynthLayout::Folders)
    };
    let s = synthesize(&cfg, dir.path()).unwrap();
    let mut expect: Vec<String> = s.images().map(|i| i.path.clone()).collect();
    expect.push("ILSVRC2012_devkit_t12.tar.gz".into());
    expect.sort();
    assert_eq!(walk(dir.path()), expect, "no stray or temporary files");
    for img in &s.train {
        let wnid = &s.classes[img.label as usize].wnid;
        assert_eq!(img.path, format!("train/{wnid}/{}", img.name));
    }
    assert!(s.val.iter().all(|i| i.path == format!("val/{}", i.name)));

    // The devkit's meta.mat is scipy-style here.
    let devkit: BTreeMap<String, Vec<u8>> =
        gz_tar_members(&dir.path().join("ILSVRC2012_devkit_t12.tar.gz"))
            .into_iter()
            .collect();
    let meta = &devkit["ILSVRC2012_devkit_t12/data/meta.mat"];
    assert!(meta.starts_with(b"MATLAB 5.0 MAT-file Platform: posix"));
    assert_eq!(
        read_synsets(meta)
            .unwrap()
            .iter()
            .filter(|m| m.num_children == 0)
            .count(),
        4
    );
}

#[test]
fn folders_layout_can_put_val_in_class_folders() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SynthConfig {
        val_by_class: true,
        ..config(SynthLayout::Folders)
    };
    let s = synthesize(&cfg, dir.path()).unwrap();
    for img in &s.val {
        let wnid = &s.classes[img.label as usize].wnid;
        assert_eq!(img.path, format!("val/{wnid}/{}", img.name));
        assert!(dir.path().join(&img.path).is_file());
    }
}

#[test]
fn kaggle_layout_has_mapping_and_solution_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = synthesize(&config(SynthLayout::Kaggle), dir.path()).unwrap();
    let mut expect: Vec<String> = s.images().map(|i| i.path.clone()).collect();
    expect.extend([
        "LOC_synset_mapping.txt".into(),
        "LOC_val_solution.csv".into(),
    ]);
    expect.sort();
    assert_eq!(walk(dir.path()), expect);
    assert!(
        s.train[0]
            .path
            .starts_with("ILSVRC/Data/CLS-LOC/train/n01440764/n01440764_")
    );
    assert!(
        s.val[0]
            .path
            .starts_with("ILSVRC/Data/CLS-LOC/val/ILSVRC2012_val_")
    );

    let mapping = std::fs::read_to_string(dir.path().join("LOC_synset_mapping.txt")).unwrap();
    let lines: Vec<&str> = mapping.lines().collect();
    assert_eq!(lines.len(), 4);
    for (line, class) in lines.iter().zip(&s.classes) {
        assert_eq!(*line, format!("{} {}", class.wnid, class.words));
    }
    assert_eq!(lines[0], "n01440764 tench, Tinca tinca");

    let csv = std::fs::read_to_string(dir.path().join("LOC_val_solution.csv")).unwrap();
    let mut rows = csv.lines();
    assert_eq!(rows.next(), Some("ImageId,PredictionString"));
    let mut seen = 0;
    for row in rows {
        let (id, pred) = row.split_once(',').unwrap();
        let img = s
            .val
            .iter()
            .find(|i| i.name == format!("{id}.JPEG"))
            .unwrap();
        let fields: Vec<&str> = pred.split(' ').collect();
        assert_eq!(fields.len(), 5, "{row}");
        assert_eq!(fields[0], s.classes[img.label as usize].wnid);
        let b: Vec<u32> = fields[1..].iter().map(|f| f.parse().unwrap()).collect();
        assert!(
            b[0] < b[2] && b[2] < img.size.0 && b[1] < b[3] && b[3] < img.size.1,
            "{row}"
        );
        seen += 1;
    }
    assert_eq!(seen, s.val.len());
}

#[test]
fn existing_trees_are_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("train")).unwrap();
    std::fs::write(dir.path().join("train/keep.txt"), "mine").unwrap();
    let e = synthesize(&config(SynthLayout::Folders), dir.path()).unwrap_err();
    assert!(e.to_string().contains("already exists"), "{e}");
    assert_eq!(walk(dir.path()), ["train/keep.txt"], "nothing else written");
}

#[test]
fn archives_are_replaced_whole_on_a_second_run() {
    let dir = tempfile::tempdir().unwrap();
    synthesize(&config(SynthLayout::Archives), dir.path()).unwrap();
    let again = SynthConfig {
        seed: 4,
        ..config(SynthLayout::Archives)
    };
    synthesize(&again, dir.path()).unwrap();
    assert_eq!(
        walk(dir.path()),
        [
            "ILSVRC2012_devkit_t12.tar.gz",
            "ILSVRC2012_img_train.tar",
            "ILSVRC2012_img_val.tar"
        ],
        "no temporary files left"
    );
    let fresh = tempfile::tempdir().unwrap();
    synthesize(&again, fresh.path()).unwrap();
    for f in ["ILSVRC2012_img_train.tar", "ILSVRC2012_img_val.tar"] {
        assert_eq!(
            std::fs::read(dir.path().join(f)).unwrap(),
            std::fs::read(fresh.path().join(f)).unwrap()
        );
    }
}
