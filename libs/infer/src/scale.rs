//! The scaling path of the dnnscale and srenhance elements: luma resampled to the output
//! size and refined by the network, chroma resampled with the stream's siting. The elements
//! differ only in the kernel (Lanczos-3 down, Catmull-Rom up) and in where the network comes
//! from, so both build a [`Scaler`] per caps pair and keep only the GStreamer side.

use crate::{Model, ModelError, PlaneRunner, RunError, RunnerConfig};
use lv_image::nv12;
use lv_image::plane::{Chroma, Plane, PlaneLayout};
use lv_image::resample::{Kernel, ResampleError, Resampler, ResamplerConfig, Siting};
use std::sync::Arc;

/// Everything a [`Scaler`] is built from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScalerConfig {
    pub in_size: (usize, usize),
    pub out_size: (usize, usize),
    pub layout: PlaneLayout,
    /// Resampling kernel of luma (before the network) and of chroma.
    pub kernel: Kernel,
    pub runner: RunnerConfig,
}

#[derive(Debug, thiserror::Error)]
pub enum ScaleError {
    #[error("the model cannot run at {0}x{1}: {2}")]
    Model(usize, usize, #[source] ModelError),
    #[error("resampler {0}x{1} -> {2}x{3}: {4}")]
    Resampler(usize, usize, usize, usize, #[source] ResampleError),
}

/// One plane of a frame and the distance between its rows in bytes: luma, then U and V, or
/// the interleaved UV plane.
pub type PlaneData<'a> = (&'a [u8], usize);
pub type PlaneDataMut<'a> = (&'a mut [u8], usize);

/// Scales 8-bit frames of one size and layout to another size; built once per caps pair.
pub struct Scaler {
    cfg: ScalerConfig,
    luma: Resampler,
    /// U and V share it; `None` without chroma.
    chroma: Option<Resampler>,
    runner: Arc<PlaneRunner>,
    /// The pre-filter at the source size (a `Stage::Pre` model) and its output, the
    /// resampler's input.
    pre: Option<(Arc<PlaneRunner>, Vec<u8>)>,
    /// False: luma is resampled straight to the output and the network is not run (a
    /// dnnscale model that is not meant for this ratio, `ModelInfo::covers`).
    refine: bool,
    /// The resampled luma, the network's input (the network cannot read and write one
    /// buffer: tiles read rows that neighbouring tiles write).
    luma_tmp: Vec<u8>,
    /// Interleaved chroma: the split input U, V and the resampled U, V.
    nv12: [Vec<u8>; 4],
}

impl std::fmt::Debug for Scaler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scaler")
            .field("cfg", &self.cfg)
            .field("runner", &self.runner)
            .finish()
    }
}

impl Scaler {
    /// Prepares `model` for the output size and the resamplers around it.
    pub fn new(model: &Model, cfg: ScalerConfig) -> Result<Self, ScaleError> {
        let (ow, oh) = cfg.out_size;
        let runner = PlaneRunner::new(model, ow, oh, cfg.runner)
            .map_err(|e| ScaleError::Model(ow, oh, e))?;
        Self::with_runner(cfg, Arc::new(runner))
    }

    /// A scaler around an existing runner for `cfg.out_size` (`cfg.runner` is then unused).
    pub fn with_runner(cfg: ScalerConfig, runner: Arc<PlaneRunner>) -> Result<Self, ScaleError> {
        let (iw, ih) = cfg.in_size;
        let (ow, oh) = cfg.out_size;
        // Resampling bands run on the runner's pool, as many as it has threads.
        let threads = runner.threads();
        let resampler = |iw, ih, ow, oh, siting_x, siting_y| {
            Resampler::with_config(ResamplerConfig {
                siting_x,
                siting_y,
                threads,
                ..ResamplerConfig::new(iw, ih, ow, oh, cfg.kernel)
            })
            .map_err(|e| ScaleError::Resampler(iw, ih, ow, oh, e))
        };
        let luma = resampler(iw, ih, ow, oh, Siting::CENTRE, Siting::CENTRE)?;
        let chroma = if cfg.layout.chroma == Chroma::Mono {
            None
        } else {
            let (sx, sy) = cfg.layout.chroma.shifts();
            let sub = |v: usize, s: usize| v.div_ceil(1 << s);
            Some(resampler(
                sub(iw, sx),
                sub(ih, sy),
                sub(ow, sx),
                sub(oh, sy),
                Siting::chroma(sx as u32, cfg.layout.cosited.0),
                Siting::chroma(sy as u32, cfg.layout.cosited.1),
            )?)
        };
        let nv12 = match &chroma {
            Some(c) if cfg.layout.interleaved_uv => {
                let c = c.config();
                [
                    vec![0; c.in_w * c.in_h],
                    vec![0; c.in_w * c.in_h],
                    vec![0; c.out_w * c.out_h],
                    vec![0; c.out_w * c.out_h],
                ]
            }
            _ => Default::default(),
        };
        Ok(Scaler {
            cfg,
            luma,
            chroma,
            runner,
            pre: None,
            refine: true,
            luma_tmp: vec![0; ow * oh],
            nv12,
        })
    }

    /// This scaler without the network: luma is only resampled, like chroma.
    pub fn without_network(mut self) -> Self {
        self.refine = false;
        self.luma_tmp = Vec::new();
        self
    }

    /// Adds a pre-filter: `model` runs on the source luma before the resize, its output
    /// rounded to 8 bits (with the refinement runner's threads and backend).
    pub fn with_pre(mut self, model: &Model) -> Result<Self, ScaleError> {
        let (iw, ih) = self.cfg.in_size;
        let runner = PlaneRunner::new(model, iw, ih, self.cfg.runner)
            .map_err(|e| ScaleError::Model(iw, ih, e))?;
        self.pre = Some((Arc::new(runner), vec![0; iw * ih]));
        Ok(self)
    }

    /// The pre-filter's runner, if there is one.
    pub fn pre_runner(&self) -> Option<&Arc<PlaneRunner>> {
        self.pre.as_ref().map(|p| &p.0)
    }

    /// Whether the network refines the luma.
    pub fn refines(&self) -> bool {
        self.refine
    }

    pub fn config(&self) -> &ScalerConfig {
        &self.cfg
    }

    pub fn runner(&self) -> &Arc<PlaneRunner> {
        &self.runner
    }

    /// Swaps in another network for the same output size (e.g. newly trained weights); the
    /// resampling is unchanged.
    pub fn set_runner(&mut self, runner: Arc<PlaneRunner>) {
        assert_eq!(runner.size(), self.cfg.out_size, "runner for another size");
        self.runner = runner;
    }

    /// Scales `src` into `dst`: one plane without chroma, two with interleaved chroma, three
    /// otherwise, each `(samples, stride)`.
    ///
    /// # Panics
    /// If a plane is missing or too small for the configured sizes.
    pub fn process(&mut self, src: &[PlaneData], dst: &mut [PlaneDataMut]) -> Result<(), RunError> {
        let (iw, ih) = self.cfg.in_size;
        let ow = self.cfg.out_size.0;
        let Scaler {
            cfg,
            luma,
            chroma,
            runner,
            pre,
            refine,
            luma_tmp,
            nv12,
        } = self;

        let y = match pre {
            Some((pre, out)) => {
                pre.run(src[0].0, src[0].1, out, iw)?;
                Plane::new_u8(out, iw, ih, iw)
            }
            None => Plane::new_u8(src[0].0, iw, ih, src[0].1),
        };
        let (y_out, y_stride) = &mut dst[0];
        if *refine {
            resample(runner, luma, &y, luma_tmp, ow)?;
            runner.run(&luma_tmp[..], ow, y_out, *y_stride)?;
        } else {
            resample(runner, luma, &y, y_out, *y_stride)?;
        }

        let Some(chroma) = chroma.as_ref() else {
            return Ok(());
        };
        let c = *chroma.config();
        if cfg.layout.interleaved_uv {
            let [u_in, v_in, u_out, v_out] = nv12;
            nv12::split_uv(src[1].0, src[1].1, c.in_w, c.in_h, u_in, v_in);
            let (u, v) = (&u_in[..], &v_in[..]);
            resample(
                runner,
                chroma,
                &Plane::new_u8(u, c.in_w, c.in_h, c.in_w),
                u_out,
                c.out_w,
            )?;
            resample(
                runner,
                chroma,
                &Plane::new_u8(v, c.in_w, c.in_h, c.in_w),
                v_out,
                c.out_w,
            )?;
            let (uv, uv_stride) = &mut dst[1];
            nv12::merge_uv(u_out, v_out, c.out_w, c.out_h, uv, *uv_stride);
        } else {
            for (&(data, stride), (out, out_stride)) in src[1..3].iter().zip(&mut dst[1..3]) {
                let src = Plane::new_u8(data, c.in_w, c.in_h, stride);
                resample(runner, chroma, &src, out, *out_stride)?;
            }
        }
        Ok(())
    }
}

/// `r` on an 8-bit plane into `out` (rows `out_stride` apart): with the runner's CUDA kernels
/// when the network runs on them (lv-gpu's resampler is bit-exact with lv-image's), else on the
/// runner's thread pool.
fn resample(
    runner: &PlaneRunner,
    r: &Resampler,
    p: &Plane,
    out: &mut [u8],
    out_stride: usize,
) -> Result<(), RunError> {
    let (hf, vf) = r.taps();
    match (runner.executor(), p.samples) {
        (Some(exec), lv_image::plane::Samples::U8(data))
            if !(hf.is_identity() && vf.is_identity()) =>
        {
            let ow = hf.out_len();
            let v = exec
                .resample_plane_u8(data, p.stride, r)
                .map_err(RunError::Cuda)?;
            for (row, o) in v.chunks_exact(ow).zip(out.chunks_mut(out_stride)) {
                o[..ow].copy_from_slice(row);
            }
        }
        _ => runner.install(|| r.process_u8(p, out, out_stride)),
    }
    Ok(())
}
