// SPDX-License-Identifier: MPL-2.0

//! `vqmeter`'s properties: the settings they hold, their defaults and their specs, apart from
//! the element so that `imp.rs` reads as pads, caps, frames and messages.

use super::cambi_settings::CambiSettings;
use super::{Backend, PoolMethod, ResultsFormat, Threading};
use gst::glib;
use gst::prelude::*;

const DEFAULT_MODEL: &str = "vmaf_v0.6.1";
const DEFAULT_THREADS: u32 = 0;
const DEFAULT_THREADING: Threading = Threading::Auto;
const DEFAULT_SUBSAMPLE: u32 = 1;
const DEFAULT_FRAME_MESSAGE: bool = true;
const DEFAULT_POOL_METHOD: PoolMethod = PoolMethod::Mean;
const DEFAULT_RESULTS_FORMAT: ResultsFormat = ResultsFormat::Json;

#[derive(Clone, Debug)]
pub(super) struct Settings {
    pub(super) model: String,
    pub(super) psnr: bool,
    pub(super) ssim: bool,
    pub(super) ms_ssim: bool,
    pub(super) cambi: CambiSettings,
    pub(super) pool_method: PoolMethod,
    pub(super) threads: u32,
    pub(super) threading: Threading,
    pub(super) subsample: u32,
    pub(super) frame_message: bool,
    pub(super) results_filename: Option<String>,
    pub(super) results_format: ResultsFormat,
    pub(super) segment_duration: Option<gst::ClockTime>,
    pub(super) backend: Backend,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            model: DEFAULT_MODEL.to_string(),
            psnr: false,
            ssim: false,
            ms_ssim: false,
            cambi: CambiSettings::default(),
            pool_method: DEFAULT_POOL_METHOD,
            threads: DEFAULT_THREADS,
            threading: DEFAULT_THREADING,
            subsample: DEFAULT_SUBSAMPLE,
            frame_message: DEFAULT_FRAME_MESSAGE,
            results_filename: None,
            results_format: DEFAULT_RESULTS_FORMAT,
            segment_duration: None,
            backend: Backend::default(),
        }
    }
}

/// Every property of the element, in gst-inspect's order (`backend-in-use` is read from the
/// element's state, not from [`Settings`]).
pub(super) fn param_specs() -> Vec<glib::ParamSpec> {
    vec![
        glib::ParamSpecString::builder("model-filename")
            .nick("VMAF model")
            .blurb("VMAF model: a built-in version (vmaf_v0.6.1, vmaf_v0.6.1neg, vmaf_4k_v0.6.1, vmaf_float_v0.6.1, vmaf_float_v0.6.1neg) or the path of a libvmaf JSON model; a comma-separated list runs several models (the first is reported as 'vmaf', the others by name); empty disables VMAF")
            .default_value(Some(DEFAULT_MODEL))
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("psnr")
            .nick("PSNR")
            .blurb("Compute PSNR of Y, Cb and Cr (psnr_y, psnr_cb, psnr_cr), as libvmaf's psnr feature")
            .default_value(false)
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("ssim")
            .nick("SSIM")
            .blurb("Compute SSIM of luma (float_ssim), as libvmaf's float_ssim feature")
            .default_value(false)
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("ms-ssim")
            .nick("MS-SSIM")
            .blurb("Compute MS-SSIM of luma (float_ms_ssim), as libvmaf's float_ms_ssim feature; needs at least 176x176 luma")
            .default_value(false)
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder_with_default("pool-method", DEFAULT_POOL_METHOD)
            .nick("Pool method")
            .blurb("Which pooled VMAF the end-of-stream message reports as 'score' (every pooled statistic is reported as well)")
            .mutable_ready()
            .build(),
        lv_gst::element::threads_param_spec(
            "Worker threads (0 = all cores; at most 4 per core are started); see threading \
             for how they share the work",
        ),
        glib::ParamSpecEnum::builder_with_default("threading", DEFAULT_THREADING)
            .nick("Threading")
            .blurb("How the threads share the work: 'frames' measures several frames at once and scales with threads (a frame's scores come up to threads+1 frames late), 'extractors' runs one frame's metrics side by side (at most one frame late), 'auto' is frames unless an input is live")
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt::builder("subsample")
            .nick("Subsample")
            .blurb("Measure every N-th frame only; motion is then measured between measured frames")
            .minimum(1)
            .default_value(DEFAULT_SUBSAMPLE)
            .mutable_ready()
            .build(),
        glib::ParamSpecBoolean::builder("frame-message")
            .nick("Frame message")
            .blurb("Post a 'vqmeter-frame' element message with each frame's scores as soon as they are final (see threading for how late that is)")
            .default_value(DEFAULT_FRAME_MESSAGE)
            .mutable_ready()
            .build(),
        glib::ParamSpecString::builder("results-filename")
            .nick("Results file")
            .blurb("Write per-frame and pooled scores to this file, in libvmaf's log layout (see results-format); unset writes none")
            .mutable_ready()
            .build(),
        glib::ParamSpecEnum::builder_with_default("results-format", DEFAULT_RESULTS_FORMAT)
            .nick("Results format")
            .blurb("Layout of the results file")
            .mutable_ready()
            .build(),
        glib::ParamSpecUInt64::builder("segment-duration")
            .nick("Segment duration")
            .blurb("Post a 'vqmeter-segment' message with pooled scores for every segment of this many nanoseconds of stream time (0 = no segments)")
            .default_value(0)
            .mutable_ready()
            .build(),
        Backend::param_spec(),
        Backend::in_use_param_spec(),
    ]
    .into_iter()
    .chain(CambiSettings::param_specs())
    .collect()
}

impl Settings {
    /// Stores a property's value (its type checked by GObject before this is called).
    pub(super) fn set(&mut self, name: &str, value: &glib::Value) {
        match name {
            "model-filename" => {
                self.model = value.get::<Option<String>>().unwrap().unwrap_or_default()
            }
            "psnr" => self.psnr = value.get().unwrap(),
            "ssim" => self.ssim = value.get().unwrap(),
            "ms-ssim" => self.ms_ssim = value.get().unwrap(),
            "pool-method" => self.pool_method = value.get().unwrap(),
            "threads" => self.threads = value.get().unwrap(),
            "threading" => self.threading = value.get().unwrap(),
            "subsample" => self.subsample = value.get().unwrap(),
            "frame-message" => self.frame_message = value.get().unwrap(),
            "results-filename" => self.results_filename = value.get().unwrap(),
            "results-format" => self.results_format = value.get().unwrap(),
            "segment-duration" => {
                let ns: u64 = value.get().unwrap();
                self.segment_duration = (ns > 0).then(|| gst::ClockTime::from_nseconds(ns));
            }
            "backend" => self.backend = value.get().unwrap(),
            other => {
                // GObject only dispatches the properties of `param_specs`.
                let known = self.cambi.set(other, value);
                assert!(known, "vqmeter has no setting {other}");
            }
        }
    }

    pub(super) fn get(&self, name: &str) -> glib::Value {
        match name {
            "model-filename" => self.model.to_value(),
            "psnr" => self.psnr.to_value(),
            "ssim" => self.ssim.to_value(),
            "ms-ssim" => self.ms_ssim.to_value(),
            "pool-method" => self.pool_method.to_value(),
            "threads" => self.threads.to_value(),
            "threading" => self.threading.to_value(),
            "subsample" => self.subsample.to_value(),
            "frame-message" => self.frame_message.to_value(),
            "results-filename" => self.results_filename.to_value(),
            "results-format" => self.results_format.to_value(),
            "segment-duration" => self.segment_duration.map_or(0, |d| d.nseconds()).to_value(),
            "backend" => self.backend.to_value(),
            other => self
                .cambi
                .get(other)
                .unwrap_or_else(|| unreachable!("vqmeter has no setting {other}")),
        }
    }
}
