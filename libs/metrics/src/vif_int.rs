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
//! [`VifError::TooSmall`] (libvmaf itself would read uninitialised padding there, and the
//! libvmaf build used as oracle crashes below 18x18 anyway).
//! Bit depths 8..=16 are accepted; libvmaf is normally run at 8, 10 or 12.
//!
//! Speed: all filtering runs in 32-bit lanes (second moments are carried as 16-bit
//! halves), the per-pixel statistic is computed branch-free, and the loops are plain
//! Rust written for auto-vectorisation, compiled a second time for AVX2 and for AVX-512
//! and picked at run time; the one exception is the logarithms' table lookups, written as
//! AVX-512 gathers because the compiler extracts them lane by lane. Only the rows and
//! columns that survive decimation are computed when building the next scale.
//! Single-threaded.

use crate::vif_float::assert_format;
use lv_image::plane::{Plane, Samples};

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
// measures with filter s and subsamples towards scale s+1 with filter s+1.
const FILTER0: [u16; 17] = [
    489, 935, 1640, 2640, 3896, 5274, 6547, 7455, 7784, 7455, 6547, 5274, 3896, 2640, 1640, 935,
    489,
];
const FILTER1: [u16; 9] = [1244, 3663, 7925, 12590, 14692, 12590, 7925, 3663, 1244];
const FILTER2: [u16; 5] = [3571, 16004, 26386, 16004, 3571];
const FILTER3: [u16; 3] = [10904, 43728, 10904];

/// Widest filter half-width; row buffers carry this much mirrored margin on each side.
const PAD: usize = 8;

/// The noise variance 2.0 in the 16.16 units the variances are kept in.
const SIGMA_NSQ: i32 = 2 << 16;

/// Columns processed together, so the per-column accumulators stay in registers and L1.
const CHUNK: usize = 128;

/// Mirror index `i` (which may lie up to one filter half-width outside) into `0..n`
/// without repeating the edge sample, as libvmaf's padding does.
#[inline(always)]
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

/// Fills the margins of a row buffer (data at `PAD..PAD + w`) by mirroring.
#[inline(always)]
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
    fn new(data: &'a [T], w: usize, h: usize, stride: usize) -> Self {
        Img { data, w, h, stride }
    }

    #[inline(always)]
    fn row(&self, y: usize) -> &'a [T] {
        &self.data[y * self.stride..y * self.stride + self.w]
    }
}

/// Rounding right shifts that end the vertical pass of one scale: libvmaf scales the
/// scale-0 sums by the bit depth so every later stage sees 8-bit-like magnitudes.
#[derive(Clone, Copy)]
struct Shifts {
    mu_round: u32,
    mu_shift: u32,
    sq_round: u32,
    sq_shift: u32,
}

impl Shifts {
    fn of(scale: usize, bpc: u32) -> Self {
        if scale == 0 {
            let sq_shift = 2 * (bpc - 8);
            Shifts {
                mu_round: 1 << (bpc - 1),
                mu_shift: bpc,
                sq_round: if sq_shift == 0 {
                    0
                } else {
                    1 << (sq_shift - 1)
                },
                sq_shift,
            }
        } else {
            Shifts {
                mu_round: 1 << 15,
                mu_shift: 16,
                sq_round: 1 << 15,
                sq_shift: 16,
            }
        }
    }

    /// `(hi * 2^16 + lo + sq_round) >> sq_shift` truncated to 32 bits, from the two
    /// halves' sums (each below 2^32), without 64-bit lanes.
    #[inline(always)]
    fn join(self, hi: u32, lo: u32) -> u32 {
        (hi << (16 - self.sq_shift)).wrapping_add(add(lo, self.sq_round) >> self.sq_shift)
    }
}

// Integer helpers for the filter loops. Every sum there is bounded below 2^32 by
// construction (taps < 2^16 summing to 2^16, operands < 2^16 or pairs of them), so
// wrapping arithmetic changes no result; it keeps overflow checks, where a build enables
// them, from blocking vectorisation.
#[inline(always)]
fn add(a: u32, b: u32) -> u32 {
    a.wrapping_add(b)
}
#[inline(always)]
fn mul(a: u32, b: u32) -> u32 {
    a.wrapping_mul(b)
}
#[inline(always)]
fn mac(acc: u32, c: u32, x: u32) -> u32 {
    acc.wrapping_add(c.wrapping_mul(x))
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

// Rows of the vertical pass, in `RowBufs::v`: filtered means, then the three second
// moments each as high and low 16-bit halves. Splitting keeps every later product and
// sum within 32 bits (filter taps < 2^16, halves < 2^16, taps sum to 2^16), where the
// whole values would need 64-bit arithmetic.
const MU1: usize = 0;
const MU2: usize = 1;
const RR_HI: usize = 2;
const RR_LO: usize = 3;
const DD_HI: usize = 4;
const DD_LO: usize = 5;
const RD_HI: usize = 6;
const RD_LO: usize = 7;

/// Row-sized work buffers with mirrored margins of `PAD` on each side.
struct RowBufs {
    v: [Vec<u16>; 8],
    conv_ref: Vec<u16>,
    conv_dis: Vec<u16>,
    scratch: Box<Scratch>,
}

/// Per-chunk working arrays, kept here so they are not re-zeroed for every chunk.
struct Scratch {
    /// Vertical and horizontal sums of the eight moment rows.
    vacc: [[u32; CHUNK]; 8],
    hacc: [[u32; CHUNK]; 8],
    /// Filtered means and second moments per pixel (`m1, m2, xx, yy, xy`).
    hm: [[u32; CHUNK]; 5],
    logs: LogArgs,
    /// Vertical sums of the subsampling filter.
    conv: [u32; CHUNK],
}

/// Per-pixel arguments of the statistic's logarithms and its non-log terms.
struct LogArgs {
    den: [u32; CHUNK],
    num: [u64; CHUNK],
    base: [u32; CHUNK],
    non_log: [u32; CHUNK],
    sigma2_non_log: [u32; CHUNK],
}

/// Buffers reused frame after frame.
struct Work {
    rows: RowBufs,
    /// Decimated reference and distorted images of scales 1..=3, packed.
    scaled_ref: [Vec<u16>; 3],
    scaled_dis: [Vec<u16>; 3],
}

/// libvmaf's integer VIF for one plane size and bit depth; reusable frame after frame.
pub struct IntegerVif {
    width: usize,
    height: usize,
    bpc: u32,
    gain_limit: f64,
    log2_table: Box<[u16; 65536]>,
    /// The table's used half (entries 32768..) widened to `i32`, for AVX-512 gathers.
    log2_wide: Box<[i32; 32768]>,
    work: Work,
    /// Which compilation of the kernels to run (detected at run time).
    isa: Isa,
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
        let table = build_log2_table();
        let scaled = |s: usize| vec![0u16; (width >> s) * (height >> s)];
        // Slack past the right margin lets the horizontal pass work in whole blocks.
        let row = || vec![0u16; width + 2 * PAD + CHUNK + 16];
        Ok(IntegerVif {
            width,
            height,
            bpc,
            gain_limit: g,
            log2_wide: Box::new(std::array::from_fn(|i| table[32768 + i] as i32)),
            log2_table: table,
            work: Work {
                rows: RowBufs {
                    v: std::array::from_fn(|_| row()),
                    conv_ref: row(),
                    conv_dis: row(),
                    scratch: Box::new(Scratch {
                        vacc: [[0; CHUNK]; 8],
                        hacc: [[0; CHUNK]; 8],
                        hm: [[0; CHUNK]; 5],
                        logs: LogArgs {
                            den: [0; CHUNK],
                            num: [0; CHUNK],
                            base: [0; CHUNK],
                            non_log: [0; CHUNK],
                            sigma2_non_log: [0; CHUNK],
                        },
                        conv: [0; CHUNK],
                    }),
                },
                scaled_ref: [scaled(1), scaled(2), scaled(3)],
                scaled_dis: [scaled(1), scaled(2), scaled(3)],
            },
            isa: Isa::detect(),
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
    /// Panics if a plane's size or bit depth differs from what `new` was given. Samples
    /// must be below `2^bpc`; larger ones give meaningless scores (but no panic).
    pub fn compute(&mut self, reference: &Plane, distorted: &Plane) -> [f64; 4] {
        self.compute_num_den(reference, distorted).scores()
    }

    /// Per-scale numerators and denominators (libvmaf's debug output); see [`Self::compute`].
    pub fn compute_num_den(&mut self, reference: &Plane, distorted: &Plane) -> IntegerVifNumDen {
        for p in [reference, distorted] {
            assert_format(p, (self.width, self.height, self.bpc), "IntegerVif");
        }
        let (w, h) = (self.width, self.height);
        let (rs, ds) = (reference.stride, distorted.stride);
        match (reference.samples, distorted.samples) {
            (Samples::U8(r), Samples::U8(d)) => {
                self.run(Img::new(r, w, h, rs), Img::new(d, w, h, ds))
            }
            (Samples::U16(r), Samples::U16(d)) => {
                self.run(Img::new(r, w, h, rs), Img::new(d, w, h, ds))
            }
            _ => panic!("reference and distorted planes must use the same sample container"),
        }
    }

    fn run<T: Px>(&mut self, r: Img<T>, d: Img<T>) -> IntegerVifNumDen {
        let ctx = Ctx {
            table: &self.log2_table,
            wide: &self.log2_wide,
            avx512: cfg!(target_arch = "x86_64") && self.isa == Isa::Avx512,
            gain_limit: self.gain_limit,
            bpc: self.bpc,
        };
        #[cfg(target_arch = "x86_64")]
        match self.isa {
            // SAFETY: `isa` names an instruction set only after the CPU reported it.
            Isa::Avx512 => return unsafe { frame_avx512(&mut self.work, ctx, r, d) },
            Isa::Avx2 => return unsafe { frame_avx2(&mut self.work, ctx, r, d) },
            Isa::Baseline => {}
        }
        frame(&mut self.work, ctx, r, d)
    }
}

/// The widest instruction set the kernels were compiled for that this CPU has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Isa {
    Baseline,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512,
}

impl Isa {
    fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            let cap = crate::isa::env_cap();
            let avx2 = cap >= 1 && has!("avx2") && has!("bmi1") && has!("bmi2") && has!("lzcnt");
            let avx512 = cap >= 2 && has!("avx512f") && has!("avx512bw") && has!("avx512vl");
            if avx2 && avx512 && has!("avx512dq") && has!("avx512cd") {
                return Isa::Avx512;
            }
            if avx2 {
                return Isa::Avx2;
            }
        }
        Isa::Baseline
    }
}

/// Per-frame constants the kernels share.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    table: &'a [u16; 65536],
    wide: &'a [i32; 32768],
    /// Run the hand-written AVX-512 kernels (table gathers, 16-bit multiply-adds); set only
    /// where the CPU has AVX-512.
    avx512: bool,
    gain_limit: f64,
    bpc: u32,
}

// `frame` recompiled for wider vectors: the kernels are plain loops written for
// auto-vectorisation, so the SIMD variants come from compiling them again here.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2,lzcnt")]
unsafe fn frame_avx2<T: Px>(work: &mut Work, ctx: Ctx, r: Img<T>, d: Img<T>) -> IntegerVifNumDen {
    frame(work, ctx, r, d)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2,lzcnt,avx512f,avx512bw,avx512vl,avx512dq,avx512cd")]
unsafe fn frame_avx512<T: Px>(work: &mut Work, ctx: Ctx, r: Img<T>, d: Img<T>) -> IntegerVifNumDen {
    frame(work, ctx, r, d)
}

/// All four scales of one frame.
#[inline(always)]
fn frame<T: Px>(work: &mut Work, ctx: Ctx, r: Img<T>, d: Img<T>) -> IntegerVifNumDen {
    let mut out = IntegerVifNumDen::default();
    let rows = &mut work.rows;
    let sh = Shifts::of(0, ctx.bpc);
    // 8-bit second moments fit 32 bits whole; deeper ones go through 16-bit halves.
    let sums = if ctx.bpc == 8 {
        statistic::<T, true, 17, 8>(rows, ctx, r, d, &FILTER0, sh)
    } else {
        statistic::<T, false, 17, 8>(rows, ctx, r, d, &FILTER0, sh)
    };
    (out.num[0], out.den[0]) = sums.num_den();
    let (r1, d1) = (&mut work.scaled_ref[0], &mut work.scaled_dis[0]);
    subsample::<T, 9, 4>(rows, r, d, &FILTER1, sh, r1, d1);

    for s in 1..4 {
        let (w, h) = (r.w >> s, r.h >> s);
        let sh = Shifts::of(s, ctx.bpc);
        let (ref_done, ref_next) = work.scaled_ref.split_at_mut(s);
        let (dis_done, dis_next) = work.scaled_dis.split_at_mut(s);
        let ri = Img {
            data: &ref_done[s - 1][..],
            w,
            h,
            stride: w,
        };
        let di = Img {
            data: &dis_done[s - 1][..],
            w,
            h,
            stride: w,
        };
        let sums = match s {
            1 => statistic::<u16, false, 9, 4>(rows, ctx, ri, di, &FILTER1, sh),
            2 => statistic::<u16, false, 5, 2>(rows, ctx, ri, di, &FILTER2, sh),
            _ => statistic::<u16, false, 3, 1>(rows, ctx, ri, di, &FILTER3, sh),
        };
        (out.num[s], out.den[s]) = sums.num_den();
        match s {
            1 => subsample::<u16, 5, 2>(
                rows,
                ri,
                di,
                &FILTER2,
                sh,
                &mut ref_next[0],
                &mut dis_next[0],
            ),
            2 => subsample::<u16, 3, 1>(
                rows,
                ri,
                di,
                &FILTER3,
                sh,
                &mut ref_next[0],
                &mut dis_next[0],
            ),
            _ => {}
        }
    }
    out
}

/// The table of `log2(v) * 2048` the statistic looks its logarithms up in (see
/// [`build_log2_table`]), for other backends (lv-gpu's kernels) that must use the very same one.
pub fn log2_table() -> Box<[u16; 65536]> {
    build_log2_table()
}

/// One scale's numerator and denominator (single precision, as libvmaf reports them) from its
/// integer sums: the information terms in log2 * 2048 units (`num_log`, `den_log`), and the
/// low-variance pixels' terms (`num_non_log`: their distorted variances, `den_non_log`: their
/// count). Other backends accumulate these sums and finish with this.
pub fn num_den_from_sums(
    num_log: i64,
    den_log: i64,
    num_non_log: i64,
    den_non_log: i64,
) -> (f32, f32) {
    Sums {
        num_log,
        den_log,
        num_non_log,
        den_non_log,
    }
    .num_den()
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

/// VIF sums of one scale: filtered means, variances and covariance per pixel, then
/// libvmaf's log-domain information ratio. `FW` is the filter's width, `HALF` its half.
#[inline(always)]
fn statistic<T: Px, const DIRECT: bool, const FW: usize, const HALF: usize>(
    rows: &mut RowBufs,
    ctx: Ctx,
    r: Img<T>,
    d: Img<T>,
    filt: &[u16; FW],
    sh: Shifts,
) -> Sums {
    debug_assert_eq!(FW, 2 * HALF + 1);
    let (w, h) = (r.w, r.h);
    let mut total = Sums::default();
    let (v, sc) = (&mut rows.v, &mut *rows.scratch);

    for i in 0..h {
        let ys: [usize; FW] =
            std::array::from_fn(|k| mirror(i as isize + k as isize - HALF as isize, h));
        let rr: [&[T]; FW] = ys.map(|y| r.row(y));
        let dr: [&[T]; FW] = ys.map(|y| d.row(y));
        let mut j0 = 0;
        while j0 < w {
            // A constant length lets the full chunks vectorise without remainder loops.
            if j0 + CHUNK <= w {
                vertical_chunk::<T, DIRECT, FW, HALF>(
                    &rr,
                    &dr,
                    filt,
                    sh,
                    v,
                    &mut sc.vacc,
                    j0,
                    CHUNK,
                );
            } else {
                vertical_chunk::<T, DIRECT, FW, HALF>(
                    &rr,
                    &dr,
                    filt,
                    sh,
                    v,
                    &mut sc.vacc,
                    j0,
                    w - j0,
                );
            }
            j0 += CHUNK;
        }
        for b in v.iter_mut() {
            mirror_margins(b, w, HALF);
        }
        let mut j0 = 0;
        while j0 < w {
            let n = CHUNK.min(w - j0);
            horizontal_moments::<FW, HALF>(v, j0, filt, ctx.avx512, &mut sc.hacc, &mut sc.hm);
            accumulate(&sc.hm, n, ctx, &mut sc.logs, &mut total);
            j0 += n;
        }
    }
    total
}

/// Vertical pass of the statistic for columns `j0..j0 + n` (`n <= CHUNK`) of one output
/// row (source rows `rr`, `dr`): filtered means and second moments, written to `v` at
/// `PAD + j0`.
///
/// `DIRECT` (8-bit samples at scale 0) accumulates the second moments whole, where they
/// fit 32 bits; otherwise each product is split into 16-bit halves, summed separately and
/// recombined with the scale's rounding shift. Symmetric taps are paired so each
/// coefficient multiplies once. The loops over columns are the ones to vectorise.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn vertical_chunk<T: Px, const DIRECT: bool, const FW: usize, const HALF: usize>(
    rr: &[&[T]; FW],
    dr: &[&[T]; FW],
    filt: &[u16; FW],
    sh: Shifts,
    v: &mut [Vec<u16>; 8],
    acc: &mut [[u32; CHUNK]; 8],
    j0: usize,
    n: usize,
) {
    {
        let [mu1, mu2, rh, rl, dh, dl, xh, xl] = acc;
        let (mu1, mu2, rh, rl) = (&mut mu1[..n], &mut mu2[..n], &mut rh[..n], &mut rl[..n]);
        let (dh, dl, xh, xl) = (&mut dh[..n], &mut dl[..n], &mut xh[..n], &mut xl[..n]);
        let c = filt[HALF] as u32;
        let (a, b) = (&rr[HALF][j0..j0 + n], &dr[HALF][j0..j0 + n]);
        for t in 0..n {
            let (x, y) = (a[t].w(), b[t].w());
            mu1[t] = mul(c, x);
            mu2[t] = mul(c, y);
            let (p, q, s) = (mul(x, x), mul(y, y), mul(x, y));
            if DIRECT {
                rh[t] = mul(c, p);
                dh[t] = mul(c, q);
                xh[t] = mul(c, s);
            } else {
                rh[t] = mul(c, p >> 16);
                rl[t] = mul(c, p & 0xffff);
                dh[t] = mul(c, q >> 16);
                dl[t] = mul(c, q & 0xffff);
                xh[t] = mul(c, s >> 16);
                xl[t] = mul(c, s & 0xffff);
            }
        }
        for k in 0..HALF {
            let c = filt[k] as u32;
            let (a1, a2) = (&rr[k][j0..j0 + n], &rr[FW - 1 - k][j0..j0 + n]);
            let (b1, b2) = (&dr[k][j0..j0 + n], &dr[FW - 1 - k][j0..j0 + n]);
            for t in 0..n {
                let (x1, x2, y1, y2) = (a1[t].w(), a2[t].w(), b1[t].w(), b2[t].w());
                mu1[t] = mac(mu1[t], c, add(x1, x2));
                mu2[t] = mac(mu2[t], c, add(y1, y2));
                let (p1, p2, q1, q2) = (mul(x1, x1), mul(x2, x2), mul(y1, y1), mul(y2, y2));
                let (s1, s2) = (mul(x1, y1), mul(x2, y2));
                if DIRECT {
                    rh[t] = mac(rh[t], c, add(p1, p2));
                    dh[t] = mac(dh[t], c, add(q1, q2));
                    xh[t] = mac(xh[t], c, add(s1, s2));
                } else {
                    rh[t] = mac(rh[t], c, add(p1 >> 16, p2 >> 16));
                    rl[t] = mac(rl[t], c, add(p1 & 0xffff, p2 & 0xffff));
                    dh[t] = mac(dh[t], c, add(q1 >> 16, q2 >> 16));
                    dl[t] = mac(dl[t], c, add(q1 & 0xffff, q2 & 0xffff));
                    xh[t] = mac(xh[t], c, add(s1 >> 16, s2 >> 16));
                    xl[t] = mac(xl[t], c, add(s1 & 0xffff, s2 & 0xffff));
                }
            }
        }
    }
    let [mu1, mu2, rh, rl, dh, dl, xh, xl] = &*acc;
    let o = PAD + j0;
    let [o_mu1, o_mu2, o_rh, o_rl, o_dh, o_dl, o_xh, o_xl] = v;
    let (o_mu1, o_mu2) = (&mut o_mu1[o..o + n], &mut o_mu2[o..o + n]);
    let (o_rh, o_rl, o_dh, o_dl) = (
        &mut o_rh[o..o + n],
        &mut o_rl[o..o + n],
        &mut o_dh[o..o + n],
        &mut o_dl[o..o + n],
    );
    let (o_xh, o_xl) = (&mut o_xh[o..o + n], &mut o_xl[o..o + n]);
    for t in 0..n {
        o_mu1[t] = (add(mu1[t], sh.mu_round) >> sh.mu_shift) as u16;
        o_mu2[t] = (add(mu2[t], sh.mu_round) >> sh.mu_shift) as u16;
        let (rr, dd, rd) = if DIRECT {
            (rh[t], dh[t], xh[t])
        } else {
            (
                sh.join(rh[t], rl[t]),
                sh.join(dh[t], dl[t]),
                sh.join(xh[t], xl[t]),
            )
        };
        o_rh[t] = (rr >> 16) as u16;
        o_rl[t] = rr as u16;
        o_dh[t] = (dd >> 16) as u16;
        o_dl[t] = dd as u16;
        o_xh[t] = (rd >> 16) as u16;
        o_xl[t] = rd as u16;
    }
}

/// Horizontal pass of the statistic for the `CHUNK` columns from `j0`: filtered means
/// (`hm[0..2]`) and second moments (`hm[2..5]`, reassembled from their halves).
///
/// Always a whole chunk: past the row's end it reads the buffers' slack, and those
/// results are ignored.
#[inline(always)]
fn horizontal_moments<const FW: usize, const HALF: usize>(
    v: &[Vec<u16>; 8],
    j0: usize,
    filt: &[u16; FW],
    avx512: bool,
    acc: &mut [[u32; CHUNK]; 8],
    hm: &mut [[u32; CHUNK]; 5],
) {
    #[cfg(target_arch = "x86_64")]
    // The 16-bit multiply-add takes signed coefficients: scale 3's centre tap is too large.
    let avx512 = avx512 && filt.iter().all(|&c| c < 1 << 15);
    if avx512 {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `avx512` is set only where the CPU reported AVX-512.
        unsafe {
            horizontal_avx512::<FW, HALF>(v, j0, filt, acc)
        };
    } else {
        for (src, a) in v.iter().zip(acc.iter_mut()) {
            // Every tap of the chunk lies in this window (taps span at most 17 samples).
            let win: &[u16; CHUNK + 16] = src[PAD - HALF + j0..][..CHUNK + 16].try_into().unwrap();
            // All taps of one output at once (the tap loop unrolls), so its sum stays in a
            // register; the loop over outputs is the one that vectorises.
            let c = filt[HALF] as u32;
            for t in 0..CHUNK {
                let mut acc = mul(c, win[HALF + t] as u32);
                for k in 0..HALF {
                    let c = filt[k] as u32;
                    acc = mac(acc, c, add(win[k + t] as u32, win[FW - 1 - k + t] as u32));
                }
                a[t] = acc;
            }
        }
    }
    let [m1, m2, xx, yy, xy] = hm;
    let join = |hi: u32, lo: u32| add(hi, add(lo, 32768) >> 16);
    for t in 0..CHUNK {
        m1[t] = acc[MU1][t];
        m2[t] = acc[MU2][t];
        xx[t] = join(acc[RR_HI][t], acc[RR_LO][t]);
        yy[t] = join(acc[DD_HI][t], acc[DD_LO][t]);
        xy[t] = join(acc[RD_HI][t], acc[RD_LO][t]);
    }
}

/// [`horizontal_moments`]' filtering with AVX-512 16-bit multiply-adds: two taps per
/// instruction on 16 outputs, where the portable loop widens every sample to 32 bits and
/// multiplies it alone (the horizontal pass was the largest share of VIF's time).
///
/// The multiply-add is signed, so samples are offset by -2^15 (the sign bit flipped) and
/// the offset's contribution, 2^15 times the taps' sum 2^16, is added back: the same
/// integers modulo 2^32 as the portable loop, and the true sums are below 2^32. Even and
/// odd outputs come from loads one sample apart and are interleaved at the end.
/// Coefficients must be below 2^15.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512cd,avx512bw,avx512vl,avx512dq,avx2")]
fn horizontal_avx512<const FW: usize, const HALF: usize>(
    v: &[Vec<u16>; 8],
    j0: usize,
    filt: &[u16; FW],
    acc: &mut [[u32; CHUNK]; 8],
) {
    use std::arch::x86_64::*;
    let pairs = FW.div_ceil(2);
    // Tap pairs (2m, 2m + 1) as one 32-bit word, the odd tap past the end zero.
    let coef: [__m512i; 9] = std::array::from_fn(|m| {
        let lo = filt.get(2 * m).map_or(0, |&c| c as u32);
        let hi = filt.get(2 * m + 1).map_or(0, |&c| c as u32);
        _mm512_set1_epi32((lo | hi << 16) as i32)
    });
    let flip = _mm512_set1_epi16(i16::MIN);
    let offset = _mm512_set1_epi32(i32::MIN);
    let even_first = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    let even_last = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    for (src, a) in v.iter().zip(acc.iter_mut()) {
        // Two samples more than the portable window: the odd outputs' last pair reads them
        // (their taps are zero or lie in the buffers' slack).
        let win: &[u16; CHUNK + 18] = src[PAD - HALF + j0..][..CHUNK + 18].try_into().unwrap();
        for b in 0..CHUNK / 32 {
            let (mut even, mut odd) = (offset, offset);
            for (m, c) in coef.iter().enumerate().take(pairs) {
                let w: &[u16; 33] = win[32 * b + 2 * m..][..33].try_into().unwrap();
                // SAFETY: each load reads 32 samples of `w` (from 0 and from 1).
                let (we, wo) = unsafe {
                    (
                        _mm512_loadu_si512(w.as_ptr().cast()),
                        _mm512_loadu_si512(w[1..].as_ptr().cast()),
                    )
                };
                even = _mm512_add_epi32(even, _mm512_madd_epi16(_mm512_xor_si512(we, flip), *c));
                odd = _mm512_add_epi32(odd, _mm512_madd_epi16(_mm512_xor_si512(wo, flip), *c));
            }
            let out = &mut a[32 * b..][..32];
            // SAFETY: `out` holds 32 u32, two vectors.
            unsafe {
                _mm512_storeu_si512(
                    out.as_mut_ptr().cast(),
                    _mm512_permutex2var_epi32(even, even_first, odd),
                );
                _mm512_storeu_si512(
                    out[16..].as_mut_ptr().cast(),
                    _mm512_permutex2var_epi32(even, even_last, odd),
                );
            }
        }
    }
}

/// `floor(x)` as an integer, exact for `0 <= x < 2^52`, in operations that vectorise
/// without SSE4.1 or AVX-512 (outside that range the result is unspecified).
#[inline(always)]
fn floor_to_int(x: f64) -> i64 {
    const M: f64 = 4503599627370496.0; // 2^52: adding it leaves x's integer part in the mantissa.
    let r = (x + M) - M;
    let f = if r > x { r - 1.0 } else { r };
    (f + M).to_bits().wrapping_sub(M.to_bits()) as i64
}

/// Adds the information terms of `n` pixels (means and second moments in `hm`).
///
/// The arithmetic is libvmaf's, but done for every pixel with the results selected
/// afterwards instead of branching: the branch on the variance is unpredictable on
/// natural images. Arguments of unused logarithms are set to 2^17, whose entry is exact.
#[inline(always)]
fn accumulate(hm: &[[u32; CHUNK]; 5], n: usize, ctx: Ctx, la: &mut LogArgs, sums: &mut Sums) {
    const EPS: f64 = 65536.0 * 1.0e-10;
    const NSQ: u32 = SIGMA_NSQ as u32;
    let [m1, m2, xx, yy, xy] = hm;
    let LogArgs {
        den: den_arg,
        num: num_arg,
        base: base_arg,
        non_log,
        sigma2_non_log,
    } = la;
    let prod =
        |a: u32, b: u32| ((a as u64).wrapping_mul(b as u64).wrapping_add(1 << 31) >> 32) as u32;
    for t in 0..CHUNK {
        // Unsigned wrap-around then reinterpretation, as in the C reference.
        let sigma1_sq = xx[t].wrapping_sub(prod(m1[t], m1[t])) as i32;
        let sigma2_sq = (yy[t].wrapping_sub(prod(m2[t], m2[t])) as i32).max(0);
        let sigma12 = xy[t].wrapping_sub(prod(m1[t], m2[t])) as i32;
        let is_log = sigma1_sq >= SIGMA_NSQ;
        let has_num = is_log & (sigma12 > 0) & (sigma2_sq > 0);

        let g = sigma12 as f64 / (sigma1_sq as f64 + EPS);
        // libvmaf truncates to int32 then clamps at zero: for the lanes that are used the
        // difference is below 2^31, so that is the floor of the positive part.
        let sv = sigma2_sq as f64 - g * sigma12 as f64;
        let sv_sq = floor_to_int(if sv > 0.0 { sv } else { 0.0 }) as u32;
        let g = if g < ctx.gain_limit {
            g
        } else {
            ctx.gain_limit
        };
        let numer1 = sv_sq.wrapping_add(NSQ);
        // g * g * sigma1_sq is non-negative whenever it is used, so truncation is floor.
        let numer1_tmp = floor_to_int(g * g * sigma1_sq as f64).wrapping_add(numer1 as i64);

        den_arg[t] = if is_log {
            NSQ.wrapping_add(sigma1_sq as u32)
        } else {
            NSQ
        };
        num_arg[t] = if has_num {
            numer1_tmp as u64
        } else {
            NSQ as u64
        };
        base_arg[t] = if has_num { numer1 } else { NSQ };
        non_log[t] = !is_log as u32;
        sigma2_non_log[t] = if is_log { 0 } else { sigma2_sq as u32 };
    }
    let (mut num_log, mut den_log, mut num_non_log, mut den_non_log) = (0i64, 0i64, 0i64, 0i64);
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if ctx.avx512 {
        // SAFETY: `avx512` is set only where the CPU reported AVX-512.
        (num_log, den_log, done) = unsafe { log_sums_avx512(ctx.wide, la, n) };
    }
    let LogArgs {
        den: den_arg,
        num: num_arg,
        base: base_arg,
        non_log,
        sigma2_non_log,
    } = la;
    for t in done..n {
        den_log += (log2_fixed(ctx.table, den_arg[t] as u64) - 2048 * 17) as i64;
        num_log +=
            (log2_fixed(ctx.table, num_arg[t]) - log2_fixed(ctx.table, base_arg[t] as u64)) as i64;
    }
    for t in 0..n {
        num_non_log += sigma2_non_log[t] as i64;
        den_non_log += non_log[t] as i64;
    }
    sums.num_log += num_log;
    sums.den_log += den_log;
    sums.num_non_log += num_non_log;
    sums.den_non_log += den_non_log;
}

/// The log terms of the first `n - n % 16` pixels of `la` (`num_log`, `den_log`, pixels
/// done), with the table lookups as AVX-512 gathers: compiled for AVX-512 alone, the
/// lookups of [`accumulate`]'s loop are extracted and loaded one lane at a time, which
/// took a quarter of VIF's time. Same integers as [`log2_fixed`]; every argument is at
/// least 2^17, so its 16 leading bits index the table's upper half.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512cd,avx512bw,avx512vl,avx512dq,avx2")]
fn log_sums_avx512(wide: &[i32; 32768], la: &LogArgs, n: usize) -> (i64, i64, usize) {
    use std::arch::x86_64::*;
    let base = wide.as_ptr().wrapping_sub(32768);
    // `log2(v) * 2048` of 16 u32 lanes.
    let log32 = |v: __m512i| -> __m512i {
        let k = _mm512_sub_epi32(_mm512_set1_epi32(16), _mm512_lzcnt_epi32(v));
        let idx = _mm512_srlv_epi32(v, k);
        // SAFETY: idx is in 32768..65536 (v >= 2^17), so base + idx lies in `wide`.
        let t = unsafe { _mm512_i32gather_epi32::<4>(idx, base) };
        _mm512_add_epi32(t, _mm512_slli_epi32::<11>(k))
    };
    // The same of 8 u64 lanes, as 8 i32.
    let log64 = |v: __m512i| -> __m256i {
        let k = _mm512_sub_epi64(_mm512_set1_epi64(48), _mm512_lzcnt_epi64(v));
        let idx = _mm512_srlv_epi64(v, k);
        // SAFETY: as above, idx is in 32768..65536.
        let t = unsafe { _mm512_i64gather_epi32::<4>(idx, base) };
        _mm256_add_epi32(t, _mm512_cvtepi64_epi32(_mm512_slli_epi64::<11>(k)))
    };
    let (mut num, mut den) = (_mm512_setzero_si512(), _mm512_setzero_si512());
    let groups = n / 16;
    for g in 0..groups {
        let o = 16 * g;
        // SAFETY: o + 16 <= n <= CHUNK, the arrays' length; unaligned loads.
        let (d, b, n0, n1) = unsafe {
            (
                _mm512_loadu_si512(la.den[o..].as_ptr().cast()),
                _mm512_loadu_si512(la.base[o..].as_ptr().cast()),
                _mm512_loadu_si512(la.num[o..].as_ptr().cast()),
                _mm512_loadu_si512(la.num[o + 8..].as_ptr().cast()),
            )
        };
        den = _mm512_add_epi32(den, log32(d));
        let nl = _mm512_inserti64x4::<1>(_mm512_castsi256_si512(log64(n0)), log64(n1));
        num = _mm512_add_epi32(num, _mm512_sub_epi32(nl, log32(b)));
    }
    // Per-lane sums stay far below 2^31: at most 8 groups of values below 2^18.
    let den = _mm512_reduce_add_epi32(den) as i64 - (2048 * 17 * 16 * groups) as i64;
    (_mm512_reduce_add_epi32(num) as i64, den, 16 * groups)
}

/// Low-pass with the next scale's filter and keep every other row and column: the next
/// scale's images. Only the kept rows and columns are computed.
#[inline(always)]
fn subsample<T: Px, const FW: usize, const HALF: usize>(
    rows: &mut RowBufs,
    r: Img<T>,
    d: Img<T>,
    filt: &[u16; FW],
    sh: Shifts,
    out_ref: &mut [u16],
    out_dis: &mut [u16],
) {
    let (w, h) = (r.w, r.h);
    let (wo, ho) = (w / 2, h / 2);

    for io in 0..ho {
        let i = 2 * io;
        let ys: [usize; FW] =
            std::array::from_fn(|k| mirror(i as isize + k as isize - HALF as isize, h));
        let acc = &mut rows.scratch.conv;
        for (img, conv) in [(r, &mut rows.conv_ref), (d, &mut rows.conv_dis)] {
            let src: [&[T]; FW] = ys.map(|y| img.row(y));
            let mut j0 = 0;
            while j0 < w {
                // A constant length lets the full chunks vectorise without remainder loops.
                if j0 + CHUNK <= w {
                    subsample_chunk::<T, FW, HALF>(&src, filt, sh, acc, conv, j0, CHUNK);
                } else {
                    subsample_chunk::<T, FW, HALF>(&src, filt, sh, acc, conv, j0, w - j0);
                }
                j0 += CHUNK;
            }
            mirror_margins(conv, w, HALF);
        }

        for (conv, out) in [
            (&rows.conv_ref, &mut *out_ref),
            (&rows.conv_dis, &mut *out_dis),
        ] {
            for (jo, o) in out[io * wo..(io + 1) * wo].iter_mut().enumerate() {
                let taps: &[u16; FW] = conv[PAD - HALF + 2 * jo..][..FW].try_into().unwrap();
                let mut s = 0u32;
                for k in 0..FW {
                    s = mac(s, filt[k] as u32, taps[k] as u32);
                }
                *o = (add(s, 32768) >> 16) as u16;
            }
        }
    }
}

/// Vertical low-pass of columns `j0..j0 + n` (`n <= CHUNK`) of one kept row, rounded to
/// 16 bits into `conv` at `PAD + j0`.
#[inline(always)]
fn subsample_chunk<T: Px, const FW: usize, const HALF: usize>(
    src: &[&[T]; FW],
    filt: &[u16; FW],
    sh: Shifts,
    acc: &mut [u32; CHUNK],
    conv: &mut [u16],
    j0: usize,
    n: usize,
) {
    let s = &mut acc[..n];
    let c = filt[HALF] as u32;
    for (acc, x) in s.iter_mut().zip(&src[HALF][j0..j0 + n]) {
        *acc = mul(c, x.w());
    }
    for k in 0..HALF {
        let c = filt[k] as u32;
        let (a1, a2) = (&src[k][j0..j0 + n], &src[FW - 1 - k][j0..j0 + n]);
        for t in 0..n {
            s[t] = mac(s[t], c, add(a1[t].w(), a2[t].w()));
        }
    }
    for (o, &v) in conv[PAD + j0..PAD + j0 + n].iter_mut().zip(s.iter()) {
        *o = (add(v, sh.mu_round) >> sh.mu_shift) as u16;
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

    /// Every compiled variant of the kernels gives the same bits (the oracle tests only
    /// exercise the widest one this CPU has).
    #[test]
    fn instruction_set_variants_agree() {
        let mut isas = vec![Isa::Baseline];
        #[cfg(target_arch = "x86_64")]
        {
            match Isa::detect() {
                Isa::Avx512 => isas.extend([Isa::Avx2, Isa::Avx512]),
                Isa::Avx2 => isas.push(Isa::Avx2),
                Isa::Baseline => {}
            }
        }
        // Wider than a chunk too, so whole chunks and the AVX-512 gathers' groups run.
        for (w, h, bpc) in [
            (67, 45, 8),
            (50, 37, 10),
            (33, 19, 12),
            (16, 16, 16),
            (300, 40, 8),
            (270, 35, 10),
        ] {
            let max = ((1u32 << bpc) - 1) as u16;
            let a = lcg_plane(w, h, 11, max);
            // A smoothed, noisier copy, so every branch of the statistic is taken.
            let b: Vec<u16> = a
                .iter()
                .zip(lcg_plane(w, h, 12, max / 8))
                .map(|(&x, n)| ((x as u32 * 3 + n as u32) / 4).min(max as u32) as u16)
                .collect();
            let mut results = Vec::new();
            for &isa in &isas {
                let mut v = IntegerVif::new(w, h, bpc, IntegerVifOptions::default()).unwrap();
                v.isa = isa;
                let plane = |d| Plane {
                    samples: Samples::U16(d),
                    width: w,
                    height: h,
                    stride: w,
                    bpc,
                };
                results.push(v.compute_num_den(&plane(&a), &plane(&b)));
            }
            for r in &results[1..] {
                assert_eq!(r, &results[0], "{w}x{h}@{bpc}: {isas:?}");
            }
        }
    }

    #[test]
    fn is_send() {
        fn check<T: Send>() {}
        check::<IntegerVif>();
    }
}
