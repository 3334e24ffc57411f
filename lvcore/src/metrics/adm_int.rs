//! libvmaf's integer ADM (Additive Detail Measure, `integer_adm.c`), reproduced bit for
//! bit: a 4-scale Daubechies-2 wavelet decomposition in fixed point, decoupling of the
//! distorted detail into a part restored from the reference and an additive impairment,
//! contrast masking, and Minkowski (p = 3) pooling, all with libvmaf's exact shifts and
//! rounding (including its quirks: a rounding constant that wraps to -2^31 at scales 1..3,
//! asymmetric edge handling in the masking neighbourhood, single-precision pooling).
//!
//! Scores: `integer_adm2` = sum(num) / sum(den) over the scales and
//! `integer_adm_scaleN` = num_N / den_N, as in libvmaf's log. Options other than
//! `adm_enhn_gain_limit` keep libvmaf's defaults (viewing distance 3, display height 1080,
//! Watson CSF, noise weight 1/32); libvmaf's AIM / adm3 outputs are not computed.
//!
//! Frames must be at least [`MIN_SIZE`] in both directions: below that libvmaf's wavelet
//! index tables reach outside the image at the coarsest scale (undefined behaviour there).

use crate::plane::{Plane, Samples};
use std::sync::OnceLock;

/// Smallest width and height: the coarsest scale's input, ceil(n / 8), must be >= 5.
pub const MIN_SIZE: usize = 33;

const LO: [i32; 4] = [15826, 27411, 7345, -4240];
const HI: [i32; 4] = [-4240, -7345, 27411, -15826];
const LO_SUM: i32 = 46342;

/// Scale-0 CSF weights in Q21 (h, v) and Q23 (d) that libvmaf hard-codes for the default
/// viewing conditions, with their rounding shifts and (not quite half) rounding constants.
const RF0: [i32; 3] = [36453, 36453, 49417];
const RF0_SHIFT: [u32; 3] = [15, 15, 17];
const RF0_ROUND: [i32; 3] = [16384, 16384, 65535];

const NOISE_WEIGHT: f64 = 0.03125;
const BORDER: f64 = 0.1;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IntegerAdmOptions {
    /// `adm_enhn_gain_limit`: 1.0 disables enhancement gain (the `neg` models), 100.0 is
    /// libvmaf's default. Valid range 1.0..=100.0.
    pub enhn_gain_limit: f64,
}

impl Default for IntegerAdmOptions {
    fn default() -> Self {
        IntegerAdmOptions {
            enhn_gain_limit: 100.0,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AdmScores {
    /// `integer_adm2`.
    pub adm2: f64,
    /// `integer_adm_scale0..3`.
    pub scale: [f64; 4],
    /// Per-scale numerators and denominators (libvmaf's debug `integer_adm_num_scaleN`,
    /// `integer_adm_den_scaleN`), single precision as libvmaf computes them.
    pub num: [f32; 4],
    pub den: [f32; 4],
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AdmError {
    #[error("integer ADM needs at least {MIN_SIZE}x{MIN_SIZE} samples, got {0}x{1}")]
    TooSmall(usize, usize),
    #[error("unsupported bit depth {0} (8..=16)")]
    BitDepth(u32),
    #[error("adm_enhn_gain_limit must be within 1.0..=100.0, got {0}")]
    GainLimit(f64),
}

/// Geometry and constants of one scale.
struct Scale {
    /// Size of this scale's input (the image, or the previous approximation band).
    w_in: usize,
    /// Size of the bands this scale produces.
    w: usize,
    h: usize,
    /// Source rows / columns of the 4 taps for each output row / column.
    ind_y: Vec<[usize; 4]>,
    ind_x: Vec<[usize; 4]>,
    /// CSF weights for (h, v) and d as libvmaf's float.
    rf: [f32; 2],
    /// Same in Q32, used at scales 1..3.
    rf_q32: [u32; 3],
}

/// Approximation and detail bands. Scale-0 values are kept in i16 range, as libvmaf
/// stores them in int16.
#[derive(Default)]
struct Bands {
    a: Vec<i32>,
    h: Vec<i32>,
    v: Vec<i32>,
    d: Vec<i32>,
}

impl Bands {
    fn new(n: usize) -> Self {
        Bands {
            a: vec![0; n],
            h: vec![0; n],
            v: vec![0; n],
            d: vec![0; n],
        }
    }
}

pub struct IntegerAdm {
    w: usize,
    h: usize,
    bpc: u32,
    egl: f64,
    cos_1deg_sq: f64,
    scales: Vec<Scale>,
    /// Vertical-pass rows (lo, hi).
    tmp_lo: Vec<i32>,
    tmp_hi: Vec<i32>,
    rb: Bands,
    db: Bands,
    /// Previous scale's approximation bands, the input of the next scale.
    ra_prev: Vec<i32>,
    da_prev: Vec<i32>,
    /// Restored detail (h, v, d) after decoupling.
    rest: [Vec<i32>; 3],
    /// Over the three orientations: sum of the masking filter outputs |csf(a)| / 30 ...
    flt_sum: Vec<i32>,
    /// ... and sum of the centre terms |csf(a)| / 15.
    ctr_sum: Vec<i32>,
    colsum: Vec<i32>,
}

fn div_lookup() -> &'static [i32] {
    static TABLE: OnceLock<Vec<i32>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = vec![0i32; 65537];
        for i in 1..=32768i32 {
            let r = (1i32 << 30) / i;
            t[(32768 + i) as usize] = r;
            t[(32768 - i) as usize] = -r;
        }
        t
    })
}

/// Wavelet tap positions for an input of `n` samples: interior 2i-1..2i+2, the first
/// output reflects (1,0,1,2), the end mirrors with edge repetition (n -> n-1).
fn tap_indices(n: usize) -> Vec<[usize; 4]> {
    let half = n.div_ceil(2);
    (0..half)
        .map(|i| {
            if i == 0 {
                [1, 0, 1, 2]
            } else {
                let b = 2 * i;
                [b - 1, b, b + 1, b + 2].map(|x| if x >= n { 2 * n - x - 1 } else { x })
            }
        })
        .collect()
}

/// libvmaf's `dwt_quant_step` (Watson et al. 1997) with its float/double mix.
fn dwt_quant_step(lambda: usize, theta: usize) -> f32 {
    const A: f32 = 0.495;
    const K: f32 = 0.466;
    const F0: f32 = 0.401;
    const G: [f32; 4] = [1.501, 1.0, 0.534, 1.0];
    const AMP: [[f32; 4]; 4] = [
        [0.62171, 0.67234, 0.72709, 0.67234],
        [0.34537, 0.41317, 0.49428, 0.41317],
        [0.18004, 0.22727, 0.28688, 0.22727],
        [0.091401, 0.11792, 0.15214, 0.11792],
    ];
    let r = (3.0f64 * 1080.0 * std::f64::consts::PI / 180.0) as f32;
    let temp =
        (2.0f64.powf((lambda + 1) as f64) * F0 as f64 * G[theta] as f64 / r as f64).log10() as f32;
    let kt = K * temp * temp;
    (2.0 * A as f64 * 10.0f64.powf(kt as f64) / AMP[lambda][theta] as f64) as f32
}

/// Border-cropped region [left, right) x [top, bottom) over which libvmaf pools a band.
fn pool_region(w: usize, h: usize) -> (usize, usize, usize, usize) {
    let left = (w as f64 * BORDER - 0.5) as i64;
    let top = (h as f64 * BORDER - 0.5) as i64;
    let (left, top) = (left.max(0) as usize, top.max(0) as usize);
    (left, w - left, top, h - top)
}

/// The region decoupling and CSF fill: the pooling region plus one filter tap.
fn work_region(w: usize, h: usize) -> (usize, usize, usize, usize) {
    let f = |n: usize| {
        let lo = (n as f64 * BORDER - 0.5 - 1.0) as i64;
        let hi = n as i64 - lo + 2;
        (lo.max(0) as usize, (hi.min(n as i64)) as usize)
    };
    let (l, r) = f(w);
    let (t, b) = f(h);
    (l, r, t, b)
}

fn ceil_log2(x: usize) -> u32 {
    (x as f64).log2().ceil() as u32
}

impl IntegerAdm {
    pub fn new(
        width: usize,
        height: usize,
        bpc: u32,
        opts: IntegerAdmOptions,
    ) -> Result<Self, AdmError> {
        if !(8..=16).contains(&bpc) {
            return Err(AdmError::BitDepth(bpc));
        }
        if width < MIN_SIZE || height < MIN_SIZE {
            return Err(AdmError::TooSmall(width, height));
        }
        let egl = opts.enhn_gain_limit;
        if !(1.0..=100.0).contains(&egl) {
            return Err(AdmError::GainLimit(egl));
        }
        let mut scales = Vec::with_capacity(4);
        let (mut wi, mut hi) = (width, height);
        for s in 0..4 {
            let rf = [1.0f32 / dwt_quant_step(s, 1), 1.0f32 / dwt_quant_step(s, 2)];
            let q32 = |f: f32| (f as f64 * 4294967296.0) as u32;
            scales.push(Scale {
                w_in: wi,
                w: wi.div_ceil(2),
                h: hi.div_ceil(2),
                ind_y: tap_indices(hi),
                ind_x: tap_indices(wi),
                rf,
                rf_q32: [q32(rf[0]), q32(rf[0]), q32(rf[1])],
            });
            wi = wi.div_ceil(2);
            hi = hi.div_ceil(2);
        }
        let n = scales[0].w * scales[0].h;
        let cos1 = (std::f64::consts::PI / 180.0).cos();
        Ok(IntegerAdm {
            w: width,
            h: height,
            bpc,
            egl,
            cos_1deg_sq: (cos1 * cos1) as f32 as f64,
            scales,
            tmp_lo: vec![0; width],
            tmp_hi: vec![0; width],
            rb: Bands::new(n),
            db: Bands::new(n),
            ra_prev: vec![0; n],
            da_prev: vec![0; n],
            rest: [vec![0; n], vec![0; n], vec![0; n]],
            flt_sum: vec![0; n],
            ctr_sum: vec![0; n],
            colsum: vec![0; scales_w0(width)],
        })
    }

    /// Scores one frame pair (luma planes).
    ///
    /// Panics if a plane's size or bit depth differ from the ones given to `new`.
    pub fn compute(&mut self, reference: &Plane, distorted: &Plane) -> AdmScores {
        for p in [reference, distorted] {
            assert!(
                p.width == self.w && p.height == self.h && p.bpc == self.bpc,
                "adm: plane is {}x{} at {} bits, expected {}x{} at {} bits",
                p.width,
                p.height,
                p.bpc,
                self.w,
                self.h,
                self.bpc
            );
        }
        let mut num = 0.0f64;
        let mut den = 0.0f64;
        let mut scale = [0.0f64; 4];
        let mut nums = [0.0f32; 4];
        let mut dens = [0.0f32; 4];
        for s in 0..4 {
            let sc = &self.scales[s];
            if s == 0 {
                dwt_image(
                    reference,
                    sc,
                    &mut self.tmp_lo,
                    &mut self.tmp_hi,
                    &mut self.rb,
                );
                dwt_image(
                    distorted,
                    sc,
                    &mut self.tmp_lo,
                    &mut self.tmp_hi,
                    &mut self.db,
                );
            } else {
                std::mem::swap(&mut self.rb.a, &mut self.ra_prev);
                std::mem::swap(&mut self.db.a, &mut self.da_prev);
                dwt_band(
                    &self.ra_prev,
                    s,
                    sc,
                    &mut self.tmp_lo,
                    &mut self.tmp_hi,
                    &mut self.rb,
                );
                dwt_band(
                    &self.da_prev,
                    s,
                    sc,
                    &mut self.tmp_lo,
                    &mut self.tmp_hi,
                    &mut self.db,
                );
            }
            self.decouple_and_mask_filter(s);
            let sc = &self.scales[s];
            let den_s = if s == 0 {
                den_scale0(&self.rb, sc)
            } else {
                den_scale_n(&self.rb, sc, s)
            };
            let num_s = self.masked_num(s);
            num += num_s as f64;
            den += den_s as f64;
            scale[s] = num_s as f64 / den_s as f64;
            nums[s] = num_s;
            dens[s] = den_s;
        }
        let limit = 1e-10 * (self.w * self.h) as f64 / (1920.0 * 1080.0);
        if num < limit {
            num = 0.0;
        }
        if den < limit {
            den = 0.0;
        }
        let adm2 = if den == 0.0 { 1.0 } else { num / den };
        AdmScores {
            adm2,
            scale,
            num: nums,
            den: dens,
        }
    }

    /// Splits the distorted detail into restored (kept in `rest`) and additive parts, and
    /// turns the additive part straight into the masking sums the contrast-masking stage
    /// reads (libvmaf's `adm_decouple` followed by `adm_csf`).
    fn decouple_and_mask_filter(&mut self, s: usize) {
        let sc = &self.scales[s];
        let (w, h) = (sc.w, sc.h);
        let (l, r, t, b) = work_region(w, h);
        let div = div_lookup();
        let egl = self.egl;
        let cos_sq = self.cos_1deg_sq;
        let rq = sc.rf_q32;
        let (rb, db) = (&self.rb, &self.db);
        let [rest_h, rest_v, rest_d] = &mut self.rest;
        for i in t..b {
            let row = i * w;
            for j in l..r {
                let x = row + j;
                let (oh, ov, od) = (rb.h[x], rb.v[x], rb.d[x]);
                let (th, tv, td) = (db.h[x], db.v[x], db.d[x]);
                let angle = angle_flag(oh, ov, th, tv, cos_sq);
                let mut fsum = 0i32;
                let mut csum = 0i32;
                let mut one = |o: i32, tt: i32, theta: usize| -> i32 {
                    let (rst, add) = if s == 0 {
                        restore_s0(o, tt, angle, egl, div)
                    } else {
                        restore_sn(o, tt, angle, egl, div)
                    };
                    let (f, c) = if s == 0 {
                        mask_terms_s0(add, theta)
                    } else {
                        mask_terms_sn(add, rq[theta])
                    };
                    fsum = fsum.wrapping_add(f);
                    csum = csum.wrapping_add(c);
                    rst
                };
                rest_h[x] = one(oh, th, 0);
                rest_v[x] = one(ov, tv, 1);
                rest_d[x] = one(od, td, 2);
                self.flt_sum[x] = fsum;
                self.ctr_sum[x] = csum;
            }
        }
    }

    /// Contrast-masked, pooled restored detail (libvmaf's `adm_cm` / `i4_adm_cm`).
    fn masked_num(&mut self, s: usize) -> f32 {
        let sc = &self.scales[s];
        let (w, h) = (sc.w, sc.h);
        let (left, right, top, bottom) = pool_region(w, h);
        let shift_inner = ceil_log2(h);
        let add_inner = 1i64 << (shift_inner - 1);

        // Per-orientation constants: (rfactor, threshold shift, square shift, cube shift).
        let (cub_hv, cub_d) = if s == 0 {
            let lw = (w as f64).log2();
            ((lw - 4.0).ceil() as u32, (lw - 3.0).ceil() as u32)
        } else {
            let c = ceil_log2(w);
            (c, c)
        };
        let cub = [cub_hv, cub_hv, cub_d];
        let (sq, sub): ([u32; 3], [u32; 3]) = if s == 0 {
            ([29, 29, 30], [10, 10, 12])
        } else {
            ([30; 3], [0; 3])
        };

        let flt = &self.flt_sum;
        let ctr = &self.ctr_sum;
        let colsum = &mut self.colsum;
        let c_lo = left.saturating_sub(1);
        let c_hi = (right + 1).min(w);
        let mut acc = [0i64; 3];
        for i in top..bottom {
            let up = if i == 0 { 1 } else { i - 1 };
            let dn = if i == h - 1 { h - 1 } else { i + 1 };
            let (ru, rc, rd) = (&flt[up * w..][..w], &flt[i * w..][..w], &flt[dn * w..][..w]);
            for j in c_lo..c_hi {
                colsum[j] = ru[j].wrapping_add(rc[j]).wrapping_add(rd[j]);
            }
            let mut inner = [0i64; 3];
            for j in left..right {
                let jl = if j == 0 { 1 } else { j - 1 };
                let jr = if j == w - 1 { w - 1 } else { j + 1 };
                let x = i * w + j;
                let thr = colsum[jl]
                    .wrapping_add(colsum[j])
                    .wrapping_add(colsum[jr])
                    .wrapping_sub(flt[x])
                    .wrapping_add(ctr[x]);
                for (theta, band) in self.rest.iter().enumerate() {
                    let v = band[x];
                    let xv = if s == 0 {
                        v.wrapping_mul(RF0[theta])
                    } else {
                        ((v as i64 * sc.rf_q32[theta] as i64 + (1 << 27)) >> 28) as i32
                    };
                    let t = if s == 0 {
                        thr.wrapping_shl(sub[theta])
                    } else {
                        thr
                    };
                    let e = xv.wrapping_abs().wrapping_sub(t).max(0) as i64;
                    let e_sq = ((e * e + (1i64 << (sq[theta] - 1))) >> sq[theta]) as i32 as i64;
                    inner[theta] += (e_sq * e + (1i64 << (cub[theta] - 1))) >> cub[theta];
                }
            }
            for k in 0..3 {
                acc[k] += (inner[k] + add_inner) >> shift_inner;
            }
        }

        let area = ((bottom - top) * (right - left)) as f64 * NOISE_WEIGHT;
        let noise = (area as f32).powf(1.0 / 3.0);
        let mut total = 0.0f32;
        for k in 0..3 {
            let f = if s == 0 {
                let pend: u32 = if k == 2 { 57 } else { 52 };
                let e = pend.wrapping_sub(cub[k]).wrapping_sub(shift_inner);
                (acc[k] as f64 / 2.0f64.powf(e as f64)) as f32
            } else {
                let base: u32 = [45, 39, 36][s - 1];
                let e = base.wrapping_sub(cub[k]).wrapping_sub(shift_inner);
                let fs = 2.0f64.powf(e as f64) as f32;
                acc[k] as f32 / fs
            };
            total += f.powf(1.0 / 3.0) + noise;
        }
        total
    }
}

fn scales_w0(width: usize) -> usize {
    width.div_ceil(2)
}

/// libvmaf's decision whether the distorted detail (th, tv) points within 1 degree of the
/// reference's (oh, ov), evaluated with its float-then-double arithmetic.
#[inline]
fn angle_flag(oh: i32, ov: i32, th: i32, tv: i32, cos_sq: f64) -> bool {
    let (oh, ov, th, tv) = (oh as i64, ov as i64, th as i64, tv as i64);
    let ot = ((oh * th + ov * tv) as f32) as f64 / 4096.0;
    let om = ((oh * oh + ov * ov) as f32) as f64 / 4096.0;
    let tm = ((th * th + tv * tv) as f32) as f64 / 4096.0;
    ot >= 0.0 && ot * ot >= cos_sq * om * tm
}

/// Gain-limited restoration shared by both precisions: `rst` is the restored value,
/// replaced by min/max(rst * egl, t) when the angles agree. Truncation toward zero as C.
#[inline]
fn limit_gain(rst: i32, k: i64, o: i32, t: i32, angle: bool, egl: f64) -> i32 {
    if !angle || k == 0 || o == 0 {
        return rst;
    }
    let g = rst as f64 * egl;
    let tf = t as f64;
    let v = if o > 0 {
        if g < tf {
            g
        } else {
            tf
        }
    } else if g > tf {
        g
    } else {
        tf
    };
    v as i32
}

/// Scale 0: returns (restored, additive) with libvmaf's int16 storage.
#[inline]
fn restore_s0(o: i32, t: i32, angle: bool, egl: f64, div: &[i32]) -> (i32, i32) {
    let k = if o == 0 {
        32768
    } else {
        ((div[(o + 32768) as usize] as i64 * t as i64 + 16384) >> 15) as i32
    }
    .clamp(0, 32768);
    let rst = ((k * o + 16384) >> 15) as i16 as i32;
    let rst = limit_gain(rst, k as i64, o, t, angle, egl) as i16 as i32;
    (rst, (t - rst) as i16 as i32)
}

/// Scales 1..3: 32-bit bands; the reciprocal of |o| >= 2^15 is looked up from its top 15
/// bits with a matching extra shift.
#[inline]
fn restore_sn(o: i32, t: i32, angle: bool, egl: f64, div: &[i32]) -> (i32, i32) {
    let k: i64 = if o == 0 {
        32768
    } else {
        let abs = o.unsigned_abs();
        let (msb, shift) = if abs < 32768 {
            (abs, 0u32)
        } else {
            let sh = 17 - abs.leading_zeros();
            ((abs + (1 << (sh - 1))) >> sh, sh)
        };
        let sign: i64 = if o < 0 { -1 } else { 1 };
        let round = (1u32 << (14 + shift)) as i32 as i64;
        ((div[(msb + 32768) as usize] as i64 * t as i64) * sign + round) >> (15 + shift)
    }
    .clamp(0, 32768);
    let rst = ((k * o as i64 + 16384) >> 15) as i32;
    let rst = limit_gain(rst, k, o, t, angle, egl);
    (rst, t.wrapping_sub(rst))
}

/// Scale 0 CSF of an additive value: (masking filter |c| / 30, centre term |c| / 15).
#[inline]
fn mask_terms_s0(a: i32, theta: usize) -> (i32, i32) {
    let c = ((RF0[theta] * a + RF0_ROUND[theta]) >> RF0_SHIFT[theta]) as i16 as i32;
    let f = ((4369 * c.abs() + 2048) >> 12) as i16 as i32;
    let ctr = ((8738 * c.abs() + 2048) >> 12) as i16 as i32;
    (f, ctr)
}

/// Scales 1..3: libvmaf's rounding constant 1 << 31 is stored in an int32, so it
/// subtracts 2^31 instead of adding it.
#[inline]
fn mask_terms_sn(a: i32, rq: u32) -> (i32, i32) {
    let c = ((rq as i64 * a as i64 + (1 << 27)) >> 28) as i32;
    let ac = c.wrapping_abs() as i64;
    let f = ((143165577 * ac - (1i64 << 31)) >> 32) as i32;
    let ctr = ((286331153 * ac - (1i64 << 31)) >> 32) as i32;
    (f, ctr)
}

/// Scale-0 wavelet of an image plane.
fn dwt_image(p: &Plane, sc: &Scale, lo: &mut [i32], hi: &mut [i32], out: &mut Bands) {
    match p.samples {
        Samples::U8(d) => dwt_image_t(d, p.stride, p.bpc, sc, lo, hi, out),
        Samples::U16(d) => dwt_image_t(d, p.stride, p.bpc, sc, lo, hi, out),
    }
}

fn dwt_image_t<T: Copy + Into<i32>>(
    src: &[T],
    stride: usize,
    bpc: u32,
    sc: &Scale,
    lo: &mut [i32],
    hi: &mut [i32],
    out: &mut Bands,
) {
    let w = sc.w_in;
    let round = 1i32 << (bpc - 1);
    let centre = LO_SUM.wrapping_mul(round);
    for (i, rows) in sc.ind_y.iter().enumerate() {
        let r: [&[T]; 4] = rows.map(|y| &src[y * stride..y * stride + w]);
        for j in 0..w {
            let s: [i32; 4] = [
                r[0][j].into(),
                r[1][j].into(),
                r[2][j].into(),
                r[3][j].into(),
            ];
            let mut l = 0i32;
            let mut h = 0i32;
            for k in 0..4 {
                l = l.wrapping_add(LO[k].wrapping_mul(s[k]));
                h = h.wrapping_add(HI[k].wrapping_mul(s[k]));
            }
            lo[j] = (l.wrapping_sub(centre).wrapping_add(round) >> bpc) as i16 as i32;
            hi[j] = (h.wrapping_add(round) >> bpc) as i16 as i32;
        }
        let o = i * sc.w;
        for (j, c) in sc.ind_x.iter().enumerate() {
            let f = |t: &[i32], fl: &[i32; 4]| -> i32 {
                let acc = fl[0] * t[c[0]] + fl[1] * t[c[1]] + fl[2] * t[c[2]] + fl[3] * t[c[3]];
                ((acc + 32768) >> 16) as i16 as i32
            };
            out.a[o + j] = f(lo, &LO);
            out.v[o + j] = f(lo, &HI);
            out.h[o + j] = f(hi, &LO);
            out.d[o + j] = f(hi, &HI);
        }
    }
}

/// Wavelet of the previous scale's approximation band (scales 1..3, 64-bit accumulation).
fn dwt_band(src: &[i32], s: usize, sc: &Scale, lo: &mut [i32], hi: &mut [i32], out: &mut Bands) {
    let w = sc.w_in;
    let (add_v, sh_v) = [(0i64, 0u32), (32768, 16), (32768, 16)][s - 1];
    let (add_h, sh_h) = [(16384i64, 15u32), (32768, 16), (16384, 15)][s - 1];
    for (i, rows) in sc.ind_y.iter().enumerate() {
        let r: [&[i32]; 4] = rows.map(|y| &src[y * w..y * w + w]);
        for j in 0..w {
            let mut l = 0i64;
            let mut h = 0i64;
            for k in 0..4 {
                l += LO[k] as i64 * r[k][j] as i64;
                h += HI[k] as i64 * r[k][j] as i64;
            }
            lo[j] = ((l + add_v) >> sh_v) as i32;
            hi[j] = ((h + add_v) >> sh_v) as i32;
        }
        let o = i * sc.w;
        for (j, c) in sc.ind_x.iter().enumerate() {
            let f = |t: &[i32], fl: &[i32; 4]| -> i32 {
                let acc: i64 = (0..4).map(|k| fl[k] as i64 * t[c[k]] as i64).sum();
                ((acc + add_h) >> sh_h) as i32
            };
            out.a[o + j] = f(lo, &LO);
            out.v[o + j] = f(lo, &HI);
            out.h[o + j] = f(hi, &LO);
            out.d[o + j] = f(hi, &HI);
        }
    }
}

/// Pools the reference detail's CSF-weighted cubes into the scale's denominator.
fn den_finish(acc: [u64; 3], shift_csf: f64, rf: [f32; 2], area: usize) -> f32 {
    let noise = ((area as f64 * NOISE_WEIGHT) as f32).powf(1.0 / 3.0);
    let mut total = 0.0f32;
    for (k, &a) in acc.iter().enumerate() {
        let r = if k == 2 { rf[1] } else { rf[0] };
        let csf = (a as f64 / shift_csf) * (r as f64).powf(3.0);
        total += (csf as f32).powf(1.0 / 3.0) + noise;
    }
    total
}

fn den_scale0(rb: &Bands, sc: &Scale) -> f32 {
    let (w, h) = (sc.w, sc.h);
    let (left, right, top, bottom) = pool_region(w, h);
    let area = (bottom - top) * (right - left);
    let shift = ((area as f64).log2() - 20.0).ceil().max(0.0) as u32;
    let add = if shift > 0 { 1u64 << (shift - 1) } else { 0 };
    let mut acc = [0u64; 3];
    for i in top..bottom {
        let mut inner = [0u64; 3];
        for (k, band) in [&rb.h, &rb.v, &rb.d].iter().enumerate() {
            for &x in &band[i * w + left..i * w + right] {
                let a = x.unsigned_abs() as u16 as u64;
                inner[k] += a * a * a;
            }
        }
        for k in 0..3 {
            acc[k] += (inner[k] + add) >> shift;
        }
    }
    let shift_csf = 2.0f64.powf((18 - shift as i32) as f64);
    den_finish(acc, shift_csf, sc.rf, area)
}

fn den_scale_n(rb: &Bands, sc: &Scale, s: usize) -> f32 {
    let (w, h) = (sc.w, sc.h);
    let (left, right, top, bottom) = pool_region(w, h);
    // libvmaf rounds the square with 1 << shift rather than half of it.
    let sq: u32 = [31, 30, 31][s - 1];
    let conv: u32 = [32, 27, 23][s - 1];
    let shift_cub = ceil_log2(right - left);
    let add_cub = 1u64 << (shift_cub - 1);
    let shift_acc = ceil_log2(bottom - top);
    let add_acc = 1u64 << (shift_acc - 1);
    let mut acc = [0u64; 3];
    for i in top..bottom {
        let mut inner = [0u64; 3];
        for (k, band) in [&rb.h, &rb.v, &rb.d].iter().enumerate() {
            for &x in &band[i * w + left..i * w + right] {
                let a = x.unsigned_abs() as u64;
                inner[k] += ((((a * a) + (1u64 << sq)) >> sq) * a + add_cub) >> shift_cub;
            }
        }
        for k in 0..3 {
            acc[k] += (inner[k] + add_acc) >> shift_acc;
        }
    }
    let e = conv.wrapping_sub(shift_acc).wrapping_sub(shift_cub);
    den_finish(
        acc,
        2.0f64.powf(e as f64),
        sc.rf,
        (bottom - top) * (right - left),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_csf_weights_match_libvmaf_constants() {
        // libvmaf hard-codes scale-0 fixed-point weights close to (not exactly) these floats.
        let rf = [1.0f32 / dwt_quant_step(0, 1), 1.0f32 / dwt_quant_step(0, 2)];
        assert_eq!((rf[0] as f64 * 2f64.powi(21)) as u32, 36451);
        assert_eq!((rf[1] as f64 * 2f64.powi(23)) as u32, 49414);
    }

    #[test]
    fn tap_indices_mirror() {
        assert_eq!(
            tap_indices(5),
            vec![[1, 0, 1, 2], [1, 2, 3, 4], [3, 4, 4, 3]]
        );
        assert_eq!(tap_indices(6)[2], [3, 4, 5, 5]);
    }

    #[test]
    fn rejects_bad_config() {
        let o = IntegerAdmOptions::default();
        assert_eq!(
            IntegerAdm::new(32, 64, 8, o).err(),
            Some(AdmError::TooSmall(32, 64))
        );
        assert_eq!(
            IntegerAdm::new(64, 32, 8, o).err(),
            Some(AdmError::TooSmall(64, 32))
        );
        assert_eq!(
            IntegerAdm::new(64, 64, 17, o).err(),
            Some(AdmError::BitDepth(17))
        );
        let bad = IntegerAdmOptions {
            enhn_gain_limit: 0.5,
        };
        assert_eq!(
            IntegerAdm::new(64, 64, 8, bad).err(),
            Some(AdmError::GainLimit(0.5))
        );
    }

    fn pattern(w: usize, h: usize, seed: u32) -> Vec<u8> {
        let mut x = seed.wrapping_mul(2654435761).wrapping_add(1);
        (0..w * h)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let (c, r) = (i % w, i / w);
                ((c * 3 + r * 5) as u32 % 200 + (x % 40)) as u8
            })
            .collect()
    }

    #[test]
    fn odd_sizes_give_finite_scores() {
        for (w, h) in [(33, 33), (34, 35), (47, 33), (33, 71), (100, 37)] {
            let r = pattern(w, h, 1);
            let d = pattern(w, h, 2);
            let mut adm = IntegerAdm::new(w, h, 8, IntegerAdmOptions::default()).unwrap();
            let s = adm.compute(&Plane::new_u8(&r, w, h, w), &Plane::new_u8(&d, w, h, w));
            assert!(s.adm2.is_finite() && s.adm2 > 0.0, "{w}x{h}: {s:?}");
            assert!(s.scale.iter().all(|v| v.is_finite()), "{w}x{h}: {s:?}");
        }
    }

    #[test]
    fn identical_frames_score_about_one_and_depths_agree() {
        let (w, h) = (64, 48);
        let r = pattern(w, h, 7);
        let mut adm = IntegerAdm::new(w, h, 8, IntegerAdmOptions::default()).unwrap();
        let p = Plane::new_u8(&r, w, h, w);
        let s8 = adm.compute(&p, &p);
        assert!((s8.adm2 - 1.0).abs() < 0.01, "{s8:?}");
        // The same picture shifted to 10 bits goes through the same fixed-point pipeline.
        let r10: Vec<u16> = r.iter().map(|&v| (v as u16) << 2).collect();
        let mut adm10 = IntegerAdm::new(w, h, 10, IntegerAdmOptions::default()).unwrap();
        let p10 = Plane::new_u16(&r10, w, h, w, 10);
        assert_eq!(adm10.compute(&p10, &p10), s8);
    }

    #[test]
    fn strided_input_matches_packed() {
        let (w, h, stride) = (40, 36, 48);
        let r = pattern(w, h, 3);
        let d = pattern(w, h, 4);
        let pad = |v: &[u8]| {
            let mut o = vec![0u8; stride * h];
            for y in 0..h {
                o[y * stride..y * stride + w].copy_from_slice(&v[y * w..(y + 1) * w]);
            }
            o
        };
        let (rp, dp) = (pad(&r), pad(&d));
        let mut adm = IntegerAdm::new(w, h, 8, IntegerAdmOptions::default()).unwrap();
        let a = adm.compute(&Plane::new_u8(&r, w, h, w), &Plane::new_u8(&d, w, h, w));
        let b = adm.compute(
            &Plane::new_u8(&rp, w, h, stride),
            &Plane::new_u8(&dp, w, h, stride),
        );
        assert_eq!(a, b);
    }
}
