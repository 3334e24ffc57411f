//! Agreement of `lv_image::resample` with ffmpeg's swscale (the oracle's `scale` filter with
//! `accurate_rnd+full_chroma_int+bitexact`) and, where `gst-launch-1.0` is installed, with
//! GStreamer's `videoscale`, on natural clips. Every case prints per-plane PSNR of ours
//! against theirs, the largest sample difference and the share of identical samples.
//!
//!   LV_FFMPEG=... LV_CORPUS=... cargo test -p lvcore --test oracle_resample -- --nocapture
//!
//! The 1080p cases need the bench clip (`scripts/fetch-test-deps.sh --bench`) and are skipped
//! with a note without it.

use std::path::{Path, PathBuf};
use std::process::Command;

use lv_image::plane::Plane;
use lv_image::resample::{Convention, Kernel, Resampler, ResamplerConfig};
use lv_testkit::oracle;
use lv_testkit::y4m::{self, Frame, Header};

struct Clip {
    h: Header,
    frames: Vec<Frame>,
}

/// The first `n` frames of a y4m file.
fn load(p: &Path, n: usize) -> Clip {
    let f = std::fs::File::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut r = y4m::Reader::new(std::io::BufReader::new(f)).unwrap();
    let mut frames = Vec::new();
    while frames.len() < n {
        match r.next_frame().unwrap() {
            Some(f) => frames.push(f),
            None => break,
        }
    }
    Clip {
        h: r.header,
        frames,
    }
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes (once, in the scratch directory) the first `frames` frames of `src` through ffmpeg
/// with video filter `vf`.
fn ffmpeg_make(src: &Path, name: &str, vf: &str, frames: usize) -> PathBuf {
    let out = oracle::scratch_dir().join(format!("resample__{name}.y4m"));
    if out.is_file() {
        return out;
    }
    let tmp = oracle::unique_tmp(&out);
    run(Command::new(oracle::ffmpeg().expect("oracle ffmpeg"))
        .args(["-v", "error", "-y", "-i"])
        .arg(src)
        .args(["-frames:v", &frames.to_string(), "-vf", vf])
        .args(["-f", "yuv4mpegpipe", "-strict", "-1"])
        .arg(&tmp));
    std::fs::rename(&tmp, &out).unwrap();
    out
}

/// Whether GStreamer's command-line tools and the elements used here are installed.
fn have_gst() -> bool {
    ["y4mdec", "videoscale", "y4menc"].iter().all(|e| {
        Command::new("gst-inspect-1.0")
            .arg(e)
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false)
    })
}

/// Makes (once) `src` (a short clip) scaled by GStreamer's videoscale with `props`.
fn videoscale_make(src: &Path, name: &str, props: &str, w: usize, h: usize) -> PathBuf {
    let out = oracle::scratch_dir().join(format!("resample__gst_{name}.y4m"));
    if out.is_file() {
        return out;
    }
    let tmp = oracle::unique_tmp(&out);
    let pipeline = format!(
        "filesrc location={} ! y4mdec ! videoscale {props} ! video/x-raw,width={w},height={h} \
         ! y4menc ! filesink location={}",
        src.display(),
        tmp.display()
    );
    run(Command::new("gst-launch-1.0")
        .arg("-q")
        .args(pipeline.split_whitespace()));
    std::fs::rename(&tmp, &out).unwrap();
    out
}

/// Differences of one plane over all frames.
#[derive(Default, Clone, Copy)]
struct Stats {
    sse: f64,
    n: u64,
    max: u32,
    same: u64,
    peak: f64,
}

impl Stats {
    fn psnr(&self) -> f64 {
        if self.sse == 0.0 {
            f64::INFINITY
        } else {
            10.0 * (self.peak * self.peak * self.n as f64 / self.sse).log10()
        }
    }
    fn show(&self) -> String {
        format!(
            "{:>7} dB max {:>2} same {:>6.2}%",
            if self.sse == 0.0 {
                "exact".to_string()
            } else {
                format!("{:.2}", self.psnr())
            },
            self.max,
            100.0 * self.same as f64 / self.n as f64
        )
    }
}

/// Runs ours on every plane of `src`'s frames and compares with `theirs`.
fn compare(src: &Clip, theirs: &Clip, kernel: Kernel, convention: Convention) -> [Stats; 3] {
    let (ih, oh) = (&src.h, &theirs.h);
    assert_eq!(ih.bpc, oh.bpc);
    assert!(theirs.frames.len() >= src.frames.len().min(theirs.frames.len()));
    let n = src.frames.len().min(theirs.frames.len());
    assert!(n > 0, "no frames to compare");
    let bpc = ih.bpc;
    let mut stats = [Stats {
        peak: ((1u32 << bpc) - 1) as f64,
        ..Default::default()
    }; 3];
    for (p, st) in stats.iter_mut().enumerate() {
        let (iw, ihh) = ih.plane_dims(p);
        let (ow, ohh) = oh.plane_dims(p);
        let mut cfg = ResamplerConfig::new(iw, ihh, ow, ohh, kernel);
        cfg.convention = convention;
        let r = Resampler::with_config(cfg).unwrap();
        for f in 0..n {
            let s = &src.frames[f].planes[p];
            let ours: Vec<u16> = if bpc == 8 {
                let s8: Vec<u8> = s.iter().map(|&v| v as u8).collect();
                let mut d = vec![0u8; ow * ohh];
                r.process_u8(&Plane::new_u8(&s8, iw, ihh, iw), &mut d, ow);
                d.into_iter().map(u16::from).collect()
            } else {
                let mut d = vec![0u16; ow * ohh];
                r.process_u16(&Plane::new_u16(s, iw, ihh, iw, bpc), &mut d, ow);
                d
            };
            for (&a, &b) in ours.iter().zip(&theirs.frames[f].planes[p]) {
                let d = (a as i32 - b as i32).unsigned_abs();
                st.sse += (d as f64) * (d as f64);
                st.max = st.max.max(d);
                st.same += (d == 0) as u64;
                st.n += 1;
            }
        }
    }
    stats
}

fn report(label: &str, s: &[Stats; 3]) {
    println!(
        "{label:<44} Y {} | U {} | V {}",
        s[0].show(),
        s[1].show(),
        s[2].show()
    );
}

const SWSCALE_KERNELS: [(&str, Kernel); 5] = [
    ("lanczos", Kernel::LANCZOS3),
    ("bicubic", Kernel::BICUBIC_SWS),
    ("bilinear", Kernel::Bilinear),
    ("catmull-rom", Kernel::CATMULL_ROM),
    ("area", Kernel::Area),
];

/// Compares ours with ffmpeg for `src` -> every size in `sizes`, every kernel; returns the
/// worst luma PSNR and whether every plane of every case was identical.
fn swscale_cases(
    src_path: &Path,
    tag: &str,
    frames: usize,
    sizes: &[(usize, usize)],
    kernels: &[(&str, Kernel)],
) -> (f64, bool) {
    let src = load(src_path, frames);
    let mut worst = f64::INFINITY;
    let mut exact = true;
    for &(w, h) in sizes {
        for &(name, k) in kernels {
            let out = ffmpeg_make(
                src_path,
                &format!("{tag}_{w}x{h}_{name}_{frames}f"),
                &k.ffmpeg_scale(w, h),
                frames,
            );
            let theirs = load(&out, frames);
            assert_eq!((theirs.h.width, theirs.h.height), (w, h));
            let s = compare(&src, &theirs, k, Convention::Swscale);
            report(
                &format!("{tag} {}x{} -> {w}x{h} {name}", src.h.width, src.h.height),
                &s,
            );
            worst = worst.min(s[0].psnr());
            exact &= s.iter().all(|p| p.max == 0);
        }
    }
    (worst, exact)
}

/// The brief's goal is > 45 dB for luma; the swscale convention is in fact bit-exact with
/// the pinned oracle, and that is what is checked.
fn check(label: &str, (worst, exact): (f64, bool)) {
    assert!(
        worst > 45.0,
        "{label}: worst luma PSNR vs ffmpeg {worst:.2} dB"
    );
    assert!(
        exact,
        "{label}: not bit-exact with ffmpeg (worst luma {worst:.2} dB)"
    );
}

fn test_clip() -> PathBuf {
    oracle::corpus_dir().join("test/bbb_320x180_30f.y4m")
}

#[test]
fn swscale_downscale_320x180() {
    let r = swscale_cases(
        &test_clip(),
        "bbb",
        3,
        &[(160, 90), (213, 121), (100, 56), (319, 179)],
        &SWSCALE_KERNELS,
    );
    check("320x180 downscale", r);
}

#[test]
fn swscale_upscale() {
    // A 160x90 natural source made by ffmpeg (area), then upscaled by both.
    let small = ffmpeg_make(
        &test_clip(),
        "bbb_160x90_area_3f",
        "scale=160:90:flags=area+accurate_rnd+bitexact",
        3,
    );
    let r = swscale_cases(
        &small,
        "bbb160",
        3,
        &[(320, 180), (480, 270), (257, 143)],
        &SWSCALE_KERNELS,
    );
    check("upscale", r);
}

#[test]
fn swscale_downscale_1080p() {
    let src = oracle::corpus_dir().join("bench/bbb_1920x1080_60f.y4m");
    if !src.is_file() {
        println!(
            "SKIPPED: {} missing (scripts/fetch-test-deps.sh --bench)",
            src.display()
        );
        return;
    }
    let r = swscale_cases(
        &src,
        "bbb1080",
        2,
        &[(1280, 720), (960, 540), (640, 360), (480, 270)],
        &SWSCALE_KERNELS[..3],
    );
    check("1080p downscale", r);
}

/// 10 and 12 bits go through swscale's 15-bit intermediate, 16 bits through its 19-bit one.
#[test]
fn swscale_high_bit_depth() {
    for bits in [10, 12, 16] {
        let src = ffmpeg_make(
            &test_clip(),
            &format!("bbb_p{bits}_3f"),
            &format!("format=yuv420p{bits}le"),
            3,
        );
        let r = swscale_cases(
            &src,
            &format!("bbb{bits}"),
            3,
            &[(160, 90), (213, 121), (480, 270)],
            &SWSCALE_KERNELS[..3],
        );
        check(&format!("{bits}-bit"), r);
    }
}

/// The textbook (`Exact`) tables against ffmpeg: not meant to be bit-exact, but close.
#[test]
fn exact_convention_vs_swscale() {
    let src_path = test_clip();
    let src = load(&src_path, 3);
    let mut worst = f64::INFINITY;
    for (w, h) in [(160, 90), (213, 121)] {
        for (name, k) in &SWSCALE_KERNELS[..3] {
            let out = ffmpeg_make(
                &src_path,
                &format!("bbb_{w}x{h}_{name}_3f"),
                &k.ffmpeg_scale(w, h),
                3,
            );
            let s = compare(&src, &load(&out, 3), *k, Convention::Exact);
            report(&format!("exact 320x180 -> {w}x{h} {name}"), &s);
            worst = worst.min(s[0].psnr());
        }
    }
    assert!(worst > 40.0, "worst luma PSNR vs ffmpeg {worst:.2} dB");
}

/// GStreamer's videoscale uses its own kernels (Lanczos with a default envelope of 2, i.e.
/// two lobes, unless `envelope=3`), so this only checks that the results are close. Seen with
/// GStreamer 1.22: luma agrees best with `envelope=3` (50-57 dB); its chroma planes do not
/// follow `envelope` at all (identical for 2 and 3); and the exact 3:1 downscale
/// (1080p -> 360p) with `lanczos` (envelope 2) or `catrom` lands near 36.5 dB, while
/// `envelope=3` and `bilinear2` agree at 57-58 dB there, a videoscale peculiarity.
#[test]
fn videoscale_agreement() {
    if !have_gst() {
        println!("SKIPPED: gst-launch-1.0 with y4mdec/videoscale/y4menc not installed");
        return;
    }
    let mut cases: Vec<(PathBuf, &str)> = vec![(test_clip(), "bbb")];
    let big = oracle::corpus_dir().join("bench/bbb_1920x1080_60f.y4m");
    if big.is_file() {
        cases.push((big, "bbb1080"));
    }
    let mut worst = f64::INFINITY;
    for (path, tag) in cases {
        // videoscale reads whole files: give it a short cut of the clip.
        let short = ffmpeg_make(&path, &format!("{tag}_cut2"), "null", 2);
        let src = load(&short, 2);
        let sizes: &[(usize, usize)] = if src.h.width == 1920 {
            &[(1280, 720), (960, 540), (640, 360), (480, 270)]
        } else {
            // Widths stay multiples of 8: GStreamer 1.22's y4menc writes the padded strides
            // of its own buffers (rows rounded up to 4 bytes) into the file otherwise.
            &[(160, 90), (240, 134), (480, 270)]
        };
        for &(w, h) in sizes {
            for (name, props, k) in [
                (
                    "lanczos-env2",
                    "method=lanczos dither=none",
                    Kernel::LANCZOS3,
                ),
                (
                    "lanczos-env3",
                    "method=lanczos envelope=3 dither=none",
                    Kernel::LANCZOS3,
                ),
                ("catrom", "method=catrom dither=none", Kernel::CATMULL_ROM),
                (
                    "bilinear2",
                    "method=bilinear2 dither=none",
                    Kernel::Bilinear,
                ),
            ] {
                let out = videoscale_make(&short, &format!("{tag}_{w}x{h}_{name}"), props, w, h);
                let theirs = load(&out, 2);
                let s = compare(&src, &theirs, k, Convention::Swscale);
                report(
                    &format!(
                        "videoscale {}x{} -> {w}x{h} {name}",
                        src.h.width, src.h.height
                    ),
                    &s,
                );
                worst = worst.min(s[0].psnr());
            }
        }
    }
    assert!(worst > 30.0, "worst luma PSNR vs videoscale {worst:.2} dB");
}
