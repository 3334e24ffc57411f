//! `dnnscale backend=cuda` through lv-infer's backend seam and lv-gpu's kernels, on a machine
//! without a GPU: `LV_GPU_EMULATE=1` makes the kernels' host emulation (the same CUDA C
//! sources, run on the CPU) stand in for the device. The output must match the CPU path's
//! (f32 sums in another order: at most one level on an 8-bit sample, rarely; the resamplers'
//! integer kernels are exact), on luma and chroma, and the element
//! must report `backend-in-use=cuda`. Its own test binary: the variable is process-wide.

use gst::prelude::*;
use gst_check::Harness;

fn run(backend: &str, frame: &[u8], (w, h): (usize, usize)) -> (Vec<u8>, String) {
    let el = gst::ElementFactory::make("dnnscale").build().unwrap();
    el.set_property_from_str("backend", backend);
    el.set_property("threads", 1u32);
    let mut hns = Harness::with_element(&el, Some("sink"), Some("src"));
    hns.set_src_caps_str(&format!(
        "video/x-raw,format=I420,width={w},height={h},framerate=30/1"
    ));
    hns.set_sink_caps_str("video/x-raw,width=160,height=90");
    let out = hns
        .push_and_pull(gst::Buffer::from_slice(frame.to_vec()))
        .unwrap();
    let map = out.map_readable().unwrap();
    (
        map[..160 * 90 * 3 / 2].to_vec(), // I420: luma and chroma (the resamplers run on the kernels too)
        el.property::<String>("backend-in-use"),
    )
}

#[test]
fn cuda_backend_through_the_emulated_kernels_matches_the_cpu() {
    // SAFETY (edition 2021: safe; racy only with other threads reading the environment): the
    // only test of this binary, set before any element exists.
    std::env::set_var("LV_GPU_EMULATE", "1");
    gst::init().unwrap();
    gstdnnscale::plugin_register_static().unwrap();
    let path = lv_testkit::oracle::corpus_dir().join("test/bbb_320x180_30f.y4m");
    let (hdr, frames) = lv_testkit::y4m::read_all(&path).expect("run scripts/fetch-test-deps.sh");
    let (w, h) = (hdr.width, hdr.height);
    let frame: Vec<u8> = frames[3]
        .planes
        .iter()
        .flatten()
        .map(|&v| v as u8)
        .collect();
    let (cpu, cpu_in_use) = run("cpu", &frame, (w, h));
    let (gpu, gpu_in_use) = run("cuda", &frame, (w, h));
    assert_eq!((cpu_in_use.as_str(), gpu_in_use.as_str()), ("cpu", "cuda"));
    lv_testkit::diff::assert_backends_agree("backend=cuda (emulated) vs cpu", &cpu, &gpu, 1, 1);
}
