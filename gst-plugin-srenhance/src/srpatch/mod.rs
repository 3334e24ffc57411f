// SPDX-License-Identifier: MPL-2.0

//! `srpatch`: the streamer side of LiveNAS (seed 003, §5): passes the high-resolution video
//! through and, beside it, sends high-quality training patches (`application/x-srpatch`, one
//! `lvpatch` message per buffer) paced by the quality-optimizing scheduler.
//!
//! The server's feedback arrives as the upstream custom event `srpatch-feedback` on
//! `patch_src` (or sent to the element); its structure carries the fields of
//! [`lv_livenas::wire::Feedback`], built and read by [`feedback_to_structure`] /
//! [`feedback_from_structure`].

use gst::glib;
use gst::prelude::*;
use lv_livenas::wire::{Feedback, TrainerState};

mod imp;

glib::wrapper! {
    pub struct Srpatch(ObjectSubclass<imp::Srpatch>) @extends gst::Element, gst::Object;
}

pub fn register(plugin: &gst::Plugin) -> Result<(), glib::BoolError> {
    gst::Element::register(
        Some(plugin),
        "srpatch",
        gst::Rank::NONE,
        Srpatch::static_type(),
    )
}

/// Name of the feedback event's structure (and of the bus message an application may
/// forward).
pub const FEEDBACK_NAME: &str = "srpatch-feedback";

/// The feedback as an event structure: `epoch` (u32), `state` (string `training` /
/// `suspended`), `gain_db`, `gain_vs_initial_db`, `gain_vs_bicubic_db`,
/// `training_fraction` (f64) and `suggested_patch_kbps` (u32).
#[allow(dead_code)] // used by srenhance and by applications' copies of this layout
pub(crate) fn feedback_to_structure(fb: &Feedback) -> gst::Structure {
    gst::Structure::builder(FEEDBACK_NAME)
        .field("epoch", fb.epoch)
        .field(
            "state",
            match fb.state {
                TrainerState::Training => "training",
                TrainerState::Suspended => "suspended",
            },
        )
        .field("gain_db", fb.gain_db as f64)
        .field("gain_vs_initial_db", fb.gain_vs_initial_db as f64)
        .field("gain_vs_bicubic_db", fb.gain_vs_bicubic_db as f64)
        .field("training_fraction", fb.training_fraction as f64)
        .field("suggested_patch_kbps", fb.suggested_patch_kbps)
        .build()
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

/// Reads a feedback structure: the `lvpatch` wire message in a `data` field (bytes) when
/// present, else the fields. Accepts the layout of [`feedback_to_structure`] and, for
/// interoperability, dashed field names, any numeric type, and `state` as 0/1, a boolean
/// (`true`: suspended) or the string `training` / `suspended`. The values are checked as
/// [`lv_livenas::wire::parse`] checks the wire message (finite gains, fraction in [0, 1]).
pub(crate) fn feedback_from_structure(s: &gst::StructureRef) -> Result<Feedback, String> {
    if s.name() != FEEDBACK_NAME {
        return Err(format!("not a {FEEDBACK_NAME} structure: {}", s.name()));
    }
    // srenhance also attaches the wire message itself.
    if let Ok(data) = s.get::<glib::Bytes>("data") {
        return match lv_livenas::wire::parse(&data, &lv_livenas::wire::Limits::default()) {
            Ok(lv_livenas::wire::Message::Feedback(fb)) => Ok(fb),
            Ok(_) => Err("data holds a patches message".into()),
            Err(e) => Err(e.to_string()),
        };
    }
    let state = match s.get::<&str>("state") {
        Ok("training") => TrainerState::Training,
        Ok("suspended") => TrainerState::Suspended,
        Ok(other) => return Err(format!("unknown state {other:?}")),
        Err(_) => match num(s, "state") {
            Some(x) if x == 0.0 => TrainerState::Training,
            Some(x) if x == 1.0 => TrainerState::Suspended,
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
    // The wire format's checks, in one place.
    match lv_livenas::wire::parse(&lv_livenas::wire::encode_feedback(&fb), &lv_livenas::wire::Limits::default()) {
        Ok(_) => Ok(fb),
        Err(e) => Err(e.to_string()),
    }
}
