//! Full-reference video-quality metrics, computed the way libvmaf computes them so the
//! numbers agree with the industry's reference implementation.
//!
//! Each feature is a struct created for one size and bit depth (buffers allocated once)
//! with a per-frame `compute`; temporal features (motion) keep their own state.
//! The VMAF model (SVM + transforms) and pooling are kept apart from extraction.

pub mod accel;
pub mod adm_float;
pub mod adm_int;
pub mod cambi;
pub mod frames;
mod isa;
pub mod meter;
pub mod model;
pub mod motion_float;
pub mod motion_int;
pub mod ms_ssim;
pub mod pool;
pub mod psnr;
pub mod report;
pub mod ssim;
pub mod vif_float;
pub mod vif_int;
