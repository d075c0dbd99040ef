//! The archive walker never panics, whatever the bytes: arbitrary input and
//! mutated / truncated real ILSVRC-shaped tars, through `list_tar` and
//! through the whole input detection (`layout::plan`).

use crate::prep_support;

use imagenet_prep::archive::list_tar;
use imagenet_prep::layout;
use prep_support::tar_of;
use proptest::prelude::*;

fn sample_train_tar() -> Vec<u8> {
    let a = tar_of(&[
        ("n01_1.JPEG", b"\xff\xd8\xffabc"),
        ("n01_2.JPEG", &[7u8; 700]),
    ]);
    let long = format!("n02_{}.JPEG", "9".repeat(120));
    let b = tar_of(&[(long.as_str(), b"\x89PNG\r\n\x1a\n")]);
    tar_of(&[("n01.tar", &a), ("n02.tar", &b)])
}

/// Walks outer and inner tars; any error is fine, a panic is not.
fn walk(bytes: &Vec<u8>) {
    if let Ok(members) = list_tar(bytes, 0, bytes.len() as u64) {
        for m in members {
            let _ = list_tar(bytes, m.offset, m.size);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        walk(&bytes);
    }

    #[test]
    fn mutated_tars(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
        cut in any::<usize>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = sample_train_tar();
        for (pos, v) in flips {
            let n = bytes.len();
            bytes[pos % n] = v;
        }
        if truncate {
            let n = bytes.len();
            bytes.truncate(cut % n);
        }
        walk(&bytes);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn plan_on_mutated_archive_never_panics(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = sample_train_tar();
        for (pos, v) in flips {
            let n = bytes.len();
            bytes[pos % n] = v;
        }
        std::fs::write(dir.path().join("ILSVRC2012_img_train.tar"), &bytes).unwrap();
        let _ = layout::plan(dir.path(), &layout::PlanOptions::default());
    }
}
