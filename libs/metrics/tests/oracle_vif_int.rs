//! Agreement of `IntegerVif` with libvmaf's integer VIF (`integer_vif_scale0..3`), at the
//! default gain limit and at 1.0 (as `vmaf_v0.6.1neg` runs it), frame by frame.
//!
//! One libvmaf run per clip pair yields both: the `vmaf_v0.6.1neg` model makes libvmaf
//! compute `integer_vif_scaleN_egl_1`, and the extra feature `name=vif:debug=true` the
//! default-limit scores plus the per-scale numerators and denominators.

use lv_metrics::vif_int::{IntegerVif, IntegerVifOptions};
use lv_testkit::oracle;
use lv_image::plane::Plane;
use std::path::{Path, PathBuf};
use std::process::Command;

/// libvmaf's JSON log prints 6 decimals; bit-exact agreement shows up as ≤ 5e-7.
const TOL: f64 = 1e-6;

struct Worst {
    name: String,
    max: f64,
    frame: usize,
    /// Frames whose value, printed as libvmaf prints it (`%.6f`), differs from the log.
    digit_mismatches: usize,
}

fn luma(path: &Path) -> (usize, usize, u32, Vec<Vec<u16>>) {
    let (h, frames) =
        lv_testkit::y4m::read_all(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (
        h.width,
        h.height,
        h.bpc,
        frames
            .into_iter()
            .map(|mut f| f.planes.swap_remove(0))
            .collect(),
    )
}

/// Compares every frame of `dist` against `reference`; returns the largest |Δ| per feature.
fn compare(reference: &Path, dist: &Path) -> Vec<Worst> {
    let frames = oracle::libvmaf_frames(
        reference,
        dist,
        "version=vmaf_v0.6.1neg:name=neg",
        "name=vif:debug=true",
        1,
    )
    .expect("libvmaf run");
    let (w, h, bpc, rf) = luma(reference);
    let (w2, h2, bpc2, df) = luma(dist);
    assert_eq!((w, h, bpc), (w2, h2, bpc2));
    assert_eq!(frames.len(), rf.len());
    assert_eq!(rf.len(), df.len());

    let mut def = IntegerVif::new(w, h, bpc, IntegerVifOptions::default()).unwrap();
    let mut neg = IntegerVif::new(
        w,
        h,
        bpc,
        IntegerVifOptions {
            enhn_gain_limit: 1.0,
        },
    )
    .unwrap();
    let mut worst: Vec<Worst> = Vec::new();
    let mut note = |name: String, ours: f64, theirs: f64, frame: usize| {
        let d = (ours - theirs).abs();
        let mismatch = usize::from(format!("{ours:.6}").parse::<f64>().unwrap() != theirs);
        match worst.iter_mut().find(|x| x.name == name) {
            Some(x) => {
                x.digit_mismatches += mismatch;
                if d > x.max {
                    x.max = d;
                    x.frame = frame;
                }
            }
            None => worst.push(Worst {
                name,
                max: d,
                frame,
                digit_mismatches: mismatch,
            }),
        }
    };
    for (n, ((r, d), m)) in rf.iter().zip(&df).zip(&frames).enumerate() {
        let get = |k: &str| {
            m.get(k)
                .and_then(|v| v.as_f64())
                .unwrap_or_else(|| panic!("no {k} in libvmaf log"))
        };
        let (r8, d8): (Vec<u8>, Vec<u8>);
        let (pr, pd) = if bpc == 8 {
            r8 = r.iter().map(|&v| v as u8).collect();
            d8 = d.iter().map(|&v| v as u8).collect();
            (Plane::new_u8(&r8, w, h, w), Plane::new_u8(&d8, w, h, w))
        } else {
            (
                Plane::new_u16(r, w, h, w, bpc),
                Plane::new_u16(d, w, h, w, bpc),
            )
        };
        let nd = def.compute_num_den(&pr, &pd);
        let s = nd.scores();
        let sn = neg.compute(&pr, &pd);
        for k in 0..4 {
            note(
                format!("integer_vif_scale{k}"),
                s[k],
                get(&format!("integer_vif_scale{k}")),
                n,
            );
            note(
                format!("integer_vif_scale{k}_egl_1"),
                sn[k],
                get(&format!("integer_vif_scale{k}_egl_1")),
                n,
            );
            note(
                format!("integer_vif_num_scale{k}"),
                nd.num[k] as f64,
                get(&format!("integer_vif_num_scale{k}")),
                n,
            );
            note(
                format!("integer_vif_den_scale{k}"),
                nd.den[k] as f64,
                get(&format!("integer_vif_den_scale{k}")),
                n,
            );
        }
        note("integer_vif".into(), nd.combined(), get("integer_vif"), n);
    }
    worst
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
    let out = oracle::scratch_dir().join(format!("{stem}.y4m"));
    if out.is_file() {
        return out;
    }
    let tmp = out.with_extension("tmp.y4m");
    let st = Command::new(oracle::ffmpeg().expect("the oracle is required"))
        .args(["-v", "error", "-y", "-i"])
        .arg(src)
        .args([
            "-vf",
            vf,
            "-pix_fmt",
            pix_fmt,
            "-f",
            "yuv4mpegpipe",
            "-strict",
            "-1",
        ])
        .arg(&tmp)
        .status()
        .unwrap();
    assert!(st.success(), "ffmpeg conversion to {stem} failed");
    std::fs::rename(&tmp, &out).unwrap();
    out
}

fn dims(p: &Path) -> (usize, usize) {
    let f = std::io::BufReader::new(std::fs::File::open(p).unwrap());
    let r = lv_testkit::y4m::Reader::new(f).unwrap();
    (r.header.width, r.header.height)
}

fn distortions_of(src: &Path, pix_fmt: &str, names: &[&str]) -> Vec<(PathBuf, PathBuf)> {
    let (w, h) = dims(src);
    names
        .iter()
        .map(|n| {
            (
                src.to_path_buf(),
                oracle::distort(src, n, w, h, pix_fmt).expect("distort"),
            )
        })
        .collect()
}

fn all_distortions() -> Vec<&'static str> {
    oracle::DISTORTIONS.iter().map(|(n, _)| *n).collect()
}

#[test]
fn eight_bit_natural_clips() {
    oracle::ffmpeg().expect("the oracle is required");
    let mut cases = Vec::new();
    for clip in oracle::test_clips() {
        cases.extend(distortions_of(&clip, "yuv420p", &all_distortions()));
    }
    let dir = oracle::corpus_dir().join("test");
    cases.push((
        dir.join("carphone_pristine_176x144_30f.y4m"),
        dir.join("carphone_distorted_176x144_30f.y4m"),
    ));
    check(&cases);
}

#[test]
fn ten_bit() {
    oracle::ffmpeg().expect("the oracle is required");
    let src = &oracle::test_clips()[0];
    let r10 = derived(src, "bbb_320x180_30f_p10", "null", "yuv420p10le");
    check(&distortions_of(&r10, "yuv420p10le", &all_distortions()));
}

#[test]
fn twelve_bit() {
    oracle::ffmpeg().expect("the oracle is required");
    let src = &oracle::test_clips()[1];
    let r12 = derived(src, "bikes_320x136_30f_p12", "null", "yuv420p12le");
    check(&distortions_of(
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
        cases.extend(distortions_of(&r, fmt, &["blur", "noise"]));
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
        let (w, h, bpc, rf) = luma(&r);
        let (_, _, _, df) = luma(&d);
        let r8: Vec<Vec<u8>> = rf
            .iter()
            .map(|p| p.iter().map(|&v| v as u8).collect())
            .collect();
        let d8: Vec<Vec<u8>> = df
            .iter()
            .map(|p| p.iter().map(|&v| v as u8).collect())
            .collect();
        let mut v = IntegerVif::new(w, h, bpc, IntegerVifOptions::default()).unwrap();
        let t = std::time::Instant::now();
        let cpu0 = thread_cpu_ns();
        let mut acc = 0.0;
        for i in 0..rf.len() {
            let s = if bpc == 8 {
                v.compute(
                    &Plane::new_u8(&r8[i], w, h, w),
                    &Plane::new_u8(&d8[i], w, h, w),
                )
            } else {
                v.compute(
                    &Plane::new_u16(&rf[i], w, h, w, bpc),
                    &Plane::new_u16(&df[i], w, h, w, bpc),
                )
            };
            acc += s[0];
        }
        let per = t.elapsed().as_secs_f64() * 1e3 / rf.len() as f64;
        let cpu = (thread_cpu_ns() - cpu0) as f64 / 1e6 / rf.len() as f64;
        println!(
            "{w}x{h} {bpc}-bit: {per:.1} ms/frame wall, {cpu:.1} ms/frame on CPU ({} frames, checksum {acc:.6})",
            rf.len()
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
