//! Agreement of `IntegerAdm` with libvmaf's integer ADM, frame by frame: `integer_adm2`
//! and `integer_adm_scale0..3` at the default enhancement-gain limit, and the same with
//! `_egl_1` suffixes at limit 1.0 (how `vmaf_v0.6.1neg` runs it; libvmaf appends the
//! option to the feature names). One libvmaf run per clip pair gives both: the neg model
//! brings the `_egl_1` features, `name=adm` the default ones.

use lv_metrics::adm_int::{IntegerAdm, IntegerAdmOptions};
use lv_testkit::oracle;
use lv_image::plane::Plane;
use std::path::{Path, PathBuf};
use std::process::Command;

/// libvmaf's JSON log prints 6 decimals: bit-exact agreement shows as |Δ| ≤ 5e-7, and as
/// no "digit mismatch" (our value printed the way libvmaf prints it differs from the log).
/// The per-scale numerators and denominators come from `debug=true`.
const TOL: f64 = 1e-6;

#[derive(Debug)]
struct Worst {
    name: String,
    max: f64,
    frame: usize,
    case: String,
    /// Frames where our value printed as libvmaf prints it (`%.6f`) differs from the log.
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

fn compare(reference: &Path, dist: &Path, worst: &mut Vec<Worst>) {
    let case = format!(
        "{} vs {}",
        reference.file_name().unwrap().to_string_lossy(),
        dist.file_name().unwrap().to_string_lossy()
    );
    let frames = oracle::libvmaf_frames(
        reference,
        dist,
        "version=vmaf_v0.6.1neg:name=neg",
        "name=adm:debug=true",
        1,
    )
    .expect("libvmaf run");
    let (w, h, bpc, rf) = luma(reference);
    let (w2, h2, bpc2, df) = luma(dist);
    assert_eq!((w, h, bpc), (w2, h2, bpc2));
    assert_eq!(frames.len(), rf.len());
    assert_eq!(rf.len(), df.len());

    let mut def = IntegerAdm::new(w, h, bpc, IntegerAdmOptions::default()).unwrap();
    let mut neg = IntegerAdm::new(
        w,
        h,
        bpc,
        IntegerAdmOptions {
            enhn_gain_limit: 1.0,
        },
    )
    .unwrap();
    let mut note = |name: String, ours: f64, theirs: f64, frame: usize| {
        let d = (ours - theirs).abs();
        let mismatch = usize::from(as_logged(ours) != theirs);
        match worst.iter_mut().find(|x| x.name == name) {
            Some(x) => {
                x.digit_mismatches += mismatch;
                if d > x.max {
                    x.max = d;
                    x.frame = frame;
                    x.case = case.clone();
                }
            }
            None => worst.push(Worst {
                name,
                max: d,
                frame,
                case: case.clone(),
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
        for (adm, suffix) in [(&mut def, ""), (&mut neg, "_egl_1")] {
            let s = adm.compute(&pr, &pd);
            let key = format!("integer_adm2{suffix}");
            note(key.clone(), s.adm2, get(&key), n);
            if suffix.is_empty() {
                for k in 0..4 {
                    let key = format!("integer_adm_num_scale{k}");
                    note(key.clone(), s.num[k] as f64, get(&key), n);
                    let key = format!("integer_adm_den_scale{k}");
                    note(key.clone(), s.den[k] as f64, get(&key), n);
                }
            }
            for k in 0..4 {
                let key = format!("integer_adm_scale{k}{suffix}");
                note(key.clone(), s.scale[k], get(&key), n);
            }
        }
    }
}

/// `count_leading_zeros_d` of libvmaf's output.c: zeros after the decimal point.
fn leading_zeros(x: f64) -> u32 {
    let x = x.abs();
    let mut frac = x - (x as i32) as f64;
    let mut n = 0;
    while frac < 1.0 && frac != 0.0 {
        frac *= 10.0;
        n += 1;
    }
    n
}

/// A score as libvmaf's JSON log writes it (`%.6f`, or `%.16f` when the fractional part
/// has more than 6 leading zeros) and as the oracle reads it back (serde_json's parser,
/// which can be an ulp off the correctly rounded value).
fn as_logged(x: f64) -> f64 {
    let s = if leading_zeros(x) <= 6 {
        format!("{x:.6}")
    } else {
        format!("{x:.16}")
    };
    serde_json::from_str(&s).unwrap()
}

fn report(worst: &[Worst]) {
    for x in worst {
        println!(
            "{:<26} max|Δ| = {:.3e} (frame {}, {}), frames not matching to 6 decimals: {}",
            x.name, x.max, x.frame, x.case, x.digit_mismatches
        );
    }
    // Bit-exact results print exactly as libvmaf prints them.
    let bad: Vec<&Worst> = worst
        .iter()
        .filter(|x| x.max > TOL || x.digit_mismatches > 0)
        .collect();
    assert!(bad.is_empty(), "disagreement with libvmaf: {bad:#?}");
}

/// The corpus clip converted to `pix_fmt` (cached in the scratch directory).
fn converted(src: &Path, tag: &str, pix_fmt: &str) -> PathBuf {
    let out = oracle::scratch_dir().join(format!(
        "{}_{tag}.y4m",
        src.file_stem().unwrap().to_string_lossy()
    ));
    if !out.is_file() {
        let tmp = out.with_extension("tmp.y4m");
        let st = Command::new(oracle::ffmpeg().unwrap())
            .args(["-v", "error", "-y", "-i"])
            .arg(src)
            .args(["-pix_fmt", pix_fmt, "-f", "yuv4mpegpipe", "-strict", "-1"])
            .arg(&tmp)
            .status()
            .expect("run ffmpeg");
        assert!(
            st.success(),
            "conversion of {} to {pix_fmt} failed",
            src.display()
        );
        std::fs::rename(&tmp, &out).unwrap();
    }
    out
}

fn dims(p: &Path) -> (usize, usize) {
    let r =
        lv_testkit::y4m::Reader::new(std::io::BufReader::new(std::fs::File::open(p).unwrap())).unwrap();
    (r.header.width, r.header.height)
}

#[test]
fn integer_adm_matches_libvmaf_8bit() {
    oracle::ffmpeg().unwrap();
    let mut worst = Vec::new();
    for clip in oracle::test_clips() {
        let (w, h) = dims(&clip);
        for (name, _) in oracle::DISTORTIONS {
            let dist = oracle::distort(&clip, name, w, h, "yuv420p").unwrap();
            compare(&clip, &dist, &mut worst);
        }
    }
    let dir = oracle::corpus_dir().join("test");
    compare(
        &dir.join("carphone_pristine_176x144_30f.y4m"),
        &dir.join("carphone_distorted_176x144_30f.y4m"),
        &mut worst,
    );
    report(&worst);
}

#[test]
fn integer_adm_matches_libvmaf_high_bit_depth() {
    oracle::ffmpeg().unwrap();
    let mut worst = Vec::new();
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
        let src = converted(clip, tag, fmt);
        let (w, h) = dims(&src);
        for name in names {
            let dist = oracle::distort(&src, name, w, h, fmt).unwrap();
            compare(&src, &dist, &mut worst);
        }
    }
    report(&worst);
}

#[test]
fn integer_adm_identical_input_matches_libvmaf() {
    oracle::ffmpeg().unwrap();
    let mut worst = Vec::new();
    let clip = &oracle::test_clips()[1];
    compare(clip, clip, &mut worst);
    report(&worst);
}
