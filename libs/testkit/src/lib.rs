//! Test support for the workspace's tests, benches and tools, never linked into a plugin: the
//! one place that runs the oracle ffmpeg/libvmaf ([`oracle`]) and a YUV4MPEG2 reader/writer
//! ([`y4m`]), the speed benches' common knobs ([`bench`]) the elements'
//! documented interface ([`elements`]), picture differences ([`diff`]) and a stress driver for
//! running pipelines ([`stress`]).

pub mod bench;
pub mod diff;
pub mod elements;
pub mod oracle;
#[cfg(feature = "gst")]
pub mod stress;
pub mod y4m;
