//! Agreement of the float VIF, ADM and motion features with libvmaf (through the oracle
//! ffmpeg), frame by frame, on natural clips with several distortions, in 8 and 10 bits,
//! with the default options and with the enhancement gain limits of the "neg" model.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lv_image::plane::Plane;
use lv_metrics::adm_float::{FloatAdm, FloatAdmOptions};
use lv_metrics::motion_float::FloatMotion;
use lv_metrics::vif_float::{FloatVif, FloatVifOptions};
use lv_testkit::oracle;
use lv_testkit::y4m;

/// Per-frame tolerance on every feature. libvmaf's log has 6 decimals, so exact
/// agreement shows as differences up to 5e-7.
const TOL: f64 = 1e-5;

const MODELS: &str =
    "version=vmaf_float_v0.6.1:name=vmaf_float|version=vmaf_float_v0.6.1neg:name=vmaf_float_neg";

fn luma<'a>(h: &y4m::Header, f: &'a y4m::Frame) -> Plane<'a> {
    if h.bpc > 8 {
        Plane::new_u16(&f.planes[0], h.width, h.height, h.width, h.bpc)
    } else {
        // The reader widens to u16; present 8-bit content as such.
        Plane {
            samples: lv_image::plane::Samples::U16(&f.planes[0]),
            width: h.width,
            height: h.height,
            stride: h.width,
            bpc: 8,
        }
    }
}

/// Our scores per frame, keyed like libvmaf's log.
fn ours(reference: &Path, distorted: &Path) -> Vec<BTreeMap<String, f64>> {
    let (h, rf) = y4m::read_all(reference).unwrap();
    let (hd, df) = y4m::read_all(distorted).unwrap();
    assert_eq!((h.width, h.height, h.bpc), (hd.width, hd.height, hd.bpc));
    let (w, ht, bpc) = (h.width, h.height, h.bpc);
    let mut vif = FloatVif::new(w, ht, bpc, FloatVifOptions::default()).unwrap();
    let mut vif_neg = FloatVif::new(
        w,
        ht,
        bpc,
        FloatVifOptions {
            enhn_gain_limit: 1.0,
        },
    )
    .unwrap();
    let mut adm = FloatAdm::new(w, ht, bpc, FloatAdmOptions::default()).unwrap();
    let mut adm_neg = FloatAdm::new(
        w,
        ht,
        bpc,
        FloatAdmOptions {
            enhn_gain_limit: 1.0,
        },
    )
    .unwrap();
    let mut motion = FloatMotion::new(w, ht, bpc).unwrap();
    let n = rf.len().min(df.len());
    let mut out: Vec<BTreeMap<String, f64>> = vec![BTreeMap::new(); n];
    for k in 0..n {
        let (r, d) = (luma(&h, &rf[k]), luma(&h, &df[k]));
        let m = &mut out[k];
        for (s, v) in vif.compute(&r, &d).into_iter().enumerate() {
            m.insert(format!("vif_scale{s}"), v);
        }
        for (s, v) in vif_neg.compute(&r, &d).into_iter().enumerate() {
            m.insert(format!("vif_scale{s}_egl_1"), v);
        }
        let a = adm.compute(&r, &d);
        m.insert("adm2".into(), a.adm2);
        for (s, v) in a.scale.into_iter().enumerate() {
            m.insert(format!("adm_scale{s}"), v);
        }
        let a = adm_neg.compute(&r, &d);
        m.insert("adm2_egl_1".into(), a.adm2);
        for (s, v) in a.scale.into_iter().enumerate() {
            m.insert(format!("adm_scale{s}_egl_1"), v);
        }
        if let Some(s) = motion.push(k as u64, &r) {
            out[s.index as usize].insert("motion".into(), s.motion);
            out[s.index as usize].insert("motion2".into(), s.motion2);
        }
    }
    let s = motion.flush().unwrap();
    out[s.index as usize].insert("motion".into(), s.motion);
    out[s.index as usize].insert("motion2".into(), s.motion2);
    out
}

/// Compares one clip pair; returns the largest |difference| per feature.
fn compare(reference: &Path, distorted: &Path) -> BTreeMap<String, f64> {
    let theirs =
        oracle::libvmaf_frames(reference, distorted, MODELS, "", 1).expect("libvmaf oracle");
    let mine = ours(reference, distorted);
    assert_eq!(theirs.len(), mine.len(), "frame count");
    let mut worst: BTreeMap<String, f64> = BTreeMap::new();
    for (k, (t, m)) in theirs.iter().zip(&mine).enumerate() {
        for (key, &v) in m {
            let o = t
                .get(key)
                .and_then(|x| x.as_f64())
                .unwrap_or_else(|| panic!("libvmaf log lacks {key}"));
            let d = (v - o).abs();
            let e = worst.entry(key.clone()).or_insert(0.0);
            *e = e.max(d);
            assert!(
                d <= TOL,
                "{}: frame {k} {key}: ours {v} libvmaf {o} (|d| {d:e})",
                distorted.display()
            );
        }
    }
    worst
}

fn report(name: &str, worst: &BTreeMap<String, f64>) {
    let line: Vec<String> = worst.iter().map(|(k, v)| format!("{k}={v:.1e}")).collect();
    println!("{name}: {}", line.join(" "));
}

fn dims(p: &Path) -> (usize, usize) {
    let f = std::fs::File::open(p).unwrap();
    let h = y4m::Reader::new(std::io::BufReader::new(f)).unwrap().header;
    (h.width, h.height)
}

fn clip_all_distortions(clip: &str) {
    oracle::ffmpeg().unwrap();
    let src = oracle::corpus_dir().join("test").join(clip);
    let (w, h) = dims(&src);
    let mut total: BTreeMap<String, f64> = BTreeMap::new();
    for (name, _) in oracle::DISTORTIONS {
        let dist = oracle::distort(&src, name, w, h, "yuv420p").unwrap();
        let worst = compare(&src, &dist);
        report(&format!("{clip} {name}"), &worst);
        for (k, v) in worst {
            let e = total.entry(k).or_insert(0.0);
            *e = e.max(v);
        }
    }
    report(&format!("{clip} ALL"), &total);
}

#[test]
fn bbb_all_distortions() {
    clip_all_distortions("bbb_320x180_30f.y4m");
}

#[test]
fn bikes_all_distortions() {
    clip_all_distortions("bikes_320x136_30f.y4m");
}

#[test]
fn carphone_all_distortions() {
    clip_all_distortions("carphone_pristine_176x144_30f.y4m");
}

#[test]
fn carphone_pristine_vs_distorted() {
    oracle::ffmpeg().unwrap();
    let dir = oracle::corpus_dir().join("test");
    let worst = compare(
        &dir.join("carphone_pristine_176x144_30f.y4m"),
        &dir.join("carphone_distorted_176x144_30f.y4m"),
    );
    report("carphone pristine/distorted", &worst);
}

/// A high-bit-depth copy (`pix_fmt`) of a corpus clip, made once in the scratch directory.
fn high_bit(clip: &str, pix_fmt: &str) -> PathBuf {
    let src = oracle::corpus_dir().join("test").join(clip);
    let out = oracle::scratch_dir().join(format!(
        "{}_float_{pix_fmt}.y4m",
        src.file_stem().unwrap().to_string_lossy()
    ));
    if !out.is_file() {
        let tmp = out.with_extension("tmp.y4m");
        let st = std::process::Command::new(oracle::ffmpeg().unwrap())
            .args(["-v", "error", "-y", "-i"])
            .arg(&src)
            .args(["-pix_fmt", pix_fmt, "-f", "yuv4mpegpipe", "-strict", "-1"])
            .arg(&tmp)
            .status()
            .unwrap();
        assert!(st.success());
        std::fs::rename(&tmp, &out).unwrap();
    }
    out
}

#[test]
fn ten_bit_distortions() {
    oracle::ffmpeg().unwrap();
    let src = high_bit("bikes_320x136_30f.y4m", "yuv420p10le");
    let (w, h) = dims(&src);
    for name in ["x264crf35", "noise", "blur"] {
        let dist = oracle::distort(&src, name, w, h, "yuv420p10le").unwrap();
        let worst = compare(&src, &dist);
        report(&format!("bikes 10-bit {name}"), &worst);
    }
}

/// With `debug=true` libvmaf also logs the per-scale numerators and denominators, which
/// are `f32` sums large enough that 6 decimals pin down every bit: this checks that the
/// arithmetic is reproduced exactly, not only to the printed precision of the scores.
fn compare_sums(reference: &Path, distorted: &Path, egl: f64) -> (usize, usize, f64) {
    let features = format!(
        "name=float_vif:debug=true:vif_enhn_gain_limit={egl}|name=float_adm:debug=true:adm_enhn_gain_limit={egl}"
    );
    let suffix = if egl == 100.0 {
        String::new()
    } else {
        format!("_egl_{egl}")
    };
    let theirs =
        oracle::libvmaf_frames(reference, distorted, "", &features, 1).expect("libvmaf oracle");
    let (h, rf) = y4m::read_all(reference).unwrap();
    let (_, df) = y4m::read_all(distorted).unwrap();
    let mut vif = FloatVif::new(
        h.width,
        h.height,
        h.bpc,
        FloatVifOptions {
            enhn_gain_limit: egl,
        },
    )
    .unwrap();
    let mut adm = FloatAdm::new(
        h.width,
        h.height,
        h.bpc,
        FloatAdmOptions {
            enhn_gain_limit: egl,
        },
    )
    .unwrap();
    let (mut exact, mut total, mut worst_rel) = (0, 0, 0f64);
    for (k, t) in theirs.iter().enumerate() {
        let (r, d) = (luma(&h, &rf[k]), luma(&h, &df[k]));
        let v = vif.num_den(&r, &d);
        let a = adm.compute(&r, &d);
        let mut pairs = Vec::new();
        for (s, &(vn, vd)) in v.iter().enumerate() {
            pairs.push((format!("vif_num_scale{s}{suffix}"), vn));
            pairs.push((format!("vif_den_scale{s}{suffix}"), vd));
            pairs.push((format!("adm_num_scale{s}{suffix}"), a.num[s]));
            pairs.push((format!("adm_den_scale{s}{suffix}"), a.den[s]));
        }
        for (key, mine) in pairs {
            let o = t
                .get(&key)
                .and_then(|x| x.as_f64())
                .unwrap_or_else(|| panic!("libvmaf log lacks {key}"));
            total += 1;
            // The log rounds to 6 decimals; the f32 nearest to it is libvmaf's value
            // whenever the f32 spacing there exceeds 1e-6.
            if (o as f32) == mine || (o - mine as f64).abs() <= 5e-7 {
                exact += 1;
            }
            worst_rel = worst_rel.max(((o - mine as f64) / o).abs());
        }
    }
    (exact, total, worst_rel)
}

#[test]
fn debug_sums_are_bit_exact() {
    oracle::ffmpeg().unwrap();
    let dir = oracle::corpus_dir().join("test");
    let src = dir.join("bbb_320x180_30f.y4m");
    let hb = high_bit("bikes_320x136_30f.y4m", "yuv420p10le");
    let pairs = [
        (
            dir.join("carphone_pristine_176x144_30f.y4m"),
            dir.join("carphone_distorted_176x144_30f.y4m"),
        ),
        (
            src.clone(),
            oracle::distort(&src, "x264crf35", 320, 180, "yuv420p").unwrap(),
        ),
        (
            hb.clone(),
            oracle::distort(&hb, "noise", 320, 136, "yuv420p10le").unwrap(),
        ),
    ];
    for (r, d) in &pairs {
        for egl in [100.0, 1.0] {
            let (exact, total, rel) = compare_sums(r, d, egl);
            println!(
                "{} egl {egl}: {exact}/{total} sums exact, worst relative diff {rel:.1e}",
                d.display()
            );
            assert_eq!(
                exact, total,
                "sums differ from libvmaf's (worst relative {rel:e})"
            );
        }
    }
}

/// Speed at 1080p against libvmaf's single-threaded extractors (run with `--ignored`).
#[test]
#[ignore]
fn bench_1080p() {
    let ff = oracle::ffmpeg().unwrap();
    let src = oracle::corpus_dir()
        .join("test")
        .join("bbb_320x180_30f.y4m");
    let scratch = oracle::scratch_dir();
    let (r, d) = (
        scratch.join("bench_float_ref_1080p.y4m"),
        scratch.join("bench_float_dis_1080p.y4m"),
    );
    for (out, vf) in [
        (&r, "scale=1920:1080:flags=bicubic"),
        (&d, "scale=1920:1080:flags=bicubic,noise=alls=8:allf=t"),
    ] {
        if !out.is_file() {
            let st = std::process::Command::new(&ff)
                .args(["-v", "error", "-y", "-i"])
                .arg(&src)
                .args([
                    "-frames:v",
                    "20",
                    "-vf",
                    vf,
                    "-pix_fmt",
                    "yuv420p",
                    "-f",
                    "yuv4mpegpipe",
                ])
                .arg(out)
                .status()
                .unwrap();
            assert!(st.success());
        }
    }
    let (h, rf) = y4m::read_all(&r).unwrap();
    let (_, df) = y4m::read_all(&d).unwrap();
    let n = rf.len();
    let (w, ht) = (h.width, h.height);
    let r8: Vec<Vec<u8>> = rf
        .iter()
        .map(|f| f.planes[0].iter().map(|&v| v as u8).collect())
        .collect();
    let d8: Vec<Vec<u8>> = df
        .iter()
        .map(|f| f.planes[0].iter().map(|&v| v as u8).collect())
        .collect();
    fn p(v: &[u8], w: usize, h: usize) -> Plane<'_> {
        Plane::new_u8(v, w, h, w)
    }
    // CPU time rather than wall time: the machine may be shared.
    fn cpu_s() -> f64 {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let f: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        (f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap()) / 100.0
    }
    let time = |name: &str, f: &mut dyn FnMut(usize)| {
        let t = cpu_s();
        for _ in 0..3 {
            for k in 0..n {
                f(k);
            }
        }
        println!(
            "ours {name}: {:.1} ms CPU/frame",
            (cpu_s() - t) * 1e3 / (3 * n) as f64
        );
    };
    let mut vif = FloatVif::new(w, ht, 8, FloatVifOptions::default()).unwrap();
    time("float_vif", &mut |k| {
        std::hint::black_box(vif.compute(&p(&r8[k], w, ht), &p(&d8[k], w, ht)));
    });
    let mut adm = FloatAdm::new(w, ht, 8, FloatAdmOptions::default()).unwrap();
    time("float_adm", &mut |k| {
        std::hint::black_box(adm.compute(&p(&r8[k], w, ht), &p(&d8[k], w, ht)));
    });
    let mut motion = FloatMotion::new(w, ht, 8).unwrap();
    time("float_motion", &mut |k| {
        std::hint::black_box(motion.push(k as u64, &p(&r8[k], w, ht)));
    });
    // libvmaf through ffmpeg, single-threaded: CPU time of the child minus a run that
    // only reads the clips.
    let mut base = 0.0;
    for feature in ["null", "float_vif", "float_adm", "float_motion"] {
        let out = std::process::Command::new("/usr/bin/time")
            .args(["-f", "%U %S"])
            .arg(&ff)
            .args(["-v", "error", "-threads", "1", "-i"])
            .arg(&d)
            .args(["-threads", "1", "-i"])
            .arg(&r)
            .args([
                "-lavfi",
                &format!("[0:v][1:v]libvmaf=n_threads=1:feature=name={feature}"),
                "-f",
                "null",
                "-",
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        let last = err.lines().last().unwrap_or("");
        let cpu: f64 = last
            .split_whitespace()
            .filter_map(|v| v.parse::<f64>().ok())
            .sum();
        if feature == "null" {
            base = cpu;
        }
        println!(
            "libvmaf {feature}: {:.1} ms CPU/frame ({last})",
            (cpu - base) * 1e3 / n as f64
        );
    }
}

#[test]
fn twelve_bit_noise() {
    oracle::ffmpeg().unwrap();
    let src = high_bit("carphone_pristine_176x144_30f.y4m", "yuv420p12le");
    let (w, h) = dims(&src);
    let dist = oracle::distort(&src, "noise", w, h, "yuv420p12le").unwrap();
    let worst = compare(&src, &dist);
    report("carphone 12-bit noise", &worst);
}
