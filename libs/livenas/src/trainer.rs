//! Online trainer of the ingest server (docs/srenhance-design.md, LiveNAS §5–6).
//!
//! The model is `lvtrain`'s [`RefineNet`] applied, as in the `srenhance` element, to the
//! Catmull-Rom upscale of the decoded luma at the output size ([`bicubic_u8`]: the same
//! swscale-exact 8-bit resampler the element uses, so training inputs are bit-identical to
//! what inference sees). Training pairs come from the [`PatchStore`]: input = that upscale
//! cropped around the patch's cell (with context), target = the high-quality patch.
//!
//! One [`Trainer::step`] draws `batch_size` pairs (recent ones more likely), cuts a random
//! `crop x crop` square of each target (plus `margin` context of input around it), and does
//! one Adam step on the mean squared error over the target squares (in 8-bit units, as
//! dnnscale-train does, so inner-layer gradients stay above Adam's epsilon). The context is
//! there so the loss never sees the network's zero-padded borders, which inference (on
//! whole frames) never sees either.
//!
//! [`Trainer::end_epoch`] measures the quality of the current network DNN_t, the previous
//! epoch's DNN_{t-1}, the initial DNN_0 and plain bicubic on the newest patches (PSNR of the
//! luma, outputs rounded to 8 bits as the element does), which Algorithm 1
//! ([`crate::adaptive`]) and the element's feedback use.

use crate::postfilter::{Filter, Normal, PostFit};
use crate::store::{PatchStore, StoredPatch};
use lv_image::plane::Plane;
use lv_image::resample::{Kernel, Resampler};
use lv_train::{Adam, BatchEngine, Expansion, RefineNet, Tensor, Trace, Trainable};
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Model kind of the srenhance network (docs/srenhance-design.md).
pub const KIND: &str = "srenhance-refine-v1";
/// The upscaler in front of the network: Catmull-Rom, swscale convention.
pub const UPSCALE_KERNEL: Kernel = Kernel::CATMULL_ROM;
/// Loss in squared 8-bit levels (see the module documentation).
const GRAD_SCALE: f32 = 255.0 * 255.0;

/// The element's and the trainer's upscale: `src` (`w x h`, rows `stride` apart) to
/// `out_w x out_h` with Catmull-Rom (swscale-exact 8-bit path).
pub fn bicubic_u8(
    src: &[u8],
    w: usize,
    h: usize,
    stride: usize,
    out_w: usize,
    out_h: usize,
) -> Vec<u8> {
    let r = Resampler::new(w, h, out_w, out_h, UPSCALE_KERNEL).expect("valid resampler sizes");
    let mut out = vec![0u8; out_w * out_h];
    r.process_u8(&Plane::new_u8(src, w, h, stride), &mut out, out_w);
    out
}

/// PSNR (dB, 8-bit peak) of two equally long sample vectors; 100 dB for identical ones.
pub fn psnr_u8(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let se: u64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = x as i64 - y as i64;
            (d * d) as u64
        })
        .sum();
    psnr_from_mse(se as f64 / a.len().max(1) as f64)
}

pub fn psnr_from_mse(mse: f64) -> f64 {
    if mse <= 0.0 {
        100.0
    } else {
        (10.0 * (255.0f64 * 255.0 / mse).log10()).min(100.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainerConfig {
    pub learning_rate: f32,
    pub batch_size: usize,
    /// Side of the square of each target used in one step (≤ the patch size; even).
    pub crop: usize,
    /// Patch store capacity and recent weighting.
    pub capacity: usize,
    pub recent: usize,
    pub recent_weight: f64,
    /// Newest patches the quality measures use.
    pub eval_patches: usize,
    pub seed: u64,
    /// Which parameters online training moves (the rest keep DNN_0's values).
    pub adapt: Adapt,
    /// The loss the steps minimise (the reported training loss is the squared error either way).
    pub loss: Loss,
    /// Fit the least-squares post-filter on the online network's output
    /// ([`crate::postfilter`]) at each epoch's end.
    #[serde(default)]
    pub post_filter: bool,
}

/// The training loss. The tiny-SR literature and a public LiveNAS re-implementation train with
/// L1, which weighs small errors more than squared error does and follows outliers less.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Loss {
    /// Mean squared error (what PSNR measures).
    #[default]
    L2,
    /// Mean absolute error.
    L1,
}

/// The parameters online training may move. A few hundred patches an epoch over-fit a whole
/// network; CaFM (ICCV 2021) and SRVC (ICCV 2021) adapt a small share of a shared model and
/// keep the rest, which also keeps the adapted model near the generic one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Adapt {
    /// Every weight and bias.
    #[default]
    All,
    /// The biases of every layer (per-channel offsets, CaFM's bias half).
    Biases,
    /// The last convolution (and the linear branch, if any) and every bias.
    LastLayer,
}

impl Adapt {
    /// `true` for each parameter of `net` that training may move.
    pub fn mask(self, net: &RefineNet) -> Vec<bool> {
        let mut m = vec![self == Adapt::All; net.num_params()];
        if self == Adapt::All {
            return m;
        }
        let last = net.layers.len() - 1;
        for (k, l) in net.layers.iter().chain(net.skip.iter()).enumerate() {
            let whole = self == Adapt::LastLayer && k >= last;
            let from = if whole {
                l.offset
            } else {
                l.offset + l.weight_len()
            };
            m[from..l.offset + l.len()].fill(true);
        }
        m
    }
}

impl Default for TrainerConfig {
    fn default() -> Self {
        TrainerConfig {
            learning_rate: 1e-3,
            batch_size: 8,
            crop: 48,
            capacity: 1000,
            recent: 150,
            recent_weight: 4.0,
            eval_patches: 16,
            seed: 1,
            adapt: Adapt::All,
            loss: Loss::L2,
            post_filter: true,
        }
    }
}

/// Quality of the models on the newest patches at an epoch's end (PSNR, dB); NaN when the
/// store is empty.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochQuality {
    pub epoch: u32,
    pub patches: usize,
    /// Pairs that arrived in the epoch (since its scene cut, if any), measured on arrival;
    /// 0 when the measures are on stored pairs (already trained on).
    #[serde(default)]
    pub fresh: usize,
    pub current: f64,
    /// The average of the current and the initial network ([`Trainer::blend`]).
    #[serde(default)]
    pub blend: f64,
    /// The current network followed by the post-filter fitted on it at the last epoch's end
    /// ([`crate::postfilter`]); NaN without one.
    #[serde(default = "nan")]
    pub filtered: f64,
    pub previous: f64,
    pub initial: f64,
    pub bicubic: f64,
    /// Bilinear upscale (NaN when the pairs carry no bilinear error).
    pub bilinear: f64,
    /// Training steps taken in this epoch.
    pub steps: u64,
    /// Mean training loss of the epoch as PSNR (NaN without steps).
    pub train_psnr: f64,
}

fn nan() -> f64 {
    f64::NAN
}

impl EpochQuality {
    pub fn gain_vs_previous(&self) -> f64 {
        self.current - self.previous
    }
    /// The online side at its best: the network alone, or with the post-filter refitted on
    /// it when that scores higher. `initial` is DNN_0 *as served*, with the generic filter
    /// when there is one, so this is what it is fairly compared with.
    pub fn online(&self) -> f64 {
        if self.filtered > self.current {
            self.filtered
        } else {
            self.current
        }
    }
    /// [`Self::online`] over DNN_0 as served: what the learning holds over the generic model
    /// (Algorithm 1's validation measure). The network alone against DNN_0 with its generic
    /// filter would come out lower by that filter's gain (~0.3 dB), and every validation would
    /// resume training.
    pub fn gain_vs_initial(&self) -> f64 {
        self.online() - self.initial
    }
    pub fn gain_vs_bicubic(&self) -> f64 {
        self.current - self.bicubic
    }
    pub fn gain_vs_bilinear(&self) -> f64 {
        self.current - self.bilinear
    }
}

/// Newest pairs of a scene the post-filter is fitted on: about 10 epochs at the default patch
/// rate.
pub const POST_FILTER_PAIRS: usize = 256;

/// Online trainer: the current, previous-epoch and initial networks, Adam, the patch store.
#[derive(Clone, Debug)]
pub struct Trainer {
    pub config: TrainerConfig,
    net: RefineNet,
    previous: RefineNet,
    initial: RefineNet,
    adam: Adam,
    store: PatchStore,
    rng: rand_pcg::Pcg64,
    epoch: u32,
    steps: u64,
    epoch_steps: u64,
    epoch_loss: f64,
    /// Squared-error sums of the pairs that arrived this epoch, each measured on arrival,
    /// before any training on it (see [`Trainer::add`]).
    fresh: Fresh,
    /// Steps taken when `previous` was last set.
    steps_at_previous: u64,
    /// The network at the epoch end before `previous`'s, and the steps taken then: arriving
    /// pairs compare `net` with it. In a non-live epoch pairs arrive before the epoch trains,
    /// when `net` is still `previous`; the gain of the last epoch's training is then `net`
    /// against `older`.
    older: RefineNet,
    steps_at_older: u64,
    /// [`Trainer::blend`] as of `blend_steps` training steps (rebuilt when `net` moved).
    blend_cache: Option<(u64, RefineNet)>,
    /// `config.adapt`'s mask; `None` when every parameter trains.
    mask: Option<Vec<bool>>,
    /// Runs the steps' forward and backward passes elsewhere (lv-gpu's kernels); `None`: here.
    engine: Option<Arc<dyn BatchEngine>>,
    /// Steps the engine failed (they ran on the CPU), and the last reason.
    engine_failures: u64,
    engine_error: Option<String>,
    /// Offline training only: the factors Adam moves instead of the net's weights
    /// ([`Trainer::expand`]).
    expansion: Option<Expansion>,
    /// The post-filter's fit (`config.post_filter`).
    post: Option<PostFit>,
}

/// Validation on arriving pairs: mean squared errors (8-bit units) of the current, previous
/// and initial networks and of the plain upscales.
#[derive(Clone, Copy, Debug, Default)]
struct Fresh {
    n: usize,
    current: f64,
    blend: f64,
    previous: f64,
    initial: f64,
    bicubic: f64,
    bilinear: f64,
    bilinear_n: usize,
    /// Pairs measured with the earlier network (only while it differs from `current`).
    previous_n: usize,
    /// The current network and the post-filter, on the pairs that arrived while one was
    /// fitted.
    filtered: f64,
    filtered_n: usize,
}

impl Trainer {
    /// Starts from `net` (the generic model or a saved per-streamer one): DNN_0 = `net`.
    pub fn new(net: RefineNet, config: TrainerConfig) -> Trainer {
        let adam = Adam::new(net.num_params(), config.learning_rate);
        let net_clone_for_older = net.clone();
        let mask = (config.adapt != Adapt::All).then(|| config.adapt.mask(&net));
        Trainer {
            store: PatchStore::new(config.capacity, config.recent, config.recent_weight),
            rng: rand_pcg::Pcg64::seed_from_u64(config.seed),
            previous: net.clone(),
            initial: net.clone(),
            net,
            adam,
            config,
            epoch: 0,
            steps: 0,
            epoch_steps: 0,
            epoch_loss: 0.0,
            fresh: Fresh::default(),
            steps_at_previous: 0,
            older: net_clone_for_older,
            steps_at_older: 0,
            blend_cache: None,
            mask,
            engine: None,
            engine_failures: 0,
            engine_error: None,
            expansion: None,
            post: config.post_filter.then(PostFit::default),
        }
    }

    /// Trains every conv over-parameterised to width `e` from here on (`lv_train::expand`):
    /// the net and what it computes are unchanged, Adam restarts on the factors. For offline
    /// training of a generic model; ignored with an `adapt` mask (online adaptation), and
    /// Adam then runs here even when an engine runs the passes.
    pub fn expand(&mut self, e: usize, seed: u64) {
        if self.mask.is_some() {
            return;
        }
        let x = Expansion::new(&self.net, e, seed);
        self.adam = Adam::new(x.params.len(), self.config.learning_rate);
        self.expansion = Some(x);
    }

    /// Runs the steps' passes on `engine` (the CPU when `None`); a step the engine fails runs
    /// on the CPU and is counted ([`Self::engine_failures`]).
    pub fn set_engine(&mut self, engine: Option<Arc<dyn BatchEngine>>) {
        self.engine = engine;
    }

    /// What the engine did, if it did it; a failure is counted (the caller runs the CPU's way).
    fn engine_result<T>(&mut self, r: Option<Result<T, String>>) -> Option<T> {
        match r? {
            Ok(v) => Some(v),
            Err(e) => {
                self.engine_failures += 1;
                self.engine_error = Some(e);
                None
            }
        }
    }

    /// Steps whose passes the engine failed (and the CPU ran), with the last reason.
    pub fn engine_failures(&self) -> (u64, Option<&str>) {
        (self.engine_failures, self.engine_error.as_deref())
    }

    pub fn net(&self) -> &RefineNet {
        &self.net
    }

    pub fn initial(&self) -> &RefineNet {
        &self.initial
    }

    pub fn store(&self) -> &PatchStore {
        &self.store
    }

    pub fn store_mut(&mut self) -> &mut PatchStore {
        &mut self.store
    }

    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Context (samples each side of a target) the training pairs must carry: the network's
    /// receptive radius rounded up to even, at least 8.
    pub fn margin(&self) -> usize {
        self.net.receptive_radius().max(8).div_ceil(2) * 2
    }

    /// Adds a training pair (see [`StoredPatch::from_upscaled`], with [`Self::margin`]).
    ///
    /// Before it joins the store the pair validates the networks: none has trained on it yet,
    /// so the epoch's quality measures ([`Trainer::end_epoch`]) are what the networks deliver
    /// on new content (LiveNAS §5.3 validates on newly arrived patches). Measures on patches
    /// already trained on favour the newest network and hide saturation.
    pub fn add(&mut self, p: StoredPatch) {
        let blend = match self.blend_cache.take() {
            Some((at, b)) if at == self.steps => b,
            _ => self.blend(),
        };
        let initial = self.initial_pair_mse(&p);
        let f = &mut self.fresh;
        f.n += 1;
        let out = pair_output(&self.net, &p);
        f.current += window_mse(&out, &p);
        if let Some(filter) = self.post.as_ref().and_then(|post| post.filter.as_ref()) {
            f.filtered += filtered_mse(filter, &out, &p);
            f.filtered_n += 1;
        }
        f.blend += pair_mse(&blend, &p);
        self.blend_cache = Some((self.steps, blend));
        f.initial += initial;
        if self.steps > self.steps_at_older {
            f.previous += pair_mse(&self.older, &p);
            f.previous_n += 1;
        }
        f.bicubic += mse_u8(&p.input_under_target(), &p.target);
        if p.bilinear_mse.is_finite() {
            f.bilinear += p.bilinear_mse;
            f.bilinear_n += 1;
        }
        self.store.push(p);
    }

    /// One Adam step on a minibatch; `None` (nothing done) when the store is empty. Returns
    /// the minibatch's mean squared error (0..1 units).
    pub fn step(&mut self) -> Option<f64> {
        if self.store.is_empty() || self.config.batch_size == 0 {
            return None;
        }
        let idx: Vec<usize> = (0..self.config.batch_size)
            .filter_map(|_| self.store.draw_index(&mut self.rng))
            .collect();
        let store = std::mem::replace(&mut self.store, PatchStore::new(1, 0, 1.0));
        let items: Vec<&StoredPatch> = store.iter().collect();
        let batch: Vec<&StoredPatch> = idx.iter().map(|&i| items[i]).collect();
        let loss = self.step_on(&batch);
        self.store = store;
        loss
    }

    /// One Adam step on the given pairs (a random `crop` square of each, drawn from the
    /// trainer's generator), e.g. for offline training; `None` for an empty batch.
    pub fn step_on(&mut self, batch: &[&StoredPatch]) -> Option<f64> {
        if batch.is_empty() {
            return None;
        }
        let margin = self.margin();
        let samples: Vec<Sample> = batch
            .iter()
            .map(|p| {
                let crop = self.config.crop.max(2).min(p.size);
                let cx = self.rng.random_range(0..=p.size - crop);
                let cy = self.rng.random_range(0..=p.size - crop);
                Sample::cut(p, cx, cy, crop, margin)
            })
            .collect();
        let inputs: Vec<Tensor> = samples
            .iter()
            .map(|s| Tensor::from_vec([1, 1, s.h, s.w], s.x.clone()))
            .collect();
        let nb = samples.len() as f32;
        let loss = self.config.loss;
        let loss_grads = |traces: &[Trace]| -> (Vec<f64>, Vec<Vec<f32>>) {
            samples
                .par_iter()
                .zip(traces.par_iter())
                .map(|(s, t)| s.loss_and_grad(&t.output, GRAD_SCALE / nb, loss))
                .unzip()
        };
        let on_engine = self.engine.as_ref().map(|e| -> Result<_, String> {
            let traces = e.forward_batch(&self.net, &inputs)?;
            let (losses, dys) = loss_grads(&traces);
            let grad = e.backward_batch(&self.net, &traces, &dys)?;
            Ok((losses, grad))
        });
        let (losses, mut grad) = match self.engine_result(on_engine) {
            Some(done) => done,
            None => {
                let traces = self.net.forward_batch(&inputs);
                let (losses, dys) = loss_grads(&traces);
                (losses, self.net.backward_batch(&traces, &dys))
            }
        };
        if let Some(m) = &self.mask {
            // Adam moves nothing whose gradient is always zero (its moments stay zero).
            for (g, &on) in grad.iter_mut().zip(m) {
                if !on {
                    *g = 0.0;
                }
            }
        }
        let lr = self.config.learning_rate;
        if let Some(x) = self.expansion.as_mut() {
            let g = x.backward(&grad);
            self.adam.step(&mut x.params, &g, lr);
            x.fold_into(&mut self.net.params);
        } else {
            let on_engine = self
                .engine
                .as_ref()
                .map(|e| e.adam_step(&mut self.adam, &mut self.net.params, &grad, lr));
            if self.engine_result(on_engine).is_none() {
                self.adam.step(&mut self.net.params, &grad, lr);
            }
        }
        self.steps += 1;
        self.epoch_steps += 1;
        let loss = losses.iter().sum::<f64>() / losses.len() as f64;
        self.epoch_loss += loss;
        Some(loss)
    }

    /// Changes the learning rate of the next steps (Adam's moments are kept).
    pub fn set_learning_rate(&mut self, lr: f32) {
        self.config.learning_rate = lr;
    }

    /// PSNR of `net` on the newest `eval_patches` pairs (whole patches), outputs rounded to
    /// 8 bits; NaN when the store is empty.
    pub fn quality(&self, net: &RefineNet) -> f64 {
        let ps: Vec<&StoredPatch> = self.store.newest(self.config.eval_patches).collect();
        quality_on(net, &ps)
    }

    /// PSNR of the plain upscale on the same pairs.
    pub fn bicubic_quality(&self) -> f64 {
        let ps: Vec<&StoredPatch> = self.store.newest(self.config.eval_patches).collect();
        if ps.is_empty() {
            return f64::NAN;
        }
        let mse: f64 = ps
            .iter()
            .map(|p| mse_u8(&p.input_under_target(), &p.target))
            .sum::<f64>()
            / ps.len() as f64;
        psnr_from_mse(mse)
    }

    /// Ends an epoch: measures DNN_t, DNN_{t-1}, DNN_0 and bicubic on the newest patches,
    /// then DNN_t becomes the next epoch's DNN_{t-1}.
    pub fn end_epoch(&mut self) -> EpochQuality {
        let f = std::mem::take(&mut self.fresh);
        let mean_psnr = |se: f64, n: usize| {
            if n == 0 || !se.is_finite() {
                f64::NAN
            } else {
                psnr_from_mse(se / n as f64)
            }
        };
        let train_psnr = if self.epoch_steps > 0 {
            psnr_from_mse(self.epoch_loss / self.epoch_steps as f64 * 255.0 * 255.0)
        } else {
            f64::NAN
        };
        let q = if f.n > 0 {
            // Pairs that arrived this epoch, measured on arrival (see `add`). `previous` is
            // NaN when it was the same network as `current` (no step in between): there is
            // no gain to measure then, rather than a gain of zero.
            EpochQuality {
                epoch: self.epoch,
                patches: f.n,
                fresh: f.n,
                current: mean_psnr(f.current, f.n),
                blend: mean_psnr(f.blend, f.n),
                filtered: if f.filtered_n == f.n {
                    mean_psnr(f.filtered, f.n)
                } else {
                    f64::NAN
                },
                previous: if f.previous_n == f.n {
                    mean_psnr(f.previous, f.n)
                } else {
                    f64::NAN
                },
                initial: mean_psnr(f.initial, f.n),
                bicubic: mean_psnr(f.bicubic, f.n),
                bilinear: mean_psnr(f.bilinear, f.bilinear_n),
                steps: self.epoch_steps,
                train_psnr,
            }
        } else {
            // No new pair this epoch: the newest stored ones.
            let ps: Vec<&StoredPatch> = self.store.newest(self.config.eval_patches).collect();
            EpochQuality {
                epoch: self.epoch,
                patches: ps.len(),
                fresh: 0,
                current: quality_on(&self.net, &ps),
                blend: quality_on(&self.blend(), &ps),
                filtered: f64::NAN,
                previous: quality_on(&self.previous, &ps),
                initial: self.initial_quality_on(&ps),
                bicubic: self.bicubic_quality(),
                bilinear: {
                    let v: Vec<f64> = ps
                        .iter()
                        .map(|p| p.bilinear_mse)
                        .filter(|m| m.is_finite())
                        .collect();
                    if v.is_empty() {
                        f64::NAN
                    } else {
                        psnr_from_mse(v.iter().sum::<f64>() / v.len() as f64)
                    }
                },
                steps: self.epoch_steps,
                train_psnr,
            }
        };
        self.refit_post_filter();
        self.older = std::mem::replace(&mut self.previous, self.net.clone());
        self.steps_at_older = self.steps_at_previous;
        self.steps_at_previous = self.steps;
        self.epoch += 1;
        self.epoch_steps = 0;
        self.epoch_loss = 0.0;
        q
    }

    /// The current network as a `srenhance-refine-v1` ONNX model.
    pub fn export(&self, recipe: &str) -> Vec<u8> {
        export(&self.net, recipe)
    }

    /// The average of the current and the initial network's weights (WiSE-FT's weight-space
    /// ensemble at 1/2; both share the architecture, so the average is a network of it).
    pub fn blend(&self) -> RefineNet {
        let mut b = self.net.clone();
        for (w, w0) in b.params.iter_mut().zip(&self.initial.params) {
            *w = 0.5 * (*w + *w0);
        }
        b
    }

    /// A scene cut: the epoch's fresh measures restart with the pairs after it (the ones
    /// before it say nothing about the new scene).
    pub fn mark_cut(&mut self) {
        self.fresh = Fresh::default();
        let since = self.store.added();
        if let Some(post) = self.post.as_mut() {
            *post = PostFit {
                filter: post.prior.clone(),
                prior: post.prior.take(),
                since,
            };
        }
    }

    /// Sets the generic filter fitted offline on DNN_0's output (see [`PostFit::prior`]);
    /// ignored without `config.post_filter`.
    pub fn set_prior_filter(&mut self, prior: Option<Arc<Filter>>) {
        if let Some(post) = self.post.as_mut() {
            post.filter = post.filter.take().or_else(|| prior.clone());
            post.prior = prior;
        }
    }

    /// The generic filter served with DNN_0, if any.
    pub fn prior_filter(&self) -> Option<Arc<Filter>> {
        self.post.as_ref().and_then(|p| p.prior.clone())
    }

    /// Mean squared error of DNN_0 as it is served (with the generic filter when there is
    /// one) on one whole pair.
    fn initial_pair_mse(&self, p: &StoredPatch) -> f64 {
        served_mse(&self.initial, self.prior_filter().as_deref(), p)
    }

    /// DNN_0 as served on whole pairs ([`quality_on`]'s measure).
    fn initial_quality_on(&self, ps: &[&StoredPatch]) -> f64 {
        if ps.is_empty() {
            return f64::NAN;
        }
        let (net, prior) = (&self.initial, self.prior_filter());
        let se: f64 = ps
            .par_iter()
            .map(|p| served_mse(net, prior.as_deref(), p))
            .sum();
        psnr_from_mse(se / ps.len() as f64)
    }

    /// Refits the post-filter on the current network's output over the newest pairs of the
    /// scene (at most [`POST_FILTER_PAIRS`]), toward the generic filter when there is one.
    fn refit_post_filter(&mut self) {
        let Some((since, prior)) = self.post.as_ref().map(|p| (p.since, p.prior.clone())) else {
            return;
        };
        let pairs: Vec<&StoredPatch> = self
            .store
            .iter()
            .rev()
            .take_while(|p| p.seq >= since)
            .take(POST_FILTER_PAIRS)
            .collect();
        let net = &self.net;
        let normal = pairs
            .par_iter()
            .fold(Normal::default, |mut n, p| {
                let out = pair_output(net, p);
                n.add(
                    &out, p.input_w, p.input_h, &p.target, p.target_x, p.target_y, p.size,
                );
                n
            })
            .reduce(Normal::default, Normal::merge);
        let filter = match &prior {
            Some(g) => Some(Arc::new(normal.solve_toward(Some(g)))),
            None => normal.solve().map(Arc::new),
        };
        if let Some(post) = self.post.as_mut() {
            post.filter = filter;
        }
    }

    /// The post-filter fitted at the last epoch's end, to follow the online network.
    pub fn post_filter(&self) -> Option<Arc<Filter>> {
        self.post.as_ref().and_then(|p| p.filter.clone())
    }

    /// Training restarts from DNN_0 (weights and Adam's moments; the patch store is kept,
    /// its newest pairs are the new content's).
    pub fn reset_to_initial(&mut self) {
        self.net = self.initial.clone();
        self.adam = Adam::new(self.net.num_params(), self.config.learning_rate);
        self.blend_cache = None;
        self.refit_post_filter();
    }
}

/// `net` as a `srenhance-refine-v1` ONNX model.
pub fn export(net: &RefineNet, recipe: &str) -> Vec<u8> {
    lv_graph::onnx::export_kind(net, KIND, recipe)
}

impl Trainer {}

fn mse_u8(a: &[u8], b: &[u8]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = x as f64 - y as f64;
            d * d
        })
        .sum::<f64>()
        / a.len().max(1) as f64
}

/// `net`'s output over a pair's whole input window, rounded to 8 bits as the element writes it.
fn pair_output(net: &RefineNet, p: &StoredPatch) -> Vec<u8> {
    let x: Vec<f32> = p.input.iter().map(|&v| v as f32 / 255.0).collect();
    net.forward(&x, p.input_h, p.input_w)
        .iter()
        .map(|&v| (v * 255.0).round().clamp(0.0, 255.0) as u8)
        .collect()
}

/// Mean squared error (8-bit units) of an output window on the pair's target.
fn window_mse(out: &[u8], p: &StoredPatch) -> f64 {
    let mut se = 0.0;
    for r in 0..p.size {
        let o = (p.target_y + r) * p.input_w + p.target_x;
        for c in 0..p.size {
            let d = out[o + c] as f64 - p.target[r * p.size + c] as f64;
            se += d * d;
        }
    }
    se / (p.size * p.size) as f64
}

/// Mean squared error (8-bit units) of an output window after `filter`, on the pair's target.
fn filtered_mse(filter: &Filter, out: &[u8], p: &StoredPatch) -> f64 {
    let y = filter.apply_window(out, p.input_w, p.input_h, p.target_x, p.target_y, p.size);
    mse_u8(&y, &p.target)
}

/// Mean squared error (8-bit units) of `net`, followed by `filter` if any, on one whole pair.
fn served_mse(net: &RefineNet, filter: Option<&Filter>, p: &StoredPatch) -> f64 {
    match filter {
        Some(f) => filtered_mse(f, &pair_output(net, p), p),
        None => pair_mse(net, p),
    }
}

/// Mean squared error (8-bit units) of `net` on one whole pair.
fn pair_mse(net: &RefineNet, p: &StoredPatch) -> f64 {
    window_mse(&pair_output(net, p), p)
}

/// Mean-MSE PSNR of `net` over whole pairs (what the element would output on those cells).
pub fn quality_on(net: &RefineNet, ps: &[&StoredPatch]) -> f64 {
    if ps.is_empty() {
        return f64::NAN;
    }
    let mse: f64 = ps.par_iter().map(|p| pair_mse(net, p)).sum::<f64>() / ps.len() as f64;
    psnr_from_mse(mse)
}

/// One training example cut from a pair: network input window (0..1) and the target square
/// inside it.
struct Sample {
    w: usize,
    h: usize,
    x: Vec<f32>,
    /// Target square: origin inside the window and side.
    tx: usize,
    ty: usize,
    side: usize,
    t: Vec<f32>,
}

impl Sample {
    /// Target square at `(cx, cy)` of the patch, side `crop`, with ≥ `margin` context; the
    /// window starts on an even input coordinate (the network's 2x2 phase).
    fn cut(p: &StoredPatch, cx: usize, cy: usize, crop: usize, margin: usize) -> Sample {
        let (ax, ay) = (p.target_x + cx, p.target_y + cy);
        let sx = ax.saturating_sub(margin) / 2 * 2;
        let sy = ay.saturating_sub(margin) / 2 * 2;
        let ex = ((ax + crop + margin).div_ceil(2) * 2).min(p.input_w);
        let ey = ((ay + crop + margin).div_ceil(2) * 2).min(p.input_h);
        let (w, h) = (ex - sx, ey - sy);
        let mut x = Vec::with_capacity(w * h);
        for r in sy..ey {
            x.extend(
                p.input[r * p.input_w + sx..r * p.input_w + ex]
                    .iter()
                    .map(|&v| v as f32 / 255.0),
            );
        }
        let mut t = Vec::with_capacity(crop * crop);
        for r in 0..crop {
            let o = (cy + r) * p.size + cx;
            t.extend(p.target[o..o + crop].iter().map(|&v| v as f32 / 255.0));
        }
        Sample {
            w,
            h,
            x,
            tx: ax - sx,
            ty: ay - sy,
            side: crop,
            t,
        }
    }

    /// Squared error over the target square (mean, 0..1 units) and `d loss / d output` for
    /// the whole window (zero outside the square), scaled by `scale`.
    fn loss_and_grad(&self, y: &[f32], scale: f32, loss: Loss) -> (f64, Vec<f32>) {
        let n = (self.side * self.side) as f64;
        let mut dy = vec![0.0f32; self.w * self.h];
        let mut se = 0.0f64;
        for r in 0..self.side {
            for c in 0..self.side {
                let o = (self.ty + r) * self.w + self.tx + c;
                let d = y[o] - self.t[r * self.side + c];
                se += (d as f64) * (d as f64);
                dy[o] = match loss {
                    Loss::L2 => (2.0 * d as f64 / n) as f32 * scale,
                    // The sign, sized as L2's gradient is at an error of one 8-bit level.
                    Loss::L1 => (2.0 * d.signum() as f64 / (255.0 * n)) as f32 * scale,
                };
            }
        }
        (se / n, dy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lv_train::RefineConfig;

    /// Smooth random-ish picture with detail at several scales.
    fn picture(w: usize, h: usize, seed: u64) -> Vec<u8> {
        let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
        let waves: Vec<(f32, f32, f32, f32)> = (0..6)
            .map(|_| {
                (
                    rng.random_range(0.05..0.9),
                    rng.random_range(0.05..0.9),
                    rng.random_range(0.0..std::f32::consts::TAU),
                    rng.random_range(10.0..40.0),
                )
            })
            .collect();
        (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                let v: f32 = 128.0
                    + waves
                        .iter()
                        .map(|&(fx, fy, ph, a)| a * (fx * x + fy * y + ph).sin())
                        .sum::<f32>();
                v.clamp(0.0, 255.0) as u8
            })
            .collect()
    }

    fn pairs_for(hr: &[u8], w: usize, h: usize, size: usize, margin: usize) -> Vec<StoredPatch> {
        let lr = bicubic_u8(hr, w, h, w, w / 2, h / 2);
        let up = bicubic_u8(&lr, w / 2, h / 2, w / 2, w, h);
        let mut v = Vec::new();
        for cy in 0..h / size {
            for cx in 0..w / size {
                let mut t = Vec::with_capacity(size * size);
                for r in 0..size {
                    let o = (cy * size + r) * w + cx * size;
                    t.extend_from_slice(&hr[o..o + size]);
                }
                v.push(StoredPatch::from_upscaled(
                    0,
                    &up,
                    w,
                    h,
                    w,
                    cx * size,
                    cy * size,
                    t,
                    size,
                    margin,
                ));
            }
        }
        v
    }

    fn small_net() -> RefineNet {
        RefineNet::new(
            RefineConfig {
                channels: 8,
                hidden_layers: 1,
            },
            3,
        )
    }

    /// A trainer for the gain tests (`loss`), and the pairs of one 128x96 picture for it.
    fn picture_trainer(loss: Loss) -> (Trainer, Vec<StoredPatch>) {
        let (w, h, size) = (128usize, 96usize, 32usize);
        let hr = picture(w, h, 5);
        let t = Trainer::new(
            small_net(),
            TrainerConfig {
                learning_rate: 3e-3,
                batch_size: 4,
                crop: 24,
                eval_patches: 12,
                loss,
                ..TrainerConfig::default()
            },
        );
        let pairs = pairs_for(&hr, w, h, size, t.margin());
        (t, pairs)
    }

    #[test]
    fn untrained_net_is_bicubic_and_training_gains() {
        let (mut t, pairs) = picture_trainer(Loss::L2);
        assert!(t.step().is_none());
        for p in pairs {
            t.add(p);
        }
        // The zero last layer: the untrained network is the identity on the upscale.
        let q0 = t.end_epoch();
        assert!((q0.current - q0.bicubic).abs() < 1e-9, "{q0:?}");
        for _ in 0..150 {
            t.step().unwrap();
        }
        let q1 = t.end_epoch();
        assert_eq!(q1.steps, 150);
        assert!(
            q1.gain_vs_bicubic() > 0.3,
            "150 steps on one picture gained only {:.3} dB: {q1:?}",
            q1.gain_vs_bicubic()
        );
        assert!((q1.gain_vs_initial() - q1.gain_vs_bicubic()).abs() < 1e-9);
        // DNN_{t-1} of the next epoch is this epoch's network.
        let q2 = t.end_epoch();
        assert!((q2.previous - q1.current).abs() < 1e-9);
        assert_eq!(q2.steps, 0);
        assert!(q2.train_psnr.is_nan());
    }

    /// A filter that adds `bias` to every pixel, as a file would hold it.
    fn bias_filter(bias: f32) -> Arc<Filter> {
        use crate::postfilter::{BUCKETS, K};
        let mut b = b"LVPF".to_vec();
        for n in [1u32, BUCKETS as u32, K as u32] {
            b.extend_from_slice(&n.to_le_bytes());
        }
        for i in 0..BUCKETS * K {
            let w = if i % K == K - 1 { bias } else { 0.0 };
            b.extend_from_slice(&w.to_le_bytes());
        }
        Arc::new(Filter::from_bytes(&b).unwrap())
    }

    /// The generic filter goes with DNN_0 in its measure, is the filtered candidate until
    /// the first refit and again after a cut, and a refit moves from it.
    #[test]
    fn the_generic_filter_is_served_with_dnn0_and_starts_every_refit() {
        let (mut plain, pairs) = picture_trainer(Loss::L2);
        let (mut t, _) = picture_trainer(Loss::L2);
        let g = bias_filter(3.0);
        t.set_prior_filter(Some(g.clone()));
        assert!(Arc::ptr_eq(&t.post_filter().unwrap(), &g));
        for p in pairs {
            plain.add(p.clone());
            t.add(p);
        }
        let (q0, q) = (plain.end_epoch(), t.end_epoch());
        // Three levels of bias on bicubic output: worse than DNN_0 alone.
        assert!(q.initial < q0.initial - 0.1, "{q:?} {q0:?}");
        assert!((q.current - q0.current).abs() < 1e-9);
        assert!(q.filtered.is_finite() && q0.filtered.is_nan());
        // Refitted at the epoch's end on the pairs: the bias is learnt away.
        let refit = t.post_filter().unwrap();
        assert!(!Arc::ptr_eq(&refit, &g));
        t.mark_cut();
        assert!(Arc::ptr_eq(&t.post_filter().unwrap(), &g));
        assert!(Arc::ptr_eq(&t.prior_filter().unwrap(), &g));
    }

    /// One epoch of `pairs` arriving, then 150 steps on them; the quality after those steps.
    fn train_150_steps(t: &mut Trainer, pairs: Vec<StoredPatch>) -> EpochQuality {
        for p in pairs {
            t.add(p);
        }
        t.end_epoch();
        for _ in 0..150 {
            t.step().unwrap();
        }
        t.end_epoch()
    }

    /// L1 trains as well (the loss is the choice, the gain over bicubic the check).
    #[test]
    fn l1_loss_trains_too() {
        let (mut t, pairs) = picture_trainer(Loss::L1);
        let q = train_150_steps(&mut t, pairs);
        assert!(q.gain_vs_bicubic() > 0.3, "L1: {q:?}");
    }

    /// Over-parameterised steps (`Trainer::expand`): the net starts unchanged, trains, and what
    /// it exports is the folded net the quality measures ran.
    #[test]
    fn expanded_training_starts_at_the_net_and_gains() {
        let (mut t, pairs) = picture_trainer(Loss::L2);
        let before = t.net().params.clone();
        t.expand(16, 7);
        assert_eq!(t.net().params, before);
        let q = train_150_steps(&mut t, pairs);
        assert!(q.gain_vs_bicubic() > 0.3, "expanded: {q:?}");
        let m = lv_graph::onnx::import(&t.export("test")).unwrap();
        assert_eq!(m.params, t.net().params);
    }

    #[test]
    fn training_is_reproducible_for_a_seed() {
        let (w, h, size) = (64usize, 64usize, 32usize);
        let hr = picture(w, h, 9);
        let run = || {
            let mut t = Trainer::new(small_net(), TrainerConfig::default());
            let m = t.margin();
            for p in pairs_for(&hr, w, h, size, m) {
                t.add(p);
            }
            for _ in 0..5 {
                t.step();
            }
            t.net().params.clone()
        };
        assert_eq!(run(), run());
    }

    /// A stand-in for lv-gpu's kernels: the CPU passes, counted; or a failure every time.
    #[derive(Debug)]
    struct TestEngine {
        calls: std::sync::atomic::AtomicUsize,
        fail: bool,
    }

    impl BatchEngine for TestEngine {
        fn name(&self) -> String {
            "test engine".into()
        }
        fn forward_batch(&self, net: &RefineNet, inputs: &[Tensor]) -> Result<Vec<Trace>, String> {
            self.calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if self.fail {
                return Err("device lost".into());
            }
            Ok(net.forward_batch(inputs))
        }
        fn backward_batch(
            &self,
            net: &RefineNet,
            traces: &[Trace],
            dys: &[Vec<f32>],
        ) -> Result<Vec<f32>, String> {
            Ok(net.backward_batch(traces, dys))
        }
    }

    /// Steps go through the engine when one is set; a step it fails runs on the CPU (same
    /// weights as never having had one) and is counted with its reason.
    #[test]
    fn steps_run_on_the_engine_and_fall_back_to_the_cpu_when_it_fails() {
        let (w, h, size) = (64usize, 64usize, 32usize);
        let hr = picture(w, h, 9);
        let run = |engine: Option<Arc<TestEngine>>| {
            let mut t = Trainer::new(small_net(), TrainerConfig::default());
            t.set_engine(engine.map(|e| e as Arc<dyn BatchEngine>));
            let m = t.margin();
            for p in pairs_for(&hr, w, h, size, m) {
                t.add(p);
            }
            for _ in 0..5 {
                t.step().unwrap();
            }
            let (n, why) = t.engine_failures();
            (t.net().params.clone(), n, why.map(str::to_string))
        };
        let engine = |fail| {
            Arc::new(TestEngine {
                calls: Default::default(),
                fail,
            })
        };
        let (cpu, ..) = run(None);
        let (ok, failing) = (engine(false), engine(true));
        let (on_engine, n_ok, _) = run(Some(ok.clone()));
        let (fallen_back, n_failed, why) = run(Some(failing.clone()));
        assert_eq!(ok.calls.load(std::sync::atomic::Ordering::Relaxed), 5);
        assert_eq!((n_ok, n_failed), (0, 5));
        assert_eq!(why.as_deref(), Some("device lost"));
        assert_eq!(on_engine, cpu);
        assert_eq!(fallen_back, cpu);
    }

    #[test]
    fn adapting_a_subset_moves_only_that_subset() {
        let (w, h, size) = (64usize, 64usize, 32usize);
        let hr = picture(w, h, 9);
        for adapt in [Adapt::Biases, Adapt::LastLayer, Adapt::All] {
            let net0 = small_net();
            let config = TrainerConfig {
                adapt,
                ..TrainerConfig::default()
            };
            let mut t = Trainer::new(net0.clone(), config);
            let m = t.margin();
            for p in pairs_for(&hr, w, h, size, m) {
                t.add(p);
            }
            for _ in 0..5 {
                t.step();
            }
            let mask = adapt.mask(&net0);
            let last = net0.layers.len() - 1;
            for (k, l) in net0.layers.iter().enumerate() {
                let weights = l.offset..l.offset + l.weight_len();
                let biases = l.offset + l.weight_len()..l.offset + l.len();
                let w_on = adapt == Adapt::All || (adapt == Adapt::LastLayer && k == last);
                assert!(mask[weights.clone()].iter().all(|&b| b == w_on));
                assert!(mask[biases].iter().all(|&b| b));
                let moved = weights.clone().any(|i| t.net().params[i] != net0.params[i]);
                // The zero last layer gets a gradient from the first step (see RefineNet::new);
                // the earlier layers' only through it, so only the last is sure to move.
                if !w_on {
                    assert!(!moved, "{adapt:?}: layer {k}'s weights moved");
                } else if k == last {
                    assert!(moved, "{adapt:?}: layer {k}'s weights did not move");
                }
            }
            assert!(
                (0..net0.num_params()).any(|i| mask[i] && t.net().params[i] != net0.params[i]),
                "{adapt:?}: nothing trained"
            );
        }
    }

    #[test]
    fn context_makes_the_crop_loss_match_whole_frame_inference() {
        // The PSNR measured on a stored pair equals the PSNR of the same cell cut from a
        // whole-frame forward pass (edge replication outside the frame, as the runner does):
        // the margin covers the receptive field.
        let (w, h, size) = (64usize, 48usize, 16usize);
        let hr = picture(w, h, 2);
        let mut net = small_net();
        let mut rng = rand_pcg::Pcg64::seed_from_u64(4);
        for p in net.params.iter_mut() {
            *p += (lv_graph::net::normal(&mut rng) * 0.05) as f32;
        }
        let margin = 8;
        let lr = bicubic_u8(&hr, w, h, w, w / 2, h / 2);
        let up = bicubic_u8(&lr, w / 2, h / 2, w / 2, w, h);
        // Whole frame, padded by replication by `pad` (even) on each side.
        let pad = 8;
        let (pw, ph) = (w + 2 * pad, h + 2 * pad);
        let xp: Vec<f32> = (0..pw * ph)
            .map(|i| {
                let x = (i % pw).saturating_sub(pad).min(w - 1);
                let y = (i / pw).saturating_sub(pad).min(h - 1);
                up[y * w + x] as f32 / 255.0
            })
            .collect();
        let yp = net.forward(&xp, ph, pw);
        for &(cx, cy) in &[(0usize, 0usize), (1, 1), (3, 2)] {
            let mut t = Vec::new();
            for r in 0..size {
                let o = (cy * size + r) * w + cx * size;
                t.extend_from_slice(&hr[o..o + size]);
            }
            let p = StoredPatch::from_upscaled(
                0,
                &up,
                w,
                h,
                w,
                cx * size,
                cy * size,
                t.clone(),
                size,
                margin,
            );
            let x: Vec<f32> = p.input.iter().map(|&v| v as f32 / 255.0).collect();
            let y = net.forward(&x, p.input_h, p.input_w);
            for r in 0..size {
                for c in 0..size {
                    let a = y[(p.target_y + r) * p.input_w + p.target_x + c];
                    let b = yp[(cy * size + r + pad) * pw + cx * size + c + pad];
                    assert!(
                        (a - b).abs() < 1e-5,
                        "cell ({cx},{cy}) at ({c},{r}): {a} vs {b}"
                    );
                }
            }
        }
    }
}
