//! Inference cost of a RefineNet architecture in tract (single thread), the runtime the
//! element uses: `cargo run --release -p lvtrain --example tract_time -- [C L | model.onnx] [W H]`.
//! Random weights are enough: the cost does not depend on the values.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Instant;

use lv_train::{RefineConfig, RefineNet};
use tract_onnx::prelude::*;

fn main() {
    let a: Vec<String> = std::env::args().skip(1).collect();
    let (bytes, rest) = if a.first().is_some_and(|s| s.ends_with(".onnx")) {
        (std::fs::read(&a[0]).expect("model"), &a[1..])
    } else {
        let c = a.first().map_or(16, |s| s.parse().unwrap());
        let l = a.get(1).map_or(1, |s| s.parse().unwrap());
        let net = RefineNet::new(
            RefineConfig {
                channels: c,
                hidden_layers: l,
            },
            1,
        );
        (
            lv_graph::onnx::export(&net, "tract_time"),
            a.get(2..).unwrap_or(&[]),
        )
    };
    let net = lv_graph::onnx::import(&bytes).expect("lvtrain model");
    let w: usize = rest.first().map_or(960, |s| s.parse().unwrap());
    let h: usize = rest.get(1).map_or(540, |s| s.parse().unwrap());
    let model = common::plan(&bytes, h, w);
    let input: Tensor = tract_ndarray::Array4::<f32>::from_elem((1, 1, h, w), 0.5).into();
    for _ in 0..3 {
        model.run(tvec!(input.clone().into())).unwrap();
    }
    let n = 20;
    let t = Instant::now();
    for _ in 0..n {
        model.run(tvec!(input.clone().into())).unwrap();
    }
    let ms = t.elapsed().as_secs_f64() * 1e3 / n as f64;
    let gflop = net.macs_per_pixel() * 2.0 * (w * h) as f64 / 1e9;
    println!(
        "C={} hidden={} {}x{}: {:.2} ms/frame single-thread, {} MAC/pixel, {:.3} GFLOP/frame, {:.1} GFLOP/s",
        net.config.channels,
        net.config.hidden_layers,
        w,
        h,
        ms,
        net.macs_per_pixel(),
        gflop,
        gflop / (ms / 1e3)
    );
}
