//! Shared helpers of the command-line tools.

pub mod bdrate;
pub mod plot;
