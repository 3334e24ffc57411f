// SPDX-License-Identifier: MPL-2.0

//! Patch–frame pairing: a high-quality patch (the target) meets its decoded low-resolution
//! frame (the input, bicubic-upscaled to the patch's frame size and cropped at its cell).

use super::frame_ring::FrameRing;
use super::Stats;
use crate::store::StoredPatch;
use crate::trainer::Trainer;
use lv_image::plane::Plane;
use lv_image::resample::{Kernel, Resampler};
use std::collections::VecDeque;
use std::sync::Arc;

/// A decoded patch waiting for its frame.
pub(crate) struct Pending {
    pub(crate) pts: u64,
    pub(crate) frame_w: usize,
    pub(crate) frame_h: usize,
    pub(crate) size: usize,
    pub(crate) x0: usize,
    pub(crate) y0: usize,
    pub(crate) luma: Vec<u8>,
}

/// A pending patch with its frame.
pub(crate) struct Ready {
    patch: Pending,
    luma: Arc<Vec<u8>>,
    w: usize,
    h: usize,
    pts: u64,
}

/// Moves the pending patches whose frame is known (and, with `before`, whose timestamp is
/// before it) out of `pending`, with their frames; drops and counts the hopeless ones (wrong
/// size, or their frame is gone or will never come).
pub(crate) fn take_pairs(
    pending: &mut VecDeque<Pending>,
    frames: &FrameRing,
    out_size: Option<(usize, usize)>,
    tol: u64,
    stats: &mut Stats,
    before: Option<u64>,
) -> Vec<Ready> {
    let mut out = Vec::new();
    let Some(out_size) = out_size else {
        return out;
    };
    let oldest = frames.oldest_pts();
    let newest = frames.newest_pts();
    let mut keep = VecDeque::new();
    while let Some(p) = pending.pop_front() {
        if before.is_some_and(|b| p.pts >= b) {
            keep.push_back(p);
            continue;
        }
        if (p.frame_w, p.frame_h) != out_size
            || p.x0 + p.size > out_size.0
            || p.y0 + p.size > out_size.1
        {
            stats.dropped_size += 1;
            continue;
        }
        match frames.nearest(p.pts, tol) {
            Some(f) => {
                let (w, h, pts, luma) = (f.w, f.h, f.pts, f.luma.clone());
                out.push(Ready {
                    patch: p,
                    luma,
                    w,
                    h,
                    pts,
                });
            }
            None => {
                let gone = oldest.is_some_and(|o| p.pts.saturating_add(tol) < o)
                    || newest.is_some_and(|n| p.pts.saturating_add(tol) < n)
                    || before.is_some();
                if gone {
                    stats.dropped_no_frame += 1;
                } else {
                    keep.push_back(p);
                }
            }
        }
    }
    *pending = keep;
    out
}

/// Mean squared error of the bilinear upscale `bil` (`ow` wide) against a patch's target at
/// its cell: the bilinear baseline the epoch reports compare with.
fn bilinear_mse(bil: &[u8], ow: usize, x0: usize, y0: usize, target: &[u8], size: usize) -> f64 {
    let mut se = 0.0f64;
    for r in 0..size {
        for c in 0..size {
            let d = bil[(y0 + r) * ow + x0 + c] as f64 - target[r * size + c] as f64;
            se += d * d;
        }
    }
    se / (size * size) as f64
}

/// Cuts the training pairs (the upscaled decoded frame around the cell as input, the patch as
/// target) into the trainer's store; returns how many.
impl Ready {
    /// The frame's timestamp.
    pub(crate) fn pts(&self) -> u64 {
        self.pts
    }
}

pub(crate) fn add_pairs(trainer: &mut Trainer, pairs: Vec<Ready>) -> u64 {
    if pairs.is_empty() {
        return 0;
    }
    let margin = trainer.margin();
    // Upscaled (bicubic, bilinear) frame of the last pair's timestamp and size: patches of
    // one frame come together, so each frame is upscaled once.
    type Upscaled = (u64, (usize, usize), Vec<u8>, Vec<u8>);
    let mut cache: Option<Upscaled> = None;
    let n = pairs.len() as u64;
    for Ready {
        patch: p,
        luma,
        w: fw,
        h: fh,
        pts: fpts,
    } in pairs
    {
        let (ow, oh) = (p.frame_w, p.frame_h);
        if cache
            .as_ref()
            .is_none_or(|c| c.0 != fpts || c.1 != (ow, oh))
        {
            let up = crate::trainer::bicubic_u8(&luma, fw, fh, fw, ow, oh);
            let bil = Resampler::new(fw, fh, ow, oh, Kernel::Bilinear)
                .map(|r| {
                    let mut out = vec![0u8; ow * oh];
                    r.process_u8(&Plane::new_u8(&luma, fw, fh, fw), &mut out, ow);
                    out
                })
                .unwrap_or_default();
            cache = Some((fpts, (ow, oh), up, bil));
        }
        let (_, _, up, bil) = cache.as_ref().unwrap();
        let mut sp =
            StoredPatch::from_upscaled(p.pts, up, ow, oh, ow, p.x0, p.y0, p.luma, p.size, margin);
        if bil.len() == ow * oh {
            sp.bilinear_mse = bilinear_mse(bil, ow, p.x0, p.y0, &sp.target, p.size);
        }
        trainer.add(sp);
    }
    n
}
