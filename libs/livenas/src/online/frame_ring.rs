// SPDX-License-Identifier: MPL-2.0

//! The recent decoded low-resolution luma frames: a patch arrives after its frame (it crosses
//! the network beside the video), so the frames wait here, bounded in stream time and bytes.

use std::collections::VecDeque;
use std::sync::Arc;

/// How far back (stream time) frames are kept for late patches.
pub const FRAME_RING_NS: u64 = 4_000_000_000;
/// Most bytes of luma kept, whatever the frame rate and size.
pub const FRAME_RING_BYTES: usize = 96 << 20;

/// A decoded low-resolution luma frame (tightly packed, `w` × `h`), timestamp in running time.
#[derive(Clone, Debug)]
pub struct Frame {
    pub pts: u64,
    pub w: usize,
    pub h: usize,
    pub luma: Arc<Vec<u8>>,
}

#[derive(Default)]
pub(crate) struct FrameRing {
    frames: VecDeque<Frame>,
    bytes: usize,
}

impl FrameRing {
    /// Adds the newest frame and drops the ones too old or over the byte budget (the newest
    /// always stays).
    pub(crate) fn push(&mut self, f: Frame) {
        let bytes = f.luma.len();
        let newest = f.pts;
        self.frames.push_back(f);
        self.bytes += bytes;
        while let Some(old) = self.frames.front() {
            if self.frames.len() > 1
                && (newest.saturating_sub(old.pts) > FRAME_RING_NS || self.bytes > FRAME_RING_BYTES)
            {
                let b = old.luma.len();
                self.frames.pop_front();
                self.bytes -= b;
            } else {
                break;
            }
        }
    }

    pub(crate) fn clear(&mut self) {
        self.frames.clear();
        self.bytes = 0;
    }

    pub(crate) fn oldest_pts(&self) -> Option<u64> {
        self.frames.front().map(|f| f.pts)
    }

    pub(crate) fn newest_pts(&self) -> Option<u64> {
        self.frames.back().map(|f| f.pts)
    }

    /// The frame nearest to `pts` within `tolerance` (the oldest of equally near ones).
    pub(crate) fn nearest(&self, pts: u64, tolerance: u64) -> Option<&Frame> {
        self.frames
            .iter()
            .filter(|f| f.pts.abs_diff(pts) <= tolerance)
            .min_by_key(|f| f.pts.abs_diff(pts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(pts: u64, bytes: usize) -> Frame {
        Frame {
            pts,
            w: bytes,
            h: 1,
            luma: Arc::new(vec![0; bytes]),
        }
    }

    #[test]
    fn keeps_the_recent_frames_within_time_and_bytes() {
        let mut r = FrameRing::default();
        for i in 0..10u64 {
            r.push(frame(i * 1_000_000_000, 16));
        }
        assert_eq!(r.newest_pts(), Some(9_000_000_000));
        assert_eq!(r.oldest_pts(), Some(5_000_000_000));
        r.push(frame(10_000_000_000, FRAME_RING_BYTES));
        // Over the byte budget: only the newest stays.
        assert_eq!(r.oldest_pts(), Some(10_000_000_000));
        assert_eq!(
            r.nearest(10_000_000_001, 5).map(|f| f.pts),
            Some(10_000_000_000)
        );
        assert!(r.nearest(9_000_000_000, 5).is_none());
        r.clear();
        assert!(r.newest_pts().is_none());
    }
}
