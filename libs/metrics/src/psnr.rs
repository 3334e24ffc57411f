//! PSNR as libvmaf's `psnr` feature extractor reports it (`psnr_y`, `psnr_cb`, `psnr_cr`).
//!
//! libvmaf's conventions, reproduced here:
//! - the peak is 255 for 8-bit input and `2^bpc - 1` above (or `255 << (bpc-8)` with
//!   `reduced_hbd_peak`);
//! - a plane's PSNR is capped at `6 * bpc + 12` dB (60 dB for 8-bit), which is what identical
//!   planes report; with a non-zero `min_sse` the cap is instead the PSNR of a plane whose
//!   SSE equals `min_sse`, rounded up to a whole dB;
//! - chroma planes are scored at their own (subsampled) size and skipped for monochrome input;
//!   for odd luma sizes libvmaf's chroma planes are `w >> 1` wide (`h >> 1` high for 4:2:0),
//!   one less than y4m/GStreamer's rounded-up planes, and [`Psnr`] scores only that part.
//!
//! libvmaf only accepts 8, 10, 12 and 16 bits; other depths (9, 11, 13..15) are computed here
//! with the same formulas.

use serde::Serialize;

use lv_image::plane::Chroma;
use lv_image::plane::{Plane, Samples};

/// Squared-error total of one plane pair; the raw material for per-frame PSNR and for
/// pooled ("aggregate") PSNR over a whole sequence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PlaneSse {
    pub sse: u64,
    pub n_pixels: u64,
}

impl PlaneSse {
    pub fn mse(&self) -> f64 {
        self.sse as f64 / self.n_pixels as f64
    }

    /// PSNR for `peak`, capped at `psnr_max`; identical planes give `psnr_max`.
    pub fn psnr(&self, peak: u32, psnr_max: f64) -> f64 {
        let peak_sq = (peak as u64 * peak as u64) as f64;
        (10.0 * (peak_sq / self.mse().max(1e-16)).log10()).min(psnr_max)
    }
}

impl std::ops::AddAssign for PlaneSse {
    fn add_assign(&mut self, o: Self) {
        self.sse += o.sse;
        self.n_pixels += o.n_pixels;
    }
}

/// Sum of squared differences of two planes of the same size.
///
/// # Panics
/// If the planes differ in size.
pub fn plane_sse(r: &Plane, d: &Plane) -> PlaneSse {
    assert!(
        r.width == d.width && r.height == d.height,
        "psnr: plane sizes differ ({}x{} vs {}x{})",
        r.width,
        r.height,
        d.width,
        d.height
    );
    let (w, h) = (r.width, r.height);
    let mut sse = 0u64;
    for y in 0..h {
        sse += match (r.samples, d.samples) {
            (Samples::U8(a), Samples::U8(b)) => {
                row_sse_u8(&a[y * r.stride..][..w], &b[y * d.stride..][..w])
            }
            (Samples::U16(a), Samples::U16(b)) => {
                row_sse_u16(&a[y * r.stride..][..w], &b[y * d.stride..][..w])
            }
            (Samples::U8(a), Samples::U16(b)) => {
                row_sse_mixed(&a[y * r.stride..][..w], &b[y * d.stride..][..w])
            }
            (Samples::U16(a), Samples::U8(b)) => {
                row_sse_mixed(&b[y * d.stride..][..w], &a[y * r.stride..][..w])
            }
        };
    }
    PlaneSse {
        sse,
        n_pixels: (w * h) as u64,
    }
}

/// 8-bit rows sum in u32 chunks (2^15 squares of at most 255^2 cannot overflow), which keeps
/// the inner loop in 32-bit lanes.
fn row_sse_u8(a: &[u8], b: &[u8]) -> u64 {
    let mut total = 0u64;
    for (ca, cb) in a.chunks(1 << 15).zip(b.chunks(1 << 15)) {
        let mut acc = 0u32;
        for (&x, &y) in ca.iter().zip(cb) {
            let e = (x as i32 - y as i32).unsigned_abs();
            acc += e * e;
        }
        total += acc as u64;
    }
    total
}

fn row_sse_u16(a: &[u16], b: &[u16]) -> u64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let e = (x as u32).abs_diff(y as u32);
            (e * e) as u64
        })
        .sum()
}

fn row_sse_mixed(a: &[u8], b: &[u16]) -> u64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let e = (x as u32).abs_diff(y as u32) as u64;
            e * e
        })
        .sum()
}

/// The peak libvmaf uses for a plane of depth `bpc` with default options.
pub fn default_peak(bpc: u32) -> u32 {
    if bpc == 8 {
        255
    } else {
        (1u32 << bpc) - 1
    }
}

/// libvmaf's default PSNR cap for depth `bpc`: `6 * bpc + 12` dB.
pub fn default_psnr_max(bpc: u32) -> f64 {
    (6 * bpc + 12) as f64
}

/// PSNR of one plane pair with libvmaf's default settings (peak and cap from the reference's
/// `bpc`).
pub fn psnr_plane(r: &Plane, d: &Plane) -> f64 {
    plane_sse(r, d).psnr(default_peak(r.bpc), default_psnr_max(r.bpc))
}

/// libvmaf `psnr` options.
#[derive(Clone, Debug, PartialEq)]
pub struct PsnrOptions {
    /// Score Cb and Cr too (ignored for monochrome input). libvmaf default: true.
    pub enable_chroma: bool,
    /// If non-zero, sets the cap to the PSNR of this SSE. libvmaf default: 0.
    pub min_sse: f64,
    /// Use `255 << (bpc - 8)` as the high-bit-depth peak. libvmaf default: false.
    pub reduced_hbd_peak: bool,
}

impl Default for PsnrOptions {
    fn default() -> Self {
        PsnrOptions {
            enable_chroma: true,
            min_sse: 0.0,
            reduced_hbd_peak: false,
        }
    }
}

/// Per-frame PSNR of all scored planes.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PsnrScores {
    pub psnr_y: f64,
    pub psnr_cb: Option<f64>,
    pub psnr_cr: Option<f64>,
    /// Squared-error totals of Y, Cb, Cr (chroma zero when not scored).
    pub sse: [PlaneSse; 3],
}

impl PsnrScores {
    pub fn mse(&self, plane: usize) -> f64 {
        self.sse[plane].mse()
    }
}

/// The `psnr` extractor for one stream: remembers the caps and accumulates SSE over frames
/// for pooled PSNR (libvmaf's `apsnr`).
#[derive(Clone, Debug)]
pub struct Psnr {
    n_planes: usize,
    /// Peak used for high bit depth; 8-bit input always uses 255, as libvmaf does.
    peak: u32,
    bpc: u32,
    psnr_max: [f64; 3],
    total: [PlaneSse; 3],
    chroma_w: usize,
    chroma_h: usize,
}

impl Psnr {
    /// `width`/`height` are the luma size; `chroma` the subsampling of the input.
    pub fn new(width: usize, height: usize, bpc: u32, chroma: Chroma, opts: &PsnrOptions) -> Self {
        let peak = if opts.reduced_hbd_peak {
            255u32 << bpc.saturating_sub(8)
        } else {
            (1u32 << bpc) - 1
        };
        let mut psnr_max = [default_psnr_max(bpc); 3];
        if opts.min_sse != 0.0 {
            // libvmaf sizes chroma for this by truncating halves, not by y4m's rounding up.
            let ss_hor = chroma != Chroma::C444;
            let ss_ver = chroma == Chroma::C420;
            for (i, m) in psnr_max.iter_mut().enumerate() {
                let pw = if i > 0 && ss_hor { width / 2 } else { width };
                let ph = if i > 0 && ss_ver { height / 2 } else { height };
                let mse = opts.min_sse / (pw * ph) as f64;
                let peak_sq = (peak as u64 * peak as u64) as f64;
                *m = (10.0 * (peak_sq / mse).log10()).ceil();
            }
        }
        let n_planes = if opts.enable_chroma && chroma != Chroma::Mono {
            3
        } else {
            1
        };
        Psnr {
            n_planes,
            peak,
            bpc,
            psnr_max,
            total: Default::default(),
            chroma_w: width >> chroma.shifts().0,
            chroma_h: height >> chroma.shifts().1,
        }
    }

    /// libvmaf sizes chroma planes by truncation (`w >> 1`), so for odd luma sizes it
    /// ignores the last chroma column/row that y4m and GStreamer carry (they round up).
    fn crop_chroma<'a>(&self, p: Plane<'a>) -> Plane<'a> {
        Plane {
            width: p.width.min(self.chroma_w),
            height: p.height.min(self.chroma_h),
            ..p
        }
    }

    fn frame_peak(&self) -> u32 {
        if self.bpc == 8 {
            255
        } else {
            self.peak
        }
    }

    /// Scores one frame. `r` and `d` hold the Y, Cb, Cr planes (only Y is read when chroma is
    /// not scored).
    ///
    /// # Panics
    /// If fewer planes are given than scored, or plane sizes differ.
    pub fn compute(&mut self, r: &[Plane], d: &[Plane]) -> PsnrScores {
        let mut sse = [PlaneSse::default(); 3];
        let mut psnr = [0.0f64; 3];
        for p in 0..self.n_planes {
            let (rp, dp) = if p == 0 {
                (r[0], d[0])
            } else {
                (self.crop_chroma(r[p]), self.crop_chroma(d[p]))
            };
            sse[p] = plane_sse(&rp, &dp);
            self.total[p] += sse[p];
            psnr[p] = sse[p].psnr(self.frame_peak(), self.psnr_max[p]);
        }
        let chroma = self.n_planes == 3;
        PsnrScores {
            psnr_y: psnr[0],
            psnr_cb: chroma.then_some(psnr[1]),
            psnr_cr: chroma.then_some(psnr[2]),
            sse,
        }
    }

    /// PSNR of the SSE pooled over all frames so far (libvmaf's `apsnr_y/cb/cr` with
    /// `enable_apsnr`), capped at the PSNR of an SSE of 0.5 over the pooled pixels.
    pub fn aggregate(&self) -> [Option<f64>; 3] {
        let mut out = [None; 3];
        for (p, o) in out.iter_mut().enumerate().take(self.n_planes) {
            let t = self.total[p];
            if t.n_pixels == 0 {
                continue;
            }
            let peak_sq = self.peak as u64 * self.peak as u64;
            let v = 10.0
                * ((peak_sq as f64).log10() + (t.n_pixels as f64).log10() - (t.sse as f64).log10());
            let cap = (10.0 * ((peak_sq * t.n_pixels * 2) as f64).log10()).ceil();
            *o = Some(v.min(cap));
        }
        out
    }

    /// Pooled squared-error totals per plane.
    pub fn totals(&self) -> [PlaneSse; 3] {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_planes_hit_the_cap() {
        let a = vec![17u8; 33 * 17];
        let p = Plane::new_u8(&a, 33, 17, 33);
        assert_eq!(psnr_plane(&p, &p), 60.0);
        let b = vec![700u16; 8 * 3];
        let q = Plane::new_u16(&b, 8, 3, 8, 10);
        assert_eq!(psnr_plane(&q, &q), 72.0);
        let q12 = Plane::new_u16(&b, 8, 3, 8, 12);
        assert_eq!(psnr_plane(&q12, &q12), 84.0);
    }

    #[test]
    fn known_value_8bit() {
        // Every sample off by 1: MSE 1, PSNR = 20 log10(255).
        let a = vec![10u8; 7 * 5];
        let b = vec![11u8; 7 * 5];
        let pa = Plane::new_u8(&a, 7, 5, 7);
        let pb = Plane::new_u8(&b, 7, 5, 7);
        let v = psnr_plane(&pa, &pb);
        assert!((v - 20.0 * 255f64.log10()).abs() < 1e-12);
        assert_eq!(
            plane_sse(&pa, &pb),
            PlaneSse {
                sse: 35,
                n_pixels: 35
            }
        );
    }

    #[test]
    fn strided_and_mixed_storage_agree() {
        let a: Vec<u8> = (0..40).map(|i| (i * 7 % 256) as u8).collect();
        let b: Vec<u8> = (0..40).map(|i| (i * 5 % 256) as u8).collect();
        let pa = Plane::new_u8(&a, 5, 4, 10);
        let pb = Plane::new_u8(&b, 5, 4, 10);
        let owned = lv_image::plane::PlaneBuf::from_plane(&pb);
        let s1 = plane_sse(&pa, &pb);
        let s2 = plane_sse(&pa, &owned.view());
        assert_eq!(s1, s2);
        let mut manual = 0u64;
        for y in 0..4 {
            for x in 0..5 {
                let e = a[y * 10 + x] as i64 - b[y * 10 + x] as i64;
                manual += (e * e) as u64;
            }
        }
        assert_eq!(s1.sse, manual);
    }

    #[test]
    fn extractor_monochrome_and_aggregate() {
        let a = vec![100u16; 16];
        let b = vec![104u16; 16];
        let pa = Plane::new_u16(&a, 4, 4, 4, 10);
        let pb = Plane::new_u16(&b, 4, 4, 4, 10);
        let mut ex = Psnr::new(4, 4, 10, Chroma::Mono, &PsnrOptions::default());
        let s = ex.compute(&[pa], &[pb]);
        assert!(s.psnr_cb.is_none());
        let expect = 10.0 * (1023.0f64 * 1023.0 / 16.0).log10();
        assert!((s.psnr_y - expect).abs() < 1e-12);
        ex.compute(&[pa], &[pa]);
        let agg = ex.aggregate();
        assert!((agg[0].unwrap() - 10.0 * (1023.0f64 * 1023.0 / 8.0).log10()).abs() < 1e-9);
        assert!(agg[1].is_none());
    }

    #[test]
    fn odd_sizes_crop_chroma_like_libvmaf() {
        // 5x3 luma in 4:2:0: the planes carry 3x2 chroma, libvmaf scores the top-left 2x1.
        let y = vec![9u8; 15];
        let c_ref = vec![0u8; 6];
        let mut c_dis = vec![0u8, 0, 100, 100, 100, 100];
        let py = Plane::new_u8(&y, 5, 3, 5);
        fn chroma(c: &[u8]) -> Plane<'_> {
            Plane::new_u8(c, 3, 2, 3)
        }
        let mut ex = Psnr::new(5, 3, 8, Chroma::C420, &PsnrOptions::default());
        let s = ex.compute(
            &[py, chroma(&c_ref), chroma(&c_ref)],
            &[py, chroma(&c_dis), chroma(&c_ref)],
        );
        assert_eq!(s.psnr_cb, Some(60.0));
        assert_eq!(
            s.sse[1],
            PlaneSse {
                sse: 0,
                n_pixels: 2
            }
        );
        c_dis[1] = 2;
        let s = ex.compute(
            &[py, chroma(&c_ref), chroma(&c_ref)],
            &[py, chroma(&c_dis), chroma(&c_ref)],
        );
        assert_eq!(
            s.sse[1],
            PlaneSse {
                sse: 4,
                n_pixels: 2
            }
        );
        assert_eq!(s.psnr_y, 60.0);
    }

    #[test]
    fn extractor_is_send() {
        fn send<T: Send>() {}
        send::<Psnr>();
    }

    #[test]
    fn min_sse_sets_cap() {
        let ex = Psnr::new(
            64,
            32,
            8,
            Chroma::C420,
            &PsnrOptions {
                min_sse: 0.5,
                ..Default::default()
            },
        );
        assert_eq!(
            ex.psnr_max[0],
            (10.0 * (65025.0 * 64.0 * 32.0 / 0.5f64).log10()).ceil()
        );
        assert_eq!(
            ex.psnr_max[1],
            (10.0 * (65025.0 * 32.0 * 16.0 / 0.5f64).log10()).ceil()
        );
    }
}
