//! The head of a trainer's `--summary` JSON: how the run was made and what it made, in the
//! same words for both trainers so their summaries read alike.

use lv_train::RefineNet;
use serde::Serialize;
use std::path::Path;

/// Meant for `#[serde(flatten)]` at the top of a trainer's summary.
#[derive(Serialize)]
pub struct Provenance<'a, A: Serialize> {
    pub args: &'a A,
    pub command: String,
    pub channels: usize,
    pub hidden_layers: usize,
    pub params: usize,
    pub macs_per_pixel: f64,
    pub train_tiles: usize,
    pub val_tiles: Vec<String>,
}

impl<'a, A: Serialize> Provenance<'a, A> {
    pub fn new(
        args: &'a A,
        command: String,
        net: &RefineNet,
        train_tiles: usize,
        val_tiles: Vec<String>,
    ) -> Self {
        Provenance {
            args,
            command,
            channels: net.config.channels,
            hidden_layers: net.config.hidden_layers,
            params: net.num_params(),
            macs_per_pixel: net.macs_per_pixel(),
            train_tiles,
            val_tiles,
        }
    }
}

/// Writes `summary` to `path` as pretty JSON.
pub fn write(path: &Path, summary: &impl Serialize) -> Result<(), String> {
    std::fs::write(path, serde_json::to_vec_pretty(summary).unwrap())
        .map_err(|e| format!("{}: {e}", path.display()))
}
