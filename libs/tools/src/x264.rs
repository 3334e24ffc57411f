//! x264 round trips for training on codec-degraded pictures, through the oracle ffmpeg (the
//! encoder the evaluation measures with), many planes to one encode.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// How x264 picks its quantiser for a training round trip.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum RateControl {
    /// `-qp N`: one fixed quantiser, whatever the content.
    Qp,
    /// `-crf N`: x264's constant-quality mode, the mode the evaluation's ladders are encoded
    /// with; its adaptive quantisation spends fewer bits on detail the eye masks, so a net
    /// trained against it sees the operating point it is measured at.
    Crf,
}

impl RateControl {
    fn flag(self) -> &'static str {
        match self {
            RateControl::Qp => "-qp",
            RateControl::Crf => "-crf",
        }
    }
}

/// x264 encode + decode of several 8-bit planes at one QP through the oracle ffmpeg.
///
/// The planes are tiled into one picture (cells aligned to 16 so macroblocks do not straddle
/// two planes; the rest of each cell repeats the plane's edge so it costs few bits and rings
/// little), encoded as one I420 frame with neutral chroma (or, by [`Codec::roundtrip_frames`],
/// as a short stream of such pictures), decoded, and cut apart again.
pub struct Codec {
    ffmpeg: PathBuf,
    dir: PathBuf,
}

impl Codec {
    /// A codec whose bitstreams go to a temporary folder named for `tool` and this process,
    /// removed when the codec is dropped.
    pub fn new(tool: &str) -> Result<Self, String> {
        let ffmpeg = lv_testkit::oracle::ffmpeg()?;
        let dir = std::env::temp_dir().join(format!("{tool}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        Ok(Codec { ffmpeg, dir })
    }

    /// The planes (width, height, samples) as they come back from x264 at `qp`.
    pub fn roundtrip<P: AsRef<[u8]>>(
        &self,
        planes: &[(usize, usize, P)],
        qp: u32,
    ) -> Result<Vec<Vec<u8>>, String> {
        self.roundtrip_rc(planes, RateControl::Qp, qp)
    }

    /// [`Codec::roundtrip`] with the rate control `rc` at value `q` (QP or CRF).
    pub fn roundtrip_rc<P: AsRef<[u8]>>(
        &self,
        planes: &[(usize, usize, P)],
        rc: RateControl,
        qp: u32,
    ) -> Result<Vec<Vec<u8>>, String> {
        self.roundtrip_frames(planes, 1, rc, qp)
    }

    /// [`Codec::roundtrip_rc`] of `frames` pictures coded as one stream, so that all but the
    /// first are inter-coded as in a real encode: plane `s * frames + t` is frame `t` of
    /// sequence `s`, and the sequences sit in the same cell of every picture.
    pub fn roundtrip_frames<P: AsRef<[u8]>>(
        &self,
        planes: &[(usize, usize, P)],
        frames: usize,
        rc: RateControl,
        qp: u32,
    ) -> Result<Vec<Vec<u8>>, String> {
        if frames == 0 || planes.is_empty() || !planes.len().is_multiple_of(frames) {
            return Err(format!(
                "{} planes are not whole sequences of {frames} frames",
                planes.len()
            ));
        }
        let seqs = planes.len() / frames;
        let cw = planes.iter().map(|p| p.0).max().unwrap().div_ceil(16) * 16;
        let ch = planes.iter().map(|p| p.1).max().unwrap().div_ceil(16) * 16;
        let cols = (seqs as f64).sqrt().ceil() as usize;
        let rows = seqs.div_ceil(cols);
        let (pw, ph) = (cols * cw, rows * ch);
        let frame_len = pw * ph * 3 / 2;
        let mut pic = vec![128u8; frame_len * frames];
        for (i, (w, h, y)) in planes.iter().enumerate() {
            let y = y.as_ref();
            let (s, t) = (i / frames, i % frames);
            let (ox, oy) = ((s % cols) * cw, (s / cols) * ch);
            let f = &mut pic[t * frame_len..][..pw * ph];
            for r in 0..ch {
                let sr = r.min(h - 1);
                for c in 0..cw {
                    f[(oy + r) * pw + ox + c] = y[sr * w + c.min(w - 1)];
                }
            }
        }
        let h264 = self.dir.join(format!("q{qp}.h264"));
        let size = format!("{pw}x{ph}");
        let qps = qp.to_string();
        let mut enc = Command::new(&self.ffmpeg)
            .args([
                "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", &size,
            ])
            .args([
                "-i",
                "-",
                "-c:v",
                "libx264",
                rc.flag(),
                &qps,
                "-preset",
                "medium",
                "-f",
                "h264",
            ])
            .arg(&h264)
            .stdin(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", self.ffmpeg.display()))?;
        enc.stdin
            .take()
            .unwrap()
            .write_all(&pic)
            .map_err(|e| e.to_string())?;
        let out = enc.wait_with_output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "x264 encode failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let mut dec = Command::new(&self.ffmpeg)
            .args(["-v", "error", "-i"])
            .arg(&h264)
            .args(["-f", "rawvideo", "-pix_fmt", "yuv420p", "-"])
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        let mut got = Vec::new();
        dec.stdout
            .take()
            .unwrap()
            .read_to_end(&mut got)
            .map_err(|e| e.to_string())?;
        dec.wait().map_err(|e| e.to_string())?;
        if got.len() != pic.len() {
            return Err(format!(
                "decoded {} bytes, expected {}",
                got.len(),
                pic.len()
            ));
        }
        Ok(planes
            .iter()
            .enumerate()
            .map(|(i, (w, h, _))| {
                let (s, t) = (i / frames, i % frames);
                let (ox, oy) = ((s % cols) * cw, (s / cols) * ch);
                let f = &got[t * frame_len..][..pw * ph];
                let mut o = Vec::with_capacity(w * h);
                for r in 0..*h {
                    o.extend_from_slice(&f[(oy + r) * pw + ox..][..*w]);
                }
                o
            })
            .collect())
    }
}

impl Drop for Codec {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
