// SPDX-License-Identifier: MPL-2.0

//! The `vqmeter` element: a video aggregator with a reference and a distorted input that
//! passes the distorted stream through and measures every pair.
//!
//! Everything numeric lives in `lvcore::metrics`; this file maps caps and frames to plane
//! views, and scores to messages and files.

use super::messages::{FrameMessage, PooledMessage};
use super::pairing::{Paired, Pairer, Timed};
use super::results_file::ResultsFile;
use super::settings::{self, Settings};
use super::{Backend, PoolMethod, ResultsFormat, Threading};
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;
use gst_video::subclass::AggregateFramesToken;
use gst_video::VideoFormat;
use lv_gpu::features::GpuFeatures;
use lv_gst::sync::lock;
use lv_image::nv12;
use lv_image::plane::Plane;
use lv_metrics::accel::Accelerator;
use lv_metrics::frames::AnyMeter;
use lv_metrics::meter::{FrameScores, MeterConfig};
use lv_metrics::model::VmafModel;
use lv_metrics::report::Collector;
use std::collections::VecDeque;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "vqmeter",
        gst::DebugColorFlags::empty(),
        Some("Video quality meter"),
    )
});

/// Frames kept per input while the other input is late: two seconds at 30 fps. Beyond, the
/// late input is not coming back in time and its frames are reported unpaired.
const MAX_WAITING_FRAMES: usize = 64;

/// How long a non-live pipeline may feed one input while the other has no peer before that
/// is an error: the aggregator waits for every pad, so it would wait forever. Long enough for
/// an application that links its second input from a `pad-added` callback.
const UNLINKED_GRACE: gst::ClockTime = gst::ClockTime::from_seconds(5);

const UNTIMED_REF: u8 = 1;
const UNTIMED_DIST: u8 = 2;

const FORMATS: &[VideoFormat] = &[
    VideoFormat::I420,
    VideoFormat::Nv12,
    VideoFormat::Y42b,
    VideoFormat::Y444,
    VideoFormat::Gray8,
    VideoFormat::I42010le,
    VideoFormat::I42210le,
    VideoFormat::Y44410le,
    VideoFormat::I42012le,
    VideoFormat::I42212le,
    VideoFormat::Y44412le,
];

/// Timing of a frame whose scores are not final yet.
#[derive(Clone, Copy)]
struct FrameTimes {
    index: u64,
    pts: Option<gst::ClockTime>,
    running_time: Option<gst::ClockTime>,
}

/// Picture layout a meter was made for; a change mid-stream starts a new meter.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Layout {
    format: VideoFormat,
    width: u32,
    height: u32,
}

/// A frame of an input as it came, kept until its pair is complete.
struct Frame {
    buffer: gst::Buffer,
    info: gst_video::VideoInfo,
    pts: Option<gst::ClockTime>,
    running_time: Option<gst::ClockTime>,
}

impl Frame {
    /// The frame with when it is shown, to be paired by that.
    fn timed<F>(self, wrap: impl FnOnce(Frame) -> F) -> Option<Timed<F>> {
        let start = self.running_time.or(self.pts)?.nseconds();
        let duration = self.buffer.duration().map(|d| d.nseconds());
        Some(Timed {
            start,
            duration,
            frame: wrap(self),
        })
    }
}

/// A distorted frame and its place in the measurement.
struct DistFrame {
    index: u64,
    frame: Frame,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Input {
    Reference,
    Distorted,
}

/// The caps an input's next frames have: those of the last caps event handled in stream
/// order (a pad's current caps may already be those of a caps event still queued).
#[derive(Clone)]
struct InputCaps {
    caps: gst::Caps,
    info: gst_video::VideoInfo,
    /// Counts the caps events of the input, to tell older caps from newer.
    generation: u64,
}

/// Frames as the aggregator takes them off the inputs' queues, to be measured and passed on
/// from `aggregate`. Every frame is taken off once, whether the video aggregator uses it for
/// an output slot, replaces it by a newer one first, or skips it as late.
///
/// Filled from the pads' buffer-consumed signal, which comes with the aggregator's and the
/// pad's locks held: nothing is done there but queueing, under this lock only.
#[derive(Default)]
struct Intake {
    ref_caps: Option<InputCaps>,
    dist_caps: Option<InputCaps>,
    frames: VecDeque<Consumed>,
}

struct Consumed {
    input: Input,
    frame: Frame,
    caps: gst::Caps,
    generation: u64,
}

/// A distorted frame to pass downstream, once the source pad has its caps.
struct Output {
    buffer: gst::Buffer,
    caps: gst::Caps,
    generation: u64,
}

struct State {
    settings: Settings,
    models: Vec<VmafModel>,
    /// The caps negotiated on the source pad, and the generation of the distorted input's
    /// caps they are.
    src_caps: Option<(gst::Caps, u64)>,
    pairer: Pairer<Frame, DistFrame>,
    outputs: VecDeque<Output>,
    meter: Option<(Layout, AnyMeter)>,
    times: VecDeque<FrameTimes>,
    next_index: u64,
    stream: Option<Collector>,
    segment: Option<Collector>,
    segment_index: u64,
    segment_origin: Option<gst::ClockTime>,
    segment_start: Option<gst::ClockTime>,
    first_time: Option<gst::ClockTime>,
    last_time: Option<gst::ClockTime>,
    writer: Option<ResultsFile>,
    unpaired: u64,
    warned_unpaired: bool,
    finished: bool,
    /// Deinterleaved NV12 chroma, reused across frames.
    scratch: [Vec<u8>; 4],
    scratch16: [Vec<u16>; 6],
    /// The kernels the current meter hands VIF and ADM to (`backend` cuda or auto, with a GPU).
    gpu: Option<Arc<GpuFeatures>>,
    /// `backend-in-use`: "cpu" or "cuda" once a meter exists, "" before.
    backend_in_use: &'static str,
    /// Kernel failures already reported (their frames were measured on the CPU).
    gpu_failures_logged: u64,
}

impl Default for State {
    fn default() -> Self {
        State {
            settings: Settings::default(),
            models: Vec::new(),
            src_caps: None,
            pairer: Pairer::new(MAX_WAITING_FRAMES),
            outputs: VecDeque::new(),
            meter: None,
            times: VecDeque::new(),
            next_index: 0,
            stream: None,
            segment: None,
            segment_index: 0,
            segment_origin: None,
            segment_start: None,
            first_time: None,
            last_time: None,
            writer: None,
            unpaired: 0,
            warned_unpaired: false,
            finished: false,
            scratch: Default::default(),
            scratch16: Default::default(),
            gpu: None,
            backend_in_use: "",
            gpu_failures_logged: 0,
        }
    }
}

impl State {
    /// A new measurement with the same settings and caps (a flush keeps them); what the
    /// previous one had is dropped, its results file included.
    fn restart(&mut self) {
        *self = State {
            settings: std::mem::take(&mut self.settings),
            models: std::mem::take(&mut self.models),
            src_caps: self.src_caps.take(),
            ..State::default()
        };
    }
}

pub struct Vqmeter {
    settings: Mutex<Settings>,
    state: Mutex<State>,
    /// Set from a flush's start to its end: what is measured meanwhile belongs to the range
    /// the flush abandons and is not reported.
    flushing: AtomicBool,
    intake: Mutex<Intake>,
    ref_pad: gst_video::VideoAggregatorPad,
    dist_pad: gst_video::VideoAggregatorPad,
    unlinked_watch: Mutex<Option<gst::SingleShotClockId>>,
    /// The first input seen with a frame without a timestamp (`UNTIMED_REF`/`UNTIMED_DIST`;
    /// 0: none).
    untimed: AtomicU8,
}

fn load_models(spec: &str) -> Result<Vec<VmafModel>, String> {
    let mut models = Vec::new();
    for (i, item) in spec
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .enumerate()
    {
        let mut m = match VmafModel::builtin(item) {
            Some(m) => m,
            None => {
                let p = Path::new(item);
                if !p.exists() {
                    return Err(format!(
                        "VMAF model '{item}' is neither a built-in model (vmaf_v0.6.1, vmaf_v0.6.1neg, vmaf_4k_v0.6.1, vmaf_float_v0.6.1, vmaf_float_v0.6.1neg) nor an existing file"
                    ));
                }
                VmafModel::from_path(p)
                    .map_err(|e| format!("cannot load VMAF model {item}: {e}"))?
            }
        };
        // libvmaf calls a lone model's score "vmaf"; further models keep their own names: a
        // built-in's as given, a file's without ".json" (not `file_stem`, which would cut
        // "vmaf_v0.6.1neg" to "vmaf_v0.6").
        m.name = if i == 0 {
            "vmaf".to_string()
        } else if VmafModel::builtin(item).is_some() {
            item.to_string()
        } else {
            let file = Path::new(item)
                .file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| item.to_string());
            file.strip_suffix(".json")
                .map(str::to_string)
                .unwrap_or(file)
        };
        models.push(m);
    }
    Ok(models)
}

impl Vqmeter {
    /// Armed by the first stream on either input: see [`UNLINKED_GRACE`].
    fn watch_for_unlinked_input(&self) {
        let mut watch = lock(&self.unlinked_watch);
        if watch.is_some() {
            return;
        }
        let clock = gst::SystemClock::obtain();
        let now = clock.time();
        let id = clock.new_single_shot_id(now + UNLINKED_GRACE);
        let weak = self.obj().downgrade();
        let armed = id.wait_async(move |_, _, _| {
            if let Some(obj) = weak.upgrade() {
                obj.imp().fail_if_unlinked();
            }
        });
        if armed.is_ok() {
            *watch = Some(id);
        }
    }

    fn fail_if_unlinked(&self) {
        // Live: the aggregator's deadline moves the output on without the missing input.
        if self.obj().latency().is_some() {
            return;
        }
        let intake = lock(&self.intake);
        let inputs = [
            (&self.ref_pad, intake.ref_caps.is_some()),
            (&self.dist_pad, intake.dist_caps.is_some()),
        ];
        drop(intake);
        for (pad, seen) in inputs {
            if !seen && pad.peer().is_none() {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Pad,
                    (
                        "{} is not linked: vqmeter measures a distorted stream against a \
                         reference and needs both inputs",
                        pad.name()
                    ),
                    [
                        "nothing was linked to it within {} of the other input's start",
                        UNLINKED_GRACE
                    ]
                );
                return;
            }
        }
    }

    /// Says which input sent a frame without a timestamp (see `clip`).
    fn explain_untimed(&self) {
        let pad = match self.untimed.load(Ordering::SeqCst) {
            UNTIMED_REF => "ref_sink",
            UNTIMED_DIST => "dist_sink",
            _ => return,
        };
        gst::element_imp_error!(
            self,
            gst::StreamError::Format,
            (
                "{} received a frame without a timestamp: vqmeter pairs frames by timestamp",
                pad
            ),
            ["give the stream timestamps (e.g. a framerate for rawvideoparse)"]
        );
    }

    fn post(&self, s: gst::Structure) {
        if !self.flushing.load(Ordering::SeqCst) {
            let obj = self.obj();
            let _ = obj.post_message(gst::message::Element::builder(s).src(&*obj).build());
        }
    }

    fn post_frame(&self, state: &mut State, scores: FrameScores) {
        let times = loop {
            match state.times.pop_front() {
                Some(t) if t.index == scores.index => break Some(t),
                Some(_) => continue,
                None => break None,
            }
        };
        let names = state
            .meter
            .as_ref()
            .map(|(_, m)| m.metric_names().to_vec())
            .unwrap_or_default();
        if let Some(w) = state.writer.as_mut() {
            if let Err(e) = w.frame(scores.index, &scores.values) {
                gst::element_imp_warning!(
                    self,
                    gst::ResourceError::Write,
                    ("Cannot write results file: {}", e)
                );
                state.writer = None;
            }
        }
        let time = times.and_then(|t| t.running_time.or(t.pts));
        self.maybe_close_segment(state, time);
        if let Some(c) = state.stream.as_mut() {
            c.push(&scores.values);
        }
        if let Some(c) = state.segment.as_mut() {
            c.push(&scores.values);
        }
        if state.first_time.is_none() {
            state.first_time = time;
        }
        state.last_time = time;
        if state.settings.frame_message {
            let msg = FrameMessage {
                index: scores.index,
                pts: times.and_then(|t| t.pts),
                running_time: times.and_then(|t| t.running_time),
                scores: names.into_iter().zip(scores.values).collect(),
            };
            self.post(msg.into());
        }
    }

    fn pooled_message(
        &self,
        state: &State,
        c: &Collector,
        segment: Option<u64>,
        start: Option<gst::ClockTime>,
        end: Option<gst::ClockTime>,
    ) -> PooledMessage {
        let metrics = c.pooled();
        let score = state
            .models
            .first()
            .and_then(|m| metrics.iter().find(|(n, _)| *n == m.name))
            .map(|(_, s)| match state.settings.pool_method {
                PoolMethod::Min => s.min,
                PoolMethod::Mean => s.mean,
                PoolMethod::HarmonicMean => s.harmonic_mean,
            });
        PooledMessage {
            segment,
            start,
            end,
            frames: c.frames() as u64,
            unpaired_frames: state.unpaired,
            score,
            metrics,
        }
    }

    /// Posts the current segment's pooled scores when `time` lies past its end.
    fn maybe_close_segment(&self, state: &mut State, time: Option<gst::ClockTime>) {
        let (Some(dur), Some(t)) = (state.settings.segment_duration, time) else {
            return;
        };
        let origin = *state.segment_origin.get_or_insert(t);
        let k = (t.saturating_sub(origin).nseconds()) / dur.nseconds().max(1);
        if k > state.segment_index {
            self.close_segment(state, Some(origin + dur * state.segment_index + dur));
            state.segment_index = k;
        }
        if state.segment_start.is_none() {
            state.segment_start = Some(origin + dur * state.segment_index);
        }
    }

    fn close_segment(&self, state: &mut State, end: Option<gst::ClockTime>) {
        let Some(c) = state.segment.as_ref() else {
            return;
        };
        if c.frames() > 0 {
            let msg = self.pooled_message(
                state,
                c,
                Some(state.segment_index),
                state.segment_start,
                end,
            );
            self.post(msg.into());
        }
        if let Some(c) = state.segment.as_mut() {
            c.clear();
        }
        state.segment_start = None;
    }

    /// End of the measured stream: last frame, last segment, pooled message, results file.
    fn finish(&self) {
        let mut state = lock(&self.state);
        if state.finished {
            return;
        }
        state.finished = true;
        for p in state.pairer.drain() {
            match p {
                Paired::Pair(r, d) => {
                    if self.measure(&mut state, r, d).is_err() {
                        break;
                    }
                }
                Paired::Unpaired(d) => self.unpaired(&mut state, d.index),
            }
        }
        if self.finish_meter(&mut state).is_err() {
            return;
        }
        let end = state.last_time;
        self.close_segment(&mut state, end);
        let Some(stream) = state.stream.take() else {
            gst::warning!(
                CAT,
                imp = self,
                "stream ended before any frame pair was measured"
            );
            if let Some(path) = state.settings.results_filename.as_deref() {
                // A user who asked for a file should learn why there is none.
                gst::element_imp_warning!(
                    self,
                    gst::ResourceError::Write,
                    (
                        "No frame pair was measured, so the results file {} was not written",
                        path
                    )
                );
            }
            if state.next_index == 0 {
                return;
            }
            // Distorted frames came: the application learns how many went unmeasured.
            let msg = PooledMessage {
                segment: None,
                start: None,
                end: None,
                frames: 0,
                unpaired_frames: state.unpaired,
                score: None,
                metrics: Vec::new(),
            };
            drop(state);
            self.post(msg.into());
            return;
        };
        let msg = self.pooled_message(&state, &stream, None, state.first_time, end);
        if let Some(w) = state.writer.take() {
            if let Err(e) = w.commit(&msg.metrics) {
                gst::element_imp_warning!(
                    self,
                    gst::ResourceError::Write,
                    ("Cannot write results file: {}", e)
                );
            }
        }
        gst::info!(
            CAT,
            imp = self,
            "measured {} frames, pooled score {:?}",
            msg.frames,
            msg.score
        );
        drop(state);
        self.post(msg.into());
    }

    /// The kernels for `backend` (none for cpu, or when no GPU works), saying what it chose:
    /// `cuda` that cannot run is a warning, `auto`'s choice information.
    fn choose_backend(&self, backend: Backend) -> Option<Arc<GpuFeatures>> {
        if backend == Backend::Cpu {
            return None;
        }
        let nick = if backend == Backend::Cuda {
            "cuda"
        } else {
            "auto"
        };
        match lv_gpu::select::shared_executor() {
            Ok(exec) => {
                gst::info!(
                    CAT,
                    imp = self,
                    "backend={nick}: VMAF's integer VIF and ADM run on {}",
                    exec.name()
                );
                Some(Arc::new(GpuFeatures::new(exec)))
            }
            Err(why) if backend == Backend::Auto => {
                gst::info!(CAT, imp = self, "backend=auto picked the CPU: {why}");
                None
            }
            Err(why) => {
                gst::warning!(
                    CAT,
                    imp = self,
                    "CUDA backend unavailable ({why}); running on the CPU"
                );
                None
            }
        }
    }

    /// A kernel failure costs no frame (the CPU measures it), but is worth a warning.
    fn report_gpu_failures(&self, state: &mut State) {
        let Some(gpu) = &state.gpu else { return };
        let (n, last) = gpu.failures();
        if n > state.gpu_failures_logged {
            gst::warning!(
                CAT,
                imp = self,
                "{} VIF/ADM call(s) failed on {} and were measured on the CPU; last: {}",
                n - state.gpu_failures_logged,
                gpu.name(),
                last.unwrap_or_default()
            );
            state.gpu_failures_logged = n;
        }
    }

    fn new_meter(
        &self,
        state: &mut State,
        layout: Layout,
        info: &gst_video::VideoInfo,
    ) -> Result<(), gst::FlowError> {
        let s = &state.settings;
        let finfo = info.format_info();
        let cfg = MeterConfig {
            width: info.width() as usize,
            height: info.height() as usize,
            bpc: finfo.depth()[0],
            chroma: lv_gst::frame::chroma(&finfo),
            models: state.models.clone(),
            psnr: s.psnr,
            ssim: s.ssim,
            ms_ssim: s.ms_ssim,
            cambi: s.cambi.meter_options().unwrap_or_default(),
            threads: lv_gst::element::worker_threads(s.threads),
            accel: None,
        };
        let gpu = self.choose_backend(s.backend);
        state.backend_in_use = if gpu.is_some() { "cuda" } else { "cpu" };
        let cfg = MeterConfig {
            accel: gpu.clone().map(|g| g as Arc<dyn Accelerator>),
            ..cfg
        };
        state.gpu = gpu;
        // Measuring several frames at once holds a frame's scores back by up to threads+1
        // frames, so it is the default only where nothing waits for them in real time.
        let frames = match s.threading {
            Threading::Frames => true,
            Threading::Extractors => false,
            Threading::Auto => self.obj().latency().is_none(),
        };
        let meter = AnyMeter::new(cfg, frames).map_err(|e| {
            gst::element_imp_error!(
                self,
                gst::StreamError::Format,
                (
                    "Cannot measure {}x{} {:?}: {}",
                    layout.width,
                    layout.height,
                    layout.format,
                    e
                )
            );
            gst::FlowError::NotNegotiated
        })?;
        gst::info!(
            CAT,
            imp = self,
            "measuring {}x{} {:?}: {} (scores at most {} frame(s) late)",
            layout.width,
            layout.height,
            layout.format,
            if frames {
                "several frames at once"
            } else {
                "one frame at a time"
            },
            meter.max_delay()
        );
        let names = meter.metric_names().to_vec();
        if state.stream.is_none() {
            state.stream = Some(Collector::new(&names));
            if s.segment_duration.is_some() {
                state.segment = Some(Collector::new(&names));
            }
            if let Some(path) = s.results_filename.clone() {
                let format = match s.results_format {
                    ResultsFormat::Json => lv_metrics::report::ResultsFormat::Json,
                    ResultsFormat::Csv => lv_metrics::report::ResultsFormat::Csv,
                    ResultsFormat::Xml => lv_metrics::report::ResultsFormat::Xml,
                };
                let version = concat!("vqmeter ", env!("CARGO_PKG_VERSION"));
                match ResultsFile::create(Path::new(&path), format, &names, version) {
                    Ok(w) => state.writer = Some(w),
                    Err(e) => {
                        gst::element_imp_error!(
                            self,
                            gst::ResourceError::OpenWrite,
                            ("Cannot create results file {}: {}", path, e)
                        );
                        return Err(gst::FlowError::Error);
                    }
                }
            }
        } else if state
            .stream
            .as_ref()
            .map(|c| c.names() != names.as_slice())
            .unwrap_or(false)
        {
            gst::element_imp_error!(
                self,
                gst::StreamError::Format,
                ("Metric set changed mid-stream ({:?})", layout)
            );
            return Err(gst::FlowError::NotNegotiated);
        }
        state.meter = Some((layout, meter));
        Ok(())
    }

    fn check_compatible(
        &self,
        r: &gst_video::VideoInfo,
        d: &gst_video::VideoInfo,
    ) -> Result<(), gst::FlowError> {
        if r.format() != d.format() || r.width() != d.width() || r.height() != d.height() {
            let mut fix = Vec::new();
            let mut caps = vec![format!("video/x-raw,format={}", r.format().to_str())];
            if r.width() != d.width() || r.height() != d.height() {
                fix.push("videoscale");
                caps.push(format!("width={},height={}", r.width(), r.height()));
            }
            if r.format() != d.format() {
                fix.push("videoconvert");
            }
            // A converter alone does not settle the format when both inputs could take any:
            // the caps filter pins the reference's.
            let chain = format!("{} ! {}", fix.join(" ! "), caps.join(","));
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                (
                    "Reference and distorted inputs differ in {}: insert {} before dist_sink",
                    if fix.len() == 2 { "size and format" } else if fix[0] == "videoscale" { "size" } else { "format" },
                    chain
                ),
                [
                    "ref_sink has {}x{} {:?}, dist_sink has {}x{} {:?}: insert {} before dist_sink (or the same for ref_sink) so both carry the same size and format",
                    r.width(), r.height(), r.format(), d.width(), d.height(), d.format(), chain
                ]
            );
            return Err(gst::FlowError::NotNegotiated);
        }
        Ok(())
    }

    /// A buffer the aggregator took off an input's queue (buffer-consumed signal).
    fn consumed(&self, pad: &gst_base::AggregatorPad, buffer: &gst::Buffer) {
        if buffer.size() == 0 && buffer.flags().contains(gst::BufferFlags::GAP) {
            return;
        }
        let input = if pad == self.ref_pad.upcast_ref::<gst_base::AggregatorPad>() {
            Input::Reference
        } else {
            Input::Distorted
        };
        let pts = buffer.pts();
        // The pad's segment is the buffer's: later events are still queued behind it.
        let running_time = pad
            .segment()
            .downcast::<gst::ClockTime>()
            .ok()
            .and_then(|seg| pts.and_then(|p| seg.to_running_time(p)));
        let mut intake = lock(&self.intake);
        let caps = match input {
            Input::Reference => intake.ref_caps.as_ref(),
            Input::Distorted => intake.dist_caps.as_ref(),
        };
        let Some(caps) = caps else {
            return;
        };
        let consumed = Consumed {
            input,
            frame: Frame {
                buffer: buffer.clone(),
                info: caps.info.clone(),
                pts,
                running_time,
            },
            caps: caps.caps.clone(),
            generation: caps.generation,
        };
        intake.frames.push_back(consumed);
    }

    /// Takes the frames the aggregator consumed since the last call and measures the pairs
    /// that are complete.
    fn intake(&self) -> Result<(), gst::FlowError> {
        let frames = std::mem::take(&mut lock(&self.intake).frames);
        let mut guard = lock(&self.state);
        let state = &mut *guard;
        for Consumed {
            input,
            frame,
            caps,
            generation,
        } in frames
        {
            match input {
                Input::Reference => {
                    if let Some(t) = frame.timed(|r| r) {
                        if state.pairer.push_ref(t) > 0 {
                            gst::debug!(
                                CAT,
                                imp = self,
                                "reference frame dropped: no distorted frame came for it in time"
                            );
                        }
                    }
                }
                Input::Distorted => {
                    state.outputs.push_back(Output {
                        buffer: frame.buffer.clone(),
                        caps,
                        generation,
                    });
                    let index = state.next_index;
                    state.next_index += 1;
                    match frame.timed(|frame| DistFrame { index, frame }) {
                        Some(t) => state.pairer.push_dist(t),
                        None => self.unpaired(state, index),
                    }
                }
            }
        }
        // The aggregator marks a pad EOS once it has taken its last buffer.
        if self.ref_pad.is_eos() {
            state.pairer.end_ref();
        }
        while let Some(p) = state.pairer.next() {
            match p {
                Paired::Pair(r, d) => self.measure(state, r, d)?,
                Paired::Unpaired(d) => self.unpaired(state, d.index),
            }
        }
        Ok(())
    }

    /// Passes the distorted frames taken in downstream, in order, as soon as the source pad
    /// has their caps (the aggregator negotiates new caps only when it uses a frame of them).
    fn push_outputs(&self) -> Result<gst::FlowSuccess, gst::FlowError> {
        loop {
            let buffer = {
                let mut state = lock(&self.state);
                let Some(out) = state.outputs.front() else {
                    return Ok(gst::FlowSuccess::Ok);
                };
                match &state.src_caps {
                    Some((caps, _)) if *caps == out.caps => {}
                    Some((_, generation)) if *generation > out.generation => {
                        // Caps superseded before they were negotiated: downstream could not
                        // read the frame.
                        gst::debug!(CAT, imp = self, "frame of superseded caps not passed on");
                        state.outputs.pop_front();
                        continue;
                    }
                    _ => return Ok(gst::FlowSuccess::Ok),
                }
                state.outputs.pop_front().unwrap().buffer
            };
            self.obj().finish_buffer(buffer)?;
        }
    }

    /// The distorted input ended, and no frame of it waits for a reference frame any more.
    fn distorted_ended(&self) -> bool {
        self.dist_pad.is_eos()
            && lock(&self.intake).frames.is_empty()
            && (lock(&self.state).pairer.waiting() == 0 || self.ref_pad.is_eos())
    }

    fn unpaired(&self, state: &mut State, index: u64) {
        state.unpaired += 1;
        if !state.warned_unpaired {
            state.warned_unpaired = true;
            let why = if self.ref_pad.is_eos() {
                "the reference input ended before the distorted one"
            } else {
                "no reference frame for this time"
            };
            gst::element_imp_warning!(
                self,
                gst::StreamError::Format,
                (
                    "Distorted frame {} passed through unmeasured: {}",
                    index,
                    why
                ),
                ["Unpaired frames are counted in the pooled message's unpaired-frames field"]
            );
        }
    }

    /// Measures a pair; scores are posted once final (VMAF's motion needs the next frame).
    fn measure(
        &self,
        state: &mut State,
        reference: Frame,
        dist: DistFrame,
    ) -> Result<(), gst::FlowError> {
        let DistFrame { index, frame: dist } = dist;
        let (ri, di) = (&reference.info, &dist.info);
        self.check_compatible(ri, di)?;
        let layout = Layout {
            format: di.format(),
            width: di.width(),
            height: di.height(),
        };
        if !index.is_multiple_of(state.settings.subsample.max(1) as u64) {
            return Ok(());
        }
        match state.meter.as_ref().map(|(l, _)| *l) {
            Some(l) if l == layout => {}
            old => {
                if let Some(old) = old {
                    gst::info!(
                        CAT,
                        imp = self,
                        "picture changed from {:?} to {:?}: motion restarts",
                        old,
                        layout
                    );
                    self.finish_meter(state)?;
                }
                self.new_meter(state, layout, di)?;
            }
        }
        state.times.push_back(FrameTimes {
            index,
            pts: dist.pts,
            running_time: dist.running_time,
        });

        let mapped = |f: Result<_, _>| {
            f.map_err(|_| {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Decode,
                    ("Cannot map frame {}", index)
                );
                gst::FlowError::Error
            })
        };
        let rframe = mapped(gst_video::VideoFrameRef::from_buffer_ref_readable(
            reference.buffer.as_ref(),
            &reference.info,
        ))?;
        let dframe = mapped(gst_video::VideoFrameRef::from_buffer_ref_readable(
            dist.buffer.as_ref(),
            &dist.info,
        ))?;
        let State {
            meter,
            scratch,
            scratch16,
            ..
        } = &mut *state;
        let (sr, sd) = scratch.split_at_mut(2);
        let (s16r, s16d) = scratch16.split_at_mut(3);
        let rp = frame_planes(&rframe, sr, s16r);
        let dp = frame_planes(&dframe, sd, s16d);
        let (rp, dp) = match (rp, dp) {
            (Ok(r), Ok(d)) => (r, d),
            (Err(e), _) | (_, Err(e)) => {
                gst::element_imp_error!(
                    self,
                    gst::StreamError::Decode,
                    ("Cannot read frame {}: {}", index, e)
                );
                return Err(gst::FlowError::Error);
            }
        };
        let done = meter.as_mut().unwrap().1.push(index, &rp, &dp);
        self.report_gpu_failures(state);
        self.post_frames(state, done)
    }

    /// Ends the current meter's sequence and posts the frames it still held.
    fn finish_meter(&self, state: &mut State) -> Result<(), gst::FlowError> {
        match state.meter.as_mut().map(|(_, m)| m.finish()) {
            Some(done) => self.post_frames(state, done),
            None => Ok(()),
        }
    }

    fn post_frames(
        &self,
        state: &mut State,
        done: Result<Vec<FrameScores>, lv_metrics::meter::MeterError>,
    ) -> Result<(), gst::FlowError> {
        match done {
            Ok(frames) => {
                for scores in frames {
                    self.post_frame(state, scores);
                }
                Ok(())
            }
            Err(e) => {
                gst::element_imp_error!(self, gst::LibraryError::Failed, ("{}", e));
                Err(gst::FlowError::Error)
            }
        }
    }
}

/// Plane views over a mapped frame; 16-bit planes are reinterpreted in place when aligned,
/// NV12's interleaved chroma is split into the scratch buffers.
fn frame_planes<'a>(
    frame: &'a gst_video::VideoFrameRef<&'a gst::BufferRef>,
    scratch: &'a mut [Vec<u8>],
    scratch16: &'a mut [Vec<u16>],
) -> Result<Vec<Plane<'a>>, String> {
    let info = frame.info();
    let finfo = info.format_info();
    let bpc = finfo.depth()[0];
    let strides = frame.plane_stride();
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    if frame.format() == VideoFormat::Nv12 {
        let y = frame.plane_data(0).map_err(|e| e.to_string())?;
        let uv = frame.plane_data(1).map_err(|e| e.to_string())?;
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let s1 = strides[1] as usize;
        let (u, v) = scratch.split_at_mut(1);
        let (u, v) = (&mut u[0], &mut v[0]);
        u.resize(cw * ch, 0);
        v.resize(cw * ch, 0);
        nv12::split_uv(uv, s1, cw, ch, u, v);
        return Ok(vec![
            Plane::new_u8(y, w, h, strides[0] as usize),
            Plane::new_u8(u, cw, ch, cw),
            Plane::new_u8(v, cw, ch, cw),
        ]);
    }
    let n = if finfo.is_gray() { 1 } else { 3 };
    let mut planes = Vec::with_capacity(n);
    let mut scratch16 = scratch16.iter_mut();
    for (i, &stride) in strides.iter().enumerate().take(n) {
        let data = frame.plane_data(i as u32).map_err(|e| e.to_string())?;
        let (pw, ph) = if i == 0 {
            (w, h)
        } else {
            (
                finfo.scale_width(i as u8, w as u32) as usize,
                finfo.scale_height(i as u8, h as u32) as usize,
            )
        };
        let stride = stride as usize;
        if bpc == 8 {
            planes.push(Plane::new_u8(data, pw, ph, stride));
        } else {
            let stride16 = stride / 2;
            let need = (ph - 1) * stride16 + pw;
            let words: &[u16] = match bytemuck::try_cast_slice::<u8, u16>(&data[..need * 2]) {
                Ok(s) => s,
                Err(_) => {
                    let buf = scratch16.next().ok_or("no scratch buffer")?;
                    buf.clear();
                    buf.extend(
                        data[..need * 2]
                            .chunks_exact(2)
                            .map(|c| u16::from_le_bytes([c[0], c[1]])),
                    );
                    buf
                }
            };
            planes.push(Plane::new_u16(words, pw, ph, stride16, bpc));
        }
    }
    Ok(planes)
}

#[glib::object_subclass]
impl ObjectSubclass for Vqmeter {
    const NAME: &'static str = "GstVqmeter";
    type Type = super::Vqmeter;
    type ParentType = gst_video::VideoAggregator;

    fn with_class(klass: &Self::Class) -> Self {
        let make = |name: &str| {
            let templ = klass.pad_template(name).unwrap();
            gst::PadBuilder::<gst_video::VideoAggregatorPad>::from_template(&templ)
                .name(name)
                .build()
        };
        Vqmeter {
            settings: Mutex::new(Settings::default()),
            state: Mutex::new(State::default()),
            flushing: AtomicBool::new(false),
            intake: Mutex::new(Intake::default()),
            ref_pad: make("ref_sink"),
            dist_pad: make("dist_sink"),
            unlinked_watch: Mutex::new(None),
            untimed: AtomicU8::new(0),
        }
    }
}

impl ObjectImpl for Vqmeter {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(settings::param_specs);
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        if lv_gst::element::refuse_while_running(&*self.obj(), *CAT, pspec) {
            return;
        }
        lock(&self.settings).set(pspec.name(), value);
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        if pspec.name() == "backend-in-use" {
            return lock(&self.state).backend_in_use.to_value();
        }
        lock(&self.settings).get(pspec.name())
    }

    fn constructed(&self) {
        self.parent_constructed();
        let obj = self.obj();
        for pad in [&self.ref_pad, &self.dist_pad] {
            pad.set_emit_signals(true);
            let element = obj.downgrade();
            pad.connect_buffer_consumed(move |pad, buffer| {
                if let Some(element) = element.upgrade() {
                    element.imp().consumed(pad.upcast_ref(), buffer);
                }
            });
            obj.add_pad(pad).unwrap();
        }
    }
}

impl GstObjectImpl for Vqmeter {}

impl ElementImpl for Vqmeter {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            lv_gst::element::metadata(
                "Video quality meter",
                "Filter/Analyzer/Video",
                "Measures PSNR, SSIM, MS-SSIM and VMAF of dist_sink against ref_sink per frame (libvmaf's algorithms in pure Rust) and passes dist_sink through",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = lv_gst::element::video_caps(FORMATS);
            let sink = |name| {
                gst::PadTemplate::with_gtype(
                    name,
                    gst::PadDirection::Sink,
                    gst::PadPresence::Always,
                    &caps,
                    gst_video::VideoAggregatorPad::static_type(),
                )
                .unwrap()
            };
            vec![
                sink("ref_sink"),
                sink("dist_sink"),
                gst::PadTemplate::with_gtype(
                    "src",
                    gst::PadDirection::Src,
                    gst::PadPresence::Always,
                    &caps,
                    gst_base::AggregatorPad::static_type(),
                )
                .unwrap(),
            ]
        });
        TEMPLATES.as_ref()
    }
}

impl AggregatorImpl for Vqmeter {
    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        let models = load_models(&settings.model)
            .map_err(|e| gst::error_msg!(gst::ResourceError::NotFound, ["{}", e]))?;
        let cambi = settings
            .cambi
            .meter_options()
            .map_err(|e| gst::error_msg!(gst::LibraryError::Settings, ("CAMBI: {}", e)))?;
        if models.is_empty()
            && !settings.psnr
            && !settings.ssim
            && !settings.ms_ssim
            && cambi.is_none()
        {
            return Err(gst::error_msg!(
                gst::LibraryError::Settings,
                ["Nothing to measure: set a VMAF model or enable psnr, ssim, ms-ssim or cambi"]
            ));
        }
        if let Some(path) = settings.results_filename.as_deref() {
            // Found now rather than after a whole measurement.
            lv_image::output::check_writable(Path::new(path)).map_err(|e| {
                gst::error_msg!(
                    gst::ResourceError::OpenWrite,
                    ["Cannot write results file {}: {}", path, e]
                )
            })?;
        }
        *lock(&self.state) = State {
            settings,
            models,
            ..State::default()
        };
        self.flushing.store(false, Ordering::SeqCst);
        self.untimed.store(0, Ordering::SeqCst);
        *lock(&self.intake) = Intake::default();
        self.parent_start()
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        if let Some(id) = lock(&self.unlinked_watch).take() {
            id.unschedule();
        }
        // A stop without EOS (e.g. an error elsewhere) still closes the results file.
        self.finish();
        *lock(&self.state) = State::default();
        *lock(&self.intake) = Intake::default();
        self.parent_stop()
    }

    fn flush(&self) -> Result<gst::FlowSuccess, gst::FlowError> {
        // A flushing seek: the frames of the old range are gone, so is the measurement of it,
        // the frame still waiting for its motion score included; the new range is measured
        // anew, to its own pooled message and results file.
        lock(&self.intake).frames.clear();
        lock(&self.state).restart();
        self.parent_flush()
    }

    fn sink_event(&self, pad: &gst_base::AggregatorPad, event: gst::Event) -> bool {
        match event.view() {
            gst::EventView::Caps(c) => {
                let caps = c.caps_owned();
                if let Ok(info) = gst_video::VideoInfo::from_caps(&caps) {
                    let mut intake = lock(&self.intake);
                    let slot = if pad == self.ref_pad.upcast_ref::<gst_base::AggregatorPad>() {
                        &mut intake.ref_caps
                    } else {
                        &mut intake.dist_caps
                    };
                    let generation = slot.as_ref().map_or(0, |c| c.generation + 1);
                    *slot = Some(InputCaps {
                        caps,
                        info,
                        generation,
                    });
                }
                self.parent_sink_event(pad, event)
            }
            gst::EventView::StreamStart(_) => {
                self.watch_for_unlinked_input();
                self.parent_sink_event(pad, event)
            }
            gst::EventView::FlushStart(_) => {
                self.flushing.store(true, Ordering::SeqCst);
                self.parent_sink_event(pad, event)
            }
            gst::EventView::FlushStop(_) => {
                let res = self.parent_sink_event(pad, event);
                self.flushing.store(false, Ordering::SeqCst);
                res
            }
            _ => self.parent_sink_event(pad, event),
        }
    }

    fn src_event(&self, event: gst::Event) -> bool {
        // The video aggregator answers lateness by skipping output slots, and upstream
        // elements by dropping frames; a meter must see every frame of both inputs.
        if event.type_() == gst::EventType::Qos {
            return true;
        }
        self.parent_src_event(event)
    }

    fn negotiated_src_caps(&self, caps: &gst::Caps) -> Result<(), gst::LoggableError> {
        self.parent_negotiated_src_caps(caps)?;
        let generation = lock(&self.intake)
            .dist_caps
            .as_ref()
            .filter(|d| d.caps == *caps)
            .map_or(0, |d| d.generation);
        lock(&self.state).src_caps = Some((caps.clone(), generation));
        Ok(())
    }

    fn aggregate(&self, timeout: bool) -> Result<gst::FlowSuccess, gst::FlowError> {
        // Frames the aggregator skipped as late since the last call.
        self.intake()?;
        self.push_outputs()?;
        // When the distorted input ends, so does the output; a reference with nothing queued
        // may be about to end too, and is waited for so as not to warn of a longer one.
        let ended = self.distorted_ended() && (self.ref_pad.is_eos() || self.ref_pad.has_buffer());
        let res = if ended {
            if !self.ref_pad.is_eos() {
                gst::element_imp_warning!(self, gst::StreamError::Format, ("The distorted input ended before the reference; the remaining reference frames are not measured"));
            }
            Err(gst::FlowError::Eos)
        } else {
            // The video aggregator keeps the inputs in step (in a live pipeline, in time) and
            // drains their queues; its output slots make no output (create_output_buffer).
            let res = self.parent_aggregate(timeout);
            if res == Err(gst::FlowError::Error) {
                self.explain_untimed();
            }
            if matches!(
                res,
                Ok(_) | Err(gst::FlowError::Eos | gst_base::AGGREGATOR_FLOW_NEED_DATA)
            ) {
                self.intake()?;
                self.push_outputs()?;
            }
            res
        };
        if res == Err(gst::FlowError::Eos) {
            self.finish();
        }
        res
    }

    fn clip(&self, pad: &gst_base::AggregatorPad, buffer: gst::Buffer) -> Option<gst::Buffer> {
        // The video aggregator refuses a frame without a timestamp with a flow error whose
        // reason only its debug log gives; `aggregate` says it. Noted only: this runs under
        // the element's object lock, where posting a message would deadlock.
        if buffer.pts().is_none() {
            let which = if pad == self.ref_pad.upcast_ref::<gst_base::AggregatorPad>() {
                UNTIMED_REF
            } else {
                UNTIMED_DIST
            };
            let _ = self
                .untimed
                .compare_exchange(0, which, Ordering::SeqCst, Ordering::SeqCst);
        }
        self.parent_clip(pad, buffer)
    }

    fn sink_query(&self, pad: &gst_base::AggregatorPad, query: &mut gst::QueryRef) -> bool {
        // The video aggregator accepts only the output's size once it is fixed, which would
        // refuse a mid-stream size change; any template caps are fine here, and each frame
        // pair is checked for a matching layout when it is measured.
        if let gst::QueryViewMut::AcceptCaps(q) = query.view_mut() {
            let ok = q.caps().is_subset(&pad.pad_template_caps());
            q.set_result(ok);
            return true;
        }
        self.parent_sink_query(pad, query)
    }

    fn update_src_caps(&self, caps: &gst::Caps) -> Result<gst::Caps, gst::FlowError> {
        // Whether the two inputs match is checked on each frame pair, not here: during a
        // mid-stream change one pad's new caps arrive before the other's.
        let dist_caps = lock(&self.intake)
            .dist_caps
            .as_ref()
            .map(|c| c.caps.clone())
            .or_else(|| self.dist_pad.current_caps());
        match dist_caps {
            Some(d) if d.can_intersect(caps) => Ok(d),
            Some(d) => {
                gst::error!(
                    CAT,
                    imp = self,
                    "downstream does not accept the distorted stream's caps {:?}",
                    d
                );
                Err(gst::FlowError::NotNegotiated)
            }
            None => Ok(caps.clone()),
        }
    }
}

impl VideoAggregatorImpl for Vqmeter {
    fn create_output_buffer(&self) -> Result<Option<gst::Buffer>, gst::FlowError> {
        // The output is the distorted frames themselves, passed on as they are taken in
        // (push_outputs); an output slot of the aggregator is no new frame.
        Ok(None)
    }

    fn aggregate_frames(
        &self,
        _token: &AggregateFramesToken,
        _outbuf: &mut gst::BufferRef,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        // Not called: create_output_buffer makes no output buffer.
        Ok(gst::FlowSuccess::Ok)
    }
}
