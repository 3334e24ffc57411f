//! CUDA kernels of the learned-video elements (issue #17), with two ways to run them:
//!
//! - on a GPU: the CUDA C sources in `kernels/` are compiled at run time by NVRTC through cudarc
//!   (dynamic loading: nothing links against CUDA at build time, and a machine without it only
//!   finds out when it asks, see [`nvrtc`]);
//! - on the CPU, in the tests: the very same sources, built as C++ through a small shim that
//!   runs a launch's threads one after another ([`host`]). Every kernel's logic is checked there
//!   against the CPU path of `lv-metrics` / `lv-graph` without a GPU.
//!
//! [`launch`] holds the launch geometry both share, so the emulation also checks the grid
//! arithmetic the GPU launch uses.

pub mod adm;
pub mod device;
pub mod features;
pub mod host;
pub mod kernels;
pub mod launch;
pub mod nvrtc;
pub mod refine;
pub mod select;
pub mod train;
