// SPDX-License-Identifier: MPL-2.0

//! `srenhance`: the ingest server side of LiveNAS (docs/srenhance-design.md).

use gst::glib;
use gst::prelude::*;

mod imp;

lv_gst::backend_enum!("GstSrenhanceBackend");

glib::wrapper! {
    pub struct Srenhance(ObjectSubclass<imp::Srenhance>)
        @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    lv_gst::element::register(
        plugin,
        "srenhance",
        Srenhance::static_type(),
        &[Backend::static_type()],
    )
}
