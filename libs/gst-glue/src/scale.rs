// SPDX-License-Identifier: MPL-2.0

//! `lv_infer::scale::Scaler` set up from negotiated caps, for the scaling elements.

use lv_image::resample::Kernel;
use lv_infer::scale::{Scaler, ScalerConfig};
use lv_infer::RunnerConfig;

/// The scaler configuration for an `in_info` → `out_info` caps pair.
pub fn config(
    in_info: &gst_video::VideoInfo,
    out_info: &gst_video::VideoInfo,
    kernel: Kernel,
    runner: RunnerConfig,
) -> ScalerConfig {
    ScalerConfig {
        in_size: (in_info.width() as usize, in_info.height() as usize),
        out_size: (out_info.width() as usize, out_info.height() as usize),
        layout: crate::frame::layout(in_info),
        kernel,
        runner,
    }
}

/// Logs a scaler just built for `format`: why a requested CUDA backend is not in use (a
/// warning, once per element: `fallback_logged`), then what runs.
pub fn log_new(
    cat: gst::DebugCategory,
    obj: &gst::Object,
    format: gst_video::VideoFormat,
    scaler: &Scaler,
    fallback_logged: &mut bool,
) {
    let runner = scaler.runner();
    if let (Some(reason), false) = (runner.fallback_reason(), *fallback_logged) {
        gst::warning!(cat, obj = obj, "{reason}");
        *fallback_logged = true;
    }
    let ((iw, ih), (ow, oh)) = (scaler.config().in_size, scaler.config().out_size);
    gst::info!(
        cat,
        obj = obj,
        "{format:?} {iw}x{ih} -> {ow}x{oh}: {runner:?}"
    );
}
