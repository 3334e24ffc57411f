//! libvmaf's integer ADM (Additive Detail Measure, `integer_adm.c`), reproduced bit for
//! bit: a 4-scale Daubechies-2 wavelet decomposition in fixed point, decoupling of the
//! distorted detail into a part restored from the reference and an additive impairment,
//! contrast masking, and Minkowski (p = 3) pooling, all with libvmaf's exact shifts and
//! rounding (including its quirks: a rounding constant that wraps to -2^31 at scales 1..3,
//! asymmetric edge handling in the masking neighbourhood, single-precision pooling).
//!
//! Scores: `integer_adm2` = sum(num) / sum(den) over the scales and
//! `integer_adm_scaleN` = num_N / den_N, as in libvmaf's log. On request
//! ([`IntegerAdmOptions::aim`]) also libvmaf's `integer_aim` (Additive Impairment Measure:
//! the same masking and pooling with the roles swapped, the additive part measured and
//! masked by the restored part, without the noise floor, over the same denominator) and
//! `integer_adm3` = max(adm2 * w + (1 - aim) * (1 - w), adm_min_val) with
//! w = `adm_dlm_weight`. AIM repeats the CSF and masking stages (about a quarter more time
//! at 1080p), so it is skipped unless asked for; adm2 does not depend on it.
//!
//! Options: libvmaf's `adm_enhn_gain_limit`, `adm_norm_view_dist`, `adm_ref_display_height`,
//! `adm_csf_mode` (with `adm_csf_scale` / `adm_csf_diag_scale` for Barten's CSF),
//! `adm_noise_weight`, `adm_dlm_weight` and `adm_min_val`, with libvmaf's defaults and
//! ranges (Barten's CSF overflows libvmaf's fixed point unless scaled far down; that is
//! reproduced, not fixed). libvmaf's `adm_skip_scale0` is not implemented. With a non-integral
//! `adm_enhn_gain_limit` libvmaf disagrees with itself: its AVX2 / AVX-512 scale-0
//! decoupling rounds the limited value to nearest where its C code (and this port)
//! truncates, so there the oracle's scale 0 differs in the last digits; the integral
//! limits libvmaf's models use (1 and 100) agree everywhere.
//!
//! Frames must be at least [`MIN_SIZE`] in both directions: below that libvmaf's wavelet
//! index tables reach outside the image at the coarsest scale (undefined behaviour there).
//!
//! The work is done by row kernels over separate slices so that they vectorise; on x86-64
//! copies compiled for AVX2 and AVX-512 are chosen at run time. Where libvmaf uses 64-bit
//! integers the kernels use f64 where that is provably exact (it vectorises far better).
//! A plain transcription of libvmaf's C is kept in the tests as the reference every
//! instruction-set path is checked against, bit for bit.

use lv_image::plane::{Plane, Samples};

use crate::isa::{multiversion, Isa};

/// Smallest width and height: the coarsest scale's input, ceil(n / 8), must be >= 5.
pub const MIN_SIZE: usize = 33;

const LO: [i32; 4] = [15826, 27411, 7345, -4240];
const HI: [i32; 4] = [-4240, -7345, 27411, -15826];
const LO_SUM: i32 = 46342;

/// Scale-0 CSF weights in Q21 (h, v) and Q23 (d) that libvmaf hard-codes for the default
/// viewing conditions (close to, not exactly, the Watson model's values), with their
/// rounding shifts and (not quite half) rounding constants.
const RF0: [i32; 3] = [36453, 36453, 49417];
const RF0_SHIFT: [u32; 3] = [15, 15, 17];
const RF0_ROUND: [i32; 3] = [16384, 16384, 65535];

const BORDER: f64 = 0.1;

/// libvmaf's contrast sensitivity functions (`adm_csf_mode`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CsfMode {
    /// 0: Watson et al. 1997, libvmaf's default.
    #[default]
    Watson,
    /// 1: Barten's CSF as simplified in HDR-VDP-2 at 100 cd/m², times `adm_csf_scale`
    /// (horizontal, vertical) or `adm_csf_diag_scale` (diagonal).
    Barten,
    /// 2: libvmaf's tabulated Barten/Watson blend (the vmaf_v1.0.16 models).
    BartenWatsonBlend,
    /// 3: the same blend with libvmaf's later ("MAE") tables.
    BartenWatsonBlendMae,
}

impl CsfMode {
    /// The mode of libvmaf's `adm_csf_mode` value.
    pub fn from_libvmaf(v: i32) -> Option<CsfMode> {
        Some(match v {
            0 => CsfMode::Watson,
            1 => CsfMode::Barten,
            2 => CsfMode::BartenWatsonBlend,
            3 => CsfMode::BartenWatsonBlendMae,
            _ => return None,
        })
    }

    /// libvmaf's `adm_csf_mode` value.
    pub fn libvmaf_value(self) -> i32 {
        self as i32
    }
}

/// libvmaf's options of the integer ADM extractor (named as in libvmaf without the `adm_`
/// prefix), with its defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IntegerAdmOptions {
    /// `adm_enhn_gain_limit`: 1.0 disables enhancement gain (the `neg` models), 100.0 is
    /// libvmaf's default. Valid range 1.0..=100.0.
    pub enhn_gain_limit: f64,
    /// `adm_norm_view_dist`: viewing distance over display height, 0.75..=24 (default 3).
    pub norm_view_dist: f64,
    /// `adm_ref_display_height` in pixels, 1..=4320 (default 1080). libvmaf refuses
    /// `norm_view_dist * ref_display_height` below 3 * 1080.
    pub ref_display_height: u32,
    /// `adm_csf_mode` (default Watson). The blends are tabulated only for display heights
    /// 480, 720, 1080 and 2160 at distances 3 and 5 (and 2160 at 1.5).
    pub csf_mode: CsfMode,
    /// `adm_csf_scale`, 0..=50 (default 1); only Barten's CSF uses it.
    pub csf_scale: f64,
    /// `adm_csf_diag_scale`, 0..=50 (default 1); only Barten's CSF uses it.
    pub csf_diag_scale: f64,
    /// `adm_noise_weight`, 0..=1500 (default 1/32): the noise floor added to every pooled
    /// numerator and denominator term.
    pub noise_weight: f64,
    /// `adm_dlm_weight`, 0..=1 (default 0.5): adm3's weight of adm2 against 1 - aim.
    pub dlm_weight: f64,
    /// `adm_min_val`, 0..=1 (default 0): adm3's lower bound.
    pub min_val: f64,
    /// Compute `aim` and `adm3` (libvmaf does unless `adm_skip_aim`). Off by default: it
    /// costs time and adm2 / adm_scaleN do not depend on it.
    pub aim: bool,
}

impl Default for IntegerAdmOptions {
    fn default() -> Self {
        IntegerAdmOptions {
            enhn_gain_limit: 100.0,
            norm_view_dist: 3.0,
            ref_display_height: 1080,
            csf_mode: CsfMode::Watson,
            csf_scale: 1.0,
            csf_diag_scale: 1.0,
            noise_weight: 0.03125,
            dlm_weight: 0.5,
            min_val: 0.0,
            aim: false,
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AdmScores {
    /// `integer_adm2`.
    pub adm2: f64,
    /// `integer_adm_scale0..3`.
    pub scale: [f64; 4],
    /// Per-scale numerators and denominators (libvmaf's debug `integer_adm_num_scaleN`,
    /// `integer_adm_den_scaleN`), single precision as libvmaf computes them.
    pub num: [f32; 4],
    pub den: [f32; 4],
    /// `integer_aim`; 0 unless [`IntegerAdmOptions::aim`], and 0 where the denominator
    /// vanishes (libvmaf leaves it undefined there; adm2 is 1).
    pub aim: f64,
    /// `integer_adm3`; 0 unless [`IntegerAdmOptions::aim`].
    pub adm3: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AdmError {
    #[error("integer ADM needs at least {MIN_SIZE}x{MIN_SIZE} samples, got {0}x{1}")]
    TooSmall(usize, usize),
    #[error("unsupported bit depth {0} (8..=16)")]
    BitDepth(u32),
    #[error("adm_enhn_gain_limit must be within 1.0..=100.0, got {0}")]
    GainLimit(f64),
    /// Any other option out of libvmaf's range or combination.
    #[error("integer ADM: {0}")]
    Option(String),
}

/// The enhancement-gain limit. libvmaf applies it as `MIN(rst * egl, t)` (or MAX) in double
/// and truncates back to an integer; with an integral limit (the defaults 100 and 1) the
/// product is an exact integer, so scale 0 does it in integer arithmetic.
#[derive(Clone, Copy, Debug)]
enum Gain {
    Int(i64),
    Float(f64),
}

/// Geometry and constants of one scale.
struct Scale {
    /// Size of this scale's input (the image, or the previous approximation band).
    w_in: usize,
    /// Size of the bands this scale produces.
    w: usize,
    h: usize,
    /// Source rows / columns of the 4 taps for each output row / column.
    ind_y: Vec<[usize; 4]>,
    ind_x: Vec<[usize; 4]>,
    /// CSF weights for (h, v) and d as libvmaf's float.
    rf: [f32; 2],
    /// Same in Q32, used at scales 1..3.
    rf_q32: [u32; 3],
}

struct Config {
    /// Instruction set of the kernels.
    isa: Isa,
    w: usize,
    h: usize,
    bpc: u32,
    gain: Gain,
    cos_1deg_sq: f64,
    scales: Vec<Scale>,
    /// Scale-0 CSF weights in fixed point (Q21, Q21, Q23).
    rf0: [i32; 3],
    noise_weight: f64,
    /// `Some((adm_dlm_weight, adm_min_val))` when AIM and adm3 are computed.
    aim: Option<(f64, f64)>,
}

/// Approximation and detail bands. Scale-0 values are kept in i16 range, as libvmaf
/// stores them in int16.
struct Bands {
    a: Vec<i32>,
    h: Vec<i32>,
    v: Vec<i32>,
    d: Vec<i32>,
}

impl Bands {
    fn new(n: usize) -> Self {
        Bands {
            a: vec![0; n],
            h: vec![0; n],
            v: vec![0; n],
            d: vec![0; n],
        }
    }
}

/// One row of the wavelet's vertical pass, whole and split into even / odd columns.
struct RowScratch {
    lo: Vec<i32>,
    hi: Vec<i32>,
    lo_e: Vec<i32>,
    lo_o: Vec<i32>,
    hi_e: Vec<i32>,
    hi_o: Vec<i32>,
}

struct Work {
    row: RowScratch,
    rb: Bands,
    db: Bands,
    /// Previous scale's approximation bands, the input of the next scale.
    ra_prev: Vec<i32>,
    da_prev: Vec<i32>,
    /// Restored detail (h, v, d) after decoupling.
    rest: [Vec<i32>; 3],
    /// Over the three orientations: sum of the masking filter outputs |csf(a)| / 30 ...
    flt_sum: Vec<i32>,
    /// ... and sum of the centre terms |csf(a)| / 15.
    ctr_sum: Vec<i32>,
    /// Row scratch: column sums of the masking filter (also the angle flags of a row
    /// while decoupling scales 1..3) and the masking thresholds.
    colsum: Vec<i32>,
    thr: Vec<i32>,
    /// AIM's inputs (empty unless AIM is computed): the additive detail (h, v, d) and, over
    /// the orientations, the masking sums of the *restored* detail's CSF.
    add: [Vec<i32>; 3],
    aim_flt_sum: Vec<i32>,
    aim_ctr_sum: Vec<i32>,
}

pub struct IntegerAdm {
    cfg: Config,
    work: Work,
}

/// Wavelet tap positions for an input of `n` samples: interior 2i-1..2i+2, the first
/// output reflects (1,0,1,2), the end mirrors with edge repetition (n -> n-1).
fn tap_indices(n: usize) -> Vec<[usize; 4]> {
    let half = n.div_ceil(2);
    (0..half)
        .map(|i| {
            if i == 0 {
                [1, 0, 1, 2]
            } else {
                let b = 2 * i;
                [b - 1, b, b + 1, b + 2].map(|x| if x >= n { 2 * n - x - 1 } else { x })
            }
        })
        .collect()
}

/// Display visual resolution in pixels per degree, as libvmaf's float.
fn pixels_per_degree(nvd: f64, rdh: u32) -> f32 {
    (nvd * rdh as f64 * std::f64::consts::PI / 180.0) as f32
}

/// libvmaf's `dwt_quant_step` (Watson et al. 1997) with its float/double mix.
fn dwt_quant_step(lambda: usize, theta: usize, nvd: f64, rdh: u32) -> f32 {
    const A: f32 = 0.495;
    const K: f32 = 0.466;
    const F0: f32 = 0.401;
    const G: [f32; 4] = [1.501, 1.0, 0.534, 1.0];
    const AMP: [[f32; 4]; 4] = [
        [0.62171, 0.67234, 0.72709, 0.67234],
        [0.34537, 0.41317, 0.49428, 0.41317],
        [0.18004, 0.22727, 0.28688, 0.22727],
        [0.091401, 0.11792, 0.15214, 0.11792],
    ];
    let r = pixels_per_degree(nvd, rdh);
    let temp =
        (2.0f64.powf((lambda + 1) as f64) * F0 as f64 * G[theta] as f64 / r as f64).log10() as f32;
    let kt = K * temp * temp;
    (2.0 * A as f64 * 10.0f64.powf(kt as f64) / AMP[lambda][theta] as f64) as f32
}

/// Barten's CSF (HDR-VDP-2's simplified form) at DWT level `lambda`, with libvmaf's
/// float/double mix (`barten_csf_tools.h`).
fn barten_csf(lambda: usize, nvd: f64, rdh: u32, lum: f64, scale: f64) -> f32 {
    const ANCHORS: [f32; 6] = [0.002, 0.02, 0.2, 2.0, 20.0, 150.0];
    const P: [[f32; 5]; 6] = [
        [0.0160737, 0.991265, 3.74038, 0.50722, 4.46044],
        [0.383873, 0.800889, 3.54104, 0.682505, 4.94958],
        [0.929301, 0.476505, 4.37453, 0.750315, 5.28678],
        [1.29776, 0.405782, 4.40602, 0.935314, 5.61425],
        [1.49222, 0.334278, 3.79542, 1.07327, 6.4635],
        [1.46213, 0.394533, 2.7755, 1.16577, 7.45665],
    ];
    const SA: [f32; 4] = [30.162, 4.0627, 1.6596, 0.2712];
    // Given to more digits than a float holds; rounded from double as C does.
    const MTF_A: [f32; 4] = [
        0.42483859630129f64 as f32,
        0.57243510393648f64 as f32,
        0.000167576239164937f64 as f32,
        0.00255872352306433f64 as f32,
    ];
    const MTF_B: [f32; 4] = [0.028, 0.37, 37.0, 360.0];

    let r = pixels_per_degree(nvd, rdh);
    let freq = (r as f64 / 2.0f64.powi(lambda as i32 + 1)) as f32;
    let lum_c = lum.clamp(ANCHORS[0] as f64, ANCHORS[5] as f64);
    // The anchors bracketing the luminance (both 0 if none does, as libvmaf).
    let (k, kr) = (0..5)
        .find(|&i| lum_c >= ANCHORS[i] as f64 && lum_c <= ANCHORS[i + 1] as f64)
        .map_or((0, 0), |i| (i, i + 1));
    let x0 = (ANCHORS[k] as f64).log10() as f32;
    let x1 = (ANCHORS[kr] as f64).log10() as f32;
    let x = lum_c.log10() as f32;
    // Linear interpolation in log luminance, all in float.
    let p = |m: usize| P[k][m] + ((P[kr][m] - P[k][m]) / (x1 - x0)) * (x - x0);
    let (p0, p1, p2, p3) = (p(1), p(2), p(3), p(4));
    let a = (1.0 + ((p0 * freq) as f64).powf(p1 as f64)) as f32;
    let e = (-((freq / 7.0) as f64).powf(2.0)).exp();
    let b = (1.0 / (1.0 - e).powf(p2 as f64)) as f32;
    let csf = (p3 as f64 / ((a * b) as f64).powf(0.5)) as f32;
    let mut mtf = 0.0f32;
    for i in 0..4 {
        mtf = (mtf as f64 + MTF_A[i] as f64 * ((-MTF_B[i] * freq) as f64).exp()) as f32;
    }
    let l = lum as f32;
    let rod =
        (SA[0] as f64 * (((SA[1] / l) as f64).powf(SA[2] as f64) + 1.0).powf(-SA[3] as f64)) as f32;
    ((csf * mtf * rod) as f64 * scale) as f32
}

/// libvmaf's tabulated Barten/Watson blends: `[h and v, d][scale]`, for the viewing
/// conditions it has tables for.
fn blended_csf(mae: bool, nvd: f64, rdh: u32) -> Option<[[f32; 4]; 2]> {
    const T1080_3: [[f32; 4]; 2] = [
        [0.01183, 0.025026, 0.04295, 0.058621],
        [0.004302, 0.011778, 0.023918, 0.035901],
    ];
    const T1080_5: [[f32; 4]; 2] = [
        [0.004212, 0.014809, 0.029642, 0.047464],
        [0.000984, 0.005852, 0.0146, 0.027574],
    ];
    const T2160_3: [[f32; 4]; 2] = [
        [0.00226, 0.01183, 0.025026, 0.04295],
        [0.000479, 0.004302, 0.011778, 0.023918],
    ];
    const T2160_5: [[f32; 4]; 2] = [
        [0.000092, 0.004212, 0.014809, 0.029642],
        [0.000050, 0.000984, 0.005852, 0.0146],
    ];
    const T720_3: [[f32; 4]; 2] = [
        [0.018715, 0.035637, 0.052798, 0.061509],
        [0.007999, 0.018396, 0.031851, 0.037718],
    ];
    const T720_5: [[f32; 4]; 2] = [
        [0.010144, 0.022561, 0.040309, 0.05672],
        [0.003463, 0.010282, 0.021839, 0.034641],
    ];
    const T480_3: [[f32; 4]; 2] = [
        [0.027961, 0.045875, 0.060275, 0.056234],
        [0.013572, 0.026277, 0.036959, 0.034511],
    ];
    const T480_5: [[f32; 4]; 2] = [
        [0.016781, 0.032822, 0.05032, 0.061594],
        [0.00691, 0.016545, 0.029917, 0.037777],
    ];
    const M1080_3: [[f32; 4]; 2] = [
        [0.011249, 0.022606, 0.035930, 0.045673],
        [0.004097, 0.010921, 0.021430, 0.031313],
    ];
    const M1080_5: [[f32; 4]; 2] = [
        [0.004052, 0.013939, 0.026298, 0.038833],
        [0.000927, 0.005544, 0.013415, 0.024515],
    ];
    const M2160_3: [[f32; 4]; 2] = [
        [0.002166, 0.011249, 0.022606, 0.035930],
        [0.000447, 0.004097, 0.010921, 0.021430],
    ];
    const M2160_5: [[f32; 4]; 2] = [
        [0.000077, 0.004052, 0.013939, 0.026298],
        [0.000045, 0.000927, 0.005544, 0.013415],
    ];
    const M720_3: [[f32; 4]; 2] = [
        [0.017329, 0.030870, 0.042134, 0.047410],
        [0.007509, 0.016707, 0.028072, 0.032722],
    ];
    const M720_5: [[f32; 4]; 2] = [
        [0.009689, 0.020577, 0.034162, 0.044523],
        [0.003302, 0.009579, 0.019661, 0.030318],
    ];
    const M480_3: [[f32; 4]; 2] = [
        [0.024969, 0.037825, 0.046676, 0.043974],
        [0.012511, 0.023424, 0.032139, 0.030166],
    ];
    const M480_5: [[f32; 4]; 2] = [
        [0.015665, 0.028766, 0.040612, 0.047483],
        [0.006514, 0.015107, 0.026476, 0.032776],
    ];
    // 2160 at 1.5 H has the pixels per degree of 1080 at 3 H and uses its table.
    let (m, t) = match (rdh, nvd) {
        (1080, 3.0) => (M1080_3, T1080_3),
        (1080, 5.0) => (M1080_5, T1080_5),
        (2160, 1.5) => (M1080_3, T1080_3),
        (2160, 3.0) => (M2160_3, T2160_3),
        (2160, 5.0) => (M2160_5, T2160_5),
        (720, 3.0) => (M720_3, T720_3),
        (720, 5.0) => (M720_5, T720_5),
        (480, 3.0) => (M480_3, T480_3),
        (480, 5.0) => (M480_5, T480_5),
        _ => return None,
    };
    Some(if mae { m } else { t })
}

/// The CSF weights (h and v, d) of scale `lambda` as libvmaf's float, or why the options
/// have none.
fn csf_factors(o: &IntegerAdmOptions, lambda: usize) -> Result<[f32; 2], AdmError> {
    let (nvd, rdh) = (o.norm_view_dist, o.ref_display_height);
    Ok(match o.csf_mode {
        CsfMode::Watson => [
            1.0 / dwt_quant_step(lambda, 1, nvd, rdh),
            1.0 / dwt_quant_step(lambda, 2, nvd, rdh),
        ],
        CsfMode::Barten => [
            barten_csf(lambda, nvd, rdh, 100.0, o.csf_scale),
            barten_csf(lambda, nvd, rdh, 100.0, o.csf_diag_scale),
        ],
        CsfMode::BartenWatsonBlend | CsfMode::BartenWatsonBlendMae => {
            let mae = o.csf_mode == CsfMode::BartenWatsonBlendMae;
            let t = blended_csf(mae, nvd, rdh).ok_or_else(|| {
                AdmError::Option(format!(
                    "adm_csf_mode {} has no table for display height {rdh} at viewing \
                     distance {nvd}",
                    o.csf_mode.libvmaf_value()
                ))
            })?;
            [t[0][lambda], t[1][lambda]]
        }
    })
}

/// Checks the options against libvmaf's ranges.
fn check_options(o: &IntegerAdmOptions) -> Result<(), AdmError> {
    let egl = o.enhn_gain_limit;
    if !(1.0..=100.0).contains(&egl) {
        return Err(AdmError::GainLimit(egl));
    }
    let range = |name: &str, v: f64, lo: f64, hi: f64| {
        if (lo..=hi).contains(&v) {
            Ok(())
        } else {
            Err(AdmError::Option(format!(
                "{name} must be within {lo}..={hi}, got {v}"
            )))
        }
    };
    range("adm_norm_view_dist", o.norm_view_dist, 0.75, 24.0)?;
    range(
        "adm_ref_display_height",
        o.ref_display_height as f64,
        1.0,
        4320.0,
    )?;
    range("adm_csf_scale", o.csf_scale, 0.0, 50.0)?;
    range("adm_csf_diag_scale", o.csf_diag_scale, 0.0, 50.0)?;
    range("adm_noise_weight", o.noise_weight, 0.0, 1500.0)?;
    range("adm_dlm_weight", o.dlm_weight, 0.0, 1.0)?;
    range("adm_min_val", o.min_val, 0.0, 1.0)?;
    // libvmaf's 16-bit pipeline cannot go below 1080p at 3 H; it fails every frame.
    if o.norm_view_dist * (o.ref_display_height as f64) < 3.0 * 1080.0 {
        return Err(AdmError::Option(format!(
            "adm_norm_view_dist * adm_ref_display_height must be at least 3 * 1080, got {} * {}",
            o.norm_view_dist, o.ref_display_height
        )));
    }
    Ok(())
}

/// Border-cropped region (left, right, top, bottom) over which libvmaf pools a band.
fn pool_region(w: usize, h: usize) -> (usize, usize, usize, usize) {
    let left = (w as f64 * BORDER - 0.5) as i64;
    let top = (h as f64 * BORDER - 0.5) as i64;
    let (left, top) = (left.max(0) as usize, top.max(0) as usize);
    (left, w - left, top, h - top)
}

/// The region decoupling and CSF fill: the pooling region plus the masking filter's taps.
fn work_region(w: usize, h: usize) -> (usize, usize, usize, usize) {
    let f = |n: usize| {
        let lo = (n as f64 * BORDER - 0.5 - 1.0) as i64;
        let hi = n as i64 - lo + 2;
        (lo.max(0) as usize, (hi.min(n as i64)) as usize)
    };
    let (l, r) = f(w);
    let (t, b) = f(h);
    (l, r, t, b)
}

fn ceil_log2(x: usize) -> u32 {
    (x as f64).log2().ceil() as u32
}

/// The configuration of one frame size, depth and option set, checked against libvmaf's ranges.
fn config(
    width: usize,
    height: usize,
    bpc: u32,
    opts: &IntegerAdmOptions,
) -> Result<Config, AdmError> {
    if !(8..=16).contains(&bpc) {
        return Err(AdmError::BitDepth(bpc));
    }
    if width < MIN_SIZE || height < MIN_SIZE {
        return Err(AdmError::TooSmall(width, height));
    }
    check_options(opts)?;
    let egl = opts.enhn_gain_limit;
    let gain = if egl.fract() == 0.0 {
        Gain::Int(egl as i64)
    } else {
        Gain::Float(egl)
    };
    // libvmaf converts the weights to unsigned fixed point; out-of-range values (only
    // conceivable with Barten's CSF) wrap as x86's conversions do.
    let q32 = |f: f32| (f as f64 * 4294967296.0) as i64 as u32;
    let mut scales = Vec::with_capacity(4);
    let (mut wi, mut hi) = (width, height);
    for s in 0..4 {
        let rf = csf_factors(opts, s)?;
        scales.push(Scale {
            w_in: wi,
            w: wi.div_ceil(2),
            h: hi.div_ceil(2),
            ind_y: tap_indices(hi),
            ind_x: tap_indices(wi),
            rf,
            rf_q32: [q32(rf[0]), q32(rf[0]), q32(rf[1])],
        });
        wi = wi.div_ceil(2);
        hi = hi.div_ceil(2);
    }
    let default_view =
        (opts.norm_view_dist * opts.ref_display_height as f64 - 3.0 * 1080.0).abs() < 1e-8;
    let rf0 = if default_view && opts.csf_mode == CsfMode::Watson {
        RF0
    } else {
        let q = |f: f32, bits: i32| (f as f64 * 2.0f64.powi(bits)) as i32 as u16 as i32;
        let rf = scales[0].rf;
        [q(rf[0], 21), q(rf[0], 21), q(rf[1], 23)]
    };
    let cos1 = (std::f64::consts::PI / 180.0).cos();
    Ok(Config {
        isa: Isa::detect(),
        w: width,
        h: height,
        bpc,
        gain,
        cos_1deg_sq: (cos1 * cos1) as f32 as f64,
        scales,
        rf0,
        noise_weight: opts.noise_weight,
        aim: opts.aim.then_some((opts.dlm_weight, opts.min_val)),
    })
}

impl IntegerAdm {
    pub fn new(
        width: usize,
        height: usize,
        bpc: u32,
        opts: IntegerAdmOptions,
    ) -> Result<Self, AdmError> {
        let cfg = config(width, height, bpc, &opts)?;
        let scales = &cfg.scales;
        let w0 = scales[0].w;
        let n = w0 * scales[0].h;
        let half = width / 2 + 1;
        Ok(IntegerAdm {
            work: Work {
                row: RowScratch {
                    lo: vec![0; width],
                    hi: vec![0; width],
                    lo_e: vec![0; half],
                    lo_o: vec![0; half],
                    hi_e: vec![0; half],
                    hi_o: vec![0; half],
                },
                rb: Bands::new(n),
                db: Bands::new(n),
                ra_prev: vec![0; n],
                da_prev: vec![0; n],
                rest: [vec![0; n], vec![0; n], vec![0; n]],
                flt_sum: vec![0; n],
                ctr_sum: vec![0; n],
                colsum: vec![0; w0],
                thr: vec![0; w0],
                add: std::array::from_fn(|_| if opts.aim { vec![0; n] } else { Vec::new() }),
                aim_flt_sum: if opts.aim { vec![0; n] } else { Vec::new() },
                aim_ctr_sum: if opts.aim { vec![0; n] } else { Vec::new() },
            },
            cfg,
        })
    }

    /// Scores one frame pair (luma planes).
    ///
    /// Panics if a plane's size or bit depth differ from the ones given to `new`.
    pub fn compute(&mut self, reference: &Plane, distorted: &Plane) -> AdmScores {
        let c = &self.cfg;
        for p in [reference, distorted] {
            assert!(
                p.width == c.w && p.height == c.h && p.bpc == c.bpc,
                "adm: plane is {}x{} at {} bits, expected {}x{} at {} bits",
                p.width,
                p.height,
                p.bpc,
                c.w,
                c.h,
                c.bpc
            );
        }
        compute_frame(&self.cfg, &mut self.work, reference, distorted)
    }
}

fn compute_frame(cfg: &Config, wk: &mut Work, reference: &Plane, distorted: &Plane) -> AdmScores {
    let mut aim_num = 0.0f64;
    let (mut nums, mut dens) = ([0.0f32; 4], [0.0f32; 4]);
    for s in 0..4 {
        let sc = &cfg.scales[s];
        if s == 0 {
            dwt_image(cfg.isa, reference, sc, &mut wk.row, &mut wk.rb);
            dwt_image(cfg.isa, distorted, sc, &mut wk.row, &mut wk.db);
        } else {
            std::mem::swap(&mut wk.rb.a, &mut wk.ra_prev);
            std::mem::swap(&mut wk.db.a, &mut wk.da_prev);
            dwt_band(cfg.isa, &wk.ra_prev, s, sc, &mut wk.row, &mut wk.rb);
            dwt_band(cfg.isa, &wk.da_prev, s, sc, &mut wk.row, &mut wk.db);
        }
        decouple(cfg, s, wk);
        let den_s = if s == 0 {
            den_scale0(cfg.isa, &wk.rb, sc, cfg.noise_weight)
        } else {
            den_scale_n(cfg.isa, &wk.rb, sc, s, cfg.noise_weight)
        };
        let mask = MaskScratch {
            colsum: &mut wk.colsum,
            thr: &mut wk.thr,
        };
        let num_s = masked_num(
            cfg.isa,
            s,
            sc,
            cfg.rf0,
            Masked {
                x: &wk.rest,
                flt: &wk.flt_sum,
                ctr: &wk.ctr_sum,
            },
            mask,
            cfg.noise_weight,
        );
        if cfg.aim.is_some() {
            aim_terms(cfg, s, wk);
            let mask = MaskScratch {
                colsum: &mut wk.colsum,
                thr: &mut wk.thr,
            };
            // libvmaf pools AIM without the noise floor.
            aim_num += masked_num(
                cfg.isa,
                s,
                sc,
                cfg.rf0,
                Masked {
                    x: &wk.add,
                    flt: &wk.aim_flt_sum,
                    ctr: &wk.aim_ctr_sum,
                },
                mask,
                0.0,
            ) as f64;
        }
        nums[s] = num_s;
        dens[s] = den_s;
    }
    finish_scores(cfg, nums, dens, aim_num)
}

/// The scores from the per-scale numerators and denominators (and AIM's pooled numerator).
fn finish_scores(cfg: &Config, nums: [f32; 4], dens: [f32; 4], aim_num: f64) -> AdmScores {
    let mut num = 0.0f64;
    let mut den = 0.0f64;
    let mut out = AdmScores::default();
    for s in 0..4 {
        num += nums[s] as f64;
        den += dens[s] as f64;
        out.scale[s] = nums[s] as f64 / dens[s] as f64;
        out.num[s] = nums[s];
        out.den[s] = dens[s];
    }
    let limit = 1e-10 * (cfg.w * cfg.h) as f64 / (1920.0 * 1080.0);
    if num < limit {
        num = 0.0;
    }
    if den < limit {
        den = 0.0;
    }
    if den == 0.0 {
        out.adm2 = 1.0;
    } else {
        out.adm2 = num / den;
        // AIM is normalised by the DLM's denominator.
        out.aim = aim_num / den;
    }
    if let Some((dlm_weight, min_val)) = cfg.aim {
        let v = out.adm2 * dlm_weight + (1.0 - out.aim) * (1.0 - dlm_weight);
        out.adm3 = if v > min_val { v } else { min_val };
    }
    out
}

// ---------------------------------------------------------------------------------------
// Wavelet

fn dwt_image(isa: Isa, p: &Plane, sc: &Scale, row: &mut RowScratch, out: &mut Bands) {
    let bpc = p.bpc;
    let round = 1i32 << (bpc - 1);
    let centre = LO_SUM.wrapping_mul(round);
    match p.samples {
        Samples::U8(d) => dwt_image_t(d, p.stride, sc, row, out, isa, |r0, r1, r2, r3, lo, hi| {
            vertical0_u8(isa, r0, r1, r2, r3, lo, hi, bpc, centre, round)
        }),
        Samples::U16(d) => dwt_image_t(d, p.stride, sc, row, out, isa, |r0, r1, r2, r3, lo, hi| {
            vertical0_u16(isa, r0, r1, r2, r3, lo, hi, bpc, centre, round)
        }),
    }
}

multiversion! { fn vertical0_u8(r0: &[u8], r1: &[u8], r2: &[u8], r3: &[u8], lo: &mut [i32], hi: &mut [i32], bpc: u32, centre: i32, round: i32) = vertical0::<u8>; }
multiversion! { fn vertical0_u16(r0: &[u16], r1: &[u16], r2: &[u16], r3: &[u16], lo: &mut [i32], hi: &mut [i32], bpc: u32, centre: i32, round: i32) = vertical0::<u16>; }
multiversion! { fn split_even_odd_k(x: &[i32], even: &mut [i32], odd: &mut [i32]) = split_even_odd; }
multiversion! { fn vertical_s1_k(r0: &[i32], r1: &[i32], r2: &[i32], r3: &[i32], lo: &mut [i32], hi: &mut [i32]) = vertical_s1; }
multiversion! { fn vertical_n_k(r0: &[i32], r1: &[i32], r2: &[i32], r3: &[i32], lo: &mut [i32], hi: &mut [i32], add: i64, sh: u32) = vertical_n; }
multiversion! { fn horizontal_interior0(lo_e: &[i32], lo_o: &[i32], hi_e: &[i32], hi_o: &[i32], a: &mut [i32], v: &mut [i32], h: &mut [i32], d: &mut [i32]) = interior0; }
multiversion! { fn horizontal_interior_n(lo_e: &[i32], lo_o: &[i32], hi_e: &[i32], hi_o: &[i32], a: &mut [i32], v: &mut [i32], h: &mut [i32], d: &mut [i32], add: i64, sh: u32) = interior_n; }

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn interior0(
    lo_e: &[i32],
    lo_o: &[i32],
    hi_e: &[i32],
    hi_o: &[i32],
    a: &mut [i32],
    v: &mut [i32],
    h: &mut [i32],
    d: &mut [i32],
) {
    horizontal_interior(lo_e, lo_o, hi_e, hi_o, a, v, h, d, taps0)
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn interior_n(
    lo_e: &[i32],
    lo_o: &[i32],
    hi_e: &[i32],
    hi_o: &[i32],
    a: &mut [i32],
    v: &mut [i32],
    h: &mut [i32],
    d: &mut [i32],
    add: i64,
    sh: u32,
) {
    horizontal_interior(lo_e, lo_o, hi_e, hi_o, a, v, h, d, |xl, xh| {
        taps_n(xl, xh, add, sh)
    })
}

/// Scale 0: 32-bit arithmetic (no overflow below 16 bits per sample; at 16 bits libvmaf's
/// int32 sums overflow and wrap, as here), results stored as int16.
#[allow(clippy::type_complexity)]
fn dwt_image_t<T>(
    src: &[T],
    stride: usize,
    sc: &Scale,
    row: &mut RowScratch,
    out: &mut Bands,
    isa: Isa,
    vertical: impl Fn(&[T], &[T], &[T], &[T], &mut [i32], &mut [i32]),
) {
    let w = sc.w_in;
    for (i, rows) in sc.ind_y.iter().enumerate() {
        let r = rows.map(|y| &src[y * stride..][..w]);
        vertical(r[0], r[1], r[2], r[3], &mut row.lo[..w], &mut row.hi[..w]);
        horizontal(isa, row, w, sc, i, out, None);
    }
}

/// Scales 1..3: 64-bit accumulation with libvmaf's per-scale rounding.
fn dwt_band(isa: Isa, src: &[i32], s: usize, sc: &Scale, row: &mut RowScratch, out: &mut Bands) {
    let w = sc.w_in;
    let (add_v, sh_v) = [(0i64, 0u32), (32768, 16), (32768, 16)][s - 1];
    let rnd_h = [(16384i64, 15u32), (32768, 16), (16384, 15)][s - 1];
    for (i, rows) in sc.ind_y.iter().enumerate() {
        let r = rows.map(|y| &src[y * w..][..w]);
        let (lo, hi) = (&mut row.lo[..w], &mut row.hi[..w]);
        if s == 1 {
            vertical_s1_k(isa, r[0], r[1], r[2], r[3], lo, hi);
        } else {
            vertical_n_k(isa, r[0], r[1], r[2], r[3], lo, hi, add_v, sh_v);
        }
        horizontal(isa, row, w, sc, i, out, Some(rnd_h));
    }
}

/// Vertical pass of scale 0 for one output row (4 source rows).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn vertical0<T: Copy + Into<i32>>(
    r0: &[T],
    r1: &[T],
    r2: &[T],
    r3: &[T],
    lo: &mut [i32],
    hi: &mut [i32],
    bpc: u32,
    centre: i32,
    round: i32,
) {
    let w = lo.len();
    let (r0, r1, r2, r3, hi) = (&r0[..w], &r1[..w], &r2[..w], &r3[..w], &mut hi[..w]);
    for j in 0..w {
        let (s0, s1, s2, s3) = (r0[j].into(), r1[j].into(), r2[j].into(), r3[j].into());
        let l = LO[0]
            .wrapping_mul(s0)
            .wrapping_add(LO[1].wrapping_mul(s1))
            .wrapping_add(LO[2].wrapping_mul(s2))
            .wrapping_add(LO[3].wrapping_mul(s3));
        let h = HI[0]
            .wrapping_mul(s0)
            .wrapping_add(HI[1].wrapping_mul(s1))
            .wrapping_add(HI[2].wrapping_mul(s2))
            .wrapping_add(HI[3].wrapping_mul(s3));
        lo[j] = (l.wrapping_sub(centre).wrapping_add(round) >> bpc) as i16 as i32;
        hi[j] = (h.wrapping_add(round) >> bpc) as i16 as i32;
    }
}

/// Vertical pass of scale 1, whose input is the int16 scale-0 approximation: the sums
/// stay below 54822 * 2^15 < 2^31 and libvmaf applies no shift, so i32 is exact.
#[inline(always)]
fn vertical_s1(r0: &[i32], r1: &[i32], r2: &[i32], r3: &[i32], lo: &mut [i32], hi: &mut [i32]) {
    let w = lo.len();
    let (r0, r1, r2, r3, hi) = (&r0[..w], &r1[..w], &r2[..w], &r3[..w], &mut hi[..w]);
    for j in 0..w {
        let (s0, s1, s2, s3) = (r0[j], r1[j], r2[j], r3[j]);
        lo[j] = LO[0] * s0 + LO[1] * s1 + LO[2] * s2 + LO[3] * s3;
        hi[j] = HI[0] * s0 + HI[1] * s1 + HI[2] * s2 + HI[3] * s3;
    }
}

/// Vertical pass of scales 1..3 for one output row.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn vertical_n(
    r0: &[i32],
    r1: &[i32],
    r2: &[i32],
    r3: &[i32],
    lo: &mut [i32],
    hi: &mut [i32],
    add: i64,
    sh: u32,
) {
    let w = lo.len();
    let (r0, r1, r2, r3, hi) = (&r0[..w], &r1[..w], &r2[..w], &r3[..w], &mut hi[..w]);
    for j in 0..w {
        let (s0, s1, s2, s3) = (r0[j] as i64, r1[j] as i64, r2[j] as i64, r3[j] as i64);
        let l = LO[0] as i64 * s0 + LO[1] as i64 * s1 + LO[2] as i64 * s2 + LO[3] as i64 * s3;
        let h = HI[0] as i64 * s0 + HI[1] as i64 * s1 + HI[2] as i64 * s2 + HI[3] as i64 * s3;
        lo[j] = ((l + add) >> sh) as i32;
        hi[j] = ((h + add) >> sh) as i32;
    }
}

/// Horizontal pass of output row `i` (lo/hi from the vertical pass) into the a, v, h, d
/// bands: scale 0 in 32-bit arithmetic when `rnd` is None, else 64-bit with the given
/// rounding. Interior outputs read columns 2j-1..2j+2, i.e. odd[j-1], even[j], odd[j],
/// even[j+1]; splitting the row into even and odd columns makes those reads contiguous.
fn horizontal(
    isa: Isa,
    row: &mut RowScratch,
    w: usize,
    sc: &Scale,
    i: usize,
    out: &mut Bands,
    rnd: Option<(i64, u32)>,
) {
    let half = sc.w;
    let o = i * half;
    let (a, v, h, d) = (
        &mut out.a[o..o + half],
        &mut out.v[o..o + half],
        &mut out.h[o..o + half],
        &mut out.d[o..o + half],
    );
    split_even_odd_k(isa, &row.lo[..w], &mut row.lo_e, &mut row.lo_o);
    split_even_odd_k(isa, &row.hi[..w], &mut row.hi_e, &mut row.hi_o);
    // Interior: j in 1..=n with 2j + 2 <= w - 1.
    let n = (w - 3) / 2;
    let (lo_e, lo_o, hi_e, hi_o) = (
        &row.lo_e[..n + 2],
        &row.lo_o[..n + 1],
        &row.hi_e[..n + 2],
        &row.hi_o[..n + 1],
    );
    let (ia, iv, ih, id) = (
        &mut a[1..n + 1],
        &mut v[1..n + 1],
        &mut h[1..n + 1],
        &mut d[1..n + 1],
    );
    match rnd {
        None => horizontal_interior0(isa, lo_e, lo_o, hi_e, hi_o, ia, iv, ih, id),
        Some((add, sh)) => {
            horizontal_interior_n(isa, lo_e, lo_o, hi_e, hi_o, ia, iv, ih, id, add, sh)
        }
    }
    for j in std::iter::once(0).chain(n + 1..half) {
        let c = sc.ind_x[j];
        let (xl, xh) = (c.map(|k| row.lo[k]), c.map(|k| row.hi[k]));
        let t = match rnd {
            None => taps0(xl, xh),
            Some((add, sh)) => taps_n(xl, xh, add, sh),
        };
        a[j] = t[0];
        v[j] = t[1];
        h[j] = t[2];
        d[j] = t[3];
    }
}

#[inline(always)]
fn split_even_odd(x: &[i32], even: &mut [i32], odd: &mut [i32]) {
    let pairs = x.len() / 2;
    let (even, odd) = (&mut even[..x.len().div_ceil(2)], &mut odd[..pairs]);
    for (m, p) in x[..2 * pairs].chunks_exact(2).enumerate() {
        even[m] = p[0];
        odd[m] = p[1];
    }
    if x.len() % 2 == 1 {
        even[pairs] = x[x.len() - 1];
    }
}

/// Output m (column m + 1) reads odd[m], even[m + 1], odd[m + 1], even[m + 2].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn horizontal_interior(
    lo_e: &[i32],
    lo_o: &[i32],
    hi_e: &[i32],
    hi_o: &[i32],
    a: &mut [i32],
    v: &mut [i32],
    h: &mut [i32],
    d: &mut [i32],
    taps: impl Fn([i32; 4], [i32; 4]) -> [i32; 4],
) {
    let n = a.len();
    let (v, h, d) = (&mut v[..n], &mut h[..n], &mut d[..n]);
    let (lo_a, lo_b, lo_c, lo_d) = (
        &lo_o[..n],
        &lo_e[1..n + 1],
        &lo_o[1..n + 1],
        &lo_e[2..n + 2],
    );
    let (hi_a, hi_b, hi_c, hi_d) = (
        &hi_o[..n],
        &hi_e[1..n + 1],
        &hi_o[1..n + 1],
        &hi_e[2..n + 2],
    );
    for m in 0..n {
        let o = taps(
            [lo_a[m], lo_b[m], lo_c[m], lo_d[m]],
            [hi_a[m], hi_b[m], hi_c[m], hi_d[m]],
        );
        a[m] = o[0];
        v[m] = o[1];
        h[m] = o[2];
        d[m] = o[3];
    }
}

#[inline(always)]
fn taps_n(xl: [i32; 4], xh: [i32; 4], add: i64, sh: u32) -> [i32; 4] {
    let f = |c: &[i32; 4], x: [i32; 4]| {
        let acc = c[0] as i64 * x[0] as i64
            + c[1] as i64 * x[1] as i64
            + c[2] as i64 * x[2] as i64
            + c[3] as i64 * x[3] as i64;
        ((acc + add) >> sh) as i32
    };
    [f(&LO, xl), f(&HI, xl), f(&LO, xh), f(&HI, xh)]
}

/// Scale 0 taps: the inputs are int16, so the sums fit an i32.
#[inline(always)]
fn taps0(xl: [i32; 4], xh: [i32; 4]) -> [i32; 4] {
    let f = |c: &[i32; 4], x: [i32; 4]| {
        ((c[0] * x[0] + c[1] * x[1] + c[2] * x[2] + c[3] * x[3] + 32768) >> 16) as i16 as i32
    };
    [f(&LO, xl), f(&HI, xl), f(&LO, xh), f(&HI, xh)]
}

// ---------------------------------------------------------------------------------------
// Decoupling and the CSF / masking filter

/// Splits the distorted detail into restored (kept in `rest`) and additive parts, and
/// turns the additive part straight into the sums the contrast-masking stage reads
/// (libvmaf's `adm_decouple` followed by `adm_csf`).
fn decouple(cfg: &Config, s: usize, wk: &mut Work) {
    let sc = &cfg.scales[s];
    let w = sc.w;
    let (l, r, t, b) = work_region(w, sc.h);
    let (rb, db) = (&wk.rb, &wk.db);
    let [rest_h, rest_v, rest_d] = &mut wk.rest;
    for i in t..b {
        let x = i * w + l..i * w + r;
        let (oh, ov, od) = (&rb.h[x.clone()], &rb.v[x.clone()], &rb.d[x.clone()]);
        let (th, tv, td) = (&db.h[x.clone()], &db.v[x.clone()], &db.d[x.clone()]);
        let (rh, rv, rd) = (
            &mut rest_h[x.clone()],
            &mut rest_v[x.clone()],
            &mut rest_d[x.clone()],
        );
        let (fs, cs) = (&mut wk.flt_sum[x.clone()], &mut wk.ctr_sum[x]);
        let (c, q) = (cfg.cos_1deg_sq, sc.rf_q32);
        let isa = cfg.isa;
        if s == 0 {
            match cfg.gain {
                Gain::Int(g) => decouple_row0_int(
                    isa, g, c, cfg.rf0, oh, ov, od, th, tv, td, rh, rv, rd, fs, cs,
                ),
                Gain::Float(g) => decouple_row0_float(
                    isa, g, c, cfg.rf0, oh, ov, od, th, tv, td, rh, rv, rd, fs, cs,
                ),
            }
        } else {
            let ang = &mut wk.colsum[..oh.len()];
            angle_flags_k(isa, c, oh, ov, th, tv, ang);
            let ang = &*ang;
            match cfg.gain {
                Gain::Int(g) => {
                    decouple_row_n_int(isa, g, q, ang, oh, ov, od, th, tv, td, rh, rv, rd, fs, cs)
                }
                Gain::Float(g) => {
                    decouple_row_n_float(isa, g, q, ang, oh, ov, od, th, tv, td, rh, rv, rd, fs, cs)
                }
            }
        }
    }
}

multiversion! { fn decouple_row0_int(g: i64, cos_sq: f64, rf0: [i32; 3], oh: &[i32], ov: &[i32], od: &[i32], th: &[i32], tv: &[i32], td: &[i32], rh: &mut [i32], rv: &mut [i32], rd: &mut [i32], fs: &mut [i32], cs: &mut [i32]) = row0_int; }
multiversion! { fn decouple_row0_float(g: f64, cos_sq: f64, rf0: [i32; 3], oh: &[i32], ov: &[i32], od: &[i32], th: &[i32], tv: &[i32], td: &[i32], rh: &mut [i32], rv: &mut [i32], rd: &mut [i32], fs: &mut [i32], cs: &mut [i32]) = row0_float; }
multiversion! { fn decouple_row_n_int(g: i64, rq: [u32; 3], ang: &[i32], oh: &[i32], ov: &[i32], od: &[i32], th: &[i32], tv: &[i32], td: &[i32], rh: &mut [i32], rv: &mut [i32], rd: &mut [i32], fs: &mut [i32], cs: &mut [i32]) = row_n_int; }
multiversion! { fn decouple_row_n_float(g: f64, rq: [u32; 3], ang: &[i32], oh: &[i32], ov: &[i32], od: &[i32], th: &[i32], tv: &[i32], td: &[i32], rh: &mut [i32], rv: &mut [i32], rd: &mut [i32], fs: &mut [i32], cs: &mut [i32]) = row_n_float; }

macro_rules! with_gain {
    ($name:ident, $inner:ident, $g:ty, $wrap:path $(, $extra:ident: $et:ty)?) => {
        #[allow(clippy::too_many_arguments)]
        #[inline(always)]
        fn $name(
            g: $g,
            cos_sq: f64,
            $($extra: $et,)?
            oh: &[i32],
            ov: &[i32],
            od: &[i32],
            th: &[i32],
            tv: &[i32],
            td: &[i32],
            rh: &mut [i32],
            rv: &mut [i32],
            rd: &mut [i32],
            fs: &mut [i32],
            cs: &mut [i32],
        ) {
            $inner($wrap(g), cos_sq, $($extra,)? oh, ov, od, th, tv, td, rh, rv, rd, fs, cs)
        }
    };
}
with_gain!(row0_int, decouple_row0, i64, Gain::Int, rf0: [i32; 3]);
with_gain!(row0_float, decouple_row0, f64, Gain::Float, rf0: [i32; 3]);

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn row_n_int(
    g: i64,
    rq: [u32; 3],
    ang: &[i32],
    oh: &[i32],
    ov: &[i32],
    od: &[i32],
    th: &[i32],
    tv: &[i32],
    td: &[i32],
    rh: &mut [i32],
    rv: &mut [i32],
    rd: &mut [i32],
    fs: &mut [i32],
    cs: &mut [i32],
) {
    decouple_row_n(
        Gain::Int(g),
        rq,
        ang,
        oh,
        ov,
        od,
        th,
        tv,
        td,
        rh,
        rv,
        rd,
        fs,
        cs,
    )
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn row_n_float(
    g: f64,
    rq: [u32; 3],
    ang: &[i32],
    oh: &[i32],
    ov: &[i32],
    od: &[i32],
    th: &[i32],
    tv: &[i32],
    td: &[i32],
    rh: &mut [i32],
    rv: &mut [i32],
    rd: &mut [i32],
    fs: &mut [i32],
    cs: &mut [i32],
) {
    decouple_row_n(
        Gain::Float(g),
        rq,
        ang,
        oh,
        ov,
        od,
        th,
        tv,
        td,
        rh,
        rv,
        rd,
        fs,
        cs,
    )
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn decouple_row0(
    gain: Gain,
    cos_sq: f64,
    rf0: [i32; 3],
    oh: &[i32],
    ov: &[i32],
    od: &[i32],
    th: &[i32],
    tv: &[i32],
    td: &[i32],
    rh: &mut [i32],
    rv: &mut [i32],
    rd: &mut [i32],
    fs: &mut [i32],
    cs: &mut [i32],
) {
    let n = oh.len();
    let (ov, od, th, tv, td) = (&ov[..n], &od[..n], &th[..n], &tv[..n], &td[..n]);
    let (rh, rv, rd, fs, cs) = (
        &mut rh[..n],
        &mut rv[..n],
        &mut rd[..n],
        &mut fs[..n],
        &mut cs[..n],
    );
    for j in 0..n {
        // Scale-0 bands fit in int16, so these products and sums are exact in f64.
        let (a, b, x, y) = (oh[j] as f64, ov[j] as f64, th[j] as f64, tv[j] as f64);
        let ot = (a * x + b * y) as f32 as f64 / 4096.0;
        let om = (a * a + b * b) as f32 as f64 / 4096.0;
        let tm = (x * x + y * y) as f32 as f64 / 4096.0;
        let angle = ot >= 0.0 && ot * ot >= cos_sq * om * tm;
        let (r1, a1) = restore0(oh[j], th[j], angle, gain);
        let (r2, a2) = restore0(ov[j], tv[j], angle, gain);
        let (r3, a3) = restore0(od[j], td[j], angle, gain);
        rh[j] = r1;
        rv[j] = r2;
        rd[j] = r3;
        let (f1, c1) = mask_terms_s0::<0>(a1, rf0[0]);
        let (f2, c2) = mask_terms_s0::<1>(a2, rf0[1]);
        let (f3, c3) = mask_terms_s0::<2>(a3, rf0[2]);
        fs[j] = f1 + f2 + f3;
        cs[j] = c1 + c2 + c3;
    }
}

/// An integral f64 with |x| < 2^51 as i32 (wrapping): adding 1.5 * 2^52 puts the integer
/// in the low mantissa bits. Unlike `as`, this compiles to plain vector code.
#[inline(always)]
fn f2i(x: f64) -> i32 {
    (x + 6755399441055744.0).to_bits() as i32
}

/// Scale 0 restoration: returns (restored, additive) with libvmaf's int16 storage.
///
/// libvmaf's 64-bit steps are done in f64, where they are exact: the reciprocal table
/// entry 2^30 / |o| (|o| <= 2^15) truncates to the same integer from the double quotient
/// (its fraction is 0 or >= 2^-15), and q * t + 2^14 stays below 2^47, so the floor of
/// its scaling by 2^-15 is libvmaf's arithmetic shift.
#[inline(always)]
fn restore0(o: i32, t: i32, angle: bool, gain: Gain) -> (i32, i32) {
    let (of, tf) = (o as f64, t as f64);
    let q = (1073741824.0 / of.abs()).trunc();
    let q = if o < 0 { -q } else { q };
    let k = ((q * tf + 16384.0) * (1.0 / 32768.0)).floor();
    let k = k.clamp(0.0, 32768.0);
    let k = if o == 0 { 32768 } else { f2i(k) };
    // |k * o| <= 2^30 and the result fits int16.
    let rst = (k * o + 16384) >> 15;
    let lim = match gain {
        // |rst| <= 2^15 and the limit <= 100: no overflow.
        Gain::Int(g) => {
            let x = rst * g as i32;
            if o > 0 {
                x.min(t)
            } else {
                x.max(t)
            }
        }
        Gain::Float(g) => {
            let x = rst as f64 * g;
            let v = if o > 0 {
                if x < tf {
                    x
                } else {
                    tf
                }
            } else if x > tf {
                x
            } else {
                tf
            };
            f2i(v.trunc())
        }
    };
    let rst = if angle && k != 0 && o != 0 { lim } else { rst };
    (rst, (t - rst) as i16 as i32)
}

/// Scale 0 CSF of a detail value with weight `rf`: (masking filter |c| / 30, centre term
/// |c| / 15). The product fits an i32 (|a| <= 2^15, rf < 2^16); the rounding may wrap, as
/// libvmaf's int32 does.
#[inline(always)]
fn mask_terms_s0<const THETA: usize>(a: i32, rf: i32) -> (i32, i32) {
    let c = ((rf * a).wrapping_add(RF0_ROUND[THETA]) >> RF0_SHIFT[THETA]) as i16 as i32;
    let f = ((4369 * c.abs() + 2048) >> 12) as i16 as i32;
    let ctr = ((8738 * c.abs() + 2048) >> 12) as i16 as i32;
    (f, ctr)
}

multiversion! { fn angle_flags_k(cos_sq: f64, oh: &[i32], ov: &[i32], th: &[i32], tv: &[i32], out: &mut [i32]) = angle_flags; }

/// The angle test of scales 1..3 in 64-bit integers: libvmaf rounds the exact dot products
/// to float once, which f64 arithmetic could not reproduce for large bands. (Scalar below
/// AVX-512, which converts 64-bit integers to float natively.)
#[inline(always)]
fn angle_flags(cos_sq: f64, oh: &[i32], ov: &[i32], th: &[i32], tv: &[i32], out: &mut [i32]) {
    let n = out.len();
    let (oh, ov, th, tv) = (&oh[..n], &ov[..n], &th[..n], &tv[..n]);
    for j in 0..n {
        out[j] = angle_flag(oh[j], ov[j], th[j], tv[j], cos_sq) as i32;
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn decouple_row_n(
    gain: Gain,
    rq: [u32; 3],
    ang: &[i32],
    oh: &[i32],
    ov: &[i32],
    od: &[i32],
    th: &[i32],
    tv: &[i32],
    td: &[i32],
    rh: &mut [i32],
    rv: &mut [i32],
    rd: &mut [i32],
    fs: &mut [i32],
    cs: &mut [i32],
) {
    let n = oh.len();
    let (ang, ov, od, th, tv, td) = (&ang[..n], &ov[..n], &od[..n], &th[..n], &tv[..n], &td[..n]);
    let (rh, rv, rd, fs, cs) = (
        &mut rh[..n],
        &mut rv[..n],
        &mut rd[..n],
        &mut fs[..n],
        &mut cs[..n],
    );
    for j in 0..n {
        let angle = ang[j] != 0;
        let (r1, a1) = restore_n(oh[j], th[j], angle, gain);
        let (r2, a2) = restore_n(ov[j], tv[j], angle, gain);
        let (r3, a3) = restore_n(od[j], td[j], angle, gain);
        rh[j] = r1;
        rv[j] = r2;
        rd[j] = r3;
        let (f1, c1) = mask_terms_n(a1, rq[0]);
        let (f2, c2) = mask_terms_n(a2, rq[1]);
        let (f3, c3) = mask_terms_n(a3, rq[2]);
        fs[j] = f1.wrapping_add(f2).wrapping_add(f3);
        cs[j] = c1.wrapping_add(c2).wrapping_add(c3);
    }
}

/// libvmaf's decision whether the distorted detail (th, tv) points within 1 degree of the
/// reference's (oh, ov), evaluated with its int64-to-float-then-double arithmetic.
#[inline(always)]
fn angle_flag(oh: i32, ov: i32, th: i32, tv: i32, cos_sq: f64) -> bool {
    let (oh, ov, th, tv) = (oh as i64, ov as i64, th as i64, tv as i64);
    let ot = ((oh * th + ov * tv) as f32) as f64 / 4096.0;
    let om = ((oh * oh + ov * ov) as f32) as f64 / 4096.0;
    let tm = ((th * th + tv * tv) as f32) as f64 / 4096.0;
    ot >= 0.0 && ot * ot >= cos_sq * om * tm
}

/// Scales 1..3: 32-bit bands; the reciprocal of |o| >= 2^15 comes from its top 15 bits
/// (rounded) with a matching extra shift, as libvmaf's `get_best15_from32`.
///
/// Done in f64 so that it vectorises. Everything is exact except q * t once it exceeds
/// 2^53; then libvmaf's quotient is at least 2^53 / 2^32 = 2^21 in magnitude and clamped
/// to 0 or 2^15 anyway, and the f64 value has the same sign and the same clamp.
#[inline(always)]
fn restore_n(o: i32, t: i32, angle: bool, gain: Gain) -> (i32, i32) {
    let (of, tf) = (o as f64, t as f64);
    let abs = of.abs();
    let big = abs >= 32768.0;
    // Extra shift: bit length - 15 (1..=17) for |o| >= 2^15.
    let exp = (abs.to_bits() >> 52) as i64 - 1023;
    let sh = if big { exp - 14 } else { 0 };
    let p = f64::from_bits(((sh + 1023) as u64) << 52);
    let pinv = f64::from_bits(((1023 - sh) as u64) << 52);
    let msb = if big {
        ((abs + 0.5 * p) * pinv).floor()
    } else {
        abs
    };
    let q = (1073741824.0 / msb).trunc();
    let q = if o < 0 { -q } else { q };
    // libvmaf forms the rounding constant 1 << (14 + sh) in an int: it wraps at sh = 17.
    let round = if sh == 17 { -2147483648.0 } else { 16384.0 * p };
    let k = ((q * tf + round) * (pinv * (1.0 / 32768.0))).floor();
    let k = k.clamp(0.0, 32768.0);
    let k = if o == 0 { 32768.0 } else { k };
    // |k * o| < 2^46: exact.
    let rst = ((k * of + 16384.0) * (1.0 / 32768.0)).floor();
    let lim = match gain {
        Gain::Int(g) => {
            let x = rst * g as f64;
            if o > 0 {
                if x < tf {
                    x
                } else {
                    tf
                }
            } else if x > tf {
                x
            } else {
                tf
            }
        }
        Gain::Float(g) => {
            let x = rst * g;
            let v = if o > 0 {
                if x < tf {
                    x
                } else {
                    tf
                }
            } else if x > tf {
                x
            } else {
                tf
            };
            v.trunc()
        }
    };
    let rst = f2i(if angle && k != 0.0 && o != 0 {
        lim
    } else {
        rst
    });
    (rst, t.wrapping_sub(rst))
}

/// Scales 1..3 CSF: libvmaf's rounding constant 1 << 31 is stored in an int32, so it
/// subtracts 2^31 instead of adding it.
#[inline(always)]
fn mask_terms_n(a: i32, rq: u32) -> (i32, i32) {
    let c = ((rq as i64 * a as i64 + (1 << 27)) >> 28) as i32;
    let ac = c.wrapping_abs() as i64;
    let f = ((143165577 * ac - (1i64 << 31)) >> 32) as i32;
    let ctr = ((286331153 * ac - (1i64 << 31)) >> 32) as i32;
    (f, ctr)
}

/// AIM's inputs at scale `s` over the decoupling region: the additive detail t - r and the
/// masking sums of the *restored* detail's CSF (libvmaf's `adm_csf` / `i4_adm_csf` with
/// `measure_aim`, which swap the roles of the two parts).
fn aim_terms(cfg: &Config, s: usize, wk: &mut Work) {
    let sc = &cfg.scales[s];
    let w = sc.w;
    let (l, r, t, b) = work_region(w, sc.h);
    let db = &wk.db;
    let [rh, rv, rd] = &wk.rest;
    let [ah, av, ad] = &mut wk.add;
    for i in t..b {
        let x = i * w + l..i * w + r;
        let (rh, rv, rd) = (&rh[x.clone()], &rv[x.clone()], &rd[x.clone()]);
        let (th, tv, td) = (&db.h[x.clone()], &db.v[x.clone()], &db.d[x.clone()]);
        let (ah, av, ad) = (&mut ah[x.clone()], &mut av[x.clone()], &mut ad[x.clone()]);
        let (fs, cs) = (&mut wk.aim_flt_sum[x.clone()], &mut wk.aim_ctr_sum[x]);
        if s == 0 {
            aim_row0_k(cfg.isa, cfg.rf0, rh, rv, rd, th, tv, td, ah, av, ad, fs, cs);
        } else {
            aim_row_n_k(
                cfg.isa, sc.rf_q32, rh, rv, rd, th, tv, td, ah, av, ad, fs, cs,
            );
        }
    }
}

multiversion! { fn aim_row0_k(rf0: [i32; 3], rh: &[i32], rv: &[i32], rd: &[i32], th: &[i32], tv: &[i32], td: &[i32], ah: &mut [i32], av: &mut [i32], ad: &mut [i32], fs: &mut [i32], cs: &mut [i32]) = aim_row0; }
multiversion! { fn aim_row_n_k(rq: [u32; 3], rh: &[i32], rv: &[i32], rd: &[i32], th: &[i32], tv: &[i32], td: &[i32], ah: &mut [i32], av: &mut [i32], ad: &mut [i32], fs: &mut [i32], cs: &mut [i32]) = aim_row_n; }

/// One row of AIM's inputs at scale 0, where libvmaf keeps both parts in int16.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn aim_row0(
    rf0: [i32; 3],
    rh: &[i32],
    rv: &[i32],
    rd: &[i32],
    th: &[i32],
    tv: &[i32],
    td: &[i32],
    ah: &mut [i32],
    av: &mut [i32],
    ad: &mut [i32],
    fs: &mut [i32],
    cs: &mut [i32],
) {
    let n = rh.len();
    let (rv, rd, th, tv, td) = (&rv[..n], &rd[..n], &th[..n], &tv[..n], &td[..n]);
    let (ah, av, ad, fs, cs) = (
        &mut ah[..n],
        &mut av[..n],
        &mut ad[..n],
        &mut fs[..n],
        &mut cs[..n],
    );
    for j in 0..n {
        ah[j] = (th[j] - rh[j]) as i16 as i32;
        av[j] = (tv[j] - rv[j]) as i16 as i32;
        ad[j] = (td[j] - rd[j]) as i16 as i32;
        let (f1, c1) = mask_terms_s0::<0>(rh[j], rf0[0]);
        let (f2, c2) = mask_terms_s0::<1>(rv[j], rf0[1]);
        let (f3, c3) = mask_terms_s0::<2>(rd[j], rf0[2]);
        fs[j] = f1 + f2 + f3;
        cs[j] = c1 + c2 + c3;
    }
}

/// One row of AIM's inputs at scales 1..3 (32-bit bands).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn aim_row_n(
    rq: [u32; 3],
    rh: &[i32],
    rv: &[i32],
    rd: &[i32],
    th: &[i32],
    tv: &[i32],
    td: &[i32],
    ah: &mut [i32],
    av: &mut [i32],
    ad: &mut [i32],
    fs: &mut [i32],
    cs: &mut [i32],
) {
    let n = rh.len();
    let (rv, rd, th, tv, td) = (&rv[..n], &rd[..n], &th[..n], &tv[..n], &td[..n]);
    let (ah, av, ad, fs, cs) = (
        &mut ah[..n],
        &mut av[..n],
        &mut ad[..n],
        &mut fs[..n],
        &mut cs[..n],
    );
    for j in 0..n {
        ah[j] = th[j].wrapping_sub(rh[j]);
        av[j] = tv[j].wrapping_sub(rv[j]);
        ad[j] = td[j].wrapping_sub(rd[j]);
        let (f1, c1) = mask_terms_n(rh[j], rq[0]);
        let (f2, c2) = mask_terms_n(rv[j], rq[1]);
        let (f3, c3) = mask_terms_n(rd[j], rq[2]);
        fs[j] = f1.wrapping_add(f2).wrapping_add(f3);
        cs[j] = c1.wrapping_add(c2).wrapping_add(c3);
    }
}

// ---------------------------------------------------------------------------------------
// Contrast masking and pooling

/// The detail a masking pass measures and the masking sums it is masked by.
struct Masked<'a> {
    x: &'a [Vec<i32>; 3],
    flt: &'a [i32],
    ctr: &'a [i32],
}

/// Row scratch of a masking pass.
struct MaskScratch<'a> {
    colsum: &'a mut [i32],
    thr: &'a mut [i32],
}

/// Contrast-masked, pooled detail (libvmaf's `adm_cm` / `i4_adm_cm`): the restored detail
/// masked by the additive one's CSF for DLM, the additive detail masked by the restored
/// one's for AIM.
fn masked_num(
    isa: Isa,
    s: usize,
    sc: &Scale,
    rf0: [i32; 3],
    input: Masked,
    scratch: MaskScratch,
    noise_weight: f64,
) -> f32 {
    let (w, h) = (sc.w, sc.h);
    let (left, right, top, bottom) = pool_region(w, h);
    let (cub, shift_inner) = cm_shifts(s, w, h);
    let add_inner = 1i64 << (shift_inner - 1);

    let Masked { x: bands, flt, ctr } = input;
    let MaskScratch { colsum, thr } = scratch;
    let c_lo = left.saturating_sub(1);
    let c_hi = (right + 1).min(w);
    let mut acc = [0i64; 3];
    for i in top..bottom {
        let up = if i == 0 { 1 } else { i - 1 };
        let dn = if i == h - 1 { h - 1 } else { i + 1 };
        sum3_k(
            isa,
            &flt[up * w..][c_lo..c_hi],
            &flt[i * w..][c_lo..c_hi],
            &flt[dn * w..][c_lo..c_hi],
            &mut colsum[c_lo..c_hi],
        );
        // thr = 3x3 sum of the masking filter minus the centre, plus the centre term; the
        // neighbourhood reflects at the top / left edge and repeats at the bottom / right.
        let colsum = &*colsum;
        let fr = &flt[i * w..][..w];
        let cr = &ctr[i * w..][..w];
        let at = |j: usize| {
            let jl = if j == 0 { 1 } else { j - 1 };
            let jr = if j == w - 1 { w - 1 } else { j + 1 };
            colsum[jl]
                .wrapping_add(colsum[j])
                .wrapping_add(colsum[jr])
                .wrapping_sub(fr[j])
                .wrapping_add(cr[j])
        };
        let (j0, j1) = (left.max(1), right.min(w - 1));
        threshold_interior_k(
            isa,
            &colsum[j0 - 1..j1 + 1],
            &fr[j0..j1],
            &cr[j0..j1],
            &mut thr[j0..j1],
        );
        if left == 0 {
            thr[0] = at(0);
        }
        if right == w {
            thr[w - 1] = at(w - 1);
        }
        let thr = &thr[left..right];
        let mut inner = [0i64; 3];
        for (k, band) in bands.iter().enumerate() {
            let x = &band[i * w + left..i * w + right];
            inner[k] = if s == 0 {
                let (rf, sub, sq) = [(rf0[0], 10, 29), (rf0[1], 10, 29), (rf0[2], 12, 30)][k];
                cm_row0_k(isa, x, thr, rf, sub, sq, cub[k])
            } else {
                cm_row_n_k(isa, x, thr, sc.rf_q32[k], cub[k])
            };
        }
        for k in 0..3 {
            acc[k] += (inner[k] + add_inner) >> shift_inner;
        }
    }
    num_finish(s, w, h, acc, noise_weight)
}

/// The cube shifts (h, v, d) of the masked pooling at scale `s` of `w`x`h` bands, and the
/// shift of each row's sum.
fn cm_shifts(s: usize, w: usize, h: usize) -> ([u32; 3], u32) {
    let shift_inner = ceil_log2(h);
    let (cub_hv, cub_d) = if s == 0 {
        let lw = (w as f64).log2();
        ((lw - 4.0).ceil() as u32, (lw - 3.0).ceil() as u32)
    } else {
        let c = ceil_log2(w);
        (c, c)
    };
    ([cub_hv, cub_hv, cub_d], shift_inner)
}

/// A masking pass's pooled value from its accumulated (shifted) row sums.
fn num_finish(s: usize, w: usize, h: usize, acc: [i64; 3], noise_weight: f64) -> f32 {
    let (left, right, top, bottom) = pool_region(w, h);
    let (cub, shift_inner) = cm_shifts(s, w, h);
    let area = ((bottom - top) * (right - left)) as f64 * noise_weight;
    let noise = (area as f32).powf(1.0 / 3.0);
    let mut total = 0.0f32;
    for k in 0..3 {
        let f = if s == 0 {
            let pend: u32 = if k == 2 { 57 } else { 52 };
            let e = pend.wrapping_sub(cub[k]).wrapping_sub(shift_inner);
            (acc[k] as f64 / 2.0f64.powf(e as f64)) as f32
        } else {
            let base: u32 = [45, 39, 36][s - 1];
            let e = base.wrapping_sub(cub[k]).wrapping_sub(shift_inner);
            let fs = 2.0f64.powf(e as f64) as f32;
            acc[k] as f32 / fs
        };
        total += f.powf(1.0 / 3.0) + noise;
    }
    total
}

multiversion! { fn sum3_k(a: &[i32], b: &[i32], c: &[i32], out: &mut [i32]) = sum3; }
multiversion! { fn threshold_interior_k(colsum: &[i32], flt: &[i32], ctr: &[i32], out: &mut [i32]) = threshold_interior; }
multiversion! { fn cm_row0_k(x: &[i32], thr: &[i32], rf: i32, sub: u32, sq: u32, cub: u32) -> i64 = cm_row0; }
multiversion! { fn cm_row_n_k(x: &[i32], thr: &[i32], rq: u32, cub: u32) -> i64 = cm_row_n; }
multiversion! { fn cubes0_k(x: &[i32]) -> u64 = cubes0; }
multiversion! { fn cubes_n_k(x: &[i32], sq: u32, add_cub: u64, shift_cub: u32) -> u64 = cubes_n; }

#[inline(always)]
fn sum3(a: &[i32], b: &[i32], c: &[i32], out: &mut [i32]) {
    let n = out.len();
    let (a, b, c) = (&a[..n], &b[..n], &c[..n]);
    for j in 0..n {
        out[j] = a[j].wrapping_add(b[j]).wrapping_add(c[j]);
    }
}

/// out[j] = colsum[j] + colsum[j + 1] + colsum[j + 2] - flt[j] + ctr[j].
#[inline(always)]
fn threshold_interior(colsum: &[i32], flt: &[i32], ctr: &[i32], out: &mut [i32]) {
    let n = out.len();
    let (l, c, r) = (&colsum[..n], &colsum[1..n + 1], &colsum[2..n + 2]);
    let (f, t) = (&flt[..n], &ctr[..n]);
    for j in 0..n {
        out[j] = l[j]
            .wrapping_add(c[j])
            .wrapping_add(r[j])
            .wrapping_sub(f[j])
            .wrapping_add(t[j]);
    }
}

/// One row's masked cubes at scale 0: the detail in the CSF's fixed point, less the
/// masking threshold, clipped at 0, cubed with libvmaf's intermediate roundings.
#[inline(always)]
fn cm_row0(x: &[i32], thr: &[i32], rf: i32, sub: u32, sq: u32, cub: u32) -> i64 {
    let n = x.len();
    let thr = &thr[..n];
    let mut acc = 0i64;
    for j in 0..n {
        let e = x[j]
            .wrapping_mul(rf)
            .wrapping_abs()
            .wrapping_sub(thr[j] << sub)
            .max(0) as i64;
        let e_sq = (((e * e) as u64 + (1u64 << (sq - 1))) >> sq) as i32 as i64;
        acc += (e_sq * e + (1i64 << (cub - 1))) >> cub;
    }
    acc
}

#[inline(always)]
fn cm_row_n(x: &[i32], thr: &[i32], rq: u32, cub: u32) -> i64 {
    let n = x.len();
    let thr = &thr[..n];
    let mut acc = 0i64;
    for j in 0..n {
        let xv = ((x[j] as i64 * rq as i64 + (1 << 27)) >> 28) as i32;
        let e = xv.wrapping_abs().wrapping_sub(thr[j]).max(0) as i64;
        let e_sq = (((e * e) as u64 + (1u64 << 29)) >> 30) as i32 as i64;
        acc += (e_sq * e + (1i64 << (cub - 1))) >> cub;
    }
    acc
}

/// Sum of |x|^3 over int16-range values.
#[inline(always)]
fn cubes0(x: &[i32]) -> u64 {
    let mut acc = 0u64;
    for &v in x {
        let a = v.unsigned_abs() as u16 as u32;
        acc += (a * a) as u64 * a as u64;
    }
    acc
}

/// libvmaf's rounded |x|^3 at scales 1..3 (the square is rounded with 1 << sq, not half).
#[inline(always)]
fn cubes_n(x: &[i32], sq: u32, add_cub: u64, shift_cub: u32) -> u64 {
    let mut acc = 0u64;
    for &v in x {
        let a = v.unsigned_abs() as u64;
        acc += ((((a * a) + (1u64 << sq)) >> sq) * a + add_cub) >> shift_cub;
    }
    acc
}

/// Pools the reference detail's CSF-weighted cubes into the scale's denominator.
fn den_finish(acc: [u64; 3], shift_csf: f64, rf: [f32; 2], area: usize, nw: f64) -> f32 {
    let noise = ((area as f64 * nw) as f32).powf(1.0 / 3.0);
    let mut total = 0.0f32;
    for (k, &a) in acc.iter().enumerate() {
        let r = if k == 2 { rf[1] } else { rf[0] };
        let csf = (a as f64 / shift_csf) * (r as f64).powf(3.0);
        total += (csf as f32).powf(1.0 / 3.0) + noise;
    }
    total
}

fn den_scale0(isa: Isa, rb: &Bands, sc: &Scale, nw: f64) -> f32 {
    let (w, h) = (sc.w, sc.h);
    let (left, right, top, bottom) = pool_region(w, h);
    let area = (bottom - top) * (right - left);
    let shift = den0_shift(area);
    let add = if shift > 0 { 1u64 << (shift - 1) } else { 0 };
    let mut acc = [0u64; 3];
    for i in top..bottom {
        for (k, band) in [&rb.h, &rb.v, &rb.d].iter().enumerate() {
            let inner = cubes0_k(isa, &band[i * w + left..i * w + right]);
            acc[k] += (inner + add) >> shift;
        }
    }
    den0_finish(acc, sc, nw)
}

/// The shift of each row's sum of cubes at scale 0, for a pooling region of `area` samples.
fn den0_shift(area: usize) -> u32 {
    ((area as f64).log2() - 20.0).ceil().max(0.0) as u32
}

fn den0_finish(acc: [u64; 3], sc: &Scale, nw: f64) -> f32 {
    let (left, right, top, bottom) = pool_region(sc.w, sc.h);
    let area = (bottom - top) * (right - left);
    let shift_csf = 2.0f64.powf((18 - den0_shift(area) as i32) as f64);
    den_finish(acc, shift_csf, sc.rf, area, nw)
}

fn den_scale_n(isa: Isa, rb: &Bands, sc: &Scale, s: usize, nw: f64) -> f32 {
    let (w, h) = (sc.w, sc.h);
    let (left, right, top, bottom) = pool_region(w, h);
    let (sq, shift_cub, shift_acc) = den_n_shifts(s, w, h);
    let add_cub = 1u64 << (shift_cub - 1);
    let add_acc = 1u64 << (shift_acc - 1);
    let mut acc = [0u64; 3];
    for i in top..bottom {
        for (k, band) in [&rb.h, &rb.v, &rb.d].iter().enumerate() {
            let inner = cubes_n_k(
                isa,
                &band[i * w + left..i * w + right],
                sq,
                add_cub,
                shift_cub,
            );
            acc[k] += (inner + add_acc) >> shift_acc;
        }
    }
    den_n_finish(acc, sc, s, nw)
}

/// Scales 1..3: the shifts of the denominator's cubes (square, cube) and of each row's sum.
fn den_n_shifts(s: usize, w: usize, h: usize) -> (u32, u32, u32) {
    let (left, right, top, bottom) = pool_region(w, h);
    // libvmaf rounds the square with 1 << shift rather than half of it.
    let sq: u32 = [31, 30, 31][s - 1];
    (sq, ceil_log2(right - left), ceil_log2(bottom - top))
}

fn den_n_finish(acc: [u64; 3], sc: &Scale, s: usize, nw: f64) -> f32 {
    let (left, right, top, bottom) = pool_region(sc.w, sc.h);
    let (_, shift_cub, shift_acc) = den_n_shifts(s, sc.w, sc.h);
    let conv: u32 = [32, 27, 23][s - 1];
    let e = conv.wrapping_sub(shift_acc).wrapping_sub(shift_cub);
    den_finish(
        acc,
        2.0f64.powf(e as f64),
        sc.rf,
        (bottom - top) * (right - left),
        nw,
    )
}

// ---------------------------------------------------------------------------------------
// For other backends

/// One scale's geometry and fixed-point constants as the CPU path uses them: what another
/// backend (lv-gpu's kernels) needs to reproduce the scale's integer steps bit for bit.
/// Regions are `[left, right, top, bottom)` in band samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdmScaleConsts {
    /// Size of the scale's input: the image, or the previous scale's approximation band.
    pub w_in: usize,
    pub h_in: usize,
    /// Size of the bands the scale's wavelet produces.
    pub w: usize,
    pub h: usize,
    /// Where decoupling and the CSF are computed: the pooling region plus the masking
    /// filter's taps.
    pub work: [usize; 4],
    /// Where the numerator and denominator are pooled.
    pub pool: [usize; 4],
    /// CSF weights (h, v, d) in fixed point: Q21, Q21, Q23 at scale 0 (signed values below
    /// 2^16), Q32 at scales 1..3.
    pub rf_fixed: [u32; 3],
    /// Cube shifts (h, v, d) of the masked pooling.
    pub cm_cube_shift: [u32; 3],
    /// Scales 1..3: the square and cube shifts of the denominator's per-sample cubes (0 at
    /// scale 0, whose cubes are exact).
    pub den_square_shift: u32,
    pub den_cube_shift: u32,
}

/// The integer ADM's configuration for one frame size, bit depth and option set, without the
/// CPU path's buffers: [`AdmPlan::scale`] gives each scale's constants, and the `*_from_row_sums`
/// functions and [`AdmPlan::scores`] finish a frame from integer per-row sums in the CPU path's
/// order, so that another backend (lv-gpu's kernels) can sum rows in any order and still give
/// [`IntegerAdm::compute`]'s scores exactly. AIM is not covered ([`IntegerAdmOptions::aim`]
/// must be off).
pub struct AdmPlan {
    cfg: Config,
    opts: IntegerAdmOptions,
}

impl AdmPlan {
    /// The same checks as [`IntegerAdm::new`].
    pub fn new(
        width: usize,
        height: usize,
        bpc: u32,
        opts: IntegerAdmOptions,
    ) -> Result<AdmPlan, AdmError> {
        Ok(AdmPlan {
            cfg: config(width, height, bpc, &opts)?,
            opts,
        })
    }

    pub fn width(&self) -> usize {
        self.cfg.w
    }

    pub fn height(&self) -> usize {
        self.cfg.h
    }

    pub fn bpc(&self) -> u32 {
        self.cfg.bpc
    }

    pub fn options(&self) -> &IntegerAdmOptions {
        &self.opts
    }

    /// cos(1 degree)^2 as libvmaf's float, in double: the decoupling's angle threshold.
    pub fn cos_1deg_sq(&self) -> f64 {
        self.cfg.cos_1deg_sq
    }

    /// Scale `s` (0..4).
    pub fn scale(&self, s: usize) -> AdmScaleConsts {
        let sc = &self.cfg.scales[s];
        let h_in = if s == 0 {
            self.cfg.h
        } else {
            self.cfg.scales[s - 1].h
        };
        let (l, r, t, b) = work_region(sc.w, sc.h);
        let (pl, pr, pt, pb) = pool_region(sc.w, sc.h);
        let (cub, _) = cm_shifts(s, sc.w, sc.h);
        let (sq, shift_cub) = if s == 0 {
            (0, 0)
        } else {
            let (sq, c, _) = den_n_shifts(s, sc.w, sc.h);
            (sq, c)
        };
        AdmScaleConsts {
            w_in: sc.w_in,
            h_in,
            w: sc.w,
            h: sc.h,
            work: [l, r, t, b],
            pool: [pl, pr, pt, pb],
            rf_fixed: if s == 0 {
                self.cfg.rf0.map(|v| v as u32)
            } else {
                sc.rf_q32
            },
            cm_cube_shift: cub,
            den_square_shift: sq,
            den_cube_shift: shift_cub,
        }
    }

    /// Scale `s`'s numerator from the masked cubes summed per pooled row (h, v, d; one entry
    /// per row of the pooling region, top to bottom).
    pub fn num_from_row_sums(&self, s: usize, rows: &[[i64; 3]]) -> f32 {
        let sc = &self.cfg.scales[s];
        let (_, _, top, bottom) = pool_region(sc.w, sc.h);
        assert_eq!(rows.len(), bottom - top, "one sum per pooled row");
        let (_, shift_inner) = cm_shifts(s, sc.w, sc.h);
        let add_inner = 1i64 << (shift_inner - 1);
        let mut acc = [0i64; 3];
        for inner in rows {
            for k in 0..3 {
                acc[k] += (inner[k] + add_inner) >> shift_inner;
            }
        }
        num_finish(s, sc.w, sc.h, acc, self.cfg.noise_weight)
    }

    /// Scale `s`'s denominator from the reference detail's cubes summed per pooled row
    /// (scale 0: |x|^3; scales 1..3: libvmaf's rounded cubes).
    pub fn den_from_row_sums(&self, s: usize, rows: &[[u64; 3]]) -> f32 {
        let sc = &self.cfg.scales[s];
        let (left, right, top, bottom) = pool_region(sc.w, sc.h);
        assert_eq!(rows.len(), bottom - top, "one sum per pooled row");
        let shift = if s == 0 {
            den0_shift((bottom - top) * (right - left))
        } else {
            den_n_shifts(s, sc.w, sc.h).2
        };
        let nw = self.cfg.noise_weight;
        let add = if shift > 0 { 1u64 << (shift - 1) } else { 0 };
        let mut acc = [0u64; 3];
        for inner in rows {
            for k in 0..3 {
                acc[k] += (inner[k] + add) >> shift;
            }
        }
        if s == 0 {
            den0_finish(acc, sc, nw)
        } else {
            den_n_finish(acc, sc, s, nw)
        }
    }

    /// The frame's scores from the per-scale numerators and denominators (AIM and adm3 0).
    pub fn scores(&self, num: [f32; 4], den: [f32; 4]) -> AdmScores {
        assert!(!self.opts.aim, "AdmPlan does not cover AIM");
        finish_scores(&self.cfg, num, den, 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// libvmaf's C transcribed directly (per-pixel loops, the reciprocal table, table-driven
    /// wavelet taps): the fast path must agree with it bit for bit. This version was checked
    /// against libvmaf on the oracle clips.
    mod reference {
        use super::super::*;
        use std::sync::OnceLock;

        pub struct Ref {
            w: usize,
            h: usize,
            egl: f64,
            cos_1deg_sq: f64,
            scales: Vec<Scale>,
            tmp_lo: Vec<i32>,
            tmp_hi: Vec<i32>,
            rb: Bands,
            db: Bands,
            ra_prev: Vec<i32>,
            da_prev: Vec<i32>,
            rest: [Vec<i32>; 3],
            flt_sum: Vec<i32>,
            ctr_sum: Vec<i32>,
            colsum: Vec<i32>,
            rf0: [i32; 3],
            nw: f64,
            aim: Option<(f64, f64)>,
            /// The additive detail, kept for AIM.
            add: [Vec<i32>; 3],
        }

        impl Ref {
            /// The geometry and CSF weights come from `IntegerAdm::new` (checked on their
            /// own against libvmaf's constants and the oracle).
            pub fn new(w: usize, h: usize, bpc: u32, opts: IntegerAdmOptions) -> Ref {
                let adm = IntegerAdm::new(w, h, bpc, opts).unwrap();
                let n = adm.cfg.scales[0].w * adm.cfg.scales[0].h;
                Ref {
                    w,
                    h,
                    egl: opts.enhn_gain_limit,
                    rf0: adm.cfg.rf0,
                    nw: opts.noise_weight,
                    aim: adm.cfg.aim,
                    add: [vec![0; n], vec![0; n], vec![0; n]],
                    cos_1deg_sq: adm.cfg.cos_1deg_sq,
                    scales: adm.cfg.scales,
                    tmp_lo: vec![0; w],
                    tmp_hi: vec![0; w],
                    rb: Bands::new(n),
                    db: Bands::new(n),
                    ra_prev: vec![0; n],
                    da_prev: vec![0; n],
                    rest: [vec![0; n], vec![0; n], vec![0; n]],
                    flt_sum: vec![0; n],
                    ctr_sum: vec![0; n],
                    colsum: vec![0; w.div_ceil(2)],
                }
            }
            /// Scores one frame pair (luma planes).
            ///
            /// Panics if a plane's size or bit depth differ from the ones given to `new`.
            pub fn compute(&mut self, reference: &Plane, distorted: &Plane) -> AdmScores {
                let mut num = 0.0f64;
                let mut den = 0.0f64;
                let mut scale = [0.0f64; 4];
                let mut nums = [0.0f32; 4];
                let mut dens = [0.0f32; 4];
                let mut aim_num = 0.0f64;
                for s in 0..4 {
                    let sc = &self.scales[s];
                    if s == 0 {
                        dwt_image(
                            reference,
                            sc,
                            &mut self.tmp_lo,
                            &mut self.tmp_hi,
                            &mut self.rb,
                        );
                        dwt_image(
                            distorted,
                            sc,
                            &mut self.tmp_lo,
                            &mut self.tmp_hi,
                            &mut self.db,
                        );
                    } else {
                        std::mem::swap(&mut self.rb.a, &mut self.ra_prev);
                        std::mem::swap(&mut self.db.a, &mut self.da_prev);
                        dwt_band(
                            &self.ra_prev,
                            s,
                            sc,
                            &mut self.tmp_lo,
                            &mut self.tmp_hi,
                            &mut self.rb,
                        );
                        dwt_band(
                            &self.da_prev,
                            s,
                            sc,
                            &mut self.tmp_lo,
                            &mut self.tmp_hi,
                            &mut self.db,
                        );
                    }
                    self.decouple_and_mask_filter(s);
                    let sc = &self.scales[s];
                    let den_s = if s == 0 {
                        den_scale0(&self.rb, sc, self.nw)
                    } else {
                        den_scale_n(&self.rb, sc, s, self.nw)
                    };
                    let num_s = self.masked_num(s);
                    if self.aim.is_some() {
                        aim_num += self.aim_num(s) as f64;
                    }
                    num += num_s as f64;
                    den += den_s as f64;
                    scale[s] = num_s as f64 / den_s as f64;
                    nums[s] = num_s;
                    dens[s] = den_s;
                }
                let limit = 1e-10 * (self.w * self.h) as f64 / (1920.0 * 1080.0);
                if num < limit {
                    num = 0.0;
                }
                if den < limit {
                    den = 0.0;
                }
                let (adm2, aim) = if den == 0.0 {
                    (1.0, 0.0)
                } else {
                    (num / den, aim_num / den)
                };
                let adm3 = match self.aim {
                    Some((wt, min)) => (adm2 * wt + (1.0 - aim) * (1.0 - wt)).max(min),
                    None => 0.0,
                };
                AdmScores {
                    adm2,
                    scale,
                    num: nums,
                    den: dens,
                    aim,
                    adm3,
                }
            }

            /// Splits the distorted detail into restored (kept in `rest`) and additive parts, and
            /// turns the additive part straight into the masking sums the contrast-masking stage
            /// reads (libvmaf's `adm_decouple` followed by `adm_csf`).
            fn decouple_and_mask_filter(&mut self, s: usize) {
                let sc = &self.scales[s];
                let (w, h) = (sc.w, sc.h);
                let (l, r, t, b) = work_region(w, h);
                let div = div_lookup();
                let egl = self.egl;
                let cos_sq = self.cos_1deg_sq;
                let rq = sc.rf_q32;
                let rf0 = self.rf0;
                let (rb, db) = (&self.rb, &self.db);
                let [rest_h, rest_v, rest_d] = &mut self.rest;
                let [add_h, add_v, add_d] = &mut self.add;
                for i in t..b {
                    let row = i * w;
                    for j in l..r {
                        let x = row + j;
                        let (oh, ov, od) = (rb.h[x], rb.v[x], rb.d[x]);
                        let (th, tv, td) = (db.h[x], db.v[x], db.d[x]);
                        let angle = angle_flag(oh, ov, th, tv, cos_sq);
                        let mut fsum = 0i32;
                        let mut csum = 0i32;
                        let mut one = |o: i32, tt: i32, theta: usize| -> (i32, i32) {
                            let (rst, add) = if s == 0 {
                                restore_s0(o, tt, angle, egl, div)
                            } else {
                                restore_sn(o, tt, angle, egl, div)
                            };
                            let (f, c) = if s == 0 {
                                mask_terms_s0(add, rf0[theta], theta)
                            } else {
                                mask_terms_sn(add, rq[theta])
                            };
                            fsum = fsum.wrapping_add(f);
                            csum = csum.wrapping_add(c);
                            (rst, add)
                        };
                        (rest_h[x], add_h[x]) = one(oh, th, 0);
                        (rest_v[x], add_v[x]) = one(ov, tv, 1);
                        (rest_d[x], add_d[x]) = one(od, td, 2);
                        self.flt_sum[x] = fsum;
                        self.ctr_sum[x] = csum;
                    }
                }
            }

            /// Contrast-masked, pooled restored detail (libvmaf's `adm_cm` / `i4_adm_cm`).
            fn masked_num(&mut self, s: usize) -> f32 {
                let sc = &self.scales[s];
                let (w, h) = (sc.w, sc.h);
                let (left, right, top, bottom) = pool_region(w, h);
                let shift_inner = ceil_log2(h);
                let add_inner = 1i64 << (shift_inner - 1);

                // Per-orientation constants: (rfactor, threshold shift, square shift, cube shift).
                let (cub_hv, cub_d) = if s == 0 {
                    let lw = (w as f64).log2();
                    ((lw - 4.0).ceil() as u32, (lw - 3.0).ceil() as u32)
                } else {
                    let c = ceil_log2(w);
                    (c, c)
                };
                let cub = [cub_hv, cub_hv, cub_d];
                let (sq, sub): ([u32; 3], [u32; 3]) = if s == 0 {
                    ([29, 29, 30], [10, 10, 12])
                } else {
                    ([30; 3], [0; 3])
                };

                let flt = &self.flt_sum;
                let ctr = &self.ctr_sum;
                let colsum = &mut self.colsum;
                let c_lo = left.saturating_sub(1);
                let c_hi = (right + 1).min(w);
                let mut acc = [0i64; 3];
                for i in top..bottom {
                    let up = if i == 0 { 1 } else { i - 1 };
                    let dn = if i == h - 1 { h - 1 } else { i + 1 };
                    let (ru, rc, rd) =
                        (&flt[up * w..][..w], &flt[i * w..][..w], &flt[dn * w..][..w]);
                    for j in c_lo..c_hi {
                        colsum[j] = ru[j].wrapping_add(rc[j]).wrapping_add(rd[j]);
                    }
                    let mut inner = [0i64; 3];
                    for j in left..right {
                        let jl = if j == 0 { 1 } else { j - 1 };
                        let jr = if j == w - 1 { w - 1 } else { j + 1 };
                        let x = i * w + j;
                        let thr = colsum[jl]
                            .wrapping_add(colsum[j])
                            .wrapping_add(colsum[jr])
                            .wrapping_sub(flt[x])
                            .wrapping_add(ctr[x]);
                        for (theta, band) in self.rest.iter().enumerate() {
                            let v = band[x];
                            let xv = if s == 0 {
                                v.wrapping_mul(self.rf0[theta])
                            } else {
                                ((v as i64 * sc.rf_q32[theta] as i64 + (1 << 27)) >> 28) as i32
                            };
                            let t = if s == 0 {
                                thr.wrapping_shl(sub[theta])
                            } else {
                                thr
                            };
                            let e = xv.wrapping_abs().wrapping_sub(t).max(0) as i64;
                            let e_sq =
                                ((e * e + (1i64 << (sq[theta] - 1))) >> sq[theta]) as i32 as i64;
                            inner[theta] += (e_sq * e + (1i64 << (cub[theta] - 1))) >> cub[theta];
                        }
                    }
                    for k in 0..3 {
                        acc[k] += (inner[k] + add_inner) >> shift_inner;
                    }
                }

                let area = ((bottom - top) * (right - left)) as f64 * self.nw;
                let noise = (area as f32).powf(1.0 / 3.0);
                let mut total = 0.0f32;
                for k in 0..3 {
                    let f = if s == 0 {
                        let pend: u32 = if k == 2 { 57 } else { 52 };
                        let e = pend.wrapping_sub(cub[k]).wrapping_sub(shift_inner);
                        (acc[k] as f64 / 2.0f64.powf(e as f64)) as f32
                    } else {
                        let base: u32 = [45, 39, 36][s - 1];
                        let e = base.wrapping_sub(cub[k]).wrapping_sub(shift_inner);
                        let fs = 2.0f64.powf(e as f64) as f32;
                        acc[k] as f32 / fs
                    };
                    total += f.powf(1.0 / 3.0) + noise;
                }
                total
            }
        }

        impl Ref {
            /// AIM's pooled numerator at scale `s`, written the way libvmaf's C does it: the
            /// CSF of the restored detail per orientation, then for every pooled sample the
            /// 3x3 neighbourhood of its |c| / 30 with |c| / 15 at the centre (reflected at
            /// the top / left edge, repeated at the bottom / right), then the additive
            /// detail's masked, rounded cubes; no noise floor.
            fn aim_num(&mut self, s: usize) -> f32 {
                let sc = &self.scales[s];
                let (w, h) = (sc.w, sc.h);
                let (l, r, t, b) = work_region(w, h);
                let mut csf = vec![vec![0i32; w * h]; 3];
                let mut flt = vec![vec![0i32; w * h]; 3];
                for theta in 0..3 {
                    for i in t..b {
                        for j in l..r {
                            let x = i * w + j;
                            let v = self.rest[theta][x];
                            if s == 0 {
                                let c = csf_s0(v, self.rf0[theta], theta);
                                csf[theta][x] = c;
                                flt[theta][x] = ((4369 * c.abs() + 2048) >> 12) as i16 as i32;
                            } else {
                                let (c, f) = csf_sn(v, sc.rf_q32[theta]);
                                csf[theta][x] = c;
                                flt[theta][x] = f;
                            }
                        }
                    }
                }
                let (left, right, top, bottom) = pool_region(w, h);
                let shift_inner = ceil_log2(h);
                let (cub_hv, cub_d) = if s == 0 {
                    let lw = (w as f64).log2();
                    ((lw - 4.0).ceil() as u32, (lw - 3.0).ceil() as u32)
                } else {
                    let c = ceil_log2(w);
                    (c, c)
                };
                let cub = [cub_hv, cub_hv, cub_d];
                let mut acc = [0i64; 3];
                for i in top..bottom {
                    let rows = [if i == 0 { 1 } else { i - 1 }, i, (i + 1).min(h - 1)];
                    let mut inner = [0i64; 3];
                    for j in left..right {
                        let cols = [if j == 0 { 1 } else { j - 1 }, j, (j + 1).min(w - 1)];
                        let mut thr = 0i32;
                        for theta in 0..3 {
                            let mut sum = 0i32;
                            for (a, &y) in rows.iter().enumerate() {
                                for (c, &xx) in cols.iter().enumerate() {
                                    let v = if a == 1 && c == 1 {
                                        let cv = csf[theta][y * w + xx];
                                        if s == 0 {
                                            centre_s0(cv)
                                        } else {
                                            csf_sn_centre(cv)
                                        }
                                    } else {
                                        flt[theta][y * w + xx]
                                    };
                                    sum = sum.wrapping_add(v);
                                }
                            }
                            thr = thr.wrapping_add(sum);
                        }
                        for theta in 0..3 {
                            let v = self.add[theta][i * w + j];
                            let (xv, t, sq) = if s == 0 {
                                let sub = if theta == 2 { 12 } else { 10 };
                                let sq = if theta == 2 { 30 } else { 29 };
                                (v.wrapping_mul(self.rf0[theta]), thr.wrapping_shl(sub), sq)
                            } else {
                                let xv =
                                    ((v as i64 * sc.rf_q32[theta] as i64 + (1 << 27)) >> 28) as i32;
                                (xv, thr, 30)
                            };
                            let e = xv.wrapping_abs().wrapping_sub(t).max(0) as i64;
                            let e_sq = ((e * e + (1i64 << (sq - 1))) >> sq) as i32 as i64;
                            inner[theta] += (e_sq * e + (1i64 << (cub[theta] - 1))) >> cub[theta];
                        }
                    }
                    for k in 0..3 {
                        acc[k] += (inner[k] + (1i64 << (shift_inner - 1))) >> shift_inner;
                    }
                }
                let mut total = 0.0f32;
                for k in 0..3 {
                    let f = if s == 0 {
                        let pend: u32 = if k == 2 { 57 } else { 52 };
                        let e = pend.wrapping_sub(cub[k]).wrapping_sub(shift_inner);
                        (acc[k] as f64 / 2.0f64.powf(e as f64)) as f32
                    } else {
                        let base: u32 = [45, 39, 36][s - 1];
                        let e = base.wrapping_sub(cub[k]).wrapping_sub(shift_inner);
                        acc[k] as f32 / 2.0f64.powf(e as f64) as f32
                    };
                    // The noise floor with weight 0 is powf(0, 1/3) = 0.
                    total += f.powf(1.0 / 3.0) + 0.0f32.powf(1.0 / 3.0);
                }
                total
            }
        }

        /// The centre term |c| / 15 at scales 1..3 (libvmaf's rounding constant wraps).
        fn csf_sn_centre(c: i32) -> i32 {
            let ac = c.wrapping_abs() as i64;
            ((286331153 * ac + (1u32 << 31) as i32 as i64) >> 32) as i32
        }

        fn div_lookup() -> &'static [i32] {
            static TABLE: OnceLock<Vec<i32>> = OnceLock::new();
            TABLE.get_or_init(|| {
                let mut t = vec![0i32; 65537];
                for i in 1..=32768i32 {
                    let r = (1i32 << 30) / i;
                    t[(32768 + i) as usize] = r;
                    t[(32768 - i) as usize] = -r;
                }
                t
            })
        }

        /// libvmaf's decision whether the distorted detail (th, tv) points within 1 degree of the
        /// reference's (oh, ov), evaluated with its float-then-double arithmetic.
        #[inline]
        fn angle_flag(oh: i32, ov: i32, th: i32, tv: i32, cos_sq: f64) -> bool {
            let (oh, ov, th, tv) = (oh as i64, ov as i64, th as i64, tv as i64);
            let ot = ((oh * th + ov * tv) as f32) as f64 / 4096.0;
            let om = ((oh * oh + ov * ov) as f32) as f64 / 4096.0;
            let tm = ((th * th + tv * tv) as f32) as f64 / 4096.0;
            ot >= 0.0 && ot * ot >= cos_sq * om * tm
        }

        /// Gain-limited restoration shared by both precisions: `rst` is the restored value,
        /// replaced by min/max(rst * egl, t) when the angles agree. Truncation toward zero as C.
        #[inline]
        fn limit_gain(rst: i32, k: i64, o: i32, t: i32, angle: bool, egl: f64) -> i32 {
            if !angle || k == 0 || o == 0 {
                return rst;
            }
            let g = rst as f64 * egl;
            let tf = t as f64;
            let v = if o > 0 {
                if g < tf {
                    g
                } else {
                    tf
                }
            } else if g > tf {
                g
            } else {
                tf
            };
            v as i32
        }

        /// Scale 0: returns (restored, additive) with libvmaf's int16 storage.
        #[inline]
        fn restore_s0(o: i32, t: i32, angle: bool, egl: f64, div: &[i32]) -> (i32, i32) {
            let k = if o == 0 {
                32768
            } else {
                ((div[(o + 32768) as usize] as i64 * t as i64 + 16384) >> 15) as i32
            }
            .clamp(0, 32768);
            let rst = ((k * o + 16384) >> 15) as i16 as i32;
            let rst = limit_gain(rst, k as i64, o, t, angle, egl) as i16 as i32;
            (rst, (t - rst) as i16 as i32)
        }

        /// Scales 1..3: 32-bit bands; the reciprocal of |o| >= 2^15 is looked up from its top 15
        /// bits with a matching extra shift.
        #[inline]
        fn restore_sn(o: i32, t: i32, angle: bool, egl: f64, div: &[i32]) -> (i32, i32) {
            let k: i64 = if o == 0 {
                32768
            } else {
                let abs = o.unsigned_abs();
                let (msb, shift) = if abs < 32768 {
                    (abs, 0u32)
                } else {
                    let sh = 17 - abs.leading_zeros();
                    ((abs + (1 << (sh - 1))) >> sh, sh)
                };
                let sign: i64 = if o < 0 { -1 } else { 1 };
                let round = (1u32 << (14 + shift)) as i32 as i64;
                ((div[(msb + 32768) as usize] as i64 * t as i64) * sign + round) >> (15 + shift)
            }
            .clamp(0, 32768);
            let rst = ((k * o as i64 + 16384) >> 15) as i32;
            let rst = limit_gain(rst, k, o, t, angle, egl);
            (rst, t.wrapping_sub(rst))
        }

        /// Scale 0 CSF of a detail value: (masking filter |c| / 30, centre term |c| / 15).
        #[inline]
        fn mask_terms_s0(a: i32, rf: i32, theta: usize) -> (i32, i32) {
            let c = csf_s0(a, rf, theta);
            let f = ((4369 * c.abs() + 2048) >> 12) as i16 as i32;
            (f, centre_s0(c))
        }

        /// Scale 0 CSF value, int16 as libvmaf stores it.
        fn csf_s0(a: i32, rf: i32, theta: usize) -> i32 {
            ((rf * a).wrapping_add(RF0_ROUND[theta]) >> RF0_SHIFT[theta]) as i16 as i32
        }

        /// The masking neighbourhood's centre term |c| / 15 at scale 0.
        fn centre_s0(c: i32) -> i32 {
            ((8738 * c.abs() + 2048) >> 12) as i16 as i32
        }

        /// Scales 1..3: CSF value and masking filter term (libvmaf's rounding constant
        /// 1 << 31 wraps in its int32).
        fn csf_sn(a: i32, rq: u32) -> (i32, i32) {
            let c = ((rq as i64 * a as i64 + (1 << 27)) >> 28) as i32;
            let ac = c.wrapping_abs() as i64;
            let f = ((143165577 * ac + (1u32 << 31) as i32 as i64) >> 32) as i32;
            (c, f)
        }

        /// Scales 1..3: libvmaf's rounding constant 1 << 31 is stored in an int32, so it
        /// subtracts 2^31 instead of adding it.
        #[inline]
        fn mask_terms_sn(a: i32, rq: u32) -> (i32, i32) {
            let c = ((rq as i64 * a as i64 + (1 << 27)) >> 28) as i32;
            let ac = c.wrapping_abs() as i64;
            let f = ((143165577 * ac - (1i64 << 31)) >> 32) as i32;
            let ctr = ((286331153 * ac - (1i64 << 31)) >> 32) as i32;
            (f, ctr)
        }

        /// Scale-0 wavelet of an image plane.
        fn dwt_image(p: &Plane, sc: &Scale, lo: &mut [i32], hi: &mut [i32], out: &mut Bands) {
            match p.samples {
                Samples::U8(d) => dwt_image_t(d, p.stride, p.bpc, sc, lo, hi, out),
                Samples::U16(d) => dwt_image_t(d, p.stride, p.bpc, sc, lo, hi, out),
            }
        }

        fn dwt_image_t<T: Copy + Into<i32>>(
            src: &[T],
            stride: usize,
            bpc: u32,
            sc: &Scale,
            lo: &mut [i32],
            hi: &mut [i32],
            out: &mut Bands,
        ) {
            let w = sc.w_in;
            let round = 1i32 << (bpc - 1);
            let centre = LO_SUM.wrapping_mul(round);
            for (i, rows) in sc.ind_y.iter().enumerate() {
                let r: [&[T]; 4] = rows.map(|y| &src[y * stride..y * stride + w]);
                for j in 0..w {
                    let s: [i32; 4] = [
                        r[0][j].into(),
                        r[1][j].into(),
                        r[2][j].into(),
                        r[3][j].into(),
                    ];
                    let mut l = 0i32;
                    let mut h = 0i32;
                    for k in 0..4 {
                        l = l.wrapping_add(LO[k].wrapping_mul(s[k]));
                        h = h.wrapping_add(HI[k].wrapping_mul(s[k]));
                    }
                    lo[j] = (l.wrapping_sub(centre).wrapping_add(round) >> bpc) as i16 as i32;
                    hi[j] = (h.wrapping_add(round) >> bpc) as i16 as i32;
                }
                let o = i * sc.w;
                for (j, c) in sc.ind_x.iter().enumerate() {
                    let f = |t: &[i32], fl: &[i32; 4]| -> i32 {
                        let acc =
                            fl[0] * t[c[0]] + fl[1] * t[c[1]] + fl[2] * t[c[2]] + fl[3] * t[c[3]];
                        ((acc + 32768) >> 16) as i16 as i32
                    };
                    out.a[o + j] = f(lo, &LO);
                    out.v[o + j] = f(lo, &HI);
                    out.h[o + j] = f(hi, &LO);
                    out.d[o + j] = f(hi, &HI);
                }
            }
        }

        /// Wavelet of the previous scale's approximation band (scales 1..3, 64-bit accumulation).
        fn dwt_band(
            src: &[i32],
            s: usize,
            sc: &Scale,
            lo: &mut [i32],
            hi: &mut [i32],
            out: &mut Bands,
        ) {
            let w = sc.w_in;
            let (add_v, sh_v) = [(0i64, 0u32), (32768, 16), (32768, 16)][s - 1];
            let (add_h, sh_h) = [(16384i64, 15u32), (32768, 16), (16384, 15)][s - 1];
            for (i, rows) in sc.ind_y.iter().enumerate() {
                let r: [&[i32]; 4] = rows.map(|y| &src[y * w..y * w + w]);
                for j in 0..w {
                    let mut l = 0i64;
                    let mut h = 0i64;
                    for k in 0..4 {
                        l += LO[k] as i64 * r[k][j] as i64;
                        h += HI[k] as i64 * r[k][j] as i64;
                    }
                    lo[j] = ((l + add_v) >> sh_v) as i32;
                    hi[j] = ((h + add_v) >> sh_v) as i32;
                }
                let o = i * sc.w;
                for (j, c) in sc.ind_x.iter().enumerate() {
                    let f = |t: &[i32], fl: &[i32; 4]| -> i32 {
                        let acc: i64 = (0..4).map(|k| fl[k] as i64 * t[c[k]] as i64).sum();
                        ((acc + add_h) >> sh_h) as i32
                    };
                    out.a[o + j] = f(lo, &LO);
                    out.v[o + j] = f(lo, &HI);
                    out.h[o + j] = f(hi, &LO);
                    out.d[o + j] = f(hi, &HI);
                }
            }
        }

        /// Pools the reference detail's CSF-weighted cubes into the scale's denominator.
        fn den_finish(acc: [u64; 3], shift_csf: f64, rf: [f32; 2], area: usize, nw: f64) -> f32 {
            let noise = ((area as f64 * nw) as f32).powf(1.0 / 3.0);
            let mut total = 0.0f32;
            for (k, &a) in acc.iter().enumerate() {
                let r = if k == 2 { rf[1] } else { rf[0] };
                let csf = (a as f64 / shift_csf) * (r as f64).powf(3.0);
                total += (csf as f32).powf(1.0 / 3.0) + noise;
            }
            total
        }

        fn den_scale0(rb: &Bands, sc: &Scale, nw: f64) -> f32 {
            let (w, h) = (sc.w, sc.h);
            let (left, right, top, bottom) = pool_region(w, h);
            let area = (bottom - top) * (right - left);
            let shift = ((area as f64).log2() - 20.0).ceil().max(0.0) as u32;
            let add = if shift > 0 { 1u64 << (shift - 1) } else { 0 };
            let mut acc = [0u64; 3];
            for i in top..bottom {
                let mut inner = [0u64; 3];
                for (k, band) in [&rb.h, &rb.v, &rb.d].iter().enumerate() {
                    for &x in &band[i * w + left..i * w + right] {
                        let a = x.unsigned_abs() as u16 as u64;
                        inner[k] += a * a * a;
                    }
                }
                for k in 0..3 {
                    acc[k] += (inner[k] + add) >> shift;
                }
            }
            let shift_csf = 2.0f64.powf((18 - shift as i32) as f64);
            den_finish(acc, shift_csf, sc.rf, area, nw)
        }

        fn den_scale_n(rb: &Bands, sc: &Scale, s: usize, nw: f64) -> f32 {
            let (w, h) = (sc.w, sc.h);
            let (left, right, top, bottom) = pool_region(w, h);
            // libvmaf rounds the square with 1 << shift rather than half of it.
            let sq: u32 = [31, 30, 31][s - 1];
            let conv: u32 = [32, 27, 23][s - 1];
            let shift_cub = ceil_log2(right - left);
            let add_cub = 1u64 << (shift_cub - 1);
            let shift_acc = ceil_log2(bottom - top);
            let add_acc = 1u64 << (shift_acc - 1);
            let mut acc = [0u64; 3];
            for i in top..bottom {
                let mut inner = [0u64; 3];
                for (k, band) in [&rb.h, &rb.v, &rb.d].iter().enumerate() {
                    for &x in &band[i * w + left..i * w + right] {
                        let a = x.unsigned_abs() as u64;
                        inner[k] += ((((a * a) + (1u64 << sq)) >> sq) * a + add_cub) >> shift_cub;
                    }
                }
                for k in 0..3 {
                    acc[k] += (inner[k] + add_acc) >> shift_acc;
                }
            }
            let e = conv.wrapping_sub(shift_acc).wrapping_sub(shift_cub);
            den_finish(
                acc,
                2.0f64.powf(e as f64),
                sc.rf,
                (bottom - top) * (right - left),
                nw,
            )
        }
    }

    /// Deterministic test pictures of several kinds, `bpc` bits, as u16.
    fn picture(w: usize, h: usize, bpc: u32, kind: u32, seed: u32) -> Vec<u16> {
        let max = (1u32 << bpc) - 1;
        let mut x = seed.wrapping_mul(2654435761).wrapping_add(12345);
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        (0..w * h)
            .map(|i| {
                let (c, r) = ((i % w) as u32, (i / w) as u32);
                let v = match kind {
                    // smooth gradient with mild noise
                    0 => (c * 7 + r * 3) % (max + 1) / 2 + rnd() % (max / 16 + 1),
                    // full-range noise
                    1 => rnd() % (max + 1),
                    // hard black / white blocks
                    2 => {
                        if ((c / 5) + (r / 3)) % 2 == 0 {
                            0
                        } else {
                            max
                        }
                    }
                    // stripes with noise
                    _ => ((c % 4) * max / 3).min(max) / 2 + rnd() % (max / 2 + 1),
                };
                v.min(max) as u16
            })
            .collect()
    }

    /// Distortions of a picture: noise, blur-like averaging, contrast boost (exercises the
    /// enhancement-gain limit), inversion.
    fn distorted(r: &[u16], w: usize, bpc: u32, kind: u32, seed: u32) -> Vec<u16> {
        let max = ((1u32 << bpc) - 1) as i64;
        let mut x = seed | 1;
        r.iter()
            .enumerate()
            .map(|(i, &v)| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let v = v as i64;
                let n = r[(i + 1) % r.len()] as i64;
                let below = r[(i + w) % r.len()] as i64;
                let out = match kind {
                    0 => v + (x % 61) as i64 - 30,
                    1 => (v + n + below + v) / 4,
                    2 => (v - max / 2) * 2 + max / 2,
                    _ => max - v,
                };
                out.clamp(0, max) as u16
            })
            .collect()
    }

    fn check_against_reference(w: usize, h: usize, bpc: u32, opts: IntegerAdmOptions) {
        let mut fast = IntegerAdm::new(w, h, bpc, opts).unwrap();
        let mut slow = reference::Ref::new(w, h, bpc, opts);
        // Without AIM the other scores are the same, and aim / adm3 stay 0.
        let mut no_aim =
            IntegerAdm::new(w, h, bpc, IntegerAdmOptions { aim: false, ..opts }).unwrap();
        // Every instruction set this CPU runs, down to the portable code.
        let best = Isa::detect();
        let levels: Vec<Isa> = [Isa::Portable, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .filter(|&l| match l {
                Isa::Portable => true,
                Isa::Avx2 => best != Isa::Portable,
                Isa::Avx512 => best == Isa::Avx512,
            })
            .collect();
        let mut others: Vec<IntegerAdm> = levels
            .iter()
            .map(|&l| {
                let mut a = IntegerAdm::new(w, h, bpc, opts).unwrap();
                a.cfg.isa = l;
                a
            })
            .collect();
        let mut some_aim = false;
        for kind in 0..4 {
            for dkind in 0..4 {
                let r = picture(w, h, bpc, kind, kind * 7 + 1);
                let d = distorted(&r, w, bpc, dkind, dkind + 3);
                let (r8, d8): (Vec<u8>, Vec<u8>);
                let (pr, pd) = if bpc == 8 {
                    r8 = r.iter().map(|&v| v as u8).collect();
                    d8 = d.iter().map(|&v| v as u8).collect();
                    (Plane::new_u8(&r8, w, h, w), Plane::new_u8(&d8, w, h, w))
                } else {
                    (
                        Plane::new_u16(&r, w, h, w, bpc),
                        Plane::new_u16(&d, w, h, w, bpc),
                    )
                };
                let want = slow.compute(&pr, &pd);
                let got = fast.compute(&pr, &pd);
                let what =
                    format!("{w}x{h} {bpc} bits, {opts:?}, picture {kind}, distortion {dkind}");
                assert_eq!(got, want, "{what}");
                some_aim |= want.aim > 0.0;
                if opts.aim {
                    assert!(want.adm3 >= opts.min_val, "{what}: {want:?}");
                }
                let plain = no_aim.compute(&pr, &pd);
                assert_eq!(
                    plain,
                    AdmScores {
                        aim: 0.0,
                        adm3: 0.0,
                        ..want
                    },
                    "{what}, without AIM"
                );
                for (l, o) in levels.iter().zip(others.iter_mut()) {
                    assert_eq!(o.compute(&pr, &pd), want, "{what}, {l:?}");
                }
            }
        }
        assert!(some_aim || !opts.aim, "AIM never left 0: {opts:?}");
    }

    /// The options of libvmaf's vmaf_v1.0.16 models (adm3 with a blended CSF).
    fn v1016() -> IntegerAdmOptions {
        IntegerAdmOptions {
            enhn_gain_limit: 1.0,
            csf_mode: CsfMode::BartenWatsonBlend,
            noise_weight: 0.02,
            dlm_weight: 0.7,
            min_val: 0.5,
            aim: true,
            ..Default::default()
        }
    }

    #[test]
    fn fast_path_matches_reference_transcription() {
        for (w, h) in [(33, 33), (34, 40), (47, 35), (64, 48), (101, 67)] {
            for bpc in [8, 10, 12] {
                for egl in [100.0, 1.0, 1.5] {
                    let opts = IntegerAdmOptions {
                        enhn_gain_limit: egl,
                        aim: true,
                        ..Default::default()
                    };
                    check_against_reference(w, h, bpc, opts);
                }
            }
        }
        // 16 bits overflows libvmaf's int32 sums; both paths must wrap the same way.
        let aim = IntegerAdmOptions {
            aim: true,
            ..Default::default()
        };
        check_against_reference(40, 36, 16, aim);
        check_against_reference(40, 36, 14, aim);
    }

    #[test]
    fn fast_path_matches_reference_transcription_with_options() {
        let cases = [
            v1016(),
            IntegerAdmOptions {
                csf_mode: CsfMode::BartenWatsonBlendMae,
                ref_display_height: 2160,
                norm_view_dist: 1.5,
                noise_weight: 0.0,
                aim: true,
                ..Default::default()
            },
            // Watson away from the default view: computed scale-0 weights.
            IntegerAdmOptions {
                norm_view_dist: 5.0,
                dlm_weight: 0.2,
                aim: true,
                ..Default::default()
            },
            IntegerAdmOptions {
                csf_mode: CsfMode::Barten,
                csf_scale: 0.01,
                csf_diag_scale: 0.005,
                enhn_gain_limit: 1.2,
                aim: true,
                ..Default::default()
            },
        ];
        for opts in cases {
            for (w, h) in [(33, 33), (47, 35), (101, 67)] {
                for bpc in [8, 10] {
                    check_against_reference(w, h, bpc, opts);
                }
            }
        }
    }

    #[test]
    fn default_csf_weights_match_libvmaf_constants() {
        // libvmaf hard-codes scale-0 fixed-point weights close to (not exactly) these floats.
        let rf = [
            1.0f32 / dwt_quant_step(0, 1, 3.0, 1080),
            1.0f32 / dwt_quant_step(0, 2, 3.0, 1080),
        ];
        assert_eq!((rf[0] as f64 * 2f64.powi(21)) as u32, 36451);
        assert_eq!((rf[1] as f64 * 2f64.powi(23)) as u32, 49414);
        let adm = IntegerAdm::new(64, 64, 8, IntegerAdmOptions::default()).unwrap();
        assert_eq!(adm.cfg.rf0, RF0);
        // Elsewhere, and with other CSFs, the scale-0 weights are the floats in fixed point.
        let blend = IntegerAdm::new(64, 64, 8, v1016()).unwrap();
        assert_eq!(blend.cfg.rf0, [24809, 24809, 36087]);
        assert_eq!(blend.cfg.scales[3].rf, [0.058621, 0.035901]);
    }

    #[test]
    fn is_send() {
        fn send<T: Send>() {}
        send::<IntegerAdm>();
        send::<crate::motion_int::IntegerMotion>();
    }

    #[test]
    fn tap_indices_mirror() {
        assert_eq!(
            tap_indices(5),
            vec![[1, 0, 1, 2], [1, 2, 3, 4], [3, 4, 4, 3]]
        );
        assert_eq!(tap_indices(6)[2], [3, 4, 5, 5]);
    }

    #[test]
    fn rejects_bad_config() {
        let o = IntegerAdmOptions::default();
        assert_eq!(
            IntegerAdm::new(32, 64, 8, o).err(),
            Some(AdmError::TooSmall(32, 64))
        );
        assert_eq!(
            IntegerAdm::new(64, 32, 8, o).err(),
            Some(AdmError::TooSmall(64, 32))
        );
        assert_eq!(
            IntegerAdm::new(64, 64, 17, o).err(),
            Some(AdmError::BitDepth(17))
        );
        let bad = IntegerAdmOptions {
            enhn_gain_limit: 0.5,
            ..o
        };
        assert_eq!(
            IntegerAdm::new(64, 64, 8, bad).err(),
            Some(AdmError::GainLimit(0.5))
        );
        for bad in [
            IntegerAdmOptions {
                norm_view_dist: 2.0,
                ..o
            },
            IntegerAdmOptions {
                norm_view_dist: 30.0,
                ..o
            },
            IntegerAdmOptions {
                ref_display_height: 720,
                ..o
            },
            IntegerAdmOptions {
                noise_weight: -1.0,
                ..o
            },
            IntegerAdmOptions {
                dlm_weight: 1.5,
                ..o
            },
            IntegerAdmOptions { min_val: 2.0, ..o },
            IntegerAdmOptions {
                csf_scale: 51.0,
                ..o
            },
            // No blended table for 1440 lines.
            IntegerAdmOptions {
                csf_mode: CsfMode::BartenWatsonBlend,
                ref_display_height: 1440,
                ..o
            },
        ] {
            assert!(
                matches!(IntegerAdm::new(64, 64, 8, bad), Err(AdmError::Option(_))),
                "{bad:?}"
            );
        }
        assert!(IntegerAdm::new(64, 64, 8, v1016()).is_ok());
    }

    #[test]
    fn plan_regions_cover_the_masking_taps() {
        // Other backends compute decoupling only over `work` and read the masking sums of
        // every pooled sample's 3x3 neighbourhood (edges folded inwards): all inside `work`.
        for (w, h) in [
            (33, 33),
            (34, 35),
            (47, 33),
            (101, 67),
            (320, 180),
            (1920, 1080),
        ] {
            let plan = AdmPlan::new(w, h, 8, IntegerAdmOptions::default()).unwrap();
            let (mut wi, mut hi) = (w, h);
            for s in 0..4 {
                let c = plan.scale(s);
                assert_eq!((c.w_in, c.h_in), (wi, hi), "{w}x{h} scale {s}");
                assert_eq!((c.w, c.h), (wi.div_ceil(2), hi.div_ceil(2)));
                let [l, r, t, b] = c.work;
                let [pl, pr, pt, pb] = c.pool;
                let fold =
                    |i: usize, n: usize| [if i == 0 { 1 } else { i - 1 }, (i + 1).min(n - 1)];
                for (lo, hi_, plo, phi, n) in [(l, r, pl, pr, c.w), (t, b, pt, pb, c.h)] {
                    assert!(plo < phi && phi <= n);
                    for i in [plo, phi - 1] {
                        for k in fold(i, n) {
                            assert!(
                                lo <= k && k < hi_,
                                "{w}x{h} scale {s}: {k} outside {lo}..{hi_}"
                            );
                        }
                    }
                }
                (wi, hi) = (c.w, c.h);
            }
        }
        let neg = IntegerAdmOptions {
            enhn_gain_limit: 1.0,
            ..Default::default()
        };
        let plan = AdmPlan::new(64, 48, 10, neg).unwrap();
        assert_eq!(plan.scale(0).rf_fixed, RF0.map(|v| v as u32));
        assert_eq!(plan.options().enhn_gain_limit, 1.0);
        assert!(matches!(
            AdmPlan::new(32, 48, 8, neg),
            Err(AdmError::TooSmall(32, 48))
        ));
    }

    fn pattern(w: usize, h: usize, seed: u32) -> Vec<u8> {
        let mut x = seed.wrapping_mul(2654435761).wrapping_add(1);
        (0..w * h)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let (c, r) = (i % w, i / w);
                ((c * 3 + r * 5) as u32 % 200 + (x % 40)) as u8
            })
            .collect()
    }

    #[test]
    fn odd_sizes_give_finite_scores() {
        for (w, h) in [(33, 33), (34, 35), (47, 33), (33, 71), (100, 37)] {
            let r = pattern(w, h, 1);
            let d = pattern(w, h, 2);
            let mut adm = IntegerAdm::new(w, h, 8, IntegerAdmOptions::default()).unwrap();
            let s = adm.compute(&Plane::new_u8(&r, w, h, w), &Plane::new_u8(&d, w, h, w));
            assert!(s.adm2.is_finite() && s.adm2 > 0.0, "{w}x{h}: {s:?}");
            assert!(s.scale.iter().all(|v| v.is_finite()), "{w}x{h}: {s:?}");
        }
    }

    #[test]
    fn identical_frames_score_about_one_and_depths_agree() {
        let (w, h) = (64, 48);
        let r = pattern(w, h, 7);
        let mut adm = IntegerAdm::new(w, h, 8, IntegerAdmOptions::default()).unwrap();
        let p = Plane::new_u8(&r, w, h, w);
        let s8 = adm.compute(&p, &p);
        assert!((s8.adm2 - 1.0).abs() < 0.01, "{s8:?}");
        // The same picture shifted to 10 bits goes through the same fixed-point pipeline.
        let r10: Vec<u16> = r.iter().map(|&v| (v as u16) << 2).collect();
        let mut adm10 = IntegerAdm::new(w, h, 10, IntegerAdmOptions::default()).unwrap();
        let p10 = Plane::new_u16(&r10, w, h, w, 10);
        assert_eq!(adm10.compute(&p10, &p10), s8);
    }

    #[test]
    fn strided_input_matches_packed() {
        let (w, h, stride) = (40, 36, 48);
        let r = pattern(w, h, 3);
        let d = pattern(w, h, 4);
        let pad = |v: &[u8]| {
            let mut o = vec![0u8; stride * h];
            for y in 0..h {
                o[y * stride..y * stride + w].copy_from_slice(&v[y * w..(y + 1) * w]);
            }
            o
        };
        let (rp, dp) = (pad(&r), pad(&d));
        let mut adm = IntegerAdm::new(w, h, 8, IntegerAdmOptions::default()).unwrap();
        let a = adm.compute(&Plane::new_u8(&r, w, h, w), &Plane::new_u8(&d, w, h, w));
        let b = adm.compute(
            &Plane::new_u8(&rp, w, h, stride),
            &Plane::new_u8(&dp, w, h, stride),
        );
        assert_eq!(a, b);
    }
}
