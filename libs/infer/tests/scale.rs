//! `scale::Scaler` against its definition: luma resampled then run through the network,
//! chroma resampled with its siting; NV12 gives the planar result interleaved; padded
//! strides are honoured and left untouched.

use lv_image::plane::{Chroma, Plane, PlaneLayout};
use lv_image::resample::{Kernel, Resampler, ResamplerConfig, Siting};
use lv_infer::scale::{Scaler, ScalerConfig};
use lv_infer::synth::SynthNet;
use lv_infer::{Model, PlaneRunner, RunnerConfig};
use std::sync::Arc;

fn model() -> Model {
    let net = SynthNet {
        channels: 4,
        convs: 2,
        seed: 3,
        residual_scale: 0.5,
    };
    Model::from_bytes(&net.bytes()).unwrap()
}

fn picture(w: usize, h: usize, stride: usize, phase: f64) -> Vec<u8> {
    let mut p = vec![0xa5u8; stride * h];
    for y in 0..h {
        for x in 0..w {
            let (fx, fy) = (x as f64, y as f64);
            p[y * stride + x] =
                (128.0 + 60.0 * (fx * 0.37 + phase).sin() * (fy * 0.21).cos()) as u8;
        }
    }
    p
}

fn config(in_size: (usize, usize), out_size: (usize, usize), layout: PlaneLayout) -> ScalerConfig {
    ScalerConfig {
        in_size,
        out_size,
        layout,
        kernel: Kernel::LANCZOS3,
        runner: RunnerConfig {
            threads: 2,
            ..RunnerConfig::default()
        },
    }
}

fn resample(
    src: &[u8],
    iw: usize,
    ih: usize,
    stride: usize,
    ow: usize,
    oh: usize,
    s: (Siting, Siting),
) -> Vec<u8> {
    let r = Resampler::with_config(ResamplerConfig {
        siting_x: s.0,
        siting_y: s.1,
        ..ResamplerConfig::new(iw, ih, ow, oh, Kernel::LANCZOS3)
    })
    .unwrap();
    let mut out = vec![0u8; ow * oh];
    r.process_u8(&Plane::new_u8(src, iw, ih, stride), &mut out, ow);
    out
}

#[test]
fn planar_420_is_resampled_luma_through_the_network_and_resampled_chroma() {
    let m = model();
    let (iw, ih, ow, oh) = (37, 29, 20, 15);
    let (cw, ch, cow, coh) = (19, 15, 10, 8);
    let layout = PlaneLayout {
        chroma: Chroma::C420,
        interleaved_uv: false,
        cosited: (true, false),
    };
    let (ys, cs) = (40, 24);
    let (y, u, v) = (
        picture(iw, ih, ys, 0.0),
        picture(cw, ch, cs, 1.0),
        picture(cw, ch, cs, 2.0),
    );
    let (oys, ocs) = (24, 16);
    let (mut oy, mut ou, mut ov) = (
        vec![7u8; oys * oh],
        vec![7u8; ocs * coh],
        vec![7u8; ocs * coh],
    );
    let mut scaler = Scaler::new(&m, config((iw, ih), (ow, oh), layout)).unwrap();
    scaler
        .process(
            &[(&y, ys), (&u, cs), (&v, cs)],
            &mut [(&mut oy, oys), (&mut ou, ocs), (&mut ov, ocs)],
        )
        .unwrap();

    let centre = (Siting::CENTRE, Siting::CENTRE);
    let luma = resample(&y, iw, ih, ys, ow, oh, centre);
    let runner = PlaneRunner::new(&m, ow, oh, RunnerConfig::default()).unwrap();
    let mut want_y = vec![0u8; ow * oh];
    runner.run(&luma, ow, &mut want_y, ow).unwrap();
    let siting = (Siting::chroma(1, true), Siting::chroma(1, false));
    let want_u = resample(&u, cw, ch, cs, cow, coh, siting);
    let want_v = resample(&v, cw, ch, cs, cow, coh, siting);
    for r in 0..oh {
        assert_eq!(
            oy[r * oys..r * oys + ow],
            want_y[r * ow..(r + 1) * ow],
            "luma row {r}"
        );
        assert!(
            oy[r * oys + ow..(r + 1) * oys].iter().all(|&b| b == 7),
            "luma padding"
        );
    }
    for r in 0..coh {
        assert_eq!(
            ou[r * ocs..r * ocs + cow],
            want_u[r * cow..(r + 1) * cow],
            "U row {r}"
        );
        assert_eq!(
            ov[r * ocs..r * ocs + cow],
            want_v[r * cow..(r + 1) * cow],
            "V row {r}"
        );
        assert!(
            ou[r * ocs + cow..(r + 1) * ocs].iter().all(|&b| b == 7),
            "U padding"
        );
    }

    // NV12: the same chroma, interleaved.
    let nv12 = PlaneLayout {
        interleaved_uv: true,
        ..layout
    };
    let (uvs, ouvs) = (2 * cw + 4, 2 * cow + 2);
    let mut uv = vec![0u8; uvs * ch];
    for r in 0..ch {
        for x in 0..cw {
            uv[r * uvs + 2 * x] = u[r * cs + x];
            uv[r * uvs + 2 * x + 1] = v[r * cs + x];
        }
    }
    let (mut ny, mut nuv) = (vec![0u8; oys * oh], vec![7u8; ouvs * coh]);
    let mut scaler = Scaler::new(&m, config((iw, ih), (ow, oh), nv12)).unwrap();
    scaler
        .process(
            &[(&y, ys), (&uv, uvs)],
            &mut [(&mut ny, oys), (&mut nuv, ouvs)],
        )
        .unwrap();
    for r in 0..oh {
        assert_eq!(
            ny[r * oys..r * oys + ow],
            want_y[r * ow..(r + 1) * ow],
            "NV12 luma row {r}"
        );
    }
    for r in 0..coh {
        for x in 0..cow {
            assert_eq!(
                nuv[r * ouvs + 2 * x],
                want_u[r * cow + x],
                "NV12 U ({x}, {r})"
            );
            assert_eq!(
                nuv[r * ouvs + 2 * x + 1],
                want_v[r * cow + x],
                "NV12 V ({x}, {r})"
            );
        }
        assert_eq!(
            nuv[r * ouvs + 2 * cow..(r + 1) * ouvs],
            [7, 7],
            "NV12 padding"
        );
    }
}

#[test]
fn gray_has_luma_only_and_a_swapped_runner_is_used() {
    let m = model();
    let other = Model::from_bytes(
        &SynthNet {
            channels: 4,
            convs: 2,
            seed: 11,
            residual_scale: 0.5,
        }
        .bytes(),
    )
    .unwrap();
    let (iw, ih, ow, oh) = (30, 22, 45, 33);
    let layout = PlaneLayout {
        chroma: Chroma::Mono,
        interleaved_uv: false,
        cosited: (false, false),
    };
    let y = picture(iw, ih, iw, 0.5);
    let mut scaler = Scaler::new(&m, config((iw, ih), (ow, oh), layout)).unwrap();
    let runner = Arc::new(PlaneRunner::new(&other, ow, oh, RunnerConfig::default()).unwrap());
    scaler.set_runner(runner.clone());
    let mut out = vec![0u8; ow * oh];
    scaler.process(&[(&y, iw)], &mut [(&mut out, ow)]).unwrap();

    let luma = resample(&y, iw, ih, iw, ow, oh, (Siting::CENTRE, Siting::CENTRE));
    let mut want = vec![0u8; ow * oh];
    runner.run(&luma, ow, &mut want, ow).unwrap();
    assert_eq!(out, want);
}
