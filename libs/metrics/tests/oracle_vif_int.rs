//! Agreement of `IntegerVif` with libvmaf's integer VIF (`integer_vif_scale0..3`), at the
//! default gain limit and at 1.0 (as `vmaf_v0.6.1neg` runs it), frame by frame.
//!
//! One libvmaf run per clip pair yields both: the `vmaf_v0.6.1neg` model makes libvmaf
//! compute `integer_vif_scaleN_egl_1`, and the extra feature `name=vif:debug=true` the
//! default-limit scores plus the per-scale numerators and denominators.

mod common;

use common::{Clip, Exactness, OracleRun};
use lv_metrics::vif_int::{IntegerVif, IntegerVifOptions};
use lv_testkit::oracle;
use std::path::{Path, PathBuf};

/// libvmaf's JSON log prints 6 decimals; bit-exact agreement shows up as ≤ 5e-7.
const TOL: f64 = 1e-6;

/// Compares every frame of `dist` against `reference`; returns the largest |Δ| per feature.
fn compare(reference: &Path, dist: &Path) -> Vec<common::Worst> {
    let run = OracleRun::new(
        reference,
        dist,
        "version=vmaf_v0.6.1neg:name=neg",
        "name=vif:debug=true",
    );
    let (w, h, bpc) = run.format();
    let mut def = IntegerVif::new(w, h, bpc, IntegerVifOptions::default()).unwrap();
    let neg_opts = IntegerVifOptions {
        enhn_gain_limit: 1.0,
    };
    let mut neg = IntegerVif::new(w, h, bpc, neg_opts).unwrap();
    let mut worst = Exactness::new(common::to_6_decimals);
    for (n, m) in run.frames.iter().enumerate() {
        let mut note =
            |key: String, ours: f64| worst.note(&key, ours, common::metric(m, &key), n, "");
        let (pr, pd) = run.luma(n);
        let nd = def.compute_num_den(&pr, &pd);
        let s = nd.scores();
        let sn = neg.compute(&pr, &pd);
        for k in 0..4 {
            note(format!("integer_vif_scale{k}"), s[k]);
            note(format!("integer_vif_scale{k}_egl_1"), sn[k]);
            note(format!("integer_vif_num_scale{k}"), nd.num[k] as f64);
            note(format!("integer_vif_den_scale{k}"), nd.den[k] as f64);
        }
        note("integer_vif".into(), nd.combined());
    }
    worst.worst
}

fn check(cases: &[(PathBuf, PathBuf)]) {
    let mut failed = Vec::new();
    for (r, d) in cases {
        let worst = compare(r, d);
        let label = d.file_name().unwrap().to_string_lossy().to_string();
        let line: Vec<String> = worst
            .iter()
            .map(|w| format!("{}={:.1e}@{}", w.name, w.max, w.frame))
            .collect();
        println!("{label}: {}", line.join(" "));
        for w in &worst {
            if w.max > TOL {
                failed.push(format!(
                    "{label}: {} |Δ|={:.3e} at frame {}",
                    w.name, w.max, w.frame
                ));
            }
            // Bit-exact output prints to the same digits; anything else is a real difference.
            if w.digit_mismatches > 0 {
                failed.push(format!(
                    "{label}: {} differs in printed digits on {} frames",
                    w.name, w.digit_mismatches
                ));
            }
        }
    }
    assert!(
        failed.is_empty(),
        "disagreements beyond {TOL}:\n{}",
        failed.join("\n")
    );
}

/// Converts (and optionally crops) a clip with the oracle ffmpeg into the scratch dir.
fn derived(src: &Path, stem: &str, vf: &str, pix_fmt: &str) -> PathBuf {
    common::derive(
        src,
        &format!("{stem}.y4m"),
        &["-vf", vf, "-pix_fmt", pix_fmt],
    )
}

#[test]
fn eight_bit_natural_clips() {
    oracle::ffmpeg().expect("the oracle is required");
    check(&common::eight_bit_cases());
}

#[test]
fn ten_bit() {
    oracle::ffmpeg().expect("the oracle is required");
    let src = &oracle::test_clips()[0];
    let r10 = derived(src, "bbb_320x180_30f_p10", "null", "yuv420p10le");
    check(&common::distortions_of(
        &r10,
        "yuv420p10le",
        &common::all_distortions(),
    ));
}

#[test]
fn twelve_bit() {
    oracle::ffmpeg().expect("the oracle is required");
    let src = &oracle::test_clips()[1];
    let r12 = derived(src, "bikes_320x136_30f_p12", "null", "yuv420p12le");
    check(&common::distortions_of(
        &r12,
        "yuv420p12le",
        &["x264crf35", "blur", "noise"],
    ));
}

/// Sizes that are not multiples of 2/4/8. libvmaf (its model's other features) crashes
/// below 18 rows or columns, so 18x18 is the smallest size checked against it.
#[test]
fn odd_sizes() {
    oracle::ffmpeg().expect("the oracle is required");
    let src = &oracle::test_clips()[0];
    let mut cases = Vec::new();
    for (w, h, fmt) in [
        (33, 19, "yuv420p"),
        (18, 18, "yuv420p"),
        (19, 21, "yuv420p"),
        (101, 43, "yuv420p"),
        (45, 23, "yuv420p10le"),
    ] {
        let r = derived(
            src,
            &format!("bbb_crop_{w}x{h}_{fmt}"),
            &format!("crop={w}:{h}:37:21"),
            fmt,
        );
        cases.extend(common::distortions_of(&r, fmt, &["blur", "noise"]));
    }
    check(&cases);
}

/// Timing at 1080p (8- and 10-bit): `cargo test --release -p lvcore --test oracle_vif_int bench -- --ignored --nocapture`.
#[test]
#[ignore]
fn bench_1080p() {
    let src = &oracle::test_clips()[0];
    for (fmt, tag) in [("yuv420p", "8"), ("yuv420p10le", "10")] {
        let r = derived(
            src,
            &format!("bbb_1080p_{tag}"),
            "scale=1920:1080:flags=bicubic,trim=end_frame=10",
            fmt,
        );
        let d = derived(&r, &format!("bbb_1080p_{tag}_blur"), "gblur=sigma=1.5", fmt);
        let (rc, dc) = (Clip::load(&r), Clip::load(&d));
        let (w, h, bpc, n) = (rc.h.width, rc.h.height, rc.h.bpc, rc.frames.len());
        let mut v = IntegerVif::new(w, h, bpc, IntegerVifOptions::default()).unwrap();
        let t = std::time::Instant::now();
        let cpu0 = thread_cpu_ns();
        let mut acc = 0.0;
        for i in 0..n {
            acc += v.compute(&rc.plane(i, 0), &dc.plane(i, 0))[0];
        }
        let per = t.elapsed().as_secs_f64() * 1e3 / n as f64;
        let cpu = (thread_cpu_ns() - cpu0) as f64 / 1e6 / n as f64;
        println!(
            "{w}x{h} {bpc}-bit: {per:.1} ms/frame wall, {cpu:.1} ms/frame on CPU ({} frames, checksum {acc:.6})",
            n
        );
    }
}

/// This thread's time on a CPU (Linux), so timings hold up on a busy machine.
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
