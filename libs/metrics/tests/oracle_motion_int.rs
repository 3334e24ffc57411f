//! Agreement of the streaming `IntegerMotion` with libvmaf's integer motion, frame by
//! frame. libvmaf's log names the per-frame score `VMAF_integer_feature_motion_sad_score`
//! (the `integer_motion` alias is only written with `debug=true`); the temporal scores are
//! `integer_motion2` (used by the VMAF models) and `integer_motion3`. Further option sets
//! (the vmaf_v1.0.16 models' `motion_max_val`, blending, moving average, fps weight, the
//! five-frame window) run as extra `motion` instances with their suffixed names.

mod common;

use common::{Clip, Exactness};
use lv_metrics::motion_int::{IntegerMotion, MotionOptions, MotionScores};
use lv_testkit::oracle;
use std::path::Path;

const TOL: f64 = 1e-6;

/// Our scores for every frame of `reference`, collected through the streaming API.
fn ours(reference: &Path, opts: MotionOptions) -> Vec<MotionScores> {
    let clip = Clip::load(reference);
    let mut m = IntegerMotion::with_options(clip.h.width, clip.h.height, clip.h.bpc, opts).unwrap();
    let delay = m.delay();
    let mut out = Vec::new();
    for i in 0..clip.frames.len() {
        let done = m.push(i as u64, &clip.plane(i, 0));
        // Pushing frame i completes frame i - delay.
        assert_eq!(
            done.map(|s| s.index),
            i.checked_sub(delay).map(|v| v as u64)
        );
        out.extend(done);
    }
    while let Some(s) = m.flush() {
        out.push(s);
    }
    assert_eq!(out.len(), clip.frames.len());
    out
}

fn compare(reference: &Path, dist: &Path, worst: &mut Exactness) {
    let case = common::case_name(reference, dist);
    let frames = oracle::libvmaf_frames(reference, dist, "version=vmaf_v0.6.1:name=vmaf", "", 1)
        .expect("libvmaf run");
    let scores = ours(reference, MotionOptions::default());
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

/// Option sets: libvmaf's options, ours, and the suffix libvmaf gives the feature names.
fn option_sets() -> Vec<(&'static str, MotionOptions, &'static str)> {
    let d = MotionOptions::default();
    vec![
        (
            "motion_max_val=18",
            MotionOptions { max_val: 18.0, ..d },
            "_mmxv_18",
        ),
        (
            "motion_blend_factor=0.5:motion_blend_offset=1:motion_fps_weight=1.5:\
             motion_moving_average=true:motion_max_val=3",
            MotionOptions {
                blend_factor: 0.5,
                blend_offset: 1.0,
                fps_weight: 1.5,
                moving_average: true,
                max_val: 3.0,
                ..d
            },
            "_mbf_0.5_mbo_1_mfw_1.5_mmxv_3_mma",
        ),
        (
            "motion_five_frame_window=true:motion_max_val=18",
            MotionOptions {
                five_frame_window: true,
                max_val: 18.0,
                ..d
            },
            "_mffw_mmxv_18",
        ),
        (
            "motion_five_frame_window=true:motion_blend_factor=0.3:motion_moving_average=true",
            MotionOptions {
                five_frame_window: true,
                blend_factor: 0.3,
                moving_average: true,
                ..d
            },
            "_mbf_0.3_mffw_mma",
        ),
    ]
}

fn compare_options(reference: &Path, dist: &Path, worst: &mut Exactness) {
    let case = common::case_name(reference, dist);
    let sets = option_sets();
    let features: Vec<String> = sets
        .iter()
        .map(|(o, _, _)| format!("name=motion:{o}"))
        .collect();
    let frames =
        oracle::libvmaf_frames(reference, dist, "", &features.join("|"), 1).expect("libvmaf run");
    for (_, opts, suffix) in &sets {
        let scores = ours(reference, *opts);
        assert_eq!(frames.len(), scores.len());
        for (n, (s, m)) in scores.iter().zip(&frames).enumerate() {
            assert_eq!(s.index, n as u64);
            for (name, v) in [
                ("VMAF_integer_feature_motion_sad_score", s.motion),
                ("integer_motion2", s.motion2),
                ("integer_motion3", s.motion3),
            ] {
                let name = format!("{name}{suffix}");
                worst.note(&name, v, common::metric(m, &name), n, &case);
            }
        }
    }
}

#[test]
fn integer_motion_options_match_libvmaf() {
    oracle::ffmpeg().unwrap();
    let mut worst = Exactness::new(common::as_logged);
    for clip in oracle::test_clips() {
        let (w, h) = common::dims(&clip);
        let dist = oracle::distort(&clip, "noise", w, h, "yuv420p").unwrap();
        compare_options(&clip, &dist, &mut worst);
        compare_options(&dist, &clip, &mut worst);
    }
    let src = common::converted(&oracle::test_clips()[0], "10b", "yuv420p10le");
    let (w, h) = common::dims(&src);
    let noisy = oracle::distort(&src, "noise", w, h, "yuv420p10le").unwrap();
    compare_options(&noisy, &src, &mut worst);
    // Short sequences: the first frames' stamp and the window's edges.
    for n in [1, 2, 3, 4] {
        let short = common::derive(
            &oracle::test_clips()[0],
            &format!("bbb_320x180_30f_first{n}.y4m"),
            &["-frames:v", &n.to_string()],
        );
        compare_options(&short, &short, &mut worst);
    }
    worst.report(TOL);
}
