//! Camera-like noise for training samples.
//!
//! The training photos are clean; the camera footage the element meets is not (sensor noise,
//! then a phone's denoiser and encoder, which leave it spatially correlated). A net trained on
//! clean pictures only learns to sharpen, and on noisy footage it sharpens the noise, which the
//! encoder then pays bits for and the client cannot use. Adding noise to a share of the
//! training crops (the target is the noisy crop itself: the element must stay faithful to its
//! source, noise included) shows the net, through the codec in the loop, what noise costs.
//!
//! Written by hand: a Box–Muller Gaussian and a 3×3 binomial blur are a few lines, and the
//! seeded `rand_pcg` stream keeps the data order fixed by `--seed` (rand_distr would add a
//! dependency for one distribution).

use rand::{Rng, SeedableRng};

/// How one sample is noised; drawn with the rest of the sample's spec.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NoiseSpec {
    /// Standard deviation in 8-bit levels of the noise as added (after any blur).
    pub sigma: f32,
    /// Low-pass the white noise with a 3×3 binomial kernel (demosaiced / denoised camera noise).
    pub correlated: bool,
    pub seed: u64,
}

impl NoiseSpec {
    /// No noise.
    pub const NONE: NoiseSpec = NoiseSpec {
        sigma: 0.0,
        correlated: false,
        seed: 0,
    };

    /// Draws a spec: with probability `share` a noise of σ uniform in (0, `sigma_max`], half of
    /// them correlated; otherwise none (σ = 0).
    pub fn draw(rng: &mut impl Rng, sigma_max: f32, share: f64) -> NoiseSpec {
        // Always consume the same number of draws, so the rest of the data order does not
        // depend on whether a sample was noised.
        let on = rng.random_bool(share.clamp(0.0, 1.0));
        let u: f32 = rng.random();
        let correlated: bool = rng.random();
        let seed: u64 = rng.random();
        NoiseSpec {
            sigma: if on && sigma_max > 0.0 {
                sigma_max * (1.0 - u)
            } else {
                0.0
            },
            correlated,
            seed,
        }
    }
}

/// Adds the spec's noise to an 8-bit plane (`w`×`h`, tightly packed), rounding and clamping.
pub fn add_noise(x: &mut [u8], w: usize, h: usize, spec: &NoiseSpec) {
    assert_eq!(x.len(), w * h, "plane size");
    if spec.sigma <= 0.0 || x.is_empty() {
        return;
    }
    let mut rng = rand_pcg::Pcg64::seed_from_u64(spec.seed);
    let mut n: Vec<f32> = (0..w * h).map(|_| gaussian(&mut rng)).collect();
    if spec.correlated {
        n = binomial3(&n, w, h);
        // The binomial kernel keeps Σk² = (6/16)² of white noise's variance; rescale to σ.
        let gain = 16.0 / 6.0;
        n.iter_mut().for_each(|v| *v *= gain);
    }
    for (p, v) in x.iter_mut().zip(n) {
        *p = (*p as f32 + spec.sigma * v).round().clamp(0.0, 255.0) as u8;
    }
}

fn gaussian(rng: &mut impl Rng) -> f32 {
    let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]: ln stays finite
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

/// Separable [1 2 1]/4 blur with edge replication.
fn binomial3(n: &[f32], w: usize, h: usize) -> Vec<f32> {
    let tap = |v: &[f32], i: usize, len: usize, stride: usize| {
        let a = v[i.saturating_sub(1) * stride];
        let b = v[i * stride];
        let c = v[(i + 1).min(len - 1) * stride];
        (a + 2.0 * b + c) * 0.25
    };
    let mut t = vec![0.0f32; w * h];
    for y in 0..h {
        let row = &n[y * w..(y + 1) * w];
        for x in 0..w {
            t[y * w + x] = tap(row, x, w, 1);
        }
    }
    let mut out = vec![0.0f32; w * h];
    for x in 0..w {
        for y in 0..h {
            out[y * w + x] = tap(&t[x..], y, h, w);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn std_and_lag1(sigma: f32, correlated: bool) -> (f64, f64) {
        let (w, h) = (256, 256);
        let mut x = vec![128u8; w * h];
        add_noise(
            &mut x,
            w,
            h,
            &NoiseSpec {
                sigma,
                correlated,
                seed: 7,
            },
        );
        let d: Vec<f64> = x.iter().map(|&v| v as f64 - 128.0).collect();
        let var = d.iter().map(|v| v * v).sum::<f64>() / d.len() as f64;
        let mut c = 0.0;
        for y in 0..h {
            for xx in 0..w - 1 {
                c += d[y * w + xx] * d[y * w + xx + 1];
            }
        }
        (var.sqrt(), c / (h * (w - 1)) as f64 / var)
    }

    #[test]
    fn noise_has_the_asked_deviation_and_correlation() {
        // Rounding to integers adds 1/12 of a level² of variance.
        let (s, r) = std_and_lag1(4.0, false);
        assert!((s - 4.0).abs() < 0.1, "white σ {s}");
        assert!(r.abs() < 0.03, "white lag-1 correlation {r}");
        let (s, r) = std_and_lag1(4.0, true);
        assert!((s - 4.0).abs() < 0.15, "correlated σ {s}");
        // [1 2 1] ⊗ [1 2 1]: horizontal lag-1 correlation (2+2)/6 = 2/3.
        assert!(
            (r - 2.0 / 3.0).abs() < 0.05,
            "correlated lag-1 correlation {r}"
        );
    }

    #[test]
    fn noise_is_seeded_and_zero_sigma_is_identity() {
        let x0: Vec<u8> = (0..64 * 48).map(|i| (i * 7 % 251) as u8).collect();
        let spec = NoiseSpec {
            sigma: 3.0,
            correlated: true,
            seed: 11,
        };
        let (mut a, mut b) = (x0.clone(), x0.clone());
        add_noise(&mut a, 64, 48, &spec);
        add_noise(&mut b, 64, 48, &spec);
        assert_eq!(a, b);
        assert_ne!(a, x0);
        let mut c = x0.clone();
        add_noise(&mut c, 64, 48, &NoiseSpec { sigma: 0.0, ..spec });
        assert_eq!(c, x0);
    }

    #[test]
    fn draw_respects_share_and_range() {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(3);
        let specs: Vec<NoiseSpec> = (0..2000)
            .map(|_| NoiseSpec::draw(&mut rng, 5.0, 0.5))
            .collect();
        let on = specs.iter().filter(|s| s.sigma > 0.0).count();
        assert!(
            (900..1100).contains(&on),
            "{on} of 2000 noised at share 0.5"
        );
        assert!(specs.iter().all(|s| s.sigma <= 5.0 && s.sigma >= 0.0));
        let mut rng = rand_pcg::Pcg64::seed_from_u64(3);
        assert!((0..100).all(|_| NoiseSpec::draw(&mut rng, 5.0, 0.0).sigma == 0.0));
    }
}
