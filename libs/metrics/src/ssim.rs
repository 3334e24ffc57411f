//! SSIM as libvmaf's `float_ssim` computes it (the IQA library's SSIM with Netflix's changes).
//!
//! What makes it libvmaf's SSIM rather than textbook SSIM, all reproduced here:
//! - samples are scaled to the 8-bit range (`v / 2^(bpc-8)`), and the constants use L = 255;
//! - the image is first decimated by an integer factor `round(min(w, h) / 256)` (1 below 384
//!   pixels): a `factor x factor` box filter with mirrored borders, sampled every `factor`
//!   pixels, giving `w / factor + (w & 1)` columns (sic: the odd-size term does not depend on
//!   the factor);
//! - the 11x11 Gaussian (sigma 1.5) window is IQA's rounded separable taps, applied only where
//!   it fits entirely inside the image, so the SSIM map is `(w - 10) x (h - 10)`;
//! - variances are clamped at zero, the contrast term uses `sqrt(var_r * var_d)`, and the
//!   structure term treats a negative covariance in a flat, zero-variance window as zero;
//! - filters accumulate `f32` products in `f64` and round each output to `f32`; the mean is
//!   rounded to `f32` before it is reported.
//!
//! Minimum size: 11x11 after decimation (libvmaf itself would divide by zero below that).

use lv_image::plane::Plane;

/// IQA's separable Gaussian taps (sigma 1.5, rounded to 6 decimals).
pub(crate) const GAUSSIAN_11: [f32; 11] = [
    0.001028, 0.007599, 0.036001, 0.109361, 0.213006, 0.266012, 0.213006, 0.109361, 0.036001,
    0.007599, 0.001028,
];
const WIN: usize = 11;

/// Errors for sizes or depths the SSIM family cannot score.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsimError {
    #[error("image {width}x{height} is too small: {what}")]
    TooSmall {
        width: usize,
        height: usize,
        what: &'static str,
    },
    #[error("unsupported bit depth {0} (8..=16)")]
    BitDepth(u32),
    #[error("scale factor {0} out of range (0 = auto, 1..=10)")]
    Scale(u32),
}

/// Loads a plane as `f32` in the 8-bit range, the way libvmaf's `picture_copy` does (exact:
/// the divisor is a power of two).
pub(crate) fn load_plane(p: &Plane, out: &mut [f32]) {
    let w = p.width;
    let inv = 1.0 / (1u32 << (p.bpc - 8)) as f32;
    for y in 0..p.height {
        let row = &mut out[y * w..(y + 1) * w];
        p.row_f32(y, row);
        if p.bpc > 8 {
            for v in row.iter_mut() {
                *v *= inv;
            }
        }
    }
}

/// Mirrors an out-of-range coordinate (IQA's symmetric boundary: -1 -> 0, n -> n-1), clamped
/// so that degenerate tiny images cannot index outside.
#[inline]
fn reflect(i: isize, n: usize) -> usize {
    let n = n as isize;
    let r = if i < 0 {
        -1 - i
    } else if i >= n {
        n - (i - n) - 1
    } else {
        i
    };
    r.clamp(0, n - 1) as usize
}

/// One output of IQA's `_iqa_filter_pixel`: the `kw x kw` kernel (row-major) centred at
/// `(x, y)` (`kw/2` before, the rest after), mirrored at the borders, summed in `f64`.
#[inline]
pub(crate) fn filter_pixel(
    img: &[f32],
    w: usize,
    h: usize,
    x: usize,
    y: usize,
    k: &[f32],
    kw: usize,
) -> f32 {
    let c = kw / 2;
    let after = kw - c; // exclusive upper offset
    let mut sum = 0.0f64;
    if x >= c && y >= c && x + c < w && y + c < h && x + after <= w && y + after <= h {
        for v in 0..kw {
            let row = &img[(y + v - c) * w + x - c..][..kw];
            let kr = &k[v * kw..][..kw];
            for u in 0..kw {
                sum += (row[u] * kr[u]) as f64;
            }
        }
    } else {
        for v in 0..kw {
            let yy = reflect(y as isize + v as isize - c as isize, h);
            for u in 0..kw {
                let xx = reflect(x as isize + u as isize - c as isize, w);
                sum += (img[yy * w + xx] * k[v * kw + u]) as f64;
            }
        }
    }
    sum as f32
}

/// Output size of IQA's decimation: `n / factor + (n & 1)`.
#[inline]
pub(crate) fn decimated_len(n: usize, factor: usize) -> usize {
    n / factor + (n & 1)
}

/// The automatic decimation factor libvmaf's `float_ssim` picks: `max(1, round(min/256))`,
/// with IQA's `_round` (halves away from zero) in `f32`.
pub fn auto_scale(width: usize, height: usize) -> usize {
    let a = width.min(height) as f32 / 256.0f32;
    let t = a as i32;
    let r = if a - t as f32 >= 0.5 { t + 1 } else { t };
    r.max(1) as usize
}

/// Means of the SSIM map and of its three factors, each rounded to `f32` as IQA reports them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct SsimMeans {
    pub ssim: f32,
    pub l: f32,
    pub c: f32,
    pub s: f32,
}

/// IQA's default-parameter SSIM over `(w - 10) x (h - 10)` valid windows, streamed: the
/// horizontal pass fills an 11-row ring per statistic and each output row is finished (and
/// summed in row-major order, as IQA does) as soon as its window rows are available.
#[derive(Clone, Debug, Default)]
pub(crate) struct SsimCore {
    /// Horizontally filtered rows of mu_r, mu_d, E[r^2], E[d^2], E[rd]: 5 rings of 11 rows.
    ring: Vec<f32>,
    /// Per-row inputs: r^2, d^2, r*d.
    prod: Vec<f32>,
    /// Per-window luminance, contrast and structure terms of one output row.
    lcs: Vec<f64>,
    /// Vertically filtered output row of the 5 statistics.
    out: Vec<f32>,
    cap_w: usize,
}

impl SsimCore {
    pub(crate) fn new(max_w: usize) -> Self {
        let dw = max_w.saturating_sub(WIN - 1);
        SsimCore {
            ring: vec![0.0; 5 * WIN * dw],
            prod: vec![0.0; 3 * max_w],
            lcs: vec![0.0; 3 * dw],
            out: vec![0.0; 5 * dw],
            cap_w: max_w,
        }
    }

    /// `r`, `d`: packed `w x h` images, `w, h >= 11`, `w <= max_w`.
    pub(crate) fn compute(&mut self, r: &[f32], d: &[f32], w: usize, h: usize) -> SsimMeans {
        assert!(w >= WIN && h >= WIN && w <= self.cap_w);
        let dw = w - (WIN - 1);
        let dh = h - (WIN - 1);
        let ring_len = WIN * dw;

        let (mut ssim_sum, mut l_sum, mut c_sum, mut s_sum) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);

        for iy in 0..h {
            let rr = &r[iy * w..(iy + 1) * w];
            let dr = &d[iy * w..(iy + 1) * w];
            {
                let (p_rr, rest) = self.prod.split_at_mut(w);
                let (p_dd, p_rd) = rest.split_at_mut(w);
                for x in 0..w {
                    p_rr[x] = rr[x] * rr[x];
                    p_dd[x] = dr[x] * dr[x];
                    p_rd[x] = rr[x] * dr[x];
                }
            }
            let slot = (iy % WIN) * dw;
            let srcs: [&[f32]; 5] = [
                rr,
                dr,
                &self.prod[..w],
                &self.prod[w..2 * w],
                &self.prod[2 * w..3 * w],
            ];
            for (m, src) in srcs.iter().enumerate() {
                let taps: [&[f32]; WIN] = std::array::from_fn(|u| &src[u..u + dw]);
                fir(
                    &taps,
                    &GAUSSIAN_11,
                    &mut self.ring[m * ring_len + slot..][..dw],
                );
            }
            if iy + 1 < WIN {
                continue;
            }
            let oy = iy + 1 - WIN;
            for m in 0..5 {
                let ring = &self.ring[m * ring_len..(m + 1) * ring_len];
                let taps: [&[f32]; WIN] =
                    std::array::from_fn(|v| &ring[((oy + v) % WIN) * dw..][..dw]);
                fir(&taps, &GAUSSIAN_11, &mut self.out[m * dw..(m + 1) * dw]);
            }
            let stats: [&[f32]; 5] = std::array::from_fn(|m| &self.out[m * dw..(m + 1) * dw]);
            let (l, rest) = self.lcs[..3 * dw].split_at_mut(dw);
            let (c, s) = rest.split_at_mut(dw);
            lcs_row(&stats, l, c, s);
            // Sequential sums in IQA's row-major order.
            for x in 0..dw {
                ssim_sum += l[x] * c[x] * s[x];
                l_sum += l[x];
                c_sum += c[x];
                s_sum += s[x];
            }
        }
        let n = (dw * dh) as f64;
        SsimMeans {
            ssim: (ssim_sum / n) as f32,
            l: (l_sum / n) as f32,
            c: (c_sum / n) as f32,
            s: (s_sum / n) as f32,
        }
    }
}

/// The luminance, contrast and structure terms of one row of windows, from the filtered
/// statistics `[mu_r, mu_d, E[r^2], E[d^2], E[rd]]`, with IQA's mix of `f32` and `f64`
/// arithmetic.
#[inline(always)]
fn lcs_row_generic(stats: &[&[f32]; 5], l: &mut [f64], c: &mut [f64], s: &mut [f64]) {
    const K1: f32 = 0.01;
    const K2: f32 = 0.03;
    let c1 = (K1 * 255.0) * (K1 * 255.0);
    let c2 = (K2 * 255.0) * (K2 * 255.0);
    let c3 = c2 / 2.0;
    let n = l.len();
    let [mu_r, mu_d, e_rr, e_dd, e_rd] = stats.map(|v| &v[..n]);
    let (c, s) = (&mut c[..n], &mut s[..n]);
    for x in 0..n {
        let (m1, m2) = (mu_r[x], mu_d[x]);
        let var_r = e_rr[x] - m1 * m1;
        let var_d = e_dd[x] - m2 * m2;
        // NaN-preserving max(0, v), as the C macro does it.
        let var_r = if 0.0 > var_r { 0.0 } else { var_r };
        let var_d = if 0.0 > var_d { 0.0 } else { var_d };
        let cov = e_rd[x] - m1 * m2;

        let sd = (var_r * var_d).sqrt();
        l[x] = (2.0 * m1 as f64 * m2 as f64 + c1 as f64) / (m1 * m1 + m2 * m2 + c1) as f64;
        c[x] = (2.0 * sd as f64 + c2 as f64) / (var_r + var_d + c2) as f64;
        let cov = if cov < 0.0 && sd <= 0.0 { 0.0 } else { cov };
        s[x] = ((cov + c3) / (sd + c3)) as f64;
    }
}

/// FIR over `N` source rows: `dst[x] = sum_t (srcs[t][x] * k[t])`, each product rounded to
/// `f32` and summed in `f64` in tap order, as IQA's filters do. Blocks of 16 outputs keep
/// their accumulators in registers; only the summation across outputs is vectorised, so
/// each output's arithmetic is unchanged.
#[inline(always)]
fn fir_generic<const N: usize, const B: usize>(srcs: &[&[f32]; N], k: &[f32; N], dst: &mut [f32]) {
    let n = dst.len();
    let srcs: [&[f32]; N] = srcs.map(|s| &s[..n]);
    let mut x = 0;
    while x + B <= n {
        let mut acc = [0.0f64; B];
        for t in 0..N {
            let kt = k[t];
            let src: &[f32; B] = srcs[t][x..x + B].try_into().unwrap();
            for j in 0..B {
                acc[j] += (src[j] * kt) as f64;
            }
        }
        for j in 0..B {
            dst[x + j] = acc[j] as f32;
        }
        x += B;
    }
    for x in x..n {
        let mut acc = 0.0f64;
        for t in 0..N {
            acc += (srcs[t][x] * k[t]) as f64;
        }
        dst[x] = acc as f32;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn fir_avx2<const N: usize>(srcs: &[&[f32]; N], k: &[f32; N], dst: &mut [f32]) {
    fir_generic::<N, 16>(srcs, k, dst)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn lcs_row_avx2(stats: &[&[f32]; 5], l: &mut [f64], c: &mut [f64], s: &mut [f64]) {
    lcs_row_generic(stats, l, c, s)
}

/// Dispatches to an AVX2 build of the same code where the CPU has it (no FMA: results are
/// identical on every path).
pub(crate) fn fir<const N: usize>(srcs: &[&[f32]; N], k: &[f32; N], dst: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { fir_avx2(srcs, k, dst) };
    }
    fir_generic::<N, 16>(srcs, k, dst)
}

fn lcs_row(stats: &[&[f32]; 5], l: &mut [f64], c: &mut [f64], s: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        return unsafe { lcs_row_avx2(stats, l, c, s) };
    }
    lcs_row_generic(stats, l, c, s)
}

/// Per-frame SSIM and its luminance, contrast and structure means (libvmaf's `float_ssim`,
/// and `float_ssim_l/c/s` with `enable_lcs`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct SsimScores {
    pub ssim: f64,
    pub l: f64,
    pub c: f64,
    pub s: f64,
}

/// libvmaf's `float_ssim` for one size and bit depth.
#[derive(Clone, Debug)]
pub struct FloatSsim {
    width: usize,
    height: usize,
    scale: usize,
    /// Size after decimation, where the SSIM map is computed.
    sw: usize,
    sh: usize,
    r: Vec<f32>,
    d: Vec<f32>,
    box_kernel: Vec<f32>,
    core: SsimCore,
}

impl FloatSsim {
    /// With the automatic decimation factor, as libvmaf's default (`scale=0`).
    pub fn new(width: usize, height: usize, bpc: u32) -> Result<Self, SsimError> {
        Self::with_scale(width, height, bpc, 0)
    }

    /// `scale`: libvmaf's `scale` option, 0 for automatic, else the factor (1..=10).
    pub fn with_scale(
        width: usize,
        height: usize,
        bpc: u32,
        scale: u32,
    ) -> Result<Self, SsimError> {
        if !(8..=16).contains(&bpc) {
            return Err(SsimError::BitDepth(bpc));
        }
        if scale > 10 {
            return Err(SsimError::Scale(scale));
        }
        if width == 0 || height == 0 {
            return Err(SsimError::TooSmall {
                width,
                height,
                what: "empty image",
            });
        }
        let scale = if scale == 0 {
            auto_scale(width, height)
        } else {
            scale as usize
        };
        let (sw, sh) = if scale > 1 {
            (decimated_len(width, scale), decimated_len(height, scale))
        } else {
            (width, height)
        };
        if sw < WIN || sh < WIN {
            return Err(SsimError::TooSmall {
                width,
                height,
                what: "SSIM needs at least 11x11 pixels after decimation",
            });
        }
        let n = width * height;
        Ok(FloatSsim {
            width,
            height,
            scale,
            sw,
            sh,
            r: vec![0.0; n],
            d: vec![0.0; n],
            box_kernel: vec![1.0f32 / (scale * scale) as f32; scale * scale],
            core: SsimCore::new(sw),
        })
    }

    /// The decimation factor in use.
    pub fn scale(&self) -> usize {
        self.scale
    }

    /// SSIM of the luma planes `r` (reference) and `d` (distorted).
    ///
    /// # Panics
    /// If a plane's size differs from the one given to `new`.
    pub fn compute(&mut self, r: &Plane, d: &Plane) -> f64 {
        self.compute_lcs(r, d).ssim
    }

    /// SSIM with its luminance, contrast and structure means.
    pub fn compute_lcs(&mut self, r: &Plane, d: &Plane) -> SsimScores {
        for p in [r, d] {
            assert!(
                p.width == self.width && p.height == self.height,
                "float_ssim: plane is {}x{}, extractor was made for {}x{}",
                p.width,
                p.height,
                self.width,
                self.height
            );
        }
        load_plane(r, &mut self.r);
        load_plane(d, &mut self.d);
        if self.scale > 1 {
            for buf in [&mut self.r, &mut self.d] {
                decimate_in_place(buf, self.width, self.height, self.scale, &self.box_kernel);
            }
        }
        let m = self.core.compute(&self.r, &self.d, self.sw, self.sh);
        SsimScores {
            ssim: m.ssim as f64,
            l: m.l as f64,
            c: m.c as f64,
            s: m.s as f64,
        }
    }
}

/// IQA decimates in place: each output lands in the same buffer, ahead of (never on top of)
/// any sample a later output still reads, so in-place and out-of-place agree; writing in
/// place keeps that equivalence by construction.
fn decimate_in_place(buf: &mut [f32], w: usize, h: usize, factor: usize, k: &[f32]) {
    let (sw, sh) = (decimated_len(w, factor), decimated_len(h, factor));
    for y in 0..sh {
        for x in 0..sw {
            let v = filter_pixel(buf, w, h, x * factor, y * factor, k, factor);
            buf[y * sw + x] = v;
        }
    }
}

/// A reproducible noise picture (an LCG's top bytes): the SSIM and MS-SSIM tests' input.
#[cfg(test)]
pub(crate) fn noise(n: usize, seed: u32) -> Vec<u8> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(1664525).wrapping_add(1013904223);
            (s >> 24) as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_is_one() {
        let a = noise(64 * 48, 1);
        let p = Plane::new_u8(&a, 64, 48, 64);
        let mut s = FloatSsim::new(64, 48, 8).unwrap();
        let v = s.compute_lcs(&p, &p);
        assert!((v.ssim - 1.0).abs() < 1e-6, "{v:?}");
        // A flat image: zero variance everywhere still gives 1 (to f32 rounding).
        let flat = vec![77u8; 40 * 40];
        let f = Plane::new_u8(&flat, 40, 40, 40);
        let mut s = FloatSsim::new(40, 40, 8).unwrap();
        assert!((s.compute(&f, &f) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn distorted_is_below_one_and_symmetric() {
        let a = noise(33 * 17, 2);
        let b = noise(33 * 17, 3);
        let pa = Plane::new_u8(&a, 33, 17, 33);
        let pb = Plane::new_u8(&b, 33, 17, 33);
        let mut s = FloatSsim::new(33, 17, 8).unwrap();
        let ab = s.compute(&pa, &pb);
        let ba = s.compute(&pb, &pa);
        assert!(ab < 0.2 && ab > -1.0);
        assert!((ab - ba).abs() < 1e-6);
    }

    #[test]
    fn too_small_is_an_error() {
        assert!(matches!(
            FloatSsim::new(10, 100, 8),
            Err(SsimError::TooSmall { .. })
        ));
        assert!(FloatSsim::new(11, 11, 8).is_ok());
        assert!(matches!(
            FloatSsim::new(64, 64, 7),
            Err(SsimError::BitDepth(7))
        ));
        assert!(matches!(
            FloatSsim::with_scale(100, 100, 8, 10),
            Err(SsimError::TooSmall { .. })
        ));
    }

    #[test]
    fn extractors_are_send() {
        fn send<T: Send>() {}
        send::<FloatSsim>();
        send::<crate::ms_ssim::FloatMsSsim>();
        send::<crate::model::VmafModel>();
    }

    #[test]
    fn auto_scale_matches_iqa_rounding() {
        assert_eq!(auto_scale(176, 144), 1);
        assert_eq!(auto_scale(1920, 383), 1);
        assert_eq!(auto_scale(1920, 384), 2);
        assert_eq!(auto_scale(1280, 720), 3);
        assert_eq!(auto_scale(1920, 1080), 4);
        assert_eq!(auto_scale(3840, 2160), 8);
    }

    #[test]
    fn high_bit_depth_matches_scaled_8bit() {
        // 10-bit samples that are 8-bit values times 4 must score exactly like the 8-bit ones.
        let a = noise(50 * 40, 4);
        let b: Vec<u8> = a.iter().map(|&v| v.saturating_add(9) / 2 * 2).collect();
        let a16: Vec<u16> = a.iter().map(|&v| v as u16 * 4).collect();
        let b16: Vec<u16> = b.iter().map(|&v| v as u16 * 4).collect();
        let mut s8 = FloatSsim::new(50, 40, 8).unwrap();
        let mut s10 = FloatSsim::new(50, 40, 10).unwrap();
        let v8 = s8.compute(
            &Plane::new_u8(&a, 50, 40, 50),
            &Plane::new_u8(&b, 50, 40, 50),
        );
        let v10 = s10.compute(
            &Plane::new_u16(&a16, 50, 40, 50, 10),
            &Plane::new_u16(&b16, 50, 40, 50, 10),
        );
        assert_eq!(v8, v10);
    }

    #[test]
    fn decimated_sizes_and_odd_dims() {
        // 401x389 decimates by 2 to 201x195 (IQA's odd-size rule); must not panic.
        let (w, h) = (401, 389);
        let a = noise(w * h, 5);
        let b = noise(w * h, 6);
        let mut s = FloatSsim::new(w, h, 8).unwrap();
        assert_eq!(s.scale(), 2);
        assert_eq!((s.sw, s.sh), (201, 195));
        let v = s.compute(&Plane::new_u8(&a, w, h, w), &Plane::new_u8(&b, w, h, w));
        assert!(v.is_finite());
        // Scale 3 with an odd width reads one column past the edge (mirrored).
        let mut s3 = FloatSsim::with_scale(35, 40, 8, 3).unwrap();
        let a = noise(35 * 40, 7);
        let v = s3.compute(
            &Plane::new_u8(&a, 35, 40, 35),
            &Plane::new_u8(&a, 35, 40, 35),
        );
        assert!((v - 1.0).abs() < 1e-6);
    }

    #[test]
    fn in_place_decimation_equals_out_of_place() {
        for &(w, h, f) in &[
            (40usize, 30usize, 2usize),
            (37, 29, 3),
            (64, 48, 4),
            (33, 35, 5),
        ] {
            let src: Vec<f32> = noise(w * h, 9).iter().map(|&v| v as f32).collect();
            let k = vec![1.0f32 / (f * f) as f32; f * f];
            let mut inplace = src.clone();
            decimate_in_place(&mut inplace, w, h, f, &k);
            let (sw, sh) = (decimated_len(w, f), decimated_len(h, f));
            for y in 0..sh {
                for x in 0..sw {
                    let v = filter_pixel(&src, w, h, x * f, y * f, &k, f);
                    assert_eq!(inplace[y * sw + x], v, "{w}x{h}/{f} at {x},{y}");
                }
            }
        }
    }
}
