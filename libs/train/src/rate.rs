//! A differentiable stand-in for the bits an encoder spends on a picture.
//!
//! Block transform coders spend roughly `log2(1 + |c| / q)` bits on a transform coefficient
//! `c` quantised with step `q`, so `R(y) = Σ_blocks Σ_AC log2(1 + |DCT8x8(y)| / q)` tracks the
//! rate's dependence on the picture's detail (the rate proxy of SCALED, after Sandwich). It is
//! a proxy, not a bit count: training weighs it by a factor chosen on held-out BD-rate.
//! The DC coefficient is left out: it costs the same whatever the detail, and predicting
//! it is the encoder's business. Partial blocks at the right and bottom edges are left out too.
//!
//! Hand-written because it is an 8x8 orthonormal DCT and its transpose on the training
//! engine's flat buffers; nothing here is worth a dependency.

/// Width (8-bit levels) of the rounding of `|c|` at zero.
const SMOOTH: f32 = 1.0;

/// The orthonormal 8-point DCT-II basis, `m[k][n]`.
fn basis() -> [[f32; 8]; 8] {
    let mut m = [[0f32; 8]; 8];
    for (k, row) in m.iter_mut().enumerate() {
        let a = if k == 0 {
            (1.0f64 / 8.0).sqrt()
        } else {
            (2.0f64 / 8.0).sqrt()
        };
        for (n, v) in row.iter_mut().enumerate() {
            *v = (a * (std::f64::consts::PI * (2 * n + 1) as f64 * k as f64 / 16.0).cos()) as f32;
        }
    }
    m
}

/// H.264's quantiser step for `qp` (it doubles every 6 QP; 0.625 at QP 0).
pub fn qstep(qp: f32) -> f32 {
    0.625 * 2f32.powf(qp / 6.0)
}

/// `R(y)` in proxy bits per sample, and `dR/dy`, for a `w x h` picture `y` in 0..1 units
/// (coefficients are taken in 8-bit levels, so `q` is in levels too).
#[allow(clippy::needless_range_loop)] // the indices are the matrix products' k, l, i, j
pub fn rate_proxy(y: &[f32], w: usize, h: usize, q: f32) -> (f64, Vec<f32>) {
    assert_eq!(y.len(), w * h);
    assert!(q > 0.0);
    let m = basis();
    let mut grad = vec![0f32; w * h];
    let mut bits = 0f64;
    let ln2 = std::f32::consts::LN_2;
    let n = (w * h).max(1) as f32;
    for by in 0..h / 8 {
        for bx in 0..w / 8 {
            let mut blk = [[0f32; 8]; 8];
            for (i, row) in blk.iter_mut().enumerate() {
                for (j, v) in row.iter_mut().enumerate() {
                    *v = y[(by * 8 + i) * w + bx * 8 + j] * 255.0;
                }
            }
            // c = M · blk · Mᵀ
            let mut t = [[0f32; 8]; 8];
            for k in 0..8 {
                for j in 0..8 {
                    t[k][j] = (0..8).map(|i| m[k][i] * blk[i][j]).sum();
                }
            }
            let mut c = [[0f32; 8]; 8];
            for k in 0..8 {
                for l in 0..8 {
                    c[k][l] = (0..8).map(|j| t[k][j] * m[l][j]).sum();
                }
            }
            // dR/dc, then back through the transform: dR/dblk = Mᵀ · dc · M.
            let mut dc = [[0f32; 8]; 8];
            for k in 0..8 {
                for l in 0..8 {
                    if k == 0 && l == 0 {
                        continue;
                    }
                    // |c| smoothed near 0 (within SMOOTH levels), so the proxy has a gradient
                    // everywhere instead of a kink at every coefficient that crosses zero.
                    let r = (c[k][l] * c[k][l] + SMOOTH * SMOOTH).sqrt();
                    let a = r - SMOOTH;
                    bits += ((1.0 + a / q).log2()) as f64;
                    dc[k][l] = c[k][l] / r / ((q + a) * ln2);
                }
            }
            let mut u = [[0f32; 8]; 8];
            for i in 0..8 {
                for l in 0..8 {
                    u[i][l] = (0..8).map(|k| m[k][i] * dc[k][l]).sum();
                }
            }
            for i in 0..8 {
                for j in 0..8 {
                    let g: f32 = (0..8).map(|l| u[i][l] * m[l][j]).sum();
                    grad[(by * 8 + i) * w + bx * 8 + j] = g * 255.0 / n;
                }
            }
        }
    }
    (bits / n as f64, grad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basis_is_orthonormal() {
        let m = basis();
        for a in 0..8 {
            for b in 0..8 {
                let d: f32 = (0..8).map(|n| m[a][n] * m[b][n]).sum();
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((d - want).abs() < 1e-6, "{a} {b} {d}");
            }
        }
    }

    /// `dR/dy` against central differences on a textured 20x17 picture (two full blocks
    /// across, two down, and edge samples that must get no gradient).
    #[test]
    fn gradient_matches_finite_differences() {
        let (w, h) = (20usize, 17usize);
        let y: Vec<f32> = (0..w * h)
            .map(|i| {
                let (x, r) = ((i % w) as f32, (i / w) as f32);
                0.5 + 0.2 * (x * 0.9).sin() * (r * 0.6).cos() + 0.05 * ((x * r) * 0.37).sin()
            })
            .collect();
        let q = qstep(30.0);
        let (r0, g) = rate_proxy(&y, w, h, q);
        assert!(r0 > 0.1, "{r0}");
        let eps = 1e-3f32;
        for i in (0..w * h).step_by(3) {
            let mut p = y.clone();
            p[i] += eps;
            let mut mm = y.clone();
            mm[i] -= eps;
            let num = (rate_proxy(&p, w, h, q).0 - rate_proxy(&mm, w, h, q).0) / (2.0 * eps as f64);
            let (x, r) = (i % w, i / w);
            if x >= 16 || r >= 16 {
                assert_eq!(g[i], 0.0, "edge sample {x},{r}");
            }
            assert!(
                (num - g[i] as f64).abs() < 2e-3 * (1.0 + num.abs()),
                "sample {x},{r}: analytic {} numeric {num}",
                g[i]
            );
        }
    }

    /// More detail costs more, a flat picture costs nothing, a coarser quantiser costs less.
    #[test]
    fn rate_follows_detail_and_quantiser() {
        let (w, h) = (16usize, 16usize);
        let flat = vec![0.4f32; w * h];
        let tex: Vec<f32> = (0..w * h)
            .map(|i| 0.4 + 0.1 * (((i % w) ^ (i / w)) & 1) as f32)
            .collect();
        let soft: Vec<f32> = (0..w * h)
            .map(|i| 0.4 + 0.02 * (((i % w) ^ (i / w)) & 1) as f32)
            .collect();
        assert!(rate_proxy(&flat, w, h, qstep(30.0)).0 < 1e-6);
        let (rt, rs) = (
            rate_proxy(&tex, w, h, qstep(30.0)).0,
            rate_proxy(&soft, w, h, qstep(30.0)).0,
        );
        assert!(rt > rs && rs > 0.0, "{rt} {rs}");
        assert!(rate_proxy(&tex, w, h, qstep(40.0)).0 < rt);
    }
}
