//! The kernels on a real GPU, against the CPU path and the host emulation, on natural frames.
//! On a machine without one (the development machines, CI) the test checks that opening the
//! device fails with a reason and without a panic, and prints `GPU: none (…)`; with
//! `LV_REQUIRE_GPU=1` (scripts/gpu-check.sh on a GPU machine) a missing GPU fails.

mod common;

use common::{luma, to_u8};
use lv_gpu::{device::Gpu, host};
use lv_image::plane::Plane;
use lv_image::resample::{Kernel, Resampler};

#[test]
fn kernels_on_the_device_or_a_clear_reason() {
    let gpu = match Gpu::open() {
        Ok(g) => g,
        Err(why) => {
            println!("GPU: none ({why})");
            assert!(!why.is_empty());
            assert!(
                std::env::var_os("LV_REQUIRE_GPU").is_none(),
                "LV_REQUIRE_GPU is set but no GPU opened: {why}"
            );
            return;
        }
    };
    println!("GPU: {}", gpu.name());
    let (src, w, h) = luma("bbb_320x180_30f.y4m", 4);
    let (dis, _, _) = luma("bbb_320x180_30f_x264crf30.y4m", 4);
    for (a, b) in src.iter().zip(&dis) {
        let (a8, b8) = (to_u8(a), to_u8(b));
        let cpu =
            lv_metrics::psnr::plane_sse(&Plane::new_u8(&a8, w, h, w), &Plane::new_u8(&b8, w, h, w));
        assert_eq!(gpu.sse_u8(&a8, &b8, w, h).unwrap(), cpu.sse, "SSE");
    }
    for pair in src.windows(2) {
        let cpu = lv_metrics::motion_int::frame_sad(
            &Plane::new_u8(&to_u8(&pair[0]), w, h, w),
            &Plane::new_u8(&to_u8(&pair[1]), w, h, w),
        );
        assert_eq!(
            gpu.motion_sad(&pair[0], &pair[1], w, h, 8).unwrap(),
            cpu,
            "motion SAD"
        );
    }
    // One network layer on natural content: the device against the host emulation.
    let (c, lh, lw) = (4usize, h / 2, w / 2);
    let x: Vec<f32> = (0..c * lh * lw)
        .map(|i| src[0][i % (w * h)] as f32 / 255.0)
        .collect();
    let wt: Vec<f32> = (0..8 * c * 9)
        .map(|i| ((i * 37 % 19) as f32 - 9.0) / 40.0)
        .collect();
    let bias: Vec<f32> = (0..8).map(|i| i as f32 / 100.0 - 0.03).collect();
    let on_gpu = gpu.conv3x3(&x, &wt, &bias, c, 8, lh, lw, true).unwrap();
    let on_host = host::conv3x3(&x, &wt, &bias, None, c, 8, lh, lw, true);
    assert_eq!(on_gpu.len(), on_host.len());
    let worst = on_gpu
        .iter()
        .zip(&on_host)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    // FMA contraction on the device, none on the host: a few units in the last place.
    assert!(worst < 1e-5, "conv3x3: largest difference {worst}");
    // Integer VIF, all four scales, and the resampler, against the CPU path.
    let (a8, b8) = (to_u8(&src[0]), to_u8(&dis[0]));
    let cpu = lv_metrics::vif_int::IntegerVif::new(w, h, 8, Default::default())
        .unwrap()
        .compute_num_den(&Plane::new_u8(&a8, w, h, w), &Plane::new_u8(&b8, w, h, w));
    let sums = gpu.vif_sums_u8(&a8, &b8, w, h, 100.0).unwrap();
    for (s, [nl, dl, nn, dn]) in sums.into_iter().enumerate() {
        let (num, den) = lv_metrics::vif_int::num_den_from_sums(nl, dl, nn, dn);
        assert_eq!(
            (num.to_bits(), den.to_bits()),
            (cpu.num[s].to_bits(), cpu.den[s].to_bits()),
            "VIF scale {s}"
        );
    }
    // Integer ADM, all four scales, both gain limits VMAF's models use, and a 10-bit odd crop
    // whose planes have different strides.
    for gain_limit in [100.0, 1.0] {
        let opts = lv_metrics::adm_int::IntegerAdmOptions {
            enhn_gain_limit: gain_limit,
            ..Default::default()
        };
        let (pr, pd) = (Plane::new_u8(&a8, w, h, w), Plane::new_u8(&b8, w, h, w));
        let cpu = lv_metrics::adm_int::IntegerAdm::new(w, h, 8, opts)
            .unwrap()
            .compute(&pr, &pd);
        let kernels = lv_gpu::adm::AdmKernels::new(w, h, 8, opts).unwrap();
        assert_eq!(
            kernels.compute(&gpu, &pr, &pd).unwrap(),
            cpu,
            "ADM, gain limit {gain_limit}"
        );
        let (cw, ch) = (w - 3, h - 5);
        let a10: Vec<u16> = src[1].iter().map(|&v| v << 2 | 1).collect();
        let b10: Vec<u16> = (0..ch)
            .flat_map(|y| {
                dis[1][y * w..][..cw]
                    .iter()
                    .map(|&v| v << 2)
                    .collect::<Vec<_>>()
            })
            .collect();
        let (pr, pd) = (
            Plane::new_u16(&a10, cw, ch, w, 10),
            Plane::new_u16(&b10, cw, ch, cw, 10),
        );
        let cpu = lv_metrics::adm_int::IntegerAdm::new(cw, ch, 10, opts)
            .unwrap()
            .compute(&pr, &pd);
        let kernels = lv_gpu::adm::AdmKernels::new(cw, ch, 10, opts).unwrap();
        assert_eq!(
            kernels.compute(&gpu, &pr, &pd).unwrap(),
            cpu,
            "ADM 10 bits {cw}x{ch}, gain limit {gain_limit}"
        );
    }
    for (ow, oh, k) in [(160, 90, Kernel::LANCZOS3), (640, 360, Kernel::CATMULL_ROM)] {
        let r = Resampler::new(w, h, ow, oh, k).unwrap();
        let mut want = vec![0u8; ow * oh];
        r.process_u8(&Plane::new_u8(&a8, w, h, w), &mut want, ow);
        assert_eq!(
            gpu.resample_u8(&a8, &r).unwrap(),
            want,
            "resample to {ow}x{oh}"
        );
    }
    let mut ssim = lv_metrics::ssim::FloatSsim::new(w, h, 8).unwrap();
    let cpu = ssim.compute_lcs(&Plane::new_u8(&a8, w, h, w), &Plane::new_u8(&b8, w, h, w));
    let f = |v: &[u8]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    let got = gpu.ssim_means(&f(&a8), &f(&b8), w, h).unwrap();
    let want = [cpu.ssim, cpu.l, cpu.c, cpu.s].map(|v| v as f32);
    assert_eq!(
        got.map(f32::to_bits),
        want.map(f32::to_bits),
        "SSIM {got:?} vs {want:?}"
    );
}
