// SPDX-License-Identifier: MPL-2.0

//! `srenhance`: the ingest server side of LiveNAS (docs/srenhance-design.md).

use gst::glib;
use gst::prelude::*;

mod imp;

/// Where the network runs (the `backend` property).
#[derive(Debug, Eq, PartialEq, Ord, PartialOrd, Hash, Clone, Copy, Default, glib::Enum)]
#[repr(u32)]
#[enum_type(name = "GstSrenhanceBackend")]
pub enum Backend {
    #[default]
    #[enum_value(name = "CPU (tract-onnx)", nick = "cpu")]
    Cpu = 0,
    #[enum_value(
        name = "CUDA (falls back to the CPU, with a log line, when no CUDA device is usable)",
        nick = "cuda"
    )]
    Cuda = 1,
}

impl From<Backend> for lv_infer::BackendKind {
    fn from(b: Backend) -> Self {
        match b {
            Backend::Cpu => lv_infer::BackendKind::Cpu,
            Backend::Cuda => lv_infer::BackendKind::Cuda,
        }
    }
}

glib::wrapper! {
    pub struct Srenhance(ObjectSubclass<imp::Srenhance>)
        @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    Backend::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(
        Some(plugin),
        "srenhance",
        gst::Rank::NONE,
        Srenhance::static_type(),
    )
}
