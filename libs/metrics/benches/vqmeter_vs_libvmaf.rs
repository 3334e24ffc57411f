//! Speed of the metrics against ffmpeg's libvmaf and psnr filters on the same 1080p natural
//! clip, in one run: fps of each and the ratio.
//!
//!   scripts/fetch-test-deps.sh --bench && cargo bench -p lv-metrics --bench vqmeter_vs_libvmaf
//!
//! VMAF is timed both ways the element can thread: `frames` (several frames at once, the
//! element's default on files, as libvmaf's n_threads) and `extractors` (one frame at a time,
//! its extractors side by side: the low-latency mode). The scaling line is frames' fps at
//! all cores over its fps at 1 thread.
//!
//! CAMBI is timed alone on our side; libvmaf's filter always runs a model, so its CAMBI time
//! is VMAF-with-CAMBI's time per frame less VMAF's.
//!
//! vqmeter's frames are read into memory first; ffmpeg's figure includes reading two y4m
//! files, which costs it well under 1 % of a VMAF run.

use lv_image::plane::Plane;
use lv_metrics::cambi::{Cambi, CambiOptions};
use lv_metrics::frames::AnyMeter;
use lv_metrics::meter::MeterConfig;
use lv_metrics::model::VmafModel;
use lv_testkit::oracle;
use std::process::Command;
use std::time::Instant;

fn ffmpeg_fps(r: &std::path::Path, d: &std::path::Path, filter: &str, frames: usize) -> f64 {
    let ff = oracle::ffmpeg().expect("oracle ffmpeg");
    let t = Instant::now();
    let st = Command::new(ff)
        .args(["-v", "error", "-i"])
        .arg(d)
        .arg("-i")
        .arg(r)
        .args(["-lavfi", filter, "-f", "null", "-"])
        .status()
        .unwrap();
    assert!(st.success());
    frames as f64 / t.elapsed().as_secs_f64()
}

fn planes<'a>(f: &'a [Vec<u8>], h: &lv_testkit::y4m::Header) -> Vec<Plane<'a>> {
    (0..3)
        .map(|i| {
            let (w, hh) = h.plane_dims(i);
            Plane::new_u8(&f[i], w, hh, w)
        })
        .collect()
}

fn main() {
    let dir = oracle::corpus_dir().join("bench");
    let r = dir.join("bbb_1920x1080_60f.y4m");
    let d = dir.join("bbb_1920x1080_60f_x264crf28.y4m");
    assert!(
        r.is_file() && d.is_file(),
        "run scripts/fetch-test-deps.sh --bench first"
    );
    let to8 = |frames: Vec<lv_testkit::y4m::Frame>| -> Vec<Vec<Vec<u8>>> {
        frames
            .into_iter()
            .map(|f| {
                f.planes
                    .into_iter()
                    .map(|p| p.into_iter().map(|s| s as u8).collect())
                    .collect()
            })
            .collect()
    };
    let (h, rf) = lv_testkit::y4m::read_all(&r).unwrap();
    let (_, df) = lv_testkit::y4m::read_all(&d).unwrap();
    let (rf, df) = (to8(rf), to8(df));
    let n = rf.len().min(df.len());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!(
        "clip {} ({}x{}, {n} frames), {cores} cores",
        r.display(),
        h.width,
        h.height
    );

    let run_meter = |threads: usize, vmaf: bool, psnr: bool, frames: bool| -> f64 {
        let models = if vmaf {
            vec![VmafModel::builtin("vmaf_v0.6.1").unwrap()]
        } else {
            vec![]
        };
        let mut m = AnyMeter::new(
            MeterConfig {
                width: h.width,
                height: h.height,
                bpc: 8,
                chroma: lv_image::plane::Chroma::C420,
                models,
                psnr,
                ssim: false,
                ms_ssim: false,
                cambi: None,
                threads,
                accel: None,
            },
            frames,
        )
        .unwrap();
        let t = Instant::now();
        for i in 0..n {
            let (a, b) = (planes(&rf[i], &h), planes(&df[i], &h));
            std::hint::black_box(m.push(i as u64, &a, &b).unwrap());
        }
        std::hint::black_box(m.finish().unwrap());
        n as f64 / t.elapsed().as_secs_f64()
    };

    println!(
        "{:<34} {:>10} {:>10} {:>8}",
        "", "vqmeter", "ffmpeg", "ratio"
    );
    let mut frames_fps = Vec::new();
    for threads in [1, cores] {
        let theirs = ffmpeg_fps(&r, &d, &format!("[0:v][1:v]libvmaf=n_threads={threads}"), n);
        for (mode, frames) in [("frames", true), ("extractors", false)] {
            let ours = run_meter(threads, true, false, frames);
            if frames {
                frames_fps.push(ours);
            }
            println!(
                "{:<34} {:>9.2}f {:>9.2}f {:>7.2}x",
                format!("VMAF v0.6.1, {threads} thread(s), {mode}"),
                ours,
                theirs,
                ours / theirs
            );
        }
    }
    println!(
        "threading=frames scaling, {cores} threads over 1: {:.2}x (goal 1.8x on 2 cores)",
        frames_fps[1] / frames_fps[0]
    );
    let ours = run_meter(1, false, true, false);
    let theirs = ffmpeg_fps(&r, &d, "[0:v][1:v]psnr", n);
    println!(
        "{:<34} {:>9.2}f {:>9.2}f {:>7.2}x",
        "PSNR Y/Cb/Cr, 1 thread",
        ours,
        theirs,
        ours / theirs
    );
    // libvmaf's filter always computes a model, so CAMBI's cost there is the time VMAF with
    // CAMBI takes over VMAF alone (same run, 1 thread each); ours is CAMBI alone.
    let vmaf_only = ffmpeg_fps(&r, &d, "[0:v][1:v]libvmaf=n_threads=1", n);
    let with_cambi = ffmpeg_fps(
        &r,
        &d,
        "[0:v][1:v]libvmaf=n_threads=1:feature=name=cambi",
        n,
    );
    let theirs = 1.0 / (1.0 / with_cambi - 1.0 / vmaf_only);
    let mut cambi = Cambi::new(h.width, h.height, 8, CambiOptions::default()).unwrap();
    let t = Instant::now();
    for i in 0..n {
        let (a, b) = (planes(&rf[i], &h), planes(&df[i], &h));
        std::hint::black_box(cambi.compute(&a[0], &b[0]));
    }
    let ours = n as f64 / t.elapsed().as_secs_f64();
    println!(
        "{:<34} {:>9.2}f {:>9.2}f {:>7.2}x",
        "CAMBI (defaults), 1 thread",
        ours,
        theirs,
        ours / theirs
    );
    println!("(f = frames per second; ratio > 1 means vqmeter is faster)");
}
