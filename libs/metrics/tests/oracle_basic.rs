//! Agreement with libvmaf (through the oracle ffmpeg) for PSNR, float SSIM, float MS-SSIM and
//! the VMAF model's prediction from libvmaf's own logged features.
//!
//! Needs the oracle: `LV_FFMPEG=... LV_CORPUS=... cargo test -p lvcore --test oracle_basic`.
//! libvmaf logs 6 decimals, so a bit-exact implementation shows differences up to 5e-7.

mod common;

use common::*;
use std::path::Path;

use lv_metrics::model::VmafModel;
use lv_metrics::ms_ssim::FloatMsSsim;
use lv_metrics::psnr::{Psnr, PsnrOptions};
use lv_metrics::ssim::FloatSsim;
use lv_testkit::oracle;

/// Compares PSNR, SSIM and (where libvmaf accepts the size) MS-SSIM on every frame.
fn check_pair(reference: &Path, distorted: &Path, label: &str, diffs: &mut MaxDiff) {
    let r = Clip::load(reference);
    let d = Clip::load(distorted);
    let (w, h, bpc) = (r.h.width, r.h.height, r.h.bpc);
    assert_eq!((w, h, bpc), (d.h.width, d.h.height, d.h.bpc));
    let with_ms = FloatMsSsim::new(w, h, bpc).is_ok();
    let mut features = "name=psnr|name=float_ssim".to_string();
    if with_ms {
        features.push_str("|name=float_ms_ssim");
    }
    let frames =
        oracle::libvmaf_frames(reference, distorted, "", &features, 2).expect("libvmaf oracle");
    assert_eq!(
        frames.len(),
        r.frames.len().min(d.frames.len()),
        "{label}: frame count"
    );

    // libvmaf's filter always runs its default model too; checking it here is free.
    let model = VmafModel::builtin("vmaf_v0.6.1").unwrap();
    let feats = model.required_features();
    let mut psnr = Psnr::new(w, h, bpc, r.h.chroma, &PsnrOptions::default());
    let mut ssim = FloatSsim::new(w, h, bpc).unwrap();
    let mut ms = FloatMsSsim::new(w, h, bpc).ok();
    for (i, m) in frames.iter().enumerate() {
        let at = format!("{label} frame {i}");
        let p = psnr.compute(&r.planes(i), &d.planes(i));
        diffs.add("psnr_y", p.psnr_y, metric(m, "psnr_y"), &at);
        diffs.add("psnr_cb", p.psnr_cb.unwrap(), metric(m, "psnr_cb"), &at);
        diffs.add("psnr_cr", p.psnr_cr.unwrap(), metric(m, "psnr_cr"), &at);
        let s = ssim.compute(&r.plane(i, 0), &d.plane(i, 0));
        diffs.add("float_ssim", s, metric(m, "float_ssim"), &at);
        if let Some(ms) = ms.as_mut() {
            let v = ms.compute(&r.plane(i, 0), &d.plane(i, 0));
            diffs.add("float_ms_ssim", v, metric(m, "float_ms_ssim"), &at);
        }
        let x: Vec<f64> = feats.iter().map(|f| metric(m, &f.log_name)).collect();
        diffs.add("vmaf", model.predict(&x), metric(m, "vmaf"), &at);
    }
}

#[test]
fn psnr_ssim_ms_ssim_8bit() {
    oracle::ffmpeg().expect("oracle ffmpeg is required");
    let mut diffs = MaxDiff::default();
    for src in oracle::test_clips() {
        let hdr = Clip::load(&src).h;
        for (name, _) in oracle::DISTORTIONS {
            let dist =
                oracle::distort(&src, name, hdr.width, hdr.height, "yuv420p").expect("distort");
            let label = format!("{}/{name}", src.file_stem().unwrap().to_string_lossy());
            check_pair(&src, &dist, &label, &mut diffs);
        }
    }
    let c = oracle::corpus_dir().join("test");
    check_pair(
        &c.join("carphone_pristine_176x144_30f.y4m"),
        &c.join("carphone_distorted_176x144_30f.y4m"),
        "carphone pair",
        &mut diffs,
    );
    diffs.report_and_check("8-bit", tolerance);
}

#[test]
fn psnr_ssim_ms_ssim_10bit() {
    oracle::ffmpeg().expect("oracle ffmpeg is required");
    let mut diffs = MaxDiff::default();
    let src8 = oracle::corpus_dir().join("test/bbb_320x180_30f.y4m");
    let src = derive(&src8, "bbb10_320x180_30f.y4m", &["-pix_fmt", "yuv420p10le"]);
    for (name, _) in oracle::DISTORTIONS {
        let dist = oracle::distort(&src, name, 320, 180, "yuv420p10le").expect("distort");
        check_pair(&src, &dist, &format!("bbb10/{name}"), &mut diffs);
    }
    diffs.report_and_check("10-bit", tolerance);
}

/// Sizes where libvmaf's SSIM decimates (factor 2 with odd sizes, factor 3) and MS-SSIM runs
/// on odd pyramid sizes.
#[test]
fn ssim_decimated_and_odd_sizes() {
    oracle::ffmpeg().expect("oracle ffmpeg is required");
    let mut diffs = MaxDiff::default();
    let src8 = oracle::corpus_dir().join("test/bbb_320x180_30f.y4m");
    let blur = ("blur", "gblur=sigma=1.5");
    let noise = ("noise", "noise=alls=12:allf=t+u");
    let cases = [
        (777usize, 405usize, vec![blur, noise]),
        (1280, 720, vec![blur]),
        (353, 289, vec![noise]),
    ];
    for (w, h, dists) in cases {
        let scale = format!("scale={w}:{h}:flags=bicubic");
        let src = derive(
            &src8,
            &format!("bbb_{w}x{h}_8f.y4m"),
            &["-vf", &scale, "-frames:v", "8"],
        );
        for (name, vf) in dists {
            let dist = derive(
                &src,
                &format!("bbb_{w}x{h}_8f__{name}.y4m"),
                &["-vf", vf, "-pix_fmt", "yuv420p"],
            );
            check_pair(&src, &dist, &format!("{w}x{h}/{name}"), &mut diffs);
        }
    }
    diffs.report_and_check("decimated/odd sizes", tolerance);
}

/// Other chroma layouts and depths (4:2:2 12-bit, 4:4:4 16-bit) at an odd size. (Grey cannot
/// be checked this way: ffmpeg converts it to limited-range 4:2:0 before libvmaf sees it.)
#[test]
fn other_layouts_and_depths() {
    oracle::ffmpeg().expect("oracle ffmpeg is required");
    let mut diffs = MaxDiff::default();
    let src8 = oracle::corpus_dir().join("test/bbb_320x180_30f.y4m");
    for pf in ["yuv422p12le", "yuv444p16le"] {
        let src = derive(
            &src8,
            &format!("bbb_321x181_6f_{pf}.y4m"),
            &["-vf", "scale=321:181", "-frames:v", "6", "-pix_fmt", pf],
        );
        let dist = derive(
            &src,
            &format!("bbb_321x181_6f_{pf}__noise.y4m"),
            &["-vf", "noise=alls=12:allf=t+u", "-pix_fmt", pf],
        );
        check_pair(&src, &dist, pf, &mut diffs);
    }
    diffs.report_and_check("4:2:2 12-bit, 4:4:4 16-bit", tolerance);
}

/// The model's prediction from libvmaf's own (6-decimal) feature values must reproduce
/// libvmaf's score for every built-in model.
#[test]
fn vmaf_models_reproduce_libvmaf_scores() {
    oracle::ffmpeg().expect("oracle ffmpeg is required");
    let models: Vec<(&str, VmafModel)> = [
        ("vmaf", "vmaf_v0.6.1"),
        ("vmaf_float", "vmaf_float_v0.6.1"),
        ("vmaf_4k", "vmaf_4k_v0.6.1"),
        ("vmaf_neg", "vmaf_v0.6.1neg"),
        ("vmaf_float_neg", "vmaf_float_v0.6.1neg"),
    ]
    .into_iter()
    .map(|(n, v)| (n, VmafModel::builtin(v).unwrap()))
    .collect();
    let spec: Vec<String> = models
        .iter()
        .map(|(n, m)| format!("version={}:name={n}", m.name))
        .collect();
    let spec = spec.join("|");

    let c = oracle::corpus_dir().join("test");
    let bbb = c.join("bbb_320x180_30f.y4m");
    let mut pairs = vec![(
        c.join("carphone_pristine_176x144_30f.y4m"),
        c.join("carphone_distorted_176x144_30f.y4m"),
        "carphone pair".to_string(),
    )];
    // The default model is also checked on every pair of the PSNR/SSIM tests; here all five
    // built-in models on a spread of qualities.
    for name in ["x264crf23", "x264crf45", "noise"] {
        let dist = oracle::distort(&bbb, name, 320, 180, "yuv420p").expect("distort");
        pairs.push((bbb.clone(), dist, format!("bbb/{name}")));
    }
    // Identical input: scores at the top of the range, where clipping matters.
    pairs.push((bbb.clone(), bbb.clone(), "bbb/identical".to_string()));

    let mut diffs = MaxDiff::default();
    for (r, d, label) in &pairs {
        let frames = oracle::libvmaf_frames(r, d, &spec, "", 2).expect("libvmaf oracle");
        for (i, m) in frames.iter().enumerate() {
            for (n, model) in &models {
                let feats: Vec<f64> = model
                    .required_features()
                    .iter()
                    .map(|f| metric(m, &f.log_name))
                    .collect();
                diffs.add(
                    n,
                    model.predict(&feats),
                    metric(m, n),
                    &format!("{label} frame {i}"),
                );
            }
        }
    }
    diffs.report_and_check("VMAF models from libvmaf's features", tolerance);
}
