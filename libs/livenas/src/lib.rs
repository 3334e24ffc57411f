//! LiveNAS (seed 003) algorithms, apart from the GStreamer glue: see docs/srenhance-design.md.
//!
//! Streamer side: [`select`] (patch sampler, §5.2) and [`scheduler`] (quality-optimizing
//! scheduler, Eq. 1–2). Ingest side: [`store`] (recent-weighted patch store), [`trainer`]
//! (online training) and [`adaptive`] (content-adaptive control, Algorithm 1).

pub mod adaptive;
pub mod scheduler;
pub mod select;
pub mod store;
pub mod trainer;
pub mod wire;
