// SPDX-License-Identifier: MPL-2.0

use gst::glib;
use gst::prelude::*;

mod cambi_settings;
mod imp;
mod messages;
mod pairing;
mod results_file;
mod settings;

pub use cambi_settings::CambiEotf;

lv_gst::backend_enum!("GstVqmeterBackend", features);
pub use messages::{FrameMessage, PooledMessage};

/// Which pooled value the EOS message reports as its headline `score`.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstVqmeterPoolMethod")]
pub enum PoolMethod {
    #[enum_value(name = "Minimum of the per-frame scores", nick = "min")]
    Min = 0,
    #[enum_value(name = "Arithmetic mean", nick = "mean")]
    Mean = 1,
    #[enum_value(
        name = "Harmonic mean (libvmaf's: 1/mean(1/(x+1)) - 1)",
        nick = "harmonic-mean"
    )]
    HarmonicMean = 2,
}

/// Layout of the results file: libvmaf's JSON, CSV or XML log layout.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstVqmeterResultsFormat")]
pub enum ResultsFormat {
    #[enum_value(name = "libvmaf JSON log layout", nick = "json")]
    Json = 0,
    #[enum_value(name = "CSV, one row per frame", nick = "csv")]
    Csv = 1,
    #[enum_value(name = "libvmaf XML log layout", nick = "xml")]
    Xml = 2,
}

/// How the `threads` share the work: whole frames at once, or one frame's extractors.
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstVqmeterThreading")]
pub enum Threading {
    #[enum_value(
        name = "frames when no input is live, extractors in a live pipeline",
        nick = "auto"
    )]
    Auto = 0,
    #[enum_value(
        name = "Several frames measured at once, one per thread (scales with threads; scores up to threads+1 frames late)",
        nick = "frames"
    )]
    Frames = 1,
    #[enum_value(
        name = "One frame at a time, its metrics side by side (scores at most one frame late)",
        nick = "extractors"
    )]
    Extractors = 2,
}

glib::wrapper! {
    pub struct Vqmeter(ObjectSubclass<imp::Vqmeter>)
        @extends gst_video::VideoAggregator, gst_base::Aggregator, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    lv_gst::element::register(
        plugin,
        "vqmeter",
        Vqmeter::static_type(),
        &[
            PoolMethod::static_type(),
            ResultsFormat::static_type(),
            Threading::static_type(),
            CambiEotf::static_type(),
        ],
    )
}
