//! The ingest server's bounded patch store (docs/srenhance-design.md, LiveNAS §6.1).
//!
//! Each entry is one training pair, ready for the trainer: the high-resolution patch the
//! streamer sent (the target, `P x P` luma) and the matching network input, i.e. the
//! Catmull-Rom upscale of the decoded low-resolution frame to the full output size, cropped
//! around the patch's cell with `margin` samples of context on each side (so the crop's
//! borders do not fall inside the training loss; see [`crate::trainer`]).
//!
//! The store holds at most `capacity` pairs (oldest evicted first). Minibatches are drawn
//! with replacement, with the `recent` newest pairs `recent_weight` times as likely as the
//! older ones (the paper: the last K = 150 patches, four times as likely).

use rand::Rng;
use std::collections::VecDeque;

/// One training pair.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredPatch {
    /// Timestamp of the frame the patch was cut from (ns).
    pub pts: u64,
    /// Side of the patch (`P`).
    pub size: usize,
    /// Target: the high-quality patch, `size * size` luma samples.
    pub target: Vec<u8>,
    /// Network input: the upscaled decoded luma around the cell, `input_w x input_h`.
    pub input: Vec<u8>,
    pub input_w: usize,
    pub input_h: usize,
    /// Where the target's top-left sample sits inside `input`.
    pub target_x: usize,
    pub target_y: usize,
    /// Sequence number given by the store (insertion order).
    pub seq: u64,
    /// Mean squared error (8-bit units) of a bilinear upscale of the same cell against the
    /// target, for reporting the gain over bilinear; NaN when not computed.
    pub bilinear_mse: f64,
}

impl StoredPatch {
    /// Builds a pair from an upscaled luma frame (`frame_w x frame_h`, rows `stride` apart):
    /// the input window covers the cell at `(x0, y0)` plus at least `margin` samples each side,
    /// starting on even coordinates (the network's 2x2 phase, as at inference) and replicating
    /// the frame's edges where the window leaves it (as the inference runner does).
    #[allow(clippy::too_many_arguments)]
    pub fn from_upscaled(
        pts: u64,
        upscaled: &[u8],
        frame_w: usize,
        frame_h: usize,
        stride: usize,
        x0: usize,
        y0: usize,
        target: Vec<u8>,
        size: usize,
        margin: usize,
    ) -> StoredPatch {
        assert_eq!(target.len(), size * size);
        assert!(x0 + size <= frame_w && y0 + size <= frame_h);
        // Window start: `margin` before the cell, rounded down to even (may be negative).
        let sx = (x0 as i64 - margin as i64).div_euclid(2) * 2;
        let sy = (y0 as i64 - margin as i64).div_euclid(2) * 2;
        let (tx, ty) = ((x0 as i64 - sx) as usize, (y0 as i64 - sy) as usize);
        let w = (tx + size + margin).div_ceil(2) * 2;
        let h = (ty + size + margin).div_ceil(2) * 2;
        let mut input = Vec::with_capacity(w * h);
        for r in 0..h {
            let y = (sy + r as i64).clamp(0, frame_h as i64 - 1) as usize;
            let row = &upscaled[y * stride..y * stride + frame_w];
            for c in 0..w {
                let x = (sx + c as i64).clamp(0, frame_w as i64 - 1) as usize;
                input.push(row[x]);
            }
        }
        StoredPatch {
            pts,
            size,
            target,
            input,
            input_w: w,
            input_h: h,
            target_x: tx,
            target_y: ty,
            seq: 0,
            bilinear_mse: f64::NAN,
        }
    }

    /// The input samples under the target (the plain upscale of the cell).
    pub fn input_under_target(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.size * self.size);
        for r in 0..self.size {
            let o = (self.target_y + r) * self.input_w + self.target_x;
            v.extend_from_slice(&self.input[o..o + self.size]);
        }
        v
    }
}

/// Bounded, recent-weighted store of training pairs.
#[derive(Clone, Debug)]
pub struct PatchStore {
    capacity: usize,
    recent: usize,
    recent_weight: f64,
    items: VecDeque<StoredPatch>,
    next_seq: u64,
    evicted: u64,
}

impl PatchStore {
    /// `capacity` ≥ 1 pairs; the newest `recent` are `recent_weight` (≥ 1) times as likely.
    pub fn new(capacity: usize, recent: usize, recent_weight: f64) -> PatchStore {
        PatchStore {
            capacity: capacity.max(1),
            recent,
            recent_weight: if recent_weight.is_finite() {
                recent_weight.max(0.0)
            } else {
                1.0
            },
            items: VecDeque::new(),
            next_seq: 0,
            evicted: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Pairs ever added.
    pub fn added(&self) -> u64 {
        self.next_seq
    }

    /// Pairs dropped to stay within the capacity.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Changes the bounds (evicting the oldest pairs if the store shrinks).
    pub fn configure(&mut self, capacity: usize, recent: usize, recent_weight: f64) {
        self.capacity = capacity.max(1);
        self.recent = recent;
        if recent_weight.is_finite() {
            self.recent_weight = recent_weight.max(0.0);
        }
        while self.items.len() > self.capacity {
            self.items.pop_front();
            self.evicted += 1;
        }
    }

    /// Adds a pair (the oldest goes when full); returns its sequence number.
    pub fn push(&mut self, mut p: StoredPatch) -> u64 {
        p.seq = self.next_seq;
        self.next_seq += 1;
        if self.items.len() == self.capacity {
            self.items.pop_front();
            self.evicted += 1;
        }
        self.items.push_back(p);
        self.next_seq - 1
    }

    pub fn clear(&mut self) {
        self.items.clear();
    }

    /// The pairs, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &StoredPatch> + ExactSizeIterator {
        self.items.iter()
    }

    /// The `n` newest pairs (fewer if the store holds fewer), oldest first.
    pub fn newest(&self, n: usize) -> impl Iterator<Item = &StoredPatch> {
        self.items.iter().skip(self.items.len().saturating_sub(n))
    }

    /// Probability of drawing the pair at index `i` (0 = oldest) in one draw.
    pub fn probability(&self, i: usize) -> f64 {
        let n = self.items.len();
        if i >= n {
            return 0.0;
        }
        let k = self.recent.min(n);
        let total = (n - k) as f64 + k as f64 * self.recent_weight;
        if total <= 0.0 {
            return 1.0 / n as f64;
        }
        let w = if i >= n - k { self.recent_weight } else { 1.0 };
        w / total
    }

    /// Index (0 = oldest) of one weighted draw; `None` when empty.
    pub fn draw_index(&self, rng: &mut impl Rng) -> Option<usize> {
        let n = self.items.len();
        if n == 0 {
            return None;
        }
        let k = self.recent.min(n);
        let old = (n - k) as f64;
        let total = old + k as f64 * self.recent_weight;
        if total <= 0.0 {
            return Some(rng.random_range(0..n));
        }
        let u = rng.random_range(0.0..total);
        let i = if u < old {
            u as usize
        } else {
            (n - k) + ((u - old) / self.recent_weight) as usize
        };
        Some(i.min(n - 1))
    }

    /// `count` weighted draws with replacement.
    pub fn sample(&self, rng: &mut impl Rng, count: usize) -> Vec<&StoredPatch> {
        (0..count)
            .filter_map(|_| self.draw_index(rng).map(|i| &self.items[i]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn patch(v: u8) -> StoredPatch {
        StoredPatch {
            pts: v as u64,
            size: 1,
            target: vec![v],
            input: vec![v],
            input_w: 1,
            input_h: 1,
            target_x: 0,
            target_y: 0,
            seq: 0,
            bilinear_mse: f64::NAN,
        }
    }

    #[test]
    fn bounded_and_oldest_evicted() {
        let mut s = PatchStore::new(3, 1, 4.0);
        for v in 0..5 {
            s.push(patch(v));
        }
        assert_eq!(s.len(), 3);
        assert_eq!(s.evicted(), 2);
        assert_eq!(s.added(), 5);
        let pts: Vec<u64> = s.iter().map(|p| p.pts).collect();
        assert_eq!(pts, vec![2, 3, 4]);
        let seq: Vec<u64> = s.iter().map(|p| p.seq).collect();
        assert_eq!(seq, vec![2, 3, 4]);
        assert_eq!(s.newest(2).map(|p| p.pts).collect::<Vec<_>>(), vec![3, 4]);
        s.configure(1, 1, 4.0);
        assert_eq!(s.iter().map(|p| p.pts).collect::<Vec<_>>(), vec![4]);
    }

    #[test]
    fn recent_patches_are_four_times_as_likely() {
        // 1000 pairs, the newest 150 weighted 4: P(recent) = 600 / (850 + 600).
        let mut s = PatchStore::new(1000, 150, 4.0);
        for i in 0..1000u32 {
            s.push(patch((i % 256) as u8));
        }
        let want = 600.0 / 1450.0;
        let p: f64 = (850..1000).map(|i| s.probability(i)).sum();
        assert!((p - want).abs() < 1e-12);
        assert!((s.probability(999) / s.probability(0) - 4.0).abs() < 1e-12);
        let mut rng = rand_pcg::Pcg64::seed_from_u64(1);
        let n = 200_000;
        let hits = (0..n)
            .filter(|_| s.draw_index(&mut rng).unwrap() >= 850)
            .count();
        let f = hits as f64 / n as f64;
        assert!((f - want).abs() < 0.005, "recent fraction {f}, want {want}");
        // Every index is reachable (the ends included).
        let mut seen = vec![false; 1000];
        for _ in 0..100_000 {
            seen[s.draw_index(&mut rng).unwrap()] = true;
        }
        assert!(seen.iter().all(|&b| b));
    }

    #[test]
    fn empty_and_small_stores() {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(2);
        let mut s = PatchStore::new(10, 150, 4.0);
        assert!(s.sample(&mut rng, 4).is_empty());
        s.push(patch(7));
        assert_eq!(s.sample(&mut rng, 3).len(), 3);
        // Fewer pairs than K: all recent, uniform.
        s.push(patch(8));
        assert!((s.probability(0) - 0.5).abs() < 1e-12);
        // Degenerate weights do not panic.
        let mut z = PatchStore::new(4, 2, 0.0);
        z.push(patch(1));
        z.push(patch(2));
        assert!(z.draw_index(&mut rng).is_some());
        let nan = PatchStore::new(4, 2, f64::NAN);
        assert!(nan.is_empty());
    }

    #[test]
    fn window_covers_the_cell_with_even_origin_and_replicated_edges() {
        let (w, h) = (20usize, 12usize);
        let frame: Vec<u8> = (0..w * h).map(|i| i as u8).collect();
        // Cell at the top-left corner: the window leaves the frame, edges are replicated.
        let p = StoredPatch::from_upscaled(5, &frame, w, h, w, 0, 0, vec![0; 16], 4, 3);
        assert_eq!((p.target_x, p.target_y), (4, 4));
        assert_eq!(p.input_w % 2, 0);
        assert_eq!(p.input_h % 2, 0);
        assert!(p.input_w >= p.target_x + 4 + 3);
        assert_eq!(p.input[0], frame[0]);
        assert_eq!(
            p.input_under_target(),
            vec![0, 1, 2, 3, 20, 21, 22, 23, 40, 41, 42, 43, 60, 61, 62, 63]
        );
        // An odd cell origin: the window still starts on an even coordinate.
        let p = StoredPatch::from_upscaled(5, &frame, w, h, w, 5, 3, vec![0; 16], 4, 2);
        let sx = 5 - p.target_x as i64;
        let sy = 3 - p.target_y as i64;
        assert_eq!(sx.rem_euclid(2), 0);
        assert_eq!(sy.rem_euclid(2), 0);
        assert!(p.target_x >= 2 && p.target_y >= 2);
        assert_eq!(p.input_under_target()[0], frame[3 * w + 5]);
    }
}
