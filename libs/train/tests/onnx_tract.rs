//! The ONNX export (lv-graph) runs in tract exactly as the training engine's forward pass.

mod common;

use lv_graph::net::{normal, RefineConfig, RefineNet};
use lv_graph::onnx::export;
use lv_train::Trainable;
use rand::{Rng, SeedableRng};
use tract_onnx::prelude::*;

fn run_tract(bytes: &[u8], x: &[f32], h: usize, w: usize) -> Vec<f32> {
    let model = common::plan(bytes, h, w);
    let input = tract_ndarray::Array4::from_shape_vec((1, 1, h, w), x.to_vec()).unwrap();
    let out = model.run(tvec!(Tensor::from(input).into())).unwrap();
    let t = out[0].to_plain_array_view::<f32>().unwrap();
    assert_eq!(t.shape(), &[1, 1, h, w]);
    t.iter().copied().collect()
}

#[test]
fn tract_runs_the_export_like_lvtrain() {
    tract_matches(false);
}

#[test]
fn tract_runs_the_export_with_linear_skip() {
    tract_matches(true);
}

fn tract_matches(skip: bool) {
    let mut net = RefineNet::new(
        RefineConfig {
            channels: 6,
            hidden_layers: 2,
        },
        4,
    );
    if skip {
        net = net.with_linear_skip();
    }
    // Non-trivial biases and last layer, so a wrong layout anywhere shows.
    let mut rng = rand_pcg::Pcg64::seed_from_u64(8);
    for p in net.params.iter_mut() {
        *p += (normal(&mut rng) * 0.05) as f32;
    }
    let bytes = export(&net, "test");
    for &(h, w) in &[(6usize, 10usize), (64, 96), (2, 2)] {
        let x: Vec<f32> = (0..h * w).map(|_| rng.random_range(0.0f32..1.0)).collect();
        let want = net.forward(&x, h, w);
        let got = run_tract(&bytes, &x, h, w);
        let max = want
            .iter()
            .zip(&got)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(max <= 1e-5, "{h}x{w}: max |lvtrain - tract| = {max}");
    }
}
