//! The native engine against tract (the independent implementation of the same ONNX graph):
//! lvtrain exports with and without the linear branch, several widths, odd sizes, tiles and
//! threads; the shipped models take the native path; graphs that differ in any node do not.

use lv_graph::net::{normal, RefineConfig, RefineNet};
use lv_infer::{Engine, Model, PlaneRunner, RunnerConfig};
use rand::SeedableRng;

fn picture(w: usize, h: usize, seed: u64) -> Vec<f32> {
    (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as f64, (i / w) as f64);
            let v = 0.5
                + 0.25 * (x * 0.37 + seed as f64).sin() * (y * 0.21).cos()
                + 0.15 * ((x + 2.0 * y) * 0.05).sin();
            v as f32
        })
        .collect()
}

/// A RefineNet with every parameter random (the last layer too, so the residual is not zero).
fn random_net(channels: usize, hidden: usize, skip: bool, seed: u64) -> RefineNet {
    let mut net = RefineNet::new(
        RefineConfig {
            channels,
            hidden_layers: hidden,
        },
        seed,
    );
    if skip {
        net = net.with_linear_skip();
    }
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed + 100);
    for p in net.params.iter_mut() {
        *p = (normal(&mut rng) * 0.3) as f32;
    }
    net
}

fn run(
    model: &Model,
    engine: Engine,
    w: usize,
    h: usize,
    threads: usize,
    tiles: usize,
    x: &[f32],
) -> Vec<f32> {
    let r = PlaneRunner::with_engine(
        model,
        w,
        h,
        RunnerConfig {
            threads,
            tiles,
            ..Default::default()
        },
        engine,
    )
    .unwrap();
    assert_eq!(
        r.engine_name(),
        if engine == Engine::Tract {
            "tract"
        } else {
            "native"
        }
    );
    let mut out = vec![0.0f32; w * h];
    r.run(x, w, &mut out, w).unwrap();
    out
}

#[test]
fn native_matches_tract() {
    for (c, hidden, skip) in [(8, 1, false), (16, 1, true), (12, 2, false), (4, 0, true)] {
        let net = random_net(c, hidden, skip, c as u64);
        let bytes = lv_graph::onnx::export_kind(&net, "srenhance-refine-v1", "test");
        let model = Model::from_bytes(&bytes).unwrap();
        assert!(model.has_native(), "C={c} L={hidden} skip={skip}");
        for (w, h) in [(37, 23), (64, 48), (131, 70)] {
            let x = picture(w, h, c as u64);
            let t = run(&model, Engine::Tract, w, h, 1, 1, &x);
            let n = run(&model, Engine::Auto, w, h, 1, 1, &x);
            let mut maxd = 0f32;
            for (a, b) in t.iter().zip(&n) {
                maxd = maxd.max((a - b).abs());
            }
            assert!(maxd < 1e-4, "C={c} L={hidden} skip={skip} {w}x{h}: {maxd}");
            // Tiling and threads change nothing, bit for bit.
            let n2 = run(&model, Engine::Auto, w, h, 2, 5, &x);
            assert_eq!(n, n2, "C={c} {w}x{h} tiled");
        }
    }
}

#[test]
fn u8_planes_agree_with_tract_within_one_level() {
    let net = random_net(8, 1, false, 3);
    let model = Model::from_bytes(&lv_graph::onnx::export(&net, "t")).unwrap();
    let (w, h) = (97, 55);
    let x: Vec<u8> = picture(w, h, 1).iter().map(|v| (v * 255.0) as u8).collect();
    let mut outs = Vec::new();
    for engine in [Engine::Tract, Engine::Auto] {
        let r = PlaneRunner::with_engine(&model, w, h, RunnerConfig::default(), engine).unwrap();
        let mut out = vec![0u8; w * h];
        r.run(&x, w, &mut out, w).unwrap();
        outs.push(out);
    }
    let worst = outs[0]
        .iter()
        .zip(&outs[1])
        .map(|(a, b)| (*a as i32 - *b as i32).abs())
        .max()
        .unwrap();
    assert!(worst <= 1, "{worst}");
}

#[test]
fn shipped_models_run_natively() {
    let root = lv_testkit::oracle::repo_root();
    for m in [
        "models/srenhance/srenhance.onnx",
        "models/dnnscale/dnnscale.onnx",
    ] {
        let model = Model::from_path(root.join(m)).unwrap();
        assert!(model.has_native(), "{m}");
    }
}

#[test]
fn altered_graphs_run_on_tract() {
    use prost::Message;
    let net = random_net(8, 1, false, 5);
    let proto = lv_graph::onnx::model_proto(&net, "t");
    assert!(Model::from_proto(proto.clone()).unwrap().has_native());
    // One ReLU replaced by another activation: same weights, different function.
    let mut p = proto.clone();
    let g = p.graph.as_mut().unwrap();
    let relu = g.node.iter_mut().find(|n| n.op_type == "Relu").unwrap();
    relu.op_type = "Sigmoid".into();
    let m = Model::from_bytes(&p.encode_to_vec()).unwrap();
    assert!(!m.has_native());
    // A conv with other padding.
    let mut p = proto.clone();
    let g = p.graph.as_mut().unwrap();
    let conv = g.node.iter_mut().find(|n| n.op_type == "Conv").unwrap();
    conv.attribute.retain(|a| a.name != "dilations");
    assert!(!Model::from_proto(p).unwrap().has_native());
}
