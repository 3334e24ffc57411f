// SPDX-License-Identifier: MPL-2.0

//! The `srpatch` element (see docs/srenhance-design.md, "Streamer side").
//!
//! Threads and locks: `sink` and `decoded_sink` have their own streaming threads, and the
//! feedback event arrives on `patch_src` from downstream's thread. All decisions happen under
//! `state`; patch buffers and `patch_src` events are pushed under `patch_push` only (never
//! while `state` is held), so the two inputs never wait on each other.
//!
//! Pacing: one clock, the frames' timestamps (stream time; a frame counter at the caps'
//! framerate when buffers carry none). The scheduler updates once per second of it and the
//! token bucket earns bits by it, so a file pipeline sends the same patches on any machine.
//!
//! With `decoded_sink` streaming, a frame becomes a *candidate* when the bucket allows a
//! message: its luma is copied and kept until the client's decoded frame with the same
//! timestamp arrives on `decoded_sink`, then the guided selection of §5.2 runs on the pair.
//! When that frame does not come (1 s of stream time later, or a later decoded frame arrives
//! first), the candidate's cells are chosen at random instead.

use super::messages::RateMessage;
use super::settings::{self, Settings};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::VideoFormat;
use lv_gst::sync::lock;
use lv_image::plane::Plane;
use lv_livenas::scheduler::{Scheduler, SchedulerConfig};
use lv_livenas::select::{PatchSampler, TokenBucket};
use lv_livenas::wire::{Codec, Feedback, Limits, PatchBatch, PatchRef, TrainerState};
use std::sync::{LazyLock, Mutex, MutexGuard};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "srpatch",
        gst::DebugColorFlags::empty(),
        Some("LiveNAS streamer: training patches beside the video"),
    )
});

const FORMATS: &[VideoFormat] = &[
    VideoFormat::I420,
    VideoFormat::Yv12,
    VideoFormat::Nv12,
    VideoFormat::Nv21,
    VideoFormat::Y42b,
    VideoFormat::Y444,
    VideoFormat::Gray8,
];

/// How long a candidate frame waits for its decoded frame, ns of stream time.
const DECODED_WAIT_NS: u64 = 1_000_000_000;
/// Initial guess of one patch's cost on the wire (a 96x96 JPEG at quality 95), bits.
const INITIAL_PATCH_BITS: f64 = 40_000.0;

/// A frame chosen for patches, waiting for its decoded counterpart.
struct Candidate {
    pts: u64,
    luma: Vec<u8>,
    width: usize,
    height: usize,
}

/// What one message needs, decided under the state lock and pushed outside it.
struct Outgoing {
    pts: Option<gst::ClockTime>,
    bytes: Vec<u8>,
}

struct State {
    info: Option<gst_video::VideoInfo>,
    decoded_info: Option<gst_video::VideoInfo>,
    sampler: Option<PatchSampler>,
    scheduler: Scheduler,
    bucket: TokenBucket,
    /// Patch rate in force (kbit/s), from the scheduler or the properties.
    rate_kbps: f64,
    /// Running estimate of one patch's cost on the wire, bits.
    patch_bits: f64,
    frames: u64,
    last_message_frame: Option<u64>,
    candidate: Option<Candidate>,
    upstream_stream_id: Option<String>,
    group_id: Option<gst::GroupId>,
    segment: Option<gst::Segment>,
    /// Sticky events already pushed on `patch_src` for this stream.
    patch_started: bool,
    patch_segment_pushed: bool,
    sink_eos: bool,
    decoded_eos: bool,
    /// `decoded_sink` has seen caps (frames are flowing on it).
    decoded_active: bool,
    patch_eos_sent: bool,
    /// Latest timestamp pushed on `patch_src` (buffer or gap).
    patch_ts: Option<u64>,
    /// Downstream of `patch_src` refused data (not linked, EOS, error): stop producing.
    patch_flow: Result<gst::FlowSuccess, gst::FlowError>,
    patches_sent: u64,
    /// The server's last `suggested_patch_kbps` (0: none), passed on in `srpatch-rate` for an
    /// application that sets `patch-kbps` itself.
    server_suggested_kbps: u32,
    bytes_sent: u64,
    guided_messages: u64,
    fallback_messages: u64,
    warned_small: bool,
}

impl State {
    fn new(s: &Settings) -> Self {
        let sched_cfg = SchedulerConfig {
            initial_kbps: s.patch_kbps as f64,
            min_kbps: s.min_patch_kbps as f64,
            ..Default::default()
        };
        let rate = s.patch_kbps as f64;
        State {
            info: None,
            decoded_info: None,
            sampler: PatchSampler::new(s.patch_size as u16, s.seed).ok(),
            scheduler: Scheduler::new(sched_cfg),
            bucket: TokenBucket::new(rate, 1.0),
            rate_kbps: rate,
            patch_bits: INITIAL_PATCH_BITS,
            frames: 0,
            last_message_frame: None,
            candidate: None,
            upstream_stream_id: None,
            group_id: None,
            segment: None,
            patch_started: false,
            patch_segment_pushed: false,
            sink_eos: false,
            decoded_eos: false,
            decoded_active: false,
            patch_eos_sent: false,
            patch_ts: None,
            patch_flow: Ok(gst::FlowSuccess::Ok),
            patches_sent: 0,
            server_suggested_kbps: 0,
            bytes_sent: 0,
            guided_messages: 0,
            fallback_messages: 0,
            warned_small: false,
        }
    }
}

pub struct Srpatch {
    sinkpad: gst::Pad,
    srcpad: gst::Pad,
    patchpad: gst::Pad,
    decodedpad: Mutex<Option<gst::Pad>>,
    settings: Mutex<Settings>,
    state: Mutex<State>,
    /// Serializes everything pushed on `patch_src`.
    patch_push: Mutex<()>,
}

fn patch_caps() -> gst::Caps {
    gst::Caps::builder(lv_livenas::wire::CAPS_MEDIA_TYPE).build()
}

fn video_caps() -> gst::Caps {
    gst_video::VideoCapsBuilder::new()
        .format_list(FORMATS.iter().copied())
        .build()
}

/// Plane 0 (luma) of a mapped frame as a `Plane`.
fn luma<'a>(frame: &'a gst_video::VideoFrameRef<&'a gst::BufferRef>) -> Option<Plane<'a>> {
    let data = frame.plane_data(0).ok()?;
    let stride = usize::try_from(frame.plane_stride()[0]).ok()?;
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    if stride < w || h == 0 || data.len() < (h - 1) * stride + w {
        return None;
    }
    Some(Plane::new_u8(data, w, h, stride))
}

/// Answers a caps query on a pad of fixed caps with `template`, filtered as the query asks.
fn answer_caps_query(q: &mut gst::query::Caps, template: gst::Caps) {
    let caps = match q.filter() {
        Some(f) => f.intersect_with_mode(&template, gst::CapsIntersectMode::First),
        None => template,
    };
    q.set_result(&caps);
}

impl Srpatch {
    fn sink_chain(
        &self,
        _pad: &gst::Pad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = lock(&self.settings).clone();
        // Decisions and pushes on patch_src happen under `patch_push`, so the two input
        // threads keep the patch stream's timestamps in order.
        let guard = lock(&self.patch_push);
        let (out, gap, rate_msg) = {
            let mut st = lock(&self.state);
            let Some(info) = st.info.clone() else {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    ["srpatch: a buffer arrived before caps"]
                );
                return Err(gst::FlowError::NotNegotiated);
            };
            let now = self.frame_time(&mut st, &info, &buffer);
            st.frames += 1;
            let rate_msg = self.tick(&mut st, &settings, now);
            let mut out = Vec::new();
            // A candidate whose decoded frame did not come in time: random cells.
            if st
                .candidate
                .as_ref()
                .is_some_and(|c| now.saturating_sub(c.pts) > DECODED_WAIT_NS)
            {
                let c = st.candidate.take().expect("checked");
                gst::debug!(CAT, imp = self, "no decoded frame for pts {}", c.pts);
                out.extend(self.patches_from_candidate(&mut st, &settings, c, None));
            }
            if self.may_send(&st, &settings) {
                let guided = st.decoded_active && !st.decoded_eos;
                if guided {
                    if st.candidate.is_none() {
                        if let Some(c) = self.copy_candidate(&buffer, &info, now) {
                            st.candidate = Some(c);
                        }
                    }
                } else if let Ok(frame) =
                    gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), &info)
                {
                    if let Some(hr) = luma(&frame) {
                        out.extend(self.make_message(&mut st, &settings, &hr, None, now, false));
                    }
                }
            }
            let gap = self.gap(&mut st, &info, &buffer, now, out.is_empty());
            (out, gap, rate_msg)
        };
        self.push_patch_side(&guard, out, gap);
        drop(guard);
        if let Some(msg) = rate_msg {
            let _ = self.obj().post_message(msg);
        }
        self.srcpad.push(buffer)
    }

    /// A GAP event for `patch_src` when this frame sent no patches, so that sinks preroll
    /// and aggregators downstream see the patch stream advance (a sparse stream). Never
    /// past a candidate still waiting for its decoded frame, whose patches will carry its
    /// timestamp.
    fn gap(
        &self,
        st: &mut State,
        info: &gst_video::VideoInfo,
        buffer: &gst::Buffer,
        now: u64,
        nothing_sent: bool,
    ) -> Option<gst::Event> {
        if !nothing_sent || st.patch_flow.is_err() || st.patch_eos_sent {
            return None;
        }
        let (ts, dur) = match &st.candidate {
            Some(c) => (c.pts, Some(0)),
            None => {
                let fps = info.fps();
                let dur = buffer.duration().map(|d| d.nseconds()).or_else(|| {
                    (fps.numer() > 0 && fps.denom() > 0)
                        .then(|| 1_000_000_000u64 * fps.denom() as u64 / fps.numer() as u64)
                });
                (now, dur)
            }
        };
        if st.patch_ts.is_some_and(|t| ts <= t) {
            return None;
        }
        st.patch_ts = Some(ts);
        let mut b = gst::event::Gap::builder(gst::ClockTime::from_nseconds(ts));
        if let Some(d) = dur {
            b = b.duration(gst::ClockTime::from_nseconds(d));
        }
        Some(b.build())
    }

    /// The frame's time in ns: its pts, or a frame count at the caps' rate.
    fn frame_time(&self, st: &mut State, info: &gst_video::VideoInfo, buf: &gst::Buffer) -> u64 {
        if let Some(pts) = buf.pts() {
            return pts.nseconds();
        }
        let fps = info.fps();
        let (n, d) = if fps.numer() > 0 && fps.denom() > 0 {
            (fps.numer() as u64, fps.denom() as u64)
        } else {
            (30, 1)
        };
        st.frames.saturating_mul(1_000_000_000).saturating_mul(d) / n
    }

    /// Scheduler step and bucket refill at `now`; the `srpatch-rate` message when an update
    /// happened.
    fn tick(&self, st: &mut State, s: &Settings, now: u64) -> Option<gst::Message> {
        let mut msg = None;
        if st.scheduler.due(now) {
            let c = s.bandwidth_kbps as f64;
            let scheduled = s.scheduler && s.bandwidth_kbps > 0;
            let (patch, video, gradient) = if scheduled {
                let a = st.scheduler.update(c, now);
                (a.patch_kbps, a.video_kbps, a.gradient)
            } else {
                // Fixed rate (the properties); the server's suspension still applies, and no
                // patches when a known bandwidth is under WebRTC's minimum.
                st.scheduler.update(c, now);
                let p = if c > 0.0 && c < st.scheduler.config().min_bandwidth_kbps {
                    0.0
                } else if st.scheduler.state() == TrainerState::Suspended {
                    s.min_patch_kbps as f64
                } else {
                    s.patch_kbps as f64
                };
                (p, (c - p).max(0.0), 0.0)
            };
            st.rate_kbps = patch;
            st.bucket.set_rate_kbps(patch);
            let state = st.scheduler.state().as_str();
            gst::debug!(
                CAT,
                imp = self,
                "rate update at {now}: patches {patch:.1} kbit/s, video {video:.1} kbit/s"
            );
            msg = Some(
                gst::message::Element::builder(gst::Structure::from(RateMessage {
                    patch_kbps: patch,
                    video_kbps: video,
                    available_kbps: c,
                    scheduler: scheduled,
                    state: state.to_string(),
                    gradient,
                    dnn_slope: st.scheduler.dnn_slope().unwrap_or(0.0),
                    stream_time: now,
                    patches_sent: st.patches_sent,
                    bytes_sent: st.bytes_sent,
                    server_suggested_kbps: st.server_suggested_kbps,
                }))
                .src(&*self.obj())
                .build(),
            );
        }
        st.bucket.advance(now);
        msg
    }

    fn may_send(&self, st: &State, s: &Settings) -> bool {
        if st.patch_flow.is_err() || st.patch_eos_sent || st.sampler.is_none() {
            return false;
        }
        if let Some(last) = st.last_message_frame {
            if st.frames.saturating_sub(last) < s.frames_between_patches as u64 {
                return false;
            }
        }
        st.bucket.may_send()
    }

    fn copy_candidate(
        &self,
        buffer: &gst::Buffer,
        info: &gst_video::VideoInfo,
        now: u64,
    ) -> Option<Candidate> {
        let frame =
            gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), info).ok()?;
        let p = luma(&frame)?;
        let lv_image::plane::Samples::U8(d) = p.samples else {
            return None;
        };
        let mut luma = Vec::with_capacity(p.width * p.height);
        for y in 0..p.height {
            luma.extend_from_slice(&d[y * p.stride..y * p.stride + p.width]);
        }
        Some(Candidate {
            pts: now,
            luma,
            width: p.width,
            height: p.height,
        })
    }

    fn patches_from_candidate(
        &self,
        st: &mut State,
        s: &Settings,
        c: Candidate,
        decoded: Option<&Plane<'_>>,
    ) -> Option<Outgoing> {
        let hr = Plane::new_u8(&c.luma, c.width, c.height, c.width);
        let guided = decoded.is_some();
        let out = self.make_message(st, s, &hr, decoded, c.pts, guided);
        if out.is_some() {
            if guided {
                st.guided_messages += 1;
            } else {
                st.fallback_messages += 1;
            }
        }
        out
    }

    /// Selects, encodes and charges one message for the frame at `pts`.
    fn make_message(
        &self,
        st: &mut State,
        s: &Settings,
        hr: &Plane<'_>,
        decoded: Option<&Plane<'_>>,
        pts: u64,
        guided: bool,
    ) -> Option<Outgoing> {
        let balance = st.bucket.balance_bits().max(0.0);
        let want =
            ((balance / st.patch_bits).floor() as usize + 1).clamp(1, s.max_patches as usize);
        let sampler = st.sampler.as_mut()?;
        let patch_size = sampler.patch_size();
        let sel = match sampler.sample(hr, decoded, want) {
            Ok(sel) => sel,
            Err(e) => {
                if !st.warned_small {
                    st.warned_small = true;
                    gst::element_imp_warning!(
                        self,
                        gst::StreamError::Format,
                        ["srpatch: no patches: {e}"]
                    );
                }
                return None;
            }
        };
        if let Some(q) = sel.frame_psnr_db {
            if q.is_finite() && s.bandwidth_kbps > 0 {
                let video = (s.bandwidth_kbps as f64 - st.rate_kbps).max(1.0);
                st.scheduler.observe_video_quality(q, video);
            }
        }
        if sel.patches.is_empty() {
            gst::log!(
                CAT,
                imp = self,
                "no cell below the frame's quality at {pts}"
            );
            return None;
        }
        let mut jpegs = Vec::with_capacity(sel.patches.len());
        for p in &sel.patches {
            match lv_livenas::wire::encode_jpeg_luma(&p.pixels, patch_size, s.jpeg_quality as u8) {
                Ok(j) => jpegs.push((p.cell_x, p.cell_y, j)),
                Err(e) => {
                    gst::warning!(CAT, imp = self, "JPEG encoding failed: {e}");
                    return None;
                }
            }
        }
        let batch = PatchBatch {
            pts: Some(pts),
            frame_width: hr.width as u32,
            frame_height: hr.height as u32,
            patch_size,
            codec: Codec::Jpeg,
            patches: jpegs
                .iter()
                .map(|(x, y, j)| PatchRef {
                    cell_x: *x,
                    cell_y: *y,
                    payload: j,
                })
                .collect(),
        };
        let bytes = match lv_livenas::wire::encode_patches(&batch, &Limits::default()) {
            Ok(b) => b,
            Err(e) => {
                if !st.warned_small {
                    st.warned_small = true;
                    gst::element_imp_warning!(
                        self,
                        gst::StreamError::Format,
                        ["srpatch: patches not sendable: {e}"]
                    );
                }
                return None;
            }
        };
        let bits = bytes.len() as u64 * 8;
        st.bucket.consume_bits(bits);
        st.scheduler.record_sent(bits);
        let per_patch = bits as f64 / sel.patches.len() as f64;
        st.patch_bits = 0.8 * st.patch_bits + 0.2 * per_patch;
        st.patches_sent += sel.patches.len() as u64;
        st.bytes_sent += bytes.len() as u64;
        st.last_message_frame = Some(st.frames);
        st.patch_ts = Some(st.patch_ts.map_or(pts, |t| t.max(pts)));
        gst::debug!(
            CAT,
            imp = self,
            "{} patches ({} bytes, {}) at {pts}",
            sel.patches.len(),
            bytes.len(),
            if guided { "guided" } else { "random" }
        );
        Some(Outgoing {
            pts: Some(gst::ClockTime::from_nseconds(pts)),
            bytes,
        })
    }

    /// Sticky events of `patch_src` not pushed yet for this stream.
    fn pending_patch_events(&self, st: &mut State) -> Vec<gst::Event> {
        let mut ev = Vec::new();
        if !st.patch_started {
            st.patch_started = true;
            let id = match &st.upstream_stream_id {
                Some(up) => format!("{up}/srpatch"),
                None => format!("{}/srpatch", self.obj().name()),
            };
            let mut b = gst::event::StreamStart::builder(&id);
            if let Some(g) = st.group_id {
                b = b.group_id(g);
            }
            ev.push(b.build());
            ev.push(gst::event::Caps::new(&patch_caps()));
        }
        if !st.patch_segment_pushed {
            if let Some(seg) = &st.segment {
                st.patch_segment_pushed = true;
                ev.push(gst::event::Segment::new(seg));
            }
        }
        ev
    }

    /// Pushes patch messages (and a gap) on `patch_src`; the caller holds `patch_push`.
    fn push_patch_side(
        &self,
        _guard: &MutexGuard<'_, ()>,
        out: Vec<Outgoing>,
        gap: Option<gst::Event>,
    ) {
        if out.is_empty() && gap.is_none() {
            return;
        }
        let events = self.pending_patch_events(&mut lock(&self.state));
        for e in events {
            self.patchpad.push_event(e);
        }
        for o in out {
            let mut buf = gst::Buffer::from_mut_slice(o.bytes);
            buf.get_mut().expect("new buffer").set_pts(o.pts);
            if let Err(e) = self.patchpad.push(buf) {
                self.patch_flow_error(e);
            }
        }
        if let Some(g) = gap {
            self.patchpad.push_event(g);
        }
    }

    fn patch_flow_error(&self, e: gst::FlowError) {
        match e {
            gst::FlowError::Flushing => {}
            gst::FlowError::NotLinked => {
                gst::debug!(CAT, imp = self, "patch_src not linked: patches dropped");
            }
            gst::FlowError::Eos => {
                gst::debug!(CAT, imp = self, "patch_src downstream is EOS");
                lock(&self.state).patch_flow = Err(e);
            }
            other => {
                // Patches are an optional side stream: warn, stop them, keep the video.
                gst::element_imp_warning!(
                    self,
                    gst::StreamError::Failed,
                    ["srpatch: patch_src flow {other:?}; patches stop, video continues"]
                );
                lock(&self.state).patch_flow = Err(other);
            }
        }
    }

    /// Pushes EOS on `patch_src` once the video has ended and, when `decoded_sink` streams,
    /// that input too.
    fn maybe_patch_eos(&self) {
        let _push = lock(&self.patch_push);
        let events = {
            let mut st = lock(&self.state);
            // decoded_sink matters only while a candidate waits for its decoded frame: a
            // decoded stream that outlives the video (a live loop, a longer clip) must not
            // hold the patches' EOS back.
            let decoded_done = !st.decoded_active || st.decoded_eos || st.candidate.is_none();
            if !st.sink_eos || !decoded_done || st.patch_eos_sent {
                return;
            }
            st.patch_eos_sent = true;
            let mut ev = self.pending_patch_events(&mut st);
            ev.push(gst::event::Eos::new());
            ev
        };
        for e in events {
            self.patchpad.push_event(e);
        }
    }

    fn sink_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        use gst::EventView;
        match event.view() {
            EventView::StreamStart(s) => {
                let mut st = lock(&self.state);
                st.upstream_stream_id = Some(s.stream_id().to_string());
                st.group_id = s.group_id();
                st.patch_started = false;
                st.patch_segment_pushed = false;
                st.sink_eos = false;
                st.patch_eos_sent = false;
                st.patch_flow = Ok(gst::FlowSuccess::Ok);
            }
            EventView::Caps(c) => {
                let info = match gst_video::VideoInfo::from_caps(c.caps()) {
                    Ok(i) if FORMATS.contains(&i.format()) => i,
                    _ => {
                        gst::element_imp_error!(
                            self,
                            gst::CoreError::Negotiation,
                            ["srpatch: unsupported caps {}", c.caps()]
                        );
                        return false;
                    }
                };
                let mut st = lock(&self.state);
                st.info = Some(info);
                st.candidate = None;
            }
            EventView::Segment(s) => {
                let mut st = lock(&self.state);
                st.segment = Some(s.segment().clone());
                st.patch_segment_pushed = false;
                st.patch_ts = None;
                st.bucket.reset_clock();
                st.candidate = None;
            }
            EventView::FlushStart(_) => {
                self.patchpad.push_event(event.clone());
            }
            EventView::FlushStop(_) => {
                {
                    let mut st = lock(&self.state);
                    st.candidate = None;
                    st.bucket.reset_clock();
                    st.sink_eos = false;
                    st.patch_eos_sent = false;
                    st.patch_flow = Ok(gst::FlowSuccess::Ok);
                    st.patch_segment_pushed = false;
                    st.patch_ts = None;
                }
                self.patchpad.push_event(event.clone());
            }
            EventView::Eos(_) => {
                let ok = gst::Pad::event_default(pad, Some(&*self.obj()), event);
                lock(&self.state).sink_eos = true;
                self.maybe_patch_eos();
                return ok;
            }
            _ => {}
        }
        gst::Pad::event_default(pad, Some(&*self.obj()), event)
    }

    fn decoded_chain(
        &self,
        _pad: &gst::Pad,
        buffer: gst::Buffer,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let settings = lock(&self.settings).clone();
        let guard = lock(&self.patch_push);
        let out = {
            let mut st = lock(&self.state);
            let Some(info) = st.decoded_info.clone() else {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    ["srpatch: a decoded buffer arrived before caps"]
                );
                return Err(gst::FlowError::NotNegotiated);
            };
            let Some(pts) = buffer.pts().map(|t| t.nseconds()) else {
                return Ok(gst::FlowSuccess::Ok);
            };
            let tol = st
                .info
                .as_ref()
                .and_then(|i| {
                    let f = i.fps();
                    (f.numer() > 0 && f.denom() > 0)
                        .then(|| 1_000_000_000u64 * f.denom() as u64 / f.numer() as u64 / 2)
                })
                .unwrap_or(1_000_000);
            match st.candidate.as_ref().map(|c| c.pts) {
                Some(cp) if pts.saturating_add(tol) < cp => None, // an older frame: keep waiting
                Some(cp) if pts <= cp.saturating_add(tol) => {
                    let c = st.candidate.take().expect("checked");
                    match gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), &info)
                    {
                        Ok(frame) => match luma(&frame) {
                            Some(dec) => {
                                self.patches_from_candidate(&mut st, &settings, c, Some(&dec))
                            }
                            None => self.patches_from_candidate(&mut st, &settings, c, None),
                        },
                        Err(_) => self.patches_from_candidate(&mut st, &settings, c, None),
                    }
                }
                Some(_) => {
                    // The candidate's decoded frame was skipped (dropped by the encoder).
                    let c = st.candidate.take().expect("checked");
                    self.patches_from_candidate(&mut st, &settings, c, None)
                }
                None => None,
            }
        };
        self.push_patch_side(&guard, out.into_iter().collect(), None);
        drop(guard);
        // After the video's end, the candidate this frame resolved was the last thing the
        // patches waited for.
        self.maybe_patch_eos();
        Ok(gst::FlowSuccess::Ok)
    }

    fn decoded_event(&self, _pad: &gst::Pad, event: gst::Event) -> bool {
        use gst::EventView;
        match event.view() {
            EventView::Caps(c) => {
                let info = match gst_video::VideoInfo::from_caps(c.caps()) {
                    Ok(i) if FORMATS.contains(&i.format()) => i,
                    _ => {
                        gst::warning!(CAT, imp = self, "decoded_sink: unsupported caps");
                        return false;
                    }
                };
                let mut st = lock(&self.state);
                st.decoded_info = Some(info);
                st.decoded_active = true;
                st.decoded_eos = false;
                true
            }
            EventView::Eos(_) => {
                let settings = lock(&self.settings).clone();
                {
                    let guard = lock(&self.patch_push);
                    let out = {
                        let mut st = lock(&self.state);
                        st.decoded_eos = true;
                        st.candidate
                            .take()
                            .and_then(|c| self.patches_from_candidate(&mut st, &settings, c, None))
                    };
                    self.push_patch_side(&guard, out.into_iter().collect(), None);
                }
                self.maybe_patch_eos();
                true
            }
            EventView::FlushStop(_) => {
                lock(&self.state).decoded_eos = false;
                true
            }
            EventView::StreamStart(_) => {
                lock(&self.state).decoded_eos = false;
                true
            }
            // Nothing from this input goes downstream.
            _ => true,
        }
    }

    fn patch_src_event(&self, pad: &gst::Pad, event: gst::Event) -> bool {
        if let gst::EventView::CustomUpstream(c) = event.view() {
            if let Some(s) = c.structure() {
                if s.name() == crate::feedback::NAME {
                    return self.take_feedback(s);
                }
            }
        }
        match event.type_() {
            // These belong to the video path; the patch stream has nothing to say about them.
            gst::EventType::Qos | gst::EventType::Reconfigure | gst::EventType::Navigation => true,
            _ => gst::Pad::event_default(pad, Some(&*self.obj()), event),
        }
    }

    fn take_feedback(&self, s: &gst::StructureRef) -> bool {
        match crate::feedback::SrpatchFeedback::try_from(s) {
            Ok(crate::feedback::SrpatchFeedback(fb)) => {
                self.apply_feedback(&fb);
                true
            }
            Err(e) => {
                gst::warning!(CAT, imp = self, "ignoring malformed feedback ({e}): {s}");
                false
            }
        }
    }

    fn apply_feedback(&self, fb: &Feedback) {
        gst::debug!(CAT, imp = self, "feedback {fb:?}");
        let mut st = lock(&self.state);
        st.scheduler.on_feedback(fb);
        st.server_suggested_kbps = fb.suggested_patch_kbps;
    }

    fn patch_src_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        use gst::QueryViewMut;
        match query.view_mut() {
            QueryViewMut::Caps(q) => {
                answer_caps_query(q, patch_caps());
                true
            }
            QueryViewMut::AcceptCaps(q) => {
                let ok = q.caps().is_subset(&patch_caps());
                q.set_result(ok);
                true
            }
            QueryViewMut::Latency(_) => self.sinkpad.peer_query(query),
            _ => gst::Pad::query_default(pad, Some(&*self.obj()), query),
        }
    }

    fn decoded_query(&self, pad: &gst::Pad, query: &mut gst::QueryRef) -> bool {
        use gst::QueryViewMut;
        match query.view_mut() {
            QueryViewMut::Caps(q) => {
                answer_caps_query(q, video_caps());
                true
            }
            QueryViewMut::AcceptCaps(q) => {
                let ok = q.caps().can_intersect(&video_caps());
                q.set_result(ok);
                true
            }
            QueryViewMut::Allocation(_) => false,
            _ => gst::Pad::query_default(pad, Some(&*self.obj()), query),
        }
    }

    fn reset(&self) {
        let settings = lock(&self.settings).clone();
        *lock(&self.state) = State::new(&settings);
    }
}

#[glib::object_subclass]
impl ObjectSubclass for Srpatch {
    const NAME: &'static str = "GstSrpatch";
    type Type = super::Srpatch;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let templ = klass.pad_template("sink").unwrap();
        let sinkpad = gst::Pad::builder_from_template(&templ)
            .chain_function(|pad, parent, buffer| {
                Srpatch::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |this| this.sink_chain(pad, buffer),
                )
            })
            .event_function(|pad, parent, event| {
                Srpatch::catch_panic_pad_function(
                    parent,
                    || false,
                    |this| this.sink_event(pad, event),
                )
            })
            .iterate_internal_links_function(|_pad, parent| {
                Srpatch::catch_panic_pad_function(
                    parent,
                    || gst::Iterator::from_vec(vec![]),
                    |this| gst::Iterator::from_vec(vec![this.srcpad.clone()]),
                )
            })
            .flags(gst::PadFlags::PROXY_CAPS | gst::PadFlags::PROXY_ALLOCATION)
            .build();
        let templ = klass.pad_template("src").unwrap();
        let srcpad = gst::Pad::builder_from_template(&templ)
            .iterate_internal_links_function(|_pad, parent| {
                Srpatch::catch_panic_pad_function(
                    parent,
                    || gst::Iterator::from_vec(vec![]),
                    |this| gst::Iterator::from_vec(vec![this.sinkpad.clone()]),
                )
            })
            .flags(gst::PadFlags::PROXY_CAPS | gst::PadFlags::PROXY_ALLOCATION)
            .build();
        let templ = klass.pad_template("patch_src").unwrap();
        let patchpad = gst::Pad::builder_from_template(&templ)
            .event_function(|pad, parent, event| {
                Srpatch::catch_panic_pad_function(
                    parent,
                    || false,
                    |this| this.patch_src_event(pad, event),
                )
            })
            .query_function(|pad, parent, query| {
                Srpatch::catch_panic_pad_function(
                    parent,
                    || false,
                    |this| this.patch_src_query(pad, query),
                )
            })
            .iterate_internal_links_function(|_pad, parent| {
                Srpatch::catch_panic_pad_function(
                    parent,
                    || gst::Iterator::from_vec(vec![]),
                    |this| gst::Iterator::from_vec(vec![this.sinkpad.clone()]),
                )
            })
            .build();
        let settings = Settings::default();
        let state = State::new(&settings);
        Srpatch {
            sinkpad,
            srcpad,
            patchpad,
            decodedpad: Mutex::new(None),
            settings: Mutex::new(settings),
            state: Mutex::new(state),
            patch_push: Mutex::new(()),
        }
    }
}

impl ObjectImpl for Srpatch {
    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_pad(&self.sinkpad).unwrap();
        obj.add_pad(&self.srcpad).unwrap();
        obj.add_pad(&self.patchpad).unwrap();
    }

    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(settings::param_specs);
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = lock(&self.settings);
        s.set(pspec.name(), value);
        let stopped = self.obj().current_state() <= gst::State::Ready;
        if Settings::resets_state(pspec.name(), stopped) {
            let s = s.clone();
            *lock(&self.state) = State::new(&s);
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        if let Some(v) = lock(&self.settings).get(pspec.name()) {
            return v;
        }
        let st = lock(&self.state);
        match pspec.name() {
            "patches-sent" => st.patches_sent.to_value(),
            "bytes-sent" => st.bytes_sent.to_value(),
            "current-patch-kbps" => st.rate_kbps.to_value(),
            other => unreachable!("srpatch has no property {other}"),
        }
    }
}

impl GstObjectImpl for Srpatch {}

impl ElementImpl for Srpatch {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "LiveNAS patch sender",
                "Filter/Video",
                "Passes video through and sends high-quality training patches beside it \
                 (application/x-srpatch) at a rate set by LiveNAS' quality-optimizing \
                 scheduler; optional decoded_sink: the client's decoded frames, to pick the \
                 cells that encode worst",
                "learned-video-gst developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let video = video_caps();
            vec![
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &video,
                )
                .unwrap(),
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &video,
                )
                .unwrap(),
                gst::PadTemplate::new(
                    "patch_src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &patch_caps(),
                )
                .unwrap(),
                gst::PadTemplate::new(
                    "decoded_sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Request,
                    &video,
                )
                .unwrap(),
            ]
        });
        TEMPLATES.as_ref()
    }

    fn request_new_pad(
        &self,
        templ: &gst::PadTemplate,
        _name: Option<&str>,
        _caps: Option<&gst::Caps>,
    ) -> Option<gst::Pad> {
        if templ.name_template() != "decoded_sink" {
            return None;
        }
        let mut slot = lock(&self.decodedpad);
        if slot.is_some() {
            gst::warning!(CAT, imp = self, "decoded_sink already requested");
            return None;
        }
        let pad = gst::Pad::builder_from_template(templ)
            .name("decoded_sink")
            .chain_function(|pad, parent, buffer| {
                Srpatch::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |this| this.decoded_chain(pad, buffer),
                )
            })
            .event_function(|pad, parent, event| {
                Srpatch::catch_panic_pad_function(
                    parent,
                    || false,
                    |this| this.decoded_event(pad, event),
                )
            })
            .query_function(|pad, parent, query| {
                Srpatch::catch_panic_pad_function(
                    parent,
                    || false,
                    |this| this.decoded_query(pad, query),
                )
            })
            .iterate_internal_links_function(|_pad, _parent| gst::Iterator::from_vec(vec![]))
            .build();
        if self.obj().current_state() > gst::State::Null {
            let _ = pad.set_active(true);
        }
        if self.obj().add_pad(&pad).is_err() {
            return None;
        }
        *slot = Some(pad.clone());
        Some(pad)
    }

    fn release_pad(&self, pad: &gst::Pad) {
        let mut slot = lock(&self.decodedpad);
        if slot.as_ref() == Some(pad) {
            *slot = None;
            drop(slot);
            {
                let mut st = lock(&self.state);
                st.decoded_active = false;
                st.decoded_info = None;
            }
            let _ = pad.set_active(false);
            let _ = self.obj().remove_pad(pad);
            self.maybe_patch_eos();
        }
    }

    fn send_event(&self, event: gst::Event) -> bool {
        // An application may hand the server's feedback to the element itself.
        if let gst::EventView::CustomUpstream(c) = event.view() {
            if let Some(s) = c.structure() {
                if s.name() == crate::feedback::NAME {
                    return self.take_feedback(s);
                }
            }
        }
        self.parent_send_event(event)
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        if transition == gst::StateChange::ReadyToPaused {
            self.reset();
        }
        let res = self.parent_change_state(transition)?;
        if transition == gst::StateChange::PausedToReady {
            self.reset();
        }
        Ok(res)
    }
}
