// SPDX-License-Identifier: MPL-2.0

//! `srpatch`: the streamer side of LiveNAS (seed 003, §5): passes the high-resolution video
//! through and, beside it, sends high-quality training patches (`application/x-srpatch`, one
//! `lvpatch` message per buffer) paced by the quality-optimizing scheduler.
//!
//! The server's feedback arrives as the upstream custom event `srpatch-feedback` on
//! `patch_src` (or sent to the element): [`crate::feedback::SrpatchFeedback`].

use gst::glib;
use gst::prelude::*;

mod imp;
mod messages;
mod settings;

pub use messages::{RateMessage, RATE_MESSAGE};

glib::wrapper! {
    pub struct Srpatch(ObjectSubclass<imp::Srpatch>) @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "srpatch",
        gst::Rank::NONE,
        Srpatch::static_type(),
    )
}
