// SPDX-License-Identifier: MPL-2.0
#![allow(clippy::non_send_fields_in_send_ty, unused_doc_comments)]

//! GStreamer plugin `vqmeter`: full-reference video quality (PSNR, SSIM, MS-SSIM, VMAF)
//! computed in pure Rust with libvmaf's arithmetic.

mod vqmeter;

pub use vqmeter::{FrameMessage, PoolMethod, PooledMessage, ResultsFormat};

fn plugin_init(plugin: &gst::Plugin) -> Result<(), gst::glib::BoolError> {
    vqmeter::register(plugin)
}

gst::plugin_define!(
    vqmeter,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MPL",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
