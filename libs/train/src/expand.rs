//! Over-parameterised training of a [`RefineNet`]: every 3x3 conv's weight is trained as
//! `W = D + U·V`, where `V` is a 3x3 conv from `cin` to `e` channels and `U` a 1x1 conv from `e`
//! to `cout` (SESR's collapsed linear blocks, MLSys 2022; ExpandNets, NeurIPS 2020). The
//! product is linear, so it folds into one 3x3 conv after every step: the forward and backward
//! passes, the exported graph and the inference cost are the plain net's. Only the optimiser
//! sees the factors, and for gradient methods the factorisation acts as an adaptive,
//! momentum-like preconditioner (Arora et al., ICML 2018), which is what the tiny SR nets of
//! the literature gain from it.
//!
//! The parameter vector is the net's own (`D` and the biases, in the net's layout) followed by
//! each conv's `U` (`[cout][e]`) and `V` (`[e][cin·9]`). `U` starts at zero, so the folded net
//! starts as the net it was built from (srenhance's identity start stays exact).

use crate::conv::sgemm;
use crate::RefineNet;
use rand::SeedableRng;

/// One conv's factors in [`Expansion::params`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Factors {
    /// Offset of the conv's weights in the net's parameters.
    w: usize,
    cout: usize,
    /// `cin · 9`.
    k: usize,
    /// Offsets of `U` and `V` in the expansion's parameters.
    u: usize,
    v: usize,
}

/// The over-parameterisation of one net's convs (the main stack and the linear branch).
#[derive(Clone, Debug)]
pub struct Expansion {
    /// `D` and the biases (the net's layout), then each conv's `U` and `V`.
    pub params: Vec<f32>,
    /// Width of the expansion.
    pub e: usize,
    convs: Vec<Factors>,
    net_len: usize,
}

impl Expansion {
    /// Expands every conv of `net` to width `e`: `D` = the net's weights, `U` = 0, `V` He
    /// normal (std `sqrt(2 / (cin·9))`) from `seed`.
    pub fn new(net: &RefineNet, e: usize, seed: u64) -> Expansion {
        assert!(e > 0, "expansion width must be positive");
        let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
        let net_len = net.params.len();
        let mut params = net.params.clone();
        let mut convs = Vec::new();
        for l in net.layers.iter().chain(net.skip.iter()) {
            let k = l.cin * 9;
            let u = params.len();
            params.resize(u + l.cout * e, 0.0);
            let v = params.len();
            let std = (2.0 / k as f64).sqrt();
            params.extend((0..e * k).map(|_| (crate::net::normal(&mut rng) * std) as f32));
            convs.push(Factors {
                w: l.offset,
                cout: l.cout,
                k,
                u,
                v,
            });
        }
        Expansion {
            params,
            e,
            convs,
            net_len,
        }
    }

    /// Writes the folded weights `D + U·V` and the biases into `net_params`.
    pub fn fold_into(&self, net_params: &mut [f32]) {
        assert_eq!(net_params.len(), self.net_len);
        net_params.copy_from_slice(&self.params[..self.net_len]);
        for c in &self.convs {
            let (u, v) = self.factors(c);
            let w = &mut net_params[c.w..c.w + c.cout * c.k];
            // W (cout x k) += U (cout x e) V (e x k)
            sgemm(c.cout, self.e, c.k, u, self.e, 1, v, c.k, 1, 1.0, w, c.k);
        }
    }

    /// The gradient with respect to [`Self::params`] from `grad`, the gradient with respect
    /// to the folded net's parameters: `D` and the biases take it as is, `U` takes `G·Vᵀ` and
    /// `V` takes `Uᵀ·G` (`G` = a conv's weight gradient as a `cout × cin·9` matrix).
    pub fn backward(&self, grad: &[f32]) -> Vec<f32> {
        assert_eq!(grad.len(), self.net_len);
        let mut out = vec![0.0f32; self.params.len()];
        out[..self.net_len].copy_from_slice(grad);
        for c in &self.convs {
            let (u, v) = self.factors(c);
            let g = &grad[c.w..c.w + c.cout * c.k];
            let (du, dv) = out[c.u..c.v + self.e * c.k].split_at_mut(c.v - c.u);
            // dU (cout x e) = G (cout x k) Vᵀ (k x e)
            sgemm(c.cout, c.k, self.e, g, c.k, 1, v, 1, c.k, 0.0, du, self.e);
            // dV (e x k) = Uᵀ (e x cout) G (cout x k)
            sgemm(self.e, c.cout, c.k, u, 1, self.e, g, c.k, 1, 0.0, dv, c.k);
        }
        out
    }

    /// A conv's `U` (`cout x e`) and `V` (`e x cin·9`), row-major.
    fn factors(&self, c: &Factors) -> (&[f32], &[f32]) {
        (
            &self.params[c.u..c.u + c.cout * self.e],
            &self.params[c.v..c.v + self.e * c.k],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RefineConfig;
    use rand::Rng;

    fn net() -> RefineNet {
        RefineNet::new(
            RefineConfig {
                channels: 4,
                hidden_layers: 1,
            },
            3,
        )
        .with_linear_skip()
    }

    #[test]
    fn starts_as_the_plain_net() {
        let n = net();
        let x = Expansion::new(&n, 6, 1);
        let mut p = vec![f32::NAN; n.params.len()];
        x.fold_into(&mut p);
        assert_eq!(p, n.params);
    }

    /// The fold is bilinear in (D, U, V), so for any direction δ its exact change is
    /// δD + δU·V + U·δV + δU·δV·h; `backward` must be the adjoint of the linear part:
    /// <backward(g), δ> = <g, J·δ>, checked against central differences of the fold.
    #[test]
    fn backward_is_the_adjoint_of_the_fold() {
        let n = net();
        let mut x = Expansion::new(&n, 5, 2);
        let mut rng = rand_pcg::Pcg64::seed_from_u64(9);
        // Move U off zero so both factor gradients are exercised.
        x.params
            .iter_mut()
            .for_each(|p| *p += rng.random_range(-0.5f32..0.5));
        let g: Vec<f32> = (0..n.params.len())
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect();
        let d: Vec<f32> = (0..x.params.len())
            .map(|_| rng.random_range(-1.0f32..1.0))
            .collect();
        let fold_at = |h: f64| {
            let mut y = x.clone();
            y.params
                .iter_mut()
                .zip(&d)
                .for_each(|(p, &dp)| *p = (*p as f64 + h * dp as f64) as f32);
            let mut w = vec![0.0f32; n.params.len()];
            y.fold_into(&mut w);
            w
        };
        let h = 1e-2;
        let (plus, minus) = (fold_at(h), fold_at(-h));
        let jd: f64 = g
            .iter()
            .zip(plus.iter().zip(&minus))
            .map(|(&gi, (&a, &b))| gi as f64 * (a as f64 - b as f64) / (2.0 * h))
            .sum();
        let back: f64 = x
            .backward(&g)
            .iter()
            .zip(&d)
            .map(|(&a, &b)| a as f64 * b as f64)
            .sum();
        assert!(
            (jd - back).abs() <= 1e-3 * jd.abs().max(1.0),
            "J·δ {jd} vs adjoint {back}"
        );
    }

    #[test]
    fn biases_pass_through() {
        let n = net();
        let x = Expansion::new(&n, 3, 1);
        let mut g = vec![0.0f32; n.params.len()];
        let l = n.layers[0];
        g[l.offset + l.weight_len()] = 1.0;
        let b = x.backward(&g);
        assert_eq!(b[l.offset + l.weight_len()], 1.0);
        assert_eq!(b.iter().filter(|&&v| v != 0.0).count(), 1);
    }
}
