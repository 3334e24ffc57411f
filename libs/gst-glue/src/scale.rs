// SPDX-License-Identifier: MPL-2.0

//! What the scaling elements (dnnscale, srenhance) take from caps for their scaler and log about
//! it. Free of lv-infer's types on purpose: vqmeter links this crate too, and with lv-infer
//! behind a feature, cargo's feature unification linked tract into vqmeter in every build of
//! the workspace (21.8 MB instead of 2.3 MB in the `dist` profile).

use lv_image::plane::PlaneLayout;

/// Input size, output size and plane layout (with chroma siting) of an `in_info` → `out_info`
/// caps pair.
pub fn geometry(
    in_info: &gst_video::VideoInfo,
    out_info: &gst_video::VideoInfo,
) -> ((usize, usize), (usize, usize), PlaneLayout) {
    (
        (in_info.width() as usize, in_info.height() as usize),
        (out_info.width() as usize, out_info.height() as usize),
        crate::frame::layout(in_info),
    )
}

/// Logs a scaler just built for `format`: why a requested CUDA backend is not in use (a
/// warning, once per element: `fallback_logged`), then what runs (`runner`'s Debug form).
#[allow(clippy::too_many_arguments)]
pub fn log_new(
    cat: gst::DebugCategory,
    obj: &gst::Object,
    format: gst_video::VideoFormat,
    ((iw, ih), (ow, oh)): ((usize, usize), (usize, usize)),
    fallback_reason: Option<&str>,
    backend_choice: Option<&str>,
    runner: &dyn std::fmt::Debug,
    fallback_logged: &mut bool,
) {
    if !*fallback_logged {
        // `cuda` that cannot run is a warning; `auto`'s choice is information.
        if let Some(reason) = fallback_reason {
            gst::warning!(cat, obj = obj, "{reason}");
        }
        if let Some(choice) = backend_choice {
            gst::info!(cat, obj = obj, "{choice}");
        }
        *fallback_logged = fallback_reason.is_some() || backend_choice.is_some();
    }
    gst::info!(
        cat,
        obj = obj,
        "{format:?} {iw}x{ih} -> {ow}x{oh}: {runner:?}"
    );
}
