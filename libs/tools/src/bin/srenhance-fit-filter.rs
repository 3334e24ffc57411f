//! srenhance-fit-filter: fits `srenhance`'s generic post-filter (`lv_livenas::postfilter`) on
//! whole frames of the generic model's output against the source, and writes it as a `.lvpf`
//! file for the element's `post-filter-model` (or for embedding as
//! `models/srenhance/postfilter.lvpf`).
//!
//! Pairs are y4m files of the same size and frame count: `--pair SOURCE.y4m SR.y4m`, where SR
//! is the element's output with `training=false post-filter=false` on the ingest of SOURCE
//! (scripts/fit-srenhance-postfilter.sh builds them). Every `--every`-th frame adds all its
//! luma pixels to the normal equations; `--val` pairs are only measured (PSNR-Y of SR and of
//! SR + filter on the same frames).
//!
//! ```text
//! srenhance-fit-filter --out F.lvpf --pair SRC.y4m SR.y4m [--pair ...] [--val SRC.y4m SR.y4m]
//!     [--every N] [--threads N]
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use lv_livenas::postfilter::{Filter, Normal};
use lv_livenas::trainer::psnr_u8;
use lv_tools::cli::{self, value};
use lv_tools::video::luma_frames;
use rayon::prelude::*;

const USAGE: &str = "srenhance-fit-filter --out F.lvpf --pair SRC.y4m SR.y4m [--pair ...] \
                     [--val SRC.y4m SR.y4m] [--every N] [--threads N]";

struct Args {
    out: PathBuf,
    pairs: Vec<(PathBuf, PathBuf)>,
    val: Vec<(PathBuf, PathBuf)>,
    every: usize,
    threads: usize,
}

fn parse() -> Result<Args, String> {
    let mut a = Args {
        out: PathBuf::new(),
        pairs: Vec::new(),
        val: Vec::new(),
        every: 10,
        threads: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--out" => a.out = value(&flag, it.next())?,
            "--pair" | "--val" => {
                let src: PathBuf = value(&flag, it.next())?;
                let sr: PathBuf = value(&flag, it.next())?;
                if flag == "--pair" {
                    a.pairs.push((src, sr));
                } else {
                    a.val.push((src, sr));
                }
            }
            "--every" => a.every = value::<usize>(&flag, it.next())?.max(1),
            "--threads" => a.threads = value(&flag, it.next())?,
            _ => cli::other_flag(&flag, USAGE)?,
        }
    }
    if a.out.as_os_str().is_empty() || a.pairs.is_empty() {
        return Err(format!("--out and at least one --pair are needed\n{USAGE}"));
    }
    Ok(a)
}

/// Luma planes of every `every`-th frame of both files, as (width, height, source, sr).
type Lumas = (usize, usize, Vec<(Vec<u8>, Vec<u8>)>);

fn read_lumas(src: &Path, sr: &Path, every: usize) -> Result<Lumas, String> {
    let (w, h, a) = luma_frames(src, every)?;
    let (sw, sh, b) = luma_frames(sr, every)?;
    if (sw, sh) != (w, h) {
        return Err(format!(
            "{} and {}: not the same size",
            src.display(),
            sr.display()
        ));
    }
    Ok((w, h, a.into_iter().zip(b).collect()))
}

fn main() {
    if let Err(e) = run() {
        eprintln!("srenhance-fit-filter: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args = parse()?;
    cli::set_threads(args.threads)?;
    let t0 = Instant::now();
    let mut normal = Normal::default();
    for (src, sr) in &args.pairs {
        let (w, h, frames) = read_lumas(src, sr, args.every)?;
        let n = frames
            .par_iter()
            .fold(Normal::default, |mut n, (hr, out)| {
                n.add_plane(out, w, hr, w, w, h);
                n
            })
            .reduce(Normal::default, Normal::merge);
        normal = normal.merge(n);
        println!(
            "{}: {} frames of {w}x{h} ({:.0} s)",
            sr.display(),
            frames.len(),
            t0.elapsed().as_secs_f64()
        );
    }
    let filter: Filter = normal
        .solve()
        .ok_or("no bucket had enough samples to fit")?;
    std::fs::write(&args.out, filter.to_bytes())
        .map_err(|e| format!("{}: {e}", args.out.display()))?;
    println!(
        "{}: {} of {} buckets fitted from {:.0} samples",
        args.out.display(),
        filter.fitted,
        lv_livenas::postfilter::BUCKETS,
        normal.samples()
    );
    for (src, sr) in &args.val {
        let (w, h, frames) = read_lumas(src, sr, args.every)?;
        let (mut before, mut after) = (0.0, 0.0);
        let mut scratch = Vec::new();
        for (hr, out) in &frames {
            let mut y = out.clone();
            filter.apply_plane(&mut y, w, w, h, &mut scratch);
            before += psnr_u8(out, hr);
            after += psnr_u8(&y, hr);
        }
        let n = frames.len().max(1) as f64;
        println!(
            "validation {}: PSNR-Y {:.3} -> {:.3} dB ({:+.3}) on {} frames",
            sr.display(),
            before / n,
            after / n,
            (after - before) / n,
            frames.len()
        );
    }
    Ok(())
}
