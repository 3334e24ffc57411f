// SPDX-License-Identifier: MPL-2.0

//! The `dnnscale` element: a video filter that changes size like `videoscale` (the output
//! size comes from downstream caps) but only downward. Luma: Lanczos to the output size, then
//! the network (`lvinfer`); chroma: Lanczos to the chroma size with the stream's siting.
//!
//! The scaling itself is `lv_infer::scale` (shared with srenhance); this file is caps
//! handling and plumbing mapped frames to it.

use super::Backend;
use gst::glib;
use gst::prelude::*;
use gst::subclass::prelude::*;
use gst_base::prelude::*;
use gst_base::subclass::prelude::*;
use gst_video::subclass::prelude::*;
use gst_video::VideoFormat;
use lv_gst::caps::{any_par, int_range};
use lv_gst::sync::lock;
use lv_image::resample::Kernel;
use lv_infer::scale::{ScaleError, Scaler, ScalerConfig};
use lv_infer::{Model, RunnerConfig, Stage};
use std::sync::{LazyLock, Mutex};

static CAT: LazyLock<gst::DebugCategory> = LazyLock::new(|| {
    gst::DebugCategory::new(
        "dnnscale",
        gst::DebugColorFlags::empty(),
        Some("Learned video downscaler"),
    )
});

// The trained default models (file name, bytes), in the order the element tries them, embedded
// when they exist at build time (see build.rs: `models/dnnscale/default-models.txt`).
#[cfg(dnnscale_embedded_model)]
include!(concat!(env!("OUT_DIR"), "/default_models.rs"));
#[cfg(not(dnnscale_embedded_model))]
static DEFAULT_MODELS: &[(&str, &[u8])] = &[];

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
    scaler: Scaler,
}

#[derive(Default)]
struct State {
    /// In the order they are tried; never empty once started.
    models: Vec<Model>,
    processor: Option<Processor>,
    fallback_logged: bool,
    /// `backend-in-use`: where the network runs since the last caps ("" before any).
    backend_in_use: String,
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
                        "Path of a dnnscale-refine-v1 ONNX model, or several separated by \
                         commas; empty: the trained default models embedded in the plugin. For \
                         each input/output size pair the first model whose ratio range \
                         (metadata lv.ratio_min/lv.ratio_max; none: every ratio) covers the \
                         downscale ratio is used; if none does, luma is Lanczos only. Read \
                         when the element starts",
                    )
                    .mutable_ready()
                    .build(),
                Backend::param_spec(),
                Backend::in_use_param_spec(),
                lv_gst::element::threads_param_spec(
                    "Worker threads for one frame (network tiles and resampling bands); 0 = all \
                     cores; at most 4 per core are started",
                ),
            ]
        });
        PROPERTIES.as_ref()
    }

    fn set_property(&self, _id: usize, value: &glib::Value, pspec: &glib::ParamSpec) {
        if lv_gst::element::refuse_while_running(&*self.obj(), *CAT, pspec) {
            return;
        }
        let mut s = lock(&self.settings);
        match pspec.name() {
            "model" => s.model = lv_gst::element::non_empty_string(value),
            "backend" => s.backend = value.get().unwrap(),
            "threads" => s.threads = value.get().unwrap(),
            _ => unreachable!(),
        }
    }

    fn property(&self, _id: usize, pspec: &glib::ParamSpec) -> glib::Value {
        if pspec.name() == "backend-in-use" {
            return lock(&self.state).backend_in_use.to_value();
        }
        let s = lock(&self.settings);
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
            lv_gst::element::metadata(
                "Learned video downscaler",
                "Filter/Converter/Video/Scaler",
                "Downscales video to the size downstream asks for: Lanczos, then a small \
                 network refines the luma (chroma stays Lanczos)",
            )
        });
        Some(&*META)
    }

    fn pad_templates() -> &'static [gst::PadTemplate] {
        static TEMPLATES: LazyLock<Vec<gst::PadTemplate>> = LazyLock::new(|| {
            let caps = lv_gst::element::video_caps(FORMATS);
            vec![
                lv_gst::element::always_template("src", gst::PadDirection::Src, &caps),
                lv_gst::element::always_template("sink", gst::PadDirection::Sink, &caps),
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

impl Dnnscale {
    /// Loads the models named by the settings (or the embedded defaults), with their names.
    fn load_models(&self, settings: &Settings) -> Result<Vec<(String, Model)>, gst::ErrorMessage> {
        match &settings.model {
            Some(list) => {
                let paths: Vec<&str> = list
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .collect();
                if paths.is_empty() {
                    return Err(gst::error_msg!(
                        gst::LibraryError::Settings,
                        ["dnnscale: model {list:?} names no file"]
                    ));
                }
                paths
                    .into_iter()
                    .map(|path| {
                        let m = Model::from_path(path).map_err(|e| {
                            gst::error_msg!(
                                gst::ResourceError::OpenRead,
                                ["dnnscale: cannot use model {path}: {e}"]
                            )
                        })?;
                        // Both kinds share a graph, so an srenhance model would run here:
                        // as a sharpener of the downscale it was never trained to be.
                        if m.info().kind != lv_infer::KIND_REFINE_V1 {
                            return Err(gst::error_msg!(
                                gst::ResourceError::OpenRead,
                                [
                                    "dnnscale: model {path} is a {:?} model, not {}{}",
                                    m.info().kind,
                                    lv_infer::KIND_REFINE_V1,
                                    if m.info().kind == lv_infer::KIND_SRENHANCE_V1 {
                                        ": an srenhance model belongs to the srenhance element"
                                    } else {
                                        ""
                                    }
                                ]
                            ));
                        }
                        Ok((path.to_string(), m))
                    })
                    .collect()
            }
            None if DEFAULT_MODELS.is_empty() => Err(gst::error_msg!(
                gst::LibraryError::Settings,
                ["dnnscale: this build has no embedded default model \
                     (models/dnnscale/dnnscale.onnx was missing when it was built); \
                     set the `model` property to an ONNX file"]
            )),
            None => DEFAULT_MODELS
                .iter()
                .map(|(name, bytes)| {
                    Model::from_bytes(bytes)
                        .map(|m| (format!("{name} (embedded)"), m))
                        .map_err(|e| {
                            gst::error_msg!(
                                gst::LibraryError::Init,
                                ["dnnscale: the embedded default model {name} is unusable: {e}"]
                            )
                        })
                })
                .collect(),
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
            lv_gst::caps::set_any_size(s);
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
            return;
        }
        // Sizes fit, something else does not: name the element that changes it.
        if !peer.can_intersect(&down) {
            for (field, what, element) in [
                ("framerate", "frame rate", "videorate"),
                ("format", "format", "videoconvert"),
            ] {
                let mut free = down.clone();
                for st in free.make_mut().iter_mut() {
                    st.remove_field(field);
                }
                if peer.can_intersect(&free) {
                    gst::element_imp_error!(
                        self,
                        gst::CoreError::Negotiation,
                        [
                            "dnnscale keeps the {what} of its input ({}) and downstream accepts \
                             another ({peer}); put {element} before or after dnnscale",
                            caps.structure(0)
                                .and_then(|st| st.value(field).ok())
                                .and_then(|v| v.serialize().ok())
                                .map_or_else(String::new, |v| v.to_string())
                        ]
                    );
                    return;
                }
            }
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
        if let Some(s) = othercaps.make_mut().structure_mut(0) {
            lv_gst::caps::fixate_size(s, (in_w, in_h), in_par, (1, 1));
        }
        othercaps.fixate();
        othercaps
    }
}

impl BaseTransformImpl for Dnnscale {
    const MODE: gst_base::subclass::BaseTransformMode =
        gst_base::subclass::BaseTransformMode::NeverInPlace;
    const PASSTHROUGH_ON_SAME_CAPS: bool = true;
    const TRANSFORM_IP_ON_PASSTHROUGH: bool = false;

    fn start(&self) -> Result<(), gst::ErrorMessage> {
        let settings = lock(&self.settings).clone();
        let models = self.load_models(&settings)?;
        for (name, model) in &models {
            gst::info!(CAT, imp = self, "model {name}: {:?}", model.info());
        }
        let mut state = lock(&self.state);
        *state = State {
            models: models.into_iter().map(|(_, m)| m).collect(),
            ..State::default()
        };
        Ok(())
    }

    fn stop(&self) -> Result<(), gst::ErrorMessage> {
        *lock(&self.state) = State::default();
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
                s.set("pixel-aspect-ratio", any_par());
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
        let settings = lock(&self.settings).clone();
        let mut state = lock(&self.state);
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
        // The downscale ratio, one number for both axes (their geometric mean): a model's
        // range is measured on ladders that keep the aspect ratio.
        let ratio = ((iw as f64 / ow as f64) * (ih as f64 / oh as f64)).sqrt();
        // One pre-filter and one refinement net at most: the first of each stage that is
        // meant for this ratio.
        let pick = |stage: Stage| {
            state
                .models
                .iter()
                .find(|m| m.info().stage == stage && m.info().covers(ratio))
                .cloned()
        };
        let (pre, chosen) = (pick(Stage::Pre), pick(Stage::Refine));
        let Some(model) = chosen.clone().or(state.models.first().cloned()) else {
            return Err(gst::loggable_error!(CAT, "no model loaded"));
        };
        let refine = chosen.is_some();
        if state.processor.as_ref().is_some_and(|p| {
            let c = p.scaler.config();
            c.in_size == (iw, ih) && c.out_size == (ow, oh) && p.format == in_info.format()
        }) {
            return Ok(());
        }
        let runner = RunnerConfig {
            threads: lv_gst::element::worker_threads(settings.threads),
            tiles: 0,
            backend: settings.backend.into(),
        };
        let (in_size, out_size, layout) = lv_gst::scale::geometry(in_info, out_info);
        let cfg = ScalerConfig {
            in_size,
            out_size,
            layout,
            kernel: LANCZOS,
            runner,
        };
        let scaler = Scaler::new(&model, cfg).and_then(|s| {
            let s = if refine { s } else { s.without_network() };
            match &pre {
                Some(p) => s.with_pre(p),
                None => Ok(s),
            }
        });
        if !refine && pre.is_none() {
            gst::info!(
                CAT,
                imp = self,
                "{iw}x{ih} -> {ow}x{oh} (ratio {ratio:.3}): no model is meant for this ratio, \
                 luma is Lanczos only"
            );
        }
        let scaler = match scaler {
            Ok(s) => s,
            Err(e @ ScaleError::Model(..)) => {
                gst::element_imp_error!(self, gst::CoreError::Negotiation, ["dnnscale: {e}"]);
                return Err(gst::loggable_error!(CAT, "model unusable: {e}"));
            }
            Err(e) => return Err(gst::loggable_error!(CAT, "{e}")),
        };
        let format = in_info.format();
        let logged = &mut state.fallback_logged;
        let runner = scaler.runner();
        let (obj, sizes) = (self.obj(), (in_size, out_size));
        let (why, choice) = (runner.fallback_reason(), runner.backend_choice());
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
        state.processor = Some(Processor { format, scaler });
        Ok(())
    }

    fn transform_frame(
        &self,
        inframe: &gst_video::VideoFrameRef<&gst::BufferRef>,
        outframe: &mut gst_video::VideoFrameRef<&mut gst::BufferRef>,
    ) -> Result<gst::FlowSuccess, gst::FlowError> {
        let mut state = lock(&self.state);
        let Some(p) = state.processor.as_mut() else {
            gst::element_imp_error!(self, gst::CoreError::Negotiation, ["no caps negotiated"]);
            return Err(gst::FlowError::NotNegotiated);
        };
        p.scaler
            .process(
                &lv_gst::frame::planes(inframe),
                &mut lv_gst::frame::planes_mut(outframe),
            )
            .map_err(|e| {
                gst::element_imp_error!(self, gst::StreamError::Failed, ["dnnscale: {e}"]);
                gst::FlowError::Error
            })?;
        Ok(gst::FlowSuccess::Ok)
    }
}
