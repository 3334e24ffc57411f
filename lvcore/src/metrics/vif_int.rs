//! libvmaf's integer (fixed-point) VIF: the `integer_vif_scale0..3` features that the
//! default VMAF models (`vmaf_v0.6.1`, `vmaf_v0.6.1neg`, ...) consume.
//!
//! The numbers must match libvmaf bit for bit, so every filter, shift and rounding step
//! follows libvmaf's C reference path (`integer_vif.c`): Gaussian-like separable filters
//! in 16-bit fixed point, mirrored borders, a base-2 log lookup table with 2048 steps per
//! octave, and the final per-scale ratio taken in single precision. Integer sums are
//! exact, so they are regrouped freely for speed; the few floating-point steps (the gain
//! `g`, the final ratios) keep libvmaf's order of operations.
//!
//! Sizes: every scale must be at least one filter half-width plus one sample in both
//! directions so that mirroring stays inside the image; for the 4-scale pyramid this
//! means **width and height of at least 16**. Smaller planes are rejected with
//! [`VifError::TooSmall`] (libvmaf itself would read uninitialised padding there).
//! Bit depths 8..=16 are accepted; libvmaf is normally run at 8, 10 or 12.

use crate::plane::{Plane, Samples};

/// Options of libvmaf's integer VIF extractor that change the scale scores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IntegerVifOptions {
    /// libvmaf's `vif_enhn_gain_limit`: upper bound on the gain `g`; 1.0 disables any
    /// credit for enhancement (as `vmaf_v0.6.1neg` does). Valid range 1.0..=100.0.
    pub enhn_gain_limit: f64,
}

/// libvmaf's default (and maximum) `vif_enhn_gain_limit`.
pub const DEFAULT_ENHN_GAIN_LIMIT: f64 = 100.0;

impl Default for IntegerVifOptions {
    fn default() -> Self {
        IntegerVifOptions {
            enhn_gain_limit: DEFAULT_ENHN_GAIN_LIMIT,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VifError {
    #[error("plane {width}x{height} is too small for integer VIF (minimum {MIN_SIZE}x{MIN_SIZE})")]
    TooSmall { width: usize, height: usize },
    #[error("unsupported bit depth {0} (integer VIF takes 8..=16)")]
    UnsupportedBpc(u32),
    #[error("vif_enhn_gain_limit {0} outside 1.0..=100.0")]
    InvalidGainLimit(f64),
}

/// Smallest width and height accepted (see the module docs).
pub const MIN_SIZE: usize = 16;

/// Per-scale numerators and denominators, as libvmaf's debug features
/// `integer_vif_num_scaleN` / `integer_vif_den_scaleN` report them (single precision).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct IntegerVifNumDen {
    pub num: [f32; 4],
    pub den: [f32; 4],
}

impl IntegerVifNumDen {
    /// `integer_vif_scaleN`: the ratio is taken in `f32`, as libvmaf does before widening.
    pub fn scores(&self) -> [f64; 4] {
        std::array::from_fn(|s| (self.num[s] / self.den[s]) as f64)
    }

    /// libvmaf's debug feature `integer_vif`: all numerators over all denominators.
    pub fn combined(&self) -> f64 {
        let n: f64 = self.num.iter().map(|&v| v as f64).sum();
        let d: f64 = self.den.iter().map(|&v| v as f64).sum();
        if d == 0.0 {
            1.0
        } else {
            n / d
        }
    }
}

// Filters of the four scales, 16-bit fixed point, each summing to 65536. Scale s
// measures with FILTERS[s] and subsamples towards scale s+1 with FILTERS[s+1].
const FILTER0: [u16; 17] = [
    489, 935, 1640, 2640, 3896, 5274, 6547, 7455, 7784, 7455, 6547, 5274, 3896, 2640, 1640, 935,
    489,
];
const FILTER1: [u16; 9] = [1244, 3663, 7925, 12590, 14692, 12590, 7925, 3663, 1244];
const FILTER2: [u16; 5] = [3571, 16004, 26386, 16004, 3571];
const FILTER3: [u16; 3] = [10904, 43728, 10904];
const FILTERS: [&[u16]; 4] = [&FILTER0, &FILTER1, &FILTER2, &FILTER3];

/// Widest filter half-width; row buffers carry this much mirrored margin on each side.
const PAD: usize = 8;

/// The noise variance 2.0 in the 16.16 units the variances are kept in.
const SIGMA_NSQ: i32 = 2 << 16;

/// Columns processed together, so the per-column accumulators stay in L1.
const CHUNK: usize = 128;

/// Mirror index `i` (which may lie up to one filter half-width outside) into `0..n`
/// without repeating the edge sample, as libvmaf's padding does.
#[inline]
fn mirror(i: isize, n: usize) -> usize {
    let last = n as isize - 1;
    let r = if i < 0 {
        -i
    } else if i > last {
        2 * last - i
    } else {
        i
    };
    r as usize
}

/// Fills `PAD`-wide margins of a row buffer (data at `PAD..PAD + w`) by mirroring.
#[inline]
fn mirror_margins<T: Copy>(buf: &mut [T], w: usize, half: usize) {
    for f in 1..=half {
        buf[PAD - f] = buf[PAD + f];
        buf[PAD + w - 1 + f] = buf[PAD + w - 1 - f];
    }
}

/// A sample type the filters read, widened to `u32`.
trait Px: Copy {
    fn w(self) -> u32;
}
impl Px for u8 {
    #[inline(always)]
    fn w(self) -> u32 {
        self as u32
    }
}
impl Px for u16 {
    #[inline(always)]
    fn w(self) -> u32 {
        self as u32
    }
}

/// A read-only strided image of one scale.
#[derive(Clone, Copy)]
struct Img<'a, T> {
    data: &'a [T],
    w: usize,
    h: usize,
    stride: usize,
}

impl<'a, T> Img<'a, T> {
    #[inline]
    fn row(&self, y: usize) -> &'a [T] {
        &self.data[y * self.stride..y * self.stride + self.w]
    }
}

/// Accumulator for the filtered second moments: `u32` is exact for 8-bit input at scale 0
/// (and vectorises twice as wide), `u64` is needed everywhere else.
trait SqAcc: Copy + Default + std::ops::AddAssign {
    fn prod(a: u32, b: u32) -> Self;
    fn round_shift(self, round: u64, shift: u32) -> u32;
}
impl SqAcc for u32 {
    #[inline(always)]
    fn prod(a: u32, b: u32) -> Self {
        a.wrapping_mul(b)
    }
    #[inline(always)]
    fn round_shift(self, round: u64, shift: u32) -> u32 {
        ((self as u64 + round) >> shift) as u32
    }
}
impl SqAcc for u64 {
    #[inline(always)]
    fn prod(a: u32, b: u32) -> Self {
        a as u64 * b as u64
    }
    #[inline(always)]
    fn round_shift(self, round: u64, shift: u32) -> u32 {
        ((self + round) >> shift) as u32
    }
}

/// Running sums of one scale, in libvmaf's fixed-point units.
#[derive(Clone, Copy, Default)]
struct Sums {
    num_log: i64,
    den_log: i64,
    num_non_log: i64,
    den_non_log: i64,
}

impl Sums {
    fn add(&mut self, o: &Sums) {
        self.num_log += o.num_log;
        self.den_log += o.den_log;
        self.num_non_log += o.num_non_log;
        self.den_non_log += o.den_non_log;
    }

    fn num_den(&self) -> (f32, f32) {
        let num = self.num_log as f64 / 2048.0
            + (self.den_non_log as f64 - (self.num_non_log as f64 / 16384.0) / 65025.0);
        let den = self.den_log as f64 / 2048.0 + self.den_non_log as f64;
        (num as f32, den as f32)
    }
}

/// `log2(v) * 2048` from the table, using the 16 most significant bits of `v`.
#[inline(always)]
fn log2_fixed(table: &[u16; 65536], v: u64) -> i32 {
    let k = 48 - v.leading_zeros() as i32;
    table[(v >> k) as u16 as usize] as i32 + 2048 * k
}

/// Row-sized work buffers with mirrored margins.
struct RowBufs {
    mu1: Vec<u32>,
    mu2: Vec<u32>,
    rr: Vec<u32>,
    dd: Vec<u32>,
    rd: Vec<u32>,
    conv_ref: Vec<u16>,
    conv_dis: Vec<u16>,
}

impl RowBufs {
    fn new(width: usize) -> Self {
        let n = width + 2 * PAD;
        RowBufs {
            mu1: vec![0; n],
            mu2: vec![0; n],
            rr: vec![0; n],
            dd: vec![0; n],
            rd: vec![0; n],
            conv_ref: vec![0; n],
            conv_dis: vec![0; n],
        }
    }
}

/// libvmaf's integer VIF for one plane size and bit depth; reusable frame after frame.
pub struct IntegerVif {
    width: usize,
    height: usize,
    bpc: u32,
    gain_limit: f64,
    log2_table: Box<[u16; 65536]>,
    /// Decimated reference and distorted images of scales 1..=3, packed.
    scaled_ref: [Vec<u16>; 3],
    scaled_dis: [Vec<u16>; 3],
    rows: RowBufs,
}

impl IntegerVif {
    /// Prepares buffers for `width`x`height` luma planes of `bpc` bits (8..=16).
    pub fn new(
        width: usize,
        height: usize,
        bpc: u32,
        opts: IntegerVifOptions,
    ) -> Result<Self, VifError> {
        if !(8..=16).contains(&bpc) {
            return Err(VifError::UnsupportedBpc(bpc));
        }
        if width < MIN_SIZE || height < MIN_SIZE {
            return Err(VifError::TooSmall { width, height });
        }
        let g = opts.enhn_gain_limit;
        // Written so that NaN is rejected too.
        if !(1.0..=DEFAULT_ENHN_GAIN_LIMIT).contains(&g) {
            return Err(VifError::InvalidGainLimit(g));
        }
        let scaled = |s: usize| vec![0u16; (width >> s) * (height >> s)];
        Ok(IntegerVif {
            width,
            height,
            bpc,
            gain_limit: g,
            log2_table: build_log2_table(),
            scaled_ref: [scaled(1), scaled(2), scaled(3)],
            scaled_dis: [scaled(1), scaled(2), scaled(3)],
            rows: RowBufs::new(width),
        })
    }

    pub fn width(&self) -> usize {
        self.width
    }
    pub fn height(&self) -> usize {
        self.height
    }
    pub fn bpc(&self) -> u32 {
        self.bpc
    }

    /// `integer_vif_scale0..3` for one frame, as libvmaf reports them.
    ///
    /// Panics if a plane's size or bit depth differs from what `new` was given.
    pub fn compute(&mut self, reference: &Plane, distorted: &Plane) -> [f64; 4] {
        self.compute_num_den(reference, distorted).scores()
    }

    /// Per-scale numerators and denominators (libvmaf's debug output); see [`Self::compute`].
    pub fn compute_num_den(&mut self, reference: &Plane, distorted: &Plane) -> IntegerVifNumDen {
        for p in [reference, distorted] {
            assert!(
                p.width == self.width && p.height == self.height && p.bpc == self.bpc,
                "plane {}x{} at {} bits does not match IntegerVif set up for {}x{} at {} bits",
                p.width,
                p.height,
                p.bpc,
                self.width,
                self.height,
                self.bpc
            );
        }
        let mut out = IntegerVifNumDen::default();
        let (w, h) = (self.width, self.height);
        match (reference.samples, distorted.samples) {
            (Samples::U8(r), Samples::U8(d)) => {
                let r = Img {
                    data: r,
                    w,
                    h,
                    stride: reference.stride,
                };
                let d = Img {
                    data: d,
                    w,
                    h,
                    stride: distorted.stride,
                };
                self.scale0(r, d, &mut out);
            }
            (Samples::U16(r), Samples::U16(d)) => {
                let r = Img {
                    data: r,
                    w,
                    h,
                    stride: reference.stride,
                };
                let d = Img {
                    data: d,
                    w,
                    h,
                    stride: distorted.stride,
                };
                self.scale0(r, d, &mut out);
            }
            _ => panic!("reference and distorted planes must use the same sample container"),
        }
        for s in 1..4 {
            let (ws, hs) = (w >> s, h >> s);
            let r = Img {
                data: &self.scaled_ref[s - 1][..],
                w: ws,
                h: hs,
                stride: ws,
            };
            let d = Img {
                data: &self.scaled_dis[s - 1][..],
                w: ws,
                h: hs,
                stride: ws,
            };
            let sums = statistic::<u16, u64>(
                &mut self.rows,
                &self.log2_table,
                self.gain_limit,
                r,
                d,
                s,
                16,
                16,
            );
            (out.num[s], out.den[s]) = sums.num_den();
            if s < 3 {
                let (lo, hi) = self.scaled_ref.split_at_mut(s);
                let (dlo, dhi) = self.scaled_dis.split_at_mut(s);
                let r = Img {
                    data: &lo[s - 1][..],
                    w: ws,
                    h: hs,
                    stride: ws,
                };
                let d = Img {
                    data: &dlo[s - 1][..],
                    w: ws,
                    h: hs,
                    stride: ws,
                };
                subsample(&mut self.rows, r, d, s, 16, &mut hi[0], &mut dhi[0]);
            }
        }
        out
    }

    fn scale0<T: Px>(&mut self, r: Img<T>, d: Img<T>, out: &mut IntegerVifNumDen) {
        let sums = if self.bpc == 8 {
            statistic::<T, u32>(
                &mut self.rows,
                &self.log2_table,
                self.gain_limit,
                r,
                d,
                0,
                8,
                0,
            )
        } else {
            let b = self.bpc;
            statistic::<T, u64>(
                &mut self.rows,
                &self.log2_table,
                self.gain_limit,
                r,
                d,
                0,
                b,
                2 * (b - 8),
            )
        };
        (out.num[0], out.den[0]) = sums.num_den();
        let (r1, d1) = (&mut self.scaled_ref[0], &mut self.scaled_dis[0]);
        subsample(&mut self.rows, r, d, 0, self.bpc, r1, d1);
    }
}

/// `round(log2f(i) * 2048)` for the 16-bit mantissas `32768..=65535` the lookups use.
///
/// `log2f` is evaluated as the correctly rounded `f32` of the `f64` logarithm; over this
/// range that yields the same table as glibc's and musl's `log2f`.
fn build_log2_table() -> Box<[u16; 65536]> {
    let mut t = Box::new([0u16; 65536]);
    for (i, v) in t.iter_mut().enumerate().skip(32767) {
        let l = (i as f64).log2() as f32;
        *v = ((l * 2048.0) as f64).round() as u16;
    }
    t
}

/// Rounding shift of the vertical pass for scale `scale` (`bpc` matters at scale 0 only):
/// (round, shift) for the means and for the second moments.
fn vertical_shifts(scale: usize, bpc: u32) -> ((u32, u32), (u64, u32)) {
    if scale == 0 {
        let sq_shift = 2 * (bpc - 8);
        let sq_round = if sq_shift == 0 {
            0
        } else {
            1u64 << (sq_shift - 1)
        };
        ((1 << (bpc - 1), bpc), (sq_round, sq_shift))
    } else {
        ((1 << 15, 16), (1 << 15, 16))
    }
}

/// VIF sums of one scale: filtered means, variances and covariance per pixel, then
/// libvmaf's log-domain information ratio. `sq_shift` is the second-moment shift of the
/// vertical pass (0 for 8-bit scale 0, where `A = u32` suffices).
#[allow(clippy::too_many_arguments)]
fn statistic<T: Px, A: SqAcc>(
    rows: &mut RowBufs,
    table: &[u16; 65536],
    gain_limit: f64,
    r: Img<T>,
    d: Img<T>,
    scale: usize,
    bpc: u32,
    sq_shift: u32,
) -> Sums {
    let filt = FILTERS[scale];
    let half = filt.len() / 2;
    let (w, h) = (r.w, r.h);
    let ((mu_round, mu_shift), (sq_round, sq_shift2)) = vertical_shifts(scale, bpc);
    debug_assert_eq!(sq_shift, sq_shift2);
    let mut total = Sums::default();

    for i in 0..h {
        // Vertical pass into the row buffers.
        for j0 in (0..w).step_by(CHUNK) {
            let n = CHUNK.min(w - j0);
            let mut mu1 = [0u32; CHUNK];
            let mut mu2 = [0u32; CHUNK];
            let mut rr = [A::default(); CHUNK];
            let mut dd = [A::default(); CHUNK];
            let mut rd = [A::default(); CHUNK];
            for (k, &c) in filt.iter().enumerate() {
                let y = mirror(i as isize + k as isize - half as isize, h);
                let c = c as u32;
                let xr = &r.row(y)[j0..j0 + n];
                let xd = &d.row(y)[j0..j0 + n];
                for t in 0..n {
                    let a = xr[t].w();
                    let b = xd[t].w();
                    let ca = c * a;
                    let cb = c * b;
                    mu1[t] += ca;
                    mu2[t] += cb;
                    rr[t] += A::prod(ca, a);
                    dd[t] += A::prod(cb, b);
                    rd[t] += A::prod(ca, b);
                }
            }
            let o = PAD + j0;
            for t in 0..n {
                rows.mu1[o + t] = (mu1[t] + mu_round) >> mu_shift;
                rows.mu2[o + t] = (mu2[t] + mu_round) >> mu_shift;
                rows.rr[o + t] = rr[t].round_shift(sq_round, sq_shift);
                rows.dd[o + t] = dd[t].round_shift(sq_round, sq_shift);
                rows.rd[o + t] = rd[t].round_shift(sq_round, sq_shift);
            }
        }
        for b in [
            &mut rows.mu1,
            &mut rows.mu2,
            &mut rows.rr,
            &mut rows.dd,
            &mut rows.rd,
        ] {
            mirror_margins(b, w, half);
        }

        // Horizontal pass and the per-pixel statistic.
        let mut row_sums = Sums::default();
        for j0 in (0..w).step_by(CHUNK) {
            let n = CHUNK.min(w - j0);
            let mut m1 = [0u32; CHUNK];
            let mut m2 = [0u32; CHUNK];
            let mut xx = [0u64; CHUNK];
            let mut yy = [0u64; CHUNK];
            let mut xy = [0u64; CHUNK];
            for (k, &c) in filt.iter().enumerate() {
                let base = PAD - half + j0 + k;
                let c = c as u32;
                let s1 = &rows.mu1[base..base + n];
                let s2 = &rows.mu2[base..base + n];
                let sr = &rows.rr[base..base + n];
                let sd = &rows.dd[base..base + n];
                let sx = &rows.rd[base..base + n];
                for t in 0..n {
                    m1[t] += c * s1[t];
                    m2[t] += c * s2[t];
                    xx[t] += c as u64 * sr[t] as u64;
                    yy[t] += c as u64 * sd[t] as u64;
                    xy[t] += c as u64 * sx[t] as u64;
                }
            }
            for t in 0..n {
                pixel(
                    &mut row_sums,
                    table,
                    gain_limit,
                    m1[t],
                    m2[t],
                    ((xx[t] + 32768) >> 16) as u32,
                    ((yy[t] + 32768) >> 16) as u32,
                    ((xy[t] + 32768) >> 16) as u32,
                );
            }
        }
        total.add(&row_sums);
    }
    total
}

/// One pixel's contribution, in libvmaf's fixed point: `m1`, `m2` are the filtered means
/// (16.16-ish), `xx`, `yy`, `xy` the filtered second moments.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn pixel(
    acc: &mut Sums,
    table: &[u16; 65536],
    gain_limit: f64,
    m1: u32,
    m2: u32,
    xx: u32,
    yy: u32,
    xy: u32,
) {
    let prod = |a: u32, b: u32| ((a as u64 * b as u64 + (1 << 31)) >> 32) as u32;
    // Unsigned wrap-around then reinterpretation, as in the C reference.
    let sigma1_sq = xx.wrapping_sub(prod(m1, m1)) as i32;
    let sigma2_sq = (yy.wrapping_sub(prod(m2, m2)) as i32).max(0);
    let sigma12 = xy.wrapping_sub(prod(m1, m2)) as i32;
    if sigma1_sq >= SIGMA_NSQ {
        acc.den_log +=
            (log2_fixed(table, SIGMA_NSQ.wrapping_add(sigma1_sq) as u32 as u64) - 2048 * 17) as i64;
        if sigma12 > 0 && sigma2_sq > 0 {
            const EPS: f64 = 65536.0 * 1.0e-10;
            let g = sigma12 as f64 / (sigma1_sq as f64 + EPS);
            let sv_sq = ((sigma2_sq as f64 - g * sigma12 as f64) as i32).max(0);
            let g = if g < gain_limit { g } else { gain_limit };
            let numer1 = (sv_sq as u32).wrapping_add(SIGMA_NSQ as u32);
            let numer1_tmp = ((g * g * sigma1_sq as f64) as i64).wrapping_add(numer1 as i64);
            acc.num_log +=
                (log2_fixed(table, numer1_tmp as u64) - log2_fixed(table, numer1 as u64)) as i64;
        }
    } else {
        acc.num_non_log += sigma2_sq as i64;
        acc.den_non_log += 1;
    }
}

/// Low-pass with `FILTERS[scale + 1]` and keep every other row and column: the next
/// scale's images. Only the kept rows and columns are computed; the rest would be dropped.
fn subsample<T: Px>(
    rows: &mut RowBufs,
    r: Img<T>,
    d: Img<T>,
    scale: usize,
    bpc: u32,
    out_ref: &mut [u16],
    out_dis: &mut [u16],
) {
    let filt = FILTERS[scale + 1];
    let half = filt.len() / 2;
    let (w, h) = (r.w, r.h);
    let ((round, shift), _) = vertical_shifts(scale, bpc);
    let (wo, ho) = (w / 2, h / 2);

    for io in 0..ho {
        let i = 2 * io;
        for j0 in (0..w).step_by(CHUNK) {
            let n = CHUNK.min(w - j0);
            let mut ar = [0u32; CHUNK];
            let mut ad = [0u32; CHUNK];
            for (k, &c) in filt.iter().enumerate() {
                let y = mirror(i as isize + k as isize - half as isize, h);
                let c = c as u32;
                let xr = &r.row(y)[j0..j0 + n];
                let xd = &d.row(y)[j0..j0 + n];
                for t in 0..n {
                    ar[t] += c * xr[t].w();
                    ad[t] += c * xd[t].w();
                }
            }
            let o = PAD + j0;
            for t in 0..n {
                rows.conv_ref[o + t] = ((ar[t] + round) >> shift) as u16;
                rows.conv_dis[o + t] = ((ad[t] + round) >> shift) as u16;
            }
        }
        mirror_margins(&mut rows.conv_ref, w, half);
        mirror_margins(&mut rows.conv_dis, w, half);

        let orow_r = &mut out_ref[io * wo..(io + 1) * wo];
        let orow_d = &mut out_dis[io * wo..(io + 1) * wo];
        for jo in 0..wo {
            let base = PAD - half + 2 * jo;
            let cr = &rows.conv_ref[base..base + filt.len()];
            let cd = &rows.conv_dis[base..base + filt.len()];
            let mut sr = 0u32;
            let mut sd = 0u32;
            for k in 0..filt.len() {
                sr += filt[k] as u32 * cr[k] as u32;
                sd += filt[k] as u32 * cd[k] as u32;
            }
            orow_r[jo] = ((sr + 32768) >> 16) as u16;
            orow_d[jo] = ((sd + 32768) >> 16) as u16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg_plane(w: usize, h: usize, seed: u64, max: u16) -> Vec<u16> {
        let mut s = seed;
        (0..w * h)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 33) % (max as u64 + 1)) as u16
            })
            .collect()
    }

    #[test]
    fn log2_table_matches_libm() {
        let t = build_log2_table();
        assert_eq!(t[32768], 15 * 2048);
        assert_eq!(t[65535], 32768);
        // Sum of entries 32767..=65535 of libvmaf's table, computed with glibc's log2f.
        let sum: u64 = t[32767..].iter().map(|&v| v as u64).sum();
        assert_eq!(sum, LOG2_TABLE_SUM);
    }
    const LOG2_TABLE_SUM: u64 = 1_044_062_817;

    #[test]
    fn identical_inputs_score_one() {
        for (w, h, bpc) in [(64, 48, 8), (33, 17, 10), (16, 16, 12), (40, 40, 16)] {
            let max = ((1u32 << bpc) - 1) as u16;
            let data = lcg_plane(w, h, 7, max);
            let p = if bpc == 8 {
                // 8-bit content in 16-bit words, as `PlaneBuf::view` presents it.
                Plane {
                    samples: Samples::U16(&data),
                    width: w,
                    height: h,
                    stride: w,
                    bpc: 8,
                }
            } else {
                Plane::new_u16(&data, w, h, w, bpc)
            };
            let mut v = IntegerVif::new(w, h, bpc, IntegerVifOptions::default()).unwrap();
            let s = v.compute(&p, &p);
            for x in s {
                assert!((x - 1.0).abs() < 1e-4, "{w}x{h}@{bpc}: {s:?}");
            }
        }
    }

    #[test]
    fn u8_and_u16_containers_agree() {
        let (w, h) = (37, 29);
        let a16 = lcg_plane(w, h, 1, 255);
        let b16 = lcg_plane(w, h, 2, 255);
        let a8: Vec<u8> = a16.iter().map(|&v| v as u8).collect();
        let b8: Vec<u8> = b16.iter().map(|&v| v as u8).collect();
        let mut v = IntegerVif::new(w, h, 8, IntegerVifOptions::default()).unwrap();
        let s8 = v.compute(&Plane::new_u8(&a8, w, h, w), &Plane::new_u8(&b8, w, h, w));
        let p16 = |d| Plane {
            samples: Samples::U16(d),
            width: w,
            height: h,
            stride: w,
            bpc: 8,
        };
        let s16 = v.compute(&p16(&a16), &p16(&b16));
        assert_eq!(s8, s16);
    }

    #[test]
    fn strided_input_matches_packed() {
        let (w, h, stride) = (20, 18, 27);
        let a = lcg_plane(stride, h, 3, 255);
        let b = lcg_plane(stride, h, 4, 255);
        let pack = |src: &[u16]| -> Vec<u8> {
            (0..h)
                .flat_map(|y| src[y * stride..y * stride + w].iter().map(|&v| v as u8))
                .collect()
        };
        let a8: Vec<u8> = a.iter().map(|&v| v as u8).collect();
        let b8: Vec<u8> = b.iter().map(|&v| v as u8).collect();
        let mut v = IntegerVif::new(w, h, 8, IntegerVifOptions::default()).unwrap();
        let s1 = v.compute(
            &Plane::new_u8(&a8, w, h, stride),
            &Plane::new_u8(&b8, w, h, stride),
        );
        let (pa, pb) = (pack(&a), pack(&b));
        let s2 = v.compute(&Plane::new_u8(&pa, w, h, w), &Plane::new_u8(&pb, w, h, w));
        assert_eq!(s1, s2);
    }

    #[test]
    fn flat_planes_are_finite() {
        let (w, h) = (16, 16);
        let a = vec![100u8; w * h];
        let b = vec![50u8; w * h];
        let mut v = IntegerVif::new(w, h, 8, IntegerVifOptions::default()).unwrap();
        let s = v.compute(&Plane::new_u8(&a, w, h, w), &Plane::new_u8(&b, w, h, w));
        assert_eq!(s, [1.0; 4]);
    }

    #[test]
    fn rejects_bad_setup() {
        let o = IntegerVifOptions::default();
        assert_eq!(
            IntegerVif::new(15, 64, 8, o).err(),
            Some(VifError::TooSmall {
                width: 15,
                height: 64
            })
        );
        assert_eq!(
            IntegerVif::new(64, 8, 8, o).err(),
            Some(VifError::TooSmall {
                width: 64,
                height: 8
            })
        );
        assert_eq!(
            IntegerVif::new(64, 64, 7, o).err(),
            Some(VifError::UnsupportedBpc(7))
        );
        let bad = IntegerVifOptions {
            enhn_gain_limit: 0.5,
        };
        assert!(matches!(
            IntegerVif::new(64, 64, 8, bad),
            Err(VifError::InvalidGainLimit(_))
        ));
        let nan = IntegerVifOptions {
            enhn_gain_limit: f64::NAN,
        };
        assert!(IntegerVif::new(64, 64, 8, nan).is_err());
    }

    #[test]
    fn is_send() {
        fn check<T: Send>() {}
        check::<IntegerVif>();
    }
}
