//! Shared helpers of the command-line tools.

pub mod bdrate;
pub mod cli;
pub mod noise;
pub mod plot;
pub mod summary;
pub mod tiles;
pub mod video;
pub mod x264;
