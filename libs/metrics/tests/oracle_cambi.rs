//! Agreement of `Cambi` with libvmaf's `cambi` feature, frame by frame, on banding-prone
//! natural content: Big Buck Bunny's sky (smooth gradients) and whole frames, compressed at
//! low rates, darkened, at several sizes, 8 and 10 bits, with the options users set
//! (window, contrast, thresholds, encode / source sizes, EOTF, speed-up, full reference).
//! One libvmaf run per clip pair measures every option set at once: libvmaf names each
//! instance by its non-default options (`cambi_ws_33`, ...).

mod common;

use common::{Exactness, OracleRun};
use lv_metrics::cambi::{Cambi, CambiOptions, Eotf};
use lv_testkit::oracle;
use std::path::{Path, PathBuf};

/// libvmaf's JSON log prints 6 decimals: bit-exact agreement shows as |Δ| ≤ 5e-7 and no
/// frame whose value, printed the same way, differs from the log.
const TOL: f64 = 1e-6;

/// The libvmaf `feature=` entry for one option set.
fn libvmaf_feature(o: &CambiOptions) -> String {
    let d = CambiOptions::default();
    let mut s = String::from("name=cambi");
    let mut add = |k: &str, v: String| s.push_str(&format!(":{k}={v}"));
    if o.window_size != d.window_size {
        add("window_size", o.window_size.to_string());
    }
    if o.topk != d.topk {
        add("cambi_topk", o.topk.to_string());
    }
    if o.tvi_threshold != d.tvi_threshold {
        add("tvi_threshold", o.tvi_threshold.to_string());
    }
    if o.vis_lum_threshold != d.vis_lum_threshold {
        add("cambi_vis_lum_threshold", o.vis_lum_threshold.to_string());
    }
    if o.max_log_contrast != d.max_log_contrast {
        add("max_log_contrast", o.max_log_contrast.to_string());
    }
    if let Some((w, h)) = o.enc_size {
        add("enc_width", w.to_string());
        add("enc_height", h.to_string());
    }
    if let Some(b) = o.enc_bitdepth {
        add("enc_bitdepth", b.to_string());
    }
    if let Some((w, h)) = o.src_size {
        add("src_width", w.to_string());
        add("src_height", h.to_string());
    }
    if o.full_ref {
        add("full_ref", "true".into());
    }
    if o.eotf != d.eotf {
        add("cambi_eotf", o.eotf.name().into());
    }
    if o.high_res_speedup != d.high_res_speedup {
        add("cambi_high_res_speedup", o.high_res_speedup.to_string());
    }
    if o.max_val != d.max_val {
        add("cambi_max_val", o.max_val.to_string());
    }
    s
}

/// Runs libvmaf once with every option set and compares each frame's scores. At most one
/// set may be full-reference (libvmaf names its extra scores without option suffixes).
fn compare(reference: &Path, dist: &Path, sets: &[CambiOptions], worst: &mut Exactness) {
    let features: Vec<String> = sets.iter().map(libvmaf_feature).collect();
    let run = OracleRun::new(
        reference,
        dist,
        "version=vmaf_v0.6.1:name=vmaf",
        &features.join("|"),
    );
    let (w, h, bpc) = run.format();
    let mut meters: Vec<Cambi> = sets
        .iter()
        .map(|o| Cambi::new(w, h, bpc, o.clone()).expect("options libvmaf accepts"))
        .collect();
    for (n, m) in run.frames.iter().enumerate() {
        let (pr, pd) = run.luma(n);
        for (c, o) in meters.iter_mut().zip(sets) {
            let s = c.compute(&pr, &pd);
            let name = format!("cambi{}", o.log_suffix());
            worst.note(&name, s.cambi, common::metric(m, &name), n, &run.case);
            if let (Some(src), Some(full)) = (s.source, s.full_reference) {
                worst.note(
                    "cambi_source",
                    src,
                    common::metric(m, "cambi_source"),
                    n,
                    &run.case,
                );
                worst.note(
                    "cambi_full_reference",
                    full,
                    common::metric(m, "cambi_full_reference"),
                    n,
                    &run.case,
                );
            }
        }
    }
}

fn sky() -> PathBuf {
    oracle::corpus_dir().join("test/bbb_sky_480x270_10f.y4m")
}

fn bbb() -> PathBuf {
    oracle::corpus_dir().join("test/bbb_320x180_30f.y4m")
}

/// `src` processed by ffmpeg `vf` (size, darkening, ...) into `pix_fmt`, then compressed by
/// x264 at `crf` and decoded: (reference, distorted).
fn pair(src: &Path, tag: &str, vf: &str, pix_fmt: &str, crf: &str) -> (PathBuf, PathBuf) {
    let stem = src.file_stem().unwrap().to_string_lossy().to_string();
    let reference = common::derive(
        src,
        &format!("{stem}_{tag}.y4m"),
        &["-vf", vf, "-pix_fmt", pix_fmt],
    );
    let mp4 = oracle::scratch_dir().join(format!("{stem}_{tag}_crf{crf}.mp4"));
    if !mp4.is_file() {
        let tmp = oracle::unique_tmp(&mp4).with_extension("mp4");
        oracle::run(
            std::process::Command::new(oracle::ffmpeg().unwrap())
                .args(["-v", "error", "-y", "-i"])
                .arg(&reference)
                .args([
                    "-c:v", "libx264", "-preset", "fast", "-crf", crf, "-threads", "2",
                ])
                .arg(&tmp),
        )
        .unwrap();
        std::fs::rename(&tmp, &mp4).unwrap();
    }
    let dist = common::derive(
        &mp4,
        &format!("{stem}_{tag}_crf{crf}.y4m"),
        &["-pix_fmt", pix_fmt],
    );
    (reference, dist)
}

fn opts(f: impl FnOnce(&mut CambiOptions)) -> CambiOptions {
    let mut o = CambiOptions::default();
    f(&mut o);
    o
}

#[test]
fn cambi_matches_libvmaf_8bit_sky_and_scene() {
    oracle::ffmpeg().unwrap();
    let mut worst = Exactness::new(common::as_logged);
    let sets = [
        CambiOptions::default(),
        opts(|o| {
            o.window_size = 33;
            o.max_val = 17.0;
        }),
        opts(|o| {
            o.max_log_contrast = 3;
            o.tvi_threshold = 0.01;
        }),
        opts(|o| {
            o.vis_lum_threshold = 0.06;
            o.topk = 0.2;
        }),
        opts(|o| o.eotf = Eotf::Pq),
        // `full_ref` alone does not change libvmaf's feature name, so libvmaf would take it
        // for the default instance: give it another option too.
        opts(|o| {
            o.full_ref = true;
            o.max_val = 100.0;
        }),
    ];
    // The sky at its size and twice it, then darkened, each compressed at low rates.
    for (tag, vf, crf) in [
        ("s1", "null", "40"),
        ("s2", "scale=960:540:flags=bicubic", "45"),
        ("dark", "eq=brightness=-0.25:gamma=0.7", "38"),
    ] {
        let (r, d) = pair(&sky(), tag, vf, "yuv420p", crf);
        compare(&r, &d, &sets, &mut worst);
    }
    // Whole frames (grass, sky, fur) and a narrow clip.
    let (r, d) = pair(&bbb(), "s1", "null", "yuv420p", "45");
    compare(&r, &d, &sets[..3], &mut worst);
    let bikes = oracle::corpus_dir().join("test/bikes_320x136_30f.y4m");
    let (r, d) = pair(&bikes, "s1", "null", "yuv420p", "40");
    compare(&r, &d, &sets[..1], &mut worst);
    worst.report(TOL);
}

#[test]
fn cambi_matches_libvmaf_encode_and_source_sizes() {
    oracle::ffmpeg().unwrap();
    let mut worst = Exactness::new(common::as_logged);
    // A 540p encode shown at 1080p (decimated back to the encode size), a full-reference
    // run whose source was larger than the picture, and the high-resolution speed-up.
    let (r, d) = pair(
        &sky(),
        "s4",
        "scale=1920:1080:flags=bicubic",
        "yuv420p",
        "42",
    );
    let sets = [
        CambiOptions::default(),
        opts(|o| o.enc_size = Some((960, 540))),
        opts(|o| o.high_res_speedup = 1080),
        opts(|o| {
            o.full_ref = true;
            o.src_size = Some((1280, 720));
            o.enc_size = Some((1280, 720));
        }),
    ];
    compare(&r, &d, &sets, &mut worst);
    worst.report(TOL);
}

#[test]
fn cambi_matches_libvmaf_10_and_12bit() {
    oracle::ffmpeg().unwrap();
    let mut worst = Exactness::new(common::as_logged);
    let sets = [
        CambiOptions::default(),
        opts(|o| o.enc_bitdepth = Some(8)),
        opts(|o| {
            o.window_size = 45;
            o.full_ref = true;
        }),
    ];
    for (tag, vf, crf) in [
        ("s1_10b", "null", "40"),
        ("s2_10b", "scale=960:540:flags=bicubic", "44"),
    ] {
        let (r, d) = pair(&sky(), tag, vf, "yuv420p10le", crf);
        compare(&r, &d, &sets, &mut worst);
    }
    // 12 bits (x264 encodes it at 10, decoded back to 12): CAMBI rounds to 10 bits first.
    let (r, d) = pair(&sky(), "s1_12b", "null", "yuv420p12le", "40");
    compare(&r, &d, &sets, &mut worst);
    worst.report(TOL);
}
