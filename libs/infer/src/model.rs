//! Loading and validating a `dnnscale-refine-v1` ONNX model, and concretizing it per size.
//!
//! The protobuf is decoded here (not inside tract) so the contract can be checked before tract
//! sees the graph: one `input` / one `output`, both f32 `[1, 1, H, W]`, and the `lv.*`
//! metadata. Each failure is its own [`ModelError`] variant, so the element can name the
//! problem in its bus error.

use prost::Message;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tract_onnx::pb;
use tract_onnx::prelude::*;

/// The dnnscale model kind (docs/dnnscale-design.md).
pub const KIND_REFINE_V1: &str = "dnnscale-refine-v1";
/// The srenhance model kind: the same graph, applied after an upscale
/// (docs/srenhance-design.md). Each element checks `info().kind` and refuses the other's.
pub const KIND_SRENHANCE_V1: &str = "srenhance-refine-v1";

/// Largest `lv.align` / `lv.receptive_radius` accepted: far above anything the contract's
/// small nets produce, low enough that a corrupt value cannot make the runner pad a tile by
/// megabytes.
const MAX_ALIGN: usize = 64;
const MAX_RADIUS: usize = 256;
/// Per-size plans kept by one model.
const MAX_CACHED_PLANS: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read model file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not a valid ONNX protobuf: {0}")]
    Malformed(String),
    #[error("ONNX model has no graph")]
    NoGraph,
    #[error(
        "model input does not fit the contract (one f32 input `input` of shape [1, 1, H, W]): {0}"
    )]
    Input(String),
    #[error("model output does not fit the contract (one f32 output `output` of shape [1, 1, H, W]): {0}")]
    Output(String),
    #[error("model metadata `{key}` is missing")]
    MissingMetadata { key: &'static str },
    #[error("model metadata `{key}` = {value:?} is invalid: {reason}")]
    InvalidMetadata {
        key: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("model weights `{0}` hold a value that is not a number (NaN or infinity): a diverged training's output")]
    NonFinite(String),
    #[error("model kind {0:?} is not supported (this runtime implements `dnnscale-refine-v1` and `srenhance-refine-v1`)")]
    UnsupportedKind(String),
    /// tract could not parse, type or optimize the graph.
    #[error("tract cannot prepare the model{}: {msg}", .size.map(|(w, h)| format!(" for {w}x{h}")).unwrap_or_default())]
    Tract {
        size: Option<(usize, usize)>,
        msg: String,
    },
    #[error("plane size {w}x{h} is not usable: {reason}")]
    BadSize {
        w: usize,
        h: usize,
        reason: &'static str,
    },
}

/// Whether a float initializer holds only finite values (other types are not looked at).
fn finite_weights(t: &pb::TensorProto) -> bool {
    const FLOAT: i32 = 1; // onnx.TensorProto.DataType.FLOAT
    t.data_type != FLOAT
        || (t.float_data.iter().all(|v| v.is_finite())
            && t.raw_data
                .chunks_exact(4)
                .all(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]).is_finite()))
}

fn tract_err(size: Option<(usize, usize)>, e: impl std::fmt::Display) -> ModelError {
    // `{:#}` prints anyhow's whole context chain on one line.
    ModelError::Tract {
        size,
        msg: format!("{e:#}"),
    }
}

/// What the model's metadata says about it.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelInfo {
    pub kind: String,
    /// H and W given to the network must be multiples of this.
    pub align: usize,
    /// Output samples depend on input samples at most this far away (each side).
    pub receptive_radius: usize,
    /// Free text, e.g. the training command line (empty if absent).
    pub recipe: String,
    /// Downscale ratios (input / output size) the model is meant for, from `lv.ratio_min` /
    /// `lv.ratio_max`; `None`: every ratio.
    pub ratios: Option<(f64, f64)>,
    /// Where a dnnscale model runs (`lv.stage`).
    pub stage: Stage,
}

/// Where a dnnscale model runs in the scaling path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Stage {
    /// At the output resolution, on the resized luma (`lv.stage` = `refine`, or absent).
    #[default]
    Refine,
    /// At the source resolution, before the resize (`lv.stage` = `pre`): Netflix's
    /// preprocessing block.
    Pre,
}

impl ModelInfo {
    /// Whether the model is meant for scaling by `ratio`.
    pub fn covers(&self, ratio: f64) -> bool {
        self.ratios
            .is_none_or(|(lo, hi)| ratio >= lo - 1e-9 && ratio <= hi + 1e-9)
    }
}

/// A loaded, validated model. Cheap to share (`Arc` inside); the per-size plans it builds are
/// cached so every runner of one size uses one optimized plan.
#[derive(Clone)]
pub struct Model {
    inner: Arc<Inner>,
}

struct Inner {
    info: ModelInfo,
    proto: pb::ModelProto,
    source: tract_onnx::prelude::InferenceModel,
    /// The graph for the native engine, when it is exactly lvtrain's RefineNet export.
    native: Option<Arc<crate::native::NativeNet>>,
    plans: Mutex<HashMap<(usize, usize), Arc<TypedSimplePlan>>>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("info", &self.inner.info)
            .finish()
    }
}

fn tensor_shape(
    v: &pb::ValueInfoProto,
) -> Result<(i32, Vec<Option<pb::tensor_shape_proto::dimension::Value>>), String> {
    let Some(pb::type_proto::Value::TensorType(t)) =
        v.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err(format!("`{}` is not a tensor", v.name));
    };
    let dims = t
        .shape
        .as_ref()
        .map(|s| s.dim.iter().map(|d| d.value.clone()).collect())
        .ok_or_else(|| format!("`{}` has no shape", v.name))?;
    Ok((t.elem_type, dims))
}

/// Checks one graph input/output against `[1, 1, H, W]` f32 named `name`.
fn check_io(list: &[&pb::ValueInfoProto], name: &str) -> Result<(), String> {
    use pb::tensor_shape_proto::dimension::Value;
    let [v] = list else {
        return Err(format!(
            "expected exactly one, found {} ({})",
            list.len(),
            list.iter()
                .map(|v| v.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    };
    if v.name != name {
        return Err(format!("it is named `{}`", v.name));
    }
    let (elem, dims) = tensor_shape(v)?;
    if elem != pb::tensor_proto::DataType::Float as i32 {
        return Err(format!("element type is ONNX type {elem}, not float"));
    }
    if dims.len() != 4 {
        return Err(format!("rank is {}, not 4", dims.len()));
    }
    for (i, what) in [(0, "batch"), (1, "channel")] {
        match &dims[i] {
            Some(Value::DimValue(1)) | Some(Value::DimParam(_)) | None => {}
            Some(Value::DimValue(d)) => {
                return Err(format!("{what} dimension is {d}, not 1"));
            }
        }
    }
    Ok(())
}

fn metadata<'a>(proto: &'a pb::ModelProto, key: &'static str) -> Option<&'a str> {
    proto
        .metadata_props
        .iter()
        .find(|e| e.key == key)
        .map(|e| e.value.as_str())
}

fn metadata_usize(
    proto: &pb::ModelProto,
    key: &'static str,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, ModelError> {
    let v = metadata(proto, key).ok_or(ModelError::MissingMetadata { key })?;
    let n: usize = v.trim().parse().map_err(|_| ModelError::InvalidMetadata {
        key,
        value: v.to_string(),
        reason: "not a non-negative integer",
    })?;
    if !range.contains(&n) {
        return Err(ModelError::InvalidMetadata {
            key,
            value: v.to_string(),
            reason: "out of range",
        });
    }
    Ok(n)
}

/// `lv.ratio_min` / `lv.ratio_max`: both or neither, finite, 1 <= min <= max <= 64.
fn metadata_ratios(proto: &pb::ModelProto) -> Result<Option<(f64, f64)>, ModelError> {
    let get = |key: &'static str| -> Result<Option<f64>, ModelError> {
        let Some(v) = metadata(proto, key) else {
            return Ok(None);
        };
        let bad = |reason| ModelError::InvalidMetadata {
            key,
            value: v.to_string(),
            reason,
        };
        let r: f64 = v.trim().parse().map_err(|_| bad("not a number"))?;
        if !(1.0..=64.0).contains(&r) {
            return Err(bad("not a downscale ratio in [1, 64]"));
        }
        Ok(Some(r))
    };
    match (get("lv.ratio_min")?, get("lv.ratio_max")?) {
        (None, None) => Ok(None),
        (Some(lo), Some(hi)) if lo <= hi => Ok(Some((lo, hi))),
        (Some(_), Some(hi)) => Err(ModelError::InvalidMetadata {
            key: "lv.ratio_max",
            value: hi.to_string(),
            reason: "below lv.ratio_min",
        }),
        (Some(_), None) => Err(ModelError::MissingMetadata {
            key: "lv.ratio_max",
        }),
        (None, Some(_)) => Err(ModelError::MissingMetadata {
            key: "lv.ratio_min",
        }),
    }
}

impl Model {
    /// Loads a model file.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Model, ModelError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    /// Loads a model from the bytes of an ONNX file (e.g. the element's embedded default).
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, ModelError> {
        let proto =
            pb::ModelProto::decode(bytes).map_err(|e| ModelError::Malformed(e.to_string()))?;
        Self::from_proto(proto)
    }

    pub fn from_proto(proto: pb::ModelProto) -> Result<Model, ModelError> {
        let graph = proto.graph.as_ref().ok_or(ModelError::NoGraph)?;
        // Initializers may be listed as graph inputs (older exporters do): they are weights,
        // not the picture.
        let inits: std::collections::HashSet<&str> =
            graph.initializer.iter().map(|t| t.name.as_str()).collect();
        let inputs: Vec<_> = graph
            .input
            .iter()
            .filter(|v| !inits.contains(v.name.as_str()))
            .collect();
        check_io(&inputs, "input").map_err(ModelError::Input)?;
        let outputs: Vec<_> = graph.output.iter().collect();
        check_io(&outputs, "output").map_err(ModelError::Output)?;

        // A NaN in the weights runs without error and makes every output sample 0 (black).
        if let Some(t) = graph.initializer.iter().find(|t| !finite_weights(t)) {
            return Err(ModelError::NonFinite(t.name.clone()));
        }
        let kind = metadata(&proto, "lv.kind")
            .ok_or(ModelError::MissingMetadata { key: "lv.kind" })?
            .to_string();
        if kind != KIND_REFINE_V1 && kind != KIND_SRENHANCE_V1 {
            return Err(ModelError::UnsupportedKind(kind));
        }
        let align = metadata_usize(&proto, "lv.align", 1..=MAX_ALIGN)?;
        let receptive_radius = metadata_usize(&proto, "lv.receptive_radius", 0..=MAX_RADIUS)?;
        let recipe = metadata(&proto, "lv.recipe").unwrap_or("").to_string();
        let ratios = metadata_ratios(&proto)?;
        let stage = match metadata(&proto, "lv.stage").map(str::trim) {
            None | Some("refine") => Stage::Refine,
            Some("pre") => Stage::Pre,
            Some(v) => {
                return Err(ModelError::InvalidMetadata {
                    key: "lv.stage",
                    value: v.to_string(),
                    reason: "not `pre` or `refine`",
                })
            }
        };

        // Shapes stored for outputs and intermediate values describe whatever size the
        // exporter traced; they are recomputed for each concretized size instead.
        let source = tract_onnx::onnx()
            .with_ignore_output_shapes(true)
            .with_ignore_value_info(true)
            .model_for_proto_model(&proto)
            .map_err(|e| tract_err(None, e))?;
        let native = (align % 2 == 0)
            .then(|| crate::native::NativeNet::from_proto(&proto, &kind))
            .flatten()
            .map(Arc::new);
        let model = Model {
            inner: Arc::new(Inner {
                info: ModelInfo {
                    kind,
                    align,
                    receptive_radius,
                    recipe,
                    ratios,
                    stage,
                },
                proto,
                source,
                native,
                plans: Mutex::new(HashMap::new()),
            }),
        };
        Ok(model)
    }

    pub fn info(&self) -> &ModelInfo {
        &self.inner.info
    }

    /// Whether the native engine can run this graph (see `native.rs`); tract runs the rest.
    pub fn has_native(&self) -> bool {
        self.inner.native.is_some()
    }

    pub(crate) fn native(&self) -> Option<&Arc<crate::native::NativeNet>> {
        self.inner.native.as_ref()
    }

    /// The decoded protobuf (the CUDA backend reads the initializers from it).
    pub fn proto(&self) -> &pb::ModelProto {
        &self.inner.proto
    }

    /// Checks that the model can be concretized for `w x h` (already aligned) by building (and
    /// caching) the plan: used at caps time so a graph tract cannot type fails there.
    pub fn plan(&self, w: usize, h: usize) -> Result<Arc<TypedSimplePlan>, ModelError> {
        let a = self.inner.info.align;
        if w == 0 || h == 0 || !w.is_multiple_of(a) || !h.is_multiple_of(a) {
            return Err(ModelError::BadSize {
                w,
                h,
                reason: "not a positive multiple of lv.align",
            });
        }
        // Held while building: two runners asking for one size wait for one build instead of
        // optimizing the graph twice.
        let mut plans = self.inner.plans.lock().unwrap();
        if let Some(p) = plans.get(&(w, h)) {
            return Ok(p.clone());
        }
        let size = Some((w, h));
        // H and W are fixed before `into_optimized()`: with symbolic dims tract cannot pick
        // its convolution kernels and packing for the real size (measured 14x slower).
        let plan = self
            .inner
            .source
            .clone()
            .with_input_fact(0, f32::fact([1, 1, h, w]).into())
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(|e| tract_err(size, e))?;
        let out = plan
            .model()
            .output_fact(0)
            .map_err(|e| tract_err(size, e))?;
        if out.shape.as_concrete() != Some(&[1, 1, h, w][..]) {
            return Err(ModelError::Output(format!(
                "for a {w}x{h} input it is {:?}",
                out.shape
            )));
        }
        // Bounded: a stream that keeps changing size must not grow the cache forever; the
        // sizes in use are rebuilt once after a flush.
        if plans.len() >= MAX_CACHED_PLANS {
            plans.clear();
        }
        plans.insert((w, h), plan.clone());
        Ok(plan)
    }

    /// Drops cached plans (e.g. after a resolution change, when the old size will not come
    /// back); plans still held by runners stay alive until those runners are dropped.
    pub fn clear_cache(&self) {
        self.inner.plans.lock().unwrap().clear();
    }

    /// Number of cached per-size plans.
    pub fn cached_sizes(&self) -> usize {
        self.inner.plans.lock().unwrap().len()
    }
}
