//! The native CPU engine: runs a RefineNet graph (the exact graph `lv_graph::onnx` exports)
//! with 3x3 convolution kernels written for its shapes, instead of tract.
//!
//! # Why a hand-written kernel
//! tract runs these nets' narrow 3x3 convs (4 → C → C → 4 channels, C = 8 or 16) with its
//! direct spatial kernel, measured at ~4 GFLOP/s per core in session 5 (on an EPYC that
//! reported AVX and FMA but not AVX2, so tract-linalg's and matrixmultiply's fast x86 paths,
//! which ask for AVX2, were not taken). No maintained crate has a CPU conv for this shape class:
//! im2col + GEMM (lvtrain's training path) spends most of its time building the 9·Cin-row
//! column matrix (0.8 GFLOP/s measured). Here the activations are channel-last (NHWC), so one
//! output pixel's C outputs are one or two 8-lane vectors: each weight vector is loaded once
//! per block of pixels and every input sample is one broadcast feeding one FMA per vector.
//!
//! # Kernel paths ([`Isa`])
//! Three families, chosen at run time: `scalar` (portable, the reference), `avx` (AVX+FMA,
//! `native/x86_avx.rs`) and `avx512` (AVX-512F, `native/x86_avx512.rs`, which leaves the
//! shapes it has no kernel for to `avx`). The default is the widest the CPU has;
//! `LV_NATIVE_ISA=scalar|avx|avx512` forces a narrower one (comparisons, benchmarks, a CPU
//! whose wide units clock down), read once per process. The paths differ only in float
//! summation order: on the shipped model they agree within 1e-4 of the [0, 1] sample range
//! (the tests check it; the measured difference is ~1e-7, one float ulp), a quarter of what it takes to move
//! a rounded 8-bit sample by one level, and only for samples within 1e-4 of a rounding edge.
//!
//! # When it is used
//! Only for a graph that is node for node what `lv_graph::onnx::model_proto_kind` writes for
//! the weights it holds (same ops, attributes, wiring; weights as `float_data`). Anything
//! else runs on tract. The result equals tract's up to float summation order (tests compare
//! the two), and does not depend on tiling or threads: every output sample is summed in the
//! same order wherever its tile starts.

#[cfg(target_arch = "x86_64")]
mod x86_avx;
#[cfg(target_arch = "x86_64")]
mod x86_avx512;

use std::sync::OnceLock;
use tract_onnx::pb;

/// One 3x3 conv, padding 1, stride 1.
#[derive(Clone, Debug)]
struct Conv {
    cin: usize,
    cout: usize,
    /// Weights as `[ky][kx][ci][cout]`: one pixel's outputs are contiguous.
    w: Vec<f32>,
    /// For `cout == 4`, also `[ky][kx][cout][ci]`: the vector kernels take dot products
    /// over the input channels (empty otherwise).
    wd: Vec<f32>,
    b: Vec<f32>,
}

impl Conv {
    fn from_onnx(cin: usize, cout: usize, w_oihw: &[f32], b: &[f32]) -> Conv {
        let mut w = vec![0.0f32; 9 * cin * cout];
        let mut wd = vec![0.0f32; if cout == 4 { 9 * cin * cout } else { 0 }];
        for o in 0..cout {
            for i in 0..cin {
                for k in 0..9 {
                    w[(k * cin + i) * cout + o] = w_oihw[(o * cin + i) * 9 + k];
                    if cout == 4 {
                        wd[(k * cout + o) * cin + i] = w_oihw[(o * cin + i) * 9 + k];
                    }
                }
            }
        }
        Conv {
            cin,
            cout,
            w,
            wd,
            b: b.to_vec(),
        }
    }
}

/// A family of native kernels, narrowest first (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// Portable Rust, no SIMD intrinsics: the reference.
    Scalar,
    /// AVX + FMA, 8-lane.
    Avx,
    /// AVX-512F, 16-lane (and the AVX kernels for the shapes it has none for).
    Avx512,
}

impl Isa {
    pub const ALL: [Isa; 3] = [Isa::Scalar, Isa::Avx, Isa::Avx512];

    /// The name `LV_NATIVE_ISA` takes.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Avx => "avx",
            Isa::Avx512 => "avx512",
        }
    }

    /// Whether this CPU can run the path (`avx512` needs AVX+FMA as well, for the shapes it
    /// hands to the AVX kernels).
    pub fn supported(self) -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            static CPU: OnceLock<(bool, bool)> = OnceLock::new();
            let (avx, avx512) = *CPU.get_or_init(|| {
                let avx = is_x86_feature_detected!("avx") && is_x86_feature_detected!("fma");
                (avx, avx && is_x86_feature_detected!("avx512f"))
            });
            match self {
                Isa::Scalar => true,
                Isa::Avx => avx,
                Isa::Avx512 => avx512,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self == Isa::Scalar
        }
    }

    /// The widest path this CPU has.
    pub fn widest() -> Isa {
        Isa::ALL
            .into_iter()
            .rev()
            .find(|i| i.supported())
            .unwrap_or(Isa::Scalar)
    }

    /// The path the engine runs: `LV_NATIVE_ISA` if set to a path this CPU has, else the
    /// widest. Read once per process; a value that cannot be honoured prints one warning on
    /// stderr (lv-infer has no logger; the elements log the chosen path with the runner).
    pub fn selected() -> Isa {
        static SELECTED: OnceLock<Isa> = OnceLock::new();
        *SELECTED.get_or_init(|| {
            let v = std::env::var_os("LV_NATIVE_ISA");
            let (isa, warning) = Isa::choose(v.as_deref().map(|v| v.to_string_lossy()).as_deref());
            if let Some(w) = warning {
                eprintln!("lv-infer: warning: {w}");
            }
            isa
        })
    }

    /// The path for an `LV_NATIVE_ISA` value (`None` or blank: the widest), and why the value
    /// was not honoured when it was not.
    fn choose(value: Option<&str>) -> (Isa, Option<String>) {
        let widest = Isa::widest();
        let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else {
            return (widest, None);
        };
        match Isa::ALL
            .into_iter()
            .find(|i| i.name().eq_ignore_ascii_case(v))
        {
            Some(i) if i.supported() => (i, None),
            Some(i) => (
                widest,
                Some(format!(
                    "LV_NATIVE_ISA={v}: this CPU has no {} kernels' features; using {}",
                    i.name(),
                    widest.name()
                )),
            ),
            None => (
                widest,
                Some(format!(
                    "LV_NATIVE_ISA={v} is not one of scalar, avx, avx512; using {}",
                    widest.name()
                )),
            ),
        }
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
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
    /// The network as lv-graph holds it (ONNX layouts), for the CUDA backend's kernels.
    graph: lv_graph::RefineNet,
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
        Some(NativeNet {
            convs,
            skip,
            cmax,
            graph: net,
        })
    }

    /// The network in lv-graph's form (ONNX weight layouts).
    pub(crate) fn graph(&self) -> &lv_graph::RefineNet {
        &self.graph
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

    /// Runs the net on one `tw x th` tile `x` (row-major) with the [`Isa::selected`]
    /// kernels, for the output at tile samples `win` (rows `win.0`, columns `win.1`), which
    /// [`Scratch::output_row`] then reads.
    pub(crate) fn run(&self, x: &[f32], tw: usize, s: &mut Scratch, win: Window) {
        self.run_isa(x, tw, s, win, Isa::selected());
    }

    /// [`NativeNet::run`] with the `isa` kernels (the scalar ones if the CPU lacks it).
    pub(crate) fn run_isa(&self, x: &[f32], tw: usize, s: &mut Scratch, win: Window, isa: Isa) {
        let (lh, lw) = (s.lh, s.lw);
        let prow = lw + 2;
        debug_assert!(x.len() >= lh * B * tw);
        // Low-res samples holding the window, and the span of each layer: the outputs of
        // conv k reach the window through `last - k` more convs, one sample further each, so
        // conv k computes the window widened by that many (clipped to the tile) and nothing
        // else. A tile's context rows are only there to be read: computing all of them in
        // every layer cost ~5 % more work at 540p (the last conv alone threw away 8 of its
        // 143 rows). Every computed sample is summed as in a full run, so the output is the
        // same.
        let (wy, wx) = (
            win.0.start / B..win.0.end.div_ceil(B).min(lh),
            win.1.start / B..win.1.end.div_ceil(B).min(lw),
        );
        let last = self.convs.len() - 1;
        let span = |m: usize| {
            (
                wy.start.saturating_sub(m)..(wy.end + m).min(lh),
                wx.start.saturating_sub(m)..(wx.end + m).min(lw),
            )
        };
        // SpaceToDepth: channel (i * 2 + j) of low-res sample (y, x) is input (2y + i, 2x + j),
        // over what the first conv reads.
        let (ry, rx) = span(last + 1);
        for y in ry {
            let r0 = &x[(B * y) * tw..][..tw];
            let r1 = &x[(B * y + 1) * tw..][..tw];
            let d = &mut s.a0[((y + 1) * prow + 1) * 4..][..lw * 4];
            for xx in rx.clone() {
                let px = &mut d[xx * 4..xx * 4 + 4];
                px[0] = r0[2 * xx];
                px[1] = r0[2 * xx + 1];
                px[2] = r1[2 * xx];
                px[3] = r1[2 * xx + 1];
            }
        }
        // Conv `c` on the low-res rectangle `(ry, rx)`: `src` and `dst` are padded buffers
        // (rows `prow` samples), or `dst` is z (rows `lw` samples, no border) when `to_z`.
        let run = |c: &Conv, src: &[f32], dst: &mut [f32], to_z: bool, (ry, rx): Span, mode| {
            let (w, h) = (rx.end - rx.start, ry.end - ry.start);
            let src = &src[(ry.start * prow + rx.start) * c.cin..];
            let (dst, dst_row) = if to_z {
                (&mut dst[(ry.start * lw + rx.start) * 4..], lw * 4)
            } else {
                let off = ((ry.start + 1) * prow + rx.start + 1) * c.cout;
                (&mut dst[off..], prow * c.cout)
            };
            conv(c, src, prow * c.cin, w, h, dst, dst_row, mode, isa);
        };
        // Layer k reads a0 (k = 0) or h[(k - 1) % 2] and writes h[k % 2], or z if last.
        // All hidden layers have the same width, so each buffer keeps one layout and its
        // zero border is never written.
        for (k, c) in self.convs.iter().enumerate() {
            let [h0, h1] = &mut s.h;
            let (src, dst): (&[f32], &mut [f32]) = match (k, k % 2) {
                (0, _) => (&s.a0, h0),
                (_, 1) => (h0, h1),
                _ => (h1, h0),
            };
            if k == last {
                run(c, src, &mut s.z, true, span(0), Mode::Plain);
            } else {
                run(c, src, dst, false, span(last - k), Mode::Relu);
            }
        }
        if let Some(c) = &self.skip {
            run(c, &s.a0, &mut s.z, true, span(0), Mode::Accumulate);
        }
    }
}

/// Rows and columns of a tile, in samples.
pub(crate) type Window = (std::ops::Range<usize>, std::ops::Range<usize>);
type Span = Window;

impl Scratch {
    /// The network output at tile samples `(ty, tx0..tx0 + out.len())`, converted to `S`:
    /// input + DepthToSpace(z) (DCR: phase `(i, j)` of low-res sample `(y, x)` is channel
    /// `i * 2 + j`).
    #[inline]
    pub(crate) fn output_row<S: crate::Sample>(
        &self,
        x: &[f32],
        tw: usize,
        ty: usize,
        tx0: usize,
        out: &mut [S],
    ) {
        let n = out.len();
        let (y, i) = (ty / B, ty % B);
        let zrow = &self.z[y * self.lw * 4..][..self.lw * 4];
        let xrow = &x[ty * tw..][..tw];
        if tx0.is_multiple_of(B) {
            // The runner's case (tx0 = its pad, a multiple of the alignment): samples 2k and
            // 2k + 1 are the phases (i, 0) and (i, 1) of one low-res sample, two adjacent
            // floats of z, so the loop has no per-sample index arithmetic and vectorizes.
            let zs = &zrow[tx0 / B * 4..];
            let xs = &xrow[tx0..tx0 + n];
            match i {
                0 => output_pairs::<S, 0>(xs, zs, out),
                _ => output_pairs::<S, 2>(xs, zs, out),
            }
            return;
        }
        for (k, o) in out.iter_mut().enumerate() {
            let tx = tx0 + k;
            *o = S::from_unit(xrow[tx] + zrow[(tx / B) * 4 + i * B + (tx % B)]);
        }
    }
}

/// `out[2k + j] = xs[2k + j] + zs[4k + C + j]` (j = 0, 1), converted to `S`.
#[inline]
fn output_pairs<S: crate::Sample, const C: usize>(xs: &[f32], zs: &[f32], out: &mut [S]) {
    let mut oc = out.chunks_exact_mut(2);
    let mut xc = xs.chunks_exact(2);
    for ((o, xv), zq) in (&mut oc).zip(&mut xc).zip(zs.chunks_exact(4)) {
        o[0] = S::from_unit(xv[0] + zq[C]);
        o[1] = S::from_unit(xv[1] + zq[C + 1]);
    }
    if let ([o], [xv]) = (oc.into_remainder(), xc.remainder()) {
        *o = S::from_unit(xv + zs[(xs.len() / 2) * 4 + C]);
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
/// `(y, x)` reads padded rows `y..y + 3`, columns `x..x + 3`), with the kernels of `isa` or,
/// for a shape (or CPU) they do not cover, the next narrower family's. Returns the family
/// that ran.
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
    isa: Isa,
) -> Isa {
    // Exactly what the kernels read: rows 0..h + 2, the last one up to its (w + 2)-th pixel.
    assert!(src_row >= (w + 2) * c.cin && src.len() >= (h + 1) * src_row + (w + 2) * c.cin);
    assert!(h == 0 || dst.len() >= (h - 1) * dst_row + w * c.cout);
    #[cfg(target_arch = "x86_64")]
    if isa > Isa::Scalar && h > 0 && w > 0 {
        let a = Args {
            src: src.as_ptr(),
            src_row,
            w,
            h,
            wt: c.w.as_ptr(),
            wd: c.wd.as_ptr(),
            b: c.b.as_ptr(),
            dst: dst.as_mut_ptr(),
            dst_row,
            mode,
        };
        // SAFETY: the asserts above bound every access the kernels make (they read rows
        // y..y+3 of src and write w pixels of each dst row; `wd` is filled for cout 4, the
        // only kernels that read it), and `supported` checked the CPU features each family
        // is compiled for.
        unsafe {
            if isa >= Isa::Avx512 && Isa::Avx512.supported() && x86_avx512::conv(&a, c.cin, c.cout)
            {
                return Isa::Avx512;
            }
            if Isa::Avx.supported() && x86_avx::conv(&a, c.cin, c.cout) {
                return Isa::Avx;
            }
        }
    }
    conv_scalar(c, src, src_row, w, h, dst, dst_row, mode);
    Isa::Scalar
}

/// Raw view of one conv call, shared by the x86 kernels.
#[cfg(target_arch = "x86_64")]
struct Args {
    src: *const f32,
    src_row: usize,
    w: usize,
    h: usize,
    /// `Conv::w`.
    wt: *const f32,
    /// `Conv::wd`.
    wd: *const f32,
    b: *const f32,
    dst: *mut f32,
    dst_row: usize,
    mode: Mode,
}

/// Portable kernel (any channel counts, no FMA): the reference the vector kernels are tested
/// against, and the path on CPUs without AVX+FMA (and for shapes no vector kernel has).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(seed: &mut u64) -> f32 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((*seed >> 40) as f32 / (1u64 << 24) as f32) - 0.5
    }

    /// The vector paths this CPU has, each with a line on stderr for one it lacks (so a run
    /// on an older CPU shows what it did not test rather than failing).
    fn vector_paths(test: &str) -> Vec<Isa> {
        [Isa::Avx, Isa::Avx512]
            .into_iter()
            .filter(|&isa| {
                let ok = isa.supported();
                if !ok {
                    eprintln!("{test}: {isa} skipped: this CPU lacks its features");
                }
                ok
            })
            .collect()
    }

    /// The family a vector path is expected to run `(cin, cout)` with: the AVX-512 kernels
    /// cover cout 16/32 and cout 4 from cin 4/16/32, AVX the rest of its table.
    fn expected_family(isa: Isa, cin: usize, cout: usize) -> Isa {
        match (isa, cout) {
            (Isa::Avx512, 16 | 32) => Isa::Avx512,
            (Isa::Avx512, 4) if matches!(cin, 4 | 16 | 32) => Isa::Avx512,
            _ => Isa::Avx,
        }
    }

    /// Each vector path against the portable kernel, every (cin, cout) pair the dispatchers
    /// have, widths that exercise the block remainders (the AVX-512 kernels block 4, 6, 12 and
    /// 16 pixels, AVX 3, 4 and 8), all three modes; and each pair runs on the family meant
    /// for it (a dispatcher that fell through to a narrower one would pass the comparison).
    #[test]
    fn vector_kernels_match_scalar() {
        let paths = vector_paths("vector_kernels_match_scalar");
        let mut seed = 7u64;
        for cin in [4usize, 8, 12, 16, 24, 32] {
            for cout in [4usize, 8, 16, 24, 32] {
                for w in [1usize, 2, 3, 5, 7, 9, 13, 17, 23, 30, 37] {
                    let h = 3;
                    let wt: Vec<f32> = (0..cin * cout * 9).map(|_| lcg(&mut seed)).collect();
                    let b: Vec<f32> = (0..cout).map(|_| lcg(&mut seed)).collect();
                    let c = Conv::from_onnx(cin, cout, &wt, &b);
                    let src_row = (w + 2) * cin;
                    // Exactly the rows the kernels may read, so a read past the last pixel
                    // of the last row is a read past the buffer (caught under Miri/ASan,
                    // and the values compared below would pick it up as garbage otherwise).
                    let src: Vec<f32> = (0..(h + 2) * src_row).map(|_| lcg(&mut seed)).collect();
                    for mode in [Mode::Plain, Mode::Relu, Mode::Accumulate] {
                        let init: Vec<f32> = (0..h * w * cout).map(|_| lcg(&mut seed)).collect();
                        let mut r = init.clone();
                        conv_scalar(&c, &src, src_row, w, h, &mut r, w * cout, mode);
                        for &isa in &paths {
                            let mut a = init.clone();
                            let ran = conv(&c, &src, src_row, w, h, &mut a, w * cout, mode, isa);
                            let want = expected_family(isa, cin, cout);
                            assert_eq!(ran, want, "{isa}: {cin}->{cout} ran on {ran}");
                            for (i, (x, y)) in a.iter().zip(&r).enumerate() {
                                assert!(
                                    (x - y).abs() < 1e-4,
                                    "{isa}: {cin}->{cout} w={w} {mode:?} at {i}: {x} vs {y}"
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    /// A dst row wider than the conv's output: the kernels write `w` pixels and nothing past
    /// them (the 4-pixel vectors of the AVX-512 cout-4 kernels store masked at a row's end).
    #[test]
    fn vector_kernels_write_only_their_pixels() {
        let paths = vector_paths("vector_kernels_write_only_their_pixels");
        let mut seed = 11u64;
        for (cin, cout) in [
            (4usize, 4usize),
            (16, 4),
            (32, 4),
            (4, 16),
            (16, 16),
            (16, 32),
        ] {
            for w in [1usize, 2, 3, 6, 19] {
                let h = 2;
                let wt: Vec<f32> = (0..cin * cout * 9).map(|_| lcg(&mut seed)).collect();
                let b: Vec<f32> = (0..cout).map(|_| lcg(&mut seed)).collect();
                let c = Conv::from_onnx(cin, cout, &wt, &b);
                let src_row = (w + 2) * cin;
                let src: Vec<f32> = (0..(h + 2) * src_row).map(|_| lcg(&mut seed)).collect();
                let dst_row = (w + 5) * cout;
                for &isa in &paths {
                    for mode in [Mode::Plain, Mode::Accumulate] {
                        let mut d = vec![7.0f32; h * dst_row];
                        conv(&c, &src, src_row, w, h, &mut d, dst_row, mode, isa);
                        for (y, row) in d.chunks(dst_row).enumerate() {
                            assert!(
                                row[w * cout..].iter().all(|&v| v == 7.0),
                                "{isa}: {cin}->{cout} w={w} {mode:?} row {y} written past w"
                            );
                        }
                    }
                }
            }
        }
    }

    /// Every path runs the shipped model on a natural picture (the first frame of a test clip,
    /// whole and cropped to an odd half-resolution width, so every kernel's tail runs) and
    /// agrees with the scalar path within the documented tolerance: 1e-4 in [0, 1] units.
    #[test]
    fn paths_agree_on_shipped_model() {
        let root = lv_testkit::oracle::repo_root();
        let model = crate::Model::from_path(root.join("models/dnnscale/dnnscale.onnx"))
            .expect("shipped model loads");
        let net = model
            .native()
            .expect("the shipped model runs natively")
            .clone();
        let clip = lv_testkit::oracle::corpus_dir().join("test/bbb_320x180_30f.y4m");
        let f = std::fs::File::open(&clip)
            .unwrap_or_else(|e| panic!("{}: {e} (scripts/fetch-test-deps.sh)", clip.display()));
        let mut rd = lv_testkit::y4m::Reader::new(std::io::BufReader::new(f)).unwrap();
        let (w, h) = (rd.header.width, rd.header.height);
        let frame = rd.next_frame().unwrap().expect("one frame");
        let luma: Vec<f32> = frame.planes[0][..w * h]
            .iter()
            .map(|&v| v as f32 / 255.0)
            .collect();
        let paths = vector_paths("paths_agree_on_shipped_model");
        // (x0, y0, tw, th): the whole frame, and a crop whose half width (153) is odd and no
        // multiple of 4, 6, 12 or 16.
        for (x0, y0, tw, th) in [(0, 0, w, h), (7, 3, 306, 176)] {
            let tile: Vec<f32> = (0..th)
                .flat_map(|y| luma[(y0 + y) * w + x0..][..tw].iter().copied())
                .collect();
            let out = |isa: Isa| {
                let mut s = net.scratch(tw, th);
                net.run_isa(&tile, tw, &mut s, (0..th, 0..tw), isa);
                let mut o = vec![0.0f32; tw * th];
                for (ty, row) in o.chunks_exact_mut(tw).enumerate() {
                    s.output_row(&tile, tw, ty, 0, row);
                }
                o
            };
            let reference = out(Isa::Scalar);
            // The network changes the picture (else agreeing would say little).
            let moved = reference
                .iter()
                .zip(&tile)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(moved > 1e-2, "the net is near the identity: {moved}");
            for &isa in &paths {
                let o = out(isa);
                let diff = o
                    .iter()
                    .zip(&reference)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                eprintln!("{tw}x{th}: {isa} vs scalar: max |diff| {diff:.2e}");
                assert!(diff <= 1e-4, "{isa} vs scalar at {tw}x{th}: {diff}");
            }
        }
    }

    /// `LV_NATIVE_ISA` values: names in any case, blank = widest, anything else or a path the
    /// CPU lacks = widest with a warning, never a panic.
    #[test]
    fn isa_override_values() {
        let widest = Isa::widest();
        assert!(widest.supported());
        assert_eq!(Isa::choose(None), (widest, None));
        assert_eq!(Isa::choose(Some("  ")), (widest, None));
        assert_eq!(Isa::choose(Some("SCALAR")), (Isa::Scalar, None));
        for isa in Isa::ALL {
            let (got, warning) = Isa::choose(Some(isa.name()));
            if isa.supported() {
                assert_eq!((got, warning), (isa, None));
            } else {
                assert_eq!(got, widest);
                assert!(warning.unwrap().contains(isa.name()));
            }
        }
        let (got, warning) = Isa::choose(Some("avx2"));
        assert_eq!(got, widest);
        assert!(warning.unwrap().contains("not one of"));
        assert!(Isa::selected().supported());
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
