//! AVX-512F kernels: 16-lane `__m512`.
//!
//! - cout 16/32: one or two vectors per pixel, as the AVX kernels but half the instructions;
//!   32 registers let a block hold more pixels, so each weight vector is loaded once for more
//!   FMAs, and the input broadcast folds into the FMA (EVEX embedded broadcast).
//! - cout 4 from cin 16/32 (the last conv): a 4-lane vector per pixel would use a quarter of
//!   the register, so the kernel computes dot products instead: for each pixel and output
//!   channel one 16-lane accumulator over the input channels, reduced across lanes once per
//!   block of 4 pixels into one vector that is exactly those 4 pixels' 16 outputs.
//! - cout 4 from cin 4 (the linear branch): 4 pixels × 4 channels are 16 contiguous floats,
//!   so one load holds 4 pixels and an in-lane permute broadcasts each input channel to its
//!   pixel's 4 output lanes.
//!
//! Other shapes (cout 8/24, cout 4 from other cin) are left to the AVX kernels.
//!
//! On Zen 4 (this machine's EPYC), a 512-bit FMA issues as two 256-bit halves, so the peak
//! FLOP rate equals AVX's; what these kernels save is instructions (front end, loads) and the
//! quarter-used vectors of the cout-4 layers. docs/eval/speed.md has the measured ratio.

use super::{Args, Mode};
use std::arch::x86_64::*;

/// Dispatches to the kernel for `(cin, cout)`; false when there is none (AVX next).
///
/// # Safety
/// `a` describes buffers the caller checked (see `super::conv`), `a.wd` is set when
/// `cout == 4`, and the CPU has AVX-512F.
pub(super) unsafe fn conv(a: &Args, cin: usize, cout: usize) -> bool {
    macro_rules! pick {
        ($($cin:literal),*) => {
            match (cin, cout) {
                (4, 4) => pack4(a),
                (16, 4) => dot4::<16, 1>(a),
                (32, 4) => dot4::<32, 2>(a),
                $(
                    ($cin, 16) => conv16::<$cin, 16, 1, 12>(a),
                    ($cin, 32) => conv16::<$cin, 32, 2, 6>(a),
                )*
                _ => return false,
            }
        };
    }
    pick!(4, 8, 12, 16, 24, 32);
    true
}

/// `cout = 16 * NV`: each pixel's outputs are NV vectors; P pixels per block.
#[target_feature(enable = "avx512f")]
unsafe fn conv16<const CIN: usize, const COUT: usize, const NV: usize, const P: usize>(a: &Args) {
    for y in 0..a.h {
        let s = a.src.add(y * a.src_row);
        let d = a.dst.add(y * a.dst_row);
        let mut x = 0;
        while x + P <= a.w {
            block16::<CIN, COUT, NV, P>(a, s, d, x);
            x += P;
        }
        while x < a.w {
            block16::<CIN, COUT, NV, 1>(a, s, d, x);
            x += 1;
        }
    }
}

#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn block16<const CIN: usize, const COUT: usize, const NV: usize, const P: usize>(
    a: &Args,
    s: *const f32,
    d: *mut f32,
    x: usize,
) {
    let mut acc = [[_mm512_setzero_ps(); NV]; P];
    for p in acc.iter_mut() {
        for (v, q) in p.iter_mut().enumerate() {
            *q = _mm512_loadu_ps(a.b.add(v * 16));
        }
    }
    for ky in 0..3 {
        let row = s.add(ky * a.src_row + x * CIN);
        for kx in 0..3 {
            let px = row.add(kx * CIN);
            let wk = a.wt.add((ky * 3 + kx) * CIN * COUT);
            for ci in 0..CIN {
                let mut wv = [_mm512_setzero_ps(); NV];
                for (v, q) in wv.iter_mut().enumerate() {
                    *q = _mm512_loadu_ps(wk.add(ci * COUT + v * 16));
                }
                for (p, ap) in acc.iter_mut().enumerate() {
                    let sv = _mm512_set1_ps(*px.add(p * CIN + ci));
                    for (q, wq) in ap.iter_mut().zip(&wv) {
                        *q = _mm512_fmadd_ps(sv, *wq, *q);
                    }
                }
            }
        }
    }
    let zero = _mm512_setzero_ps();
    for (p, ap) in acc.iter().enumerate() {
        for (v, q) in ap.iter().enumerate() {
            let o = d.add((x + p) * COUT + v * 16);
            let r = match a.mode {
                Mode::Plain => *q,
                Mode::Relu => _mm512_max_ps(*q, zero),
                Mode::Accumulate => _mm512_add_ps(_mm512_loadu_ps(o), *q),
            };
            _mm512_storeu_ps(o, r);
        }
    }
}

/// Lanes of the first `n` pixels of a 4-pixel, 4-channel vector.
#[inline]
fn mask4(n: usize) -> __mmask16 {
    ((1u32 << (4 * n)) - 1) as __mmask16
}

/// Applies `mode` to `v` (bias included) and stores the first `N` pixels of it at `o`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn store4<const N: usize>(mode: Mode, o: *mut f32, v: __m512) {
    let m = mask4(N);
    let r = match mode {
        Mode::Plain => v,
        Mode::Relu => _mm512_max_ps(v, _mm512_setzero_ps()),
        Mode::Accumulate if N == 4 => _mm512_add_ps(_mm512_loadu_ps(o), v),
        Mode::Accumulate => _mm512_add_ps(_mm512_maskz_loadu_ps(m, o), v),
    };
    if N == 4 {
        _mm512_storeu_ps(o, r);
    } else {
        _mm512_mask_storeu_ps(o, m, r);
    }
}

/// `cout = 4`, `cin = 16 * NV`: dot products over the input channels, 4 pixels per block.
#[target_feature(enable = "avx512f")]
unsafe fn dot4<const CIN: usize, const NV: usize>(a: &Args) {
    for y in 0..a.h {
        let s = a.src.add(y * a.src_row);
        let d = a.dst.add(y * a.dst_row);
        let mut x = 0;
        while x + 4 <= a.w {
            dot4_block::<CIN, NV, 4>(a, s, d, x);
            x += 4;
        }
        match a.w - x {
            1 => dot4_block::<CIN, NV, 1>(a, s, d, x),
            2 => dot4_block::<CIN, NV, 2>(a, s, d, x),
            3 => dot4_block::<CIN, NV, 3>(a, s, d, x),
            _ => {}
        }
    }
}

/// Pixels `x..x + N` (N ≤ 4) of one row.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn dot4_block<const CIN: usize, const NV: usize, const N: usize>(
    a: &Args,
    s: *const f32,
    d: *mut f32,
    x: usize,
) {
    // acc[p][o], lane l: the products of input channels l, l + 16, ... for pixel p, output o.
    let mut acc = [[_mm512_setzero_ps(); 4]; N];
    for ky in 0..3 {
        let row = s.add(ky * a.src_row + x * CIN);
        for kx in 0..3 {
            let wk = a.wd.add((ky * 3 + kx) * 4 * CIN);
            for v in 0..NV {
                let mut wv = [_mm512_setzero_ps(); 4];
                for (o, q) in wv.iter_mut().enumerate() {
                    *q = _mm512_loadu_ps(wk.add(o * CIN + v * 16));
                }
                for (p, ap) in acc.iter_mut().enumerate() {
                    let xv = _mm512_loadu_ps(row.add((kx + p) * CIN + v * 16));
                    for (q, wq) in ap.iter_mut().zip(&wv) {
                        *q = _mm512_fmadd_ps(xv, *wq, *q);
                    }
                }
            }
        }
    }
    // Sixteen vectors (j = 4p + o) to one whose lane j is the sum of vector j's lanes:
    // pairwise within 128-bit blocks, then across blocks.
    let zero = _mm512_setzero_ps();
    let get = |j: usize| if j / 4 < N { acc[j / 4][j % 4] } else { zero };
    let mut r = [zero; 8];
    for (i, ri) in r.iter_mut().enumerate() {
        let (u, v) = (get(2 * i), get(2 * i + 1));
        // Per block: [u0+u2, v0+v2, u1+u3, v1+v3].
        *ri = _mm512_add_ps(_mm512_unpacklo_ps(u, v), _mm512_unpackhi_ps(u, v));
    }
    let mut q = [zero; 4];
    for (m, qm) in q.iter_mut().enumerate() {
        let (u, v) = (r[2 * m], r[2 * m + 1]);
        // Per block k: the sums over lanes 4k..4k+4 of vectors 4m..4m+4.
        *qm = _mm512_add_ps(
            _mm512_shuffle_ps::<0x44>(u, v),
            _mm512_shuffle_ps::<0xEE>(u, v),
        );
    }
    let pair = |u: __m512, v: __m512| {
        // [u.b0+u.b1, u.b2+u.b3, v.b0+v.b1, v.b2+v.b3] (128-bit blocks).
        _mm512_add_ps(
            _mm512_shuffle_f32x4::<0x88>(u, v),
            _mm512_shuffle_f32x4::<0xDD>(u, v),
        )
    };
    let sum = pair(pair(q[0], q[1]), pair(q[2], q[3]));
    let bias = _mm512_broadcast_f32x4(_mm_loadu_ps(a.b));
    store4::<N>(a.mode, d.add(x * 4), _mm512_add_ps(sum, bias));
}

/// `cin = cout = 4`: 4 pixels per vector, G vectors per block.
#[target_feature(enable = "avx512f")]
unsafe fn pack4(a: &Args) {
    const G: usize = 4;
    for y in 0..a.h {
        let s = a.src.add(y * a.src_row);
        let d = a.dst.add(y * a.dst_row);
        let mut x = 0;
        while x + 4 * G <= a.w {
            pack4_block::<G, 4>(a, s, d, x);
            x += 4 * G;
        }
        while x + 4 <= a.w {
            pack4_block::<1, 4>(a, s, d, x);
            x += 4;
        }
        match a.w - x {
            1 => pack4_block::<1, 1>(a, s, d, x),
            2 => pack4_block::<1, 2>(a, s, d, x),
            3 => pack4_block::<1, 3>(a, s, d, x),
            _ => {}
        }
    }
}

/// Pixels `x..x + 4 (G - 1) + N` of one row; N < 4 only with G = 1.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn pack4_block<const G: usize, const N: usize>(
    a: &Args,
    s: *const f32,
    d: *mut f32,
    x: usize,
) {
    // Lane 4p + o of acc[g]: output o of pixel x + 4g + p.
    let mut acc = [_mm512_broadcast_f32x4(_mm_loadu_ps(a.b)); G];
    for ky in 0..3 {
        let row = s.add(ky * a.src_row + x * 4);
        for kx in 0..3 {
            let wk = a.wt.add((ky * 3 + kx) * 16);
            // Weights of input channel ci to the 4 outputs, repeated for the 4 pixels.
            let w = [0, 1, 2, 3].map(|ci| _mm512_broadcast_f32x4(_mm_loadu_ps(wk.add(ci * 4))));
            for (g, ag) in acc.iter_mut().enumerate() {
                let p = row.add((kx + 4 * g) * 4);
                // The masked load stops at the row's last pixel (the next would be past the
                // buffer on the last row).
                let xv = if N == 4 {
                    _mm512_loadu_ps(p)
                } else {
                    _mm512_maskz_loadu_ps(mask4(N), p)
                };
                *ag = _mm512_fmadd_ps(_mm512_permute_ps::<0x00>(xv), w[0], *ag);
                *ag = _mm512_fmadd_ps(_mm512_permute_ps::<0x55>(xv), w[1], *ag);
                *ag = _mm512_fmadd_ps(_mm512_permute_ps::<0xAA>(xv), w[2], *ag);
                *ag = _mm512_fmadd_ps(_mm512_permute_ps::<0xFF>(xv), w[3], *ag);
            }
        }
    }
    for (g, ag) in acc.iter().enumerate() {
        store4::<N>(a.mode, d.add((x + 4 * g) * 4), *ag);
    }
}
