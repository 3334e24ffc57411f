//! Natural test content shared by the kernel tests.
#![allow(dead_code)]

use lv_testkit::y4m;

/// Luma planes of a corpus clip (8-bit samples widened to u16) and its size.
pub fn luma(name: &str, n: usize) -> (Vec<Vec<u16>>, usize, usize) {
    let path = lv_testkit::oracle::corpus_dir().join("test").join(name);
    let (hdr, frames) = y4m::read_all(&path)
        .unwrap_or_else(|e| panic!("{} ({e}): run scripts/fetch-test-deps.sh", path.display()));
    let planes = frames
        .into_iter()
        .take(n)
        .map(|f| f.planes[0].clone())
        .collect();
    (planes, hdr.width, hdr.height)
}

pub fn to_u8(v: &[u16]) -> Vec<u8> {
    v.iter().map(|&x| x as u8).collect()
}
