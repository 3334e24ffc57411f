//! The native CPU engine: runs a RefineNet graph (the exact graph `lv_graph::onnx` exports)
//! with 3x3 convolution kernels written for its shapes, instead of tract.
//!
//! # Why a hand-written kernel
//! tract runs these nets' narrow 3x3 convs (4 → C → C → 4 channels, C = 8 or 16) with its
//! direct spatial kernel, measured at ~4 GFLOP/s per core on this machine's CPU (an EPYC that
//! reports AVX and FMA but not AVX2, so tract-linalg's and matrixmultiply's fast x86 paths,
//! which ask for AVX2, are not taken). No maintained crate has a CPU conv for this shape class:
//! im2col + GEMM (lvtrain's training path) spends most of its time building the 9·Cin-row
//! column matrix (0.8 GFLOP/s measured). Here the activations are channel-last (NHWC), so one
//! output pixel's C outputs are one or two 8-lane vectors: each weight vector is loaded once
//! per block of pixels and every input sample is one broadcast feeding one FMA per vector.
//!
//! # When it is used
//! Only for a graph that is node for node what `lv_graph::onnx::model_proto_kind` writes for
//! the weights it holds (same ops, attributes, wiring; weights as `float_data`). Anything
//! else runs on tract. The result equals tract's up to float summation order (tests compare
//! the two), and does not depend on tiling or threads: every output sample is summed in the
//! same order wherever its tile starts.

use tract_onnx::pb;

/// One 3x3 conv, padding 1, stride 1: weights re-laid out as `[ky][kx][ci][cout]`.
#[derive(Clone, Debug)]
struct Conv {
    cin: usize,
    cout: usize,
    w: Vec<f32>,
    b: Vec<f32>,
}

impl Conv {
    fn from_onnx(cin: usize, cout: usize, w_oihw: &[f32], b: &[f32]) -> Conv {
        let mut w = vec![0.0f32; 9 * cin * cout];
        for o in 0..cout {
            for i in 0..cin {
                for k in 0..9 {
                    w[(k * cin + i) * cout + o] = w_oihw[(o * cin + i) * 9 + k];
                }
            }
        }
        Conv {
            cin,
            cout,
            w,
            b: b.to_vec(),
        }
    }
}

/// A RefineNet ready for the native kernels.
#[derive(Clone, Debug)]
pub(crate) struct NativeNet {
    /// Main chain: ReLU after every conv but the last.
    convs: Vec<Conv>,
    /// Linear branch on SpaceToDepth(x), added to the last conv's output.
    skip: Option<Conv>,
    /// Widest activation (channels).
    cmax: usize,
}

/// Space-to-depth block (the graph's `blocksize`, also `lv.align`).
const B: usize = 2;

/// Per-tile working memory: zero-bordered activations, so the kernels never test bounds.
pub(crate) struct Scratch {
    lh: usize,
    lw: usize,
    /// SpaceToDepth(input), `(lh + 2) x (lw + 2) x 4`, zero border.
    a0: Vec<f32>,
    /// Hidden activations, ping-pong, `(lh + 2) x (lw + 2) x cmax`, zero border.
    h: [Vec<f32>; 2],
    /// Last conv (+ linear branch) output, `lh x lw x 4`.
    z: Vec<f32>,
}

impl NativeNet {
    /// The net in `proto` if its graph is exactly lvtrain's RefineNet export; None otherwise.
    pub(crate) fn from_proto(proto: &pb::ModelProto, kind: &str) -> Option<NativeNet> {
        let graph = proto.graph.as_ref()?;
        let net = lv_graph::onnx::import_proto(proto).ok()?;
        let recipe = proto
            .metadata_props
            .iter()
            .find(|m| m.key == "lv.recipe")
            .map(|m| m.value.clone())
            .unwrap_or_default();
        let expect = lv_graph::onnx::model_proto_kind(&net, kind, &recipe);
        let eg = expect.graph.as_ref()?;
        // Same nodes (ops, attributes, names, wiring) and the same interface: then the
        // weights `import` read are exactly the ones the graph uses.
        if eg.node != graph.node || eg.input != graph.input || eg.output != graph.output {
            return None;
        }
        let conv = |l: &lv_graph::ConvLayer| {
            Conv::from_onnx(l.cin, l.cout, l.weight(&net.params), l.bias(&net.params))
        };
        let convs: Vec<Conv> = net.layers.iter().map(conv).collect();
        let skip = net.skip.as_ref().map(conv);
        let cmax = convs.iter().map(|c| c.cout.max(c.cin)).max()?;
        if convs.first()?.cin != B * B || convs.last()?.cout != B * B {
            return None;
        }
        Some(NativeNet { convs, skip, cmax })
    }

    /// Working memory for tiles of `tw x th` input samples (multiples of 2).
    pub(crate) fn scratch(&self, tw: usize, th: usize) -> Scratch {
        let (lh, lw) = (th / B, tw / B);
        let padded = (lh + 2) * (lw + 2);
        Scratch {
            lh,
            lw,
            a0: vec![0.0; padded * B * B],
            h: [vec![0.0; padded * self.cmax], vec![0.0; padded * self.cmax]],
            z: vec![0.0; lh * lw * B * B],
        }
    }

    /// Runs the net on one `tw x th` tile `x` (row-major); the result at tile sample
    /// `(ty, tx)` is [`Scratch::output`]`(x, ty, tx)`.
    pub(crate) fn run(&self, x: &[f32], tw: usize, s: &mut Scratch) {
        let (lh, lw) = (s.lh, s.lw);
        let prow = lw + 2;
        debug_assert!(x.len() >= lh * B * tw);
        // SpaceToDepth: channel (i * 2 + j) of low-res sample (y, x) is input (2y + i, 2x + j).
        for y in 0..lh {
            let r0 = &x[(B * y) * tw..][..tw];
            let r1 = &x[(B * y + 1) * tw..][..tw];
            let d = &mut s.a0[((y + 1) * prow + 1) * 4..][..lw * 4];
            for (xx, px) in d.chunks_exact_mut(4).enumerate() {
                px[0] = r0[2 * xx];
                px[1] = r0[2 * xx + 1];
                px[2] = r1[2 * xx];
                px[3] = r1[2 * xx + 1];
            }
        }
        // Layer k reads a0 (k = 0) or h[(k - 1) % 2] and writes h[k % 2], or z if last.
        // All hidden layers have the same width, so each buffer keeps one layout and its
        // zero border is never written.
        let last = self.convs.len() - 1;
        for (k, c) in self.convs.iter().enumerate() {
            let [h0, h1] = &mut s.h;
            let (src, dst): (&[f32], &mut [f32]) = match (k, k % 2) {
                (0, _) => (&s.a0, h0),
                (_, 1) => (h0, h1),
                _ => (h1, h0),
            };
            if k == last {
                conv(c, src, prow * c.cin, lw, lh, &mut s.z, lw * 4, Mode::Plain);
            } else {
                let off = (prow + 1) * c.cout;
                conv(
                    c,
                    src,
                    prow * c.cin,
                    lw,
                    lh,
                    &mut dst[off..],
                    prow * c.cout,
                    Mode::Relu,
                );
            }
        }
        if let Some(c) = &self.skip {
            conv(
                c,
                &s.a0,
                prow * 4,
                lw,
                lh,
                &mut s.z,
                lw * 4,
                Mode::Accumulate,
            );
        }
    }
}

impl Scratch {
    /// The network output at tile samples `(ty, tx0..tx0 + n)`, handed to `put(i, value)`:
    /// input + DepthToSpace(z) (DCR: phase `(i, j)` of low-res sample `(y, x)` is channel
    /// `i * 2 + j`).
    #[inline]
    pub(crate) fn output_row(
        &self,
        x: &[f32],
        tw: usize,
        ty: usize,
        tx0: usize,
        n: usize,
        mut put: impl FnMut(usize, f32),
    ) {
        let (y, i) = (ty / B, ty % B);
        let zrow = &self.z[y * self.lw * 4..][..self.lw * 4];
        let xrow = &x[ty * tw..][..tw];
        for k in 0..n {
            let tx = tx0 + k;
            put(k, xrow[tx] + zrow[(tx / B) * 4 + i * B + (tx % B)]);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// dst = conv + bias
    Plain,
    /// dst = max(conv + bias, 0)
    Relu,
    /// dst += conv + bias
    Accumulate,
}

/// `dst[y][x][0..cout]` (rows `dst_row` floats apart, pixels `cout` apart) from the
/// zero-bordered `src` (`(h + 2)` rows of `(w + 2) * cin` floats, `src_row` apart; output
/// `(y, x)` reads padded rows `y..y + 3`, columns `x..x + 3`).
#[allow(clippy::too_many_arguments)]
fn conv(
    c: &Conv,
    src: &[f32],
    src_row: usize,
    w: usize,
    h: usize,
    dst: &mut [f32],
    dst_row: usize,
    mode: Mode,
) {
    assert!(src.len() >= (h + 2) * src_row && src_row >= (w + 2) * c.cin);
    assert!(h == 0 || dst.len() >= (h - 1) * dst_row + w * c.cout);
    #[cfg(target_arch = "x86_64")]
    {
        if x86::available() {
            // SAFETY: the asserts above bound every access the kernels make (they read
            // rows y..y+3 of src and write w pixels of each dst row), and the CPU has the
            // features the kernels are compiled for.
            if unsafe { x86::conv(c, src, src_row, w, h, dst, dst_row, mode) } {
                return;
            }
        }
    }
    conv_scalar(c, src, src_row, w, h, dst, dst_row, mode);
}

/// Portable kernel (any channel counts, no FMA): the reference the vector kernels are tested
/// against, and the path on CPUs without AVX+FMA.
#[allow(clippy::too_many_arguments)]
fn conv_scalar(
    c: &Conv,
    src: &[f32],
    src_row: usize,
    w: usize,
    h: usize,
    dst: &mut [f32],
    dst_row: usize,
    mode: Mode,
) {
    let (cin, cout) = (c.cin, c.cout);
    let mut acc = vec![0.0f32; cout];
    for y in 0..h {
        for x in 0..w {
            acc.copy_from_slice(&c.b);
            for ky in 0..3 {
                let row = &src[(y + ky) * src_row + x * cin..];
                for kx in 0..3 {
                    let px = &row[kx * cin..kx * cin + cin];
                    let wk = &c.w[(ky * 3 + kx) * cin * cout..];
                    for (ci, &v) in px.iter().enumerate() {
                        for (a, &wv) in acc.iter_mut().zip(&wk[ci * cout..ci * cout + cout]) {
                            *a += v * wv;
                        }
                    }
                }
            }
            let d = &mut dst[y * dst_row + x * cout..][..cout];
            match mode {
                Mode::Plain => d.copy_from_slice(&acc),
                Mode::Relu => {
                    for (d, a) in d.iter_mut().zip(&acc) {
                        *d = a.max(0.0);
                    }
                }
                Mode::Accumulate => {
                    for (d, a) in d.iter_mut().zip(&acc) {
                        *d += a;
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Conv, Mode};
    use std::arch::x86_64::*;
    use std::sync::OnceLock;

    pub(super) fn available() -> bool {
        static OK: OnceLock<bool> = OnceLock::new();
        *OK.get_or_init(|| is_x86_feature_detected!("avx") && is_x86_feature_detected!("fma"))
    }

    /// Raw view of one conv call, shared by the kernels.
    struct Args {
        src: *const f32,
        src_row: usize,
        w: usize,
        h: usize,
        wt: *const f32,
        b: *const f32,
        dst: *mut f32,
        dst_row: usize,
        mode: Mode,
    }

    /// Dispatches to the kernel for `(cin, cout)`; false when there is none (scalar path).
    ///
    /// # Safety
    /// The caller checked the buffer bounds (see `super::conv`) and AVX+FMA support.
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn conv(
        c: &Conv,
        src: &[f32],
        src_row: usize,
        w: usize,
        h: usize,
        dst: &mut [f32],
        dst_row: usize,
        mode: Mode,
    ) -> bool {
        let a = Args {
            src: src.as_ptr(),
            src_row,
            w,
            h,
            wt: c.w.as_ptr(),
            b: c.b.as_ptr(),
            dst: dst.as_mut_ptr(),
            dst_row,
            mode,
        };
        macro_rules! pick {
            ($($cin:literal),*) => {
                match (c.cin, c.cout) {
                    $(
                        ($cin, 4) => conv4::<$cin>(&a),
                        ($cin, 8) => conv8::<$cin, 8, 1, 8>(&a),
                        ($cin, 16) => conv8::<$cin, 16, 2, 4>(&a),
                        ($cin, 24) => conv8::<$cin, 24, 3, 4>(&a),
                        ($cin, 32) => conv8::<$cin, 32, 4, 3>(&a),
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
    unsafe fn conv8<const CIN: usize, const COUT: usize, const NV: usize, const P: usize>(
        a: &Args,
    ) {
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
    unsafe fn conv4<const CIN: usize>(a: &Args) {
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
    unsafe fn block4<const CIN: usize, const P: usize>(
        a: &Args,
        s: *const f32,
        d: *mut f32,
        x: usize,
    ) {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    }

    /// The vector kernels against the portable one, every (cin, cout) pair the dispatcher
    /// has, widths that exercise the block remainders, all three modes.
    #[test]
    fn vector_kernels_match_scalar() {
        let mut seed = 7u64;
        for cin in [4usize, 8, 12, 16, 24, 32] {
            for cout in [4usize, 8, 16, 24, 32] {
                for w in [1usize, 5, 9, 13] {
                    let h = 3;
                    let wt: Vec<f32> = (0..cin * cout * 9).map(|_| lcg(&mut seed)).collect();
                    let b: Vec<f32> = (0..cout).map(|_| lcg(&mut seed)).collect();
                    let c = Conv::from_onnx(cin, cout, &wt, &b);
                    let src_row = (w + 2) * cin;
                    let src: Vec<f32> = (0..(h + 2) * src_row).map(|_| lcg(&mut seed)).collect();
                    for mode in [Mode::Plain, Mode::Relu, Mode::Accumulate] {
                        let init: Vec<f32> = (0..h * w * cout).map(|_| lcg(&mut seed)).collect();
                        let mut a = init.clone();
                        let mut r = init.clone();
                        conv(&c, &src, src_row, w, h, &mut a, w * cout, mode);
                        conv_scalar(&c, &src, src_row, w, h, &mut r, w * cout, mode);
                        for (x, y) in a.iter().zip(&r) {
                            assert!((x - y).abs() < 1e-4, "{cin}->{cout} w={w} {mode:?}");
                        }
                    }
                }
            }
        }
    }

    /// The scalar kernel against a direct transcription of ONNX Conv on `[cout][cin][3][3]`.
    #[test]
    fn scalar_kernel_is_onnx_conv() {
        let (cin, cout, w, h) = (3usize, 2usize, 4usize, 3usize);
        let mut seed = 3u64;
        let wt: Vec<f32> = (0..cin * cout * 9).map(|_| lcg(&mut seed)).collect();
        let b: Vec<f32> = (0..cout).map(|_| lcg(&mut seed)).collect();
        let x: Vec<f32> = (0..cin * h * w).map(|_| lcg(&mut seed)).collect(); // CHW
        let c = Conv::from_onnx(cin, cout, &wt, &b);
        let src_row = (w + 2) * cin;
        let mut src = vec![0.0f32; (h + 2) * src_row];
        for ci in 0..cin {
            for y in 0..h {
                for xx in 0..w {
                    src[(y + 1) * src_row + (xx + 1) * cin + ci] = x[(ci * h + y) * w + xx];
                }
            }
        }
        let mut out = vec![0.0f32; h * w * cout];
        conv_scalar(&c, &src, src_row, w, h, &mut out, w * cout, Mode::Plain);
        for o in 0..cout {
            for y in 0..h {
                for xx in 0..w {
                    let mut s = b[o];
                    for ci in 0..cin {
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let (sy, sx) = (y as isize + ky - 1, xx as isize + kx - 1);
                                if sy < 0 || sx < 0 || sy >= h as isize || sx >= w as isize {
                                    continue;
                                }
                                s += wt[((o * cin + ci) * 3 + ky as usize) * 3 + kx as usize]
                                    * x[(ci * h + sy as usize) * w + sx as usize];
                            }
                        }
                    }
                    let got = out[(y * w + xx) * cout + o];
                    assert!((got - s).abs() < 1e-5, "{got} vs {s}");
                }
            }
        }
    }
}
