//! The command lines the README and the issues give, run through `gst-launch-1.0` with the
//! plugins loaded from the build directory, as a user would, and checked against the oracle.

use lvcore::oracle;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory holding the built plugin libraries (`libgstvqmeter.so`).
fn plugin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test> -> target/<profile>
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    assert!(
        dir.join("libgstvqmeter.so").is_file(),
        "{} has no libgstvqmeter.so: build the workspace first (cargo build --workspace)",
        dir.display()
    );
    dir
}

fn gst_launch(dir: &Path, args: &str) -> std::process::Output {
    let out = Command::new("gst-launch-1.0")
        .current_dir(dir)
        .env("GST_PLUGIN_PATH", plugin_dir())
        .args(args.split_whitespace())
        .output()
        .expect("gst-launch-1.0 runs (install gstreamer1.0-tools)");
    assert!(
        out.status.success(),
        "gst-launch-1.0 {args} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn vqmeter_documented_command_line() {
    let work = oracle::scratch_dir().join("gst-launch-vqmeter");
    std::fs::create_dir_all(&work).unwrap();
    let src = oracle::corpus_dir().join("test/bbb_320x180_30f.y4m");
    let dist = oracle::distort(&src, "x264crf45", 320, 180, "yuv420p").unwrap();
    std::fs::copy(&src, work.join("ref.y4m")).unwrap();
    std::fs::copy(&dist, work.join("dist.y4m")).unwrap();
    let _ = std::fs::remove_file(work.join("out.json"));
    gst_launch(
        &work,
        "vqmeter name=m results-filename=out.json results-format=json psnr=true ssim=true ms-ssim=true ! fakesink filesrc location=ref.y4m ! y4mdec ! m.ref_sink filesrc location=dist.y4m ! y4mdec ! m.dist_sink",
    );
    let ours: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(work.join("out.json")).unwrap()).unwrap();
    let theirs = oracle::libvmaf_frames(
        &work.join("ref.y4m"),
        &work.join("dist.y4m"),
        "version=vmaf_v0.6.1:name=vmaf",
        "name=psnr|name=float_ssim|name=float_ms_ssim",
        2,
    )
    .unwrap();
    let frames = ours["frames"].as_array().unwrap();
    assert_eq!(frames.len(), theirs.len());
    for (o, t) in frames.iter().zip(&theirs) {
        for (k, tol) in [
            ("vmaf", 0.01),
            ("psnr_y", 1e-4),
            ("psnr_cb", 1e-4),
            ("psnr_cr", 1e-4),
            ("float_ssim", 1e-5),
            ("float_ms_ssim", 1e-5),
        ] {
            let (a, b) = (o["metrics"][k].as_f64().unwrap(), t[k].as_f64().unwrap());
            assert!(
                (a - b).abs() <= tol,
                "frame {}: {k} {a} vs libvmaf {b}",
                o["frameNum"]
            );
        }
    }
    for k in ["vmaf", "psnr_y", "float_ssim", "float_ms_ssim"] {
        assert!(ours["pooled_metrics"][k]["mean"].is_number());
    }
}

#[test]
fn gst_inspect_documents_every_vqmeter_property() {
    let out = Command::new("gst-inspect-1.0")
        .env("GST_PLUGIN_PATH", plugin_dir())
        .arg("vqmeter")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for p in [
        "model-filename",
        "psnr",
        "ssim",
        "ms-ssim",
        "pool-method",
        "threads",
        "subsample",
        "frame-message",
        "results-filename",
        "results-format",
        "segment-duration",
    ] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{p} ")))
            .unwrap_or_else(|| panic!("{p} not in gst-inspect output"));
        assert!(
            line.split_once(':')
                .map(|x| x.1)
                .map(|b| b.trim().len() > 10)
                .unwrap_or(false),
            "{p} undocumented: {line}"
        );
    }
}
