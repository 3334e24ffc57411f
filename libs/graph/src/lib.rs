//! The network graph contract that training (`lv-train`) and inference (`lv-infer`) share,
//! so that inference never links the training engine: [`RefineNet`]'s layers and weights
//! ([`net`]) and its ONNX form with the `lv.*` metadata ([`onnx`]).

pub mod net;
pub mod onnx;

pub use net::{ConvLayer, RefineConfig, RefineNet, BLOCK};
