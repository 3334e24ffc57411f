//! AVX+FMA kernels: 8-lane `__m256` for cout 8/16/24/32, 4-lane `__m128` for cout 4.
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
                $(
                    ($cin, 4) => conv4::<$cin>(a),
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
