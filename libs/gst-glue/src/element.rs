// SPDX-License-Identifier: MPL-2.0

//! What every element of these plugins declares the same way: registration, metadata, raw
//! video pad templates, string properties.

use gst::glib;
use gst::prelude::*;

/// Registers element `name` in `plugin`, with `api` (the enums its properties use) marked as
/// plugin API so that gst-inspect and the documentation list their values.
pub fn register(
    plugin: &gst::Plugin,
    name: &str,
    element: glib::Type,
    api: &[glib::Type],
) -> Result<(), glib::BoolError> {
    for t in api {
        t.mark_as_plugin_api(gst::PluginAPIFlags::empty());
    }
    gst::Element::register(Some(plugin), name, gst::Rank::NONE, element)
}

/// Element metadata with the project as author.
pub fn metadata(
    long_name: &str,
    classification: &str,
    description: &str,
) -> gst::subclass::ElementMetadata {
    gst::subclass::ElementMetadata::new(
        long_name,
        classification,
        description,
        "learned-video-gst developers",
    )
}

/// Raw video caps in any of `formats`, any size and rate.
pub fn video_caps(formats: &[gst_video::VideoFormat]) -> gst::Caps {
    gst_video::VideoCapsBuilder::new()
        .format_list(formats.iter().copied())
        .build()
}

/// An always-present pad template.
///
/// # Panics
/// If GStreamer refuses the template (a programming error: templates are static).
pub fn always_template(
    name: &str,
    direction: gst::PadDirection,
    caps: &gst::Caps,
) -> gst::PadTemplate {
    gst::PadTemplate::new(name, direction, gst::PadPresence::Always, caps).unwrap()
}

/// The `threads` property of an element that runs a network (0, the default: all cores).
pub fn threads_param_spec(blurb: &str) -> glib::ParamSpec {
    glib::ParamSpecUInt::builder("threads")
        .nick("Threads")
        .blurb(blurb)
        .default_value(0)
        .mutable_ready()
        .build()
}

/// A string property's value, `None` when unset or empty (an empty string from gst-launch
/// means "the default").
pub fn non_empty_string(value: &glib::Value) -> Option<String> {
    value
        .get::<Option<String>>()
        .ok()
        .flatten()
        .filter(|s| !s.is_empty())
}
