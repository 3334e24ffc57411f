// SPDX-License-Identifier: MPL-2.0

//! GStreamer glue shared by the plugins, kept out of the libraries (which have no GStreamer):
//! the `backend` property's enum, element declarations, caps size and aspect-ratio
//! fixation, plane views over mapped frames, the one way elements take their locks ([`sync::lock`])
//! and the scaling elements' caps geometry and log line.

mod backend;
pub mod caps;
pub mod element;
pub mod frame;
pub mod scale;
pub mod sync;

// For `backend_enum!`'s expansion, which must not depend on the invoking crate's imports.
#[doc(hidden)]
pub use gst;
#[doc(hidden)]
pub use gst::glib;
