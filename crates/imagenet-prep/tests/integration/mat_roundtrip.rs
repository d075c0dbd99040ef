//! `.mat` reading: round trips through both writer styles, a file really
//! written by scipy, and clear errors for malformed files.

use imagenet_prep::mat::{MatError, MatStyle, Synset, read_synsets, write_synsets};

fn synset(id: u32, wnid: &str, children: Vec<u32>, height: u32, ntrain: u32) -> Synset {
    Synset {
        ilsvrc2012_id: id,
        wnid: wnid.into(),
        words: format!("words of {wnid}, with a comma"),
        gloss: format!("gloss of {wnid} — non-ASCII: café"),
        num_children: children.len() as u32,
        children,
        wordnet_height: height,
        num_train_images: ntrain,
    }
}

fn devkit_like() -> Vec<Synset> {
    vec![
        synset(3, "n01440764", vec![], 0, 1300),
        synset(1, "n01443537", vec![], 0, 732),
        synset(2, "n02119789", vec![], 0, 70000),
        synset(1001, "n01439121", vec![3, 1], 2, 0),
        synset(1002, "n00001740", vec![1001, 2], 19, 0),
    ]
}

#[test]
fn round_trip_matlab_style() {
    let s = devkit_like();
    let bytes = write_synsets(&s, MatStyle::Matlab);
    assert!(bytes.starts_with(b"MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: "));
    // The variable sits in one miCOMPRESSED (15) element right after the header.
    assert_eq!(u32::from_le_bytes(bytes[128..132].try_into().unwrap()), 15);
    assert_eq!(read_synsets(&bytes).unwrap(), s);
}

#[test]
fn round_trip_scipy_style() {
    let s = devkit_like();
    let bytes = write_synsets(&s, MatStyle::Scipy);
    assert!(bytes.starts_with(b"MATLAB 5.0 MAT-file Platform: posix, Created on: "));
    // Uncompressed: an miMATRIX (14) element right after the header.
    assert_eq!(u32::from_le_bytes(bytes[128..132].try_into().unwrap()), 14);
    assert_eq!(read_synsets(&bytes).unwrap(), s);
}

#[test]
fn round_trip_empty_and_large_arrays() {
    assert_eq!(
        read_synsets(&write_synsets(&[], MatStyle::Matlab)).unwrap(),
        vec![]
    );
    let many: Vec<Synset> = (0..1000u32)
        .map(|i| {
            synset(
                1000 - i,
                &format!("n{:08}", 1_000_000 + i * 7),
                vec![],
                0,
                1300,
            )
        })
        .collect();
    for style in [MatStyle::Matlab, MatStyle::Scipy] {
        assert_eq!(read_synsets(&write_synsets(&many, style)).unwrap(), many);
    }
}

/// `tests/fixtures/scipy_meta.mat` was written by scipy.io.savemat
/// (`tests/fixtures/make_scipy_meta.py`); the values below are that script's.
/// The other two files are what loadmat → savemat round trips make of it:
/// squeezed and compressed, and `mat_struct` objects (a cell array of 1×1
/// structs).
#[test]
fn reads_files_written_by_scipy() {
    for name in [
        "scipy_meta.mat",
        "scipy_meta_squeezed.mat",
        "scipy_meta_objects.mat",
    ] {
        let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes.starts_with(b"MATLAB 5.0 MAT-file Platform: posix"));
        let s = read_synsets(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        // (ID, WNID, num_children, children, wordnet_height, num_train_images)
        type Row<'a> = (u32, &'a str, u32, Vec<u32>, u32, u32);
        let got: Vec<Row> = s
            .iter()
            .map(|x| {
                (
                    x.ilsvrc2012_id,
                    x.wnid.as_str(),
                    x.num_children,
                    x.children.clone(),
                    x.wordnet_height,
                    x.num_train_images,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (1, "n02119789", 0, vec![], 0, 1300),
                (2, "n01440764", 0, vec![], 0, 1300),
                (3, "n04592741", 0, vec![], 0, 1218),
                (4, "n02085620", 0, vec![], 0, 732),
                (5, "n02118333", 1, vec![1], 1, 0),
                (6, "n00001740", 4, vec![5, 2, 3, 4], 19, 0),
            ],
            "{name}"
        );
        assert_eq!(s[0].words, "kit fox, Vulpes macrotis", "{name}");
        assert_eq!(
            s[1].gloss, "freshwater dace-like game fish of Europe and western Asia",
            "{name}"
        );
        assert_eq!(
            s[3].gloss,
            "an old breed of tiny short-haired dog with protruding eyes from Mexico — très petit",
            "{name}"
        );
        assert!(s[..4].iter().all(Synset::is_leaf), "{name}");
    }
}

#[test]
fn malformed_files_get_clear_errors() {
    let good = write_synsets(&devkit_like(), MatStyle::Scipy);

    let e = read_synsets(b"hello").unwrap_err();
    assert!(matches!(e, MatError::NotMat(_)), "{e}");

    let mut v73 = good.clone();
    v73[124..126].copy_from_slice(&0x0200u16.to_le_bytes());
    let e = read_synsets(&v73).unwrap_err();
    assert!(e.to_string().contains("v7.3"), "{e}");

    let e = read_synsets(&good[..good.len() - 100]).unwrap_err();
    assert!(matches!(e, MatError::Malformed { offset: 128, .. }), "{e}");

    let e = read_synsets(&good[..128]).unwrap_err();
    assert!(matches!(e, MatError::NoSynsets { .. }), "{e}");

    let mut renamed = good.clone();
    let at = renamed.windows(7).position(|w| w == b"synsets").unwrap();
    renamed[at] = b'S';
    let e = read_synsets(&renamed).unwrap_err();
    assert!(e.to_string().contains("`Synsets`"), "{e}");

    let mut compressed = write_synsets(&devkit_like(), MatStyle::Matlab);
    let n = compressed.len();
    compressed[n - 20] ^= 0xff;
    let e = read_synsets(&compressed).unwrap_err();
    assert!(matches!(e, MatError::Malformed { .. }), "{e}");
}
