//! Every bad input gets a clear error naming the file.

use crate::prep_support;

use std::io::Write;
use std::path::Path;

use atomic_io::{DirLock, LOCK_FILE, LockError};
use imagenet_prep::synth::SynthLayout;
use imagenet_prep::{PrepConfig, PrepError, prepare, read_manifest, verify};
use prep_support::*;

fn cfg(input: &Path, out: &Path) -> PrepConfig {
    let mut c = PrepConfig::new(input, out);
    c.size = 32;
    c.quiet = true;
    c
}

fn tar_gz(path: &Path, files: &[(&str, &[u8])]) {
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    gz.write_all(&tar_of(files)).unwrap();
    gz.finish().unwrap().flush().unwrap();
}

fn tar_file(path: &Path, files: &[(&str, &[u8])]) {
    std::fs::write(path, tar_of(files)).unwrap();
}

fn expect_err(c: &PrepConfig, names: &[&str]) -> PrepError {
    let e = prepare(c).expect_err("prep should fail");
    let msg = e.to_string();
    for n in names {
        assert!(msg.contains(n), "message {msg:?} should name {n}");
    }
    e
}

#[test]
fn bad_archives_and_devkits() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");

    // Missing input.
    let missing = tmp.path().join("nowhere");
    let e = expect_err(&cfg(&missing, &out), &["nowhere"]);
    assert!(matches!(e, PrepError::MissingInput { .. }));

    // An empty directory.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(matches!(
        expect_err(&cfg(&empty, &out), &["empty"]),
        PrepError::UnknownLayout { .. }
    ));

    // A "tar" that is not one.
    let d = tmp.path().join("nottar");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("ILSVRC2012_img_train.tar"), vec![0x42; 4000]).unwrap();
    assert!(matches!(
        expect_err(&cfg(&d, &out), &["ILSVRC2012_img_train.tar", "not a tar"]),
        PrepError::NotATar { .. }
    ));

    // A tar, but not ILSVRC-shaped: a JPEG where class tars should be.
    let d = tmp.path().join("shape");
    std::fs::create_dir(&d).unwrap();
    tar_file(
        &d.join("ILSVRC2012_img_train.tar"),
        &[("photo.JPEG", b"\xff\xd8\xff")],
    );
    assert!(matches!(
        expect_err(&cfg(&d, &out), &["ILSVRC2012_img_train.tar", "photo.JPEG"]),
        PrepError::NotIlsvrc { .. }
    ));

    // Validation archive without a devkit.
    let d = tmp.path().join("nodevkit");
    std::fs::create_dir(&d).unwrap();
    tar_file(
        &d.join("ILSVRC2012_img_val.tar"),
        &[("ILSVRC2012_val_00000001.JPEG", b"x")],
    );
    assert!(matches!(
        expect_err(
            &cfg(&d, &out),
            &["ILSVRC2012_img_val.tar", "ILSVRC2012_devkit_t12.tar.gz"]
        ),
        PrepError::NoDevkit { .. }
    ));

    // Devkit without meta.mat.
    tar_gz(
        &d.join("ILSVRC2012_devkit_t12.tar.gz"),
        &[(
            "ILSVRC2012_devkit_t12/data/ILSVRC2012_validation_ground_truth.txt",
            b"1\n",
        )],
    );
    assert!(matches!(
        expect_err(
            &cfg(&d, &out),
            &["ILSVRC2012_devkit_t12.tar.gz", "meta.mat"]
        ),
        PrepError::NoMetaMat { .. }
    ));

    // Malformed meta.mat.
    tar_gz(
        &d.join("ILSVRC2012_devkit_t12.tar.gz"),
        &[(
            "ILSVRC2012_devkit_t12/data/meta.mat",
            b"MATLAB 5.0 MAT-file, but then nothing",
        )],
    );
    assert!(matches!(
        expect_err(
            &cfg(&d, &out),
            &["ILSVRC2012_devkit_t12.tar.gz", "malformed meta.mat"]
        ),
        PrepError::BadMetaMat { .. }
    ));

    // A devkit that is not gzip at all.
    std::fs::write(d.join("ILSVRC2012_devkit_t12.tar.gz"), b"plain text").unwrap();
    expect_err(&cfg(&d, &out), &["ILSVRC2012_devkit_t12.tar.gz"]);
}

#[test]
fn missing_val_pixel_limit_and_disk_space() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, _) = synth(tmp.path(), &synth_cfg(SynthLayout::Folders, 2, 3, 2));
    let out = tmp.path().join("out");

    // Disk too small (the free space is assumed, not measured).
    let mut c = cfg(&input, &out);
    c.assume_free_bytes = Some(10_000);
    let e = expect_err(&c, &["out", "not enough free disk space"]);
    assert!(matches!(e, PrepError::DiskTooSmall { .. }));
    // Nothing written but the lock file (which the next run reuses).
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, [LOCK_FILE], "nothing written");

    // Pixel limit: every image is rejected before decoding, named; with
    // not one image left, the run says so (rather than suggest --skip-bad).
    let mut c = cfg(&input, &out);
    c.max_pixels = 100;
    let e = expect_err(&c, &["train/", "exceeds the limit of 100 pixels"]);
    assert!(matches!(e, PrepError::NoUsableImages { .. }), "{e}");
    assert!(e.to_string().contains("all 6 input image(s)"), "{e}");

    // A val image the ground truth lists is missing: named, with the way out.
    let val = input.join("val");
    let first = std::fs::read_dir(&val)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_file(&first).unwrap();
    let name = first.file_name().unwrap().to_string_lossy().into_owned();
    let e = expect_err(
        &cfg(&input, &out),
        &[
            "ILSVRC2012_validation_ground_truth.txt",
            "1 of the 4 validation images",
            &format!("val/{name}"),
            "--skip-bad",
        ],
    );
    assert!(matches!(e, PrepError::MissingVal { .. }));

    // Asking for a split that is absent.
    std::fs::remove_dir_all(&val).unwrap();
    let mut c = cfg(&input, &out);
    c.splits = Some(vec![imagenet_prep::SplitName::Val]);
    expect_err(&c, &["val", "requested"]);
}

#[test]
fn a_locked_output_directory_is_refused_naming_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, _) = synth(tmp.path(), &synth_cfg(SynthLayout::Folders, 2, 2, 1));
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // Another run (here: this test) holds the directory.
    let held = DirLock::acquire(&out, "prep").unwrap();
    let e = expect_err(
        &cfg(&input, &out),
        &[
            "out",
            "in use by prep (pid ",
            &format!("pid {})", std::process::id()),
            "choose another output directory",
        ],
    );
    assert!(
        matches!(e, PrepError::Lock(LockError::Busy { .. })),
        "{e:?}"
    );
    assert!(!out.join("manifest.json").exists());
    drop(held);

    // Released: the run goes through, and the lock file it leaves behind
    // disturbs neither verify nor a rerun.
    let s = prepare(&cfg(&input, &out)).unwrap();
    assert_eq!((s.train_images, s.val_images), (4, 2));
    assert!(out.join(LOCK_FILE).exists());
    let report = verify(&out).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    let again = prepare(&cfg(&input, &out)).unwrap();
    assert_eq!(again.shards_written, 0);
    assert_eq!(read_manifest(&out).unwrap().train.unwrap().num_images, 4);
}

#[test]
fn an_output_path_that_is_a_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, _) = synth(tmp.path(), &synth_cfg(SynthLayout::Folders, 2, 2, 1));
    let out = tmp.path().join("out.npy");
    std::fs::write(&out, b"not a directory").unwrap();
    let e = expect_err(&cfg(&input, &out), &["out.npy is a file, not a directory"]);
    assert!(matches!(e, PrepError::OutNotDir { .. }), "{e:?}");
    assert_eq!(std::fs::read(&out).unwrap(), b"not a directory");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

#[test]
fn gzip_compressed_tars_get_the_way_to_decompress_them() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let inner = tar_of(&[("n01440764_1.JPEG", b"\xff\xd8\xff")]);

    // The train archive under its plain name, but gzip-compressed.
    let d = tmp.path().join("gz-train");
    std::fs::create_dir(&d).unwrap();
    let outer = tar_of(&[("n01440764.tar", &inner)]);
    std::fs::write(d.join("ILSVRC2012_img_train.tar"), gzip(&outer)).unwrap();
    let e = expect_err(
        &cfg(&d, &out),
        &[
            "ILSVRC2012_img_train.tar: this looks gzip-compressed",
            "decompress it first (gunzip -c ",
            "ILSVRC2012_img_train.tar.plain && mv ",
        ],
    );
    assert!(matches!(e, PrepError::Gzipped { .. }), "{e:?}");

    // The same for the validation archive (train absent).
    let d = tmp.path().join("gz-val");
    std::fs::create_dir(&d).unwrap();
    let val = tar_of(&[("ILSVRC2012_val_00000001.JPEG", b"\xff\xd8\xff")]);
    std::fs::write(d.join("ILSVRC2012_img_val.tar"), gzip(&val)).unwrap();
    tar_gz(
        &d.join("ILSVRC2012_devkit_t12.tar.gz"),
        &[(
            "ILSVRC2012_devkit_t12/data/meta.mat",
            &imagenet_prep::mat::write_synsets(
                &[imagenet_prep::mat::Synset {
                    ilsvrc2012_id: 1,
                    wnid: "n01440764".into(),
                    words: "tench".into(),
                    gloss: String::new(),
                    num_children: 0,
                    children: vec![],
                    wordnet_height: 0,
                    num_train_images: 1,
                }],
                imagenet_prep::mat::MatStyle::Matlab,
            ),
        )],
    );
    expect_err(
        &cfg(&d, &out),
        &[
            "ILSVRC2012_img_val.tar: this looks gzip-compressed",
            "gunzip",
        ],
    );

    // A gzip-compressed class archive inside a plain train archive.
    let d = tmp.path().join("gz-inner");
    std::fs::create_dir(&d).unwrap();
    let outer = tar_of(&[("n01440764.tar", &gzip(&inner))]);
    std::fs::write(d.join("ILSVRC2012_img_train.tar"), outer).unwrap();
    expect_err(
        &cfg(&d, &out),
        &[
            "ILSVRC2012_img_train.tar:n01440764.tar: this looks gzip-compressed",
            "gunzip the class archive",
        ],
    );

    // The archive kept as .tar.gz: found and named, not "no input found".
    let d = tmp.path().join("tar-gz-name");
    std::fs::create_dir(&d).unwrap();
    let outer = tar_of(&[("n01440764.tar", &inner)]);
    std::fs::write(d.join("ILSVRC2012_img_train.tar.gz"), gzip(&outer)).unwrap();
    expect_err(
        &cfg(&d, &out),
        &[
            "ILSVRC2012_img_train.tar.gz: this looks gzip-compressed",
            "ILSVRC2012_img_train.tar in its place",
        ],
    );
}

#[test]
fn a_split_whose_every_image_is_rejected_fails_even_with_skip_bad() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, _) = synth(tmp.path(), &synth_cfg(SynthLayout::Folders, 2, 3, 2));
    let out = tmp.path().join("out");

    // Every image over the pixel limit: left out one by one, but a run
    // that is left with nothing has failed.
    let mut c = cfg(&input, &out);
    c.max_pixels = 100;
    c.skip_bad = true;
    let e = expect_err(
        &c,
        &[
            "train split: no usable image",
            "all 6 input image(s) were rejected",
            "exceeds the limit of 100 pixels",
            "and 1 more",
            "no manifest was written",
        ],
    );
    assert!(matches!(e, PrepError::NoUsableImages { .. }), "{e:?}");
    assert!(!out.join("manifest.json").exists());

    // Train is fine, but every validation image is damaged.
    for f in std::fs::read_dir(input.join("val")).unwrap() {
        let p = f.unwrap().path();
        std::fs::write(&p, b"not an image").unwrap();
    }
    let mut c = cfg(&input, &out);
    c.skip_bad = true;
    let e = expect_err(
        &c,
        &[
            "val split: no usable image",
            "all 4 input image(s) were rejected",
            "val/",
        ],
    );
    assert!(matches!(e, PrepError::NoUsableImages { .. }), "{e:?}");
    assert!(!out.join("manifest.json").exists());
    // Without --skip-bad the usual list of bad images is not what comes
    // first: --skip-bad would not help.
    expect_err(&cfg(&input, &out), &["val split: no usable image"]);

    // A split with no image files at all fails before anything is decoded.
    std::fs::remove_dir_all(input.join("val")).unwrap();
    for class in std::fs::read_dir(input.join("train")).unwrap() {
        for f in std::fs::read_dir(class.unwrap().path()).unwrap() {
            std::fs::remove_file(f.unwrap().path()).unwrap();
        }
    }
    expect_err(
        &cfg(&input, &out),
        &[
            "train split: no usable image",
            "the input holds no image for it",
        ],
    );
}

#[test]
fn a_val_class_without_training_images_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let mut sc = synth_cfg(SynthLayout::Folders, 3, 2, 1);
    sc.val_by_class = true;
    let (input, _) = synth(tmp.path(), &sc);
    // Without the devkit, the class folders number the classes.
    std::fs::remove_file(input.join("ILSVRC2012_devkit_t12.tar.gz")).unwrap();
    let out = tmp.path().join("out");
    let s = prepare(&cfg(&input, &out)).unwrap();
    assert_eq!((s.train_images, s.val_images), (6, 3));
    let trained = read_manifest(&out).unwrap().classes;

    // A validation class sorting before all others, with no train folder:
    // numbering train ∪ val would shift every training class by one.
    let image = std::fs::read_dir(input.join("val"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .and_then(|d| std::fs::read_dir(d).unwrap().next())
        .unwrap()
        .unwrap()
        .path();
    let extra = input.join("val").join("n00000001");
    std::fs::create_dir(&extra).unwrap();
    std::fs::copy(&image, extra.join("x.JPEG")).unwrap();
    for splits in [None, Some(vec![imagenet_prep::SplitName::Val])] {
        let mut c = cfg(&input, &out);
        c.splits = splits;
        let e = expect_err(
            &c,
            &["val/n00000001", "no training images", "train/n00000001"],
        );
        assert!(matches!(e, PrepError::NotImageFolder { .. }), "{e:?}");
    }
    // An empty train folder of that name is no better.
    std::fs::create_dir(input.join("train").join("n00000001")).unwrap();
    expect_err(&cfg(&input, &out), &["val/n00000001", "no training images"]);

    // Removed again: val alone is labelled with the training numbering.
    std::fs::remove_dir_all(&extra).unwrap();
    std::fs::remove_dir(input.join("train").join("n00000001")).unwrap();
    let mut c = cfg(&input, &out);
    c.splits = Some(vec![imagenet_prep::SplitName::Val]);
    prepare(&c).unwrap();
    assert_eq!(read_manifest(&out).unwrap().classes, trained);
}
