//! Inference runtime (see docs/dnnscale-design.md).
