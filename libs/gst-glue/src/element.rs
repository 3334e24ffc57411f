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

/// Largest value the `threads` property accepts. A bound at all is what matters: unbounded,
/// `threads=-1` (read as 4294967295) started threads until the process stalled. 256 is above
/// any machine these elements run on; [`worker_threads`] clamps further to the machine.
pub const MAX_THREADS: u32 = 256;

/// Worker threads per core at most: more only adds scheduling and memory, never speed.
const THREADS_PER_CORE: usize = 4;

/// The `threads` property (0, the default: all cores), bounded to `0..=MAX_THREADS`; out of
/// range values are refused by GLib with a warning, as for any GStreamer property.
pub fn threads_param_spec(blurb: &str) -> glib::ParamSpec {
    glib::ParamSpecUInt::builder("threads")
        .nick("Threads")
        .blurb(blurb)
        .minimum(0)
        .maximum(MAX_THREADS)
        .default_value(0)
        .mutable_ready()
        .build()
}

/// The number of worker threads to start for a `threads` value: 0 stays 0 (all cores, the
/// libraries' convention); otherwise at most [`THREADS_PER_CORE`] per core of this machine,
/// so that a value valid on a big machine cannot overload a small one.
pub fn worker_threads(threads: u32) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (threads as usize).min(cores * THREADS_PER_CORE)
}

/// Whether a property change must be refused because the element runs: a property without
/// `GST_PARAM_MUTABLE_PLAYING` is read when the element starts, so changed in PAUSED or
/// PLAYING it would be reported but not in effect (and take effect at some later caps
/// change). Logs a warning naming the property when it refuses.
pub fn refuse_while_running(
    obj: &impl IsA<gst::Element>,
    cat: gst::DebugCategory,
    pspec: &glib::ParamSpec,
) -> bool {
    let running = obj.as_ref().current_state() > gst::State::Ready;
    if running && !pspec.flags().contains(gst::PARAM_FLAG_MUTABLE_PLAYING) {
        gst::warning!(
            cat,
            obj = obj.as_ref(),
            "property {} can only be changed in the NULL or READY state; ignored",
            pspec.name()
        );
        return true;
    }
    false
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_bounded_and_clamped_to_the_machine() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(worker_threads(0), 0);
        assert_eq!(worker_threads(1), 1);
        assert_eq!(worker_threads(u32::MAX), cores * THREADS_PER_CORE);
        assert_eq!(
            worker_threads(MAX_THREADS),
            (MAX_THREADS as usize).min(cores * 4)
        );
        gst::init().unwrap();
        let spec = threads_param_spec("t");
        let spec = spec.downcast_ref::<glib::ParamSpecUInt>().unwrap();
        assert_eq!((spec.minimum(), spec.maximum()), (0, MAX_THREADS));
        assert_eq!(spec.default_value(), 0);
    }
}
