//! libvmaf's floating-point ADM (`float_adm`): `adm2` and `adm_scale0..3` of the
//! `vmaf_float_*` models.
//!
//! Follows libvmaf's C path (`float_adm.c`, `adm.c`, `adm_tools.c`) step by step in the same
//! `f32`/`f64` types: a 4-level Daubechies-2 DWT with half-sample mirroring, the
//! decoupling of the distorted detail bands into a restored part and an additive part
//! (with the 1-degree angle test and the enhancement gain limit), Watson's CSF weights,
//! contrast masking from a 3x3 neighbourhood, and cube-root pooling over the frame minus
//! a 10% border. Two libvmaf details matter for exact agreement: on x86-64 the division in
//! the decoupling is a hardware reciprocal estimate refined by one Newton step, and a few
//! products mix a `double` constant into `float` sums.
//!
//! Only the options the VMAF float models use are exposed (the enhancement gain limit);
//! everything else is libvmaf's default (viewing distance 3, display height 1080, Watson
//! CSF, noise weight 0.03125, p-norm 3, no CM bypass, scale 0 not skipped). The AIM/adm3
//! outputs are not computed.

use super::vif_float::{
    assert_format, check_bpc, check_size, has_avx2, load_plane, FloatFeatureError,
};
use lv_image::plane::Plane;

/// Smallest width and height accepted: the coarsest DWT level must be at least 2x2 for
/// libvmaf's mirrored 3x3 masking neighbourhood to stay inside it.
pub const MIN_SIZE: usize = 17;

const BORDER_FACTOR: f64 = 0.1;
const NOISE_WEIGHT: f64 = 0.03125;
const NORM_VIEW_DIST: f64 = 3.0;
const REF_DISPLAY_HEIGHT: f64 = 1080.0;
/// libvmaf's `FLOAT_ONE_BY_30` / `FLOAT_ONE_BY_15`, double literals used in float context.
const ONE_BY_30: f64 = 0.0333333351;
const ONE_BY_15: f64 = 0.0666666701;

#[allow(clippy::excessive_precision)] // spelled as in libvmaf
const DB2_LO: [f32; 4] = [
    0.482962913144690,
    0.836516303737469,
    0.224143868041857,
    -0.129409522550921,
];
#[allow(clippy::excessive_precision)]
const DB2_HI: [f32; 4] = [
    -0.129409522550921,
    -0.224143868041857,
    0.836516303737469,
    -0.482962913144690,
];

/// Options of [`FloatAdm`] (libvmaf option names in the docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FloatAdmOptions {
    /// `adm_enhn_gain_limit`, 1.0..=100.0; 100.0 by default, 1.0 in the "neg" models.
    pub enhn_gain_limit: f64,
}

impl Default for FloatAdmOptions {
    fn default() -> Self {
        FloatAdmOptions {
            enhn_gain_limit: 100.0,
        }
    }
}

/// One frame's ADM scores as libvmaf logs them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FloatAdmScores {
    /// `adm2`: sum of the scale numerators over the sum of the denominators.
    pub adm2: f64,
    /// `adm_scale0..3`: per-scale numerator over denominator.
    pub scale: [f64; 4],
    /// Per-scale numerators (`adm_num_scaleN`).
    pub num: [f32; 4],
    /// Per-scale denominators (`adm_den_scaleN`).
    pub den: [f32; 4],
}

/// Watson et al.'s DWT quantisation step for luma, in libvmaf's float/double mix.
fn dwt_quant_step(lambda: usize, theta: usize) -> f32 {
    const A: f32 = 0.495;
    const K: f32 = 0.466;
    const F0: f32 = 0.401;
    const G: [f32; 4] = [1.501, 1.0, 0.534, 1.0];
    const AMP: [[f32; 4]; 6] = [
        [0.62171, 0.67234, 0.72709, 0.67234],
        [0.34537, 0.41317, 0.49428, 0.41317],
        [0.18004, 0.22727, 0.28688, 0.22727],
        [0.091401, 0.11792, 0.15214, 0.11792],
        [0.045943, 0.059758, 0.077727, 0.059758],
        [0.023013, 0.030018, 0.039156, 0.030018],
    ];
    let r = (NORM_VIEW_DIST * REF_DISPLAY_HEIGHT * std::f64::consts::PI / 180.0) as f32;
    let temp =
        (2f64.powi(lambda as i32 + 1) * F0 as f64 * G[theta] as f64 / r as f64).log10() as f32;
    (2.0 * A as f64 * 10f64.powf((K * temp * temp) as f64) / AMP[lambda][theta] as f64) as f32
}

/// `n / d` as libvmaf computes it on x86-64: SSE reciprocal estimate plus one Newton step.
#[inline(always)]
fn divs(n: f32, d: f32) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_cvtss_f32, _mm_rcp_ss, _mm_set_ss};
        // SAFETY: SSE is part of the x86-64 baseline.
        let xi = unsafe { _mm_cvtss_f32(_mm_rcp_ss(_mm_set_ss(d))) };
        n * (xi + xi * (1.0 - d * xi))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        n / d
    }
}

/// Half-sample symmetric index (`-1 -> 1`, `n -> n-1`) used by the DWT.
#[inline(always)]
fn dwt_mirror(k: isize, n: usize) -> usize {
    let n = n as isize;
    (if k < 0 {
        -k
    } else if k >= n {
        2 * n - k - 1
    } else {
        k
    }) as usize
}

/// The neighbour index map of the masking filter: mirrored at the start, replicated at
/// the end (as libvmaf's hand-written edge cases do).
#[inline(always)]
fn cm_map(k: isize, n: usize) -> usize {
    if k < 0 {
        (-k) as usize
    } else if k as usize >= n {
        n - 1
    } else {
        k as usize
    }
}

/// `(int)(n * factor - 0.5 - extra)` as C truncates it.
#[inline(always)]
fn border(n: usize, extra: f64) -> isize {
    (n as f64 * BORDER_FACTOR - 0.5 - extra) as isize
}

/// The four DWT sub-bands of one level, packed with stride = band width.
struct Bands {
    a: Vec<f32>,
    h: Vec<f32>,
    v: Vec<f32>,
    d: Vec<f32>,
}

impl Bands {
    fn new(n: usize) -> Self {
        Bands {
            a: vec![0.0; n],
            h: vec![0.0; n],
            v: vec![0.0; n],
            d: vec![0.0; n],
        }
    }
}

/// Row scratch for the DWT.
struct DwtRows {
    lo: Vec<f32>,
    hi: Vec<f32>,
    /// Even/odd taps of `lo` and `hi`: `even[m] = row[2m]`, `odd[m] = row[2m-1]`, mirrored.
    lo_even: Vec<f32>,
    lo_odd: Vec<f32>,
    hi_even: Vec<f32>,
    hi_odd: Vec<f32>,
}

/// libvmaf's float ADM for one frame size and bit depth.
pub struct FloatAdm {
    width: usize,
    height: usize,
    bpc: u32,
    gain_limit: f64,
    /// CSF weight of the h, v and d bands per scale.
    rfactor: [[f32; 3]; 4],
    ref_img: Vec<f32>,
    dis_img: Vec<f32>,
    /// DWT outputs, alternating between scales so a level can read its parent's `a` band.
    ref_bands: [Bands; 2],
    dis_bands: [Bands; 2],
    /// Restored detail bands (h, v, d).
    rest: [Vec<f32>; 3],
    /// CSF-weighted additive impairment (h, v, d).
    csf_a: [Vec<f32>; 3],
    /// Its masking contribution `|csf_a| / 30`.
    csf_f: [Vec<f32>; 3],
    rows: DwtRows,
    cubes: [Vec<f32>; 3],
    /// Tests set this to check the portable path against the AVX2 one.
    scalar_only: bool,
}

impl FloatAdm {
    /// Creates the extractor; frames must be at least [`MIN_SIZE`] in both directions.
    pub fn new(
        width: usize,
        height: usize,
        bpc: u32,
        opts: FloatAdmOptions,
    ) -> Result<Self, FloatFeatureError> {
        check_size("float_adm", width, height, MIN_SIZE)?;
        check_bpc(bpc)?;
        let egl = opts.enhn_gain_limit;
        if !(1.0..=100.0).contains(&egl) {
            return Err(FloatFeatureError::Option {
                feature: "float_adm",
                option: "adm_enhn_gain_limit",
                value: egl,
                min: 1.0,
                max: 100.0,
            });
        }
        let mut rfactor = [[0f32; 3]; 4];
        for (s, rf) in rfactor.iter_mut().enumerate() {
            let f1 = 1.0f32 / dwt_quant_step(s, 1);
            let f2 = 1.0f32 / dwt_quant_step(s, 2);
            *rf = [f1, f1, f2];
        }
        let (bw, bh) = (width.div_ceil(2), height.div_ceil(2));
        let n = bw * bh;
        let band = || vec![0f32; n];
        Ok(FloatAdm {
            width,
            height,
            bpc,
            gain_limit: egl,
            rfactor,
            ref_img: vec![0.0; width * height],
            dis_img: vec![0.0; width * height],
            ref_bands: [Bands::new(n), Bands::new(n)],
            dis_bands: [Bands::new(n), Bands::new(n)],
            rest: [band(), band(), band()],
            csf_a: [band(), band(), band()],
            csf_f: [band(), band(), band()],
            rows: DwtRows {
                lo: vec![0.0; width],
                hi: vec![0.0; width],
                lo_even: vec![0.0; bw + 1],
                lo_odd: vec![0.0; bw + 1],
                hi_even: vec![0.0; bw + 1],
                hi_odd: vec![0.0; bw + 1],
            },
            scalar_only: false,
            cubes: [vec![0.0; bw], vec![0.0; bw], vec![0.0; bw]],
        })
    }

    /// Scores one frame pair (luma planes of the configured size).
    pub fn compute(&mut self, reference: &Plane, distorted: &Plane) -> FloatAdmScores {
        for p in [reference, distorted] {
            assert_format(p, (self.width, self.height, self.bpc), "the extractor");
        }
        load_plane(reference, &mut self.ref_img);
        load_plane(distorted, &mut self.dis_img);
        let avx2 = has_avx2() && !self.scalar_only;
        let mut out = FloatAdmScores::default();
        let (mut w, mut h) = (self.width, self.height);
        for s in 0..4 {
            #[cfg(target_arch = "x86_64")]
            let (num, den) = if avx2 {
                // SAFETY: the CPU reports AVX2.
                unsafe { self.scale_avx2(s, w, h) }
            } else {
                self.scale(s, w, h)
            };
            #[cfg(not(target_arch = "x86_64"))]
            let (num, den) = {
                let _ = avx2;
                self.scale(s, w, h)
            };
            out.num[s] = num;
            out.den[s] = den;
            out.scale[s] = num as f64 / den as f64;
            w = w.div_ceil(2);
            h = h.div_ceil(2);
        }
        let limit = 1e-10 * (self.width * self.height) as f64 / (1920.0 * 1080.0);
        let num = out.num.iter().fold(0.0, |a, &v| a + v as f64);
        let den = out.den.iter().fold(0.0, |a, &v| a + v as f64);
        let num = if num < limit { 0.0 } else { num };
        let den = if den < limit { 0.0 } else { den };
        out.adm2 = if den == 0.0 { 1.0 } else { num / den };
        out
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn scale_avx2(&mut self, s: usize, w: usize, h: usize) -> (f32, f32) {
        self.scale(s, w, h)
    }

    /// One DWT level of `w`x`h` input: returns (numerator, denominator) of scale `s`.
    #[inline(always)]
    fn scale(&mut self, s: usize, w: usize, h: usize) -> (f32, f32) {
        let (bw, bh) = (w.div_ceil(2), h.div_ceil(2));
        let cur = s % 2;
        {
            let (rb0, rb1) = self.ref_bands.split_at_mut(1);
            let (db0, db1) = self.dis_bands.split_at_mut(1);
            let (ref_src, ref_dst, dis_src, dis_dst): (&[f32], &mut Bands, &[f32], &mut Bands) =
                match (s, cur) {
                    (0, _) => (&self.ref_img, &mut rb0[0], &self.dis_img, &mut db0[0]),
                    (_, 0) => (&rb1[0].a, &mut rb0[0], &db1[0].a, &mut db0[0]),
                    _ => (&rb0[0].a, &mut rb1[0], &db0[0].a, &mut db1[0]),
                };
            dwt2(ref_src, w, h, ref_dst, &mut self.rows);
            dwt2(dis_src, w, h, dis_dst, &mut self.rows);
        }
        let rf = self.rfactor[s];
        self.decouple(cur, bw, bh, rf);
        let den = self.den_scale(cur, bw, bh, rf);
        let num = self.contrast_masking(bw, bh, rf);
        (num, den)
    }

    /// Splits the distorted detail bands into restored and additive parts, and applies the
    /// CSF to the additive part, over the pooling region plus one sample for the filter.
    #[inline(always)]
    fn decouple(&mut self, cur: usize, w: usize, h: usize, rf: [f32; 3]) {
        let cos_1deg_sq = ((1.0f64 * std::f64::consts::PI / 180.0).cos()
            * (1.0f64 * std::f64::consts::PI / 180.0).cos()) as f32;
        let eps = 1e-30f32;
        let lim = self.gain_limit;
        let left = border(w, 1.0);
        let top = border(h, 1.0);
        let right = (w as isize - left + 2).min(w as isize) as usize;
        let bottom = (h as isize - top + 2).min(h as isize) as usize;
        let (left, top) = (left.max(0) as usize, top.max(0) as usize);
        let rb = &self.ref_bands[cur];
        let db = &self.dis_bands[cur];
        let [rh, rv, rd] = &mut self.rest;
        let [ah, av, ad] = &mut self.csf_a;
        let [fh, fv, fd] = &mut self.csf_f;
        let restrict = |rst: f32, t: f32, angle: bool| -> f32 {
            let mut rst = rst;
            if angle && rst > 0.0 {
                let a = rst as f64 * lim;
                rst = (if a < t as f64 { a } else { t as f64 }) as f32;
            }
            if angle && rst < 0.0 {
                let a = rst as f64 * lim;
                rst = (if a > t as f64 { a } else { t as f64 }) as f32;
            }
            rst
        };
        // Same as libvmaf's nested ternary for every input, NaN and -0.0 included.
        let clamp01 = |k: f32| k.clamp(0.0, 1.0);
        for i in top..bottom {
            for j in left..right {
                let x = i * w + j;
                let (oh, ov, od) = (rb.h[x], rb.v[x], rb.d[x]);
                let (th, tv, td) = (db.h[x], db.v[x], db.d[x]);
                let kh = clamp01(divs(th, oh + eps));
                let kv = clamp01(divs(tv, ov + eps));
                let kd = clamp01(divs(td, od + eps));
                let ot_dp = oh * th + ov * tv;
                let o_mag_sq = oh * oh + ov * ov;
                let t_mag_sq = th * th + tv * tv;
                let angle = ot_dp >= 0.0 && ot_dp * ot_dp >= cos_1deg_sq * o_mag_sq * t_mag_sq;
                let r_h = restrict(kh * oh, th, angle);
                let r_v = restrict(kv * ov, tv, angle);
                let r_d = restrict(kd * od, td, angle);
                rh[x] = r_h;
                rv[x] = r_v;
                rd[x] = r_d;
                let (ch, cv, cd) = (rf[0] * (th - r_h), rf[1] * (tv - r_v), rf[2] * (td - r_d));
                ah[x] = ch;
                av[x] = cv;
                ad[x] = cd;
                fh[x] = (ONE_BY_30 * ch.abs() as f64) as f32;
                fv[x] = (ONE_BY_30 * cv.abs() as f64) as f32;
                fd[x] = (ONE_BY_30 * cd.abs() as f64) as f32;
            }
        }
    }

    /// The denominator: cube-root pooled CSF-weighted reference detail plus the noise floor.
    #[inline(always)]
    fn den_scale(&self, cur: usize, w: usize, h: usize, rf: [f32; 3]) -> f32 {
        let b = &self.ref_bands[cur];
        let left = border(w, 0.0) as usize;
        let top = border(h, 0.0) as usize;
        let (right, bottom) = (w - left, h - top);
        let mut acc = [0f32; 3];
        for i in top..bottom {
            let mut inner = [0f32; 3];
            for (t, band) in [&b.h, &b.v, &b.d].into_iter().enumerate() {
                for &s in &band[i * w + left..i * w + right] {
                    let v = (rf[t] * s).abs();
                    inner[t] += v * v * v;
                }
            }
            for t in 0..3 {
                acc[t] += inner[t];
            }
        }
        pool(acc, right - left, bottom - top)
    }

    /// The numerator: restored detail, CSF-weighted, minus the masking threshold set by the
    /// additive impairment around each sample, cube-root pooled plus the noise floor.
    #[inline(always)]
    fn contrast_masking(&mut self, w: usize, h: usize, rf: [f32; 3]) -> f32 {
        let left = border(w, 0.0);
        let top = border(h, 0.0);
        let right = w as isize - left;
        let bottom = h as isize - top;
        let start_col = left.max(1) as usize;
        let end_col = right.min(w as isize - 1) as usize;
        let start_row = top.max(1) as usize;
        let end_row = bottom.min(h as isize - 1) as usize;
        let first_col = left <= 0;
        let last_col = right > w as isize - 1;

        let bands = Masking {
            src: [&self.rest[0][..], &self.rest[1][..], &self.rest[2][..]],
            csf: [&self.csf_a[0][..], &self.csf_a[1][..], &self.csf_a[2][..]],
            flt: [&self.csf_f[0][..], &self.csf_f[1][..], &self.csf_f[2][..]],
            rf,
            w,
        };
        let [ch, cv, cd] = &mut self.cubes;
        let mut acc = [0f32; 3];

        // One row of libvmaf's loop: optional mirrored first column, the interior, optional
        // last column, summed in that order into a per-row partial.
        let mut row = |i: usize, acc: &mut [f32; 3]| {
            let ra = cm_map(i as isize - 1, h);
            let rb = cm_map(i as isize + 1, h);
            let mut inner = [0f32; 3];
            if first_col {
                let c = masked_cubes(bands, [ra, i, rb], [1, 0, cm_map(1, w)]);
                for t in 0..3 {
                    inner[t] += c[t];
                }
            }
            if start_col < end_col {
                interior_cubes(
                    bands,
                    [ra, i, rb],
                    start_col,
                    end_col,
                    [&mut *ch, &mut *cv, &mut *cd],
                );
                for j in start_col..end_col {
                    inner[0] += ch[j];
                    inner[1] += cv[j];
                    inner[2] += cd[j];
                }
            }
            if last_col {
                let c = masked_cubes(bands, [ra, i, rb], [w - 2, w - 1, w - 1]);
                for t in 0..3 {
                    inner[t] += c[t];
                }
            }
            for t in 0..3 {
                acc[t] += inner[t];
            }
        };
        if top <= 0 {
            row(0, &mut acc);
        }
        for i in start_row..end_row {
            row(i, &mut acc);
        }
        if bottom > h as isize - 1 {
            row(h - 1, &mut acc);
        }
        pool(acc, (right - left) as usize, (bottom - top) as usize)
    }
}

/// `sum_t (accum_t^(1/3) + (w*h*noise_weight)^(1/3))`, in libvmaf's float order.
#[inline(always)]
fn pool(acc: [f32; 3], w: usize, h: usize) -> f32 {
    let third = (1.0f64 / 3.0) as f32;
    let noise = (((w * h) as f64 * NOISE_WEIGHT) as f32).powf(third);
    let s = [
        acc[0].powf(third) + noise,
        acc[1].powf(third) + noise,
        acc[2].powf(third) + noise,
    ];
    s[0] + s[1] + s[2]
}

/// One scale's three detail bands (h, v, d) as the contrast masking reads them: the restored
/// detail, its CSF-weighted copy, the filtered CSF-weighted impairment, the bands' CSF
/// factors, and the row length.
#[derive(Clone, Copy)]
struct Masking<'a> {
    src: [&'a [f32]; 3],
    csf: [&'a [f32]; 3],
    flt: [&'a [f32]; 3],
    rf: [f32; 3],
    w: usize,
}

/// The masking threshold at (rows[1], cols[1]) from the 3x3 neighbourhood given by the
/// (already mapped) row and column indices, then the three cubed masked values.
#[inline(always)]
fn masked_cubes(bands: Masking, rows: [usize; 3], cols: [usize; 3]) -> [f32; 3] {
    let [ra, ri, rb] = rows.map(|r| r * bands.w);
    let [ca, cj, cb] = cols;
    let mut thr = 0f32;
    for t in 0..3 {
        let f = bands.flt[t];
        let mut sum = 0f32;
        sum += f[ra + ca];
        sum += f[ra + cj];
        sum += f[ra + cb];
        sum += f[ri + ca];
        sum = (sum as f64 + ONE_BY_15 * bands.csf[t][ri + cj].abs() as f64) as f32;
        sum += f[ri + cb];
        sum += f[rb + ca];
        sum += f[rb + cj];
        sum += f[rb + cb];
        thr += sum;
    }
    let mut out = [0f32; 3];
    // `t` indexes three band arrays at once; an iterator over one of them reads worse.
    #[allow(clippy::needless_range_loop)]
    for t in 0..3 {
        let x = (bands.src[t][ri + cj] * bands.rf[t]).abs() - thr;
        let x = if x < 0.0 { 0.0 } else { x };
        out[t] = x * x * x;
    }
    out
}

/// `masked_cubes` for columns `j0..j1` (all with both neighbours inside the band),
/// written per column into `out`, laid out for vectorisation.
#[inline(always)]
fn interior_cubes(bands: Masking, rows: [usize; 3], j0: usize, j1: usize, out: [&mut Vec<f32>; 3]) {
    let [ra, ri, rb] = rows.map(|r| r * bands.w);
    let n = j1 - j0;
    let fr = |t: usize, r: usize, d: usize| &bands.flt[t][r + j0 - 1 + d..r + j0 - 1 + d + n];
    // Each band's 8 neighbours of the sample: the row above, left and right, the row below.
    let around = |t: usize| {
        [
            fr(t, ra, 0),
            fr(t, ra, 1),
            fr(t, ra, 2),
            fr(t, ri, 0),
            fr(t, ri, 2),
            fr(t, rb, 0),
            fr(t, rb, 1),
            fr(t, rb, 2),
        ]
    };
    let [f0a, f0b, f0c, f0d, f0e, f0f, f0g, f0h] = around(0);
    let [f1a, f1b, f1c, f1d, f1e, f1f, f1g, f1h] = around(1);
    let [f2a, f2b, f2c, f2d, f2e, f2f, f2g, f2h] = around(2);
    let c0 = &bands.csf[0][ri + j0..ri + j0 + n];
    let c1 = &bands.csf[1][ri + j0..ri + j0 + n];
    let c2 = &bands.csf[2][ri + j0..ri + j0 + n];
    let s0 = &bands.src[0][ri + j0..ri + j0 + n];
    let s1 = &bands.src[1][ri + j0..ri + j0 + n];
    let s2 = &bands.src[2][ri + j0..ri + j0 + n];
    let [o0, o1, o2] = out;
    let (o0, o1, o2) = (&mut o0[j0..j1], &mut o1[j0..j1], &mut o2[j0..j1]);
    // The nine samples of a 3x3 neighbourhood, in libvmaf's summation order (float results
    // depend on it), passed as values so the vectorized loop keeps them in registers.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn theta_sum(
        a: f32,
        b: f32,
        c: f32,
        d: f32,
        center: f32,
        e: f32,
        f: f32,
        g: f32,
        h: f32,
    ) -> f32 {
        let mut sum = a + b;
        sum += c;
        sum += d;
        sum = (sum as f64 + ONE_BY_15 * center.abs() as f64) as f32;
        sum += e;
        sum += f;
        sum += g;
        sum + h
    }
    for k in 0..n {
        let mut thr = theta_sum(
            f0a[k], f0b[k], f0c[k], f0d[k], c0[k], f0e[k], f0f[k], f0g[k], f0h[k],
        );
        thr += theta_sum(
            f1a[k], f1b[k], f1c[k], f1d[k], c1[k], f1e[k], f1f[k], f1g[k], f1h[k],
        );
        thr += theta_sum(
            f2a[k], f2b[k], f2c[k], f2d[k], c2[k], f2e[k], f2f[k], f2g[k], f2h[k],
        );
        let cube = |s: f32, r: f32| {
            let x = (s * r).abs() - thr;
            let x = if x < 0.0 { 0.0 } else { x };
            x * x * x
        };
        o0[k] = cube(s0[k], bands.rf[0]);
        o1[k] = cube(s1[k], bands.rf[1]);
        o2[k] = cube(s2[k], bands.rf[2]);
    }
}

/// One level of the Daubechies-2 DWT of a packed `w`x`h` image into `out` (stride
/// `ceil(w/2)`), with libvmaf's tap order and half-sample mirroring.
#[inline(always)]
fn dwt2(src: &[f32], w: usize, h: usize, out: &mut Bands, rows: &mut DwtRows) {
    let (bw, bh) = (w.div_ceil(2), h.div_ceil(2));
    let tap4 = |f: &[f32; 4], s0: f32, s1: f32, s2: f32, s3: f32| {
        let mut acc = f[0] * s0;
        acc += f[1] * s1;
        acc += f[2] * s2;
        acc + f[3] * s3
    };
    for i in 0..bh {
        let y = [
            dwt_mirror(2 * i as isize - 1, h),
            dwt_mirror(2 * i as isize, h),
            dwt_mirror(2 * i as isize + 1, h),
            dwt_mirror(2 * i as isize + 2, h),
        ];
        let r0 = &src[y[0] * w..y[0] * w + w];
        let r1 = &src[y[1] * w..y[1] * w + w];
        let r2 = &src[y[2] * w..y[2] * w + w];
        let r3 = &src[y[3] * w..y[3] * w + w];
        let (lo, hi) = (&mut rows.lo[..w], &mut rows.hi[..w]);
        for j in 0..w {
            lo[j] = tap4(&DB2_LO, r0[j], r1[j], r2[j], r3[j]);
            hi[j] = tap4(&DB2_HI, r0[j], r1[j], r2[j], r3[j]);
        }
        for m in 0..=bw {
            let e = dwt_mirror(2 * m as isize, w);
            let o = dwt_mirror(2 * m as isize - 1, w);
            rows.lo_even[m] = lo[e];
            rows.lo_odd[m] = lo[o];
            rows.hi_even[m] = hi[e];
            rows.hi_odd[m] = hi[o];
        }
        let (le, lod, he, hod) = (
            &rows.lo_even[..=bw],
            &rows.lo_odd[..=bw],
            &rows.hi_even[..=bw],
            &rows.hi_odd[..=bw],
        );
        let o = i * bw;
        let (a, v) = (&mut out.a[o..o + bw], &mut out.v[o..o + bw]);
        let (hh, d) = (&mut out.h[o..o + bw], &mut out.d[o..o + bw]);
        for j in 0..bw {
            let (s0, s1, s2, s3) = (lod[j], le[j], lod[j + 1], le[j + 1]);
            a[j] = tap4(&DB2_LO, s0, s1, s2, s3);
            v[j] = tap4(&DB2_HI, s0, s1, s2, s3);
            let (s0, s1, s2, s3) = (hod[j], he[j], hod[j + 1], he[j + 1]);
            hh[j] = tap4(&DB2_LO, s0, s1, s2, s3);
            d[j] = tap4(&DB2_HI, s0, s1, s2, s3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plane(data: &[u8], w: usize, h: usize) -> Plane<'_> {
        Plane::new_u8(data, w, h, w)
    }

    #[test]
    fn identical_frames_score_one() {
        let (w, h) = (64, 48);
        let data: Vec<u8> = (0..w * h)
            .map(|i| ((i * 37 + (i / w) * 11) % 251) as u8)
            .collect();
        let mut adm = FloatAdm::new(w, h, 8, FloatAdmOptions::default()).unwrap();
        let s = adm.compute(&plane(&data, w, h), &plane(&data, w, h));
        assert!((s.adm2 - 1.0).abs() < 1e-6, "{s:?}");
        for v in s.scale {
            assert!((v - 1.0).abs() < 1e-6, "{s:?}");
        }
    }

    #[test]
    fn csf_weights_are_watsons() {
        // The per-scale weights libvmaf's own tests spell out (adm_f1sN / adm_f2sN).
        let expect = [
            (0.0173815, 0.00589069),
            (0.0319848, 0.0142991),
            (0.0433727, 0.0243969),
            (0.0456734, 0.0313127),
        ];
        for (s, (f1, f2)) in expect.into_iter().enumerate() {
            assert!((1.0 / dwt_quant_step(s, 1) - f1).abs() < 1e-7);
            assert!((1.0 / dwt_quant_step(s, 2) - f2).abs() < 5e-8);
        }
    }

    #[test]
    fn odd_sizes_and_minimum() {
        assert!(matches!(
            FloatAdm::new(16, 40, 8, FloatAdmOptions::default()),
            Err(FloatFeatureError::TooSmall { .. })
        ));
        assert!(FloatAdm::new(
            32,
            32,
            8,
            FloatAdmOptions {
                enhn_gain_limit: 101.0
            }
        )
        .is_err());
        for (w, h) in [(17, 17), (33, 17), (17, 33), (37, 21), (99, 45)] {
            let a: Vec<u8> = (0..w * h).map(|i| (i * 7 % 256) as u8).collect();
            let b: Vec<u8> = a.iter().map(|&v| v.saturating_add(3) / 2).collect();
            let mut adm = FloatAdm::new(w, h, 8, FloatAdmOptions::default()).unwrap();
            let s = adm.compute(&plane(&a, w, h), &plane(&b, w, h));
            assert!(
                s.adm2.is_finite() && s.scale.iter().all(|v| v.is_finite()),
                "{w}x{h}: {s:?}"
            );
        }
    }

    #[test]
    fn portable_path_matches_avx2_path() {
        let (w, h) = (203, 67);
        let (a, b) = crate::vif_float::tests::test_pair(w, h);
        let mut fast = FloatAdm::new(w, h, 8, FloatAdmOptions::default()).unwrap();
        let mut slow = FloatAdm::new(w, h, 8, FloatAdmOptions::default()).unwrap();
        slow.scalar_only = true;
        assert_eq!(
            fast.compute(&plane(&a, w, h), &plane(&b, w, h)),
            slow.compute(&plane(&a, w, h), &plane(&b, w, h))
        );
    }
}
