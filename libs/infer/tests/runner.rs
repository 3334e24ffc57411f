//! lvinfer against an independent reference: the contract's graph evaluated by hand (naive
//! loops over the same weights, read back from the ONNX initializers), the tiling invariance,
//! the per-size cache, and every load error.

use lv_infer::pb;
use lv_infer::synth::{self, Dim, SynthNet};
use lv_infer::{BackendKind, Model, ModelError, PlaneRunner, RunnerConfig};

fn net() -> SynthNet {
    SynthNet {
        channels: 6,
        convs: 3,
        seed: 7,
        residual_scale: 0.5,
    }
}

/// A deterministic textured test picture (not constant, not separable).
fn picture(w: usize, h: usize) -> Vec<u8> {
    (0..w * h)
        .map(|i| {
            let (x, y) = ((i % w) as f64, (i / w) as f64);
            (128.0
                + 60.0 * (x * 0.37).sin() * (y * 0.21).cos()
                + 40.0 * ((x + 2.0 * y) * 0.05).sin()) as u8
        })
        .collect()
}

fn initializer(proto: &pb::ModelProto, name: &str) -> Vec<f32> {
    proto
        .graph
        .as_ref()
        .unwrap()
        .initializer
        .iter()
        .find(|t| t.name == name)
        .unwrap()
        .float_data
        .clone()
}

/// conv 3x3, pad 1, on [c][h][w] planes.
fn conv(x: &[Vec<f32>], w: &[f32], b: &[f32], hh: usize, ww: usize, relu: bool) -> Vec<Vec<f32>> {
    let cin = x.len();
    (0..b.len())
        .map(|o| {
            let mut out = vec![b[o]; hh * ww];
            for (i, xi) in x.iter().enumerate() {
                for ky in 0..3 {
                    for kx in 0..3 {
                        let k = w[((o * cin + i) * 3 + ky) * 3 + kx];
                        for y in 0..hh {
                            let sy = y as isize + ky as isize - 1;
                            if sy < 0 || sy >= hh as isize {
                                continue;
                            }
                            for xx in 0..ww {
                                let sx = xx as isize + kx as isize - 1;
                                if sx < 0 || sx >= ww as isize {
                                    continue;
                                }
                                out[y * ww + xx] += k * xi[sy as usize * ww + sx as usize];
                            }
                        }
                    }
                }
            }
            if relu {
                out.iter_mut().for_each(|v| *v = v.max(0.0));
            }
            out
        })
        .collect()
}

/// The contract's network on an (even-sized) f32 plane, by hand.
fn reference_net(proto: &pb::ModelProto, convs: usize, x: &[f32], w: usize, h: usize) -> Vec<f32> {
    let (hw, hh) = (w / 2, h / 2);
    // SpaceToDepth(2): channel i*2+j holds pixel (2y+i, 2x+j).
    let mut t: Vec<Vec<f32>> = (0..4)
        .map(|c| {
            let (i, j) = (c / 2, c % 2);
            (0..hh * hw)
                .map(|k| x[(2 * (k / hw) + i) * w + 2 * (k % hw) + j])
                .collect()
        })
        .collect();
    for l in 0..convs {
        let wt = initializer(proto, &format!("conv{l}.weight"));
        let b = initializer(proto, &format!("conv{l}.bias"));
        t = conv(&t, &wt, &b, hh, hw, l + 1 < convs);
    }
    // DepthToSpace(2, DCR) with one output channel: channel i*2+j goes to (2y+i, 2x+j).
    let mut out = vec![0.0; w * h];
    for (c, plane) in t.iter().enumerate() {
        let (i, j) = (c / 2, c % 2);
        for k in 0..hh * hw {
            out[(2 * (k / hw) + i) * w + 2 * (k % hw) + j] = plane[k];
        }
    }
    out.iter_mut().zip(x).for_each(|(o, &v)| *o += v);
    out
}

#[test]
fn synthetic_model_loads_with_its_metadata() {
    let m = Model::from_bytes(&net().bytes()).unwrap();
    assert_eq!(m.info().kind, "dnnscale-refine-v1");
    assert_eq!(m.info().align, 2);
    assert_eq!(m.info().receptive_radius, 7);
}

/// One thread on one tile: the plain configuration, where a test is about something else.
fn one_thread(backend: BackendKind) -> RunnerConfig {
    RunnerConfig {
        threads: 1,
        tiles: 1,
        backend,
    }
}

#[test]
fn output_matches_hand_computed_network_with_edge_replication() {
    let n = net();
    let proto = n.proto();
    let m = Model::from_proto(proto.clone()).unwrap();
    // Odd size: exercises the alignment padding on the right and bottom.
    let (w, h) = (37usize, 23usize);
    let src: Vec<f32> = picture(w, h).iter().map(|&v| v as f32 / 255.0).collect();
    let runner = PlaneRunner::new(&m, w, h, one_thread(BackendKind::Cpu)).unwrap();
    let mut out = vec![0f32; w * h];
    runner.run(&src, w, &mut out, w).unwrap();

    // The documented definition: pad = radius rounded up to align (8) on every side by edge
    // replication, right/bottom further to a multiple of 2, run, crop.
    let pad = 8;
    let (pw, ph) = ((w + 2 * pad).div_ceil(2) * 2, (h + 2 * pad).div_ceil(2) * 2);
    let padded: Vec<f32> = (0..pw * ph)
        .map(|i| {
            let x = (i % pw).saturating_sub(pad).min(w - 1);
            let y = (i / pw).saturating_sub(pad).min(h - 1);
            src[y * w + x]
        })
        .collect();
    let full = reference_net(&proto, n.convs, &padded, pw, ph);
    let mut max_err = 0f32;
    let mut max_residual = 0f32;
    for y in 0..h {
        for x in 0..w {
            let r = full[(y + pad) * pw + x + pad];
            max_err = max_err.max((r - out[y * w + x]).abs());
            max_residual = max_residual.max((r - src[y * w + x]).abs());
        }
    }
    assert!(
        max_err < 1e-4,
        "tract vs hand-computed net: max error {max_err}"
    );
    // The net does something (otherwise the comparison above proves little).
    assert!(max_residual > 1e-3, "residual {max_residual}");
}

fn run_u8(
    m: &Model,
    w: usize,
    h: usize,
    threads: usize,
    tiles: usize,
    src: &[u8],
    stride: usize,
) -> Vec<u8> {
    let r = PlaneRunner::new(
        m,
        w,
        h,
        RunnerConfig {
            threads,
            tiles,
            backend: BackendKind::Cpu,
        },
    )
    .unwrap();
    if tiles > 1 {
        // Cores are rounded up to the alignment, which can merge the last tiles away.
        assert!(
            r.tiles() > 1 && r.tiles() <= tiles,
            "{} tiles for {tiles}",
            r.tiles()
        );
    }
    // Destination with a padded stride, to check rows land where they should.
    let ds = w + 5;
    let mut dst = vec![0xAAu8; ds * h];
    r.run(src, stride, &mut dst, ds).unwrap();
    for y in 0..h {
        assert!(
            dst[y * ds + w..(y + 1) * ds].iter().all(|&v| v == 0xAA),
            "row {y} padding written"
        );
    }
    (0..h)
        .flat_map(|y| dst[y * ds..y * ds + w].to_vec())
        .collect()
}

#[test]
fn tiled_output_equals_untiled_output() {
    let m = Model::from_bytes(&net().bytes()).unwrap();
    for (w, h) in [(64usize, 48usize), (81, 67), (160, 90)] {
        // Source with a padded stride.
        let stride = w + 3;
        let pic = picture(w, h);
        let mut src = vec![0u8; stride * h];
        for y in 0..h {
            src[y * stride..y * stride + w].copy_from_slice(&pic[y * w..(y + 1) * w]);
        }
        let whole = run_u8(&m, w, h, 1, 1, &src, stride);
        // The net changes the picture (so equality below is not trivial).
        assert_ne!(whole, pic);
        for (threads, tiles) in [(1, 3), (2, 2), (2, 5), (2, 0), (3, 7)] {
            let tiled = run_u8(&m, w, h, threads, tiles, &src, stride);
            assert_eq!(tiled, whole, "{w}x{h} threads={threads} tiles={tiles}");
        }
    }
}

#[test]
fn plans_are_cached_per_size() {
    let m = Model::from_bytes(&net().bytes()).unwrap();
    let cfg = one_thread(BackendKind::Cpu);
    let a = PlaneRunner::new(&m, 40, 30, cfg).unwrap();
    assert_eq!(m.cached_sizes(), 1);
    let _b = PlaneRunner::new(&m, 40, 30, cfg).unwrap();
    assert_eq!(m.cached_sizes(), 1);
    let _c = PlaneRunner::new(&m, 42, 30, cfg).unwrap();
    assert_eq!(m.cached_sizes(), 2);
    // A runner keeps working on repeated frames (tensors reused).
    let pic = picture(40, 30);
    let mut o1 = vec![0u8; 40 * 30];
    let mut o2 = vec![0u8; 40 * 30];
    a.run(&pic, 40, &mut o1, 40).unwrap();
    a.run(&pic, 40, &mut o2, 40).unwrap();
    assert_eq!(o1, o2);
    assert!(m.plan(41, 30).is_err(), "unaligned size accepted");
}

#[test]
fn cuda_request_falls_back_to_cpu_with_a_reason() {
    let m = Model::from_bytes(&net().bytes()).unwrap();
    let r = PlaneRunner::new(&m, 32, 32, one_thread(BackendKind::Cuda)).unwrap();
    // Without a usable CUDA device the network runs on the CPU and the reason names the outcome
    // of the driver probe; with one, a RefineNet graph runs on it.
    match lv_infer::cuda_device() {
        Err(e) => {
            assert_eq!(r.backend(), BackendKind::Cpu);
            let reason = r.fallback_reason().expect("a fallback reason");
            assert!(reason.contains(&e), "{reason}");
        }
        Ok(_) if r.backend() == BackendKind::Cuda => assert!(r.fallback_reason().is_none()),
        Ok(_) => assert!(r.fallback_reason().is_some()),
    }
    let cpu = PlaneRunner::new(&m, 32, 32, one_thread(BackendKind::Cpu)).unwrap();
    assert!(cpu.fallback_reason().is_none());
}

fn with_graph(f: impl FnOnce(&mut pb::GraphProto)) -> Vec<u8> {
    let mut p = net().proto();
    f(p.graph.as_mut().unwrap());
    synth::encode(&p)
}

fn with_metadata(key: &str, value: Option<&str>) -> Vec<u8> {
    let mut p = net().proto();
    p.metadata_props.retain(|e| e.key != key);
    if let Some(v) = value {
        p.metadata_props.push(pb::StringStringEntryProto {
            key: key.into(),
            value: v.into(),
        });
    }
    synth::encode(&p)
}

#[test]
fn load_errors_are_typed() {
    let e = Model::from_path("/nonexistent/dnnscale.onnx").unwrap_err();
    assert!(matches!(e, ModelError::Io { .. }), "{e}");
    assert!(e.to_string().contains("/nonexistent/dnnscale.onnx"));

    let e = Model::from_bytes(b"this is not a protobuf \xff\xff\xff\xff").unwrap_err();
    assert!(matches!(e, ModelError::Malformed(_)), "{e}");
    // Truncated file.
    let b = net().bytes();
    let e = Model::from_bytes(&b[..b.len() / 2]).unwrap_err();
    assert!(matches!(e, ModelError::Malformed(_)), "{e}");

    let e = Model::from_bytes(&with_graph(|g| {
        g.input[0] = synth::value_info("input", &[Dim::N(1), Dim::S("H"), Dim::S("W")]);
    }))
    .unwrap_err();
    assert!(
        matches!(e, ModelError::Input(ref s) if s.contains("rank is 3")),
        "{e}"
    );

    let e = Model::from_bytes(&with_graph(|g| {
        g.input[0] = synth::value_info("input", &[Dim::N(1), Dim::N(3), Dim::S("H"), Dim::S("W")]);
    }))
    .unwrap_err();
    assert!(
        matches!(e, ModelError::Input(ref s) if s.contains("channel")),
        "{e}"
    );

    let e = Model::from_bytes(&with_graph(|g| g.output[0].name = "y".into())).unwrap_err();
    assert!(matches!(e, ModelError::Output(_)), "{e}");

    // The metadata the runner needs, each missing or unusable in turn, and the error it must give.
    enum Want {
        Missing,
        Invalid,
        Unsupported,
    }
    for (key, value, want) in [
        ("lv.kind", None, Want::Missing),
        ("lv.kind", Some("srenhance-v1"), Want::Unsupported),
        ("lv.align", Some("two"), Want::Invalid),
        ("lv.align", Some("0"), Want::Invalid),
        ("lv.receptive_radius", None, Want::Missing),
    ] {
        let e = Model::from_bytes(&with_metadata(key, value)).unwrap_err();
        let fits = match (want, &e) {
            (Want::Missing, ModelError::MissingMetadata { key: k }) => *k == key,
            (Want::Invalid, ModelError::InvalidMetadata { key: k, .. }) => *k == key,
            (Want::Unsupported, ModelError::UnsupportedKind(_)) => true,
            _ => false,
        };
        assert!(fits, "{key}={value:?}: {e}");
    }

    // A diverged training's weights (NaN, in raw or in float data): refused, naming them.
    let e = Model::from_bytes(&with_graph(|g| {
        let t = &mut g.initializer[0];
        if t.raw_data.len() >= 4 {
            t.raw_data[..4].copy_from_slice(&f32::NAN.to_le_bytes());
        } else {
            t.float_data[0] = f32::INFINITY;
        }
    }))
    .unwrap_err();
    assert!(matches!(e, ModelError::NonFinite(_)), "{e}");

    // A graph tract cannot build: a node reading a value nobody produces.
    let e = Model::from_bytes(&with_graph(|g| g.node[1].input[0] = "nowhere".into()))
        .and_then(|m| m.plan(32, 32).map(|_| m))
        .unwrap_err();
    assert!(matches!(e, ModelError::Tract { .. }), "{e}");
}

/// A runner made for another model with `with_model` keeps the size, tiling and worker threads
/// (shared, not respawned: the threads outlive the runner that made them) and computes what a
/// runner built from scratch for that model computes.
#[test]
fn a_runner_for_another_model_shares_the_threads_and_matches_a_fresh_one() {
    let (w, h) = (61usize, 47usize);
    let cfg = RunnerConfig {
        threads: 2,
        tiles: 4,
        backend: BackendKind::Cpu,
    };
    let first = Model::from_bytes(&net().bytes()).unwrap();
    let other = Model::from_bytes(&SynthNet { seed: 11, ..net() }.bytes()).unwrap();
    let a = PlaneRunner::new(&first, w, h, cfg).unwrap();
    let b = a.with_model(&other).unwrap();
    let fresh = PlaneRunner::new(&other, w, h, cfg).unwrap();
    assert!(b.shares_threads_with(&a));
    assert!(!fresh.shares_threads_with(&a));
    assert_eq!(
        (b.size(), b.tiles(), b.threads()),
        (a.size(), a.tiles(), a.threads())
    );
    drop(a);
    let on = b.install(|| std::thread::current().name().map(str::to_owned));
    assert!(
        on.as_deref().is_some_and(|n| n.starts_with("lvinfer-")),
        "{on:?}"
    );

    let src = picture(w, h);
    let (mut got, mut want) = (vec![0u8; w * h], vec![0u8; w * h]);
    b.run(&src, w, &mut got, w).unwrap();
    fresh.run(&src, w, &mut want, w).unwrap();
    assert_eq!(got, want);
    let mut first_out = vec![0u8; w * h];
    PlaneRunner::new(&first, w, h, cfg)
        .unwrap()
        .run(&src, w, &mut first_out, w)
        .unwrap();
    assert_ne!(got, first_out, "the other model computes something else");
}
