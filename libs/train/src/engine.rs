//! Where a training step's forward and backward passes run: [`Trainable`]'s CPU code, or an
//! engine that runs them elsewhere (lv-gpu's CUDA kernels) with the same [`Trace`] layout. A
//! trait here so the trainers (lv-livenas) take an engine without depending on lv-gpu.

use crate::adam::Adam;
use crate::net::{RefineNet, Trace};
use crate::tensor::Tensor;

/// The passes of a training step on another engine. The results must match [`Trainable`]'s
/// within float summation order; an `Err` makes the caller run the step on the CPU.
///
/// [`Trainable`]: crate::Trainable
pub trait BatchEngine: Send + Sync + std::fmt::Debug {
    /// For log lines.
    fn name(&self) -> String;
    /// Forward passes keeping the activations, in [`Trace`]'s layout.
    fn forward_batch(&self, net: &RefineNet, inputs: &[Tensor]) -> Result<Vec<Trace>, String>;
    /// The parameter gradient summed over the batch, per-image gradients added in batch order.
    fn backward_batch(
        &self,
        net: &RefineNet,
        traces: &[Trace],
        dys: &[Vec<f32>],
    ) -> Result<Vec<f32>, String>;
    /// One Adam update of `params` (the default: [`Adam::step`] here). An implementation must
    /// give [`Adam::step`]'s values and leave `adam` and `params` as they were when it fails.
    fn adam_step(
        &self,
        adam: &mut Adam,
        params: &mut [f32],
        grad: &[f32],
        lr: f32,
    ) -> Result<(), String> {
        adam.step(params, grad, lr);
        Ok(())
    }
}
