//! 3x3 convolution, padding 1, stride 1, as im2col + one sgemm per image, and its backward
//! pass (input, weight and bias gradients).
//!
//! The GEMM is `matrixmultiply::sgemm`, which takes arbitrary row/column strides, so the
//! transposed products of the backward pass read the same buffers without copies. It runs
//! single-threaded here: the training loop parallelizes over the images of a batch (rayon),
//! which keeps every core busy on the small matrices of a 4..32-channel net far better than
//! splitting each small GEMM would.
//!
//! Weights are `[cout][cin][3][3]` (ONNX `Conv` layout), bias `[cout]`.

/// Rows of the im2col matrix for `cin` input channels.
pub fn col_rows(cin: usize) -> usize {
    cin * 9
}

/// `col[(ci * 9 + ky * 3 + kx) * h * w + y * w + x] = x[ci][y + ky - 1][x + kx - 1]`, zero outside.
pub fn im2col(x: &[f32], cin: usize, h: usize, w: usize, col: &mut [f32]) {
    let hw = h * w;
    debug_assert!(x.len() >= cin * hw && col.len() >= cin * 9 * hw);
    for ci in 0..cin {
        let src = &x[ci * hw..(ci + 1) * hw];
        for ky in 0..3 {
            for kx in 0..3 {
                let r = ci * 9 + ky * 3 + kx;
                let dst = &mut col[r * hw..(r + 1) * hw];
                for y in 0..h {
                    let sy = y as isize + ky as isize - 1;
                    let drow = &mut dst[y * w..(y + 1) * w];
                    if sy < 0 || sy >= h as isize {
                        drow.fill(0.0);
                        continue;
                    }
                    let srow = &src[sy as usize * w..(sy as usize + 1) * w];
                    // kx = 0 reads x - 1, kx = 2 reads x + 1: shifted copies with one zero.
                    match kx {
                        0 => {
                            drow[0] = 0.0;
                            drow[1..].copy_from_slice(&srow[..w - 1]);
                        }
                        1 => drow.copy_from_slice(srow),
                        _ => {
                            drow[..w - 1].copy_from_slice(&srow[1..]);
                            drow[w - 1] = 0.0;
                        }
                    }
                }
            }
        }
    }
}

/// Adjoint of [`im2col`]: accumulates `col` into `dx` (`dx += im2colᵀ col`).
pub fn col2im_add(col: &[f32], cin: usize, h: usize, w: usize, dx: &mut [f32]) {
    let hw = h * w;
    for ci in 0..cin {
        let dst = &mut dx[ci * hw..(ci + 1) * hw];
        for ky in 0..3 {
            for kx in 0..3 {
                let r = ci * 9 + ky * 3 + kx;
                let src = &col[r * hw..(r + 1) * hw];
                for y in 0..h {
                    let sy = y as isize + ky as isize - 1;
                    if sy < 0 || sy >= h as isize {
                        continue;
                    }
                    let crow = &src[y * w..(y + 1) * w];
                    let drow = &mut dst[sy as usize * w..(sy as usize + 1) * w];
                    match kx {
                        0 => {
                            for (d, s) in drow[..w - 1].iter_mut().zip(&crow[1..]) {
                                *d += s;
                            }
                        }
                        1 => {
                            for (d, s) in drow.iter_mut().zip(crow) {
                                *d += s;
                            }
                        }
                        _ => {
                            for (d, s) in drow[1..].iter_mut().zip(&crow[..w - 1]) {
                                *d += s;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `C (m x n, row stride ldc) = alpha * A B + beta * C` with explicit strides.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    rsa: usize,
    csa: usize,
    b: &[f32],
    rsb: usize,
    csb: usize,
    beta: f32,
    c: &mut [f32],
    ldc: usize,
) {
    assert!(m == 0 || k == 0 || a.len() > (m - 1) * rsa + (k - 1) * csa);
    assert!(k == 0 || n == 0 || b.len() > (k - 1) * rsb + (n - 1) * csb);
    assert!(m == 0 || n == 0 || c.len() >= (m - 1) * ldc + n);
    // SAFETY: the asserts above bound every index the kernel touches.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            rsa as isize,
            csa as isize,
            b.as_ptr(),
            rsb as isize,
            csb as isize,
            beta,
            c.as_mut_ptr(),
            ldc as isize,
            1,
        );
    }
}

/// Forward pass for one image: `out[cout][h][w] = bias + W * im2col(x)`.
/// `col` is scratch of at least `cin * 9 * h * w`; on return it holds `im2col(x)`.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    x: &[f32],
    cin: usize,
    h: usize,
    w: usize,
    weight: &[f32],
    bias: &[f32],
    cout: usize,
    out: &mut [f32],
    col: &mut [f32],
) {
    let hw = h * w;
    let k = cin * 9;
    im2col(x, cin, h, w, col);
    for (o, b) in bias.iter().enumerate().take(cout) {
        out[o * hw..(o + 1) * hw].fill(*b);
    }
    sgemm(cout, k, hw, weight, k, 1, col, hw, 1, 1.0, out, hw);
}

/// Backward pass for one image, given the input `x` and `dy = dL/d out`:
/// accumulates `dw += dy im2col(x)ᵀ`, `db += Σ dy`, and, when `dx` is given, overwrites
/// `dx = col2im(Wᵀ dy)`. `col` is scratch of at least `cin * 9 * h * w`.
#[allow(clippy::too_many_arguments)]
pub fn backward(
    x: &[f32],
    cin: usize,
    h: usize,
    w: usize,
    weight: &[f32],
    cout: usize,
    dy: &[f32],
    dx: Option<&mut [f32]>,
    dw: &mut [f32],
    db: &mut [f32],
    col: &mut [f32],
) {
    let hw = h * w;
    let k = cin * 9;
    for o in 0..cout {
        db[o] += dy[o * hw..(o + 1) * hw]
            .iter()
            .map(|&v| v as f64)
            .sum::<f64>() as f32;
    }
    im2col(x, cin, h, w, col);
    // dW (cout x k) += dy (cout x hw) * colᵀ (hw x k)
    sgemm(cout, hw, k, dy, hw, 1, col, 1, hw, 1.0, dw, k);
    if let Some(dx) = dx {
        // dcol (k x hw) = Wᵀ (k x cout) * dy (cout x hw), then scattered back.
        sgemm(k, cout, hw, weight, 1, k, dy, hw, 1, 0.0, col, hw);
        dx[..cin * hw].fill(0.0);
        col2im_add(col, cin, h, w, dx);
    }
}

/// Multiply-accumulates of one forward pass of a `cin -> cout` 3x3 conv on `h x w`.
pub fn macs(cin: usize, cout: usize, h: usize, w: usize) -> u64 {
    (cin * cout * 9 * h * w) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn rnd(rng: &mut rand_pcg::Pcg64, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
    }

    /// Direct convolution in f64: the definition the im2col path must equal.
    fn direct(
        x: &[f32],
        cin: usize,
        h: usize,
        w: usize,
        wt: &[f32],
        b: &[f32],
        cout: usize,
    ) -> Vec<f64> {
        let mut out = vec![0.0f64; cout * h * w];
        for o in 0..cout {
            for y in 0..h {
                for xx in 0..w {
                    let mut s = b[o] as f64;
                    for ci in 0..cin {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let sy = y as isize + ky as isize - 1;
                                let sx = xx as isize + kx as isize - 1;
                                if sy < 0 || sx < 0 || sy >= h as isize || sx >= w as isize {
                                    continue;
                                }
                                s += wt[((o * cin + ci) * 3 + ky) * 3 + kx] as f64
                                    * x[(ci * h + sy as usize) * w + sx as usize] as f64;
                            }
                        }
                    }
                    out[(o * h + y) * w + xx] = s;
                }
            }
        }
        out
    }

    #[test]
    fn forward_matches_direct_convolution() {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(1);
        for &(cin, cout, h, w) in &[(1, 1, 1, 1), (4, 5, 3, 7), (3, 2, 8, 2), (16, 16, 9, 11)] {
            let x = rnd(&mut rng, cin * h * w);
            let wt = rnd(&mut rng, cout * cin * 9);
            let b = rnd(&mut rng, cout);
            let mut out = vec![0.0; cout * h * w];
            let mut col = vec![0.0; cin * 9 * h * w];
            forward(&x, cin, h, w, &wt, &b, cout, &mut out, &mut col);
            let want = direct(&x, cin, h, w, &wt, &b, cout);
            for (a, b) in out.iter().zip(&want) {
                assert!(
                    (*a as f64 - b).abs() < 1e-4,
                    "{a} vs {b} for {cin}->{cout} {h}x{w}"
                );
            }
        }
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(2);
        let (cin, h, w) = (3, 5, 6);
        let x = rnd(&mut rng, cin * h * w);
        let c = rnd(&mut rng, cin * 9 * h * w);
        let mut col = vec![0.0; c.len()];
        im2col(&x, cin, h, w, &mut col);
        let lhs: f64 = col
            .iter()
            .zip(&c)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum();
        let mut dx = vec![0.0; x.len()];
        col2im_add(&c, cin, h, w, &mut dx);
        let rhs: f64 = x
            .iter()
            .zip(&dx)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum();
        assert!((lhs - rhs).abs() < 1e-3, "{lhs} vs {rhs}");
    }

    /// Central finite differences (in f64, on the f64 direct convolution) of the loss
    /// `L = Σ r ⊙ conv(x)` against the analytic gradients.
    #[test]
    fn backward_matches_finite_differences() {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(3);
        let (cin, cout, h, w) = (3, 4, 5, 7);
        let x = rnd(&mut rng, cin * h * w);
        let wt = rnd(&mut rng, cout * cin * 9);
        let b = rnd(&mut rng, cout);
        let r = rnd(&mut rng, cout * h * w);
        let loss = |x: &[f32], wt: &[f32], b: &[f32]| -> f64 {
            direct(x, cin, h, w, wt, b, cout)
                .iter()
                .zip(&r)
                .map(|(a, r)| a * *r as f64)
                .sum()
        };
        let mut dx = vec![0.0; x.len()];
        let mut dw = vec![0.0; wt.len()];
        let mut db = vec![0.0; b.len()];
        let mut col = vec![0.0; cin * 9 * h * w];
        backward(
            &x,
            cin,
            h,
            w,
            &wt,
            cout,
            &r,
            Some(&mut dx),
            &mut dw,
            &mut db,
            &mut col,
        );
        let eps = 1e-2f32;
        let check = |name: &str, analytic: &[f32], f: &dyn Fn(usize, f32) -> f64| {
            for (i, &a) in analytic.iter().enumerate() {
                let num = (f(i, eps) - f(i, -eps)) / (2.0 * eps as f64);
                let a = a as f64;
                assert!(
                    (num - a).abs() <= 1e-3 * (1.0 + num.abs()),
                    "{name}[{i}]: analytic {a} numeric {num}"
                );
            }
        };
        check("dx", &dx, &|i, e| {
            let mut x2 = x.clone();
            x2[i] += e;
            loss(&x2, &wt, &b)
        });
        check("dw", &dw, &|i, e| {
            let mut w2 = wt.clone();
            w2[i] += e;
            loss(&x, &w2, &b)
        });
        check("db", &db, &|i, e| {
            let mut b2 = b.clone();
            b2[i] += e;
            loss(&x, &wt, &b2)
        });
    }
}
