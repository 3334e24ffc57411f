//! Test support for the workspace's tests, benches and tools, never linked into a plugin: the
//! one place that runs the oracle ffmpeg/libvmaf ([`oracle`]) and a YUV4MPEG2 reader/writer
//! ([`y4m`]).

pub mod oracle;
pub mod y4m;
