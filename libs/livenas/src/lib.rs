//! LiveNAS (seed 003) algorithms, apart from the GStreamer glue: see docs/srenhance-design.md.
//!
//! Streamer side: [`select`] (patch sampler, §5.2) and [`scheduler`] (quality-optimizing
//! scheduler, Eq. 1–2). Ingest side: [`store`] (recent-weighted patch store), [`trainer`]
//! (online training), [`adaptive`] (content-adaptive control, Algorithm 1) and [`online`]
//! (all of them running beside a video stream: the `srenhance` element's trainer).

pub mod adaptive;
pub mod advice;
pub mod budget;
pub mod online;
pub mod postfilter;
pub mod scene;
pub mod scheduler;
pub mod select;
pub mod serve;
pub mod store;
pub mod trainer;
pub mod wire;
