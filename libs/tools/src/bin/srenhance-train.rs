//! srenhance-train: trains the generic ×2 super-resolution model of `srenhance`
//! (docs/srenhance-design.md) on natural photo tiles and exports it as a
//! `srenhance-refine-v1` ONNX model.
//!
//! Pairs: HR tile (BT.709 limited-range luma of the PNG) → Lanczos-3 ×0.5 (8-bit, swscale
//! convention) → optionally x264 at a fixed QP through the oracle ffmpeg (all tiles of one
//! QP mosaicked into one intra-coded picture) → Catmull-Rom ×2 (8-bit, the element's
//! upscale) → network; loss = MSE against the HR tile, on random `crop` squares with
//! context (`lv_livenas::trainer`). Each QP in `--qps` (and `clean`, no codec) is one variant of
//! every tile; a step draws tiles and variants uniformly.
//!
//! `--video HR.y4m LR.y4m` (repeatable) adds video pairs: every `--video-every`-th frame of a
//! source and of its decoded half-size ingest (the element's input, e.g. x264 at the
//! operating point; scripts/fit-srenhance-postfilter.sh builds them), Catmull-Rom ×2 of the
//! ingest as the network's input. A `--video-share` of the windows comes from them.
//!
//! ```text
//! srenhance-train --data DIR --out model.onnx [--val-ids id,id] [--exclude id,id]
//!     [--steps N] [--batch N] [--crop PX] [--channels C] [--layers L] [--linear-skip]
//!     [--expand E] [--augment] [--lr LR] [--seed S] [--qps clean,24,30,36] [--threads N]
//!     [--val-every N] [--summary FILE] [--video HR.y4m LR.y4m ...] [--video-every N]
//!     [--video-share P]
//! ```

use std::path::PathBuf;
use std::time::Instant;

use lv_image::plane::Plane;
use lv_image::resample::{Kernel, Resampler};
use lv_livenas::store::StoredPatch;
use lv_livenas::trainer::{bicubic_u8, quality_on, Trainer, TrainerConfig};
use lv_tools::cli::{self, list, value};
use lv_tools::summary::{self, Provenance};
use lv_tools::tiles::{self, Tile};
use lv_tools::x264::Codec;
use lv_train::{RefineConfig, RefineNet};
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
struct Args {
    data: PathBuf,
    out: PathBuf,
    val_ids: Vec<String>,
    exclude: Vec<String>,
    steps: u64,
    batch: usize,
    crop: usize,
    channels: usize,
    layers: usize,
    /// RefineNet's linear branch (`Conv(4→4)` on the SpaceToDepth input) beside the ReLU stack.
    linear_skip: bool,
    /// Train each conv as `D + U·V` with `V` `E` channels wide, folded after every step
    /// (`lv_train::expand`; 0: plain). The exported net is the plain architecture. It needs a
    /// lower `--lr` than the plain net: with E = 64, 3e-3 switched every ReLU off within 10000
    /// steps, 1e-3 trained (models/srenhance/EVAL.md, session 16).
    expand: usize,
    /// Each training window in one of the eight flips and transposes of the square, drawn
    /// uniformly (the data order of runs without it is unchanged).
    augment: bool,
    lr: f32,
    seed: u64,
    /// `None` = no codec.
    qps: Vec<Option<u32>>,
    /// (source, decoded half-size ingest) y4m pairs.
    video: Vec<(PathBuf, PathBuf)>,
    video_every: usize,
    /// Share of the training windows drawn from the video pairs (when there are any).
    video_share: f64,
    threads: usize,
    val_every: u64,
    summary: Option<PathBuf>,
}

const USAGE: &str = "usage: srenhance-train --data DIR --out model.onnx [--val-ids id,id] \
[--exclude id,id] [--steps N] [--batch N] [--crop PX] [--channels C (1..=256)] [--layers L (0..=64)] [--linear-skip] \
[--expand E (0..=256)] [--augment] [--lr LR (0 < LR <= 1)] [--seed S] [--qps clean,24,30,36] \
[--threads N (0: one per core; more than 256 is an error)] [--val-every N] [--summary FILE] \
[--video HR.y4m LR.y4m ...] [--video-every N] [--video-share P]";

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        data: PathBuf::new(),
        out: PathBuf::new(),
        val_ids: list("lomiri16_friends,mate_blinds"),
        // The evaluation clips are camera pans over these photos (models/dnnscale/MODEL_CARD.md).
        exclude: list("lomiri16_seeding,lomiri20_kleiber,lomiri16_picosdeeuropa"),
        steps: 2000,
        batch: 16,
        crop: 48,
        channels: 8,
        layers: 1,
        linear_skip: false,
        expand: 0,
        augment: false,
        lr: 2e-3,
        seed: 1,
        qps: vec![None, Some(24), Some(30), Some(36)],
        video: Vec::new(),
        video_every: 10,
        video_share: 0.5,
        threads: 0,
        val_every: 250,
        summary: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(f) = it.next() {
        match f.as_str() {
            "--data" => a.data = value::<String>(&f, it.next())?.into(),
            "--out" => a.out = value::<String>(&f, it.next())?.into(),
            "--val-ids" => a.val_ids = list(&value::<String>(&f, it.next())?),
            "--exclude" => a.exclude = list(&value::<String>(&f, it.next())?),
            "--steps" => a.steps = value(&f, it.next())?,
            "--batch" => a.batch = value(&f, it.next())?,
            "--crop" => a.crop = value(&f, it.next())?,
            "--channels" => a.channels = value(&f, it.next())?,
            "--layers" => a.layers = value(&f, it.next())?,
            "--linear-skip" => a.linear_skip = true,
            "--expand" => a.expand = value(&f, it.next())?,
            "--augment" => a.augment = true,
            "--video" => {
                let hr: String = value(&f, it.next())?;
                let lr: String = value(&f, it.next())?;
                a.video.push((hr.into(), lr.into()));
            }
            "--video-every" => a.video_every = value::<usize>(&f, it.next())?.max(1),
            "--video-share" => a.video_share = value(&f, it.next())?,
            "--lr" => a.lr = value(&f, it.next())?,
            "--seed" => a.seed = value(&f, it.next())?,
            "--threads" => a.threads = value(&f, it.next())?,
            "--val-every" => a.val_every = value(&f, it.next())?,
            "--summary" => a.summary = Some(value::<String>(&f, it.next())?.into()),
            "--qps" => {
                a.qps = list(&value::<String>(&f, it.next())?)
                    .iter()
                    .map(|q| {
                        if q == "clean" {
                            Ok(None)
                        } else {
                            q.parse::<u32>()
                                .ok()
                                .filter(|&q| q <= 51)
                                .map(Some)
                                .ok_or_else(|| format!("--qps: bad QP {q:?}"))
                        }
                    })
                    .collect::<Result<_, _>>()?
            }
            _ => cli::other_flag(&f, USAGE)?,
        }
    }
    cli::require_data_out(&a.data, &a.out, USAGE)?;
    // Sizes and counts, before anything is built from them (0 channels fails an assertion,
    // 100000 an allocation of hundreds of GB).
    cli::in_range("--steps", a.steps, 1, cli::MAX_STEPS)?;
    cli::in_range("--batch", a.batch, 1, 1024)?;
    cli::in_range("--crop", a.crop, 8, 4096)?;
    cli::in_range("--channels", a.channels, 1, cli::MAX_CHANNELS)?;
    cli::in_range("--layers", a.layers, 0, cli::MAX_LAYERS)?;
    cli::in_range("--expand", a.expand, 0, cli::MAX_CHANNELS)?;
    cli::at_least("--val-every", a.val_every, 1)?;
    cli::positive("--lr", a.lr as f64, 1.0)?;
    cli::in_range("--video-share", a.video_share, 0.0, 1.0)?;
    if a.qps.is_empty() {
        return Err("--qps: empty list".into());
    }
    Ok(a)
}

/// One tile's network inputs, one per variant (the ×2 upscale of its degraded half size).
struct Prepared {
    tile: Tile,
    inputs: Vec<Vec<u8>>,
}

/// Lanczos ×0.5, the variants' codec round trips, Catmull-Rom ×2, for tiles of one size.
fn prepare(tiles: Vec<Tile>, qps: &[Option<u32>]) -> Result<Vec<Prepared>, String> {
    // Group by size so each mosaic holds equally sized tiles.
    let mut out: Vec<Prepared> = Vec::new();
    let mut sizes: Vec<(usize, usize)> = tiles.iter().map(|t| (t.w, t.h)).collect();
    sizes.sort();
    sizes.dedup();
    let mut tiles: Vec<Option<Tile>> = tiles.into_iter().map(Some).collect();
    for (w, h) in sizes {
        let group: Vec<Tile> = tiles
            .iter_mut()
            .filter(|t| t.as_ref().is_some_and(|t| (t.w, t.h) == (w, h)))
            .map(|t| t.take().unwrap())
            .collect();
        let (lw, lh) = (w / 2, h / 2);
        let down = Resampler::new(w, h, lw, lh, Kernel::LANCZOS3).map_err(|e| e.to_string())?;
        let lows: Vec<Vec<u8>> = group
            .par_iter()
            .map(|t| {
                let mut d = vec![0u8; lw * lh];
                down.process_u8(&Plane::new_u8(&t.y, w, h, w), &mut d, lw);
                d
            })
            .collect();
        let mut per_variant: Vec<Vec<Vec<u8>>> = Vec::new();
        for q in qps {
            let degraded = match q {
                None => lows.clone(),
                Some(qp) => {
                    let planes: Vec<_> = lows.iter().map(|v| (lw, lh, v.as_slice())).collect();
                    Codec::new("srenhance-train")?.roundtrip(&planes, *qp)?
                }
            };
            per_variant.push(
                degraded
                    .par_iter()
                    .map(|d| bicubic_u8(d, lw, lh, lw, w, h))
                    .collect(),
            );
        }
        for (i, t) in group.into_iter().enumerate() {
            out.push(Prepared {
                inputs: per_variant.iter().map(|v| v[i].clone()).collect(),
                tile: t,
            });
        }
    }
    Ok(out)
}

/// Video pairs as training entries: the source's luma as the tile, the Catmull-Rom ×2 of the
/// decoded ingest's luma as its one input.
fn prepare_video(
    hr: &std::path::Path,
    lr: &std::path::Path,
    every: usize,
) -> Result<Vec<Prepared>, String> {
    let (aw, ah, highs) = lv_tools::video::luma_frames(hr, every)?;
    let (lw, lh, lows) = lv_tools::video::luma_frames(lr, every)?;
    let (w, h) = (aw / 2 * 2, ah / 2 * 2);
    if (lw, lh) != (w / 2, h / 2) {
        return Err(format!(
            "{}: {lw}x{lh}, {}x{} expected",
            lr.display(),
            w / 2,
            h / 2
        ));
    }
    Ok(highs
        .into_iter()
        .zip(lows)
        .enumerate()
        .map(|(i, (high, low))| Prepared {
            inputs: vec![bicubic_u8(&low, lw, lh, lw, w, h)],
            tile: Tile {
                name: format!("{}#{}", hr.display(), i * every),
                w,
                h,
                y: (0..h)
                    .flat_map(|r| high[r * aw..r * aw + w].iter().copied())
                    .collect(),
            },
        })
        .collect())
}

#[derive(Clone, Debug, Default, Serialize)]
struct Val {
    /// Per variant: (label, net PSNR, bicubic PSNR), mean over tiles of the per-tile PSNR.
    variants: Vec<(String, f64, f64)>,
    net: f64,
    bicubic: f64,
}

fn label(q: &Option<u32>) -> String {
    q.map_or("clean".into(), |q| format!("x264 qp {q}"))
}

fn validate(net: &RefineNet, val: &[Prepared], qps: &[Option<u32>], margin: usize) -> Val {
    let mut v = Val::default();
    if val.is_empty() {
        return v;
    }
    for (k, q) in qps.iter().enumerate() {
        let (n, b): (Vec<f64>, Vec<f64>) = val
            .par_iter()
            .map(|p| {
                let t = &p.tile;
                let sp = StoredPatch::from_upscaled(
                    0,
                    &p.inputs[k],
                    t.w,
                    t.h,
                    t.w,
                    0,
                    0,
                    t.y.clone(),
                    t.w.min(t.h),
                    margin,
                );
                let bic = lv_livenas::trainer::psnr_u8(&sp.input_under_target(), &sp.target);
                (quality_on(net, &[&sp]), bic)
            })
            .unzip();
        v.variants.push((label(q), mean(&n), mean(&b)));
    }
    v.net = mean(&v.variants.iter().map(|x| x.1).collect::<Vec<_>>());
    v.bicubic = mean(&v.variants.iter().map(|x| x.2).collect::<Vec<_>>());
    v
}

/// The pair in one of the eight symmetries of the square (bit 0: mirror left-right, bit 1:
/// upside down, bit 2: transpose first). The window is the target plus the same even margin on
/// every side, so the target stays centred and on the 2x2 phase of the network; the Lanczos
/// down, Catmull-Rom up chain that made the input is symmetric under all eight.
fn dihedral(mut p: StoredPatch, t: u32) -> StoredPatch {
    let n = p.input_w;
    assert!(
        p.input_h == n && p.target_x == p.target_y && 2 * p.target_x + p.size == n,
        "training windows are centred squares"
    );
    let map = |v: &[u8], n: usize| -> Vec<u8> {
        (0..n * n)
            .map(|i| {
                let (mut x, mut y) = (i % n, i / n);
                if t & 1 != 0 {
                    x = n - 1 - x;
                }
                if t & 2 != 0 {
                    y = n - 1 - y;
                }
                if t & 4 != 0 {
                    (x, y) = (y, x);
                }
                v[y * n + x]
            })
            .collect()
    };
    p.input = map(&p.input, n);
    p.target = map(&p.target, p.size);
    p
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn lr_at(args: &Args, step: u64) -> f32 {
    cli::cosine_lr(args.lr, args.steps, step)
}

#[derive(Serialize)]
struct Summary<'a> {
    #[serde(flatten)]
    head: Provenance<'a, Args>,
    prepare_seconds: f64,
    train_seconds: f64,
    start: Val,
    end: Val,
    history: Vec<(u64, f64, f64)>,
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    cli::set_threads(args.threads)?;
    let command = cli::command_line("srenhance-train");
    // The network first (its receptive field sets the context around each crop).
    let net = RefineNet::new(
        RefineConfig {
            channels: args.channels,
            hidden_layers: args.layers,
        },
        args.seed,
    );
    let net = if args.linear_skip {
        net.with_linear_skip()
    } else {
        net
    };
    let mut trainer = Trainer::new(
        net,
        TrainerConfig {
            learning_rate: args.lr,
            batch_size: args.batch,
            crop: args.crop,
            seed: args.seed,
            ..TrainerConfig::default()
        },
    );
    if args.expand > 0 {
        trainer.expand(args.expand, args.seed ^ 0x5e5);
    }
    let margin = trainer.margin();
    // Too small for a crop with room around it (at least 16 on each side, as ever, and the
    // network's context): passed over.
    let need = args.crop + (2 * margin).max(32);
    let mut small: Option<(String, usize, usize)> = None;
    let mut n_small = 0usize;
    let (train, val) = tiles::load_split(&args.data, &args.exclude, &args.val_ids, |t| {
        let (name, w, h) = (t.name.clone(), t.w, t.h);
        let t = t.even();
        if t.w >= need && t.h >= need {
            return Ok(Some(t));
        }
        n_small += 1;
        small.get_or_insert((name, w, h));
        Ok(None)
    })
    .map_err(|e| match &small {
        Some((name, w, h)) if e == tiles::no_training_tiles(&args.data) => format!(
            "{e}: {n_small} tile(s) smaller than --crop {} plus context ({need}x{need} needed; \
             {name} is {w}x{h})",
            args.crop
        ),
        _ => e,
    })?;
    eprintln!(
        "{} training tiles, {} validation tiles ({})",
        train.len(),
        val.len(),
        args.val_ids.join(",")
    );
    let t0 = Instant::now();
    let train = prepare(train, &args.qps)?;
    let val = prepare(val, &args.qps)?;
    let mut video = Vec::new();
    for (hr, lr) in &args.video {
        let frames = prepare_video(hr, lr, args.video_every)?;
        if let Some(t) = frames
            .first()
            .filter(|p| p.tile.w < need || p.tile.h < need)
        {
            return Err(format!(
                "{}: {}x{} is smaller than --crop {} plus context ({need}x{need})",
                hr.display(),
                t.tile.w,
                t.tile.h,
                args.crop
            ));
        }
        video.extend(frames);
    }
    if !video.is_empty() {
        eprintln!(
            "{} video frames ({} of the windows)",
            video.len(),
            args.video_share
        );
    }
    let prepare_seconds = t0.elapsed().as_secs_f64();
    eprintln!("prepared the variants in {prepare_seconds:.1} s");

    eprintln!(
        "RefineNet C={} hidden={} linear skip {} expansion {} augment {} ({} params, {} MAC/pixel, receptive radius {})",
        args.channels,
        args.layers,
        args.linear_skip,
        args.expand,
        args.augment,
        trainer.net().num_params(),
        trainer.net().macs_per_pixel(),
        trainer.net().receptive_radius()
    );
    let start = validate(trainer.net(), &val, &args.qps, margin);
    eprintln!(
        "validation at start: net {:.3} dB, bicubic {:.3} dB",
        start.net, start.bicubic
    );
    let mut rng = rand_pcg::Pcg64::seed_from_u64(args.seed ^ 0x5eed);
    let mut history = Vec::new();
    let t1 = Instant::now();
    let side = args.crop + 2 * margin;
    let mut avg = f64::NAN;
    for step in 0..args.steps {
        // Random windows of `crop` + context; the trainer takes the whole `crop` square.
        let pairs: Vec<StoredPatch> = (0..args.batch)
            .map(|_| {
                let p = if !video.is_empty() && rng.random::<f64>() < args.video_share {
                    &video[rng.random_range(0..video.len())]
                } else {
                    &train[rng.random_range(0..train.len())]
                };
                let k = rng.random_range(0..p.inputs.len());
                let t = &p.tile;
                let x0 = rng.random_range(0..=(t.w - side) / 2) * 2 + margin;
                let y0 = rng.random_range(0..=(t.h - side) / 2) * 2 + margin;
                let mut target = Vec::with_capacity(args.crop * args.crop);
                for r in 0..args.crop {
                    let o = (y0 + r) * t.w + x0;
                    target.extend_from_slice(&t.y[o..o + args.crop]);
                }
                let pair = StoredPatch::from_upscaled(
                    0,
                    &p.inputs[k],
                    t.w,
                    t.h,
                    t.w,
                    x0,
                    y0,
                    target,
                    args.crop,
                    margin,
                );
                if args.augment {
                    dihedral(pair, rng.random_range(0..8))
                } else {
                    pair
                }
            })
            .collect();
        trainer.set_learning_rate(lr_at(&args, step));
        let refs: Vec<&StoredPatch> = pairs.iter().collect();
        let loss = trainer.step_on(&refs).unwrap();
        avg = if avg.is_nan() {
            loss
        } else {
            0.98 * avg + 0.02 * loss
        };
        let s = step + 1;
        if s % args.val_every == 0 || s == args.steps {
            let v = validate(trainer.net(), &val, &args.qps, margin);
            history.push((s, v.net, v.bicubic));
            eprintln!(
                "step {s} ({:.0} s): val net {:.3} dB, bicubic {:.3} dB (gain {:+.3} dB), train {:.2} dB",
                t1.elapsed().as_secs_f64(),
                v.net,
                v.bicubic,
                v.net - v.bicubic,
                lv_livenas::trainer::psnr_from_mse(avg * 255.0 * 255.0)
            );
        }
    }
    let train_seconds = t1.elapsed().as_secs_f64();
    std::fs::write(&args.out, trainer.export(&command))
        .map_err(|e| format!("{}: {e}", args.out.display()))?;
    let end = validate(trainer.net(), &val, &args.qps, margin);
    println!("== srenhance-train summary ==");
    println!("command: {command}");
    println!(
        "model: C={} hidden={} params={} MAC/pixel={} -> {}",
        args.channels,
        args.layers,
        trainer.net().num_params(),
        trainer.net().macs_per_pixel(),
        args.out.display()
    );
    println!(
        "{} steps in {train_seconds:.1} s ({:.2} steps/s); data preparation {prepare_seconds:.1} s",
        args.steps,
        args.steps as f64 / train_seconds.max(1e-9)
    );
    println!(
        "held-out tiles ({}): net {:.3} dB, bicubic {:.3} dB, gain {:+.3} dB",
        val.len(),
        end.net,
        end.bicubic,
        end.net - end.bicubic
    );
    for (l, n, b) in &end.variants {
        println!(
            "  {l}: net {n:.3} dB, bicubic {b:.3} dB, gain {:+.3} dB",
            n - b
        );
    }
    if let Some(p) = &args.summary {
        let val_tiles = val.iter().map(|p| p.tile.name.clone()).collect();
        let s = Summary {
            head: Provenance::new(&args, command, trainer.net(), train.len(), val_tiles),
            prepare_seconds,
            train_seconds,
            start,
            end,
            history,
        };
        summary::write(p, &s)?;
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("srenhance-train: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every symmetry keeps the target where the input's centre is, and the eight differ.
    #[test]
    fn dihedral_keeps_the_pair_aligned() {
        let (size, margin) = (4usize, 2usize);
        let n = size + 2 * margin;
        let input: Vec<u8> = (0..n * n).map(|i| (i * 7 % 251) as u8).collect();
        let centre = |v: &[u8]| -> Vec<u8> {
            (0..size * size)
                .map(|i| v[(margin + i / size) * n + margin + i % size])
                .collect()
        };
        let pair = StoredPatch {
            pts: 0,
            size,
            target: centre(&input),
            input: input.clone(),
            input_w: n,
            input_h: n,
            target_x: margin,
            target_y: margin,
            seq: 0,
            bilinear_mse: f64::NAN,
        };
        let mut seen = Vec::new();
        for t in 0..8 {
            let p = dihedral(pair.clone(), t);
            assert_eq!(centre(&p.input), p.target, "symmetry {t}");
            assert!(!seen.contains(&p.input), "symmetry {t} repeats another");
            seen.push(p.input);
        }
        assert_eq!(seen[0], input);
    }
}
