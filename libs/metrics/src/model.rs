//! VMAF models: libvmaf's JSON model files and the score they predict from per-frame features.
//!
//! The prediction is libvmaf's (`predict.c`, libsvm's `svm_predict` for nu-SVR):
//! 1. each feature is normalised, `slope[i+1] * x + intercept[i+1]` (`linear_rescale`);
//! 2. the SVR sums `coef * exp(-gamma * |x - sv|^2)` over the support vectors, minus `rho`;
//! 3. the result is denormalised, `(y - intercept[0]) / slope[0]`;
//! 4. the score transform (polynomial, then piecewise-linear knots, then the `out_gte_in` /
//!    `out_lte_in` rectification against the untransformed score) is applied only if enabled;
//! 5. the score is clipped to `score_clip`.
//!
//! Features are not clipped. Note step 4: libvmaf enables a model's `score_transform` only
//! when the JSON says `"enabled": true` or the user asks for `enable_transform`; the
//! published v0.6.1 models carry a transform without `enabled`, so by default libvmaf (and
//! this module) does **not** apply it. `vmaf_4k_v0.6.1` has no transform at all, so for it
//! the flag makes no difference.
//!
//! Parsing is bounded: at most 64 features (libvmaf's limit), 10 knots, 100 000 support
//! vectors and support-vector indices up to 1024; anything malformed is a [`ModelError`].

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Map, Value};

const MAX_FEATURES: usize = 64;
const MAX_KNOTS: usize = 10;
const MAX_SV: usize = 100_000;
const MAX_SV_INDEX: usize = 1024;
const MAX_FILE_BYTES: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read model {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("model {name}: invalid JSON: {msg}")]
    Json { name: String, msg: String },
    #[error("model {name}: {msg}")]
    Invalid { name: String, msg: String },
    #[error("model {name}: libsvm model: {msg}")]
    Svm { name: String, msg: String },
    #[error("model {name}: unsupported feature {feature:?}")]
    UnsupportedFeature { name: String, feature: String },
    #[error("model {name}: feature {feature:?}: unsupported option {option:?}")]
    UnsupportedOption {
        name: String,
        feature: String,
        option: String,
    },
}

/// Which libvmaf implementation a feature comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum FeatureFamily {
    /// libvmaf's fixed-point extractors (`adm`, `vif`, `motion`; log names `integer_*`).
    Integer,
    /// libvmaf's floating-point extractors (`float_adm`, `float_vif`, `float_motion`).
    Float,
}

/// The extractor a feature belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Extractor {
    Adm,
    Vif,
    Motion,
}

/// One feature score a model reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum FeatureKind {
    Adm2,
    Adm3,
    Aim,
    AdmScale(u8),
    Motion,
    Motion2,
    Motion3,
    VifScale(u8),
}

impl FeatureKind {
    pub fn extractor(self) -> Extractor {
        match self {
            FeatureKind::Adm2 | FeatureKind::Adm3 | FeatureKind::Aim | FeatureKind::AdmScale(_) => {
                Extractor::Adm
            }
            FeatureKind::Motion | FeatureKind::Motion2 | FeatureKind::Motion3 => Extractor::Motion,
            FeatureKind::VifScale(_) => Extractor::Vif,
        }
    }

    /// The score's base name in libvmaf's log (before family prefix and option suffixes).
    pub fn base_name(self) -> String {
        match self {
            FeatureKind::Adm2 => "adm2".into(),
            FeatureKind::Adm3 => "adm3".into(),
            FeatureKind::Aim => "aim".into(),
            FeatureKind::AdmScale(i) => format!("adm_scale{i}"),
            FeatureKind::Motion => "motion".into(),
            FeatureKind::Motion2 => "motion2".into(),
            FeatureKind::Motion3 => "motion3".into(),
            FeatureKind::VifScale(i) => format!("vif_scale{i}"),
        }
    }

    fn parse(base: &str) -> Option<Self> {
        let idx = |s: &str| s.parse::<u8>().ok().filter(|&i| i < 4);
        Some(match base {
            "adm2" => FeatureKind::Adm2,
            "adm3" => FeatureKind::Adm3,
            "aim" => FeatureKind::Aim,
            "motion" => FeatureKind::Motion,
            "motion2" => FeatureKind::Motion2,
            "motion3" => FeatureKind::Motion3,
            _ => {
                if let Some(i) = base.strip_prefix("adm_scale") {
                    FeatureKind::AdmScale(idx(i)?)
                } else if let Some(i) = base.strip_prefix("vif_scale") {
                    FeatureKind::VifScale(idx(i)?)
                } else {
                    return None;
                }
            }
        })
    }
}

/// What a model needs from feature extraction for one of its features.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FeatureSpec {
    /// The name in the model's `feature_names`, e.g. `VMAF_integer_feature_adm2_score`.
    pub model_name: String,
    pub family: FeatureFamily,
    pub kind: FeatureKind,
    /// ADM enhancement gain limit; `None` means libvmaf's default (100).
    pub adm_enhn_gain_limit: Option<f64>,
    /// VIF enhancement gain limit; `None` means libvmaf's default (100).
    pub vif_enhn_gain_limit: Option<f64>,
    /// libvmaf's `motion_force_zero`.
    pub motion_force_zero: bool,
    /// The integer ADM's other options (libvmaf's defaults unless the model sets them).
    pub adm: AdmParams,
    /// The integer motion's other options (libvmaf's defaults unless the model sets them).
    pub motion: MotionParams,
    /// The key libvmaf's log uses for this score, e.g. `integer_adm2` or `adm2_egl_1`.
    pub log_name: String,
}

/// Options of libvmaf's integer `adm` extractor besides `adm_enhn_gain_limit`, named
/// without the `adm_` prefix; see `adm_int::IntegerAdmOptions` for their meaning.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct AdmParams {
    /// `adm_csf_mode`: 0 Watson, 1 Barten, 2 and 3 libvmaf's blends.
    pub csf_mode: i32,
    pub csf_scale: f64,
    pub csf_diag_scale: f64,
    pub dlm_weight: f64,
    pub min_val: f64,
    pub noise_weight: f64,
    pub norm_view_dist: f64,
    pub ref_display_height: i32,
}

impl Default for AdmParams {
    fn default() -> Self {
        AdmParams {
            csf_mode: 0,
            csf_scale: 1.0,
            csf_diag_scale: 1.0,
            dlm_weight: 0.5,
            min_val: 0.0,
            noise_weight: 0.03125,
            norm_view_dist: 3.0,
            ref_display_height: 1080,
        }
    }
}

/// Options of libvmaf's integer `motion` extractor besides `motion_force_zero`, named
/// without the `motion_` prefix; see `motion_int::MotionOptions` for their meaning.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MotionParams {
    pub blend_factor: f64,
    pub blend_offset: f64,
    pub fps_weight: f64,
    pub max_val: f64,
    pub five_frame_window: bool,
    pub moving_average: bool,
}

impl Default for MotionParams {
    fn default() -> Self {
        MotionParams {
            blend_factor: 1.0,
            blend_offset: 40.0,
            fps_weight: 1.0,
            max_val: 10000.0,
            five_frame_window: false,
            moving_average: false,
        }
    }
}

impl FeatureSpec {
    /// libvmaf's extractor name (`adm`, `float_vif`, ...), as used in `feature=name=...`.
    pub fn extractor_name(&self) -> &'static str {
        match (self.family, self.kind.extractor()) {
            (FeatureFamily::Integer, Extractor::Adm) => "adm",
            (FeatureFamily::Integer, Extractor::Vif) => "vif",
            (FeatureFamily::Integer, Extractor::Motion) => "motion",
            (FeatureFamily::Float, Extractor::Adm) => "float_adm",
            (FeatureFamily::Float, Extractor::Vif) => "float_vif",
            (FeatureFamily::Float, Extractor::Motion) => "float_motion",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub enum Normalization {
    None,
    LinearRescale,
}

/// A model's optional score transform (libvmaf applies it only when enabled).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ScoreTransform {
    pub p0: Option<f64>,
    pub p1: Option<f64>,
    pub p2: Option<f64>,
    /// Piecewise-linear knots `(x, y)`; `None` when absent.
    pub knots: Option<Vec<(f64, f64)>>,
    pub out_lte_in: bool,
    pub out_gte_in: bool,
}

impl ScoreTransform {
    pub fn apply(&self, y_in: f64) -> f64 {
        let mut y = if self.p0.is_some() || self.p1.is_some() || self.p2.is_some() {
            let mut out = 0.0;
            if let Some(p0) = self.p0 {
                out += p0;
            }
            if let Some(p1) = self.p1 {
                out += p1 * y_in;
            }
            if let Some(p2) = self.p2 {
                out += p2 * y_in * y_in;
            }
            out
        } else {
            y_in
        };
        if let Some(knots) = &self.knots {
            y = piecewise_linear(y, knots).unwrap_or(y);
        }
        if self.out_lte_in && y > y_in {
            y = y_in;
        }
        if self.out_gte_in && y < y_in {
            y = y_in;
        }
        y
    }
}

/// libvmaf's piecewise-linear mapping: each segment is extended past the outer knots; `None`
/// for knots libvmaf rejects (then libvmaf leaves the score as it was).
fn piecewise_linear(x: f64, knots: &[(f64, f64)]) -> Option<f64> {
    if knots.len() < 2 {
        return None;
    }
    let n_seg = knots.len() - 1;
    let mut y = 0.0;
    for i in 0..n_seg {
        let (a, b) = (knots[i], knots[i + 1]);
        if !(a.0 < b.0 && a.1 <= b.1) {
            return None;
        }
        let inside = a.0 <= x && x <= b.0;
        let (slope, offset) = if a.1 == b.1 {
            (0.0, a.1)
        } else if a.0 == 0.0 {
            ((b.1 - a.1) / b.0, a.1)
        } else {
            let s = (b.1 - a.1) / (b.0 - a.0);
            (s, a.1 - a.0 * s)
        };
        let f = |x: f64| if a.1 == b.1 { a.1 } else { slope * x + offset };
        if inside || (i == 0 && x < a.0) || (i == n_seg - 1 && x > b.0) {
            y = f(x);
        }
    }
    Some(y)
}

/// A parsed libsvm epsilon/nu-SVR model with an RBF kernel, support vectors stored densely.
///
/// Dense storage computes the same distance as libsvm's sparse merge bit for bit: a missing
/// coordinate contributes `(x - 0)^2 = x^2` either way, in the same index order.
#[derive(Clone, Debug)]
struct Svr {
    gamma: f64,
    rho: f64,
    dim: usize,
    coef: Vec<f64>,
    sv: Vec<f64>,
}

impl Svr {
    fn parse(text: &str, model_name: &str) -> Result<Self, ModelError> {
        let err = |msg: String| ModelError::Svm {
            name: model_name.to_string(),
            msg,
        };
        let (header, body) =
            split_sv_header(text).ok_or_else(|| err("no \"SV\" section".into()))?;
        let mut toks = header
            .split([' ', '\n', '\r', '\t'])
            .filter(|t| !t.is_empty());
        let (mut gamma, mut rho, mut total_sv, mut nr_class) = (None, None, None, None);
        let (mut svm_type_ok, mut kernel_ok) = (false, false);
        let num = |t: Option<&str>, what: &str| -> Result<f64, ModelError> {
            t.and_then(|t| t.parse::<f64>().ok())
                .ok_or_else(|| err(format!("bad {what}")))
        };
        while let Some(key) = toks.next() {
            match key {
                "svm_type" => {
                    let t = toks.next().unwrap_or("");
                    if t != "nu_svr" && t != "epsilon_svr" {
                        return Err(err(format!("svm_type {t:?} is not a regression model")));
                    }
                    svm_type_ok = true;
                }
                "kernel_type" => {
                    let t = toks.next().unwrap_or("");
                    if t != "rbf" {
                        return Err(err(format!("kernel_type {t:?} unsupported (rbf only)")));
                    }
                    kernel_ok = true;
                }
                "gamma" => gamma = Some(num(toks.next(), "gamma")?),
                "rho" => rho = Some(num(toks.next(), "rho")?),
                "degree" | "coef0" => {
                    num(toks.next(), key)?;
                }
                "nr_class" => nr_class = Some(num(toks.next(), "nr_class")?),
                "total_sv" => total_sv = Some(num(toks.next(), "total_sv")?),
                // Classification-only fields: a regression model has at most one value each.
                "label" | "probA" | "probB" | "nr_sv" => {}
                t if t.parse::<f64>().is_ok() => {}
                t => return Err(err(format!("unknown header field {t:?}"))),
            }
        }
        if !svm_type_ok || !kernel_ok {
            return Err(err("missing svm_type or kernel_type".into()));
        }
        if nr_class != Some(2.0) {
            return Err(err("nr_class must be 2 for regression".into()));
        }
        let gamma = gamma
            .filter(|g| g.is_finite())
            .ok_or_else(|| err("missing gamma".into()))?;
        let rho = rho
            .filter(|r| r.is_finite())
            .ok_or_else(|| err("missing rho".into()))?;
        let total = total_sv.ok_or_else(|| err("missing total_sv".into()))?;
        if !(total >= 1.0 && total <= MAX_SV as f64 && total.fract() == 0.0) {
            return Err(err(format!("total_sv {total} out of range 1..={MAX_SV}")));
        }
        let total = total as usize;

        let mut coef = Vec::with_capacity(total);
        let mut sparse: Vec<Vec<(usize, f64)>> = Vec::with_capacity(total);
        let mut dim = 0;
        let mut lines = body.lines().filter(|l| !l.trim().is_empty());
        for i in 0..total {
            let line = lines
                .next()
                .ok_or_else(|| err(format!("only {i} of {total} support vectors")))?;
            let mut it = line.split_ascii_whitespace();
            let c = num(it.next(), "support vector coefficient")?;
            let mut nodes = Vec::new();
            let mut last = 0;
            for pair in it {
                let (k, v) = pair
                    .split_once(':')
                    .ok_or_else(|| err(format!("bad node {pair:?}")))?;
                let k: usize = k.parse().map_err(|_| err(format!("bad index {k:?}")))?;
                let v: f64 = v.parse().map_err(|_| err(format!("bad value {v:?}")))?;
                if k <= last || k > MAX_SV_INDEX {
                    return Err(err(format!(
                        "index {k} out of order or above {MAX_SV_INDEX}"
                    )));
                }
                if !v.is_finite() || !c.is_finite() {
                    return Err(err("non-finite support vector".into()));
                }
                last = k;
                nodes.push((k, v));
            }
            dim = dim.max(last);
            coef.push(c);
            sparse.push(nodes);
        }
        let mut sv = vec![0.0; total * dim];
        for (row, nodes) in sv.chunks_mut(dim.max(1)).zip(&sparse) {
            for &(k, v) in nodes {
                row[k - 1] = v;
            }
        }
        Ok(Svr {
            gamma,
            rho,
            dim,
            coef,
            sv,
        })
    }

    /// libsvm's decision value for the dense input `x` (index `i` is libsvm index `i+1`).
    fn predict(&self, x: &[f64]) -> f64 {
        let d = self.dim.max(x.len());
        let mut sum = 0.0f64;
        for (i, &c) in self.coef.iter().enumerate() {
            let sv = &self.sv[i * self.dim..(i + 1) * self.dim];
            let mut dist = 0.0f64;
            for j in 0..d {
                let a = x.get(j).copied().unwrap_or(0.0);
                let b = sv.get(j).copied().unwrap_or(0.0);
                let e = a - b;
                dist += e * e;
            }
            sum += c * (-self.gamma * dist).exp();
        }
        sum - self.rho
    }
}

/// Splits libsvm model text at the `SV` token that ends the header.
fn split_sv_header(text: &str) -> Option<(&str, &str)> {
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        if line.trim() == "SV" {
            return Some((&text[..pos], &text[pos + line.len()..]));
        }
        pos += line.len();
    }
    None
}

/// A VMAF model (`LIBSVMNUSVR` type) as libvmaf loads it from JSON.
#[derive(Clone, Debug)]
pub struct VmafModel {
    pub name: String,
    pub feature_names: Vec<String>,
    pub norm: Normalization,
    /// Index 0 is for the score, `1..` for the features, as in the JSON.
    pub slopes: Vec<f64>,
    pub intercepts: Vec<f64>,
    /// `score_clip` as `(min, max)`.
    pub score_clip: Option<(f64, f64)>,
    pub score_transform: Option<ScoreTransform>,
    /// Whether predict applies `score_transform`: the JSON's `enabled` flag; set it to mimic
    /// libvmaf's `enable_transform` model option.
    pub transform_enabled: bool,
    /// Whether predict applies `score_clip`; clear it to mimic libvmaf's `disable_clip`.
    pub clip_enabled: bool,
    specs: Vec<FeatureSpec>,
    svr: Svr,
}

/// The built-in models: libvmaf version string and JSON.
const BUILTIN: &[(&str, &str)] = &[
    (
        "vmaf_v0.6.1",
        include_str!("../../../models/vmaf/vmaf_v0.6.1.json"),
    ),
    (
        "vmaf_v0.6.1neg",
        include_str!("../../../models/vmaf/vmaf_v0.6.1neg.json"),
    ),
    (
        "vmaf_float_v0.6.1",
        include_str!("../../../models/vmaf/vmaf_float_v0.6.1.json"),
    ),
    (
        "vmaf_float_v0.6.1neg",
        include_str!("../../../models/vmaf/vmaf_float_v0.6.1neg.json"),
    ),
    (
        "vmaf_4k_v0.6.1",
        include_str!("../../../models/vmaf/vmaf_4k_v0.6.1.json"),
    ),
];

impl VmafModel {
    /// Versions [`VmafModel::builtin`] knows.
    pub fn builtin_versions() -> impl Iterator<Item = &'static str> {
        BUILTIN.iter().map(|(v, _)| *v)
    }

    /// A model shipped with this crate, by libvmaf version name (e.g. `vmaf_v0.6.1`).
    pub fn builtin(version: &str) -> Option<Self> {
        let (_, json) = BUILTIN.iter().find(|(v, _)| *v == version)?;
        Self::from_json_str(version, json).ok()
    }

    pub fn from_path(p: &Path) -> Result<Self, ModelError> {
        let io = |source| ModelError::Io {
            path: p.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(p).map_err(io)?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(ModelError::Invalid {
                name: p.display().to_string(),
                msg: format!("file is {} bytes, more than {MAX_FILE_BYTES}", meta.len()),
            });
        }
        let text = std::fs::read_to_string(p).map_err(io)?;
        let name = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self::from_json_str(&name, &text)
    }

    pub fn from_json_str(name: &str, s: &str) -> Result<Self, ModelError> {
        let invalid = |msg: String| ModelError::Invalid {
            name: name.to_string(),
            msg,
        };
        let root: Value = serde_json::from_str(s).map_err(|e| ModelError::Json {
            name: name.to_string(),
            msg: e.to_string(),
        })?;
        let md = root
            .get("model_dict")
            .and_then(Value::as_object)
            .ok_or_else(|| {
                invalid("no \"model_dict\" object (model collections are not supported)".into())
            })?;

        match md.get("model_type").and_then(Value::as_str) {
            Some("LIBSVMNUSVR") => {}
            Some(t) => {
                return Err(invalid(format!(
                    "model_type {t:?} unsupported (LIBSVMNUSVR only)"
                )))
            }
            None => return Err(invalid("missing model_type".into())),
        }
        let norm = match md.get("norm_type").and_then(Value::as_str) {
            Some("linear_rescale") => Normalization::LinearRescale,
            Some("none") => Normalization::None,
            other => return Err(invalid(format!("norm_type {other:?} unsupported"))),
        };

        let feature_names: Vec<String> = md
            .get("feature_names")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("missing feature_names".into()))?
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| invalid("feature_names must be strings".into()))?;
        let n = feature_names.len();
        if n == 0 || n > MAX_FEATURES {
            return Err(invalid(format!(
                "{n} features (1..={MAX_FEATURES} allowed)"
            )));
        }

        let numbers = |key: &str| -> Result<Vec<f64>, ModelError> {
            match md.get(key) {
                None => Ok(Vec::new()),
                Some(v) => v
                    .as_array()
                    .filter(|a| a.len() <= MAX_FEATURES + 1)
                    .and_then(|a| a.iter().map(Value::as_f64).collect::<Option<Vec<_>>>())
                    .ok_or_else(|| {
                        invalid(format!(
                            "{key} must be an array of at most {} numbers",
                            MAX_FEATURES + 1
                        ))
                    }),
            }
        };
        let slopes = numbers("slopes")?;
        let intercepts = numbers("intercepts")?;
        if norm == Normalization::LinearRescale
            && (slopes.len() != n + 1 || intercepts.len() != n + 1)
        {
            return Err(invalid(format!(
                "linear_rescale needs {} slopes and intercepts, found {} and {}",
                n + 1,
                slopes.len(),
                intercepts.len()
            )));
        }
        if norm == Normalization::LinearRescale && slopes[0] == 0.0 {
            return Err(invalid("score slope is zero".into()));
        }

        let score_clip = match md.get("score_clip") {
            None | Some(Value::Null) => None,
            Some(v) => {
                let a = v
                    .as_array()
                    .filter(|a| a.len() == 2)
                    .and_then(|a| Some((a[0].as_f64()?, a[1].as_f64()?)))
                    .ok_or_else(|| invalid("score_clip must be [min, max]".into()))?;
                Some(a)
            }
        };

        let (score_transform, transform_enabled) = match md.get("score_transform") {
            None | Some(Value::Null) => (None, false),
            Some(Value::Object(t)) => {
                let (st, en) = parse_transform(t).map_err(invalid)?;
                (Some(st), en)
            }
            Some(_) => return Err(invalid("score_transform must be an object".into())),
        };

        let empty = Map::new();
        let opts: Vec<&Map<String, Value>> = match md.get("feature_opts_dicts") {
            None | Some(Value::Null) => vec![&empty; n],
            Some(Value::Array(a)) => {
                if a.len() > n {
                    return Err(invalid("more feature_opts_dicts than features".into()));
                }
                let mut v: Vec<&Map<String, Value>> = a
                    .iter()
                    .map(Value::as_object)
                    .collect::<Option<_>>()
                    .ok_or_else(|| invalid("feature_opts_dicts must hold objects".into()))?;
                v.resize(n, &empty);
                v
            }
            Some(_) => return Err(invalid("feature_opts_dicts must be an array".into())),
        };
        let specs = feature_names
            .iter()
            .zip(opts)
            .map(|(f, o)| feature_spec(name, f, o))
            .collect::<Result<Vec<_>, _>>()?;

        let svm_text = md
            .get("model")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid("missing libsvm \"model\" text".into()))?;
        let svr = Svr::parse(svm_text, name)?;

        Ok(VmafModel {
            name: name.to_string(),
            feature_names,
            norm,
            slopes,
            intercepts,
            score_clip,
            score_transform,
            transform_enabled,
            clip_enabled: true,
            specs,
            svr,
        })
    }

    /// The features to extract, in `feature_names` order.
    pub fn required_features(&self) -> Vec<FeatureSpec> {
        self.specs.clone()
    }

    /// Predicts the per-frame score from `features` (raw extractor values, in
    /// `feature_names` order).
    ///
    /// # Panics
    /// If `features.len()` differs from the model's feature count.
    pub fn predict(&self, features: &[f64]) -> f64 {
        assert_eq!(
            features.len(),
            self.feature_names.len(),
            "model {} takes {} features",
            self.name,
            self.feature_names.len()
        );
        let mut x = [0.0f64; MAX_FEATURES];
        for (i, (&f, xi)) in features.iter().zip(x.iter_mut()).enumerate() {
            *xi = match self.norm {
                Normalization::LinearRescale => self.slopes[i + 1] * f + self.intercepts[i + 1],
                Normalization::None => f,
            };
        }
        let mut y = self.svr.predict(&x[..features.len()]);
        if self.norm == Normalization::LinearRescale {
            y = (y - self.intercepts[0]) / self.slopes[0];
        }
        if self.transform_enabled {
            if let Some(t) = &self.score_transform {
                y = t.apply(y);
            }
        }
        if self.clip_enabled {
            if let Some((lo, hi)) = self.score_clip {
                if y < lo {
                    y = lo;
                }
                if y > hi {
                    y = hi;
                }
            }
        }
        y
    }
}

fn parse_transform(t: &Map<String, Value>) -> Result<(ScoreTransform, bool), String> {
    let mut st = ScoreTransform::default();
    let mut enabled = false;
    for (k, v) in t {
        let coef = |v: &Value| match v {
            Value::Null => Ok(None),
            v => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| format!("score_transform.{k} must be a number")),
        };
        let flag = |v: &Value| match v {
            Value::String(s) => Ok(s == "true"),
            Value::Bool(b) => Ok(*b),
            _ => Err(format!("score_transform.{k} must be \"true\" or \"false\"")),
        };
        match k.as_str() {
            "enabled" => {
                enabled = v
                    .as_bool()
                    .ok_or("score_transform.enabled must be a boolean")?
            }
            "p0" => st.p0 = coef(v)?,
            "p1" => st.p1 = coef(v)?,
            "p2" => st.p2 = coef(v)?,
            "out_lte_in" => st.out_lte_in = flag(v)?,
            "out_gte_in" => st.out_gte_in = flag(v)?,
            "knots" => {
                st.knots = match v {
                    Value::Null => None,
                    Value::Array(a) if a.len() <= MAX_KNOTS => Some(
                        a.iter()
                            .map(|p| {
                                let p = p.as_array().filter(|p| p.len() == 2)?;
                                Some((p[0].as_f64()?, p[1].as_f64()?))
                            })
                            .collect::<Option<_>>()
                            .ok_or("knots must be [x, y] pairs")?,
                    ),
                    _ => {
                        return Err(format!(
                            "knots must be an array of at most {MAX_KNOTS} pairs"
                        ))
                    }
                }
            }
            _ => {}
        }
    }
    Ok((st, enabled))
}

/// C's `printf("%g")` (6 significant digits, trailing zeros dropped), used by libvmaf both to
/// normalise numeric options and to build feature names.
pub(crate) fn fmt_g(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !v.is_finite() {
        return if v.is_nan() {
            "nan".into()
        } else if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        };
    }
    let sci = format!("{:.5e}", v);
    let (mant, exp) = sci.split_once('e').unwrap();
    let exp: i32 = exp.parse().unwrap();
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if (-4..6).contains(&exp) {
        trim(&format!("{:.*}", (5 - exp) as usize, v))
    } else {
        format!(
            "{}e{}{:02}",
            trim(mant),
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    }
}

/// C's `atoi` where libvmaf accepts it: the leading integer of `s`, `None` when that is 0
/// without `s` starting with '0' (libvmaf's test for a failed parse).
fn c_atoi(s: &str) -> Option<i32> {
    let t = s.trim_start();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    let n: i64 = digits[..end].parse().unwrap_or(0);
    let n = (if neg { -n } else { n }).clamp(i32::MIN as i64, i32::MAX as i64) as i32;
    if n == 0 && !s.starts_with('0') {
        None
    } else {
        Some(n)
    }
}

fn feature_spec(
    model: &str,
    full: &str,
    opts: &Map<String, Value>,
) -> Result<FeatureSpec, ModelError> {
    let unsupported = || ModelError::UnsupportedFeature {
        name: model.into(),
        feature: full.into(),
    };
    let (family, rest) = if let Some(r) = full.strip_prefix("VMAF_integer_feature_") {
        (FeatureFamily::Integer, r)
    } else if let Some(r) = full.strip_prefix("VMAF_feature_") {
        (FeatureFamily::Float, r)
    } else {
        return Err(unsupported());
    };
    let base = rest.strip_suffix("_score").ok_or_else(unsupported)?;
    let kind = FeatureKind::parse(base).ok_or_else(unsupported)?;
    let mut spec = FeatureSpec {
        model_name: full.to_string(),
        family,
        kind,
        adm_enhn_gain_limit: None,
        vif_enhn_gain_limit: None,
        motion_force_zero: false,
        adm: AdmParams::default(),
        motion: MotionParams::default(),
        log_name: String::new(),
    };
    // (option, name suffix) pairs of non-default options, sorted by option name as libvmaf does.
    let mut suffixes: Vec<(String, String)> = Vec::new();
    for (key, val) in opts {
        let bad = || ModelError::UnsupportedOption {
            name: model.into(),
            feature: full.into(),
            option: key.clone(),
        };
        let number = || -> Result<f64, ModelError> {
            // libvmaf stores numeric options as "%g" of the value read as a float.
            let v = val.as_f64().ok_or_else(bad)?;
            fmt_g(v as f32 as f64).parse::<f64>().map_err(|_| bad())
        };
        // An int option: libvmaf's `atoi` of that "%g" text (which rejects a leading non-digit).
        let int = || -> Result<i32, ModelError> {
            let v = val.as_f64().ok_or_else(bad)?;
            c_atoi(&fmt_g(v as f32 as f64)).ok_or_else(bad)
        };
        let flag = || -> Result<bool, ModelError> {
            match val {
                Value::Bool(b) => Ok(*b),
                Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
                _ => Err(bad()),
            }
        };
        // Only libvmaf's integer extractors take these here.
        let integer = family == FeatureFamily::Integer;
        // A double option: set `field` and note `_<alias>_<value>` unless it is the default.
        let mut double = |field: &mut f64, default: f64, alias: &str| -> Result<(), ModelError> {
            let v = number()?;
            if v != default {
                *field = v;
                suffixes.push((key.clone(), format!("_{alias}_{}", fmt_g(v))));
            }
            Ok(())
        };
        match (kind.extractor(), key.as_str()) {
            (Extractor::Adm, "adm_csf_scale") if integer => {
                double(&mut spec.adm.csf_scale, 1.0, "scf")?
            }
            (Extractor::Adm, "adm_csf_diag_scale") if integer => {
                double(&mut spec.adm.csf_diag_scale, 1.0, "scfd")?
            }
            (Extractor::Adm, "adm_dlm_weight") if integer => {
                double(&mut spec.adm.dlm_weight, 0.5, "dlmw")?
            }
            (Extractor::Adm, "adm_min_val") if integer => {
                double(&mut spec.adm.min_val, 0.0, "min")?
            }
            (Extractor::Adm, "adm_noise_weight") if integer => {
                double(&mut spec.adm.noise_weight, 0.03125, "nw")?
            }
            (Extractor::Adm, "adm_norm_view_dist") if integer => {
                double(&mut spec.adm.norm_view_dist, 3.0, "nvd")?
            }
            (Extractor::Adm, "adm_csf_mode" | "adm_ref_display_height") if integer => {
                let v = int()?;
                let (field, default, alias) = if key == "adm_csf_mode" {
                    (&mut spec.adm.csf_mode, 0, "csf")
                } else {
                    (&mut spec.adm.ref_display_height, 1080, "rdh")
                };
                if v != default {
                    *field = v;
                    suffixes.push((key.clone(), format!("_{alias}_{v}")));
                }
            }
            (Extractor::Motion, "motion_blend_factor") if integer => {
                double(&mut spec.motion.blend_factor, 1.0, "mbf")?
            }
            (Extractor::Motion, "motion_blend_offset") if integer => {
                double(&mut spec.motion.blend_offset, 40.0, "mbo")?
            }
            (Extractor::Motion, "motion_fps_weight") if integer => {
                double(&mut spec.motion.fps_weight, 1.0, "mfw")?
            }
            (Extractor::Motion, "motion_max_val") if integer => {
                double(&mut spec.motion.max_val, 10000.0, "mmxv")?
            }
            (Extractor::Motion, "motion_five_frame_window" | "motion_moving_average")
                if integer =>
            {
                if flag()? {
                    let alias = if key == "motion_five_frame_window" {
                        spec.motion.five_frame_window = true;
                        "mffw"
                    } else {
                        spec.motion.moving_average = true;
                        "mma"
                    };
                    suffixes.push((key.clone(), format!("_{alias}")));
                }
            }
            (Extractor::Adm, "adm_enhn_gain_limit") => {
                let v = number()?;
                if v != 100.0 {
                    spec.adm_enhn_gain_limit = Some(v);
                    suffixes.push((key.clone(), format!("_egl_{}", fmt_g(v))));
                }
            }
            (Extractor::Vif, "vif_enhn_gain_limit") => {
                let v = number()?;
                if v != 100.0 {
                    spec.vif_enhn_gain_limit = Some(v);
                    suffixes.push((key.clone(), format!("_egl_{}", fmt_g(v))));
                }
            }
            (Extractor::Motion, "motion_force_zero") => {
                if flag()? {
                    spec.motion_force_zero = true;
                    suffixes.push((key.clone(), "_force_0".into()));
                }
            }
            _ => return Err(bad()),
        }
    }
    suffixes.sort();
    // libvmaf's log uses its short aliases: `integer_adm2`, `adm2`, `vif_scale0`, ...
    let mut log_name = match family {
        FeatureFamily::Integer => format!("integer_{}", kind.base_name()),
        FeatureFamily::Float => kind.base_name(),
    };
    for (_, s) in suffixes {
        log_name.push_str(&s);
    }
    spec.log_name = log_name;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse() {
        for v in VmafModel::builtin_versions() {
            let m = VmafModel::builtin(v).unwrap_or_else(|| panic!("{v}"));
            assert_eq!(m.feature_names.len(), 6);
            assert_eq!(m.svr.dim, 6);
            assert_eq!(m.score_clip, Some((0.0, 100.0)));
            assert!(
                !m.transform_enabled,
                "{v}: libvmaf leaves the transform off by default"
            );
        }
        let m = VmafModel::builtin("vmaf_v0.6.1").unwrap();
        assert_eq!(m.svr.coef.len(), 211);
        assert!(m.score_transform.is_some());
        assert!(VmafModel::builtin("vmaf_4k_v0.6.1")
            .unwrap()
            .score_transform
            .is_none());
        assert!(VmafModel::builtin("nope").is_none());
    }

    #[test]
    fn feature_specs() {
        let m = VmafModel::builtin("vmaf_v0.6.1").unwrap();
        let names: Vec<_> = m
            .required_features()
            .into_iter()
            .map(|s| s.log_name)
            .collect();
        assert_eq!(
            names,
            [
                "integer_adm2",
                "integer_motion2",
                "integer_vif_scale0",
                "integer_vif_scale1",
                "integer_vif_scale2",
                "integer_vif_scale3"
            ]
        );
        let m = VmafModel::builtin("vmaf_float_v0.6.1neg").unwrap();
        let f = m.required_features();
        assert_eq!(f[0].log_name, "adm2_egl_1");
        assert_eq!(f[0].adm_enhn_gain_limit, Some(1.0));
        assert_eq!(f[0].extractor_name(), "float_adm");
        assert_eq!(f[1].log_name, "motion2");
        assert_eq!(f[2].log_name, "vif_scale0_egl_1");
        assert_eq!(f[2].vif_enhn_gain_limit, Some(1.0));
        assert!(f.iter().all(|s| s.family == FeatureFamily::Float));
        let m = VmafModel::builtin("vmaf_v0.6.1neg").unwrap();
        assert_eq!(
            m.required_features()[5].log_name,
            "integer_vif_scale3_egl_1"
        );
    }

    #[test]
    fn perfect_features_predict_high_and_clip() {
        let m = VmafModel::builtin("vmaf_v0.6.1").unwrap();
        // Undistorted content: adm2 = 1, vif = 1, some motion.
        let v = m.predict(&[1.0, 4.0, 1.0, 1.0, 1.0, 1.0]);
        assert!(v > 95.0 && v <= 100.0, "{v}");
        let v = m.predict(&[0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        assert!((0.0..20.0).contains(&v), "{v}");
        let mut m2 = m.clone();
        m2.clip_enabled = false;
        assert!(m2.predict(&[1.0, 40.0, 1.0, 1.0, 1.0, 1.0]).is_finite());
    }

    #[test]
    fn transform_order() {
        let t = ScoreTransform {
            p0: Some(1.70674692),
            p1: Some(1.72643844),
            p2: Some(-0.00705305),
            knots: None,
            out_lte_in: false,
            out_gte_in: true,
        };
        // Rectified against the input: never lowers the score.
        assert_eq!(t.apply(200.0), 200.0);
        assert!((t.apply(100.0) - (1.70674692 + 172.643844 - 70.5305)).abs() < 1e-9);
        let y = t.apply(50.0);
        assert!((y - (1.70674692 + 1.72643844 * 50.0 - 0.00705305 * 2500.0)).abs() < 1e-9);
        let k = ScoreTransform {
            knots: Some(vec![(0.0, 0.0), (50.0, 80.0), (100.0, 100.0)]),
            ..Default::default()
        };
        assert!((k.apply(25.0) - 40.0).abs() < 1e-12);
        assert!((k.apply(75.0) - 90.0).abs() < 1e-12);
        assert!((k.apply(110.0) - 104.0).abs() < 1e-12);
    }

    #[test]
    fn malformed_models_are_errors() {
        let good = include_str!("../../../models/vmaf/vmaf_v0.6.1.json");
        let cases: Vec<String> = vec![
            "".into(),
            "[]".into(),
            "{\"model_dict\": 3}".into(),
            good.replace("total_sv 211", "total_sv 99999999999"),
            good.replace("total_sv 211", "total_sv 212"),
            good.replace("total_sv 211", "total_sv -1"),
            good.replace("kernel_type rbf", "kernel_type poly"),
            good.replace("rho -1.33133", "rho x"),
            good.replace("1:0.65734273", "1:abc"),
            good.replace("1:0.65734273 2:", "2000:0.65734273 2:"),
            good.replace(
                "VMAF_integer_feature_adm2_score",
                "VMAF_integer_feature_cambi_score",
            ),
            good.replace("\"slopes\": [", "\"slopes\": [1.0, "),
            good.replace("\"score_clip\": [", "\"score_clip\": [1.0, "),
            good.replace("\\nSV\\n", "\\nXX\\n"),
        ];
        for (i, c) in cases.iter().enumerate() {
            assert!(VmafModel::from_json_str("t", c).is_err(), "case {i} parsed");
        }
        // Truncations anywhere must fail cleanly, never panic.
        for cut in (0..good.len()).step_by(997) {
            let _ = VmafModel::from_json_str("t", &good[..cut]);
        }
        // Options vqmeter does not implement, malformed values, options of the wrong extractor.
        for o in [
            "{\"adm_skip_scale0\": true}",
            "{\"adm_csf_mode\": \"x\"}",
            "{\"adm_csf_mode\": -0.5}",
            "{\"adm_dlm_weight\": true}",
            "{\"motion_max_val\": 18}",
            "{}, {\"motion_moving_average\": 1}",
        ] {
            let opts = good.replace(
                "\"feature_names\"",
                &format!("\"feature_opts_dicts\": [{o}], \"feature_names\""),
            );
            assert!(
                matches!(
                    VmafModel::from_json_str("t", &opts),
                    Err(ModelError::UnsupportedOption { .. })
                ),
                "{o}"
            );
        }
        // The float extractors take only the enhancement-gain limits here.
        let float = include_str!("../../../models/vmaf/vmaf_float_v0.6.1.json").replace(
            "\"feature_names\"",
            "\"feature_opts_dicts\": [{\"adm_noise_weight\": 0.02}], \"feature_names\"",
        );
        assert!(matches!(
            VmafModel::from_json_str("t", &float),
            Err(ModelError::UnsupportedOption { .. })
        ));
    }

    /// libvmaf 3.x's option names: sorted by option name, written with the option's alias,
    /// `%d` for ints, `%g` for doubles, the bare alias for booleans; defaults left out.
    #[test]
    fn adm3_motion3_options_and_names() {
        let good = include_str!("../../../models/vmaf/vmaf_v0.6.1.json")
            .replace(
                "VMAF_integer_feature_adm2_score",
                "VMAF_integer_feature_adm3_score",
            )
            .replace(
                "VMAF_integer_feature_motion2_score",
                "VMAF_integer_feature_motion3_score",
            )
            .replace(
                "VMAF_integer_feature_vif_scale3_score",
                "VMAF_integer_feature_aim_score",
            );
        let opts = good.replace(
            "\"feature_names\"",
            "\"feature_opts_dicts\": [\
             {\"adm_dlm_weight\": 0.7, \"adm_enhn_gain_limit\": 1.0, \"adm_noise_weight\": 0.02, \
              \"adm_norm_view_dist\": 3.0, \"adm_ref_display_height\": 1080, \"adm_min_val\": 0.5, \
              \"adm_csf_mode\": 2},\
             {\"motion_max_val\": 18.0, \"motion_moving_average\": \"true\", \
              \"motion_five_frame_window\": false, \"motion_blend_factor\": 0.25, \
              \"motion_blend_offset\": 40, \"motion_fps_weight\": 2},\
             {}, {}, {},\
             {\"adm_ref_display_height\": 2160, \"adm_csf_scale\": 0.5, \"adm_csf_diag_scale\": 1, \
              \"adm_norm_view_dist\": 1.5}\
             ], \"feature_names\"",
        );
        let m = VmafModel::from_json_str("t", &opts).unwrap();
        let f = m.required_features();
        assert_eq!(
            f[0].log_name,
            "integer_adm3_csf_2_dlmw_0.7_egl_1_min_0.5_nw_0.02"
        );
        assert_eq!(f[0].kind, FeatureKind::Adm3);
        assert_eq!(f[0].adm_enhn_gain_limit, Some(1.0));
        assert_eq!(
            f[0].adm,
            AdmParams {
                csf_mode: 2,
                dlm_weight: 0.7,
                noise_weight: 0.02,
                min_val: 0.5,
                ..Default::default()
            }
        );
        assert_eq!(f[1].log_name, "integer_motion3_mbf_0.25_mfw_2_mmxv_18_mma");
        assert_eq!(
            f[1].motion,
            MotionParams {
                blend_factor: 0.25,
                fps_weight: 2.0,
                max_val: 18.0,
                moving_average: true,
                ..Default::default()
            }
        );
        assert_eq!(f[2].log_name, "integer_vif_scale0");
        assert_eq!(f[5].kind, FeatureKind::Aim);
        assert_eq!(f[5].log_name, "integer_aim_scf_0.5_nvd_1.5_rdh_2160");
        assert_eq!(f[5].adm.ref_display_height, 2160);
        assert_eq!(c_atoi("1080"), Some(1080));
        assert_eq!(c_atoi("2.7"), Some(2));
        assert_eq!(c_atoi("0"), Some(0));
        assert_eq!(c_atoi("x"), None);
        assert_eq!(c_atoi("-0.5"), None);
    }

    #[test]
    fn printf_g() {
        assert_eq!(fmt_g(1.0), "1");
        assert_eq!(fmt_g(100.0), "100");
        assert_eq!(fmt_g(1.2f32 as f64), "1.2");
        assert_eq!(fmt_g(0.5), "0.5");
        assert_eq!(fmt_g(1234567.0), "1.23457e+06");
        assert_eq!(fmt_g(0.0001), "0.0001");
        assert_eq!(fmt_g(0.00001), "1e-05");
    }
}
