//! Builds `dnnscale-refine-v1` ONNX models (docs/dnnscale-design.md) from given or seeded
//! random weights: the graph the contract fixes, with its metadata.
//!
//! For tests and debugging of the runtime and the element (which must not depend on the
//! trained model being present). It is not a trained model and is never shipped as one.

use crate::model::KIND_REFINE_V1;
use prost::Message;
use tract_onnx::pb;

/// Shape and weights of a synthetic refine net.
#[derive(Clone, Debug)]
pub struct SynthNet {
    /// Hidden channels `C`.
    pub channels: usize,
    /// Convolutions in total (≥ 2: 4→C, (C→C)*, C→4).
    pub convs: usize,
    /// Seed of the weight generator.
    pub seed: u64,
    /// Scale of the last convolution's weights: the residual's size relative to the input.
    pub residual_scale: f32,
}

impl Default for SynthNet {
    fn default() -> Self {
        SynthNet {
            channels: 8,
            convs: 3,
            seed: 1,
            residual_scale: 0.05,
        }
    }
}

impl SynthNet {
    /// Receptive radius in output pixels: each 3x3 conv at half resolution reaches one 2x2
    /// block further, and a pixel's own block reaches one more pixel on one side.
    pub fn receptive_radius(&self) -> usize {
        2 * self.convs + 1
    }

    /// The contract's graph with seeded uniform weights (Kaiming-like scale so activations
    /// neither vanish nor explode through the hidden layers).
    pub fn proto(&self) -> pb::ModelProto {
        assert!(self.convs >= 2 && self.channels >= 1);
        let mut rng = self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut uniform = move || {
            // xorshift64*: deterministic across platforms, no dependency.
            rng ^= rng >> 12;
            rng ^= rng << 25;
            rng ^= rng >> 27;
            let v = rng.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 40;
            (v as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        };
        let mut nodes = vec![node(
            "SpaceToDepth",
            &["input"],
            "s2d",
            vec![attr_int("blocksize", 2)],
        )];
        let mut inits = Vec::new();
        let mut prev = "s2d".to_string();
        for i in 0..self.convs {
            let cin = if i == 0 { 4 } else { self.channels };
            let last = i + 1 == self.convs;
            let cout = if last { 4 } else { self.channels };
            let scale = if last {
                self.residual_scale / (cin as f32 * 9.0).sqrt()
            } else {
                (6.0 / (cin as f32 * 9.0)).sqrt()
            };
            let w: Vec<f32> = (0..cout * cin * 9).map(|_| uniform() * scale).collect();
            let b: Vec<f32> = (0..cout).map(|_| uniform() * 0.01).collect();
            let (wn, bn) = (format!("conv{i}.weight"), format!("conv{i}.bias"));
            inits.push(tensor(&wn, &[cout, cin, 3, 3], w));
            inits.push(tensor(&bn, &[cout], b));
            let out = format!("conv{i}");
            nodes.push(node(
                "Conv",
                &[&prev, &wn, &bn],
                &out,
                vec![
                    attr_ints("kernel_shape", &[3, 3]),
                    attr_ints("pads", &[1, 1, 1, 1]),
                ],
            ));
            prev = out;
            if !last {
                let r = format!("relu{i}");
                nodes.push(node("Relu", &[&prev], &r, vec![]));
                prev = r;
            }
        }
        nodes.push(node(
            "DepthToSpace",
            &[&prev],
            "d2s",
            vec![attr_int("blocksize", 2), attr_str("mode", "DCR")],
        ));
        nodes.push(node("Add", &["d2s", "input"], "output", vec![]));
        pb::ModelProto {
            ir_version: 8,
            opset_import: vec![pb::OperatorSetIdProto {
                domain: String::new(),
                version: 13,
            }],
            producer_name: "lv_infer::synth".into(),
            graph: Some(pb::GraphProto {
                name: "refine".into(),
                node: nodes,
                initializer: inits,
                input: vec![value_info(
                    "input",
                    &[Dim::N(1), Dim::N(1), Dim::S("H"), Dim::S("W")],
                )],
                output: vec![value_info(
                    "output",
                    &[Dim::N(1), Dim::N(1), Dim::S("H"), Dim::S("W")],
                )],
                ..Default::default()
            }),
            metadata_props: vec![
                kv("lv.kind", KIND_REFINE_V1),
                kv("lv.align", "2"),
                kv("lv.receptive_radius", &self.receptive_radius().to_string()),
                kv("lv.recipe", &format!("lv_infer::synth {self:?}")),
            ],
            ..Default::default()
        }
    }

    /// The encoded ONNX file.
    pub fn bytes(&self) -> Vec<u8> {
        encode(&self.proto())
    }

    /// The encoded ONNX file with extra metadata entries (e.g. `lv.ratio_min`, `lv.stage`).
    pub fn bytes_with(&self, meta: &[(&str, &str)]) -> Vec<u8> {
        let mut p = self.proto();
        p.metadata_props
            .extend(meta.iter().map(|(k, v)| pb::StringStringEntryProto {
                key: (*k).into(),
                value: (*v).into(),
            }));
        encode(&p)
    }
}

pub fn encode(proto: &pb::ModelProto) -> Vec<u8> {
    proto.encode_to_vec()
}

/// One dimension of a value's declared shape.
pub enum Dim<'a> {
    N(i64),
    S(&'a str),
}

pub fn value_info(name: &str, dims: &[Dim]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    pb::ValueInfoProto {
        name: name.into(),
        r#type: Some(pb::TypeProto {
            denotation: String::new(),
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: pb::tensor_proto::DataType::Float as i32,
                shape: Some(pb::TensorShapeProto {
                    dim: dims
                        .iter()
                        .map(|d| Dimension {
                            denotation: String::new(),
                            value: Some(match d {
                                Dim::N(n) => Value::DimValue(*n),
                                Dim::S(s) => Value::DimParam(s.to_string()),
                            }),
                        })
                        .collect(),
                }),
            })),
        }),
        doc_string: String::new(),
    }
}

fn kv(k: &str, v: &str) -> pb::StringStringEntryProto {
    pb::StringStringEntryProto {
        key: k.into(),
        value: v.into(),
    }
}

fn tensor(name: &str, dims: &[usize], data: Vec<f32>) -> pb::TensorProto {
    pb::TensorProto {
        name: name.into(),
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: pb::tensor_proto::DataType::Float as i32,
        float_data: data,
        ..Default::default()
    }
}

fn node(
    op: &str,
    inputs: &[&str],
    output: &str,
    attribute: Vec<pb::AttributeProto>,
) -> pb::NodeProto {
    pb::NodeProto {
        op_type: op.into(),
        name: output.into(),
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        attribute,
        ..Default::default()
    }
}

fn attr_int(name: &str, i: i64) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Int as i32,
        i,
        ..Default::default()
    }
}

fn attr_ints(name: &str, ints: &[i64]) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::Ints as i32,
        ints: ints.to_vec(),
        ..Default::default()
    }
}

fn attr_str(name: &str, s: &str) -> pb::AttributeProto {
    pb::AttributeProto {
        name: name.into(),
        r#type: pb::attribute_proto::AttributeType::String as i32,
        s: s.as_bytes().to_vec(),
        ..Default::default()
    }
}
