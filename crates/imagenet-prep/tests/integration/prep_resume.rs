//! A run interrupted after some shards, then restarted with the same
//! arguments, ends byte-identical to an uninterrupted run, also when inputs
//! changed in between.

use crate::prep_support;

use std::path::Path;

use imagenet_prep::archive::list_tar;
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

/// Rewrites `path` in place with `content` (same length), then puts its
/// modification time back: only the status-change time (and, with the
/// fallback below, the size-preserving edit itself) tells it apart.
fn rewrite_in_place_keeping_mtime(path: &Path, offset: u64, content: &[u8]) {
    use std::io::{Seek, SeekFrom, Write};
    let before = std::fs::metadata(path).unwrap();
    let mut f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(content).unwrap();
    f.set_modified(before.modified().unwrap()).unwrap();
    drop(f);
    let after = std::fs::metadata(path).unwrap();
    assert_eq!(after.len(), before.len());
    assert_eq!(after.modified().unwrap(), before.modified().unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // The write happened well after the file was made (a whole prep ran
        // in between), so its status-change time moved on; should a coarse
        // file-system clock not have ticked, a moved mtime stands in for it.
        if (after.ctime(), after.ctime_nsec()) == (before.ctime(), before.ctime_nsec()) {
            let later = before.modified().unwrap() + std::time::Duration::from_secs(2);
            let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
            f.set_modified(later).unwrap();
        }
    }
}

/// `small` padded with zeros to `len` bytes: a different image (decoders
/// stop at the end-of-image marker) in a file of the original size.
fn padded(small: &[u8], len: usize) -> Vec<u8> {
    assert!(small.len() <= len);
    let mut v = small.to_vec();
    v.resize(len, 0);
    v
}

/// Interrupt, change inputs of already finished shards (same size), resume:
/// the result must equal a straight run on the changed input, never keep
/// the shards made from the old bytes.
fn resume_after_change(layout: SynthLayout, change: impl Fn(&Path)) {
    let tmp = tempfile::tempdir().unwrap();
    let (input, _) = synth(tmp.path(), &synth_cfg(layout, 3, 6, 3));
    let config = |out: &str| {
        let mut c = PrepConfig::new(&input, tmp.path().join(out));
        c.size = 32;
        c.shard_size = 4;
        c.quiet = true;
        c
    };
    let mut cut = config("resumed");
    cut.stop_after_shards = Some(3);
    assert!(matches!(prepare(&cut), Err(PrepError::Interrupted { .. })));
    let old_shard0 = std::fs::read(cut.out.join("train-00000.npy")).unwrap();

    change(&input);

    cut.stop_after_shards = None;
    let r = prepare(&cut).unwrap();
    let straight = config("straight");
    prepare(&straight).unwrap();
    let (a, b) = (all_files(&straight.out), all_files(&cut.out));
    let mut names: Vec<_> = a.keys().collect();
    names.sort();
    assert_eq!(names.len(), b.len());
    for n in names {
        assert!(
            a[n] == b[n],
            "{n}: the resumed run kept output of the old input"
        );
    }
    assert_ne!(
        b["train-00000.npy"], old_shard0,
        "the change altered shard 0's pixels"
    );
    assert!(r.shards_written >= 2 + 3, "written {}", r.shards_written);
    assert!(verify(&cut.out).unwrap().is_ok());
}

#[test]
fn inputs_changed_in_content_but_not_size_are_redone_on_resume() {
    resume_after_change(SynthLayout::Folders, |input| {
        let class_dirs = |i: usize| {
            let mut d: Vec<_> = std::fs::read_dir(input.join("train"))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            d.sort();
            let mut f: Vec<_> = std::fs::read_dir(&d[i])
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            f.sort();
            f
        };
        let smallest = class_dirs(2)
            .into_iter()
            .map(|p| std::fs::read(p).unwrap())
            .min_by_key(Vec::len)
            .unwrap();
        // Shard 0 (class 0's first four files): the largest of them edited
        // in place, its modification time put back.
        let first4 = &class_dirs(0)[..4];
        let x = first4
            .iter()
            .max_by_key(|p| std::fs::metadata(p).unwrap().len())
            .unwrap();
        let len = std::fs::metadata(x).unwrap().len() as usize;
        rewrite_in_place_keeping_mtime(x, 0, &padded(&smallest, len));
        // Shard 1 (items 4-7): class 0's fifth file replaced by a new file
        // of the same size and modification time (a new inode).
        let y = &class_dirs(0)[4];
        let meta = std::fs::metadata(y).unwrap();
        let tmp = y.with_extension("new");
        std::fs::write(&tmp, padded(&smallest, meta.len() as usize)).unwrap();
        let f = std::fs::OpenOptions::new().write(true).open(&tmp).unwrap();
        f.set_modified(meta.modified().unwrap()).unwrap();
        drop(f);
        std::fs::rename(&tmp, y).unwrap();
    });
}

#[test]
fn tar_members_changed_in_content_but_not_size_are_redone_on_resume() {
    resume_after_change(SynthLayout::Archives, |input| {
        let path = input.join("ILSVRC2012_img_train.tar");
        let bytes = std::fs::read(&path).unwrap();
        let outer = list_tar(&bytes, 0, bytes.len() as u64).unwrap();
        let mut classes: Vec<_> = outer.iter().collect();
        classes.sort_by(|a, b| a.name.cmp(&b.name));
        let members =
            |m: &imagenet_prep::archive::Member| list_tar(&bytes, m.offset, m.size).unwrap();
        let smallest = members(classes[2])
            .into_iter()
            .min_by_key(|m| m.size)
            .unwrap();
        let mut first = members(classes[0]);
        first.sort_by(|a, b| a.name.cmp(&b.name));
        let x = first[..4].iter().max_by_key(|m| m.size).unwrap();
        let small = &bytes[smallest.offset as usize..(smallest.offset + smallest.size) as usize];
        rewrite_in_place_keeping_mtime(&path, x.offset, &padded(small, x.size as usize));
    });
}
