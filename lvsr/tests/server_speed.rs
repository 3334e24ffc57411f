//! Timing probe (ignored by default; prints, asserts nothing): lvtrain's own forward pass
//! (im2col + matrixmultiply) of the shipped network on one 1280x720 luma plane, single
//! thread. `cargo test -p lvsr --test server_speed -- --ignored --nocapture`.

#[test]
#[ignore]
fn lvtrain_forward_720p() {
    let bytes =
        std::fs::read(lvcore::oracle::repo_root().join("models/srenhance/srenhance.onnx")).unwrap();
    let net = lvtrain::onnx::import(&bytes).unwrap();
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
        "lvtrain forward 1280x720, 1 thread: {:.1} ms/frame, {:.2} GFLOP/s",
        s * 1e3,
        gflop / s
    );
}
