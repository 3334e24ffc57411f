//! End-to-end smoke test of `dnnscale-eval` on the small natural test clip: every stage runs
//! (trim, the three downscalers including the dnnscale element through gst-launch, x264 and
//! VP9 encodes, decode + bicubic upscale, Meter, BD-rate, report, JSON, plots, and the libvmaf
//! cross-check) on a fresh work directory, and the results are checked for consistency.
//!
//! Needs the plugin built for this profile (`cargo build -p gst-plugin-dnnscale`, i.e.
//! target/debug/libgstdnnscale.so next to the test's binary), the shipped model
//! models/dnnscale/dnnscale.onnx, the oracle ffmpeg and the test corpus; fails, does not skip,
//! when one is missing.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

#[test]
fn eval_pipeline_end_to_end() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_dnnscale-eval"));
    let profile_dir = bin.parent().unwrap();
    let plugin = profile_dir.join("libgstdnnscale.so");
    assert!(
        plugin.is_file(),
        "{} is missing: build the element first with `cargo build -p gst-plugin-dnnscale` \
         (same profile as this test)",
        plugin.display()
    );
    let root = lv_testkit::oracle::repo_root();
    let model = root.join("models/dnnscale/dnnscale.onnx");
    assert!(
        model.is_file(),
        "{} is missing (the shipped model)",
        model.display()
    );
    let clip = lv_testkit::oracle::corpus_dir().join("test/bbb_320x180_30f.y4m");
    assert!(
        clip.is_file(),
        "{} missing: run scripts/fetch-test-deps.sh",
        clip.display()
    );

    // A fresh work directory, so nothing comes from the cache and every stage runs.
    let work = root.join(format!("target/dnnscale-eval-smoke-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let out = Command::new(&bin)
        .arg("--clips")
        .arg(&clip)
        .args(["--frames", "8", "--sizes", "160x90", "--crfs", "26,38"])
        .args(["--vp9-crfs", "36,52", "--codecs", "x264,vp9", "--jobs", "2"])
        .arg("--model")
        .arg(&model)
        // The reverse of a default comparison: exercises --compare, and swapping the roles
        // must invert the rate ratio exactly (same interval, same interpolants).
        .args(["--compare", "lanczos-ffmpeg:dnnscale"])
        .arg("--work")
        .arg(&work)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "dnnscale-eval failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("cross-check"), "{stdout}");

    let j: Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("results.json")).unwrap()).unwrap();
    let points = j["points"].as_array().unwrap();
    let methods = ["lanczos-ffmpeg", "lanczos-videoscale", "dnnscale"];
    assert_eq!(
        points.len(),
        methods.len() * 4,
        "one point per method x codec x CRF"
    );
    for p in points {
        let (v, n, ps, kbps) = (
            f(&p["vmaf"]),
            f(&p["vmaf_neg"]),
            f(&p["psnr_y"]),
            f(&p["kbps"]),
        );
        assert!(
            (0.0..=100.0).contains(&v) && (0.0..=100.0).contains(&n),
            "{p}"
        );
        // VMAF NEG caps enhancement gain, so it never exceeds plain VMAF by more than rounding.
        assert!(n <= v + 1e-6, "{p}");
        assert!(ps > 15.0 && ps < 60.0 && kbps > 0.0, "{p}");
        assert_eq!(
            (p["width"].as_u64(), p["height"].as_u64()),
            (Some(160), Some(90))
        );
    }
    // Lower CRF: more bits and better PSNR, for every method and codec.
    for m in methods {
        for (codec, lo, hi) in [("x264", 26, 38), ("vp9", 36, 52)] {
            let get = |crf: u64| {
                points
                    .iter()
                    .find(|p| {
                        p["method"] == m && p["codec"] == codec && p["crf"].as_u64() == Some(crf)
                    })
                    .unwrap_or_else(|| panic!("no point {m} {codec} {crf}"))
            };
            let (a, b) = (get(lo), get(hi));
            assert!(f(&a["bytes"]) > f(&b["bytes"]), "{m} {codec}: {a} vs {b}");
            assert!(f(&a["psnr_y"]) > f(&b["psnr_y"]), "{m} {codec}: {a} vs {b}");
        }
    }
    // The reversed pair: (1 + x)(1 + y) = 1 for every codec and metric where defined.
    let bd = j["bdrate"].as_array().unwrap();
    let rev: Vec<&Value> = bd
        .iter()
        .filter(|b| b["test"] == "lanczos-ffmpeg" && b["anchor"] == "dnnscale")
        .collect();
    assert_eq!(rev.len(), 2 * 3, "two codecs x three metrics");
    for r in rev {
        let fwd = bd
            .iter()
            .find(|b| {
                b["test"] == "dnnscale"
                    && b["anchor"] == "lanczos-ffmpeg"
                    && b["codec"] == r["codec"]
                    && b["metric"] == r["metric"]
            })
            .unwrap();
        assert_eq!(
            fwd["bd_rate_pct"].is_null(),
            r["bd_rate_pct"].is_null(),
            "{fwd} {r}"
        );
        if !r["bd_rate_pct"].is_null() {
            let prod =
                (1.0 + f(&fwd["bd_rate_pct"]) / 100.0) * (1.0 + f(&r["bd_rate_pct"]) / 100.0);
            assert!((prod - 1.0).abs() < 1e-9, "{fwd} {r}");
        }
    }
    // Two Lanczos-3 implementations: close to each other (not a tight bound: ffmpeg's default
    // swscale and videoscale round differently), and computable (the curves overlap).
    for b in bd.iter().filter(|b| {
        b["test"] == "lanczos-videoscale"
            && b["anchor"] == "lanczos-ffmpeg"
            && b["metric"] == "psnr_y"
    }) {
        let x = f(&b["bd_rate_pct"]);
        assert!(x.abs() < 15.0, "videoscale vs ffmpeg Lanczos: {b}");
    }
    // Every dnnscale entry against the anchors is present (a number or an explicit null).
    assert_eq!(
        bd.iter().filter(|b| b["test"] == "dnnscale").count(),
        2 * 2 * 3,
        "two anchors x two codecs x three metrics"
    );
    // The cross-check agreed (the tool fails otherwise; the numbers are in the JSON).
    let cc = &j["crosscheck"];
    for k in ["vmaf", "vmaf_neg", "psnr_y"] {
        let d = f(&cc["max_frame_abs_diff"][k]);
        assert!(d <= 1e-4, "cross-check {k}: {cc}");
    }
    // Report and plots.
    let report = std::fs::read_to_string(work.join("report.md")).unwrap();
    assert!(report.contains("## Goals") && report.contains("| dnnscale | lanczos-ffmpeg |"));
    for codec in ["x264", "vp9"] {
        let p: &Path = &work.join(format!("plots/rd_bbb_320x180_30f_{codec}.png"));
        let bytes = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(&bytes[..4], b"\x89PNG");
        assert!(
            bytes.len() > 10_000,
            "{}: {} bytes",
            p.display(),
            bytes.len()
        );
    }
    std::fs::remove_dir_all(&work).ok();
}
