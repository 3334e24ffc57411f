// SPDX-License-Identifier: MPL-2.0

use gst::glib;
use gst::prelude::*;

mod imp;

lv_gst::backend_enum!("GstDnnscaleBackend");

glib::wrapper! {
    pub struct Dnnscale(ObjectSubclass<imp::Dnnscale>)
        @extends gst_video::VideoFilter, gst_base::BaseTransform, gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    Backend::static_type().mark_as_plugin_api(gst::PluginAPIFlags::empty());
    gst::Element::register(
        Some(plugin),
        "dnnscale",
        gst::Rank::NONE,
        Dnnscale::static_type(),
    )
}
