//! ImageFolder trees (torchvision's `train/<class>/…`, `val/<class>/…`) with
//! class names that are not WNIDs: labels, order, names in the manifest,
//! nested folders, extensions, and errors that speak of classes, not WNIDs.

use crate::prep_support::read_split;

use std::path::{Path, PathBuf};
use std::process::Command;

use imagenet_prep::layout::Layout;
use imagenet_prep::{PrepConfig, PrepError, prepare, read_manifest, verify};

/// The classes, in the byte order that numbers them (upper case first).
const CLASSES: [&str; 4] = ["Zebra crossing", "airplane", "café", "ship, boat"];

/// A solid colour per class, far apart, so a prepared image tells its class.
fn colour(class: usize) -> [u8; 3] {
    [[230, 20, 20], [20, 230, 20], [20, 20, 230], [230, 230, 20]][class]
}

/// Writes a solid `class`-coloured image at `path`, as JPEG or PNG by
/// `png` (whatever the name says: formats are read by content).
fn image(path: &Path, class: usize, png: bool) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img = image::RgbImage::from_pixel(40, 30, image::Rgb(colour(class)));
    let format = if png {
        image::ImageFormat::Png
    } else {
        image::ImageFormat::Jpeg
    };
    img.save_with_format(path, format).unwrap();
}

/// Files of the tree, relative to its root: (path, class, PNG?). Nested
/// folders, extensions in any case, a name with a space before one with a
/// slash (byte order: `a b/` < `a/`), and files that are not images.
fn files() -> Vec<(&'static str, usize, bool)> {
    vec![
        ("train/Zebra crossing/z1.JPG", 0, false),
        ("train/Zebra crossing/z0.png", 0, true),
        ("train/airplane/b.jpeg", 1, false),
        ("train/airplane/a.Png", 1, true),
        ("train/airplane/jets/deep/x.jpg", 1, false),
        ("train/airplane/jets/c.jpg", 1, false),
        ("train/airplane/jets b/d.jpg", 1, false),
        ("train/café/only.jpg", 2, false),
        ("train/ship, boat/s.JPEG", 3, false),
        ("train/ship, boat/t.jfif", 3, false),
        ("val/airplane/v/a.jpg", 1, false),
        ("val/café/v.png", 2, true),
        ("val/ship, boat/v.jpg", 3, false),
    ]
}

fn tree(root: &Path) -> PathBuf {
    let input = root.join("input");
    for (rel, class, png) in files() {
        image(&input.join(rel), class, png);
    }
    std::fs::write(input.join("train/airplane/README.txt"), "not an image").unwrap();
    std::fs::write(input.join("train/café/labels.csv"), "x,y").unwrap();
    input
}

fn config(input: &Path, out: &Path) -> PrepConfig {
    let mut pc = PrepConfig::new(input, out);
    pc.size = 16;
    pc.shard_size = 3;
    pc.quiet = true;
    pc
}

/// The class whose colour is nearest the image's mean colour.
fn class_of(pixels: &[u8]) -> usize {
    let n = (pixels.len() / 3) as f64;
    let mean: Vec<f64> = (0..3)
        .map(|c| {
            pixels
                .iter()
                .skip(c)
                .step_by(3)
                .map(|&v| v as f64)
                .sum::<f64>()
                / n
        })
        .collect();
    (0..CLASSES.len())
        .min_by(|&a, &b| {
            let d = |k: usize| {
                let want = colour(k);
                (0..3)
                    .map(|c| (mean[c] - want[c] as f64).powi(2))
                    .sum::<f64>()
            };
            d(a).total_cmp(&d(b))
        })
        .unwrap()
}

/// The training images in the order torchvision's `ImageFolder` lists them.
const TORCHVISION_TRAIN_ORDER: [&str; 9] = [
    "train/Zebra crossing/z0.png",
    "train/Zebra crossing/z1.JPG",
    "train/airplane/a.Png",
    "train/airplane/b.jpeg",
    "train/airplane/jets/c.jpg",
    "train/airplane/jets b/d.jpg",
    "train/airplane/jets/deep/x.jpg",
    "train/café/only.jpg",
    "train/ship, boat/s.JPEG",
];

#[test]
fn any_class_names_nested_folders_and_extensions() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tree(tmp.path());
    let out = tmp.path().join("out");
    let s = prepare(&config(&input, &out)).unwrap();
    assert_eq!(s.layout, Layout::ImageFolder);
    // `t.jfif` is not an image by default; README.txt and labels.csv never.
    assert_eq!((s.train_images, s.val_images), (9, 3));
    let m = read_manifest(&out).unwrap();
    let names: Vec<&str> = m.classes.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, CLASSES);
    assert!(
        m.classes
            .iter()
            .all(|c| c.wnid.is_none() && c.words.is_empty())
    );
    assert!(verify(&out).unwrap().is_ok());

    let train = read_split(&out, &m, false);
    let order: Vec<&str> = train.iter().map(|i| i.source.as_str()).collect();
    // Within a class: the class folder's own files, then each subfolder in
    // path order (torchvision's `sorted(os.walk(...))`: `jets` < `jets b` <
    // `jets/deep`), files by name.
    assert_eq!(order, TORCHVISION_TRAIN_ORDER);
    let val = read_split(&out, &m, true);
    for img in train.iter().chain(&val) {
        let (_, class, _) = files()
            .into_iter()
            .find(|(rel, _, _)| *rel == img.source)
            .unwrap_or_else(|| panic!("{} is not an input image", img.source));
        assert_eq!(img.label as usize, class, "label of {}", img.source);
        assert_eq!(class_of(&img.pixels), class, "pixels of {}", img.source);
    }
}

/// torchvision's listing of `root/<split>` as `path<TAB>index` lines
/// (paths relative to `root`), with the classes of `root/train`:
/// `ImageFolder(train).class_to_idx` given to `make_dataset` for both
/// splits, since a bare `ImageFolder(val)` numbers val's own folders and
/// shifts every class after one that val lacks. torchvision's own code when
/// it is installed, else its documented listing (sorted class folders;
/// `sorted(os.walk(class, followlinks=True))`, then sorted file names;
/// extensions compared in lower case).
const IMAGE_FOLDER_SAMPLES: &str = r#"
import os, sys
root, split = sys.argv[1], sys.argv[2]
exts = (".jpg", ".jpeg", ".png")
train = os.path.join(root, "train")
classes = sorted(e.name for e in os.scandir(train) if e.is_dir())
class_to_idx = {c: i for i, c in enumerate(classes)}
d = os.path.join(root, split)
try:
    from torchvision.datasets.folder import make_dataset
    samples = make_dataset(d, class_to_idx, extensions=exts, allow_empty=True)
    print("torchvision", file=sys.stderr)
except ImportError:
    samples = []
    for c in classes:
        for r, _, names in sorted(os.walk(os.path.join(d, c), followlinks=True)):
            samples += [(os.path.join(r, n), class_to_idx[c])
                        for n in sorted(names) if n.lower().endswith(exts)]
for p, i in samples:
    print(os.path.relpath(p, root) + "\t" + str(i))
"#;

#[test]
fn the_order_and_labels_are_torchvision_image_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tree(tmp.path());
    let out = tmp.path().join("out");
    prepare(&config(&input, &out)).unwrap();
    let m = read_manifest(&out).unwrap();
    for (split, val) in [("train", false), ("val", true)] {
        let run = Command::new("python3")
            .args(["-c", IMAGE_FOLDER_SAMPLES])
            .arg(&input)
            .arg(split)
            .output();
        let Ok(run) = run else {
            println!("note: python3 not available; ImageFolder cross-check skipped");
            return;
        };
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let want = String::from_utf8(run.stdout).unwrap();
        let got: String = read_split(&out, &m, val)
            .iter()
            .map(|i| format!("{}\t{}\n", i.source, i.label))
            .collect();
        assert_eq!(got, want, "{split}");
    }
}

#[test]
fn extensions_choose_the_files_read_as_images() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tree(tmp.path());
    let out = tmp.path().join("out");
    let mut pc = config(&input, &out);
    pc.extensions = vec!["JPG".into(), ".jpeg".into(), "png".into(), "jfif".into()];
    let s = prepare(&pc).unwrap();
    assert_eq!(s.train_images, 10, "t.jfif is read, as a JPEG");
    let m = read_manifest(&out).unwrap();
    let train = read_split(&out, &m, false);
    let jfif = train
        .iter()
        .find(|i| i.source.ends_with("t.jfif"))
        .expect("t.jfif prepared");
    assert_eq!((jfif.label, class_of(&jfif.pixels)), (3, 3));

    pc.extensions = vec!["jpg".into(), "jpeg".into()];
    let s = prepare(&pc).unwrap();
    assert_eq!((s.train_images, s.val_images), (7, 2), "no PNGs");

    for (bad, says) in [
        (vec![], "no extension"),
        (vec!["jpg".into(), "".into()], "empty"),
        (vec!["tar.gz".into()], "not a file extension"),
    ] {
        pc.extensions = bad;
        let e = prepare(&pc).unwrap_err();
        assert!(matches!(e, PrepError::BadExtensions { .. }), "{e}");
        assert!(e.to_string().contains(says), "{e}");
    }
}

#[test]
fn errors_speak_of_classes_not_wnids() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");

    // A validation class that training does not have.
    let input = tree(&tmp.path().join("a"));
    image(&input.join("val/giraffe/g.jpg"), 0, false);
    let e = prepare(&config(&input, &out)).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, PrepError::NotImageFolder { .. }), "{msg}");
    assert!(
        msg.contains("giraffe") && msg.contains("ImageFolder"),
        "{msg}"
    );
    assert!(
        !msg.contains("ILSVRC-2012:") && !msg.contains("<wnid>"),
        "{msg}"
    );

    // No class folders at all.
    let input = tmp.path().join("b/input");
    image(&input.join("train/loose.jpg"), 0, false);
    let e = prepare(&config(&input, &out)).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, PrepError::NotImageFolder { .. }), "{msg}");
    assert!(msg.contains("<class>/") && !msg.contains("wnid"), "{msg}");

    // Flat validation images without a devkit: say how ImageFolder wants them.
    let input = tree(&tmp.path().join("c"));
    std::fs::remove_dir_all(input.join("val")).unwrap();
    image(&input.join("val/v.jpg"), 0, false);
    let msg = prepare(&config(&input, &out)).unwrap_err().to_string();
    assert!(msg.contains("val/<class>/"), "{msg}");
}

#[cfg(unix)]
#[test]
fn a_link_back_into_its_own_folder_is_an_error_not_a_hang() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tree(tmp.path());
    let cat = input.join("train/airplane");
    std::os::unix::fs::symlink(&cat, cat.join("jets/again")).unwrap();
    let e = prepare(&config(&input, &tmp.path().join("out"))).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, PrepError::FolderLoop { .. }), "{msg}");
    assert!(msg.contains("again"), "{msg}");
}

#[test]
fn class_folders_named_like_wnids_keep_them_as_wnids() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("input");
    image(&input.join("train/n01440764/a.jpg"), 0, false);
    image(&input.join("train/n01443537/b.jpg"), 1, false);
    let out = tmp.path().join("out");
    prepare(&config(&input, &out)).unwrap();
    let m = read_manifest(&out).unwrap();
    let ids: Vec<Option<&str>> = m.classes.iter().map(|c| c.wnid.as_deref()).collect();
    assert_eq!(ids, [Some("n01440764"), Some("n01443537")]);
}
