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
    lv_gst::element::register(
        plugin,
        "dnnscale",
        Dnnscale::static_type(),
        &[Backend::static_type()],
    )
}
