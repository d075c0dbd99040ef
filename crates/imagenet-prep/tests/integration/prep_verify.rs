//! `verify` on damaged outputs: the mean image (checksum, non-finite
//! values) and manifests whose file names point outside their directory.

use crate::prep_support;

use std::path::{Path, PathBuf};

use imagenet_prep::synth::SynthLayout;
use imagenet_prep::{PrepConfig, prepare, read_manifest, verify};
use prep_support::*;
use shard_format::manifest::{MANIFEST_FILE, Manifest};

/// A small prepared dataset: (temp dir, output dir).
fn prepared() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let (input, _) = synth(tmp.path(), &synth_cfg(SynthLayout::Folders, 2, 3, 1));
    let out = tmp.path().join("out");
    let mut pc = PrepConfig::new(&input, &out);
    pc.size = 16;
    pc.shard_size = 4;
    pc.quiet = true;
    prepare(&pc).unwrap();
    (tmp, out)
}

fn write_manifest(out: &Path, m: &Manifest) {
    std::fs::write(
        out.join(MANIFEST_FILE),
        serde_json::to_vec_pretty(m).unwrap(),
    )
    .unwrap();
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn problems(out: &Path) -> Vec<String> {
    verify(out).unwrap().problems
}

#[test]
fn the_mean_image_is_checksummed_and_checked_for_finite_values() {
    let (_tmp, out) = prepared();
    let m = read_manifest(&out).unwrap();
    let cs = m.color_stats.clone().unwrap();
    let mean_path = out.join(&cs.mean_image);
    let original = std::fs::read(&mean_path).unwrap();
    assert_eq!(
        cs.mean_image_sha256.as_deref(),
        Some(sha256_hex(&original).as_str()),
        "the manifest records the mean image's SHA-256"
    );
    assert!(problems(&out).is_empty(), "{:?}", problems(&out));

    // One flipped bit in the data: still a valid finite mean, but not the
    // file prep wrote.
    let h = shard_format::npy::parse_header(&original).unwrap();
    let mut flipped = original.clone();
    flipped[h.data_offset + 5] ^= 0x01;
    std::fs::write(&mean_path, &flipped).unwrap();
    let p = problems(&out);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("mean_image.npy: ") && p[0].contains("does not match the manifest"),
        "{p:?}"
    );

    // A NaN, with the manifest's checksum updated to match (so only the
    // value check can find it), then also an infinity and a value > 1.
    let mut nan = original.clone();
    let at = h.data_offset + 4 * 7;
    nan[at..at + 4].copy_from_slice(&f32::NAN.to_le_bytes());
    std::fs::write(&mean_path, &nan).unwrap();
    let mut m2 = m.clone();
    m2.color_stats.as_mut().unwrap().mean_image_sha256 = Some(sha256_hex(&nan));
    write_manifest(&out, &m2);
    let p = problems(&out);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("mean_image.npy: ")
            && p[0].contains("1 value(s) are not finite")
            && p[0].contains("NaN at (row 0, column 2, channel 1)"),
        "{p:?}"
    );
    let at2 = h.data_offset + 4 * 9;
    nan[at2..at2 + 4].copy_from_slice(&f32::INFINITY.to_le_bytes());
    let at3 = h.data_offset + 4 * 11;
    nan[at3..at3 + 4].copy_from_slice(&1.5f32.to_le_bytes());
    std::fs::write(&mean_path, &nan).unwrap();
    m2.color_stats.as_mut().unwrap().mean_image_sha256 = None;
    write_manifest(&out, &m2);
    let p = problems(&out);
    assert!(
        p.len() == 1
            && p[0].contains("2 value(s) are not finite")
            && p[0].contains("1 lie outside"),
        "{p:?}"
    );

    // A manifest from before the checksum existed still verifies.
    std::fs::write(&mean_path, &original).unwrap();
    write_manifest(&out, &m2);
    assert!(problems(&out).is_empty(), "{:?}", problems(&out));
}

#[test]
fn file_names_leading_out_of_the_directory_are_refused() {
    let (tmp, out) = prepared();
    let m = read_manifest(&out).unwrap();
    // A real shard outside the dataset directory, so that a verify that
    // followed the name would find a perfectly good file there.
    let first = &m.train.as_ref().unwrap().shards[0];
    std::fs::copy(out.join(&first.images), tmp.path().join(&first.images)).unwrap();
    let outside = format!("../{}", first.images);
    let absolute = tmp.path().join(&first.images).display().to_string();
    for (bad, what) in [
        (outside.as_str(), "contains a path separator"),
        (absolute.as_str(), "contains a path separator"),
        ("..", "is a directory reference"),
        ("sub\\train-00000.npy", "contains a path separator"),
    ] {
        let mut m2 = m.clone();
        m2.train.as_mut().unwrap().shards[0].images = bad.to_string();
        write_manifest(&out, &m2);
        let p = problems(&out);
        assert!(
            p.iter()
                .any(|p| p.contains(&format!("{bad:?}")) && p.contains(what)),
            "{bad}: {p:?}"
        );
    }
    let mut m2 = m.clone();
    m2.val.as_mut().unwrap().shards[0].labels = "/etc/passwd".into();
    m2.color_stats.as_mut().unwrap().mean_image = "../mean_image.npy".into();
    write_manifest(&out, &m2);
    let p = problems(&out);
    assert!(
        p.iter()
            .any(|p| p.contains("\"/etc/passwd\"") && p.contains("only name files in its own")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|p| p.contains("mean image") && p.contains("\"../mean_image.npy\"")),
        "{p:?}"
    );
    write_manifest(&out, &m);
    assert!(problems(&out).is_empty());
}
