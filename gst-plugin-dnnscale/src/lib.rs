// SPDX-License-Identifier: MPL-2.0
#![allow(clippy::non_send_fields_in_send_ty, unused_doc_comments)]

//! GStreamer plugin `dnnscale`: a learned downscaler. Luma is resized with Lanczos to the
//! negotiated size and refined by a small network (ONNX, run by `lvinfer`); chroma is resized
//! with Lanczos.

mod dnnscale;

pub use dnnscale::Backend;

fn plugin_init(plugin: &gst::Plugin) -> Result<(), gst::glib::BoolError> {
    dnnscale::register(plugin)
}

gst::plugin_define!(
    dnnscale,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MPL",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
