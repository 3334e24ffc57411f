// SPDX-License-Identifier: MPL-2.0

//! The element message `srpatch` posts at each scheduler update, as a typed struct: what an
//! application reads to set its video encoder's bit rate. Parse a bus message back with
//! `RateMessage::try_from(structure)`.

use crate::fields::Fields;

pub const RATE_MESSAGE: &str = "srpatch-rate";

/// One rate update (once a second of stream time). Field names on the bus are these with `-`
/// for `_` (`patch_kbps` is `patch-kbps`).
#[derive(Clone, Debug, PartialEq)]
pub struct RateMessage {
    /// The patch rate from now on (kbit/s).
    pub patch_kbps: f64,
    /// What is left of the uplink for the video (kbit/s): the encoder's target.
    pub video_kbps: f64,
    /// `bandwidth-kbps` (0: unknown).
    pub available_kbps: f64,
    /// Whether the quality-optimizing scheduler chose the split (else `patch-kbps` is fixed).
    pub scheduler: bool,
    /// The server's training state as last reported: `training` or `suspended`.
    pub state: String,
    /// The scheduler's gradient step and its estimate of the network's quality slope.
    pub gradient: f64,
    pub dnn_slope: f64,
    /// Stream time of the update (ns).
    pub stream_time: u64,
    pub patches_sent: u64,
    pub bytes_sent: u64,
    /// The server's suggested patch rate (kbit/s; 0: none), passed on from its feedback.
    pub server_suggested_kbps: u32,
}

impl From<RateMessage> for gst::Structure {
    fn from(m: RateMessage) -> Self {
        gst::Structure::builder(RATE_MESSAGE)
            .field("patch-kbps", m.patch_kbps)
            .field("video-kbps", m.video_kbps)
            .field("available-kbps", m.available_kbps)
            .field("scheduler", m.scheduler)
            .field("state", m.state)
            .field("gradient", m.gradient)
            .field("dnn-slope", m.dnn_slope)
            .field("stream-time", m.stream_time)
            .field("patches-sent", m.patches_sent)
            .field("bytes-sent", m.bytes_sent)
            .field("server-suggested-kbps", m.server_suggested_kbps)
            .build()
    }
}

impl TryFrom<&gst::StructureRef> for RateMessage {
    type Error = String;
    fn try_from(s: &gst::StructureRef) -> Result<Self, Self::Error> {
        let f = Fields::of(s, RATE_MESSAGE)?;
        Ok(RateMessage {
            patch_kbps: f.get("patch-kbps")?,
            video_kbps: f.get("video-kbps")?,
            available_kbps: f.get("available-kbps")?,
            scheduler: f.get("scheduler")?,
            state: f.get("state")?,
            gradient: f.get("gradient")?,
            dnn_slope: f.get("dnn-slope")?,
            stream_time: f.get("stream-time")?,
            patches_sent: f.get("patches-sent")?,
            bytes_sent: f.get("bytes-sent")?,
            server_suggested_kbps: f.get("server-suggested-kbps")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_message_survives_the_round_trip_and_a_wrong_one_is_refused() {
        gst::init().unwrap();
        let m = RateMessage {
            patch_kbps: 75.5,
            video_kbps: 724.5,
            available_kbps: 800.0,
            scheduler: true,
            state: "training".into(),
            gradient: 0.01,
            dnn_slope: 0.002,
            stream_time: 3_000_000_000,
            patches_sent: 42,
            bytes_sent: 120_000,
            server_suggested_kbps: 60,
        };
        let s = gst::Structure::from(m.clone());
        assert_eq!(s.get::<f64>("video-kbps").unwrap(), 724.5);
        assert_eq!(RateMessage::try_from(s.as_ref()).unwrap(), m);
        let mut s = s;
        s.set("patches-sent", 42u32);
        let e = RateMessage::try_from(s.as_ref()).unwrap_err();
        assert!(e.contains("patches-sent"), "{e}");
        let other = gst::Structure::new_empty("srenhance-epoch");
        assert!(RateMessage::try_from(other.as_ref()).is_err());
    }
}
