//! Training engine (see docs/dnnscale-design.md): small 3x3 conv nets on the CPU, forward and
//! backward, Adam, checkpoints and ONNX export, for dnnscale's offline training and
//! srenhance's online training.
//!
//! # Why a focused engine
//!
//! The nets are tiny (4..32 channels, a few layers) and run on whole image patches, so
//! framework overhead per op dominates in general-purpose crates (candle measured ~6 GFLOP/s
//! on a 4-layer 32-channel net, batch 16 of 48x48). Here a conv is one im2col plus one
//! `matrixmultiply::sgemm` per image (three for backward), images of a batch run in parallel
//! on rayon, and nothing else is allocated or dispatched per op. Correctness rests on the
//! gradient checks in each module's tests (finite differences against the analytic
//! gradients, adjoint identities for the reshuffling ops) and on the ONNX export being
//! compared with tract's output.
//!
//! # Measured speed
//!
//! See `examples/bench_step.rs` (`cargo run --release -p lvtrain --example bench_step`).
//! Measured on this project's 2-core build machine while other builds ran (load average ~8, so
//! these are lower bounds): the reference stack 1→32→32→32→1 at 48x48, batch 16, forward +
//! backward: 2.2 GFLOP/s (1.93 s/step); RefineNet C=16 L=1 on 36x36 inputs, batch 16:
//! 1.2 GFLOP/s (88 ms/step) — these tiny GEMMs (M = 4..16) are dominated by matrixmultiply's
//! packing (20 % of a training profile). `gemm` was not measured (`--features bench-gemm`
//! builds the comparison). In training, with an idle machine, batch 32 of 64x64 patches ran at
//! 8.9 steps/s including data preparation.

pub mod adam;
pub mod checkpoint;
pub mod conv;
pub mod engine;
pub mod expand;
pub mod net;
pub mod ops;
pub mod rate;
pub mod surrogate;
pub mod tensor;

pub use adam::Adam;
pub use checkpoint::Checkpoint;
pub use engine::BatchEngine;
pub use expand::Expansion;
pub use net::{RefineConfig, RefineNet, Trace, Trainable};
pub use surrogate::Surrogate;
pub use tensor::Tensor;

/// Mean squared error and its gradient `2 (a - b) / n` (f64 accumulation).
pub fn mse(a: &[f32], b: &[f32]) -> (f64, Vec<f32>) {
    assert_eq!(a.len(), b.len());
    let n = a.len() as f64;
    let mut s = 0.0f64;
    let g = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = x - y;
            s += (d as f64) * (d as f64);
            (2.0 * d as f64 / n) as f32
        })
        .collect();
    (s / n, g)
}

#[cfg(test)]
mod tests {
    #[test]
    fn mse_value_and_gradient() {
        let (l, g) = super::mse(&[1.0, 2.0], &[0.0, 4.0]);
        assert_eq!(l, 2.5);
        assert_eq!(g, vec![1.0, -2.0]);
    }
}
