//! dnnscale-train: trains the dnnscale refinement network (docs/dnnscale-design.md) on luma
//! patches of natural photos and exports it as ONNX.
//!
//! Codec-agnostic mode (Netflix): `loss = mse(bicubic(net(lanczos_u8(x))), x)`.
//! Scaled mode (codec in the loop): the batch's outputs, rounded to 8 bits, are tiled into one
//! picture, encoded with x264 at a random QP or CRF and decoded; the decoded values are the
//! forward value, and the gradient passes through the codec by SCALED's projection
//! (`--surrogate projection`, the default; `lv_train::surrogate`) or as the identity
//! (`--surrogate identity`, the straight-through estimator SCALED shows failing).
//! `--guide λ` adds `λ · mse(y, lanczos(x))` at the low resolution, tying the output to the
//! classic downscale (task-aware downscaling, Kim et al. 2018) so the net spends its capacity
//! on what survives the upscale instead of on aliasing-prone detail.
//! `--teacher T.onnx` distils (LoResNet, Pesnel et al. 2026): the loss is `mse(net(x'), T(x'))`
//! at the low resolution, `x'` the Lanczos downscale both nets refine, so a small student learns
//! what a larger teacher (trained through the codec) makes of the same input, with no codec in
//! its own loop. Agnostic mode only, no pre-filter.
//! `--noise σ` adds camera-like noise (`lv_tools::noise`: Gaussian, σ uniform up to the value
//! in 8-bit levels, half of it low-passed) to a share (`--noise-share`, 0.5) of the training
//! crops; the noisy crop is also the target, so the net learns what noise costs through the codec.
//! `--codec-frames K` codes the batch as a short video instead of one picture: `batch / K` pans
//! of K crops, each moved by up to `--motion` source pixels a frame, coded as K pictures (an
//! I-frame, then P/B frames), as the evaluation and real ladders code most frames. In agnostic
//! mode it only shapes the data (the same pans, no codec), for a codec-aware run's equal twin.
//! `--rate-weight β` adds `β · R(y)`, `lv_train::rate`'s DCT rate proxy in bits per low-res
//! sample at the step's QP (the value drawn from `--qp-min..--qp-max`), the loss then being
//! distortion (squared 8-bit levels) plus β times rate, like an encoder's RD cost.
//!
//! ```text
//! dnnscale-train --data DIR --out model.onnx [--exclude id,id] [--val-ids id,id]
//!     [--checkpoint FILE [--resume]] [--init model.onnx|checkpoint.json]
//!     [--steps N] [--batch N] [--patch PX] [--ratio-min R] [--ratio-max R]
//!     [--channels C] [--layers L] [--linear-skip] [--lr LR] [--seed S] [--threads N]
//!     [--mode agnostic|scaled] [--surrogate projection|identity] [--rate-control qp|crf]
//!     [--qp-min Q] [--qp-max Q] [--guide LAMBDA] [--rate-weight BETA] [--use-ratios LO:HI]
//!     [--pre-channels C [--pre-layers L] | --pre-init pre.onnx] [--out-pre pre.onnx] [--no-refine]
//!     [--teacher T.onnx] [--noise SIGMA [--noise-share P]] [--residual-gain G]
//!     [--codec-frames K [--motion PX]]
//!
//! The pre-filter (Netflix's preprocessing block, seed 000): a second net of the same kind
//! that runs at the *input* resolution before the Lanczos resize, so it can shape what the
//! resize keeps and aliases (a refinement after the resize cannot undo aliasing). Trained
//! jointly with the refinement net (or alone, `--no-refine`), through the resize's adjoint;
//! exported to `--out-pre` with `lv.stage` = `pre`. In training the resize runs in float;
//! the element rounds the pre-filtered picture to 8 bits first (±0.5 level).
//!
//! `--residual-gain G` scales the trained refinement's correction of the Lanczos picture by G
//! before export (`input + G·(net − input)`; with `--steps 0`, of the `--init` model).
//!
//! `--use-ratios` writes the downscale ratios the element may use the model for
//! (`lv.ratio_min`/`lv.ratio_max`); with `--init model.onnx --steps 0` it relabels a model
//! without training, keeping its recipe.
//!     [--val-every N] [--checkpoint-every N] [--val-qps 22,27,32,37] [--summary FILE]
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use lv_image::plane::Plane;
use lv_image::resample::{Kernel, Resampler};
use lv_tools::cli::{self, list, value};
use lv_tools::noise::{add_noise, NoiseSpec};
use lv_tools::summary::{self, Provenance};
use lv_tools::tiles::{self, Tile};
use lv_tools::x264::{Codec, RateControl};
use lv_train::{Adam, Checkpoint, RefineConfig, RefineNet, Surrogate, Tensor, Trace, Trainable};
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::Serialize;

const GRAD_SCALE: f32 = 255.0 * 255.0;
const LANCZOS: Kernel = Kernel::Lanczos { a: 3.0 };
const BICUBIC: Kernel = Kernel::Cubic { b: 0.0, c: 0.5 };
/// Ratios the held-out validation runs at: the 1080p ladder's 720p, 540p and 360p rungs.
const VAL_RATIOS: [f64; 3] = [1.5, 2.0, 3.0];

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
enum Mode {
    Agnostic,
    Scaled,
}

#[derive(Clone, Debug, Serialize)]
struct Args {
    data: PathBuf,
    exclude: Vec<String>,
    val_ids: Vec<String>,
    out: PathBuf,
    checkpoint: Option<PathBuf>,
    resume: bool,
    init: Option<PathBuf>,
    steps: u64,
    batch: usize,
    patch: usize,
    ratio_min: f64,
    ratio_max: f64,
    channels: usize,
    layers: usize,
    linear_skip: bool,
    lr: f32,
    seed: u64,
    threads: usize,
    mode: Mode,
    surrogate: Surrogate,
    rate_control: RateControl,
    guide: f32,
    rate_weight: f32,
    pre_channels: usize,
    pre_layers: usize,
    pre_init: Option<PathBuf>,
    out_pre: Option<PathBuf>,
    refine: bool,
    teacher: Option<PathBuf>,
    use_ratios: Option<(f64, f64)>,
    qp_min: u32,
    qp_max: u32,
    val_every: u64,
    checkpoint_every: u64,
    val_qps: Vec<u32>,
    summary: Option<PathBuf>,
    noise: f32,
    noise_share: f64,
    residual_gain: f32,
    codec_frames: usize,
    motion: usize,
}

const USAGE: &str = "usage: dnnscale-train --data DIR --out model.onnx [--exclude id,id] [--val-ids id,id] \
[--checkpoint FILE [--resume]] [--init model.onnx|checkpoint.json] [--steps N] [--batch N] [--patch PX] \
[--ratio-min R] [--ratio-max R] [--channels C (1..=256)] [--layers L (0..=64)] [--linear-skip] [--lr LR (0 < LR <= 1)] \
[--seed S] [--threads N (0: one per core; more than 256 is an error)] \
[--mode agnostic|scaled] [--surrogate projection|identity] [--rate-control qp|crf] [--qp-min Q] [--qp-max Q] \
[--guide LAMBDA] [--rate-weight BETA] [--pre-channels C [--pre-layers L] | --pre-init model.onnx] \
[--out-pre pre.onnx] [--no-refine] [--teacher T.onnx] [--use-ratios LO:HI] [--val-every N] [--checkpoint-every N] \
[--val-qps 22,27,32,37] [--summary FILE] [--noise SIGMA [--noise-share P]] [--residual-gain G] \
[--codec-frames K [--motion PX]]";

fn parse_args() -> Result<Args, String> {
    parse_args_from(std::env::args().skip(1))
}

fn parse_args_from<I, S>(argv: I) -> Result<Args, String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    let mut a = Args {
        data: PathBuf::new(),
        exclude: Vec::new(),
        val_ids: list("lomiri16_friends,mate_blinds"),
        out: PathBuf::new(),
        checkpoint: None,
        resume: false,
        init: None,
        steps: 4000,
        batch: 16,
        patch: 96,
        ratio_min: 1.25,
        ratio_max: 4.0,
        channels: 16,
        layers: 1,
        linear_skip: false,
        lr: 1e-3,
        seed: 1,
        threads: 0,
        mode: Mode::Agnostic,
        surrogate: Surrogate::Projection,
        rate_control: RateControl::Qp,
        guide: 0.0,
        rate_weight: 0.0,
        pre_channels: 0,
        pre_layers: 0,
        pre_init: None,
        out_pre: None,
        refine: true,
        teacher: None,
        use_ratios: None,
        qp_min: 22,
        qp_max: 40,
        val_every: 500,
        checkpoint_every: 250,
        val_qps: vec![22, 27, 32, 37],
        summary: None,
        noise: 0.0,
        noise_share: 0.5,
        codec_frames: 1,
        motion: 2,
        residual_gain: 1.0,
    };
    let mut it = argv.into_iter().map(Into::into);
    while let Some(f) = it.next() {
        match f.as_str() {
            "--data" => a.data = value::<String>(&f, it.next())?.into(),
            "--exclude" => a.exclude = list(&value::<String>(&f, it.next())?),
            "--val-ids" => a.val_ids = list(&value::<String>(&f, it.next())?),
            "--out" => a.out = value::<String>(&f, it.next())?.into(),
            "--checkpoint" => a.checkpoint = Some(value::<String>(&f, it.next())?.into()),
            "--resume" => a.resume = true,
            "--init" => a.init = Some(value::<String>(&f, it.next())?.into()),
            "--steps" => a.steps = value(&f, it.next())?,
            "--batch" => a.batch = value(&f, it.next())?,
            "--patch" => a.patch = value(&f, it.next())?,
            "--ratio-min" => a.ratio_min = value(&f, it.next())?,
            "--ratio-max" => a.ratio_max = value(&f, it.next())?,
            "--channels" => a.channels = value(&f, it.next())?,
            "--layers" => a.layers = value(&f, it.next())?,
            "--linear-skip" => a.linear_skip = true,
            "--lr" => a.lr = value(&f, it.next())?,
            "--seed" => a.seed = value(&f, it.next())?,
            "--threads" => a.threads = value(&f, it.next())?,
            "--mode" => {
                a.mode = match value::<String>(&f, it.next())?.as_str() {
                    "agnostic" => Mode::Agnostic,
                    "scaled" => Mode::Scaled,
                    m => return Err(format!("--mode: {m:?} is not agnostic or scaled")),
                }
            }
            "--surrogate" => {
                a.surrogate = match value::<String>(&f, it.next())?.as_str() {
                    "projection" => Surrogate::Projection,
                    "identity" => Surrogate::Identity,
                    m => return Err(format!("--surrogate: {m:?} is not projection or identity")),
                }
            }
            "--rate-control" => {
                a.rate_control = match value::<String>(&f, it.next())?.as_str() {
                    "qp" => RateControl::Qp,
                    "crf" => RateControl::Crf,
                    m => return Err(format!("--rate-control: {m:?} is not qp or crf")),
                }
            }
            "--guide" => a.guide = value(&f, it.next())?,
            "--rate-weight" => a.rate_weight = value(&f, it.next())?,
            "--pre-channels" => a.pre_channels = value(&f, it.next())?,
            "--pre-layers" => a.pre_layers = value(&f, it.next())?,
            "--pre-init" => a.pre_init = Some(value::<String>(&f, it.next())?.into()),
            "--out-pre" => a.out_pre = Some(value::<String>(&f, it.next())?.into()),
            "--no-refine" => a.refine = false,
            "--teacher" => a.teacher = Some(value::<String>(&f, it.next())?.into()),
            "--use-ratios" => {
                let v: String = value(&f, it.next())?;
                let (lo, hi) = v
                    .split_once(':')
                    .and_then(|(a, b)| Some((a.parse::<f64>().ok()?, b.parse::<f64>().ok()?)))
                    .filter(|&(a, b)| (1.0..=64.0).contains(&a) && a <= b && b <= 64.0)
                    .ok_or(format!(
                        "--use-ratios: {v:?} is not LO:HI with 1 <= LO <= HI <= 64"
                    ))?;
                a.use_ratios = Some((lo, hi));
            }
            "--qp-min" => a.qp_min = value(&f, it.next())?,
            "--qp-max" => a.qp_max = value(&f, it.next())?,
            "--val-every" => a.val_every = value(&f, it.next())?,
            "--checkpoint-every" => a.checkpoint_every = value(&f, it.next())?,
            "--val-qps" => {
                a.val_qps = list(&value::<String>(&f, it.next())?)
                    .iter()
                    .map(|q| q.parse().map_err(|_| format!("--val-qps: bad QP {q:?}")))
                    .collect::<Result<_, _>>()?
            }
            "--summary" => a.summary = Some(value::<String>(&f, it.next())?.into()),
            "--noise" => a.noise = value(&f, it.next())?,
            "--noise-share" => a.noise_share = value(&f, it.next())?,
            "--residual-gain" => a.residual_gain = value(&f, it.next())?,
            "--codec-frames" => a.codec_frames = value(&f, it.next())?,
            "--motion" => a.motion = value(&f, it.next())?,
            _ => cli::other_flag(&f, USAGE)?,
        }
    }
    cli::require_data_out(&a.data, &a.out, USAGE)?;
    if a.resume && a.checkpoint.is_none() {
        return Err("--resume needs --checkpoint".into());
    }
    // Sizes and counts, before anything is built from them (0 channels fails an assertion,
    // 100000 an allocation of hundreds of GB). `--steps 0` exports the `--init` model.
    cli::in_range("--steps", a.steps, 0, cli::MAX_STEPS)?;
    cli::in_range("--batch", a.batch, 1, 1024)?;
    cli::in_range("--patch", a.patch, 16, 4096)?;
    cli::in_range("--channels", a.channels, 1, cli::MAX_CHANNELS)?;
    cli::in_range("--layers", a.layers, 0, cli::MAX_LAYERS)?;
    cli::in_range("--pre-channels", a.pre_channels, 0, cli::MAX_CHANNELS)?;
    cli::in_range("--pre-layers", a.pre_layers, 0, cli::MAX_LAYERS)?;
    cli::at_least("--val-every", a.val_every, 1)?;
    cli::at_least("--checkpoint-every", a.checkpoint_every, 1)?;
    cli::positive("--lr", a.lr as f64, 1.0)?;
    if let Some(q) = a.val_qps.iter().find(|&&q| q > 51) {
        return Err(format!("--val-qps: QP {q} is above 51"));
    }
    if !(1.0..=16.0).contains(&a.ratio_min) || !(a.ratio_min..=64.0).contains(&a.ratio_max) {
        return Err("need 1 <= --ratio-min <= 16 and --ratio-min <= --ratio-max <= 64".into());
    }
    if !(a.guide >= 0.0 && a.guide.is_finite()) {
        return Err("--guide must be a finite λ >= 0".into());
    }
    if !(a.rate_weight >= 0.0 && a.rate_weight.is_finite()) {
        return Err("--rate-weight must be a finite β >= 0".into());
    }
    cli::in_range("--codec-frames", a.codec_frames, 1, 16)?;
    cli::in_range("--motion", a.motion, 0, 32)?;
    if !a.batch.is_multiple_of(a.codec_frames) {
        return Err(format!(
            "--batch {} is not whole sequences of --codec-frames {}",
            a.batch, a.codec_frames
        ));
    }
    if !(0.0..=4.0).contains(&a.residual_gain) {
        return Err("--residual-gain must be in 0..=4".into());
    }
    if !((0.0..=64.0).contains(&a.noise) && (0.0..=1.0).contains(&a.noise_share)) {
        return Err(
            "--noise must be a σ in 0..=64 levels and --noise-share a share in 0..=1".into(),
        );
    }
    let pre = a.pre_channels > 0 || a.pre_init.is_some();
    if pre != a.out_pre.is_some() {
        return Err("a pre-filter (--pre-channels or --pre-init) needs --out-pre, and back".into());
    }
    if !pre && !a.refine {
        return Err("--no-refine needs a pre-filter".into());
    }
    if a.teacher.is_some()
        && (pre || a.mode != Mode::Agnostic || a.guide > 0.0 || a.rate_weight > 0.0)
    {
        return Err("--teacher distils in agnostic mode, without pre-filter, guide or rate".into());
    }
    if pre && a.resume {
        return Err("--resume does not cover the pre-filter; start from --init/--pre-init".into());
    }
    if a.qp_min > a.qp_max || a.qp_max > 51 {
        return Err(format!(
            "--qp-min {} / --qp-max {}: need --qp-min <= --qp-max <= 51",
            a.qp_min, a.qp_max
        ));
    }
    Ok(a)
}

fn load_tiles(args: &Args) -> Result<(Vec<Tile>, Vec<Tile>), String> {
    tiles::load_split(&args.data, &args.exclude, &args.val_ids, |t| {
        if t.w < args.patch || t.h < args.patch {
            return Err(format!(
                "{}: {}x{} is smaller than --patch {}",
                t.name, t.w, t.h, args.patch
            ));
        }
        Ok(Some(t))
    })
}

/// Even size (the model's `lv.align` = 2) nearest to `n / r`, at least 2.
fn low_size(n: usize, r: f64) -> usize {
    ((n as f64 / r / 2.0).round() as usize).max(1) * 2
}

/// `lanczos_u8(x)` at `lw x lh`, as the element computes it.
fn lanczos_u8(x: &[u8], w: usize, h: usize, lw: usize, lh: usize) -> Vec<u8> {
    let r = Resampler::new(w, h, lw, lh, LANCZOS).expect("resampler");
    let mut d = vec![0u8; lw * lh];
    r.process_u8(&Plane::new_u8(x, w, h, w), &mut d, lw);
    d
}

/// One training example: source patch `x` (0..1) and its Lanczos-downscaled `d` (0..1).
struct Sample {
    w: usize,
    h: usize,
    x: Vec<f32>,
    lw: usize,
    lh: usize,
    d: Vec<f32>,
}

/// Crop, flip and ratio are drawn here, serially from the one RNG, so the data order is
/// fixed by the seed; the resampling itself runs in parallel afterwards.
struct SampleSpec {
    tile: usize,
    x0: usize,
    y0: usize,
    flip_h: bool,
    flip_v: bool,
    transpose: bool,
    ratio: f64,
    noise: NoiseSpec,
}

fn draw_specs(rng: &mut rand_pcg::Pcg64, tiles: &[Tile], args: &Args) -> Vec<SampleSpec> {
    if args.codec_frames > 1 {
        return draw_sequences(rng, tiles, args);
    }
    (0..args.batch)
        .map(|_| {
            let tile = rng.random_range(0..tiles.len());
            let t = &tiles[tile];
            SampleSpec {
                tile,
                x0: rng.random_range(0..=t.w - args.patch),
                y0: rng.random_range(0..=t.h - args.patch),
                flip_h: rng.random(),
                flip_v: rng.random(),
                transpose: rng.random(),
                ratio: rng.random_range(args.ratio_min..=args.ratio_max),
                // Drawn only when asked for, so runs without noise keep the data order of the
                // models trained before the option existed.
                noise: if args.noise > 0.0 {
                    NoiseSpec::draw(rng, args.noise, args.noise_share)
                } else {
                    NoiseSpec::NONE
                },
            }
        })
        .collect()
}

/// `--codec-frames K`: the batch as `batch / K` sequences of K crops of one tile, each crop
/// moved by the sequence's motion (up to `--motion` source pixels a frame on each axis, a
/// sub-pixel motion at the low resolution) from the one before, for the encoder to code all
/// but the first picture from the ones before it, as it codes a video's frames. A crop of a
/// photo moved by a constant step is a pan; with `--noise`, a sequence keeps one noise level
/// and grain while each frame's noise is drawn anew, as a camera's is.
fn draw_sequences(rng: &mut rand_pcg::Pcg64, tiles: &[Tile], args: &Args) -> Vec<SampleSpec> {
    let (k, p, m) = (args.codec_frames, args.patch, args.motion as i64);
    let mut specs = Vec::with_capacity(args.batch);
    for _ in 0..args.batch / k {
        let tile = rng.random_range(0..tiles.len());
        let t = &tiles[tile];
        let (mut mx, mut my) = (rng.random_range(-m..=m), rng.random_range(-m..=m));
        let span = (k - 1) as i64;
        // A tile too small for the whole path keeps the sequence still on that axis.
        if ((t.w - p) as i64) < mx.abs() * span {
            mx = 0;
        }
        if ((t.h - p) as i64) < my.abs() * span {
            my = 0;
        }
        let x_lo = (-mx * span).max(0);
        let x_hi = (t.w - p) as i64 - (mx * span).max(0);
        let y_lo = (-my * span).max(0);
        let y_hi = (t.h - p) as i64 - (my * span).max(0);
        let (x0, y0) = (rng.random_range(x_lo..=x_hi), rng.random_range(y_lo..=y_hi));
        let (flip_h, flip_v, transpose): (bool, bool, bool) =
            (rng.random(), rng.random(), rng.random());
        let ratio = rng.random_range(args.ratio_min..=args.ratio_max);
        // One camera per sequence: its noise level and grain stay, each frame's noise is new.
        let noise = if args.noise > 0.0 {
            NoiseSpec::draw(rng, args.noise, args.noise_share)
        } else {
            NoiseSpec::NONE
        };
        for f in 0..k as i64 {
            specs.push(SampleSpec {
                tile,
                x0: (x0 + f * mx) as usize,
                y0: (y0 + f * my) as usize,
                flip_h,
                flip_v,
                transpose,
                ratio,
                noise: NoiseSpec {
                    seed: noise.seed.wrapping_add(f as u64),
                    ..noise
                },
            });
        }
    }
    specs
}

fn make_sample(s: &SampleSpec, tiles: &[Tile], p: usize) -> Sample {
    let t = &tiles[s.tile];
    let mut x8 = vec![0u8; p * p];
    for yy in 0..p {
        for xx in 0..p {
            let (mut sx, mut sy) = if s.transpose { (yy, xx) } else { (xx, yy) };
            if s.flip_h {
                sx = p - 1 - sx;
            }
            if s.flip_v {
                sy = p - 1 - sy;
            }
            x8[yy * p + xx] = t.y[(s.y0 + sy) * t.w + s.x0 + sx];
        }
    }
    add_noise(&mut x8, p, p, &s.noise);
    let l = low_size(p, s.ratio);
    let d8 = lanczos_u8(&x8, p, p, l, l);
    Sample {
        w: p,
        h: p,
        x: x8.iter().map(|&v| v as f32 / 255.0).collect(),
        lw: l,
        lh: l,
        d: d8.iter().map(|&v| v as f32 / 255.0).collect(),
    }
}

fn to_u8(v: f32) -> u8 {
    (v * 255.0).round().clamp(0.0, 255.0) as u8
}

fn psnr(mse255: f64) -> f64 {
    10.0 * (255.0f64 * 255.0 / mse255.max(1e-10)).log10()
}

/// Mean squared error (0..255 units) of `bicubic(y)` at the source size against the source.
fn upscaled_mse(y: &[u8], lw: usize, lh: usize, x: &[u8], w: usize, h: usize) -> f64 {
    let r = Resampler::new(lw, lh, w, h, BICUBIC).expect("resampler");
    let yf: Vec<f32> = y.iter().map(|&v| v as f32).collect();
    let mut u = vec![0f32; w * h];
    r.process_f32(&yf, lw, &mut u, w);
    u.iter()
        .zip(x)
        .map(|(&a, &b)| {
            let d = a as f64 - b as f64;
            d * d
        })
        .sum::<f64>()
        / (w * h) as f64
}

#[derive(Clone, Debug, Default, Serialize)]
struct ValResult {
    /// Mean PSNR (dB) of the bicubic upscale against the source, over tiles and ratios.
    net: f64,
    lanczos: f64,
    /// Per ratio: (ratio, net, lanczos).
    per_ratio: Vec<(f64, f64, f64)>,
    /// Per QP, after an x264 round trip of the downscaled picture: (qp, net, lanczos).
    codec: Vec<(u32, f64, f64)>,
}

/// Held-out validation at the fixed ratios: the element's path (Lanczos u8, net, rounding to
/// u8), the client's bicubic upscale, PSNR against the source; optionally through x264 too.
fn validate(
    net: Option<&RefineNet>,
    pre: Option<&RefineNet>,
    val: &[Tile],
    qps: &[u32],
    codec: Option<&Codec>,
) -> Result<ValResult, String> {
    let mut res = ValResult::default();
    if val.is_empty() {
        return Ok(res);
    }
    let mut codec_sums = vec![(0.0f64, 0.0f64); qps.len()];
    // The pre-filtered tiles (rounded to 8 bits, as the element keeps them) do not depend
    // on the ratio.
    let filtered: Vec<Option<Vec<u8>>> = val
        .par_iter()
        .map(|t| {
            pre.map(|p| {
                let xf: Vec<f32> = t.y.iter().map(|&v| v as f32 / 255.0).collect();
                p.forward(&xf, t.h, t.w).iter().map(|&v| to_u8(v)).collect()
            })
        })
        .collect();
    for &ratio in &VAL_RATIOS {
        let items: Vec<(usize, usize, Vec<u8>, Vec<u8>)> = val
            .par_iter()
            .zip(filtered.par_iter())
            .map(|(t, xp)| {
                let (lw, lh) = (low_size(t.w, ratio), low_size(t.h, ratio));
                let d = lanczos_u8(&t.y, t.w, t.h, lw, lh);
                // The element's path: pre-filter, rounded to 8 bits, Lanczos, refinement.
                let dn = match xp {
                    Some(xp) => lanczos_u8(xp, t.w, t.h, lw, lh),
                    None => d.clone(),
                };
                let y: Vec<u8> = match net {
                    Some(net) => {
                        let df: Vec<f32> = dn.iter().map(|&v| v as f32 / 255.0).collect();
                        net.forward(&df, lh, lw).iter().map(|&v| to_u8(v)).collect()
                    }
                    None => dn,
                };
                (lw, lh, d, y)
            })
            .collect();
        let (pn, pl): (Vec<f64>, Vec<f64>) = items
            .par_iter()
            .zip(val.par_iter())
            .map(|((lw, lh, d, y), t)| {
                (
                    psnr(upscaled_mse(y, *lw, *lh, &t.y, t.w, t.h)),
                    psnr(upscaled_mse(d, *lw, *lh, &t.y, t.w, t.h)),
                )
            })
            .unzip();
        let (mn, ml) = (mean(&pn), mean(&pl));
        res.per_ratio.push((ratio, mn, ml));
        if let Some(codec) = codec {
            for (qi, &qp) in qps.iter().enumerate() {
                let ny = codec.roundtrip(
                    &items
                        .iter()
                        .map(|(lw, lh, _, y)| (*lw, *lh, y.clone()))
                        .collect::<Vec<_>>(),
                    qp,
                )?;
                let nd = codec.roundtrip(
                    &items
                        .iter()
                        .map(|(lw, lh, d, _)| (*lw, *lh, d.clone()))
                        .collect::<Vec<_>>(),
                    qp,
                )?;
                let (a, b): (Vec<f64>, Vec<f64>) = items
                    .par_iter()
                    .zip(val.par_iter())
                    .zip(ny.par_iter().zip(nd.par_iter()))
                    .map(|(((lw, lh, _, _), t), (cy, cd))| {
                        (
                            psnr(upscaled_mse(cy, *lw, *lh, &t.y, t.w, t.h)),
                            psnr(upscaled_mse(cd, *lw, *lh, &t.y, t.w, t.h)),
                        )
                    })
                    .unzip();
                codec_sums[qi].0 += mean(&a) / VAL_RATIOS.len() as f64;
                codec_sums[qi].1 += mean(&b) / VAL_RATIOS.len() as f64;
            }
        }
    }
    res.net = mean(&res.per_ratio.iter().map(|r| r.1).collect::<Vec<_>>());
    res.lanczos = mean(&res.per_ratio.iter().map(|r| r.2).collect::<Vec<_>>());
    if codec.is_some() {
        res.codec = qps
            .iter()
            .zip(&codec_sums)
            .map(|(&q, &(a, b))| (q, a, b))
            .collect();
    }
    Ok(res)
}

/// Progress lines: above the bar on a terminal; plain stderr lines when the bar is hidden
/// (indicatif drops `println` then, e.g. when the output goes to a log file).
fn log(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn lr_at(args: &Args, step: u64) -> f32 {
    cli::cosine_lr(args.lr, args.steps, step)
}

/// Backward passes of a batch with the gradient of each input too; the parameter gradient
/// is summed in batch order (like `Trainable::backward_batch`, so runs are reproducible).
fn backward_with_input(
    net: &RefineNet,
    traces: &[Trace],
    dys: &[Vec<f32>],
) -> (Vec<f32>, Vec<Vec<f32>>) {
    let per: Vec<(Vec<f32>, Vec<f32>)> = traces
        .par_iter()
        .zip(dys.par_iter())
        .map(|(t, dy)| {
            let mut g = vec![0f32; net.params.len()];
            let dx = net.backward(t, dy, &mut g, true).expect("dx asked");
            (g, dx)
        })
        .collect();
    let mut grad = vec![0f32; net.params.len()];
    let mut dxs = Vec::with_capacity(per.len());
    for (g, dx) in per {
        for (a, b) in grad.iter_mut().zip(&g) {
            *a += b;
        }
        dxs.push(dx);
    }
    (grad, dxs)
}

/// The `lv.recipe` of an ONNX starting model.
fn init_recipe(path: &Path) -> Option<String> {
    if path.extension().is_none_or(|e| e != "onnx") {
        return None;
    }
    let m = lv_infer::Model::from_path(path).ok()?;
    Some(m.info().recipe.clone())
}

/// A starting network: a checkpoint (JSON) or an exported model (ONNX).
fn load_init(path: &Path) -> Result<RefineNet, String> {
    if path.extension().is_some_and(|e| e == "onnx") {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        lv_graph::onnx::import(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    } else {
        Ok(Checkpoint::load(path).map_err(|e| e.to_string())?.net)
    }
}

#[derive(Serialize)]
struct Summary<'a> {
    #[serde(flatten)]
    head: Provenance<'a, Args>,
    steps: u64,
    seconds: f64,
    final_train_loss_psnr: f64,
    val: ValResult,
    history: Vec<(u64, f64, f64)>,
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    cli::set_threads(args.threads)?;
    let command = cli::command_line("dnnscale-train");
    let (train, val) = load_tiles(&args)?;
    eprintln!(
        "{} training tiles, {} validation tiles ({}), excluded photos: {}",
        train.len(),
        val.len(),
        args.val_ids.join(","),
        if args.exclude.is_empty() {
            "none".into()
        } else {
            args.exclude.join(",")
        }
    );

    let (mut net, mut adam, mut step, mut rng, mut history) = match (&args.checkpoint, args.resume)
    {
        (Some(ck), true) => {
            let c = Checkpoint::load(ck).map_err(|e| e.to_string())?;
            let hist = serde_json::from_value(c.meta["history"].clone()).unwrap_or_default();
            eprintln!("resumed {} at step {}", ck.display(), c.step);
            (c.net, c.adam, c.step, c.rng, hist)
        }
        _ => {
            let mut net = match &args.init {
                Some(p) => load_init(p)?,
                None => RefineNet::new(
                    RefineConfig {
                        channels: args.channels,
                        hidden_layers: args.layers,
                    },
                    args.seed,
                ),
            };
            if args.linear_skip {
                net = net.with_linear_skip();
            }
            let adam = Adam::new(net.num_params(), args.lr);
            (
                net,
                adam,
                0u64,
                rand_pcg::Pcg64::seed_from_u64(args.seed ^ 0x5eed),
                Vec::<(u64, f64, f64)>::new(),
            )
        }
    };
    eprintln!(
        "RefineNet C={} hidden={} linear skip {} ({} params, {} MAC/pixel, receptive radius {}), mode {:?}",
        net.config.channels,
        net.config.hidden_layers,
        net.skip.is_some(),
        net.num_params(),
        net.macs_per_pixel(),
        net.receptive_radius(),
        args.mode
    );
    let mut pre: Option<RefineNet> = match (&args.pre_init, args.pre_channels) {
        (Some(p), _) => Some(load_init(p)?),
        (None, 0) => None,
        (None, c) => Some(
            RefineNet::new(
                RefineConfig {
                    channels: c,
                    hidden_layers: args.pre_layers,
                },
                args.seed ^ 0x9e37,
            )
            .with_linear_skip(),
        ),
    };
    let mut adam_pre = pre.as_ref().map(|p| Adam::new(p.num_params(), args.lr));
    if let Some(p) = &pre {
        eprintln!(
            "pre-filter C={} hidden={} ({} params, {} MAC per source pixel); refinement net {}",
            p.config.channels,
            p.config.hidden_layers,
            p.num_params(),
            p.macs_per_pixel(),
            if args.refine { "trained too" } else { "off" }
        );
    }
    let teacher = match &args.teacher {
        Some(p) => {
            let t = load_init(p)?;
            eprintln!(
                "distilling from {} (C={} hidden={}, {} MAC/pixel)",
                p.display(),
                t.config.channels,
                t.config.hidden_layers,
                t.macs_per_pixel()
            );
            Some(t)
        }
        None => None,
    };
    let codec = Codec::new("dnnscale-train");
    let codec = match (args.mode, codec) {
        (_, Ok(c)) => Some(c),
        (Mode::Scaled, Err(e)) => return Err(e),
        (Mode::Agnostic, Err(e)) => {
            eprintln!("note: {e}; validation after the codec is skipped");
            None
        }
    };

    let v0 = validate(args.refine.then_some(&net), pre.as_ref(), &val, &[], None)?;
    eprintln!(
        "validation at start: net {:.3} dB, lanczos {:.3} dB",
        v0.net, v0.lanczos
    );

    let save = |net: &RefineNet,
                adam: &Adam,
                step: u64,
                rng: &rand_pcg::Pcg64,
                history: &Vec<(u64, f64, f64)>|
     -> Result<(), String> {
        if let Some(path) = &args.checkpoint {
            Checkpoint {
                net: net.clone(),
                adam: adam.clone(),
                step,
                rng: rng.clone(),
                meta: serde_json::json!({ "args": &args, "history": history }),
            }
            .save(path)
            .map_err(|e| e.to_string())?;
        }
        Ok(())
    };

    let start = Instant::now();
    let first_step = step;
    let bar = ProgressBar::new(args.steps);
    bar.set_style(
        ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {msg}",
        )
        .unwrap()
        .progress_chars("=> "),
    );
    bar.set_position(step);
    let mut avg_loss = f64::NAN;
    while step < args.steps {
        let specs = draw_specs(&mut rng, &train, &args);
        let qp = rng.random_range(args.qp_min..=args.qp_max);
        let samples: Vec<Sample> = specs
            .par_iter()
            .map(|s| make_sample(s, &train, args.patch))
            .collect();
        // The pre-filter (if any) at the source resolution, then the resize in float.
        let pre_traces: Option<Vec<Trace>> = pre.as_ref().map(|p| {
            let hr: Vec<Tensor> = samples
                .iter()
                .map(|s| Tensor::from_vec([1, 1, s.h, s.w], s.x.clone()))
                .collect();
            p.forward_batch(&hr)
        });
        // The pre-filter's resizes, built once per step for the forward pass and its adjoint.
        let downs: Vec<Resampler> = match &pre_traces {
            Some(_) => samples
                .par_iter()
                .map(|s| Resampler::new(s.w, s.h, s.lw, s.lh, LANCZOS).expect("resampler"))
                .collect(),
            None => Vec::new(),
        };
        let d_in: Vec<Vec<f32>> = match &pre_traces {
            Some(tr) => samples
                .par_iter()
                .zip(tr.par_iter())
                .zip(downs.par_iter())
                .map(|((s, t), r)| {
                    // Clamped like the element's 8-bit intermediate picture: overshoot past
                    // black or white is lost there, so it must not pay here.
                    let xp: Vec<f32> = t.output.iter().map(|v| v.clamp(0.0, 1.0)).collect();
                    let mut d = vec![0f32; s.lw * s.lh];
                    r.process_f32(&xp, s.w, &mut d, s.lw);
                    d
                })
                .collect(),
            None => samples.iter().map(|s| s.d.clone()).collect(),
        };
        let inputs: Vec<Tensor> = samples
            .iter()
            .zip(&d_in)
            .map(|(s, d)| Tensor::from_vec([1, 1, s.lh, s.lw], d.clone()))
            .collect();
        let traces: Option<Vec<Trace>> = args.refine.then(|| net.forward_batch(&inputs));
        // The teacher's pictures: the student's targets at the low resolution.
        let targets: Option<Vec<Vec<f32>>> = teacher.as_ref().map(|t| {
            t.forward_batch(&inputs)
                .into_iter()
                .map(|tr| tr.output)
                .collect()
        });
        // The downscaled picture the encoder gets.
        let outs: Vec<&[f32]> = match &traces {
            Some(tr) => tr.iter().map(|t| t.output.as_slice()).collect(),
            None => d_in.iter().map(|d| d.as_slice()).collect(),
        };
        // Forward value fed to the upscaler: that picture, or (with the codec) its x264
        // round trip; the surrogate decides what the backward pass makes of the codec.
        let fwd: Vec<Vec<f32>> = match args.mode {
            Mode::Agnostic => outs.iter().map(|o| o.to_vec()).collect(),
            Mode::Scaled => {
                let planes: Vec<(usize, usize, Vec<u8>)> = samples
                    .iter()
                    .zip(&outs)
                    .map(|(s, o)| (s.lw, s.lh, o.iter().map(|&v| to_u8(v)).collect()))
                    .collect();
                let dec = codec.as_ref().unwrap().roundtrip_frames(
                    &planes,
                    args.codec_frames,
                    args.rate_control,
                    qp,
                )?;
                dec.iter()
                    .map(|c| c.iter().map(|&c| c as f32 / 255.0).collect())
                    .collect()
            }
        };
        let nb = samples.len() as f32;
        let (losses, dys): (Vec<f64>, Vec<Vec<f32>>) = samples
            .par_iter()
            .zip(fwd.par_iter())
            .zip(outs.par_iter())
            .enumerate()
            .map(|(i, ((s, y), out))| {
                if let Some(t) = &targets {
                    let (l, mut dy) = lv_train::mse(out, &t[i]);
                    for g in &mut dy {
                        *g *= GRAD_SCALE / nb;
                    }
                    return (l, dy);
                }
                let up = Resampler::new(s.lw, s.lh, s.w, s.h, BICUBIC).expect("resampler");
                let mut u = vec![0f32; s.w * s.h];
                up.process_f32(y, s.lw, &mut u, s.w);
                let (l, mut du) = lv_train::mse(&u, &s.x);
                // The loss is taken in squared 8-bit levels (x 255²): on 0..1 samples the
                // per-weight gradients of the inner layers fall to ~1e-9, below Adam's eps,
                // and those layers would barely train.
                for g in &mut du {
                    *g *= GRAD_SCALE / nb;
                }
                let mut dy = vec![0f32; s.lw * s.lh];
                up.process_f32_transpose(&du, s.w, &mut dy, s.lw);
                if args.mode == Mode::Scaled {
                    args.surrogate.backward(out, y, &mut dy);
                }
                if args.rate_weight > 0.0 {
                    let q = lv_train::rate::qstep(qp as f32);
                    let (_, dr) = lv_train::rate::rate_proxy(out, s.lw, s.lh, q);
                    for (g, d) in dy.iter_mut().zip(&dr) {
                        *g += args.rate_weight * d / nb;
                    }
                }
                // The reported loss stays the reconstruction error (comparable across λ, β).
                if args.guide > 0.0 {
                    let (_, dg) = lv_train::mse(out, &s.d);
                    for (g, d) in dy.iter_mut().zip(&dg) {
                        *g += args.guide * d * GRAD_SCALE / nb;
                    }
                }
                (l, dy)
            })
            .unzip();
        let lr = lr_at(&args, step);
        // d loss / d (resized picture): through the refinement net when there is one.
        let d_resized: Vec<Vec<f32>> = match &traces {
            Some(tr) if pre.is_some() => {
                let (grad, dxs) = backward_with_input(&net, tr, &dys);
                adam.step(&mut net.params, &grad, lr);
                dxs
            }
            Some(tr) => {
                let grad = net.backward_batch(tr, &dys);
                adam.step(&mut net.params, &grad, lr);
                Vec::new()
            }
            None => dys,
        };
        if let (Some(p), Some(tr), Some(ap)) = (pre.as_mut(), &pre_traces, adam_pre.as_mut()) {
            let dxp: Vec<Vec<f32>> = samples
                .par_iter()
                .zip(d_resized.par_iter())
                .zip(tr.par_iter())
                .zip(downs.par_iter())
                .map(|(((s, dd), t), r)| {
                    let mut dx = vec![0f32; s.w * s.h];
                    r.process_f32_transpose(dd, s.lw, &mut dx, s.w);
                    for (g, &v) in dx.iter_mut().zip(&t.output) {
                        if !(0.0..=1.0).contains(&v) {
                            *g = 0.0;
                        }
                    }
                    dx
                })
                .collect();
            let grad = p.backward_batch(tr, &dxp);
            ap.step(&mut p.params, &grad, lr);
        }
        step += 1;
        let loss = mean(&losses);
        avg_loss = if avg_loss.is_nan() {
            loss
        } else {
            0.98 * avg_loss + 0.02 * loss
        };
        bar.set_position(step);
        bar.set_message(format!("train {:.2} dB", psnr(avg_loss * 255.0 * 255.0)));
        if step % args.val_every == 0 || step == args.steps {
            let v = validate(args.refine.then_some(&net), pre.as_ref(), &val, &[], None)?;
            history.push((step, v.net, v.lanczos));
            log(&bar, format!(
                "step {step} ({:.0} s): val net {:.3} dB, lanczos {:.3} dB (gain {:+.3} dB), train {:.2} dB, lr {:.2e}",
                start.elapsed().as_secs_f64(),
                v.net,
                v.lanczos,
                v.net - v.lanczos,
                psnr(avg_loss * 255.0 * 255.0),
                lr_at(&args, step)
            ));
        }
        if step % args.checkpoint_every == 0 || step == args.steps {
            save(&net, &adam, step, &rng, &history)?;
        }
    }
    bar.finish();
    let secs = start.elapsed().as_secs_f64();

    // A continuation keeps the recipe of the model it started from.
    let recipe = match args.init.as_ref().and_then(|p| init_recipe(p)) {
        Some(prev) if !prev.is_empty() => format!("{prev} ; then: {command}"),
        _ => command.clone(),
    };
    if args.residual_gain != 1.0 {
        net.scale_residual(args.residual_gain);
    }
    if args.refine {
        let bytes = lv_graph::onnx::export_with(&net, &recipe, args.use_ratios, None);
        std::fs::write(&args.out, bytes).map_err(|e| format!("{}: {e}", args.out.display()))?;
    }
    if let (Some(p), Some(out)) = (&pre, &args.out_pre) {
        let bytes = lv_graph::onnx::export_with(p, &recipe, args.use_ratios, Some("pre"));
        std::fs::write(out, bytes).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    let fin = validate(
        args.refine.then_some(&net),
        pre.as_ref(),
        &val,
        &args.val_qps,
        codec.as_ref(),
    )?;
    println!("== dnnscale-train summary ==");
    println!("command: {command}");
    println!(
        "model: C={} hidden={} params={} MAC/pixel={} -> {}",
        net.config.channels,
        net.config.hidden_layers,
        net.num_params(),
        net.macs_per_pixel(),
        args.out.display()
    );
    println!(
        "steps: {} this run ({} total), {:.1} s ({:.1} steps/s), mode {:?}",
        step - first_step,
        step,
        secs,
        (step - first_step) as f64 / secs.max(1e-9),
        args.mode
    );
    println!(
        "validation ({} tiles, ratios {:?}): net {:.3} dB, lanczos {:.3} dB, gain {:+.3} dB",
        val.len(),
        VAL_RATIOS,
        fin.net,
        fin.lanczos,
        fin.net - fin.lanczos
    );
    for (r, a, b) in &fin.per_ratio {
        println!(
            "  ratio {r}: net {a:.3} dB, lanczos {b:.3} dB, gain {:+.3} dB",
            a - b
        );
    }
    for (q, a, b) in &fin.codec {
        println!(
            "  x264 qp {q}: net {a:.3} dB, lanczos {b:.3} dB, gain {:+.3} dB",
            a - b
        );
    }
    if let Some(p) = &args.summary {
        let val_tiles = val.iter().map(|t| t.name.clone()).collect();
        let s = Summary {
            head: Provenance::new(&args, command.clone(), &net, train.len(), val_tiles),
            steps: step,
            seconds: secs,
            final_train_loss_psnr: psnr(avg_loss * 255.0 * 255.0),
            val: fin,
            history,
        };
        summary::write(p, &s)?;
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("dnnscale-train: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The training step's gradient (net → bicubic → MSE, backward through the resampler's
    /// adjoint) against central differences of the same loss, on a real-sized sample.
    #[test]
    fn step_gradient_matches_finite_differences() {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(3);
        let p = 32;
        let x8: Vec<u8> = (0..p * p)
            .map(|i| {
                (128.0 + 60.0 * ((i % p) as f32 * 0.7).sin() * ((i / p) as f32 * 0.4).cos()) as u8
            })
            .collect();
        let l = low_size(p, 2.3);
        let d: Vec<f32> = lanczos_u8(&x8, p, p, l, l)
            .iter()
            .map(|&v| v as f32 / 255.0)
            .collect();
        let x: Vec<f32> = x8.iter().map(|&v| v as f32 / 255.0).collect();
        let mut net = RefineNet::new(
            RefineConfig {
                channels: 4,
                hidden_layers: 1,
            },
            1,
        );
        for q in net.params.iter_mut() {
            *q += (lv_graph::net::normal(&mut rng) * 0.05) as f32;
        }
        let up = Resampler::new(l, l, p, p, BICUBIC).unwrap();
        let loss = |net: &RefineNet| -> f64 {
            let y = net.forward(&d, l, l);
            let mut u = vec![0f32; p * p];
            up.process_f32(&y, l, &mut u, p);
            lv_train::mse(&u, &x).0
        };
        let t = net.forward_trace(&d, l, l);
        let mut u = vec![0f32; p * p];
        up.process_f32(&t.output, l, &mut u, p);
        let (_, du) = lv_train::mse(&u, &x);
        let mut dy = vec![0f32; l * l];
        up.process_f32_transpose(&du, p, &mut dy, l);
        let g = net.backward_batch(&[t], &[dy]);
        let eps = 1e-3;
        let mut checked = 0;
        for i in (0..net.num_params()).step_by(7) {
            let mut n2 = net.clone();
            n2.params[i] += eps;
            let lp = loss(&n2);
            n2.params[i] -= 2.0 * eps;
            let lm = loss(&n2);
            let num = (lp - lm) / (2.0 * eps as f64);
            assert!(
                (num - g[i] as f64).abs() <= 0.05 * num.abs() + 1e-6,
                "param {i}: analytic {} numeric {num}",
                g[i]
            );
            checked += 1;
        }
        assert!(checked > 10);
    }

    /// `--codec-frames`: each sequence is one tile, one ratio, one orientation, its crops a
    /// constant step apart and all inside the tile, whatever the tile's size.
    #[test]
    fn sequences_are_pans_inside_their_tile() {
        let args = parse_args_from([
            "--data",
            "d",
            "--out",
            "o.onnx",
            "--batch",
            "24",
            "--patch",
            "96",
            "--codec-frames",
            "6",
            "--motion",
            "4",
        ])
        .unwrap();
        let tiles: Vec<Tile> = [(512, 512), (100, 300), (96, 96)]
            .iter()
            .enumerate()
            .map(|(i, &(w, h))| Tile {
                name: format!("t{i}"),
                w,
                h,
                y: vec![0; w * h],
            })
            .collect();
        let mut rng = rand_pcg::Pcg64::seed_from_u64(5);
        let mut moving = 0;
        for _ in 0..50 {
            let specs = draw_specs(&mut rng, &tiles, &args);
            assert_eq!(specs.len(), 24);
            for seq in specs.chunks(6) {
                let a = &seq[0];
                let t = &tiles[a.tile];
                let step = (
                    seq[1].x0 as i64 - a.x0 as i64,
                    seq[1].y0 as i64 - a.y0 as i64,
                );
                assert!(step.0.abs() <= 4 && step.1.abs() <= 4);
                moving += usize::from(step != (0, 0));
                for (f, c) in seq.iter().enumerate() {
                    assert_eq!(
                        (c.tile, c.ratio, c.flip_h, c.transpose),
                        (a.tile, a.ratio, a.flip_h, a.transpose)
                    );
                    assert_eq!(c.x0 as i64, a.x0 as i64 + f as i64 * step.0);
                    assert_eq!(c.y0 as i64, a.y0 as i64 + f as i64 * step.1);
                    assert!(c.x0 + 96 <= t.w && c.y0 + 96 <= t.h);
                }
            }
        }
        assert!(moving > 100, "{moving} of 200 sequences moved");
        let noisy = parse_args_from([
            "--data",
            "d",
            "--out",
            "o",
            "--batch",
            "8",
            "--codec-frames",
            "4",
            "--noise",
            "4",
            "--noise-share",
            "1",
        ])
        .unwrap();
        for seq in draw_specs(&mut rng, &tiles, &noisy).chunks(4) {
            let n = &seq[0].noise;
            assert!(n.sigma > 0.0);
            for c in &seq[1..] {
                assert_eq!((c.noise.sigma, c.noise.correlated), (n.sigma, n.correlated));
                assert_ne!(c.noise.seed, n.seed);
            }
        }
        assert!(parse_args_from([
            "--data",
            "d",
            "--out",
            "o",
            "--batch",
            "10",
            "--codec-frames",
            "4"
        ])
        .is_err());
    }

    /// The multi-frame round trip puts frame t of each sequence back where it came from: at a
    /// fine quantiser every plane returns within a few levels, and one frame is the one-picture
    /// round trip.
    #[test]
    fn multi_frame_round_trip_returns_each_plane() {
        let codec =
            lv_tools::x264::Codec::new("dnnscale-train-test").expect("the oracle is required");
        let planes: Vec<(usize, usize, Vec<u8>)> = (0..6)
            .map(|i| {
                let (s, t) = (i / 3, i % 3);
                let (w, h) = (40 + 8 * s, 36);
                let y = (0..w * h)
                    .map(|j| {
                        let (x, y) = ((j % w + 2 * t) as f32, (j / w) as f32);
                        (128.0 + 90.0 * (x * (0.2 + 0.1 * s as f32)).sin() * (y * 0.15).cos()) as u8
                    })
                    .collect();
                (w, h, y)
            })
            .collect();
        let rc = lv_tools::x264::RateControl::Qp;
        let back = codec.roundtrip_frames(&planes, 3, rc, 4).unwrap();
        for ((w, h, y), b) in planes.iter().zip(&back) {
            assert_eq!(b.len(), w * h);
            let worst = y.iter().zip(b).map(|(&a, &b)| a.abs_diff(b)).max().unwrap();
            assert!(worst <= 6, "a plane came back {worst} levels off");
        }
        let one = codec.roundtrip_frames(&planes[..2], 1, rc, 30).unwrap();
        assert_eq!(one, codec.roundtrip_rc(&planes[..2], rc, 30).unwrap());
        assert!(codec.roundtrip_frames(&planes[..5], 3, rc, 30).is_err());
    }
}
