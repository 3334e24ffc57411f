//! End-to-end agreement with libvmaf of models that read libvmaf 3.x's `integer_adm3`,
//! `integer_aim` and `integer_motion3` with options (the way the vmaf_v1.0.16 models do):
//! JSON models made here from vmaf_v0.6.1's SVR with some of its inputs swapped for those
//! features, run through `Meter` (and `FrameParallelMeter`, which must agree bit for bit)
//! and through libvmaf as `model=path=...`. Every feature the meter lists must be in
//! libvmaf's log under the same name and agree to the last logged digit, and so must the
//! models' scores.

mod common;

use common::{Clip, Exactness};
use lv_metrics::frames::FrameParallelMeter;
use lv_metrics::meter::{Meter, MeterConfig};
use lv_metrics::model::VmafModel;
use lv_testkit::oracle;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const TOL: f64 = 1e-6;

/// The ADM options of the vmaf_v1.0.16 models.
fn v1016_adm() -> Value {
    json!({
        "adm_dlm_weight": 0.7,
        "adm_enhn_gain_limit": 1.0,
        "adm_noise_weight": 0.02,
        "adm_norm_view_dist": 3.0,
        "adm_ref_display_height": 1080,
        "adm_min_val": 0.5,
        "adm_csf_mode": 2
    })
}

/// vmaf_v0.6.1 with its inputs replaced by `features` (with their options), written to the
/// scratch directory as `<name>.json`.
fn model(name: &str, features: &[(&str, Value)]) -> PathBuf {
    let text =
        std::fs::read_to_string(oracle::repo_root().join("models/vmaf/vmaf_v0.6.1.json")).unwrap();
    let mut m: Value = serde_json::from_str(&text).unwrap();
    let md = m["model_dict"].as_object_mut().unwrap();
    let n = md["feature_names"].as_array().unwrap().len();
    assert_eq!(features.len(), n);
    let names: Vec<String> = features
        .iter()
        .map(|(f, _)| format!("VMAF_integer_feature_{f}_score"))
        .collect();
    md.insert("feature_names".into(), json!(names));
    let opts: Vec<&Value> = features.iter().map(|(_, o)| o).collect();
    md.insert("feature_opts_dicts".into(), json!(opts));
    md.remove("feature_dict");
    let p = oracle::scratch_dir().join(format!("{name}.json"));
    std::fs::write(&p, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    p
}

/// The models of the comparison: (name, path).
fn models() -> Vec<(&'static str, PathBuf)> {
    vec![
        (
            "v3_1016",
            model(
                "v3_1016",
                &[
                    ("adm3", v1016_adm()),
                    ("motion3", json!({ "motion_max_val": 18.0 })),
                    ("vif_scale0", json!({})),
                    ("vif_scale1", json!({})),
                    ("vif_scale2", json!({})),
                    ("aim", v1016_adm()),
                ],
            ),
        ),
        (
            // Default ADM options (sharing vmaf_v0.6.1's ADM), a blended, averaged motion3.
            "v3_blend",
            model(
                "v3_blend",
                &[
                    ("adm3", json!({})),
                    (
                        "motion3",
                        json!({
                            "motion_blend_factor": 0.5,
                            "motion_blend_offset": 1.0,
                            "motion_moving_average": true
                        }),
                    ),
                    ("aim", json!({})),
                    ("vif_scale1", json!({})),
                    ("adm2", json!({ "adm_dlm_weight": 0.25 })),
                    ("vif_scale3", json!({})),
                ],
            ),
        ),
    ]
}

/// Where a meter's feature is in libvmaf's log: under the same name, except the per-frame
/// motion, which libvmaf logs as `VMAF_integer_feature_motion_sad_score`.
fn log_key(name: &str) -> String {
    match name.strip_prefix("integer_motion") {
        Some(rest) if !rest.starts_with('2') && !rest.starts_with('3') => {
            format!("VMAF_integer_feature_motion_sad_score{rest}")
        }
        _ => name.to_string(),
    }
}

fn compare(reference: &Path, distorted: &Path, worst: &mut Exactness) {
    let case = common::case_name(reference, distorted);
    let (r, d) = (Clip::load(reference), Clip::load(distorted));
    let mut ms: Vec<VmafModel> = models()
        .iter()
        .map(|(n, p)| {
            let mut m = VmafModel::from_path(p).unwrap();
            m.name = n.to_string();
            m
        })
        .collect();
    let mut v061 = VmafModel::builtin("vmaf_v0.6.1").unwrap();
    v061.name = "vmaf".into();
    ms.push(v061);
    let cfg = MeterConfig {
        width: r.h.width,
        height: r.h.height,
        bpc: r.h.bpc,
        chroma: r.h.chroma,
        models: ms,
        psnr: false,
        ssim: false,
        ms_ssim: false,
        cambi: None,
        threads: 1,
        accel: None,
    };
    let mut meter = Meter::new(cfg.clone()).unwrap();
    let mut fp = FrameParallelMeter::new(cfg, 2).unwrap();
    let (mut ours, mut theirs_fp) = (Vec::new(), Vec::new());
    for i in 0..r.frames.len() {
        ours.extend(meter.push(i as u64, &r.planes(i), &d.planes(i)));
        theirs_fp.extend(fp.push(i as u64, &r.planes(i), &d.planes(i)).unwrap());
    }
    ours.extend(meter.finish());
    theirs_fp.extend(fp.finish().unwrap());
    assert_eq!(ours.len(), r.frames.len());
    assert_eq!(fp.metric_names(), meter.metric_names());
    for (a, b) in ours.iter().zip(&theirs_fp) {
        assert_eq!(a.index, b.index);
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(
            bits(&a.values),
            bits(&b.values),
            "frame-parallel, frame {}",
            a.index
        );
    }

    let spec = models()
        .iter()
        .map(|(n, p)| format!("path={}:name={n}", p.display()))
        .chain(std::iter::once("version=vmaf_v0.6.1:name=vmaf".to_string()))
        .collect::<Vec<_>>()
        .join("|");
    let frames = oracle::libvmaf_frames(reference, distorted, &spec, "", 1).expect("libvmaf");
    assert_eq!(frames.len(), ours.len());
    let names = meter.metric_names();
    for name in [
        "integer_aim",
        "integer_adm3",
        "integer_motion3_mbf_0.5_mbo_1_mma",
    ] {
        assert!(
            names.iter().any(|n| n == name),
            "{name} not listed: {names:?}"
        );
    }
    for (o, m) in ours.iter().zip(&frames) {
        for (name, v) in names.iter().zip(&o.values) {
            let key = log_key(name);
            worst.note(&key, *v, common::metric(m, &key), o.index as usize, &case);
        }
    }
}

#[test]
fn adm3_aim_motion3_models_match_libvmaf() {
    oracle::ffmpeg().unwrap();
    let mut worst = Exactness::new(common::as_logged);
    for clip in oracle::test_clips() {
        let (w, h) = common::dims(&clip);
        for name in ["x264crf35", "blur", "noise"] {
            let dist = oracle::distort(&clip, name, w, h, "yuv420p").unwrap();
            compare(&clip, &dist, &mut worst);
        }
    }
    let src = common::converted(&oracle::test_clips()[0], "10b", "yuv420p10le");
    for (r, d) in common::distortions_of(&src, "yuv420p10le", &["x264crf35", "downup"]) {
        compare(&r, &d, &mut worst);
    }
    worst.report(TOL);
}

#[test]
fn five_frame_window_is_refused_clearly() {
    let p = model(
        "v3_ffw",
        &[
            ("adm2", json!({})),
            ("motion3", json!({ "motion_five_frame_window": true })),
            ("vif_scale0", json!({})),
            ("vif_scale1", json!({})),
            ("vif_scale2", json!({})),
            ("vif_scale3", json!({})),
        ],
    );
    let m = VmafModel::from_path(&p).unwrap();
    assert_eq!(
        m.required_features()[1].log_name,
        "integer_motion3_mffw",
        "parsed with libvmaf's name"
    );
    let err = Meter::new(MeterConfig {
        width: 64,
        height: 64,
        bpc: 8,
        chroma: lv_image::plane::Chroma::C420,
        models: vec![m],
        psnr: false,
        ssim: false,
        ms_ssim: false,
        cambi: None,
        threads: 1,
        accel: None,
    })
    .err()
    .expect("refused");
    assert!(
        err.to_string().contains("motion_five_frame_window"),
        "{err}"
    );
}
