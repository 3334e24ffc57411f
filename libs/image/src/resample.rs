//! Classic separable resampling of one plane to any size: Lanczos, bicubic (Mitchell–Netravali
//! family, which includes Keys/Catmull-Rom and swscale's default), bilinear, area and point.
//!
//! # Conventions
//!
//! Sample positions are centre-aligned, as in ffmpeg's swscale and GStreamer's videoscale:
//! output sample `x` looks at source position `(x + 0.5) * in / out - 0.5`. [`Siting`] moves
//! the samples inside their cells (e.g. MPEG-2 4:2:0 chroma, left-sited horizontally). When
//! downscaling the kernel is widened by the ratio (anti-aliasing), samples beyond an edge take
//! the edge value (clamping), and each output sample's weights are normalized to sum to one.
//!
//! Two ways to build the filter tables ([`Convention`]):
//!
//! - [`Convention::Swscale`] (the default) reproduces libswscale's `initFilter` as ffmpeg's
//!   `scale` filter runs it on x86 with `flags=<kernel>+accurate_rnd+bitexact`: positions in
//!   16.16 fixed point (`xInc`), its tap-count rules (`sizeFactor`, the `srcW - 2` cap, trimming
//!   of near-zero end taps, alignment to 4 taps horizontally and 2 vertically), its edge
//!   folding, and its coefficient quantization (14-bit horizontal and 12-bit vertical weights
//!   with error diffusion). The integer paths then compute what swscale computes — a 15-bit
//!   intermediate after the horizontal pass (19-bit for 15- and 16-bit samples), rounding
//!   after the vertical one — and the output is bit-exact with ffmpeg's (8, 10, 12 and 16
//!   bits, all kernels, up and down, odd sizes: `tests/oracle_resample.rs`). Baselines made
//!   here are therefore the baselines ffmpeg would make.
//! - [`Convention::Exact`] computes positions and weights in `f64` from the textbook kernel
//!   definitions with support `radius * max(1, in / out)` and no tap trimming: the clean
//!   linear operator for training code that wants no fixed-point artefacts (swscale's 16.16
//!   step drifts by up to `out / 2^17` samples across a row for ratios it cannot represent).
//!   Its integer output still equals ffmpeg's on about 99 % of samples (luma PSNR ≥ 69 dB).
//!
//! The `f32` path ([`Resampler::process_f32`] and its adjoint) uses each convention's
//! normalized real-valued weights, without quantization or clamping.
//!
//! # Cost
//!
//! A [`Resampler`] is built once per size pair; it precomputes both axes' tables (taps and
//! weights, plus the transposed tables for [`Resampler::process_f32_transpose`]) and keeps one
//! intermediate buffer per numeric path, allocated on first use, so per-frame calls allocate
//! nothing. The horizontal pass runs first (as in swscale), into an `in_h x out_w`
//! intermediate; the vertical pass then reads it. With `threads > 1` each pass splits its
//! rows into that many bands run on the current rayon pool; every output sample is computed
//! by the same arithmetic whatever the split, so results do not depend on `threads`.

use std::sync::{Mutex, MutexGuard};

use crate::plane::{Plane, Samples};

/// The interpolation kernel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kernel {
    /// Nearest neighbour (swscale `neighbor`/`point`); never widened.
    Point,
    /// Triangle filter, widened when downscaling (swscale `bilinear`, not `fast_bilinear`).
    Bilinear,
    /// The Mitchell–Netravali cubic family with parameters `b` and `c` (swscale `bicubic`
    /// with `param0 = b`, `param1 = c`). `b = 0` gives Keys' cubic with `a = -c`.
    Cubic { b: f64, c: f64 },
    /// `sinc(x) * sinc(x / a)` for `|x| < a` (swscale `lanczos`, `param0 = a`).
    Lanczos { a: f64 },
    /// Area averaging: each output sample is the mean of the source area it covers when
    /// downscaling; bilinear when upscaling (swscale `area`).
    Area,
}

impl Kernel {
    /// Lanczos with 3 lobes, swscale's `lanczos` default.
    pub const LANCZOS3: Kernel = Kernel::Lanczos { a: 3.0 };
    /// swscale's `bicubic`: its default parameters are B = 0, C = 0.6 (`param[1]` defaults to
    /// 0.6 in `initFilter`), i.e. Keys' cubic with a = -0.6, slightly sharper than Catmull-Rom.
    pub const BICUBIC_SWS: Kernel = Kernel::Cubic { b: 0.0, c: 0.6 };
    /// Catmull-Rom: B = 0, C = 0.5, the same kernel as Keys' cubic with a = -0.5 (what most
    /// libraries, PyTorch and OpenCV included, call "bicubic").
    pub const CATMULL_ROM: Kernel = Kernel::Cubic { b: 0.0, c: 0.5 };
    /// Mitchell–Netravali's recommended B = C = 1/3.
    pub const MITCHELL: Kernel = Kernel::Cubic {
        b: 1.0 / 3.0,
        c: 1.0 / 3.0,
    };

    /// Keys' cubic convolution kernel with parameter `a` (usually -0.5 or -0.75).
    pub fn keys(a: f64) -> Kernel {
        Kernel::Cubic { b: 0.0, c: -a }
    }

    /// The swscale flag naming this kernel: `neighbor`, `bilinear`, `bicubic`, `lanczos` or
    /// `area`.
    pub fn ffmpeg_flag(&self) -> &'static str {
        match self {
            Kernel::Point => "neighbor",
            Kernel::Bilinear => "bilinear",
            Kernel::Cubic { .. } => "bicubic",
            Kernel::Lanczos { .. } => "lanczos",
            Kernel::Area => "area",
        }
    }

    /// The ffmpeg `scale` filter that computes what [`Convention::Swscale`] reproduces, e.g.
    /// `scale=1280:720:flags=lanczos+accurate_rnd+full_chroma_int+bitexact`, with
    /// `:param0=...:param1=...` where the kernel's parameters are not swscale's defaults.
    pub fn ffmpeg_scale(&self, out_w: usize, out_h: usize) -> String {
        let mut f = format!(
            "scale={out_w}:{out_h}:flags={}+accurate_rnd+full_chroma_int+bitexact",
            self.ffmpeg_flag()
        );
        match *self {
            Kernel::Lanczos { a } if a != 3.0 => f.push_str(&format!(":param0={a}")),
            Kernel::Cubic { b, c } if !(b == 0.0 && c == 0.6) => {
                f.push_str(&format!(":param0={b}:param1={c}"))
            }
            _ => {}
        }
        f
    }

    /// The kernel's value at distance `x` (in source samples, before any widening).
    pub fn eval(&self, x: f64) -> f64 {
        let x = x.abs();
        match *self {
            Kernel::Point | Kernel::Area => {
                // Area's unit response is a box; Point's too, as a limit.
                if x < 0.5 {
                    1.0
                } else {
                    0.0
                }
            }
            Kernel::Bilinear => (1.0 - x).max(0.0),
            Kernel::Cubic { b, c } => {
                if x < 1.0 {
                    ((12.0 - 9.0 * b - 6.0 * c) * x * x * x
                        + (-18.0 + 12.0 * b + 6.0 * c) * x * x
                        + (6.0 - 2.0 * b))
                        / 6.0
                } else if x < 2.0 {
                    ((-b - 6.0 * c) * x * x * x
                        + (6.0 * b + 30.0 * c) * x * x
                        + (-12.0 * b - 48.0 * c) * x
                        + (8.0 * b + 24.0 * c))
                        / 6.0
                } else {
                    0.0
                }
            }
            Kernel::Lanczos { a } => {
                if x >= a {
                    0.0
                } else if x == 0.0 {
                    1.0
                } else {
                    let px = std::f64::consts::PI * x;
                    a * px.sin() * (px / a).sin() / (px * px)
                }
            }
        }
    }

    /// Half-width of the kernel's support in source samples at scale 1.
    pub fn radius(&self) -> f64 {
        match *self {
            Kernel::Point | Kernel::Area => 0.5,
            Kernel::Bilinear => 1.0,
            Kernel::Cubic { .. } => 2.0,
            Kernel::Lanczos { a } => a,
        }
    }

    fn validate(&self) -> Result<(), ResampleError> {
        match *self {
            Kernel::Lanczos { a } if !(a.is_finite() && (1.0..=10.0).contains(&a)) => Err(
                ResampleError::BadKernel(format!("Lanczos a = {a} (must be in 1..=10)")),
            ),
            Kernel::Cubic { b, c } if !(b.is_finite() && c.is_finite() && b < 3.0) => Err(
                ResampleError::BadKernel(format!("cubic B = {b}, C = {c} (need finite, B < 3)")),
            ),
            _ => Ok(()),
        }
    }
}

/// How the filter tables are derived; see the module documentation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Convention {
    /// libswscale's fixed-point construction, so integer output matches ffmpeg's `scale`.
    #[default]
    Swscale,
    /// Positions and weights in `f64` from the kernel definitions, no tap trimming.
    Exact,
}

/// Where sample 0 sits inside its cell along one axis, as a fraction of a sample, for the
/// source and the destination (0.5: centred, the usual case).
///
/// For 4:2:0 chroma planes this is the chroma location measured in chroma samples: MPEG-2
/// ("left") chroma is 0.25 horizontally and 0.5 vertically, JPEG/MPEG-1 ("center") chroma
/// 0.5 both ways. swscale quantizes sitings to 1/256 of a sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Siting {
    pub src: f64,
    pub dst: f64,
}

impl Siting {
    pub const CENTRE: Siting = Siting { src: 0.5, dst: 0.5 };

    /// The siting of a chroma plane subsampled by `2^sub_log2` along one axis, the same in source
    /// and destination: a sample co-sited with the first luma sample of its cell sits at
    /// `0.5 / 2^sub_log2` chroma samples, a centred one (or an unsubsampled plane) at 0.5.
    pub fn chroma(sub_log2: u32, cosited: bool) -> Siting {
        let v = if sub_log2 == 0 || !cosited {
            0.5
        } else {
            0.5 / (1u32 << sub_log2) as f64
        };
        Siting { src: v, dst: v }
    }
}

impl Default for Siting {
    fn default() -> Self {
        Siting::CENTRE
    }
}

/// Everything a [`Resampler`] is built from. `ResamplerConfig::new` fills in the defaults
/// (swscale convention, centred samples, one thread).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResamplerConfig {
    pub in_w: usize,
    pub in_h: usize,
    pub out_w: usize,
    pub out_h: usize,
    pub kernel: Kernel,
    pub convention: Convention,
    pub siting_x: Siting,
    pub siting_y: Siting,
    /// Bands of rows processed in parallel on the current rayon pool (0 or 1: run on the
    /// calling thread only). Results are identical for every value.
    pub threads: usize,
}

impl ResamplerConfig {
    pub fn new(in_w: usize, in_h: usize, out_w: usize, out_h: usize, kernel: Kernel) -> Self {
        ResamplerConfig {
            in_w,
            in_h,
            out_w,
            out_h,
            kernel,
            convention: Convention::Swscale,
            siting_x: Siting::CENTRE,
            siting_y: Siting::CENTRE,
            threads: 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResampleError {
    #[error("plane sizes must be 1..={MAX_DIM} (got {0}x{1} -> {2}x{3})")]
    BadSize(usize, usize, usize, usize),
    #[error("invalid kernel: {0}")]
    BadKernel(String),
    #[error("sample siting {0} is outside [0, 1)")]
    BadSiting(f64),
}

/// Largest plane dimension accepted; keeps swscale's fixed-point position arithmetic exact.
pub const MAX_DIM: usize = 1 << 16;

/// swscale's `SWS_MAX_REDUCE_CUTOFF`: end taps are dropped while the sum of their magnitudes
/// stays below this fraction of the filter's unit.
const SWS_MAX_REDUCE_CUTOFF: f64 = 0.002;

/// Tap alignment of swscale's x86 build (`filterAlign`): 4 horizontally, 2 vertically. The
/// extra taps are zero with `bitexact`, but the alignment moves windows at the right edge
/// and so decides the order in which coefficients are quantized.
const SWS_ALIGN_H: usize = 4;
const SWS_ALIGN_V: usize = 2;

/// Fixed-point units of the integer weights: swscale's `one` for each pass.
const ONE_H: i64 = 1 << 14;
const ONE_V: i64 = 1 << 12;

/// The filter of one axis: for each output sample a window of `taps` consecutive source
/// samples, always inside `0..in_len`, and its weights.
///
/// Output `o` is `sum_j w[o][j] * src[start(o) + j]`. The `f32` weights of a row sum to one
/// (up to `f32` rounding) and define the linear operator of [`Resampler::process_f32`]; the
/// fixed-point weights are what the integer paths use.
#[derive(Clone, Debug)]
pub struct AxisFilter {
    in_len: usize,
    out_len: usize,
    taps: usize,
    starts: Vec<usize>,
    weights: Vec<f32>,
    fixed: Vec<i16>,
    fixed_one: i32,
    /// The transpose in compressed rows: input `i`'s nonzero entries are
    /// `t_out[t_ptr[i]..t_ptr[i + 1]]` (output indices) with weights `t_w[...]`.
    t_ptr: Vec<usize>,
    t_out: Vec<u32>,
    t_w: Vec<f32>,
    /// Windows stay inside `used.0..used.1` for every `o`.
    used: (usize, usize),
    identity: bool,
    /// `taps` rounded up to a multiple of 4, the fixed weights padded to it, and how many
    /// leading outputs have their padded window inside the source (for the SIMD pass).
    simd_taps: usize,
    simd_w: Vec<i16>,
    simd_end: usize,
}

impl AxisFilter {
    pub fn in_len(&self) -> usize {
        self.in_len
    }
    pub fn out_len(&self) -> usize {
        self.out_len
    }
    /// Taps per output sample (the same for all).
    pub fn taps(&self) -> usize {
        self.taps
    }
    /// First source sample of output `o`'s window.
    pub fn start(&self, o: usize) -> usize {
        self.starts[o]
    }
    /// Output `o`'s normalized weights (`taps()` of them).
    pub fn weights(&self, o: usize) -> &[f32] {
        &self.weights[o * self.taps..(o + 1) * self.taps]
    }
    /// Output `o`'s fixed-point weights; they sum to about [`Self::fixed_one`].
    pub fn fixed_weights(&self, o: usize) -> &[i16] {
        &self.fixed[o * self.taps..(o + 1) * self.taps]
    }
    /// The fixed-point unit: 2^14 for the horizontal axis, 2^12 for the vertical one.
    pub fn fixed_one(&self) -> i32 {
        self.fixed_one
    }
    /// Whether this axis copies its input (same size, weight 1 on the matching sample).
    pub fn is_identity(&self) -> bool {
        self.identity
    }
    /// The outputs that read input `i`, with their weights: row `i` of the transpose.
    pub fn transposed(&self, i: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
        let r = self.t_ptr[i]..self.t_ptr[i + 1];
        self.t_out[r.clone()]
            .iter()
            .map(|&o| o as usize)
            .zip(self.t_w[r].iter().copied())
    }
    /// The `out_len x in_len` matrix of the `f32` weights, row-major.
    pub fn to_dense(&self) -> Vec<f32> {
        let mut m = vec![0f32; self.out_len * self.in_len];
        for o in 0..self.out_len {
            let s = self.starts[o];
            for (j, &w) in self.weights(o).iter().enumerate() {
                m[o * self.in_len + s + j] += w;
            }
        }
        m
    }

    fn build(
        len_in: usize,
        len_out: usize,
        kernel: Kernel,
        convention: Convention,
        siting: Siting,
        horizontal: bool,
    ) -> AxisFilter {
        let one = if horizontal { ONE_H } else { ONE_V };
        let align = if horizontal { SWS_ALIGN_H } else { SWS_ALIGN_V };
        let (taps, starts, weights, fixed) = match convention {
            Convention::Swscale => {
                let t = sws_init_filter(
                    len_in,
                    len_out,
                    kernel,
                    sws_pos(siting.src),
                    sws_pos(siting.dst),
                    align,
                    one,
                );
                relayout(len_in, len_out, t.size, &t.pos, &t.weights, &t.fixed)
            }
            Convention::Exact => {
                let (size, pos, mut raw) = exact_filter(len_in, len_out, kernel, siting);
                // Zero crossings evaluated in floating point leave ~1e-17 residues; snap
                // them so that e.g. a same-size Lanczos copies exactly.
                raw.iter_mut()
                    .filter(|w| w.abs() < 1e-12)
                    .for_each(|w| *w = 0.0);
                let mut out = relayout(len_in, len_out, size, &pos, &raw, &vec![0; raw.len()]);
                let taps = out.0;
                for o in 0..len_out {
                    let w = &mut out.2[o * taps..(o + 1) * taps];
                    let sum: f64 = w.iter().sum();
                    if sum.abs() < 1e-12 {
                        // Cannot happen with these kernels (the centre tap is positive);
                        // take the window's first sample rather than divide by zero.
                        w.fill(0.0);
                        w[0] = 1.0;
                    } else {
                        w.iter_mut().for_each(|v| *v /= sum);
                    }
                    quantize_rounded(w, one, &mut out.3[o * taps..(o + 1) * taps]);
                }
                out
            }
        };
        let weights: Vec<f32> = weights.iter().map(|&w| w as f32).collect();

        // Transpose (CSR over inputs), skipping exact zeros.
        let mut t_ptr = vec![0usize; len_in + 1];
        for o in 0..len_out {
            for (j, &w) in weights[o * taps..(o + 1) * taps].iter().enumerate() {
                if w != 0.0 {
                    t_ptr[starts[o] + j + 1] += 1;
                }
            }
        }
        for i in 0..len_in {
            t_ptr[i + 1] += t_ptr[i];
        }
        let nnz = t_ptr[len_in];
        let mut fill = t_ptr.clone();
        let mut t_out = vec![0u32; nnz];
        let mut t_w = vec![0f32; nnz];
        for o in 0..len_out {
            for (j, &w) in weights[o * taps..(o + 1) * taps].iter().enumerate() {
                if w != 0.0 {
                    let i = starts[o] + j;
                    t_out[fill[i]] = o as u32;
                    t_w[fill[i]] = w;
                    fill[i] += 1;
                }
            }
        }

        // A copy of the fixed weights padded to a multiple of 4 taps for the SIMD passes,
        // and the prefix of outputs whose padded window stays inside the source.
        let simd_taps = taps.next_multiple_of(4);
        let mut simd_w = vec![0i16; len_out * simd_taps];
        for o in 0..len_out {
            simd_w[o * simd_taps..o * simd_taps + taps]
                .copy_from_slice(&fixed[o * taps..(o + 1) * taps]);
        }
        // (The SIMD pass relies on this prefix property for memory safety.)
        let simd_end = starts
            .iter()
            .position(|&s| s + simd_taps > len_in)
            .unwrap_or(len_out);
        assert!(starts[..simd_end].iter().all(|&s| s + simd_taps <= len_in));

        let lo = starts.iter().copied().min().unwrap_or(0);
        let hi = starts.iter().map(|&s| s + taps).max().unwrap_or(0);
        // Same size with a single unit weight on the matching sample in every row: both
        // paths copy, so skip the arithmetic.
        let identity = len_in == len_out
            && (0..len_out).all(|o| {
                let (s, row, frow) = (
                    starts[o],
                    &weights[o * taps..(o + 1) * taps],
                    &fixed[o * taps..(o + 1) * taps],
                );
                (s..s + taps).contains(&o)
                    && row.iter().enumerate().all(|(j, &w)| {
                        let unit = s + j == o;
                        w == if unit { 1.0 } else { 0.0 }
                            && frow[j] as i64 == if unit { one } else { 0 }
                    })
            });
        AxisFilter {
            in_len: len_in,
            out_len: len_out,
            taps,
            starts,
            weights,
            fixed,
            fixed_one: one as i32,
            t_ptr,
            t_out,
            t_w,
            used: (lo, hi),
            identity,
            simd_taps,
            simd_w,
            simd_end,
        }
    }
}

/// A siting as swscale's `get_local_pos` value: 1/256 of a sample from the cell's left edge.
fn sws_pos(siting: f64) -> i64 {
    (siting * 256.0).round() as i64
}

/// swscale's filter for one axis after `initFilter`: `size` taps per output at `pos[o]`
/// (already folded at the edges, so nonzero taps lie inside the source), with the exact
/// (pre-quantization) weights normalized in `f64` and the quantized integer weights.
struct SwsTable {
    size: usize,
    pos: Vec<i64>,
    weights: Vec<f64>,
    fixed: Vec<i16>,
}

fn av_log2(v: u64) -> u32 {
    if v == 0 {
        0
    } else {
        63 - v.leading_zeros()
    }
}

/// libswscale's `ROUNDED_DIV`: rounds half away from zero.
fn rounded_div(a: i64, b: i64) -> i64 {
    if a >= 0 {
        (a + (b >> 1)) / b
    } else {
        (a - (b >> 1)) / b
    }
}

/// The coefficient swscale's general branch gives a tap at fixed-point distance `d` (units of
/// 2^-30 samples, already scaled for downscaling), in units of `fone`.
fn sws_coeff(kernel: Kernel, d: i64, x_inc: i64, fone: i64) -> i64 {
    let floatd = d as f64 * (1.0 / (1u64 << 30) as f64);
    match kernel {
        Kernel::Cubic { b, c } => {
            // swscale evaluates the cubic in fixed point with B and C truncated to 24 bits
            // and does not divide by 6 (normalization removes the factor).
            let bb = (b * (1u64 << 24) as f64) as i64;
            let cc = (c * (1u64 << 24) as f64) as i64;
            let one24 = 1i64 << 24;
            let coeff = if d >= 1i64 << 31 {
                0
            } else {
                let dd = (d * d) >> 30;
                let ddd = (dd * d) >> 30;
                if d < 1i64 << 30 {
                    (12 * one24 - 9 * bb - 6 * cc) * ddd
                        + (-18 * one24 + 12 * bb + 6 * cc) * dd
                        + (6 * one24 - 2 * bb) * (1i64 << 30)
                } else {
                    (-bb - 6 * cc) * ddd
                        + (6 * bb + 30 * cc) * dd
                        + (-12 * bb - 48 * cc) * d
                        + (8 * bb + 24 * cc) * (1i64 << 30)
                }
            };
            coeff / ((1i64 << 54) / fone)
        }
        Kernel::Area => {
            // Coverage of the source sample by the destination footprint.
            let d2 = d as i128 - (1i128 << 29);
            let xi = x_inc as i128;
            let c = if d2 * xi < -(1i128 << 45) {
                1i128 << 46
            } else if d2 * xi < 1i128 << 45 {
                -d2 * xi + (1i128 << 45)
            } else {
                0
            };
            (c * (fone >> 46) as i128) as i64
        }
        Kernel::Lanczos { a } => {
            let pi = std::f64::consts::PI;
            let c = if d != 0 {
                (floatd * pi).sin() * (floatd * pi / a).sin() / (floatd * floatd * pi * pi / a)
            } else {
                1.0
            } * fone as f64;
            if floatd > a {
                0
            } else {
                c as i64
            }
        }
        Kernel::Bilinear => ((1i64 << 30) - d).max(0) * (fone >> 30),
        Kernel::Point => unreachable!("point sampling has its own branch"),
    }
}

/// libswscale's `initFilter` for one axis (x86 build, `SWS_BITEXACT`, no extra src/dst
/// filter vectors), followed by the conversion to normalized `f64` weights.
fn sws_init_filter(
    src_w: usize,
    dst_w: usize,
    kernel: Kernel,
    src_pos: i64,
    dst_pos: i64,
    align: usize,
    one: i64,
) -> SwsTable {
    let (src, dst) = (src_w as i64, dst_w as i64);
    let x_inc = ((src << 16) + (dst >> 1)) / dst;
    let fone: i64 = 1 << (54 - av_log2((src / dst) as u64).min(8));
    let mut pos = vec![0i64; dst_w];
    let (size, mut filter): (usize, Vec<i64>);

    if (x_inc - 0x10000).abs() < 10 && src_pos == dst_pos {
        // Unscaled axis.
        size = 1;
        filter = vec![fone; dst_w];
        for (i, p) in pos.iter_mut().enumerate() {
            *p = i as i64;
        }
    } else if kernel == Kernel::Point {
        size = 1;
        filter = vec![fone; dst_w];
        let mut x = ((dst_pos * x_inc) >> 8) - ((src_pos * 0x8000) >> 7);
        for p in pos.iter_mut() {
            *p = (x + (1 << 15)) >> 16;
            x += x_inc;
        }
    } else if kernel == Kernel::Area && x_inc <= 1 << 16 {
        // Area upscaling is linear interpolation, on swscale's 16-bit position grid.
        size = 2;
        filter = vec![0; dst_w * 2];
        let mut x = ((dst_pos * x_inc) >> 8) - ((src_pos * 0x8000) >> 7);
        for (i, p) in pos.iter_mut().enumerate() {
            let xx = x >> 16;
            *p = xx;
            for j in 0..2 {
                let c = fone - ((xx + j as i64) * (1 << 16) - x).abs() * (fone >> 16);
                filter[i * 2 + j] = c.max(0);
            }
            x += x_inc;
        }
    } else {
        let size_factor: i64 = match kernel {
            Kernel::Area => 1,
            Kernel::Cubic { .. } => 4,
            Kernel::Bilinear => 2,
            Kernel::Lanczos { a } => (2.0 * a).ceil() as i64,
            Kernel::Point => unreachable!(),
        };
        let mut s = if x_inc <= 1 << 16 {
            1 + size_factor
        } else {
            1 + (size_factor * src + dst - 1) / dst
        };
        s = s.min(src - 2).max(1);
        size = s as usize;
        filter = vec![0; dst_w * size];
        let mut x = ((dst_pos * x_inc) >> 7) - ((src_pos * 0x10000) >> 7);
        for (i, p) in pos.iter_mut().enumerate() {
            // C's `/` truncates toward zero, as Rust's does.
            let xx = (x - (s - 2) * (1 << 16)) / (1 << 17);
            *p = xx;
            for j in 0..size {
                let mut d = (((xx + j as i64) << 17) - x).abs() << 13;
                if x_inc > 1 << 16 {
                    d = (d as i128 * dst as i128 / src as i128) as i64;
                }
                filter[i * size + j] = sws_coeff(kernel, d, x_inc, fone);
            }
            x += 2 * x_inc;
        }
    }

    // Trim near-zero taps: shift each window right past negligible leading taps (keeping
    // the positions monotonic), then find how many trailing taps every row can lose.
    let cutoff = SWS_MAX_REDUCE_CUTOFF * fone as f64;
    let mut min_size = 0usize;
    for i in (0..dst_w).rev() {
        let row = &mut filter[i * size..(i + 1) * size];
        let mut cut = 0i64;
        for _ in 0..size {
            cut += row[0].abs();
            if cut as f64 > cutoff {
                break;
            }
            if i + 1 < dst_w && pos[i] >= pos[i + 1] {
                break;
            }
            row.rotate_left(1);
            row[size - 1] = 0;
            pos[i] += 1;
        }
        let mut m = size;
        cut = 0;
        for j in (1..size).rev() {
            cut += row[j].abs();
            if cut as f64 > cutoff {
                break;
            }
            m -= 1;
        }
        min_size = min_size.max(m);
    }
    let align = if min_size == 1 && align == 2 {
        1
    } else {
        align
    };
    let n = (min_size + align - 1) & !(align - 1);
    // With SWS_BITEXACT the alignment taps are zero.
    let mut out = vec![0i64; dst_w * n];
    for i in 0..dst_w {
        for j in 0..min_size.min(size) {
            out[i * n + j] = filter[i * size + j];
        }
    }

    // Fold taps outside the source onto the edge samples.
    let (ni, srci) = (n as i64, src);
    for i in 0..dst_w {
        let row = &mut out[i * n..(i + 1) * n];
        if pos[i] < 0 {
            for j in 1..n {
                let left = (j as i64 + pos[i]).max(0) as usize;
                let v = row[j];
                row[j] = 0;
                row[left] += v;
            }
            pos[i] = 0;
        }
        if pos[i] + ni > srci {
            let shift = pos[i] + (ni - srci).min(0);
            let mut acc = 0;
            for j in (0..n).rev() {
                if pos[i] + j as i64 >= srci {
                    acc += row[j];
                    row[j] = 0;
                }
            }
            for j in (0..n).rev() {
                row[j] = if (j as i64) < shift {
                    0
                } else {
                    row[j - shift as usize]
                };
            }
            pos[i] -= shift;
            row[(srci - 1 - pos[i]) as usize] += acc;
        }
    }

    // Normalize: f64 weights for the float paths, and swscale's quantization with error
    // diffusion for the integer ones.
    let mut weights = vec![0f64; dst_w * n];
    let mut fixed = vec![0i16; dst_w * n];
    for i in 0..dst_w {
        let row = &out[i * n..(i + 1) * n];
        let total: i64 = row.iter().sum();
        let mut sum = (total + one / 2) / one;
        if sum == 0 {
            sum = 1;
        }
        let mut err = 0i64;
        for j in 0..n {
            let v = row[j] + err;
            let q = rounded_div(v, sum);
            fixed[i * n + j] = q as i16;
            err = v - q * sum;
        }
        if total != 0 {
            for j in 0..n {
                weights[i * n + j] = row[j] as f64 / total as f64;
            }
        } else {
            weights[i * n] = 1.0;
        }
    }
    SwsTable {
        size: n,
        pos,
        weights,
        fixed,
    }
}

/// The textbook filter for one axis: raw (unnormalized) kernel weights over every source
/// index the support touches; windows may extend past the edges (folded later).
fn exact_filter(
    src_w: usize,
    dst_w: usize,
    kernel: Kernel,
    siting: Siting,
) -> (usize, Vec<i64>, Vec<f64>) {
    let ratio = src_w as f64 / dst_w as f64;
    let centre = |o: usize| (o as f64 + siting.dst) * ratio - siting.src;
    let mut pos = vec![0i64; dst_w];
    if src_w == dst_w && siting.src == siting.dst {
        // Nothing to resample (swscale's "unscaled" case): copy, whatever the kernel, rather
        // than blur with a non-interpolating one such as Mitchell's.
        for (o, p) in pos.iter_mut().enumerate() {
            *p = o as i64;
        }
        return (1, pos, vec![1.0; dst_w]);
    }
    if kernel == Kernel::Point {
        for (o, p) in pos.iter_mut().enumerate() {
            *p = (centre(o) + 0.5).floor() as i64;
        }
        return (1, pos, vec![1.0; dst_w]);
    }
    let downscale = ratio > 1.0;
    // Area upscaling is linear interpolation, as in swscale.
    let kernel = if kernel == Kernel::Area && !downscale {
        Kernel::Bilinear
    } else {
        kernel
    };
    let stretch = ratio.max(1.0);
    let radius = if kernel == Kernel::Area {
        // Box of the output footprint convolved with the unit source cell.
        0.5 * ratio + 0.5
    } else {
        kernel.radius() * stretch
    };
    // Integers strictly inside (c - r, c + r): at most ceil(2r) of them.
    let size = ((2.0 * radius).ceil() as usize).max(1);
    let mut raw = vec![0f64; dst_w * size];
    for o in 0..dst_w {
        let c = centre(o);
        let start = (c - radius).floor() as i64 + 1;
        pos[o] = start;
        for j in 0..size {
            let k = (start + j as i64) as f64;
            raw[o * size + j] = if kernel == Kernel::Area {
                let half = 0.5 * ratio;
                ((k + 0.5).min(c + half) - (k - 0.5).max(c - half)).max(0.0)
            } else {
                kernel.eval((k - c) / stretch)
            };
        }
    }
    (size, pos, raw)
}

/// Rounds normalized weights to integers summing to `one`, diffusing the rounding error
/// along the row (the same idea as swscale's quantization).
fn quantize_rounded(w: &[f64], one: i64, out: &mut [i16]) {
    let mut err = 0f64;
    for (q, &v) in out.iter_mut().zip(w) {
        let x = v * one as f64 + err;
        let r = x.round();
        *q = r as i16;
        err = x - r;
    }
}

/// Moves every row's window inside `0..in_len`: taps past an edge are added to the edge
/// sample, and the window is capped at `in_len` taps. For swscale's tables (already folded)
/// this only shifts windows whose aligned size exceeds the source, which is lossless.
#[allow(clippy::type_complexity)]
fn relayout(
    in_len: usize,
    out_len: usize,
    size: usize,
    pos: &[i64],
    weights: &[f64],
    fixed: &[i16],
) -> (usize, Vec<usize>, Vec<f64>, Vec<i16>) {
    let taps = size.min(in_len);
    let max_start = (in_len - taps) as i64;
    let mut starts = vec![0usize; out_len];
    let mut w = vec![0f64; out_len * taps];
    let mut f = vec![0i16; out_len * taps];
    for o in 0..out_len {
        let s = pos[o].clamp(0, max_start);
        starts[o] = s as usize;
        for j in 0..size {
            let k = (pos[o] + j as i64).clamp(0, in_len as i64 - 1);
            let t = (k - s) as usize;
            w[o * taps + t] += weights[o * size + j];
            f[o * taps + t] += fixed[o * size + j];
        }
    }
    (taps, starts, w, f)
}

/// Resamples planes of one size to another; built once, used for every frame.
#[derive(Debug)]
pub struct Resampler {
    cfg: ResamplerConfig,
    h: AxisFilter,
    v: AxisFilter,
    /// Intermediate of the integer paths: rows `v.used` of the horizontally filtered input.
    scratch_i16: Mutex<Vec<i16>>,
    /// Intermediate of the 15- and 16-bit path.
    scratch_i32: Mutex<Vec<i32>>,
    /// Intermediate of the float paths (forward: `v.used` rows; transpose: `in_h` rows).
    scratch_f32: Mutex<Vec<f32>>,
}

impl Resampler {
    /// A resampler with the default configuration (swscale convention, centred samples,
    /// single-threaded).
    pub fn new(
        in_w: usize,
        in_h: usize,
        out_w: usize,
        out_h: usize,
        kernel: Kernel,
    ) -> Result<Self, ResampleError> {
        Self::with_config(ResamplerConfig::new(in_w, in_h, out_w, out_h, kernel))
    }

    pub fn with_config(cfg: ResamplerConfig) -> Result<Self, ResampleError> {
        let dims = [cfg.in_w, cfg.in_h, cfg.out_w, cfg.out_h];
        if dims.iter().any(|&d| d == 0 || d > MAX_DIM) {
            return Err(ResampleError::BadSize(
                cfg.in_w, cfg.in_h, cfg.out_w, cfg.out_h,
            ));
        }
        cfg.kernel.validate()?;
        for s in [cfg.siting_x, cfg.siting_y] {
            for v in [s.src, s.dst] {
                if !(0.0..1.0).contains(&v) {
                    return Err(ResampleError::BadSiting(v));
                }
            }
        }
        let h = AxisFilter::build(
            cfg.in_w,
            cfg.out_w,
            cfg.kernel,
            cfg.convention,
            cfg.siting_x,
            true,
        );
        let v = AxisFilter::build(
            cfg.in_h,
            cfg.out_h,
            cfg.kernel,
            cfg.convention,
            cfg.siting_y,
            false,
        );
        Ok(Resampler {
            cfg,
            h,
            v,
            scratch_i16: Mutex::new(Vec::new()),
            scratch_i32: Mutex::new(Vec::new()),
            scratch_f32: Mutex::new(Vec::new()),
        })
    }

    pub fn config(&self) -> &ResamplerConfig {
        &self.cfg
    }

    /// Changes the number of row bands processed in parallel (results do not change).
    pub fn set_threads(&mut self, threads: usize) {
        self.cfg.threads = threads;
    }

    /// The horizontal and vertical filter tables, e.g. for a training engine that builds
    /// the same operator (`A = V ⊗ H`: each output row is `V`'s weights over `H`-filtered
    /// input rows).
    pub fn taps(&self) -> (&AxisFilter, &AxisFilter) {
        (&self.h, &self.v)
    }

    fn check_dst<T>(&self, dst: &[T], dst_stride: usize) {
        let (w, h) = (self.cfg.out_w, self.cfg.out_h);
        assert!(
            dst_stride >= w && dst.len() >= (h - 1) * dst_stride + w,
            "resample: destination too small for {w}x{h} with stride {dst_stride}"
        );
    }

    fn check_src(&self, src: &Plane) {
        assert!(
            src.width == self.cfg.in_w && src.height == self.cfg.in_h,
            "resample: source is {}x{}, resampler expects {}x{}",
            src.width,
            src.height,
            self.cfg.in_w,
            self.cfg.in_h
        );
    }

    /// Resamples an 8-bit plane (`U8` samples, or `U16` samples holding 8 bits) into `dst`
    /// (rows `dst_stride` apart), rounding to nearest and clamping to 0..=255.
    ///
    /// With [`Convention::Swscale`] this is swscale's `hScale8To15` + `yuv2planeX_8`
    /// (`accurate_rnd`; swscale does not dither 8-bit input), bit-exact with ffmpeg's `scale`
    /// filter (see `tests/oracle_resample.rs`).
    ///
    /// # Panics
    /// If the source size or depth does not match, or `dst` is too small.
    pub fn process_u8(&self, src: &Plane, dst: &mut [u8], dst_stride: usize) {
        self.check_src(src);
        assert_eq!(src.bpc, 8, "process_u8 needs an 8-bit plane");
        self.check_dst(dst, dst_stride);
        self.process_fixed(src, dst, dst_stride);
    }

    /// Resamples a 9..=16-bit plane (samples below `2^bpc`) into `dst` (rows `dst_stride`
    /// apart) at the same depth, rounding and clamping to `0..2^bpc`.
    ///
    /// This is swscale's integer pipeline, bit-exact with ffmpeg's `scale` under
    /// [`Convention::Swscale`]: up to 14 bits `hScale16To15` + `yuv2planeX_10` (15-bit
    /// intermediate), above that `hScale16To19` + `yuv2planeX_16` (19-bit intermediate).
    ///
    /// # Panics
    /// If the source size or depth does not match, or `dst` is too small.
    pub fn process_u16(&self, src: &Plane, dst: &mut [u16], dst_stride: usize) {
        self.check_src(src);
        assert!(
            (9..=16).contains(&src.bpc),
            "process_u16 needs a 9..=16-bit plane"
        );
        self.check_dst(dst, dst_stride);
        if src.bpc <= 14 {
            self.process_fixed(src, dst, dst_stride);
        } else {
            self.process_wide(src, dst, dst_stride);
        }
    }

    /// Resamples an `f32` plane (`in_h` rows of `in_w`, `src_stride` apart) into `dst` with
    /// the normalized `f32` weights: no rounding or clamping, for training and evaluation.
    ///
    /// # Panics
    /// If a buffer is too small for its size and stride.
    pub fn process_f32(&self, src: &[f32], src_stride: usize, dst: &mut [f32], dst_stride: usize) {
        let (iw, ih) = (self.cfg.in_w, self.cfg.in_h);
        assert!(
            src_stride >= iw && src.len() >= (ih - 1) * src_stride + iw,
            "resample: f32 source too small"
        );
        self.check_dst(dst, dst_stride);
        self.process_float(src, src_stride, dst, dst_stride);
    }

    /// Applies the adjoint (transpose) of [`Self::process_f32`]'s linear map: `src` is an
    /// `out_w x out_h` plane (e.g. a gradient with respect to the output), `dst` receives the
    /// `in_w x in_h` result (overwritten, not accumulated). For every `x`, `y`:
    /// `<A x, y> = <x, Aᵀ y>`.
    ///
    /// # Panics
    /// If a buffer is too small for its size and stride.
    pub fn process_f32_transpose(
        &self,
        src: &[f32],
        src_stride: usize,
        dst: &mut [f32],
        dst_stride: usize,
    ) {
        let (iw, ih, ow, oh) = (self.cfg.in_w, self.cfg.in_h, self.cfg.out_w, self.cfg.out_h);
        assert!(
            src_stride >= ow && src.len() >= (oh - 1) * src_stride + ow,
            "resample: transpose source too small"
        );
        assert!(
            dst_stride >= iw && dst.len() >= (ih - 1) * dst_stride + iw,
            "resample: transpose destination too small"
        );
        let mut tmp = lock_sized(&self.scratch_f32, ih * ow);
        let tmp = &mut tmp[..ih * ow];
        let v = &self.v;
        // Vᵀ: input row i gathers the output rows that read it.
        for_bands(tmp, ow, ih, self.cfg.threads, |r0, r1, chunk| {
            for i in r0..r1 {
                let t = &mut chunk[(i - r0) * ow..(i - r0 + 1) * ow];
                t.fill(0.0);
                for (y, w) in v.transposed(i) {
                    let g = &src[y * src_stride..y * src_stride + ow];
                    for (a, &b) in t.iter_mut().zip(g) {
                        *a += w * b;
                    }
                }
            }
        });
        let tmp = &*tmp;
        let h = &self.h;
        // Hᵀ along each row, as a scatter: every output sample adds its weighted value to its
        // window (contiguous, so it vectorizes), in a fixed order.
        let n = h.taps;
        for_bands(dst, dst_stride, ih, self.cfg.threads, |r0, r1, chunk| {
            for i in r0..r1 {
                let t = &tmp[i * ow..(i + 1) * ow];
                let out = &mut chunk[(i - r0) * dst_stride..(i - r0) * dst_stride + iw];
                out.fill(0.0);
                for ((&g, &s), w) in t.iter().zip(&h.starts).zip(h.weights.chunks_exact(n)) {
                    for (o, &c) in out[s..s + n].iter_mut().zip(w) {
                        *o += c * g;
                    }
                }
            }
        });
    }

    /// The integer pipeline: 15-bit intermediate, swscale's shifts and rounding.
    fn process_fixed<O: OutSample>(&self, src: &Plane, dst: &mut [O], dst_stride: usize) {
        let bpc = src.bpc;
        let (ow, oh) = (self.cfg.out_w, self.cfg.out_h);
        let max = ((1u32 << bpc) - 1) as i32;
        if self.h.identity && self.v.identity {
            for y in 0..oh {
                let d = &mut dst[y * dst_stride..y * dst_stride + ow];
                for (x, o) in d.iter_mut().enumerate() {
                    *o = O::clamp_from(src.get(x, y) as i32, max);
                }
            }
            return;
        }
        let (lo, hi) = self.v.used;
        let rows = hi - lo;
        let mut tmp = lock_sized(&self.scratch_i16, rows * ow);
        let tmp = &mut tmp[..rows * ow];
        let h_shift = bpc - 1;
        let h = &self.h;
        for_bands(tmp, ow, rows, self.cfg.threads, |r0, r1, chunk| {
            for r in r0..r1 {
                let out = &mut chunk[(r - r0) * ow..(r - r0 + 1) * ow];
                let y = lo + r;
                let o = y * src.stride;
                match src.samples {
                    Samples::U8(d) => h_fixed(&d[o..o + src.width], h, h_shift, out),
                    Samples::U16(d) => h_fixed(&d[o..o + src.width], h, h_shift, out),
                }
            }
        });
        let tmp = &*tmp;
        let v = &self.v;
        // 11 + 16 - bpc: 19 for 8-bit (yuv2planeX_8), 17 for 10-bit (yuv2planeX_10).
        let v_shift = 27 - bpc;
        for_bands(dst, dst_stride, oh, self.cfg.threads, |r0, r1, chunk| {
            for y in r0..r1 {
                let out = &mut chunk[(y - r0) * dst_stride..(y - r0) * dst_stride + ow];
                let first = v.starts[y] - lo;
                v_fixed(tmp, ow, first, v.fixed_weights(y), v_shift, max, out);
            }
        });
    }

    /// The 15- and 16-bit integer pipeline: swscale's `hScale16To19` (19-bit intermediate)
    /// and `yuv2planeX_16`. swscale sums the vertical pass in wrapping 32-bit arithmetic
    /// around an offset; it is summed exactly in 64 bits here, which differs only where the
    /// true result lies far outside the sample range (where swscale's sum wraps).
    fn process_wide(&self, src: &Plane, dst: &mut [u16], dst_stride: usize) {
        let bpc = src.bpc;
        let (ow, oh) = (self.cfg.out_w, self.cfg.out_h);
        let max = ((1u32 << bpc) - 1) as i64;
        let Samples::U16(data) = src.samples else {
            unreachable!("15- and 16-bit planes hold u16 samples")
        };
        if self.h.identity && self.v.identity {
            for y in 0..oh {
                let d = &mut dst[y * dst_stride..y * dst_stride + ow];
                d.copy_from_slice(&data[y * src.stride..y * src.stride + ow]);
            }
            return;
        }
        let (lo, hi) = self.v.used;
        let rows = hi - lo;
        let mut tmp = lock_sized(&self.scratch_i32, rows * ow);
        let tmp = &mut tmp[..rows * ow];
        // 16 + 14 - 11 = 19 bits.
        let h_shift = bpc - 5;
        let h = &self.h;
        for_bands(tmp, ow, rows, self.cfg.threads, |r0, r1, chunk| {
            for r in r0..r1 {
                let out = &mut chunk[(r - r0) * ow..(r - r0 + 1) * ow];
                let row = &data[(lo + r) * src.stride..(lo + r) * src.stride + src.width];
                let n = h.taps;
                for ((o, &s), w) in out.iter_mut().zip(&h.starts).zip(h.fixed.chunks_exact(n)) {
                    let acc: i32 = row[s..s + n]
                        .iter()
                        .zip(w)
                        .map(|(&x, &c)| x as i32 * c as i32)
                        .sum();
                    *o = (acc >> h_shift).min((1 << 19) - 1);
                }
            }
        });
        let tmp = &*tmp;
        let v = &self.v;
        // 19 + 12 - 15 = 16 bits.
        let v_shift = 31 - bpc;
        for_bands(dst, dst_stride, oh, self.cfg.threads, |r0, r1, chunk| {
            let mut acc = [0i64; CHUNK];
            for y in r0..r1 {
                let out = &mut chunk[(y - r0) * dst_stride..(y - r0) * dst_stride + ow];
                let first = v.starts[y] - lo;
                for x0 in (0..ow).step_by(CHUNK) {
                    let n = CHUNK.min(ow - x0);
                    let acc = &mut acc[..n];
                    acc.fill(1 << (v_shift - 1));
                    for (j, &wj) in v.fixed_weights(y).iter().enumerate() {
                        let row = &tmp[(first + j) * ow + x0..][..n];
                        for (a, &t) in acc.iter_mut().zip(row) {
                            *a += t as i64 * wj as i64;
                        }
                    }
                    for (o, &a) in out[x0..x0 + n].iter_mut().zip(acc.iter()) {
                        *o = (a >> v_shift).clamp(0, max) as u16;
                    }
                }
            }
        });
    }

    fn process_float(&self, src: &[f32], src_stride: usize, dst: &mut [f32], dst_stride: usize) {
        let (iw, ow, oh) = (self.cfg.in_w, self.cfg.out_w, self.cfg.out_h);
        let (lo, hi) = self.v.used;
        let rows = hi - lo;
        let mut tmp = lock_sized(&self.scratch_f32, rows * ow);
        let tmp = &mut tmp[..rows * ow];
        let h = &self.h;
        for_bands(tmp, ow, rows, self.cfg.threads, |r0, r1, chunk| {
            for r in r0..r1 {
                let out = &mut chunk[(r - r0) * ow..(r - r0 + 1) * ow];
                let y = lo + r;
                h_float(&src[y * src_stride..y * src_stride + iw], h, out);
            }
        });
        let tmp = &*tmp;
        let v = &self.v;
        for_bands(dst, dst_stride, oh, self.cfg.threads, |r0, r1, chunk| {
            let mut acc = [0f32; CHUNK];
            for y in r0..r1 {
                let out = &mut chunk[(y - r0) * dst_stride..(y - r0) * dst_stride + ow];
                let first = v.starts[y] - lo;
                let w = v.weights(y);
                for x0 in (0..ow).step_by(CHUNK) {
                    let n = CHUNK.min(ow - x0);
                    let acc = &mut acc[..n];
                    acc.fill(0.0);
                    for (j, &wj) in w.iter().enumerate() {
                        if wj == 0.0 {
                            continue;
                        }
                        let row = &tmp[(first + j) * ow + x0..][..n];
                        for (a, &t) in acc.iter_mut().zip(row) {
                            *a += wj * t;
                        }
                    }
                    out[x0..x0 + n].copy_from_slice(acc);
                }
            }
        });
    }
}

/// Width of the stack buffers of the vertical pass.
const CHUNK: usize = 256;

/// Locks a scratch buffer, growing it to at least `len` (only the first use allocates).
fn lock_sized<T: Default + Clone>(m: &Mutex<Vec<T>>, len: usize) -> MutexGuard<'_, Vec<T>> {
    // A panic in another call leaves only scratch data behind; keep going.
    let mut g = m.lock().unwrap_or_else(|e| e.into_inner());
    if g.len() < len {
        g.resize(len, T::default());
    }
    g
}

/// Runs `work(first_row, end_row, rows)` over `rows` rows of `buf` (rows `stride` apart) in
/// `bands` contiguous bands; with more than one band they run on the current rayon pool.
fn for_bands<T: Send>(
    buf: &mut [T],
    stride: usize,
    rows: usize,
    bands: usize,
    work: impl Fn(usize, usize, &mut [T]) + Sync,
) {
    let bands = bands.clamp(1, rows.max(1));
    if bands == 1 {
        work(0, rows, buf);
        return;
    }
    let work = &work;
    rayon::scope(|s| {
        let mut rest = buf;
        let mut r0 = 0;
        for b in 0..bands {
            let r1 = (b + 1) * rows / bands;
            let chunk = if b + 1 == bands {
                std::mem::take(&mut rest)
            } else {
                let (c, t) = std::mem::take(&mut rest).split_at_mut((r1 - r0) * stride);
                rest = t;
                c
            };
            s.spawn(move |_| work(r0, r1, chunk));
            r0 = r1;
        }
    });
}

#[cfg(target_arch = "x86_64")]
trait InSample: Copy + x86::Dot {
    fn to_i32(self) -> i32;
}
#[cfg(not(target_arch = "x86_64"))]
trait InSample: Copy {
    fn to_i32(self) -> i32;
}
impl InSample for u8 {
    #[inline(always)]
    fn to_i32(self) -> i32 {
        self as i32
    }
}
impl InSample for u16 {
    #[inline(always)]
    fn to_i32(self) -> i32 {
        self as i32
    }
}

trait OutSample: Copy + Send {
    /// Whether `Self` is `u8` (else `u16`), for the SIMD stores.
    const IS_U8: bool;
    fn clamp_from(v: i32, max: i32) -> Self;
}
impl OutSample for u8 {
    const IS_U8: bool = true;
    #[inline(always)]
    fn clamp_from(v: i32, _max: i32) -> Self {
        v.clamp(0, 255) as u8
    }
}
impl OutSample for u16 {
    const IS_U8: bool = false;
    #[inline(always)]
    fn clamp_from(v: i32, max: i32) -> Self {
        v.clamp(0, max) as u16
    }
}

/// One row of the horizontal integer pass (swscale's `hScale8To15` / `hScale16To15`):
/// `clamp(sum >> shift)` to 16 bits. On x86-64 the outputs whose padded window stays inside
/// the row go through SSE2 (exact integer arithmetic, so the results are the same).
fn h_fixed<S: InSample>(src: &[S], f: &AxisFilter, shift: u32, out: &mut [i16]) {
    #[cfg(target_arch = "x86_64")]
    let done = {
        let n = f.simd_end & !3;
        x86::h_fixed(src, f, shift, &mut out[..n]);
        n
    };
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    h_fixed_scalar(src, f, shift, &mut out[done..], done);
}

/// The portable horizontal pass over outputs `o0..o0 + out.len()`, with the tap count as a
/// constant for the common sizes so the dot products unroll.
fn h_fixed_scalar<S: InSample>(src: &[S], f: &AxisFilter, shift: u32, out: &mut [i16], o0: usize) {
    let n = f.taps;
    let starts = &f.starts[o0..];
    let fixed = &f.fixed[o0 * n..];
    match n {
        1 => h_fixed_n::<S, 1>(src, starts, fixed, shift, out),
        2 => h_fixed_n::<S, 2>(src, starts, fixed, shift, out),
        3 => h_fixed_n::<S, 3>(src, starts, fixed, shift, out),
        4 => h_fixed_n::<S, 4>(src, starts, fixed, shift, out),
        8 => h_fixed_n::<S, 8>(src, starts, fixed, shift, out),
        12 => h_fixed_n::<S, 12>(src, starts, fixed, shift, out),
        _ => {
            for ((o, &s), w) in out.iter_mut().zip(starts).zip(fixed.chunks_exact(n)) {
                let acc: i32 = src[s..s + n]
                    .iter()
                    .zip(w)
                    .map(|(&x, &c)| x.to_i32() * c as i32)
                    .sum();
                *o = (acc >> shift).clamp(-32768, 32767) as i16;
            }
        }
    }
}

#[inline(always)]
fn h_fixed_n<S: InSample, const N: usize>(
    src: &[S],
    starts: &[usize],
    fixed: &[i16],
    shift: u32,
    out: &mut [i16],
) {
    for ((o, &s), w) in out.iter_mut().zip(starts).zip(fixed.chunks_exact(N)) {
        let x: &[S; N] = src[s..s + N].try_into().unwrap();
        let w: &[i16; N] = w.try_into().unwrap();
        let mut acc = 0i32;
        for j in 0..N {
            acc += x[j].to_i32() * w[j] as i32;
        }
        *o = (acc >> shift).clamp(-32768, 32767) as i16;
    }
}

/// One row of the vertical integer pass (swscale's `yuv2planeX`): the weighted sum of the
/// window's intermediate rows plus half a unit, shifted and clamped. `tmp` holds rows of
/// `width` samples; the window starts at row `first`.
fn v_fixed<O: OutSample>(
    tmp: &[i16],
    width: usize,
    first: usize,
    w: &[i16],
    shift: u32,
    max: i32,
    out: &mut [O],
) {
    let rows = &tmp[first * width..(first + w.len()) * width];
    #[cfg(target_arch = "x86_64")]
    let done = x86::v_fixed(rows, width, w, shift, max, out);
    #[cfg(not(target_arch = "x86_64"))]
    let done = 0;
    v_fixed_scalar(rows, width, w, shift, max, out, done);
}

/// The portable vertical pass over columns `from..width`.
fn v_fixed_scalar<O: OutSample>(
    rows: &[i16],
    width: usize,
    w: &[i16],
    shift: u32,
    max: i32,
    out: &mut [O],
    from: usize,
) {
    let round = 1i32 << (shift - 1);
    let mut acc = [0i32; CHUNK];
    for x0 in (from..width).step_by(CHUNK) {
        let n = CHUNK.min(width - x0);
        let acc = &mut acc[..n];
        acc.fill(round);
        for (j, &wj) in w.iter().enumerate() {
            if wj == 0 {
                continue;
            }
            let row = &rows[j * width + x0..][..n];
            let wj = wj as i32;
            for (a, &t) in acc.iter_mut().zip(row) {
                *a += t as i32 * wj;
            }
        }
        for (o, &a) in out[x0..x0 + n].iter_mut().zip(acc.iter()) {
            *o = O::clamp_from(a >> shift, max);
        }
    }
}

/// SIMD versions of the integer passes. They compute the same exact integer sums as the
/// portable code (products and sums fit in 32 bits; saturating packs equal the clamps), so
/// results do not depend on the CPU. SSE2 is part of x86-64; AVX2 is detected at run time.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{AxisFilter, InSample, OutSample};
    use std::arch::x86_64::*;

    /// Horizontal pass over outputs `0..out.len()` (a multiple of 4, all below `simd_end`).
    pub(super) fn h_fixed<S: InSample>(src: &[S], f: &AxisFilter, shift: u32, out: &mut [i16]) {
        h_fixed_with(src, f, shift, out, std::is_x86_feature_detected!("avx2"))
    }

    /// [`h_fixed`] with the AVX2 code enabled or not (tests run both).
    pub(super) fn h_fixed_with<S: InSample>(
        src: &[S],
        f: &AxisFilter,
        shift: u32,
        out: &mut [i16],
        avx2: bool,
    ) {
        let taps = f.simd_taps;
        assert!(out.len().is_multiple_of(4) && out.len() <= f.simd_end);
        assert!(taps.is_multiple_of(4));
        assert!(f.simd_w.len() >= out.len() * taps);
        // Every load of output `o` stays inside `starts[o]..starts[o] + simd_taps`, which
        // is inside `0..in_len` for every `o < simd_end` (checked when the filter was built).
        assert!(src.len() >= f.in_len);
        let avx2 = avx2 && std::is_x86_feature_detected!("avx2");
        // Constant tap counts for the common sizes let the dot products unroll.
        macro_rules! go {
            ($($t:literal)*) => {
                match taps {
                    $($t => {
                        if avx2 {
                            // SAFETY: the CPU has AVX2; bounds asserted above.
                            unsafe { h_avx2::<S, $t>(src, &f.starts, &f.simd_w, shift, out, $t) }
                        } else {
                            // SAFETY: SSE2 is baseline on x86-64; bounds asserted above.
                            unsafe { h_sse2::<S, $t>(src, &f.starts, &f.simd_w, shift, out, $t) }
                        }
                    })*
                    _ => {
                        if avx2 {
                            // SAFETY: as above.
                            unsafe { h_avx2::<S, 0>(src, &f.starts, &f.simd_w, shift, out, taps) }
                        } else {
                            // SAFETY: as above.
                            unsafe { h_sse2::<S, 0>(src, &f.starts, &f.simd_w, shift, out, taps) }
                        }
                    }
                }
            };
        }
        go!(4 8 12 16 20 24 28 32);
    }

    /// Sums the four vectors' lanes: lane `q` of the result is the sum of `acc[q]`'s lanes.
    #[inline(always)]
    unsafe fn hsum4(acc: [__m128i; 4]) -> __m128i {
        let s01 = _mm_add_epi32(
            _mm_unpacklo_epi32(acc[0], acc[1]),
            _mm_unpackhi_epi32(acc[0], acc[1]),
        );
        let s23 = _mm_add_epi32(
            _mm_unpacklo_epi32(acc[2], acc[3]),
            _mm_unpackhi_epi32(acc[2], acc[3]),
        );
        _mm_add_epi32(_mm_unpacklo_epi64(s01, s23), _mm_unpackhi_epi64(s01, s23))
    }

    /// Four outputs per step, one 128-bit dot product per output. `T` is the tap count when
    /// it is a compile-time constant (0: use `taps`).
    #[inline(always)]
    unsafe fn h_sse2<S: InSample, const T: usize>(
        src: &[S],
        starts: &[usize],
        weights: &[i16],
        shift: u32,
        out: &mut [i16],
        taps: usize,
    ) {
        let taps = if T > 0 { T } else { taps };
        let sh = _mm_cvtsi32_si128(shift as i32);
        let (p, w) = (src.as_ptr(), weights.as_ptr());
        for (g, o) in out.chunks_exact_mut(4).enumerate() {
            let i = 4 * g;
            let mut acc = [_mm_setzero_si128(); 4];
            for (q, a) in acc.iter_mut().enumerate() {
                let s = *starts.get_unchecked(i + q);
                *a = S::dot(p.add(s), w.add((i + q) * taps), taps);
            }
            let sum = _mm_sra_epi32(hsum4(acc), sh);
            // Saturating to 16 bits is the clamp of the portable code.
            _mm_storel_epi64(o.as_mut_ptr() as *mut __m128i, _mm_packs_epi32(sum, sum));
        }
    }

    /// Eight outputs per step, two per 256-bit dot product (output `q` in the low lane,
    /// `q + 4` in the high one), so the lane-wise reduction yields outputs 0-3 and 4-7.
    #[target_feature(enable = "avx2")]
    unsafe fn h_avx2<S: InSample, const T: usize>(
        src: &[S],
        starts: &[usize],
        weights: &[i16],
        shift: u32,
        out: &mut [i16],
        taps: usize,
    ) {
        let taps = if T > 0 { T } else { taps };
        let sh = _mm_cvtsi32_si128(shift as i32);
        let (p, w) = (src.as_ptr(), weights.as_ptr());
        let n = out.len();
        let mut chunks = out.chunks_exact_mut(8);
        for (g, o) in chunks.by_ref().enumerate() {
            let i = 8 * g;
            let mut acc = [_mm256_setzero_si256(); 4];
            for (q, a) in acc.iter_mut().enumerate() {
                let (lo, hi) = (i + q, i + q + 4);
                let (sl, shh) = (*starts.get_unchecked(lo), *starts.get_unchecked(hi));
                *a = S::dot2(
                    p.add(sl),
                    p.add(shh),
                    w.add(lo * taps),
                    w.add(hi * taps),
                    taps,
                );
            }
            let lanes = |k: i32| {
                [0, 1, 2, 3].map(|q| match k {
                    0 => _mm256_castsi256_si128(acc[q]),
                    _ => _mm256_extracti128_si256::<1>(acc[q]),
                })
            };
            let (a, b) = (hsum4(lanes(0)), hsum4(lanes(1)));
            let r = _mm_packs_epi32(_mm_sra_epi32(a, sh), _mm_sra_epi32(b, sh));
            _mm_storeu_si128(o.as_mut_ptr() as *mut __m128i, r);
        }
        let rest = chunks.into_remainder();
        let done = n - rest.len();
        h_sse2::<S, T>(
            src,
            &starts[done..],
            &weights[done * taps..],
            shift,
            rest,
            taps,
        );
    }

    /// Dot products of `taps` (a multiple of 4) samples with their weights, as partial sums.
    pub(super) trait Dot: Sized {
        /// One output: four partial sums.
        unsafe fn dot(p: *const Self, w: *const i16, taps: usize) -> __m128i;
        /// Two outputs at once: `a`'s partial sums in the low 128-bit lane, `b`'s in the high.
        unsafe fn dot2(
            pa: *const Self,
            pb: *const Self,
            wa: *const i16,
            wb: *const i16,
            taps: usize,
        ) -> __m256i;
    }

    #[inline(always)]
    unsafe fn load2(a: *const i16, b: *const i16) -> __m256i {
        _mm256_set_m128i(
            _mm_loadu_si128(b as *const __m128i),
            _mm_loadu_si128(a as *const __m128i),
        )
    }

    #[inline(always)]
    unsafe fn load2_half(a: *const i16, b: *const i16) -> __m256i {
        _mm256_set_m128i(
            _mm_loadl_epi64(b as *const __m128i),
            _mm_loadl_epi64(a as *const __m128i),
        )
    }

    impl Dot for u8 {
        #[inline(always)]
        unsafe fn dot(p: *const u8, w: *const i16, taps: usize) -> __m128i {
            let z = _mm_setzero_si128();
            let mut acc = z;
            let mut k = 0;
            while k + 8 <= taps {
                let s = _mm_unpacklo_epi8(_mm_loadl_epi64(p.add(k) as *const __m128i), z);
                let c = _mm_loadu_si128(w.add(k) as *const __m128i);
                acc = _mm_add_epi32(acc, _mm_madd_epi16(s, c));
                k += 8;
            }
            if k < taps {
                let s4 = (p.add(k) as *const i32).read_unaligned();
                let s = _mm_unpacklo_epi8(_mm_cvtsi32_si128(s4), z);
                let c = _mm_loadl_epi64(w.add(k) as *const __m128i);
                acc = _mm_add_epi32(acc, _mm_madd_epi16(s, c));
            }
            acc
        }

        #[inline(always)]
        unsafe fn dot2(
            pa: *const u8,
            pb: *const u8,
            wa: *const i16,
            wb: *const i16,
            taps: usize,
        ) -> __m256i {
            let mut acc = _mm256_setzero_si256();
            let mut k = 0;
            while k + 8 <= taps {
                let a = _mm_loadl_epi64(pa.add(k) as *const __m128i);
                let b = _mm_loadl_epi64(pb.add(k) as *const __m128i);
                let s = _mm256_cvtepu8_epi16(_mm_unpacklo_epi64(a, b));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s, load2(wa.add(k), wb.add(k))));
                k += 8;
            }
            if k < taps {
                let a = (pa.add(k) as *const i32).read_unaligned();
                let b = (pb.add(k) as *const i32).read_unaligned();
                let s = _mm256_cvtepu8_epi16(_mm_set_epi32(0, b, 0, a));
                let c = load2_half(wa.add(k), wb.add(k));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s, c));
            }
            acc
        }
    }

    impl Dot for u16 {
        // Samples of up to 14 bits are valid signed 16-bit lanes.
        #[inline(always)]
        unsafe fn dot(p: *const u16, w: *const i16, taps: usize) -> __m128i {
            let mut acc = _mm_setzero_si128();
            let mut k = 0;
            while k + 8 <= taps {
                let s = _mm_loadu_si128(p.add(k) as *const __m128i);
                let c = _mm_loadu_si128(w.add(k) as *const __m128i);
                acc = _mm_add_epi32(acc, _mm_madd_epi16(s, c));
                k += 8;
            }
            if k < taps {
                let s = _mm_loadl_epi64(p.add(k) as *const __m128i);
                let c = _mm_loadl_epi64(w.add(k) as *const __m128i);
                acc = _mm_add_epi32(acc, _mm_madd_epi16(s, c));
            }
            acc
        }

        #[inline(always)]
        unsafe fn dot2(
            pa: *const u16,
            pb: *const u16,
            wa: *const i16,
            wb: *const i16,
            taps: usize,
        ) -> __m256i {
            let mut acc = _mm256_setzero_si256();
            let mut k = 0;
            while k + 8 <= taps {
                let s = load2(pa.add(k) as *const i16, pb.add(k) as *const i16);
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s, load2(wa.add(k), wb.add(k))));
                k += 8;
            }
            if k < taps {
                let s = load2_half(pa.add(k) as *const i16, pb.add(k) as *const i16);
                let c = load2_half(wa.add(k), wb.add(k));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(s, c));
            }
            acc
        }
    }

    /// Vertical pass over the leading columns it can do in whole vectors; returns how many.
    /// `rows` holds `w.len()` rows of `width` samples.
    pub(super) fn v_fixed<O: OutSample>(
        rows: &[i16],
        width: usize,
        w: &[i16],
        shift: u32,
        max: i32,
        out: &mut [O],
    ) -> usize {
        let avx2 = std::is_x86_feature_detected!("avx2");
        v_fixed_with(rows, width, w, shift, max, out, avx2)
    }

    /// [`v_fixed`] with the AVX2 code enabled or not (tests run both).
    pub(super) fn v_fixed_with<O: OutSample>(
        rows: &[i16],
        width: usize,
        w: &[i16],
        shift: u32,
        max: i32,
        out: &mut [O],
        avx2: bool,
    ) -> usize {
        assert!(rows.len() >= w.len() * width && out.len() >= width);
        // Pairs of taps as (w[j], w[j + 1]) in each 32-bit lane, for `pmaddwd` on rows j and
        // j + 1 interleaved; an odd last tap pairs with a zero weight and reads row j twice.
        let mut pairs = [0i32; 64];
        let n_pairs = w.len().div_ceil(2);
        if n_pairs > pairs.len() {
            return 0;
        }
        for (p, c) in pairs.iter_mut().zip(w.chunks(2)) {
            let hi = c.get(1).copied().unwrap_or(0);
            *p = ((hi as u16 as i32) << 16) | (c[0] as u16 as i32);
        }
        let pairs = &pairs[..n_pairs];
        if avx2 && std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2; bounds asserted above.
            unsafe { v_avx2(rows, width, w.len(), pairs, shift, max, out) }
        } else {
            // SAFETY: SSE2 is baseline on x86-64; bounds asserted above.
            unsafe { v_sse2(rows, width, w.len(), pairs, shift, max, out, 0) }
        }
    }

    #[inline(always)]
    unsafe fn row_ptr(rows: &[i16], width: usize, j: usize, taps: usize) -> *const i16 {
        rows.as_ptr().add(j.min(taps - 1) * width)
    }

    /// Columns from `x0` on, 8 at a time; returns the first column not done.
    #[allow(clippy::too_many_arguments)]
    unsafe fn v_sse2<O: OutSample>(
        rows: &[i16],
        width: usize,
        taps: usize,
        pairs: &[i32],
        shift: u32,
        max: i32,
        out: &mut [O],
        x0: usize,
    ) -> usize {
        let sh = _mm_cvtsi32_si128(shift as i32);
        let round = _mm_set1_epi32(1 << (shift - 1));
        let (zero, maxv) = (_mm_setzero_si128(), _mm_set1_epi16(max as i16));
        let mut x = x0;
        while x + 8 <= width {
            let (mut lo, mut hi) = (round, round);
            for (k, &p) in pairs.iter().enumerate() {
                let a = _mm_loadu_si128(row_ptr(rows, width, 2 * k, taps).add(x) as *const __m128i);
                let b =
                    _mm_loadu_si128(row_ptr(rows, width, 2 * k + 1, taps).add(x) as *const __m128i);
                let c = _mm_set1_epi32(p);
                lo = _mm_add_epi32(lo, _mm_madd_epi16(_mm_unpacklo_epi16(a, b), c));
                hi = _mm_add_epi32(hi, _mm_madd_epi16(_mm_unpackhi_epi16(a, b), c));
            }
            let v = _mm_packs_epi32(_mm_sra_epi32(lo, sh), _mm_sra_epi32(hi, sh));
            let dst = out.as_mut_ptr().add(x);
            if O::IS_U8 {
                _mm_storel_epi64(dst as *mut __m128i, _mm_packus_epi16(v, v));
            } else {
                let v = _mm_min_epi16(_mm_max_epi16(v, zero), maxv);
                _mm_storeu_si128(dst as *mut __m128i, v);
            }
            x += 8;
        }
        x
    }

    #[target_feature(enable = "avx2")]
    unsafe fn v_avx2<O: OutSample>(
        rows: &[i16],
        width: usize,
        taps: usize,
        pairs: &[i32],
        shift: u32,
        max: i32,
        out: &mut [O],
    ) -> usize {
        let sh = _mm_cvtsi32_si128(shift as i32);
        let round = _mm256_set1_epi32(1 << (shift - 1));
        let (zero, maxv) = (_mm256_setzero_si256(), _mm256_set1_epi16(max as i16));
        let mut x = 0;
        while x + 16 <= width {
            // unpacklo/hi work within 128-bit lanes: `lo` holds columns 0-3 and 8-11, `hi`
            // 4-7 and 12-15, and the lane-wise pack below puts them back in order.
            let (mut lo, mut hi) = (round, round);
            for (k, &p) in pairs.iter().enumerate() {
                let a =
                    _mm256_loadu_si256(row_ptr(rows, width, 2 * k, taps).add(x) as *const __m256i);
                let b = _mm256_loadu_si256(
                    row_ptr(rows, width, 2 * k + 1, taps).add(x) as *const __m256i
                );
                let c = _mm256_set1_epi32(p);
                lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(a, b), c));
                hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(a, b), c));
            }
            let v = _mm256_packs_epi32(_mm256_sra_epi32(lo, sh), _mm256_sra_epi32(hi, sh));
            let dst = out.as_mut_ptr().add(x);
            if O::IS_U8 {
                // Bytes of columns 0-7 sit in quadword 0 and those of 8-15 in quadword 2.
                let b = _mm256_permute4x64_epi64(_mm256_packus_epi16(v, v), 0b1000);
                _mm_storeu_si128(dst as *mut __m128i, _mm256_castsi256_si128(b));
            } else {
                let v = _mm256_min_epi16(_mm256_max_epi16(v, zero), maxv);
                _mm256_storeu_si256(dst as *mut __m256i, v);
            }
            x += 16;
        }
        v_sse2(rows, width, taps, pairs, shift, max, out, x)
    }
}

/// One row of the horizontal float pass. Eight outputs are summed side by side so that
/// their (sequential, tap-ordered) sums overlap in the pipeline; each output's result is
/// the same as summing it alone.
fn h_float(src: &[f32], f: &AxisFilter, out: &mut [f32]) {
    const G: usize = 8;
    let n = f.taps;
    let full = out.len() / G * G;
    for (g, o) in out[..full].chunks_exact_mut(G).enumerate() {
        let starts: &[usize; G] = f.starts[g * G..(g + 1) * G].try_into().unwrap();
        let w = &f.weights[g * G * n..(g + 1) * G * n];
        let rows: [&[f32]; G] = std::array::from_fn(|q| &src[starts[q]..starts[q] + n]);
        let mut acc = [0f32; G];
        for j in 0..n {
            for q in 0..G {
                acc[q] += w[q * n + j] * rows[q][j];
            }
        }
        o.copy_from_slice(&acc);
    }
    for (o, (&s, w)) in out[full..].iter_mut().zip(
        f.starts[full..]
            .iter()
            .zip(f.weights[full * n..].chunks_exact(n)),
    ) {
        let mut acc = 0f32;
        for (&x, &c) in src[s..s + n].iter().zip(w) {
            acc += c * x;
        }
        *o = acc;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KERNELS: [Kernel; 7] = [
        Kernel::Point,
        Kernel::Bilinear,
        Kernel::BICUBIC_SWS,
        Kernel::CATMULL_ROM,
        Kernel::MITCHELL,
        Kernel::LANCZOS3,
        Kernel::Area,
    ];
    const CONVENTIONS: [Convention; 2] = [Convention::Swscale, Convention::Exact];

    /// Deterministic pseudo-random samples (xorshift).
    fn noise(n: usize, seed: u64) -> Vec<u32> {
        let mut s = seed | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 32) as u32
            })
            .collect()
    }

    fn resampler(
        iw: usize,
        ih: usize,
        ow: usize,
        oh: usize,
        k: Kernel,
        c: Convention,
    ) -> Resampler {
        let mut cfg = ResamplerConfig::new(iw, ih, ow, oh, k);
        cfg.convention = c;
        Resampler::with_config(cfg).unwrap()
    }

    const SIZES: [(usize, usize, usize, usize); 10] = [
        (16, 12, 16, 12),
        (16, 12, 8, 6),
        (16, 12, 33, 25),
        (17, 13, 5, 3),
        (7, 5, 1, 1),
        (1, 1, 9, 4),
        (2, 3, 5, 1),
        (40, 30, 27, 11),
        (3, 7, 3, 2),
        (9, 9, 64, 2),
    ];

    #[test]
    fn kernel_values() {
        // Catmull-Rom at 1.5 is -0.0625, at 0.5 it is 0.5625.
        let cr = Kernel::CATMULL_ROM;
        assert!((cr.eval(1.5) + 0.0625).abs() < 1e-12);
        assert!((cr.eval(0.5) - 0.5625).abs() < 1e-12);
        assert_eq!(Kernel::keys(-0.5), cr);
        assert_eq!(Kernel::LANCZOS3.eval(0.0), 1.0);
        assert!(Kernel::LANCZOS3.eval(1.0).abs() < 1e-15);
        assert_eq!(Kernel::LANCZOS3.eval(3.0), 0.0);
        assert_eq!(
            Kernel::LANCZOS3.ffmpeg_scale(160, 90),
            "scale=160:90:flags=lanczos+accurate_rnd+full_chroma_int+bitexact"
        );
        assert_eq!(Kernel::BICUBIC_SWS.ffmpeg_flag(), "bicubic");
        assert!(Kernel::CATMULL_ROM
            .ffmpeg_scale(8, 8)
            .ends_with("+bitexact:param0=0:param1=0.5"));
    }

    #[test]
    fn constant_planes_stay_constant() {
        for &(iw, ih, ow, oh) in &SIZES {
            for k in KERNELS {
                for c in CONVENTIONS {
                    let r = resampler(iw, ih, ow, oh, k, c);
                    for v in [0u8, 1, 77, 254, 255] {
                        let src = vec![v; iw * ih];
                        let mut dst = vec![0u8; ow * oh];
                        r.process_u8(&Plane::new_u8(&src, iw, ih, iw), &mut dst, ow);
                        assert!(
                            dst.iter().all(|&d| d == v),
                            "{k:?} {c:?} {iw}x{ih}->{ow}x{oh} u8 {v}: {dst:?}"
                        );
                    }
                    for (v, bpc) in [(1023u16, 10), (517, 10), (4095, 12), (65535, 16), (3, 16)] {
                        let src = vec![v; iw * ih];
                        let mut dst = vec![0u16; ow * oh];
                        r.process_u16(&Plane::new_u16(&src, iw, ih, iw, bpc), &mut dst, ow);
                        assert!(
                            dst.iter().all(|&d| d == v),
                            "{k:?} {c:?} {iw}x{ih}->{ow}x{oh} u16 {v}: {dst:?}"
                        );
                    }
                    let src = vec![0.37f32; iw * ih];
                    let mut dst = vec![0f32; ow * oh];
                    r.process_f32(&src, iw, &mut dst, ow);
                    assert!(dst.iter().all(|&d| (d - 0.37).abs() < 1e-6), "{k:?} {c:?}");
                }
            }
        }
    }

    #[test]
    fn same_size_is_identity() {
        for (w, h) in [(1, 1), (5, 3), (64, 17), (320, 2)] {
            let src8: Vec<u8> = noise(w * h, 7).iter().map(|&v| v as u8).collect();
            let src16: Vec<u16> = noise(w * h, 9).iter().map(|&v| (v & 1023) as u16).collect();
            let srcf: Vec<f32> = noise(w * h, 11).iter().map(|&v| v as f32 / 1e9).collect();
            for k in KERNELS {
                for c in CONVENTIONS {
                    let r = resampler(w, h, w, h, k, c);
                    let mut d8 = vec![0u8; w * h];
                    r.process_u8(&Plane::new_u8(&src8, w, h, w), &mut d8, w);
                    assert_eq!(d8, src8, "{k:?} {c:?} {w}x{h}");
                    let mut d16 = vec![0u16; w * h];
                    r.process_u16(&Plane::new_u16(&src16, w, h, w, 10), &mut d16, w);
                    assert_eq!(d16, src16, "{k:?} {c:?} {w}x{h}");
                    let mut df = vec![0f32; w * h];
                    r.process_f32(&srcf, w, &mut df, w);
                    assert_eq!(df, srcf, "{k:?} {c:?} {w}x{h}");
                }
            }
        }
    }

    #[test]
    fn odd_and_tiny_sizes_do_not_panic() {
        let dims = [1usize, 2, 3, 5, 8, 13, 31];
        for &iw in &dims {
            for &ow in &dims {
                for k in KERNELS {
                    for c in CONVENTIONS {
                        let (ih, oh) = (ow, iw); // mix the axes' ratios too
                        let r = resampler(iw, ih, ow, oh, k, c);
                        let src: Vec<u8> = noise(iw * ih, 3).iter().map(|&v| v as u8).collect();
                        let mut dst = vec![0u8; ow * oh];
                        r.process_u8(&Plane::new_u8(&src, iw, ih, iw), &mut dst, ow);
                        let srcf: Vec<f32> = src.iter().map(|&v| v as f32).collect();
                        let mut dstf = vec![0f32; ow * oh];
                        r.process_f32(&srcf, iw, &mut dstf, ow);
                        let mut back = vec![0f32; iw * ih];
                        r.process_f32_transpose(&dstf, ow, &mut back, iw);
                        // Kernels with negative lobes may overshoot, and the integer path
                        // clips its 15-bit intermediate there (as swscale does) while the
                        // float path does not; compare only the non-negative kernels.
                        let positive = matches!(k, Kernel::Point | Kernel::Bilinear | Kernel::Area);
                        for (a, b) in dst.iter().zip(&dstf).filter(|_| positive) {
                            assert!(
                                (*a as f32 - b.clamp(0.0, 255.0)).abs() <= 1.0,
                                "{k:?} {c:?} {iw}x{ih}->{ow}x{oh}: {a} vs {b}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn adjoint_identity() {
        for &(iw, ih, ow, oh) in &SIZES {
            for k in KERNELS {
                for c in CONVENTIONS {
                    let r = resampler(iw, ih, ow, oh, k, c);
                    let x: Vec<f32> = noise(iw * ih, 5)
                        .iter()
                        .map(|&v| v as f32 / 4e9 - 0.5)
                        .collect();
                    let y: Vec<f32> = noise(ow * oh, 6)
                        .iter()
                        .map(|&v| v as f32 / 4e9 - 0.5)
                        .collect();
                    let mut ax = vec![0f32; ow * oh];
                    r.process_f32(&x, iw, &mut ax, ow);
                    let mut aty = vec![0f32; iw * ih];
                    r.process_f32_transpose(&y, ow, &mut aty, iw);
                    let lhs: f64 = ax.iter().zip(&y).map(|(&a, &b)| a as f64 * b as f64).sum();
                    let rhs: f64 = x.iter().zip(&aty).map(|(&a, &b)| a as f64 * b as f64).sum();
                    let scale: f64 = ax.iter().map(|v| v.abs() as f64).sum::<f64>() + 1.0;
                    assert!(
                        (lhs - rhs).abs() <= 1e-5 * scale,
                        "{k:?} {c:?} {iw}x{ih}->{ow}x{oh}: {lhs} vs {rhs}"
                    );
                }
            }
        }
    }

    #[test]
    fn dense_operator_matches_process_f32() {
        let (iw, ih, ow, oh) = (13, 9, 7, 20);
        let r = resampler(iw, ih, ow, oh, Kernel::LANCZOS3, Convention::Swscale);
        let (h, v) = r.taps();
        let (hm, vm) = (h.to_dense(), v.to_dense());
        let x: Vec<f32> = noise(iw * ih, 1).iter().map(|&v| v as f32 / 4e9).collect();
        let mut y = vec![0f32; ow * oh];
        r.process_f32(&x, iw, &mut y, ow);
        for oy in 0..oh {
            for ox in 0..ow {
                let mut s = 0f64;
                for iy in 0..ih {
                    for ix in 0..iw {
                        s += vm[oy * ih + iy] as f64
                            * hm[ox * iw + ix] as f64
                            * x[iy * iw + ix] as f64;
                    }
                }
                assert!((s - y[oy * ow + ox] as f64).abs() < 1e-5);
            }
        }
        // Each row of the operator sums to one.
        for o in 0..ow {
            let s: f32 = h.weights(o).iter().sum();
            assert!((s - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn threads_do_not_change_results() {
        let (iw, ih, ow, oh) = (97, 61, 50, 131);
        let src: Vec<u8> = noise(iw * ih, 13).iter().map(|&v| v as u8).collect();
        let srcf: Vec<f32> = src.iter().map(|&v| v as f32).collect();
        let mut outs = Vec::new();
        for threads in [1, 2, 3, 7] {
            let mut cfg = ResamplerConfig::new(iw, ih, ow, oh, Kernel::LANCZOS3);
            cfg.threads = threads;
            let r = Resampler::with_config(cfg).unwrap();
            let mut d = vec![0u8; ow * oh];
            r.process_u8(&Plane::new_u8(&src, iw, ih, iw), &mut d, ow);
            let mut df = vec![0f32; ow * oh];
            r.process_f32(&srcf, iw, &mut df, ow);
            let mut dt = vec![0f32; iw * ih];
            r.process_f32_transpose(&df, ow, &mut dt, iw);
            outs.push((d, df, dt));
        }
        for o in &outs[1..] {
            assert!(o == &outs[0]);
        }
    }

    #[test]
    fn strides_are_respected() {
        let (iw, ih, ow, oh) = (21, 11, 9, 17);
        let (ss, ds) = (32, 12);
        let src: Vec<u8> = noise(ih * ss, 21).iter().map(|&v| v as u8).collect();
        let packed: Vec<u8> = (0..ih)
            .flat_map(|y| src[y * ss..y * ss + iw].to_vec())
            .collect();
        let r = Resampler::new(iw, ih, ow, oh, Kernel::BICUBIC_SWS).unwrap();
        let mut a = vec![0u8; ow * oh];
        r.process_u8(&Plane::new_u8(&packed, iw, ih, iw), &mut a, ow);
        let mut b = vec![0xAAu8; (oh - 1) * ds + ow];
        r.process_u8(&Plane::new_u8(&src, iw, ih, ss), &mut b, ds);
        for y in 0..oh {
            assert_eq!(&a[y * ow..(y + 1) * ow], &b[y * ds..y * ds + ow]);
            if y + 1 < oh {
                assert!(b[y * ds + ow..(y + 1) * ds].iter().all(|&v| v == 0xAA));
            }
        }
    }

    #[test]
    fn swscale_tables_have_swscale_sizes() {
        // ffmpeg -v debug ... flags=lanczos+print_info reports "reducing / aligning
        // filtersize 13 -> 12" for 320 -> 160; bicubic upscaling uses 5 taps -> 4 + align.
        let r = Resampler::new(320, 180, 160, 90, Kernel::LANCZOS3).unwrap();
        assert_eq!(r.taps().0.taps(), 12);
        let f = &r.taps().0;
        for o in 0..f.out_len() {
            let s: i32 = f.fixed_weights(o).iter().map(|&w| w as i32).sum();
            assert!((s - (1 << 14)).abs() <= 2, "{s}");
        }
    }

    #[test]
    fn exact_and_swscale_agree_closely() {
        let (iw, ih, ow, oh) = (160, 90, 107, 61);
        let src: Vec<f32> = (0..iw * ih)
            .map(|i| ((i % iw) as f32 * 0.1).sin() * 100.0 + ((i / iw) as f32 * 0.07).cos() * 50.0)
            .collect();
        for k in KERNELS {
            if k == Kernel::Point {
                continue;
            }
            let a = resampler(iw, ih, ow, oh, k, Convention::Swscale);
            let b = resampler(iw, ih, ow, oh, k, Convention::Exact);
            let mut da = vec![0f32; ow * oh];
            let mut db = vec![0f32; ow * oh];
            a.process_f32(&src, iw, &mut da, ow);
            b.process_f32(&src, iw, &mut db, ow);
            let max = da
                .iter()
                .zip(&db)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            assert!(max < 0.5, "{k:?}: {max}");
        }
    }

    /// The SIMD code paths this machine can run ("sse2", "avx2"); none elsewhere.
    fn simd_variants() -> Vec<&'static str> {
        #[cfg(target_arch = "x86_64")]
        {
            let mut v = vec!["sse2"];
            if std::is_x86_feature_detected!("avx2") {
                v.push("avx2");
            }
            v
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Vec::new()
        }
    }

    /// The horizontal pass through one SIMD variant (SIMD prefix, then the portable rest).
    #[allow(unused_variables)]
    fn h_fixed_variant<S: InSample>(src: &[S], f: &AxisFilter, sh: u32, out: &mut [i16], v: &str) {
        #[cfg(target_arch = "x86_64")]
        {
            let n = f.simd_end & !3;
            x86::h_fixed_with(src, f, sh, &mut out[..n], v == "avx2");
            h_fixed_scalar(src, f, sh, &mut out[n..], n);
        }
    }

    #[allow(unused_variables)]
    fn v_fixed_variant<O: OutSample>(
        rows: &[i16],
        width: usize,
        w: &[i16],
        sh: u32,
        max: i32,
        out: &mut [O],
        v: &str,
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            let done = x86::v_fixed_with(rows, width, w, sh, max, out, v == "avx2");
            v_fixed_scalar(rows, width, w, sh, max, out, done);
        }
    }

    /// The SIMD passes (x86-64) against the portable ones on noise, extremes and a
    /// checkerboard (maximal overshoot, so the saturating packs are exercised).
    #[test]
    fn simd_matches_scalar() {
        let sizes = [
            (640, 37),
            (333, 100),
            (100, 333),
            (37, 640),
            (19, 64),
            (64, 19),
        ];
        for (n_in, n_out) in sizes {
            for k in KERNELS {
                for c in CONVENTIONS {
                    let h = AxisFilter::build(n_in, n_out, k, c, Siting::CENTRE, true);
                    let v = AxisFilter::build(n_in, n_out, k, c, Siting::CENTRE, false);
                    for pattern in 0..3 {
                        let src: Vec<u16> = match pattern {
                            0 => noise(n_in, 99).iter().map(|&x| x as u16).collect(),
                            1 => (0..n_in)
                                .map(|i| if i % 2 == 0 { 0xFFFF } else { 0 })
                                .collect(),
                            _ => vec![0xFFFF; n_in],
                        };
                        for bpc in [8u32, 10, 14] {
                            let s16: Vec<u16> = src.iter().map(|&x| x >> (16 - bpc)).collect();
                            let s8: Vec<u8> = s16.iter().map(|&x| x as u8).collect();
                            let mut b = vec![0i16; n_out];
                            if bpc == 8 {
                                h_fixed_scalar(&s8, &h, 7, &mut b, 0);
                            } else {
                                h_fixed_scalar(&s16, &h, bpc - 1, &mut b, 0);
                            }
                            for simd in simd_variants() {
                                let mut a = vec![0i16; n_out];
                                if bpc == 8 {
                                    h_fixed_variant(&s8, &h, 7, &mut a, simd);
                                } else {
                                    h_fixed_variant(&s16, &h, bpc - 1, &mut a, simd);
                                }
                                assert_eq!(a, b, "h {simd} {k:?} {c:?} {n_in}->{n_out} {bpc}");
                            }
                        }
                        // Vertical: `n_in` rows of a 61-wide intermediate (AVX2 does 48
                        // columns, SSE2 8, the portable code the last 5).
                        let width = 61;
                        let rows: Vec<i16> = (0..n_in * width)
                            .map(|i| match pattern {
                                0 => (noise(1, i as u64 + 1)[0] % 40000) as i16,
                                1 => {
                                    if (i / width + i % width) % 2 == 0 {
                                        32767
                                    } else {
                                        -2000
                                    }
                                }
                                _ => 32767,
                            })
                            .collect();
                        for o in 0..n_out {
                            let first = v.start(o);
                            let w = v.fixed_weights(o);
                            let win = &rows[first * width..(first + w.len()) * width];
                            let mut b8 = vec![0u8; width];
                            v_fixed_scalar(win, width, w, 19, 255, &mut b8, 0);
                            let mut b16 = vec![0u16; width];
                            v_fixed_scalar(win, width, w, 17, 1023, &mut b16, 0);
                            for simd in simd_variants() {
                                let mut a = vec![0u8; width];
                                v_fixed_variant(win, width, w, 19, 255, &mut a, simd);
                                assert_eq!(a, b8, "v8 {simd} {k:?} {c:?} {n_in}->{n_out} o {o}");
                                let mut a = vec![0u16; width];
                                v_fixed_variant(win, width, w, 17, 1023, &mut a, simd);
                                assert_eq!(a, b16, "v16 {simd} {k:?} {c:?} {n_in}->{n_out} {o}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn rejects_bad_configs() {
        assert!(Resampler::new(0, 1, 1, 1, Kernel::Bilinear).is_err());
        assert!(Resampler::new(1, 1, MAX_DIM + 1, 1, Kernel::Bilinear).is_err());
        assert!(Resampler::new(4, 4, 2, 2, Kernel::Lanczos { a: 0.5 }).is_err());
        let mut cfg = ResamplerConfig::new(4, 4, 2, 2, Kernel::Bilinear);
        cfg.siting_x.src = 1.0;
        assert!(Resampler::with_config(cfg).is_err());
    }
}
