//! What the elements share, none of it GStreamer-specific: strided plane views and the
//! video-quality metrics. Everything here takes plain slices and sizes so unit tests and
//! benches call it without a pipeline.

pub mod metrics;
pub mod oracle;
pub mod plane;
pub mod resample;
pub mod y4m;
