// SPDX-License-Identifier: MPL-2.0

//! The element message `srenhance` posts at each training epoch's end, as a typed struct.
//! Applications can parse a bus message back with `EpochMessage::try_from(structure)`.

use crate::fields::Fields;
use lv_livenas::adaptive::Transition;
use lv_livenas::online::EpochReport;

pub const EPOCH_MESSAGE: &str = "srenhance-epoch";

/// One epoch of online training: Algorithm 1's state, what is served from now on, and the
/// PSNR-Y (dB) of each candidate on the patches that arrived in the epoch, measured before any
/// training on them. Field names on the bus are these with `-` for `_` (`scene_cut` is
/// `scene-cut`, `psnr_blend` is `psnr-blend`); the README lists their meaning.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochMessage {
    pub epoch: u32,
    /// `training` or `suspended`.
    pub state: String,
    /// `none`, `suspend` or `resume`.
    pub transition: String,
    pub trained: bool,
    /// `initial`, `online`, `blend` or `filtered`.
    pub served: String,
    pub scene_cut: bool,
    pub reset: bool,
    pub fresh_patches: u64,
    pub psnr_blend: f64,
    pub psnr_filtered: f64,
    pub steps: u64,
    pub patches: u64,
    pub store: u64,
    pub psnr: f64,
    pub psnr_previous: f64,
    pub psnr_initial: f64,
    pub psnr_bicubic: f64,
    pub psnr_bilinear: f64,
    pub gain_db: f64,
    pub gain_vs_initial_db: f64,
    pub gain_vs_bicubic_db: f64,
    pub gain_vs_bilinear_db: f64,
    pub training_fraction: f64,
    /// The patch rate the server suggests to the streamer (kbit/s; 0: no suggestion).
    pub suggested_patch_kbps: u32,
}

impl EpochMessage {
    pub(crate) fn new(r: &EpochReport, suggested_patch_kbps: u32) -> Self {
        let q = &r.quality;
        EpochMessage {
            epoch: q.epoch,
            state: r.state.as_str().to_string(),
            transition: match r.transition {
                Transition::None => "none",
                Transition::Suspend => "suspend",
                Transition::Resume => "resume",
            }
            .to_string(),
            trained: r.trained,
            served: r.served.as_str().to_string(),
            scene_cut: r.cut,
            reset: r.reset,
            fresh_patches: q.fresh as u64,
            psnr_blend: q.blend,
            psnr_filtered: q.filtered,
            steps: q.steps,
            patches: q.patches as u64,
            store: r.store as u64,
            psnr: q.current,
            psnr_previous: q.previous,
            psnr_initial: q.initial,
            psnr_bicubic: q.bicubic,
            psnr_bilinear: q.bilinear,
            gain_db: q.gain_vs_previous(),
            gain_vs_initial_db: q.gain_vs_initial(),
            gain_vs_bicubic_db: q.gain_vs_bicubic(),
            gain_vs_bilinear_db: q.gain_vs_bilinear(),
            training_fraction: r.training_fraction,
            suggested_patch_kbps,
        }
    }
}

impl From<EpochMessage> for gst::Structure {
    fn from(m: EpochMessage) -> Self {
        gst::Structure::builder(EPOCH_MESSAGE)
            .field("epoch", m.epoch)
            .field("state", m.state)
            .field("transition", m.transition)
            .field("trained", m.trained)
            .field("served", m.served)
            .field("scene-cut", m.scene_cut)
            .field("reset", m.reset)
            .field("fresh-patches", m.fresh_patches)
            .field("psnr-blend", m.psnr_blend)
            .field("psnr-filtered", m.psnr_filtered)
            .field("steps", m.steps)
            .field("patches", m.patches)
            .field("store", m.store)
            .field("psnr", m.psnr)
            .field("psnr-previous", m.psnr_previous)
            .field("psnr-initial", m.psnr_initial)
            .field("psnr-bicubic", m.psnr_bicubic)
            .field("psnr-bilinear", m.psnr_bilinear)
            .field("gain-db", m.gain_db)
            .field("gain-vs-initial-db", m.gain_vs_initial_db)
            .field("gain-vs-bicubic-db", m.gain_vs_bicubic_db)
            .field("gain-vs-bilinear-db", m.gain_vs_bilinear_db)
            .field("training-fraction", m.training_fraction)
            .field("suggested-patch-kbps", m.suggested_patch_kbps)
            .build()
    }
}

impl TryFrom<&gst::StructureRef> for EpochMessage {
    type Error = String;
    fn try_from(s: &gst::StructureRef) -> Result<Self, Self::Error> {
        let f = Fields::of(s, EPOCH_MESSAGE)?;
        Ok(EpochMessage {
            epoch: f.get("epoch")?,
            state: f.get("state")?,
            transition: f.get("transition")?,
            trained: f.get("trained")?,
            served: f.get("served")?,
            scene_cut: f.get("scene-cut")?,
            reset: f.get("reset")?,
            fresh_patches: f.get("fresh-patches")?,
            psnr_blend: f.get("psnr-blend")?,
            psnr_filtered: f.get("psnr-filtered")?,
            steps: f.get("steps")?,
            patches: f.get("patches")?,
            store: f.get("store")?,
            psnr: f.get("psnr")?,
            psnr_previous: f.get("psnr-previous")?,
            psnr_initial: f.get("psnr-initial")?,
            psnr_bicubic: f.get("psnr-bicubic")?,
            psnr_bilinear: f.get("psnr-bilinear")?,
            gain_db: f.get("gain-db")?,
            gain_vs_initial_db: f.get("gain-vs-initial-db")?,
            gain_vs_bicubic_db: f.get("gain-vs-bicubic-db")?,
            gain_vs_bilinear_db: f.get("gain-vs-bilinear-db")?,
            training_fraction: f.get("training-fraction")?,
            suggested_patch_kbps: f.get("suggested-patch-kbps")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> EpochMessage {
        EpochMessage {
            epoch: 3,
            state: "suspended".into(),
            transition: "suspend".into(),
            trained: true,
            served: "filtered".into(),
            scene_cut: false,
            reset: false,
            fresh_patches: 12,
            psnr_blend: 38.5,
            psnr_filtered: 38.7,
            steps: 60,
            patches: 140,
            store: 140,
            psnr: 38.6,
            psnr_previous: 38.4,
            psnr_initial: 38.3,
            psnr_bicubic: 37.9,
            psnr_bilinear: 37.1,
            gain_db: 0.2,
            gain_vs_initial_db: 0.4,
            gain_vs_bicubic_db: 0.8,
            gain_vs_bilinear_db: 1.6,
            training_fraction: 0.5,
            suggested_patch_kbps: 75,
        }
    }

    #[test]
    fn an_epoch_message_survives_the_round_trip_through_a_structure() {
        gst::init().unwrap();
        let m = sample();
        let s = gst::Structure::from(m.clone());
        assert_eq!(s.name(), EPOCH_MESSAGE);
        assert!(!s.get::<bool>("scene-cut").unwrap());
        assert_eq!(s.get::<u32>("suggested-patch-kbps").unwrap(), 75);
        assert_eq!(EpochMessage::try_from(s.as_ref()).unwrap(), m);
    }

    #[test]
    fn another_structure_or_a_missing_field_is_an_error() {
        gst::init().unwrap();
        let other = gst::Structure::new_empty("srpatch-rate");
        assert!(EpochMessage::try_from(other.as_ref()).is_err());
        let mut s = gst::Structure::from(sample());
        s.remove_field("psnr");
        let e = EpochMessage::try_from(s.as_ref()).unwrap_err();
        assert!(e.contains("psnr"), "{e}");
    }
}
