//! Agreement of the streaming `IntegerMotion` with libvmaf's integer motion, frame by
//! frame. libvmaf's log names the per-frame score `VMAF_integer_feature_motion_sad_score`
//! (the `integer_motion` alias is only written with `debug=true`); the temporal scores are
//! `integer_motion2` (used by the VMAF models) and `integer_motion3`.

use lv_metrics::motion_int::{IntegerMotion, MotionScores};
use lv_testkit::oracle;
use lv_image::plane::Plane;
use std::path::{Path, PathBuf};
use std::process::Command;

const TOL: f64 = 1e-6;

#[derive(Debug)]
struct Worst {
    name: &'static str,
    max: f64,
    frame: usize,
    case: String,
    digit_mismatches: usize,
}

fn luma(path: &Path) -> (usize, usize, u32, Vec<Vec<u16>>) {
    let (h, frames) =
        lv_testkit::y4m::read_all(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (
        h.width,
        h.height,
        h.bpc,
        frames
            .into_iter()
            .map(|mut f| f.planes.swap_remove(0))
            .collect(),
    )
}

/// Our scores for every frame of `reference`, collected through the streaming API.
fn ours(reference: &Path) -> Vec<MotionScores> {
    let (w, h, bpc, frames) = luma(reference);
    let mut m = IntegerMotion::new(w, h, bpc).unwrap();
    let mut out = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        let f8: Vec<u8>;
        let p = if bpc == 8 {
            f8 = f.iter().map(|&v| v as u8).collect();
            Plane::new_u8(&f8, w, h, w)
        } else {
            Plane::new_u16(f, w, h, w, bpc)
        };
        let done = m.push(i as u64, &p);
        // One frame of delay: pushing frame i completes frame i - 1.
        assert_eq!(done.map(|s| s.index), i.checked_sub(1).map(|v| v as u64));
        out.extend(done);
    }
    out.extend(m.flush());
    assert_eq!(out.len(), frames.len());
    out
}

fn compare(reference: &Path, dist: &Path, worst: &mut Vec<Worst>) {
    let case = format!(
        "{} vs {}",
        reference.file_name().unwrap().to_string_lossy(),
        dist.file_name().unwrap().to_string_lossy()
    );
    let frames = oracle::libvmaf_frames(reference, dist, "version=vmaf_v0.6.1:name=vmaf", "", 1)
        .expect("libvmaf run");
    let scores = ours(reference);
    assert_eq!(frames.len(), scores.len());
    for (n, (s, m)) in scores.iter().zip(&frames).enumerate() {
        assert_eq!(s.index, n as u64);
        for (name, v) in [
            ("VMAF_integer_feature_motion_sad_score", s.motion),
            ("integer_motion2", s.motion2),
            ("integer_motion3", s.motion3),
        ] {
            let theirs = m
                .get(name)
                .and_then(|v| v.as_f64())
                .unwrap_or_else(|| panic!("no {name} in log"));
            let d = (v - theirs).abs();
            let mismatch = usize::from(as_logged(v) != theirs);
            match worst.iter_mut().find(|x| x.name == name) {
                Some(x) => {
                    x.digit_mismatches += mismatch;
                    if d > x.max {
                        x.max = d;
                        x.frame = n;
                        x.case = case.clone();
                    }
                }
                None => worst.push(Worst {
                    name,
                    max: d,
                    frame: n,
                    case: case.clone(),
                    digit_mismatches: mismatch,
                }),
            }
        }
    }
}

/// `count_leading_zeros_d` of libvmaf's output.c: zeros after the decimal point.
fn leading_zeros(x: f64) -> u32 {
    let x = x.abs();
    let mut frac = x - (x as i32) as f64;
    let mut n = 0;
    while frac < 1.0 && frac != 0.0 {
        frac *= 10.0;
        n += 1;
    }
    n
}

/// A score as libvmaf's JSON log writes it (`%.6f`, or `%.16f` when the fractional part
/// has more than 6 leading zeros) and as the oracle reads it back (serde_json's parser,
/// which can be an ulp off the correctly rounded value).
fn as_logged(x: f64) -> f64 {
    let s = if leading_zeros(x) <= 6 {
        format!("{x:.6}")
    } else {
        format!("{x:.16}")
    };
    serde_json::from_str(&s).unwrap()
}

fn report(worst: &[Worst]) {
    for x in worst {
        println!(
            "{:<38} max|Δ| = {:.3e} (frame {}, {}), frames not matching to 6 decimals: {}",
            x.name, x.max, x.frame, x.case, x.digit_mismatches
        );
    }
    // Bit-exact results print exactly as libvmaf prints them.
    let bad: Vec<&Worst> = worst
        .iter()
        .filter(|x| x.max > TOL || x.digit_mismatches > 0)
        .collect();
    assert!(bad.is_empty(), "disagreement with libvmaf: {bad:#?}");
}

fn converted(src: &Path, tag: &str, pix_fmt: &str) -> PathBuf {
    let out = oracle::scratch_dir().join(format!(
        "{}_{tag}.y4m",
        src.file_stem().unwrap().to_string_lossy()
    ));
    if !out.is_file() {
        let tmp = out.with_extension("tmp.y4m");
        let st = Command::new(oracle::ffmpeg().unwrap())
            .args(["-v", "error", "-y", "-i"])
            .arg(src)
            .args(["-pix_fmt", pix_fmt, "-f", "yuv4mpegpipe", "-strict", "-1"])
            .arg(&tmp)
            .status()
            .expect("run ffmpeg");
        assert!(
            st.success(),
            "conversion of {} to {pix_fmt} failed",
            src.display()
        );
        std::fs::rename(&tmp, &out).unwrap();
    }
    out
}

fn dims(p: &Path) -> (usize, usize) {
    let r =
        lv_testkit::y4m::Reader::new(std::io::BufReader::new(std::fs::File::open(p).unwrap())).unwrap();
    (r.header.width, r.header.height)
}

/// Motion only reads the reference, so one distortion per clip suffices; the distorted
/// clips are also used as references since their motion differs (noise, blocking).
#[test]
fn integer_motion_matches_libvmaf_8bit() {
    oracle::ffmpeg().unwrap();
    let mut worst = Vec::new();
    for clip in oracle::test_clips() {
        let (w, h) = dims(&clip);
        for (name, _) in oracle::DISTORTIONS {
            let dist = oracle::distort(&clip, name, w, h, "yuv420p").unwrap();
            compare(&dist, &clip, &mut worst);
        }
        let dist = oracle::distort(&clip, "blur", w, h, "yuv420p").unwrap();
        compare(&clip, &dist, &mut worst);
    }
    let dir = oracle::corpus_dir().join("test");
    compare(
        &dir.join("carphone_pristine_176x144_30f.y4m"),
        &dir.join("carphone_distorted_176x144_30f.y4m"),
        &mut worst,
    );
    report(&worst);
}

#[test]
fn integer_motion_matches_libvmaf_high_bit_depth() {
    oracle::ffmpeg().unwrap();
    let mut worst = Vec::new();
    let clips = oracle::test_clips();
    for (clip, tag, fmt) in [
        (&clips[0], "10b", "yuv420p10le"),
        (&clips[1], "12b", "yuv420p12le"),
    ] {
        let src = converted(clip, tag, fmt);
        let (w, h) = dims(&src);
        let noisy = oracle::distort(&src, "noise", w, h, fmt).unwrap();
        compare(&src, &noisy, &mut worst);
        compare(&noisy, &src, &mut worst);
    }
    report(&worst);
}
