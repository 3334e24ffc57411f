//! Test support for the workspace's tests, benches and tools, never linked into a plugin: the
//! one place that runs the oracle ffmpeg/libvmaf ([`oracle`]) and a YUV4MPEG2 reader/writer
//! ([`y4m`]), the speed benches' common knobs ([`bench`]) the elements'
//! documented interface ([`elements`]) and picture differences ([`diff`]).

pub mod bench;
pub mod diff;
pub mod elements;
pub mod oracle;
pub mod y4m;
