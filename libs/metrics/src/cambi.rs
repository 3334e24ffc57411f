//! CAMBI, the Contrast Aware Multiscale Banding Index (libvmaf's `cambi` feature, Tandon et
//! al., PCS 2021), reproduced bit for bit from libvmaf 3.x's `cambi.c`.
//!
//! CAMBI looks only at the luma of one picture (the distorted one; the reference too in
//! full-reference mode). Per frame:
//! 1. The picture is brought to 10 bits at the *encode* resolution (nearest-sample
//!    decimation when the encode was smaller than the picture), and a 2x2 mean removes
//!    dithering when the encode had fewer than 10 bits.
//! 2. A spatial mask keeps the pixels of flat regions: those whose 7x7 neighbourhood has
//!    more than a size-dependent number of pixels equal to their right and lower neighbours.
//! 3. At five scales (each half the previous; the first already halved with
//!    `high_res_speedup`), a 3x3 mode filter, then each masked pixel's *contrast value*:
//!    over the luma steps `d = 1..2^max_log_contrast` that are visible at its level (the
//!    BT.1886 or PQ threshold-versus-intensity test) and above the visibility threshold,
//!    the largest `w(d) * p0 * p / (p0 + p)`, where `p0` and `p` count the masked pixels of
//!    the window with its value and with the value `d` steps away.
//! 4. Each scale's values are pooled as the mean of the top `topk` share; the scales are
//!    weighted 16, 8, 4, 2, 1 and divided by the window's pixel count.
//!
//! Every step is integer except the contrast values (single precision, with libvmaf's
//! reciprocal table) and the pooling (double); the order of every floating-point operation
//! follows libvmaf's, including its quick-select, so the scores are identical.

use crate::isa::{multiversion, Isa};
use lv_image::plane::Plane;

/// libvmaf refuses encodes (and sources) smaller than this in both directions.
pub const MIN_WIDTH_HEIGHT: usize = 216;

const NUM_SCALES: usize = 5;
const SCALE_WEIGHTS: [f64; NUM_SCALES] = [16.0, 8.0, 4.0, 2.0, 1.0];
/// Suprathreshold contrast response: the weight of a step of `d + 1` luma levels.
const CONTRAST_WEIGHTS: [i32; 32] = [
    1, 2, 3, 4, 4, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9,
];
const MASK_FILTER_SIZE: usize = 7;
/// Size of libvmaf's reciprocal table: window areas (p0 + p <= window^2) must stay below it.
const RECIPROCAL_LUT_SIZE: usize = 4226;
/// 10-bit limited range, where libvmaf computes every luminance.
const FOOT: i32 = 64;
const HEAD: i32 = 940;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CambiError {
    #[error("cambi: {0}")]
    Invalid(String),
}

fn invalid<T>(msg: impl Into<String>) -> Result<T, CambiError> {
    Err(CambiError::Invalid(msg.into()))
}

/// Electro-optical transfer function used for the visibility thresholds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Eotf {
    #[default]
    Bt1886,
    Pq,
}

impl Eotf {
    pub fn name(self) -> &'static str {
        match self {
            Eotf::Bt1886 => "bt1886",
            Eotf::Pq => "pq",
        }
    }

    pub fn parse(s: &str) -> Option<Eotf> {
        match s {
            "bt1886" => Some(Eotf::Bt1886),
            "pq" => Some(Eotf::Pq),
            _ => None,
        }
    }

    /// Luminance (cd/m^2) of a normalised signal level.
    fn luminance(self, v: f64) -> f64 {
        match self {
            Eotf::Bt1886 => {
                const GAMMA: f64 = 2.4;
                const LW: f64 = 300.0;
                const LB: f64 = 0.01;
                let (w, b) = (LW.powf(1.0 / GAMMA), LB.powf(1.0 / GAMMA));
                let a = (w - b).powf(GAMMA);
                let off = b / (w - b);
                a * (v + off).max(0.0).powf(GAMMA)
            }
            Eotf::Pq => {
                const M1: f64 = 0.1593017578125;
                const M2: f64 = 78.84375;
                const C1: f64 = 0.8359375;
                const C2: f64 = 18.8515625;
                const C3: f64 = 18.6875;
                let p = v.powf(1.0 / M2);
                let num = (p - C1).max(0.0);
                let den = C2 - C3 * p;
                10000.0 * (num / den).powf(1.0 / M1)
            }
        }
    }
}

/// Luminance of a 10-bit limited-range luma sample (clipped to the nominal range).
fn sample_luminance(sample: i32, eotf: Eotf) -> f64 {
    let s = sample.clamp(FOOT, HEAD);
    eotf.luminance((s - FOOT) as f64 / (HEAD - FOOT) as f64)
}

/// libvmaf's CAMBI options. `None` sizes and bit depth mean "the input's".
#[derive(Clone, Debug, PartialEq)]
pub struct CambiOptions {
    /// Window size at 4K (libvmaf `window_size`, 15..=127, default 65); scaled with the
    /// encode's width + height.
    pub window_size: u16,
    /// Share of the highest contrast values pooled per scale (`topk`/`cambi_topk`, default 0.6).
    pub topk: f64,
    /// Visibility threshold, relative luminance step (`tvi_threshold`, default 0.019).
    pub tvi_threshold: f64,
    /// Luminance (cd/m^2) below which banding is taken as invisible (`cambi_vis_lum_threshold`).
    pub vis_lum_threshold: f64,
    /// Largest step considered: 2^n luma levels at 10 bits (`max_log_contrast`, 0..=5, default 2).
    pub max_log_contrast: u16,
    /// Encode resolution (`enc_width`, `enc_height`): the picture is decimated to it when larger.
    pub enc_size: Option<(usize, usize)>,
    /// Encode bit depth (`enc_bitdepth`); below 10 the anti-dithering filter runs.
    pub enc_bitdepth: Option<u32>,
    /// Source resolution for the reference in full-reference mode (`src_width`, `src_height`).
    pub src_size: Option<(usize, usize)>,
    /// Full-reference mode (`full_ref`): also scores the reference and reports the difference.
    pub full_ref: bool,
    pub eotf: Eotf,
    /// Compute from half resolution for encodes at least this tall-class (1080, 1440, 2160; 0 off).
    pub high_res_speedup: u32,
    /// Scores are clipped to this (`cambi_max_val`, default 1000).
    pub max_val: f64,
}

impl Default for CambiOptions {
    fn default() -> Self {
        CambiOptions {
            window_size: 65,
            topk: 0.6,
            tvi_threshold: 0.019,
            vis_lum_threshold: 0.0,
            max_log_contrast: 2,
            enc_size: None,
            enc_bitdepth: None,
            src_size: None,
            full_ref: false,
            eotf: Eotf::Bt1886,
            high_res_speedup: 0,
            max_val: 1000.0,
        }
    }
}

impl CambiOptions {
    /// Checks the ranges libvmaf's option table allows.
    pub fn validate(&self) -> Result<(), CambiError> {
        let range = |name: &str, v: f64, lo: f64, hi: f64| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                invalid(format!("{name} = {v} is outside {lo}..={hi}"))
            }
        };
        range("window_size", self.window_size as f64, 15.0, 127.0)?;
        range("topk", self.topk, 0.0001, 1.0)?;
        range("tvi_threshold", self.tvi_threshold, 0.0001, 1.0)?;
        range(
            "cambi_vis_lum_threshold",
            self.vis_lum_threshold,
            0.0,
            300.0,
        )?;
        range("max_log_contrast", self.max_log_contrast as f64, 0.0, 5.0)?;
        range("cambi_max_val", self.max_val, 0.0, 1000.0)?;
        range(
            "cambi_high_res_speedup",
            self.high_res_speedup as f64,
            0.0,
            2160.0,
        )?;
        if let Some((w, h)) = self.enc_size {
            range("enc_width", w as f64, 180.0, 7680.0)?;
            range("enc_height", h as f64, 150.0, 7680.0)?;
        }
        if let Some(bd) = self.enc_bitdepth {
            range("enc_bitdepth", bd as f64, 6.0, 16.0)?;
        }
        if let Some((w, h)) = self.src_size {
            range("src_width", w as f64, 320.0, 7680.0)?;
            range("src_height", h as f64, 200.0, 4320.0)?;
        }
        Ok(())
    }

    /// libvmaf's log-name suffix for the non-default options, in its order (option names
    /// sorted, each written as `_alias_value`): e.g. `_cmxv_17_ws_33`.
    pub fn log_suffix(&self) -> String {
        let d = CambiOptions::default();
        let mut parts: Vec<(&str, String)> = Vec::new();
        if self.eotf != d.eotf {
            // `eotf` and `cambi_eotf` are one setting here; libvmaf's newer name is used.
            parts.push(("cambi_eotf", format!("ceot_{}", self.eotf.name())));
        }
        if self.high_res_speedup != d.high_res_speedup {
            parts.push((
                "cambi_high_res_speedup",
                format!("hrs_{}", self.high_res_speedup),
            ));
        }
        if self.max_val != d.max_val {
            parts.push((
                "cambi_max_val",
                format!("cmxv_{}", crate::model::fmt_g(self.max_val)),
            ));
        }
        if self.topk != d.topk {
            parts.push((
                "cambi_topk",
                format!("ctpk_{}", crate::model::fmt_g(self.topk)),
            ));
        }
        if self.vis_lum_threshold != d.vis_lum_threshold {
            parts.push((
                "cambi_vis_lum_threshold",
                format!("vlt_{}", crate::model::fmt_g(self.vis_lum_threshold)),
            ));
        }
        if let Some(bd) = self.enc_bitdepth {
            parts.push(("enc_bitdepth", format!("encbd_{bd}")));
        }
        if let Some((w, h)) = self.enc_size {
            parts.push(("enc_height", format!("ench_{h}")));
            parts.push(("enc_width", format!("encw_{w}")));
        }
        if self.max_log_contrast != d.max_log_contrast {
            parts.push(("max_log_contrast", format!("mlc_{}", self.max_log_contrast)));
        }
        if let Some((w, h)) = self.src_size {
            parts.push(("src_height", format!("srch_{h}")));
            parts.push(("src_width", format!("srcw_{w}")));
        }
        if self.tvi_threshold != d.tvi_threshold {
            parts.push((
                "tvi_threshold",
                format!("tvit_{}", crate::model::fmt_g(self.tvi_threshold)),
            ));
        }
        if self.window_size != d.window_size {
            parts.push(("window_size", format!("ws_{}", self.window_size)));
        }
        parts.sort();
        parts.into_iter().map(|(_, s)| format!("_{s}")).collect()
    }
}

/// One frame's CAMBI scores.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CambiScores {
    /// Banding of the distorted picture (`cambi`).
    pub cambi: f64,
    /// Full-reference mode: banding of the reference (`cambi_source`).
    pub source: Option<f64>,
    /// Full-reference mode: banding added by the encode, max(0, cambi - source)
    /// (`cambi_full_reference`).
    pub full_reference: Option<f64>,
}

/// Geometry and thresholds of one scored picture (the encode, or the source).
#[derive(Clone, Copy, Debug)]
struct Target {
    width: usize,
    height: usize,
    window: usize,
}

/// CAMBI for one input size and bit depth, with its buffers.
pub struct Cambi {
    in_w: usize,
    in_h: usize,
    bpc: u32,
    opts: CambiOptions,
    enc: Target,
    src: Target,
    enc_bitdepth: u32,
    speedup: bool,
    num_diffs: usize,
    /// Highest adjusted level (`value + num_diffs`) at which a step of `d + 1` is visible.
    tvi_for_diff: Vec<i32>,
    vlt_luma: i32,
    /// Levels that can change a contrast value: `[band_base, band_base + band_size)`.
    band_base: i32,
    band_size: usize,
    reciprocal: Vec<f32>,
    /// 10-bit picture, then the mode-filtered, decimated scales, in place (stride `stride`).
    image: Vec<u16>,
    mask: Vec<u16>,
    stride: usize,
    c_values: Vec<f32>,
    histograms: Vec<u16>,
    row_buf: Vec<u16>,
    col_sums: Vec<u16>,
    flat_rows: Vec<u8>,
    padded_sums: Vec<u16>,
    /// Per column, the band of the pixel leaving and of the one entering the window.
    events: Vec<i32>,
    isa: Isa,
}

/// libvmaf's `adjust_window_size`: the 4K window scaled by (w + h) / 6000, halved with the
/// speed-up, made odd.
fn adjust_window(window: u16, w: usize, h: usize, speedup: bool) -> usize {
    let mut ws = ((window as usize * (w + h)) / 375) >> 4;
    if speedup {
        ws = (ws + 1) >> 1;
    }
    ws | 1
}

/// The spatial mask's threshold: how many of the 7x7 neighbours must be flat.
fn mask_index(w: usize, h: usize) -> u32 {
    let shifted = ((w >> 6) * (h >> 6)) as u32;
    let ceil_log2 = if shifted == 0 {
        0
    } else {
        32 - (shifted - 1).leading_zeros() as i32
    };
    let f = MASK_FILTER_SIZE as i32;
    ((f * f + 3 * (ceil_log2 - 11) - 1) >> 1) as u16 as u32
}

/// Is a step of `diff` levels above `sample` visible (the luminance step exceeds the
/// threshold share of the level's luminance)?
fn tvi_condition(sample: i32, diff: i32, tvi: f64, eotf: Eotf) -> bool {
    let mean = sample_luminance(sample, eotf);
    let stepped = sample_luminance(sample + diff, eotf);
    stepped - mean > tvi * mean
}

#[derive(PartialEq)]
enum Bisect {
    TooSmall,
    Correct,
    TooBig,
}

fn tvi_bisect(sample: i32, diff: i32, tvi: f64, eotf: Eotf) -> Bisect {
    if !tvi_condition(sample, diff, tvi, eotf) {
        Bisect::TooBig
    } else if tvi_condition(sample + 1, diff, tvi, eotf) {
        Bisect::TooSmall
    } else {
        Bisect::Correct
    }
}

/// The highest 10-bit level at which a step of `diff` is still visible (libvmaf's bisection,
/// including its answers at the range ends).
fn tvi_for_diff(diff: i32, tvi: f64, eotf: Eotf) -> i32 {
    let mut foot = FOOT;
    let mut head = HEAD - diff - 1;
    match tvi_bisect(foot, diff, tvi, eotf) {
        Bisect::TooBig => return 0,
        Bisect::Correct => return foot,
        Bisect::TooSmall => {}
    }
    match tvi_bisect(head, diff, tvi, eotf) {
        Bisect::TooSmall => return (1 << 10) - 1,
        Bisect::Correct => return head,
        Bisect::TooBig => {}
    }
    // libvmaf bisects without a bound; a monotone EOTF ends it in ~10 steps.
    for _ in 0..64 {
        let mid = foot + (head - foot) / 2;
        match tvi_bisect(mid, diff, tvi, eotf) {
            Bisect::TooBig => head = mid,
            Bisect::TooSmall => foot = mid,
            Bisect::Correct => return mid,
        }
    }
    foot + (head - foot) / 2
}

/// The smallest 10-bit level whose luminance reaches `threshold` (0 when the foot does).
fn vlt_luma(threshold: f64, eotf: Eotf) -> Result<i32, CambiError> {
    let mut sample = FOOT;
    while sample_luminance(sample, eotf) < threshold {
        sample += 1;
        if sample > HEAD {
            return invalid(format!(
                "cambi_vis_lum_threshold {threshold} is above the display's peak luminance"
            ));
        }
    }
    Ok(if sample == FOOT { 0 } else { sample })
}

/// libvmaf's table of 1/i in single precision: the double 1/i printed with 9 significant
/// digits and read back as a float (which differs from 1.0f / i for 42 entries).
fn reciprocal_table() -> Vec<f32> {
    (0..RECIPROCAL_LUT_SIZE)
        .map(|i| {
            if i == 0 {
                0.0
            } else {
                format!("{:.8e}", 1.0 / i as f64).parse::<f32>().unwrap()
            }
        })
        .collect()
}

/// Nearest-sample resize with libvmaf's single-precision stepping (a copy at equal size).
fn resample_into(
    src: &Plane,
    out: &mut [u16],
    stride: usize,
    out_w: usize,
    out_h: usize,
    convert: impl Fn(u16) -> u16,
) {
    let mut row = vec![0u16; src.width];
    if src.width == out_w && src.height == out_h {
        for y in 0..out_h {
            src.row_u16(y, &mut row);
            for (o, &v) in out[y * stride..y * stride + out_w].iter_mut().zip(&row) {
                *o = convert(v);
            }
        }
        return;
    }
    let ratio_x = src.width as f32 / out_w as f32;
    let ratio_y = src.height as f32 / out_h as f32;
    // C computes `ratio / 2 - 0.5` in double and stores it in a float.
    let start_x = (ratio_x / 2.0) as f64 - 0.5;
    let start_y = (ratio_y / 2.0) as f64 - 0.5;
    let (start_x, start_y) = (start_x as f32, start_y as f32);
    let mut y = start_y;
    let mut cols = Vec::with_capacity(out_w);
    let mut x = start_x;
    for _ in 0..out_w {
        cols.push((x as f64 + 0.5) as i64 as usize);
        x += ratio_x;
    }
    for i in 0..out_h {
        let ori_y = (y as f64 + 0.5) as i64 as usize;
        src.row_u16(ori_y, &mut row);
        for (o, &c) in out[i * stride..i * stride + out_w].iter_mut().zip(&cols) {
            *o = convert(row[c]);
        }
        y += ratio_y;
    }
}

impl Cambi {
    pub fn new(
        width: usize,
        height: usize,
        bpc: u32,
        opts: CambiOptions,
    ) -> Result<Self, CambiError> {
        opts.validate()?;
        if !(8..=16).contains(&bpc) {
            return invalid(format!("unsupported bit depth {bpc}"));
        }
        let enc_bitdepth = opts.enc_bitdepth.unwrap_or(bpc);
        let (mut enc_w, mut enc_h) = opts.enc_size.unwrap_or((width, height));
        let (src_w, src_h) = opts.src_size.unwrap_or((width, height));
        // A downscaled encode is measured at the picture's size, not upscaled back.
        let clamped = enc_h > height || enc_w > width;
        if clamped {
            (enc_w, enc_h) = (width, height);
        }
        if enc_w < MIN_WIDTH_HEIGHT && enc_h < MIN_WIDTH_HEIGHT {
            return invalid(format!(
                "the encode is {enc_w}x{enc_h}{}; CAMBI needs {MIN_WIDTH_HEIGHT} pixels in at least one direction",
                if clamped {
                    " (the picture's size: an encode size larger than the picture is measured at the picture's)"
                } else {
                    ""
                }
            ));
        }
        if src_w < MIN_WIDTH_HEIGHT && src_h < MIN_WIDTH_HEIGHT {
            return invalid(format!(
                "the source is {src_w}x{src_h}; CAMBI needs {MIN_WIDTH_HEIGHT} pixels in at least one direction"
            ));
        }
        if (src_w > enc_w && src_h < enc_h) || (src_w < enc_w && src_h > enc_h) {
            return invalid(format!(
                "source {src_w}x{src_h} and encode {enc_w}x{enc_h} differ in aspect direction"
            ));
        }
        let threshold = match opts.high_res_speedup {
            1080 => Some(1920 * 1080),
            1440 => Some(2560 * 1440),
            2160 => Some(3840 * 2160),
            _ => None,
        };
        let speedup = threshold.is_some_and(|t| enc_w * enc_h >= t);
        let num_diffs = 1usize << opts.max_log_contrast;
        let tvi: Vec<i32> = (0..num_diffs)
            .map(|d| tvi_for_diff(d as i32 + 1, opts.tvi_threshold, opts.eotf) + num_diffs as i32)
            .collect();
        let vlt = vlt_luma(opts.vis_lum_threshold, opts.eotf)?;
        let enc = Target {
            width: enc_w,
            height: enc_h,
            window: adjust_window(opts.window_size, enc_w, enc_h, speedup),
        };
        let src = Target {
            width: src_w,
            height: src_h,
            window: adjust_window(opts.window_size, src_w, src_h, speedup),
        };
        let max_window = enc.window.max(src.window);
        if max_window * max_window >= RECIPROCAL_LUT_SIZE {
            return invalid(format!(
                "the window ({max_window} pixels at this size) is too large; lower window_size"
            ));
        }
        for t in std::iter::once(enc).chain(opts.full_ref.then_some(src)) {
            // libvmaf reads outside the picture when a scale is thinner than half the window.
            let pad = t.window / 2;
            let (mut w, mut h) = (t.width, t.height);
            for scale in 0..NUM_SCALES {
                if scale > 0 || speedup {
                    (w, h) = (w.div_ceil(2), h.div_ceil(2));
                }
                if w <= pad || h <= pad {
                    return invalid(format!(
                        "{}x{} is too narrow for CAMBI's {}-pixel window at its coarsest scale",
                        t.width, t.height, t.window
                    ));
                }
            }
        }
        let band_base = (vlt - 3 * num_diffs as i32 + 1).max(0);
        let band_size = (tvi[num_diffs - 1] + 1 - band_base).max(0) as usize;
        let (alloc_w, alloc_h) = if opts.full_ref {
            (enc_w.max(src_w), enc_h.max(src_h))
        } else {
            (enc_w, enc_h)
        };
        Ok(Cambi {
            in_w: width,
            in_h: height,
            bpc,
            enc,
            src,
            enc_bitdepth,
            speedup,
            num_diffs,
            tvi_for_diff: tvi,
            vlt_luma: vlt,
            band_base,
            band_size,
            reciprocal: reciprocal_table(),
            image: vec![0; alloc_w * alloc_h],
            mask: vec![0; alloc_w * alloc_h],
            stride: alloc_w,
            c_values: vec![0.0; alloc_w * alloc_h],
            histograms: vec![0; alloc_w * band_size],
            row_buf: vec![0; 3 * alloc_w],
            col_sums: vec![0; alloc_w],
            flat_rows: vec![0; (MASK_FILTER_SIZE + 1) * alloc_w],
            padded_sums: vec![0; alloc_w + MASK_FILTER_SIZE],
            events: vec![0; 2 * alloc_w],
            isa: Isa::detect(),
            opts,
        })
    }

    pub fn options(&self) -> &CambiOptions {
        &self.opts
    }

    /// Scores one frame: the distorted picture's banding, and in full-reference mode the
    /// reference's and the difference.
    ///
    /// Panics if a plane's size or bit depth differ from the ones given to `new`.
    pub fn compute(&mut self, reference: &Plane, distorted: &Plane) -> CambiScores {
        let dist = self.score(distorted, self.enc);
        let max = self.opts.max_val;
        if !self.opts.full_ref {
            return CambiScores {
                cambi: dist.min(max),
                source: None,
                full_reference: None,
            };
        }
        let src = self.score(reference, self.src);
        CambiScores {
            cambi: dist.min(max),
            source: Some(src.min(max)),
            full_reference: Some((dist - src).max(0.0).min(max)),
        }
    }

    fn score(&mut self, pic: &Plane, t: Target) -> f64 {
        assert!(
            pic.width == self.in_w && pic.height == self.in_h && pic.bpc == self.bpc,
            "cambi: plane is {}x{} at {} bits, expected {}x{} at {} bits",
            pic.width,
            pic.height,
            pic.bpc,
            self.in_w,
            self.in_h,
            self.bpc
        );
        self.preprocess(pic, t.width, t.height);
        scales(self.isa, self, t)
    }

    /// The picture at 10 bits and the target size into `image`, de-dithered for shallow encodes.
    fn preprocess(&mut self, pic: &Plane, w: usize, h: usize) {
        let bpc = pic.bpc;
        let stride = self.stride;
        // Out-of-range samples (libvmaf rejects the picture) are clamped to the bit depth.
        let max = ((1u32 << bpc) - 1) as u16;
        if bpc >= 10 {
            let shift = bpc - 10;
            let round = if shift == 0 { 0 } else { 1u32 << (shift - 1) };
            resample_into(pic, &mut self.image, stride, w, h, |v| {
                ((v.min(max) as u32 + round) >> shift) as u16
            });
        } else {
            let shift = 10 - bpc;
            resample_into(pic, &mut self.image, stride, w, h, |v| v.min(max) << shift);
        }
    }

    /// Marks the pixels whose 7x7 neighbourhood (zero outside the picture) holds more than
    /// `mask_index` pixels equal to both their right and lower neighbours (the picture's
    /// last column and row count as equal).
    #[inline(always)]
    fn spatial_mask(&mut self, w: usize, h: usize) {
        let stride = self.stride;
        let threshold = mask_index(w, h);
        let pad = MASK_FILTER_SIZE / 2;
        let ring = 2 * pad + 2;
        let img = &self.image;
        let flats = &mut self.flat_rows[..ring * w];
        // Row r's flags live in slot r % ring: the rows leaving and entering the window are
        // 2 * pad + 1 apart, so both are there when the window moves.
        let flat_row = |flats: &mut [u8], r: usize| {
            let row = &img[r * stride..r * stride + w];
            let out = &mut flats[(r % ring) * w..(r % ring + 1) * w];
            if r + 1 < h {
                let next = &img[(r + 1) * stride..(r + 1) * stride + w];
                for c in 0..w - 1 {
                    out[c] = ((row[c] == row[c + 1]) & (row[c] == next[c])) as u8;
                }
                out[w - 1] = (row[w - 1] == next[w - 1]) as u8;
            } else {
                for c in 0..w - 1 {
                    out[c] = (row[c] == row[c + 1]) as u8;
                }
                out[w - 1] = 1;
            }
        };
        // Column sums of the flags over the rows [r - pad, r + pad], slid down the picture.
        let sums = &mut self.col_sums[..w];
        sums.fill(0);
        let padded = &mut self.padded_sums[..w + 2 * pad];
        padded.fill(0);
        let add = |sums: &mut [u16], flats: &[u8], r: usize, sign: bool| {
            let f = &flats[(r % ring) * w..(r % ring + 1) * w];
            if sign {
                sums.iter_mut().zip(f).for_each(|(s, &x)| *s += x as u16);
            } else {
                sums.iter_mut().zip(f).for_each(|(s, &x)| *s -= x as u16);
            }
        };
        for r in 0..pad.min(h) {
            flat_row(flats, r);
            add(sums, flats, r, true);
        }
        for r in 0..h {
            if r + pad < h {
                flat_row(flats, r + pad);
                add(sums, flats, r + pad, true);
            }
            if r > pad {
                add(sums, flats, r - pad - 1, false);
            }
            // The 7-wide horizontal sum as seven shifted adds over the zero-padded sums.
            padded[pad..pad + w].copy_from_slice(sums);
            let out = &mut self.mask[r * stride..r * stride + w];
            out.copy_from_slice(&padded[..w]);
            for k in 1..MASK_FILTER_SIZE {
                out.iter_mut()
                    .zip(&padded[k..k + w])
                    .for_each(|(o, &v)| *o += v);
            }
            out.iter_mut()
                .for_each(|o| *o = (*o as u32 > threshold) as u16);
        }
    }

    /// The contrast value of every pixel of the current scale, sweeping the window's
    /// per-column histograms down the picture the way libvmaf does (the same rows added and
    /// removed in the same order, which matters only when the picture is less than two
    /// windows tall).
    #[inline(always)]
    fn c_values(&mut self, w: usize, h: usize, window: usize) {
        let pad = window / 2;
        let stride = self.stride;
        let (base, size) = (self.band_base, self.band_size);
        let hist = &mut self.histograms[..w * size];
        hist.fill(0);
        let c_values = &mut self.c_values[..w * h];
        c_values.fill(0.0);
        let image = &self.image;
        let mask = &self.mask;
        // Per column, the histogram row of row `r`'s pixel if it is masked and in the band,
        // else -1 (branch-free, so that it vectorises).
        let bands_of = |r: Option<usize>, out: &mut [i32]| match r {
            None => out.fill(-1),
            Some(r) => {
                let img = &image[r * stride..r * stride + w];
                let m = &mask[r * stride..r * stride + w];
                for ((o, &v), &mk) in out.iter_mut().zip(img).zip(m) {
                    let band = v as i32 - base;
                    *o = if (mk != 0) & ((band as u32) < size as u32) {
                        band
                    } else {
                        -1
                    };
                }
            }
        };
        let (leaving, entering) = self.events.split_at_mut(self.stride);
        let (leaving, entering) = (&mut leaving[..w], &mut entering[..w]);
        // Moves the window: row `leave`'s pixels out of, row `enter`'s into the histograms of
        // the columns whose window holds them. A pixel leaving and one entering a column with
        // the same value cancel (libvmaf skips them too); the counts end the same whatever
        // the order of the updates.
        let mut slide = |hist: &mut [u16], leave: Option<usize>, enter: Option<usize>| {
            bands_of(leave, leaving);
            bands_of(enter, entering);
            for (l, e) in leaving.iter_mut().zip(entering.iter_mut()) {
                let same = *l == *e;
                *l = if same { -1 } else { *l };
                *e = if same { -1 } else { *e };
            }
            add_runs(hist, leaving, w, pad, false);
            add_runs(hist, entering, w, pad, true);
        };
        let ctx = CValueCtx {
            num_diffs: self.num_diffs,
            tvi: &self.tvi_for_diff,
            vlt: self.vlt_luma,
            base,
            size,
            recip: &self.reciprocal,
        };
        for r in 0..pad {
            slide(hist, None, Some(r));
        }
        for i in 0..=pad {
            if i + pad < h {
                slide(hist, None, Some(i + pad));
            }
            ctx.row(hist, image, mask, stride, i, w, c_values);
        }
        for i in pad + 1..h.saturating_sub(pad) {
            slide(hist, Some(i - pad - 1), Some(i + pad));
            ctx.row(hist, image, mask, stride, i, w, c_values);
        }
        for i in h - pad..h {
            if i > pad {
                slide(hist, Some(i - pad - 1), None);
            }
            ctx.row(hist, image, mask, stride, i, w, c_values);
        }
    }
}

multiversion! {
    /// Everything after the picture is at 10 bits and the target size: the integer work
    /// vectorises, so it is compiled for AVX2 and AVX-512 too (the same operations in the
    /// same order on every path, so the scores are identical).
    fn scales(c: &mut Cambi, t: Target) -> f64 = scales_impl;
}

#[inline(always)]
fn scales_impl(c: &mut Cambi, t: Target) -> f64 {
    if c.enc_bitdepth < 10 {
        anti_dither(&mut c.image, c.stride, t.width, t.height, &mut c.row_buf);
    }
    c.spatial_mask(t.width, t.height);
    let (mut w, mut h) = (t.width, t.height);
    let mut total = 0.0f64;
    for (scale, weight) in SCALE_WEIGHTS.iter().enumerate() {
        if scale > 0 || c.speedup {
            (w, h) = (w.div_ceil(2), h.div_ceil(2));
            decimate(&mut c.image, c.stride, w, h);
            decimate(&mut c.mask, c.stride, w, h);
        }
        filter_mode(&mut c.image, c.stride, w, h, &mut c.row_buf);
        c.c_values(w, h, t.window);
        total += spatial_pooling(&mut c.c_values[..w * h], c.opts.topk) * weight;
    }
    let odd = 2 * (t.window / 2) + 1;
    total / (odd * odd) as f64
}

/// Adds (or removes) the pixels of one row, given as the histogram row of each column
/// (-1: none), to the windows of the columns within `pad` of them. A run of columns with the
/// same band adds a trapezoid (each column counts the run's pixels within its window) in
/// one pass over the run's reach instead of one window-wide pass per pixel: flat regions,
/// where CAMBI looks, are long runs.
#[inline(always)]
fn add_runs(hist: &mut [u16], bands: &[i32], w: usize, pad: usize, add: bool) {
    const SKIP: usize = 32;
    let mut x = 0;
    while x < w {
        // Most columns have no event: skip them a block at a time (all negative <=> the
        // bitwise and of the block is negative).
        if x + SKIP <= w && bands[x..x + SKIP].iter().fold(-1i32, |a, &b| a & b) < 0 {
            x += SKIP;
            continue;
        }
        let b = bands[x];
        if b < 0 {
            x += 1;
            continue;
        }
        let x0 = x;
        while x < w && bands[x] == b {
            x += 1;
        }
        let x1 = x - 1;
        let lo = x0.saturating_sub(pad);
        let hi = (x1 + pad).min(w - 1);
        let row = &mut hist[b as usize * w + lo..=b as usize * w + hi];
        let (x0, x1, pad, lo) = (x0 as i32, x1 as i32, pad as i32, lo as i32);
        if add {
            for (k, c) in row.iter_mut().enumerate() {
                let j = lo + k as i32;
                let n = x1.min(j + pad) - x0.max(j - pad) + 1;
                *c = c.wrapping_add(n as u16);
            }
        } else {
            for (k, c) in row.iter_mut().enumerate() {
                let j = lo + k as i32;
                let n = x1.min(j + pad) - x0.max(j - pad) + 1;
                *c = c.wrapping_sub(n as u16);
            }
        }
    }
}

/// What the contrast value of a pixel depends on besides the histograms.
struct CValueCtx<'a> {
    num_diffs: usize,
    tvi: &'a [i32],
    vlt: i32,
    base: i32,
    size: usize,
    recip: &'a [f32],
}

impl CValueCtx<'_> {
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn row(
        &self,
        hist: &[u16],
        image: &[u16],
        mask: &[u16],
        stride: usize,
        r: usize,
        w: usize,
        out: &mut [f32],
    ) {
        let nd = self.num_diffs as i32;
        for col in 0..w {
            if mask[r * stride + col] == 0 {
                continue;
            }
            let raw = image[r * stride + col] as i32;
            let band = raw - self.base;
            if band < 0 || band as usize >= self.size {
                out[r * w + col] = 0.0;
                continue;
            }
            let value = raw + nd;
            // Steps past the band are never visible (see `new`); 0 keeps a bad table harmless.
            let at = |b: i32| {
                if b < 0 || b as usize >= self.size {
                    0
                } else {
                    hist[b as usize * w + col] as i32
                }
            };
            let p0 = at(band);
            let mut c = 0.0f32;
            for (d, (&tvi, &weight)) in self.tvi.iter().zip(&CONTRAST_WEIGHTS).enumerate() {
                let step = d as i32 + 1;
                if value <= tvi && value + step > self.vlt {
                    let p1 = at(band + step);
                    let p2 = at(band - step);
                    let p = if p1 > p2 { p1 } else { p2 };
                    let v = (weight * p0 * p) as f32 * self.recip[(p + p0) as usize];
                    if v > c {
                        c = v;
                    }
                }
            }
            out[r * w + col] = c;
        }
    }
}

/// Keeps every other sample in both directions, in place.
#[inline(always)]
fn decimate(data: &mut [u16], stride: usize, w: usize, h: usize) {
    for i in 0..h {
        for j in 0..w {
            data[i * stride + j] = data[(i * 2) * stride + j * 2];
        }
    }
}

/// 2x2 mean (1x2 / 2x1 at the last column / row), in place, top-left to bottom-right.
#[inline(always)]
fn anti_dither(data: &mut [u16], stride: usize, w: usize, h: usize, scratch: &mut [u16]) {
    let cur = &mut scratch[..w];
    for i in 0..h {
        // The row's own right neighbours must be read before they are overwritten.
        cur.copy_from_slice(&data[i * stride..i * stride + w]);
        let (top, rest) = data.split_at_mut((i + 1) * stride);
        let row = &mut top[i * stride..i * stride + w];
        if i + 1 < h {
            let next = &rest[..w];
            for j in 0..w - 1 {
                let s = cur[j] as u32 + cur[j + 1] as u32 + next[j] as u32 + next[j + 1] as u32;
                row[j] = (s >> 2) as u16;
            }
            row[w - 1] = ((cur[w - 1] as u32 + next[w - 1] as u32) >> 1) as u16;
        } else {
            for j in 0..w - 1 {
                row[j] = ((cur[j] as u32 + cur[j + 1] as u32) >> 1) as u16;
            }
        }
    }
}

/// The value two of three agree on, else the smallest.
#[inline]
fn mode3(a: u16, b: u16, c: u16) -> u16 {
    let r = if b == c { b } else { a.min(b).min(c) };
    if a == b || a == c {
        a
    } else {
        r
    }
}

/// 3x3 mode filter, separable and in place: horizontal modes of three rows (first and last
/// column kept), then their vertical mode written to the middle row. The first and last
/// rows keep their original samples.
#[inline(always)]
fn filter_mode(data: &mut [u16], stride: usize, w: usize, h: usize, lines: &mut [u16]) {
    let lines = &mut lines[..3 * w];
    for i in 0..h {
        {
            let row = &data[i * stride..i * stride + w];
            let out = &mut lines[(i % 3) * w..(i % 3 + 1) * w];
            out[0] = row[0];
            for ((o, x), (y, z)) in out[1..w - 1]
                .iter_mut()
                .zip(&row[..w - 2])
                .zip(row[1..w - 1].iter().zip(&row[2..]))
            {
                *o = mode3(*x, *y, *z);
            }
            out[w - 1] = row[w - 1];
        }
        if i > 1 {
            let (l0, rest) = lines.split_at(w);
            let (l1, l2) = rest.split_at(w);
            let dst = &mut data[(i - 1) * stride..(i - 1) * stride + w];
            for (o, (a, (b, c))) in dst.iter_mut().zip(l0.iter().zip(l1.iter().zip(l2))) {
                *o = mode3(*a, *b, *c);
            }
        }
    }
}

/// Mean of the `topk` share of largest values, chosen by libvmaf's quick-select (which
/// leaves them, in its order, at the front: the order the mean is summed in).
#[inline(always)]
fn spatial_pooling(values: &mut [f32], topk: f64) -> f64 {
    let n = values.len();
    let k = ((topk * n as f64) as i64).clamp(1, n as i64) as usize;
    quick_select(values, k);
    let sum: f64 = values[..k].iter().map(|&v| v as f64).sum();
    sum / k as f64
}

/// Hoare-partition selection that moves the `k` largest values to the front.
#[inline(always)]
fn quick_select(arr: &mut [f32], k: usize) {
    let n = arr.len();
    if n == k {
        return;
    }
    let (mut left, mut right) = (0isize, n as isize - 1);
    let k = k as isize;
    while left < right {
        let pivot = arr[k as usize];
        let (mut i, mut j) = (left, right);
        loop {
            while arr[i as usize] > pivot {
                i += 1;
            }
            while arr[j as usize] < pivot {
                j -= 1;
            }
            if i <= j {
                arr.swap(i as usize, j as usize);
                i += 1;
                j -= 1;
            }
            if i > j {
                break;
            }
        }
        if j < k {
            left = i;
        }
        if k < i {
            right = j;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reciprocal_table_matches_libvmafs_printed_values() {
        let t = reciprocal_table();
        // Entries where the 9-digit decimal reads back differently from 1.0f / i.
        assert_eq!(t[82], 0.012195122f32);
        assert_ne!(t[82], 1.0f32 / 82.0);
        assert_eq!(t[3], 1.0f32 / 3.0);
        assert_eq!(t[0], 0.0);
        assert_eq!(t.len(), RECIPROCAL_LUT_SIZE);
    }

    #[test]
    fn window_scales_with_the_encode_size() {
        assert_eq!(adjust_window(65, 3840, 2160, false), 65);
        assert_eq!(adjust_window(65, 1920, 1080, false), 33);
        assert_eq!(adjust_window(65, 1920, 1080, true), 17);
        assert_eq!(adjust_window(65, 1280, 720, false), 21);
        assert_eq!(mask_index(1920, 1080), 21);
    }

    #[test]
    fn visibility_thresholds_grow_with_the_step() {
        let t: Vec<i32> = (1..=4)
            .map(|d| tvi_for_diff(d, 0.019, Eotf::Bt1886))
            .collect();
        assert!(t.windows(2).all(|p| p[0] <= p[1]), "{t:?}");
        assert!(t[0] > FOOT && t[3] < HEAD, "{t:?}");
        assert_eq!(vlt_luma(0.0, Eotf::Bt1886).unwrap(), 0);
        assert!(vlt_luma(0.06, Eotf::Bt1886).unwrap() > FOOT);
        assert!(vlt_luma(300.0001, Eotf::Bt1886).is_err());
    }

    #[test]
    fn quick_select_puts_the_largest_in_front() {
        let mut v: Vec<f32> = (0..1000).map(|i| ((i * 7919) % 1000) as f32).collect();
        quick_select(&mut v, 100);
        let mut front: Vec<f32> = v[..100].to_vec();
        front.sort_by(|a, b| b.partial_cmp(a).unwrap());
        assert_eq!(front[0], 999.0);
        assert_eq!(front[99], 900.0);
    }

    /// The sliding mask and histograms against brute force on a small noisy-flat picture.
    #[test]
    fn sliding_windows_equal_brute_force() {
        let (w, h) = (300usize, 240usize);
        let data: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                (60 + (x / 23 + y / 31) as u8) + ((x * y) % 97 == 0) as u8
            })
            .collect();
        let plane = Plane::new_u8(&data, w, h, w);
        let mut c = Cambi::new(w, h, 8, CambiOptions::default()).unwrap();
        c.preprocess(&plane, w, h);
        let img = c.image.clone();
        c.spatial_mask(w, h);
        let thr = mask_index(w, h);
        let flat = |r: usize, x: usize| -> u32 {
            let v = img[r * w + x];
            ((x == w - 1 || v == img[r * w + x + 1]) && (r == h - 1 || v == img[(r + 1) * w + x]))
                as u32
        };
        for r in 0..h {
            for x in 0..w {
                let mut s = 0;
                for rr in r.saturating_sub(3)..(r + 4).min(h) {
                    for xx in x.saturating_sub(3)..(x + 4).min(w) {
                        s += flat(rr, xx);
                    }
                }
                assert_eq!(c.mask[r * w + x], (s > thr) as u16, "mask at {x},{r}");
            }
        }
        let window = c.enc.window;
        c.c_values(w, h, window);
        let pad = window / 2;
        let mask = c.mask.clone();
        let count = |r: usize, x: usize, v: i32| -> i32 {
            let mut n = 0;
            for rr in r.saturating_sub(pad)..(r + pad + 1).min(h) {
                for xx in x.saturating_sub(pad)..(x + pad + 1).min(w) {
                    if mask[rr * w + xx] != 0 && img[rr * w + xx] as i32 == v {
                        n += 1;
                    }
                }
            }
            n
        };
        let mut nonzero = 0;
        for r in (0..h).step_by(7) {
            for x in (0..w).step_by(5) {
                let got = c.c_values[r * w + x];
                let mut want = 0.0f32;
                if mask[r * w + x] != 0 {
                    let raw = img[r * w + x] as i32;
                    let value = raw + c.num_diffs as i32;
                    let p0 = count(r, x, raw);
                    for (d, (&tvi, &weight)) in
                        c.tvi_for_diff.iter().zip(&CONTRAST_WEIGHTS).enumerate()
                    {
                        let step = d as i32 + 1;
                        if value <= tvi && value + step > c.vlt_luma {
                            let p = count(r, x, raw + step).max(count(r, x, raw - step));
                            let v = (weight * p0 * p) as f32 * c.reciprocal[(p + p0) as usize];
                            want = want.max(v);
                        }
                    }
                }
                nonzero += (want > 0.0) as usize;
                assert_eq!(got, want, "c value at {x},{r}");
            }
        }
        assert!(
            nonzero > 100,
            "the test picture must have banding ({nonzero})"
        );
    }

    /// Portable, AVX2 and AVX-512 copies (those this CPU has) give the same bits, at 8 and
    /// 10 bits, with and without the anti-dithering and the speed-up.
    #[test]
    fn every_instruction_set_gives_the_same_scores() {
        let best = Isa::detect();
        let levels: Vec<Isa> = [Isa::Portable, Isa::Avx2, Isa::Avx512]
            .into_iter()
            .filter(|l| match l {
                Isa::Portable => true,
                Isa::Avx2 => best != Isa::Portable,
                Isa::Avx512 => best == Isa::Avx512,
            })
            .collect();
        let (w, h) = (1920usize, 1080usize);
        // A gradient with steps a few levels high (banding), speckled.
        let wave = |x: usize, y: usize| {
            200 + (x * 3 + y) / 23 + (x * 7 + y * 13).is_multiple_of(101) as usize
        };
        let d8: Vec<u8> = (0..w * h).map(|i| (wave(i % w, i / w) / 4) as u8).collect();
        let d10: Vec<u16> = (0..w * h).map(|i| wave(i % w, i / w) as u16).collect();
        let planes = [
            Plane::new_u8(&d8, w, h, w),
            Plane::new_u16(&d10, w, h, w, 10),
        ];
        for plane in &planes {
            for speedup in [0, 1080] {
                let opts = CambiOptions {
                    high_res_speedup: speedup,
                    ..Default::default()
                };
                let scores: Vec<u64> = levels
                    .iter()
                    .map(|&isa| {
                        let mut c = Cambi::new(w, h, plane.bpc, opts.clone()).unwrap();
                        c.isa = isa;
                        c.compute(plane, plane).cambi.to_bits()
                    })
                    .collect();
                assert!(f64::from_bits(scores[0]) > 0.0, "the picture must band");
                assert!(
                    scores.iter().all(|&s| s == scores[0]),
                    "{levels:?}: {scores:?}"
                );
            }
        }
    }

    #[test]
    fn refuses_what_libvmaf_refuses() {
        assert!(Cambi::new(176, 144, 8, CambiOptions::default()).is_err());
        let big = CambiOptions {
            window_size: 127,
            ..Default::default()
        };
        assert!(Cambi::new(3840, 2160, 10, big).is_err());
        assert!(Cambi::new(320, 180, 8, CambiOptions::default()).is_ok());
    }

    #[test]
    fn log_suffix_follows_libvmafs_option_order() {
        let o = CambiOptions {
            window_size: 33,
            max_val: 17.0,
            ..Default::default()
        };
        assert_eq!(o.log_suffix(), "_cmxv_17_ws_33");
        let o = CambiOptions {
            enc_size: Some((288, 162)),
            ..Default::default()
        };
        assert_eq!(o.log_suffix(), "_ench_162_encw_288");
    }
}
