//! One measuring pass over a stream of (reference, distorted) frame pairs: runs the feature
//! extractors the enabled metrics need, fuses VMAF with each model, and hands back each
//! frame's scores as soon as they are final.
//!
//! VMAF's motion feature for frame `i` needs frame `i + 1`, so a frame's scores are final one
//! push later (or at `finish`). Everything else is computed when the pair arrives.

use super::adm_float::{FloatAdm, FloatAdmOptions};
use super::adm_int::{CsfMode, IntegerAdm, IntegerAdmOptions};
use super::cambi::{Cambi, CambiOptions, CambiScores};
use super::model::{
    Extractor as ModelExtractor, FeatureFamily, FeatureKind, FeatureSpec, VmafModel,
};
use super::motion_float::FloatMotion;
use super::motion_int::{IntegerMotion, MotionOptions};
use super::ms_ssim::FloatMsSsim;
use super::psnr::{Psnr, PsnrOptions};
use super::ssim::FloatSsim;
use super::vif_float::{FloatVif, FloatVifOptions};
use super::vif_int::{IntegerVif, IntegerVifOptions};
use lv_image::plane::Chroma;
use lv_image::plane::Plane;

#[derive(Debug, thiserror::Error)]
pub enum MeterError {
    #[error("unsupported picture: {0}")]
    Unsupported(String),
    #[error("model {model}: {msg}")]
    Model { model: String, msg: String },
}

/// What to measure, fixed for the life of a `Meter` (a new one is made on a caps change).
#[derive(Clone)]
pub struct MeterConfig {
    pub width: usize,
    pub height: usize,
    pub bpc: u32,
    /// Chroma layout; PSNR compares Y only for `Mono`, else Y, Cb and Cr.
    pub chroma: Chroma,
    pub models: Vec<VmafModel>,
    pub psnr: bool,
    pub ssim: bool,
    pub ms_ssim: bool,
    /// CAMBI banding of the distorted luma (and of the reference in its full-reference mode).
    pub cambi: Option<CambiOptions>,
    /// Worker threads for the extractors of one frame (0 = all cores).
    pub threads: usize,
    /// Runs the integer VIF and ADM elsewhere (lv-gpu's kernels) where it takes them; the CPU
    /// extractors run whatever it declines or fails (see [`crate::accel`]).
    pub accel: Option<std::sync::Arc<dyn crate::accel::Accelerator>>,
}

/// Family and options of a VMAF elementary feature, as a model asks for it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Extractor {
    IntVif {
        gain: f64,
    },
    /// `opts.aim` is set once every model is read, if one needs aim or adm3.
    IntAdm {
        opts: IntegerAdmOptions,
    },
    /// `motion3` likewise: whether a model reads motion3 (its log name is then listed).
    IntMotion {
        opts: MotionOptions,
        motion3: bool,
    },
    FloatVif {
        gain: f64,
    },
    FloatAdm {
        gain: f64,
    },
    FloatMotion,
}

/// Where one model input comes from.
#[derive(Clone, Copy, Debug)]
enum Source {
    Vif { ext: usize, scale: usize },
    Adm2 { ext: usize },
    Aim { ext: usize },
    Adm3 { ext: usize },
    AdmScale { ext: usize, scale: usize },
    Motion { ext: usize },
    Motion2 { ext: usize },
    Motion3 { ext: usize },
}

/// Which extractors a [`Meter::compute`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    All,
    /// Everything computed from one pair alone (VIF, ADM, SSIM, MS-SSIM, PSNR).
    Spatial,
    /// The extractors that keep state from frame to frame (motion).
    Temporal,
}

/// Per-frame values the extractors produced, before temporal features are known.
#[derive(Clone, Default)]
pub(crate) struct Pending {
    index: u64,
    vif: Vec<[f64; 4]>,
    adm: Vec<AdmOut>,
    fixed: Vec<f64>,
}

/// One ADM extractor's scores of a frame (aim and adm3 are 0 unless computed).
#[derive(Clone, Copy, Default)]
struct AdmOut {
    adm2: f64,
    scale: [f64; 4],
    aim: f64,
    adm3: f64,
}

/// A temporal extractor's scores of a frame: motion, motion2, motion3.
pub(crate) type MotionOut = Option<(f64, f64, f64)>;

// A handful live per meter, in a Vec: the size difference between variants costs nothing.
#[allow(clippy::large_enum_variant)]
enum Ext {
    IntVif(IntegerVif),
    IntAdm(IntegerAdm),
    IntMotion(IntegerMotion),
    FloatVif(FloatVif),
    FloatAdm(FloatAdm),
    FloatMotion(FloatMotion),
}

/// The scores of one frame, aligned with `Meter::metric_names()`.
#[derive(Clone, Debug)]
pub struct FrameScores {
    pub index: u64,
    pub values: Vec<f64>,
}

pub struct Meter {
    cfg: MeterConfig,
    exts: Vec<Ext>,
    kinds: Vec<Extractor>,
    /// For each model, where each of its inputs comes from.
    model_inputs: Vec<Vec<Source>>,
    ssim: Option<FloatSsim>,
    ms_ssim: Option<FloatMsSsim>,
    psnr: Option<Psnr>,
    cambi: Option<Cambi>,
    names: Vec<String>,
    pending: Option<Pending>,
    /// `None`: extractors run one after the other on the caller's thread.
    pool: Option<rayon::ThreadPool>,
}

/// `threads` with 0 read as every core.
pub(crate) fn resolve_threads(threads: usize) -> usize {
    if threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        threads
    }
}

/// The extractor a model's feature needs, or why vqmeter cannot run it.
fn extractor_of(spec: &FeatureSpec) -> Result<Extractor, String> {
    let vg = spec.vif_enhn_gain_limit.unwrap_or(100.0);
    let ag = spec.adm_enhn_gain_limit.unwrap_or(100.0);
    Ok(match (spec.family, spec.kind.extractor()) {
        (FeatureFamily::Integer, ModelExtractor::Vif) => Extractor::IntVif { gain: vg },
        (FeatureFamily::Integer, ModelExtractor::Adm) => {
            let a = &spec.adm;
            let csf_mode = CsfMode::from_libvmaf(a.csf_mode)
                .ok_or_else(|| format!("adm_csf_mode {} is not one of 0..=3", a.csf_mode))?;
            let ref_display_height = u32::try_from(a.ref_display_height)
                .map_err(|_| format!("adm_ref_display_height {}", a.ref_display_height))?;
            Extractor::IntAdm {
                opts: IntegerAdmOptions {
                    enhn_gain_limit: ag,
                    norm_view_dist: a.norm_view_dist,
                    ref_display_height,
                    csf_mode,
                    csf_scale: a.csf_scale,
                    csf_diag_scale: a.csf_diag_scale,
                    noise_weight: a.noise_weight,
                    dlm_weight: a.dlm_weight,
                    min_val: a.min_val,
                    aim: false,
                },
            }
        }
        (FeatureFamily::Integer, ModelExtractor::Motion) => {
            let m = &spec.motion;
            if m.five_frame_window {
                // Its first frame needs the third one: a second frame of delay, which the
                // meters' one-frame pipeline does not carry.
                return Err("motion_five_frame_window is not supported by vqmeter".into());
            }
            Extractor::IntMotion {
                opts: MotionOptions {
                    force_zero: spec.motion_force_zero,
                    blend_factor: m.blend_factor,
                    blend_offset: m.blend_offset,
                    fps_weight: m.fps_weight,
                    max_val: m.max_val,
                    five_frame_window: false,
                    moving_average: m.moving_average,
                },
                motion3: false,
            }
        }
        (FeatureFamily::Float, ModelExtractor::Vif) => Extractor::FloatVif { gain: vg },
        (FeatureFamily::Float, ModelExtractor::Adm) => Extractor::FloatAdm { gain: ag },
        (FeatureFamily::Float, ModelExtractor::Motion) => Extractor::FloatMotion,
    })
}

impl Meter {
    pub fn new(cfg: MeterConfig) -> Result<Self, MeterError> {
        Self::build(cfg, true)
    }

    /// A meter without a pool of its own when `own_pool` is false.
    pub(crate) fn build(cfg: MeterConfig, own_pool: bool) -> Result<Self, MeterError> {
        let (w, h, bpc) = (cfg.width, cfg.height, cfg.bpc);
        if !(8..=16).contains(&bpc) {
            return Err(MeterError::Unsupported(format!("{bpc} bits per component")));
        }
        let mut kinds: Vec<Extractor> = Vec::new();
        // libvmaf's option suffix of each extractor's log names (e.g. `_egl_1`).
        let mut suffixes: Vec<String> = Vec::new();
        // Whether a model reads an extractor's optional outputs (aim / adm3, motion3).
        let mut more: Vec<bool> = Vec::new();
        let mut model_inputs = Vec::new();
        for m in &cfg.models {
            let mut inputs = Vec::new();
            for spec in m.required_features() {
                let model_err = |msg: String| MeterError::Model {
                    model: m.name.clone(),
                    msg: format!("feature {}: {msg}", spec.model_name),
                };
                let kind = extractor_of(&spec).map_err(model_err)?;
                let ext = match kinds.iter().position(|k| *k == kind) {
                    Some(p) => p,
                    None => {
                        let base = match spec.family {
                            FeatureFamily::Integer => format!("integer_{}", spec.kind.base_name()),
                            FeatureFamily::Float => spec.kind.base_name(),
                        };
                        suffixes.push(spec.log_name.strip_prefix(&base).unwrap_or("").to_string());
                        kinds.push(kind);
                        more.push(false);
                        kinds.len() - 1
                    }
                };
                inputs.push(match spec.kind {
                    FeatureKind::VifScale(s) => Source::Vif {
                        ext,
                        scale: s as usize,
                    },
                    FeatureKind::Adm2 => Source::Adm2 { ext },
                    FeatureKind::AdmScale(s) => Source::AdmScale {
                        ext,
                        scale: s as usize,
                    },
                    FeatureKind::Motion => Source::Motion { ext },
                    FeatureKind::Motion2 => Source::Motion2 { ext },
                    FeatureKind::Aim | FeatureKind::Adm3
                        if spec.family == FeatureFamily::Integer =>
                    {
                        more[ext] = true;
                        if spec.kind == FeatureKind::Aim {
                            Source::Aim { ext }
                        } else {
                            Source::Adm3 { ext }
                        }
                    }
                    FeatureKind::Motion3 if spec.family == FeatureFamily::Integer => {
                        more[ext] = true;
                        Source::Motion3 { ext }
                    }
                    other => {
                        return Err(MeterError::Model {
                            model: m.name.clone(),
                            msg: format!(
                                "feature {} ({other:?}) is not computed by vqmeter",
                                spec.model_name
                            ),
                        })
                    }
                });
            }
            model_inputs.push(inputs);
        }
        for (k, &more) in kinds.iter_mut().zip(&more) {
            match k {
                Extractor::IntAdm { opts } => opts.aim = more,
                Extractor::IntMotion { motion3, .. } => *motion3 = more,
                _ => {}
            }
        }
        let unsupported = |e: String| MeterError::Unsupported(e);
        let mut exts = Vec::new();
        for k in &kinds {
            exts.push(match *k {
                Extractor::IntVif { gain } => Ext::IntVif(
                    IntegerVif::new(
                        w,
                        h,
                        bpc,
                        IntegerVifOptions {
                            enhn_gain_limit: gain,
                        },
                    )
                    .map_err(|e| unsupported(e.to_string()))?,
                ),
                Extractor::IntAdm { opts } => Ext::IntAdm(
                    IntegerAdm::new(w, h, bpc, opts).map_err(|e| unsupported(e.to_string()))?,
                ),
                Extractor::IntMotion { opts, .. } => Ext::IntMotion(
                    IntegerMotion::with_options(w, h, bpc, opts)
                        .map_err(|e| unsupported(e.to_string()))?,
                ),
                Extractor::FloatVif { gain } => Ext::FloatVif(
                    FloatVif::new(
                        w,
                        h,
                        bpc,
                        FloatVifOptions {
                            enhn_gain_limit: gain,
                        },
                    )
                    .map_err(|e| unsupported(e.to_string()))?,
                ),
                Extractor::FloatAdm { gain } => Ext::FloatAdm(
                    FloatAdm::new(
                        w,
                        h,
                        bpc,
                        FloatAdmOptions {
                            enhn_gain_limit: gain,
                        },
                    )
                    .map_err(|e| unsupported(e.to_string()))?,
                ),
                Extractor::FloatMotion => Ext::FloatMotion(
                    FloatMotion::new(w, h, bpc).map_err(|e| unsupported(e.to_string()))?,
                ),
            });
        }
        let ssim = if cfg.ssim {
            Some(FloatSsim::new(w, h, bpc).map_err(|e| unsupported(e.to_string()))?)
        } else {
            None
        };
        let ms_ssim = if cfg.ms_ssim {
            Some(FloatMsSsim::new(w, h, bpc).map_err(|e| unsupported(e.to_string()))?)
        } else {
            None
        };

        let cambi = match &cfg.cambi {
            Some(o) => {
                Some(Cambi::new(w, h, bpc, o.clone()).map_err(|e| unsupported(e.to_string()))?)
            }
            None => None,
        };
        let psnr = cfg
            .psnr
            .then(|| Psnr::new(w, h, bpc, cfg.chroma, &PsnrOptions::default()));
        let mut names: Vec<String> = cfg.models.iter().map(|m| m.name.clone()).collect();
        if cfg.psnr {
            names.push("psnr_y".into());
            if cfg.chroma != Chroma::Mono {
                names.push("psnr_cb".into());
                names.push("psnr_cr".into());
            }
        }
        if cfg.ssim {
            names.push("float_ssim".into());
        }
        if cfg.ms_ssim {
            names.push("float_ms_ssim".into());
        }
        if let Some(o) = &cfg.cambi {
            names.push(format!("cambi{}", o.log_suffix()));
            if o.full_ref {
                names.push("cambi_source".into());
                names.push("cambi_full_reference".into());
            }
        }
        // The elementary features, under libvmaf's log names, after the headline metrics.
        for (k, suffix) in kinds.iter().zip(&suffixes) {
            let prefix = match k {
                Extractor::IntVif { .. }
                | Extractor::IntAdm { .. }
                | Extractor::IntMotion { .. } => "integer_",
                _ => "",
            };
            match k {
                Extractor::IntVif { .. } | Extractor::FloatVif { .. } => {
                    for s in 0..4 {
                        names.push(format!("{prefix}vif_scale{s}{suffix}"));
                    }
                }
                Extractor::IntAdm { .. } | Extractor::FloatAdm { .. } => {
                    names.push(format!("{prefix}adm2{suffix}"));
                    if matches!(k, Extractor::IntAdm { opts } if opts.aim) {
                        names.push(format!("{prefix}aim{suffix}"));
                        names.push(format!("{prefix}adm3{suffix}"));
                    }
                    for s in 0..4 {
                        names.push(format!("{prefix}adm_scale{s}{suffix}"));
                    }
                }
                Extractor::IntMotion { .. } | Extractor::FloatMotion => {
                    names.push(format!("{prefix}motion{suffix}"));
                    names.push(format!("{prefix}motion2{suffix}"));
                    if matches!(k, Extractor::IntMotion { motion3: true, .. }) {
                        names.push(format!("{prefix}motion3{suffix}"));
                    }
                }
            }
        }
        // A pool even for one thread, so `threads = 1` really runs on one thread.
        let pool = if own_pool {
            Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(resolve_threads(cfg.threads))
                    .thread_name(|i| format!("vqmeter-{i}"))
                    .build()
                    .map_err(|e| MeterError::Unsupported(e.to_string()))?,
            )
        } else {
            None
        };
        Ok(Meter {
            cfg,
            exts,
            kinds,
            model_inputs,
            ssim,
            ms_ssim,
            psnr,
            cambi,
            names,
            pending: None,
            pool,
        })
    }

    /// Metric names in the order of `FrameScores::values` (libvmaf's log names; the models'
    /// scores under the models' names first).
    pub fn metric_names(&self) -> &[String] {
        &self.names
    }

    pub fn config(&self) -> &MeterConfig {
        &self.cfg
    }

    /// Measures one pair. `reference` and `distorted` hold 1 (gray) or 3 planes each.
    /// Returns the previous frame's scores, now final.
    pub fn push(
        &mut self,
        index: u64,
        reference: &[Plane],
        distorted: &[Plane],
    ) -> Option<FrameScores> {
        let (pending, motion) = self.compute(index, reference, distorted, Part::All);
        let prev = self.pending.replace(pending);
        prev.map(|p| self.finalize(p, &motion))
    }

    /// Runs the extractors of `part` on one pair: the frame's spatial values, and the
    /// temporal scores of the frame before it (`None` per extractor where not computed).
    /// With a pool the extractors run side by side on it, otherwise one after the other on
    /// the calling thread (a frame-parallel lane is itself one task of a pool).
    pub(crate) fn compute(
        &mut self,
        index: u64,
        reference: &[Plane],
        distorted: &[Plane],
        part: Part,
    ) -> (Pending, Vec<MotionOut>) {
        let (r, d) = (&reference[0], &distorted[0]);
        let n_ext = self.exts.len();
        let mut vif = vec![[0f64; 4]; n_ext];
        let mut adm = vec![AdmOut::default(); n_ext];
        let mut motion: Vec<MotionOut> = vec![None; n_ext];
        let mut ssim_v = 0.0;
        let mut ms_ssim_v = 0.0;
        let mut psnr_v = [0f64; 3];
        let mut cambi_v: Option<CambiScores> = None;
        let spatial = part != Part::Temporal;
        let temporal = part != Part::Spatial;
        let accel = self.cfg.accel.as_deref();
        let Meter {
            exts,
            kinds,
            ssim,
            ms_ssim,
            psnr,
            cambi,
            pool,
            ..
        } = self;
        let mut jobs: Vec<Box<dyn FnOnce() + Send + '_>> = Vec::new();
        for ((((e, kind), vif), adm), motion) in exts
            .iter_mut()
            .zip(kinds.iter())
            .zip(vif.iter_mut())
            .zip(adm.iter_mut())
            .zip(motion.iter_mut())
        {
            let is_temporal = matches!(e, Ext::IntMotion(_) | Ext::FloatMotion(_));
            if (is_temporal && !temporal) || (!is_temporal && !spatial) {
                continue;
            }
            jobs.push(Box::new(move || match e {
                Ext::IntVif(x) => {
                    let taken = match (accel, kind) {
                        (Some(a), Extractor::IntVif { gain }) => {
                            let opts = IntegerVifOptions {
                                enhn_gain_limit: *gain,
                            };
                            a.integer_vif(r, d, opts).and_then(Result::ok)
                        }
                        _ => None,
                    };
                    *vif = match taken {
                        Some(nd) => nd.scores(),
                        None => x.compute(r, d),
                    }
                }
                Ext::FloatVif(x) => *vif = x.compute(r, d),
                Ext::IntAdm(x) => {
                    let taken = match (accel, kind) {
                        (Some(acc), Extractor::IntAdm { opts }) => {
                            acc.integer_adm(r, d, *opts).and_then(Result::ok)
                        }
                        _ => None,
                    };
                    let a = taken.unwrap_or_else(|| x.compute(r, d));
                    *adm = AdmOut {
                        adm2: a.adm2,
                        scale: a.scale,
                        aim: a.aim,
                        adm3: a.adm3,
                    };
                }
                Ext::FloatAdm(x) => {
                    let a = x.compute(r, d);
                    *adm = AdmOut {
                        adm2: a.adm2,
                        scale: a.scale,
                        ..Default::default()
                    };
                }
                Ext::IntMotion(x) => {
                    *motion = x.push(index, r).map(|m| (m.motion, m.motion2, m.motion3))
                }
                Ext::FloatMotion(x) => {
                    *motion = x.push(index, r).map(|m| (m.motion, m.motion2, 0.0))
                }
            }));
        }
        if spatial {
            if let Some(x) = ssim.as_mut() {
                let o = &mut ssim_v;
                jobs.push(Box::new(move || *o = x.compute(r, d)));
            }
            if let Some(x) = ms_ssim.as_mut() {
                let o = &mut ms_ssim_v;
                jobs.push(Box::new(move || *o = x.compute(r, d)));
            }
            if let Some(x) = cambi.as_mut() {
                let o = &mut cambi_v;
                jobs.push(Box::new(move || *o = Some(x.compute(r, d))));
            }
            if let Some(x) = psnr.as_mut() {
                let o = &mut psnr_v;
                jobs.push(Box::new(move || {
                    let v = x.compute(reference, distorted);
                    *o = [v.psnr_y, v.psnr_cb.unwrap_or(0.0), v.psnr_cr.unwrap_or(0.0)];
                }));
            }
        }
        match pool {
            Some(pool) if jobs.len() > 1 => pool.install(|| {
                rayon::scope(|s| {
                    for j in jobs {
                        s.spawn(move |_| j());
                    }
                })
            }),
            _ => jobs.into_iter().for_each(|j| j()),
        }
        let mut fixed = Vec::new();
        if self.cfg.psnr {
            fixed.extend_from_slice(
                &psnr_v[..if self.cfg.chroma == Chroma::Mono {
                    1
                } else {
                    3
                }],
            );
        }
        if self.cfg.ssim {
            fixed.push(ssim_v);
        }
        if self.cfg.ms_ssim {
            fixed.push(ms_ssim_v);
        }
        if let Some(c) = cambi_v {
            fixed.push(c.cambi);
            if let (Some(src), Some(full)) = (c.source, c.full_reference) {
                fixed.push(src);
                fixed.push(full);
            }
        }
        (
            Pending {
                index,
                vif,
                adm,
                fixed,
            },
            motion,
        )
    }

    /// End of stream: the last frame's scores.
    pub fn finish(&mut self) -> Option<FrameScores> {
        let p = self.pending.take()?;
        let motion = self.flush_temporal();
        Some(self.finalize(p, &motion))
    }

    /// Ends the temporal extractors' sequence: the last frame's temporal scores.
    pub(crate) fn flush_temporal(&mut self) -> Vec<MotionOut> {
        let mut motion = vec![None; self.exts.len()];
        for (m, e) in motion.iter_mut().zip(self.exts.iter_mut()) {
            // One frame pending at most: the five-frame window is refused.
            *m = match e {
                Ext::IntMotion(x) => x.flush().map(|s| (s.motion, s.motion2, s.motion3)),
                Ext::FloatMotion(x) => x.flush().map(|s| (s.motion, s.motion2, 0.0)),
                _ => None,
            };
        }
        motion
    }

    pub(crate) fn finalize(&self, p: Pending, motion: &[MotionOut]) -> FrameScores {
        let mut values = Vec::with_capacity(self.names.len());
        for (m, inputs) in self.cfg.models.iter().zip(&self.model_inputs) {
            let feats: Vec<f64> = inputs
                .iter()
                .map(|s| match *s {
                    Source::Vif { ext, scale } => p.vif[ext][scale],
                    Source::Adm2 { ext } => p.adm[ext].adm2,
                    Source::Aim { ext } => p.adm[ext].aim,
                    Source::Adm3 { ext } => p.adm[ext].adm3,
                    Source::AdmScale { ext, scale } => p.adm[ext].scale[scale],
                    Source::Motion { ext } => motion[ext].map(|m| m.0).unwrap_or(0.0),
                    Source::Motion2 { ext } => motion[ext].map(|m| m.1).unwrap_or(0.0),
                    Source::Motion3 { ext } => motion[ext].map(|m| m.2).unwrap_or(0.0),
                })
                .collect();
            values.push(m.predict(&feats));
        }
        values.extend_from_slice(&p.fixed);
        for (i, k) in self.kinds.iter().enumerate() {
            match k {
                Extractor::IntVif { .. } | Extractor::FloatVif { .. } => {
                    values.extend_from_slice(&p.vif[i])
                }
                Extractor::IntAdm { .. } | Extractor::FloatAdm { .. } => {
                    let a = &p.adm[i];
                    values.push(a.adm2);
                    if matches!(k, Extractor::IntAdm { opts } if opts.aim) {
                        values.push(a.aim);
                        values.push(a.adm3);
                    }
                    values.extend_from_slice(&a.scale);
                }
                Extractor::IntMotion { .. } | Extractor::FloatMotion => {
                    let (m, m2, m3) = motion[i].unwrap_or((0.0, 0.0, 0.0));
                    values.push(m);
                    values.push(m2);
                    if matches!(k, Extractor::IntMotion { motion3: true, .. }) {
                        values.push(m3);
                    }
                }
            }
        }
        FrameScores {
            index: p.index,
            values,
        }
    }
}
