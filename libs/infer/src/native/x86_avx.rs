//! AVX+FMA kernels: 8-lane `__m256` for cout 8/16/24/32; for cout 4, dot products over the
//! input channels (cin 8/16/24/32) or 2 pixels per vector (cin 4), as the AVX-512 kernels do
//! with 4 pixels (see there), and a 4-lane `__m128` per pixel for cin 12.
//!
//! There is no separate AVX2 path: AVX2 adds 256-bit *integer* operations, while every f32
//! load, broadcast, FMA, max and add these kernels use is already in AVX+FMA, so an "AVX2"
//! build of them would compile to the same instructions.

use super::{Args, Mode};
use std::arch::x86_64::*;

/// Dispatches to the kernel for `(cin, cout)`; false when there is none (scalar path).
///
/// # Safety
/// `a` describes buffers the caller checked (see `super::conv`), and the CPU has AVX and FMA.
pub(super) unsafe fn conv(a: &Args, cin: usize, cout: usize) -> bool {
    macro_rules! pick {
        ($($cin:literal),*) => {
            match (cin, cout) {
                (4, 4) => pack2(a),
                (8, 4) => dot2::<8>(a),
                (12, 4) => conv4::<12>(a),
                (16, 4) => dot2::<16>(a),
                (24, 4) => dot2::<24>(a),
                (32, 4) => dot2::<32>(a),
                $(
                    ($cin, 8) => conv8::<$cin, 8, 1, 8>(a),
                    ($cin, 16) => conv8::<$cin, 16, 2, 4>(a),
                    ($cin, 24) => conv8::<$cin, 24, 3, 4>(a),
                    ($cin, 32) => conv8::<$cin, 32, 4, 3>(a),
                )*
                _ => return false,
            }
        };
    }
    pick!(4, 8, 12, 16, 24, 32);
    true
}

/// `cout = 8 * NV`: each pixel's outputs are NV vectors; P pixels per block.
#[target_feature(enable = "avx,fma")]
unsafe fn conv8<const CIN: usize, const COUT: usize, const NV: usize, const P: usize>(a: &Args) {
    for y in 0..a.h {
        let s = a.src.add(y * a.src_row);
        let d = a.dst.add(y * a.dst_row);
        let mut x = 0;
        while x + P <= a.w {
            block8::<CIN, COUT, NV, P>(a, s, d, x);
            x += P;
        }
        while x < a.w {
            block8::<CIN, COUT, NV, 1>(a, s, d, x);
            x += 1;
        }
    }
}

#[target_feature(enable = "avx,fma")]
#[inline]
unsafe fn block8<const CIN: usize, const COUT: usize, const NV: usize, const P: usize>(
    a: &Args,
    s: *const f32,
    d: *mut f32,
    x: usize,
) {
    let mut acc = [[_mm256_setzero_ps(); NV]; P];
    for p in acc.iter_mut() {
        for (v, q) in p.iter_mut().enumerate() {
            *q = _mm256_loadu_ps(a.b.add(v * 8));
        }
    }
    for ky in 0..3 {
        let row = s.add(ky * a.src_row + x * CIN);
        for kx in 0..3 {
            let px = row.add(kx * CIN);
            let wk = a.wt.add((ky * 3 + kx) * CIN * COUT);
            for ci in 0..CIN {
                let mut wv = [_mm256_setzero_ps(); NV];
                for (v, q) in wv.iter_mut().enumerate() {
                    *q = _mm256_loadu_ps(wk.add(ci * COUT + v * 8));
                }
                for (p, ap) in acc.iter_mut().enumerate() {
                    let sv = _mm256_broadcast_ss(&*px.add(p * CIN + ci));
                    for (q, wq) in ap.iter_mut().zip(&wv) {
                        *q = _mm256_fmadd_ps(sv, *wq, *q);
                    }
                }
            }
        }
    }
    let zero = _mm256_setzero_ps();
    for (p, ap) in acc.iter().enumerate() {
        for (v, q) in ap.iter().enumerate() {
            let o = d.add((x + p) * COUT + v * 8);
            let r = match a.mode {
                Mode::Plain => *q,
                Mode::Relu => _mm256_max_ps(*q, zero),
                Mode::Accumulate => _mm256_add_ps(_mm256_loadu_ps(o), *q),
            };
            _mm256_storeu_ps(o, r);
        }
    }
}

/// `cout = 4` (the last conv and the linear branch): one 4-lane vector per pixel.
#[target_feature(enable = "avx,fma")]
pub(super) unsafe fn conv4<const CIN: usize>(a: &Args) {
    const P: usize = 8;
    for y in 0..a.h {
        let s = a.src.add(y * a.src_row);
        let d = a.dst.add(y * a.dst_row);
        let mut x = 0;
        while x + P <= a.w {
            block4::<CIN, P>(a, s, d, x);
            x += P;
        }
        while x < a.w {
            block4::<CIN, 1>(a, s, d, x);
            x += 1;
        }
    }
}

#[target_feature(enable = "avx,fma")]
#[inline]
unsafe fn block4<const CIN: usize, const P: usize>(a: &Args, s: *const f32, d: *mut f32, x: usize) {
    let bias = _mm_loadu_ps(a.b);
    let mut acc = [bias; P];
    for ky in 0..3 {
        let row = s.add(ky * a.src_row + x * CIN);
        for kx in 0..3 {
            let px = row.add(kx * CIN);
            let wk = a.wt.add((ky * 3 + kx) * CIN * 4);
            for ci in 0..CIN {
                let wv = _mm_loadu_ps(wk.add(ci * 4));
                for (p, q) in acc.iter_mut().enumerate() {
                    let sv = _mm_broadcast_ss(&*px.add(p * CIN + ci));
                    *q = _mm_fmadd_ps(sv, wv, *q);
                }
            }
        }
    }
    let zero = _mm_setzero_ps();
    for (p, q) in acc.iter().enumerate() {
        let o = d.add((x + p) * 4);
        let r = match a.mode {
            Mode::Plain => *q,
            Mode::Relu => _mm_max_ps(*q, zero),
            Mode::Accumulate => _mm_add_ps(_mm_loadu_ps(o), *q),
        };
        _mm_storeu_ps(o, r);
    }
}

/// The 4 floats at `p` in both 128-bit halves.
#[target_feature(enable = "avx")]
#[inline]
unsafe fn bcast128(p: *const f32) -> __m256 {
    let v = _mm_loadu_ps(p);
    _mm256_set_m128(v, v)
}

/// `cout = 4`, `cin` a multiple of 8: dot products over the input channels, 2 pixels per
/// block.
#[target_feature(enable = "avx,fma")]
unsafe fn dot2<const CIN: usize>(a: &Args) {
    for y in 0..a.h {
        let s = a.src.add(y * a.src_row);
        let d = a.dst.add(y * a.dst_row);
        let mut x = 0;
        while x + 2 <= a.w {
            dot2_block::<CIN, 2>(a, s, d, x);
            x += 2;
        }
        if x < a.w {
            dot2_block::<CIN, 1>(a, s, d, x);
        }
    }
}

/// Pixels `x..x + N` (N ≤ 2) of one row.
#[target_feature(enable = "avx,fma")]
#[inline]
unsafe fn dot2_block<const CIN: usize, const N: usize>(
    a: &Args,
    s: *const f32,
    d: *mut f32,
    x: usize,
) {
    // acc[p][o], lane l: the products of input channels l, l + 8, ... for pixel p, output o.
    let mut acc = [[_mm256_setzero_ps(); 4]; N];
    for ky in 0..3 {
        let row = s.add(ky * a.src_row + x * CIN);
        for kx in 0..3 {
            let wk = a.wd.add((ky * 3 + kx) * 4 * CIN);
            for v in 0..CIN / 8 {
                let mut wv = [_mm256_setzero_ps(); 4];
                for (o, q) in wv.iter_mut().enumerate() {
                    *q = _mm256_loadu_ps(wk.add(o * CIN + v * 8));
                }
                for (p, ap) in acc.iter_mut().enumerate() {
                    let xv = _mm256_loadu_ps(row.add((kx + p) * CIN + v * 8));
                    for (q, wq) in ap.iter_mut().zip(&wv) {
                        *q = _mm256_fmadd_ps(xv, *wq, *q);
                    }
                }
            }
        }
    }
    // Eight vectors (j = 4p + o) to one whose lane j is the sum of vector j's lanes.
    let zero = _mm256_setzero_ps();
    let get = |j: usize| if j / 4 < N { acc[j / 4][j % 4] } else { zero };
    let mut r = [zero; 4];
    for (i, ri) in r.iter_mut().enumerate() {
        let (u, v) = (get(2 * i), get(2 * i + 1));
        // Per 128-bit half: [u0+u2, v0+v2, u1+u3, v1+v3].
        *ri = _mm256_add_ps(_mm256_unpacklo_ps(u, v), _mm256_unpackhi_ps(u, v));
    }
    // Per half k: the sums over lanes 4k..4k+4 of vectors 4m..4m+4.
    let q0 = _mm256_add_ps(
        _mm256_shuffle_ps::<0x44>(r[0], r[1]),
        _mm256_shuffle_ps::<0xEE>(r[0], r[1]),
    );
    let q1 = _mm256_add_ps(
        _mm256_shuffle_ps::<0x44>(r[2], r[3]),
        _mm256_shuffle_ps::<0xEE>(r[2], r[3]),
    );
    let sum = _mm256_add_ps(
        _mm256_permute2f128_ps::<0x20>(q0, q1),
        _mm256_permute2f128_ps::<0x31>(q0, q1),
    );
    let bias = bcast128(a.b);
    store2::<N>(a.mode, d.add(x * 4), _mm256_add_ps(sum, bias));
}

/// Applies `mode` to `v` (bias included) and stores its first `N` pixels (N ≤ 2) at `o`.
#[target_feature(enable = "avx,fma")]
#[inline]
unsafe fn store2<const N: usize>(mode: Mode, o: *mut f32, v: __m256) {
    if N == 2 {
        let r = match mode {
            Mode::Plain => v,
            Mode::Relu => _mm256_max_ps(v, _mm256_setzero_ps()),
            Mode::Accumulate => _mm256_add_ps(_mm256_loadu_ps(o), v),
        };
        _mm256_storeu_ps(o, r);
    } else {
        let v = _mm256_castps256_ps128(v);
        let r = match mode {
            Mode::Plain => v,
            Mode::Relu => _mm_max_ps(v, _mm_setzero_ps()),
            Mode::Accumulate => _mm_add_ps(_mm_loadu_ps(o), v),
        };
        _mm_storeu_ps(o, r);
    }
}

/// `cin = cout = 4`: 2 pixels per vector, G vectors per block.
#[target_feature(enable = "avx,fma")]
unsafe fn pack2(a: &Args) {
    const G: usize = 4;
    for y in 0..a.h {
        let s = a.src.add(y * a.src_row);
        let d = a.dst.add(y * a.dst_row);
        let mut x = 0;
        while x + 2 * G <= a.w {
            pack2_block::<G, 2>(a, s, d, x);
            x += 2 * G;
        }
        while x + 2 <= a.w {
            pack2_block::<1, 2>(a, s, d, x);
            x += 2;
        }
        if x < a.w {
            pack2_block::<1, 1>(a, s, d, x);
        }
    }
}

/// Pixels `x..x + 2 (G - 1) + N` of one row; N = 1 only with G = 1.
#[target_feature(enable = "avx,fma")]
#[inline]
unsafe fn pack2_block<const G: usize, const N: usize>(
    a: &Args,
    s: *const f32,
    d: *mut f32,
    x: usize,
) {
    // Lane 4p + o of acc[g]: output o of pixel x + 2g + p.
    let mut acc = [bcast128(a.b); G];
    for ky in 0..3 {
        let row = s.add(ky * a.src_row + x * 4);
        for kx in 0..3 {
            let wk = a.wt.add((ky * 3 + kx) * 16);
            // Weights of input channel ci to the 4 outputs, repeated for the 2 pixels.
            let w = [0, 1, 2, 3].map(|ci| bcast128(wk.add(ci * 4)));
            for (g, ag) in acc.iter_mut().enumerate() {
                let p = row.add((kx + 2 * g) * 4);
                // One pixel only at a row's end: the next would be past the buffer on the
                // last row.
                let xv = if N == 2 {
                    _mm256_loadu_ps(p)
                } else {
                    _mm256_castps128_ps256(_mm_loadu_ps(p))
                };
                *ag = _mm256_fmadd_ps(_mm256_permute_ps::<0x00>(xv), w[0], *ag);
                *ag = _mm256_fmadd_ps(_mm256_permute_ps::<0x55>(xv), w[1], *ag);
                *ag = _mm256_fmadd_ps(_mm256_permute_ps::<0xAA>(xv), w[2], *ag);
                *ag = _mm256_fmadd_ps(_mm256_permute_ps::<0xFF>(xv), w[3], *ag);
            }
        }
    }
    for (g, ag) in acc.iter().enumerate() {
        store2::<N>(a.mode, d.add((x + 2 * g) * 4), *ag);
    }
}
