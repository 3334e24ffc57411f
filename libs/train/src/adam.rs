//! Adam (Kingma & Ba) with bias correction, over one flat parameter vector.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Adam {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub t: u64,
    pub m: Vec<f32>,
    pub v: Vec<f32>,
}

impl Adam {
    pub fn new(n: usize, lr: f32) -> Self {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            t: 0,
            m: vec![0.0; n],
            v: vec![0.0; n],
        }
    }

    /// Counts a step and returns its bias-corrected step size and epsilon, which every
    /// implementation of the update (this one, lv-gpu's kernel) applies as
    /// `m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; p −= step·m / (√v + eps)`.
    pub fn advance(&mut self, lr: f32) -> (f32, f32) {
        self.t += 1;
        bias_corrected(self.beta1, self.beta2, self.eps, self.t, lr)
    }

    /// One update of `params` with gradient `grad`, at learning rate `lr` (callers schedule it).
    pub fn step(&mut self, params: &mut [f32], grad: &[f32], lr: f32) {
        assert_eq!(params.len(), self.m.len());
        assert_eq!(grad.len(), self.m.len());
        let (step, eps) = self.advance(lr);
        for ((p, &g), (m, v)) in params
            .iter_mut()
            .zip(grad)
            .zip(self.m.iter_mut().zip(self.v.iter_mut()))
        {
            *m = self.beta1 * *m + (1.0 - self.beta1) * g;
            *v = self.beta2 * *v + (1.0 - self.beta2) * g * g;
            *p -= step * *m / (v.sqrt() + eps);
        }
    }
}

/// Step `t`'s (from 1) bias-corrected step size and epsilon at learning rate `lr`.
pub fn bias_corrected(beta1: f32, beta2: f32, eps: f32, t: u64, lr: f32) -> (f32, f32) {
    let b1t = 1.0 - (beta1 as f64).powi(t as i32);
    let b2t = 1.0 - (beta2 as f64).powi(t as i32);
    let step = (lr as f64 * b2t.sqrt() / b1t) as f32;
    (step, eps * b2t.sqrt() as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimizes_a_quadratic() {
        // f(p) = Σ (p_i - i)², from 0.
        let mut p = vec![0.0f32; 4];
        let mut opt = Adam::new(4, 0.1);
        for _ in 0..2000 {
            let g: Vec<f32> = p
                .iter()
                .enumerate()
                .map(|(i, &v)| 2.0 * (v - i as f32))
                .collect();
            opt.step(&mut p, &g, 0.05);
        }
        for (i, v) in p.iter().enumerate() {
            assert!((v - i as f32).abs() < 1e-2, "{p:?}");
        }
    }

    #[test]
    fn first_step_moves_each_parameter_by_lr() {
        // Bias correction makes the first step exactly lr * sign(g) (up to eps).
        let mut p = vec![1.0f32, 1.0];
        let mut opt = Adam::new(2, 0.01);
        opt.step(&mut p, &[3.0, -0.001], 0.01);
        assert!(
            (p[0] - 0.99).abs() < 1e-5 && (p[1] - 1.01).abs() < 1e-4,
            "{p:?}"
        );
    }
}
