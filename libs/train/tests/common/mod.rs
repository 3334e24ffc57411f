//! tract's plan of an exported net for one input size, made the way the runtime makes it: the
//! agreement tests and the `tract_time` example must measure and check the same thing.
#![allow(dead_code)]

use std::sync::Arc;
use tract_onnx::prelude::*;

/// The optimised, runnable plan of the ONNX `bytes` for a 1x1x`h`x`w` input.
pub fn plan(bytes: &[u8], h: usize, w: usize) -> Arc<TypedRunnableModel> {
    tract_onnx::onnx()
        .model_for_read(&mut &bytes[..])
        .unwrap()
        .with_input_fact(0, f32::fact([1, 1, h, w]).into())
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap()
}
