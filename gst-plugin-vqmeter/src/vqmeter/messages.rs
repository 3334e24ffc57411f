// SPDX-License-Identifier: MPL-2.0

//! The element messages `vqmeter` posts, as typed structs. Applications can parse a bus
//! message back with `FrameMessage::try_from(structure)`.

use lv_metrics::pool::Pooled;

pub const FRAME_MESSAGE: &str = "vqmeter-frame";
pub const SEGMENT_MESSAGE: &str = "vqmeter-segment";
pub const POOLED_MESSAGE: &str = "vqmeter-pooled";

/// One frame's scores, posted as soon as they are final (one frame late when VMAF's motion
/// feature needs the next frame). Field names are libvmaf's log names (`vmaf`, `psnr_y`,
/// `float_ssim`, `integer_adm2`, ...).
#[derive(Clone, Debug, PartialEq)]
pub struct FrameMessage {
    pub index: u64,
    pub pts: Option<gst::ClockTime>,
    pub running_time: Option<gst::ClockTime>,
    pub scores: Vec<(String, f64)>,
}

impl From<FrameMessage> for gst::Structure {
    fn from(m: FrameMessage) -> Self {
        let mut b = gst::Structure::builder(FRAME_MESSAGE)
            .field("index", m.index)
            .field("pts", m.pts)
            .field("running-time", m.running_time);
        for (name, v) in &m.scores {
            b = b.field(name.as_str(), *v);
        }
        b.build()
    }
}

impl TryFrom<&gst::StructureRef> for FrameMessage {
    type Error = String;
    fn try_from(s: &gst::StructureRef) -> Result<Self, Self::Error> {
        if s.name() != FRAME_MESSAGE {
            return Err(format!("not a {FRAME_MESSAGE} structure"));
        }
        let index = s.get::<u64>("index").map_err(|e| e.to_string())?;
        let pts = s
            .get::<Option<gst::ClockTime>>("pts")
            .map_err(|e| e.to_string())?;
        let running_time = s
            .get::<Option<gst::ClockTime>>("running-time")
            .map_err(|e| e.to_string())?;
        let scores = s
            .iter()
            .filter_map(|(k, v)| v.get::<f64>().ok().map(|v| (k.to_string(), v)))
            .collect();
        Ok(FrameMessage {
            index,
            pts,
            running_time,
            scores,
        })
    }
}

/// Pooled scores over a segment (`vqmeter-segment`) or the whole stream (`vqmeter-pooled`,
/// at EOS). Each metric becomes a sub-structure with `mean`, `harmonic-mean`, `min`, `max`,
/// `low-1pct` and `low-5pct`.
#[derive(Clone, Debug)]
pub struct PooledMessage {
    pub segment: Option<u64>,
    pub start: Option<gst::ClockTime>,
    pub end: Option<gst::ClockTime>,
    pub frames: u64,
    /// Frames of the distorted stream that had no reference frame to pair with.
    pub unpaired_frames: u64,
    /// The first model's pooled VMAF by the `pool-method` property, if a model ran.
    pub score: Option<f64>,
    pub metrics: Vec<(String, Pooled)>,
}

impl From<PooledMessage> for gst::Structure {
    fn from(m: PooledMessage) -> Self {
        let name = if m.segment.is_some() {
            SEGMENT_MESSAGE
        } else {
            POOLED_MESSAGE
        };
        let mut b = gst::Structure::builder(name)
            .field("frames", m.frames)
            .field("unpaired-frames", m.unpaired_frames)
            .field("start", m.start)
            .field("end", m.end);
        if let Some(seg) = m.segment {
            b = b.field("segment", seg);
        }
        if let Some(score) = m.score {
            b = b.field("score", score);
        }
        for (name, s) in &m.metrics {
            b = b.field(
                name.as_str(),
                gst::Structure::builder(name.as_str())
                    .field("mean", s.mean)
                    .field("harmonic-mean", s.harmonic_mean)
                    .field("min", s.min)
                    .field("max", s.max)
                    .field("low-1pct", s.low_1pct)
                    .field("low-5pct", s.low_5pct)
                    .build(),
            );
        }
        b.build()
    }
}
