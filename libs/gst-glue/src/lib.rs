// SPDX-License-Identifier: MPL-2.0

//! GStreamer glue shared by the plugins, kept out of the libraries (which have no GStreamer):
//! the `backend` property's enum, caps size and aspect-ratio fixation, and plane views over
//! mapped frames.

mod backend;
pub mod caps;
pub mod frame;

/// For [`backend_enum!`]'s expansion, so plugins need no glib dependency of their own.
#[doc(hidden)]
pub use gst::glib;
