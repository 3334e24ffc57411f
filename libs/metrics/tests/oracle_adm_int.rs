//! Agreement of `IntegerAdm` with libvmaf's integer ADM, frame by frame: `integer_adm2`
//! and `integer_adm_scale0..3` at the default enhancement-gain limit, and the same with
//! `_egl_1` suffixes at limit 1.0 (how `vmaf_v0.6.1neg` runs it; libvmaf appends the
//! option to the feature names). One libvmaf run per clip pair gives both: the neg model
//! brings the `_egl_1` features, `name=adm` the default ones.

mod common;

use common::{Exactness, OracleRun};
use lv_metrics::adm_int::{IntegerAdm, IntegerAdmOptions};
use lv_testkit::oracle;
use std::path::Path;

/// libvmaf's JSON log prints 6 decimals: bit-exact agreement shows as |Δ| ≤ 5e-7, and as
/// no "digit mismatch" (our value printed the way libvmaf prints it differs from the log).
/// The per-scale numerators and denominators come from `debug=true`.
const TOL: f64 = 1e-6;

fn compare(reference: &Path, dist: &Path, worst: &mut Exactness) {
    let run = OracleRun::new(
        reference,
        dist,
        "version=vmaf_v0.6.1neg:name=neg",
        "name=adm:debug=true",
    );
    let (w, h, bpc) = run.format();
    let mut def = IntegerAdm::new(w, h, bpc, IntegerAdmOptions::default()).unwrap();
    let neg_opts = IntegerAdmOptions {
        enhn_gain_limit: 1.0,
    };
    let mut neg = IntegerAdm::new(w, h, bpc, neg_opts).unwrap();
    for (n, m) in run.frames.iter().enumerate() {
        let mut note =
            |key: &str, ours: f64| worst.note(key, ours, common::metric(m, key), n, &run.case);
        let (pr, pd) = run.luma(n);
        for (adm, suffix) in [(&mut def, ""), (&mut neg, "_egl_1")] {
            let s = adm.compute(&pr, &pd);
            note(&format!("integer_adm2{suffix}"), s.adm2);
            if suffix.is_empty() {
                for k in 0..4 {
                    note(&format!("integer_adm_num_scale{k}"), s.num[k] as f64);
                    note(&format!("integer_adm_den_scale{k}"), s.den[k] as f64);
                }
            }
            for k in 0..4 {
                note(&format!("integer_adm_scale{k}{suffix}"), s.scale[k]);
            }
        }
    }
}

#[test]
fn integer_adm_matches_libvmaf_8bit() {
    oracle::ffmpeg().unwrap();
    let mut worst = Exactness::new(common::as_logged);
    for (r, d) in common::eight_bit_cases() {
        compare(&r, &d, &mut worst);
    }
    worst.report(TOL);
}

#[test]
fn integer_adm_matches_libvmaf_high_bit_depth() {
    oracle::ffmpeg().unwrap();
    let mut worst = Exactness::new(common::as_logged);
    let clips = oracle::test_clips();
    for (clip, tag, fmt, names) in [
        (
            &clips[0],
            "10b",
            "yuv420p10le",
            &["x264crf35", "blur", "noise", "downup"][..],
        ),
        (&clips[1], "12b", "yuv420p12le", &["x264crf23", "noise"][..]),
    ] {
        let src = common::converted(clip, tag, fmt);
        for (r, d) in common::distortions_of(&src, fmt, names) {
            compare(&r, &d, &mut worst);
        }
    }
    worst.report(TOL);
}

#[test]
fn integer_adm_identical_input_matches_libvmaf() {
    oracle::ffmpeg().unwrap();
    let mut worst = Exactness::new(common::as_logged);
    let clip = &oracle::test_clips()[1];
    compare(clip, clip, &mut worst);
    worst.report(TOL);
}
