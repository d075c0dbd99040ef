//! Unit tests that need the crate-private writer (big-endian output).

use super::reader::read_variables;
use super::value::Value;
use super::writer::{StructArray, write_struct_file};
use super::{MatStyle, Synset, read_synsets, write_synsets};

fn sample() -> Vec<Synset> {
    vec![
        Synset {
            ilsvrc2012_id: 2,
            wnid: "n01440764".into(),
            words: "tench, Tinca tinca".into(),
            gloss: "freshwater dace-like game fish — ü".into(),
            num_children: 0,
            children: vec![],
            wordnet_height: 0,
            num_train_images: 1300,
        },
        Synset {
            ilsvrc2012_id: 70000,
            wnid: "n00001740".into(),
            words: "entity".into(),
            gloss: String::new(),
            num_children: 2,
            children: vec![2, 1],
            wordnet_height: 19,
            num_train_images: 0,
        },
    ]
}

#[test]
fn big_endian_files_read_the_same() {
    let s = sample();
    for style in [MatStyle::Matlab, MatStyle::Scipy] {
        let le = write_synsets(&s, style);
        assert_eq!(&le[126..128], b"IM");
        assert_eq!(read_synsets(&le).unwrap(), s);
    }
    // Build the same array big-endian through the generic writer.
    let fields = vec!["ILSVRC2012_ID", "WNID", "words", "num_children", "children"];
    let elements = s
        .iter()
        .map(|x| {
            vec![
                Value::Numeric {
                    dims: vec![1, 1],
                    real: vec![x.ilsvrc2012_id as f64],
                },
                Value::Char {
                    text: x.wnid.clone(),
                },
                Value::Char {
                    text: x.words.clone(),
                },
                Value::Numeric {
                    dims: vec![1, 1],
                    real: vec![x.num_children as f64],
                },
                Value::Numeric {
                    dims: vec![1, x.children.len()],
                    real: x.children.iter().map(|&c| c as f64).collect(),
                },
            ]
        })
        .collect();
    let a = StructArray {
        name: "synsets",
        dims: vec![2, 1],
        fields,
        elements,
    };
    for style in [MatStyle::Matlab, MatStyle::Scipy] {
        let be = write_struct_file(&a, style, true);
        assert_eq!(&be[126..128], b"MI");
        let got = read_synsets(&be).unwrap();
        assert_eq!(got.len(), 2);
        for (g, want) in got.iter().zip(&s) {
            assert_eq!(g.ilsvrc2012_id, want.ilsvrc2012_id);
            assert_eq!(g.wnid, want.wnid);
            assert_eq!(g.words, want.words);
            assert_eq!(g.children, want.children);
            // Missing optional fields default to empty/zero.
            assert_eq!(g.gloss, "");
            assert_eq!(g.num_train_images, 0);
        }
    }
}

/// Reads the MATLAB-written files of scipy's own test suite (MATLAB 6.1
/// big-endian Solaris, 6.5, 7.1 and 7.4 compressed). Not run by default:
/// `SCIPY_MAT_DIR=$(python3 -c "import scipy.io.matlab as m, os;
/// print(os.path.dirname(m.__file__))")/tests/data cargo test --release -p
/// imagenet-prep --lib -- --ignored matlab_written`.
#[test]
#[ignore = "needs scipy's test data (SCIPY_MAT_DIR)"]
fn matlab_written_files_from_scipys_test_data() {
    let dir = std::path::PathBuf::from(std::env::var("SCIPY_MAT_DIR").expect("set SCIPY_MAT_DIR"));
    let read = |name: &str| {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        read_variables(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"))
    };
    for version in ["6.1_SOL2", "6.5.1_GLNX86", "7.1_GLNX86", "7.4_GLNX86"] {
        let v = read(&format!("teststructarr_{version}.mat"));
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].name, "teststructarr");
        let Value::Struct {
            dims,
            fields,
            elements,
        } = &v[0].value
        else {
            panic!("{version}: not a struct");
        };
        assert_eq!(
            (dims.as_slice(), fields.as_slice()),
            (&[1, 2][..], &["one".to_string(), "two".to_string()][..])
        );
        assert_eq!(
            elements[1][1],
            Value::Char {
                text: "number 2".into()
            }
        );
        assert_eq!(
            elements[0][1],
            Value::Numeric {
                dims: vec![1, 1],
                real: vec![2.0]
            }
        );

        let v = read(&format!("teststringarray_{version}.mat"));
        assert_eq!(
            v[0].value,
            Value::Char {
                text: "one  \ntwo  \nthree".into()
            }
        );
        let v = read(&format!("testmatrix_{version}.mat"));
        let Value::Numeric { dims, real } = &v[0].value else {
            panic!()
        };
        assert_eq!(
            (dims.as_slice(), &real[..4]),
            (&[3, 5][..], &[1.0, 2.0, 3.0, 2.0][..])
        );
    }
    let v = read("testunicode_7.4_GLNX86.mat");
    let Value::Char { text } = &v[0].value else {
        panic!()
    };
    assert!(text.contains("すべての人間は"));
    let v = read("testemptycell_7.4_GLNX86.mat");
    let Value::Cell { elements } = &v[0].value else {
        panic!()
    };
    assert_eq!(elements.len(), 5);
    assert_eq!(
        elements[2],
        Value::Numeric {
            dims: vec![0, 0],
            real: vec![]
        }
    );
    let v73 = std::fs::read(dir.join("testhdf5_7.4_GLNX86.mat")).unwrap();
    assert!(read_variables(&v73).is_err());
    // Every file, good or bad, reads or fails cleanly.
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "mat") {
            let _ = read_variables(&std::fs::read(&p).unwrap());
        }
    }
}

/// Strings from the file reach error messages escaped: a control byte in a
/// variable or field name (an ESC sequence could rewrite the terminal) is
/// shown as `\u{1b}`, never sent raw.
#[test]
fn control_bytes_from_the_file_are_escaped_in_errors() {
    let array = |name: &'static str, fields: Vec<&'static str>| StructArray {
        name,
        dims: vec![1, 1],
        elements: vec![
            fields
                .iter()
                .map(|_| Value::Char { text: "x".into() })
                .collect(),
        ],
        fields,
    };
    for style in [MatStyle::Matlab, MatStyle::Scipy] {
        let bytes = write_struct_file(&array("evil\x1b[2J", vec!["WNID"]), style, false);
        let msg = read_synsets(&bytes).unwrap_err().to_string();
        assert!(msg.contains("`evil\\u{1b}[2J`"), "{msg}");
        assert!(!msg.chars().any(char::is_control), "{msg:?}");

        let bytes = write_struct_file(&array("synsets", vec!["WN\x07ID", "words"]), style, false);
        let msg = read_synsets(&bytes).unwrap_err().to_string();
        assert!(msg.contains("WN\\u{7}ID, words"), "{msg}");
        assert!(!msg.chars().any(char::is_control), "{msg:?}");
    }
}
