//! Runs a model over one luma plane of a fixed size, in horizontal tiles on a rayon pool.
//!
//! # What the output is
//! The picture is extended by `pad` samples on every side by edge replication (`pad` = the
//! model's receptive radius rounded up to `lv.align`), the right and bottom edges further to
//! a multiple of `lv.align`, the network runs on that, and the `w x h` window is cropped out.
//! Tiling is an implementation detail of that definition: tile `i` computes output rows
//! `[i * core, (i + 1) * core)` from the rows `pad` above and below them (replicated at the
//! picture's borders), so every kept output sample sees exactly the input it sees in the
//! one-tile run — `pad` covers the receptive radius and tile origins stay multiples of
//! `lv.align` (the `SpaceToDepth` phase). `tests/runner.rs` checks tiled == untiled.
//!
//! # Threads
//! tract runs each plan on the calling thread unless tract-linalg's `multithread-mm`
//! executor is configured, which splits single matrix products across a pool and joins
//! after every layer. These nets are many small convolutions, so that synchronisation is
//! paid per layer; independent tiles (one per thread) need none until the frame ends and
//! keep each tile's intermediates smaller (cache-friendlier). Tiles it is; tract stays
//! single-threaded. (`multithread-mm` was not benchmarked against tiles here: enabling it
//! means another feature set of tract-linalg in the shared build, which did not fit the
//! session; the tiled runner's 1- vs 2-thread numbers are in the README.)
//!
//! # Allocation
//! The tiles' input tensors and tract states are made once per runner; a frame refills the
//! input tensors in place (they are `Arc`s handed to tract and uniquely owned again after the
//! run). tract allocates its intermediate and output tensors inside `run`; nothing else here
//! allocates per frame.

use crate::backend::{Backend, BackendKind};
use crate::model::{Model, ModelError};
use rayon::prelude::*;
use std::sync::{Arc, Mutex};
use tract_onnx::prelude::*;

/// How a [`PlaneRunner`] splits its work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunnerConfig {
    /// Worker threads (0 = all cores, 1 = run on the calling thread).
    pub threads: usize,
    /// Number of tiles; 0 = automatic (at least one per thread, more for tall pictures so a
    /// tile's intermediates stay small).
    pub tiles: usize,
    /// Which backend to use; `Cuda` falls back to `Cpu` when no CUDA driver/device is usable
    /// (see [`PlaneRunner::fallback_reason`]).
    pub backend: BackendKind,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        RunnerConfig {
            threads: 0,
            tiles: 0,
            backend: BackendKind::Cpu,
        }
    }
}

/// Output rows per tile above which the automatic tiling adds tiles (a round of one per
/// thread). Each tile recomputes `2 * pad` rows of context (16 for the shipped dnnscale
/// model), so fewer, taller tiles do less work: at 960x540 with 2 threads, the former 144
/// made 4 tiles of 136 + 16 rows (608 in all), 288 makes 2 of 270 + 16 (572). A tall
/// tile's activations no longer fit L2 (~4.5 MB per 16-channel layer at 960 wide), which
/// costs little: a 16-channel conv does 4608 FLOPs per 128 bytes it streams from L3.
const AUTO_TILE_ROWS: usize = 288;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("plane buffer too small: {what}")]
    Buffer { what: &'static str },
    #[error("inference failed: {0}")]
    Tract(String),
    #[error("CUDA inference failed: {0}")]
    Cuda(String),
}

/// A sample type the runner reads and writes: `u8` planes (0..=255, scaled by 1/255 on the way
/// in, rounded and clamped on the way out) or `f32` planes already in the network's 0..1 range.
pub trait Sample: Copy + Send + Sync {
    fn to_unit(self) -> f32;
    fn from_unit(v: f32) -> Self;
}

impl Sample for u8 {
    #[inline]
    fn to_unit(self) -> f32 {
        self as f32 * (1.0 / 255.0)
    }
    #[inline]
    fn from_unit(v: f32) -> Self {
        // `(v * 255.0).round() as u8` (half away from zero, out-of-range and NaN clamped to
        // 0..=255), without `round`: it is a libm call on baseline x86-64 (no SSE4.1), which
        // kept the output loop scalar and cost ~4 % of a 540p frame. `t` is `c` truncated
        // (NaN: 0, and `NaN >= 0.5` is false) and `c - t` its exact fraction, so the result is
        // bit-for-bit the same (`tests::u8_rounding_is_round`).
        let c = (v * 255.0).clamp(0.0, 255.0);
        let t = c as u8;
        t + u8::from(c - f32::from(t) >= 0.5)
    }
}

impl Sample for f32 {
    #[inline]
    fn to_unit(self) -> f32 {
        self
    }
    #[inline]
    fn from_unit(v: f32) -> Self {
        v
    }
}

/// Which CPU engine runs the network.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Engine {
    /// The native kernels when the graph is lvtrain's RefineNet export, tract otherwise.
    #[default]
    Auto,
    /// Always tract (comparisons, benchmarks).
    Tract,
}

enum TileEngine {
    Tract(Box<TypedSimpleState>),
    /// Allocated at the tile's first run, on the inference thread that runs it: a runner
    /// built on another thread (srenhance's trainer publishes one every epoch) would otherwise
    /// place its largest buffers in that thread's malloc arena, among the training's
    /// short-lived allocations, and resident memory would step up as that arena fragments.
    Native(Option<crate::native::Scratch>),
    /// The CUDA kernels (lv-gpu), on the backend's executor.
    Gpu,
}

struct Tile {
    /// First output row this tile produces.
    y0: usize,
    /// Output rows it produces (`core`, less for the last tile).
    rows: usize,
    input: Arc<Tensor>,
    engine: TileEngine,
}

/// Runs one model on planes of one size. Build it at caps time; `run` per frame.
pub struct PlaneRunner {
    model: Model,
    w: usize,
    h: usize,
    /// Context rows/columns added on each side (receptive radius rounded up to the alignment).
    pad: usize,
    /// Network input width (`w + 2 * pad`, rounded up to the alignment).
    tw: usize,
    /// Output rows per tile (multiple of the alignment).
    core: usize,
    tiles: Vec<Mutex<Tile>>,
    /// Shared with the runners made by [`PlaneRunner::with_model`].
    pool: Option<Arc<rayon::ThreadPool>>,
    cfg: RunnerConfig,
    engine: Engine,
    backend: Backend,
    native: Option<Arc<crate::native::NativeNet>>,
}

impl std::fmt::Debug for PlaneRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlaneRunner")
            .field("size", &(self.w, self.h))
            .field("tiles", &self.tiles.len())
            .field("tile", &(self.tw, self.core + 2 * self.pad))
            .field("threads", &self.threads())
            .field("backend", &self.backend.kind())
            .field("engine", &self.engine_name())
            // The kernel path is process-wide (`LV_NATIVE_ISA`); shown here because this is
            // what the elements log at INFO when they build a runner.
            .field(
                "kernels",
                &self
                    .native
                    .as_ref()
                    .map_or("tract", |_| crate::native::Isa::selected().name()),
            )
            .finish()
    }
}

fn align_up(v: usize, a: usize) -> usize {
    v.div_ceil(a) * a
}

impl PlaneRunner {
    /// Prepares `model` for `w x h` planes (any size ≥ 1; padding handles the alignment).
    /// Fails if tract cannot build the plan for the tile size.
    pub fn new(model: &Model, w: usize, h: usize, cfg: RunnerConfig) -> Result<Self, ModelError> {
        Self::with_engine(model, w, h, cfg, Engine::Auto)
    }

    /// [`PlaneRunner::new`] with an explicit engine choice.
    pub fn with_engine(
        model: &Model,
        w: usize,
        h: usize,
        cfg: RunnerConfig,
        engine: Engine,
    ) -> Result<Self, ModelError> {
        Self::build(model, w, h, cfg, engine, None)
    }

    /// A runner for `model` with this one's plane size, configuration and engine choice that
    /// shares this one's worker threads. For networks that replace one another while a stream
    /// runs (srenhance publishes one every epoch): a pool per runner spawned new threads at
    /// each swap, in the publishing thread, so they inherited its lowered priority, and each
    /// new thread could take a fresh glibc malloc arena (resident memory that steps up).
    pub fn with_model(&self, model: &Model) -> Result<Self, ModelError> {
        Self::build(
            model,
            self.w,
            self.h,
            self.cfg,
            self.engine,
            self.pool.clone(),
        )
    }

    fn build(
        model: &Model,
        w: usize,
        h: usize,
        cfg: RunnerConfig,
        engine: Engine,
        pool: Option<Arc<rayon::ThreadPool>>,
    ) -> Result<Self, ModelError> {
        if w == 0 || h == 0 || w > lv_image::resample::MAX_DIM || h > lv_image::resample::MAX_DIM {
            return Err(ModelError::BadSize {
                w,
                h,
                reason: "plane sizes must be 1..=65536",
            });
        }
        let info = model.info();
        let a = info.align;
        let pad = align_up(info.receptive_radius, a);
        let threads = if cfg.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            cfg.threads
        };
        let native = match engine {
            Engine::Auto => model.native().cloned(),
            Engine::Tract => None,
        };
        let backend = Backend::new(cfg.backend, native.is_some());
        let on_gpu = backend.executor().is_some();
        // On the GPU one launch sequence covers the whole plane: no tiles to spread over threads.
        let n = if on_gpu {
            1
        } else if cfg.tiles == 0 {
            // Whole rounds, so no thread idles through the last one.
            threads * h.div_ceil(threads * AUTO_TILE_ROWS)
        } else {
            cfg.tiles
        };
        // Equal cores (the last tile may run past the bottom, into replicated rows), so all
        // tiles share one plan.
        let core = align_up(h.div_ceil(n.clamp(1, h)), a);
        let n = h.div_ceil(core);
        let tw = align_up(w + 2 * pad, a);
        let th = core + 2 * pad;
        // The native engine needs no tract plan; tract's is built (and cached) otherwise.
        let plan = match native {
            Some(_) => None,
            None => Some(model.plan(tw, th)?),
        };
        let tiles = (0..n)
            .map(|i| {
                let y0 = i * core;
                let engine =
                    match (&native, &plan) {
                        (Some(_), _) if on_gpu => TileEngine::Gpu,
                        (Some(_), _) => TileEngine::Native(None),
                        (None, Some(plan)) => TileEngine::Tract(Box::new(
                            TypedSimpleState::new(plan).map_err(|e| ModelError::Tract {
                                size: Some((tw, th)),
                                msg: format!("{e:#}"),
                            })?,
                        )),
                        (None, None) => unreachable!("a plan is built whenever native is None"),
                    };
                Ok(Mutex::new(Tile {
                    y0,
                    rows: core.min(h - y0),
                    input: Arc::new(Tensor::zero::<f32>(&[1, 1, th, tw]).map_err(|e| {
                        ModelError::Tract {
                            size: Some((tw, th)),
                            msg: format!("{e:#}"),
                        }
                    })?),
                    engine,
                }))
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        let pool = if threads <= 1 {
            None
        } else if let Some(p) = pool.filter(|p| p.current_num_threads() == threads) {
            Some(p)
        } else {
            Some(Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .thread_name(|i| format!("lvinfer-{i}"))
                    .build()
                    .map_err(|e| ModelError::Tract {
                        size: None,
                        msg: format!("cannot start {threads} worker threads: {e}"),
                    })?,
            ))
        };
        Ok(PlaneRunner {
            model: model.clone(),
            w,
            h,
            pad,
            tw,
            core,
            tiles,
            pool,
            cfg,
            engine,
            backend,
            native,
        })
    }

    /// `"cuda"`, `"native"` or `"tract"`: which engine runs the network.
    pub fn engine_name(&self) -> &'static str {
        if self.backend.executor().is_some() {
            "cuda"
        } else if self.native.is_some() {
            "native"
        } else {
            "tract"
        }
    }

    pub fn size(&self) -> (usize, usize) {
        (self.w, self.h)
    }

    pub fn tiles(&self) -> usize {
        self.tiles.len()
    }

    /// Whether `other` runs on this runner's worker threads (one made by the other's
    /// [`PlaneRunner::with_model`]). Single-threaded runners share nothing.
    pub fn shares_threads_with(&self, other: &PlaneRunner) -> bool {
        match (&self.pool, &other.pool) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    pub fn threads(&self) -> usize {
        self.pool.as_ref().map_or(1, |p| p.current_num_threads())
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The backend actually in use.
    pub fn backend(&self) -> BackendKind {
        self.backend.kind()
    }

    /// Why a requested CUDA backend is not in use (for the caller to log once).
    pub fn fallback_reason(&self) -> Option<&str> {
        self.backend.fallback_reason()
    }

    /// What runs the CUDA kernels, when the network runs on them.
    pub(crate) fn executor(&self) -> Option<&Arc<dyn lv_gpu::refine::Executor>> {
        self.backend.executor()
    }

    /// With `backend=auto`: which backend it picked and why (for the caller to log once).
    pub fn backend_choice(&self) -> Option<&str> {
        self.backend.choice()
    }

    /// Runs `f` on this runner's pool (or the calling thread when single-threaded), so a
    /// caller's own rayon work (e.g. `lv_image::resample` bands) uses the same workers.
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        match &self.pool {
            Some(p) => p.install(f),
            None => f(),
        }
    }

    /// Runs the network on `src` (`h` rows of `w` samples, `src_stride` apart) and writes the
    /// result to `dst` (rows `dst_stride` apart).
    pub fn run<S: Sample>(
        &self,
        src: &[S],
        src_stride: usize,
        dst: &mut [S],
        dst_stride: usize,
    ) -> Result<(), RunError> {
        let (w, h) = (self.w, self.h);
        if src_stride < w || src.len() < (h - 1) * src_stride + w {
            return Err(RunError::Buffer { what: "source" });
        }
        if dst_stride < w || dst.len() < (h - 1) * dst_stride + w {
            return Err(RunError::Buffer {
                what: "destination",
            });
        }
        // Disjoint row bands of `dst`, one per tile, so tiles write in parallel.
        let band = self.core * dst_stride;
        let work = |(tile, out): (&Mutex<Tile>, &mut [S])| -> Result<(), RunError> {
            let mut tile = tile.lock().unwrap();
            self.run_tile(&mut tile, src, src_stride, out, dst_stride)
        };
        match &self.pool {
            Some(pool) => pool.install(|| {
                self.tiles
                    .par_iter()
                    .zip(dst.par_chunks_mut(band))
                    .try_for_each(work)
            }),
            None => self
                .tiles
                .iter()
                .zip(dst.chunks_mut(band))
                .try_for_each(work),
        }
    }

    fn run_tile<S: Sample>(
        &self,
        tile: &mut Tile,
        src: &[S],
        src_stride: usize,
        out: &mut [S],
        dst_stride: usize,
    ) -> Result<(), RunError> {
        let (w, h, pad, tw) = (self.w, self.h, self.pad, self.tw);
        {
            // Uniquely owned again once the previous run's state dropped its reference, so
            // `make_mut` refills it in place (it would copy, not fail, if tract kept one).
            let input = Arc::make_mut(&mut tile.input);
            let mut view = input
                .try_as_plain_ram_mut()
                .map_err(|e| RunError::Tract(format!("{e:#}")))?;
            let buf = view
                .as_slice_mut::<f32>()
                .map_err(|e| RunError::Tract(format!("{e:#}")))?;
            for (ty, row) in buf.chunks_exact_mut(tw).enumerate() {
                // Picture row for tile row `ty`, clamped = edge replication.
                let y = (tile.y0 + ty).saturating_sub(pad).min(h - 1);
                let s = &src[y * src_stride..y * src_stride + w];
                let (left, rest) = row.split_at_mut(pad);
                let (mid, right) = rest.split_at_mut(w);
                left.fill(s[0].to_unit());
                for (d, &v) in mid.iter_mut().zip(s) {
                    *d = v.to_unit();
                }
                right.fill(s[w - 1].to_unit());
            }
        }
        let Tile {
            input,
            engine,
            rows,
            ..
        } = tile;
        match engine {
            TileEngine::Native(scratch) => {
                let net = self
                    .native
                    .as_ref()
                    .expect("native tiles have a native net");
                let x = input
                    .try_as_plain_ram()
                    .and_then(|v| v.as_slice::<f32>())
                    .map_err(|e| RunError::Tract(format!("{e:#}")))?;
                // The tile's input tensor is th x tw: its size gives th.
                let scratch = scratch.get_or_insert_with(|| net.scratch(tw, x.len() / tw));
                net.run(x, tw, scratch, (pad..pad + *rows, pad..pad + w));
                for r in 0..*rows {
                    let d = &mut out[r * dst_stride..r * dst_stride + w];
                    scratch.output_row(x, tw, r + pad, pad, d);
                }
            }
            TileEngine::Gpu => {
                let exec = self.backend.executor().expect("GPU tiles have an executor");
                let net = self
                    .native
                    .as_ref()
                    .expect("GPU tiles run a RefineNet")
                    .graph();
                let conv = |l: &lv_graph::ConvLayer| lv_gpu::refine::Conv {
                    cin: l.cin,
                    cout: l.cout,
                    weight: l.weight(&net.params),
                    bias: l.bias(&net.params),
                };
                let spec = lv_gpu::refine::Refine {
                    layers: net.layers.iter().map(conv).collect(),
                    skip: net.skip.as_ref().map(conv),
                };
                let x = input
                    .try_as_plain_ram()
                    .and_then(|v| v.as_slice::<f32>())
                    .map_err(|e| RunError::Tract(format!("{e:#}")))?;
                let y = lv_gpu::refine::forward(exec.as_ref(), &spec, x, x.len() / tw, tw)
                    .map_err(RunError::Cuda)?;
                for r in 0..*rows {
                    let s = &y[(r + pad) * tw + pad..(r + pad) * tw + pad + w];
                    let d = &mut out[r * dst_stride..r * dst_stride + w];
                    for (d, &v) in d.iter_mut().zip(s) {
                        *d = S::from_unit(v);
                    }
                }
            }
            TileEngine::Tract(state) => {
                let outputs = state
                    .run(tvec![TValue::from_const(input.clone())])
                    .map_err(|e| RunError::Tract(format!("{e:#}")))?;
                let res = outputs[0]
                    .try_as_plain_ram()
                    .and_then(|v| v.as_slice::<f32>())
                    .map_err(|e| RunError::Tract(format!("{e:#}")))?;
                for r in 0..*rows {
                    let s = &res[(r + pad) * tw + pad..(r + pad) * tw + pad + w];
                    let d = &mut out[r * dst_stride..r * dst_stride + w];
                    for (d, &v) in d.iter_mut().zip(s) {
                        *d = S::from_unit(v);
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Sample;

    /// `u8::from_unit` against the `round` it replaces: the 8192 floats around each of the
    /// 255 rounding edges `(k + 0.5) / 255`, every 127th float from -0.01 to 1.01 and the
    /// special values.
    #[test]
    fn u8_rounding_is_round() {
        let reference = |v: f32| (v * 255.0).round() as u8;
        let mut bad = Vec::new();
        let mut check = |v: f32| {
            if u8::from_unit(v) != reference(v) && bad.len() < 10 {
                bad.push(v);
            }
        };
        for v in [
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            -0.0,
            f32::MAX,
            f32::MIN,
        ] {
            check(v);
        }
        for k in 0..255u32 {
            let edge = ((k as f32 + 0.5) / 255.0).to_bits();
            for bits in edge - 4096..edge + 4096 {
                check(f32::from_bits(bits));
            }
        }
        // Positive floats are ordered as their bit patterns.
        for bits in (0..=1.01f32.to_bits()).step_by(127) {
            check(f32::from_bits(bits));
            check(-f32::from_bits(bits) * 0.01);
        }
        assert!(bad.is_empty(), "differs from round at {bad:?}");
    }
}
