// SPDX-License-Identifier: MPL-2.0
//! `srpatch`: pass-through video, patch messages on `patch_src` (parsed with `lvpatch` and
//! decoded back to the right pixels), rate limiting, the scheduler's bus messages and
//! feedback event, guided selection through `decoded_sink`, EOS on both outputs, and an
//! unlinked `patch_src` that must not stop the video.
//!
//! appsrc / appsink are driven through their action signals (no gstreamer-app dependency).

use gst::prelude::*;
use gst_video::prelude::*;
use gstsrenhance::RateMessage;
use std::sync::Once;

const FPS: u64 = 30;
const FRAME_NS: u64 = 1_000_000_000 / FPS;

fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        gst::init().unwrap();
        gstsrenhance::plugin_register_static().unwrap();
    });
}

/// Deterministic luma: smooth left half, a fine checkerboard on the right half, moving with
/// the frame index.
fn luma_pattern(w: usize, h: usize, k: usize) -> Vec<u8> {
    let mut v = vec![0u8; w * h];
    for y in 0..h {
        for x in 0..w {
            let base = 40 + ((x + 2 * k) * 120 / w + y * 60 / h) as u32;
            let fine = if x >= w / 2 && (x + y + k).is_multiple_of(2) {
                70
            } else {
                0
            };
            v[y * w + x] = (base + fine).min(255) as u8;
        }
    }
    v
}

/// A raw frame of `format` with the given luma; chroma is flat grey.
fn frame(
    format: gst_video::VideoFormat,
    w: usize,
    h: usize,
    luma: &[u8],
) -> (gst::Buffer, gst_video::VideoInfo) {
    init();
    let info = gst_video::VideoInfo::builder(format, w as u32, h as u32)
        .fps(gst::Fraction::new(FPS as i32, 1))
        .build()
        .unwrap();
    let mut buf = gst::Buffer::with_size(info.size()).unwrap();
    {
        let bufm = buf.get_mut().unwrap();
        let mut f = gst_video::VideoFrameRef::from_buffer_ref_writable(bufm, &info).unwrap();
        for p in 0..f.n_planes() {
            let stride = f.plane_stride()[p as usize] as usize;
            let data = f.plane_data_mut(p).unwrap();
            if p == 0 {
                for y in 0..h {
                    data[y * stride..y * stride + w].copy_from_slice(&luma[y * w..y * w + w]);
                }
            } else {
                data.fill(128);
            }
        }
    }
    (buf, info)
}

struct Rig {
    pipeline: gst::Pipeline,
    src: gst::Element,
    dec_src: Option<gst::Element>,
    video: gst::Element,
    patches: gst::Element,
    srpatch: gst::Element,
}

fn appsink(name: &str) -> gst::Element {
    gst::ElementFactory::make("appsink")
        .name(name)
        .property("sync", false)
        .property("emit-signals", false)
        .property("max-buffers", 0u32)
        .build()
        .unwrap()
}

fn appsrc(caps: &gst::Caps) -> gst::Element {
    let src = gst::ElementFactory::make("appsrc")
        .property("caps", caps)
        .property("is-live", false)
        .property("block", true)
        .property("max-bytes", 64u64 << 20)
        .build()
        .unwrap();
    src.set_property_from_str("format", "time");
    src
}

fn rig(caps: &gst::Caps, props: &[(&str, glib::Value)], decoded_caps: Option<&gst::Caps>) -> Rig {
    init();
    let pipeline = gst::Pipeline::new();
    let src = appsrc(caps);
    let mut b = gst::ElementFactory::make("srpatch");
    for (k, v) in props {
        b = b.property(k, v.clone());
    }
    let srpatch = b.build().unwrap();
    let video = appsink("video");
    let patches = appsink("patches");
    // Like tee's branches, both outputs need a queue: one streaming thread feeds two sinks
    // that each block while prerolling.
    let (q1, q2) = (
        gst::ElementFactory::make("queue").build().unwrap(),
        gst::ElementFactory::make("queue").build().unwrap(),
    );
    pipeline
        .add_many([&src, &srpatch, &q1, &q2, &video, &patches])
        .unwrap();
    src.link(&srpatch).unwrap();
    srpatch.link_pads(Some("src"), &q1, None).unwrap();
    q1.link(&video).unwrap();
    srpatch.link_pads(Some("patch_src"), &q2, None).unwrap();
    q2.link(&patches).unwrap();
    let dec_src = decoded_caps.map(|c| {
        let d = appsrc(c);
        pipeline.add(&d).unwrap();
        let pad = srpatch.request_pad_simple("decoded_sink").unwrap();
        d.static_pad("src").unwrap().link(&pad).unwrap();
        d
    });
    pipeline.set_state(gst::State::Playing).unwrap();
    Rig {
        pipeline,
        src,
        dec_src,
        video,
        patches,
        srpatch,
    }
}

use gst::glib;

fn push(src: &gst::Element, mut buf: gst::Buffer, k: u64) {
    {
        let b = buf.get_mut().unwrap();
        b.set_pts(gst::ClockTime::from_nseconds(k * FRAME_NS));
        b.set_duration(gst::ClockTime::from_nseconds(FRAME_NS));
    }
    let r: gst::FlowReturn = src.emit_by_name("push-buffer", &[&buf]);
    assert_eq!(r, gst::FlowReturn::Ok);
}

fn end(src: &gst::Element) {
    let _: gst::FlowReturn = src.emit_by_name("end-of-stream", &[]);
}

fn pull(sink: &gst::Element) -> Option<gst::Sample> {
    sink.emit_by_name::<Option<gst::Sample>>("try-pull-sample", &[&(10 * gst::ClockTime::SECOND)])
}

fn pull_all(sink: &gst::Element) -> Vec<gst::Buffer> {
    let mut v = Vec::new();
    while let Some(s) = pull(sink) {
        v.push(s.buffer_owned().unwrap());
    }
    v
}

/// Waits for EOS (or fails on error) and collects element messages named `name`.
fn wait_eos(p: &gst::Pipeline, name: &str) -> Vec<gst::Structure> {
    let bus = p.bus().unwrap();
    let mut msgs = Vec::new();
    loop {
        let m = bus
            .timed_pop(20 * gst::ClockTime::SECOND)
            .expect("pipeline did not reach EOS in 20 s");
        match m.view() {
            gst::MessageView::Eos(_) => break,
            gst::MessageView::Error(e) => panic!("error: {} ({:?})", e.error(), e.debug()),
            gst::MessageView::Element(e) => {
                if let Some(s) = e.structure() {
                    if s.name() == name {
                        msgs.push(s.to_owned());
                    }
                }
            }
            _ => {}
        }
    }
    msgs
}

struct Parsed {
    pts: u64,
    w: u32,
    h: u32,
    ps: u16,
    cells: Vec<(u16, u16, Vec<u8>)>,
    len: usize,
}

fn parse(buf: &gst::Buffer) -> Parsed {
    let map = buf.map_readable().unwrap();
    let msg = lv_livenas::wire::parse(&map, &lv_livenas::wire::Limits::default())
        .expect("patch_src output parses");
    let lv_livenas::wire::Message::Patches(b) = msg else {
        panic!("not a patches message")
    };
    assert_eq!(b.codec, lv_livenas::wire::Codec::Jpeg);
    assert_eq!(
        b.pts,
        buf.pts().map(|t| t.nseconds()),
        "buffer pts = message pts"
    );
    Parsed {
        pts: b.pts.unwrap(),
        w: b.frame_width,
        h: b.frame_height,
        ps: b.patch_size,
        cells: b
            .patches
            .iter()
            .map(|p| {
                (
                    p.cell_x,
                    p.cell_y,
                    lv_livenas::wire::decode_patch_luma(b.codec, p.payload, b.patch_size).unwrap(),
                )
            })
            .collect(),
        len: map.len(),
    }
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    10.0 * (255.0 * 255.0 / lv_testkit::diff::mse_u8(a, b).max(1e-10)).log10()
}

fn check_patch_pixels(p: &Parsed, w: usize, h: usize) {
    let k = (p.pts / FRAME_NS) as usize;
    let luma = luma_pattern(w, h, k);
    let ps = p.ps as usize;
    for (cx, cy, pix) in &p.cells {
        let (x0, y0) = (*cx as usize * ps, *cy as usize * ps);
        assert!(x0 + ps <= w && y0 + ps <= h);
        let mut cell = Vec::with_capacity(ps * ps);
        for y in y0..y0 + ps {
            cell.extend_from_slice(&luma[y * w + x0..y * w + x0 + ps]);
        }
        let q = psnr(&cell, pix);
        assert!(q > 35.0, "frame {k} cell ({cx},{cy}): JPEG PSNR {q:.1} dB");
    }
}

#[test]
fn passes_video_through_and_sends_decodable_patches_in_every_format() {
    use gst_video::VideoFormat::*;
    let (w, h) = (480usize, 288usize);
    for format in [I420, Nv12, Y444, Gray8] {
        let (_, info) = frame(format, w, h, &luma_pattern(w, h, 0));
        let caps = info.to_caps().unwrap();
        let r = rig(
            &caps,
            &[("patch-kbps", 200u32.to_value()), ("seed", 5u64.to_value())],
            None,
        );
        let mut inputs = Vec::new();
        let n = 90u64;
        for k in 0..n {
            let (buf, _) = frame(format, w, h, &luma_pattern(w, h, k as usize));
            inputs.push(buf.copy());
            push(&r.src, buf, k);
        }
        end(&r.src);
        let video = pull_all(&r.video);
        let patches = pull_all(&r.patches);
        wait_eos(&r.pipeline, "none");
        assert_eq!(video.len(), n as usize, "{format:?}");
        for (k, (a, b)) in inputs.iter().zip(&video).enumerate() {
            assert_eq!(
                b.pts(),
                Some(gst::ClockTime::from_nseconds(k as u64 * FRAME_NS))
            );
            assert_eq!(
                *a.map_readable().unwrap(),
                *b.map_readable().unwrap(),
                "{format:?} frame {k} changed"
            );
        }
        let caps = r
            .patches
            .static_pad("sink")
            .unwrap()
            .current_caps()
            .unwrap();
        assert_eq!(caps.structure(0).unwrap().name(), "application/x-srpatch");
        assert!(!patches.is_empty(), "{format:?}: no patches");
        let mut bytes = 0;
        let mut last_pts = None;
        for b in &patches {
            let p = parse(b);
            assert_eq!((p.w, p.h, p.ps), (w as u32, h as u32, 96));
            assert_eq!(p.pts % FRAME_NS, 0);
            assert!(last_pts < Some(p.pts), "patch pts increase");
            last_pts = Some(p.pts);
            check_patch_pixels(&p, w, h);
            bytes += p.len;
        }
        // 3 s at 200 kbit/s = 75 000 bytes, plus at most one message of debt.
        let largest = patches.iter().map(|b| b.size()).max().unwrap();
        assert!(bytes <= 75_000 + largest, "{format:?}: {bytes} bytes");
        assert!(bytes >= 75_000 / 2, "{format:?}: only {bytes} bytes");
        let sent: u64 = r.srpatch.property("bytes-sent");
        assert_eq!(sent as usize, bytes);
        r.pipeline.set_state(gst::State::Null).unwrap();
    }
}

#[test]
fn same_seed_same_patches() {
    let (w, h) = (384usize, 192usize);
    let run = |seed: u64| {
        let (_, info) = frame(gst_video::VideoFormat::I420, w, h, &luma_pattern(w, h, 0));
        let r = rig(
            &info.to_caps().unwrap(),
            &[("patch-kbps", 300u32.to_value()), ("seed", seed.to_value())],
            None,
        );
        for k in 0..30 {
            push(
                &r.src,
                frame(gst_video::VideoFormat::I420, w, h, &luma_pattern(w, h, k)).0,
                k as u64,
            );
        }
        end(&r.src);
        let _ = pull_all(&r.video);
        let p: Vec<_> = pull_all(&r.patches)
            .iter()
            .map(|b| b.map_readable().unwrap().to_vec())
            .collect();
        r.pipeline.set_state(gst::State::Null).unwrap();
        p
    };
    let a = run(1);
    assert!(!a.is_empty());
    assert_eq!(a, run(1));
    assert_ne!(a, run(2));
}

#[test]
fn launch_pipeline_with_unlinked_or_fakesink_patch_src_reaches_eos() {
    init();
    for desc in [
        // patch_src unlinked: NOT_LINKED there must not stop the video.
        "videotestsrc num-buffers=60 pattern=ball ! video/x-raw,width=320,height=192 ! srpatch patch-kbps=500 ! fakesink",
        "videotestsrc num-buffers=60 pattern=ball ! video/x-raw,width=320,height=192,format=NV12 ! srpatch name=p patch-kbps=500 ! queue ! fakesink p.patch_src ! queue ! fakesink",
        "videotestsrc num-buffers=60 ! video/x-raw,width=320,height=192 ! srpatch name=p ! queue ! fakesink p.patch_src ! queue ! fakesink",
        // Frames smaller than one patch: video still flows (a warning, no error).
        "videotestsrc num-buffers=10 ! video/x-raw,width=64,height=64 ! srpatch name=p ! queue ! fakesink p.patch_src ! queue ! fakesink",
    ] {
        let p = gst::parse::launch(desc)
            .unwrap()
            .downcast::<gst::Pipeline>()
            .unwrap();
        p.set_state(gst::State::Playing).unwrap();
        wait_eos(&p, "none");
        p.set_state(gst::State::Null).unwrap();
    }
}

#[test]
fn harness_src_output_equals_input_and_eos_reaches_both_pads() {
    init();
    let (w, h) = (320usize, 192usize);
    let (buf0, info) = frame(gst_video::VideoFormat::I420, w, h, &luma_pattern(w, h, 0));
    let mut hv = gst_check::Harness::with_padnames("srpatch", Some("sink"), Some("src"));
    let el = hv.element().unwrap();
    el.set_property("patch-kbps", 1000u32);
    let mut hp = gst_check::Harness::with_element(&el, None, Some("patch_src"));
    hv.set_src_caps(info.to_caps().unwrap());
    let mut sent = Vec::new();
    for k in 0..20u64 {
        let mut b = if k == 0 {
            buf0.copy()
        } else {
            frame(
                gst_video::VideoFormat::I420,
                w,
                h,
                &luma_pattern(w, h, k as usize),
            )
            .0
        };
        b.get_mut()
            .unwrap()
            .set_pts(gst::ClockTime::from_nseconds(k * FRAME_NS));
        sent.push(b.clone());
        assert_eq!(hv.push(b), Ok(gst::FlowSuccess::Ok));
    }
    for (k, b) in sent.iter().enumerate() {
        let out = hv.pull().unwrap();
        assert_eq!(out.pts(), b.pts(), "frame {k}");
        assert_eq!(*out.map_readable().unwrap(), *b.map_readable().unwrap());
    }
    assert!(hv.push_event(gst::event::Eos::new()));
    let mut n = 0;
    while let Some(b) = hp.try_pull() {
        let p = parse(&b);
        check_patch_pixels(&p, w, h);
        n += 1;
    }
    assert!(n > 0);
    // Both outputs saw stream-start, caps, segment and EOS.
    let mut saw = (false, false);
    while let Some(e) = hp.try_pull_event() {
        match e.type_() {
            gst::EventType::Caps => {
                let gst::EventView::Caps(c) = e.view() else {
                    unreachable!()
                };
                assert_eq!(
                    c.caps().structure(0).unwrap().name(),
                    "application/x-srpatch"
                );
                saw.0 = true;
            }
            gst::EventType::Eos => saw.1 = true,
            _ => {}
        }
    }
    assert_eq!(saw, (true, true), "patch_src: caps and EOS");
    let mut eos = false;
    while let Some(e) = hv.try_pull_event() {
        eos |= e.type_() == gst::EventType::Eos;
    }
    assert!(eos, "src: EOS");
}

fn feedback(epoch: u32, state: &str, gain: f64) -> gst::Event {
    feedback_suggesting(epoch, state, gain, 0)
}

fn feedback_suggesting(epoch: u32, state: &str, gain: f64, kbps: u32) -> gst::Event {
    gst::event::CustomUpstream::new(
        gst::Structure::builder("srpatch-feedback")
            .field("epoch", epoch)
            .field("state", state)
            .field("gain_db", gain)
            .field("gain_vs_initial_db", 0.0f64)
            .field("gain_vs_bicubic_db", 0.5f64)
            .field("training_fraction", 1.0f64)
            .field("suggested_patch_kbps", kbps)
            .build(),
    )
}

#[test]
fn scheduler_posts_rates_and_follows_feedback_and_bandwidth() {
    let (w, h) = (320usize, 192usize);
    let (_, info) = frame(gst_video::VideoFormat::Gray8, w, h, &luma_pattern(w, h, 0));
    let r = rig(
        &info.to_caps().unwrap(),
        &[("bandwidth-kbps", 1500u32.to_value())],
        None,
    );
    let patch_src = r.srpatch.static_pad("patch_src").unwrap();
    // 12 s of frames; feedback at 5 s (suspended) and malformed feedback at 6 s; the
    // bandwidth drops under 200 kbit/s at 9 s.
    for k in 0..(12 * FPS) {
        if k == 5 * FPS {
            assert!(patch_src.send_event(feedback_suggesting(0, "suspended", 0.01, 40)));
        }
        if k == 6 * FPS {
            assert!(!patch_src.send_event(feedback(1, "sleeping", 0.0)));
            let bad = gst::Structure::builder("srpatch-feedback")
                .field("epoch", 2u32)
                .field("state", 0i32)
                .field("gain_db", f64::NAN)
                .build();
            assert!(!patch_src.send_event(gst::event::CustomUpstream::new(bad)));
        }
        if k == 9 * FPS {
            r.srpatch.set_property("bandwidth-kbps", 150u32);
        }
        push(
            &r.src,
            frame(
                gst_video::VideoFormat::Gray8,
                w,
                h,
                &luma_pattern(w, h, k as usize),
            )
            .0,
            k,
        );
        let _ = pull(&r.video).unwrap();
    }
    end(&r.src);
    let patches = pull_all(&r.patches);
    let msgs = wait_eos(&r.pipeline, "srpatch-rate");
    let typed: Vec<RateMessage> = msgs
        .iter()
        .map(|s| RateMessage::try_from(s.as_ref()).unwrap())
        .collect();
    let rates: Vec<(u64, f64, f64)> = typed
        .iter()
        .map(|m| (m.stream_time, m.patch_kbps, m.video_kbps))
        .collect();
    // One update per second of stream time.
    assert_eq!(rates.len(), 12, "{rates:?}");
    assert_eq!(rates[0].1, 100.0, "p0");
    assert_eq!(rates[0].2, 1400.0);
    for &(t, p, v) in &rates {
        let sec = t / 1_000_000_000;
        if (6..9).contains(&sec) {
            assert_eq!(p, 25.0, "suspended at {sec} s: p_min");
            assert_eq!(v, 1475.0);
        }
        if sec >= 9 {
            assert_eq!(p, 0.0, "C < 200 at {sec} s");
        }
    }
    assert_eq!(typed[7].state, "suspended");
    // The server's suggestion is passed on, from the feedback that carried it.
    assert_eq!(typed[0].server_suggested_kbps, 0);
    assert_eq!(typed[7].server_suggested_kbps, 40);
    // No patch after the bandwidth dropped (the last update at 9 s set the rate to 0; the
    // bucket may have one message in flight before it).
    assert!(!patches.is_empty());
    for b in &patches {
        assert!(
            b.pts().unwrap().nseconds() < 9 * 1_000_000_000 + FRAME_NS,
            "{:?}",
            b.pts()
        );
    }
    // Patch bytes in 5..9 s at 25 kbit/s: about 12.5 kB (+ one message).
    let late: usize = patches
        .iter()
        .filter(|b| b.pts().unwrap().nseconds() >= 6_000_000_000)
        .map(|b| b.size())
        .sum();
    let largest = patches.iter().map(|b| b.size()).max().unwrap();
    assert!(late <= 3 * 25_000 / 8 + largest, "{late}");
    r.pipeline.set_state(gst::State::Null).unwrap();
}

#[test]
fn decoded_frames_guide_the_selection_to_cells_that_encode_worst() {
    let (w, h) = (384usize, 192usize);
    let (lw, lh) = (w / 2, h / 2);
    let (_, info) = frame(gst_video::VideoFormat::I420, w, h, &luma_pattern(w, h, 0));
    let (_, linfo) = frame(gst_video::VideoFormat::I420, lw, lh, &vec![0; lw * lh]);
    let r = rig(
        &info.to_caps().unwrap(),
        &[
            ("patch-kbps", 400u32.to_value()),
            ("max-patches", 2u32.to_value()),
        ],
        Some(&linfo.to_caps().unwrap()),
    );
    let down =
        lv_image::resample::Resampler::new(w, h, lw, lh, lv_image::resample::Kernel::CATMULL_ROM)
            .unwrap();
    let dec = r.dec_src.as_ref().unwrap();
    for k in 0..60u64 {
        let hr = luma_pattern(w, h, k as usize);
        push(&r.src, frame(gst_video::VideoFormat::I420, w, h, &hr).0, k);
        // The client's decoded frame follows its source frame, as after an encoder.
        let _ = pull(&r.video).unwrap();
        let mut lr = vec![0u8; lw * lh];
        down.process_u8(&lv_image::plane::Plane::new_u8(&hr, w, h, w), &mut lr, lw);
        push(dec, frame(gst_video::VideoFormat::I420, lw, lh, &lr).0, k);
    }
    end(&r.src);
    end(dec);
    let patches = pull_all(&r.patches);
    wait_eos(&r.pipeline, "none");
    assert!(patches.len() >= 3, "{} messages", patches.len());
    for b in &patches {
        let p = parse(b);
        check_patch_pixels(&p, w, h);
        for (cx, _, _) in &p.cells {
            assert!(
                *cx >= 2,
                "cell x {cx}: the smooth half encodes better than the frame"
            );
        }
    }
    r.pipeline.set_state(gst::State::Null).unwrap();
}

#[test]
fn decoded_sink_that_never_delivers_falls_back_to_random_cells() {
    // decoded_sink requested and given caps, but its frames never match: after 1 s of stream
    // time the waiting frame's cells are chosen at random, and EOS still arrives.
    let (w, h) = (384usize, 192usize);
    let r = decoded_rig(w, h, 400);
    let dec = r.dec_src.as_ref().unwrap();
    // One decoded frame far in the past, so the pad is active.
    let mut b = pattern_frame(w, h, 0);
    b.get_mut().unwrap().set_pts(gst::ClockTime::ZERO);
    let _: gst::FlowReturn = dec.emit_by_name("push-buffer", &[&b]);
    std::thread::sleep(std::time::Duration::from_millis(200));
    for k in 1..90u64 {
        push(&r.src, pattern_frame(w, h, k), k);
    }
    end(&r.src);
    let _ = pull_all(&r.video);
    end(dec);
    let patches = pull_all(&r.patches);
    wait_eos(&r.pipeline, "none");
    assert!(!patches.is_empty());
    r.pipeline.set_state(gst::State::Null).unwrap();
}

/// srpatch on I420 `w`x`h` at `patch_kbps`, with a `decoded_sink` fed the same caps.
fn decoded_rig(w: usize, h: usize, patch_kbps: u32) -> Rig {
    let (_, info) = frame(gst_video::VideoFormat::I420, w, h, &luma_pattern(w, h, 0));
    let caps = info.to_caps().unwrap();
    rig(&caps, &[("patch-kbps", patch_kbps.to_value())], Some(&caps))
}

/// An I420 frame of `luma_pattern` number `k`.
fn pattern_frame(w: usize, h: usize, k: u64) -> gst::Buffer {
    frame(
        gst_video::VideoFormat::I420,
        w,
        h,
        &luma_pattern(w, h, k as usize),
    )
    .0
}

/// Timestamps at the end of the clock's range (a hostile or broken decoder) neither
/// overflow the pairing arithmetic nor stop the stream.
#[test]
fn decoded_timestamps_at_the_end_of_the_range_do_not_overflow() {
    let (w, h) = (384usize, 192usize);
    let r = decoded_rig(w, h, 2000);
    let dec = r.dec_src.as_ref().unwrap();
    for k in 0..30u64 {
        let f = || pattern_frame(w, h, k);
        push(&r.src, f(), k);
        let mut d = f();
        d.get_mut()
            .unwrap()
            .set_pts(gst::ClockTime::from_nseconds(u64::MAX - 2 - k));
        let _: gst::FlowReturn = dec.emit_by_name("push-buffer", &[&d]);
    }
    end(&r.src);
    end(dec);
    assert_eq!(pull_all(&r.video).len(), 30);
    let _ = pull_all(&r.patches);
    wait_eos(&r.pipeline, "none");
    r.pipeline.set_state(gst::State::Null).unwrap();
}

/// A decoded stream that outlives the video (here: never ends) does not hold back the
/// patches' EOS once no frame waits for its decoded counterpart.
#[test]
fn patches_end_with_the_video_when_the_decoded_stream_goes_on() {
    let (w, h) = (384usize, 192usize);
    let r = decoded_rig(w, h, 2000);
    let dec = r.dec_src.as_ref().unwrap();
    for k in 0..40u64 {
        let f = || pattern_frame(w, h, k);
        if k < 20 {
            push(&r.src, f(), k);
        }
        push(dec, f(), k);
    }
    end(&r.src);
    assert_eq!(pull_all(&r.video).len(), 20);
    // (Decoded frames equal to the source leave no cell worth sending: the point is the EOS.)
    let _ = pull_all(&r.patches);
    wait_eos(&r.pipeline, "none");
    r.pipeline.set_state(gst::State::Null).unwrap();
}

#[test]
fn properties_have_the_documented_defaults() {
    init();
    let e = gst::ElementFactory::make("srpatch").build().unwrap();
    assert_eq!(e.property::<u32>("patch-size"), 96);
    assert_eq!(e.property::<u32>("patch-kbps"), 100);
    assert_eq!(e.property::<u32>("min-patch-kbps"), 25);
    assert_eq!(e.property::<u32>("bandwidth-kbps"), 0);
    assert!(e.property::<bool>("scheduler"));
    assert_eq!(e.property::<u32>("jpeg-quality"), 95);
    assert_eq!(e.property::<u64>("seed"), 0);
    assert!(e.static_pad("patch_src").is_some());
    assert!(e.static_pad("decoded_sink").is_none());
    let p = e.request_pad_simple("decoded_sink").unwrap();
    assert!(
        e.request_pad_simple("decoded_sink").is_none(),
        "one decoded_sink only"
    );
    e.release_request_pad(&p);
    assert!(e.request_pad_simple("decoded_sink").is_some());
}
