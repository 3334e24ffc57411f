//! `srenhance` driven as a demanding application drives it (issue #12): `training` switched
//! on and off while playing, READY-only properties refused while running, state changes and
//! seeks that do not wait for a training epoch, short epochs that still train, QoS, an
//! unwritable `save-model`, and a random stress run. Every pipeline is bounded in time.
//!
//! The pipelines are the issue's: videotestsrc → srpatch → videoscale (half size) →
//! srenhance → the source size, with srpatch's patches on srenhance's patch_sink; non-live,
//! so each epoch's training steps are waited for (the case that used to stall).

use gst::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstsrenhance::plugin_register_static().unwrap();
    });
}

/// The pipeline at 320x240, `frames` frames at 30 fps; srenhance is `sr`. A queue
/// after each of srpatch's outputs, as the README says (one streaming thread feeding two
/// sinks deadlocks in preroll, as after a `tee`).
fn ingest(frames: u32, sr_props: &str) -> String {
    format!(
        "videotestsrc num-buffers={frames} pattern=ball ! \
         video/x-raw,format=I420,width=320,height=240,framerate=30/1 ! srpatch name=p ! \
         queue ! videoscale ! video/x-raw,width=160,height=120 ! srenhance name=sr {sr_props} ! \
         video/x-raw,width=320,height=240 ! fakesink name=out \
         p.patch_src ! queue ! sr.patch_sink"
    )
}

struct Outcome {
    error: Option<String>,
    warnings: Vec<String>,
    buffers: u64,
    stats: gst::Structure,
}

/// Runs `desc` to EOS (at most `bound`), calling `on_buffer(sr, n)` on srenhance's sink pad
/// for the n-th input frame (from the streaming thread, as an application's probe would).
fn run(
    desc: &str,
    bound: Duration,
    on_buffer: impl Fn(&gst::Element, u64) + Send + Sync + 'static,
) -> Outcome {
    init();
    let pipeline = gst::parse::launch(desc)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let sr = pipeline.by_name("sr").unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let weak = sr.downgrade();
    sr.static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            let n = s.fetch_add(1, Ordering::SeqCst);
            if let Some(sr) = weak.upgrade() {
                on_buffer(&sr, n);
            }
            gst::PadProbeReturn::Ok
        });
    let out = Arc::new(AtomicU64::new(0));
    let o = out.clone();
    pipeline
        .by_name("out")
        .unwrap()
        .static_pad("sink")
        .unwrap()
        .add_probe(gst::PadProbeType::BUFFER, move |_, _| {
            o.fetch_add(1, Ordering::SeqCst);
            gst::PadProbeReturn::Ok
        });
    let t0 = Instant::now();
    let mut error = None;
    let mut warnings = Vec::new();
    if pipeline.set_state(gst::State::Playing).is_err() {
        error = Some("set_state Playing failed".to_string());
    }
    let bus = pipeline.bus().unwrap();
    while error.is_none() {
        let left = bound.saturating_sub(t0.elapsed());
        assert!(
            !left.is_zero(),
            "no EOS within {bound:?}: {}",
            sr.property::<gst::Structure>("stats")
        );
        let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(left.as_millis() as u64))
        else {
            continue;
        };
        match msg.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => error = Some(format!("{} ({:?})", e.error(), e.debug())),
            gst::MessageView::Warning(w) => warnings.push(w.error().to_string()),
            _ => {}
        }
    }
    let stats = sr.property::<gst::Structure>("stats");
    pipeline.set_state(gst::State::Null).unwrap();
    Outcome {
        error,
        warnings,
        buffers: out.load(Ordering::SeqCst),
        stats,
    }
}

fn stat(s: &gst::Structure, name: &str) -> u64 {
    s.get::<u64>(name).unwrap()
}

/// Defect 1: the trainer only started at READY→PAUSED with training=true, while the
/// property was read per frame, so switching it on while playing made the video thread wait
/// for an epoch nobody ran: the stream stopped for good at the first epoch boundary.
#[test]
fn training_switched_on_while_playing_trains_and_reaches_eos() {
    let r = run(
        &ingest(90, "training=false epoch-duration=500000000"),
        Duration::from_secs(120),
        |sr, n| {
            if n == 20 {
                sr.set_property("training", true);
            }
        },
    );
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(r.buffers, 90);
    assert!(stat(&r.stats, "epochs") >= 2, "{}", r.stats);
    assert!(stat(&r.stats, "train-steps") > 0, "{}", r.stats);
    assert!(stat(&r.stats, "pairs") > 0, "{}", r.stats);
}

/// …and off again: training pauses (patches are dropped and counted), frames keep flowing.
#[test]
fn training_switched_off_while_playing_stops_training_not_the_stream() {
    let steps_at_off = Arc::new(AtomicU64::new(u64::MAX));
    let at_off = steps_at_off.clone();
    let r = run(
        &ingest(90, "epoch-duration=500000000"),
        Duration::from_secs(120),
        move |sr, n| {
            if n == 45 {
                sr.set_property("training", false);
                let s = sr.property::<gst::Structure>("stats");
                at_off.store(stat(&s, "train-steps"), Ordering::SeqCst);
            }
        },
    );
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(r.buffers, 90);
    let before = steps_at_off.load(Ordering::SeqCst);
    assert!(before > 0, "no training before it was switched off");
    assert_eq!(stat(&r.stats, "train-steps"), before, "{}", r.stats);
    assert!(stat(&r.stats, "dropped-not-training") > 0, "{}", r.stats);
    assert_eq!(r.stats.get::<&str>("state").unwrap(), "off");
}

/// Defect 1, second half: READY-only properties (`epoch-duration`,
/// `train-steps-per-second`, …) are read when the element starts; changed while playing
/// they are refused (a warning in the log), so the property never reports a value that is
/// not in effect.
#[test]
fn ready_only_properties_are_refused_while_playing() {
    let seen = Arc::new(AtomicU64::new(0));
    let s = seen.clone();
    let r = run(
        &ingest(30, "epoch-duration=500000000 train-steps-per-second=20"),
        Duration::from_secs(60),
        move |sr, n| {
            if n == 5 {
                sr.set_property("epoch-duration", 20_000_000u64);
                sr.set_property("train-steps-per-second", 1000u32);
                s.store(
                    sr.property::<u64>("epoch-duration") * 10_000
                        + sr.property::<u32>("train-steps-per-second") as u64,
                    Ordering::SeqCst,
                );
            }
        },
    );
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(seen.load(Ordering::SeqCst), 500_000_000 * 10_000 + 20);
    // 1 s of stream in 500 ms epochs: the new 20 ms would have made ~50.
    assert!(stat(&r.stats, "epochs") <= 3, "{}", r.stats);
    // In READY they take effect again.
    init();
    let sr = gst::ElementFactory::make("srenhance").build().unwrap();
    sr.set_state(gst::State::Ready).unwrap();
    sr.set_property("epoch-duration", 20_000_000u64);
    assert_eq!(sr.property::<u64>("epoch-duration"), 20_000_000);
    sr.set_state(gst::State::Null).unwrap();
}

/// Defect 5: the step loop did not look at the stop flag, so PAUSED→READY and →NULL waited
/// for the running epoch's steps (5.5 s and 8.1 s with these settings).
#[test]
fn stopping_does_not_wait_for_the_running_epoch() {
    init();
    let pipeline = gst::parse::launch(&ingest(
        300,
        "train-steps-per-second=5000 epoch-duration=1000000000",
    ))
    .unwrap()
    .downcast::<gst::Pipeline>()
    .unwrap();
    let sr = pipeline.by_name("sr").unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let t0 = Instant::now();
    // Into the first epoch's 5000 steps (seconds of training on its own).
    while sr
        .property::<gst::Structure>("stats")
        .get::<u64>("train-steps")
        .unwrap()
        < 100
    {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "training never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let t1 = Instant::now();
    pipeline.set_state(gst::State::Null).unwrap();
    let stop = t1.elapsed();
    assert!(stop < Duration::from_secs(2), "NULL took {stop:?}");
}

/// Defect 5, seeks: a flushing seek during an epoch's training abandons that epoch at once
/// (its remaining steps are not taken) and completes without waiting for it.
#[test]
fn flushing_seek_abandons_the_running_epoch() {
    init();
    // 20 ms per frame upstream: the epoch after the seek (1 s of stream) is > 0.6 s away.
    let desc = ingest(300, "train-steps-per-second=5000 epoch-duration=1000000000").replacen(
        " ! srpatch",
        " ! identity sleep-time=20000 ! srpatch",
        1,
    );
    let pipeline = gst::parse::launch(&desc)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let sr = pipeline.by_name("sr").unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let steps = || {
        sr.property::<gst::Structure>("stats")
            .get::<u64>("train-steps")
            .unwrap()
    };
    let t0 = Instant::now();
    while steps() < 100 {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "training never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let t1 = Instant::now();
    pipeline
        .seek_simple(gst::SeekFlags::FLUSH, gst::ClockTime::from_seconds(2))
        .unwrap();
    let (res, _, _) = pipeline.state(gst::ClockTime::from_seconds(5));
    assert!(res.is_ok(), "seek did not complete");
    assert!(
        t1.elapsed() < Duration::from_secs(3),
        "seek took {:?}",
        t1.elapsed()
    );
    // A step already running when the seek came may still finish and be counted (one step,
    // slower on a loaded machine); after that the count must stand still. Were the abandoned
    // epoch still training (5000 steps a second), it would never settle.
    let settle = Instant::now();
    let mut a = steps();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = steps();
        if now == a || settle.elapsed() > Duration::from_secs(2) {
            break;
        }
        a = now;
    }
    std::thread::sleep(Duration::from_millis(400));
    let b = steps();
    assert!(a < 5000, "the epoch ran to its end: {a} steps");
    assert_eq!(a, b, "the abandoned epoch's steps went on after the seek");
    let t2 = Instant::now();
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(
        t2.elapsed() < Duration::from_secs(2),
        "NULL took {:?}",
        t2.elapsed()
    );
}

/// Defect 6: epochs under 1 / train-steps-per-second (here 20 ms at 20 steps/s) each got a
/// budget rounded to 0 steps, so nothing trained; the fraction now carries over.
#[test]
fn short_epochs_still_get_the_stream_s_training_steps() {
    let r = run(
        &ingest(90, "epoch-duration=20000000 adaptive=false"),
        Duration::from_secs(120),
        |_, _| {},
    );
    assert!(r.error.is_none(), "{:?}", r.error);
    // 3 s of stream at 20 steps/s (minus the first frame's epoch).
    let steps = stat(&r.stats, "train-steps");
    assert!((55..=60).contains(&steps), "{steps} steps: {}", r.stats);
}

/// A `save-model` that cannot be written is an error when the element starts, not after the
/// stream has been trained.
#[test]
fn unwritable_save_model_fails_at_start() {
    init();
    let sr = gst::ElementFactory::make("srenhance")
        .property("save-model", "/nonexistent-dir/model.onnx")
        .build()
        .unwrap();
    let bus = gst::Bus::new();
    sr.set_bus(Some(&bus));
    assert!(sr.set_state(gst::State::Paused).is_err());
    let msg = bus
        .pop_filtered(&[gst::MessageType::Error])
        .expect("no error message");
    let gst::MessageView::Error(e) = msg.view() else {
        unreachable!()
    };
    assert!(
        e.error().matches(gst::ResourceError::OpenWrite),
        "{:?}",
        e.error()
    );
    let debug = e.debug().map(|d| d.to_string()).unwrap_or_default();
    assert!(debug.contains("/nonexistent-dir/model.onnx"), "{debug}");
    sr.set_state(gst::State::Null).unwrap();
}

/// Defect 7: under QoS (default on, as video filters), a frame already late by the sink's
/// last QoS event is dropped with a QoS message instead of being upscaled late.
#[test]
fn late_frames_are_dropped_under_qos() {
    init();
    let mut h = gst_check::Harness::with_padnames("srenhance", Some("sink"), Some("src"));
    h.element().unwrap().set_property("training", false);
    let bus = gst::Bus::new();
    h.element().unwrap().set_bus(Some(&bus));
    h.set_src_caps_str("video/x-raw,format=I420,width=64,height=48,framerate=30/1");
    h.set_sink_caps_str("video/x-raw,format=I420,width=128,height=96,framerate=30/1");
    let frame = |pts_ms: u64| {
        let mut b = gst::Buffer::from_mut_slice(vec![128u8; 64 * 48 * 3 / 2]);
        let bm = b.get_mut().unwrap();
        bm.set_pts(gst::ClockTime::from_mseconds(pts_ms));
        bm.set_duration(gst::ClockTime::from_mseconds(33));
        b
    };
    assert!(h.push(frame(0)).is_ok());
    assert!(h.push(frame(33)).is_ok());
    // The sink rendered the frame at 33 ms 400 ms late.
    assert!(h.push_upstream_event(gst::event::Qos::new(
        gst::QOSType::Underflow,
        0.5,
        400_000_000,
        gst::ClockTime::from_mseconds(33),
    )));
    assert!(h.push(frame(66)).is_ok());
    assert!(h.push(frame(400)).is_ok());
    assert!(h.push(frame(466)).is_ok());
    let pts: Vec<u64> = (0..h.buffers_in_queue())
        .map(|_| h.pull().unwrap().pts().unwrap().mseconds())
        .collect();
    assert_eq!(
        pts,
        vec![0, 33, 466],
        "frames due before 433 ms are dropped"
    );
    let qos: Vec<_> = std::iter::from_fn(|| bus.pop_filtered(&[gst::MessageType::Qos])).collect();
    assert_eq!(qos.len(), 2);
    let gst::MessageView::Qos(q) = qos[1].view() else {
        unreachable!()
    };
    let (processed, dropped) = q.stats();
    assert_eq!(
        (processed, dropped),
        (
            gst::GenericFormattedValue::from(gst::format::Buffers::from_u64(2)),
            gst::GenericFormattedValue::from(gst::format::Buffers::from_u64(2))
        )
    );
    // qos=false renders everything.
    h.element().unwrap().set_property("qos", false);
    assert!(h.push(frame(500)).is_ok());
    assert_eq!(h.pull().unwrap().pts().unwrap().mseconds(), 500);
}

/// Random state changes, flushing seeks and property changes (the mutable-while-playing
/// ones and READY-only ones, which must be refused quietly), each bounded in time, then a run
/// to EOS.
#[test]
fn stress_random_states_seeks_and_properties() {
    init();
    let case = lv_testkit::stress::Case::new(
        ingest(60, "epoch-duration=300000000 train-steps-per-second=100"),
        "sr",
        vec![
            ("training", vec![true.to_value(), false.to_value()]),
            ("qos", vec![true.to_value(), false.to_value()]),
            (
                "epoch-duration",
                vec![100_000_000u64.to_value(), 300_000_000u64.to_value()],
            ),
            (
                "threads",
                vec![0u32.to_value(), 1u32.to_value(), 256u32.to_value()],
            ),
        ],
    );
    lv_testkit::stress::run_seeds(case, 3);
}

/// Patches cut from a picture of another size than srenhance's output can never be paired:
/// the stream goes on, they are counted, and the application is told once why nothing is
/// learned.
#[test]
fn patches_for_another_picture_size_are_a_warning() {
    // A patch message every frame or two: the warning waits for several in a row.
    let desc = ingest(30, "epoch-duration=200000000")
        .replace(
            "video/x-raw,width=320,height=240 ! fakesink",
            "video/x-raw,width=480,height=360 ! fakesink",
        )
        .replace(
            "srpatch name=p",
            "srpatch name=p patch-kbps=2000 max-patches=1",
        );
    let r = run(&desc, Duration::from_secs(120), |_, _| {});
    assert!(r.error.is_none(), "{:?}", r.error);
    assert_eq!(r.buffers, 30);
    assert!(stat(&r.stats, "dropped-size") > 0, "{}", r.stats);
    assert_eq!(stat(&r.stats, "pairs"), 0, "{}", r.stats);
    let said: Vec<_> = r
        .warnings
        .iter()
        .filter(|w| w.contains("320x240 picture but srenhance outputs 480x360"))
        .collect();
    assert_eq!(said.len(), 1, "{:?}", r.warnings);
}
