//! The native engine against tract on the shipped models, in one run: one luma plane of the
//! size each element runs its network at (srenhance 360p→720p: 1280x720; dnnscale
//! 1080p→540p / 720p: 960x540, 1280x720), 1 and 2 threads, frames per second and the ratio.
//!
//! `cargo bench -p lvinfer --bench engines` (`LV_BENCH_REPS`, default 20 frames per case).

use lv_infer::{Engine, Model, PlaneRunner, RunnerConfig};
use std::time::Instant;

fn main() {
    let reps: usize = std::env::var("LV_BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let root = lv_testkit::oracle::repo_root();
    println!(
        "| model | plane | threads | tract fps | native fps | native ÷ tract | native GFLOP/s |"
    );
    println!("| --- | --- | ---: | ---: | ---: | ---: | ---: |");
    for (name, path, sizes) in [
        (
            "srenhance",
            "models/srenhance/srenhance.onnx",
            &[(1280usize, 720usize)][..],
        ),
        (
            "dnnscale",
            "models/dnnscale/dnnscale.onnx",
            &[(960, 540), (1280, 720)][..],
        ),
    ] {
        let bytes = std::fs::read(root.join(path)).expect("model");
        let model = Model::from_bytes(&bytes).expect("model loads");
        let macs = lv_graph::onnx::import(&bytes)
            .expect("lvtrain export")
            .macs_per_pixel();
        for &(w, h) in sizes {
            let x: Vec<u8> = (0..w * h)
                .map(|i| {
                    (128.0 + 100.0 * ((i % w) as f64 * 0.1).sin() * ((i / w) as f64 * 0.07).cos())
                        as u8
                })
                .collect();
            for threads in [1usize, 2] {
                let mut fps = [0.0f64; 2];
                for (k, engine) in [Engine::Tract, Engine::Auto].into_iter().enumerate() {
                    let cfg = RunnerConfig {
                        threads,
                        ..Default::default()
                    };
                    let r = PlaneRunner::with_engine(&model, w, h, cfg, engine).expect("runner");
                    let mut out = vec![0u8; w * h];
                    r.run(&x, w, &mut out, w).expect("run");
                    let n = if engine == Engine::Tract {
                        reps.div_ceil(4).max(2)
                    } else {
                        reps
                    };
                    let t = Instant::now();
                    for _ in 0..n {
                        r.run(&x, w, &mut out, w).expect("run");
                        std::hint::black_box(&out);
                    }
                    fps[k] = n as f64 / t.elapsed().as_secs_f64();
                }
                let gflops = 2.0 * macs * (w * h) as f64 * fps[1] / 1e9;
                println!(
                    "| {name} | {w}x{h} | {threads} | {:.1} | {:.1} | {:.2}x | {gflops:.1} |",
                    fps[0],
                    fps[1],
                    fps[1] / fps[0]
                );
            }
        }
    }
}
