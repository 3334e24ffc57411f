//! Element-wise and reshuffling ops with their backward passes: ReLU, and ONNX's
//! `SpaceToDepth` / `DepthToSpace` (mode DCR), with exactly the index maps the ONNX
//! operator definitions give through their reshape/transpose formulas:
//!
//! - `SpaceToDepth(b)`: `[C, H, W] -> [C b², H/b, W/b]`,
//!   `out[(i b + j) C + c][y][x] = in[c][y b + i][x b + j]`
//!   (reshape `[C, H/b, b, W/b, b]`, transpose `[3, 5, 0, 1, 2]` per image);
//! - `DepthToSpace(b, DCR)`: `[C, H, W] -> [C / b², H b, W b]`,
//!   `out[c][y b + i][x b + j] = in[(i b + j) C' + c][y][x]` with `C' = C / b²`
//!   (reshape `[b, b, C', H, W]`, transpose `[2, 3, 0, 4, 1]`).
//!
//! Both are permutations and each is the other's inverse, so each one's backward pass is
//! the other op.

/// Rectified linear unit in place.
pub fn relu(x: &mut [f32]) {
    for v in x {
        *v = v.max(0.0);
    }
}

/// Backward of ReLU given its output `y`: zeroes `dy` where the unit was off.
pub fn relu_backward(y: &[f32], dy: &mut [f32]) {
    for (g, &v) in dy.iter_mut().zip(y) {
        if v <= 0.0 {
            *g = 0.0;
        }
    }
}

/// ONNX `SpaceToDepth` on one image `[c, h, w]` (h, w multiples of `b`).
pub fn space_to_depth(x: &[f32], c: usize, h: usize, w: usize, b: usize, out: &mut [f32]) {
    assert!(
        h.is_multiple_of(b) && w.is_multiple_of(b),
        "space_to_depth: {h}x{w} not a multiple of {b}"
    );
    let (oh, ow) = (h / b, w / b);
    for i in 0..b {
        for j in 0..b {
            for ci in 0..c {
                let oc = (i * b + j) * c + ci;
                for y in 0..oh {
                    let src = &x[(ci * h + y * b + i) * w..][..w];
                    let dst = &mut out[(oc * oh + y) * ow..][..ow];
                    for (xx, d) in dst.iter_mut().enumerate() {
                        *d = src[xx * b + j];
                    }
                }
            }
        }
    }
}

/// ONNX `DepthToSpace` (DCR) on one image `[c, h, w]` (`c` a multiple of `b²`).
pub fn depth_to_space(x: &[f32], c: usize, h: usize, w: usize, b: usize, out: &mut [f32]) {
    assert!(
        c.is_multiple_of(b * b),
        "depth_to_space: {c} channels not a multiple of {}",
        b * b
    );
    let oc = c / (b * b);
    let (oh, ow) = (h * b, w * b);
    for i in 0..b {
        for j in 0..b {
            for co in 0..oc {
                let ic = (i * b + j) * oc + co;
                for y in 0..h {
                    let src = &x[(ic * h + y) * w..][..w];
                    let dst = &mut out[(co * oh + y * b + i) * ow..][..ow];
                    for (xx, &s) in src.iter().enumerate() {
                        dst[xx * b + j] = s;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ONNX definitions spelled out as generic reshape + transpose on index tuples.
    fn transpose_ref(x: &[f32], dims: &[usize], perm: &[usize]) -> Vec<f32> {
        let n = dims.len();
        let mut strides = vec![1; n];
        for k in (0..n - 1).rev() {
            strides[k] = strides[k + 1] * dims[k + 1];
        }
        let odims: Vec<usize> = perm.iter().map(|&p| dims[p]).collect();
        let total: usize = dims.iter().product();
        let mut out = vec![0.0; total];
        let mut idx = vec![0usize; n];
        for (o, v) in out.iter_mut().enumerate() {
            let mut r = o;
            for k in (0..n).rev() {
                idx[k] = r % odims[k];
                r /= odims[k];
            }
            let src: usize = (0..n).map(|k| idx[k] * strides[perm[k]]).sum();
            *v = x[src];
        }
        out
    }

    #[test]
    fn match_onnx_reshape_transpose_definitions() {
        let (c, h, w, b) = (3usize, 4usize, 6usize, 2usize);
        let x: Vec<f32> = (0..c * h * w).map(|v| v as f32).collect();
        // SpaceToDepth: reshape [N, C, H/b, b, W/b, b], transpose [0, 3, 5, 1, 2, 4].
        let want = transpose_ref(&x, &[1, c, h / b, b, w / b, b], &[0, 3, 5, 1, 2, 4]);
        let mut got = vec![0.0; x.len()];
        space_to_depth(&x, c, h, w, b, &mut got);
        assert_eq!(got, want);
        // DepthToSpace DCR: reshape [N, b, b, C/b², H, W], transpose [0, 3, 4, 1, 5, 2].
        let c2 = 8usize;
        let x2: Vec<f32> = (0..c2 * h * w).map(|v| v as f32).collect();
        let want = transpose_ref(&x2, &[1, b, b, c2 / 4, h, w], &[0, 3, 4, 1, 5, 2]);
        let mut got = vec![0.0; x2.len()];
        depth_to_space(&x2, c2, h, w, b, &mut got);
        assert_eq!(got, want);
    }

    /// For permutations the adjoint is the inverse: `<s2d(x), y> = <x, d2s(y)>`.
    #[test]
    fn are_mutually_inverse_and_adjoint() {
        let (c, h, w, b) = (2usize, 6usize, 4usize, 2usize);
        let x: Vec<f32> = (0..c * h * w).map(|v| (v as f32 * 0.37).sin()).collect();
        let y: Vec<f32> = (0..c * h * w).map(|v| (v as f32 * 0.91).cos()).collect();
        let mut s = vec![0.0; x.len()];
        space_to_depth(&x, c, h, w, b, &mut s);
        let mut back = vec![0.0; x.len()];
        depth_to_space(&s, c * 4, h / 2, w / 2, b, &mut back);
        assert_eq!(back, x);
        let mut dy = vec![0.0; y.len()];
        depth_to_space(&y, c * 4, h / 2, w / 2, b, &mut dy);
        let lhs: f64 = s.iter().zip(&y).map(|(a, b)| (*a * *b) as f64).sum();
        let rhs: f64 = x.iter().zip(&dy).map(|(a, b)| (*a * *b) as f64).sum();
        assert!((lhs - rhs).abs() < 1e-9);
    }

    #[test]
    fn relu_backward_masks_inactive_units() {
        let mut y = vec![-1.0, 0.0, 2.0];
        relu(&mut y);
        assert_eq!(y, vec![0.0, 0.0, 2.0]);
        let mut g = vec![5.0, 6.0, 7.0];
        relu_backward(&y, &mut g);
        assert_eq!(g, vec![0.0, 0.0, 7.0]);
    }
}
