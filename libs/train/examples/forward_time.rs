//! Timing probe (prints, asserts nothing): the training engine's own forward pass
//! (im2col + matrixmultiply) of the shipped srenhance network on one 1280x720 luma plane,
//! single thread. `cargo run --release -p lv-train --example forward_time`.

use lv_train::Trainable;

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let bytes = std::fs::read(root.join("models/srenhance/srenhance.onnx")).unwrap();
    let net = lv_graph::onnx::import(&bytes).unwrap();
    let (w, h) = (1280usize, 720usize);
    let x: Vec<f32> = (0..w * h)
        .map(|i| ((i * 7919) % 255) as f32 / 255.0)
        .collect();
    let _ = net.forward(&x, h, w);
    let n = 5;
    let t = std::time::Instant::now();
    for _ in 0..n {
        std::hint::black_box(net.forward(&x, h, w));
    }
    let s = t.elapsed().as_secs_f64() / n as f64;
    let gflop = 2.0 * net.macs_per_pixel() * (w * h) as f64 / 1e9;
    eprintln!(
        "lv-train forward 1280x720, 1 thread: {:.1} ms/frame, {:.2} GFLOP/s",
        s * 1e3,
        gflop / s
    );
}
