//! `synthesize` with the archive layout: ILSVRC shape, labels, devkit,
//! oddities and corrupt files are what the summary says, determinism.

use crate::synth_common;

use std::collections::{BTreeMap, BTreeSet};

use imagenet_prep::mat::read_synsets;
use imagenet_prep::synth::{ImageKind, SynthConfig, SynthSummary, synthesize};
use synth_common::*;

fn config() -> SynthConfig {
    SynthConfig {
        classes: 5,
        train_per_class: 4,
        val_per_class: 3,
        min_side: 24,
        max_side: 56,
        seed: 7,
        oddities: true,
        corrupt: true,
        ..SynthConfig::default()
    }
}

fn run(cfg: &SynthConfig) -> (tempfile::TempDir, SynthSummary) {
    let dir = tempfile::tempdir().unwrap();
    let s = synthesize(cfg, dir.path()).unwrap();
    (dir, s)
}

#[test]
fn archives_have_the_ilsvrc_shape_and_the_summary_labels() {
    let cfg = config();
    let (dir, s) = run(&cfg);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        names,
        [
            "ILSVRC2012_devkit_t12.tar.gz",
            "ILSVRC2012_img_train.tar",
            "ILSVRC2012_img_val.tar"
        ]
    );

    // Classes: sorted WNIDs, the first ones real.
    let wnids: Vec<&str> = s.classes.iter().map(|c| c.wnid.as_str()).collect();
    assert_eq!(wnids[0], "n01440764");
    assert!(wnids.windows(2).all(|w| w[0] < w[1]));
    assert!(wnids.iter().all(|w| w.len() == 9 && w.starts_with("n0")));

    // Train: outer tar of <wnid>.tar, inner <wnid>_<n>.JPEG.
    let train_tar = std::fs::read(dir.path().join("ILSVRC2012_img_train.tar")).unwrap();
    let outer: Vec<String> = tar_members(&train_tar)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let expect: Vec<String> = wnids.iter().map(|w| format!("{w}.tar")).collect();
    assert_eq!(outer, expect);
    let files = train_files(&train_tar);
    assert_eq!(files.len(), cfg.classes * cfg.train_per_class);
    for img in &s.train {
        let wnid = &s.classes[img.label as usize].wnid;
        assert_eq!(
            img.path,
            format!("ILSVRC2012_img_train.tar:{wnid}.tar:{}", img.name)
        );
        assert!(img.name.starts_with(&format!("{wnid}_")) && img.name.ends_with(".JPEG"));
        assert!(files.contains_key(&img.path), "{} missing", img.path);
    }

    // Val: flat, every summary name present, member order not sorted.
    let val = tar_members(&std::fs::read(dir.path().join("ILSVRC2012_img_val.tar")).unwrap());
    let order: Vec<&str> = val.iter().map(|(n, _)| n.as_str()).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_ne!(order, sorted, "val tar members should be shuffled");
    let summary_names: Vec<&str> = s.val.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(sorted, summary_names);
    assert_eq!(summary_names[0], "ILSVRC2012_val_00000001.JPEG");
    assert_eq!(s.val.len(), cfg.classes * cfg.val_per_class);

    // Devkit: meta.mat leaves + internal synsets, IDs not in WNID order,
    // ground truth in file-name order agreeing with the summary.
    let devkit: BTreeMap<String, Vec<u8>> =
        gz_tar_members(&dir.path().join("ILSVRC2012_devkit_t12.tar.gz"))
            .into_iter()
            .collect();
    let meta = read_synsets(&devkit["ILSVRC2012_devkit_t12/data/meta.mat"]).unwrap();
    let leaves: Vec<_> = meta.iter().filter(|m| m.num_children == 0).collect();
    assert_eq!(leaves.len(), cfg.classes);
    assert!(meta.iter().any(|m| m.num_children > 0));
    for m in &meta {
        assert_eq!(m.children.len() as u32, m.num_children);
        assert!(
            m.children
                .iter()
                .all(|c| meta.iter().any(|x| x.ilsvrc2012_id == *c))
        );
    }
    let mut by_wnid: Vec<_> = leaves.clone();
    by_wnid.sort_by(|a, b| a.wnid.cmp(&b.wnid));
    let ids: Vec<u32> = by_wnid.iter().map(|m| m.ilsvrc2012_id).collect();
    assert_ne!(
        ids,
        (1..=cfg.classes as u32).collect::<Vec<_>>(),
        "IDs must not follow WNID order"
    );
    let mut id_set = ids.clone();
    id_set.sort();
    assert_eq!(id_set, (1..=cfg.classes as u32).collect::<Vec<_>>());
    for (c, m) in s.classes.iter().zip(&by_wnid) {
        assert_eq!(
            (c.wnid.as_str(), c.ilsvrc2012_id),
            (m.wnid.as_str(), m.ilsvrc2012_id)
        );
        assert_eq!(m.num_train_images, cfg.train_per_class as u32);
    }
    let truth = String::from_utf8(
        devkit["ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt"].clone(),
    )
    .unwrap();
    let truth: Vec<u32> = truth.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(truth.len(), s.val.len());
    for (id, img) in truth.iter().zip(&s.val) {
        let leaf = leaves.iter().find(|m| m.ilsvrc2012_id == *id).unwrap();
        let label = wnids.iter().position(|w| *w == leaf.wnid).unwrap();
        assert_eq!(label as u32, img.label, "{}", img.name);
    }
    // Every class has val_per_class val images.
    for c in 0..cfg.classes as u32 {
        assert_eq!(
            s.val.iter().filter(|i| i.label == c).count(),
            cfg.val_per_class
        );
    }
}

#[test]
fn oddities_and_corrupt_files_are_what_they_claim() {
    let (dir, s) = run(&config());
    let mut files =
        train_files(&std::fs::read(dir.path().join("ILSVRC2012_img_train.tar")).unwrap());
    for (name, data) in
        tar_members(&std::fs::read(dir.path().join("ILSVRC2012_img_val.tar")).unwrap())
    {
        files.insert(format!("ILSVRC2012_img_val.tar:{name}"), data);
    }
    let kinds: BTreeSet<String> = s.images().map(|i| format!("{:?}", i.kind)).collect();
    for k in [
        "Rgb",
        "Grey",
        "Cmyk",
        "Png",
        "Progressive",
        "Truncated",
        "Empty",
    ] {
        assert!(kinds.contains(k), "no {k} image");
    }
    assert_eq!(s.corrupt().count(), 2);
    for img in s.images() {
        let bytes = &files[&img.path];
        match img.kind {
            ImageKind::Rgb => assert_eq!(sof(bytes), (0xC0, 3)),
            ImageKind::Grey => assert_eq!(sof(bytes), (0xC0, 1)),
            ImageKind::Progressive => assert_eq!(sof(bytes), (0xC2, 3)),
            ImageKind::Cmyk => {
                assert_eq!(sof(bytes).1, 4);
                let adobe = jpeg_segments(bytes)
                    .into_iter()
                    .find(|(m, _)| *m == 0xEE)
                    .expect("no APP14");
                assert!(adobe.1.starts_with(b"Adobe"));
            }
            ImageKind::Png => {
                assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && img.name.ends_with(".JPEG"))
            }
            ImageKind::Truncated => assert!(bytes.starts_with(&[0xFF, 0xD8]) && bytes.len() > 2),
            ImageKind::Empty => assert!(bytes.is_empty()),
        }
        let decoded = image::load_from_memory(bytes);
        if img.kind.is_corrupt() {
            assert!(decoded.is_err(), "{} ({:?}) decoded", img.path, img.kind);
        } else {
            let d = decoded.unwrap_or_else(|e| panic!("{} ({:?}): {e}", img.path, img.kind));
            assert_eq!((d.width(), d.height()), img.size, "{}", img.path);
        }
    }
}

#[test]
fn output_is_deterministic_for_a_seed() {
    let cfg = config();
    let (a, sa) = run(&cfg);
    let (b, sb) = run(&cfg);
    // Images are rendered in parallel; the thread count must not matter.
    let one = tempfile::tempdir().unwrap();
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| synthesize(&cfg, one.path()))
        .unwrap();
    let (c, _) = run(&SynthConfig {
        seed: 8,
        ..cfg.clone()
    });
    assert_eq!(
        sa.images().map(|i| (&i.path, i.label)).collect::<Vec<_>>(),
        sb.images().map(|i| (&i.path, i.label)).collect::<Vec<_>>()
    );
    for f in [
        "ILSVRC2012_img_train.tar",
        "ILSVRC2012_img_val.tar",
        "ILSVRC2012_devkit_t12.tar.gz",
    ] {
        let x = std::fs::read(a.path().join(f)).unwrap();
        assert_eq!(
            x,
            std::fs::read(one.path().join(f)).unwrap(),
            "{f} depends on threads"
        );
        assert_eq!(
            x,
            std::fs::read(b.path().join(f)).unwrap(),
            "{f} differs between runs"
        );
        assert_ne!(
            x,
            std::fs::read(c.path().join(f)).unwrap(),
            "{f} ignores the seed"
        );
    }
}

#[test]
fn bad_configurations_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for bad in [
        SynthConfig {
            classes: 0,
            ..config()
        },
        SynthConfig {
            min_side: 60,
            max_side: 50,
            ..config()
        },
        SynthConfig {
            val_per_class: 0,
            ..config()
        },
    ] {
        let e = synthesize(&bad, dir.path()).unwrap_err();
        assert!(e.to_string().contains("invalid synth configuration"), "{e}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
