//! libvmaf's floating-point motion (`float_motion`): the `motion` and `motion2` scores of
//! the `vmaf_float_*` models, computed on the reference luma only.
//!
//! Each frame is converted like the other float features (offset -128), blurred with
//! libvmaf's 5-tap Gaussian (separable, mirrored borders, taps summed in order) and
//! compared with the previous blurred frame by the mean absolute difference, summed in
//! `f32` per row as `vmaf_image_sad_c` does.
//!
//! libvmaf reports, for frame `i`:
//! * `motion[i]` = SAD(blur(i-1), blur(i)), and 0 for the first frame;
//! * `motion2[i]` = min(motion[i], motion[i+1]), except 0 for the first frame and
//!   `motion[i]` for the last one.
//!
//! `motion2` needs the next frame, so [`FloatMotion::push`] returns the scores of the
//! frame pushed before, and [`FloatMotion::flush`] those of the last frame.
//! Options are libvmaf's defaults (5-tap filter, fps weight 1, no scale-1 or chroma term,
//! scores capped at 10000).

use super::vif_float::{
    assert_format, check_bpc, check_size, filter_row_h, filter_row_v, has_avx2, load_plane,
    pad_row, FloatFeatureError,
};
use lv_image::plane::Plane;

/// Smallest width and height accepted (the 5-tap mirrored filter needs 3 samples).
pub const MIN_SIZE: usize = 3;

#[allow(clippy::excessive_precision)] // spelled as in libvmaf
const FILTER_5: [f32; 5] = [
    0.054488685,
    0.244201342,
    0.402619947,
    0.244201342,
    0.054488685,
];
const MAX_VAL: f64 = 10000.0;

/// Motion scores of one frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FloatMotionScores {
    /// The `index` the frame was pushed with.
    pub index: u64,
    pub motion: f64,
    pub motion2: f64,
}

/// Streaming float motion for one frame size and bit depth.
pub struct FloatMotion {
    width: usize,
    height: usize,
    bpc: u32,
    frame: Vec<f32>,
    /// Blurred current and previous frames.
    cur: Vec<f32>,
    prev: Vec<f32>,
    tmp: Vec<f32>,
    pad: Vec<f32>,
    /// Frames pushed since the last reset.
    count: u64,
    prev_index: u64,
    /// `motion` of the previously pushed frame.
    prev_motion: f64,
    /// Tests set this to check the portable path against the AVX2 one.
    scalar_only: bool,
}

impl FloatMotion {
    /// Creates the extractor; frames must be at least [`MIN_SIZE`] in both directions.
    pub fn new(width: usize, height: usize, bpc: u32) -> Result<Self, FloatFeatureError> {
        check_size("float_motion", width, height, MIN_SIZE)?;
        check_bpc(bpc)?;
        let n = width * height;
        Ok(FloatMotion {
            width,
            height,
            bpc,
            frame: vec![0.0; n],
            cur: vec![0.0; n],
            prev: vec![0.0; n],
            tmp: vec![0.0; width],
            pad: vec![0.0; width + 4],
            count: 0,
            prev_index: 0,
            scalar_only: false,
            prev_motion: 0.0,
        })
    }

    /// Adds the next reference frame; returns the scores of the frame pushed before it.
    pub fn push(&mut self, index: u64, reference: &Plane) -> Option<FloatMotionScores> {
        assert_format(
            reference,
            (self.width, self.height, self.bpc),
            "the extractor",
        );
        load_plane(reference, &mut self.frame);
        let avx2 = has_avx2() && !self.scalar_only;
        #[cfg(target_arch = "x86_64")]
        let sad = if avx2 {
            // SAFETY: the CPU reports AVX2.
            unsafe { self.blur_and_sad_avx2() }
        } else {
            self.blur_and_sad::<false>()
        };
        #[cfg(not(target_arch = "x86_64"))]
        let sad = {
            let _ = avx2;
            self.blur_and_sad::<false>()
        };
        std::mem::swap(&mut self.cur, &mut self.prev);
        let motion2 = if self.prev_motion < sad {
            self.prev_motion
        } else {
            sad
        };
        let out = self.pending(motion2);
        if self.count > 0 {
            self.prev_motion = sad;
        }
        self.prev_index = index;
        self.count += 1;
        out
    }

    /// The scores of the frame waiting for its successor, given its motion2 (the first frame
    /// of a stream has no motion).
    fn pending(&self, motion2: f64) -> Option<FloatMotionScores> {
        match self.count {
            0 => None,
            1 => Some(FloatMotionScores {
                index: self.prev_index,
                motion: 0.0,
                motion2: 0.0,
            }),
            _ => Some(FloatMotionScores {
                index: self.prev_index,
                motion: self.prev_motion,
                motion2,
            }),
        }
    }

    /// Ends the stream: returns the last frame's scores (if any) and resets the state.
    pub fn flush(&mut self) -> Option<FloatMotionScores> {
        // No next frame: motion2 is the last motion itself.
        let out = self.pending(self.prev_motion);
        self.reset();
        out
    }

    /// Forgets all previous frames (e.g. after a seek).
    pub fn reset(&mut self) {
        self.count = 0;
        self.prev_index = 0;
        self.prev_motion = 0.0;
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn blur_and_sad_avx2(&mut self) -> f64 {
        self.blur_and_sad::<true>()
    }

    /// Blurs `frame` into `cur` and, when there is a previous frame, returns the capped
    /// mean absolute difference to it.
    #[inline(always)]
    fn blur_and_sad<const AVX: bool>(&mut self) -> f64 {
        let (w, h) = (self.width, self.height);
        for i in 0..h {
            filter_row_v::<AVX>(&FILTER_5, &self.frame, w, h, i, &mut self.tmp);
            pad_row(&self.tmp, 2, &mut self.pad);
            filter_row_h::<AVX>(&FILTER_5, &self.pad, &mut self.cur[i * w..(i + 1) * w]);
        }
        if self.count == 0 {
            return 0.0;
        }
        let mut accum = 0f32;
        for (a, b) in self.prev.chunks_exact(w).zip(self.cur.chunks_exact(w)) {
            let mut line = 0f32;
            for (&x, &y) in a.iter().zip(b) {
                line += (x - y).abs();
            }
            accum += line;
        }
        let score = (accum / (w * h) as f32) as f64;
        if score < MAX_VAL {
            score
        } else {
            MAX_VAL
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_semantics() {
        let (w, h) = (20, 12);
        let frames: Vec<Vec<u8>> = (0..4)
            .map(|k| {
                (0..w * h)
                    .map(|i| ((i * 3 + k * k * 10) % 256) as u8)
                    .collect()
            })
            .collect();
        let mut m = FloatMotion::new(w, h, 8).unwrap();
        let mut out = Vec::new();
        for (k, f) in frames.iter().enumerate() {
            out.extend(m.push(k as u64, &Plane::new_u8(f, w, h, w)));
        }
        out.extend(m.flush());
        assert_eq!(out.len(), 4);
        assert_eq!(
            out.iter().map(|s| s.index).collect::<Vec<_>>(),
            vec![0, 1, 2, 3]
        );
        assert_eq!((out[0].motion, out[0].motion2), (0.0, 0.0));
        for k in 1..3 {
            assert!(out[k].motion > 0.0);
            assert_eq!(out[k].motion2, out[k].motion.min(out[k + 1].motion));
        }
        assert_eq!(out[3].motion2, out[3].motion);
        assert!(m.flush().is_none());
    }

    #[test]
    fn single_frame_and_static_content() {
        let (w, h) = (5, 3);
        let f = vec![77u8; w * h];
        let mut m = FloatMotion::new(w, h, 8).unwrap();
        assert!(m.push(0, &Plane::new_u8(&f, w, h, w)).is_none());
        assert_eq!(
            m.flush(),
            Some(FloatMotionScores {
                index: 0,
                motion: 0.0,
                motion2: 0.0
            })
        );
        for k in 0..3 {
            if let Some(s) = m.push(k, &Plane::new_u8(&f, w, h, w)) {
                assert_eq!((s.motion, s.motion2), (0.0, 0.0));
            }
        }
        assert!(FloatMotion::new(2, 8, 8).is_err());
    }

    #[test]
    fn portable_path_matches_avx2_path() {
        let (w, h) = (203, 67);
        let (a, b) = crate::vif_float::tests::test_pair(w, h);
        let mut fast = FloatMotion::new(w, h, 8).unwrap();
        let mut slow = FloatMotion::new(w, h, 8).unwrap();
        slow.scalar_only = true;
        for (k, f) in [&a, &b, &a].into_iter().enumerate() {
            let p = Plane::new_u8(f, w, h, w);
            assert_eq!(fast.push(k as u64, &p), slow.push(k as u64, &p));
        }
        assert_eq!(fast.flush(), slow.flush());
    }
}
