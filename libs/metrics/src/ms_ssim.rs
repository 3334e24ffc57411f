//! MS-SSIM as libvmaf's `float_ms_ssim` computes it (IQA's Wang et al. MS-SSIM).
//!
//! Five scales; scale `i+1` is scale `i` filtered with IQA's 9x9 (rounded 9/7 biorthogonal)
//! low-pass kernel, mirrored at the borders, and sampled every second pixel, giving
//! `n / 2 + (n & 1)` samples. Each scale runs the same SSIM as `float_ssim` (no automatic
//! decimation) and contributes `l^alpha * c^beta * s^gamma` with Wang's exponents; only the
//! coarsest scale has a luminance term.
//!
//! Minimum size: libvmaf refuses ("scale below 1x1") any image where `floor(n / 2^i) < 11` for
//! some scale `i` in 0..5, i.e. width or height below 176; `FloatMsSsim::new` returns
//! [`SsimError::TooSmall`] for those. CIF (352x288) and up work; QCIF (176x144) does not.

use crate::ssim::{decimated_len, filter_pixel, fir, load_plane, SsimCore, SsimError};
use lv_image::plane::Plane;

const SCALES: usize = 5;

/// Smallest width or height libvmaf's MS-SSIM accepts.
pub const MIN_SIZE: usize = 176;

/// IQA's 2-D down-sampling kernel (not the outer product of its rounded 1-D taps, so the 2-D
/// table is what must be used).
#[rustfmt::skip]
pub const LPF: [f32; 81] = [
     0.000714, -0.000450, -0.002090,  0.007132,  0.016114,  0.007132, -0.002090, -0.000450,  0.000714,
    -0.000450,  0.000283,  0.001316, -0.004490, -0.010146, -0.004490,  0.001316,  0.000283, -0.000450,
    -0.002090,  0.001316,  0.006115, -0.020867, -0.047149, -0.020867,  0.006115,  0.001316, -0.002090,
     0.007132, -0.004490, -0.020867,  0.071207,  0.160885,  0.071207, -0.020867, -0.004490,  0.007132,
     0.016114, -0.010146, -0.047149,  0.160885,  0.363505,  0.160885, -0.047149, -0.010146,  0.016114,
     0.007132, -0.004490, -0.020867,  0.071207,  0.160885,  0.071207, -0.020867, -0.004490,  0.007132,
    -0.002090,  0.001316,  0.006115, -0.020867, -0.047149, -0.020867,  0.006115,  0.001316, -0.002090,
    -0.000450,  0.000283,  0.001316, -0.004490, -0.010146, -0.004490,  0.001316,  0.000283, -0.000450,
     0.000714, -0.000450, -0.002090,  0.007132,  0.016114,  0.007132, -0.002090, -0.000450,  0.000714,
];
pub const LPF_LEN: usize = 9;

/// Wang et al.'s exponents of l, c and s per scale (public for other backends, e.g. lv-gpu).
pub const ALPHAS: [f32; SCALES] = [0.0, 0.0, 0.0, 0.0, 0.1333];
pub const BETAS: [f32; SCALES] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];
pub const GAMMAS: [f32; SCALES] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333];

/// Per-frame MS-SSIM with the per-scale luminance, contrast and structure means (libvmaf's
/// `float_ms_ssim` and, with `enable_lcs`, `float_ms_ssim_{l,c,s}_scale{0..4}`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct MsSsimScores {
    pub ms_ssim: f64,
    pub l: [f64; SCALES],
    pub c: [f64; SCALES],
    pub s: [f64; SCALES],
}

/// libvmaf's `float_ms_ssim` for one size and bit depth.
#[derive(Clone, Debug)]
pub struct FloatMsSsim {
    width: usize,
    height: usize,
    dims: [(usize, usize); SCALES],
    r: [Vec<f32>; SCALES],
    d: [Vec<f32>; SCALES],
    /// Even/odd column split of the level being down-sampled.
    split: Vec<f32>,
    core: SsimCore,
}

impl FloatMsSsim {
    pub fn new(width: usize, height: usize, bpc: u32) -> Result<Self, SsimError> {
        if !(8..=16).contains(&bpc) {
            return Err(SsimError::BitDepth(bpc));
        }
        // libvmaf's check halves with truncation even though the pyramid rounds up.
        let (mut cw, mut ch) = (width, height);
        for _ in 0..SCALES {
            if cw < 11 || ch < 11 {
                return Err(SsimError::TooSmall {
                    width,
                    height,
                    what: "MS-SSIM needs at least 176x176 (libvmaf: \"scale below 1x1\")",
                });
            }
            cw /= 2;
            ch /= 2;
        }
        let mut dims = [(0, 0); SCALES];
        let (mut cw, mut ch) = (width, height);
        for dim in dims.iter_mut() {
            *dim = (cw, ch);
            cw = decimated_len(cw, 2);
            ch = decimated_len(ch, 2);
        }
        let bufs = || dims.map(|(w, h)| vec![0.0f32; w * h]);
        Ok(FloatMsSsim {
            width,
            height,
            dims,
            r: bufs(),
            d: bufs(),
            split: vec![0.0; width * height],
            core: SsimCore::new(width),
        })
    }

    /// MS-SSIM of the luma planes `r` (reference) and `d` (distorted).
    ///
    /// # Panics
    /// If a plane's size differs from the one given to `new`.
    pub fn compute(&mut self, r: &Plane, d: &Plane) -> f64 {
        self.compute_lcs(r, d).ms_ssim
    }

    pub fn compute_lcs(&mut self, r: &Plane, d: &Plane) -> MsSsimScores {
        for p in [r, d] {
            assert!(
                p.width == self.width && p.height == self.height,
                "float_ms_ssim: plane is {}x{}, extractor was made for {}x{}",
                p.width,
                p.height,
                self.width,
                self.height
            );
        }
        load_plane(r, &mut self.r[0]);
        load_plane(d, &mut self.d[0]);
        for i in 1..SCALES {
            let (w, h) = self.dims[i - 1];
            for pyr in [&mut self.r, &mut self.d] {
                let (src, dst) = pyr.split_at_mut(i);
                downsample(&src[i - 1], w, h, &mut dst[0], &mut self.split);
            }
        }
        let mut out = MsSsimScores {
            ms_ssim: 1.0,
            l: [0.0; SCALES],
            c: [0.0; SCALES],
            s: [0.0; SCALES],
        };
        let mut msssim = 1.0f64;
        for i in 0..SCALES {
            let (w, h) = self.dims[i];
            let m = self.core.compute(&self.r[i], &self.d[i], w, h);
            let (l, c, s) = (m.l as f64, m.c as f64, m.s as f64);
            msssim *= l.powf(ALPHAS[i] as f64) * c.powf(BETAS[i] as f64) * s.powf(GAMMAS[i] as f64);
            out.l[i] = l;
            out.c[i] = c;
            out.s[i] = s;
        }
        out.ms_ssim = msssim;
        out
    }
}

/// One pyramid step: 9x9 low-pass at every second pixel of `src` (`w x h`) into `dst`.
///
/// Away from the borders the outputs of a row are computed together: with the source split
/// into even and odd columns (`split`, at least `w * h` long), each tap reads a contiguous
/// run, so the per-output sums vectorise across outputs without changing their order.
fn downsample(src: &[f32], w: usize, h: usize, dst: &mut [f32], split: &mut [f32]) {
    let (sw, sh) = (decimated_len(w, 2), decimated_len(h, 2));
    const C: usize = LPF_LEN / 2;
    let (we, wo) = (w.div_ceil(2), w / 2);
    let (even, odd) = split[..w * h].split_at_mut(we * h);
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        for (x, e) in even[y * we..(y + 1) * we].iter_mut().enumerate() {
            *e = row[2 * x];
        }
        for (x, o) in odd[y * wo..(y + 1) * wo].iter_mut().enumerate() {
            *o = row[2 * x + 1];
        }
    }
    // Outputs whose 9x9 window lies inside the image horizontally: 2x - 4 >= 0, 2x + 4 < w.
    let x_lo = C / 2;
    let x_hi = ((w + 1).saturating_sub(C) / 2).clamp(x_lo, sw);
    for y in 0..sh {
        let cy = 2 * y;
        let row_out = &mut dst[y * sw..(y + 1) * sw];
        let interior_row = cy >= C && cy + C < h;
        for (x, o) in row_out.iter_mut().enumerate() {
            if !interior_row || x < x_lo || x >= x_hi {
                *o = filter_pixel(src, w, h, 2 * x, cy, &LPF, LPF_LEN);
            }
        }
        if !interior_row || x_lo >= x_hi {
            continue;
        }
        let n = x_hi - x_lo;
        let taps: [&[f32]; LPF_LEN * LPF_LEN] = std::array::from_fn(|t| {
            let (v, u) = (t / LPF_LEN, t % LPF_LEN);
            let r = cy + v - C;
            // Column 2x + u - 4 is even column x + u/2 - 2, or odd column x + (u-1)/2 - 2.
            if u % 2 == 0 {
                &even[r * we + x_lo + u / 2 - C / 2..][..n]
            } else {
                &odd[r * wo + x_lo + (u - 1) / 2 - C / 2..][..n]
            }
        });
        fir(&taps, &LPF, &mut row_out[x_lo..x_hi]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssim::noise;

    #[test]
    fn minimum_size_follows_libvmaf() {
        assert!(matches!(
            FloatMsSsim::new(176, 144, 8),
            Err(SsimError::TooSmall { .. })
        ));
        assert!(matches!(
            FloatMsSsim::new(175, 400, 8),
            Err(SsimError::TooSmall { .. })
        ));
        assert!(FloatMsSsim::new(176, 176, 8).is_ok());
        assert!(FloatMsSsim::new(320, 180, 8).is_ok());
        assert!(matches!(
            FloatMsSsim::new(320, 180, 17),
            Err(SsimError::BitDepth(17))
        ));
    }

    #[test]
    fn identical_is_one_and_odd_sizes_work() {
        let (w, h) = (181, 177);
        let a = noise(w * h, 11);
        let p = Plane::new_u8(&a, w, h, w);
        let mut m = FloatMsSsim::new(w, h, 8).unwrap();
        let v = m.compute_lcs(&p, &p);
        assert!((v.ms_ssim - 1.0).abs() < 1e-5, "{v:?}");
        let b = noise(w * h, 12);
        let q = Plane::new_u8(&b, w, h, w);
        let v = m.compute(&p, &q);
        assert!(v < 0.5, "{v}");
    }

    #[test]
    fn fast_downsample_path_matches_generic() {
        for (w, h) in [(37, 29), (36, 30), (11, 11), (9, 12), (5, 5), (64, 20)] {
            let src: Vec<f32> = noise(w * h, 13).iter().map(|&v| v as f32).collect();
            let (sw, sh) = (decimated_len(w, 2), decimated_len(h, 2));
            let mut dst = vec![0.0; sw * sh];
            let mut split = vec![0.0; w * h];
            downsample(&src, w, h, &mut dst, &mut split);
            for y in 0..sh {
                for x in 0..sw {
                    let want = filter_pixel(&src, w, h, 2 * x, 2 * y, &LPF, LPF_LEN);
                    assert_eq!(dst[y * sw + x], want, "{w}x{h} at {x},{y}");
                }
            }
        }
    }
}
