//! VMAF v0.6.1 on one thread over the benchmark's 1080p clip, for a profiler:
//!
//!   perf record -g target/release/examples/profile_vmaf
//!
//! Prints the time per extractor family measured alone, then the whole meter's fps.

use lv_image::plane::{Chroma, Plane};
use lv_metrics::meter::{Meter, MeterConfig};
use lv_metrics::model::VmafModel;
use std::time::Instant;

fn view<'a>(f: &'a [Vec<u8>], h: &lv_testkit::y4m::Header) -> Vec<Plane<'a>> {
    (0..3)
        .map(|i| {
            let (w, hh) = h.plane_dims(i);
            Plane::new_u8(&f[i], w, hh, w)
        })
        .collect()
}

fn main() {
    let dir = lv_testkit::oracle::corpus_dir().join("bench");
    let (h, rf) = lv_testkit::y4m::read_all(&dir.join("bbb_1920x1080_60f.y4m")).unwrap();
    let (_, df) = lv_testkit::y4m::read_all(&dir.join("bbb_1920x1080_60f_x264crf28.y4m")).unwrap();
    let to8 = |p: &Vec<u16>| p.iter().map(|&s| s as u8).collect::<Vec<u8>>();
    let rf: Vec<Vec<Vec<u8>>> = rf
        .iter()
        .map(|f| f.planes.iter().map(to8).collect())
        .collect();
    let df: Vec<Vec<Vec<u8>>> = df
        .iter()
        .map(|f| f.planes.iter().map(to8).collect())
        .collect();
    let (w, hh) = (h.width, h.height);
    let n = rf.len();
    let mut vif = lv_metrics::vif_int::IntegerVif::new(w, hh, 8, Default::default()).unwrap();
    let t = Instant::now();
    for (r, d) in rf.iter().zip(&df) {
        std::hint::black_box(vif.compute(&view(r, &h)[0], &view(d, &h)[0]));
    }
    println!(
        "integer VIF   {:>7.2} ms/frame",
        t.elapsed().as_secs_f64() * 1e3 / n as f64
    );
    let mut adm = lv_metrics::adm_int::IntegerAdm::new(w, hh, 8, Default::default()).unwrap();
    let t = Instant::now();
    for (r, d) in rf.iter().zip(&df) {
        std::hint::black_box(adm.compute(&view(r, &h)[0], &view(d, &h)[0]));
    }
    println!(
        "integer ADM   {:>7.2} ms/frame",
        t.elapsed().as_secs_f64() * 1e3 / n as f64
    );
    let mut mo = lv_metrics::motion_int::IntegerMotion::new(w, hh, 8).unwrap();
    let t = Instant::now();
    for (i, r) in rf.iter().enumerate() {
        std::hint::black_box(mo.push(i as u64, &view(r, &h)[0]));
    }
    println!(
        "integer motion{:>7.2} ms/frame",
        t.elapsed().as_secs_f64() * 1e3 / n as f64
    );
    let cfg = |threads| MeterConfig {
        width: w,
        height: hh,
        bpc: 8,
        chroma: Chroma::C420,
        models: vec![VmafModel::builtin("vmaf_v0.6.1").unwrap()],
        psnr: false,
        ssim: false,
        ms_ssim: false,
        cambi: None,
        threads,
        accel: None,
    };
    let mut m = Meter::new(cfg(1)).unwrap();
    let t = Instant::now();
    for (i, (r, d)) in rf.iter().zip(&df).enumerate() {
        std::hint::black_box(m.push(i as u64, &view(r, &h), &view(d, &h)));
    }
    std::hint::black_box(m.finish());
    println!(
        "meter (1 thread) {:.2} fps",
        n as f64 / t.elapsed().as_secs_f64()
    );
    // Frame-parallel lanes, one per core: what `threading=frames` runs.
    let lanes = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut m = lv_metrics::frames::FrameParallelMeter::new(cfg(lanes), lanes).unwrap();
    let t = Instant::now();
    for (i, (r, d)) in rf.iter().zip(&df).enumerate() {
        std::hint::black_box(m.push(i as u64, &view(r, &h), &view(d, &h)).unwrap());
    }
    std::hint::black_box(m.finish().unwrap());
    println!(
        "frames ({lanes} lanes) {:.2} fps",
        n as f64 / t.elapsed().as_secs_f64()
    );
}
