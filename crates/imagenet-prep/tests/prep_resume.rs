//! A run interrupted after some shards, then restarted with the same
//! arguments, ends byte-identical to an uninterrupted run.

mod prep_support;

use imagenet_prep::synth::SynthLayout;
use imagenet_prep::{PrepConfig, PrepError, prepare, verify};
use prep_support::*;

#[test]
fn interrupted_run_resumes_to_identical_output() {
    let tmp = tempfile::tempdir().unwrap();
    let (input, _) = synth(tmp.path(), &synth_cfg(SynthLayout::Archives, 3, 6, 3));
    let config = |out: &str, threads: usize| {
        let mut c = PrepConfig::new(&input, tmp.path().join(out));
        c.size = 48;
        c.shard_size = 4;
        c.threads = threads;
        c.quiet = true;
        c
    };

    let straight = config("straight", 1);
    let s = prepare(&straight).unwrap();
    assert_eq!(s.shards_written, 5 + 3);

    // Interrupted after 3 new shards (with a different thread count).
    let mut cut = config("resumed", 2);
    cut.stop_after_shards = Some(3);
    match prepare(&cut) {
        Err(PrepError::Interrupted { shards: 3 }) => {}
        other => panic!("expected an interruption, got {other:?}"),
    }
    assert!(!cut.out.join("manifest.json").exists());
    // Debris of a kill in the middle of a write: a half-written temp file
    // and a shard whose record exists but whose pixels were damaged.
    std::fs::write(cut.out.join(".train-00003.npy.tmp"), b"partial").unwrap();
    let shard1 = cut.out.join("train-00001.npy");
    let mut b = std::fs::read(&shard1).unwrap();
    let k = b.len() / 2;
    b[k] ^= 0xff;
    std::fs::write(&shard1, b).unwrap();

    // A second interruption on resume, then the final run.
    cut.stop_after_shards = Some(2);
    assert!(matches!(prepare(&cut), Err(PrepError::Interrupted { .. })));
    cut.stop_after_shards = None;
    let r = prepare(&cut).unwrap();
    assert!(r.shards_reused >= 3, "reused {}", r.shards_reused);
    assert_eq!(r.shards_reused + r.shards_written, 8);

    let a = all_files(&straight.out);
    let b = all_files(&cut.out);
    let mut names: Vec<_> = a.keys().collect();
    names.sort();
    let mut names_b: Vec<_> = b.keys().collect();
    names_b.sort();
    assert_eq!(names, names_b);
    for n in names {
        assert!(
            a[n] == b[n],
            "{n} differs between the straight and the resumed run"
        );
    }
    assert!(verify(&cut.out).unwrap().is_ok());

    // A finished directory is fully reused on a rerun.
    let again = prepare(&cut).unwrap();
    assert_eq!((again.shards_written, again.shards_reused), (0, 8));
    assert_eq!(all_files(&cut.out), b);
}
