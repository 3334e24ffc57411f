//! Image planes and resampling, none of it GStreamer-specific: strided plane views, chroma
//! layouts and separable resampling. Everything takes plain slices and sizes so unit tests and
//! benches call it without a pipeline.

pub mod plane;
pub mod resample;
