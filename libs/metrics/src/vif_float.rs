//! libvmaf's floating-point VIF (`float_vif`): the four `vif_scale0..3` scores of the
//! `vmaf_float_*` models.
//!
//! The arithmetic follows libvmaf's C path (`float_vif.c`, `vif.c`, `vif_tools.c`) operation
//! by operation, in the same `f32`/`f64` types, so per-frame scores agree with libvmaf to
//! the last printed digit. In particular:
//!
//! * pixels become `f32` with an offset of -128 after dividing high bit depths down to the
//!   8-bit range (libvmaf's `picture_copy`);
//! * the Gaussian filters are built at run time the way `vif_get_filter` builds them;
//! * filtering is separable, vertical then horizontal, each tap accumulated in order with
//!   a separate multiply and add (libvmaf is built as ISO C11, so no FMA contraction), and
//!   borders are mirrored without repeating the edge sample;
//! * the statistic uses libvmaf's polynomial `log2f` approximation and the exact mix of
//!   `f32` and `f64` operations of `vif_statistic_s`, with per-row `f32` partial sums.
//!
//! Only the default options other than the enhancement gain limit are implemented
//! (kernel scale 1.0, no prescaling, `vif_sigma_nsq` 2.0, scale 0 not skipped).
//!
//! The helpers for pixel conversion and mirrored separable filtering are shared with the
//! float motion feature, as in libvmaf.

use lv_image::plane::{Plane, Samples};

/// Smallest width and height accepted: scale 3 works on a 1/8-size image that must be at
/// least 2 samples across for its 3-tap filter to mirror inside the image (libvmaf reads
/// out of bounds below this).
pub const MIN_SIZE: usize = 16;

/// libvmaf's neural-noise variance (`vif_sigma_nsq` default).
const SIGMA_NSQ: f64 = 2.0;
const EPS: f32 = 1.0e-10;

/// Errors from creating a float feature extractor.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FloatFeatureError {
    #[error("{feature}: frame {width}x{height} is below the minimum {min}x{min}")]
    TooSmall {
        feature: &'static str,
        width: usize,
        height: usize,
        min: usize,
    },
    #[error("unsupported bit depth {0} (8..=16 supported)")]
    BitDepth(u32),
    #[error("{feature}: option {option} = {value} outside [{min}, {max}]")]
    Option {
        feature: &'static str,
        option: &'static str,
        value: f64,
        min: f64,
        max: f64,
    },
}

pub(crate) fn check_size(
    feature: &'static str,
    w: usize,
    h: usize,
    min: usize,
) -> Result<(), FloatFeatureError> {
    if w < min || h < min {
        return Err(FloatFeatureError::TooSmall {
            feature,
            width: w,
            height: h,
            min,
        });
    }
    Ok(())
}

/// Panics unless `p` has the size and bit depth `owner` was made for: a caller's bug, not bad
/// data, so not an error value.
pub(crate) fn assert_format(p: &Plane, (width, height, bpc): (usize, usize, u32), owner: &str) {
    assert!(
        p.width == width && p.height == height && p.bpc == bpc,
        "plane {}x{} {}-bit does not match {owner}'s {width}x{height} {bpc}-bit",
        p.width,
        p.height,
        p.bpc,
    );
}

pub(crate) fn check_bpc(bpc: u32) -> Result<(), FloatFeatureError> {
    if (8..=16).contains(&bpc) {
        Ok(())
    } else {
        Err(FloatFeatureError::BitDepth(bpc))
    }
}

/// Options of [`FloatVif`] (libvmaf option names in the docs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FloatVifOptions {
    /// `vif_enhn_gain_limit`, 1.0..=100.0; 100.0 by default, 1.0 in the "neg" models.
    pub enhn_gain_limit: f64,
}

impl Default for FloatVifOptions {
    fn default() -> Self {
        FloatVifOptions {
            enhn_gain_limit: 100.0,
        }
    }
}

/// Converts a plane to `f32` the way libvmaf's `picture_copy` does for the float features:
/// `sample / 2^(bpc-8) - 128`. libvmaf itself only handles 8, 10, 12 and 16 bits
/// correctly; other depths use the same power-of-two scaling here.
pub(crate) fn load_plane(p: &Plane, dst: &mut [f32]) {
    let w = p.width;
    let scaler = (1u32 << (p.bpc.max(8) - 8)) as f32;
    for y in 0..p.height {
        let out = &mut dst[y * w..(y + 1) * w];
        let o = y * p.stride;
        match p.samples {
            Samples::U8(d) => {
                for (o, &s) in out.iter_mut().zip(&d[o..o + w]) {
                    *o = s as f32 - 128.0;
                }
            }
            Samples::U16(d) => {
                for (o, &s) in out.iter_mut().zip(&d[o..o + w]) {
                    *o = s as f32 / scaler - 128.0;
                }
            }
        }
    }
}

/// Reflects an index into `0..n` without repeating the edge sample (`-1 -> 1`, `n -> n-2`);
/// valid for overshoots smaller than `n`.
#[inline(always)]
pub(crate) fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    (if i < 0 {
        -i
    } else if i >= n {
        2 * n - i - 2
    } else {
        i
    }) as usize
}

/// Fills `pad` (length `src.len() + 2*radius`) with `src` and its mirrored borders, so a
/// horizontal tap `k` of output `j` reads `pad[j + k]`.
#[inline(always)]
pub(crate) fn pad_row(src: &[f32], radius: usize, pad: &mut [f32]) {
    let w = src.len();
    pad[radius..radius + w].copy_from_slice(src);
    for p in 0..radius {
        pad[p] = src[reflect(p as isize - radius as isize, w)];
        pad[radius + w + p] = src[reflect((w + p) as isize, w)];
    }
}

/// `out[j] = sum_k f[k] * src[k][j]` over rows `src[k]` at least `out.len()` long.
#[inline(always)]
fn fir_columns<const AVX: bool>(f: &[f32], src: &[&[f32]], out: &mut [f32]) {
    assert!(src.len() == f.len() && src.iter().all(|r| r.len() >= out.len()));
    #[cfg(target_arch = "x86_64")]
    if AVX {
        // SAFETY: AVX kernels run only inside functions compiled for AVX2, which are only
        // called when the CPU has it; the lengths were checked above.
        return unsafe { avx2::fir_columns(f, src, out) };
    }
    out.fill(0.0);
    let w = out.len();
    for (&c, row) in f.iter().zip(src) {
        for (o, &v) in out.iter_mut().zip(&row[..w]) {
            *o += c * v;
        }
    }
}

/// One horizontal pass over a padded row: `out[j] = sum_k f[k] * pad[j + k]`.
#[inline(always)]
pub(crate) fn filter_row_h<const AVX: bool>(f: &[f32], pad: &[f32], out: &mut [f32]) {
    assert!(pad.len() + 1 >= out.len() + f.len());
    #[cfg(target_arch = "x86_64")]
    if AVX {
        // SAFETY: as in `fir_columns`.
        return unsafe { avx2::filter_row_h(f, pad, out) };
    }
    out.fill(0.0);
    let n = out.len();
    for (k, &c) in f.iter().enumerate() {
        for (o, &v) in out.iter_mut().zip(&pad[k..k + n]) {
            *o += c * v;
        }
    }
}

/// A horizontal pass keeping every other output, `out[j] = sum_k f[k] * pad[2j + k]`, with
/// `pad` split into its even and odd samples so that every tap reads unit-stride.
#[inline(always)]
fn filter_row_h_dec2<const AVX: bool>(f: &[f32], even: &[f32], odd: &[f32], out: &mut [f32]) {
    let n = out.len();
    assert!(even.len().min(odd.len()) + 1 >= n + f.len().div_ceil(2));
    let taps: [&[f32]; MAX_TAPS] = std::array::from_fn(|k| match (k < f.len(), k % 2) {
        (false, _) => &[][..],
        (true, 0) => &even[k / 2..],
        _ => &odd[k / 2..],
    });
    fir_columns::<AVX>(f, &taps[..f.len()], out);
}

/// The rows a vertical tap set reads for output row `i` (mirrored at the edges).
#[inline(always)]
fn tap_rows<'a>(
    src: &'a [f32],
    w: usize,
    h: usize,
    i: usize,
    taps: usize,
    rows: &mut [&'a [f32]; MAX_TAPS],
) {
    let r = (taps / 2) as isize;
    for (k, row) in rows.iter_mut().enumerate().take(taps) {
        let y = reflect(i as isize - r + k as isize, h);
        *row = &src[y * w..y * w + w];
    }
}

/// One vertical pass of row `i` of a `w`-wide packed image: `out[j] = sum_k f[k] * src[row(k)][j]`.
#[inline(always)]
pub(crate) fn filter_row_v<const AVX: bool>(
    f: &[f32],
    src: &[f32],
    w: usize,
    h: usize,
    i: usize,
    out: &mut [f32],
) {
    let mut rows: [&[f32]; MAX_TAPS] = [&[]; MAX_TAPS];
    tap_rows(src, w, h, i, f.len(), &mut rows);
    fir_columns::<AVX>(f, &rows[..f.len()], &mut out[..w]);
}

/// Longest filter used (VIF scale 0).
const MAX_TAPS: usize = 17;

/// Vertical pass of the five local moments of row `i`: filtered ref, dis, ref^2, dis^2 and
/// ref*dis, each sample's taps summed in order (`c * (x * x)` as libvmaf writes it).
#[inline(always)]
fn moments_v<const AVX: bool>(
    f: &[f32],
    ra: &[&[f32]],
    rd: &[&[f32]],
    out: &mut [Vec<f32>; 5],
    w: usize,
) {
    assert!(ra.len() == f.len() && rd.len() == f.len());
    assert!(ra.iter().chain(rd).all(|r| r.len() >= w) && out.iter().all(|o| o.len() >= w));
    #[cfg(target_arch = "x86_64")]
    if AVX {
        // SAFETY: as in `fir_columns`.
        return unsafe { avx2::moments_v(f, ra, rd, out, w) };
    }
    let [o0, o1, o2, o3, o4] = out;
    let (o0, o1, o2, o3, o4) = (
        &mut o0[..w],
        &mut o1[..w],
        &mut o2[..w],
        &mut o3[..w],
        &mut o4[..w],
    );
    for o in [&mut *o0, &mut *o1, &mut *o2, &mut *o3, &mut *o4] {
        o.fill(0.0);
    }
    for (k, &c) in f.iter().enumerate() {
        let (a, b) = (&ra[k][..w], &rd[k][..w]);
        for j in 0..w {
            let (x, z) = (a[j], b[j]);
            o0[j] += c * x;
            o1[j] += c * z;
            o2[j] += c * (x * x);
            o3[j] += c * (z * z);
            o4[j] += c * (x * z);
        }
    }
}

/// AVX2 versions of the filter kernels: eight outputs per register, each lane doing the
/// scalar multiply-then-add sequence (no FMA), so results equal the scalar code's.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// See [`super::fir_columns`]; callers guarantee `src[k].len() >= out.len()`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn fir_columns(f: &[f32], src: &[&[f32]], out: &mut [f32]) {
        let w = out.len();
        let o = out.as_mut_ptr();
        let mut j = 0;
        while j + 32 <= w {
            let mut acc = [_mm256_setzero_ps(); 4];
            for (&c, row) in f.iter().zip(src) {
                let cv = _mm256_set1_ps(c);
                let p = row.as_ptr().add(j);
                for (q, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_add_ps(*a, _mm256_mul_ps(cv, _mm256_loadu_ps(p.add(8 * q))));
                }
            }
            for (q, a) in acc.iter().enumerate() {
                _mm256_storeu_ps(o.add(j + 8 * q), *a);
            }
            j += 32;
        }
        while j + 8 <= w {
            let mut acc = _mm256_setzero_ps();
            for (&c, row) in f.iter().zip(src) {
                acc = _mm256_add_ps(
                    acc,
                    _mm256_mul_ps(_mm256_set1_ps(c), _mm256_loadu_ps(row.as_ptr().add(j))),
                );
            }
            _mm256_storeu_ps(o.add(j), acc);
            j += 8;
        }
        while j < w {
            let mut acc = 0f32;
            for (&c, row) in f.iter().zip(src) {
                acc += c * *row.get_unchecked(j);
            }
            *o.add(j) = acc;
            j += 1;
        }
    }

    /// See [`super::filter_row_h`]; callers guarantee `pad.len() >= out.len() + f.len() - 1`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn filter_row_h(f: &[f32], pad: &[f32], out: &mut [f32]) {
        let w = out.len();
        let o = out.as_mut_ptr();
        let p = pad.as_ptr();
        let mut j = 0;
        while j + 32 <= w {
            let mut acc = [_mm256_setzero_ps(); 4];
            for (k, &c) in f.iter().enumerate() {
                let cv = _mm256_set1_ps(c);
                for (q, a) in acc.iter_mut().enumerate() {
                    *a =
                        _mm256_add_ps(*a, _mm256_mul_ps(cv, _mm256_loadu_ps(p.add(j + k + 8 * q))));
                }
            }
            for (q, a) in acc.iter().enumerate() {
                _mm256_storeu_ps(o.add(j + 8 * q), *a);
            }
            j += 32;
        }
        while j + 8 <= w {
            let mut acc = _mm256_setzero_ps();
            for (k, &c) in f.iter().enumerate() {
                acc = _mm256_add_ps(
                    acc,
                    _mm256_mul_ps(_mm256_set1_ps(c), _mm256_loadu_ps(p.add(j + k))),
                );
            }
            _mm256_storeu_ps(o.add(j), acc);
            j += 8;
        }
        while j < w {
            let mut acc = 0f32;
            for (k, &c) in f.iter().enumerate() {
                acc += c * *p.add(j + k);
            }
            *o.add(j) = acc;
            j += 1;
        }
    }

    /// See [`super::moments_v`]; callers guarantee every row and output holds `w` samples.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn moments_v(
        f: &[f32],
        ra: &[&[f32]],
        rd: &[&[f32]],
        out: &mut [Vec<f32>; 5],
        w: usize,
    ) {
        let o: [*mut f32; 5] = [
            out[0].as_mut_ptr(),
            out[1].as_mut_ptr(),
            out[2].as_mut_ptr(),
            out[3].as_mut_ptr(),
            out[4].as_mut_ptr(),
        ];
        let mut j = 0;
        while j + 8 <= w {
            let mut acc = [_mm256_setzero_ps(); 5];
            for (k, &c) in f.iter().enumerate() {
                let cv = _mm256_set1_ps(c);
                let x = _mm256_loadu_ps(ra[k].as_ptr().add(j));
                let z = _mm256_loadu_ps(rd[k].as_ptr().add(j));
                acc[0] = _mm256_add_ps(acc[0], _mm256_mul_ps(cv, x));
                acc[1] = _mm256_add_ps(acc[1], _mm256_mul_ps(cv, z));
                acc[2] = _mm256_add_ps(acc[2], _mm256_mul_ps(cv, _mm256_mul_ps(x, x)));
                acc[3] = _mm256_add_ps(acc[3], _mm256_mul_ps(cv, _mm256_mul_ps(z, z)));
                acc[4] = _mm256_add_ps(acc[4], _mm256_mul_ps(cv, _mm256_mul_ps(x, z)));
            }
            for q in 0..5 {
                _mm256_storeu_ps(o[q].add(j), acc[q]);
            }
            j += 8;
        }
        while j < w {
            let mut acc = [0f32; 5];
            for (k, &c) in f.iter().enumerate() {
                let (x, z) = (*ra[k].get_unchecked(j), *rd[k].get_unchecked(j));
                acc[0] += c * x;
                acc[1] += c * z;
                acc[2] += c * (x * x);
                acc[3] += c * (z * z);
                acc[4] += c * (x * z);
            }
            for q in 0..5 {
                *o[q].add(j) = acc[q];
            }
            j += 1;
        }
    }
}

/// Whether the AVX2 copies of the hot loops may run. They only widen the vectors: the
/// per-element operations are the same, so results do not depend on this.
#[inline]
pub(crate) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// libvmaf's Gaussian kernel for one scale: `2^(4-scale)+1` taps (made odd), sigma = taps/5,
/// evaluated in the same float/double mix as `get_1d_gaussian_kernel`.
fn vif_filter(scale: usize) -> Vec<f32> {
    let n = (1u32 << (4 - scale)) + 1;
    let kernelscale = 1.0f32;
    let ceiling = (n as f32 * kernelscale).ceil() as i32;
    let size = (if ceiling % 2 == 0 {
        ceiling + 1
    } else {
        ceiling
    })
    .max(3) as usize;
    let stdev = size as f32 / 5.0f32;
    let half = (size - 1) / 2;
    let mut out = vec![0f32; size];
    let mut sum = 0f32;
    for (i, o) in out.iter_mut().enumerate() {
        let x = (i as i32 - half as i32) as f32;
        let d = (x - 0.0) as f64;
        let num = (-0.5 * d / stdev as f64 * d / stdev as f64).exp() as f32;
        let den = (1.0 / (stdev as f64 * (2.0 * std::f64::consts::PI).sqrt())) as f32;
        *o = num / den;
        sum += *o;
    }
    for o in out.iter_mut() {
        *o /= sum;
    }
    out
}

#[allow(clippy::excessive_precision)] // spelled as in libvmaf
const LOG2_POLY: [f32; 9] = [
    -0.012671635276421,
    0.064841182402670,
    -0.157048836463065,
    0.257167726303123,
    -0.353800560300520,
    0.480131410397451,
    -0.721314327952201,
    1.442694803896991,
    0.0,
];

/// libvmaf's `log2f_approx`: exponent plus a degree-8 polynomial of the mantissa.
#[inline(always)]
fn log2_approx(x: f32) -> f32 {
    let bits = x.to_bits();
    let exponent = (bits & 0x7F80_0000) >> 23;
    let remain = f32::from_bits((bits & 0x007F_FFFF) | 0x3F80_0000);
    let t = remain - 1.0;
    let mut v = 0.0f32;
    for c in LOG2_POLY {
        v = v * t + c;
    }
    let r = (exponent as i32 - 127) as f32 + v;
    if x == 0.0 {
        f32::NEG_INFINITY
    } else if x < 0.0 {
        f32::NAN
    } else {
        r
    }
}

/// Per-pixel numerator and denominator of `vif_statistic_s` ("matching_matlab" mode).
#[inline(always)]
fn vif_pixel(
    mu1: f32,
    mu2: f32,
    xx: f32,
    yy: f32,
    xy: f32,
    limit: f32,
    sigma_max_inv: f32,
) -> (f32, f32) {
    let mut s1 = xx - mu1 * mu1;
    let mut s2 = yy - mu2 * mu2;
    let s12 = xy - mu1 * mu2;
    s1 = if s1 > 0.0 { s1 } else { 0.0 };
    s2 = if s2 > 0.0 { s2 } else { 0.0 };
    let mut g = s12 / (s1 + EPS);
    let mut sv = s2 - g * s12;
    if s1 < EPS {
        g = 0.0;
        sv = s2;
        s1 = 0.0;
    }
    if s2 < EPS {
        g = 0.0;
        sv = 0.0;
    }
    if g < 0.0 {
        sv = s2;
        g = 0.0;
    }
    sv = if sv > EPS { sv } else { EPS };
    g = if g < limit { g } else { limit };
    let mut num = log2_approx((1.0 + (g * g * s1) as f64 / (sv as f64 + SIGMA_NSQ)) as f32);
    let mut den = log2_approx((1.0 + s1 as f64 / SIGMA_NSQ) as f32);
    if s12 < 0.0 {
        num = 0.0;
    }
    if (s1 as f64) < SIGMA_NSQ {
        num = 1.0 - s2 * sigma_max_inv;
        den = 1.0;
    }
    (num, den)
}

/// Row scratch for one pass; sized for the full width once.
struct Rows {
    /// Vertical-pass results: mu1, mu2, ref^2, dis^2, ref*dis.
    tmp: [Vec<f32>; 5],
    /// Horizontal-pass results, same order.
    out: [Vec<f32>; 5],
    pad: Vec<f32>,
    num: Vec<f32>,
    den: Vec<f32>,
}

/// libvmaf's float VIF for one frame size and bit depth.
pub struct FloatVif {
    width: usize,
    height: usize,
    bpc: u32,
    limit: f32,
    sigma_max_inv: f32,
    filters: [Vec<f32>; 4],
    /// (width, height) of each scale.
    dims: [(usize, usize); 4],
    ref_lv: [Vec<f32>; 4],
    dis_lv: [Vec<f32>; 4],
    rows: Rows,
    /// Tests set this to check the portable path against the AVX2 one.
    scalar_only: bool,
}

impl FloatVif {
    /// Creates the extractor; frames must be at least [`MIN_SIZE`] in both directions.
    pub fn new(
        width: usize,
        height: usize,
        bpc: u32,
        opts: FloatVifOptions,
    ) -> Result<Self, FloatFeatureError> {
        check_size("float_vif", width, height, MIN_SIZE)?;
        check_bpc(bpc)?;
        let egl = opts.enhn_gain_limit;
        if !(1.0..=100.0).contains(&egl) {
            return Err(FloatFeatureError::Option {
                feature: "float_vif",
                option: "vif_enhn_gain_limit",
                value: egl,
                min: 1.0,
                max: 100.0,
            });
        }
        let mut dims = [(width, height); 4];
        for s in 1..4 {
            dims[s] = (dims[s - 1].0 / 2, dims[s - 1].1 / 2);
        }
        let filters = [vif_filter(0), vif_filter(1), vif_filter(2), vif_filter(3)];
        let max_r = filters[0].len() / 2;
        let lv = |s: usize| vec![0f32; dims[s].0 * dims[s].1];
        let row = || vec![0f32; width];
        Ok(FloatVif {
            width,
            height,
            bpc,
            limit: egl as f32,
            sigma_max_inv: (SIGMA_NSQ.powi(2) as f32 as f64 / (255.0 * 255.0)) as f32,
            filters,
            dims,
            ref_lv: [lv(0), lv(1), lv(2), lv(3)],
            dis_lv: [lv(0), lv(1), lv(2), lv(3)],
            scalar_only: false,
            rows: Rows {
                tmp: [row(), row(), row(), row(), row()],
                out: [row(), row(), row(), row(), row()],
                pad: vec![0f32; width + 2 * max_r],
                num: row(),
                den: row(),
            },
        })
    }

    /// Scores `vif_scale0..3` for one frame pair (luma planes of the configured size).
    pub fn compute(&mut self, reference: &Plane, distorted: &Plane) -> [f64; 4] {
        let nd = self.num_den(reference, distorted);
        let mut out = [0f64; 4];
        for (s, o) in out.iter_mut().enumerate() {
            let ratio = nd[s].0 as f64 / nd[s].1 as f64;
            // Scales 1..3 go through libvmaf's MAX(ratio, min_val) with min_val 0.
            *o = if s == 0 || ratio > 0.0 { ratio } else { 0.0 };
        }
        out
    }

    /// Per-scale numerator and denominator sums, as libvmaf's `vif_num_scaleN`/`vif_den_scaleN`.
    pub fn num_den(&mut self, reference: &Plane, distorted: &Plane) -> [(f32, f32); 4] {
        for p in [reference, distorted] {
            assert_format(p, (self.width, self.height, self.bpc), "the extractor");
        }
        load_plane(reference, &mut self.ref_lv[0]);
        load_plane(distorted, &mut self.dis_lv[0]);
        let avx2 = has_avx2() && !self.scalar_only;
        let mut res = [(0f32, 0f32); 4];
        for (s, r) in res.iter_mut().enumerate() {
            #[cfg(target_arch = "x86_64")]
            if avx2 {
                // SAFETY: the CPU reports AVX2.
                *r = unsafe { self.scale_avx2(s) };
                continue;
            }
            let _ = avx2;
            *r = self.scale::<false>(s);
        }
        res
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn scale_avx2(&mut self, s: usize) -> (f32, f32) {
        self.scale::<true>(s)
    }

    /// Builds scale `s` from the previous one (if any) and returns its sums.
    #[inline(always)]
    fn scale<const AVX: bool>(&mut self, s: usize) -> (f32, f32) {
        if s > 0 {
            self.decimate::<AVX>(s);
        }
        self.statistic::<AVX>(s)
    }

    /// Low-passes scale `s-1` with scale `s`'s filter and keeps every other row and column.
    #[inline(always)]
    fn decimate<const AVX: bool>(&mut self, s: usize) {
        let (w, h) = self.dims[s - 1];
        let (dw, dh) = self.dims[s];
        let f = &self.filters[s];
        let r = f.len() / 2;
        let rows = &mut self.rows;
        for lv in [&mut self.ref_lv, &mut self.dis_lv] {
            let (lo, hi) = lv.split_at_mut(s);
            let src = &lo[s - 1];
            let dst = &mut hi[0];
            for i in 0..dh {
                let [t0, t1, t2, ..] = &mut rows.tmp;
                let tmp = &mut t0[..w];
                filter_row_v::<AVX>(f, src, w, h, 2 * i, tmp);
                let pad = &mut rows.pad[..w + 2 * r];
                pad_row(tmp, r, pad);
                let half = pad.len().div_ceil(2);
                let (even, odd) = (&mut t1[..half], &mut t2[..half]);
                for (m, (e, o)) in even.iter_mut().zip(odd.iter_mut()).enumerate() {
                    *e = pad[2 * m];
                    *o = if 2 * m + 1 < pad.len() {
                        pad[2 * m + 1]
                    } else {
                        0.0
                    };
                }
                filter_row_h_dec2::<AVX>(f, even, odd, &mut dst[i * dw..(i + 1) * dw]);
            }
        }
    }

    /// Filters the five local moments of scale `s` row by row and sums the VIF statistic.
    #[inline(always)]
    fn statistic<const AVX: bool>(&mut self, s: usize) -> (f32, f32) {
        let (w, h) = self.dims[s];
        let f = &self.filters[s];
        let r = f.len() / 2;
        let src_r = &self.ref_lv[s];
        let src_d = &self.dis_lv[s];
        let rows = &mut self.rows;
        let (limit, smi) = (self.limit, self.sigma_max_inv);
        let mut accum_num = 0f32;
        let mut accum_den = 0f32;
        for i in 0..h {
            {
                let mut ra: [&[f32]; MAX_TAPS] = [&[]; MAX_TAPS];
                let mut rd: [&[f32]; MAX_TAPS] = [&[]; MAX_TAPS];
                tap_rows(src_r, w, h, i, f.len(), &mut ra);
                tap_rows(src_d, w, h, i, f.len(), &mut rd);
                moments_v::<AVX>(f, &ra[..f.len()], &rd[..f.len()], &mut rows.tmp, w);
            }
            for q in 0..5 {
                pad_row(&rows.tmp[q][..w], r, &mut rows.pad[..w + 2 * r]);
                filter_row_h::<AVX>(f, &rows.pad[..w + 2 * r], &mut rows.out[q][..w]);
            }
            let [mu1, mu2, xx, yy, xy] = &rows.out;
            let (mu1, mu2, xx, yy, xy) = (&mu1[..w], &mu2[..w], &xx[..w], &yy[..w], &xy[..w]);
            let (num, den) = (&mut rows.num[..w], &mut rows.den[..w]);
            for j in 0..w {
                let (n, d) = vif_pixel(mu1[j], mu2[j], xx[j], yy[j], xy[j], limit, smi);
                num[j] = n;
                den[j] = d;
            }
            let mut row_num = 0f32;
            let mut row_den = 0f32;
            for j in 0..w {
                row_num += num[j];
                row_den += den[j];
            }
            accum_num += row_num;
            accum_den += row_den;
        }
        (accum_num, accum_den)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn plane_from(data: &[u8], w: usize, h: usize) -> Plane<'_> {
        Plane::new_u8(data, w, h, w)
    }

    #[test]
    #[allow(clippy::excessive_precision)]
    fn filters_are_libvmafs_gaussians() {
        // libvmaf's former precomputed kernelscale-1.0 table; the run-time kernels (which
        // the current libvmaf uses, and the oracle test pins bit-exactly) differ from it
        // only in the last bits.
        let table: [&[f32]; 4] = [
            &[
                0.00745626912,
                0.0142655009,
                0.0250313189,
                0.0402820669,
                0.0594526194,
                0.0804751068,
                0.0999041125,
                0.113746084,
                0.118773937,
                0.113746084,
                0.0999041125,
                0.0804751068,
                0.0594526194,
                0.0402820669,
                0.0250313189,
                0.0142655009,
                0.00745626912,
            ],
            &[
                0.0189780835,
                0.0558981746,
                0.120920904,
                0.192116052,
                0.224173605,
                0.192116052,
                0.120920904,
                0.0558981746,
                0.0189780835,
            ],
            &[
                0.054488685,
                0.244201347,
                0.402619958,
                0.244201347,
                0.054488685,
            ],
            &[0.166378498, 0.667243004, 0.166378498],
        ];
        for (s, t) in table.iter().enumerate() {
            let f = vif_filter(s);
            assert_eq!(f.len(), t.len());
            for (a, b) in f.iter().zip(t.iter()) {
                assert!((a - b).abs() < 1e-6, "scale {s}: {a} vs {b}");
            }
            let n = f.len();
            assert!((0..n).all(|i| f[i] == f[n - 1 - i]));
        }
    }

    #[test]
    fn log2_approx_is_close() {
        for &x in &[1.0f32, 1.5, 2.0, 3.0, 10.0, 1000.0] {
            assert!((log2_approx(x) - x.log2()).abs() < 1e-4, "{x}");
        }
    }

    #[test]
    fn identical_frames_score_one() {
        let (w, h) = (48, 40);
        let data: Vec<u8> = (0..w * h)
            .map(|i| ((i * 37 + (i / w) * 11) % 251) as u8)
            .collect();
        let p = plane_from(&data, w, h);
        let mut vif = FloatVif::new(w, h, 8, FloatVifOptions::default()).unwrap();
        // Flat neighbourhoods take libvmaf's low-variance branch, which is slightly
        // below 1 even for identical inputs.
        for s in vif.compute(&p, &p) {
            assert!((s - 1.0).abs() < 1e-4, "{s}");
        }
    }

    #[test]
    fn odd_sizes_and_minimum() {
        assert!(matches!(
            FloatVif::new(15, 40, 8, FloatVifOptions::default()),
            Err(FloatFeatureError::TooSmall { .. })
        ));
        assert!(FloatVif::new(16, 16, 7, FloatVifOptions::default()).is_err());
        assert!(FloatVif::new(
            16,
            16,
            8,
            FloatVifOptions {
                enhn_gain_limit: 0.5
            }
        )
        .is_err());
        for (w, h) in [(16, 16), (33, 17), (17, 33), (37, 21)] {
            let a: Vec<u8> = (0..w * h).map(|i| (i * 7 % 256) as u8).collect();
            let b: Vec<u8> = a.iter().map(|&v| v.saturating_add(3) / 2).collect();
            let mut vif = FloatVif::new(w, h, 8, FloatVifOptions::default()).unwrap();
            let s = vif.compute(&plane_from(&a, w, h), &plane_from(&b, w, h));
            assert!(s.iter().all(|v| v.is_finite()), "{w}x{h}: {s:?}");
        }
    }

    #[test]
    fn ten_bit_matches_eight_bit_scaled() {
        let (w, h) = (40, 32);
        let a: Vec<u8> = (0..w * h).map(|i| ((i * 13) % 200 + 20) as u8).collect();
        let b: Vec<u8> = (0..w * h)
            .map(|i| ((i * 13 + i / 7) % 200 + 20) as u8)
            .collect();
        let a10: Vec<u16> = a.iter().map(|&v| (v as u16) << 2).collect();
        let b10: Vec<u16> = b.iter().map(|&v| (v as u16) << 2).collect();
        let mut v8 = FloatVif::new(w, h, 8, FloatVifOptions::default()).unwrap();
        let mut v10 = FloatVif::new(w, h, 10, FloatVifOptions::default()).unwrap();
        let s8 = v8.compute(&plane_from(&a, w, h), &plane_from(&b, w, h));
        let s10 = v10.compute(
            &Plane::new_u16(&a10, w, h, w, 10),
            &Plane::new_u16(&b10, w, h, w, 10),
        );
        assert_eq!(s8, s10);
    }

    /// A textured test pair of odd size (so every kernel has vector blocks and a tail).
    pub(crate) fn test_pair(w: usize, h: usize) -> (Vec<u8>, Vec<u8>) {
        let a: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f64, (i / w) as f64);
                (128.0 + 60.0 * (x * 0.21).sin() * (y * 0.13).cos() + ((i * 7919) % 23) as f64)
                    as u8
            })
            .collect();
        let b: Vec<u8> = a
            .iter()
            .enumerate()
            .map(|(i, &v)| v.wrapping_add(((i * 31) % 9) as u8).min(250))
            .collect();
        (a, b)
    }

    #[test]
    fn portable_path_matches_avx2_path() {
        let (w, h) = (203, 67);
        let (a, b) = test_pair(w, h);
        let (pa, pb) = (plane_from(&a, w, h), plane_from(&b, w, h));
        let mut fast = FloatVif::new(w, h, 8, FloatVifOptions::default()).unwrap();
        let mut slow = FloatVif::new(w, h, 8, FloatVifOptions::default()).unwrap();
        slow.scalar_only = true;
        assert_eq!(fast.num_den(&pa, &pb), slow.num_den(&pa, &pb));
    }

    #[test]
    fn strided_input_equals_packed() {
        let (w, h) = (40, 24);
        let (a, b) = test_pair(w, h);
        let stride = w + 9;
        let pad = |v: &[u8]| -> Vec<u8> {
            v.chunks(w)
                .flat_map(|r| r.iter().copied().chain([0u8; 9]))
                .collect()
        };
        let (sa, sb) = (pad(&a), pad(&b));
        let mut vif = FloatVif::new(w, h, 8, FloatVifOptions::default()).unwrap();
        let packed = vif.compute(&plane_from(&a, w, h), &plane_from(&b, w, h));
        let strided = vif.compute(
            &Plane::new_u8(&sa, w, h, stride),
            &Plane::new_u8(&sb, w, h, stride),
        );
        assert_eq!(packed, strided);
    }

    #[test]
    fn extractors_are_send() {
        fn send<T: Send>() {}
        send::<FloatVif>();
        send::<crate::adm_float::FloatAdm>();
        send::<crate::motion_float::FloatMotion>();
    }
}
