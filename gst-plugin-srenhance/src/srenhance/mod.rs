// SPDX-License-Identifier: MPL-2.0
// Placeholder until the element lands (docs/srenhance-design.md); registers nothing.

pub fn register(_plugin: &gst::Plugin) -> Result<(), gst::glib::BoolError> {
    Ok(())
}
