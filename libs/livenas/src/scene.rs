// SPDX-License-Identifier: MPL-2.0

//! Scene-cut detection on the decoded luma, for the online trainer's safety net
//! ([`crate::serve`]): a network trained on the previous scene is, right after a cut, worse
//! than the generic one (models/srenhance/EVAL.md measured −0.25 dB for about an epoch), and the
//! patches that would show it arrive only over the following seconds.
//!
//! The measure is the one of ffmpeg's `scdet` and x264's scenecut in spirit, kept cheap for the
//! video thread: the frame is reduced to a grid of block means, and the mean absolute change of
//! those means from the previous frame is compared with an absolute threshold and with the
//! recent motion (a cut is a change far larger than the frames before it had, so fast pans
//! and camera shake do not count). Block means make it blind to noise and compression
//! artefacts, which change single samples but not 16x16 averages.

/// Grid of block means the frame is reduced to (columns x rows).
const GRID_W: usize = 32;
const GRID_H: usize = 18;

/// Thresholds of [`CutDetector`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CutParams {
    /// Mean absolute change of the block means (8-bit levels) below which nothing is a cut.
    pub min_change: f64,
    /// A cut's change is at least this many times the largest of the recent frames' changes.
    pub motion_ratio: f64,
    /// Frames of recent motion remembered.
    pub history: usize,
}

impl Default for CutParams {
    /// 12 levels: a camera cut between two shots moves 16x16 means by 20–60 levels; a 30 fps
    /// pan of a few pixels per frame moves them by 1–5 (measured on the srenhance-eval clips:
    /// `cuts_on_the_evaluation_clips` in tests/scene.rs). Ratio 3 over the last 5 frames: the
    /// frames of a fast whip-pan all change a lot, a cut changes once.
    fn default() -> Self {
        CutParams {
            min_change: 12.0,
            motion_ratio: 3.0,
            history: 5,
        }
    }
}

/// Per-stream state: the previous frame's block means and the recent changes.
#[derive(Clone, Debug, Default)]
pub struct CutDetector {
    params: CutParams,
    previous: Option<(usize, usize, Vec<f32>)>,
    recent: std::collections::VecDeque<f64>,
}

impl CutDetector {
    pub fn new(params: CutParams) -> CutDetector {
        CutDetector {
            params,
            ..Default::default()
        }
    }

    /// Forgets the previous frame (after a seek or a caps change nothing is a cut).
    pub fn reset(&mut self) {
        self.previous = None;
        self.recent.clear();
    }

    /// Whether this frame (`w x h` luma, rows `stride` apart) starts a new scene. The first
    /// `history` frames, after the start, a size change or a cut, are never one (there is no
    /// motion to compare with).
    pub fn push(&mut self, luma: &[u8], w: usize, h: usize, stride: usize) -> bool {
        let Some(means) = block_means(luma, w, h, stride) else {
            self.reset();
            return false;
        };
        let change = match &self.previous {
            Some((pw, ph, prev)) if (*pw, *ph) == (w, h) => {
                prev.iter()
                    .zip(&means)
                    .map(|(a, b)| (a - b).abs() as f64)
                    .sum::<f64>()
                    / means.len() as f64
            }
            _ => {
                self.recent.clear();
                self.previous = Some((w, h, means));
                return false;
            }
        };
        let motion = self.recent.iter().copied().fold(0.0, f64::max);
        // Only against a full history of motion: at the start (or just after a cut) a
        // fast pan's first change would look like a cut.
        let cut = self.recent.len() >= self.params.history.max(1)
            && change >= self.params.min_change
            && change >= self.params.motion_ratio * motion;
        self.recent.push_back(change);
        while self.recent.len() > self.params.history.max(1) {
            self.recent.pop_front();
        }
        if cut {
            // The cut's own change is not motion of the new scene.
            self.recent.clear();
        }
        self.previous = Some((w, h, means));
        cut
    }
}

/// Means of a `GRID_W x GRID_H` grid of blocks; `None` for a frame smaller than the grid or a
/// buffer shorter than the frame.
fn block_means(luma: &[u8], w: usize, h: usize, stride: usize) -> Option<Vec<f32>> {
    if w < GRID_W || h < GRID_H || stride < w || luma.len() < (h - 1) * stride + w {
        return None;
    }
    let mut sums = vec![0u64; GRID_W * GRID_H];
    let mut counts = vec![0u32; GRID_W * GRID_H];
    for y in 0..h {
        let gy = y * GRID_H / h;
        let row = &luma[y * stride..y * stride + w];
        for (x, &v) in row.iter().enumerate() {
            let g = gy * GRID_W + x * GRID_W / w;
            sums[g] += v as u64;
            counts[g] += 1;
        }
    }
    Some(
        sums.iter()
            .zip(&counts)
            .map(|(&s, &n)| s as f32 / n.max(1) as f32)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(w: usize, h: usize, mut f: impl FnMut(usize, usize) -> u8) -> Vec<u8> {
        (0..w * h).map(|i| f(i % w, i / w)).collect()
    }

    #[test]
    fn a_pan_is_not_a_cut_and_a_new_picture_is() {
        let (w, h) = (320, 180);
        let scene_a = |dx: usize| {
            frame(w, h, move |x, y| {
                (((x + dx) as f64 / 9.0).sin() * 60.0 + (y as f64 / 13.0).cos() * 50.0 + 128.0)
                    as u8
            })
        };
        let scene_b = frame(w, h, |x, y| ((x * 7 + y * 3) % 200) as u8 + 20);
        let mut d = CutDetector::new(CutParams::default());
        assert!(
            !d.push(&scene_a(0), w, h, w),
            "the first frame is never a cut"
        );
        for dx in 1..10 {
            assert!(!d.push(&scene_a(dx * 3), w, h, w), "pan step {dx}");
        }
        assert!(d.push(&scene_b, w, h, w), "a different picture is a cut");
        assert!(
            !d.push(&scene_b, w, h, w),
            "a still frame after the cut is not"
        );
    }

    #[test]
    fn noise_and_flat_frames_are_not_cuts() {
        let (w, h) = (160, 90);
        let mut d = CutDetector::new(CutParams::default());
        let mut seed = 1u32;
        for _ in 0..20 {
            let f = frame(w, h, |_, _| {
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                100 + (seed >> 28) as u8
            });
            assert!(!d.push(&f, w, h, w));
        }
    }

    #[test]
    fn a_size_change_or_a_tiny_frame_is_no_cut() {
        let mut d = CutDetector::new(CutParams::default());
        assert!(!d.push(&vec![0; 64 * 36], 64, 36, 64));
        assert!(!d.push(&vec![255; 128 * 72], 128, 72, 128));
        assert!(!d.push(&[0; 4], 2, 2, 2));
        assert!(!d.push(&vec![255; 128 * 72], 128, 72, 128));
        // Short buffer: ignored, not a panic.
        assert!(!d.push(&[0; 10], 128, 72, 128));
    }
}
