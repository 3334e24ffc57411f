//! Agreement of `IntegerAdm` with libvmaf's integer ADM, frame by frame: `integer_adm2`,
//! `integer_adm_scale0..3`, `integer_aim` and `integer_adm3` at the default options, and
//! the same with `_egl_1` suffixes at enhancement-gain limit 1.0 (how `vmaf_v0.6.1neg` runs
//! it; libvmaf appends the option to the feature names). One libvmaf run per clip pair
//! gives both: the neg model brings the `_egl_1` features, `name=adm` the default ones.
//! Further option sets (the vmaf_v1.0.16 models' blended CSF, other viewing conditions,
//! Barten's CSF) run as extra `adm` instances with their suffixed names.

mod common;

use common::{Exactness, OracleRun};
use lv_metrics::adm_int::{CsfMode, IntegerAdm, IntegerAdmOptions};
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
    let def_opts = IntegerAdmOptions {
        aim: true,
        ..Default::default()
    };
    let mut def = IntegerAdm::new(w, h, bpc, def_opts).unwrap();
    let neg_opts = IntegerAdmOptions {
        enhn_gain_limit: 1.0,
        ..def_opts
    };
    let mut neg = IntegerAdm::new(w, h, bpc, neg_opts).unwrap();
    for (n, m) in run.frames.iter().enumerate() {
        let mut note =
            |key: &str, ours: f64| worst.note(key, ours, common::metric(m, key), n, &run.case);
        let (pr, pd) = run.luma(n);
        for (adm, suffix) in [(&mut def, ""), (&mut neg, "_egl_1")] {
            let s = adm.compute(&pr, &pd);
            note(&format!("integer_adm2{suffix}"), s.adm2);
            note(&format!("integer_aim{suffix}"), s.aim);
            note(&format!("integer_adm3{suffix}"), s.adm3);
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

/// Option sets: libvmaf's options, ours, and the suffix libvmaf gives the feature names.
fn option_sets() -> Vec<(&'static str, IntegerAdmOptions, &'static str)> {
    let aim = IntegerAdmOptions {
        aim: true,
        ..Default::default()
    };
    vec![
        (
            // vmaf_v1.0.16's adm3.
            "adm_dlm_weight=0.7:adm_enhn_gain_limit=1.0:adm_noise_weight=0.02:\
             adm_norm_view_dist=3.0:adm_ref_display_height=1080:adm_min_val=0.5:adm_csf_mode=2",
            IntegerAdmOptions {
                enhn_gain_limit: 1.0,
                csf_mode: CsfMode::BartenWatsonBlend,
                noise_weight: 0.02,
                dlm_weight: 0.7,
                min_val: 0.5,
                ..aim
            },
            "_csf_2_dlmw_0.7_egl_1_min_0.5_nw_0.02",
        ),
        (
            "adm_csf_mode=3:adm_ref_display_height=2160:adm_dlm_weight=0.3",
            IntegerAdmOptions {
                csf_mode: CsfMode::BartenWatsonBlendMae,
                ref_display_height: 2160,
                dlm_weight: 0.3,
                ..aim
            },
            "_csf_3_dlmw_0.3_rdh_2160",
        ),
        (
            "adm_norm_view_dist=5:adm_noise_weight=0.1",
            IntegerAdmOptions {
                norm_view_dist: 5.0,
                noise_weight: 0.1,
                ..aim
            },
            "_nw_0.1_nvd_5",
        ),
        (
            // Barten's CSF overflows libvmaf's fixed point unless scaled down a lot.
            "adm_csf_mode=1:adm_csf_scale=0.001:adm_csf_diag_scale=0.002",
            IntegerAdmOptions {
                csf_mode: CsfMode::Barten,
                csf_scale: 0.001,
                csf_diag_scale: 0.002,
                ..aim
            },
            "_scfd_0.002_csf_1_scf_0.001",
        ),
    ]
}

fn compare_options(reference: &Path, dist: &Path, worst: &mut Exactness) {
    let sets = option_sets();
    let features: Vec<String> = sets
        .iter()
        .map(|(o, _, _)| format!("name=adm:{}", o.replace(' ', "")))
        .collect();
    let run = OracleRun::new(reference, dist, "", &features.join("|"));
    let (w, h, bpc) = run.format();
    let mut adms: Vec<IntegerAdm> = sets
        .iter()
        .map(|(_, o, _)| IntegerAdm::new(w, h, bpc, *o).unwrap())
        .collect();
    for (n, m) in run.frames.iter().enumerate() {
        let (pr, pd) = run.luma(n);
        for (adm, (_, _, suffix)) in adms.iter_mut().zip(&sets) {
            let s = adm.compute(&pr, &pd);
            let mut note = |key: &str, ours: f64| {
                let key = format!("{key}{suffix}");
                worst.note(&key, ours, common::metric(m, &key), n, &run.case)
            };
            note("integer_adm2", s.adm2);
            note("integer_aim", s.aim);
            note("integer_adm3", s.adm3);
            for k in 0..4 {
                note(&format!("integer_adm_scale{k}"), s.scale[k]);
            }
        }
    }
}

#[test]
fn integer_adm_options_match_libvmaf() {
    oracle::ffmpeg().unwrap();
    let mut worst = Exactness::new(common::as_logged);
    for (r, d) in common::eight_bit_cases() {
        compare_options(&r, &d, &mut worst);
    }
    let clip = &oracle::test_clips()[0];
    let src = common::converted(clip, "10b", "yuv420p10le");
    for (r, d) in common::distortions_of(&src, "yuv420p10le", &["x264crf35", "noise"]) {
        compare_options(&r, &d, &mut worst);
    }
    worst.report(TOL);
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
