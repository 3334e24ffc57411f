// SPDX-License-Identifier: MPL-2.0

//! Typed fields read back from an element message's structure, for the `TryFrom` of the
//! message structs (`EpochMessage`, `RateMessage`): a wrong name or a missing or mistyped field
//! is an error naming the message and the field.

use gst::glib::value::FromValue;

pub(crate) struct Fields<'a> {
    s: &'a gst::StructureRef,
    message: &'static str,
}

impl<'a> Fields<'a> {
    pub(crate) fn of(s: &'a gst::StructureRef, message: &'static str) -> Result<Self, String> {
        if s.name() != message {
            return Err(format!("not a {message} structure"));
        }
        Ok(Fields { s, message })
    }

    pub(crate) fn get<T: FromValue<'a> + 'static>(&self, name: &str) -> Result<T, String> {
        self.s
            .get::<T>(name)
            .map_err(|e| format!("{}: {name}: {e}", self.message))
    }
}
