//! Training engine (see docs/dnnscale-design.md).
