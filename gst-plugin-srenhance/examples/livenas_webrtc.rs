// SPDX-License-Identifier: MPL-2.0
//! LiveNAS over WebRTC in one process, no signalling server (issue #4, "Live composition").
//!
//! ```text
//! sender:   videotestsrc (live, HR) ! srpatch ! videoscale (LR) ! vp8enc ! rtpvp8pay ! webrtcbin
//!                                     srpatch.patch_src ! appsink --> data channel "srpatch"
//! receiver: webrtcbin ! rtpvp8depay ! vp8dec ! videoconvert ! queue ! srenhance.sink
//!           data channel --> appsrc ! queue ! srenhance.patch_sink
//!           srenhance ! video/x-raw,width=W,height=H ! appsink
//!           srenhance's srpatch-feedback event --> data channel --> srpatch.patch_src
//! ```
//!
//! The two `webrtcbin`s exchange SDP and ICE candidates directly (in-process calls), over
//! loopback/host candidates (needs the `nice` elements, Debian's `gstreamer1.0-nice`).
//!
//! Timestamps across the link: a patch names its frame by pts, but the receiver's frames
//! carry the receiver's pts. The common timeline is the RTP timestamp. The sender rewrites
//! each patch message's pts to the frame's RTP time in ns (`rtp * 1e9 / 90000`; the offset
//! between its pts and the payloader's RTP timestamps is read by a probe on the payloader);
//! the receiver reads the RTP timestamp of each packet before depayloading (a probe), keeps
//! RTP timestamp -> receiver pts for the last frames, and rewrites the patch's pts to its own
//! before pushing it to `srenhance`. Patches whose frame is not known yet wait (bounded).
//!
//! The scheduler's split (`srpatch-rate`) sets the encoder's bitrate, as the element's
//! documentation suggests. The bandwidth estimate is fixed (`--bandwidth-kbps`): GStreamer
//! 1.22's webrtcbin exposes no congestion-control estimate without extra plugins.
//!
//! When the `srenhance` element is not registered, the receiver falls back to videoscale
//! (bicubic) and counts the patches that arrive, so the transport can still be shown.
//!
//! ```sh
//! cargo run -p gst-plugin-srenhance --example livenas_webrtc -- --seconds 10
//! ```

#![allow(dead_code)]

use gst::glib;
use gst::prelude::*;
use gstsrenhance::feedback::SrpatchFeedback;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RTP_CLOCK: u64 = 90_000;
/// Most patch messages kept while their frame's timestamp mapping is unknown.
const MAX_WAITING: usize = 64;

#[derive(Clone, Debug)]
pub struct Config {
    pub seconds: f64,
    pub width: u32,
    pub height: u32,
    pub bandwidth_kbps: u32,
    pub patch_kbps: u32,
    /// Use srenhance on the receiver when it is registered.
    pub use_srenhance: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seconds: 10.0,
            width: 640,
            height: 360,
            bandwidth_kbps: 1500,
            patch_kbps: 150,
            use_srenhance: true,
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct Report {
    pub connected: bool,
    pub data_channel_open: bool,
    pub patch_messages_sent: u64,
    pub patch_messages_received: u64,
    pub patch_messages_rejected: u64,
    pub patch_messages_delivered: u64,
    pub patches_received: u64,
    pub feedback_sent: u64,
    pub feedback_received: u64,
    pub rate_messages: u64,
    pub last_video_kbps: f64,
    pub last_patch_kbps: f64,
    pub frames_out: u64,
    /// `srenhance-epoch` messages on the receiver, the training steps they report, and the
    /// largest patch store (pairs built from delivered patches) they saw.
    pub epochs: u64,
    pub train_steps: u64,
    pub store: u64,
    pub out_size: Option<(i32, i32)>,
    pub receiver: String,
    pub errors: Vec<String>,
}

#[derive(Default)]
struct Shared {
    report: Report,
    /// Sender: RTP timestamp minus pts in RTP ticks (wrapping), once known.
    send_offset: Option<u32>,
    send_waiting: VecDeque<Vec<u8>>,
    /// Receiver: RTP timestamp -> receiver pts of recent frames.
    recv_map: HashMap<u32, u64>,
    recv_order: VecDeque<u32>,
    recv_waiting: VecDeque<(Instant, u32, Vec<u8>)>,
    send_channel: Option<Channel>,
    recv_channel: Option<Channel>,
}

/// A `GstWebRTCDataChannel` held across threads. `glib::Object` is not `Send` because an
/// arbitrary GObject subclass need not be thread-safe; webrtcbin's data channels are (their
/// signals and action signals are used from GStreamer's streaming threads by design), and the
/// typed wrapper that says so lives in gstreamer-webrtc, a dependency this example avoids.
#[derive(Clone)]
struct Channel(glib::Object);
// SAFETY: see above; only reference counting and signal emission cross threads.
unsafe impl Send for Channel {}
unsafe impl Sync for Channel {}

impl std::ops::Deref for Channel {
    type Target = glib::Object;
    fn deref(&self) -> &glib::Object {
        &self.0
    }
}

type SharedRef = Arc<Mutex<Shared>>;

fn rtp_timestamp(buf: &gst::BufferRef) -> Option<u32> {
    let map = buf.map_readable().ok()?;
    // RTP fixed header: V=2, timestamp at bytes 4..8, big-endian.
    if map.len() < 12 || map[0] >> 6 != 2 {
        return None;
    }
    Some(u32::from_be_bytes([map[4], map[5], map[6], map[7]]))
}

/// The buffer a probe sees, or the first of a buffer list (payloaders push lists: one
/// frame's packets share its RTP timestamp and pts).
fn probe_buffer<'a>(info: &'a gst::PadProbeInfo) -> Option<&'a gst::BufferRef> {
    match &info.data {
        Some(gst::PadProbeData::Buffer(b)) => Some(b.as_ref()),
        Some(gst::PadProbeData::BufferList(l)) => l.get(0),
        _ => None,
    }
}

fn ns_to_ticks(ns: u64) -> u32 {
    (ns as u128 * RTP_CLOCK as u128 / 1_000_000_000) as u32
}

/// Rewrites the pts field of a version-1 patches message in place.
fn set_message_pts(msg: &mut [u8], pts: u64) -> bool {
    if msg.len() < lv_livenas::wire::HEADER_LEN {
        return false;
    }
    let header_len = u16::from_le_bytes([msg[6], msg[7]]) as usize;
    if msg.len() < header_len + 8 {
        return false;
    }
    msg[header_len..header_len + 8].copy_from_slice(&pts.to_le_bytes());
    true
}

fn patches_pts(msg: &[u8]) -> Option<u64> {
    match lv_livenas::wire::parse(msg, &lv_livenas::wire::Limits::default()) {
        Ok(lv_livenas::wire::Message::Patches(b)) => b.pts,
        _ => None,
    }
}

fn send_bytes(channel: &glib::Object, bytes: &[u8]) {
    let b = glib::Bytes::from(bytes);
    channel.emit_by_name::<()>("send-data", &[&b]);
}

/// Sender side: a patch message from srpatch, with its pts in the sender's timeline.
fn sender_patch(shared: &SharedRef, mut msg: Vec<u8>) {
    let mut sh = shared.lock().unwrap();
    let Some(offset) = sh.send_offset else {
        if sh.send_waiting.len() >= MAX_WAITING {
            sh.send_waiting.pop_front();
        }
        sh.send_waiting.push_back(msg);
        return;
    };
    let Some(channel) = sh.send_channel.clone() else {
        return;
    };
    let open = sh.report.data_channel_open;
    if !open {
        return;
    }
    let Some(pts) = patches_pts(&msg) else {
        return;
    };
    let rtp = ns_to_ticks(pts).wrapping_add(offset);
    let rtp_ns = rtp as u64 * 1_000_000_000 / RTP_CLOCK;
    if !set_message_pts(&mut msg, rtp_ns) {
        return;
    }
    sh.report.patch_messages_sent += 1;
    drop(sh);
    send_bytes(&channel, &msg);
}

fn flush_sender(shared: &SharedRef) {
    let waiting: Vec<_> = shared.lock().unwrap().send_waiting.drain(..).collect();
    for m in waiting {
        sender_patch(shared, m);
    }
}

/// Receiver side: bytes from the data channel (untrusted).
fn receiver_message(shared: &SharedRef, appsrc: &gst::Element, bytes: &[u8]) {
    let pts = match lv_livenas::wire::parse(bytes, &lv_livenas::wire::Limits::default()) {
        Ok(lv_livenas::wire::Message::Patches(b)) => {
            let mut sh = shared.lock().unwrap();
            sh.report.patch_messages_received += 1;
            sh.report.patches_received += b.patches.len() as u64;
            b.pts
        }
        _ => {
            shared.lock().unwrap().report.patch_messages_rejected += 1;
            return;
        }
    };
    let Some(pts) = pts else { return };
    let rtp = ns_to_ticks(pts + 1); // ns → ticks, rounding guard for the ns conversion
    {
        let mut sh = shared.lock().unwrap();
        if sh.recv_waiting.len() >= MAX_WAITING {
            sh.recv_waiting.pop_front();
        }
        sh.recv_waiting
            .push_back((Instant::now(), rtp, bytes.to_vec()));
    }
    flush_receiver(shared, appsrc);
}

fn flush_receiver(shared: &SharedRef, appsrc: &gst::Element) {
    let ready: Vec<(u64, Vec<u8>)> = {
        let mut sh = shared.lock().unwrap();
        let mut ready = Vec::new();
        let mut keep = VecDeque::new();
        while let Some((t, rtp, msg)) = sh.recv_waiting.pop_front() {
            let hit = [rtp, rtp.wrapping_sub(1), rtp.wrapping_add(1)]
                .iter()
                .find_map(|r| sh.recv_map.get(r).copied());
            match hit {
                Some(pts) => ready.push((pts, msg)),
                None if t.elapsed() < Duration::from_secs(3) => keep.push_back((t, rtp, msg)),
                None => {}
            }
        }
        sh.recv_waiting = keep;
        ready
    };
    for (pts, mut msg) in ready {
        if !set_message_pts(&mut msg, pts) {
            continue;
        }
        let mut buf = gst::Buffer::from_mut_slice(msg);
        buf.get_mut()
            .unwrap()
            .set_pts(gst::ClockTime::from_nseconds(pts));
        let r: gst::FlowReturn = appsrc.emit_by_name("push-buffer", &[&buf]);
        if r == gst::FlowReturn::Ok {
            shared.lock().unwrap().report.patch_messages_delivered += 1;
        }
    }
}

fn launch(desc: &str) -> Result<gst::Pipeline, String> {
    gst::parse::launch(desc)
        .map_err(|e| format!("{desc}: {e}"))?
        .downcast::<gst::Pipeline>()
        .map_err(|_| "not a pipeline".to_string())
}

fn by_name(p: &gst::Pipeline, name: &str) -> Result<gst::Element, String> {
    p.by_name(name).ok_or_else(|| format!("no element {name}"))
}

/// Runs the loopback for `cfg.seconds` and reports what crossed the link.
pub fn run(cfg: &Config) -> Result<Report, String> {
    gst::init().map_err(|e| e.to_string())?;
    gstsrenhance::plugin_register_static().map_err(|e| e.to_string())?;
    for f in ["webrtcbin", "nicesrc", "vp8enc", "vp8dec"] {
        if gst::ElementFactory::find(f).is_none() {
            return Err(format!(
                "element {f} missing (Debian: gstreamer1.0-plugins-bad, gstreamer1.0-nice, gstreamer1.0-plugins-good)"
            ));
        }
    }
    let (w, h) = (cfg.width, cfg.height);
    let with_sr = cfg.use_srenhance && gst::ElementFactory::find("srenhance").is_some();
    let shared: SharedRef = Arc::new(Mutex::new(Shared::default()));
    shared.lock().unwrap().report.receiver = if with_sr {
        "srenhance".into()
    } else {
        "videoscale fallback (no srenhance)".into()
    };

    let video_kbps = cfg.bandwidth_kbps.saturating_sub(cfg.patch_kbps).max(100);
    let sender = launch(&format!(
        "videotestsrc is-live=true pattern=ball ! video/x-raw,width={w},height={h},framerate=30/1,format=I420 \
         ! srpatch name=p bandwidth-kbps={bw} patch-kbps={pk} max-patches=4 \
         ! videoscale ! video/x-raw,width={lw},height={lh} \
         ! vp8enc name=enc deadline=1 cpu-used=8 threads=2 target-bitrate={vb} keyframe-max-dist=60 \
         ! rtpvp8pay name=pay mtu=1200 ! application/x-rtp,media=video,encoding-name=VP8,payload=96 \
         ! webrtcbin name=send bundle-policy=max-bundle \
         p.patch_src ! appsink name=patches sync=false emit-signals=true",
        bw = cfg.bandwidth_kbps,
        pk = cfg.patch_kbps,
        lw = w / 2,
        lh = h / 2,
        vb = video_kbps as u64 * 1000,
    ))?;
    let receiver = if with_sr {
        launch(&format!(
            "webrtcbin name=recv bundle-policy=max-bundle \
             appsrc name=patchsrc is-live=true format=time caps=application/x-srpatch ! queue ! sr.patch_sink \
             srenhance name=sr ! video/x-raw,width={w},height={h} ! appsink name=out sync=false emit-signals=true"
        ))?
    } else {
        launch(&format!(
            "webrtcbin name=recv bundle-policy=max-bundle \
             appsrc name=patchsrc is-live=true format=time caps=application/x-srpatch ! fakesink sync=false async=false \
             videoscale name=up method=catrom ! video/x-raw,width={w},height={h} ! appsink name=out sync=false emit-signals=true"
        ))?
    };
    let send = by_name(&sender, "send")?;
    let recv = by_name(&receiver, "recv")?;
    let srpatch = by_name(&sender, "p")?;
    let enc = by_name(&sender, "enc")?;
    let appsrc = by_name(&receiver, "patchsrc")?;

    // --- Signalling, in-process.
    {
        let recv = recv.clone();
        send.connect("on-ice-candidate", false, move |v| {
            let mline = v[1].get::<u32>().unwrap();
            let cand = v[2].get::<String>().unwrap();
            recv.emit_by_name::<()>("add-ice-candidate", &[&mline, &cand]);
            None
        });
    }
    {
        let send = send.clone();
        recv.connect("on-ice-candidate", false, move |v| {
            let mline = v[1].get::<u32>().unwrap();
            let cand = v[2].get::<String>().unwrap();
            send.emit_by_name::<()>("add-ice-candidate", &[&mline, &cand]);
            None
        });
    }
    {
        let recv = recv.clone();
        let shared = shared.clone();
        send.connect("on-negotiation-needed", false, move |v| {
            let send = v[0].get::<gst::Element>().unwrap();
            let recv = recv.clone();
            let shared = shared.clone();
            let send2 = send.clone();
            let promise = gst::Promise::with_change_func(move |reply| {
                let Ok(Some(reply)) = reply else {
                    shared.lock().unwrap().report.errors.push("no offer".into());
                    return;
                };
                let Ok(offer) = reply.value("offer") else {
                    shared
                        .lock()
                        .unwrap()
                        .report
                        .errors
                        .push(format!("offer reply: {reply}"));
                    return;
                };
                let offer = offer.clone();
                send2.emit_by_name::<()>("set-local-description", &[&offer, &None::<gst::Promise>]);
                recv.emit_by_name::<()>("set-remote-description", &[&offer, &None::<gst::Promise>]);
                let send3 = send2.clone();
                let recv2 = recv.clone();
                let shared2 = shared.clone();
                let p2 = gst::Promise::with_change_func(move |reply| {
                    let answer = match reply {
                        Ok(Some(r)) => r.value("answer").ok().cloned(),
                        _ => None,
                    };
                    let Some(answer) = answer else {
                        shared2
                            .lock()
                            .unwrap()
                            .report
                            .errors
                            .push("no answer".into());
                        return;
                    };
                    recv2.emit_by_name::<()>(
                        "set-local-description",
                        &[&answer, &None::<gst::Promise>],
                    );
                    send3.emit_by_name::<()>(
                        "set-remote-description",
                        &[&answer, &None::<gst::Promise>],
                    );
                });
                recv.emit_by_name::<()>("create-answer", &[&None::<gst::Structure>, &p2]);
            });
            send.emit_by_name::<()>("create-offer", &[&None::<gst::Structure>, &promise]);
            None
        });
    }

    // --- Receiver media: depayload, decode, enhance.
    {
        let receiver_w = receiver.downgrade();
        let shared = shared.clone();
        let appsrc = appsrc.clone();
        recv.connect_pad_added(move |_, pad| {
            if pad.direction() != gst::PadDirection::Src {
                return;
            }
            let Some(pipeline) = receiver_w.upgrade() else {
                return;
            };
            let bin = match gst::parse::bin_from_description(
                "rtpvp8depay name=depay ! vp8dec ! videoconvert ! queue",
                true,
            ) {
                Ok(b) => b,
                Err(e) => {
                    shared.lock().unwrap().report.errors.push(e.to_string());
                    return;
                }
            };
            pipeline.add(&bin).unwrap();
            // RTP timestamp -> receiver pts, read before depayloading.
            let depay = bin.by_name("depay").unwrap();
            let sh = shared.clone();
            let appsrc2 = appsrc.clone();
            depay.static_pad("sink").unwrap().add_probe(
                gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
                move |_, info| {
                    if let Some(buf) = probe_buffer(info) {
                        if let (Some(rtp), Some(pts)) = (rtp_timestamp(buf), buf.pts()) {
                            let mut s = sh.lock().unwrap();
                            if let std::collections::hash_map::Entry::Vacant(e) =
                                s.recv_map.entry(rtp)
                            {
                                e.insert(pts.nseconds());
                                s.recv_order.push_back(rtp);
                                if s.recv_order.len() > 300 {
                                    let old = s.recv_order.pop_front().unwrap();
                                    s.recv_map.remove(&old);
                                }
                                drop(s);
                                flush_receiver(&sh, &appsrc2);
                            }
                        }
                    }
                    gst::PadProbeReturn::Ok
                },
            );
            let target = if let Some(sr) = pipeline.by_name("sr") {
                sr.static_pad("sink")
            } else {
                pipeline.by_name("up").and_then(|u| u.static_pad("sink"))
            };
            let sinkpad = bin.static_pad("sink").unwrap();
            let ok = pad.link(&sinkpad).is_ok()
                && target.is_some_and(|t| bin.static_pad("src").unwrap().link(&t).is_ok());
            if !ok {
                shared
                    .lock()
                    .unwrap()
                    .report
                    .errors
                    .push("linking the receiver failed".into());
            }
            let _ = bin.sync_state_with_parent();
            shared.lock().unwrap().report.connected = true;
        });
    }
    {
        let shared = shared.clone();
        let out = by_name(&receiver, "out")?;
        out.connect("new-sample", false, move |v| {
            let sink = v[0].get::<gst::Element>().unwrap();
            let sample = sink.emit_by_name::<Option<gst::Sample>>("pull-sample", &[]);
            if let Some(s) = sample {
                let mut sh = shared.lock().unwrap();
                sh.report.frames_out += 1;
                if let Some(st) = s.caps().and_then(|c| c.structure(0)) {
                    if let (Ok(w), Ok(h)) = (st.get::<i32>("width"), st.get::<i32>("height")) {
                        sh.report.out_size = Some((w, h));
                    }
                }
            }
            Some(gst::FlowReturn::Ok.to_value())
        });
    }

    // --- Data channel: patches one way, feedback the other (webrtcbin must be READY).
    sender
        .set_state(gst::State::Ready)
        .map_err(|e| e.to_string())?;
    let channel = send
        .emit_by_name::<Option<glib::Object>>(
            "create-data-channel",
            &[&"srpatch", &None::<gst::Structure>],
        )
        .ok_or("create-data-channel failed")?;
    {
        let shared2 = shared.clone();
        channel.connect("on-open", false, move |_| {
            shared2.lock().unwrap().report.data_channel_open = true;
            flush_sender(&shared2);
            None
        });
        let shared3 = shared.clone();
        let srpatch = srpatch.clone();
        channel.connect("on-message-data", false, move |v| {
            let Ok(bytes) = v[1].get::<glib::Bytes>() else {
                return None;
            };
            if let Ok(lv_livenas::wire::Message::Feedback(fb)) =
                lv_livenas::wire::parse(&bytes, &lv_livenas::wire::Limits::default())
            {
                shared3.lock().unwrap().report.feedback_received += 1;
                if let Some(pad) = srpatch.static_pad("patch_src") {
                    pad.send_event(gst::Event::from(SrpatchFeedback(fb)));
                }
            }
            None
        });
        shared.lock().unwrap().send_channel = Some(Channel(channel.clone()));
    }
    {
        let shared = shared.clone();
        let appsrc = appsrc.clone();
        recv.connect("on-data-channel", false, move |v| {
            let ch = v[1].get::<glib::Object>().unwrap();
            let sh = shared.clone();
            let appsrc = appsrc.clone();
            ch.connect("on-message-data", false, move |v| {
                if let Ok(bytes) = v[1].get::<glib::Bytes>() {
                    receiver_message(&sh, &appsrc, &bytes);
                }
                None
            });
            shared.lock().unwrap().recv_channel = Some(Channel(ch));
            None
        });
    }
    // Feedback from srenhance: its upstream event reaches the patch appsrc; forward it.
    {
        let shared = shared.clone();
        appsrc.static_pad("src").unwrap().add_probe(
            gst::PadProbeType::EVENT_UPSTREAM,
            move |_, info| {
                let Some(gst::PadProbeData::Event(ev)) = &info.data else {
                    return gst::PadProbeReturn::Ok;
                };
                if let gst::EventView::CustomUpstream(c) = ev.view() {
                    if let Some(SrpatchFeedback(fb)) = c
                        .structure()
                        .and_then(|s| SrpatchFeedback::try_from(s).ok())
                    {
                        let ch = shared.lock().unwrap().recv_channel.clone();
                        if let Some(ch) = ch {
                            send_bytes(&ch, &lv_livenas::wire::encode_feedback(&fb));
                            shared.lock().unwrap().report.feedback_sent += 1;
                        }
                    }
                }
                gst::PadProbeReturn::Ok
            },
        );
    }

    // --- Sender: patches out of srpatch, pts -> RTP time.
    {
        let shared = shared.clone();
        by_name(&sender, "patches")?.connect("new-sample", false, move |v| {
            let sink = v[0].get::<gst::Element>().unwrap();
            if let Some(s) = sink.emit_by_name::<Option<gst::Sample>>("pull-sample", &[]) {
                if let Some(b) = s.buffer() {
                    if let Ok(m) = b.map_readable() {
                        sender_patch(&shared, m.to_vec());
                    }
                }
            }
            Some(gst::FlowReturn::Ok.to_value())
        });
    }
    {
        let shared = shared.clone();
        by_name(&sender, "pay")?
            .static_pad("src")
            .unwrap()
            .add_probe(
                gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
                move |_, info| {
                    if let Some(buf) = probe_buffer(info) {
                        if let (Some(rtp), Some(pts)) = (rtp_timestamp(buf), buf.pts()) {
                            let mut sh = shared.lock().unwrap();
                            if sh.send_offset.is_none() {
                                sh.send_offset =
                                    Some(rtp.wrapping_sub(ns_to_ticks(pts.nseconds())));
                                drop(sh);
                                flush_sender(&shared);
                            }
                        }
                    }
                    gst::PadProbeReturn::Ok
                },
            );
    }

    // Both pipelines on one clock, so the two live pipelines share a timeline.
    let clock = gst::SystemClock::obtain();
    sender.use_clock(Some(&clock));
    receiver.use_clock(Some(&clock));

    receiver
        .set_state(gst::State::Playing)
        .map_err(|e| e.to_string())?;
    sender
        .set_state(gst::State::Playing)
        .map_err(|e| e.to_string())?;

    let deadline = Instant::now() + Duration::from_secs_f64(cfg.seconds);
    let (sbus, rbus) = (sender.bus().unwrap(), receiver.bus().unwrap());
    while Instant::now() < deadline {
        for (bus, side) in [(&sbus, "sender"), (&rbus, "receiver")] {
            while let Some(msg) = bus.timed_pop(gst::ClockTime::from_mseconds(20)) {
                match msg.view() {
                    gst::MessageView::Error(e) => {
                        shared.lock().unwrap().report.errors.push(format!(
                            "{side}: {} ({:?})",
                            e.error(),
                            e.debug()
                        ));
                    }
                    gst::MessageView::Element(e) => {
                        let Some(s) = e.structure() else { continue };
                        if s.name() == "srenhance-epoch" {
                            let mut sh = shared.lock().unwrap();
                            sh.report.epochs += 1;
                            sh.report.train_steps += s.get::<u64>("steps").unwrap_or(0);
                            sh.report.store =
                                sh.report.store.max(s.get::<u64>("store").unwrap_or(0));
                        }
                        if s.name() == "srpatch-rate" {
                            let v = s.get::<f64>("video-kbps").unwrap_or(0.0);
                            let p = s.get::<f64>("patch-kbps").unwrap_or(0.0);
                            // The application's part of the split: the encoder's bitrate.
                            if v >= 50.0 {
                                enc.set_property("target-bitrate", (v * 1000.0) as i32);
                            }
                            let mut sh = shared.lock().unwrap();
                            sh.report.rate_messages += 1;
                            sh.report.last_video_kbps = v;
                            sh.report.last_patch_kbps = p;
                        }
                    }
                    _ => {}
                }
            }
        }
        if !shared.lock().unwrap().report.errors.is_empty() {
            break;
        }
    }
    let _ = sender.set_state(gst::State::Null);
    let _ = receiver.set_state(gst::State::Null);
    let mut sh = shared.lock().unwrap();
    sh.send_channel = None;
    sh.recv_channel = None;
    Ok(sh.report.clone())
}

fn main() {
    let mut cfg = Config::default();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().expect("missing value");
        match a.as_str() {
            "--seconds" => cfg.seconds = val().parse().expect("seconds"),
            "--width" => cfg.width = val().parse().expect("width"),
            "--height" => cfg.height = val().parse().expect("height"),
            "--bandwidth-kbps" => cfg.bandwidth_kbps = val().parse().expect("kbps"),
            "--patch-kbps" => cfg.patch_kbps = val().parse().expect("kbps"),
            "--no-srenhance" => cfg.use_srenhance = false,
            other => {
                eprintln!(
                    "usage: livenas_webrtc [--seconds S] [--width W] [--height H] \
                     [--bandwidth-kbps C] [--patch-kbps P] [--no-srenhance] (got {other})"
                );
                std::process::exit(2);
            }
        }
    }
    match run(&cfg) {
        Ok(r) => {
            println!("{r:#?}");
            if !r.errors.is_empty() {
                std::process::exit(1);
            }
        }
        Err(e) => {
            eprintln!("livenas_webrtc: {e}");
            std::process::exit(1);
        }
    }
}
