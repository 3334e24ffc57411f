//! Shared helpers of the command-line tools.
