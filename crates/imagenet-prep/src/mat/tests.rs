//! Unit tests that need the crate-private writer (big-endian output).

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
