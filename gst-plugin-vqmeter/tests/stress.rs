//! `vqmeter` driven as a demanding application drives it (issue #12): random state
//! changes, flushing seeks and property changes (READY-only ones are refused quietly while
//! it runs), each bounded in time, then a run to EOS that must still report every frame.

use gst::prelude::*;
use std::sync::Once;
use std::time::Duration;

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstvqmeter::plugin_register_static().expect("vqmeter plugin");
    });
}

#[test]
fn stress_random_states_seeks_and_properties() {
    init();
    let src = "videotestsrc num-buffers=40 pattern=ball ! \
               video/x-raw,format=I420,width=160,height=120,framerate=30/1";
    let case = lv_testkit::stress::Case {
        final_bound: Duration::from_secs(120),
        ..lv_testkit::stress::Case::new(
            format!("vqmeter name=m psnr=true ! fakesink {src} ! m.ref_sink {src} ! m.dist_sink"),
            "m",
            vec![
                ("psnr", vec![true.to_value(), false.to_value()]),
                ("subsample", vec![1u32.to_value(), 2u32.to_value()]),
                (
                    "threads",
                    vec![0u32.to_value(), 1u32.to_value(), 256u32.to_value()],
                ),
            ],
        )
    };
    lv_testkit::stress::run_seeds(case, 3);
}

/// READY-only properties are refused while the element runs, accepted again in READY.
#[test]
fn ready_only_properties_are_refused_while_running() {
    init();
    let src = "videotestsrc is-live=true ! video/x-raw,format=I420,width=160,height=120";
    let pipeline = gst::parse::launch(&format!(
        "vqmeter name=m model-filename=\"\" psnr=true ! fakesink {src} ! m.ref_sink {src} ! m.dist_sink"
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let m = pipeline.by_name("m").unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let _ = pipeline.state(gst::ClockTime::from_seconds(10));
    m.set_property("psnr", false);
    assert!(m.property::<bool>("psnr"));
    pipeline.set_state(gst::State::Ready).unwrap();
    m.set_property("psnr", false);
    assert!(!m.property::<bool>("psnr"));
    pipeline.set_state(gst::State::Null).unwrap();
}
