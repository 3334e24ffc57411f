//! Every kernel run on the CPU through the host emulation (the same CUDA C sources NVRTC
//! compiles), against the CPU path of the elements: bit-exact for the integer features (SSE of
//! PSNR, integer motion, VIF and ADM), within a stated tolerance for the float network layers.
//!
//! Content: natural frames of the test corpus (`scripts/fetch-test-deps.sh`), at their size,
//! cropped to odd sizes inside a wider stride, and lifted to 10 and 16 bits.

use lv_gpu::host;
use lv_image::plane::Plane;
mod common;

use common::{luma, to_u8};
use rand::{Rng, SeedableRng};

#[test]
fn sse_is_bit_exact_with_lv_metrics() {
    let (src, w, h) = luma("bbb_320x180_30f.y4m", 8);
    let (dis, _, _) = luma("bbb_320x180_30f_x264crf30.y4m", 8);
    let mut checked = 0;
    for (a, b) in src.iter().zip(&dis) {
        let (a8, b8) = (to_u8(a), to_u8(b));
        // Whole frames, then an odd crop read through the full stride.
        for (cw, ch) in [(w, h), (w - 3, h - 1), (65, 3), (1, 1)] {
            let cpu = lv_metrics::psnr::plane_sse(
                &Plane::new_u8(&a8, cw, ch, w),
                &Plane::new_u8(&b8, cw, ch, w),
            );
            assert_eq!(
                host::sse_u8(&a8, &b8, cw, ch, w, w),
                cpu.sse,
                "8-bit {cw}x{ch}"
            );
            // 10 and 16 bits: the same content scaled, with a dither that differs per plane.
            for bpc in [10u32, 16] {
                let lift = |v: &[u16], salt: usize| -> Vec<u16> {
                    v.iter()
                        .enumerate()
                        .map(|(i, &x)| {
                            (x << (bpc - 8)) | ((i * 31 + salt) % (1 << (bpc - 8))) as u16
                        })
                        .collect()
                };
                let (a16, b16) = (lift(a, 1), lift(b, 7));
                let cpu = lv_metrics::psnr::plane_sse(
                    &Plane::new_u16(&a16, cw, ch, w, bpc),
                    &Plane::new_u16(&b16, cw, ch, w, bpc),
                );
                assert_eq!(
                    host::sse_u16(&a16, &b16, cw, ch, w, w),
                    cpu.sse,
                    "{bpc}-bit {cw}x{ch}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 32);
}

#[test]
fn motion_sad_is_bit_exact_with_lv_metrics() {
    let (frames, w, h) = luma("bikes_320x136_30f.y4m", 12);
    let mut nonzero = 0;
    for pair in frames.windows(2) {
        for (cw, ch) in [(w, h), (w - 1, h - 3), (5, 3), (3, 7)] {
            for bpc in [8u32, 10, 12, 16] {
                let lift = |v: &[u16]| -> Vec<u16> { v.iter().map(|&x| x << (bpc - 8)).collect() };
                let (p, c) = (lift(&pair[0]), lift(&pair[1]));
                let (p8, c8) = (to_u8(&p), to_u8(&c));
                let cpu = if bpc == 8 {
                    lv_metrics::motion_int::frame_sad(
                        &Plane::new_u8(&p8, cw, ch, w),
                        &Plane::new_u8(&c8, cw, ch, w),
                    )
                } else {
                    lv_metrics::motion_int::frame_sad(
                        &Plane::new_u16(&p, cw, ch, w, bpc),
                        &Plane::new_u16(&c, cw, ch, w, bpc),
                    )
                };
                let gpu = host::motion_sad(&p, &c, cw, ch, w, bpc);
                assert_eq!(gpu, cpu, "{cw}x{ch} at {bpc} bits");
                nonzero += (cpu > 0) as usize;
            }
        }
    }
    // Natural motion: the frames differ, so the check is not of zeros.
    assert!(nonzero > 100, "{nonzero}");
}

/// A RefineNet with random weights (the shipped models' shapes: C = 8 and 16, with and without
/// the linear branch).
fn random_net(c: usize, layers: usize, skip: bool, seed: u64) -> lv_graph::net::RefineNet {
    let mut net = lv_graph::net::RefineNet::new(
        lv_graph::net::RefineConfig {
            channels: c,
            hidden_layers: layers,
        },
        seed,
    );
    if skip {
        net = net.with_linear_skip();
    }
    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    for p in net.params.iter_mut() {
        *p += rng.random_range(-0.05f32..0.05);
    }
    net
}

/// RefineNet's forward pass composed of the kernels, as the GPU backend runs it.
fn forward_with_kernels(net: &lv_graph::net::RefineNet, x: &[f32], h: usize, w: usize) -> Vec<f32> {
    use lv_gpu::refine::{forward, Conv, HostEmulation, Refine};
    let conv = |l: &lv_graph::net::ConvLayer| Conv {
        cin: l.cin,
        cout: l.cout,
        weight: l.weight(&net.params),
        bias: l.bias(&net.params),
    };
    let spec = Refine {
        layers: net.layers.iter().map(conv).collect(),
        skip: net.skip.as_ref().map(conv),
    };
    forward(&HostEmulation, &spec, x, h, w).unwrap()
}

#[test]
fn refine_network_layers_agree_with_lv_train() {
    use lv_train::Trainable;
    let (frames, w, h) = luma("bbb_320x180_30f.y4m", 2);
    // A 96x64 crop of natural content, in [0, 1] as the elements feed the network.
    let (cw, ch) = (96usize, 64usize);
    let x: Vec<f32> = (0..ch)
        .flat_map(|r| frames[1][(r + 40) * w + 100..][..cw].to_vec())
        .map(|v| v as f32 / 255.0)
        .collect();
    assert!(h > 104);
    let mut worst = 0f32;
    for (c, layers, skip, seed) in [(8, 2, false, 1), (16, 1, true, 2), (4, 0, true, 3)] {
        let net = random_net(c, layers, skip, seed);
        let cpu = net.forward(&x, ch, cw);
        let gpu = forward_with_kernels(&net, &x, ch, cw);
        assert_eq!(gpu.len(), cpu.len());
        for (a, b) in cpu.iter().zip(&gpu) {
            worst = worst.max((a - b).abs());
        }
    }
    // f32 sums in another order: a few units in the last place of values near 1.
    assert!(worst < 1e-5, "largest difference {worst}");
}

#[test]
fn space_to_depth_round_trips_exactly() {
    let (h, w) = (6usize, 10usize);
    let x: Vec<f32> = (0..h * w).map(|i| i as f32).collect();
    let s = host::space_to_depth2(&x, h, w);
    // Channel dy*2+dx at (i, j) is x(2i+dy, 2j+dx).
    assert_eq!(s[(3 * (h / 2) + 1) * (w / 2) + 2], x[3 * w + 5]);
    let zero = vec![0f32; h * w];
    assert_eq!(host::depth_to_space2_add(&s, &zero, h, w), x);
}

#[test]
fn integer_vif_is_bit_exact_with_lv_metrics() {
    use lv_gpu::host::{vif_num_den, HostSamples};
    use lv_metrics::vif_int::{num_den_from_sums, IntegerVif, IntegerVifOptions};
    let table = lv_metrics::vif_int::log2_table();
    let (src, w, h) = luma("bbb_320x180_30f.y4m", 3);
    let (dis, _, _) = luma("bbb_320x180_30f_x264crf30.y4m", 3);
    let mut checked = 0;
    for (a, b) in src.iter().zip(&dis) {
        for (cw, ch) in [(w, h), (w - 5, h - 3), (37, 16)] {
            for bpc in [8u32, 10, 16] {
                for gain_limit in [100.0, 1.0] {
                    let lift = |v: &[u16], salt: usize| -> Vec<u16> {
                        v.iter()
                            .enumerate()
                            .map(|(i, &x)| {
                                (x << (bpc - 8)) | ((i * 13 + salt) % (1 << (bpc - 8))) as u16
                            })
                            .collect()
                    };
                    let (a16, b16) = (lift(a, 3), lift(b, 5));
                    let (a8, b8) = (to_u8(a), to_u8(b));
                    let (pr, pd, sr, sd) = if bpc == 8 {
                        (
                            Plane::new_u8(&a8, cw, ch, w),
                            Plane::new_u8(&b8, cw, ch, w),
                            HostSamples::U8(&a8),
                            HostSamples::U8(&b8),
                        )
                    } else {
                        (
                            Plane::new_u16(&a16, cw, ch, w, bpc),
                            Plane::new_u16(&b16, cw, ch, w, bpc),
                            HostSamples::U16(&a16),
                            HostSamples::U16(&b16),
                        )
                    };
                    let opts = IntegerVifOptions {
                        enhn_gain_limit: gain_limit,
                    };
                    let cpu = IntegerVif::new(cw, ch, bpc, opts)
                        .unwrap()
                        .compute_num_den(&pr, &pd);
                    let sums = vif_num_den(sr, sd, cw, ch, w, bpc, gain_limit, &table);
                    for (s, &[nl, dl, nn, dn]) in sums.iter().enumerate() {
                        let (num, den) = num_den_from_sums(nl, dl, nn, dn);
                        assert_eq!(
                            (num.to_bits(), den.to_bits()),
                            (cpu.num[s].to_bits(), cpu.den[s].to_bits()),
                            "{cw}x{ch} at {bpc} bits, gain limit {gain_limit}, scale {s}"
                        );
                    }
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, 54);
}

#[test]
fn resampler_is_bit_exact_with_lv_image() {
    use lv_gpu::host::{resample, HostSamples};
    use lv_image::resample::{Kernel, Resampler};
    let (frames, w, h) = luma("bbb_320x180_30f.y4m", 2);
    let mut checked = 0;
    for f in &frames {
        // Down (the learned downscaler's Lanczos), up (srenhance's Catmull-Rom), odd ratios,
        // and an odd crop read through the full stride.
        for (iw, ih, ow, oh, kernel) in [
            (w, h, 160, 90, Kernel::LANCZOS3),
            (w, h, 213, 120, Kernel::LANCZOS3),
            (w, h, 640, 360, Kernel::CATMULL_ROM),
            (w - 3, h - 1, 101, 57, Kernel::CATMULL_ROM),
            (w - 1, h, 477, 181, Kernel::LANCZOS3),
        ] {
            let r = Resampler::new(iw, ih, ow, oh, kernel).unwrap();
            for bpc in [8u32, 10] {
                let lifted: Vec<u16> = f.iter().map(|&x| x << (bpc - 8)).collect();
                let bytes = to_u8(f);
                let cpu: Vec<u16> = if bpc == 8 {
                    let mut out = vec![0u8; ow * oh];
                    r.process_u8(&Plane::new_u8(&bytes, iw, ih, w), &mut out, ow);
                    out.into_iter().map(u16::from).collect()
                } else {
                    let mut out = vec![0u16; ow * oh];
                    r.process_u16(&Plane::new_u16(&lifted, iw, ih, w, bpc), &mut out, ow);
                    out
                };
                let src = if bpc == 8 {
                    HostSamples::U8(&bytes)
                } else {
                    HostSamples::U16(&lifted)
                };
                let gpu = resample(src, w, bpc, &r);
                assert_eq!(gpu.len(), cpu.len());
                let diff = cpu.iter().zip(&gpu).filter(|(a, b)| a != b).count();
                assert_eq!(diff, 0, "{iw}x{ih} -> {ow}x{oh} {kernel:?} at {bpc} bits");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 20);
}

#[test]
fn float_ssim_is_bit_exact_with_lv_metrics() {
    use lv_metrics::ssim::FloatSsim;
    let (src, w, h) = luma("bbb_320x180_30f.y4m", 4);
    let (dis, _, _) = luma("bbb_320x180_30f_x264crf30.y4m", 4);
    let mut checked = 0;
    for (a, b) in src.iter().zip(&dis) {
        // Sizes below libvmaf's decimation threshold (min side < 384): the map is the frame's.
        for (cw, ch) in [(w, h), (w - 3, h - 7), (11, 11), (40, 13)] {
            for bpc in [8u32, 10] {
                let lift = |v: &[u16], salt: usize| -> Vec<u16> {
                    v.iter()
                        .enumerate()
                        .map(|(i, &x)| {
                            (x << (bpc - 8)) | ((i * 7 + salt) % (1 << (bpc - 8))) as u16
                        })
                        .collect()
                };
                let (a16, b16) = (lift(a, 1), lift(b, 2));
                let (a8, b8) = (to_u8(a), to_u8(b));
                let (pr, pd) = if bpc == 8 {
                    (Plane::new_u8(&a8, cw, ch, w), Plane::new_u8(&b8, cw, ch, w))
                } else {
                    (
                        Plane::new_u16(&a16, cw, ch, w, bpc),
                        Plane::new_u16(&b16, cw, ch, w, bpc),
                    )
                };
                let mut ssim = FloatSsim::new(cw, ch, bpc).unwrap();
                assert_eq!(ssim.scale(), 1);
                let cpu = ssim.compute_lcs(&pr, &pd);
                // libvmaf's load: samples in the 8-bit range.
                let load = |p: &Plane| -> Vec<f32> {
                    let mut out = vec![0f32; cw * ch];
                    for y in 0..ch {
                        p.row_f32(y, &mut out[y * cw..(y + 1) * cw]);
                    }
                    let inv = 1.0 / (1u32 << (bpc - 8)) as f32;
                    out.iter()
                        .map(|&v| if bpc > 8 { v * inv } else { v })
                        .collect()
                };
                let got = lv_gpu::host::ssim_means(&load(&pr), &load(&pd), cw, ch);
                let want = [cpu.ssim, cpu.l, cpu.c, cpu.s].map(|v| v as f32);
                assert_eq!(
                    got.map(f32::to_bits),
                    want.map(f32::to_bits),
                    "{cw}x{ch} at {bpc} bits: {got:?} vs {want:?}"
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 32);
}

#[test]
fn adam_is_bit_exact_with_lv_train() {
    let n = 1000;
    let mut rng = rand_pcg::Pcg64::seed_from_u64(5);
    let p0: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let (mut cpu_p, mut gpu_p) = (p0.clone(), p0);
    let mut cpu = lv_train::Adam::new(n, 1e-3);
    let mut gpu = host::AdamState::new(n);
    for step in 0..6 {
        let g: Vec<f32> = (0..n).map(|_| rng.random_range(-0.1f32..0.1)).collect();
        let lr = 3e-3 / (1 + step) as f32;
        cpu.step(&mut cpu_p, &g, lr);
        gpu.step(&mut gpu_p, &g, lr);
        assert_eq!(
            cpu_p.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            gpu_p.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            "step {step}"
        );
    }
}

/// The largest |a - b| over the largest |a|: f32 sums in another order.
fn rel_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    let scale = a.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-12);
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
}

/// RefineNet's parameter gradient through the kernels (forward keeping activations, then the
/// backward kernels), as the GPU trainer runs one image.
fn gradient_with_kernels(
    net: &lv_graph::net::RefineNet,
    x: &[f32],
    dy: &[f32],
    h: usize,
    w: usize,
) -> Vec<f32> {
    let (lh, lw) = (h / 2, w / 2);
    let p = &net.params;
    let mut acts = vec![host::space_to_depth2(x, h, w)];
    let last = net.layers.len() - 1;
    let skip_out = net.skip.map(|s| {
        host::conv3x3(
            &acts[0],
            s.weight(p),
            s.bias(p),
            None,
            s.cin,
            s.cout,
            lh,
            lw,
            false,
        )
    });
    for (k, l) in net.layers.iter().enumerate() {
        let addend = if k == last { skip_out.as_deref() } else { None };
        let a = host::conv3x3(
            &acts[k],
            l.weight(p),
            l.bias(p),
            addend,
            l.cin,
            l.cout,
            lh,
            lw,
            k < last,
        );
        acts.push(a);
    }
    let mut grad = vec![0f32; p.len()];
    // output = depth_to_space(z) + x, so dz = space_to_depth(dy).
    let mut g = host::space_to_depth2(dy, h, w);
    let dz = g.clone();
    for (k, l) in net.layers.iter().enumerate().rev() {
        if k < last {
            host::relu_backward(&acts[k + 1], &mut g);
        }
        let (wl, bl) = (l.weight_len(), l.len() - l.weight_len());
        let (dw, db) = grad[l.offset..l.offset + wl + bl].split_at_mut(wl);
        g = host::conv3x3_backward(&acts[k], l.weight(p), &g, l.cin, l.cout, lh, lw, dw, db);
    }
    if let Some(s) = net.skip {
        let wl = s.weight_len();
        let (dw, db) = grad[s.offset..s.offset + s.len()].split_at_mut(wl);
        host::conv3x3_backward(&acts[0], s.weight(p), &dz, s.cin, s.cout, lh, lw, dw, db);
    }
    grad
}

#[test]
fn training_gradients_agree_with_lv_train() {
    use lv_train::Trainable;
    let (frames, w, _) = luma("bikes_320x136_30f.y4m", 1);
    let (cw, ch) = (48usize, 48usize);
    let x: Vec<f32> = (0..ch)
        .flat_map(|r| frames[0][(r + 30) * w + 60..][..cw].to_vec())
        .map(|v| v as f32 / 255.0)
        .collect();
    let mut rng = rand_pcg::Pcg64::seed_from_u64(9);
    let dy: Vec<f32> = (0..cw * ch)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    for (c, layers, skip, seed) in [(8, 2, false, 4), (16, 1, true, 5)] {
        let net = random_net(c, layers, skip, seed);
        let trace = net.forward_trace(&x, ch, cw);
        let mut cpu = vec![0f32; net.num_params()];
        net.backward(&trace, &dy, &mut cpu, false);
        let gpu = gradient_with_kernels(&net, &x, &dy, ch, cw);
        // Per layer: weights and biases, each against its own scale.
        for l in net.layers.iter().chain(net.skip.iter()) {
            let (ws, we, be) = (l.offset, l.offset + l.weight_len(), l.offset + l.len());
            let (dw, db) = (
                rel_diff(&cpu[ws..we], &gpu[ws..we]),
                rel_diff(&cpu[we..be], &gpu[we..be]),
            );
            assert!(
                dw < 1e-4 && db < 1e-4,
                "C={c}: layer at {ws}: weights {dw}, biases {db}"
            );
        }
        assert!(cpu.iter().any(|&v| v != 0.0));
    }
}

/// libvmaf's load of a plane: `f32` samples in the 8-bit range.
fn load_f32(p: &Plane) -> Vec<f32> {
    let (w, h) = (p.width, p.height);
    let mut out = vec![0f32; w * h];
    for y in 0..h {
        p.row_f32(y, &mut out[y * w..(y + 1) * w]);
    }
    let inv = 1.0 / (1u32 << (p.bpc - 8)) as f32;
    out.iter()
        .map(|&v| if p.bpc > 8 { v * inv } else { v })
        .collect()
}

#[test]
fn ssim_decimation_and_ms_ssim_are_bit_exact_with_lv_metrics() {
    use lv_image::resample::{Kernel, Resampler};
    use lv_metrics::ms_ssim::{FloatMsSsim, ALPHAS, BETAS, GAMMAS, LPF, LPF_LEN};
    use lv_metrics::ssim::FloatSsim;
    let (src, w, h) = luma("bbb_320x180_30f.y4m", 2);
    let (dis, _, _) = luma("bbb_320x180_30f_x264crf30.y4m", 2);
    for (a, b) in src.iter().zip(&dis) {
        let (a8, b8) = (to_u8(a), to_u8(b));
        // MS-SSIM at the clip's size (its five scales need 176 lines) and at an odd crop.
        for (cw, ch) in [(w, h), (w - 1, h - 3)] {
            let (pr, pd) = (Plane::new_u8(&a8, cw, ch, w), Plane::new_u8(&b8, cw, ch, w));
            let cpu = FloatMsSsim::new(cw, ch, 8).unwrap().compute_lcs(&pr, &pd);
            let (mut r, mut d, mut lw, mut lh) = (load_f32(&pr), load_f32(&pd), cw, ch);
            let mut ms = 1.0f64;
            for i in 0..5 {
                if i > 0 {
                    let (nr, nw, nh) = host::filter_decimate(&r, lw, lh, &LPF, LPF_LEN, 2);
                    d = host::filter_decimate(&d, lw, lh, &LPF, LPF_LEN, 2).0;
                    (r, lw, lh) = (nr, nw, nh);
                }
                let [_, l, c, s] = host::ssim_means(&r, &d, lw, lh).map(f64::from);
                assert_eq!(
                    [l, c, s].map(f64::to_bits),
                    [cpu.l[i], cpu.c[i], cpu.s[i]].map(f64::to_bits),
                    "{cw}x{ch} scale {i}"
                );
                ms *= l.powf(ALPHAS[i] as f64) * c.powf(BETAS[i] as f64) * s.powf(GAMMAS[i] as f64);
            }
            assert_eq!(
                ms.to_bits(),
                cpu.ms_ssim.to_bits(),
                "{cw}x{ch}: {ms} vs {}",
                cpu.ms_ssim
            );
        }
        // SSIM above 384 lines decimates first (factor round(min side / 256)): 800x450 → 2.
        let (uw, uh) = (800usize, 450usize);
        let up = Resampler::new(w, h, uw, uh, Kernel::LANCZOS3).unwrap();
        let (mut ua, mut ub) = (vec![0u8; uw * uh], vec![0u8; uw * uh]);
        up.process_u8(&Plane::new_u8(&a8, w, h, w), &mut ua, uw);
        up.process_u8(&Plane::new_u8(&b8, w, h, w), &mut ub, uw);
        let (pr, pd) = (
            Plane::new_u8(&ua, uw, uh, uw),
            Plane::new_u8(&ub, uw, uh, uw),
        );
        let mut ssim = FloatSsim::new(uw, uh, 8).unwrap();
        assert_eq!(ssim.scale(), 2);
        let cpu = ssim.compute_lcs(&pr, &pd);
        let f = ssim.scale();
        let boxk = vec![1.0f32 / (f * f) as f32; f * f];
        let (r, dw, dh) = host::filter_decimate(&load_f32(&pr), uw, uh, &boxk, f, f);
        let d = host::filter_decimate(&load_f32(&pd), uw, uh, &boxk, f, f).0;
        let got = host::ssim_means(&r, &d, dw, dh);
        let want = [cpu.ssim, cpu.l, cpu.c, cpu.s].map(|v| v as f32);
        assert_eq!(
            got.map(f32::to_bits),
            want.map(f32::to_bits),
            "decimated SSIM"
        );
    }
}

#[test]
fn integer_adm_is_bit_exact_with_lv_metrics() {
    use lv_gpu::adm::AdmKernels;
    use lv_gpu::refine::HostEmulation;
    use lv_metrics::adm_int::{IntegerAdm, IntegerAdmOptions};
    let (src, w, h) = luma("bbb_320x180_30f.y4m", 3);
    let (dis, _, _) = luma("bbb_320x180_30f_x264crf30.y4m", 3);
    let (mut checked, mut values, mut gain_differs, mut below_one) = (0, 0, 0, 0);
    for (a, b) in src.iter().zip(&dis) {
        // The whole frame; an odd crop, the reference read through the full stride and the
        // distorted plane packed; and an odd size near the smallest ADM takes (33).
        for (cw, ch) in [(w, h), (w - 5, h - 3), (37, 35)] {
            for bpc in [8u32, 10, 16] {
                let lift = |v: &[u16], salt: usize| -> Vec<u16> {
                    v.iter()
                        .enumerate()
                        .map(|(i, &x)| {
                            (x << (bpc - 8)) | ((i * 11 + salt) % (1 << (bpc - 8))) as u16
                        })
                        .collect()
                };
                let (a16, b16) = (lift(a, 2), lift(b, 9));
                let pack = |v: &[u16]| -> Vec<u16> {
                    (0..ch).flat_map(|y| v[y * w..][..cw].to_vec()).collect()
                };
                let b16p = pack(&b16);
                let (a8, b8p) = (to_u8(&a16), to_u8(&b16p));
                let (pr, pd) = if bpc == 8 {
                    (
                        Plane::new_u8(&a8, cw, ch, w),
                        Plane::new_u8(&b8p, cw, ch, cw),
                    )
                } else {
                    (
                        Plane::new_u16(&a16, cw, ch, w, bpc),
                        Plane::new_u16(&b16p, cw, ch, cw, bpc),
                    )
                };
                let mut scores = Vec::new();
                // VMAF v0.6.1 (libvmaf's default limit) and v0.6.1neg (no enhancement gain).
                for gain_limit in [100.0, 1.0] {
                    let opts = IntegerAdmOptions {
                        enhn_gain_limit: gain_limit,
                        ..Default::default()
                    };
                    let cpu = IntegerAdm::new(cw, ch, bpc, opts)
                        .unwrap()
                        .compute(&pr, &pd);
                    let gpu = AdmKernels::new(cw, ch, bpc, opts)
                        .unwrap()
                        .compute(&HostEmulation, &pr, &pd)
                        .unwrap();
                    let what = format!("{cw}x{ch} at {bpc} bits, gain limit {gain_limit}");
                    for s in 0..4 {
                        assert_eq!(
                            (gpu.num[s].to_bits(), gpu.den[s].to_bits()),
                            (cpu.num[s].to_bits(), cpu.den[s].to_bits()),
                            "{what}, scale {s}: {:?} vs {:?}",
                            (gpu.num[s], gpu.den[s]),
                            (cpu.num[s], cpu.den[s])
                        );
                        assert_eq!(gpu.scale[s].to_bits(), cpu.scale[s].to_bits(), "{what}");
                    }
                    assert_eq!(gpu.adm2.to_bits(), cpu.adm2.to_bits(), "{what}");
                    assert_eq!(gpu, cpu, "{what}");
                    values += 4 * 3 + 1;
                    below_one += (cpu.adm2 < 0.999) as usize;
                    scores.push(cpu);
                    checked += 1;
                }
                gain_differs += (scores[0] != scores[1]) as usize;
            }
        }
    }
    assert_eq!(checked, 54);
    assert_eq!(values, 54 * 13);
    // The content is distorted (x264 at CRF 30), and the enhancement-gain limit changes the
    // restored detail somewhere: both paths of the restoration are exercised.
    assert!(below_one >= 40, "{below_one}");
    assert!(gain_differs >= 9, "{gain_differs}");
}

#[test]
fn integer_adm_other_options_and_aim() {
    use lv_gpu::adm::{AdmGpuError, AdmKernels};
    use lv_gpu::refine::HostEmulation;
    use lv_metrics::adm_int::{CsfMode, IntegerAdm, IntegerAdmOptions};
    let (src, w, h) = luma("bikes_320x136_30f.y4m", 2);
    let (a8, b8) = (to_u8(&src[0]), to_u8(&src[1]));
    let (cw, ch) = (w - 7, h - 1);
    let (pr, pd) = (Plane::new_u8(&a8, cw, ch, w), Plane::new_u8(&b8, cw, ch, w));
    // The options are constants of the launches: a non-integral gain limit, libvmaf's blended
    // CSF (computed scale-0 weights) and another noise floor give the CPU's scores too.
    for opts in [
        IntegerAdmOptions {
            enhn_gain_limit: 1.5,
            ..Default::default()
        },
        IntegerAdmOptions {
            csf_mode: CsfMode::BartenWatsonBlend,
            noise_weight: 0.02,
            norm_view_dist: 5.0,
            ..Default::default()
        },
    ] {
        let cpu = IntegerAdm::new(cw, ch, 8, opts).unwrap().compute(&pr, &pd);
        let gpu = AdmKernels::new(cw, ch, 8, opts)
            .unwrap()
            .compute(&HostEmulation, &pr, &pd)
            .unwrap();
        assert_eq!(gpu, cpu, "{opts:?}");
        assert!(cpu.adm2 < 0.999, "{cpu:?}");
    }
    let aim = IntegerAdmOptions {
        aim: true,
        ..Default::default()
    };
    let err = AdmKernels::new(cw, ch, 8, aim).err().unwrap();
    assert!(matches!(err, AdmGpuError::Unsupported(_)), "{err}");
    assert!(
        err.to_string().contains("unsupported on the GPU path"),
        "{err}"
    );
    let small = AdmKernels::new(32, 40, 8, IntegerAdmOptions::default())
        .err()
        .unwrap();
    assert!(matches!(small, AdmGpuError::Options(_)), "{small}");
}

#[test]
fn integer_adm_is_bit_exact_on_extreme_content() {
    use lv_gpu::adm::AdmKernels;
    use lv_gpu::refine::HostEmulation;
    use lv_metrics::adm_int::{IntegerAdm, IntegerAdmOptions};
    // Beyond codec distortions: an inverted picture (detail pointing against the reference,
    // restoration clamped at 0), doubled contrast (gain above the limits), full-range noise
    // (large bands, and at 16 bits libvmaf's wrapping int32 sums), on a natural frame.
    let (src, w, _) = luma("bbb_sky_480x270_10f.y4m", 1);
    let (cw, ch) = (101usize, 67usize);
    let crop: Vec<u16> = (0..ch)
        .flat_map(|y| src[0][(y + 100) * w + 200..][..cw].to_vec())
        .collect();
    let mut rng = rand_pcg::Pcg64::seed_from_u64(11);
    let mut checked = 0;
    for bpc in [8u32, 12, 16] {
        let max = (1u32 << bpc) - 1;
        let r: Vec<u16> = crop.iter().map(|&x| x << (bpc - 8)).collect();
        let noise: Vec<u16> = (0..cw * ch)
            .map(|_| rng.random_range(0..=max) as u16)
            .collect();
        let inverted: Vec<u16> = r.iter().map(|&x| (max - x as u32) as u16).collect();
        let boosted: Vec<u16> = r
            .iter()
            .map(|&x| (x as i64 * 2 - (max / 2) as i64).clamp(0, max as i64) as u16)
            .collect();
        for (rp, dp) in [(&r, &inverted), (&r, &boosted), (&r, &noise), (&noise, &r)] {
            let (r8, d8) = (to_u8(rp), to_u8(dp));
            let (pr, pd) = if bpc == 8 {
                (
                    Plane::new_u8(&r8, cw, ch, cw),
                    Plane::new_u8(&d8, cw, ch, cw),
                )
            } else {
                (
                    Plane::new_u16(rp, cw, ch, cw, bpc),
                    Plane::new_u16(dp, cw, ch, cw, bpc),
                )
            };
            for gain_limit in [100.0, 1.0] {
                let opts = IntegerAdmOptions {
                    enhn_gain_limit: gain_limit,
                    ..Default::default()
                };
                let cpu = IntegerAdm::new(cw, ch, bpc, opts)
                    .unwrap()
                    .compute(&pr, &pd);
                let gpu = AdmKernels::new(cw, ch, bpc, opts)
                    .unwrap()
                    .compute(&HostEmulation, &pr, &pd)
                    .unwrap();
                assert_eq!(gpu, cpu, "{bpc} bits, gain limit {gain_limit}");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 24);
}

/// The seam vqmeter uses: a whole `Meter` (VMAF v0.6.1 and v0.6.1neg, whose VIF and ADM the
/// kernels take) with the kernels as its accelerator gives every frame's scores bit for bit as
/// the CPU meter does, at 8 and 10 bits, with reference and distorted at different strides.
#[test]
fn meter_with_kernels_scores_vmaf_bit_exact() {
    use lv_gpu::features::GpuFeatures;
    use lv_gpu::refine::HostEmulation;
    use lv_image::plane::Chroma;
    use lv_metrics::meter::{Meter, MeterConfig};
    use lv_metrics::model::VmafModel;
    use std::sync::Arc;
    let (src, w, h) = luma("bbb_320x180_30f.y4m", 4);
    let (dis, _, _) = luma("bbb_320x180_30f_x264crf30.y4m", 4);
    let gpu = Arc::new(GpuFeatures::new(Arc::new(HostEmulation)));
    let mut compared = 0;
    for bpc in [8u32, 10] {
        let cfg = |accel: Option<Arc<GpuFeatures>>| MeterConfig {
            width: w,
            height: h,
            bpc,
            chroma: Chroma::Mono,
            models: vec![
                VmafModel::builtin("vmaf_v0.6.1").unwrap(),
                VmafModel::builtin("vmaf_v0.6.1neg").unwrap(),
            ],
            psnr: false,
            ssim: false,
            ms_ssim: false,
            cambi: None,
            threads: 1,
            accel: accel.map(|a| a as Arc<dyn lv_metrics::accel::Accelerator>),
        };
        let (mut cpu, mut kern) = (
            Meter::new(cfg(None)).unwrap(),
            Meter::new(cfg(Some(gpu.clone()))).unwrap(),
        );
        // The distorted plane sits in a wider buffer (stride w + 7), the reference packed.
        let ds = w + 7;
        let mut out = (Vec::new(), Vec::new());
        for (i, (a, b)) in src.iter().zip(&dis).enumerate() {
            let lift = |v: &[u16]| -> Vec<u16> { v.iter().map(|&x| x << (bpc - 8)).collect() };
            let wide = |v: &[u16]| -> Vec<u16> {
                let mut o = vec![0u16; ds * h];
                for y in 0..h {
                    o[y * ds..y * ds + w].copy_from_slice(&v[y * w..(y + 1) * w]);
                }
                o
            };
            let (a16, b16) = (lift(a), wide(&lift(b)));
            let (a8, b8) = (to_u8(&a16), to_u8(&b16));
            let (r, d) = if bpc == 8 {
                (Plane::new_u8(&a8, w, h, w), Plane::new_u8(&b8, w, h, ds))
            } else {
                (
                    Plane::new_u16(&a16, w, h, w, bpc),
                    Plane::new_u16(&b16, w, h, ds, bpc),
                )
            };
            out.0.extend(cpu.push(i as u64, &[r], &[d]));
            out.1.extend(kern.push(i as u64, &[r], &[d]));
        }
        out.0.extend(cpu.finish());
        out.1.extend(kern.finish());
        assert_eq!(out.0.len(), src.len());
        for (c, k) in out.0.iter().zip(&out.1) {
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&c.values),
                bits(&k.values),
                "frame {} at {bpc} bits",
                c.index
            );
            compared += c.values.len();
        }
    }
    assert_eq!(gpu.failures().0, 0, "{:?}", gpu.failures().1);
    // Both models' VIF (gain limits 100 and 1) and ADM, every frame, at both depths.
    assert_eq!(gpu.taken(), 2 * 4 * 4);
    assert!(compared >= 2 * 4 * 2, "{compared} values");
}

/// The training engine srenhance's trainer uses on the GPU (`lv_gpu::train::KernelEngine`),
/// through lv-train's `BatchEngine` seam: a batch's outputs within 1e-5 and its summed
/// gradient within 1e-4 per layer of lv-train's CPU passes, on natural crops; its Adam
/// updates bit for bit.
#[test]
fn kernel_engine_batches_agree_with_lv_train() {
    use lv_gpu::refine::HostEmulation;
    use lv_gpu::train::KernelEngine;
    use lv_train::{BatchEngine, Tensor, Trainable};
    use std::sync::Arc;
    let (frames, w, _) = luma("bikes_320x136_30f.y4m", 2);
    let crop = |f: &[u16], x0: usize, y0: usize, cw: usize, ch: usize| -> Tensor {
        let v: Vec<f32> = (0..ch)
            .flat_map(|r| f[(r + y0) * w + x0..][..cw].to_vec())
            .map(|v| v as f32 / 255.0)
            .collect();
        Tensor::from_vec([1, 1, ch, cw], v)
    };
    let inputs = vec![
        crop(&frames[0], 60, 30, 48, 40),
        crop(&frames[1], 100, 50, 32, 32),
        crop(&frames[0], 10, 80, 40, 48),
    ];
    let mut rng = rand_pcg::Pcg64::seed_from_u64(11);
    let dys: Vec<Vec<f32>> = inputs
        .iter()
        .map(|t| {
            (0..t.data.len())
                .map(|_| rng.random_range(-1.0f32..1.0))
                .collect()
        })
        .collect();
    let engine = KernelEngine::new(Arc::new(HostEmulation));
    for (c, layers, skip, seed) in [(8, 2, false, 4), (16, 1, true, 5)] {
        let net = random_net(c, layers, skip, seed);
        let (cpu_t, kern_t) = (
            net.forward_batch(&inputs),
            engine.forward_batch(&net, &inputs).unwrap(),
        );
        for (a, b) in cpu_t.iter().zip(&kern_t) {
            assert!(rel_diff(&a.output, &b.output) < 1e-5, "C={c}: outputs");
            assert_eq!(a.acts.len(), b.acts.len());
        }
        let cpu = net.backward_batch(&cpu_t, &dys);
        let kern = engine.backward_batch(&net, &kern_t, &dys).unwrap();
        for l in net.layers.iter().chain(net.skip.iter()) {
            let (ws, we, be) = (l.offset, l.offset + l.weight_len(), l.offset + l.len());
            let (dw, db) = (
                rel_diff(&cpu[ws..we], &kern[ws..we]),
                rel_diff(&cpu[we..be], &kern[we..be]),
            );
            assert!(
                dw < 1e-4 && db < 1e-4,
                "C={c}: layer at {ws}: weights {dw}, biases {db}"
            );
        }
        assert!(cpu.iter().filter(|&&v| v != 0.0).count() > cpu.len() / 2);
        // Adam on the kernels: lv_train's values bit for bit, step after step.
        let (mut a, mut b) = (
            lv_train::Adam::new(net.num_params(), 1e-3),
            lv_train::Adam::new(net.num_params(), 1e-3),
        );
        let (mut pa, mut pb) = (net.params.clone(), net.params.clone());
        for k in 0..4 {
            let g: Vec<f32> = cpu.iter().map(|v| v * (1.0 + k as f32 * 0.25)).collect();
            a.step(&mut pa, &g, 1e-3);
            engine.adam_step(&mut b, &mut pb, &g, 1e-3).unwrap();
        }
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&pa), bits(&pb), "C={c}: Adam's parameters");
        assert_eq!((bits(&a.m), bits(&a.v), a.t), (bits(&b.m), bits(&b.v), b.t));
        assert_ne!(pa, net.params);
    }
}
