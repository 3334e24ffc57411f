//! Forward and backward passes of [`RefineNet`] (defined with its ONNX form in `lv-graph`),
//! batched over rayon, for dnnscale's offline and srenhance's online training.

use rayon::prelude::*;

use crate::{conv, ops, tensor::Tensor};
pub use lv_graph::net::{normal, ConvLayer, RefineConfig, RefineNet, BLOCK};

/// What a forward pass keeps for the backward pass of one image.
#[derive(Clone, Debug)]
pub struct Trace {
    pub h: usize,
    pub w: usize,
    /// Input of each conv (post-ReLU activations; the first is SpaceToDepth(x)).
    pub acts: Vec<Vec<f32>>,
    /// The network output `[1, h, w]`.
    pub output: Vec<f32>,
}

/// Training passes over a [`RefineNet`]. A trait because the net's definition lives in the
/// graph contract crate, which inference links without the training engine.
pub trait Trainable {
    /// Forward pass of one `[1, h, w]` image (`h`, `w` even), keeping the activations.
    fn forward_trace(&self, x: &[f32], h: usize, w: usize) -> Trace;
    /// Forward pass without keeping activations.
    fn forward(&self, x: &[f32], h: usize, w: usize) -> Vec<f32> {
        self.forward_trace(x, h, w).output
    }
    /// Backward pass: accumulates the parameter gradients of `L` into `grad` (same layout
    /// as `params`) given `dy = dL/d output`; returns `dL/dx` when `want_dx`.
    fn backward(&self, t: &Trace, dy: &[f32], grad: &mut [f32], want_dx: bool) -> Option<Vec<f32>>;
    /// Forward passes of a batch of images of any (even) sizes, in parallel.
    fn forward_batch(&self, inputs: &[Tensor]) -> Vec<Trace>;
    /// Backward passes of a batch in parallel; returns the summed parameter gradient.
    /// Per-image gradients are summed in batch order, so the result does not depend on how
    /// rayon schedules the work (training is reproducible for a fixed seed).
    fn backward_batch(&self, traces: &[Trace], dys: &[Vec<f32>]) -> Vec<f32>;
}

fn scratch_len(net: &RefineNet, lh: usize, lw: usize) -> usize {
    net.layers.iter().map(|l| l.cin * 9).max().unwrap() * lh * lw
}

impl Trainable for RefineNet {
    /// Forward pass of one `[1, h, w]` image (`h`, `w` even), keeping the activations.
    fn forward_trace(&self, x: &[f32], h: usize, w: usize) -> Trace {
        assert!(
            h.is_multiple_of(BLOCK) && w.is_multiple_of(BLOCK),
            "RefineNet: {h}x{w} must be even"
        );
        assert_eq!(x.len(), h * w);
        let (lh, lw) = (h / BLOCK, w / BLOCK);
        let hw = lh * lw;
        let mut col = vec![0.0f32; scratch_len(self, lh, lw)];
        let mut a0 = vec![0.0f32; BLOCK * BLOCK * hw];
        ops::space_to_depth(x, 1, h, w, BLOCK, &mut a0);
        let mut acts = vec![a0];
        let last = self.layers.len() - 1;
        let mut z = Vec::new();
        for (k, l) in self.layers.iter().enumerate() {
            let mut out = vec![0.0f32; l.cout * hw];
            conv::forward(
                &acts[k],
                l.cin,
                lh,
                lw,
                l.weight(&self.params),
                l.bias(&self.params),
                l.cout,
                &mut out,
                &mut col,
            );
            if k < last {
                ops::relu(&mut out);
                acts.push(out);
            } else {
                z = out;
            }
        }
        if let Some(s) = &self.skip {
            let mut out = vec![0.0f32; s.cout * hw];
            conv::forward(
                &acts[0],
                s.cin,
                lh,
                lw,
                s.weight(&self.params),
                s.bias(&self.params),
                s.cout,
                &mut out,
                &mut col,
            );
            for (a, b) in z.iter_mut().zip(&out) {
                *a += b;
            }
        }
        let mut output = vec![0.0f32; h * w];
        ops::depth_to_space(&z, BLOCK * BLOCK, lh, lw, BLOCK, &mut output);
        for (o, &i) in output.iter_mut().zip(x) {
            *o += i;
        }
        Trace { h, w, acts, output }
    }

    /// Backward pass: accumulates the parameter gradients of `L` into `grad` (same layout
    /// as `params`) given `dy = dL/d output`; returns `dL/dx` when `want_dx`.
    fn backward(&self, t: &Trace, dy: &[f32], grad: &mut [f32], want_dx: bool) -> Option<Vec<f32>> {
        let (h, w) = (t.h, t.w);
        let (lh, lw) = (h / BLOCK, w / BLOCK);
        let hw = lh * lw;
        let mut col = vec![0.0f32; scratch_len(self, lh, lw)];
        let mut g = vec![0.0f32; BLOCK * BLOCK * hw];
        ops::space_to_depth(dy, 1, h, w, BLOCK, &mut g);
        let mut skip_dx = None;
        if let Some(s) = &self.skip {
            let (gw, gb) = grad[s.offset..s.offset + s.len()].split_at_mut(s.weight_len());
            let mut dx = if want_dx {
                vec![0.0f32; s.cin * hw]
            } else {
                Vec::new()
            };
            conv::backward(
                &t.acts[0],
                s.cin,
                lh,
                lw,
                s.weight(&self.params),
                s.cout,
                &g,
                want_dx.then_some(&mut dx[..]),
                gw,
                gb,
                &mut col,
            );
            skip_dx = want_dx.then_some(dx);
        }
        for (k, l) in self.layers.iter().enumerate().rev() {
            let (gw, gb) = grad[l.offset..l.offset + l.len()].split_at_mut(l.weight_len());
            let need_dx = k > 0 || want_dx;
            let mut dx = if need_dx {
                vec![0.0f32; l.cin * hw]
            } else {
                Vec::new()
            };
            conv::backward(
                &t.acts[k],
                l.cin,
                lh,
                lw,
                l.weight(&self.params),
                l.cout,
                &g,
                need_dx.then_some(&mut dx[..]),
                gw,
                gb,
                &mut col,
            );
            if k > 0 {
                ops::relu_backward(&t.acts[k], &mut dx);
            }
            g = dx;
        }
        if let Some(sd) = &skip_dx {
            for (a, b) in g.iter_mut().zip(sd) {
                *a += b;
            }
        }
        want_dx.then(|| {
            let mut dx = vec![0.0f32; h * w];
            ops::depth_to_space(&g, BLOCK * BLOCK, lh, lw, BLOCK, &mut dx);
            for (a, &b) in dx.iter_mut().zip(dy) {
                *a += b;
            }
            dx
        })
    }

    /// Forward passes of a batch of images of any (even) sizes, in parallel.
    fn forward_batch(&self, inputs: &[Tensor]) -> Vec<Trace> {
        inputs
            .par_iter()
            .map(|x| {
                assert_eq!(x.shape[..2], [1, 1], "RefineNet takes [1, 1, H, W] inputs");
                self.forward_trace(&x.data, x.h(), x.w())
            })
            .collect()
    }

    /// Backward passes of a batch in parallel; returns the summed parameter gradient.
    /// Per-image gradients are summed in batch order, so the result does not depend on how
    /// rayon schedules the work (training is reproducible for a fixed seed).
    fn backward_batch(&self, traces: &[Trace], dys: &[Vec<f32>]) -> Vec<f32> {
        let n = self.params.len();
        let per: Vec<Vec<f32>> = traces
            .par_iter()
            .zip(dys.par_iter())
            .map(|(t, dy)| {
                let mut g = vec![0.0f32; n];
                self.backward(t, dy, &mut g, false);
                g
            })
            .collect();
        let mut sum = vec![0.0f32; n];
        for g in &per {
            for (s, v) in sum.iter_mut().zip(g) {
                *s += v;
            }
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// Whole-net gradient check: `L = Σ r ⊙ net(x)` with random `r`; central differences in
    /// f32 with a step large enough to dominate rounding, compared on every parameter and
    /// on the input. The ReLU kinks make a handful of entries legitimately disagree when a
    /// pre-activation sits within `eps` of zero, so a small fraction of misses is allowed.
    #[test]
    fn gradients_match_finite_differences() {
        let cfg = RefineConfig {
            channels: 5,
            hidden_layers: 2,
        };
        let mut net = RefineNet::new(cfg, 7).with_linear_skip();
        // Larger last-layer weights and biases so every parameter has a visible effect.
        let mut rng = rand_pcg::Pcg64::seed_from_u64(11);
        for p in net.params.iter_mut() {
            *p += (normal(&mut rng) * 0.1) as f32;
        }
        let (h, w) = (6, 8);
        let x: Vec<f32> = (0..h * w).map(|_| rng.random_range(0.0f32..1.0)).collect();
        let r: Vec<f32> = (0..h * w).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        let loss = |net: &RefineNet, x: &[f32]| -> f64 {
            net.forward(x, h, w)
                .iter()
                .zip(&r)
                .map(|(a, b)| *a as f64 * *b as f64)
                .sum()
        };
        let t = net.forward_trace(&x, h, w);
        let mut grad = vec![0.0f32; net.num_params()];
        let dx = net.backward(&t, &r, &mut grad, true).unwrap();
        let eps = 1e-3f32;
        let mut bad = 0;
        let total = grad.len() + dx.len();
        #[allow(clippy::needless_range_loop)] // `i` indexes the perturbed net's params too
        for i in 0..grad.len() {
            let mut n2 = net.clone();
            n2.params[i] += eps;
            let lp = loss(&n2, &x);
            n2.params[i] -= 2.0 * eps;
            let lm = loss(&n2, &x);
            let num = (lp - lm) / (2.0 * eps as f64);
            if (num - grad[i] as f64).abs() > 2e-2 * (1.0 + num.abs()) {
                bad += 1;
            }
        }
        for i in 0..dx.len() {
            let mut x2 = x.clone();
            x2[i] += eps;
            let lp = loss(&net, &x2);
            x2[i] -= 2.0 * eps;
            let lm = loss(&net, &x2);
            let num = (lp - lm) / (2.0 * eps as f64);
            if (num - dx[i] as f64).abs() > 2e-2 * (1.0 + num.abs()) {
                bad += 1;
            }
        }
        assert!(
            bad * 100 <= total,
            "{bad} of {total} gradient entries disagree"
        );
        // And a gross error (e.g. a dropped bias gradient) would break far more than 1 %.
        assert!(grad.iter().any(|g| g.abs() > 1e-3));
    }

    #[test]
    fn batch_gradient_is_sum_of_single_gradients() {
        let net = RefineNet::new(
            RefineConfig {
                channels: 4,
                hidden_layers: 1,
            },
            3,
        );
        let mut rng = rand_pcg::Pcg64::seed_from_u64(5);
        let sizes = [(4usize, 6usize), (8, 2), (2, 2)];
        let inputs: Vec<Tensor> = sizes
            .iter()
            .map(|&(h, w)| {
                Tensor::from_vec([1, 1, h, w], (0..h * w).map(|_| rng.random()).collect())
            })
            .collect();
        let dys: Vec<Vec<f32>> = sizes
            .iter()
            .map(|&(h, w)| (0..h * w).map(|_| rng.random_range(-1.0..1.0)).collect())
            .collect();
        let traces = net.forward_batch(&inputs);
        let g = net.backward_batch(&traces, &dys);
        let mut want = vec![0.0f32; net.num_params()];
        for (t, dy) in traces.iter().zip(&dys) {
            net.backward(t, dy, &mut want, false);
        }
        for (a, b) in g.iter().zip(&want) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()));
        }
    }

    #[test]
    fn scale_residual_scales_the_correction_exactly() {
        let mut net = RefineNet::new(
            RefineConfig {
                channels: 4,
                hidden_layers: 1,
            },
            9,
        )
        .with_linear_skip();
        let mut rng = rand_pcg::Pcg64::seed_from_u64(2);
        // Non-zero last layer and branch, as after training.
        net.params
            .iter_mut()
            .for_each(|p| *p += rng.random_range(-0.1..0.1));
        let (h, w) = (6, 8);
        let x: Vec<f32> = (0..h * w).map(|_| rng.random()).collect();
        let y = net.forward(&x, h, w);
        let mut scaled = net.clone();
        scaled.scale_residual(0.25);
        let ys = scaled.forward(&x, h, w);
        for ((xi, yi), si) in x.iter().zip(&y).zip(&ys) {
            let want = xi + 0.25 * (yi - xi);
            assert!((si - want).abs() < 1e-5, "{si} vs {want}");
        }
        assert!(y.iter().zip(&x).any(|(a, b)| (a - b).abs() > 1e-3));
    }

    #[test]
    fn cost_and_radius() {
        let net = RefineNet::new(
            RefineConfig {
                channels: 16,
                hidden_layers: 1,
            },
            0,
        );
        assert_eq!(net.macs_per_pixel(), 864.0);
        assert_eq!(net.receptive_radius(), 7);
        assert_eq!(
            net.num_params(),
            4 * 16 * 9 + 16 + 16 * 16 * 9 + 16 + 16 * 4 * 9 + 4
        );
    }
}

#[cfg(test)]
mod learn_tests {
    use super::*;
    use crate::Adam;
    use rand::{Rng, SeedableRng};

    /// End to end: Adam on the net's gradients learns a fixed 3x3 sharpening of smooth random
    /// images (a correction of the same kind dnnscale needs) and cuts the error fivefold (it
    /// reaches ~9x in 400 steps; a wrong gradient or update leaves it flat).
    #[test]
    fn learns_a_sharpening_residual() {
        let mut net = RefineNet::new(
            RefineConfig {
                channels: 8,
                hidden_layers: 1,
            },
            1,
        );
        let mut adam = Adam::new(net.num_params(), 1e-2);
        let mut rng = rand_pcg::Pcg64::seed_from_u64(2);
        let (h, w) = (16usize, 16usize);
        let make = |rng: &mut rand_pcg::Pcg64| {
            // Smooth-ish content: sum of a few random ramps and bumps.
            let (a, b, c): (f32, f32, f32) = (rng.random(), rng.random(), rng.random());
            let x: Vec<f32> = (0..h * w)
                .map(|i| {
                    let (y, xx) = ((i / w) as f32, (i % w) as f32);
                    0.5 + 0.3 * (a * 6.0 + xx * (0.3 + b)).sin() * (y * (0.2 + c)).cos()
                })
                .collect();
            let t: Vec<f32> = (0..h * w)
                .map(|i| {
                    let (y, xx) = (i / w, i % w);
                    let at = |yy: usize, xq: usize| x[yy.min(h - 1) * w + xq.min(w - 1)];
                    let lap = 4.0 * x[i]
                        - at(y.saturating_sub(1), xx)
                        - at(y + 1, xx)
                        - at(y, xx.saturating_sub(1))
                        - at(y, xx + 1);
                    x[i] + 0.5 * lap
                })
                .collect();
            (x, t)
        };
        let mut first = 0.0;
        let mut last = 0.0;
        for step in 0..400 {
            let (x, t) = make(&mut rng);
            let tr = net.forward_trace(&x, h, w);
            let (l, dy) = crate::mse(&tr.output, &t);
            let mut g = vec![0.0; net.num_params()];
            net.backward(&tr, &dy, &mut g, false);
            adam.step(&mut net.params, &g, 1e-2);
            if step < 20 {
                first += l / 20.0;
            }
            if step >= 380 {
                last += l / 20.0;
            }
        }
        assert!(last < first / 5.0, "loss {first} -> {last}");
    }
}
