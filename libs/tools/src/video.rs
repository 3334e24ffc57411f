//! Frames of y4m clips for the tools that fit or train on video pairs.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use lv_testkit::y4m::Reader;

/// The 8-bit luma of every `every`-th frame of a y4m file, with its width and height.
pub fn luma_frames(path: &Path, every: usize) -> Result<(usize, usize, Vec<Vec<u8>>), String> {
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    let f = File::open(path).map_err(err)?;
    let mut r = Reader::new(BufReader::new(f)).map_err(err)?;
    let (w, h) = (r.header.width, r.header.height);
    if r.header.bpc != 8 {
        return Err(format!("{}: not 8-bit", path.display()));
    }
    let mut out = Vec::new();
    let mut i = 0usize;
    while let Some(frame) = r.next_frame().map_err(err)? {
        if i.is_multiple_of(every.max(1)) {
            out.push(frame.planes[0].iter().map(|&v| v as u8).collect());
        }
        i += 1;
    }
    Ok((w, h, out))
}
