//! Training checkpoints: weights, optimizer state, step and RNG state, as JSON (a few
//! thousand parameters: size is no concern, and the file stays inspectable). Written to a
//! temporary file then renamed, so an interrupted write never destroys the last good one.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{adam::Adam, net::RefineNet};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Checkpoint {
    pub net: RefineNet,
    pub adam: Adam,
    pub step: u64,
    pub rng: rand_pcg::Pcg64,
    /// Whatever the training tool wants to keep (arguments, timings, validation history).
    pub meta: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint {0}: {1}")]
    Io(String, std::io::Error),
    #[error("checkpoint {0}: {1}")]
    Json(String, serde_json::Error),
}

impl Checkpoint {
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let name = path.display().to_string();
        let tmp = path.with_extension("tmp");
        let bytes = serde_json::to_vec(self).map_err(|e| CheckpointError::Json(name.clone(), e))?;
        std::fs::write(&tmp, bytes).map_err(|e| CheckpointError::Io(name.clone(), e))?;
        std::fs::rename(&tmp, path).map_err(|e| CheckpointError::Io(name, e))
    }

    pub fn load(path: &Path) -> Result<Self, CheckpointError> {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| CheckpointError::Io(name.clone(), e))?;
        serde_json::from_slice(&bytes).map_err(|e| CheckpointError::Json(name, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::RefineConfig;
    use rand::{Rng, SeedableRng};

    #[test]
    fn round_trips_exactly_including_rng() {
        let net = RefineNet::new(
            RefineConfig {
                channels: 3,
                hidden_layers: 1,
            },
            1,
        );
        let mut adam = Adam::new(net.num_params(), 1e-3);
        let mut p = net.params.clone();
        let g: Vec<f32> = (0..p.len()).map(|i| (i as f32).sin()).collect();
        adam.step(&mut p, &g, 1e-3);
        let mut rng = rand_pcg::Pcg64::seed_from_u64(9);
        let _: u64 = rng.random();
        let ck = Checkpoint {
            net: RefineNet { params: p, ..net },
            adam,
            step: 1,
            rng,
            meta: serde_json::json!({"a": 1}),
        };
        let path = std::env::temp_dir().join(format!("lvtrain-ck-{}.json", std::process::id()));
        ck.save(&path).unwrap();
        let mut back = Checkpoint::load(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(back.net.params, ck.net.params);
        assert_eq!(back.adam.m, ck.adam.m);
        assert_eq!(back.adam.v, ck.adam.v);
        assert_eq!(back.step, 1);
        let mut r2 = ck.rng.clone();
        assert_eq!(back.rng.random::<u64>(), r2.random::<u64>());
    }
}
