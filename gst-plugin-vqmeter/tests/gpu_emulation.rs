//! `vqmeter backend=cuda` through lv-metrics' accelerator seam and lv-gpu's kernels, on a
//! machine without a GPU: `LV_GPU_EMULATE=1` makes the kernels' host emulation (the same CUDA C
//! sources, run on the CPU) stand in for the device. VMAF's integer VIF and ADM then run on the
//! kernels; every frame's scores (two VMAF models, their features, PSNR) must equal the CPU
//! path's bit for bit, and the element must report `backend-in-use=cuda`. Its own test binary:
//! the variable is process-wide.

use gst::prelude::*;
use gstvqmeter::FrameMessage;
use std::time::{Duration, Instant};

fn measure(backend: &str) -> (Vec<FrameMessage>, String) {
    let corpus = lv_testkit::oracle::corpus_dir().join("test");
    let (r, d) = (
        corpus.join("bbb_320x180_30f.y4m"),
        corpus.join("bbb_320x180_30f_x264crf30.y4m"),
    );
    assert!(r.is_file() && d.is_file(), "run scripts/fetch-test-deps.sh");
    let launch = format!(
        "vqmeter name=m backend={backend} model-filename=vmaf_v0.6.1,vmaf_v0.6.1neg psnr=true \
         threads=1 ! fakesink filesrc location={} ! y4mdec ! m.ref_sink \
         filesrc location={} ! y4mdec ! m.dist_sink",
        r.display(),
        d.display()
    );
    let pipeline = gst::parse::launch(&launch)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let m = pipeline.by_name("m").unwrap();
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut frames = Vec::new();
    loop {
        assert!(Instant::now() < deadline, "{backend}: pipeline hung");
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_seconds(1)) else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(..) => break,
            gst::MessageView::Error(e) => panic!("{backend}: {} {:?}", e.error(), e.debug()),
            gst::MessageView::Element(e) => {
                let s = e.structure().unwrap();
                if s.name() == "vqmeter-frame" {
                    frames.push(FrameMessage::try_from(s).unwrap());
                }
            }
            _ => {}
        }
    }
    let in_use = m.property::<String>("backend-in-use");
    pipeline.set_state(gst::State::Null).unwrap();
    (frames, in_use)
}

#[test]
fn cuda_backend_through_the_emulated_kernels_scores_as_the_cpu() {
    // SAFETY (edition 2021: safe; racy only with other threads reading the environment): the
    // only test of this binary, set before any element exists.
    std::env::set_var("LV_GPU_EMULATE", "1");
    gst::init().unwrap();
    gstvqmeter::plugin_register_static().unwrap();
    let (cpu, cpu_in_use) = measure("cpu");
    let (gpu, gpu_in_use) = measure("cuda");
    assert_eq!((cpu_in_use.as_str(), gpu_in_use.as_str()), ("cpu", "cuda"));
    assert_eq!(cpu.len(), 30);
    assert_eq!(gpu.len(), cpu.len());
    let mut values = 0;
    for (c, g) in cpu.iter().zip(&gpu) {
        assert_eq!(c.index, g.index);
        let names: Vec<&str> = c.scores.iter().map(|(n, _)| n.as_str()).collect();
        assert!(
            names.contains(&"vmaf") && names.contains(&"integer_adm2"),
            "{names:?}"
        );
        for ((n, a), (m, b)) in c.scores.iter().zip(&g.scores) {
            assert_eq!(n, m);
            assert_eq!(
                a.to_bits(),
                b.to_bits(),
                "frame {}: {n} {a} vs {b}",
                c.index
            );
            values += 1;
        }
    }
    println!("backend=cuda (emulated) vs cpu: {values} values, all bit-identical");
}
