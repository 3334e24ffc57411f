//! RefineNet's training passes on the kernels: lv-train's [`BatchEngine`] over an
//! [`Executor`], so srenhance's online trainer runs its forward and backward passes and its
//! Adam updates on the GPU (Adam bit-exact with lv_train's).
//! The activations follow [`Trace`]'s layout, so a step's gradient is the CPU's within float
//! summation order (`tests/host_emulation.rs` checks 1e-4 per layer).

use crate::refine::{Conv, Executor};
use lv_graph::net::{ConvLayer, RefineNet};
use lv_train::{Adam, BatchEngine, Tensor, Trace};
use std::sync::Arc;

pub struct KernelEngine {
    exec: Arc<dyn Executor>,
}

impl KernelEngine {
    pub fn new(exec: Arc<dyn Executor>) -> Self {
        KernelEngine { exec }
    }

    fn conv<'a>(net: &'a RefineNet, l: &ConvLayer) -> Conv<'a> {
        Conv {
            cin: l.cin,
            cout: l.cout,
            weight: l.weight(&net.params),
            bias: l.bias(&net.params),
        }
    }

    /// One image: `SpaceToDepth(2)`, the convolutions (ReLU between, the linear branch added
    /// to the last), `DepthToSpace(2)` plus the input; the inputs of every convolution kept.
    fn forward_trace(
        &self,
        net: &RefineNet,
        x: &[f32],
        h: usize,
        w: usize,
    ) -> Result<Trace, String> {
        if !(h.is_multiple_of(2) && w.is_multiple_of(2)) || x.len() != h * w {
            return Err(format!(
                "RefineNet: {h}x{w} must be even and match the input"
            ));
        }
        let (lh, lw) = (h / 2, w / 2);
        let ex = &*self.exec;
        let mut acts = vec![ex.space_to_depth2(x, h, w)?];
        let skip = match &net.skip {
            Some(s) => Some(ex.conv3x3(&acts[0], &Self::conv(net, s), None, lh, lw, false)?),
            None => None,
        };
        let last = net.layers.len() - 1;
        let mut z = Vec::new();
        for (k, l) in net.layers.iter().enumerate() {
            let addend = if k == last { skip.as_deref() } else { None };
            let out = ex.conv3x3(&acts[k], &Self::conv(net, l), addend, lh, lw, k < last)?;
            if k < last {
                acts.push(out);
            } else {
                z = out;
            }
        }
        let output = ex.depth_to_space2_add(&z, x, h, w)?;
        Ok(Trace { h, w, acts, output })
    }

    /// One image's parameter gradient given dL/d output.
    fn backward(&self, net: &RefineNet, t: &Trace, dy: &[f32]) -> Result<Vec<f32>, String> {
        let (h, w) = (t.h, t.w);
        let (lh, lw) = (h / 2, w / 2);
        let ex = &*self.exec;
        let mut grad = vec![0f32; net.params.len()];
        // output = DepthToSpace(z) + x, so dL/dz = SpaceToDepth(dy).
        let dz = ex.space_to_depth2(dy, h, w)?;
        let last = net.layers.len() - 1;
        let mut g = dz.clone();
        for (k, l) in net.layers.iter().enumerate().rev() {
            if k < last {
                ex.relu_backward(&t.acts[k + 1], &mut g)?;
            }
            let (dw, db) = grad[l.offset..l.offset + l.len()].split_at_mut(l.weight_len());
            g = ex.conv3x3_backward(&t.acts[k], &Self::conv(net, l), &g, lh, lw, dw, db)?;
        }
        if let Some(s) = &net.skip {
            let (dw, db) = grad[s.offset..s.offset + s.len()].split_at_mut(s.weight_len());
            ex.conv3x3_backward(&t.acts[0], &Self::conv(net, s), &dz, lh, lw, dw, db)?;
        }
        Ok(grad)
    }
}

impl std::fmt::Debug for KernelEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelEngine")
            .field("executor", &self.exec.name())
            .finish()
    }
}

impl BatchEngine for KernelEngine {
    fn name(&self) -> String {
        self.exec.name()
    }

    fn forward_batch(&self, net: &RefineNet, inputs: &[Tensor]) -> Result<Vec<Trace>, String> {
        inputs
            .iter()
            .map(|x| {
                if x.shape[..2] != [1, 1] {
                    return Err("RefineNet takes [1, 1, H, W] inputs".to_string());
                }
                self.forward_trace(net, &x.data, x.h(), x.w())
            })
            .collect()
    }

    fn backward_batch(
        &self,
        net: &RefineNet,
        traces: &[Trace],
        dys: &[Vec<f32>],
    ) -> Result<Vec<f32>, String> {
        let mut sum = vec![0f32; net.params.len()];
        for (t, dy) in traces.iter().zip(dys) {
            for (s, v) in sum.iter_mut().zip(self.backward(net, t, dy)?) {
                *s += v;
            }
        }
        Ok(sum)
    }

    fn adam_step(
        &self,
        adam: &mut Adam,
        params: &mut [f32],
        grad: &[f32],
        lr: f32,
    ) -> Result<(), String> {
        let (step, eps) = adam.advance(lr);
        let (b1, b2) = (adam.beta1, adam.beta2);
        let done = self
            .exec
            .adam_update(params, grad, &mut adam.m, &mut adam.v, b1, b2, step, eps);
        if done.is_err() {
            // Untouched: the caller's CPU update counts this step itself.
            adam.t -= 1;
        }
        done
    }
}
