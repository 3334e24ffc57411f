//! End-to-end smoke test of `srenhance-eval` on the small natural test clip: the streamer side
//! (srpatch, videoscale, x264, decode), all six upscalers (a)-(f) through the real elements,
//! the one-time model's training run, per-frame PSNR/SSIM, report, JSON and plot, with short
//! epochs so the online variants train and report epochs within the clip's second.
//!
//! Needs the plugin built for this profile (`cargo build -p gst-plugin-srenhance`, i.e.
//! target/debug/libgstsrenhance.so next to the test's binary) and the test corpus; fails, does
//! not skip, when one is missing.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

#[test]
fn srenhance_eval_end_to_end() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_srenhance-eval"));
    let plugin = bin.parent().unwrap().join("libgstsrenhance.so");
    assert!(
        plugin.is_file(),
        "{} is missing: build it with `cargo build -p gst-plugin-srenhance` (same profile)",
        plugin.display()
    );
    let clip = lv_testkit::oracle::corpus_dir().join("test/bbb_320x180_30f.y4m");
    assert!(
        clip.is_file(),
        "{} missing: run scripts/fetch-test-deps.sh",
        clip.display()
    );
    let root = lv_testkit::oracle::repo_root();
    let out = root.join(format!(
        "target/srenhance-eval-smoke-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&out);
    let run = Command::new(&bin)
        .arg("--clip")
        .arg(&clip)
        .args(["--epoch-seconds", "0.3", "--onetime-seconds", "0.3"])
        .args(["--steps-per-second", "60", "--patch-kbps", "400"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "srenhance-eval failed:\n{stderr}");

    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    for row in [
        "(a) bilinear",
        "(b) bicubic",
        "(b′) bicubic-video",
        "(c) generic",
        "(d) onetime",
        "(e) continuous",
        "(f) adaptive",
        "training time (f) / (e)",
    ] {
        assert!(report.contains(row), "report lacks {row}:\n{report}");
    }
    let png = std::fs::read(out.join("plots/bbb_320x180_30f.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "plot is not a PNG");

    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    let clip = &json["clips"][0];
    assert_eq!(clip["frames"], 30);
    let variants = clip["variants"].as_array().unwrap();
    // The six methods and (b′), bicubic of the video the patch-fed methods get (equal uplink).
    assert_eq!(variants.len(), 7);
    let get = |k: &str| variants.iter().find(|v| v["key"] == k).unwrap();
    for v in variants {
        let psnr = v["per_frame_psnr_y"].as_array().unwrap();
        assert_eq!(psnr.len(), 30, "{}", v["key"]);
        let mean = v["psnr_y"].as_f64().unwrap();
        assert!((20.0..50.0).contains(&mean), "{}: {mean}", v["key"]);
        let ssim = v["ssim_y"].as_f64().unwrap();
        assert!((0.5..=1.0).contains(&ssim), "{}: {ssim}", v["key"]);
    }
    // Properties of the content, not of our code: Catmull-Rom beats bilinear on a natural
    // 2x upscale, and every network variant starts from the generic model.
    let p = |k: &str| get(k)["psnr_y"].as_f64().unwrap();
    assert!(p("bicubic") > p("bilinear"));
    // Equal uplink: the patch rate as extra video bit rate helps the same upscale.
    assert!(p("bicubic") > p("bicubic-video"));
    assert!(p("generic") > p("bilinear"));
    // The online variants trained: epochs with steps, and a training fraction in (0, 1].
    for k in ["continuous", "adaptive"] {
        let epochs = get(k)["epochs"].as_array().unwrap();
        assert!(epochs.len() >= 2, "{k}: {} epochs", epochs.len());
        assert!(
            epochs.iter().any(|e| e["steps"].as_u64().unwrap() > 0),
            "{k}"
        );
        let f = get(k)["training_fraction"].as_f64().unwrap();
        assert!(f > 0.0 && f <= 1.0, "{k}: {f}");
    }
    let _ = std::fs::remove_dir_all(&out);
}
