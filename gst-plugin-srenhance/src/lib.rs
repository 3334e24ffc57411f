// SPDX-License-Identifier: MPL-2.0
#![allow(clippy::non_send_fields_in_send_ty, unused_doc_comments)]

//! GStreamer plugin `srenhance` (LiveNAS, seed 003): `srpatch` on the streamer sends
//! high-quality training patches beside the video; `srenhance` on the ingest server upscales
//! the decoded stream with a super-resolution network that it trains online from them.

pub mod feedback;
mod fields;
mod srenhance;
mod srpatch;

pub use srenhance::{EpochMessage, EPOCH_MESSAGE};
pub use srpatch::{RateMessage, RATE_MESSAGE};

fn plugin_init(plugin: &gst::Plugin) -> Result<(), gst::glib::BoolError> {
    srpatch::register(plugin)?;
    srenhance::register(plugin)
}

gst::plugin_define!(
    srenhance,
    env!("CARGO_PKG_DESCRIPTION"),
    plugin_init,
    concat!(env!("CARGO_PKG_VERSION"), "-", env!("COMMIT_ID")),
    "MPL",
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_NAME"),
    env!("CARGO_PKG_REPOSITORY"),
    env!("BUILD_REL_DATE")
);
