//! Image planes and resampling, none of it GStreamer-specific: strided plane views, chroma
//! layouts, NV12 chroma (de)interleaving, separable resampling and the aspect-ratio arithmetic
//! of scalers; and how the elements write a whole file (a results log, a saved model).
//! Everything takes plain slices and sizes so unit tests and benches call it without a
//! pipeline.

pub mod aspect;
pub mod nv12;
pub mod output;
pub mod plane;
pub mod resample;
