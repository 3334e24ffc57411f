// SPDX-License-Identifier: MPL-2.0

//! The `srpatch-feedback` structure, in one place: `srenhance` sends it upstream on
//! `patch_sink` at each epoch's end, `srpatch` takes it on `patch_src` (or from the
//! application), and an application that carries it over a transport reads it here and sends
//! the wire message (`lv_livenas::wire::encode_feedback`). A newtype over
//! [`lv_livenas::wire::Feedback`] because the GStreamer conversions cannot be implemented on
//! a foreign type.

use gst::glib;
use lv_livenas::wire::{self, Feedback, TrainerState};

/// Name of the feedback event's structure.
pub const NAME: &str = "srpatch-feedback";

/// The server's feedback as it travels in a GStreamer structure or event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SrpatchFeedback(pub Feedback);

impl From<Feedback> for SrpatchFeedback {
    fn from(fb: Feedback) -> Self {
        SrpatchFeedback(fb)
    }
}

/// `epoch` (u32), `state` (`training` / `suspended`), `gain-db`, `gain-vs-initial-db`,
/// `gain-vs-bicubic-db`, `training-fraction` (f64), `suggested-patch-kbps` (u32), and `data`:
/// the wire message itself, so a receiver reads exactly what the server measured.
impl From<SrpatchFeedback> for gst::Structure {
    fn from(SrpatchFeedback(fb): SrpatchFeedback) -> Self {
        gst::Structure::builder(NAME)
            .field("epoch", fb.epoch)
            .field("state", fb.state.as_str())
            .field("gain-db", fb.gain_db as f64)
            .field("gain-vs-initial-db", fb.gain_vs_initial_db as f64)
            .field("gain-vs-bicubic-db", fb.gain_vs_bicubic_db as f64)
            .field("training-fraction", fb.training_fraction as f64)
            .field("suggested-patch-kbps", fb.suggested_patch_kbps)
            .field("data", glib::Bytes::from_owned(wire::encode_feedback(&fb)))
            .build()
    }
}

/// The upstream custom event that carries it (srenhance → srpatch).
impl From<SrpatchFeedback> for gst::Event {
    fn from(fb: SrpatchFeedback) -> Self {
        gst::event::CustomUpstream::new(gst::Structure::from(fb))
    }
}

/// A number field under its name or its dashed spelling, whatever its numeric type.
fn num(s: &gst::StructureRef, name: &str) -> Option<f64> {
    let dashed = name.replace('_', "-");
    for n in [name, dashed.as_str()] {
        let Ok(v) = s.value(n) else { continue };
        let x = if let Ok(x) = v.get::<f64>() {
            x
        } else if let Ok(x) = v.get::<f32>() {
            x as f64
        } else if let Ok(x) = v.get::<u32>() {
            x as f64
        } else if let Ok(x) = v.get::<i32>() {
            x as f64
        } else if let Ok(x) = v.get::<u64>() {
            x as f64
        } else if let Ok(x) = v.get::<i64>() {
            x as f64
        } else if let Ok(x) = v.get::<bool>() {
            x as u8 as f64
        } else {
            continue;
        };
        return Some(x);
    }
    None
}

/// Reads a feedback structure: the wire message in a `data` field (bytes) when present, else
/// the fields. For interoperability with applications that build it themselves: dashed or
/// underscored field names, any numeric type, and `state` as 0/1, a boolean (`true`:
/// suspended) or the string `training` / `suspended`. The values are checked as
/// [`lv_livenas::wire::parse`] checks the wire message (finite gains, fraction in [0, 1]).
impl TryFrom<&gst::StructureRef> for SrpatchFeedback {
    type Error = String;

    fn try_from(s: &gst::StructureRef) -> Result<Self, String> {
        if s.name() != NAME {
            return Err(format!("not a {NAME} structure: {}", s.name()));
        }
        if let Ok(data) = s.get::<glib::Bytes>("data") {
            return match wire::parse(&data, &wire::Limits::default()) {
                Ok(wire::Message::Feedback(fb)) => Ok(SrpatchFeedback(fb)),
                Ok(_) => Err("data holds a patches message".into()),
                Err(e) => Err(e.to_string()),
            };
        }
        let state = match s.get::<&str>("state") {
            Ok("training") => TrainerState::Training,
            Ok("suspended") => TrainerState::Suspended,
            Ok(other) => return Err(format!("unknown state {other:?}")),
            Err(_) => match num(s, "state") {
                Some(0.0) => TrainerState::Training,
                Some(1.0) => TrainerState::Suspended,
                Some(x) => return Err(format!("unknown state {x}")),
                None => return Err("no state field".into()),
            },
        };
        let epoch = num(s, "epoch").ok_or("no epoch field")?;
        if !(0.0..=u32::MAX as f64).contains(&epoch) {
            return Err(format!("epoch {epoch} out of range"));
        }
        let f = |n: &str| num(s, n).unwrap_or(0.0) as f32;
        let fb = Feedback {
            epoch: epoch as u32,
            state,
            gain_db: f("gain_db"),
            gain_vs_initial_db: f("gain_vs_initial_db"),
            gain_vs_bicubic_db: f("gain_vs_bicubic_db"),
            training_fraction: num(s, "training_fraction").unwrap_or(0.0) as f32,
            suggested_patch_kbps: num(s, "suggested_patch_kbps")
                .unwrap_or(0.0)
                .clamp(0.0, u32::MAX as f64) as u32,
        };
        // The wire format's checks, in one place: a structure says no more than the wire can.
        match wire::parse(&wire::encode_feedback(&fb), &wire::Limits::default()) {
            Ok(_) => Ok(SrpatchFeedback(fb)),
            Err(e) => Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Feedback {
        Feedback {
            epoch: 7,
            state: TrainerState::Suspended,
            gain_db: 0.25,
            gain_vs_initial_db: 1.5,
            gain_vs_bicubic_db: 2.0,
            training_fraction: 0.5,
            suggested_patch_kbps: 300,
        }
    }

    #[test]
    fn structure_round_trips() {
        gst::init().unwrap();
        let s = gst::Structure::from(SrpatchFeedback(sample()));
        assert_eq!(s.name(), NAME);
        assert_eq!(s.get::<&str>("state").unwrap(), "suspended");
        assert_eq!(SrpatchFeedback::try_from(s.as_ref()).unwrap().0, sample());
        // Without the wire message, the fields alone say the same.
        let mut fields = s.clone();
        fields.remove_field("data");
        assert_eq!(
            SrpatchFeedback::try_from(fields.as_ref()).unwrap().0,
            sample()
        );
    }

    #[test]
    fn malformed_structures_are_refused() {
        gst::init().unwrap();
        let bad_state = gst::Structure::builder(NAME)
            .field("epoch", 1u32)
            .field("state", "sleeping")
            .build();
        assert!(SrpatchFeedback::try_from(bad_state.as_ref()).is_err());
        let nan = gst::Structure::builder(NAME)
            .field("epoch", 1u32)
            .field("state", "training")
            .field("gain_db", f64::NAN)
            .build();
        assert!(SrpatchFeedback::try_from(nan.as_ref()).is_err());
        let other = gst::Structure::builder("other")
            .field("epoch", 1u32)
            .build();
        assert!(SrpatchFeedback::try_from(other.as_ref()).is_err());
    }
}
