//! Inference runtime for the learned-video elements (see docs/dnnscale-design.md).
//!
//! - [`Model`]: an ONNX file or bytes, validated against the `dnnscale-refine-v1` contract,
//!   with a cache of plans concretized per size (H and W fixed before tract optimizes).
//! - [`PlaneRunner`]: one plane size, horizontal tiles over a rayon pool, output independent of
//!   the tiling, no per-frame buffers of its own.
//! - `native`: the CPU engine for lvtrain's RefineNet graphs (hand-written 3x3 convs,
//!   channel-last; scalar, AVX+FMA and AVX-512 kernels chosen at run time, [`NativeIsa`]);
//!   other graphs run on tract ([`Engine`]).
//! - [`BackendKind`]: `cpu` (tract) or `cuda` (probed at run time, falls back to `cpu` with a
//!   reason the caller logs).
//! - [`scale`]: the elements' scaling path (luma resampled then refined, chroma resampled).
//! - [`synth`]: builds contract-conforming models from given weights (tests, debugging).

mod backend;
mod model;
mod native;
mod runner;
pub mod scale;
pub mod synth;

pub use backend::{cuda_device, BackendKind};
pub use model::{Model, ModelError, ModelInfo, Stage, KIND_REFINE_V1, KIND_SRENHANCE_V1};
pub use native::Isa as NativeIsa;
pub use runner::{Engine, PlaneRunner, RunError, RunnerConfig, Sample};
pub use tract_onnx::pb;
