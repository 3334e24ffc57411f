//! libvmaf's integer motion feature (`integer_motion.c`, the "pipelined" version that
//! blurs the frame difference), reproduced bit for bit, with all of libvmaf's options.
//!
//! For frame `i >= 1` libvmaf blurs `prev - cur` of the *reference* luma with a 5-tap
//! fixed-point Gaussian (vertical pass rounded to 16 bits, horizontal pass to 16 bits),
//! sums the absolute values and normalises:
//! `motion[i] = min(sad / 256 / (w * h) * motion_fps_weight, motion_max_val)`; frame 0
//! scores 0. With `motion_five_frame_window` the previous frame is the one two back, and
//! frames 0 and 1 score 0.
//!
//! libvmaf only derives the temporal scores once the whole sequence is known (in its
//! `flush`): `motion2[0] = 0`, `motion2[i] = min(motion[i], motion[i + 1])`, and the last
//! frame keeps `motion2 = motion` (five-frame window: `motion2[0..2] = 0`,
//! `motion2[2] = motion[3]`, `motion2[i] = min(motion[i - 1], motion[i + 1])`). `motion3`
//! blends motion2, `min(m * f + (1 - f) * min(o, m), motion_max_val)` with
//! f = `motion_blend_factor` and o = `motion_blend_offset`, optionally averaged with the
//! previous frame's (`motion_moving_average`); the first frame (two with the window) is
//! stamped with the blend of the first motion computed. With the default options motion3
//! equals motion2 except on frame 0.
//!
//! Since frame `i` needs frame `i + 1`, [`IntegerMotion::push`] answers with the previous
//! frame's scores (one frame of delay; two with the five-frame window, whose first frame
//! needs the third's motion) and [`IntegerMotion::flush`] with the remaining ones.
//!
//! libvmaf's log calls the per-frame score `VMAF_integer_feature_motion_sad_score` (the
//! `integer_motion` alias only appears with `debug=true`); `integer_motion2` and
//! `integer_motion3` are the temporal ones.

use std::collections::VecDeque;

use crate::isa::{multiversion, Isa};
use lv_image::plane::Plane;

/// Taps of libvmaf's 5-tap Gaussian, Q16 (they sum to 65536).
const FILTER: [i32; 5] = [3571, 16004, 26386, 16004, 3571];

/// Smallest plane the mirrored 5-tap filter is defined on.
pub const MIN_SIZE: usize = 3;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MotionError {
    #[error("motion needs at least {MIN_SIZE}x{MIN_SIZE} samples, got {0}x{1}")]
    TooSmall(usize, usize),
    #[error("unsupported bit depth {0} (8..=16)")]
    BitDepth(u32),
    #[error("integer motion: {name} must be within {lo}..={hi}, got {value}")]
    Option {
        name: &'static str,
        value: f64,
        lo: f64,
        hi: f64,
    },
}

/// libvmaf's options of the integer motion extractor (named as in libvmaf without the
/// `motion_` prefix), with its defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MotionOptions {
    /// `motion_force_zero`: every score is 0 (default false).
    pub force_zero: bool,
    /// `motion_blend_factor`, 0..=1 (default 1: no blending).
    pub blend_factor: f64,
    /// `motion_blend_offset`, 0..=1000 (default 40).
    pub blend_offset: f64,
    /// `motion_fps_weight`, 0..=5 (default 1): multiplies the per-frame motion.
    pub fps_weight: f64,
    /// `motion_max_val`, 0..=10000 (default 10000): clips motion and motion3.
    pub max_val: f64,
    /// `motion_five_frame_window`: motion against the frame two back (default false).
    /// Adds a frame of delay.
    pub five_frame_window: bool,
    /// `motion_moving_average`: motion3 averages this and the previous frame's blended
    /// motion2 (default false).
    pub moving_average: bool,
}

impl Default for MotionOptions {
    fn default() -> Self {
        MotionOptions {
            force_zero: false,
            blend_factor: 1.0,
            blend_offset: 40.0,
            fps_weight: 1.0,
            max_val: 10000.0,
            five_frame_window: false,
            moving_average: false,
        }
    }
}

impl MotionOptions {
    fn check(&self) -> Result<(), MotionError> {
        for (name, value, lo, hi) in [
            ("motion_blend_factor", self.blend_factor, 0.0, 1.0),
            ("motion_blend_offset", self.blend_offset, 0.0, 1000.0),
            ("motion_fps_weight", self.fps_weight, 0.0, 5.0),
            ("motion_max_val", self.max_val, 0.0, 10000.0),
        ] {
            if !(lo..=hi).contains(&value) {
                return Err(MotionError::Option {
                    name,
                    value,
                    lo,
                    hi,
                });
            }
        }
        Ok(())
    }

    /// Frames before the first one with a motion score (libvmaf's `min_idx`), which is also
    /// how far back the compared frame is.
    fn lag(&self) -> u64 {
        if self.five_frame_window {
            2
        } else {
            1
        }
    }
}

/// The final motion scores of one frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MotionScores {
    pub index: u64,
    /// `VMAF_integer_feature_motion_sad_score`: blurred SAD against the previous frame.
    pub motion: f64,
    /// `integer_motion2`: what the VMAF v0.6.1 models use.
    pub motion2: f64,
    /// `integer_motion3`: blended motion2 (what the vmaf_v1.0.16 models use).
    pub motion3: f64,
}

/// C's `MIN(a, b)`.
#[inline]
fn c_min(a: f64, b: f64) -> f64 {
    if a < b {
        a
    } else {
        b
    }
}

/// libvmaf's blended, clipped motion (`motion_blend` then `motion_max_val`).
fn blend(o: &MotionOptions, m: f64) -> f64 {
    let (f, off) = (o.blend_factor, o.blend_offset);
    c_min(m * f + (1.0 - f) * c_min(off, m), o.max_val)
}

/// State of the sequence being measured.
#[derive(Default)]
struct Sequence {
    /// Frames pushed so far.
    n: u64,
    /// Motion of the latest frames, as (position, motion), oldest first.
    recent: VecDeque<(u64, f64)>,
    /// Motion3 of the first frames: the blend of the first motion computed.
    stamp: Option<f64>,
    /// The previous frame's blended motion2, for the moving average.
    prev_processed: f64,
    /// Frames whose temporal scores wait for later frames, as (index, position).
    waiting: VecDeque<(u64, u64)>,
}

/// Streaming integer motion over the reference luma.
pub struct IntegerMotion {
    w: usize,
    h: usize,
    bpc: u32,
    opts: MotionOptions,
    /// The last `lag + 1` reference lumas, by position modulo `lag + 1`.
    frames: Vec<Vec<u16>>,
    y_row: Vec<i32>,
    seq: Sequence,
    /// Scores complete but not yet handed out.
    ready: VecDeque<MotionScores>,
    /// Instruction set of the kernels.
    isa: Isa,
}

impl IntegerMotion {
    pub fn new(width: usize, height: usize, bpc: u32) -> Result<Self, MotionError> {
        Self::with_options(width, height, bpc, MotionOptions::default())
    }

    pub fn with_options(
        width: usize,
        height: usize,
        bpc: u32,
        opts: MotionOptions,
    ) -> Result<Self, MotionError> {
        if !(8..=16).contains(&bpc) {
            return Err(MotionError::BitDepth(bpc));
        }
        if width < MIN_SIZE || height < MIN_SIZE {
            return Err(MotionError::TooSmall(width, height));
        }
        opts.check()?;
        Ok(IntegerMotion {
            w: width,
            h: height,
            bpc,
            opts,
            frames: vec![vec![0; width * height]; opts.lag() as usize + 1],
            y_row: vec![0; width],
            seq: Sequence::default(),
            ready: VecDeque::new(),
            isa: Isa::detect(),
        })
    }

    /// Frames between pushing a frame and getting its scores back: 1, or 2 with the
    /// five-frame window.
    pub fn delay(&self) -> usize {
        self.opts.lag() as usize
    }

    /// Feeds the reference luma of frame `index` and returns the scores of the frame
    /// [`delay`](Self::delay) frames before it, which this frame completes. The first frame
    /// after [`new`](Self::new), [`reset`](Self::reset) or [`flush`](Self::flush) starts a
    /// sequence (motion 0, like libvmaf's frame 0); frames are expected in order, `index`
    /// is only carried along.
    ///
    /// Panics if the plane's size or bit depth differ from the ones given to `new`.
    pub fn push(&mut self, index: u64, reference: &Plane) -> Option<MotionScores> {
        assert!(
            reference.width == self.w && reference.height == self.h && reference.bpc == self.bpc,
            "motion: plane is {}x{} at {} bits, expected {}x{} at {} bits",
            reference.width,
            reference.height,
            reference.bpc,
            self.w,
            self.h,
            self.bpc
        );
        let (w, h) = (self.w, self.h);
        let lag = self.opts.lag();
        let slots = lag + 1;
        let pos = self.seq.n;
        let mut cur = std::mem::take(&mut self.frames[(pos % slots) as usize]);
        for y in 0..h {
            reference.row_u16(y, &mut cur[y * w..(y + 1) * w]);
        }
        let motion = if pos < lag || self.opts.force_zero {
            0.0
        } else {
            let prev = &self.frames[((pos - lag) % slots) as usize];
            let sad = blurred_sad(self.isa, prev, &cur, w, h, self.bpc, &mut self.y_row);
            c_min(
                sad as f64 / 256.0 / (w * h) as f64 * self.opts.fps_weight,
                self.opts.max_val,
            )
        };
        self.frames[(pos % slots) as usize] = cur;
        let stamp = blend(&self.opts, motion);
        let seq = &mut self.seq;
        seq.n += 1;
        if seq.recent.len() == 4 {
            seq.recent.pop_front();
        }
        seq.recent.push_back((pos, motion));
        if pos == lag {
            seq.stamp = Some(stamp);
        }
        seq.waiting.push_back((index, pos));
        self.complete(false);
        self.ready.pop_front()
    }

    /// End of stream: the scores of a frame still pending, oldest first; call until `None`
    /// (once suffices without the five-frame window). The next `push` starts a new
    /// sequence.
    pub fn flush(&mut self) -> Option<MotionScores> {
        if self.seq.n > 0 {
            self.complete(true);
            self.seq = Sequence::default();
        }
        self.ready.pop_front()
    }

    /// Forgets the sequence, dropping pending frames.
    pub fn reset(&mut self) {
        self.seq = Sequence::default();
        self.ready.clear();
    }

    /// Completes the waiting frames whose scores are now known (all of them at the end of
    /// the stream), the way libvmaf's `flush` computes them.
    fn complete(&mut self, end: bool) {
        let lag = self.opts.lag();
        while let Some(&(index, q)) = self.seq.waiting.front() {
            let at = |p: u64| {
                self.seq
                    .recent
                    .iter()
                    .find(|&&(x, _)| x == p)
                    .map(|&(_, m)| m)
            };
            let motion = at(q).expect("a waiting frame's motion is recent");
            let (motion2, motion3) = if q < lag {
                let stamp = match self.seq.stamp {
                    Some(s) => s,
                    None if end => 0.0,
                    None => break,
                };
                self.seq.prev_processed = stamp;
                (0.0, stamp)
            } else {
                let motion2 = match at(q + 1) {
                    None if !end => break,
                    None => motion,
                    Some(hi) => {
                        // The window's other side: this frame (lag 1) or the one before.
                        let lo_pos = q + 1 - lag;
                        if lo_pos >= lag {
                            c_min(at(lo_pos).expect("recent"), hi)
                        } else {
                            hi
                        }
                    }
                };
                let processed = blend(&self.opts, motion2);
                let m3 = if self.opts.moving_average {
                    (processed + self.seq.prev_processed) / 2.0
                } else {
                    processed
                };
                self.seq.prev_processed = processed;
                (motion2, m3)
            };
            self.seq.waiting.pop_front();
            self.ready.push_back(MotionScores {
                index,
                motion,
                motion2,
                motion3,
            });
        }
    }
}

/// Mirror without repeating the edge sample (libvmaf's `mirror`); needs `n >= 3`.
#[inline]
fn mirror(i: isize, n: usize) -> usize {
    if i < 0 {
        (-i) as usize
    } else if i as usize >= n {
        2 * n - i as usize - 2
    } else {
        i as usize
    }
}

/// The blurred SAD of two reference lumas (`prev - cur`), before libvmaf's normalisation
/// (`motion = sad / 256 / (w * h)`): what the other backends (lv-gpu's CUDA kernel and its host
/// emulation) are checked against, bit for bit.
///
/// Panics if the planes differ in size or bit depth, or are smaller than [`MIN_SIZE`].
pub fn frame_sad(prev: &Plane, cur: &Plane) -> u64 {
    assert!(
        prev.width == cur.width && prev.height == cur.height && prev.bpc == cur.bpc,
        "motion: planes differ in size or depth"
    );
    let (w, h) = (prev.width, prev.height);
    assert!(
        w >= MIN_SIZE && h >= MIN_SIZE,
        "motion: plane smaller than {MIN_SIZE}x{MIN_SIZE}"
    );
    let whole = |p: &Plane| -> Vec<u16> {
        let mut v = vec![0u16; w * h];
        for (y, row) in v.chunks_exact_mut(w).enumerate() {
            p.row_u16(y, row);
        }
        v
    };
    let mut y_row = vec![0i32; w];
    blurred_sad(
        Isa::detect(),
        &whole(prev),
        &whole(cur),
        w,
        h,
        prev.bpc,
        &mut y_row,
    )
}

multiversion! { fn vertical_k(p0: &[u16], p1: &[u16], p2: &[u16], p3: &[u16], p4: &[u16], c0: &[u16], c1: &[u16], c2: &[u16], c3: &[u16], c4: &[u16], y: &mut [i32], bpc: u32) -> (i32, i32) = vertical_i32; }
multiversion! { fn horizontal_k(y: &[i32]) -> u32 = horizontal_interior; }

/// Sum over the frame of |blur(prev - cur)| with libvmaf's rounding.
fn blurred_sad(
    isa: Isa,
    prev: &[u16],
    cur: &[u16],
    w: usize,
    h: usize,
    bpc: u32,
    y_row: &mut [i32],
) -> u64 {
    let mut sad: u64 = 0;
    for i in 0..h {
        let rows: [usize; 5] = std::array::from_fn(|k| mirror(i as isize - 2 + k as isize, h) * w);
        let p = rows.map(|r| &prev[r..r + w]);
        let c = rows.map(|r| &cur[r..r + w]);
        let y = &mut y_row[..w];
        let (any, max_abs) = if bpc <= 15 {
            // 65536 * (2^15 - 1) + 2^14 still fits an i32.
            vertical_k(
                isa, p[0], p[1], p[2], p[3], p[4], c[0], c[1], c[2], c[3], c[4], y, bpc,
            )
        } else {
            vertical_i64(&p, &c, y, bpc)
        };
        if any == 0 {
            continue;
        }
        sad += horizontal(isa, y, max_abs) as u64;
    }
    sad
}

/// One row of the vertical pass; returns (OR of the outputs, max |output|).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn vertical_i32(
    p0: &[u16],
    p1: &[u16],
    p2: &[u16],
    p3: &[u16],
    p4: &[u16],
    c0: &[u16],
    c1: &[u16],
    c2: &[u16],
    c3: &[u16],
    c4: &[u16],
    y: &mut [i32],
    bpc: u32,
) -> (i32, i32) {
    let n = y.len();
    let (p0, p1, p2, p3, p4) = (&p0[..n], &p1[..n], &p2[..n], &p3[..n], &p4[..n]);
    let (c0, c1, c2, c3, c4) = (&c0[..n], &c1[..n], &c2[..n], &c3[..n], &c4[..n]);
    let round = 1i32 << (bpc - 1);
    let d = |a: u16, b: u16| a as i32 - b as i32;
    let mut any = 0i32;
    let mut max_abs = 0i32;
    for j in 0..n {
        let acc = FILTER[0] * d(p0[j], c0[j])
            + FILTER[1] * d(p1[j], c1[j])
            + FILTER[2] * d(p2[j], c2[j])
            + FILTER[3] * d(p3[j], c3[j])
            + FILTER[4] * d(p4[j], c4[j]);
        let v = (acc + round) >> bpc;
        y[j] = v;
        any |= v;
        max_abs = max_abs.max(v.abs());
    }
    (any, max_abs)
}

/// 16 bits per sample: libvmaf's 64-bit path.
fn vertical_i64(p: &[&[u16]; 5], c: &[&[u16]; 5], y: &mut [i32], bpc: u32) -> (i32, i32) {
    let round = 1i64 << (bpc - 1);
    let mut any = 0i32;
    let mut max_abs = 0i32;
    for (j, out) in y.iter_mut().enumerate() {
        let acc: i64 = (0..5)
            .map(|k| FILTER[k] as i64 * (p[k][j] as i64 - c[k][j] as i64))
            .sum();
        let v = ((acc + round) >> bpc) as i32;
        *out = v;
        any |= v;
        max_abs = max_abs.max(v.wrapping_abs());
    }
    (any, max_abs)
}

/// Horizontal pass and |.| sum of one row; libvmaf keeps the row sum in 32 bits.
fn horizontal(isa: Isa, y: &[i32], max_abs: i32) -> u32 {
    let w = y.len();
    let tap = |j: usize, k: usize| y[mirror(j as isize - 2 + k as isize, w)];
    let edge = |j: usize| -> u32 {
        let acc: i64 = (0..5).map(|k| FILTER[k] as i64 * tap(j, k) as i64).sum();
        ((acc + (1 << 15)) >> 16).unsigned_abs() as u32
    };
    let mut row_sad: u32 = 0;
    if w < 5 {
        for j in 0..w {
            row_sad = row_sad.wrapping_add(edge(j));
        }
        return row_sad;
    }
    for j in [0, 1, w - 2, w - 1] {
        row_sad = row_sad.wrapping_add(edge(j));
    }
    if max_abs < 32768 {
        row_sad.wrapping_add(horizontal_k(isa, y))
    } else {
        for win in y.windows(5) {
            let acc: i64 = (0..5).map(|k| FILTER[k] as i64 * win[k] as i64).sum();
            row_sad = row_sad.wrapping_add(((acc + (1 << 15)) >> 16).unsigned_abs() as u32);
        }
        row_sad
    }
}

/// Interior outputs 2..w-2 of the horizontal pass, summed as |.|; with |y| < 2^15 and
/// taps summing to 2^16, libvmaf's 64-bit sums fit an i32.
#[inline(always)]
fn horizontal_interior(y: &[i32]) -> u32 {
    let n = y.len() - 4;
    let (a, b, c, d, e) = (
        &y[..n],
        &y[1..n + 1],
        &y[2..n + 2],
        &y[3..n + 3],
        &y[4..n + 4],
    );
    let mut sum: u32 = 0;
    for j in 0..n {
        let acc = FILTER[0] * a[j]
            + FILTER[1] * b[j]
            + FILTER[2] * c[j]
            + FILTER[3] * d[j]
            + FILTER[4] * e[j];
        sum = sum.wrapping_add(((acc + (1 << 15)) >> 16).unsigned_abs());
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(data: &[u8], w: usize, h: usize) -> Plane<'_> {
        Plane::new_u8(data, w, h, w)
    }

    /// libvmaf's pipeline transcribed per sample, all in 64 bits.
    fn naive_sad(prev: &[u16], cur: &[u16], w: usize, h: usize, bpc: u32) -> u64 {
        let mut sad = 0u64;
        let mut y = vec![0i64; w];
        for i in 0..h {
            for (j, out) in y.iter_mut().enumerate() {
                let mut acc = 0i64;
                for (k, &f) in FILTER.iter().enumerate() {
                    let r = mirror(i as isize - 2 + k as isize, h);
                    acc += f as i64 * (prev[r * w + j] as i64 - cur[r * w + j] as i64);
                }
                *out = (acc + (1 << (bpc - 1))) >> bpc;
            }
            let mut row = 0u32;
            for j in 0..w {
                let mut acc = 0i64;
                for k in 0..5 {
                    acc += FILTER[k] as i64 * y[mirror(j as isize - 2 + k as isize, w)];
                }
                row = row.wrapping_add(((acc + (1 << 15)) >> 16).unsigned_abs() as u32);
            }
            sad += row as u64;
        }
        sad
    }

    #[test]
    fn frame_sad_is_the_naive_transcription() {
        let (w, h) = (37usize, 11usize);
        let a: Vec<u8> = (0..w * h).map(|i| (i * 7919 % 251) as u8).collect();
        let b: Vec<u8> = (0..w * h).map(|i| (i * 104729 % 241) as u8).collect();
        let wide = |v: &[u8]| v.iter().map(|&x| x as u16).collect::<Vec<u16>>();
        assert_eq!(
            frame_sad(&plane(&a, w, h), &plane(&b, w, h)),
            naive_sad(&wide(&a), &wide(&b), w, h, 8)
        );
    }

    #[test]
    fn every_instruction_set_matches_naive_transcription() {
        let best = Isa::detect();
        let levels: Vec<Isa> = [Isa::Portable, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .filter(|&l| match l {
                Isa::Portable => true,
                Isa::Avx2 => best != Isa::Portable,
                Isa::Avx512 => best == Isa::Avx512,
            })
            .collect();
        let mut x = 12345u32;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for (w, h, bpc) in [
            (3, 3, 8),
            (5, 4, 8),
            (37, 11, 8),
            (64, 9, 10),
            (33, 7, 12),
            (20, 6, 16),
        ] {
            let max = (1u32 << bpc) - 1;
            for kind in 0..3 {
                let a: Vec<u16> = (0..w * h).map(|_| (rnd() % (max + 1)) as u16).collect();
                let b: Vec<u16> = match kind {
                    // small changes
                    0 => a
                        .iter()
                        .map(|&v| (v as u32 + rnd() % 5).min(max) as u16)
                        .collect(),
                    // black / white swaps: vertical outputs beyond 2^15
                    1 => a
                        .iter()
                        .map(|&v| if v as u32 > max / 2 { 0 } else { max as u16 })
                        .collect(),
                    _ => (0..w * h).map(|_| (rnd() % (max + 1)) as u16).collect(),
                };
                let want = naive_sad(&a, &b, w, h, bpc);
                for &l in &levels {
                    let mut y = vec![0; w];
                    let got = blurred_sad(l, &a, &b, w, h, bpc, &mut y);
                    assert_eq!(got, want, "{w}x{h} {bpc} bits, kind {kind}, {l:?}");
                }
            }
        }
    }

    #[test]
    fn static_sequence_scores_zero() {
        let (w, h) = (17, 9);
        let data: Vec<u8> = (0..w * h).map(|i| (i * 7 % 251) as u8).collect();
        let mut m = IntegerMotion::new(w, h, 8).unwrap();
        assert!(m.push(0, &plane(&data, w, h)).is_none());
        let s0 = m.push(1, &plane(&data, w, h)).unwrap();
        assert_eq!(
            (s0.index, s0.motion, s0.motion2, s0.motion3),
            (0, 0.0, 0.0, 0.0)
        );
        let s1 = m.flush().unwrap();
        assert_eq!((s1.index, s1.motion, s1.motion2), (1, 0.0, 0.0));
        assert!(m.flush().is_none());
    }

    #[test]
    fn motion2_is_min_of_neighbours_and_last_keeps_its_own() {
        let (w, h) = (8, 8);
        let frames: Vec<Vec<u8>> = [0u8, 10, 40, 45].iter().map(|&v| vec![v; w * h]).collect();
        let mut m = IntegerMotion::new(w, h, 8).unwrap();
        let mut out = Vec::new();
        for (i, f) in frames.iter().enumerate() {
            out.extend(m.push(i as u64, &plane(f, w, h)));
        }
        out.extend(m.flush());
        // A flat change of d gives |blur| = d everywhere: motion = d.
        let mot: Vec<f64> = out.iter().map(|s| s.motion).collect();
        assert_eq!(mot, vec![0.0, 10.0, 30.0, 5.0]);
        let m2: Vec<f64> = out.iter().map(|s| s.motion2).collect();
        assert_eq!(m2, vec![0.0, 10.0, 5.0, 5.0]);
        assert_eq!(out[0].motion3, 10.0);
    }

    #[test]
    fn force_zero_and_sizes() {
        assert_eq!(
            IntegerMotion::new(2, 9, 8).err(),
            Some(MotionError::TooSmall(2, 9))
        );
        assert_eq!(
            IntegerMotion::new(9, 9, 7).err(),
            Some(MotionError::BitDepth(7))
        );
        let (w, h) = (3, 3);
        let a = vec![0u8; 9];
        let b = vec![200u8; 9];
        let mut m = IntegerMotion::with_options(
            w,
            h,
            8,
            MotionOptions {
                force_zero: true,
                ..Default::default()
            },
        )
        .unwrap();
        m.push(0, &plane(&a, w, h));
        let s = m.push(1, &plane(&b, w, h)).unwrap();
        assert_eq!(s.motion3, 0.0);
        assert_eq!(m.flush().unwrap().motion, 0.0);
        // odd tiny sizes run
        for (w, h) in [(3, 3), (4, 3), (5, 7), (33, 17)] {
            let a: Vec<u8> = (0..w * h).map(|i| (i * 37 % 256) as u8).collect();
            let b: Vec<u8> = a.iter().map(|v| v.wrapping_add(3)).collect();
            let mut m = IntegerMotion::new(w, h, 8).unwrap();
            m.push(0, &plane(&a, w, h));
            m.push(1, &plane(&b, w, h));
            assert!(m.flush().unwrap().motion >= 0.0);
        }
    }

    /// All scores of a sequence of flat frames (motion = the level change), streamed.
    fn run_flat(levels: &[u8], opts: MotionOptions) -> Vec<MotionScores> {
        let (w, h) = (8, 8);
        let mut m = IntegerMotion::with_options(w, h, 8, opts).unwrap();
        let mut out = Vec::new();
        for (i, &v) in levels.iter().enumerate() {
            let f = vec![v; w * h];
            let s = m.push(i as u64, &plane(&f, w, h));
            if let Some(s) = &s {
                assert_eq!(s.index as usize + m.delay(), i, "delay");
            }
            out.extend(s);
        }
        while let Some(s) = m.flush() {
            out.push(s);
        }
        assert_eq!(out.len(), levels.len());
        assert!(out.iter().enumerate().all(|(i, s)| s.index == i as u64));
        out
    }

    #[test]
    fn blend_clip_and_moving_average() {
        let levels = [0u8, 10, 40, 45, 145];
        let opts = MotionOptions {
            blend_factor: 0.5,
            blend_offset: 20.0,
            max_val: 50.0,
            ..Default::default()
        };
        let out = run_flat(&levels, opts);
        // motion is clipped to 50 already; motion2 = min of neighbours.
        let mot: Vec<f64> = out.iter().map(|s| s.motion).collect();
        assert_eq!(mot, [0.0, 10.0, 30.0, 5.0, 50.0]);
        let m2: Vec<f64> = out.iter().map(|s| s.motion2).collect();
        assert_eq!(m2, [0.0, 10.0, 5.0, 5.0, 50.0]);
        let blend = |m: f64| (m * 0.5 + 0.5 * m.min(20.0)).min(50.0);
        let m3: Vec<f64> = out.iter().map(|s| s.motion3).collect();
        assert_eq!(
            m3,
            [
                blend(10.0),
                blend(10.0),
                blend(5.0),
                blend(5.0),
                blend(50.0)
            ]
        );
        let avg = run_flat(
            &levels,
            MotionOptions {
                moving_average: true,
                ..opts
            },
        );
        let m3a: Vec<f64> = avg.iter().map(|s| s.motion3).collect();
        let b: Vec<f64> = [10.0, 10.0, 5.0, 5.0, 50.0].map(blend).to_vec();
        let want: Vec<f64> = (0..5)
            .map(|i| {
                if i == 0 {
                    b[0]
                } else {
                    (b[i] + b[i - 1]) / 2.0
                }
            })
            .collect();
        assert_eq!(m3a, want);
        // The fps weight scales motion before the clip.
        let fps = run_flat(
            &[0, 10, 40],
            MotionOptions {
                fps_weight: 2.0,
                max_val: 50.0,
                ..Default::default()
            },
        );
        assert_eq!(fps[1].motion, 20.0);
        assert_eq!(fps[2].motion, 50.0);
    }

    #[test]
    fn five_frame_window() {
        let opts = MotionOptions {
            five_frame_window: true,
            ..Default::default()
        };
        // Motion against the frame two back.
        let out = run_flat(&[0, 10, 40, 45, 50, 50], opts);
        let mot: Vec<f64> = out.iter().map(|s| s.motion).collect();
        assert_eq!(mot, [0.0, 0.0, 40.0, 35.0, 10.0, 5.0]);
        // motion2: 0, 0, then motion[3], then min(motion[i - 1], motion[i + 1]), the last
        // its own.
        let m2: Vec<f64> = out.iter().map(|s| s.motion2).collect();
        assert_eq!(m2, [0.0, 0.0, 35.0, 10.0, 5.0, 5.0]);
        let m3: Vec<f64> = out.iter().map(|s| s.motion3).collect();
        assert_eq!(m3, [40.0, 40.0, 35.0, 10.0, 5.0, 5.0]);
        // Short sequences: no stamp without a third frame.
        for n in 1..=3 {
            let out = run_flat(&[0, 10, 40][..n], opts);
            let want = if n == 3 { 40.0 } else { 0.0 };
            assert!(out[..n.min(2)].iter().all(|s| s.motion3 == want), "{n}");
        }
    }

    #[test]
    fn high_bit_depth_matches_scaled_8bit() {
        // A flat step of d at 10 bits is d/4 in 8-bit units.
        let (w, h) = (6, 5);
        let a = vec![100u16; w * h];
        let b = vec![140u16; w * h];
        let mut m = IntegerMotion::new(w, h, 10).unwrap();
        m.push(0, &Plane::new_u16(&a, w, h, w, 10));
        m.push(1, &Plane::new_u16(&b, w, h, w, 10));
        assert_eq!(m.flush().unwrap().motion, 10.0);
        let mut m = IntegerMotion::new(w, h, 16).unwrap();
        let a = vec![0u16; w * h];
        let b = vec![65535u16; w * h];
        m.push(0, &Plane::new_u16(&a, w, h, w, 16));
        m.push(1, &Plane::new_u16(&b, w, h, w, 16));
        assert_eq!(m.flush().unwrap().motion, 65535.0 / 256.0);
    }
}
