//! Agreement of the streaming `IntegerMotion` with libvmaf's integer motion, frame by
//! frame. libvmaf's log names the per-frame score `VMAF_integer_feature_motion_sad_score`
//! (the `integer_motion` alias is only written with `debug=true`); the temporal scores are
//! `integer_motion2` (used by the VMAF models) and `integer_motion3`.

mod common;

use common::{Clip, Exactness};
use lv_metrics::motion_int::{IntegerMotion, MotionScores};
use lv_testkit::oracle;
use std::path::Path;

const TOL: f64 = 1e-6;

/// Our scores for every frame of `reference`, collected through the streaming API.
fn ours(reference: &Path) -> Vec<MotionScores> {
    let clip = Clip::load(reference);
    let mut m = IntegerMotion::new(clip.h.width, clip.h.height, clip.h.bpc).unwrap();
    let mut out = Vec::new();
    for i in 0..clip.frames.len() {
        let done = m.push(i as u64, &clip.plane(i, 0));
        // One frame of delay: pushing frame i completes frame i - 1.
        assert_eq!(done.map(|s| s.index), i.checked_sub(1).map(|v| v as u64));
        out.extend(done);
    }
    out.extend(m.flush());
    assert_eq!(out.len(), clip.frames.len());
    out
}

fn compare(reference: &Path, dist: &Path, worst: &mut Exactness) {
    let case = common::case_name(reference, dist);
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
            worst.note(name, v, common::metric(m, name), n, &case);
        }
    }
}

/// Motion only reads the reference, so one distortion per clip suffices; the distorted
/// clips are also used as references since their motion differs (noise, blocking).
#[test]
fn integer_motion_matches_libvmaf_8bit() {
    oracle::ffmpeg().unwrap();
    let mut worst = Exactness::new(common::as_logged);
    for clip in oracle::test_clips() {
        let (w, h) = common::dims(&clip);
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
    worst.report(TOL);
}

#[test]
fn integer_motion_matches_libvmaf_high_bit_depth() {
    oracle::ffmpeg().unwrap();
    let mut worst = Exactness::new(common::as_logged);
    let clips = oracle::test_clips();
    for (clip, tag, fmt) in [
        (&clips[0], "10b", "yuv420p10le"),
        (&clips[1], "12b", "yuv420p12le"),
    ] {
        let src = common::converted(clip, tag, fmt);
        let (w, h) = common::dims(&src);
        let noisy = oracle::distort(&src, "noise", w, h, fmt).unwrap();
        compare(&src, &noisy, &mut worst);
        compare(&noisy, &src, &mut worst);
    }
    worst.report(TOL);
}
