// SPDX-License-Identifier: MPL-2.0

//! The `dnnscale` element: a video filter that changes size like `videoscale` (the output
//! size comes from downstream caps) but only downward. Luma: Lanczos to the output size, then
//! the network (`lvinfer`); chroma: Lanczos to the chroma size with the stream's siting.
//!
//! Everything numeric lives in `lv_image::resample` and `lvinfer`; this file is caps handling
//! and plumbing planes between mapped frames and those.

use super::Backend;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::prelude::*;
use gst_video::subclass::prelude::*;
use gst_video::VideoFormat;
use lv_image::plane::Plane;
use lv_image::resample::{Kernel, Resampler, ResamplerConfig, Siting};
use lv_infer::{Model, PlaneRunner, RunnerConfig};
use std::sync::{LazyLock, Mutex};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "dnnscale",
        gst::DebugColorFlags::empty(),
        Some("Learned video downscaler"),
    )
});

/// The trained default model, embedded when it exists at build time (see build.rs).
#[cfg(dnnscale_embedded_model)]
static DEFAULT_MODEL: Option<&[u8]> =
    Some(include_bytes!("../../../models/dnnscale/dnnscale.onnx"));
#[cfg(not(dnnscale_embedded_model))]
static DEFAULT_MODEL: Option<&[u8]> = None;

const DEFAULT_THREADS: u32 = 0;
const LANCZOS: Kernel = Kernel::Lanczos { a: 3.0 };

const FORMATS: &[VideoFormat] = &[
    VideoFormat::I420,
    VideoFormat::Nv12,
    VideoFormat::Y42b,
    VideoFormat::Y444,
    VideoFormat::Gray8,
];

#[derive(Clone, Debug, Default)]
struct Settings {
    model: Option<String>,
    backend: Backend,
    threads: u32,
}

/// Everything built for one caps pair.
struct Processor {
    format: VideoFormat,
    in_size: (usize, usize),
    out_size: (usize, usize),
    luma: Resampler,
    /// Chroma resampler (U and V share it); `None` for GRAY8.
    chroma: Option<Resampler>,
    runner: PlaneRunner,
    /// Lanczos-resized luma, the network's input (the network cannot read and write one
    /// buffer: tiles read rows that neighbouring tiles write).
    luma_tmp: Vec<u8>,
    /// NV12: de-interleaved input U, V and resized U, V.
    nv12: [Vec<u8>; 4],
}

#[derive(Default)]
struct State {
    model: Option<Model>,
    processor: Option<Processor>,
    fallback_logged: bool,
}

#[derive(Default)]
pub struct Dnnscale {
    settings: Mutex<Settings>,
    state: Mutex<State>,
}

#[glib::object_subclass]
impl ObjectSubclass for Dnnscale {
    const NAME: &'static str = "GstDnnscale";
    type Type = super::Dnnscale;
    type ParentType = gst_video::VideoFilter;
}

impl ObjectImpl for Dnnscale {
    fn properties() -> &'static [glib::ParamSpec] {
        static PROPERTIES: LazyLock<Vec<glib::ParamSpec>> = LazyLock::new(|| {
            vec![
                glib::ParamSpecString::builder("model")
                    .nick("Model")
                    .blurb(
                        "Path of a dnnscale-refine-v1 ONNX model; empty: the trained default \
                         model embedded in the plugin. Read when the element starts",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecEnum::builder_with_default("backend", Backend::Cpu)
                    .nick("Backend")
                    .blurb(
                        "Where the network runs: cpu (tract-onnx) or cuda (falls back to cpu \
                         with a log line when no CUDA device is usable)",
                    )
                    .mutable_ready()
                    .build(),
                glib::ParamSpecUInt::builder("threads")
                    .nick("Threads")
                    .blurb(
                        "Worker threads for one frame (network tiles and resampling bands); \
                         0 = all cores",
                    )
                    .default_value(DEFAULT_THREADS)
                    .mutable_ready()
                    .build(),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        let mut s = self.settings.lock().unwrap();
        match pspec.name() {
            "model" => {
                s.model = value
                    .get::<Option<String>>()
                    .unwrap()
                    .filter(|m| !m.is_empty())
            }
            "backend" => s.backend = value.get().unwrap(),
            "threads" => s.threads = value.get().unwrap(),
            _ => unreachable!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        let s = self.settings.lock().unwrap();
        match pspec.name() {
            "model" => s.model.clone().unwrap_or_default().to_value(),
            "backend" => s.backend.to_value(),
            "threads" => s.threads.to_value(),
            _ => unreachable!(),
        }
    }
}

impl GstObjectImpl for Dnnscale {}

impl ElementImpl for Dnnscale {
    fn metadata() -> Option<&'static gst::subclass::ElementMetadata> {
        static META: LazyLock<gst::subclass::ElementMetadata> = LazyLock::new(|| {
            gst::subclass::ElementMetadata::new(
                "Learned video downscaler",
                "Filter/Converter/Video/Scaler",
                "Downscales video to the size downstream asks for: Lanczos, then a small \
                 network refines the luma (chroma stays Lanczos)",
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
            ]
        });
        TEMPLATES.as_ref()
    }
}

/// Largest and smallest width/height a caps structure allows (fixed int or int range).
fn int_bounds(s: &gst::StructureRef, field: &str) -> Option<(i32, i32)> {
    if let Ok(v) = s.get::<i32>(field) {
        return Some((v, v));
    }
    s.get::<gst::IntRange<i32>>(field)
        .ok()
        .map(|r| (r.min(), r.max()))
}

fn int_range(min: i32, max: i32) -> glib::SendValue {
    if min >= max {
        min.to_send_value()
    } else {
        gst::IntRange::new(min, max).to_send_value()
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a.max(1)
    } else {
        gcd(b, a % b)
    }
}

/// `n / d` reduced and scaled into `i32` (a PAR/DAR).
fn fraction(n: u64, d: u64) -> gst::Fraction {
    let g = gcd(n, d);
    let (mut n, mut d) = (n / g, d / g);
    while n > i32::MAX as u64 || d > i32::MAX as u64 {
        n = n.div_ceil(2);
        d = d.div_ceil(2);
    }
    gst::Fraction::new(n.max(1) as i32, d.max(1) as i32)
}

impl Dnnscale {
    /// Loads the model named by the settings (or the embedded default).
    fn load_model(&self, settings: &Settings) -> Result<Model, gst::ErrorMessage> {
        match &settings.model {
            Some(path) => Model::from_path(path).map_err(|e| {
                gst::error_msg!(
                    gst::ResourceError::OpenRead,
                    ["dnnscale: cannot use model {path}: {e}"]
                )
            }),
            None => match DEFAULT_MODEL {
                Some(bytes) => Model::from_bytes(bytes).map_err(|e| {
                    gst::error_msg!(
                        gst::LibraryError::Init,
                        ["dnnscale: the embedded default model is unusable: {e}"]
                    )
                }),
                None => Err(gst::error_msg!(
                    gst::LibraryError::Settings,
                    ["dnnscale: this build has no embedded default model \
                         (models/dnnscale/dnnscale.onnx was missing when it was built); \
                         set the `model` property to an ONNX file"]
                )),
            },
        }
    }

    /// Called when a caps event was refused: if downstream only accepts sizes larger than the
    /// input, say so (the generic not-negotiated error would not).
    fn explain_refused_caps(&self, caps: &gst::Caps) {
        let obj = self.obj();
        let Some(src) = obj.static_pad("src") else {
            return;
        };
        let Ok(info) = gst_video::VideoInfo::from_caps(caps) else {
            return;
        };
        let peer = src.peer_query_caps(None);
        let down = transform_sizes(gst::PadDirection::Sink, caps, false);
        let mut any_size = caps.clone();
        for s in any_size.make_mut().iter_mut() {
            s.set_value("width", int_range(1, i32::MAX));
            s.set_value("height", int_range(1, i32::MAX));
            s.remove_field("pixel-aspect-ratio");
        }
        if !peer.can_intersect(&down) && peer.can_intersect(&any_size) {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                [
                    "dnnscale only downscales: the input is {}x{} and downstream accepts no size \
                     within it ({peer}); put videoscale after dnnscale (or instead of it) to \
                     upscale",
                    info.width(),
                    info.height()
                ]
            );
        }
    }

    /// Fixates width, height and pixel-aspect-ratio of `othercaps` (one structure) for the
    /// input `caps`, keeping the display aspect ratio the way `videoscale` does.
    fn fixate_size(&self, caps: &gst::Caps, mut othercaps: gst::Caps) -> gst::Caps {
        let Some(ins) = caps.structure(0) else {
            othercaps.fixate();
            return othercaps;
        };
        let (Ok(in_w), Ok(in_h)) = (ins.get::<i32>("width"), ins.get::<i32>("height")) else {
            othercaps.fixate();
            return othercaps;
        };
        let in_par = ins
            .get::<gst::Fraction>("pixel-aspect-ratio")
            .unwrap_or(gst::Fraction::new(1, 1));
        // Display aspect ratio of the input.
        let dar_n = in_w as u64 * in_par.numer() as u64;
        let dar_d = in_h as u64 * in_par.denom() as u64;
        {
            let othercaps = othercaps.make_mut();
            let s = othercaps.structure_mut(0).unwrap();
            let w = s.get::<i32>("width").ok();
            let h = s.get::<i32>("height").ok();
            let par_fixed = s.get::<gst::Fraction>("pixel-aspect-ratio").ok();
            match (w, h) {
                (Some(w), Some(h)) => {
                    // Both sizes given: the PAR that keeps the DAR, if downstream leaves it open.
                    if par_fixed.is_none() && s.has_field("pixel-aspect-ratio") {
                        let par = fraction(dar_n * h as u64, dar_d * w as u64);
                        s.fixate_field_nearest_fraction("pixel-aspect-ratio", par);
                    }
                }
                (Some(w), None) => {
                    let par = self.fixate_par(s, in_par);
                    // DAR = w * par / h  =>  h = w * par_n * dar_d / (par_d * dar_n).
                    let h = (w as u64 * par.numer() as u64 * dar_d) as f64
                        / (par.denom() as u64 * dar_n) as f64;
                    s.fixate_field_nearest_int("height", (h.round() as i32).max(1));
                }
                (None, Some(h)) => {
                    let par = self.fixate_par(s, in_par);
                    let w = (h as u64 * dar_n * par.denom() as u64) as f64
                        / (dar_d * par.numer() as u64) as f64;
                    s.fixate_field_nearest_int("width", (w.round() as i32).max(1));
                }
                (None, None) => {
                    // Nothing fixed: the input size if allowed (passthrough), else the widest
                    // allowed width and the height that keeps the DAR.
                    let par = self.fixate_par(s, in_par);
                    s.fixate_field_nearest_int("width", in_w);
                    let w = s.get::<i32>("width").unwrap_or(in_w);
                    let h = (w as u64 * par.numer() as u64 * dar_d) as f64
                        / (par.denom() as u64 * dar_n) as f64;
                    s.fixate_field_nearest_int("height", (h.round() as i32).max(1));
                }
            }
        }
        othercaps.fixate();
        othercaps
    }

    /// Fixes the output PAR nearest to the input's (as videoscale does when it can pick the
    /// size) and returns it.
    fn fixate_par(&self, s: &mut gst::StructureRef, in_par: gst::Fraction) -> gst::Fraction {
        if s.has_field("pixel-aspect-ratio") {
            s.fixate_field_nearest_fraction("pixel-aspect-ratio", in_par);
        }
        s.get::<gst::Fraction>("pixel-aspect-ratio")
            .unwrap_or(in_par)
    }
}

impl BaseTransformImpl for Dnnscale {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::NeverInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = true;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = self.settings.lock().unwrap().clone();
        let model = self.load_model(&settings)?;
        gst::info!(
            CAT,
            imp = self,
            "model {}: {:?}",
            settings.model.as_deref().unwrap_or("(embedded default)"),
            model.info()
        );
        let mut state = self.state.lock().unwrap();
        *state = State {
            model: Some(model),
            ..State::default()
        };
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *self.state.lock().unwrap() = State::default();
        Ok(())
    }

    fn sink_event(&self, event: gst::Event) -> bool {
        let caps = match event.view() {
            gst::EventView::Caps(c) => Some(c.caps_owned()),
            _ => None,
        };
        let ok = self.parent_sink_event(event);
        if !ok {
            if let Some(caps) = caps {
                self.explain_refused_caps(&caps);
            }
        }
        ok
    }

    /// Like videoscale, but downward only: the same caps first (passthrough is preferred),
    /// then any size up to the input's (sink → src) or from the output's up (src → sink), any
    /// pixel-aspect-ratio. Format and the other fields stay as they are.
    fn transform_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        filter: Option<&gst::Caps>,
    ) -> Option<gst::Caps> {
        let out = transform_sizes(direction, caps, true);
        let out = match filter {
            Some(f) => f.intersect_with_mode(&out, gst::CapsIntersectMode::First),
            None => out,
        };
        gst::debug!(CAT, imp = self, "{direction:?}: {caps} -> {out}");
        Some(out)
    }

    fn fixate_caps(
        &self,
        direction: gst::PadDirection,
        caps: &gst::Caps,
        othercaps: gst::Caps,
    ) -> gst::Caps {
        let mut othercaps = othercaps;
        othercaps.truncate();
        if direction == gst::PadDirection::Src {
            // Fixating our input from the output: basetransform does not ask this of a filter
            // whose input caps come first; plain fixation.
            othercaps.fixate();
            return othercaps;
        }
        let fixed = self.fixate_size(caps, othercaps);
        gst::debug!(CAT, imp = self, "fixated {caps} -> {fixed}");
        fixed
    }
}

/// The caps on the other side of `caps` for `direction`: the same size first, then the sizes
/// reachable by downscaling (PAR open); with `permissive`, then any size (see below).
fn transform_sizes(direction: gst::PadDirection, caps: &gst::Caps, permissive: bool) -> gst::Caps {
    let mut out = gst::Caps::new_empty();
    let mut tail = Vec::new();
    {
        let out = out.get_mut().unwrap();
        for (s, f) in caps.iter_with_features() {
            out.append_structure_full(s.to_owned(), Some(f.to_owned()));
            let mut s = s.to_owned();
            let (Some(w), Some(h)) = (int_bounds(&s, "width"), int_bounds(&s, "height")) else {
                // No usable size field (e.g. template caps): any size.
                s.set_value("width", int_range(1, i32::MAX));
                s.set_value("height", int_range(1, i32::MAX));
                out.append_structure_full(s, Some(f.to_owned()));
                continue;
            };
            if direction == gst::PadDirection::Sink {
                s.set_value("width", int_range(1, w.1));
                s.set_value("height", int_range(1, h.1));
            } else {
                s.set_value("width", int_range(w.0.max(1), i32::MAX));
                s.set_value("height", int_range(h.0.max(1), i32::MAX));
            }
            if s.has_field("pixel-aspect-ratio") {
                s.set(
                    "pixel-aspect-ratio",
                    gst::FractionRange::new(
                        gst::Fraction::new(1, i32::MAX),
                        gst::Fraction::new(i32::MAX, 1),
                    ),
                );
            }
            out.append_structure_full(s.clone(), Some(f.to_owned()));
            if !permissive {
                continue;
            }
            // Last and least preferred: any size. Fixation never picks it over a downscale,
            // but it lets a pipeline that asks for an upscale link (gst-launch links before
            // caps are fixed) and then fail at negotiation with our own error naming
            // videoscale, instead of a bare "could not link".
            s.set_value("width", int_range(1, i32::MAX));
            s.set_value("height", int_range(1, i32::MAX));
            tail.push((s, f.to_owned()));
        }
        for (s, f) in tail {
            out.append_structure_full(s, Some(f));
        }
    }
    out
}

impl VideoFilterImpl for Dnnscale {
    fn set_info(
        &self,
        _incaps: &gst::Caps,
        in_info: &gst_video::VideoInfo,
        _outcaps: &gst::Caps,
        out_info: &gst_video::VideoInfo,
    ) -> Result<(), gst::LoggableError> {
        let settings = self.settings.lock().unwrap().clone();
        let mut state = self.state.lock().unwrap();
        let (iw, ih) = (in_info.width() as usize, in_info.height() as usize);
        let (ow, oh) = (out_info.width() as usize, out_info.height() as usize);
        if in_info.format() != out_info.format() {
            return Err(gst::loggable_error!(
                CAT,
                "input {:?} and output {:?} formats differ",
                in_info.format(),
                out_info.format()
            ));
        }
        if ow > iw || oh > ih {
            gst::element_imp_error!(
                self,
                gst::CoreError::Negotiation,
                [
                    "dnnscale only downscales ({iw}x{ih} -> {ow}x{oh} asked); use videoscale to \
                     upscale"
                ]
            );
            return Err(gst::loggable_error!(CAT, "upscale {iw}x{ih} -> {ow}x{oh}"));
        }
        if (ow, oh) == (iw, ih) {
            // Same size (possibly another PAR label): pixels pass through untouched.
            self.obj().set_passthrough(true);
            state.processor = None;
            gst::info!(CAT, imp = self, "{iw}x{ih}: same size, passthrough");
            return Ok(());
        }
        self.obj().set_passthrough(false);
        let Some(model) = state.model.clone() else {
            return Err(gst::loggable_error!(CAT, "no model loaded"));
        };
        if state.processor.as_ref().is_some_and(|p| {
            p.in_size == (iw, ih) && p.out_size == (ow, oh) && p.format == in_info.format()
        }) {
            return Ok(());
        }
        let runner = match PlaneRunner::new(
            &model,
            ow,
            oh,
            RunnerConfig {
                threads: settings.threads as usize,
                tiles: 0,
                backend: settings.backend.into(),
            },
        ) {
            Ok(r) => r,
            Err(e) => {
                gst::element_imp_error!(
                    self,
                    gst::CoreError::Negotiation,
                    ["dnnscale: the model cannot run at {ow}x{oh}: {e}"]
                );
                return Err(gst::loggable_error!(
                    CAT,
                    "model unusable at {ow}x{oh}: {e}"
                ));
            }
        };
        if let (Some(reason), false) = (runner.fallback_reason(), state.fallback_logged) {
            gst::warning!(CAT, imp = self, "{reason}");
            state.fallback_logged = true;
        }
        let threads = runner.threads();
        let resampler = |iw, ih, ow, oh, sx, sy| {
            Resampler::with_config(ResamplerConfig {
                siting_x: sx,
                siting_y: sy,
                threads,
                ..ResamplerConfig::new(iw, ih, ow, oh, LANCZOS)
            })
            .map_err(|e| gst::loggable_error!(CAT, "resampler {iw}x{ih} -> {ow}x{oh}: {e}"))
        };
        let luma = resampler(iw, ih, ow, oh, Siting::CENTRE, Siting::CENTRE)?;
        let finfo = in_info.format_info();
        let chroma = if finfo.n_components() >= 3 {
            let (sx, sy) = (finfo.w_sub()[1], finfo.h_sub()[1]);
            let site = in_info.chroma_site();
            let siting_x = Siting::chroma(sx, site.contains(gst_video::VideoChromaSite::H_COSITED));
            let siting_y = Siting::chroma(sy, site.contains(gst_video::VideoChromaSite::V_COSITED));
            let sub = |v: usize, s: u32| v.div_ceil(1 << s);
            Some(resampler(
                sub(iw, sx),
                sub(ih, sy),
                sub(ow, sx),
                sub(oh, sy),
                siting_x,
                siting_y,
            )?)
        } else {
            None
        };
        let nv12 = if in_info.format() == VideoFormat::Nv12 {
            let c = chroma.as_ref().unwrap().config();
            [
                vec![0; c.in_w * c.in_h],
                vec![0; c.in_w * c.in_h],
                vec![0; c.out_w * c.out_h],
                vec![0; c.out_w * c.out_h],
            ]
        } else {
            Default::default()
        };
        gst::info!(
            CAT,
            imp = self,
            "{:?} {iw}x{ih} -> {ow}x{oh}: {runner:?}",
            in_info.format()
        );
        state.processor = Some(Processor {
            format: in_info.format(),
            in_size: (iw, ih),
            out_size: (ow, oh),
            luma,
            chroma,
            runner,
            luma_tmp: vec![0; ow * oh],
            nv12,
        });
        Ok(())
    }

    fn transform_frame(
        &self,
        inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
        outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut state = self.state.lock().unwrap();
        let Some(p) = state.processor.as_mut() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ["no caps negotiated"]);
            return Err(gst::FlowError::NotNegotiated);
        };
        let (iw, ih) = p.in_size;
        let ow = p.out_size.0;
        let map_err = |e: glib::BoolError| {
            gst::error!(CAT, imp = self, "cannot map a plane: {e}");
            gst::FlowError::Error
        };
        let in_strides = inframe.plane_stride();
        let mut out_strides = [0usize; 4];
        for (d, &s) in out_strides.iter_mut().zip(outframe.plane_stride()) {
            *d = s as usize;
        }

        // Luma: Lanczos to the output size, then the network.
        let src = Plane::new_u8(
            inframe.plane_data(0).map_err(map_err)?,
            iw,
            ih,
            in_strides[0] as usize,
        );
        let Processor {
            luma,
            chroma,
            runner,
            luma_tmp,
            nv12,
            format,
            ..
        } = p;
        runner.install(|| luma.process_u8(&src, luma_tmp, ow));
        runner
            .run(
                &luma_tmp[..],
                ow,
                outframe.plane_data_mut(0).map_err(map_err)?,
                out_strides[0],
            )
            .map_err(|e| {
                gst::element_imp_error!(self, gst::StreamError::Failed, ["dnnscale: {e}"]);
                gst::FlowError::Error
            })?;

        // Chroma: Lanczos only.
        let Some(chroma) = chroma.as_ref() else {
            return Ok(gst::FlowSuccess::Ok);
        };
        let c = *chroma.config();
        if *format == VideoFormat::Nv12 {
            let [u_in, v_in, u_out, v_out] = nv12;
            let uv = inframe.plane_data(1).map_err(map_err)?;
            let st = in_strides[1] as usize;
            for y in 0..c.in_h {
                let row = &uv[y * st..y * st + 2 * c.in_w];
                for (x, px) in row.chunks_exact(2).enumerate() {
                    u_in[y * c.in_w + x] = px[0];
                    v_in[y * c.in_w + x] = px[1];
                }
            }
            runner.install(|| {
                chroma.process_u8(&Plane::new_u8(u_in, c.in_w, c.in_h, c.in_w), u_out, c.out_w);
                chroma.process_u8(&Plane::new_u8(v_in, c.in_w, c.in_h, c.in_w), v_out, c.out_w);
            });
            let st = out_strides[1];
            let uv = outframe.plane_data_mut(1).map_err(map_err)?;
            for y in 0..c.out_h {
                let row = &mut uv[y * st..y * st + 2 * c.out_w];
                for (x, px) in row.chunks_exact_mut(2).enumerate() {
                    px[0] = u_out[y * c.out_w + x];
                    px[1] = v_out[y * c.out_w + x];
                }
            }
        } else {
            for i in 1..3 {
                let src = Plane::new_u8(
                    inframe.plane_data(i).map_err(map_err)?,
                    c.in_w,
                    c.in_h,
                    in_strides[i as usize] as usize,
                );
                let dst = outframe.plane_data_mut(i).map_err(map_err)?;
                runner.install(|| chroma.process_u8(&src, dst, out_strides[i as usize]));
            }
        }
        Ok(gst::FlowSuccess::Ok)
    }
}
