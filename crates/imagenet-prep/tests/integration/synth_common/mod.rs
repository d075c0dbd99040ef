//! Helpers shared by the synth tests (included with `mod`).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

/// Every member of a tar as (name, bytes), in archive order.
pub fn tar_members(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(bytes);
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (name, data)
        })
        .collect()
}

pub fn gz_tar_members(path: &Path) -> Vec<(String, Vec<u8>)> {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    tar_members(&raw)
}

/// Train images of an archive layout keyed by summary path
/// (`ILSVRC2012_img_train.tar:<wnid>.tar:<name>`).
pub fn train_files(train_tar: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for (inner_name, inner) in tar_members(train_tar) {
        for (name, data) in tar_members(&inner) {
            out.insert(
                format!("ILSVRC2012_img_train.tar:{inner_name}:{name}"),
                data,
            );
        }
    }
    out
}

/// JPEG markers of a file up to the first scan: (marker, segment payload).
pub fn jpeg_segments(bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    assert_eq!(&bytes[..2], &[0xFF, 0xD8], "not a JPEG");
    let mut out = Vec::new();
    let mut pos = 2;
    while pos + 4 <= bytes.len() {
        assert_eq!(bytes[pos], 0xFF);
        let marker = bytes[pos + 1];
        let len = u16::from_be_bytes([bytes[pos + 2], bytes[pos + 3]]) as usize;
        out.push((marker, bytes[pos + 4..pos + 2 + len].to_vec()));
        if marker == 0xDA {
            break;
        }
        pos += 2 + len;
    }
    out
}

/// (SOF marker, number of components) of a JPEG.
pub fn sof(bytes: &[u8]) -> (u8, u8) {
    jpeg_segments(bytes)
        .into_iter()
        .find(|(m, _)| matches!(m, 0xC0..=0xC3))
        .map(|(m, p)| (m, p[5]))
        .expect("no SOF marker")
}
