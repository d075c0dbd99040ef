//! Property test: the `.mat` reader never panics, whatever the bytes —
//! arbitrary input and valid files with bit flips, truncations and
//! corrupted length fields.

use imagenet_prep::mat::{MatStyle, Synset, read_synsets, write_synsets};
use proptest::prelude::*;

fn valid(style: MatStyle) -> Vec<u8> {
    let s: Vec<Synset> = (0..4u32)
        .map(|i| Synset {
            ilsvrc2012_id: 4 - i,
            wnid: format!("n0{}", 1440764 + i),
            words: "a, b".into(),
            gloss: "g".into(),
            num_children: if i == 3 { 2 } else { 0 },
            children: if i == 3 { vec![1, 2] } else { vec![] },
            wordnet_height: i,
            num_train_images: 1300 * i,
        })
        .collect();
    write_synsets(&s, style)
}

fn scipy_fixture() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/scipy_meta.mat"
    ))
    .unwrap()
}

/// Ways to damage a valid file.
#[derive(Debug, Clone)]
enum Damage {
    Flip(usize, u8),
    Truncate(usize),
    /// Overwrite an aligned 4-byte word (tags and lengths sit there).
    Word(usize, u32),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Damage::Flip(at, bit)),
        any::<usize>().prop_map(Damage::Truncate),
        (
            any::<usize>(),
            prop_oneof![
                Just(0u32),
                Just(u32::MAX),
                Just(0x7fff_ffff),
                Just(0x0004_0005),
                any::<u32>(),
                0u32..64
            ]
        )
            .prop_map(|(at, v)| Damage::Word(at, v)),
    ]
}

fn apply(mut bytes: Vec<u8>, damages: &[Damage]) -> Vec<u8> {
    for d in damages {
        if bytes.is_empty() {
            break;
        }
        match *d {
            Damage::Flip(at, bit) => {
                let i = at % bytes.len();
                bytes[i] ^= 1 << bit;
            }
            Damage::Truncate(at) => bytes.truncate(at % bytes.len()),
            Damage::Word(at, v) => {
                let words = bytes.len() / 4;
                if words > 0 {
                    let i = (at % words) * 4;
                    bytes[i..i + 4].copy_from_slice(&v.to_le_bytes());
                }
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..600), header in any::<bool>()) {
        // Half the cases get a valid header so the element parser is reached.
        if header && bytes.len() >= 128 {
            bytes[124..128].copy_from_slice(&[0, 1, b'I', b'M']);
        }
        let _ = read_synsets(&bytes);
    }

    #[test]
    fn damaged_valid_files_never_panic(which in 0usize..3, damages in proptest::collection::vec(damage(), 1..4)) {
        let base = match which {
            0 => valid(MatStyle::Scipy),
            1 => valid(MatStyle::Matlab),
            _ => scipy_fixture(),
        };
        let _ = read_synsets(&apply(base, &damages));
    }
}

/// Damage inside the compressed stream: re-compress a damaged inner element
/// so the parser (not zlib) sees the corruption.
#[test]
fn damaged_compressed_payloads_never_panic() {
    use proptest::strategy::ValueTree;
    use std::io::{Read, Write};
    let file = valid(MatStyle::Matlab);
    let mut inner = Vec::new();
    flate2::read::ZlibDecoder::new(&file[136..])
        .read_to_end(&mut inner)
        .unwrap();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strat = proptest::collection::vec(damage(), 1..4);
    for _ in 0..500 {
        let d = strat.new_tree(&mut runner).unwrap().current();
        let bad = apply(inner.clone(), &d);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        z.write_all(&bad).unwrap();
        let packed = z.finish().unwrap();
        let mut f = file[..128].to_vec();
        f.extend_from_slice(&15u32.to_le_bytes());
        f.extend_from_slice(&(packed.len() as u32).to_le_bytes());
        f.extend_from_slice(&packed);
        let _ = read_synsets(&f);
    }
}
