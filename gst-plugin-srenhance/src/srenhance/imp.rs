// SPDX-License-Identifier: MPL-2.0

//! The `srenhance` element (docs/srenhance-design.md): upscales decoded low-resolution video
//! to the size downstream asks for — luma: Catmull-Rom bicubic, then a small network
//! (`lvinfer`); chroma: Catmull-Rom bicubic — and trains the network online, in a background
//! thread, from the high-quality patches that arrive on `patch_sink` (`lv_livenas::trainer`), with
//! LiveNAS' content-adaptive control (`lv_livenas::adaptive`).
//!
//! The element is glue: the online training (frame ring, patch–frame pairing, worker loop,
//! epoch policy) is `lv_livenas::online`; here are the pads, caps, the inference path, the
//! trainer's thread and the messages.
//!
//! Threads and locks:
//! - the `sink` streaming thread converts frames (`State`, its own lock) and hands the
//!   decoded luma to the [`OnlineTrainer`] (the trainer's pairs are cut from it);
//! - the `patch_sink` streaming thread parses and decodes patches for it;
//! - the trainer thread runs the library's `Worker` with an [`ElementHost`]: at each epoch's
//!   end it publishes a new `PlaneRunner` in `Network` (the sink thread swaps it in before its
//!   next frame: an `Arc` exchange, never a wait in a live pipeline), pushes the
//!   `srpatch-feedback` event and posts the `srenhance-epoch` message.
//!
//! In a non-live pipeline the sink thread, on reaching an epoch boundary in stream time,
//! hands the trainer that epoch's fixed step budget and waits for it (reproducible results),
//! holding none of the element's locks. A panic in the trainer thread is caught there and
//! ends that wait (and the next frame or patch) with an element error, never a hang.
//!
//! Locks: a poisoned lock is used as is ([`lv_gst::sync::lock`], as in srpatch): pad functions
//! run under `catch_panic`, the trainer under `catch_unwind`, and every update behind a lock
//! leaves it consistent.

use super::settings::{self, Settings};
use super::Backend;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::VideoFormat;
use lv_gst::caps::{any_par, int_range};
use lv_gst::sync::lock;
use lv_image::resample::Kernel;
use lv_infer::scale::{Scaler, ScalerConfig};
use lv_infer::{Model, PlaneRunner, RunnerConfig};
use lv_livenas::advice::PatchRateAdvisor;
use lv_livenas::budget::PatchBudget;
use lv_livenas::online::{Fault, Frame, Interrupted, OnlineConfig, OnlineTrainer, PatchInput};
use lv_livenas::postfilter::Filter;
use lv_livenas::scene::CutDetector;
use lv_livenas::trainer::TrainerConfig;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

mod host;
use host::ElementHost;

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "srenhance",
        gst::DebugColorFlags::empty(),
        Some("Online-trained super-resolution"),
    )
});

/// The generic model, embedded when it exists at build time (see build.rs).
#[cfg(srenhance_embedded_model)]
static DEFAULT_MODEL: Option<&[u8]> =
    Some(include_bytes!("../../../models/srenhance/srenhance.onnx"));
#[cfg(not(srenhance_embedded_model))]
static DEFAULT_MODEL: Option<&[u8]> = None;

/// The generic post-filter fitted offline on the generic model's output
/// (scripts/fit-srenhance-postfilter.sh), embedded when it exists at build time.
#[cfg(srenhance_embedded_postfilter)]
static DEFAULT_POST_FILTER: Option<&[u8]> =
    Some(include_bytes!("../../../models/srenhance/postfilter.lvpf"));
#[cfg(not(srenhance_embedded_postfilter))]
static DEFAULT_POST_FILTER: Option<&[u8]> = None;

const CUBIC: Kernel = Kernel::CATMULL_ROM;
/// See [`Srenhance::check_patch_size`].
const MISMATCHED_MESSAGES: u64 = 8;

const FORMATS: &[VideoFormat] = &[
    VideoFormat::I420,
    VideoFormat::Nv12,
    VideoFormat::Y42b,
    VideoFormat::Y444,
    VideoFormat::Gray8,
];
/// Longest wait for the trainer to write `save-model` at EOS or stop.
const SAVE_WAIT: Duration = Duration::from_secs(30);
/// Test-only fault injection (tests/srenhance.rs): object data under this key, a `u64`, makes
/// the trainer panic at the end of that epoch. Deliberately not a property: nothing an
/// application sets by accident or finds in gst-inspect.
const TEST_PANIC_AT_EPOCH: &str = "srenhance-test-trainer-panic-at-epoch";

/// The network inference uses: the loaded one (generation 0), then each trained epoch's,
/// published by the trainer thread with a runner for the output size.
#[derive(Default)]
struct Network {
    generation: u64,
    model: Option<Model>,
    /// The loaded model (DNN_0), which a scene cut switches back to.
    initial: Option<Model>,
    runner: Option<(u64, (usize, usize), Arc<PlaneRunner>)>,
    /// The post-filter to run after `model` (lv_livenas::postfilter), if served.
    filter: Option<Arc<Filter>>,
    /// The generic post-filter served with `initial`, if any.
    initial_filter: Option<Arc<Filter>>,
    /// The runner built at caps time: the networks published later share its worker
    /// threads (`PlaneRunner::with_model`), which run at the streaming thread's priority.
    template: Option<Arc<PlaneRunner>>,
}

/// Everything built for one caps pair.
struct Processor {
    in_info: gst_video::VideoInfo,
    out_info: gst_video::VideoInfo,
    scaler: Scaler,
    /// Generation of the network in `scaler`.
    generation: u64,
    /// DNN_0 at the output size, for the safety net's switch on a scene cut.
    initial_runner: Option<Arc<PlaneRunner>>,
    /// The generic post-filter that goes with DNN_0.
    initial_filter: Option<Arc<Filter>>,
    /// The post-filter on the output luma, and its copy of the unfiltered plane.
    filter: Option<Arc<Filter>>,
    filter_scratch: Vec<u8>,
    /// `threads` workers for the filter's bands (with `post-filter`; the global pool if it
    /// could not be built).
    filter_pool: Option<rayon::ThreadPool>,
}

#[derive(Default)]
struct State {
    in_info: Option<gst_video::VideoInfo>,
    processor: Option<Processor>,
    passthrough: bool,
    fallback_logged: bool,
    /// `backend-in-use`: where the network runs since the last caps ("" before any).
    backend_in_use: String,
    live: Option<bool>,
    eos: bool,
    segment: Option<gst::FormattedSegment<gst::ClockTime>>,
    cuts: CutDetector,
}

/// Quality of service, as `GstBaseTransform` keeps it: the sink's latest QoS event says how
/// late it rendered, and a frame due before `earliest` (running time) would be late too, so
/// it is dropped rather than upscaled (a live pipeline then catches up instead of falling
/// further behind).
#[derive(Default)]
struct Qos {
    earliest: Option<u64>,
    proportion: f64,
    processed: u64,
    dropped: u64,
}

/// Sets the calling thread's niceness (Linux: per thread); best effort elsewhere or when the
/// process may not change it.
fn lower_priority(nice: i32) {
    if nice <= 0 {
        return;
    }
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread's own id; no memory is shared.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, nice);
    }
}

pub struct Srenhance {
    sinkpad: gst::Pad,
    patchpad: gst::Pad,
    srcpad: gst::Pad,
    settings: Mutex<Settings>,
    state: Mutex<State>,
    /// Replaced at each start; a clone is a handle on the same trainer.
    online: Mutex<OnlineTrainer>,
    network: Arc<Mutex<Network>>,
    /// Segment of the patch stream: patch timestamps are compared in running time (an
    /// encoder between srpatch and srenhance may shift the video's timestamps, e.g.
    /// GstVideoEncoder's 1000-hour offset, and its segment with them).
    patch_segment: Mutex<Option<gst::FormattedSegment<gst::ClockTime>>>,
    trainer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// The trainer's death is posted once, by whichever streaming thread notices it first.
    failure_posted: AtomicBool,
    /// Warnings posted once per run: patches for another picture size, frames without
    /// timestamps (both leave training without pairs).
    warned_patch_size: AtomicBool,
    /// Patch messages in a row for another picture size than the output's.
    mismatched_run: AtomicU64,
    warned_untimed: AtomicBool,
    /// The negotiated output size (width << 32 | height; 0: none), for the patch thread's
    /// check without the frame path's lock.
    out_size: AtomicU64,
    /// Patch area decoded per second of stream time (the patch thread's; reset at start).
    budget: Mutex<PatchBudget>,
    warned_flood: AtomicBool,
    qos: Mutex<Qos>,
    /// The feedback's `suggested_patch_kbps`: the video's rate from the stream's tags and the
    /// patch bytes that arrive, against what each epoch's patches bought.
    advice: Mutex<PatchRateAdvisor>,
}

/// A file a property names (`property` words the error), read whole.
fn read_named(property: &str, path: &str) -> Result<Vec<u8>, gst::ErrorMessage> {
    std::fs::read(path).map_err(|e| {
        gst::error_msg!(
            gst::ResourceError::OpenRead,
            ["srenhance: cannot read {property} {path}: {e}"]
        )
    })
}

impl Srenhance {
    fn load_model(settings: &Settings) -> Result<(Model, Vec<u8>), gst::ErrorMessage> {
        let (bytes, what) = match &settings.model {
            Some(path) => (read_named("model", path)?, path.clone()),
            None => match DEFAULT_MODEL {
                Some(b) => (b.to_vec(), "(embedded generic model)".to_string()),
                None => {
                    return Err(gst::error_msg!(
                        gst::LibraryError::Settings,
                        ["srenhance: this build has no embedded generic model \
                          (models/srenhance/srenhance.onnx was missing when it was built); \
                          set the `model` property to an ONNX file"]
                    ))
                }
            },
        };
        let model = Model::from_bytes(&bytes).map_err(|e| {
            gst::error_msg!(
                gst::ResourceError::OpenRead,
                ["srenhance: cannot use model {what}: {e}"]
            )
        })?;
        if model.info().kind != lv_livenas::trainer::KIND {
            return Err(gst::error_msg!(
                gst::ResourceError::OpenRead,
                [
                    "srenhance: model {what} is a {:?} model, not {}: {}",
                    model.info().kind,
                    lv_livenas::trainer::KIND,
                    if model.info().kind == lv_infer::KIND_REFINE_V1 {
                        "a dnnscale model belongs to the dnnscale element"
                    } else {
                        "use a model exported by srenhance-train or saved by srenhance"
                    }
                ]
            ));
        }
        Ok((model, bytes))
    }

    /// The generic post-filter served with the initial model: `post-filter-model`, or the one
    /// embedded beside the embedded generic model (a filter is fitted to one network's output,
    /// so a `model` of the user's own gets none unless they name one). `None` with
    /// `post-filter=false`.
    fn load_post_filter(settings: &Settings) -> Result<Option<Arc<Filter>>, gst::ErrorMessage> {
        if !settings.post_filter {
            return Ok(None);
        }
        let (bytes, what) = match (&settings.post_filter_model, &settings.model) {
            (Some(path), _) => (read_named("post-filter-model", path)?, path.clone()),
            (None, None) => match DEFAULT_POST_FILTER {
                Some(b) => (b.to_vec(), "(embedded generic post-filter)".to_string()),
                None => {
                    gst::info!(CAT, "this build has no embedded generic post-filter");
                    return Ok(None);
                }
            },
            (None, Some(_)) => {
                gst::info!(
                    CAT,
                    "model set and no post-filter-model: no generic post-filter (the embedded \
                     one is fitted to the embedded model)"
                );
                return Ok(None);
            }
        };
        let filter = Filter::from_bytes(&bytes).map_err(|e| {
            gst::error_msg!(
                gst::ResourceError::OpenRead,
                ["srenhance: cannot use post-filter-model {what}: {e}"]
            )
        })?;
        gst::info!(
            CAT,
            "generic post-filter {what}: {} fitted buckets",
            filter.fitted
        );
        Ok(Some(Arc::new(filter)))
    }

    fn runner_config(settings: &Settings) -> RunnerConfig {
        RunnerConfig {
            threads: lv_gst::element::worker_threads(settings.threads),
            tiles: 0,
            backend: settings.backend.into(),
        }
    }

    // ---------------------------------------------------------------- caps

    /// Caps the sink accepts given what downstream accepts: any size (we upscale to theirs),
    /// formats both sides support.
    fn sink_caps(&self, filter: Option<&gst::CapsRef>) -> gst::Caps {
        let templ = self.sinkpad.pad_template_caps();
        let peer = self.srcpad.peer_query_caps(None);
        if peer.is_any() {
            return match filter {
                Some(f) => f.intersect_with_mode(&templ, gst::CapsIntersectMode::First),
                None => templ,
            };
        }
        let mut any = gst::Caps::new_empty();
        {
            let any = any.get_mut().unwrap();
            for s in peer.iter() {
                let mut s = s.to_owned();
                lv_gst::caps::set_any_size(&mut s);
                any.append_structure(s);
            }
        }
        let mut caps = any.intersect_with_mode(&templ, gst::CapsIntersectMode::First);
        if let Some(f) = filter {
            caps = f.intersect_with_mode(&caps, gst::CapsIntersectMode::First);
        }
        caps
    }

    /// Caps the source can produce: the input's with any size at least the input's.
    fn src_caps(&self, filter: Option<&gst::CapsRef>) -> gst::Caps {
        let templ = self.srcpad.pad_template_caps();
        // Before the input is known: any size (so linking to a size-fixing capsfilter works
        // and a downscale is reported by name when the caps arrive, not as a link failure).
        let base = self.sinkpad.current_caps().unwrap_or_else(|| templ.clone());
        let mut out = gst::Caps::new_empty();
        {
            let out = out.get_mut().unwrap();
            for s in base.iter() {
                let mut s = s.to_owned();
                let w = s.get::<i32>("width").ok();
                let h = s.get::<i32>("height").ok();
                s.set_value("width", int_range(w.unwrap_or(1), i32::MAX));
                s.set_value("height", int_range(h.unwrap_or(1), i32::MAX));
                if s.has_field("pixel-aspect-ratio") {
                    s.set("pixel-aspect-ratio", any_par());
                }
                out.append_structure(s);
            }
        }
        let mut caps = out.intersect_with_mode(&templ, gst::CapsIntersectMode::First);
        if let Some(f) = filter {
            caps = f.intersect_with_mode(&caps, gst::CapsIntersectMode::First);
        }
        caps
    }

    /// Output caps for `in_caps`: downstream's preference among sizes ≥ the input's, fixated
    /// like videoscale (keeping the display aspect ratio when one size is free).
    fn negotiate_output(&self, in_caps: &gst::Caps) -> Result<gst::Caps, String> {
        let ins = in_caps.structure(0).ok_or("empty input caps")?;
        let in_w = ins.get::<i32>("width").map_err(|e| e.to_string())?;
        let in_h = ins.get::<i32>("height").map_err(|e| e.to_string())?;
        let in_par = ins
            .get::<gst::Fraction>("pixel-aspect-ratio")
            .unwrap_or(gst::Fraction::new(1, 1));
        let mut cand = ins.to_owned();
        cand.set_value("width", int_range(in_w, i32::MAX));
        cand.set_value("height", int_range(in_h, i32::MAX));
        cand.set("pixel-aspect-ratio", any_par());
        let cand = gst::Caps::builder_full().structure(cand).build();
        let peer = self.srcpad.peer_query_caps(Some(&cand));
        let mut caps = peer.intersect_with_mode(&cand, gst::CapsIntersectMode::First);
        if caps.is_empty() {
            // Why: a size below the input's, or a format downstream does not take?
            let mut any = in_caps.clone();
            for s in any.make_mut().iter_mut() {
                lv_gst::caps::set_any_size(s);
            }
            let peer_all = self.srcpad.peer_query_caps(None);
            if peer_all.can_intersect(&any) {
                return Err(format!(
                    "srenhance only upscales: the input is {in_w}x{in_h} and downstream accepts \
                     no size at least that large ({peer_all}); put videoscale after srenhance \
                     (or instead of it) to downscale"
                ));
            }
            return Err(format!(
                "downstream accepts none of the input's format ({in_caps}); downstream: \
                 {peer_all}; insert videoconvert"
            ));
        }
        caps.truncate();
        if let Some(s) = caps.make_mut().structure_mut(0) {
            lv_gst::caps::fixate_size(s, (in_w, in_h), in_par, (in_w, in_h));
        }
        caps.fixate();
        Ok(caps)
    }

    fn set_caps(&self, in_caps: &gst::Caps) -> bool {
        let in_info = match gst_video::VideoInfo::from_caps(in_caps) {
            Ok(i) => i,
            Err(e) => {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    ["srenhance: unusable input caps {in_caps}: {e}"]
                );
                return false;
            }
        };
        let out_caps = match self.negotiate_output(in_caps) {
            Ok(c) => c,
            Err(msg) => {
                gst::element_imp_error!(self, gst::CoreError::Negotiation, ["{msg}"]);
                return false;
            }
        };
        let out_info = match gst_video::VideoInfo::from_caps(&out_caps) {
            Ok(i) => i,
            Err(e) => {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    ["srenhance: cannot use output caps {out_caps}: {e}"]
                );
                return false;
            }
        };
        let (iw, ih) = (in_info.width() as usize, in_info.height() as usize);
        let (ow, oh) = (out_info.width() as usize, out_info.height() as usize);
        if ow < iw || oh < ih {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                [
                    "srenhance only upscales ({iw}x{ih} -> {ow}x{oh} asked); use videoscale to \
                     downscale"
                ]
            );
            return false;
        }
        if let Err(msg) = self.configure(&in_info, &out_info) {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ["srenhance: {msg}"]);
            return false;
        }
        gst::info!(CAT, imp = self, "{in_caps} -> {out_caps}");
        self.srcpad.push_event(gst::event::Caps::new(&out_caps))
    }

    /// Builds the resamplers and the runner for a caps pair.
    fn configure(
        &self,
        in_info: &gst_video::VideoInfo,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), String> {
        let settings = lock(&self.settings).clone();
        let (iw, ih) = (in_info.width() as usize, in_info.height() as usize);
        let (ow, oh) = (out_info.width() as usize, out_info.height() as usize);
        let fps = in_info.fps();
        let tolerance = if fps.numer() > 0 && fps.denom() > 0 {
            (500_000_000u64 * fps.denom() as u64 / fps.numer() as u64).max(1)
        } else {
            10_000_000
        };
        let mut state = lock(&self.state);
        state.in_info = Some(in_info.clone());
        self.online().set_output(ow, oh, tolerance);
        self.out_size
            .store(((ow as u64) << 32) | oh as u64, Ordering::SeqCst);
        if (iw, ih) == (ow, oh) {
            state.passthrough = true;
            state.processor = None;
            gst::info!(CAT, imp = self, "{iw}x{ih}: same size, passthrough");
            return Ok(());
        }
        state.passthrough = false;
        let (generation, model, initial, filter, initial_filter) = {
            let sh = lock(&self.network);
            (
                sh.generation,
                sh.model.clone(),
                sh.initial.clone(),
                sh.filter.clone(),
                sh.initial_filter.clone(),
            )
        };
        let model = model.ok_or("no model loaded")?;
        let (in_size, out_size, layout) = lv_gst::scale::geometry(in_info, out_info);
        let cfg = ScalerConfig {
            in_size,
            out_size,
            layout,
            kernel: CUBIC,
            runner: Self::runner_config(&settings),
        };
        let scaler = Scaler::new(&model, cfg).map_err(|e| e.to_string())?;
        lock(&self.network).template = Some(scaler.runner().clone());
        let initial_runner = if !(settings.serve_best && settings.training) {
            None
        } else if generation == 0 {
            Some(scaler.runner().clone())
        } else {
            initial.and_then(|m| scaler.runner().with_model(&m).ok().map(Arc::new))
        };
        state.cuts.reset();
        let obj = self.obj();
        let (format, logged) = (in_info.format(), &mut state.fallback_logged);
        let runner = scaler.runner();
        let (sizes, why) = ((in_size, out_size), runner.fallback_reason());
        let choice = runner.backend_choice();
        lv_gst::scale::log_new(
            *CAT,
            obj.upcast_ref(),
            format,
            sizes,
            why,
            choice,
            runner,
            logged,
        );
        state.backend_in_use = runner.backend().to_string();
        state.processor = Some(Processor {
            in_info: in_info.clone(),
            out_info: out_info.clone(),
            scaler,
            generation,
            initial_runner,
            initial_filter,
            filter,
            filter_scratch: Vec::new(),
            filter_pool: settings
                .post_filter
                .then(|| {
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(lv_gst::element::worker_threads(settings.threads))
                        .build()
                        .ok()
                })
                .flatten(),
        });
        Ok(())
    }

    // ---------------------------------------------------------------- video path

    fn sink_chain(&self, buffer: gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        if self.srcpad.check_reconfigure() {
            if let Some(caps) = self.sinkpad.current_caps() {
                if !self.set_caps(&caps) {
                    return Err(gst::FlowError::NotNegotiated);
                }
            }
        }
        let settings = lock(&self.settings).clone();
        let online = self.online();
        let mut state = lock(&self.state);
        // Frames, patches and epochs are matched in running time.
        let pts = buffer.pts().and_then(|t| match &state.segment {
            Some(seg) => seg.to_running_time(t).map(|r| r.nseconds()),
            None => Some(t.nseconds()),
        });
        let Some(in_info) = state.in_info.clone() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ["no caps negotiated"]);
            return Err(gst::FlowError::NotNegotiated);
        };
        if state.live.is_none() {
            let mut q = gst::query::Latency::new();
            let live = self.sinkpad.peer_query(&mut q) && q.result().0;
            gst::info!(CAT, imp = self, "live pipeline: {live}");
            state.live = Some(live);
            online.set_live(live);
        }
        let live = state.live.unwrap_or(false);
        // A dead trainer ends the stream, live or not: the application learns it at once
        // rather than from a network that silently stopped learning. (Lock-free: see
        // `OnlineTrainer::offer_frame`.)
        if let Some(why) = online.failure() {
            drop(state);
            return Err(self.trainer_failed(&why));
        }
        // `training` may change while playing; the trainer knows (`set_property`).
        let training = self.trainer_running() && online.enabled();

        // Keep the decoded luma for training pairs.
        let mut cut = false;
        if training && pts.is_none() && !self.warned_untimed.swap(true, Ordering::SeqCst) {
            gst::element_imp_warning!(
                self,
                gst::StreamError::Format,
                ("Video frames without timestamps cannot be paired with patches: online training gets no pairs"),
                ["give the video timestamps (e.g. a parser or videorate before srenhance)"]
            );
        }
        if training {
            if let Some(pts) = pts {
                let frame =
                    gst_video::VideoFrameRef::from_buffer_ref_readable(buffer.as_ref(), &in_info)
                        .map_err(|_| {
                        gst::element_imp_error!(
                            self,
                            gst::StreamError::Format,
                            ["cannot map input frame"]
                        );
                        gst::FlowError::Error
                    })?;
                let (w, h) = (in_info.width() as usize, in_info.height() as usize);
                let stride = frame.plane_stride()[0] as usize;
                let data = frame.plane_data(0).map_err(|_| gst::FlowError::Error)?;
                let mut luma = Vec::with_capacity(w * h);
                for r in 0..h {
                    luma.extend_from_slice(&data[r * stride..r * stride + w]);
                }
                drop(frame);
                if settings.serve_best && state.cuts.push(&luma, w, h, w) {
                    gst::debug!(
                        CAT,
                        imp = self,
                        "scene cut at {}",
                        gst::ClockTime::from_nseconds(pts)
                    );
                    online.scene_cut(pts);
                    cut = true;
                }
                let frame = Frame {
                    pts,
                    w,
                    h,
                    luma: Arc::new(luma),
                };
                if live {
                    // Never wait for the low-priority trainer on a live stream.
                    online.offer_frame(frame);
                } else {
                    online.push_frame(frame);
                }
            }
        }

        if let (Some(pts), false) = (pts, live) {
            online.frame_end(pts.saturating_add(buffer.duration().map_or(0, |d| d.nseconds())));
        }

        // Non-live: epochs are paced by stream time; wait for each finished epoch. Not under
        // the state lock: nothing on the frame path holds a lock while it waits.
        if training && !live && !state.passthrough {
            if let Some(pts) = pts {
                drop(state);
                online.advance(pts).map_err(|e| self.interrupted(e))?;
                state = lock(&self.state);
            }
        }

        if state.passthrough {
            drop(state);
            return self.srcpad.push(buffer);
        }
        if settings.qos && self.too_late(&buffer, pts, state.segment.as_ref()) {
            return Ok(gst::FlowSuccess::Ok);
        }
        // Swap in the newest network for this size. Live: only if the trainer thread (low
        // priority) is not publishing one right now; the swap waits for the next frame.
        let net = if live {
            self.network.try_lock().ok()
        } else {
            Some(lock(&self.network))
        };
        if let Some(net) = net {
            if let (Some(p), Some((g, size, runner))) = (state.processor.as_mut(), &net.runner) {
                let os = (p.out_info.width() as usize, p.out_info.height() as usize);
                if *g > p.generation && *size == os {
                    p.scaler.set_runner(runner.clone());
                    p.filter = net.filter.clone();
                    p.generation = *g;
                    gst::debug!(CAT, imp = self, "network generation {g} in use");
                }
            }
        }
        // After the swap: a network published before the cut was trained on the old scene.
        if let (true, Some(p)) = (cut, state.processor.as_mut()) {
            if let Some(r) = &p.initial_runner {
                p.scaler.set_runner(r.clone());
                p.filter = p.initial_filter.clone();
                gst::debug!(CAT, imp = self, "scene cut: the initial network in use");
            }
        }
        let Some(p) = state.processor.as_mut() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ["no caps negotiated"]);
            return Err(gst::FlowError::NotNegotiated);
        };
        let out = self.process(p, &buffer)?;
        drop(state);
        self.srcpad.push(out)
    }

    /// QoS (see [`Qos`]): whether the frame at running time `pts` is already late, then
    /// dropped and reported with a QoS message, as `GstBaseTransform` does.
    fn too_late(
        &self,
        buffer: &gst::Buffer,
        pts: Option<u64>,
        segment: Option<&gst::FormattedSegment<gst::ClockTime>>,
    ) -> bool {
        let mut qos = lock(&self.qos);
        let late = match (pts, qos.earliest) {
            (Some(t), Some(earliest)) => t <= earliest,
            _ => false,
        };
        if !late {
            qos.processed += 1;
            return false;
        }
        qos.dropped += 1;
        let (earliest, proportion, processed, dropped) = (
            qos.earliest.unwrap_or(0),
            qos.proportion,
            qos.processed,
            qos.dropped,
        );
        drop(qos);
        let running = pts.map(gst::ClockTime::from_nseconds);
        let stream = buffer
            .pts()
            .and_then(|t| segment.and_then(|seg| seg.to_stream_time(t)));
        let jitter = earliest as i64 - pts.unwrap_or(0) as i64;
        let msg = gst::message::Qos::builder(true)
            .running_time(running)
            .stream_time(stream)
            .timestamp(buffer.pts())
            .duration(buffer.duration())
            // The full quality, as `GstBaseTransform` reports it: this element has no
            // cheaper mode, only dropping.
            .values(jitter, proportion, 1_000_000)
            .stats(
                gst::format::Buffers::from_u64(processed),
                gst::format::Buffers::from_u64(dropped),
            )
            .src(&*self.obj())
            .build();
        let _ = self.obj().post_message(msg);
        gst::debug!(CAT, imp = self, "late frame at {pts:?} dropped (QoS)");
        true
    }

    /// `training` changed: while the element runs, the trainer pauses or resumes at once.
    fn set_training(&self, on: bool) {
        if self.trainer_running() {
            gst::info!(
                CAT,
                imp = self,
                "training {}",
                if on { "on" } else { "off" }
            );
            self.online().set_enabled(on);
        } else if on && self.obj().current_state() > gst::State::Ready {
            gst::element_imp_warning!(
                self,
                gst::LibraryError::Settings,
                [
                    "srenhance: training=true ignored: the loaded model cannot be trained (it \
                  was started with training=false); inference goes on with it"
                ]
            );
        }
    }

    /// `save-model` must be writable: an error when the element starts, not after the
    /// stream has been trained (the directory exists and a file can be created in it).
    fn check_save_path(path: &str) -> Result<(), gst::ErrorMessage> {
        lv_image::output::check_writable(std::path::Path::new(path)).map_err(|e| {
            gst::error_msg!(
                gst::ResourceError::OpenWrite,
                ["srenhance: save-model {path} cannot be written: {e}"]
            )
        })
    }

    fn trainer_running(&self) -> bool {
        lock(&self.trainer_thread).is_some()
    }

    /// Non-live, at EOS: the stream's last, partial epoch ([`OnlineTrainer::finish`]), so the
    /// patches of a stream's tail are used.
    fn final_epoch(&self) -> Result<(), Interrupted> {
        let training = self.trainer_running() && self.online().enabled();
        {
            let state = lock(&self.state);
            if !training || state.live != Some(false) || state.passthrough || state.eos {
                return Ok(());
            }
        }
        self.online().finish()
    }

    /// The flow return for an interrupted trainer call: flushing stays quiet, a dead trainer
    /// is an element error.
    fn interrupted(&self, e: Interrupted) -> gst::FlowError {
        match e {
            Interrupted::Flushing => gst::FlowError::Flushing,
            Interrupted::Failed(why) => self.trainer_failed(&why),
        }
    }

    fn trainer_failed(&self, why: &str) -> gst::FlowError {
        if !self.failure_posted.swap(true, Ordering::SeqCst) {
            gst::element_imp_error!(
                self,
                gst::LibraryError::Failed,
                ("srenhance: the online trainer failed: {why}"),
                ["training=false runs with the loaded model only"]
            );
        }
        gst::FlowError::Error
    }

    fn process(
        &self,
        p: &mut Processor,
        inbuf: &gst::Buffer,
    ) -> Result<gst::Buffer, gst::FlowError> {
        let in_info = &p.in_info;
        let out_info = &p.out_info;
        let inframe = gst_video::VideoFrameRef::from_buffer_ref_readable(inbuf.as_ref(), in_info)
            .map_err(|_| {
            gst::element_imp_error!(self, gst::StreamError::Format, ["cannot map input frame"]);
            gst::FlowError::Error
        })?;
        let mut outbuf =
            gst::Buffer::with_size(out_info.size()).map_err(|_| gst::FlowError::Error)?;
        {
            let ob = outbuf.get_mut().unwrap();
            let _ = inbuf.copy_into(
                ob,
                gst::BufferCopyFlags::FLAGS | gst::BufferCopyFlags::TIMESTAMPS,
                ..,
            );
        }
        {
            let ob = outbuf.get_mut().unwrap();
            let mut outframe = gst_video::VideoFrameRef::from_buffer_ref_writable(ob, out_info)
                .map_err(|_| gst::FlowError::Error)?;
            p.scaler
                .process(
                    &lv_gst::frame::planes(&inframe),
                    &mut lv_gst::frame::planes_mut(&mut outframe),
                )
                .map_err(|e| {
                    gst::element_imp_error!(self, gst::StreamError::Failed, ["srenhance: {e}"]);
                    gst::FlowError::Error
                })?;
            if let Some(f) = &p.filter {
                let (w, h) = (out_info.width() as usize, out_info.height() as usize);
                let stride = outframe.plane_stride()[0] as usize;
                let luma = outframe
                    .plane_data_mut(0)
                    .map_err(|_| gst::FlowError::Error)?;
                let scratch = &mut p.filter_scratch;
                match &p.filter_pool {
                    Some(pool) => pool.install(|| f.apply_plane(luma, stride, w, h, scratch)),
                    None => f.apply_plane(luma, stride, w, h, scratch),
                }
            }
        }
        Ok(outbuf)
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Caps(c) => {
                let caps = c.caps_owned();
                self.set_caps(&caps)
            }
            gst::EventView::FlushStart(_) => {
                self.online().flush_start();
                self.srcpad.push_event(event)
            }
            gst::EventView::FlushStop(_) => {
                self.online().flush_stop();
                {
                    let mut state = lock(&self.state);
                    state.eos = false;
                    // A seek is not a scene cut.
                    state.cuts.reset();
                }
                *lock(&self.qos) = Qos::default();
                self.srcpad.push_event(event)
            }
            gst::EventView::Segment(e) => {
                let seg = e.segment().downcast_ref::<gst::ClockTime>().cloned();
                lock(&self.state).segment = seg;
                self.srcpad.push_event(event)
            }
            // Parsers (`h264parse`, any `GstBaseParse`) post the stream's measured bit rate;
            // encoders their nominal one. Either is the video's share of the uplink.
            gst::EventView::Tag(t) => {
                let tags = t.tag();
                let bps = tags
                    .get::<gst::tags::Bitrate>()
                    .or_else(|| tags.get::<gst::tags::NominalBitrate>())
                    .map(|v| v.get());
                if let Some(bps) = bps.filter(|&b| b > 0) {
                    lock(&self.advice).set_video_kbps(bps as f64 / 1000.0);
                }
                self.srcpad.push_event(event)
            }
            gst::EventView::Eos(_) => {
                if let Err(Interrupted::Failed(why)) = self.final_epoch() {
                    let _ = self.trainer_failed(&why);
                    return false;
                }
                lock(&self.state).eos = true;
                self.save_now();
                self.srcpad.push_event(event)
            }
            _ => self.srcpad.push_event(event),
        }
    }

    fn sink_query(&self, query: &mut gst::QueryRef) -> bool {
        match query.view_mut() {
            gst::QueryViewMut::Caps(q) => {
                let caps = self.sink_caps(q.filter());
                q.set_result(&caps);
                true
            }
            gst::QueryViewMut::AcceptCaps(q) => {
                let caps = q.caps_owned();
                let ok = caps.is_fixed()
                    && caps.can_intersect(&self.sinkpad.pad_template_caps())
                    && gst_video::VideoInfo::from_caps(&caps)
                        .is_ok_and(|i| FORMATS.contains(&i.format()));
                q.set_result(ok);
                true
            }
            // Output buffers are another size: upstream's allocation is its own business.
            gst::QueryViewMut::Allocation(_) => false,
            _ => self.srcpad.peer_query(query),
        }
    }

    fn src_query(&self, query: &mut gst::QueryRef) -> bool {
        match query.view_mut() {
            gst::QueryViewMut::Caps(q) => {
                let caps = self.src_caps(q.filter());
                q.set_result(&caps);
                true
            }
            _ => self.sinkpad.peer_query(query),
        }
    }

    fn src_event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Reconfigure(_) => {
                self.srcpad.mark_reconfigure();
                self.sinkpad.push_event(event)
            }
            // As `GstBaseTransform`: a frame due before timestamp + diff would be late too.
            gst::EventView::Qos(q) => {
                let (_, proportion, diff, timestamp) = q.get();
                let mut qos = lock(&self.qos);
                qos.proportion = proportion;
                qos.earliest = timestamp.map(|t| (t.nseconds() as i64 + diff).max(0) as u64);
                drop(qos);
                self.sinkpad.push_event(event)
            }
            _ => self.sinkpad.push_event(event),
        }
    }

    // ---------------------------------------------------------------- patch path

    fn patch_chain(&self, buffer: gst::Buffer) -> Result<gst::FlowSuccess, gst::FlowError> {
        let map = match buffer.map_readable() {
            Ok(m) => m,
            Err(_) => {
                self.malformed("unreadable buffer");
                return Ok(gst::FlowSuccess::Ok);
            }
        };
        // Every byte that arrived took its share of the uplink, usable or not.
        lock(&self.advice).record_received(map.len() as u64 * 8);
        let limits = lv_livenas::wire::Limits::default();
        let msg = match lv_livenas::wire::parse(&map, &limits) {
            Ok(m) => m,
            Err(e) => {
                self.malformed(&e.to_string());
                return Ok(gst::FlowSuccess::Ok);
            }
        };
        let batch = match msg {
            lv_livenas::wire::Message::Patches(b) => b,
            lv_livenas::wire::Message::Feedback(_) => {
                gst::debug!(CAT, imp = self, "feedback message on patch_sink ignored");
                return Ok(gst::FlowSuccess::Ok);
            }
        };
        let raw = batch.pts.or(buffer.pts().map(|t| t.nseconds()));
        let seg = lock(&self.patch_segment).clone();
        let pts = raw.and_then(|p| match &seg {
            Some(seg) => seg
                .to_running_time(gst::ClockTime::from_nseconds(p))
                .map(|r| r.nseconds()),
            None => Some(p),
        });
        self.check_patch_size(batch.frame_width, batch.frame_height);
        let admitted = self.admit_patches(pts, &batch);
        let mut decoded = Vec::with_capacity(admitted);
        let mut bad = 0u64;
        for p in &batch.patches[..admitted] {
            match lv_livenas::wire::decode_patch_luma(batch.codec, p.payload, batch.patch_size) {
                Ok(luma) => decoded.push((p.cell_x as usize, p.cell_y as usize, luma)),
                Err(e) => {
                    bad += 1;
                    gst::warning!(CAT, imp = self, "patch payload dropped: {e}");
                }
            }
        }
        self.online()
            .push_patches(PatchInput {
                pts,
                frame_w: batch.frame_width as usize,
                frame_h: batch.frame_height as usize,
                size: batch.patch_size as usize,
                patches: decoded,
                bad_payloads: bad,
                over_budget: (batch.patches.len() - admitted) as u64,
            })
            .map_err(|e| self.interrupted(e))?;
        if pts.is_none() {
            gst::debug!(CAT, imp = self, "patches without a timestamp dropped");
        }
        Ok(gst::FlowSuccess::Ok)
    }

    /// Patches are cut from the streamer's picture at the size srenhance outputs; any other
    /// size cannot be paired (the trainer counts them in `dropped-size`). Said once, when
    /// [`MISMATCHED_MESSAGES`] messages in a row have it: the few in flight across a
    /// resolution change are not worth a warning.
    fn check_patch_size(&self, fw: u32, fh: u32) {
        let out = self.out_size.load(Ordering::SeqCst);
        let (ow, oh) = ((out >> 32) as u32, out as u32);
        if out == 0 || (fw, fh) == (ow, oh) {
            self.mismatched_run.store(0, Ordering::SeqCst);
            return;
        }
        let run = self.mismatched_run.fetch_add(1, Ordering::SeqCst) + 1;
        if run >= MISMATCHED_MESSAGES && !self.warned_patch_size.swap(true, Ordering::SeqCst) {
            gst::element_imp_warning!(
                self,
                gst::StreamError::Format,
                (
                    "Patches are cut from a {}x{} picture but srenhance outputs {}x{}: they are dropped and nothing is learned",
                    fw, fh, ow, oh
                ),
                ["set srenhance's output caps to the size of the video srpatch saw (stats: dropped-size)"]
            );
        }
    }

    /// How many of a message's patches are decoded: all, unless patches arrive faster than
    /// any streamer sends them (`lv_livenas::budget`); the first time, a warning.
    fn admit_patches(&self, pts: Option<u64>, batch: &lv_livenas::wire::PatchBatch) -> usize {
        let n = batch.patches.len();
        let Some(pts) = pts else { return n };
        let named = batch.frame_width as usize * batch.frame_height as usize;
        let out = self.out_size.load(Ordering::SeqCst);
        let output = (out >> 32) as usize * (out as u32 as usize);
        // The output's size once known: a message cannot buy itself a larger budget by
        // naming a larger picture.
        let picture = if out == 0 { named } else { output };
        let area = batch.patch_size as u64 * batch.patch_size as u64;
        let admitted = lock(&self.budget).admit(pts, n, area, picture as u64);
        if admitted < n && !self.warned_flood.swap(true, Ordering::SeqCst) {
            gst::element_imp_warning!(
                self,
                gst::StreamError::Demux,
                (
                    "Patches arrive faster than a streamer sends them (more than {} frames' area per second of stream time): the excess is dropped",
                    lv_livenas::budget::FRAMES_PER_SECOND
                ),
                ["a replayed or forged patch stream; counted in stats' dropped-overflow"]
            );
        }
        admitted
    }

    fn malformed(&self, why: &str) {
        let n = self.online().count_malformed();
        gst::warning!(
            CAT,
            imp = self,
            "malformed patch buffer dropped ({n} so far): {why}"
        );
        if n == 1 || n.is_power_of_two() {
            gst::element_imp_warning!(
                self,
                gst::StreamError::Decode,
                ["srenhance: malformed patch buffer dropped ({n} so far): {why}"]
            );
        }
    }

    fn patch_event(&self, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Eos(_) => {
                self.online().patch_eos();
                true
            }
            gst::EventView::FlushStop(_) => {
                self.online().patch_flush_stop();
                // The seconds after a seek may be seconds already counted.
                lock(&self.budget).reset();
                true
            }
            gst::EventView::Segment(e) => {
                let seg = e.segment().downcast_ref::<gst::ClockTime>().cloned();
                *lock(&self.patch_segment) = seg;
                true
            }
            gst::EventView::StreamStart(_) => {
                self.online().patch_stream_start();
                true
            }
            // srpatch sends a GAP for each frame without patches: the patch stream has
            // reached that time, so a non-live epoch boundary before it need not wait for
            // patches that will never come (`online::PATCH_WAIT` would stall the stream, and patches
            // arriving after the wait would make the run depend on thread timing).
            gst::EventView::Gap(g) => {
                let (ts, dur) = g.get();
                let end = ts + dur.unwrap_or(gst::ClockTime::ZERO);
                let pos = match &*lock(&self.patch_segment) {
                    Some(seg) => seg.to_running_time(end).map(|r| r.nseconds()),
                    None => Some(end.nseconds()),
                };
                if let Some(pos) = pos {
                    self.online().patch_position(pos);
                }
                true
            }
            // Caps, segment and the rest concern only this pad.
            _ => true,
        }
    }

    // ---------------------------------------------------------------- trainer thread

    fn online(&self) -> OnlineTrainer {
        lock(&self.online).clone()
    }

    fn online_config(
        settings: &Settings,
        fault: Option<Fault>,
        prior_filter: Option<Arc<Filter>>,
    ) -> OnlineConfig {
        OnlineConfig {
            trainer: TrainerConfig {
                learning_rate: settings.learning_rate as f32,
                batch_size: settings.batch_size.max(1) as usize,
                capacity: settings.max_patches.max(1) as usize,
                recent: settings.recent_patches as usize,
                recent_weight: settings.recent_weight,
                seed: settings.seed,
                adapt: settings.adapt.into(),
                loss: settings.loss.into(),
                post_filter: settings.post_filter && settings.serve_best,
                ..TrainerConfig::default()
            },
            params: settings.params,
            adaptive: settings.adaptive,
            serve_best: settings.serve_best,
            epoch_ns: settings.epoch_duration,
            steps_per_second: settings.train_steps_per_second,
            save_path: settings.save_model.clone(),
            fault,
            engine: Self::training_engine(settings.backend),
            prior_filter,
        }
    }

    /// With `backend` cuda or auto and a usable GPU (or the emulation in tests), the training
    /// steps' forward and backward passes run on the kernels too; a step they fail runs on the
    /// CPU. Without one, the CPU (the network's own fallback is what the log reports).
    fn training_engine(backend: Backend) -> Option<Arc<dyn lv_train::BatchEngine>> {
        if backend == Backend::Cpu {
            return None;
        }
        let exec = lv_gpu::select::shared_executor().ok()?;
        gst::info!(CAT, "training steps run on {}", exec.name());
        Some(Arc::new(lv_gpu::train::KernelEngine::new(exec)))
    }

    /// See [`TEST_PANIC_AT_EPOCH`].
    fn injected_fault(&self) -> Option<Fault> {
        // SAFETY: only this crate's tests write this key, always with a `u64`; the value
        // lives as long as the object, which outlives this call.
        let epoch = unsafe {
            self.obj()
                .data::<u64>(TEST_PANIC_AT_EPOCH)
                .map(|p| *p.as_ref())
        };
        epoch.map(Fault::PanicAtEpoch)
    }

    fn save_now(&self) {
        let want = lock(&self.settings).save_model.is_some();
        let running = lock(&self.trainer_thread).is_some();
        if want && running {
            self.online().save(SAVE_WAIT);
        }
    }

    fn start_trainer(&self, net: lv_train::RefineNet) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        let online = self.online();
        let nice = settings.trainer_nice;
        let mut host = ElementHost {
            element: self.obj().downgrade(),
            network: self.network.clone(),
            settings,
        };
        let handle = std::thread::Builder::new()
            .name("srenhance-train".into())
            .spawn(move || {
                lower_priority(nice);
                // The trainer's own pool (its batch runs in parallel on it), at the same low
                // priority, so training never takes cores from the streaming thread and the
                // inference pool in a live pipeline.
                let pool = rayon::ThreadPoolBuilder::new()
                    .thread_name(|i| format!("srenhance-train-{i}"))
                    .start_handler(move |_| lower_priority(nice))
                    .build()
                    .ok();
                // Worker::run catches its own panics (and the host's): this thread always
                // ends normally, and whoever waits for it is told.
                let worker = online.worker(net);
                match &pool {
                    Some(p) => p.install(|| worker.run(&mut host)),
                    None => worker.run(&mut host),
                }
            })
            .map_err(|e| {
                gst::error_msg!(
                    gst::CoreError::Thread,
                    ["srenhance: cannot start the trainer thread: {e}"]
                )
            })?;
        *lock(&self.trainer_thread) = Some(handle);
        Ok(())
    }

    fn stop_trainer(&self) {
        self.online().stop();
        let handle = lock(&self.trainer_thread).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    fn stats(&self) -> gst::Structure {
        let online = self.online();
        let s = online.stats();
        let generation = lock(&self.network).generation;
        gst::Structure::builder("srenhance-stats")
            .field("patch-buffers", s.patch_buffers)
            .field("malformed-buffers", s.malformed)
            .field("patches", s.patches)
            .field("bad-payloads", s.bad_payloads)
            .field("dropped-no-frame", s.dropped_no_frame)
            .field("dropped-size", s.dropped_size)
            .field("dropped-overflow", s.dropped_overflow)
            .field("dropped-not-training", s.dropped_not_training)
            .field("frames-skipped", s.frames_skipped)
            .field("pairs", s.pairs)
            .field("epochs", s.epochs)
            .field("train-steps", s.train_steps)
            .field("gpu-step-failures", s.engine_failures)
            .field("generation", generation)
            .field(
                "state",
                match s.state {
                    Some(st) if online.enabled() => st.as_str(),
                    _ => "off",
                },
            )
            .build()
    }
}

#[glib::object_subclass]
impl ObjectSubclass for Srenhance {
    const NAME: &'static str = "GstSrenhance";
    type Type = super::Srenhance;
    type ParentType = gst::Element;

    fn with_class(klass: &Self::Class) -> Self {
        let sinkpad = gst::Pad::builder_from_template(&klass.pad_template("sink").unwrap())
            .chain_function(|pad, parent, buffer| {
                Srenhance::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |imp| imp.sink_chain(buffer),
                )
                .inspect_err(|e| {
                    gst::debug!(CAT, obj = pad, "sink chain: {e:?}");
                })
            })
            .event_function(|_pad, parent, event| {
                Srenhance::catch_panic_pad_function(parent, || false, |imp| imp.sink_event(event))
            })
            .query_function(|_pad, parent, query| {
                Srenhance::catch_panic_pad_function(parent, || false, |imp| imp.sink_query(query))
            })
            .iterate_internal_links_function(|_pad, parent| {
                Srenhance::catch_panic_pad_function(
                    parent,
                    || gst::Iterator::from_vec(vec![]),
                    |imp| gst::Iterator::from_vec(vec![imp.srcpad.clone()]),
                )
            })
            .build();
        let patchpad = gst::Pad::builder_from_template(&klass.pad_template("patch_sink").unwrap())
            .chain_function(|_pad, parent, buffer| {
                Srenhance::catch_panic_pad_function(
                    parent,
                    || Err(gst::FlowError::Error),
                    |imp| imp.patch_chain(buffer),
                )
            })
            .event_function(|_pad, parent, event| {
                Srenhance::catch_panic_pad_function(parent, || false, |imp| imp.patch_event(event))
            })
            .query_function(|pad, _parent, query| match query.view_mut() {
                gst::QueryViewMut::Caps(q) => {
                    let templ = pad.pad_template_caps();
                    let caps = match q.filter() {
                        Some(f) => f.intersect_with_mode(&templ, gst::CapsIntersectMode::First),
                        None => templ,
                    };
                    q.set_result(&caps);
                    true
                }
                gst::QueryViewMut::AcceptCaps(q) => {
                    let ok = q.caps().can_intersect(&pad.pad_template_caps());
                    q.set_result(ok);
                    true
                }
                _ => false,
            })
            .iterate_internal_links_function(|_pad, _parent| gst::Iterator::from_vec(vec![]))
            .build();
        let srcpad = gst::Pad::builder_from_template(&klass.pad_template("src").unwrap())
            .event_function(|_pad, parent, event| {
                Srenhance::catch_panic_pad_function(parent, || false, |imp| imp.src_event(event))
            })
            .query_function(|_pad, parent, query| {
                Srenhance::catch_panic_pad_function(parent, || false, |imp| imp.src_query(query))
            })
            .iterate_internal_links_function(|_pad, parent| {
                Srenhance::catch_panic_pad_function(
                    parent,
                    || gst::Iterator::from_vec(vec![]),
                    |imp| gst::Iterator::from_vec(vec![imp.sinkpad.clone()]),
                )
            })
            .build();
        Srenhance {
            sinkpad,
            patchpad,
            srcpad,
            settings: Mutex::new(Settings::default()),
            state: Mutex::new(State::default()),
            online: Mutex::new(OnlineTrainer::new(OnlineConfig::default())),
            network: Arc::new(Mutex::new(Network::default())),
            patch_segment: Mutex::new(None),
            trainer_thread: Mutex::new(None),
            failure_posted: AtomicBool::new(false),
            warned_patch_size: AtomicBool::new(false),
            mismatched_run: AtomicU64::new(0),
            warned_untimed: AtomicBool::new(false),
            out_size: AtomicU64::new(0),
            budget: Mutex::new(PatchBudget::default()),
            warned_flood: AtomicBool::new(false),
            qos: Mutex::new(Qos::default()),
            advice: Mutex::new(PatchRateAdvisor::default()),
        }
    }
}

impl ObjectImpl for Srenhance {
    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        obj.add_pad(&self.sinkpad).unwrap();
        obj.add_pad(&self.patchpad).unwrap();
        obj.add_pad(&self.srcpad).unwrap();
    }

    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(settings::param_specs);
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        if lv_gst::element::refuse_while_running(&*self.obj(), *CAT, pspec) {
            return;
        }
        let mut s = lock(&self.settings);
        s.set(pspec.name(), value);
        if pspec.name() == "training" {
            let on = s.training;
            drop(s);
            self.set_training(on);
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        match pspec.name() {
            "stats" => self.stats().to_value(),
            "backend-in-use" => lock(&self.state).backend_in_use.to_value(),
            name => lock(&self.settings).get(name),
        }
    }
}

impl GstObjectImpl for Srenhance {}

impl ElementImpl for Srenhance {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Online-trained super-resolution",
                "Filter/Converter/Video/Scaler",
                "Upscales decoded video to the size downstream asks for (luma: bicubic then a \
                 small network, chroma: bicubic) and trains the network online from \
                 high-quality patches sent by the streamer (LiveNAS)",
                "learned-video-gst developers",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = gst_video::VideoCapsBuilder::new()
                .format_list(FORMATS.iter().copied())
                .build();
            let patch_caps = gst::Caps::new_empty_simple(lv_livenas::wire::CAPS_MEDIA_TYPE);
            vec![
                gst::PadTemplate::new(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &caps,
                )
                .unwrap(),
                gst::PadTemplate::new(
                    "sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &caps,
                )
                .unwrap(),
                gst::PadTemplate::new(
                    "patch_sink",
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &patch_caps,
                )
                .unwrap(),
            ]
        });
        TEMPLATES.as_ref()
    }

    fn change_state(
        &self,
        transition: gst::StateChange,
    ) -> Result<gst::StateChangeSuccess, gst::StateChangeError> {
        match transition {
            gst::StateChange::ReadyToPaused => {
                let settings = lock(&self.settings).clone();
                let (model, bytes) = match Self::load_model(&settings) {
                    Ok(m) => m,
                    Err(e) => {
                        self.post_error_message(e);
                        return Err(gst::StateChangeError);
                    }
                };
                gst::info!(
                    CAT,
                    imp = self,
                    "model {}: {:?}",
                    settings
                        .model
                        .as_deref()
                        .unwrap_or("(embedded generic model)"),
                    model.info()
                );
                let post_filter = match Self::load_post_filter(&settings) {
                    Ok(f) => f,
                    Err(e) => {
                        self.post_error_message(e);
                        return Err(gst::StateChangeError);
                    }
                };
                *lock(&self.network) = Network {
                    initial: Some(model.clone()),
                    model: Some(model),
                    filter: post_filter.clone(),
                    initial_filter: post_filter.clone(),
                    ..Network::default()
                };
                *lock(&self.online) = OnlineTrainer::new(Self::online_config(
                    &settings,
                    self.injected_fault(),
                    post_filter,
                ));
                *lock(&self.patch_segment) = None;
                self.failure_posted.store(false, Ordering::SeqCst);
                self.warned_patch_size.store(false, Ordering::SeqCst);
                self.mismatched_run.store(0, Ordering::SeqCst);
                self.warned_untimed.store(false, Ordering::SeqCst);
                self.out_size.store(0, Ordering::SeqCst);
                lock(&self.budget).reset();
                self.warned_flood.store(false, Ordering::SeqCst);
                *lock(&self.state) = State::default();
                *lock(&self.qos) = Qos::default();
                *lock(&self.advice) = PatchRateAdvisor::default();
                if let Some(path) = &settings.save_model {
                    if let Err(e) = Self::check_save_path(path) {
                        self.post_error_message(e);
                        return Err(gst::StateChangeError);
                    }
                }
                // The trainer starts whenever the model can be trained, so that `training`
                // can be switched on while playing; with training=false it waits.
                let started = match lv_graph::onnx::import(&bytes) {
                    Ok(net) => self.start_trainer(net),
                    Err(e) if settings.training => Err(gst::error_msg!(
                        gst::ResourceError::OpenRead,
                        ["srenhance: the model loads for inference but cannot be \
                             trained ({e}); set training=false to use it as is"]
                    )),
                    Err(e) => {
                        gst::info!(CAT, imp = self, "model cannot be trained ({e}): no trainer");
                        Ok(())
                    }
                };
                if let Err(e) = started {
                    self.post_error_message(e);
                    return Err(gst::StateChangeError);
                }
                self.online()
                    .set_enabled(lock(&self.settings).training && self.trainer_running());
            }
            gst::StateChange::PausedToReady => {
                // Unblock a streaming thread waiting for an epoch before the pads deactivate.
                self.online().flush_start();
            }
            _ => {}
        }
        let ret = self.parent_change_state(transition)?;
        if transition == gst::StateChange::PausedToReady {
            let eos = lock(&self.state).eos;
            if !eos {
                self.save_now();
            }
            self.stop_trainer();
            *lock(&self.state) = State::default();
        }
        Ok(ret)
    }
}
