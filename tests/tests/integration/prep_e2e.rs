//! End to end at the real output size (256): synth archives → prep →
//! verify → every label right, statistics sane, shards readable by numpy.

use imagenet_prep::{read_manifest, verify};
use shard_format::npy;

#[test]
fn prep_at_256_verifies_and_labels_every_image() {
    let tmp = tempfile::tempdir().unwrap();
    let p = e2e::synth_and_prep(tmp.path(), 3, 5, 3, (120, 400), 256).unwrap();
    assert_eq!((p.prep.train_images, p.prep.val_images), (15, 9));
    let report = verify(&p.out).unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);

    let m = read_manifest(&p.out).unwrap();
    assert_eq!(m.image_size, 256);
    let truth: std::collections::HashMap<&str, u32> = p
        .synth
        .images()
        .map(|i| (i.path.as_str(), i.label))
        .collect();
    for split in [m.train.as_ref().unwrap(), m.val.as_ref().unwrap()] {
        for shard in &split.shards {
            let bytes = std::fs::read(p.out.join(&shard.labels)).unwrap();
            let h = npy::parse_header(&bytes).unwrap();
            let labels: Vec<i16> = bytes[h.data_offset..]
                .chunks(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect();
            for (src, label) in shard.sources.iter().zip(labels) {
                assert_eq!(truth[src.as_str()] as i16, label, "{src}");
            }
            let px = std::fs::metadata(p.out.join(&shard.images)).unwrap().len();
            assert_eq!(px, 128 + shard.count * 256 * 256 * 3);
        }
    }
    let cs = m.color_stats.unwrap();
    assert_eq!(cs.num_images, 15);
    assert!(cs.mean.iter().all(|&v| v > 0.0 && v < 1.0));
    assert!(cs.eigenvalues[0] > 0.0 && cs.eigenvalues[2] >= 0.0);

    let numpy = std::process::Command::new("python3")
        .args(["-c", "import numpy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !numpy {
        println!("note: python3 with numpy not available; numpy check skipped");
        return;
    }
    let shard = &m.val.as_ref().unwrap().shards[0];
    let script = format!(
        "import numpy as np\nx = np.load({:?}, mmap_mode='r')\nprint(x.shape, x.dtype, int(x[-1].astype(np.int64).sum()))",
        p.out.join(&shard.images).display().to_string()
    );
    let o = std::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(p.out.join(&shard.images)).unwrap();
    let last: u64 = bytes[bytes.len() - 256 * 256 * 3..]
        .iter()
        .map(|&v| v as u64)
        .sum();
    assert_eq!(
        String::from_utf8(o.stdout).unwrap().trim(),
        format!("(9, 256, 256, 3) uint8 {last}")
    );
}
