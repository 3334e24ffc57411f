//! `RefineNet`: the dnnscale refinement network of docs/dnnscale-design.md.
//!
//! `x [1, H, W] -> SpaceToDepth(2) -> Conv(4→C) -> ReLU -> [Conv(C→C) -> ReLU]^L -> Conv(C→4)
//! -> DepthToSpace(2, DCR) -> + x`. Every conv runs at half resolution on the 2x2 phases, so
//! a C-channel layer costs C²·9/4 MAC per output pixel.
//!
//! Parameters live in one flat vector (`[w0, b0, w1, b1, …]`, ONNX `Conv` layouts) so the
//! optimizer, gradient reduction and checkpoints treat them as a single array.

use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Architecture: `channels` = C, `hidden_layers` = number of C→C convs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefineConfig {
    pub channels: usize,
    pub hidden_layers: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConvLayer {
    pub cin: usize,
    pub cout: usize,
    /// Offset of `[cout][cin][3][3]` weights in the parameter vector; bias follows.
    pub offset: usize,
}

impl ConvLayer {
    pub fn weight_len(&self) -> usize {
        self.cout * self.cin * 9
    }
    pub fn len(&self) -> usize {
        self.weight_len() + self.cout
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn weight<'a>(&self, p: &'a [f32]) -> &'a [f32] {
        &p[self.offset..self.offset + self.weight_len()]
    }
    pub fn bias<'a>(&self, p: &'a [f32]) -> &'a [f32] {
        &p[self.offset + self.weight_len()..self.offset + self.len()]
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RefineNet {
    pub config: RefineConfig,
    pub layers: Vec<ConvLayer>,
    pub params: Vec<f32>,
    /// Optional linear branch: `Conv(4→4)` on SpaceToDepth(x), added to the last conv's output
    /// before DepthToSpace. Its parameters follow the main layers' in `params`. It lets the net
    /// hold the least-squares linear correction (a 6x6 filter at output resolution) exactly,
    /// with a clean convex gradient; without it the linear part must be carried through ReLU
    /// pairs and training stalled near the identity (models/dnnscale/MODEL_CARD.md).
    #[serde(default)]
    pub skip: Option<ConvLayer>,
}

/// Spatial block of SpaceToDepth / DepthToSpace; also the `lv.align` of the model.
pub const BLOCK: usize = 2;

impl RefineNet {
    /// He-initialized network (normal, std `sqrt(2 / fan_in)`) except the last conv, which
    /// starts at zero: the residual branch is then off and the untrained net is exactly the
    /// identity (plain Lanczos), the baseline training has to improve on. (A small random
    /// last layer is not enough: He init carries the input's DC level through, and a tenth
    /// of it still costs ~25 dB.) The zero layer gets a gradient from the first step on.
    pub fn new(config: RefineConfig, seed: u64) -> Self {
        assert!(config.channels > 0);
        let c = config.channels;
        let mut dims = vec![(BLOCK * BLOCK, c)];
        dims.extend(std::iter::repeat_n((c, c), config.hidden_layers));
        dims.push((c, BLOCK * BLOCK));
        let mut layers = Vec::new();
        let mut offset = 0;
        for (cin, cout) in dims {
            let l = ConvLayer { cin, cout, offset };
            offset += l.len();
            layers.push(l);
        }
        let mut params = vec![0.0f32; offset];
        let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
        let last = layers.len() - 1;
        for (k, l) in layers.iter().enumerate() {
            if k == last {
                continue;
            }
            let std = (2.0 / (l.cin * 9) as f64).sqrt();
            let fan = l.cin * 9;
            for f in params[l.offset..l.offset + l.weight_len()].chunks_mut(fan) {
                for p in f.iter_mut() {
                    *p = (normal(&mut rng) * std) as f32;
                }
                // Zero-mean filters: units then respond to local detail, not to the mean
                // level. Otherwise every activation carries the picture's brightness, the
                // last layer's gradient is dominated by it, and Adam spends hundreds of
                // steps cancelling it before the (small) useful correction appears.
                let m = f.iter().sum::<f32>() / fan as f32;
                for p in f.iter_mut() {
                    *p -= m;
                }
            }
        }
        RefineNet {
            config,
            layers,
            params,
            skip: None,
        }
    }

    /// Scales the net's correction of its input by `g`: `input + g·(net(input) − input)`.
    /// The correction is the last layer plus the linear branch, both linear in their
    /// weights and biases, so scaling those is exact.
    pub fn scale_residual(&mut self, g: f32) {
        let last = *self.layers.last().expect("a net has layers");
        for l in std::iter::once(last).chain(self.skip) {
            self.params[l.offset..l.offset + l.len()]
                .iter_mut()
                .for_each(|p| *p *= g);
        }
    }

    /// Adds the linear branch (see [`RefineNet::skip`]), at zero so the net's function is
    /// unchanged. No-op if it is already there.
    pub fn with_linear_skip(mut self) -> Self {
        if self.skip.is_none() {
            let l = ConvLayer {
                cin: BLOCK * BLOCK,
                cout: BLOCK * BLOCK,
                offset: self.params.len(),
            };
            self.params.resize(self.params.len() + l.len(), 0.0);
            self.skip = Some(l);
        }
        self
    }

    pub fn num_params(&self) -> usize {
        self.params.len()
    }

    /// Receptive radius in output pixels: each 3x3 conv at half resolution reaches one
    /// low-resolution sample (two output pixels) further, plus one pixel for the 2x2 phase.
    pub fn receptive_radius(&self) -> usize {
        BLOCK * self.layers.len() + (BLOCK - 1)
    }

    /// Multiply-accumulates per output pixel.
    pub fn macs_per_pixel(&self) -> f64 {
        self.layers
            .iter()
            .chain(self.skip.iter())
            .map(|l| (l.cin * l.cout * 9) as f64)
            .sum::<f64>()
            / (BLOCK * BLOCK) as f64
    }
}

/// Standard normal by Box–Muller (`rand` without `rand_distr`, which would be a crate for
/// one function).
pub fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}
