//! Speed of the kernels on a GPU beside the CPU path, in one run (issue #17's GPU check):
//! integer VIF (4 scales), integer ADM (4 scales), integer motion, float SSIM, PSNR's SSE, and the resampler
//! 2160p → 1080p (Lanczos), at 1080p and 2160p. Each GPU call includes its uploads and
//! downloads (the elements' frames live in system memory today), so the figures are what a
//! system-memory pipeline would get. Frames: a natural clip of the test corpus, upscaled.
//!
//! Then VMAF v0.6.1 as vqmeter measures it: lv-metrics' `Meter` with the kernels as its
//! accelerator (VIF and ADM on the GPU, the rest on one CPU thread) beside the same meter on one
//! CPU thread and the oracle ffmpeg's libvmaf (`n_threads=1` and all cores), at 1080p and 2160p
//! on the same upscaled natural clip (ffmpeg's figure includes reading the y4m files).
//!
//! Without a GPU it says why and times nothing; with `LV_GPU_EMULATE=1` it then runs the VMAF
//! rows on the kernels' host emulation instead, a dry run of this bench's code (the figures
//! mean nothing there). Run: `cargo bench -p lv-gpu --bench kernels`
//! (`scripts/gpu-check.sh` runs it when a GPU is present).

use lv_gpu::device::Gpu;
use lv_image::plane::Plane;
use lv_image::resample::{Kernel, Resampler};
use std::time::Instant;

fn frames(w: usize, h: usize) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let path = lv_testkit::oracle::corpus_dir().join("test/bbb_320x180_30f.y4m");
    let dis_path = lv_testkit::oracle::corpus_dir().join("test/bbb_320x180_30f_x264crf30.y4m");
    let load = |p: &std::path::Path, i: usize| -> Vec<u8> {
        let (hdr, f) = lv_testkit::y4m::read_all(p).expect("run scripts/fetch-test-deps.sh");
        let src: Vec<u8> = f[i].planes[0].iter().map(|&v| v as u8).collect();
        let r = Resampler::new(hdr.width, hdr.height, w, h, Kernel::LANCZOS3).unwrap();
        let mut out = vec![0u8; w * h];
        r.process_u8(
            &Plane::new_u8(&src, hdr.width, hdr.height, hdr.width),
            &mut out,
            w,
        );
        out
    };
    (load(&path, 0), load(&dis_path, 0), load(&path, 1))
}

fn time<R>(n: usize, mut f: impl FnMut() -> R) -> f64 {
    let _ = f();
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(f());
    }
    n as f64 / t.elapsed().as_secs_f64()
}

fn main() {
    let gpu = match Gpu::open() {
        Ok(g) => std::sync::Arc::new(g),
        Err(why) => {
            println!("kernels bench: no GPU ({why}); nothing timed");
            if std::env::var_os("LV_GPU_EMULATE").is_some_and(|v| v == "1") {
                println!("LV_GPU_EMULATE=1: the VMAF rows on the host emulation (a dry run)");
                vmaf_rows(std::sync::Arc::new(lv_gpu::refine::HostEmulation));
            }
            return;
        }
    };
    println!(
        "kernels bench on {}: fps (frames per second), GPU including transfers vs one CPU thread",
        gpu.name()
    );
    println!("| kernel | size | GPU fps | CPU fps | GPU / CPU |");
    println!("| --- | --- | ---: | ---: | ---: |");
    for (w, h, n) in [(1920usize, 1080usize, 20usize), (3840, 2160, 10)] {
        let (r, d, next) = frames(w, h);
        let (pr, pd, pn) = (
            Plane::new_u8(&r, w, h, w),
            Plane::new_u8(&d, w, h, w),
            Plane::new_u8(&next, w, h, w),
        );
        let row = |name: &str, g: f64, c: f64| {
            println!("| {name} | {w}x{h} | {g:.1} | {c:.1} | {:.2}x |", g / c)
        };
        let mut vif = lv_metrics::vif_int::IntegerVif::new(w, h, 8, Default::default()).unwrap();
        row(
            "integer VIF",
            time(n, || gpu.vif_sums_u8(&r, &d, w, h, 100.0).unwrap()),
            time(n, || vif.compute_num_den(&pr, &pd)),
        );
        let opts = lv_metrics::adm_int::IntegerAdmOptions::default();
        let mut adm = lv_metrics::adm_int::IntegerAdm::new(w, h, 8, opts).unwrap();
        let adm_gpu = lv_gpu::adm::AdmKernels::new(w, h, 8, opts).unwrap();
        row(
            "integer ADM",
            time(n, || adm_gpu.compute(&*gpu, &pr, &pd).unwrap()),
            time(n, || adm.compute(&pr, &pd)),
        );
        let (r16, n16): (Vec<u16>, Vec<u16>) = (
            r.iter().map(|&v| v as u16).collect(),
            next.iter().map(|&v| v as u16).collect(),
        );
        row(
            "integer motion",
            time(n, || gpu.motion_sad(&r16, &n16, w, h, 8).unwrap()),
            time(n, || lv_metrics::motion_int::frame_sad(&pr, &pn)),
        );
        let (rf, df): (Vec<f32>, Vec<f32>) = (
            r.iter().map(|&v| v as f32).collect(),
            d.iter().map(|&v| v as f32).collect(),
        );
        // SSIM at full size (libvmaf decimates first above 384 lines; the kernel times the map).
        let mut ssim = lv_metrics::ssim::FloatSsim::with_scale(w, h, 8, 1).unwrap();
        row(
            "float SSIM map",
            time(n, || gpu.ssim_means(&rf, &df, w, h).unwrap()),
            time(n, || ssim.compute(&pr, &pd)),
        );
        row(
            "PSNR SSE",
            time(n, || gpu.sse_u8(&r, &d, w, h).unwrap()),
            time(n, || lv_metrics::psnr::plane_sse(&pr, &pd)),
        );
        let rs = Resampler::new(w, h, w / 2, h / 2, Kernel::LANCZOS3).unwrap();
        let mut out = vec![0u8; w * h / 4];
        row(
            "Lanczos to half size",
            time(n, || gpu.resample_u8(&r, &rs).unwrap()),
            time(n, || rs.process_u8(&pr, &mut out, w / 2)),
        );
    }
    vmaf_rows(gpu);
}

/// VMAF v0.6.1 per frame, whole meter, GPU-accelerated vs CPU vs libvmaf.
fn vmaf_rows(exec: std::sync::Arc<dyn lv_gpu::refine::Executor>) {
    use lv_image::plane::Chroma;
    use lv_metrics::meter::{Meter, MeterConfig};
    use lv_metrics::model::VmafModel;
    use lv_testkit::oracle;
    let Ok(ff) = oracle::ffmpeg() else {
        println!("VMAF rows: no oracle ffmpeg (scripts/fetch-test-deps.sh)");
        return;
    };
    let accel: std::sync::Arc<dyn lv_metrics::accel::Accelerator> =
        std::sync::Arc::new(lv_gpu::features::GpuFeatures::new(exec));
    println!();
    println!("| VMAF v0.6.1 | size | GPU meter fps | CPU meter fps (1 thread) | libvmaf fps (1 thread / all) | GPU / libvmaf all |");
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    let test = oracle::corpus_dir().join("test");
    for (w, h) in [(1920usize, 1080usize), (3840, 2160)] {
        // The same 30 natural frames upscaled for all three (y4m, I420).
        let clip = |name: &str| {
            let out = oracle::scratch_dir().join(format!("bench-{name}-{w}x{h}.y4m"));
            oracle::ffmpeg_to(
                &out,
                std::process::Command::new(&ff)
                    .arg("-i")
                    .arg(test.join(format!("{name}.y4m")))
                    .args([
                        "-vf",
                        &format!("scale={w}:{h}:flags=lanczos"),
                        "-pix_fmt",
                        "yuv420p",
                    ])
                    .args(["-f", "yuv4mpegpipe"]),
            )
            .expect("upscaled clip")
        };
        let (rp, dp) = (clip("bbb_320x180_30f"), clip("bbb_320x180_30f_x264crf30"));
        let (_, rf) = lv_testkit::y4m::read_all(&rp).unwrap();
        let (_, df) = lv_testkit::y4m::read_all(&dp).unwrap();
        let to8 = |f: &lv_testkit::y4m::Frame| -> Vec<u8> {
            f.planes[0].iter().map(|&v| v as u8).collect()
        };
        let (rf, df): (Vec<Vec<u8>>, Vec<Vec<u8>>) =
            (rf.iter().map(to8).collect(), df.iter().map(to8).collect());
        let n = rf.len().min(df.len());
        let run = |accel: Option<std::sync::Arc<dyn lv_metrics::accel::Accelerator>>| -> f64 {
            let mut m = Meter::new(MeterConfig {
                width: w,
                height: h,
                bpc: 8,
                chroma: Chroma::Mono,
                models: vec![VmafModel::builtin("vmaf_v0.6.1").unwrap()],
                psnr: false,
                ssim: false,
                ms_ssim: false,
                cambi: None,
                threads: 1,
                accel,
            })
            .unwrap();
            let t = Instant::now();
            for i in 0..n {
                let (r, d) = (
                    Plane::new_u8(&rf[i], w, h, w),
                    Plane::new_u8(&df[i], w, h, w),
                );
                std::hint::black_box(m.push(i as u64, &[r], &[d]));
            }
            std::hint::black_box(m.finish());
            n as f64 / t.elapsed().as_secs_f64()
        };
        let (g, c) = (run(Some(accel.clone())), run(None));
        let libvmaf = |threads: usize| -> f64 {
            let t = Instant::now();
            oracle::run(
                std::process::Command::new(&ff)
                    .args(["-v", "error", "-i"])
                    .arg(&dp)
                    .arg("-i")
                    .arg(&rp)
                    .args(["-lavfi", &format!("[0:v][1:v]libvmaf=n_threads={threads}")])
                    .args(["-f", "null", "-"]),
            )
            .expect("libvmaf");
            n as f64 / t.elapsed().as_secs_f64()
        };
        let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
        let (l1, ln) = (libvmaf(1), libvmaf(cores));
        println!(
            "| VMAF | {w}x{h} | {g:.1} | {c:.1} | {l1:.1} / {ln:.1} | {:.2}x |",
            g / ln
        );
    }
}
