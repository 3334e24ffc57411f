//! CPU time of the integer ADM and motion features at 1080p against libvmaf's (ignored by
//! default; run with `cargo test --release -p lvcore --test perf_adm_int -- --ignored
//! --nocapture` — the test profile keeps overflow checks, which defeat vectorisation).
//! The clip is the corpus's bbb upscaled to 1920x1080 with a little noise; the distorted
//! one is blurred and noisier. libvmaf runs single-threaded through the oracle ffmpeg with
//! a throwaway model that uses only the feature being timed; its time includes ffmpeg's
//! y4m decoding and libvmaf's picture copies (and, for ADM, libvmaf's AIM outputs, which
//! ours computes only on request: both are timed).

use lv_image::plane::Plane;
use lv_metrics::adm_int::{IntegerAdm, IntegerAdmOptions};
use lv_metrics::motion_int::IntegerMotion;
use lv_testkit::oracle;
use std::path::{Path, PathBuf};
use std::process::Command;

/// CPU time of this thread in seconds (the machine may be shared, so wall time misleads).
fn cpu_s() -> f64 {
    #[repr(C)]
    struct Timespec {
        s: i64,
        ns: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, t: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut t = Timespec { s: 0, ns: 0 };
    // SAFETY: plain libc call writing into `t`.
    unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.s as f64 + t.ns as f64 * 1e-9
}

fn make(out: &Path, input: &Path, vf: &str) {
    if out.is_file() {
        return;
    }
    let tmp = out.with_extension("tmp.y4m");
    let st = Command::new(oracle::ffmpeg().unwrap())
        .args(["-v", "error", "-y", "-i"])
        .arg(input)
        .args([
            "-vf",
            vf,
            "-pix_fmt",
            "yuv420p",
            "-frames:v",
            "20",
            "-f",
            "yuv4mpegpipe",
        ])
        .arg(&tmp)
        .status()
        .unwrap();
    assert!(st.success());
    std::fs::rename(&tmp, out).unwrap();
}

fn clips() -> (PathBuf, PathBuf) {
    let s = oracle::scratch_dir();
    let (r, d) = (s.join("bench1080_ref.y4m"), s.join("bench1080_dis.y4m"));
    make(
        &r,
        &oracle::test_clips()[0],
        "scale=1920:1080:flags=lanczos,noise=alls=3:allf=t",
    );
    make(&d, &r, "gblur=sigma=1.2,noise=alls=8:allf=t");
    (r, d)
}

/// User CPU seconds used so far by finished child processes.
fn children_cpu_s() -> f64 {
    #[repr(C)]
    struct Rusage {
        utime: [i64; 2],
        stime: [i64; 2],
        rest: [i64; 14],
    }
    extern "C" {
        fn getrusage(who: i32, usage: *mut Rusage) -> i32;
    }
    const RUSAGE_CHILDREN: i32 = -1;
    let mut u = Rusage {
        utime: [0; 2],
        stime: [0; 2],
        rest: [0; 14],
    };
    // SAFETY: plain libc call writing into `u`.
    unsafe { getrusage(RUSAGE_CHILDREN, &mut u) };
    u.utime[0] as f64 + u.utime[1] as f64 * 1e-6
}

/// libvmaf's single-threaded user CPU time per frame with a model using only `feature`.
fn libvmaf_ms(r: &Path, d: &Path, feature: &str, frames: usize) -> f64 {
    let dir = oracle::scratch_dir();
    let model = dir.join(format!("only_{feature}.json"));
    let json = serde_json::json!({
        "model_dict": {
            "model_type": "LIBSVMNUSVR",
            "model": "svm_type nu_svr\nkernel_type rbf\ngamma 0.04\nnr_class 2\ntotal_sv 1\nrho 0\nSV\n1 1:0.5 \n",
            "feature_names": [feature],
            "norm_type": "linear_rescale",
            "slopes": [0.0, 1.0],
            "intercepts": [0.0, 0.0],
            "score_clip": [0.0, 100.0],
        }
    });
    std::fs::write(&model, json.to_string()).unwrap();
    let log = dir.join("perf_log.json");
    let filter = format!(
        "[0:v][1:v]libvmaf=n_threads=1:log_fmt=json:log_path={}:model='path={}'",
        log.display(),
        model.display()
    );
    let before = children_cpu_s();
    let st = Command::new(oracle::ffmpeg().unwrap())
        .args(["-v", "error", "-i"])
        .arg(d)
        .arg("-i")
        .arg(r)
        .args(["-lavfi", &filter, "-f", "null", "-"])
        .status()
        .unwrap();
    assert!(st.success(), "libvmaf run failed");
    (children_cpu_s() - before) * 1e3 / frames as f64
}

fn luma8(p: &Path) -> (usize, usize, Vec<Vec<u8>>) {
    let (h, frames) = lv_testkit::y4m::read_all(p).unwrap();
    let f = frames
        .into_iter()
        .map(|f| f.planes[0].iter().map(|&v| v as u8).collect())
        .collect();
    (h.width, h.height, f)
}

#[test]
#[ignore]
fn perf_1080p() {
    let (r, d) = clips();
    let (w, h, rf) = luma8(&r);
    let (_, _, df) = luma8(&d);
    let mut adm = IntegerAdm::new(w, h, 8, IntegerAdmOptions::default()).unwrap();
    let t = cpu_s();
    let mut acc = 0.0;
    for (a, b) in rf.iter().zip(&df) {
        acc += adm
            .compute(&Plane::new_u8(a, w, h, w), &Plane::new_u8(b, w, h, w))
            .adm2;
    }
    let adm_ms = (cpu_s() - t) * 1e3 / rf.len() as f64;
    // With AIM and adm3 as well, which libvmaf always computes.
    let aim_opts = IntegerAdmOptions {
        aim: true,
        ..Default::default()
    };
    let mut adm = IntegerAdm::new(w, h, 8, aim_opts).unwrap();
    let t = cpu_s();
    for (a, b) in rf.iter().zip(&df) {
        acc += adm
            .compute(&Plane::new_u8(a, w, h, w), &Plane::new_u8(b, w, h, w))
            .adm3;
    }
    let aim_ms = (cpu_s() - t) * 1e3 / rf.len() as f64;
    let mut m = IntegerMotion::new(w, h, 8).unwrap();
    let t = cpu_s();
    for (i, a) in rf.iter().enumerate() {
        if let Some(s) = m.push(i as u64, &Plane::new_u8(a, w, h, w)) {
            acc += s.motion2;
        }
    }
    let mot_ms = (cpu_s() - t) * 1e3 / rf.len() as f64;
    let lv_adm = libvmaf_ms(&r, &d, "VMAF_integer_feature_adm2_score", rf.len());
    let lv_mot = libvmaf_ms(&r, &d, "VMAF_integer_feature_motion2_score", rf.len());
    println!(
        "1080p CPU ms/frame, ours: integer ADM {adm_ms:.1} (with AIM/adm3 {aim_ms:.1}), integer motion {mot_ms:.1} ({acc:.3})"
    );
    println!("1080p CPU ms/frame, libvmaf via ffmpeg (incl. decoding): ADM {lv_adm:.1}, motion {lv_mot:.1}");
}
